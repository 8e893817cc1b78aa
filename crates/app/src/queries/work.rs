//! The value tree's nodes, as everyone signed in may see them.

use super::{ContributionView, NodeRef, PersonRef};
use crate::error::{AppError, AppResult};
use crate::{Actor, App, ContributionFilter, Page, Paged, authz};
use serde::Serialize;
use std::collections::BTreeMap;
use valuetree_core::NaiveDate;
use valuetree_core::credit::date_of;
use valuetree_core::domain::{JoinStatus, NodeKind, NodeStatus, Phase};
use valuetree_store::By;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeView {
    pub node: NodeRef,
    pub kind: NodeKind,
    pub status: NodeStatus,
    pub flagpole: bool,
    pub description: String,
    pub created_on: NaiveDate,
    /// The lead now (after any hand-over), and the lead the node was created with.
    pub lead: Option<PersonRef>,
    pub first_lead: Option<PersonRef>,
    pub roles_wanted: Vec<String>,
    pub serves: Option<NodeRef>,
    pub parents: Vec<EdgeView>,
    pub children: Vec<EdgeView>,
    pub members: Vec<MemberView>,
    pub handovers: Vec<HandoverView>,
    /// Contributors by person and phase (retracted contributions left out).
    pub contributors: Vec<ContributorView>,
    /// Every contribution to the node; a page of them when the query asks for one.
    pub contributions: Paged<ContributionView>,
    pub outcomes: Vec<OutcomeView>,
    /// Who got what of the value realised here, and why (default policy, every outcome).
    pub credit: Vec<CreditLine>,
    pub join_requests: Vec<JoinRequestView>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EdgeView {
    pub node: NodeRef,
    pub weight: f64,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemberView {
    pub person: PersonRef,
    pub role: String,
    pub joined_on: NaiveDate,
    pub left_on: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HandoverView {
    pub date: NaiveDate,
    pub from_lead: Option<PersonRef>,
    pub to_lead: Option<PersonRef>,
    pub from_unit_id: Option<String>,
    pub to_unit_id: Option<String>,
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContributorView {
    pub person: PersonRef,
    pub phase: Phase,
    pub contributions: usize,
    pub effort: f64,
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// Whether the person still works here (a leaver keeps their record).
    pub employed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutcomeView {
    pub outcome_id: String,
    pub date: NaiveDate,
    pub value: f64,
    pub description: String,
    pub evidence: Option<String>,
}

/// One item of a credit explanation, as data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreditLine {
    pub person: PersonRef,
    pub amount: f64,
    pub node: NodeRef,
    pub phase: Phase,
    pub effort: f64,
    pub phase_effort: f64,
    pub points: f64,
    pub phase_points: f64,
    pub outcome_id: String,
    pub outcome_date: NaiveDate,
    /// The part of the outcome's value that stays at the node.
    pub node_value: f64,
    /// The phase's pool of it; `amount` is the person's share of the pool.
    pub phase_pool: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JoinRequestView {
    pub person: PersonRef,
    pub role: String,
    pub message: String,
    pub requested_on: NaiveDate,
    pub status: JoinStatus,
    pub answered_on: Option<NaiveDate>,
}

impl App {
    /// The node a contribution was recorded at.
    pub fn contribution_node(&self, actor: &Actor, contribution_id: &str) -> AppResult<String> {
        authz::read_work(actor)?;
        self.read(|store| Ok(store.contribution(contribution_id)?))?
            .map(|c| c.record.node_id)
            .ok_or_else(|| AppError::not_found(format!("contribution {contribution_id}"), ""))
    }

    /// A node with everything around it.
    pub fn node(&self, actor: &Actor, node_id: &str) -> AppResult<NodeView> {
        self.node_page(actor, node_id, &ContributionFilter::default(), Page::ALL)
    }

    /// [`App::node`] with one page of its contributions (the contributors' summary covers
    /// them all).
    pub fn node_page(
        &self,
        actor: &Actor,
        node_id: &str,
        filter: &ContributionFilter,
        page: Page,
    ) -> AppResult<NodeView> {
        authz::read_work(actor)?;
        let snapshot = self.snapshot()?;
        let state = &snapshot.state;
        let Some(n) = state.nodes.get(node_id) else {
            return Err(AppError::not_found(
                format!("node {node_id}"),
                "`valuetree credit` and `valuetree show person` name the nodes",
            ));
        };
        let person = |id: &str| PersonRef::of(state, id);
        let edge = |other: &str, e: &valuetree_core::domain::EdgeRecord| EdgeView {
            node: NodeRef::of(state, other),
            weight: e.weight.value(),
            valid_from: e.valid_from,
            valid_to: e.valid_to,
        };
        let (contributions, outcomes) = self.read(|store| {
            Ok((
                store.contributions_by(By::Node(node_id))?,
                store.outcomes_of_node(node_id)?,
            ))
        })?;
        let mut contributors: BTreeMap<(NaiveDate, String, Phase), ContributorView> =
            BTreeMap::new();
        let mut first_of: BTreeMap<(String, Phase), NaiveDate> = BTreeMap::new();
        for c in contributions.iter().filter(|c| c.retracted_on.is_none()) {
            let r = &c.record;
            let first = *first_of
                .entry((r.person_id.clone(), r.phase))
                .or_insert(r.date);
            let entry = contributors
                .entry((first, r.person_id.clone(), r.phase))
                .or_insert_with(|| ContributorView {
                    person: person(&r.person_id),
                    phase: r.phase,
                    contributions: 0,
                    effort: 0.0,
                    first: r.date,
                    last: r.date,
                    employed: state
                        .people
                        .get(&r.person_id)
                        .is_some_and(|p| p.left_on.is_none()),
                });
            entry.contributions += 1;
            entry.effort += r.effort.value();
            entry.last = entry.last.max(r.date);
        }
        // Value reaches a node from outcomes at it and above it: every node may hold credit.
        let engine = self.credit_engine(&snapshot)?;
        let credit = match engine.find_node(node_id) {
            None => Vec::new(),
            Some(index) => snapshot
                .node_credit(&engine, index)
                .iter()
                .map(|line| credit_line(|id| PersonRef::of(state, id), &engine, line))
                .collect(),
        };
        Ok(NodeView {
            node: NodeRef::of(state, node_id),
            kind: n.kind,
            status: n.status,
            flagpole: n.flagpole,
            description: n.description.clone(),
            created_on: n.created_on,
            lead: state.current_lead(node_id).map(|l| person(l)),
            first_lead: n.lead_id.as_deref().map(person),
            roles_wanted: n.roles_wanted.clone(),
            serves: n.serves_id.as_deref().map(|s| NodeRef::of(state, s)),
            parents: snapshot
                .edges_into(node_id)
                .into_iter()
                .map(|e| edge(&e.parent_id, e))
                .collect(),
            children: state
                .edges_from(node_id)
                .map(|e| edge(&e.child_id, e))
                .collect(),
            members: state
                .members_of_node(node_id)
                .map(|m| MemberView {
                    person: person(&m.person_id),
                    role: m.role.clone(),
                    joined_on: m.joined_on,
                    left_on: m.left_on,
                })
                .collect(),
            handovers: state
                .handovers_of_node(node_id)
                .map(|h| HandoverView {
                    date: h.date,
                    from_lead: h.from_lead_id.as_deref().map(person),
                    to_lead: h.to_lead_id.as_deref().map(person),
                    from_unit_id: h.from_unit_id.clone(),
                    to_unit_id: h.to_unit_id.clone(),
                    note: h.note.clone(),
                })
                .collect(),
            contributors: contributors.into_values().collect(),
            contributions: page.cut(
                filter
                    .apply(contributions.iter())
                    .into_iter()
                    .map(|c| ContributionView::of(state, c))
                    .collect(),
            ),
            outcomes: outcomes
                .into_iter()
                .map(|o| OutcomeView {
                    outcome_id: o.outcome_id,
                    date: o.date,
                    value: o.value.value(),
                    description: o.description,
                    evidence: o.evidence,
                })
                .collect(),
            credit,
            join_requests: state
                .join_requests_of_node(node_id)
                .map(|j| JoinRequestView {
                    person: person(&j.person_id),
                    role: j.role.clone(),
                    message: j.message.clone(),
                    requested_on: j.requested_on,
                    status: j.status,
                    answered_on: j.answered_on,
                })
                .collect(),
        })
    }
}

pub(crate) fn credit_line(
    person: impl Fn(&str) -> PersonRef,
    engine: &valuetree_core::credit::Engine,
    line: &valuetree_core::credit::Explanation,
) -> CreditLine {
    let node = &engine.nodes()[line.node as usize];
    let outcome = &engine.outcomes()[line.outcome as usize];
    CreditLine {
        person: person(&engine.people()[line.person as usize]),
        amount: line.amount,
        node: NodeRef {
            node_id: node.id.clone(),
            title: node.title.clone(),
        },
        phase: line.phase,
        effort: line.effort,
        phase_effort: line.phase_effort,
        points: line.points,
        phase_points: line.phase_points,
        outcome_id: outcome.id.clone(),
        outcome_date: date_of(outcome.date),
        node_value: line.node_value,
        phase_pool: line.phase_pool,
    }
}

/// A flagpole: an initiative raised bottom-up, looking for people.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlagpoleView {
    pub node: NodeRef,
    pub status: NodeStatus,
    pub description: String,
    pub created_on: NaiveDate,
    /// Who raised it and leads it now.
    pub lead: Option<PersonRef>,
    pub roles_wanted: Vec<String>,
    /// The need or objective it would serve, and that node's lead: the sponsor who links it
    /// into the tree.
    pub serves: Option<NodeRef>,
    pub sponsor: Option<PersonRef>,
    /// Whether it hangs in the tree yet.
    pub linked: bool,
    pub members: usize,
}

impl App {
    /// The flagpoles still open (proposed or active), newest first.
    pub fn flagpoles(&self, actor: &Actor) -> AppResult<Vec<FlagpoleView>> {
        authz::read_work(actor)?;
        let snapshot = self.snapshot()?;
        let state = &snapshot.state;
        let today = self.today();
        let mut open: Vec<FlagpoleView> = state
            .nodes
            .values()
            .filter(|n| n.flagpole && matches!(n.status, NodeStatus::Proposed | NodeStatus::Active))
            .map(|n| FlagpoleView {
                node: NodeRef::of(state, &n.node_id),
                status: n.status,
                description: n.description.clone(),
                created_on: n.created_on,
                lead: state
                    .current_lead(&n.node_id)
                    .map(|l| PersonRef::of(state, l)),
                roles_wanted: n.roles_wanted.clone(),
                serves: n.serves_id.as_deref().map(|s| NodeRef::of(state, s)),
                sponsor: n
                    .serves_id
                    .as_deref()
                    .and_then(|s| state.current_lead(s))
                    .map(|l| PersonRef::of(state, l)),
                linked: snapshot
                    .edges_into(&n.node_id)
                    .iter()
                    .any(|e| e.valid_to.is_none_or(|to| to > today)),
                members: state
                    .members_of_node(&n.node_id)
                    .filter(|m| m.left_on.is_none_or(|left| left > today))
                    .count(),
            })
            .collect();
        open.sort_by(|a, b| (b.created_on, &a.node.node_id).cmp(&(a.created_on, &b.node.node_id)));
        Ok(open)
    }

    /// The nodes of `kinds` (what a flagpole may serve, say), by title.
    pub fn nodes_of_kinds(&self, actor: &Actor, kinds: &[NodeKind]) -> AppResult<Vec<NodeRef>> {
        authz::read_work(actor)?;
        let snapshot = self.snapshot()?;
        let state = &snapshot.state;
        let mut nodes: Vec<NodeRef> = state
            .nodes
            .values()
            .filter(|n| kinds.contains(&n.kind) && n.status != NodeStatus::Abandoned)
            .map(|n| NodeRef::of(state, &n.node_id))
            .collect();
        nodes.sort_by(|a, b| (&a.title, &a.node_id).cmp(&(&b.title, &b.node_id)));
        Ok(nodes)
    }
}
