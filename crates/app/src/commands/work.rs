//! The day-to-day writes on the value tree: contributions, outcomes, nodes, links,
//! membership, hand-overs and flagpoles.

use super::{acting_person, by_of};
use crate::error::{AppError, AppResult};
use crate::{Actor, App, Receipt, authz};
use valuetree_core::domain::*;
use valuetree_core::event::Event;
use valuetree_core::{Amount, NaiveDate};
use valuetree_store::Preload;

/// A contribution to record. `person_id`: whose work (the actor if none); `date`: today if
/// none; `contribution_id`: generated if none.
#[derive(Clone, Debug)]
pub struct NewContribution {
    pub contribution_id: Option<String>,
    pub person_id: Option<String>,
    pub node_id: String,
    pub phase: Phase,
    pub date: Option<NaiveDate>,
    pub effort: f64,
    pub description: String,
    pub evidence: Option<String>,
}

/// A flagpole: an initiative raised bottom-up, led by whoever raises it, open to join.
#[derive(Clone, Debug)]
pub struct NewFlagpole {
    pub node_id: String,
    pub title: String,
    pub description: String,
    /// The need (or objective) it serves; its lead links the flagpole into the tree. An
    /// empty `node_id` gets one made up (`FP` and 8 hexadecimal digits).
    pub serves_id: String,
    pub roles_wanted: Vec<String>,
}

fn preload_contribution(id: &str) -> Preload {
    Preload::Ids {
        contributions: vec![id.to_string()],
        outcomes: Vec::new(),
        cycles: Vec::new(),
    }
}

fn contribution_of<'s>(
    state: &'s valuetree_core::state::State,
    id: &str,
) -> AppResult<&'s Contribution> {
    state.contributions.get(id).ok_or_else(|| {
        AppError::not_found(
            format!("contribution {id}"),
            "`valuetree show person` lists a person's contributions",
        )
    })
}

impl App {
    pub fn record_contribution(&self, actor: &Actor, new: NewContribution) -> AppResult<Receipt> {
        let person = acting_person(actor, new.person_id.as_deref(), "person")?;
        authz::record_contribution(actor, &person)?;
        let today = self.today();
        let date = new.date.unwrap_or(today);
        // Without an id of the caller's, a random one: two writes in the same instant (a
        // server takes thousands a second) must not collide.
        let id = match new.contribution_id.clone() {
            Some(id) => id,
            None => {
                let mut nonce = [0u8; 8];
                getrandom::fill(&mut nonce).map_err(|e| {
                    AppError::Internal(format!("no randomness from the system: {e}"))
                })?;
                format!(
                    "c-{person}-{}-{}",
                    date.format("%Y%m%d"),
                    hex::encode(nonce)
                )
            }
        };
        let effort = Amount::parse(&new.effort.to_string())
            .map_err(|e| AppError::rejected("effort", None, e.to_string()))?;
        let record = ContributionRecord {
            confirmed: false,
            contribution_id: id.clone(),
            date,
            description: new.description,
            effort,
            evidence: new.evidence,
            node_id: new.node_id,
            person_id: person,
            phase: new.phase,
        };
        // The same id again: a retry of the same record is answered with the receipt of the
        // event that recorded it; another record under the id is a conflict.
        let (again, receipt) =
            self.append_deciding(actor, preload_contribution(&id), move |state| {
                match state.contributions.get(&record.contribution_id) {
                    Some(existing) => {
                        let before = &existing.record;
                        let same = before.person_id == record.person_id
                            && before.node_id == record.node_id
                            && before.phase == record.phase
                            && before.date == record.date
                            && before.effort == record.effort
                            && before.description == record.description
                            && (record.evidence.is_none() || before.evidence == record.evidence);
                        if same {
                            Ok((Vec::new(), true))
                        } else {
                            Err(AppError::Conflict(format!(
                                "contribution {} was already recorded with other values; give a new contribution_id",
                                record.contribution_id
                            )))
                        }
                    }
                    None => Ok((vec![Event::ContributionRecorded(record)], false)),
                }
            })?;
        if !again {
            return Ok(receipt);
        }
        let head = self.read(|store| {
            Ok(store.recording_event("contribution_recorded", "contribution_id", &id)?)
        })?;
        Ok(crate::context::earlier_receipt(head))
    }

