//! Churn hot spots: people moved off live work again and again, manager changes, units
//! reorganised most often, work handed over more than once, flagpoles nobody joined.

use super::Facts;
use crate::credit::{Day, date_of, day};
use crate::domain::{NodeKind, NodeStatus};
use chrono::{Months, NaiveDate};
use rustc_hash::FxHashSet;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How far back a contribution makes a node someone's live work.
pub const LIVE_WORK_DAYS: Day = 90;

/// A change of unit that took a person off live work before its outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MoveOffLiveWork {
    pub person_id: String,
    pub date: NaiveDate,
    pub from_unit_id: String,
    pub to_unit_id: String,
    /// The live nodes they left, in id order.
    pub node_ids: Vec<String>,
}

/// Every move off live work dated in `[from, to]`, by person then date.
///
/// A move is a change of unit on day M (not the first assignment). The person's live work on
/// M is every initiative or deliverable they contributed to in the 90 days before M that no
/// value had reached by M (an outcome there or passed down to it), and whose lead on M is
/// neither the person nor in the person's new unit. A move with live work counts.
pub fn moves_off_live_work(
    facts: &Facts<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<MoveOffLiveWork> {
    moves_off_live_work_of(facts, from, to, None)
}

/// [`moves_off_live_work`] of `only` these people (timeline numbering), or of everyone.
pub fn moves_off_live_work_of(
    facts: &Facts<'_>,
    from: NaiveDate,
    to: NaiveDate,
    only: Option<&FxHashSet<u32>>,
) -> Vec<MoveOffLiveWork> {
    let (from, to) = (day(from), day(to));
    let work = facts.work_by_person(only);
    let mut out = Vec::new();
    for (person, line) in facts.timeline.people.iter().enumerate() {
        if only.is_some_and(|only| !only.contains(&(person as u32))) {
            continue;
        }
        let mine = work.get(&(person as u32)).map_or(&[][..], Vec::as_slice);
        if mine.is_empty() {
            continue;
        }
        for pair in line.stints.windows(2) {
            let (before, after) = (&pair[0], &pair[1]);
            let moved_on = after.from;
            if before.unit == after.unit || moved_on < from || to < moved_on {
                continue;
            }
            let lo = mine.partition_point(|(d, _)| *d < moved_on - LIVE_WORK_DAYS);
            let hi = mine.partition_point(|(d, _)| *d < moved_on);
            let mut nodes: BTreeSet<&str> = BTreeSet::new();
            for &(_, node) in &mine[lo..hi] {
                if !facts.is_work_node(node)
                    || facts
                        .engine
                        .first_value_day(node)
                        .is_some_and(|v| v <= moved_on)
                {
                    continue;
                }
                let node_id = facts.node_id(node);
                let lead = facts.timeline.lead_on(node_id, moved_on);
                if lead == Some(person as u32)
                    || lead.and_then(|l| facts.timeline.unit_on(l, moved_on)) == Some(after.unit)
                {
                    continue;
                }
                nodes.insert(node_id);
            }
            if !nodes.is_empty() {
                out.push(MoveOffLiveWork {
                    person_id: facts.timeline.person_ids[person].clone(),
                    date: date_of(moved_on),
                    from_unit_id: facts.timeline.unit_ids[before.unit as usize].clone(),
                    to_unit_id: facts.timeline.unit_ids[after.unit as usize].clone(),
                    node_ids: nodes.into_iter().map(String::from).collect(),
                });
            }
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RepeatedlyMoved {
    pub person_id: String,
    pub moves: Vec<MoveOffLiveWork>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ManagerChanges {
    pub person_id: String,
    pub changes: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitChurn {
    pub unit_id: String,
    /// Reorganisation dates that created, moved or dissolved the unit, or moved people in or
    /// out of it.
    pub reorganisations: usize,
    pub dates: Vec<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RepeatedHandover {
    pub node_id: String,
    pub dates: Vec<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LonelyFlagpole {
    pub node_id: String,
    pub lead_id: Option<String>,
    pub created_on: NaiveDate,
    pub days_open: i64,
    pub roles_wanted: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Churn {
    pub as_of: NaiveDate,
    /// The window looked at: the 24 months up to `as_of`.
    pub from: NaiveDate,
    /// People moved off live work before its outcome two or more times in the window.
    pub moved_off_live_work_repeatedly: Vec<RepeatedlyMoved>,
    /// Everyone employed on `as_of`, by manager changes in the 12 months up to it: how many
    /// had 0, 1, 2, 3 and 4 or more.
    pub manager_changes_distribution: [usize; 5],
    /// The most manager changes in those 12 months (at most `top`).
    pub manager_changes_top: Vec<ManagerChanges>,
    /// Units by reorganisations in the window, most first (at most `top`).
    pub units_reorganised: Vec<UnitChurn>,
    /// Nodes handed over more than once (ever), most first.
    pub handed_over_repeatedly: Vec<RepeatedHandover>,
    /// Open flagpoles (proposed or active) whose only member, if any, is their lead.
    pub flagpoles_without_people: Vec<LonelyFlagpole>,
}

pub fn churn(facts: &Facts<'_>, as_of: NaiveDate, top: usize) -> Churn {
    let from = as_of
        .checked_sub_months(Months::new(24))
        .unwrap_or(NaiveDate::MIN)
        .succ_opt()
        .unwrap_or(as_of);
    let mut by_person: BTreeMap<String, Vec<MoveOffLiveWork>> = BTreeMap::new();
    for m in moves_off_live_work(facts, from, as_of) {
        by_person.entry(m.person_id.clone()).or_default().push(m);
    }
    let mut repeated: Vec<RepeatedlyMoved> = by_person
        .into_iter()
        .filter(|(_, moves)| moves.len() >= 2)
        .map(|(person_id, moves)| RepeatedlyMoved { person_id, moves })
        .collect();
    repeated.sort_by(|a, b| {
        b.moves
            .len()
            .cmp(&a.moves.len())
            .then(a.person_id.cmp(&b.person_id))
    });

    let year_ago = day(as_of
        .checked_sub_months(Months::new(12))
        .unwrap_or(NaiveDate::MIN));
    let today = day(as_of);
    let mut distribution = [0usize; 5];
    let mut changes = Vec::new();
    for (person, line) in facts.timeline.people.iter().enumerate() {
        if !line.employed_on(today) {
            continue;
        }
        let n = line
            .stints
            .windows(2)
            .filter(|w| year_ago < w[1].from && w[1].from <= today && w[0].manager != w[1].manager)
            .count();
        distribution[n.min(4)] += 1;
        if n > 0 {
            changes.push(ManagerChanges {
                person_id: facts.timeline.person_ids[person].clone(),
                changes: n,
            });
        }
    }
    changes.sort_by(|a, b| {
        b.changes
            .cmp(&a.changes)
            .then(a.person_id.cmp(&b.person_id))
    });
    changes.truncate(top);

    // The reorganisation dates (without the lists of people, which the timeline gives).
    let outline = crate::org::reorganisation_outline(facts.state, from, as_of);
    let dates: Vec<NaiveDate> = outline.iter().map(|(r, _)| r.date).collect();
    let mut units: BTreeMap<String, BTreeSet<NaiveDate>> = BTreeMap::new();
    for (r, _) in &outline {
        let touched = r
            .units_created
            .iter()
            .chain(&r.units_dissolved)
            .chain(r.units_moved.iter().map(|m| &m.unit_id));
        for unit in touched {
            units.entry(unit.clone()).or_default().insert(r.date);
        }
    }
    let unit_ids = &facts.timeline.unit_ids;
    for line in &facts.timeline.people {
        for pair in line.stints.windows(2) {
            let moved_on = date_of(pair[1].from);
            if pair[0].unit != pair[1].unit && dates.binary_search(&moved_on).is_ok() {
                for unit in [pair[0].unit, pair[1].unit] {
                    units
                        .entry(unit_ids[unit as usize].clone())
                        .or_default()
                        .insert(moved_on);
                }
            }
        }
    }
    let mut units: Vec<UnitChurn> = units
        .into_iter()
        .map(|(unit_id, dates)| UnitChurn {
            unit_id,
            reorganisations: dates.len(),
            dates: dates.into_iter().collect(),
        })
        .collect();
    units.sort_by(|a, b| {
        b.reorganisations
            .cmp(&a.reorganisations)
            .then(a.unit_id.cmp(&b.unit_id))
    });
    units.truncate(top);

    let mut handovers: BTreeMap<&str, Vec<NaiveDate>> = BTreeMap::new();
    for (node, date) in facts.state.handovers.keys() {
        handovers.entry(node.as_str()).or_default().push(*date);
    }
    let mut handed: Vec<RepeatedHandover> = handovers
        .into_iter()
        .filter(|(_, dates)| dates.len() >= 2)
        .map(|(node, dates)| RepeatedHandover {
            node_id: node.to_string(),
            dates,
        })
        .collect();
    handed.sort_by(|a, b| {
        b.dates
            .len()
            .cmp(&a.dates.len())
            .then(a.node_id.cmp(&b.node_id))
    });

    let mut lonely: Vec<LonelyFlagpole> = facts
        .state
        .nodes
        .values()
        .filter(|n| n.flagpole && matches!(n.status, NodeStatus::Proposed | NodeStatus::Active))
        .filter(|n| n.created_on <= as_of)
        .filter(|n| {
            let lead = facts.state.current_lead(&n.node_id);
            !facts.state.members_of_node(&n.node_id).any(|m| {
                m.joined_on <= as_of
                    && m.left_on.is_none_or(|l| as_of <= l)
                    && Some(&m.person_id) != lead
            })
        })
        .map(|n| LonelyFlagpole {
            node_id: n.node_id.clone(),
            lead_id: facts.state.current_lead(&n.node_id).cloned(),
            created_on: n.created_on,
            days_open: (as_of - n.created_on).num_days(),
            roles_wanted: n.roles_wanted.clone(),
        })
        .collect();
    lonely.sort_by(|a, b| {
        b.days_open
            .cmp(&a.days_open)
            .then(a.node_id.cmp(&b.node_id))
    });

    Churn {
        as_of,
        from,
        moved_off_live_work_repeatedly: repeated,
        manager_changes_distribution: distribution,
        manager_changes_top: changes,
        units_reorganised: units,
        handed_over_repeatedly: handed,
        flagpoles_without_people: lonely,
    }
}

/// Whether a node is work a person can be moved off (an initiative or a deliverable).
pub(super) fn is_work(kind: NodeKind) -> bool {
    matches!(kind, NodeKind::Initiative | NodeKind::Deliverable)
}
