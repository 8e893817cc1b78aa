//! Updates of master data checked against what depends on them (see
//! `valuetree_core::dependents`): the master data from the state, the facts the state may not
//! hold (contributions, ratings) counted here, in the write's own transaction.

use super::*;
use std::collections::{BTreeMap, BTreeSet};
use valuetree_core::dependents::{self, NAMED};

/// Where a write updated a person's employment or a unit's life, or placed a unit under a
/// parent: the file, line and column to name in an error (for a command, `request` and the
/// event's position).
#[derive(Debug, Default)]
pub(crate) struct Updated {
    people: BTreeMap<String, (String, u64, &'static str)>,
    units: BTreeMap<String, (String, u64, &'static str)>,
    /// Units created or moved: each must fit in its parent's life.
    placed: BTreeMap<String, (String, u64, &'static str)>,
}

impl Updated {
    /// Notes `event` if it updates a person's employment or a unit's life, or places a unit.
    pub(crate) fn note(&mut self, event: &Event, file: &str, line: u64) {
        let at = |column| (file.to_string(), line, column);
        match event {
            Event::PersonUpdated(p) => {
                self.people.insert(p.person_id.clone(), at("left_on"));
            }
            Event::PersonLeft { person_id, .. } => {
                self.people.insert(person_id.clone(), at("left_on"));
            }
            Event::UnitUpdated(u) => {
                self.units.insert(u.unit_id.clone(), at("valid_to"));
                self.placed.insert(u.unit_id.clone(), at("parent_unit_id"));
            }
            Event::UnitCreated(u) => {
                self.placed.insert(u.unit_id.clone(), at("parent_unit_id"));
            }
            Event::UnitMoved { unit_id, .. } => {
                self.placed.insert(unit_id.clone(), at("parent_unit_id"));
            }
            Event::UnitDissolved { unit_id, .. } => {
                self.units.insert(unit_id.clone(), at("valid_to"));
            }
            _ => {}
        }
    }

    /// The errors of every noted update that leaves records outside the person's employment
    /// or the unit's life, checked against `state` once the whole write is applied.
    pub(crate) fn check(
        &self,
        tx: &mut dyn Tx,
        state: &State,
    ) -> Result<Vec<FileRowError>, StoreError> {
        let mut errors = Vec::new();
        if !self.people.is_empty() {
            let people: BTreeSet<String> = self.people.keys().cloned().collect();
            let mut found = dependents::outside_employment(state, &people);
            let mut more: BTreeMap<String, u64> = BTreeMap::new();
            facts_outside_employment(tx, state, &people, &mut found, &mut more)?;
            for (person, (file, line, column)) in &self.people {
                let (Some(p), Some(list)) = (state.people.get(person), found.get(person)) else {
                    continue;
                };
                let reason = dependents::reason(
                    person,
                    list,
                    more.get(person).copied().unwrap_or(0),
                    &format!(
                        "their employment ({} to {})",
                        p.joined_on,
                        p.left_on.map_or("open".into(), |d| d.to_string())
                    ),
                    "correct or retract them first, or keep the old dates",
                );
                errors.push(error_at(file, *line, column, reason));
            }
        }
        let units: BTreeSet<String> = self.units.keys().cloned().collect();
        let found = dependents::outside_unit(state, &units);
        for (unit, (file, line, column)) in &self.units {
            let (Some(u), Some(list)) = (state.units.get(unit), found.get(unit)) else {
                continue;
            };
            let reason = dependents::reason(
                unit,
                list,
                0,
                &format!(
                    "its life ({} to {})",
                    u.valid_from,
                    u.valid_to.map_or("open".into(), |d| d.to_string())
                ),
                "assign its people elsewhere from the day after it ends (in the same import, or first), or keep the old dates",
            );
            errors.push(error_at(file, *line, column, reason));
        }
        for (unit, (file, line, column)) in &self.placed {
            if let Some(reason) = dependents::outside_parent(state, unit) {
                errors.push(error_at(file, *line, column, reason));
            }
        }
        errors.sort_by(|a, b| (&a.file, a.error.line).cmp(&(&b.file, b.error.line)));
        Ok(errors)
    }
}

fn error_at(file: &str, line: u64, column: &str, reason: String) -> FileRowError {
    FileRowError {
        file: file.to_string(),
        error: RowError {
            line,
            column: Some(column.to_string()),
            reason,
        },
    }
}

/// Up to this many updated people, their ratings are looked up person by person; beyond,
/// one pass over all ratings costs less.
const RATINGS_ONE_BY_ONE: usize = 64;

/// Adds the contributions (named up to [`NAMED`], counted beyond) and the ratings of
/// `people` that fall outside their employment, from the stored facts.
fn facts_outside_employment(
    tx: &mut dyn Tx,
    state: &State,
    people: &BTreeSet<String>,
    found: &mut BTreeMap<String, Vec<String>>,
    more: &mut BTreeMap<String, u64>,
) -> Result<(), StoreError> {
    let span = |person: &str| {
        state.people.get(person).map(|p| {
            (
                p.joined_on.to_string(),
                p.left_on
                    .map_or("9999-12-31".to_string(), |d| d.to_string()),
            )
        })
    };
    for person in people {
        let Some((joined, left)) = span(person) else {
            continue;
        };
        let rows = tx.query(
            "SELECT contribution_id, date FROM contributions WHERE person_id = $1 AND (date < $2 OR date > $3) ORDER BY date, contribution_id",
            &[Value::text(person.as_str()), Value::text(&joined), Value::text(&left)],
        )?;
        for row in &rows {
            let list = found.entry(person.clone()).or_default();
            if list.len() < NAMED {
                let r = Reader::new("contributions", row);
                list.push(format!("contribution {} on {}", r.text(0)?, r.text(1)?));
            } else {
                *more.entry(person.clone()).or_default() += 1;
            }
        }
    }
    // (person, cycle) → ratings by or of the person in a cycle they no longer overlap.
    let mut ratings: BTreeMap<(String, String), i64> = BTreeMap::new();
    let cycles: BTreeMap<&str, (NaiveDate, NaiveDate)> = state
        .reviews
        .cycles
        .iter()
        .map(|(id, c)| (id.as_str(), (c.record.starts_on, c.record.ends_on)))
        .collect();
    let mut count = |person: &str, cycle: &str, n: i64| {
        let (Some(p), Some((starts, ends))) = (state.people.get(person), cycles.get(cycle)) else {
            return;
        };
        if p.joined_on > *ends || p.left_on.is_some_and(|left| left < *starts) {
            *ratings
                .entry((person.to_string(), cycle.to_string()))
                .or_default() += n;
        }
    };
    if people.len() <= RATINGS_ONE_BY_ONE {
        for person in people {
            let rows = tx.query(
                "SELECT cycle_id, count(*) FROM ratings WHERE rater_id = $1 OR ratee_id = $1 GROUP BY cycle_id",
                &[Value::text(person.as_str())],
            )?;
            for row in &rows {
                let r = Reader::new("ratings", row);
                count(person, &r.text(0)?, r.int(1)?);
            }
        }
    } else {
        let rows = tx.query(
            "SELECT cycle_id, rater_id, ratee_id, count(*) FROM ratings GROUP BY cycle_id, rater_id, ratee_id",
            &[],
        )?;
        for row in &rows {
            let r = Reader::new("ratings", row);
            let (cycle, rater, ratee, n) = (r.text(0)?, r.text(1)?, r.text(2)?, r.int(3)?);
            for person in [&rater, &ratee] {
                if people.contains(person.as_str()) {
                    count(person, &cycle, n);
                }
            }
        }
    }
    for ((person, cycle), n) in ratings {
        found.entry(person).or_default().push(format!(
            "{n} rating(s) by or of them in cycle {cycle}, which they no longer overlap"
        ));
    }
    Ok(())
}
