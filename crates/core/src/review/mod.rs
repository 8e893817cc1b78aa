//! Review cycles: the records a cycle is made of, as ledger payloads.
//!
//! A cycle is opened with its settings (period, rating scale, dimensions, phase deadlines,
//! anonymity threshold, guidance bands, values behaviours, committee) and then moves through
//! its phases. Everything that happens in it — goals, reviewer choices, self-review links,
//! values assessments, ratings, calibration results, committee overrides — is an event, so a
//! manager change or a reorganisation mid-cycle cannot lose any of it: none of these records
//! refers to a reporting line.
//!
//! As everywhere in the ledger, the fields of every payload struct are declared in
//! alphabetical order so that serde's output is canonical JSON.

mod apply;
pub mod feedback;
pub mod final_score;
pub mod session;
pub mod suggest;

use crate::Amount;
use crate::domain::{NodeId, PersonId, Relationship, vocabulary};
use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

pub use apply::MIN_ANONYMITY_THRESHOLD;

vocabulary!(
    /// The phases of a review cycle, in order.
    CyclePhase { Goals = "goals", SelfReview = "self_review", Review = "review", Calibration = "calibration", Finalised = "finalised" }
);
vocabulary!(
    RatingStatus { Draft = "draft", Submitted = "submitted" }
);
vocabulary!(
    /// The three circles of a self review: what I achieved, how I helped others achieve, and
    /// what I achieved by building on others' work.
    Circle { OwnResults = "own_results", OthersSuccess = "others_success", BuiltOn = "built_on" }
);

/// A rating dimension and its weight in the overall score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dimension {
    pub name: String,
    pub weight: Amount,
}

/// When a phase is due to end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deadline {
    pub due_on: NaiveDate,
    pub phase: CyclePhase,
}

/// A band of the guidance distribution ("top: levels 4–5, 30%"), listed from the top of the
/// scale down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub label: String,
    /// The rating levels (1 = lowest) that fall in the band.
    pub levels: Vec<u32>,
    pub share: Amount,
}

/// One observable behaviour of one company value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Behaviour {
    pub behaviour: String,
    pub value: String,
}

/// A cycle as opened. `phase` is the phase it opens in (a cycle imported from an older system
/// may open directly in `review`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CycleRecord {
    pub anonymity_threshold: u32,
    #[serde(default)]
    pub attributed_comments: bool,
    #[serde(default)]
    pub behaviours: Vec<Behaviour>,
    #[serde(default)]
    pub committee: Vec<PersonId>,
    pub cycle_id: String,
    #[serde(default)]
    pub deadlines: Vec<Deadline>,
    pub dimensions: Vec<Dimension>,
    pub ends_on: NaiveDate,
    #[serde(default)]
    pub enforce_guidance: bool,
    #[serde(default)]
    pub guidance: Vec<Band>,
    pub min_sources: u32,
    pub name: String,
    pub phase: CyclePhase,
    /// Labels of the levels 1, 2, … of the rating scale.
    pub scale: Vec<String>,
    pub starts_on: NaiveDate,
}

impl CycleRecord {
    /// A cycle with the default settings: 1–5 scale, results 50% / values 50%, anonymity from
    /// 3 raters, the "361" guidance (top 30%, middle 60%, bottom 10%) as guidance only,
    /// 5 values × 4 behaviours, at least 3 kinds of sources.
    pub fn with_defaults(cycle_id: &str, starts_on: NaiveDate, ends_on: NaiveDate) -> Self {
        let behaviours = DEFAULT_VALUES
            .iter()
            .flat_map(|(value, behaviours)| {
                behaviours.iter().map(|b| Behaviour {
                    value: value.to_string(),
                    behaviour: b.to_string(),
                })
            })
            .collect();
        CycleRecord {
            anonymity_threshold: MIN_ANONYMITY_THRESHOLD,
            attributed_comments: false,
            behaviours,
            committee: Vec::new(),
            cycle_id: cycle_id.to_string(),
            deadlines: Vec::new(),
            dimensions: vec![
                Dimension {
                    name: "results".into(),
                    weight: Amount(0.5),
                },
                Dimension {
                    name: "values".into(),
                    weight: Amount(0.5),
                },
            ],
            enforce_guidance: false,
            ends_on,
            guidance: vec![
                Band {
                    label: "top".into(),
                    levels: vec![4, 5],
                    share: Amount(0.3),
                },
                Band {
                    label: "middle".into(),
                    levels: vec![3],
                    share: Amount(0.6),
                },
                Band {
                    label: "bottom".into(),
                    levels: vec![1, 2],
                    share: Amount(0.1),
                },
            ],
            min_sources: 3,
            name: cycle_id.to_string(),
            phase: CyclePhase::Goals,
            scale: [
                "needs improvement",
                "partly meets",
                "meets",
                "exceeds",
                "outstanding",
            ]
            .map(String::from)
            .to_vec(),
            starts_on,
        }
    }

