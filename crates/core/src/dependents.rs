//! What an update of master data would leave wrong: the records that depend on a person's
//! employment or a unit's life and no longer fit in it.
//!
//! A new row passes the rules against what exists; an update of what exists (a person's
//! `left_on` moved earlier, a unit given an end) must pass them against everything recorded
//! since, or it silently leaves contributions after a departure and people in a unit that
//! has ended. The check runs once a whole write (every file of an import, every event of a
//! command) is applied, so that an export that ends a unit and moves its people out in the
//! same import passes. Facts the state may not hold (contributions, ratings) are counted by
//! the store; this module checks the master data every state holds.

use crate::domain::{PersonId, UnitId};
use crate::state::State;
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};

/// How many dependents an error names before it counts the rest.
pub const NAMED: usize = 5;

/// For each of `people` (after the update), the records that fall outside their
/// employment: their assignments, the assignments naming them as manager, their
/// memberships, the nodes they were given at creation and the hand-overs to them. One pass
/// over each collection, whatever the number of people (an HRIS export may update thousands).
pub fn outside_employment(
    state: &State,
    people: &BTreeSet<PersonId>,
) -> BTreeMap<PersonId, Vec<String>> {
    let mut found: BTreeMap<PersonId, Vec<String>> = BTreeMap::new();
    let outside = |person: &PersonId, date: NaiveDate| {
        people.contains(person)
            && state
                .people
                .get(person)
                .is_some_and(|p| !p.employed_on(date))
    };
    let mut add = |person: &PersonId, what: String| {
        found.entry(person.clone()).or_default().push(what);
    };
    for ((someone, from), a) in &state.assignments {
        if outside(someone, *from) {
            add(
                someone,
                format!("assignment to {} from {from}", a.record.unit_id),
            );
        }
        if let Some(manager) = &a.record.manager_id
            && outside(manager, *from)
        {
            add(
                manager,
                format!("{someone}'s assignment from {from} with {manager} as manager"),
            );
        }
    }
    for (node, member, joined) in state.members.keys() {
        if outside(member, *joined) {
            add(member, format!("membership of {node} from {joined}"));
        }
    }
    // The lead each node was created with: the first hand-over's giver, else the lead.
    let mut first_giver: BTreeMap<&str, Option<&PersonId>> = BTreeMap::new();
    for ((node, date), h) in &state.handovers {
        first_giver
            .entry(node.as_str())
            .or_insert(h.from_lead_id.as_ref());
        if let Some(to) = &h.to_lead_id
            && outside(to, *date)
        {
            add(to, format!("hand-over of {node} to {to} on {date}"));
        }
    }
    for node in state.nodes.values() {
        let first_lead = match first_giver.get(node.node_id.as_str()) {
            Some(giver) => *giver,
            None => node.lead_id.as_ref(),
        };
        if let Some(lead) = first_lead
            && outside(lead, node.created_on)
        {
            add(
                lead,
                format!(
                    "lead of {} from its creation on {}",
                    node.node_id, node.created_on
                ),
            );
        }
    }
    for list in found.values_mut() {
        list.sort();
    }
    found
}

/// For each of `units` (after the update), the records that fall outside its life: the
/// assignments into it that start outside it, the people still assigned to it (and
/// employed) the day after it ends, and the units still under it then.
pub fn outside_unit(state: &State, units: &BTreeSet<UnitId>) -> BTreeMap<UnitId, Vec<String>> {
    let mut found: BTreeMap<UnitId, Vec<String>> = BTreeMap::new();
    let day_after = |unit: &UnitId| {
        state
            .units
            .get(unit)
            .and_then(|u| u.valid_to)
            .and_then(|to| to.succ_opt())
    };
    for ((person, from), a) in &state.assignments {
        let unit = &a.record.unit_id;
        let Some(u) = units.get(unit).and_then(|_| state.units.get(unit)) else {
            continue;
        };
        let list = found.entry(unit.clone()).or_default();
        if !u.exists_on(*from) {
            list.push(format!("{person}'s assignment to {unit} from {from}"));
            continue;
        }
        if let Some(day) = day_after(unit) {
            let still_there = a.valid_to.is_none_or(|to| to >= day);
            let employed = state.people.get(person).is_some_and(|p| p.employed_on(day));
            if still_there && employed {
                list.push(format!(
                    "{person} still assigned to it on {day} (since {from})"
                ));
            }
        }
    }
    for child in state.units.values() {
        if let Some(parent) = &child.parent_unit_id
            && units.contains(parent)
            && let Some(day) = day_after(parent)
            && child.exists_on(day)
        {
            found
                .entry(parent.clone())
                .or_default()
                .push(format!("unit {} still under it on {day}", child.unit_id));
        }
    }
    found.retain(|_, list| !list.is_empty());
    for list in found.values_mut() {
        list.sort();
    }
    found
}

/// Why `unit` (new, or moved) does not fit in its parent's life, if it does not: a unit
/// starts on a day its parent exists, and ends by the day its parent ends.
pub fn outside_parent(state: &State, unit: &UnitId) -> Option<String> {
    let u = state.units.get(unit)?;
    let parent_id = u.parent_unit_id.as_ref()?;
    let parent = state.units.get(parent_id)?;
    let life = format!(
        "{} to {}",
        parent.valid_from,
        parent.valid_to.map_or("open".into(), |d| d.to_string())
    );
    if !parent.exists_on(u.valid_from) {
        return Some(format!(
            "{unit} starts on {} under {parent_id}, which does not exist then ({life}); give it a parent that does",
            u.valid_from
        ));
    }
    let end = parent.valid_to?;
    if u.valid_to.is_none_or(|to| to > end) {
        return Some(format!(
            "{unit} would go on under {parent_id} after {parent_id} ends on {end}; end it by then, or move it under a unit that goes on"
        ));
    }
    None
}

/// `found` dependents (and `more` the store counted beyond them) as one reason, with what
/// to do about them.
pub fn reason(subject: &str, found: &[String], more: u64, rule: &str, advice: &str) -> String {
    let mut listed: Vec<&str> = found.iter().take(NAMED).map(String::as_str).collect();
    let rest = (found.len() - listed.len()) as u64 + more;
    let tail = if rest > 0 {
        format!(" and {rest} more")
    } else {
        String::new()
    };
    if listed.is_empty() {
        listed.push("(none listed)");
    }
    format!(
        "this update of {subject} would leave records outside {rule}: {}{tail}; {advice}",
        listed.join("; ")
    )
}
