//! What a ratee may see of their feedback: anonymity rules.
//!
//! - Only submitted ratings are shown; drafts never leave their author.
//! - The manager's rating is attributed (the person knows who their manager is), and so is
//!   their own self rating.
//! - Everyone else's ratings (peers, leads, customers, reports) reach the ratee only as an
//!   aggregate of at least the cycle's anonymity threshold (never below 3) distinct raters:
//!   per relationship where that group is large enough, otherwise pooled with the other small
//!   groups; a pool still below the threshold is withheld, and the ratee is told how many
//!   ratings were withheld and why.
//! - Comments follow their group; they carry the rater's name only if the cycle says comments
//!   are attributed, and are listed in alphabetical order so their order reveals nothing.

use super::{CycleRecord, RatingRecord, RatingStatus};
use crate::domain::{PersonId, Relationship};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FeedbackGroup {
    /// `manager`, `self`, a relationship, or `colleagues` for a pool of small groups.
    pub label: String,
    /// Set for attributed groups (the manager's, one's own).
    pub rater: Option<PersonId>,
    pub raters: usize,
    /// Per dimension: mean score and number of ratings.
    pub means: BTreeMap<String, (f64, usize)>,
    /// Comments, with their author when attributed.
    pub comments: Vec<(Option<PersonId>, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct FeedbackView {
    pub groups: Vec<FeedbackGroup>,
    /// Ratings withheld to protect anonymity, and the number of raters they came from.
    pub withheld_ratings: usize,
    pub withheld_raters: usize,
    pub threshold: u32,
}

fn group(
    label: &str,
    rater: Option<PersonId>,
    ratings: &[&RatingRecord],
    attributed: bool,
) -> FeedbackGroup {
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let mut raters = BTreeSet::new();
    let mut comments = Vec::new();
    for r in ratings {
        let entry = sums.entry(r.dimension.clone()).or_default();
        entry.0 += r.score.value();
        entry.1 += 1;
        raters.insert(r.rater_id.as_str());
        if !r.comment.trim().is_empty() {
            comments.push((attributed.then(|| r.rater_id.clone()), r.comment.clone()));
        }
    }
    comments.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    FeedbackGroup {
        label: label.to_string(),
        rater,
        raters: raters.len(),
        means: sums
            .into_iter()
            .map(|(d, (sum, n))| (d, (sum / n as f64, n)))
            .collect(),
        comments,
    }
}

fn distinct_raters(ratings: &[&RatingRecord]) -> usize {
    ratings
        .iter()
        .map(|r| r.rater_id.as_str())
        .collect::<BTreeSet<_>>()
        .len()
}

/// The feedback `person` may see for `cycle`, from all ratings of the cycle given.
pub fn feedback_for<'a>(
    cycle: &CycleRecord,
    ratings: impl IntoIterator<Item = &'a RatingRecord>,
    person: &str,
) -> FeedbackView {
    let threshold = cycle
        .anonymity_threshold
        .max(super::MIN_ANONYMITY_THRESHOLD) as usize;
    let mut by_relationship: BTreeMap<Relationship, Vec<&RatingRecord>> = BTreeMap::new();
    for r in ratings {
        if r.ratee_id == person
            && r.cycle_id == cycle.cycle_id
            && r.status == RatingStatus::Submitted
        {
            by_relationship.entry(r.relationship).or_default().push(r);
        }
    }
    let mut view = FeedbackView {
        threshold: threshold as u32,
        ..FeedbackView::default()
    };
    let mut pool: Vec<&RatingRecord> = Vec::new();
    for (relationship, ratings) in by_relationship {
        match relationship {
            Relationship::Manager | Relationship::SelfReview => {
                // Attributed: one group per rater (a person may have had two managers).
                let mut by_rater: BTreeMap<&str, Vec<&RatingRecord>> = BTreeMap::new();
                for r in &ratings {
                    by_rater.entry(r.rater_id.as_str()).or_default().push(r);
                }
                for (rater, own) in by_rater {
                    view.groups.push(group(
                        relationship.as_str(),
                        Some(rater.to_string()),
                        &own,
                        true,
                    ));
                }
            }
            _ if distinct_raters(&ratings) >= threshold => view.groups.push(group(
                relationship.as_str(),
                None,
                &ratings,
                cycle.attributed_comments,
            )),
            _ => pool.extend(ratings),
        }
    }
    if !pool.is_empty() {
        if distinct_raters(&pool) >= threshold {
            view.groups
                .push(group("colleagues", None, &pool, cycle.attributed_comments));
        } else {
            view.withheld_ratings = pool.len();
            view.withheld_raters = distinct_raters(&pool);
        }
    }
    view
}
