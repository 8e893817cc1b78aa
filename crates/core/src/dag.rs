//! Value-tree rules: the tree is a DAG, and the weights of a parent's children linked on any
//! one date sum to at most 1 (the rest stays with the parent's own contributors).
//!
//! The cycle rule looks at every link ever made, whatever its dates: a tree that was a cycle
//! "only in 2023" would still make credit flow in circles when 2023's outcomes are replayed.

use crate::domain::{EdgeRecord, NodeId};
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Tolerance for the sum of weights: weights are decimals typed by people ("0.1", "0.2", "0.7").
pub const WEIGHT_SUM_TOLERANCE: f64 = 1e-9;

/// Adjacency of the value tree over all links ever made.
#[derive(Clone, Debug, Default)]
pub struct Links {
    children: BTreeMap<NodeId, BTreeSet<NodeId>>,
}

impl Links {
    pub fn insert(&mut self, parent: &str, child: &str) {
        self.children
            .entry(parent.to_string())
            .or_default()
            .insert(child.to_string());
    }

    pub fn children(&self, parent: &str) -> impl Iterator<Item = &NodeId> {
        self.children.get(parent).into_iter().flatten()
    }

    /// If linking `parent → child` would close a cycle, the cycle as a list of node ids
    /// starting and ending at `parent`.
    pub fn cycle_if_linked(&self, parent: &str, child: &str) -> Option<Vec<NodeId>> {
        if parent == child {
            return Some(vec![parent.to_string(), child.to_string()]);
        }
        // Breadth-first from the child; a path back to the parent closes the cycle.
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([child]);
        let mut seen = BTreeSet::from([child]);
        while let Some(node) = queue.pop_front() {
            for next in self.children(node) {
                let next = next.as_str();
                if !seen.insert(next) {
                    continue;
                }
                came_from.insert(next, node);
                if next == parent {
                    let mut path = vec![parent.to_string()];
                    let mut at = parent;
                    while let Some(&before) = came_from.get(at) {
                        path.push(before.to_string());
                        at = before;
                    }
                    path.push(parent.to_string());
                    path.reverse();
                    return Some(path);
                }
                queue.push_back(next);
            }
        }
        None
    }
}

