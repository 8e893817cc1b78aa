//! Collaboration: who works with whom across the org chart, read from the contributions.

use super::Facts;
use crate::credit::{Day, Status, day};
use crate::domain::NodeKind;
use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::BTreeSet;

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
    /// Units rolled up to their ancestor this deep in the unit tree (0: the top), as the
    /// tree stood on `as_of` or `to`; `None`: the units people are assigned to.
    pub depth: Option<usize>,
    /// How many (unit, unit) entries the matrix has in all.
    pub matrix_entries: usize,
    /// The unit × unit matrix, as its largest non-zero entries (at most [`MATRIX_ENTRIES`]).
    pub matrix: Vec<SharedEffort>,
    /// The [`GRID_UNITS`] units with the most effort on shared nodes, and the matrix among
    /// them in full: `grid[i][j]` is unit i's effort on nodes unit j also worked on (0 on the
    /// diagonal).
    pub grid_units: Vec<String>,
    pub grid: Vec<Vec<f64>>,
    /// Initiatives by their cross-unit share, highest first.
    pub initiatives: Vec<InitiativeReach>,
    /// People who work beside the most other units (at most `top`).
    pub bridges: Vec<Bridge>,
    /// How many units are silos.
    pub silo_count: usize,
    /// Units with effort in the period that never shared a node with another unit, most
    /// effort first (at most [`SILOS_LISTED`]).
    pub silos: Vec<Silo>,
}

/// The most matrix entries a report lists (a large organisation has millions).
pub const MATRIX_ENTRIES: usize = 1000;
/// How many units the full grid of the matrix holds.
pub const GRID_UNITS: usize = 12;
/// The most silos a report lists.
pub const SILOS_LISTED: usize = 200;

/// Each unit of the timeline mapped to its ancestor `depth` levels below the top of the unit
/// tree as it stood on `on` (a unit less deep stays itself).
fn rolled_up(facts: &Facts<'_>, on: NaiveDate, depth: usize) -> Vec<u32> {
    let timeline = facts.timeline;
    let parent: Vec<Option<u32>> = timeline
        .unit_ids
        .iter()
        .map(|id| {
            crate::org::unit_version(facts.state, id, on)
                .and_then(|v| v.parent_unit_id)
                .or_else(|| {
                    facts
                        .state
                        .units
                        .get(id)
                        .and_then(|u| u.parent_unit_id.clone())
                })
                .and_then(|p| timeline.find_unit(&p))
        })
        .collect();
    (0..timeline.unit_ids.len() as u32)
        .map(|unit| {
            let mut chain = vec![unit];
            let mut at = unit;
            while let Some(p) = parent[at as usize] {
                if chain.contains(&p) || chain.len() > parent.len() {
                    break;
                }
                chain.push(p);
                at = p;
            }
            // chain runs from the unit up to its top; the ancestor at `depth` from the top.
            let from_top = chain.len() - 1;
            chain[from_top.saturating_sub(depth)]
        })
        .collect()
}

/// Rows of pairs laid out by a key (compressed sparse rows).
struct Csr<T> {
    start: Vec<usize>,
    items: Vec<T>,
}

impl<T: Copy + Default> Csr<T> {
    fn new(keys: usize, pairs: impl Iterator<Item = (u32, T)> + Clone) -> Csr<T> {
        let mut start = vec![0usize; keys + 1];
        for (k, _) in pairs.clone() {
            start[k as usize + 1] += 1;
        }
        for k in 0..keys {
            start[k + 1] += start[k];
        }
        let mut items = vec![T::default(); start[keys]];
        let mut at = start[..keys].to_vec();
        for (k, item) in pairs {
            items[at[k as usize]] = item;
            at[k as usize] += 1;
        }
        Csr { start, items }
    }

    fn of(&self, key: u32) -> &[T] {
        self.start
            .get(key as usize..key as usize + 2)
            .map_or(&[], |s| &self.items[s[0]..s[1]])
    }
}

/// One contribution counted: (engine node, timeline person, unit, effort, day).
type Counted = (u32, u32, u32, f64, Day);

