//! The time-versioned org: who was where, under whom, as of any date.
//!
//! "As of D" means: facts effective on or before D (inclusive), in their latest recorded
//! version. `left_on`, `valid_to` are last days, inclusive. An assignment holds from its
//! `valid_from` until the day before the person's next assignment, and only while the person
//! is employed.

use crate::domain::*;
use crate::state::State;
use chrono::NaiveDate;
use serde::Serialize;

/// Where a person stands on a date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub person_id: PersonId,
    pub unit_id: Option<UnitId>,
    pub manager_id: Option<PersonId>,
    /// Since when this placement holds (the assignment's start).
    pub since: Option<NaiveDate>,
}

pub fn placement(state: &State, person_id: &str, date: NaiveDate) -> Option<Placement> {
    let person = state.people.get(person_id)?;
    if !person.employed_on(date) {
        return None;
    }
    let range = (person_id.to_string(), NaiveDate::MIN)..=(person_id.to_string(), date);
    let current = state.assignments.range(range).next_back().map(|(_, a)| a);
    Some(Placement {
        person_id: person_id.to_string(),
        unit_id: current.map(|a| a.record.unit_id.clone()),
        manager_id: current.and_then(|a| a.record.manager_id.clone()),
        since: current.map(|a| a.record.valid_from),
    })
}

/// Everyone employed on `date`, in person-id order.
pub fn org_as_of(state: &State, date: NaiveDate) -> Vec<Placement> {
    state
        .people
        .keys()
        .filter_map(|id| placement(state, id, date))
        .collect()
}

/// The people placed in `unit_id` on `date`.
pub fn unit_members(state: &State, unit_id: &str, date: NaiveDate) -> Vec<Placement> {
    org_as_of(state, date)
        .into_iter()
        .filter(|p| p.unit_id.as_deref() == Some(unit_id))
        .collect()
}

/// The unit's name and parent as of `date` (renames and moves are versioned).
pub fn unit_version(state: &State, unit_id: &str, date: NaiveDate) -> Option<UnitVersion> {
    let range = (unit_id.to_string(), NaiveDate::MIN)..=(unit_id.to_string(), date);
    state
        .unit_versions
        .range(range)
        .next_back()
        .map(|(_, v)| v.clone())
}

/// A person's whole history in the org: employment and every assignment, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersonHistory {
    pub person: PersonRecord,
    pub assignments: Vec<HistoryEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub unit_id: UnitId,
    pub manager_id: Option<PersonId>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

pub fn person_history(state: &State, person_id: &str) -> Option<PersonHistory> {
    let person = state.people.get(person_id)?.clone();
    let range = (person_id.to_string(), NaiveDate::MIN)..=(person_id.to_string(), NaiveDate::MAX);
    let assignments = state
        .assignments
        .range(range)
        .map(|(_, a)| HistoryEntry {
            unit_id: a.record.unit_id.clone(),
            manager_id: a.record.manager_id.clone(),
            valid_from: a.record.valid_from,
            // An assignment also ends when the person leaves.
            valid_to: match (a.valid_to, person.left_on) {
                (Some(end), Some(left)) => Some(end.min(left)),
                (end, left) => end.or(left),
            },
        })
        .collect();
    Some(PersonHistory {
        person,
        assignments,
    })
}

/// What changed in the org between two dates.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OrgDiff {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub joined: Vec<Placement>,
    pub left: Vec<Placement>,
    pub moved: Vec<Change<Option<UnitId>>>,
    pub manager_changed: Vec<Change<Option<PersonId>>>,
    pub units_created: Vec<UnitId>,
    pub units_dissolved: Vec<UnitId>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change<T> {
    pub person_id: PersonId,
    pub before: T,
    pub after: T,
}

pub fn diff(state: &State, from: NaiveDate, to: NaiveDate) -> OrgDiff {
    let mut out = OrgDiff {
        from: Some(from),
        to: Some(to),
        ..OrgDiff::default()
    };
    for id in state.people.keys() {
        match (placement(state, id, from), placement(state, id, to)) {
            (None, Some(after)) => out.joined.push(after),
            (Some(before), None) => out.left.push(before),
            (Some(before), Some(after)) => {
                if before.unit_id != after.unit_id {
                    out.moved.push(Change {
                        person_id: id.clone(),
                        before: before.unit_id.clone(),
                        after: after.unit_id.clone(),
                    });
                }
                if before.manager_id != after.manager_id {
                    out.manager_changed.push(Change {
                        person_id: id.clone(),
                        before: before.manager_id,
                        after: after.manager_id,
                    });
                }
            }
            (None, None) => {}
        }
    }
    for unit in state.units.values() {
        match (unit.exists_on(from), unit.exists_on(to)) {
            (false, true) => out.units_created.push(unit.unit_id.clone()),
            (true, false) => out.units_dissolved.push(unit.unit_id.clone()),
            _ => {}
        }
    }
    out
}
