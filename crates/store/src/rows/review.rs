//! The review-cycle projection tables (migration 0002), and their rows.

use super::{Reader, TableId, date, flag};
use crate::StoreError;
use crate::sql::{Cell, Row, Table, Value};
use valuetree_core::review::*;
use valuetree_core::state::State;

pub const CYCLES: Table = Table {
    id: TableId::Cycles,
    name: "cycles",
    columns: &[
        "cycle_id",
        "name",
        "starts_on",
        "ends_on",
        "phase",
        "settings",
    ],
    key_columns: 1,
};
pub const GOALS: Table = Table {
    id: TableId::Goals,
    name: "goals",
    columns: &[
        "goal_id",
        "cycle_id",
        "person_id",
        "node_id",
        "title",
        "key_results",
    ],
    key_columns: 1,
};
pub const MEASUREMENTS: Table = Table {
    id: TableId::Measurements,
    name: "key_result_measurements",
    columns: &["goal_id", "metric", "measured_on", "actual"],
    key_columns: 3,
};
pub const REVIEWERS: Table = Table {
    id: TableId::Reviewers,
    name: "reviewers",
    columns: &[
        "cycle_id",
        "ratee_id",
        "reviewer_id",
        "included",
        "by_id",
        "reason",
    ],
    key_columns: 3,
};
pub const SELF_REVIEWS: Table = Table {
    id: TableId::SelfReviews,
    name: "self_reviews",
    columns: &[
        "cycle_id",
        "person_id",
        "entry_id",
        "circle",
        "contribution_id",
        "text",
    ],
    key_columns: 3,
};
pub const BEHAVIOURS: Table = Table {
    id: TableId::Behaviours,
    name: "behaviour_assessments",
    columns: &[
        "cycle_id",
        "person_id",
        "value",
        "behaviour",
        "met",
        "evidence",
        "assessed_by",
    ],
    key_columns: 4,
};
pub const RATINGS: Table = Table {
    id: TableId::Ratings,
    name: "ratings",
    columns: &[
        "cycle_id",
        "rater_id",
        "ratee_id",
        "dimension",
        "relationship",
        "score",
        "status",
        "comment",
    ],
    key_columns: 4,
};
pub const SCORES: Table = Table {
    id: TableId::Scores,
    name: "calibrated_scores",
    columns: &[
        "cycle_id",
        "dimension",
        "person_id",
        "raw_mean",
        "calibrated",
        "std_error",
        "n_ratings",
        "uncalibrated",
    ],
    key_columns: 3,
};
pub const OVERRIDES: Table = Table {
    id: TableId::Overrides,
    name: "score_overrides",
    columns: &[
        "cycle_id",
        "dimension",
        "person_id",
        "score",
        "previous",
        "reason",
        "by_id",
    ],
    key_columns: 3,
};

fn json<T: serde::Serialize>(value: &T) -> Value {
    Value::Text(serde_json::to_string(value).unwrap_or_default())
}

fn cycle_row(c: &Cycle) -> Row {
    let r = &c.record;
    vec![
        Value::text(&r.cycle_id),
        Value::text(&r.name),
        date(r.starts_on),
        date(r.ends_on),
        Value::text(c.phase.as_str()),
        json(r),
    ]
}

fn goal_row(g: &GoalRecord) -> Row {
    vec![
        Value::text(&g.goal_id),
        Value::text(&g.cycle_id),
        Value::text(&g.person_id),
        Value::text(&g.node_id),
        Value::text(&g.title),
        json(&g.key_results),
    ]
}

fn measurement_row(m: &Measurement) -> Row {
    vec![
        Value::text(&m.goal_id),
        Value::text(&m.metric),
        date(m.measured_on),
        Value::Real(m.actual.value()),
    ]
}

fn reviewer_row(r: &ReviewerChoice) -> Row {
    let c = &r.change;
    vec![
        Value::text(&c.cycle_id),
        Value::text(&c.ratee_id),
        Value::text(&c.reviewer_id),
        flag(r.included),
        Value::text(&c.by),
        Value::text(&c.reason),
    ]
}

fn self_review_row(s: &SelfReviewEntry) -> Row {
    vec![
        Value::text(&s.cycle_id),
        Value::text(&s.person_id),
        Value::text(&s.entry_id),
        Value::text(s.circle.as_str()),
        Value::text(&s.contribution_id),
        Value::text(&s.text),
    ]
}

