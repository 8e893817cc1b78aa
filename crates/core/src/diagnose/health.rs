//! The value tree's health: work with no path to a customer need, needs nobody serves,
//! effort against value, value the weights leave unattributed.

use super::Facts;
use crate::credit::{Status, day};
use crate::domain::{NodeKind, NodeStatus};
use crate::state::State;
use chrono::NaiveDate;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

/// The tree's links valid on one date, parent → children.
pub struct Children<'s> {
    children: FxHashMap<&'s str, Vec<(&'s str, f64)>>,
}

impl<'s> Children<'s> {
    pub fn on(state: &'s State, date: NaiveDate) -> Children<'s> {
        let mut children: FxHashMap<&str, Vec<(&str, f64)>> = FxHashMap::default();
        for e in state.edges.values().filter(|e| e.valid_on(date)) {
            children
                .entry(e.parent_id.as_str())
                .or_default()
                .push((e.child_id.as_str(), e.weight.0));
        }
        Children { children }
    }

    pub fn of(&self, node: &str) -> &[(&'s str, f64)] {
        self.children.get(node).map_or(&[], Vec::as_slice)
    }

    /// The node and everything below it, each once.
    pub fn subtree(&self, root: &'s str) -> Vec<&'s str> {
        let mut seen: FxHashSet<&str> = FxHashSet::default();
        let mut order = vec![root];
        seen.insert(root);
        let mut i = 0;
        while i < order.len() {
            for &(child, _) in self.of(order[i]) {
                if seen.insert(child) {
                    order.push(child);
                }
            }
            i += 1;
        }
        order
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrphanWork {
    pub node_id: String,
    pub kind: Option<NodeKind>,
    pub effort: f64,
    pub people: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EffortAndValue {
    pub node_id: String,
    pub kind: NodeKind,
    /// Effort in the period on the node and everything below it.
    pub effort: f64,
    /// Outcomes in the period recorded on the node or below it.
    pub value: f64,
    /// `value / effort` (`None` without effort).
    pub value_per_effort: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnattributedAtNode {
    pub node_id: String,
    /// Value of the period's outcomes that stayed at the node with nobody to share it.
    pub unattributed: f64,
    /// The weights of its links to children on the report's date (what they pass down).
    pub children_weight: f64,
    pub children: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TreeHealth {
    pub as_of: NaiveDate,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Nodes worked on in the period with no path up to a customer need on `as_of`, most
    /// effort first.
    pub orphan_work: Vec<OrphanWork>,
    /// Needs with no proposed or active initiative below them on `as_of`.
    pub needs_without_live_initiative: Vec<String>,
    /// Every need, then every objective, most effort first.
    pub effort_and_value: Vec<EffortAndValue>,
    /// Nodes where value stayed unattributed, most first.
    pub unattributed: Vec<UnattributedAtNode>,
    pub unattributed_total: f64,
}

pub fn tree_health(
    facts: &Facts<'_>,
    as_of: NaiveDate,
    from: NaiveDate,
    to: NaiveDate,
) -> TreeHealth {
    let state = facts.state;
    let children = Children::on(state, as_of);
    let mut ids: Vec<&String> = state.nodes.keys().collect();
    ids.sort_unstable();
    let of_kind = |kind: NodeKind| {
        ids.iter()
            .filter(move |id| state.nodes[id.as_str()].kind == kind)
            .map(|id| id.as_str())
    };
    let (lo, hi) = (day(from), day(to));
    let mut effort: FxHashMap<&str, (f64, FxHashSet<u32>)> = FxHashMap::default();
    for c in &facts.work.contributions {
        if c.status != Status::Retracted && lo <= c.date && c.date <= hi {
            let e = effort.entry(facts.node_id(c.node)).or_default();
            e.0 += c.effort;
            e.1.insert(c.person);
        }
    }
    let mut value: FxHashMap<&str, f64> = FxHashMap::default();
    for o in &facts.work.outcomes {
        if lo <= o.date && o.date <= hi {
            *value.entry(facts.node_id(o.node)).or_default() += o.value;
        }
    }

    let mut served: FxHashSet<&str> = FxHashSet::default();
    let mut unserved = Vec::new();
    let mut effort_and_value = Vec::new();
    for need in of_kind(NodeKind::Need) {
        let below = children.subtree(need);
        let live = below.iter().any(|n| {
            state.nodes.get(*n).is_some_and(|r| {
                r.kind == NodeKind::Initiative
                    && matches!(r.status, NodeStatus::Proposed | NodeStatus::Active)
            })
        });
        if !live {
            unserved.push(need.to_string());
        }
        effort_and_value.push(summed(&below, need, NodeKind::Need, &effort, &value));
        served.extend(below);
    }
    for objective in of_kind(NodeKind::Objective) {
        let below = children.subtree(objective);
        effort_and_value.push(summed(
            &below,
            objective,
            NodeKind::Objective,
            &effort,
            &value,
        ));
    }
    effort_and_value.sort_by(|a, b| {
        (a.kind != NodeKind::Need)
            .cmp(&(b.kind != NodeKind::Need))
            .then(b.effort.total_cmp(&a.effort))
            .then(a.node_id.cmp(&b.node_id))
    });

    let mut orphans: Vec<OrphanWork> = effort
        .iter()
        .filter(|(node, _)| !served.contains(*node))
        .map(|(node, (effort, people))| OrphanWork {
            node_id: node.to_string(),
            kind: state.nodes.get(*node).map(|n| n.kind),
            effort: *effort,
            people: people.len(),
        })
        .collect();
    orphans.sort_by(|a, b| {
        b.effort
            .total_cmp(&a.effort)
            .then(a.node_id.cmp(&b.node_id))
    });

    let mut unattributed = Vec::new();
    let mut total = 0.0;
    for (v, node) in facts.engine.nodes().iter().enumerate() {
        let (_, left) = facts.engine.node_totals(v as u32);
        if left > 1e-9 {
            total += left;
            let links = children.of(&node.id);
            unattributed.push(UnattributedAtNode {
                node_id: node.id.clone(),
                unattributed: left,
                children_weight: links.iter().map(|(_, w)| w).sum(),
                children: links.len(),
            });
        }
    }
    unattributed.sort_by(|a, b| {
        b.unattributed
            .total_cmp(&a.unattributed)
            .then(a.node_id.cmp(&b.node_id))
    });
    TreeHealth {
        as_of,
        from,
        to,
        orphan_work: orphans,
        needs_without_live_initiative: unserved,
        effort_and_value,
        unattributed,
        unattributed_total: total,
    }
}

fn summed(
    below: &[&str],
    node: &str,
    kind: NodeKind,
    effort: &FxHashMap<&str, (f64, FxHashSet<u32>)>,
    value: &FxHashMap<&str, f64>,
) -> EffortAndValue {
    let e: f64 = below
        .iter()
        .filter_map(|n| effort.get(n))
        .map(|e| e.0)
        .sum();
    let v: f64 = below.iter().filter_map(|n| value.get(n)).sum();
    EffortAndValue {
        node_id: node.to_string(),
        kind,
        effort: e,
        value: v,
        value_per_effort: (e > 0.0).then(|| v / e),
    }
}
