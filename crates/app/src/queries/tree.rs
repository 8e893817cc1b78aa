//! A person's value tree: the nodes they contributed to, with every node above them up to
//! the customer needs, so that their work is seen as what it served.

use super::NodeRef;
use crate::error::{AppError, AppResult};
use crate::{Actor, App, authz};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use valuetree_core::NaiveDate;
use valuetree_core::domain::{EdgeRecord, NodeKind, NodeStatus};
use valuetree_core::review::{CyclePhase, RatingStatus};
use valuetree_store::By;

/// One node of a person's value tree, with the person's own work on it (none on the nodes
/// above their work) and the nodes under it that lead to their work.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TreeNode {
    pub node: NodeRef,
    pub kind: NodeKind,
    pub status: NodeStatus,
    /// The person's standing contributions here, and their effort.
    pub contributions: usize,
    pub effort: f64,
    pub children: Vec<TreeNode>,
}

/// Links that hold on `today` (not ended by then).
fn current(edge: &EdgeRecord, today: NaiveDate) -> bool {
    edge.valid_to.is_none_or(|to| to > today)
}

/// How deep a tree is drawn: a value tree is a few levels; this only stops a malformed one.
const MAX_DEPTH: usize = 32;

impl App {
    /// The value tree of `person_id`'s work: from the customer needs (and any node without a
    /// parent) down to every node they contributed to. A node under two parents appears
    /// under each.
    pub fn value_tree_of(&self, actor: &Actor, person_id: &str) -> AppResult<Vec<TreeNode>> {
        authz::read_work(actor)?;
        let snapshot = self.snapshot()?;
        let state = &snapshot.state;
        if !state.people.contains_key(person_id) {
            return Err(AppError::not_found(
                format!("person {person_id}"),
                "`valuetree org` lists everyone",
            ));
        }
        let today = self.today();
        let contributions =
            self.read(|store| Ok(store.contributions_by(By::Person(person_id))?))?;
        let mut mine: BTreeMap<String, (usize, f64)> = BTreeMap::new();
        for c in contributions.iter().filter(|c| c.retracted_on.is_none()) {
            let entry = mine.entry(c.record.node_id.clone()).or_default();
            entry.0 += 1;
            entry.1 += c.record.effort.value();
        }
        // The nodes to draw: the person's, and every node above them.
        let mut kept: BTreeSet<String> = BTreeSet::new();
        let mut to_visit: Vec<String> = mine.keys().cloned().collect();
        while let Some(node) = to_visit.pop() {
            if !kept.insert(node.clone()) {
                continue;
            }
            for edge in snapshot.edges_into(&node) {
                if current(edge, today) && !kept.contains(&edge.parent_id) {
                    to_visit.push(edge.parent_id.clone());
                }
            }
        }
        let has_kept_parent = |node: &str| {
            snapshot
                .edges_into(node)
                .into_iter()
                .any(|e| current(e, today) && kept.contains(&e.parent_id))
        };
        let build = |node: &str| build_tree(state, node, &kept, &mine, today, 0);
        Ok(kept
            .iter()
            .filter(|node| !has_kept_parent(node))
            .filter_map(|node| build(node))
            .collect())
    }
}

fn build_tree(
    state: &valuetree_core::state::State,
    node_id: &str,
    kept: &BTreeSet<String>,
    mine: &BTreeMap<String, (usize, f64)>,
    today: NaiveDate,
    depth: usize,
) -> Option<TreeNode> {
    let node = state.nodes.get(node_id)?;
    let children = if depth >= MAX_DEPTH {
        Vec::new()
    } else {
        state
            .edges_from(node_id)
            .filter(|e| current(e, today) && kept.contains(&e.child_id))
            .filter_map(|e| build_tree(state, &e.child_id, kept, mine, today, depth + 1))
            .collect()
    };
    let (contributions, effort) = mine.get(node_id).copied().unwrap_or_default();
    Some(TreeNode {
        node: NodeRef::of(state, node_id),
        kind: node.kind,
        status: node.status,
        contributions,
        effort,
        children,
    })
}

/// What waits on a person: contributions at the nodes they lead that they have not
/// confirmed yet, and requests to join those nodes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tasks {
    /// The first [`TASKS_LISTED`] contributions to confirm, oldest first.
    pub to_confirm: Vec<super::ContributionView>,
    /// How many there are in all.
    pub to_confirm_total: usize,
    /// Pending requests to join the nodes they lead.
    pub join_requests: Vec<JoinTask>,
    /// The reviews asked of them in the cycle taking ratings, if one is.
    pub reviews: Option<ReviewTasks>,
}

/// The reviews a person is asked to write in the cycle taking ratings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReviewTasks {
    pub cycle_id: String,
    pub name: String,
    /// Reviews not yet submitted on every dimension.
    pub to_write: usize,
    /// Reviews asked of them in all.
    pub asked: usize,
}

