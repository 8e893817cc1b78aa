//! Collaboration: who works with whom across the org chart, read from the contributions.

use super::Facts;
use crate::credit::{Day, Status, day};
use crate::domain::NodeKind;
use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Effort by one unit on nodes another unit also worked on (`with_unit_id` = `unit_id`:
/// effort on nodes no other unit touched).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SharedEffort {
    pub unit_id: String,
    pub with_unit_id: String,
    pub effort: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InitiativeReach {
    pub node_id: String,
    /// Effort in the period on the initiative and the nodes below it.
    pub effort: f64,
    /// Effort by people outside the lead's unit, over all effort on the initiative and the
    /// nodes below it, in [0, 1].
    pub cross_unit_share: f64,
    pub units: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bridge {
    pub person_id: String,
    /// Other units they worked beside on shared nodes.
    pub units: usize,
    /// Their effort on nodes shared with another unit.
    pub shared_effort: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Silo {
    pub unit_id: String,
    pub effort: f64,
    pub people: usize,
    pub nodes: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Collaboration {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `None`: each contribution counts under its person's unit on its own date; a date:
    /// under their unit on that date (people not placed then are left out).
    pub as_of: Option<NaiveDate>,
    pub effort: f64,
    /// The unit × unit matrix, as its non-zero entries, largest first.
    pub matrix: Vec<SharedEffort>,
    /// Initiatives by their cross-unit share, highest first.
    pub initiatives: Vec<InitiativeReach>,
    /// People who work beside the most other units (at most `top`).
    pub bridges: Vec<Bridge>,
    /// Units with effort in the period that never shared a node with another unit.
    pub silos: Vec<Silo>,
}

/// One contribution counted: (engine node, timeline person, unit, effort, day).
type Counted = (u32, u32, u32, f64, Day);

pub fn collaboration(
    facts: &Facts<'_>,
    from: NaiveDate,
    to: NaiveDate,
    as_of: Option<NaiveDate>,
    top: usize,
) -> Collaboration {
    let (lo, hi) = (day(from), day(to));
    let counted: Vec<Counted> = facts
        .work
        .contributions
        .iter()
        .filter(|c| c.status != Status::Retracted && c.effort > 0.0 && lo <= c.date && c.date <= hi)
        .filter_map(|c| {
            let person = facts.person_line(c.person)?;
            let on = as_of.map_or(c.date, day);
            let unit = facts.timeline.unit_on(person, on)?;
            Some((c.node, person, unit, c.effort, c.date))
        })
        .collect();
    // Per node: effort per unit.
    let mut per_node: FxHashMap<u32, BTreeMap<u32, f64>> = FxHashMap::default();
    for &(node, _, unit, effort, _) in &counted {
        *per_node.entry(node).or_default().entry(unit).or_default() += effort;
    }
    let mut matrix: BTreeMap<(u32, u32), f64> = BTreeMap::new();
    for units in per_node.values() {
        for (&a, &effort) in units {
            if units.len() == 1 {
                *matrix.entry((a, a)).or_default() += effort;
            }
            for &b in units.keys().filter(|b| **b != a) {
                *matrix.entry((a, b)).or_default() += effort;
            }
        }
    }
    let unit_id = |u: u32| facts.timeline.unit_ids[u as usize].clone();
    let mut silos: BTreeMap<u32, (f64, BTreeSet<u32>, usize)> = BTreeMap::new();
    for units in per_node.values() {
        if units.len() == 1
            && let Some((&u, &effort)) = units.iter().next()
        {
            let silo = silos.entry(u).or_default();
            silo.0 += effort;
            silo.2 += 1;
        }
    }
    let shares: BTreeSet<u32> = matrix
        .keys()
        .filter(|(a, b)| a != b)
        .map(|(a, _)| *a)
        .collect();
    for &(node, person, unit, _, _) in &counted {
        if per_node[&node].len() == 1
            && let Some(silo) = silos.get_mut(&unit)
        {
            silo.1.insert(person);
        }
    }
    let mut silos: Vec<Silo> = silos
        .into_iter()
        .filter(|(u, _)| !shares.contains(u))
        .map(|(u, (effort, people, nodes))| Silo {
            unit_id: unit_id(u),
            effort,
            people: people.len(),
            nodes,
        })
        .collect();
    silos.sort_by(|a, b| {
        b.effort
            .total_cmp(&a.effort)
            .then(a.unit_id.cmp(&b.unit_id))
    });

    // Bridges: people on shared nodes, by the other units they met there.
    let mut bridges: FxHashMap<u32, (BTreeSet<u32>, f64)> = FxHashMap::default();
    for &(node, person, unit, effort, _) in &counted {
        let units = &per_node[&node];
        if units.len() < 2 {
            continue;
        }
        let b = bridges.entry(person).or_default();
        b.0.extend(units.keys().filter(|u| **u != unit));
        b.1 += effort;
    }
    let mut bridges: Vec<Bridge> = bridges
        .into_iter()
        .map(|(p, (units, effort))| Bridge {
            person_id: facts.timeline.person_ids[p as usize].clone(),
            units: units.len(),
            shared_effort: effort,
        })
        .collect();
    bridges.sort_by(|a, b| {
        b.units
            .cmp(&a.units)
            .then(b.shared_effort.total_cmp(&a.shared_effort))
            .then(a.person_id.cmp(&b.person_id))
    });
    bridges.truncate(top);

    let initiatives = initiative_reach(facts, &counted, to, as_of);
    let mut entries: Vec<SharedEffort> = matrix
        .into_iter()
        .map(|((a, b), effort)| SharedEffort {
            unit_id: unit_id(a),
            with_unit_id: unit_id(b),
            effort,
        })
        .collect();
    entries.sort_by(|a, b| {
        b.effort
            .total_cmp(&a.effort)
            .then(a.unit_id.cmp(&b.unit_id))
            .then(a.with_unit_id.cmp(&b.with_unit_id))
    });
    Collaboration {
        from,
        to,
        as_of,
        effort: counted.iter().fold(0.0, |sum, c| sum + c.3),
        matrix: entries,
        initiatives,
        bridges,
        silos,
    }
}

/// Each initiative's cross-unit share over itself and the nodes below it (links valid on
/// `to`).
fn initiative_reach(
    facts: &Facts<'_>,
    counted: &[Counted],
    to: NaiveDate,
    as_of: Option<NaiveDate>,
) -> Vec<InitiativeReach> {
    let mut by_node: FxHashMap<&str, Vec<&Counted>> = FxHashMap::default();
    for c in counted {
        by_node.entry(facts.node_id(c.0)).or_default().push(c);
    }
    let mut out = Vec::new();
    let children = super::health::Children::on(facts.state, to);
    let mut ids: Vec<&String> = facts
        .state
        .nodes
        .iter()
        .filter(|(_, n)| n.kind == NodeKind::Initiative)
        .map(|(id, _)| id)
        .collect();
    ids.sort_unstable();
    for id in ids {
        let (mut total, mut outside) = (0.0, 0.0);
        let mut units = BTreeSet::new();
        for node in children.subtree(id) {
            for &&(_, _, unit, effort, on) in by_node.get(node).into_iter().flatten() {
                let lead_unit = facts.timeline.lead_unit_on(id, as_of.map_or(on, day));
                total += effort;
                units.insert(unit);
                if lead_unit != Some(unit) {
                    outside += effort;
                }
            }
        }
        if total > 0.0 {
            out.push(InitiativeReach {
                node_id: id.clone(),
                effort: total,
                cross_unit_share: outside / total,
                units: units.len(),
            });
        }
    }
    out.sort_by(|a, b| {
        b.cross_unit_share
            .total_cmp(&a.cross_unit_share)
            .then(b.effort.total_cmp(&a.effort))
            .then(a.node_id.cmp(&b.node_id))
    });
    out
}