/// The highest total weight of `edges` (all from one parent) valid on any single date, and
/// the first date it is reached (`None` when the peak holds since always).
pub fn peak_weight(edges: &[&EdgeRecord]) -> (f64, Option<NaiveDate>) {
    // Sweep over start and end dates: +w on valid_from, -w the day after valid_to.
    let mut changes: BTreeMap<Option<NaiveDate>, f64> = BTreeMap::new();
    for edge in edges {
        *changes.entry(edge.valid_from).or_default() += edge.weight.value();
        if let Some(end) = edge.valid_to.and_then(|d| d.succ_opt()) {
            *changes.entry(Some(end)).or_default() -= edge.weight.value();
        }
    }
    let (mut total, mut peak, mut peak_at) = (0.0, 0.0, None);
    for (date, delta) in changes {
        total += delta;
        if total > peak + WEIGHT_SUM_TOLERANCE {
            peak = total;
            peak_at = date;
        }
    }
    (peak, peak_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Amount;
    use proptest::prelude::*;

    fn edge(w: f64, from: Option<u32>, to: Option<u32>) -> EdgeRecord {
        let day = |d: u32| NaiveDate::from_ymd_opt(2024, 1, d);
        EdgeRecord {
            parent_id: "P".into(),
            child_id: "C".into(),
            weight: Amount(w),
            valid_from: from.and_then(day),
            valid_to: to.and_then(day),
        }
    }

    #[test]
    fn weights_of_disjoint_periods_do_not_add_up() {
        let a = edge(0.7, None, Some(10));
        let b = edge(0.7, Some(11), None);
        assert!((peak_weight(&[&a, &b]).0 - 0.7).abs() < 1e-12);
        let c = edge(0.4, Some(10), Some(20));
        let (peak, at) = peak_weight(&[&a, &b, &c]);
        assert!((peak - 1.1).abs() < 1e-12);
        assert_eq!(at, NaiveDate::from_ymd_opt(2024, 1, 10));
    }

    #[test]
    fn the_cycle_is_named() {
        let mut links = Links::default();
        links.insert("A", "B");
        links.insert("B", "C");
        assert_eq!(
            links.cycle_if_linked("C", "A"),
            Some(vec!["C".into(), "A".into(), "B".into(), "C".into()])
        );
        assert_eq!(links.cycle_if_linked("A", "C"), None);
    }

    proptest! {
        /// Whatever links are attempted, the accepted ones never contain a cycle, and every
        /// rejected one really would have closed one.
        #[test]
        fn accepted_links_stay_acyclic(attempts in prop::collection::vec((0..8u8, 0..8u8), 0..60)) {
            let mut links = Links::default();
            let mut accepted = BTreeSet::new();
            for (p, c) in attempts {
                let (p, c) = (p.to_string(), c.to_string());
                match links.cycle_if_linked(&p, &c) {
                    None => { links.insert(&p, &c); accepted.insert((p, c)); }
                    Some(cycle) => {
                        prop_assert_eq!(cycle.first(), Some(&p));
                        prop_assert_eq!(cycle.last(), Some(&p));
                        prop_assert_eq!(cycle.get(1), Some(&c));
                        for pair in cycle.windows(2).skip(1) {
                            prop_assert!(links.children(&pair[0]).any(|n| *n == pair[1]));
                        }
                    }
                }
            }
            // Kahn's algorithm consumes every node of an acyclic graph.
            let mut indegree: BTreeMap<String, usize> = BTreeMap::new();
            for (p, c) in &accepted {
                indegree.entry(p.clone()).or_default();
                *indegree.entry(c.clone()).or_default() += 1;
            }
            let mut ready: Vec<String> = indegree.iter().filter(|(_, d)| **d == 0).map(|(n, _)| n.clone()).collect();
            let mut consumed = 0;
            while let Some(node) = ready.pop() {
                consumed += 1;
                for child in links.children(&node) {
                    if let Some(d) = indegree.get_mut(child) {
                        *d -= 1;
                        if *d == 0 { ready.push(child.clone()); }
                    }
                }
            }
            prop_assert_eq!(consumed, indegree.len());
        }
    }
}

#[cfg(test)]
mod weight_properties {
    use crate::domain::*;
    use crate::event::Event;
    use crate::state::State;
    use crate::{Amount, NaiveDate};
    use proptest::prelude::*;

    fn day(n: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2024, 1, 1)
            .and_then(|d| d.checked_add_days(chrono::Days::new(n.into())))
    }

    proptest! {
        /// Whatever links are attempted, on every date the accepted children of a parent weigh
        /// at most 1 in total.
        #[test]
        fn accepted_weights_never_exceed_one_on_any_date(
            links in prop::collection::vec((1..6u8, 0..=10u8, prop::option::of(0..60u32), prop::option::of(0..60u32)), 0..30)
        ) {
            let mut state = State::default();
            for n in 0..6 {
                let node = NodeRecord {
                    node_id: format!("N{n}"),
                    kind: NodeKind::Initiative,
                    title: "t".into(),
                    lead_id: None,
                    created_on: NaiveDate::default(),
                    status: NodeStatus::Active,
                    flagpole: false,
                    description: String::new(),
                    roles_wanted: Vec::new(),
                    serves_id: None,
                };
                prop_assert!(state.apply(&Event::NodeCreated(node)).is_ok());
            }
            for (child, tenths, from, length) in links {
                let valid_from = from.and_then(day);
                let valid_to = match (from, length) {
                    (Some(f), Some(l)) => day(f + l),
                    (None, Some(l)) => day(l),
                    _ => None,
                };
                let _ = state.apply(&Event::NodeLinked(EdgeRecord {
                    parent_id: "N0".into(),
                    child_id: format!("N{child}"),
                    weight: Amount(f64::from(tenths) / 10.0),
                    valid_from,
                    valid_to,
                }));
            }
            for offset in 0..130 {
                let date = day(offset).unwrap_or_default();
                let total: f64 = state.edges.values().filter(|e| e.parent_id == "N0" && e.valid_on(date)).map(|e| e.weight.value()).sum();
                prop_assert!(total <= 1.0 + 1e-9, "{total} on {date}");
            }
        }
    }
}