pub fn collaboration(
    facts: &Facts<'_>,
    from: NaiveDate,
    to: NaiveDate,
    as_of: Option<NaiveDate>,
    depth: Option<usize>,
    top: usize,
) -> Collaboration {
    let (lo, hi) = (day(from), day(to));
    let roll = depth.map(|d| rolled_up(facts, as_of.unwrap_or(to), d));
    let counted: Vec<Counted> = facts
        .work
        .contributions
        .iter()
        .filter(|c| c.status != Status::Retracted && c.effort > 0.0 && lo <= c.date && c.date <= hi)
        .filter_map(|c| {
            let person = facts.person_line(c.person)?;
            let on = as_of.map_or(c.date, day);
            let unit = facts.timeline.unit_on(person, on)?;
            let unit = roll.as_ref().map_or(unit, |roll| roll[unit as usize]);
            Some((c.node, person, unit, c.effort, c.date))
        })
        .collect();
    let units = facts.timeline.unit_ids.len();
    let nodes = facts.work.nodes.len();
    let name = |u: u32| facts.timeline.unit_ids[u as usize].as_str();
    let unit_id = |u: u32| name(u).to_string();
    // Effort per (node, unit), laid out by node and by unit (two CSR tables).
    let mut cells: Vec<(u32, u32, f64)> = counted.iter().map(|c| (c.0, c.2, c.3)).collect();
    cells.sort_unstable_by_key(|c| (c.0, c.1));
    cells.dedup_by(|later, kept| {
        let same = later.0 == kept.0 && later.1 == kept.1;
        if same {
            kept.2 += later.2;
        }
        same
    });
    let by_node = Csr::new(nodes, cells.iter().map(|&(v, u, e)| (v, (u, e))));
    let by_unit = Csr::new(units, cells.iter().map(|&(v, u, e)| (u, (v, e))));
    // The matrix row by row: a dense accumulator over the units a row touches, keeping only
    // the largest entries (a large organisation's matrix has tens of millions).
    // Selecting compares unit numbers on ties (efforts are often whole numbers); the entries
    // kept are then ordered by name.
    let by_effort =
        |a: &((u32, u32), f64), b: &((u32, u32), f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    let by_name = |a: &((u32, u32), f64), b: &((u32, u32), f64)| {
        b.1.total_cmp(&a.1)
            .then(name(a.0.0).cmp(name(b.0.0)))
            .then(name(a.0.1).cmp(name(b.0.1)))
    };
    // Entries below the smallest of a full selection can never be listed.
    let mut cutoff = 0.0f64;
    // The grid's units: the most effort on nodes shared with another unit.
    let mut shared: Vec<(u32, f64)> = (0..units as u32)
        .map(|a| {
            let effort = by_unit
                .of(a)
                .iter()
                .filter(|(v, _)| by_node.of(*v).len() >= 2)
                .map(|(_, e)| e)
                .sum::<f64>();
            (a, effort)
        })
        .filter(|(_, effort)| *effort > 0.0)
        .collect();
    shared.sort_by(|a, b| b.1.total_cmp(&a.1).then(name(a.0).cmp(name(b.0))));
    shared.truncate(GRID_UNITS);
    let grid_index: Vec<u32> = shared.iter().map(|(u, _)| *u).collect();
    let mut grid = vec![vec![0.0f64; grid_index.len()]; grid_index.len()];
    let mut acc = vec![0.0f64; units];
    let mut touched: Vec<u32> = Vec::new();
    let mut shares = vec![false; units];
    let mut largest: Vec<((u32, u32), f64)> = Vec::new();
    let mut matrix_entries = 0usize;
    for a in 0..units as u32 {
        let mut alone = 0.0;
        for &(v, effort) in by_unit.of(a) {
            let here = by_node.of(v);
            if here.len() == 1 {
                alone += effort;
                continue;
            }
            for &(b, _) in here.iter().filter(|(b, _)| *b != a) {
                if acc[b as usize] == 0.0 {
                    touched.push(b);
                }
                acc[b as usize] += effort;
            }
        }
        shares[a as usize] = !touched.is_empty();
        if let Some(i) = grid_index.iter().position(|u| *u == a) {
            for (j, b) in grid_index.iter().enumerate() {
                if *b != a {
                    grid[i][j] = acc[*b as usize];
                }
            }
        }
        if alone >= cutoff && alone > 0.0 {
            largest.push(((a, a), alone));
        }
        matrix_entries += touched.len() + usize::from(alone > 0.0);
        for b in touched.drain(..) {
            if acc[b as usize] >= cutoff {
                largest.push(((a, b), acc[b as usize]));
            }
            acc[b as usize] = 0.0;
        }
        if largest.len() > 4 * MATRIX_ENTRIES {
            largest.select_nth_unstable_by(MATRIX_ENTRIES - 1, by_effort);
            largest.truncate(MATRIX_ENTRIES);
            cutoff = largest[MATRIX_ENTRIES - 1].1;
        }
    }
    if largest.len() > MATRIX_ENTRIES {
        largest.select_nth_unstable_by(MATRIX_ENTRIES - 1, by_effort);
        largest.truncate(MATRIX_ENTRIES);
    }
    largest.sort_by(by_name);
    let entries: Vec<SharedEffort> = largest
        .into_iter()
        .map(|((a, b), effort)| SharedEffort {
            unit_id: unit_id(a),
            with_unit_id: unit_id(b),
            effort,
        })
        .collect();

    // Silos: units with work and no node shared with another unit.
    let mut silo_people: Vec<(u32, u32)> = counted
        .iter()
        .filter(|c| !shares[c.2 as usize])
        .map(|c| (c.2, c.1))
        .collect();
    silo_people.sort_unstable();
    silo_people.dedup();
    let mut silos: Vec<Silo> = (0..units as u32)
        .filter(|u| !shares[*u as usize] && !by_unit.of(*u).is_empty())
        .map(|u| Silo {
            unit_id: unit_id(u),
            effort: by_unit.of(u).iter().map(|(_, e)| e).sum(),
            people: silo_people.partition_point(|(s, _)| *s <= u)
                - silo_people.partition_point(|(s, _)| *s < u),
            nodes: by_unit.of(u).len(),
        })
        .collect();
    silos.sort_by(|a, b| {
        b.effort
            .total_cmp(&a.effort)
            .then(a.unit_id.cmp(&b.unit_id))
    });

    // Bridges: people on shared nodes, by the other units they met there.
    let mut on_shared: Vec<(u32, u32, u32, f64)> = counted
        .iter()
        .filter(|c| by_node.of(c.0).len() >= 2)
        .map(|c| (c.1, c.0, c.2, c.3))
        .collect();
    on_shared.sort_unstable_by_key(|c| (c.0, c.1, c.2));
    let mut seen = vec![u32::MAX; units];
    let mut bridges: Vec<Bridge> = Vec::new();
    for group in on_shared.chunk_by(|a, b| a.0 == b.0) {
        let person = group[0].0;
        let mut met = 0usize;
        for (i, &(_, node, unit, _)) in group.iter().enumerate() {
            if i > 0 && group[i - 1].1 == node && group[i - 1].2 == unit {
                continue;
            }
            for &(b, _) in by_node.of(node) {
                if b != unit && seen[b as usize] != person {
                    seen[b as usize] = person;
                    met += 1;
                }
            }
        }
        bridges.push(Bridge {
            person_id: facts.timeline.person_ids[person as usize].clone(),
            units: met,
            shared_effort: group.iter().map(|c| c.3).sum(),
        });
    }
    bridges.sort_by(|a, b| {
        b.units
            .cmp(&a.units)
            .then(b.shared_effort.total_cmp(&a.shared_effort))
            .then(a.person_id.cmp(&b.person_id))
    });
    bridges.truncate(top);

    let initiatives = initiative_reach(facts, &counted, to, as_of, roll.as_deref());
    let silo_count = silos.len();
    silos.truncate(SILOS_LISTED);
    Collaboration {
        from,
        to,
        as_of,
        effort: counted.iter().fold(0.0, |sum, c| sum + c.3),
        depth,
        matrix_entries,
        matrix: entries,
        grid_units: grid_index.iter().map(|u| unit_id(*u)).collect(),
        grid,
        initiatives,
        bridges,
        silo_count,
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
    roll: Option<&[u32]>,
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
                let lead_unit = facts
                    .timeline
                    .lead_unit_on(id, as_of.map_or(on, day))
                    .map(|u| roll.map_or(u, |roll| roll[u as usize]));
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