    /// The node's lead confirms a contribution (never their own).
    pub fn confirm_contribution(&self, actor: &Actor, id: &str) -> AppResult<Receipt> {
        let (actor_c, id_c, today) = (actor.clone(), id.to_string(), self.today());
        self.append_decided(actor, preload_contribution(id), move |state| {
            let c = contribution_of(state, &id_c)?;
            authz::confirm_contribution(state, &actor_c, &c.record.node_id, &c.record.person_id)?;
            Ok(vec![Event::ContributionConfirmed {
                confirmed_by: by_of(&actor_c),
                confirmed_on: today,
                contribution_id: id_c,
            }])
        })
    }

    /// The node's lead takes a confirmation back, with a reason.
    pub fn unconfirm_contribution(
        &self,
        actor: &Actor,
        id: &str,
        reason: &str,
    ) -> AppResult<Receipt> {
        let (actor_c, id_c, reason, today) = (
            actor.clone(),
            id.to_string(),
            reason.to_string(),
            self.today(),
        );
        self.append_decided(actor, preload_contribution(id), move |state| {
            let c = contribution_of(state, &id_c)?;
            authz::confirm_contribution(state, &actor_c, &c.record.node_id, &c.record.person_id)?;
            Ok(vec![Event::ContributionUnconfirmed {
                by: by_of(&actor_c),
                contribution_id: id_c,
                reason,
                unconfirmed_on: today,
            }])
        })
    }

    /// The contributor or the node's lead retracts a contribution, with a reason.
    pub fn retract_contribution(
        &self,
        actor: &Actor,
        id: &str,
        reason: &str,
    ) -> AppResult<Receipt> {
        let (actor_c, id_c, reason, today) = (
            actor.clone(),
            id.to_string(),
            reason.to_string(),
            self.today(),
        );
        self.append_decided(actor, preload_contribution(id), move |state| {
            let c = contribution_of(state, &id_c)?;
            authz::retract_contribution(state, &actor_c, &c.record.node_id, &c.record.person_id)?;
            Ok(vec![Event::ContributionRetracted {
                contribution_id: id_c,
                reason,
                retracted_on: today,
            }])
        })
    }

    /// The node's lead records value realised at it.
    pub fn record_outcome(&self, actor: &Actor, outcome: OutcomeRecord) -> AppResult<Receipt> {
        let actor_c = actor.clone();
        self.append_decided(actor, Preload::None, move |state| {
            authz::record_outcome(state, &actor_c, &outcome.node_id)?;
            Ok(vec![Event::OutcomeRecorded(outcome)])
        })
    }

    /// Creates a node. A person creates initiatives and deliverables they lead.
    pub fn create_node(&self, actor: &Actor, mut node: NodeRecord) -> AppResult<Receipt> {
        if node.lead_id.is_none() {
            node.lead_id = by_of(actor);
        }
        authz::create_node(actor, node.kind, node.lead_id.as_deref())?;
        self.append(actor, vec![Event::NodeCreated(node)])
    }