/// A request to join a node the person leads.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JoinTask {
    pub node: NodeRef,
    pub request: super::JoinRequestView,
}

/// How many contributions to confirm a task list shows.
pub const TASKS_LISTED: usize = 50;

impl App {
    /// The tasks of `person_id` (themself only: a lead's queue is theirs).
    pub fn tasks_of(&self, actor: &Actor, person_id: &str) -> AppResult<Tasks> {
        if !actor.is(person_id) {
            authz::administer(actor)?;
        }
        let snapshot = self.snapshot()?;
        let state = &snapshot.state;
        let led: Vec<String> = snapshot.nodes_led_by(person_id).to_vec();
        let mut waiting = Vec::new();
        for node in &led {
            let contributions = self.read(|store| Ok(store.contributions_by(By::Node(node))?))?;
            waiting.extend(contributions.into_iter().filter(|c| {
                !c.is_confirmed() && c.retracted_on.is_none() && c.record.person_id != person_id
            }));
        }
        waiting.sort_by(|a, b| {
            (a.record.date, &a.record.contribution_id)
                .cmp(&(b.record.date, &b.record.contribution_id))
        });
        let to_confirm_total = waiting.len();
        let to_confirm = waiting
            .iter()
            .take(TASKS_LISTED)
            .map(|c| super::ContributionView::of(state, c))
            .collect();
        let mut join_requests = Vec::new();
        for node in &led {
            for j in state.join_requests_of_node(node) {
                if j.status == valuetree_core::domain::JoinStatus::Pending {
                    join_requests.push(JoinTask {
                        node: NodeRef::of(state, node),
                        request: super::JoinRequestView {
                            person: super::PersonRef::of(state, &j.person_id),
                            role: j.role.clone(),
                            message: j.message.clone(),
                            requested_on: j.requested_on,
                            status: j.status,
                            answered_on: j.answered_on,
                        },
                    });
                }
            }
        }
        let reviews = match super::current_cycle(state) {
            Some(cycle) if cycle.phase < CyclePhase::Calibration => {
                let found = self.reviews_to_write(actor, &cycle.record.cycle_id, person_id)?;
                let dimensions = found.cycle.dimensions.len();
                let done = |r: &super::ReviewToWrite| {
                    r.ratings.len() == dimensions
                        && r.ratings
                            .iter()
                            .all(|x| x.status == RatingStatus::Submitted)
                };
                Some(ReviewTasks {
                    cycle_id: found.cycle.cycle_id.clone(),
                    name: found.cycle.name.clone(),
                    to_write: found.reviews.iter().filter(|r| !done(r)).count(),
                    asked: found.reviews.len(),
                })
            }
            _ => None,
        };
        Ok(Tasks {
            to_confirm,
            to_confirm_total,
            join_requests,
            reviews,
        })
    }
}

/// A person's credit as it grew: the running total after each outcome date.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreditPoint {
    pub date: NaiveDate,
    pub total: f64,
}

impl App {
    /// How `person_id`'s credit grew, outcome date by outcome date (the person, their
    /// manager, HR: whoever may see their credit; `None` for anyone else).
    pub fn credit_over_time(
        &self,
        actor: &Actor,
        person_id: &str,
    ) -> AppResult<Option<Vec<CreditPoint>>> {
        authz::read_work(actor)?;
        let snapshot = self.snapshot()?;
        let access = authz::private_access(&snapshot.state, actor, person_id, self.today());
        if !matches!(
            access,
            authz::PrivateAccess::Own | authz::PrivateAccess::Full
        ) {
            return Ok(None);
        }
        let engine = self.credit_engine(&snapshot)?;
        let Some(person) = engine.find_person(person_id) else {
            return Ok(Some(Vec::new()));
        };
        let contributions =
            self.read(|store| Ok(store.contributions_by(By::Person(person_id))?))?;
        let nodes: BTreeSet<u32> = contributions
            .iter()
            .filter_map(|c| engine.find_node(&c.record.node_id))
            .collect();
        let mut by_date: BTreeMap<NaiveDate, f64> = BTreeMap::new();
        for node in nodes {
            for line in snapshot.node_credit(&engine, node).iter() {
                if line.person == person {
                    let outcome = &engine.outcomes()[line.outcome as usize];
                    *by_date
                        .entry(valuetree_core::credit::date_of(outcome.date))
                        .or_default() += line.amount;
                }
            }
        }
        self.note_private_read(actor, person_id, "credit over time".into())?;
        let mut total = 0.0;
        Ok(Some(
            by_date
                .into_iter()
                .map(|(date, amount)| {
                    total += amount;
                    CreditPoint { date, total }
                })
                .collect(),
        ))
    }
}
