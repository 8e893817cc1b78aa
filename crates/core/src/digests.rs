//! The facts a checking replay holds as digests instead of whole.
//!
//! `verify` replays the whole ledger and compares the result with the stored tables. Held
//! whole, the contributions and ratings of a large organisation (tens of millions of rows with
//! their texts) took several times the memory of everything else. A replay that only checks
//! keeps each of them as a digest of its stored row, by a 128-bit hash of its key, with the
//! little that later events check against (whether a contribution is confirmed or retracted,
//! whether a rating was submitted). The store, which owns the rows' layout, gives the digest
//! functions and compares the stored rows with the digests; the few facts whose rows differ are
//! fetched whole by a second replay that keeps just those ([`FactDigests::keep_whole`]).

use crate::domain::ContributionRecord;
use crate::review::RatingRecord;
use chrono::NaiveDate;
use rustc_hash::{FxHashMap, FxHashSet};

/// A 128-bit hash of a fact's key, as two words (so that a map of millions of them packs
/// its entries at 8-byte alignment).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FactKey(u64, u64);

impl From<u128> for FactKey {
    fn from(hash: u128) -> Self {
        FactKey((hash >> 64) as u64, hash as u64)
    }
}

impl FactKey {
    /// The key of a contribution.
    pub fn contribution(contribution_id: &str) -> Self {
        crate::state::id_hash(contribution_id).into()
    }

    /// The key of a rating: its cycle, rater, ratee and dimension.
    pub fn rating(cycle_id: &str, rater_id: &str, ratee_id: &str, dimension: &str) -> Self {
        crate::state::rating_parts_hash(cycle_id, rater_id, ratee_id, dimension).into()
    }

    pub fn of_rating(r: &RatingRecord) -> Self {
        Self::rating(&r.cycle_id, &r.rater_id, &r.ratee_id, &r.dimension)
    }
}

/// A contribution as a checking replay keeps it: a digest of the columns its recording event
/// sets (all but whether it is confirmed, which taking a confirmation back changes), the
/// columns later events change, and its contributor (whom a self review's circle checks). A
/// retraction's date and reason are kept aside ([`FactDigests::retractions`]): few
/// contributions have one. Sixteen bytes: millions are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestedContribution {
    /// The digest in the 62 high bits; the two low bits say whether its record says
    /// confirmed (as recorded, or false once a confirmation was taken back) and whether it
    /// was retracted.
    word: u64,
    pub confirmed_on: Option<NaiveDate>,
    /// The contributor, as an index into [`FactDigests::contributor`].
    contributor: u32,
}

const RECORDED_CONFIRMED: u64 = 1;
const RETRACTED: u64 = 2;

impl DigestedContribution {
    pub fn new(record: u64, recorded_confirmed: bool, contributor: u32) -> Self {
        let flag = if recorded_confirmed {
            RECORDED_CONFIRMED
        } else {
            0
        };
        DigestedContribution {
            word: (record << 2) | flag,
            confirmed_on: None,
            contributor,
        }
    }

    /// The record's digest (its 62 high bits).
    pub fn record(&self) -> u64 {
        self.word >> 2
    }

    /// Whether a digest of the record's columns is this one's.
    pub fn record_is(&self, digest: u64) -> bool {
        digest & (u64::MAX >> 2) == self.record()
    }

    pub fn recorded_confirmed(&self) -> bool {
        self.word & RECORDED_CONFIRMED != 0
    }

    pub fn retracted(&self) -> bool {
        self.word & RETRACTED != 0
    }

    pub fn is_confirmed(&self) -> bool {
        self.recorded_confirmed() || self.confirmed_on.is_some()
    }
}
/// A rating as a checking replay keeps it: a digest of its whole row, and whether it was
/// submitted (a submitted rating is never turned back into a draft), in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestedRating(u64);

impl DigestedRating {
    pub fn new(digest: u64, submitted: bool) -> Self {
        DigestedRating((digest << 1) | u64::from(submitted))
    }

