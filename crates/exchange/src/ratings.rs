//! The ratings file: `cycle_id,rater_id,ratee_id,relationship,dimension,score,comment`, with
//! optional `ratee_unit,rater_unit` (the units the two belonged to in that cycle).

use crate::small_csv::{SmallCsv, row_error};
use std::collections::HashMap;
use std::io::Read;
use valuetree_core::domain::Relationship;
use valuetree_core::import::RowError;

#[derive(Clone, Debug, PartialEq)]
pub struct RatingRow {
    pub line: u64,
    pub cycle_id: String,
    pub rater_id: String,
    pub ratee_id: String,
    pub relationship: Relationship,
    pub dimension: String,
    pub score: f64,
    pub comment: String,
    pub ratee_unit: Option<String>,
    pub rater_unit: Option<String>,
}

/// The columns are the ledger import's (`valuetree import ratings`), where `status` is also
/// accepted; the calibration CLI reads the same files.
const REQUIRED: &[&str] = crate::csv_files::Kind::Ratings.required_columns();
const OPTIONAL: [&str; 3] = ["ratee_unit", "rater_unit", "status"];

/// Reads a ratings file; every bad row is reported (line, column, reason).
pub fn parse_ratings(reader: impl Read) -> Result<Vec<RatingRow>, Vec<RowError>> {
    let mut csv = SmallCsv::open(reader, REQUIRED, &OPTIONAL, "a ratings file")?;
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    while let Some(line) = csv.next_row(&mut errors) {
        let get = |name: &str| csv.get(name);
        let mut bad =
            |column: &str, reason: String| errors.push(row_error(line, Some(column), reason));
        for name in ["cycle_id", "rater_id", "ratee_id", "dimension"] {
            if get(name).is_empty() {
                bad(name, "is empty; a value is required".into());
            }
        }
        let relationship = get("relationship").parse::<Relationship>();
        if let Err(reason) = &relationship {
            bad("relationship", reason.to_string());
        }
        let score = get("score").parse::<f64>().ok().filter(|s| s.is_finite());
        if score.is_none() {
            bad("score", format!("`{}` is not a number", get("score")));
        }
        let optional = |name: &str| {
            Some(get(name))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        if let (Ok(relationship), Some(score)) = (relationship, score) {
            rows.push(RatingRow {
                line,
                cycle_id: get("cycle_id").to_string(),
                rater_id: get("rater_id").to_string(),
                ratee_id: get("ratee_id").to_string(),
                relationship,
                dimension: get("dimension").to_string(),
                score,
                comment: get("comment").to_string(),
                ratee_unit: optional("ratee_unit"),
                rater_unit: optional("rater_unit"),
            });
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Ratings interned for the calibration engine, with the ids to name the results by.
#[derive(Clone, Debug, Default)]
pub struct Interned {
    pub input: valuetree_core::calibration::CalibrationInput,
    pub ratees: Vec<String>,
    pub raters: Vec<String>,
    pub units: Vec<String>,
    pub relationships: Vec<String>,
    pub cycles: Vec<String>,
    /// Self-ratings, not fitted: (sum, count) by ratee id.
    pub self_ratings: HashMap<String, (f64, u32)>,
}

fn intern(index: &mut HashMap<String, u32>, names: &mut Vec<String>, name: &str) -> u32 {
    if let Some(&i) = index.get(name) {
        return i;
    }
    let i = names.len() as u32;
    names.push(name.to_string());
    index.insert(name.to_string(), i);
    i
}

/// What calibration reads of a rating, borrowed: from a file's [`RatingRow`], or straight from
/// a cycle's records (a cycle holds millions; copying each id into a row first cost as much as
/// the fit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RatingRef<'a> {
    pub cycle_id: &'a str,
    pub rater_id: &'a str,
    pub ratee_id: &'a str,
    pub relationship: Relationship,
    pub dimension: &'a str,
    pub score: f64,
    pub ratee_unit: Option<&'a str>,
    pub rater_unit: Option<&'a str>,
}

impl RatingRow {
    pub fn as_ref(&self) -> RatingRef<'_> {
        RatingRef {
            cycle_id: &self.cycle_id,
            rater_id: &self.rater_id,
            ratee_id: &self.ratee_id,
            relationship: self.relationship,
            dimension: &self.dimension,
            score: self.score,
            ratee_unit: self.ratee_unit.as_deref(),
            rater_unit: self.rater_unit.as_deref(),
        }
    }
}

/// Builds the calibration input from `rows`: the ratings of `dimension` (all dimensions
/// pooled when `None`), self-ratings set aside. With `plain`, units, relationships and cycles
/// are ignored: the model is `score ~ 1 + (1|ratee) + (1|rater)`, for comparison with other
/// tools.
pub fn intern_ratings(rows: &[RatingRow], dimension: Option<&str>, plain: bool) -> Interned {
    intern_rating_refs(rows.iter().map(RatingRow::as_ref), dimension, plain)
}

/// [`intern_ratings`] over borrowed ratings, in the order given.
pub fn intern_rating_refs<'a>(
    rows: impl IntoIterator<Item = RatingRef<'a>>,
    dimension: Option<&str>,
    plain: bool,
) -> Interned {
    let mut out = Interned::default();
    let (mut ratee_ix, mut rater_ix, mut unit_ix, mut rel_ix, mut cycle_ix) = (
        HashMap::new(),
        HashMap::new(),
        HashMap::new(),
        HashMap::new(),
        HashMap::new(),
    );
    for row in rows {
        if dimension.is_some_and(|d| d != row.dimension) {
            continue;
        }
        if row.relationship == Relationship::SelfReview {
            let entry = out
                .self_ratings
                .entry(row.ratee_id.to_string())
                .or_default();
            entry.0 += row.score;
            entry.1 += 1;
            continue;
        }
        // The plain model keeps one level of each fixed effect (the intercept alone).
        let (ratee_unit, rater_unit, relationship, cycle) = if plain {
            ("", "", "", "")
        } else {
            (
                row.ratee_unit.unwrap_or(""),
                row.rater_unit.unwrap_or(""),
                row.relationship.as_str(),
                row.cycle_id,
            )
        };
        let rating = valuetree_core::calibration::Rating {
            ratee: intern(&mut ratee_ix, &mut out.ratees, row.ratee_id),
            rater: intern(&mut rater_ix, &mut out.raters, row.rater_id),
            ratee_unit: intern(&mut unit_ix, &mut out.units, ratee_unit),
            rater_unit: intern(&mut unit_ix, &mut out.units, rater_unit),
            relationship: intern(&mut rel_ix, &mut out.relationships, relationship),
            cycle: intern(&mut cycle_ix, &mut out.cycles, cycle),
            score: row.score,
        };
        out.input.ratings.push(rating);
    }
    out.input.ratees = out.ratees.len();
    out.input.raters = out.raters.len();
    out.input.units = out.units.len();
    out.input.relationships = out.relationships.len();
    out.input.cycles = out.cycles.len();
    out
}