    pub fn scale_max(&self) -> f64 {
        self.scale.len() as f64
    }

    pub fn covers(&self, date: NaiveDate) -> bool {
        self.starts_on <= date && date <= self.ends_on
    }
}

/// The default values and their behaviours (5 × 4); a cycle may name its own.
pub const DEFAULT_VALUES: [(&str, [&str; 4]); 5] = [
    (
        "customer first",
        [
            "talks to customers",
            "measures the outcome",
            "fixes the root cause",
            "says no to low-value work",
        ],
    ),
    (
        "ownership",
        [
            "finishes what they start",
            "hands over cleanly",
            "raises risks early",
            "owns mistakes",
        ],
    ),
    (
        "collaboration",
        [
            "helps others succeed",
            "shares knowledge",
            "credits others",
            "works across units",
        ],
    ),
    (
        "integrity",
        [
            "keeps commitments",
            "gives honest feedback",
            "protects confidential data",
            "treats people fairly",
        ],
    ),
    (
        "learning",
        [
            "asks for feedback",
            "tries new approaches",
            "teaches others",
            "reflects on failures",
        ],
    ),
];

/// A cycle as projected: its settings and the phase it is in now.
#[derive(Clone, Debug, PartialEq)]
pub struct Cycle {
    pub record: CycleRecord,
    pub phase: CyclePhase,
}

/// A key result of a goal: a metric and its target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyResult {
    pub metric: String,
    pub target: Amount,
}

/// A goal belongs to the work (a value-tree node), not to the reporting line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GoalRecord {
    pub cycle_id: String,
    pub goal_id: String,
    #[serde(default)]
    pub key_results: Vec<KeyResult>,
    pub node_id: NodeId,
    pub person_id: PersonId,
    pub title: String,
}

/// A measurement of a key result on a date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub actual: Amount,
    pub goal_id: String,
    pub measured_on: NaiveDate,
    pub metric: String,
}

/// A reviewer added to or removed from a person's review, by the person or a manager.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewerChange {
    pub by: PersonId,
    pub cycle_id: String,
    pub ratee_id: PersonId,
    pub reason: String,
    pub reviewer_id: PersonId,
}

/// A self-review entry, linked to a contribution in the ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelfReviewEntry {
    pub circle: Circle,
    pub contribution_id: String,
    pub cycle_id: String,
    pub entry_id: String,
    pub person_id: PersonId,
    pub text: String,
}

/// Whether a person showed a behaviour in the cycle. A 1 (`met`) needs evidence: a ledger
/// entry id or a written case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BehaviourAssessment {
    pub assessed_by: PersonId,
    pub behaviour: String,
    pub cycle_id: String,
    #[serde(default)]
    pub evidence: String,
    pub met: bool,
    pub person_id: PersonId,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatingRecord {
    #[serde(default)]
    pub comment: String,
    pub cycle_id: String,
    pub dimension: String,
    pub ratee_id: PersonId,
    pub rater_id: PersonId,
    pub relationship: Relationship,
    pub score: Amount,
    pub status: RatingStatus,
}

/// A rater gives one score per ratee and dimension in a cycle; a later rating with the same
/// key revises it.
pub type RatingKey = (String, PersonId, PersonId, String);

impl RatingRecord {
    pub fn key(&self) -> RatingKey {
        (
            self.cycle_id.clone(),
            self.rater_id.clone(),
            self.ratee_id.clone(),
            self.dimension.clone(),
        )
    }
}

/// One person's calibrated score as recorded by a calibration run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibratedScore {
    pub calibrated: Amount,
    pub n_ratings: u32,
    pub person_id: PersonId,
    pub raw_mean: Amount,
    pub std_error: Amount,
    /// The ratings were too few to calibrate: `calibrated` is the raw mean and `std_error`
    /// as wide as the scale allows (the result's `warnings` say why).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub uncalibrated: bool,
}

/// The result of a calibration run over a cycle's submitted ratings. `dimension` is empty for
/// the overall score (all dimensions pooled).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationResult {
    pub cycle_id: String,
    #[serde(default)]
    pub dimension: String,
    pub model: String,
    pub ratings: u64,
    pub scores: Vec<CalibratedScore>,
    /// What the ratings could not support (too few ratings, a variance at zero).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// (cycle, dimension, person).
pub type ScoreKey = (String, String, PersonId);