    /// Changes a node's record (title, description, roles wanted…) or status: its lead.
    pub fn update_node(
        &self,
        actor: &Actor,
        node: NodeRecord,
        status: Option<NodeStatus>,
    ) -> AppResult<Receipt> {
        let (actor_c, today) = (actor.clone(), self.today());
        self.append_decided(actor, Preload::None, move |state| {
            authz::manage_node(state, &actor_c, &node.node_id)?;
            let mut events = Vec::new();
            let old = state.nodes.get(&node.node_id);
            if old.is_some_and(|old| {
                *old != NodeRecord {
                    status: old.status,
                    ..node.clone()
                }
            }) {
                events.push(Event::NodeUpdated(node.clone()));
            }
            if let Some(status) = status.filter(|s| old.is_some_and(|o| o.status != *s)) {
                events.push(Event::NodeStatusChanged {
                    effective_on: today,
                    node_id: node.node_id.clone(),
                    status,
                });
            }
            if old.is_none() {
                return Err(AppError::not_found(format!("node {}", node.node_id), ""));
            }
            Ok(events)
        })
    }

    /// Links a child under a parent (or re-links with a new weight): the parent's lead.
    pub fn link(&self, actor: &Actor, edge: EdgeRecord) -> AppResult<Receipt> {
        let actor_c = actor.clone();
        self.append_decided(actor, Preload::None, move |state| {
            authz::link_under(state, &actor_c, &edge.parent_id)?;
            Ok(vec![Event::NodeLinked(edge)])
        })
    }

    /// Ends a link on `valid_to`: the parent's lead.
    pub fn unlink(
        &self,
        actor: &Actor,
        parent_id: &str,
        child_id: &str,
        valid_from: Option<NaiveDate>,
        valid_to: Option<NaiveDate>,
    ) -> AppResult<Receipt> {
        let (actor_c, parent_id, child_id) =
            (actor.clone(), parent_id.to_string(), child_id.to_string());
        let valid_to = valid_to.unwrap_or_else(|| self.today());
        self.append_decided(actor, Preload::None, move |state| {
            authz::link_under(state, &actor_c, &parent_id)?;
            Ok(vec![Event::NodeUnlinked {
                child_id,
                parent_id,
                valid_from,
                valid_to,
            }])
        })
    }

    /// Adds a member to a node in a role: the node's lead.
    pub fn join(&self, actor: &Actor, member: MemberRecord) -> AppResult<Receipt> {
        let actor_c = actor.clone();
        self.append_decided(actor, Preload::None, move |state| {
            authz::manage_node(state, &actor_c, &member.node_id)?;
            Ok(vec![Event::MemberJoined(member)])
        })
    }

    /// Ends a membership: the member or the node's lead.
    pub fn leave(
        &self,
        actor: &Actor,
        node_id: &str,
        person_id: Option<&str>,
        left_on: Option<NaiveDate>,
    ) -> AppResult<Receipt> {
        let person = acting_person(actor, person_id, "person")?;
        let (actor_c, node_id) = (actor.clone(), node_id.to_string());
        let left_on = left_on.unwrap_or_else(|| self.today());
        self.append_decided(actor, Preload::None, move |state| {
            authz::leave_node(state, &actor_c, &node_id, &person)?;
            let joined_on = state
                .members
                .values()
                .filter(|m| m.node_id == node_id && m.person_id == person && m.left_on.is_none())
                .map(|m| m.joined_on)
                .max()
                .ok_or_else(|| {
                    AppError::rejected(
                        "person_id",
                        Some(&person),
                        format!("{person} is not a member of node {node_id}"),
                    )
                })?;
            Ok(vec![Event::MemberLeft {
                joined_on,
                left_on,
                node_id,
                person_id: person,
            }])
        })
    }

    /// Hands a node over to a new lead: its lead (the one handing over) or an admin.
    pub fn hand_over(
        &self,
        actor: &Actor,
        node_id: &str,
        to_lead: &str,
        date: Option<NaiveDate>,
        note: &str,
    ) -> AppResult<Receipt> {
        let (actor_c, node_id, to_lead, note) = (
            actor.clone(),
            node_id.to_string(),
            to_lead.to_string(),
            note.to_string(),
        );
        let date = date.unwrap_or_else(|| self.today());
        self.append_decided(actor, Preload::None, move |state| {
            authz::manage_node(state, &actor_c, &node_id)?;
            let unit_on =
                |p: &str| valuetree_core::org::placement(state, p, date).and_then(|pl| pl.unit_id);
            let from = state.current_lead(&node_id).cloned();
            Ok(vec![Event::NodeHandedOver(HandoverRecord {
                date,
                from_unit_id: from.as_deref().and_then(unit_on),
                from_lead_id: from,
                node_id,
                note,
                to_unit_id: unit_on(&to_lead),
                to_lead_id: Some(to_lead),
            })])
        })
    }

