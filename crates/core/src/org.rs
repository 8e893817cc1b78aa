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
    person_ids(state)
        .into_iter()
        .filter_map(|id| placement(state, id, date))
        .collect()
}

/// Every person's id, sorted (the people are held in a hash map: an import looks one up per
/// contribution).
fn person_ids(state: &State) -> Vec<&String> {
    let mut ids: Vec<&String> = state.people.keys().collect();
    ids.sort_unstable();
    ids
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
    for id in person_ids(state) {
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

/// A unit given a new parent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnitMove {
    pub unit_id: UnitId,
    pub from_parent: Option<UnitId>,
    pub to_parent: Option<UnitId>,
}

/// A person who changed unit, with the manager before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonMove {
    pub person_id: PersonId,
    pub from_unit: UnitId,
    pub to_unit: UnitId,
    pub from_manager: Option<PersonId>,
    pub to_manager: Option<PersonId>,
}

/// A reorganisation: a date on which a unit is created, moved or dissolved, or on which two
/// or more people change unit; with everything that changed on it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reorganisation {
    pub date: NaiveDate,
    pub units_created: Vec<UnitId>,
    pub units_moved: Vec<UnitMove>,
    /// Units whose last day was the day before.
    pub units_dissolved: Vec<UnitId>,
    pub people_moved: Vec<PersonMove>,
}

/// The reorganisations dated in `[from, to]`, oldest first. A dissolution is dated the day
/// after the unit's last day (when its people are elsewhere); a person's first assignment is
/// a hire, not a change of unit.
pub fn reorganisations(state: &State, from: NaiveDate, to: NaiveDate) -> Vec<Reorganisation> {
    walk_reorganisations(state, from, to, true)
        .into_iter()
        .map(|(r, _)| r)
        .collect()
}