    /// The row's digest (its 63 high bits).
    pub fn digest(self) -> u64 {
        self.0 >> 1
    }

    pub fn submitted(self) -> bool {
        self.0 & 1 == 1
    }
}

/// The facts of a checking replay (see the module's documentation).
#[derive(Clone, Debug)]
pub struct FactDigests {
    /// The digest of the columns of a contribution's row that its record sets (see
    /// [`DigestedContribution::record`]).
    pub contribution_digest: fn(&ContributionRecord) -> u64,
    /// The digest of a rating's row.
    pub rating_digest: fn(&RatingRecord) -> u64,
    pub contributions: FxHashMap<FactKey, DigestedContribution>,
    /// The contributors, each once (a contribution holds its contributor's index).
    contributors: Vec<crate::domain::PersonId>,
    contributor_index: FxHashMap<crate::domain::PersonId, u32>,
    /// The date and reason of each retracted contribution.
    pub retractions: FxHashMap<FactKey, (NaiveDate, String)>,
    pub ratings: FxHashMap<FactKey, DigestedRating>,
    /// Facts kept whole as well (in the state's usual maps): the ones whose rows a first
    /// check found to differ, for a report that shows them.
    pub keep_whole: FxHashSet<FactKey>,
}

impl FactDigests {
    pub fn new(
        contribution_digest: fn(&ContributionRecord) -> u64,
        rating_digest: fn(&RatingRecord) -> u64,
    ) -> Self {
        FactDigests {
            contribution_digest,
            rating_digest,
            contributions: FxHashMap::default(),
            contributors: Vec::new(),
            contributor_index: FxHashMap::default(),
            retractions: FxHashMap::default(),
            ratings: FxHashMap::default(),
            keep_whole: FxHashSet::default(),
        }
    }
}

impl FactDigests {
    /// A contribution by `contributor` as kept.
    pub fn digest_contribution(&mut self, c: &ContributionRecord) -> DigestedContribution {
        let index = match self.contributor_index.get(&c.person_id) {
            Some(index) => *index,
            None => {
                let index = self.contributors.len() as u32;
                self.contributors.push(c.person_id.clone());
                self.contributor_index.insert(c.person_id.clone(), index);
                index
            }
        };
        DigestedContribution::new((self.contribution_digest)(c), c.confirmed, index)
    }

    /// Who made the contribution.
    pub fn contributor(&self, c: &DigestedContribution) -> &str {
        self.contributors
            .get(c.contributor as usize)
            .map_or("", String::as_str)
    }
}

/// A change an event makes to a recorded contribution, applied to whichever form the state
/// holds it in.
pub(crate) enum ContributionChange<'e> {
    Confirmed(NaiveDate),
    Retracted(NaiveDate, &'e str),
    Unconfirmed,
}

impl ContributionChange<'_> {
    pub(crate) fn to_whole(&self, c: &mut crate::domain::Contribution) {
        match self {
            ContributionChange::Confirmed(on) => c.confirmed_on = Some(*on),
            ContributionChange::Retracted(on, reason) => {
                c.retracted_on = Some(*on);
                c.retraction_reason = Some(reason.to_string());
            }
            ContributionChange::Unconfirmed => {
                c.confirmed_on = None;
                c.record.confirmed = false;
            }
        }
    }

    pub(crate) fn to_digests(&self, digests: &mut FactDigests, key: FactKey) {
        let Some(d) = digests.contributions.get_mut(&key) else {
            return;
        };
        match self {
            ContributionChange::Confirmed(on) => d.confirmed_on = Some(*on),
            ContributionChange::Retracted(on, reason) => {
                d.word |= RETRACTED;
                digests.retractions.insert(key, (*on, reason.to_string()));
            }
            ContributionChange::Unconfirmed => {
                d.confirmed_on = None;
                d.word &= !RECORDED_CONFIRMED;
            }
        }
    }
}