fn behaviour_row(b: &BehaviourAssessment) -> Row {
    vec![
        Value::text(&b.cycle_id),
        Value::text(&b.person_id),
        Value::text(&b.value),
        Value::text(&b.behaviour),
        flag(b.met),
        Value::text(&b.evidence),
        Value::text(&b.assessed_by),
    ]
}

pub fn rating_row(r: &RatingRecord) -> Row {
    rating_cells(r).iter().map(Cell::to_value).collect()
}

fn rating_cells(r: &RatingRecord) -> [Cell<'_>; 8] {
    [
        Cell::Text(&r.cycle_id),
        Cell::Text(&r.rater_id),
        Cell::Text(&r.ratee_id),
        Cell::Text(&r.dimension),
        Cell::Text(r.relationship.as_str()),
        Cell::Real(r.score.value()),
        Cell::Text(r.status.as_str()),
        Cell::Text(&r.comment),
    ]
}

/// The digest a checking replay keeps of a rating: of its whole row.
pub fn rating_digest(r: &RatingRecord) -> u64 {
    super::digest::of_cells(&rating_cells(r))
}

pub fn score_row(key: &ScoreKey, s: &CalibratedScore) -> Row {
    vec![
        Value::text(&key.0),
        Value::text(&key.1),
        Value::text(&s.person_id),
        Value::Real(s.raw_mean.value()),
        Value::Real(s.calibrated.value()),
        Value::Real(s.std_error.value()),
        Value::Int(s.n_ratings.into()),
        Value::Int(s.uncalibrated.into()),
    ]
}

fn override_row(o: &OverrideRecord) -> Row {
    vec![
        Value::text(&o.cycle_id),
        Value::text(&o.dimension),
        Value::text(&o.person_id),
        Value::Real(o.score.value()),
        Value::Real(o.previous.value()),
        Value::text(&o.reason),
        Value::text(&o.by),
    ]
}

/// The changed rows of a review table (none for another table).
pub fn changed_rows(state: &State, changes: &ReviewChanges, table: &Table) -> Vec<Row> {
    let book = &state.reviews;
    fn pick<'s, K: Ord + 's, V: 's>(
        keys: &'s std::collections::BTreeSet<K>,
        get: impl Fn(&K) -> Option<V>,
        row: impl Fn(&K, V) -> Row,
    ) -> Vec<Row> {
        keys.iter()
            .filter_map(|k| get(k).map(|v| row(k, v)))
            .collect()
    }
    match table.id {
        TableId::Cycles => pick(&changes.cycles, |k| book.cycles.get(k), |_, c| cycle_row(c)),
        TableId::Goals => pick(&changes.goals, |k| book.goals.get(k), |_, g| goal_row(g)),
        TableId::Measurements => pick(
            &changes.measurements,
            |k| book.measurements.get(k),
            |_, m| measurement_row(m),
        ),
        TableId::Reviewers => pick(
            &changes.reviewers,
            |k| book.reviewers.get(k),
            |_, r| reviewer_row(r),
        ),
        TableId::SelfReviews => pick(
            &changes.self_reviews,
            |k| book.self_reviews.get(k),
            |_, s| self_review_row(s),
        ),
        TableId::Behaviours => pick(
            &changes.behaviours,
            |k| book.behaviours.get(k),
            |_, b| behaviour_row(b),
        ),
        TableId::Ratings => pick(
            &changes.ratings,
            |k| book.ratings.get(k),
            |_, r| rating_row(r),
        ),
        TableId::Scores => pick(&changes.scores, |k| book.scores.get(k), score_row),
        TableId::Overrides => pick(
            &changes.overrides,
            |k| book.overrides.get(k),
            |_, o| override_row(o),
        ),
        _ => Vec::new(),
    }
}

/// Every row of a review table (none for another table), unsorted.
pub fn all_rows(state: &State, table: &Table) -> Vec<Row> {
    let book = &state.reviews;
    match table.id {
        TableId::Cycles => book.cycles.values().map(cycle_row).collect(),
        TableId::Goals => book.goals.values().map(goal_row).collect(),
        TableId::Measurements => book.measurements.values().map(measurement_row).collect(),
        TableId::Reviewers => book.reviewers.values().map(reviewer_row).collect(),
        TableId::SelfReviews => book.self_reviews.values().map(self_review_row).collect(),
        TableId::Behaviours => book.behaviours.values().map(behaviour_row).collect(),
        TableId::Ratings => book.ratings.values().map(rating_row).collect(),
        TableId::Scores => book.scores.iter().map(|(k, s)| score_row(k, s)).collect(),
        TableId::Overrides => book.overrides.values().map(override_row).collect(),
        _ => Vec::new(),
    }
}

