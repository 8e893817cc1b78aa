//! The value tree explorer: the whole tree from the customer needs down, as of a date, with
//! the value realised and the contributors at each node; narrowed by a search or to the work
//! of one unit (and the units under it) on that date.

use super::{NodeRef, PersonRef, UnitRef};
use crate::error::{AppError, AppResult};
use crate::{Actor, App, authz};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use valuetree_core::NaiveDate;
use valuetree_core::credit::day;
use valuetree_core::domain::{EdgeRecord, NodeKind, NodeStatus};
use valuetree_core::state::State;

/// What to explore.
#[derive(Clone, Debug, Default)]
pub struct ExploreQuery {
    /// Words the node's id or title contains (any case).
    pub search: Option<String>,
    /// Only the nodes that people of this unit (or of the units under it) on `as_of` lead
    /// then, or contributed to by then.
    pub unit_id: Option<String>,
    /// The tree as of this date (today if none).
    pub as_of: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExplorerNode {
    pub node: NodeRef,
    pub kind: NodeKind,
    pub status: NodeStatus,
    pub lead: Option<PersonRef>,
    /// The link's weight from the parent it is drawn under (none for a root).
    pub weight: Option<f64>,
    /// The value of the outcomes recorded at this node up to the date.
    pub value_realised: f64,
    /// People with a standing contribution here dated on or before the date.
    pub contributors: usize,
    /// The search or the unit filter picked this node (the others are its ancestors).
    pub matched: bool,
    pub children: Vec<ExplorerNode>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explorer {
    pub as_of: NaiveDate,
    pub unit: Option<UnitRef>,
    pub search: Option<String>,
    pub roots: Vec<ExplorerNode>,
    /// Nodes matched by the search or the filter (every node existing on the date if none).
    pub matched: usize,
    /// Nodes drawn (a node under two parents is drawn under each).
    pub drawn: usize,
    /// True when the tree was cut at [`EXPLORER_MAX_DRAWN`] nodes drawn.
    pub truncated: bool,
    /// The units existing on the date, by name: what the tree can be narrowed to.
    pub units: Vec<UnitRef>,
}

/// How many nodes the explorer draws at most; a narrower search shows the rest.
pub const EXPLORER_MAX_DRAWN: usize = 3000;
const MAX_DEPTH: usize = 32;

fn holds_on(edge: &EdgeRecord, date: NaiveDate) -> bool {
    edge.valid_from.is_none_or(|f| f <= date) && edge.valid_to.is_none_or(|t| t >= date)
}

/// The units under `root` on `date` (itself included).
fn units_under(state: &State, root: &str, date: NaiveDate) -> HashSet<String> {
    let mut under = HashSet::new();
    for unit in state.units.keys() {
        let mut at = Some(unit.clone());
        for _ in 0..MAX_DEPTH {
            let Some(current) = at else { break };
            if current == root {
                under.insert(unit.clone());
                break;
            }
            at = valuetree_core::org::unit_version(state, &current, date)
                .and_then(|v| v.parent_unit_id);
        }
    }
    under
}

struct Drawing<'a> {
    state: &'a State,
    date: NaiveDate,
    keep: &'a HashSet<String>,
    matched: &'a HashSet<String>,
    value: &'a HashMap<String, f64>,
    contributors: &'a dyn Fn(&str) -> usize,
    drawn: usize,
}

impl Drawing<'_> {
    fn draw(&mut self, node_id: &str, weight: Option<f64>, depth: usize) -> Option<ExplorerNode> {
        if self.drawn >= EXPLORER_MAX_DRAWN {
            return None;
        }
        let node = self.state.nodes.get(node_id)?;
        self.drawn += 1;
        let mut children = Vec::new();
        if depth < MAX_DEPTH {
            let edges: Vec<&EdgeRecord> = self
                .state
                .edges_from(node_id)
                .filter(|e| holds_on(e, self.date) && self.keep.contains(&e.child_id))
                .collect();
            for e in edges {
                if let Some(child) = self.draw(&e.child_id, Some(e.weight.value()), depth + 1) {
                    children.push(child);
                }
            }
        }
        Some(ExplorerNode {
            node: NodeRef::of(self.state, node_id),
            kind: node.kind,
            status: node.status,
            lead: self
                .state
                .lead_on(node_id, self.date)
                .map(|p| PersonRef::of(self.state, p)),
            weight,
            value_realised: self.value.get(node_id).copied().unwrap_or(0.0),
            contributors: (self.contributors)(node_id),
            matched: self.matched.contains(node_id),
            children,
        })
    }
}

