//! Diagnostics for HR: what the ledger says about the organisation before a reorganisation,
//! not after (`docs/diagnostics.md` gives each definition).
//!
//! - [`kept`]: credit kept — valuetree's credit beside the team view's.
//! - [`churn`]: people moved off live work again and again, manager changes, units
//!   reorganised most, repeated hand-overs, flagpoles nobody joined.
//! - [`collaboration`]: effort shared between units, bridges and silos.
//! - [`health`]: the value tree's health — orphan work, needs nobody serves, effort against
//!   value, value left unattributed.
//! - [`whatif`]: a reorganisation plan, before it happens.
//! - [`timeline`]: the org as step functions of time (units, managers, leads by day).

pub mod churn;
pub mod collaboration;
pub mod health;
pub mod kept;
pub mod timeline;
pub mod whatif;

pub use churn::*;
pub use collaboration::*;
pub use health::*;
pub use kept::*;
pub use timeline::*;
pub use whatif::*;

use crate::credit::{CreditData, Day, Engine, Status};
use crate::domain::NodeKind;
use crate::state::State;
use rustc_hash::{FxHashMap, FxHashSet};

/// What the diagnostics read: the master data, its timeline, the contributions and outcomes
/// (numbered as the credit engine numbers them) and the engine built from them.
pub struct Facts<'a> {
    pub state: &'a State,
    pub timeline: &'a OrgTimeline,
    pub work: &'a CreditData,
    pub engine: &'a Engine,
    /// Each engine node's kind (`None`: a node the master data does not know).
    node_kind: Vec<Option<NodeKind>>,
    /// Each engine person's place in the timeline.
    person_line: Vec<Option<u32>>,
}

impl<'a> Facts<'a> {
    pub fn new(
        state: &'a State,
        timeline: &'a OrgTimeline,
        work: &'a CreditData,
        engine: &'a Engine,
    ) -> Facts<'a> {
        Facts {
            state,
            timeline,
            work,
            engine,
            node_kind: work
                .nodes
                .iter()
                .map(|n| state.nodes.get(&n.id).map(|r| r.kind))
                .collect(),
            person_line: work
                .people
                .iter()
                .map(|p| timeline.find_person(p))
                .collect(),
        }
    }

    pub fn node_id(&self, node: u32) -> &str {
        &self.work.nodes[node as usize].id
    }

    pub fn node_kind(&self, node: u32) -> Option<NodeKind> {
        self.node_kind.get(node as usize).copied().flatten()
    }

    /// Whether people can be moved off the node (an initiative or a deliverable).
    pub fn is_work_node(&self, node: u32) -> bool {
        self.node_kind(node).is_some_and(churn::is_work)
    }

    /// The timeline's person for an engine person.
    pub fn person_line(&self, person: u32) -> Option<u32> {
        self.person_line.get(person as usize).copied().flatten()
    }

    /// Each person's (timeline numbering) standing contributions to initiatives and
    /// deliverables: (day, engine node), by day.
    /// Only `only`'s, when given.
    pub fn work_by_person(&self, only: Option<&FxHashSet<u32>>) -> FxHashMap<u32, Vec<(Day, u32)>> {
        let mut out: FxHashMap<u32, Vec<(Day, u32)>> = FxHashMap::default();
        for c in &self.work.contributions {
            if c.status == Status::Retracted || !self.is_work_node(c.node) {
                continue;
            }
            if let Some(person) = self.person_line(c.person)
                && only.is_none_or(|only| only.contains(&person))
            {
                out.entry(person).or_default().push((c.date, c.node));
            }
        }
        for list in out.values_mut() {
            list.sort_unstable();
        }
        out
    }
}

#[cfg(test)]
mod tests;