    /// Raises a flagpole: a proposed initiative the actor leads, with the need it serves and
    /// the roles wanted. The need's lead links it into the tree ([`App::link`]).
    pub fn raise_flagpole(&self, actor: &Actor, flagpole: NewFlagpole) -> AppResult<Receipt> {
        let lead = by_of(actor);
        authz::create_node(actor, NodeKind::Initiative, lead.as_deref())?;
        // Raised from a page, a flagpole gets an id of its own.
        let node_id = if flagpole.node_id.trim().is_empty() {
            let mut nonce = [0u8; 4];
            getrandom::fill(&mut nonce)
                .map_err(|e| AppError::Internal(format!("no randomness from the system: {e}")))?;
            format!("FP{}", hex::encode(nonce).to_uppercase())
        } else {
            flagpole.node_id
        };
        self.append(
            actor,
            vec![Event::NodeCreated(NodeRecord {
                created_on: self.today(),
                description: flagpole.description,
                flagpole: true,
                kind: NodeKind::Initiative,
                lead_id: lead,
                node_id,
                roles_wanted: flagpole.roles_wanted,
                serves_id: Some(flagpole.serves_id),
                status: NodeStatus::Proposed,
                title: flagpole.title,
            })],
        )
    }

    /// Asks to join a node in a role (for oneself).
    pub fn ask_to_join(
        &self,
        actor: &Actor,
        node_id: &str,
        person_id: Option<&str>,
        role: &str,
        message: &str,
    ) -> AppResult<Receipt> {
        let person = acting_person(actor, person_id, "person")?;
        authz::ask_to_join(actor, &person)?;
        self.append(
            actor,
            vec![Event::JoinRequested {
                message: message.to_string(),
                node_id: node_id.to_string(),
                person_id: person,
                requested_on: self.today(),
                role: role.to_string(),
            }],
        )
    }

    /// Answers a pending join request: the lead accepts (the person becomes a member in the
    /// role asked for, in the same write) or declines; the person may withdraw.
    pub fn answer_join(
        &self,
        actor: &Actor,
        node_id: &str,
        person_id: &str,
        status: JoinStatus,
    ) -> AppResult<Receipt> {
        let (actor_c, node_id, person_id, today) = (
            actor.clone(),
            node_id.to_string(),
            person_id.to_string(),
            self.today(),
        );
        self.append_decided(actor, Preload::None, move |state| {
            authz::answer_join(
                state,
                &actor_c,
                &node_id,
                &person_id,
                status == JoinStatus::Withdrawn,
            )?;
            let request = state
                .join_requests
                .get(&(node_id.clone(), person_id.clone()))
                .filter(|r| r.status == JoinStatus::Pending)
                .ok_or_else(|| {
                    AppError::not_found(
                        format!("a pending request of {person_id} to join {node_id}"),
                        "`valuetree show node` lists the requests",
                    )
                })?;
            let mut events = vec![Event::JoinAnswered {
                by: by_of(&actor_c),
                node_id: node_id.clone(),
                on: today,
                person_id: person_id.clone(),
                status,
            }];
            if status == JoinStatus::Accepted {
                events.push(Event::MemberJoined(MemberRecord {
                    joined_on: today,
                    left_on: None,
                    node_id,
                    person_id,
                    role: request.role.clone(),
                }));
            }
            Ok(events)
        })
    }
}