fn from_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        table,
        reason: format!("a JSON column does not read back: {e}"),
    })
}

/// Puts one stored row of a review table into `state` (nothing for another table).
pub fn load_row(state: &mut State, table: &Table, row: &Row) -> Result<(), StoreError> {
    let r = Reader::new(table.name, row);
    let book = &mut state.reviews;
    match table.id {
        TableId::Cycles => {
            let record: CycleRecord = from_json(table.name, &r.text(5)?)?;
            let phase = r.parsed(4)?;
            book.cycles
                .insert(record.cycle_id.clone(), Cycle { record, phase });
        }
        TableId::Goals => {
            let g = GoalRecord {
                goal_id: r.text(0)?,
                cycle_id: r.text(1)?,
                person_id: r.text(2)?,
                node_id: r.text(3)?,
                title: r.text(4)?,
                key_results: from_json(table.name, &r.text(5)?)?,
            };
            book.goals.insert(g.goal_id.clone(), g);
        }
        TableId::Measurements => {
            let m = Measurement {
                goal_id: r.text(0)?,
                metric: r.text(1)?,
                measured_on: r.date(2)?,
                actual: r.real(3)?,
            };
            book.measurements
                .insert((m.goal_id.clone(), m.metric.clone(), m.measured_on), m);
        }
        TableId::Reviewers => {
            let change = ReviewerChange {
                cycle_id: r.text(0)?,
                ratee_id: r.text(1)?,
                reviewer_id: r.text(2)?,
                by: r.text(4)?,
                reason: r.text(5)?,
            };
            let key = (
                change.cycle_id.clone(),
                change.ratee_id.clone(),
                change.reviewer_id.clone(),
            );
            let included = r.int(3)? != 0;
            book.reviewers
                .insert(key, ReviewerChoice { change, included });
        }
        TableId::SelfReviews => {
            let s = SelfReviewEntry {
                cycle_id: r.text(0)?,
                person_id: r.text(1)?,
                entry_id: r.text(2)?,
                circle: r.parsed(3)?,
                contribution_id: r.text(4)?,
                text: r.text(5)?,
            };
            let key = (s.cycle_id.clone(), s.person_id.clone(), s.entry_id.clone());
            book.self_reviews.insert(key, s);
        }
        TableId::Behaviours => {
            let b = BehaviourAssessment {
                cycle_id: r.text(0)?,
                person_id: r.text(1)?,
                value: r.text(2)?,
                behaviour: r.text(3)?,
                met: r.int(4)? != 0,
                evidence: r.text(5)?,
                assessed_by: r.text(6)?,
            };
            let key = (
                b.cycle_id.clone(),
                b.person_id.clone(),
                b.value.clone(),
                b.behaviour.clone(),
            );
            book.behaviours.insert(key, b);
        }
        TableId::Ratings => {
            let rating = read_rating(&r)?;
            book.ratings.insert(rating.key(), rating);
        }
        TableId::Scores => {
            let key = (r.text(0)?, r.text(1)?, r.text(2)?);
            let n = r.int(6)?;
            let s = CalibratedScore {
                person_id: key.2.clone(),
                raw_mean: r.real(3)?,
                calibrated: r.real(4)?,
                std_error: r.real(5)?,
                n_ratings: u32::try_from(n).unwrap_or(u32::MAX),
                uncalibrated: r.int(7)? != 0,
            };
            book.scores.insert(key, s);
        }
        TableId::Overrides => {
            let o = OverrideRecord {
                cycle_id: r.text(0)?,
                dimension: r.text(1)?,
                person_id: r.text(2)?,
                score: r.real(3)?,
                previous: r.real(4)?,
                reason: r.text(5)?,
                by: r.text(6)?,
            };
            let key = (o.cycle_id.clone(), o.dimension.clone(), o.person_id.clone());
            book.overrides.insert(key, o);
        }
        _ => {}
    }
    Ok(())
}

/// A stored rating (columns as in [`RATINGS`]).
pub fn read_rating(r: &Reader<'_>) -> Result<RatingRecord, StoreError> {
    Ok(RatingRecord {
        cycle_id: r.text(0)?,
        rater_id: r.text(1)?,
        ratee_id: r.text(2)?,
        dimension: r.text(3)?,
        relationship: r.parsed(4)?,
        score: r.real(5)?,
        status: r.parsed(6)?,
        comment: r.text(7)?,
    })
}