/// A calibration committee's change of a person's score; the previous value stays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OverrideRecord {
    pub by: PersonId,
    pub cycle_id: String,
    #[serde(default)]
    pub dimension: String,
    pub person_id: PersonId,
    pub previous: Amount,
    pub reason: String,
    pub score: Amount,
}

pub type ReviewerKey = (String, PersonId, PersonId);
pub type SelfReviewKey = (String, PersonId, String);
pub type BehaviourKey = (String, PersonId, String, String);
pub type MeasurementKey = (String, String, NaiveDate);

/// A reviewer choice as projected: the latest change for the (cycle, ratee, reviewer).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReviewerChoice {
    pub change: ReviewerChange,
    pub included: bool,
}

/// Everything the ledger holds about review cycles.
#[derive(Clone, Debug, Default)]
pub struct ReviewBook {
    pub cycles: BTreeMap<String, Cycle>,
    pub goals: BTreeMap<String, GoalRecord>,
    pub measurements: BTreeMap<MeasurementKey, Measurement>,
    pub reviewers: BTreeMap<ReviewerKey, ReviewerChoice>,
    pub self_reviews: BTreeMap<SelfReviewKey, SelfReviewEntry>,
    pub behaviours: BTreeMap<BehaviourKey, BehaviourAssessment>,
    /// Ratings and calibrated scores can number in the millions: like contributions, the
    /// store loads only the cycles an import refers to; a replay holds them all.
    pub ratings: FxHashMap<RatingKey, RatingRecord>,
    pub scores: FxHashMap<ScoreKey, CalibratedScore>,
    pub overrides: BTreeMap<ScoreKey, OverrideRecord>,
}

/// Keys of the review projection rows an event changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReviewChanges {
    pub cycles: BTreeSet<String>,
    pub goals: BTreeSet<String>,
    pub measurements: BTreeSet<MeasurementKey>,
    pub reviewers: BTreeSet<ReviewerKey>,
    pub self_reviews: BTreeSet<SelfReviewKey>,
    pub behaviours: BTreeSet<BehaviourKey>,
    pub ratings: BTreeSet<RatingKey>,
    pub scores: BTreeSet<ScoreKey>,
    pub overrides: BTreeSet<ScoreKey>,
}

impl ReviewChanges {
    pub fn is_empty(&self) -> bool {
        self.cycles.is_empty()
            && self.goals.is_empty()
            && self.measurements.is_empty()
            && self.reviewers.is_empty()
            && self.self_reviews.is_empty()
            && self.behaviours.is_empty()
            && self.ratings.is_empty()
            && self.scores.is_empty()
            && self.overrides.is_empty()
    }
}

impl ReviewBook {
    /// Drops the facts (ratings, calibrated scores), keeping the rest.
    pub fn forget_facts(&mut self) {
        self.ratings = FxHashMap::default();
        self.scores = FxHashMap::default();
    }

    /// The submitted ratings of a cycle.
    pub fn submitted<'a>(&'a self, cycle_id: &'a str) -> impl Iterator<Item = &'a RatingRecord> {
        self.ratings
            .values()
            .filter(move |r| r.cycle_id == cycle_id && r.status == RatingStatus::Submitted)
    }

    /// The person's score in a cycle and dimension: the committee's override if there is one,
    /// else the calibrated score.
    pub fn final_calibrated(&self, cycle_id: &str, dimension: &str, person: &str) -> Option<f64> {
        let key = (
            cycle_id.to_string(),
            dimension.to_string(),
            person.to_string(),
        );
        self.overrides
            .get(&key)
            .map(|o| o.score.value())
            .or_else(|| self.scores.get(&key).map(|s| s.calibrated.value()))
    }

    /// The share of the cycle's behaviours the person met (0–1), if anyone assessed them.
    pub fn values_share(&self, cycle: &CycleRecord, person: &str) -> Option<f64> {
        let assessed: Vec<&BehaviourAssessment> = self
            .behaviours
            .range(
                (
                    cycle.cycle_id.clone(),
                    person.to_string(),
                    String::new(),
                    String::new(),
                )..,
            )
            .take_while(|((c, p, _, _), _)| *c == cycle.cycle_id && p == person)
            .map(|(_, a)| a)
            .collect();
        if assessed.is_empty() || cycle.behaviours.is_empty() {
            return None;
        }
        let met = assessed.iter().filter(|a| a.met).count();
        Some(met as f64 / cycle.behaviours.len() as f64)
    }
}

/// Maps a share in [0, 1] onto a 1..=max rating scale.
pub fn share_to_scale(share: f64, scale_max: f64) -> f64 {
    1.0 + share.clamp(0.0, 1.0) * (scale_max - 1.0)
}

#[cfg(test)]
mod tests;