/// The same reorganisations with the number of people who changed unit on each, but without
/// the list of them (`people_moved` is empty): cheaper, for whoever needs only the dates.
pub fn reorganisation_outline(
    state: &State,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<(Reorganisation, usize)> {
    walk_reorganisations(state, from, to, false)
}

fn walk_reorganisations(
    state: &State,
    from: NaiveDate,
    to: NaiveDate,
    with_people: bool,
) -> Vec<(Reorganisation, usize)> {
    let mut by_date: std::collections::BTreeMap<NaiveDate, Reorganisation> =
        std::collections::BTreeMap::new();
    fn on(
        by_date: &mut std::collections::BTreeMap<NaiveDate, Reorganisation>,
        date: NaiveDate,
    ) -> &mut Reorganisation {
        by_date.entry(date).or_insert_with(|| Reorganisation {
            date,
            ..Reorganisation::default()
        })
    }
    let within = |date: &NaiveDate| from <= *date && *date <= to;
    for unit in state.units.values() {
        if within(&unit.valid_from) {
            on(&mut by_date, unit.valid_from)
                .units_created
                .push(unit.unit_id.clone());
        }
        if let Some(end) = unit.valid_to.and_then(|t| t.succ_opt()).filter(within) {
            on(&mut by_date, end)
                .units_dissolved
                .push(unit.unit_id.clone());
        }
    }
    let mut previous: Option<&UnitVersion> = None;
    for version in state.unit_versions.values() {
        if let Some(before) = previous.filter(|p| p.unit_id == version.unit_id)
            && before.parent_unit_id != version.parent_unit_id
            && within(&version.valid_from)
        {
            on(&mut by_date, version.valid_from)
                .units_moved
                .push(UnitMove {
                    unit_id: version.unit_id.clone(),
                    from_parent: before.parent_unit_id.clone(),
                    to_parent: version.parent_unit_id.clone(),
                });
        }
        previous = Some(version);
    }
    // People changing unit, by date; a date counts with two or more, or with a unit change.
    let mut moves: std::collections::BTreeMap<NaiveDate, (usize, Vec<PersonMove>)> =
        std::collections::BTreeMap::new();
    let mut before: Option<&Assignment> = None;
    for assignment in state.assignments.values() {
        let a = &assignment.record;
        if let Some(b) = before.filter(|b| b.record.person_id == a.person_id)
            && b.record.unit_id != a.unit_id
            && from <= a.valid_from
            && a.valid_from <= to
        {
            let (count, people) = moves.entry(a.valid_from).or_default();
            *count += 1;
            if with_people {
                people.push(PersonMove {
                    person_id: a.person_id.clone(),
                    from_unit: b.record.unit_id.clone(),
                    to_unit: a.unit_id.clone(),
                    from_manager: b.record.manager_id.clone(),
                    to_manager: a.manager_id.clone(),
                });
            }
        }
        before = Some(assignment);
    }
    let mut counts: std::collections::BTreeMap<NaiveDate, usize> =
        std::collections::BTreeMap::new();
    for (date, (count, people)) in moves {
        if count >= 2 || by_date.contains_key(&date) {
            on(&mut by_date, date).people_moved = people;
            counts.insert(date, count);
        }
    }
    by_date
        .into_values()
        .map(|r| {
            let count = counts.get(&r.date).copied().unwrap_or(0);
            (r, count)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap_or_default()
    }

    fn org() -> State {
        let mut state = State::default();
        let events = [
            Event::PersonHired(PersonRecord {
                person_id: "M1".into(),
                name: "Manager One".into(),
                email: None,
                joined_on: day("2020-01-01"),
                left_on: None,
            }),
            Event::PersonHired(PersonRecord {
                person_id: "M2".into(),
                name: "Manager Two".into(),
                email: None,
                joined_on: day("2020-01-01"),
                left_on: None,
            }),
            Event::PersonHired(PersonRecord {
                person_id: "P1".into(),
                name: "Person".into(),
                email: None,
                joined_on: day("2024-01-01"),
                left_on: Some(day("2024-12-31")),
            }),
            Event::UnitCreated(UnitRecord {
                unit_id: "A".into(),
                name: "Alpha".into(),
                parent_unit_id: None,
                valid_from: day("2020-01-01"),
                valid_to: Some(day("2024-06-30")),
            }),
            Event::UnitCreated(UnitRecord {
                unit_id: "B".into(),
                name: "Beta".into(),
                parent_unit_id: None,
                valid_from: day("2024-07-01"),
                valid_to: None,
            }),
            Event::AssignmentChanged(AssignmentRecord {
                person_id: "P1".into(),
                unit_id: "A".into(),
                manager_id: Some("M1".into()),
                valid_from: day("2024-01-01"),
            }),
            Event::AssignmentChanged(AssignmentRecord {
                person_id: "P1".into(),
                unit_id: "B".into(),
                manager_id: Some("M2".into()),
                valid_from: day("2024-07-01"),
            }),
        ];
        for event in &events {
            assert_eq!(state.apply(event), Ok(()), "{event:?}");
        }
        state
    }

    #[test]
    fn as_of_is_inclusive_of_first_and_last_days() {
        let state = org();
        assert_eq!(placement(&state, "P1", day("2023-12-31")), None);
        let first = placement(&state, "P1", day("2024-01-01"));
        assert_eq!(first.and_then(|p| p.unit_id), Some("A".into()));
        let before = placement(&state, "P1", day("2024-06-30"));
        assert_eq!(before.and_then(|p| p.manager_id), Some("M1".into()));
        let after = placement(&state, "P1", day("2024-07-01"));
        assert_eq!(after.and_then(|p| p.manager_id), Some("M2".into()));
        assert!(
            placement(&state, "P1", day("2024-12-31")).is_some(),
            "left_on is the last day"
        );
        assert_eq!(placement(&state, "P1", day("2025-01-01")), None);
    }

    #[test]
    fn a_corrected_assignment_is_read_in_its_latest_version() {
        let mut state = org();
        let correction = Event::AssignmentChanged(AssignmentRecord {
            person_id: "P1".into(),
            unit_id: "A".into(),
            manager_id: Some("M2".into()),
            valid_from: day("2024-01-01"),
        });
        assert_eq!(state.apply(&correction), Ok(()));
        let placed = placement(&state, "P1", day("2024-03-01"));
        assert_eq!(placed.and_then(|p| p.manager_id), Some("M2".into()));
        let history = person_history(&state, "P1")
            .map(|h| h.assignments)
            .unwrap_or_default();
        assert_eq!(history.len(), 2);
        assert_eq!(
            history[0].valid_to,
            Some(day("2024-06-30")),
            "ends the day before the next"
        );
        assert_eq!(
            history[1].valid_to,
            Some(day("2024-12-31")),
            "ends when the person leaves"
        );
    }

    #[test]
    fn diff_names_moves_manager_changes_and_units() {
        let state = org();
        let d = diff(&state, day("2024-06-30"), day("2024-07-01"));
        assert_eq!(d.moved.len(), 1);
        assert_eq!(d.moved[0].before, Some("A".into()));
        assert_eq!(d.moved[0].after, Some("B".into()));
        assert_eq!(d.manager_changed.len(), 1);
        assert_eq!(d.units_created, vec!["B".to_string()]);
        assert_eq!(d.units_dissolved, vec!["A".to_string()]);
        let d = diff(&state, day("2023-06-01"), day("2025-06-01"));
        assert!(
            d.joined.is_empty() && d.left.is_empty(),
            "joined and left again: in neither"
        );
        let d = diff(&state, day("2023-06-01"), day("2024-02-01"));
        assert_eq!(d.joined.len(), 1);
    }

    #[test]
    fn an_assignment_outside_the_units_life_is_refused() {
        let mut state = org();
        let late = Event::AssignmentChanged(AssignmentRecord {
            person_id: "P1".into(),
            unit_id: "A".into(),
            manager_id: None,
            valid_from: day("2024-08-01"),
        });
        let refused = state.apply(&late).err().map(|r| r.field);
        assert_eq!(refused, Some("unit_id"));
        assert_eq!(unit_members(&state, "B", day("2024-08-01")).len(), 1);
    }

    #[test]
    fn a_reorganisation_is_a_unit_created_moved_or_dissolved_or_two_people_moving() {
        let mut state = org();
        let mut reorgs = reorganisations(&state, day("2020-01-01"), day("2030-01-01"));
        assert_eq!(
            reorgs.iter().map(|r| r.date).collect::<Vec<_>>(),
            [day("2020-01-01"), day("2024-07-01")]
        );
        let july = reorgs.pop().unwrap_or_default();
        assert_eq!(july.units_created, ["B"]);
        assert_eq!(
            july.units_dissolved,
            ["A"],
            "dated the day after its last day"
        );
        assert_eq!(
            july.people_moved,
            [PersonMove {
                person_id: "P1".into(),
                from_unit: "A".into(),
                to_unit: "B".into(),
                from_manager: Some("M1".into()),
                to_manager: Some("M2".into()),
            }],
            "one person moving counts on a date a unit changes"
        );
        // One person alone changing unit is a transfer, two on a date a reorganisation; a
        // unit moved under another is one too.
        for event in [
            Event::AssignmentChanged(AssignmentRecord {
                person_id: "M1".into(),
                unit_id: "A".into(),
                manager_id: None,
                valid_from: day("2020-01-01"),
            }),
            Event::AssignmentChanged(AssignmentRecord {
                person_id: "M2".into(),
                unit_id: "A".into(),
                manager_id: None,
                valid_from: day("2020-01-01"),
            }),
            Event::UnitCreated(UnitRecord {
                unit_id: "C".into(),
                name: "Gamma".into(),
                parent_unit_id: None,
                valid_from: day("2020-01-01"),
                valid_to: None,
            }),
            Event::AssignmentChanged(AssignmentRecord {
                person_id: "M1".into(),
                unit_id: "C".into(),
                manager_id: None,
                valid_from: day("2022-03-01"),
            }),
            Event::AssignmentChanged(AssignmentRecord {
                person_id: "M1".into(),
                unit_id: "A".into(),
                manager_id: None,
                valid_from: day("2023-05-01"),
            }),
            Event::AssignmentChanged(AssignmentRecord {
                person_id: "M2".into(),
                unit_id: "C".into(),
                manager_id: None,
                valid_from: day("2023-05-01"),
            }),
            Event::UnitMoved {
                unit_id: "C".into(),
                parent_unit_id: Some("B".into()),
                effective_on: day("2024-08-01"),
            },
        ] {
            assert_eq!(state.apply(&event), Ok(()), "{event:?}");
        }
        let reorgs = reorganisations(&state, day("2021-01-01"), day("2030-01-01"));
        assert_eq!(
            reorgs.iter().map(|r| r.date).collect::<Vec<_>>(),
            [day("2023-05-01"), day("2024-07-01"), day("2024-08-01")]
        );
        assert_eq!(reorgs[0].people_moved.len(), 2);
        assert_eq!(
            reorgs[2].units_moved,
            [UnitMove {
                unit_id: "C".into(),
                from_parent: None,
                to_parent: Some("B".into()),
            }]
        );
    }
}