impl App {
    /// The value tree as of a date, from the customer needs down (a node under two parents
    /// is drawn under each), narrowed to the nodes a search or a unit's work picks and the
    /// nodes above them.
    pub fn explore_tree(&self, actor: &Actor, query: &ExploreQuery) -> AppResult<Explorer> {
        authz::read_work(actor)?;
        let snapshot = self.snapshot()?;
        let state = &*snapshot.state;
        let date = query.as_of.unwrap_or_else(|| self.today());
        let engine = self.credit_engine(&snapshot)?;
        let unit = match query.unit_id.as_deref().filter(|u| !u.is_empty()) {
            Some(unit_id) if !state.units.contains_key(unit_id) => {
                return Err(AppError::not_found(
                    format!("unit {unit_id}"),
                    "the organisation page lists the units",
                ));
            }
            Some(unit_id) => Some(UnitRef::of(state, unit_id, date)),
            None => None,
        };
        let search = query
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase);

        let existing: Vec<&String> = state
            .nodes
            .iter()
            .filter(|(_, n)| n.created_on <= date)
            .map(|(id, _)| id)
            .collect();
        let contributors_at = |node: &str| -> Vec<u32> {
            engine
                .find_node(node)
                .map(|v| engine.contributors_of(v, day(date)))
                .unwrap_or_default()
        };
        let in_unit: Option<HashSet<String>> = unit.as_ref().map(|u| {
            let units = units_under(state, &u.unit_id, date);
            snapshot
                .placements(date)
                .placements
                .iter()
                .filter(|p| p.unit_id.as_ref().is_some_and(|u| units.contains(u)))
                .map(|p| p.person_id.clone())
                .collect()
        });
        let people = engine.people();
        let matched: HashSet<String> = existing
            .iter()
            .filter(|id| {
                let node = &state.nodes[id.as_str()];
                let by_search = search.as_ref().is_none_or(|q| {
                    id.to_lowercase().contains(q) || node.title.to_lowercase().contains(q)
                });
                let by_unit = in_unit.as_ref().is_none_or(|members| {
                    state
                        .lead_on(id, date)
                        .is_some_and(|lead| members.contains(lead))
                        || contributors_at(id)
                            .iter()
                            .any(|p| members.contains(&people[*p as usize]))
                });
                by_search && by_unit
            })
            .map(|id| id.to_string())
            .collect();
        // The matched nodes and every node above them on the date.
        let mut keep: HashSet<String> = HashSet::new();
        let mut to_visit: Vec<String> = matched.iter().cloned().collect();
        while let Some(node) = to_visit.pop() {
            if !keep.insert(node.clone()) {
                continue;
            }
            for edge in snapshot.edges_into(&node) {
                if holds_on(edge, date) && !keep.contains(&edge.parent_id) {
                    to_visit.push(edge.parent_id.clone());
                }
            }
        }
        let until = day(date);
        let mut value: HashMap<String, f64> = HashMap::new();
        for outcome in engine.outcomes().iter().filter(|o| o.date <= until) {
            if let Some(node) = engine.nodes().get(outcome.node as usize) {
                *value.entry(node.id.clone()).or_default() += outcome.value;
            }
        }
        let count = |node: &str| contributors_at(node).len();
        let mut drawing = Drawing {
            state,
            date,
            keep: &keep,
            matched: &matched,
            value: &value,
            contributors: &count,
            drawn: 0,
        };
        // Roots: the kept nodes with no kept parent, needs first, then by title.
        let mut roots: Vec<&String> = keep
            .iter()
            .filter(|node| {
                !snapshot
                    .edges_into(node)
                    .into_iter()
                    .any(|e| holds_on(e, date) && keep.contains(&e.parent_id))
            })
            .collect();
        roots.sort_by_key(|id| {
            let n = &state.nodes[id.as_str()];
            (n.kind, n.title.clone(), id.to_string())
        });
        let roots: Vec<ExplorerNode> = roots
            .into_iter()
            .filter_map(|r| drawing.draw(r, None, 0))
            .collect();
        let drawn = drawing.drawn;
        let mut units: Vec<UnitRef> = state
            .units
            .values()
            .filter(|u| u.valid_from <= date && u.valid_to.is_none_or(|t| t >= date))
            .map(|u| UnitRef::of(state, &u.unit_id, date))
            .collect();
        units.sort_by(|a, b| (&a.name, &a.unit_id).cmp(&(&b.name, &b.unit_id)));
        Ok(Explorer {
            units,
            as_of: date,
            unit,
            search: query
                .search
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            roots,
            matched: matched.len(),
            drawn,
            truncated: drawn >= EXPLORER_MAX_DRAWN,
        })
    }
}
