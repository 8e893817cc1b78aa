//! The projections held in memory, and the rules every event must pass.
//!
//! [`State::apply`] is the single place where an event is checked and takes effect. The
//! store writes the rows it changed into SQL tables in the same transaction as the event, and
//! `rebuild` replays the whole ledger through the same function, so the tables can always be
//! recomputed from the ledger.

use crate::dag::{self, Links};
use crate::digests::{ContributionChange, FactDigests, FactKey};
use crate::domain::*;
use crate::event::Event;
use crate::review::{ReviewBook, ReviewChanges};
use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet};

/// Why an event was refused; `field` names the payload field (and so the CSV column) at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Rejection {
    pub field: &'static str,
    pub reason: String,
}

pub(crate) fn reject<T>(field: &'static str, reason: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection {
        field,
        reason: reason.into(),
    })
}

pub type AssignmentKey = (PersonId, NaiveDate);
pub type EdgeKey = (NodeId, NodeId, Option<NaiveDate>);
pub type MemberKey = (NodeId, PersonId, NaiveDate);
pub type HandoverKey = (NodeId, NaiveDate);
pub type UnitVersionKey = (UnitId, NaiveDate);
/// (node, giver, date).
pub type PeerKey = (NodeId, PersonId, NaiveDate);
/// (person, role).
pub type RoleKey = (PersonId, Role);
/// (node, person): one request per person and node is current at a time.
pub type JoinKey = (NodeId, PersonId);

/// Keys of the projection rows an event changed, per table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    pub people: BTreeSet<PersonId>,
    pub units: BTreeSet<UnitId>,
    pub unit_versions: BTreeSet<UnitVersionKey>,
    pub assignments: BTreeSet<AssignmentKey>,
    pub nodes: BTreeSet<NodeId>,
    pub edges: BTreeSet<EdgeKey>,
    pub members: BTreeSet<MemberKey>,
    pub contributions: BTreeSet<String>,
    pub outcomes: BTreeSet<String>,
    pub handovers: BTreeSet<HandoverKey>,
    pub peer_points: BTreeSet<PeerKey>,
    pub roles: BTreeSet<RoleKey>,
    pub join_requests: BTreeSet<JoinKey>,
    pub policies: BTreeSet<PolicyKind>,
    pub reviews: ReviewChanges,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
            && self.units.is_empty()
            && self.unit_versions.is_empty()
            && self.assignments.is_empty()
            && self.nodes.is_empty()
            && self.edges.is_empty()
            && self.members.is_empty()
            && self.contributions.is_empty()
            && self.outcomes.is_empty()
            && self.handovers.is_empty()
            && self.peer_points.is_empty()
            && self.roles.is_empty()
            && self.policies.is_empty()
            && self.join_requests.is_empty()
            && self.reviews.is_empty()
    }
}

#[derive(Clone, Debug, Default)]
pub struct State {
    /// Hash maps, not sorted maps: an import looks a person and a node up for every
    /// contribution. Whoever shows them in order sorts them (see `org::org_as_of`).
    pub people: FxHashMap<PersonId, PersonRecord>,
    /// People whose personal data was erased, and when (`person_erased`).
    pub erased: FxHashMap<PersonId, NaiveDate>,
    pub units: BTreeMap<UnitId, UnitRecord>,
    pub unit_versions: BTreeMap<UnitVersionKey, UnitVersion>,
    pub assignments: BTreeMap<AssignmentKey, Assignment>,
    pub nodes: FxHashMap<NodeId, NodeRecord>,
    pub edges: BTreeMap<EdgeKey, EdgeRecord>,
    pub members: BTreeMap<MemberKey, MemberRecord>,
    /// Contributions and outcomes can number in the millions; the store loads only those an
    /// import refers to (see `Preload` in the store), a replay holds them all.
    pub contributions: FxHashMap<String, Contribution>,
    /// Contributions recorded earlier in this write and set aside as a fingerprint of their
    /// record, by a hash of their id ([`id_hash`]; see
    /// [`State::set_aside_recorded_contributions`]): a bulk import of millions keeps 24 bytes
    /// per contribution instead of the whole record.
    pub set_aside: FxHashMap<u128, u64>,
    /// See [`State::set_aside_recorded_contributions`].
    pub(crate) set_aside_recorded: bool,
    /// The ratings an import recorded so far, by a hash of their key: a fingerprint of each
    /// and its line. A file read in chunks may hold each key once, as a file read whole may;
    /// and while [`State::set_aside_recorded_contributions`] is on, a new rating is kept
    /// only here (not in `reviews.ratings`): an import of millions bounds its memory.
    pub ratings_in_import: FxHashMap<u128, (u64, u32)>,
    pub outcomes: FxHashMap<String, OutcomeRecord>,
    pub handovers: BTreeMap<HandoverKey, HandoverRecord>,
    pub peer_points: BTreeMap<PeerKey, PeerAllocation>,
    pub roles: BTreeMap<RoleKey, RoleHolding>,
    pub join_requests: BTreeMap<JoinKey, JoinRequest>,
    /// The policies in force, by kind (none: the defaults).
    pub policies: BTreeMap<PolicyKind, PolicySetting>,
    pub reviews: ReviewBook,
    /// Set, a replay that checks the stored tables keeps the contributions and ratings as
    /// digests of their rows instead of in `contributions` and `reviews.ratings` (see
    /// [`crate::digests`]).
    pub digests: Option<Box<FactDigests>>,
    links: Links,
    pub(crate) changes: Changes,
}

impl State {
    /// Rebuilds the derived indexes after the maps were filled from stored rows.
    pub fn reindex(&mut self) {
        self.links = Links::default();
        for (parent, child, _) in self.edges.keys() {
            self.links.insert(parent, child);
        }
    }

    /// Drops the contributions and outcomes held in memory (they are loaded by id when an
    /// event needs them), keeping the master data: what a long-lived writer caches.
    pub fn forget_facts(&mut self) {
        self.contributions = FxHashMap::default();
        self.set_aside = FxHashMap::default();
        self.set_aside_recorded = false;
        self.ratings_in_import = FxHashMap::default();
        self.outcomes = FxHashMap::default();
        self.digests = None;
        self.reviews.forget_facts();
        self.changes = Changes::default();
    }

    /// Takes the contributions set aside so far (see
    /// [`State::set_aside_recorded_contributions`]), leaving none: the caller may free them
    /// where it suits it. Recording goes on setting new ones aside.
    pub fn take_set_aside(&mut self) -> FxHashMap<u128, u64> {
        std::mem::take(&mut self.set_aside)
    }

    /// Makes room for `additional` more contributions set aside, so that a bulk import does
    /// not grow the map (and rehash millions of ids) as it goes.
    pub fn reserve_set_aside(&mut self, additional: usize) {
        self.set_aside.reserve(additional);
    }

    /// From now on, a recorded contribution is checked as always, then kept only as a
    /// fingerprint of its record: it enters neither the contributions held nor the pending
    /// changes, and whoever applied the event writes its projection row from the event (a
    /// bulk import moves the strings into the row, and bounds its memory). A later row with
    /// the same id can still be told "unchanged" or "different"; events that change it
    /// (confirmation, retraction) need the record and are refused until the next write.
    /// [`State::forget_facts`] ends it.
    pub fn set_aside_recorded_contributions(&mut self) {
        self.set_aside_recorded = true;
        self.ratings_in_import.clear();
    }

    /// Whether rows changed since the last [`State::take_changes`].
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The rows changed since the last call.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// The node's lead now: the receiving lead of its latest hand-over, or the lead recorded
    /// on the node. The node record itself keeps its lead as recorded, so that re-importing
    /// the same nodes file after a hand-over changes nothing.
    pub fn current_lead(&self, node_id: &str) -> Option<&PersonId> {
        let range = (node_id.to_string(), NaiveDate::MIN)..=(node_id.to_string(), NaiveDate::MAX);
        self.handovers
            .range(range)
            .rev()
            .find_map(|(_, h)| h.to_lead_id.as_ref())
            .or_else(|| self.nodes.get(node_id).and_then(|n| n.lead_id.as_ref()))
    }

    /// The node's lead just before `date`: the receiving lead of its latest hand-over before
    /// that day (none if that hand-over named none), else the lead recorded on the node.
    pub fn lead_before(&self, node_id: &str, date: NaiveDate) -> Option<&PersonId> {
        let range = (node_id.to_string(), NaiveDate::MIN)..(node_id.to_string(), date);
        match self.handovers.range(range).next_back() {
            Some((_, h)) => h.to_lead_id.as_ref(),
            None => self.nodes.get(node_id).and_then(|n| n.lead_id.as_ref()),
        }
    }

    /// The node's memberships, past and present (its keys come first in the map's order,
    /// so this reads only them).
    pub fn members_of_node<'a>(
        &'a self,
        node_id: &'a str,
    ) -> impl Iterator<Item = &'a MemberRecord> + 'a {
        self.members
            .range((node_id.to_string(), String::new(), NaiveDate::MIN)..)
            .take_while(move |((node, _, _), _)| node == node_id)
            .map(|(_, m)| m)
    }

    /// The links from the node to its children.
    pub fn edges_from<'a>(&'a self, node_id: &'a str) -> impl Iterator<Item = &'a EdgeRecord> + 'a {
        self.edges
            .range((node_id.to_string(), String::new(), None)..)
            .take_while(move |((parent, _, _), _)| parent == node_id)
            .map(|(_, e)| e)
    }

    /// The node's hand-overs, oldest first.
    pub fn handovers_of_node<'a>(
        &'a self,
        node_id: &'a str,
    ) -> impl Iterator<Item = &'a HandoverRecord> + 'a {
        let range = (node_id.to_string(), NaiveDate::MIN)..=(node_id.to_string(), NaiveDate::MAX);
        self.handovers.range(range).map(|(_, h)| h)
    }

    /// The requests to join the node.
    pub fn join_requests_of_node<'a>(
        &'a self,
        node_id: &'a str,
    ) -> impl Iterator<Item = &'a JoinRequest> + 'a {
        self.join_requests
            .range((node_id.to_string(), String::new())..)
            .take_while(move |((node, _), _)| node == node_id)
            .map(|(_, j)| j)
    }

    /// Whether `person` holds `role` on `date` (everyone employed that day is an employee).
    pub fn holds_role(&self, person: &str, role: Role, date: NaiveDate) -> bool {
        match role {
            Role::Employee => self.people.get(person).is_some_and(|p| p.employed_on(date)),
            _ => self
                .roles
                .get(&(person.to_string(), role))
                .is_some_and(|h| h.held_on(date)),
        }
    }

    /// The roles `person` holds on `date`, `employee` first if employed.
    pub fn roles_of(&self, person: &str, date: NaiveDate) -> Vec<Role> {
        Role::ALL
            .iter()
            .copied()
            .filter(|role| self.holds_role(person, *role, date))
            .collect()
    }

    pub fn links(&self) -> &Links {
        &self.links
    }

    /// Checks an event against the current state and, if it passes, applies it. A refused
    /// event changes nothing.
    pub fn apply(&mut self, event: &Event) -> Result<(), Rejection> {
        match event {
            Event::PersonHired(p) => {
                if self.people.contains_key(&p.person_id) {
                    return reject(
                        "person_id",
                        format!("person {} was already hired", p.person_id),
                    );
                }
                check_person(p)?;
                self.put_person(p.clone());
            }
            Event::PersonUpdated(p) => {
                self.person(&p.person_id, "person_id")?;
                check_person(p)?;
                self.put_person(p.clone());
            }
            Event::PersonLeft { person_id, left_on } => {
                let mut p = self.person(person_id, "person_id")?.clone();
                p.left_on = Some(*left_on);
                check_person(&p)?;
                self.put_person(p);
            }
            Event::UnitCreated(u) => {
                if self.units.contains_key(&u.unit_id) {
                    return reject("unit_id", format!("unit {} already exists", u.unit_id));
                }
                self.check_unit(u)?;
                self.put_unit(u.clone(), u.valid_from);
            }
            Event::UnitUpdated(u) => {
                self.unit(&u.unit_id, "unit_id")?;
                self.check_unit(u)?;
                self.put_unit(u.clone(), u.valid_from);
            }
            Event::UnitRenamed {
                unit_id,
                name,
                effective_on,
            } => {
                let mut u = self.unit(unit_id, "unit_id")?.clone();
                u.name = name.clone();
                self.check_unit(&u)?;
                self.put_unit(u, *effective_on);
            }
            Event::UnitMoved {
                unit_id,
                parent_unit_id,
                effective_on,
            } => {
                let mut u = self.unit(unit_id, "unit_id")?.clone();
                u.parent_unit_id = parent_unit_id.clone();
                self.check_unit(&u)?;
                self.put_unit(u, *effective_on);
            }
            Event::UnitDissolved { unit_id, valid_to } => {
                let mut u = self.unit(unit_id, "unit_id")?.clone();
                u.valid_to = Some(*valid_to);
                self.check_unit(&u)?;
                self.changes.units.insert(u.unit_id.clone());
                self.units.insert(u.unit_id.clone(), u);
            }
            Event::AssignmentChanged(a) => {
                self.check_assignment(a)?;
                self.put_assignment(a.clone());
            }
            Event::NodeCreated(n) => {
                if self.nodes.contains_key(&n.node_id) {
                    return reject("node_id", format!("node {} already exists", n.node_id));
                }
                self.check_node(n)?;
                self.put_node(n.clone());
            }
            Event::NodeUpdated(n) => {
                let status = self.node(&n.node_id, "node_id")?.status;
                self.check_node(n)?;
                // The status has its own event, so that its history is explicit.
                self.put_node(NodeRecord {
                    status,
                    ..n.clone()
                });
            }
            Event::NodeStatusChanged {
                node_id, status, ..
            } => {
                let mut n = self.node(node_id, "node_id")?.clone();
                n.status = *status;
                self.put_node(n);
            }
            Event::NodeLinked(e) => {
                self.check_link(e)?;
                self.put_edge(e.clone());
            }
            Event::NodeUnlinked {
                parent_id,
                child_id,
                valid_from,
                valid_to,
            } => {
                let key = (parent_id.clone(), child_id.clone(), *valid_from);
                let Some(edge) = self.edges.get(&key) else {
                    return reject(
                        "child_id",
                        format!(
                            "there is no link {parent_id} → {child_id}{} to end",
                            since(*valid_from)
                        ),
                    );
                };
                let mut edge = edge.clone();
                if edge.valid_from.is_some_and(|from| *valid_to < from) {
                    return reject("valid_to", "the link would end before it starts");
                }
                edge.valid_to = Some(*valid_to);
                self.put_edge(edge);
            }
            Event::MemberJoined(m) => {
                self.node_on(&m.node_id, m.joined_on, "joined_on")?;
                self.employed(&m.person_id, m.joined_on, "joined_on")?;
                check_order(m.joined_on, m.left_on, "left_on")?;
                self.put_member(m.clone());
            }
            Event::MemberLeft {
                node_id,
                person_id,
                joined_on,
                left_on,
            } => {
                let key = (node_id.clone(), person_id.clone(), *joined_on);
                let Some(member) = self.members.get(&key) else {
                    return reject(
                        "person_id",
                        format!("{person_id} did not join node {node_id} on {joined_on}"),
                    );
                };
                let mut member = member.clone();
                check_order(member.joined_on, Some(*left_on), "left_on")?;
                member.left_on = Some(*left_on);
                self.put_member(member);
            }
            Event::ContributionRecorded(c) => {
                let hash = id_hash(&c.contribution_id);
                if self.contributions.contains_key(&c.contribution_id)
                    || self.set_aside.contains_key(&hash)
                    || self
                        .digests
                        .as_ref()
                        .is_some_and(|d| d.contributions.contains_key(&hash.into()))
                {
                    return reject(
                        "contribution_id",
                        format!("contribution {} was already recorded", c.contribution_id),
                    );
                }
                self.node_on(&c.node_id, c.date, "date")?;
                self.employed(&c.person_id, c.date, "date")?;
                if c.effort.value() < 0.0 {
                    return reject("effort", format!("effort {} is negative", c.effort));
                }
                if self.set_aside_recorded {
                    self.set_aside.insert(hash, fingerprint(c));
                    return Ok(());
                }
                if let Some(digests) = &mut self.digests {
                    let key = FactKey::from(hash);
                    let digested = digests.digest_contribution(c);
                    digests.contributions.insert(key, digested);
                    if !digests.keep_whole.contains(&key) {
                        return Ok(());
                    }
                }
                self.changes.contributions.insert(c.contribution_id.clone());
                self.contributions.insert(
                    c.contribution_id.clone(),
                    Contribution {
                        record: c.clone(),
                        confirmed_on: None,
                        retracted_on: None,
                        retraction_reason: None,
                    },
                );
            }
            Event::ContributionConfirmed {
                contribution_id,
                confirmed_on,
                confirmed_by,
            } => {
                if let Some(by) = confirmed_by {
                    self.person(by, "confirmed_by")?;
                }
                if self.live_contribution(contribution_id)? {
                    return reject(
                        "contribution_id",
                        format!("contribution {contribution_id} is already confirmed"),
                    );
                }
                self.change_contribution(
                    contribution_id,
                    ContributionChange::Confirmed(*confirmed_on),
                );
            }
            Event::ContributionRetracted {
                contribution_id,
                retracted_on,
                reason,
            } => {
                if reason.trim().is_empty() {
                    return reject("reason", "a retraction needs a reason");
                }
                self.live_contribution(contribution_id)?;
                self.change_contribution(
                    contribution_id,
                    ContributionChange::Retracted(*retracted_on, reason),
                );
            }
            Event::ContributionUnconfirmed {
                by,
                contribution_id,
                reason,
                ..
            } => {
                if reason.trim().is_empty() {
                    return reject("reason", "taking a confirmation back needs a reason");
                }
                if let Some(by) = by {
                    self.person(by, "by")?;
                }
                if !self.live_contribution(contribution_id)? {
                    return reject(
                        "contribution_id",
                        format!("contribution {contribution_id} is not confirmed"),
                    );
                }
                // The projection holds the contribution as it stands now; the ledger keeps
                // both the confirmation and its withdrawal.
                self.change_contribution(contribution_id, ContributionChange::Unconfirmed);
            }
            Event::RoleGranted {
                by,
                granted_on,
                person_id,
                role,
            } => {
                self.person(person_id, "person_id")?;
                if let Some(by) = by {
                    self.person(by, "by")?;
                }
                if *role == Role::Employee {
                    return reject(
                        "role",
                        "everyone employed is an employee; the roles granted are hr and admin",
                    );
                }
                let key = (person_id.clone(), *role);
                if self.roles.get(&key).is_some_and(|h| h.revoked_on.is_none()) {
                    return reject("role", format!("{person_id} already holds the role {role}"));
                }
                self.changes.roles.insert(key.clone());
                self.roles.insert(
                    key,
                    RoleHolding {
                        granted_by: by.clone(),
                        granted_on: *granted_on,
                        person_id: person_id.clone(),
                        revoked_by: None,
                        revoked_on: None,
                        role: *role,
                    },
                );
            }
            Event::RoleRevoked {
                by,
                person_id,
                revoked_on,
                role,
            } => {
                if let Some(by) = by {
                    self.person(by, "by")?;
                }
                let key = (person_id.clone(), *role);
                let Some(holding) = self.roles.get_mut(&key).filter(|h| h.revoked_on.is_none())
                else {
                    return reject("role", format!("{person_id} does not hold the role {role}"));
                };
                if *revoked_on < holding.granted_on {
                    return reject(
                        "revoked_on",
                        format!("{revoked_on} is before the grant on {}", holding.granted_on),
                    );
                }
                holding.revoked_on = Some(*revoked_on);
                holding.revoked_by = by.clone();
                self.changes.roles.insert(key);
            }
            Event::JoinRequested {
                message,
                node_id,
                person_id,
                requested_on,
                role,
            } => {
                self.node(node_id, "node_id")?;
                self.employed(person_id, *requested_on, "requested_on")?;
                if role.trim().is_empty() {
                    return reject("role", "say which role you ask to join in");
                }
                let key = (node_id.clone(), person_id.clone());
                if self
                    .join_requests
                    .get(&key)
                    .is_some_and(|r| r.status == JoinStatus::Pending)
                {
                    return reject(
                        "person_id",
                        format!("{person_id} already asked to join node {node_id}"),
                    );
                }
                if self.member_of(node_id, person_id, *requested_on, true) {
                    return reject(
                        "person_id",
                        format!("{person_id} is already a member of node {node_id}"),
                    );
                }
                self.changes.join_requests.insert(key.clone());
                self.join_requests.insert(
                    key,
                    JoinRequest {
                        answered_by: None,
                        answered_on: None,
                        message: message.clone(),
                        node_id: node_id.clone(),
                        person_id: person_id.clone(),
                        requested_on: *requested_on,
                        role: role.clone(),
                        status: JoinStatus::Pending,
                    },
                );
            }
            Event::JoinAnswered {
                by,
                node_id,
                on,
                person_id,
                status,
            } => {
                if let Some(by) = by {
                    self.person(by, "by")?;
                }
                if *status == JoinStatus::Pending {
                    return reject("status", "an answer accepts, declines or withdraws");
                }
                let key = (node_id.clone(), person_id.clone());
                let Some(request) = self
                    .join_requests
                    .get_mut(&key)
                    .filter(|r| r.status == JoinStatus::Pending)
                else {
                    return reject(
                        "person_id",
                        format!("{person_id} has no pending request to join node {node_id}"),
                    );
                };
                if *on < request.requested_on {
                    return reject(
                        "on",
                        format!("{on} is before the request of {}", request.requested_on),
                    );
                }
                request.status = *status;
                request.answered_on = Some(*on);
                request.answered_by = by.clone();
                self.changes.join_requests.insert(key);
            }
            Event::LedgerExported { by, .. } => {
                if let Some(by) = by {
                    self.person(by, "by")?;
                }
            }
            Event::PersonErased {
                by,
                erased_on,
                person_id,
                reason,
            } => {
                if let Some(by) = by {
                    self.person(by, "by")?;
                }
                if reason.trim().is_empty() {
                    return reject(
                        "reason",
                        "an erasure needs a reason (the request it answers, for example)",
                    );
                }
                if let Some(on) = self.erased.get(person_id) {
                    return reject(
                        "person_id",
                        format!("{person_id} was already erased on {on}"),
                    );
                }
                let Some(person) = self.people.get_mut(person_id) else {
                    return reject("person_id", format!("{person_id} is not a known person"));
                };
                // What a replay reads once the values are gone (the store erases the rest of
                // the person's texts in its tables).
                person.name = crate::personal::ERASED.to_string();
                if person.email.as_ref().is_some_and(|e| !e.is_empty()) {
                    person.email = Some(crate::personal::ERASED.to_string());
                }
                self.erased.insert(person_id.clone(), *erased_on);
                self.changes.people.insert(person_id.clone());
            }
            Event::RetentionApplied { by, .. } => {
                if let Some(by) = by {
                    self.person(by, "by")?;
                }
            }
            Event::LedgerUpgraded { .. } => {
                if !self.people.is_empty() || !self.units.is_empty() || !self.nodes.is_empty() {
                    return reject(
                        "old_seq",
                        "a ledger_upgraded event is the first event of an upgraded ledger",
                    );
                }
            }
            Event::PolicySet {
                by,
                kind,
                set_on,
                text,
            } => {
                if let Some(by) = by {
                    self.person(by, "by")?;
                }
                self.policies.insert(
                    *kind,
                    PolicySetting {
                        kind: *kind,
                        set_by: by.clone(),
                        set_on: *set_on,
                        text: text.clone(),
                    },
                );
                self.changes.policies.insert(*kind);
            }
            Event::OutcomeRecorded(o) => {
                if self.outcomes.contains_key(&o.outcome_id) {
                    return reject(
                        "outcome_id",
                        format!("outcome {} was already recorded", o.outcome_id),
                    );
                }
                self.node_on(&o.node_id, o.date, "date")?;
                if o.value.value() < 0.0 {
                    return reject(
                        "value",
                        format!(
                            "value {} is negative; a realised value is zero or more",
                            o.value
                        ),
                    );
                }
                self.changes.outcomes.insert(o.outcome_id.clone());
                self.outcomes.insert(o.outcome_id.clone(), o.clone());
            }
            Event::CycleOpened(_)
            | Event::CyclePhaseChanged { .. }
            | Event::GoalSet(_)
            | Event::KeyResultMeasured(_)
            | Event::ReviewerAdded(_)
            | Event::ReviewerRemoved(_)
            | Event::SelfReviewLinked(_)
            | Event::BehaviourAssessed(_)
            | Event::RatingRecorded(_)
            | Event::CalibrationRecorded(_)
            | Event::ScoreOverridden(_) => self.apply_review(event)?,
            Event::PeerPointsGiven(a) => {
                self.check_peer_allocation(a)?;
                let key = (a.node_id.clone(), a.giver_id.clone(), a.date);
                self.changes.peer_points.insert(key.clone());
                self.peer_points.insert(key, a.clone());
            }
            Event::NodeHandedOver(h) => {
                let key = (h.node_id.clone(), h.date);
                if self.handovers.contains_key(&key) {
                    return reject(
                        "date",
                        format!("node {} already has a hand-over on {}", h.node_id, h.date),
                    );
                }
                let node = self.node(&h.node_id, "node_id")?;
                if h.date < node.created_on {
                    return reject(
                        "date",
                        format!(
                            "{} is before node {} was created ({})",
                            h.date, h.node_id, node.created_on
                        ),
                    );
                }
                if let Some(from) = &h.from_lead_id {
                    self.person(from, "from_lead_id")?;
                    let lead = self.lead_before(&h.node_id, h.date);
                    if lead != Some(from) {
                        return reject(
                            "from_lead_id",
                            match lead {
                                Some(lead) => format!(
                                    "{from} does not lead {} on {}: {lead} does (hand it over from {lead})",
                                    h.node_id, h.date
                                ),
                                None => format!(
                                    "{} has no lead on {} to hand over from (leave from_lead_id empty)",
                                    h.node_id, h.date
                                ),
                            },
                        );
                    }
                }
                if let Some(to) = &h.to_lead_id {
                    self.employed(to, h.date, "to_lead_id")?;
                    if h.from_lead_id.as_ref() == Some(to) {
                        return reject(
                            "to_lead_id",
                            format!(
                                "{to} already leads {}: a hand-over needs a new lead",
                                h.node_id
                            ),
                        );
                    }
                }
                for (unit, field) in [
                    (&h.from_unit_id, "from_unit_id"),
                    (&h.to_unit_id, "to_unit_id"),
                ] {
                    if let Some(unit) = unit {
                        self.unit(unit, field)?;
                    }
                }
                // The node's current lead changes (a derived column of its row); what every
                // contributor earned so far does not.
                self.changes.nodes.insert(h.node_id.clone());
                self.changes.handovers.insert(key.clone());
                self.handovers.insert(key, h.clone());
            }
        }
        Ok(())
    }

    // ---- look-ups that name what is missing -------------------------------------------------

    pub fn person(&self, id: &str, field: &'static str) -> Result<&PersonRecord, Rejection> {
        match self.people.get(id) {
            Some(p) => Ok(p),
            None => reject(field, format!("unknown person {id}")),
        }
    }

    pub fn unit(&self, id: &str, field: &'static str) -> Result<&UnitRecord, Rejection> {
        match self.units.get(id) {
            Some(u) => Ok(u),
            None => reject(field, format!("unknown unit {id}")),
        }
    }

    /// The person's manager on `date`, from their latest assignment starting on or before it.
    pub fn manager_on(&self, person: &str, date: NaiveDate) -> Option<&str> {
        let range = (person.to_string(), NaiveDate::MIN)..=(person.to_string(), date);
        let (_, assignment) = self.assignments.range(range).next_back()?;
        assignment.record.manager_id.as_deref()
    }

    /// The node, which must exist by `date` (work, membership and value come after it).
    fn node_on(
        &self,
        id: &str,
        date: NaiveDate,
        field: &'static str,
    ) -> Result<&NodeRecord, Rejection> {
        let node = self.node(id, "node_id")?;
        if date < node.created_on {
            return reject(
                field,
                format!(
                    "{date} is before node {id} was created ({})",
                    node.created_on
                ),
            );
        }
        Ok(node)
    }

    pub fn node(&self, id: &str, field: &'static str) -> Result<&NodeRecord, Rejection> {
        match self.nodes.get(id) {
            Some(n) => Ok(n),
            None => reject(field, format!("unknown node {id}")),
        }
    }

    fn employed(&self, id: &str, date: NaiveDate, field: &'static str) -> Result<(), Rejection> {
        let p = self.person(id, "person_id")?;
        if p.employed_on(date) {
            return Ok(());
        }
        let span = match p.left_on {
            Some(left) => format!("from {} to {left}", p.joined_on),
            None => format!("from {}", p.joined_on),
        };
        reject(
            field,
            format!("{date} is outside the employment of {id} ({span})"),
        )
    }

    /// Whether the recorded, unretracted contribution `id` is confirmed (refused if it is not
    /// recorded or was retracted).
    fn live_contribution(&self, id: &str) -> Result<bool, Rejection> {
        let (retracted, confirmed) = match (&self.digests, self.contributions.get(id)) {
            (_, Some(c)) => (c.retracted_on.is_some(), c.is_confirmed()),
            (Some(digests), None) => match digests.contributions.get(&FactKey::contribution(id)) {
                Some(d) => (d.retracted(), d.is_confirmed()),
                None => return reject("contribution_id", format!("unknown contribution {id}")),
            },
            (None, None) => return reject("contribution_id", format!("unknown contribution {id}")),
        };
        if retracted {
            return reject(
                "contribution_id",
                format!("contribution {id} was retracted"),
            );
        }
        Ok(confirmed)
    }

    /// Applies `change` to the contribution `id` in every form the state holds it in.
    fn change_contribution(&mut self, id: &str, change: ContributionChange<'_>) {
        if let Some(digests) = &mut self.digests {
            change.to_digests(digests, FactKey::contribution(id));
        }
        if let Some(c) = self.contributions.get_mut(id) {
            change.to_whole(c);
            self.changes.contributions.insert(id.to_string());
        }
    }

    // ---- checks ---------------------------------------------------------------------------

    fn check_unit(&self, u: &UnitRecord) -> Result<(), Rejection> {
        if u.name.trim().is_empty() {
            return reject("name", "a unit needs a name");
        }
        check_order(u.valid_from, u.valid_to, "valid_to")?;
        // Walk up from the new parent: meeting the unit itself would make the hierarchy a loop.
        let mut at = u.parent_unit_id.clone();
        let mut steps = 0;
        while let Some(parent) = at {
            if parent == u.unit_id {
                return reject(
                    "parent_unit_id",
                    format!("unit {} would be its own ancestor", u.unit_id),
                );
            }
            at = self.unit(&parent, "parent_unit_id")?.parent_unit_id.clone();
            steps += 1;
            if steps > self.units.len() {
                break;
            }
        }
        Ok(())
    }

    fn check_assignment(&self, a: &AssignmentRecord) -> Result<(), Rejection> {
        self.employed(&a.person_id, a.valid_from, "valid_from")?;
        let unit = self.unit(&a.unit_id, "unit_id")?;
        if !unit.exists_on(a.valid_from) {
            return reject(
                "unit_id",
                format!("unit {} does not exist on {}", a.unit_id, a.valid_from),
            );
        }
        if let Some(manager) = &a.manager_id {
            if *manager == a.person_id {
                return reject("manager_id", "a person cannot be their own manager");
            }
            // Reporting to someone who has left (or not joined yet) is a broken line.
            self.employed(manager, a.valid_from, "manager_id")?;
        }
        Ok(())
    }

    /// Whether `person` has been a member of `node` at some point on or before `date`, and is
    /// one on `date` if `on_the_day`.
    pub fn member_of(&self, node: &str, person: &str, date: NaiveDate, on_the_day: bool) -> bool {
        let range = (node.to_string(), person.to_string(), NaiveDate::MIN)
            ..=(node.to_string(), person.to_string(), date);
        self.members
            .range(range)
            .any(|(_, m)| !on_the_day || m.left_on.is_none_or(|left| date <= left))
    }

    fn check_peer_allocation(&self, a: &PeerAllocation) -> Result<(), Rejection> {
        self.node(&a.node_id, "node_id")?;
        self.employed(&a.giver_id, a.date, "date")?;
        if !self.member_of(&a.node_id, &a.giver_id, a.date, true) {
            return reject(
                "giver_id",
                format!(
                    "{} is not a member of node {} on {}; members give points to each other",
                    a.giver_id, a.node_id, a.date
                ),
            );
        }
        let mut seen = BTreeSet::new();
        let mut total = 0u32;
        for p in &a.points {
            if p.person_id == a.giver_id {
                return reject("recipient_id", "points go to the others, not to oneself");
            }
            if !seen.insert(p.person_id.as_str()) {
                return reject(
                    "recipient_id",
                    format!("{} is listed twice in one allocation", p.person_id),
                );
            }
            if !self.member_of(&a.node_id, &p.person_id, a.date, false) {
                return reject(
                    "recipient_id",
                    format!(
                        "{} was never a member of node {} by {}",
                        p.person_id, a.node_id, a.date
                    ),
                );
            }
            total = total.saturating_add(p.points);
        }
        if total != PEER_POINTS_PER_ALLOCATION {
            return reject(
                "points",
                format!(
                    "an allocation gives exactly {PEER_POINTS_PER_ALLOCATION} points; these add up to {total}"
                ),
            );
        }
        Ok(())
    }

    fn check_node(&self, n: &NodeRecord) -> Result<(), Rejection> {
        if n.title.trim().is_empty() {
            return reject("title", "a node needs a title");
        }
        if let Some(lead) = &n.lead_id {
            self.employed(lead, n.created_on, "lead_id")?;
        }
        if let Some(serves) = &n.serves_id {
            if *serves == n.node_id {
                return reject("serves_id", "a node cannot serve itself");
            }
            self.node(serves, "serves_id")?;
        }
        Ok(())
    }

    fn check_link(&self, e: &EdgeRecord) -> Result<(), Rejection> {
        self.node(&e.parent_id, "parent_id")?;
        self.node(&e.child_id, "child_id")?;
        let w = e.weight.value();
        if !(0.0..=1.0).contains(&w) {
            return reject("weight", format!("weight {} is outside [0, 1]", e.weight));
        }
        if let (Some(from), Some(to)) = (e.valid_from, e.valid_to) {
            check_order(from, Some(to), "valid_to")?;
        }
        if let Some(cycle) = self.links.cycle_if_linked(&e.parent_id, &e.child_id) {
            return reject(
                "child_id",
                format!("linking would make a cycle: {}", cycle.join(" → ")),
            );
        }
        let key = (e.parent_id.clone(), e.child_id.clone(), e.valid_from);
        // Another version of the same link may not be in force on the same day: its weight
        // would be counted twice. (A revision has the same start; a new version starts after
        // the old one ends, which the import does by ending it the day before.)
        if let Some(other) = self
            .edges
            .range((e.parent_id.clone(), e.child_id.clone(), None)..)
            .take_while(|((parent, child, _), _)| *parent == e.parent_id && *child == e.child_id)
            .map(|(_, edge)| edge)
            .find(|other| other.valid_from != e.valid_from && overlaps(other, e))
        {
            return reject(
                "valid_from",
                format!(
                    "the link {} → {}{}{} is in force on days this one would be too (their weights would add up); end it first (`valuetree node unlink`, or a row with its start and a valid_to), or give this row its start to revise it",
                    e.parent_id,
                    e.child_id,
                    since(other.valid_from),
                    other
                        .valid_to
                        .map_or(String::new(), |to| format!(" to {to}"))
                ),
            );
        }
        let mut siblings: Vec<&EdgeRecord> = self
            .edges
            .range((e.parent_id.clone(), String::new(), None)..)
            .take_while(|((parent, _, _), _)| *parent == e.parent_id)
            .filter(|(k, _)| **k != key)
            .map(|(_, edge)| edge)
            .collect();
        siblings.push(e);
        let (peak, at) = dag::peak_weight(&siblings);
        if peak > 1.0 + dag::WEIGHT_SUM_TOLERANCE {
            let when = at.map_or("since always".to_string(), |d| format!("on {d}"));
            return reject(
                "weight",
                format!(
                    "the children of {} would weigh {peak:.6} {when}; the weights of a parent's children valid on one date must sum to at most 1",
                    e.parent_id
                ),
            );
        }
        Ok(())
    }

    // ---- writes that keep the derived parts and the change set in step ----------------------

    fn put_person(&mut self, p: PersonRecord) {
        self.changes.people.insert(p.person_id.clone());
        self.people.insert(p.person_id.clone(), p);
    }

    fn put_unit(&mut self, u: UnitRecord, version_from: NaiveDate) {
        let key = (u.unit_id.clone(), version_from);
        self.unit_versions.insert(
            key.clone(),
            UnitVersion {
                unit_id: u.unit_id.clone(),
                valid_from: version_from,
                name: u.name.clone(),
                parent_unit_id: u.parent_unit_id.clone(),
            },
        );
        self.changes.unit_versions.insert(key);
        self.changes.units.insert(u.unit_id.clone());
        self.units.insert(u.unit_id.clone(), u);
    }

    fn put_assignment(&mut self, record: AssignmentRecord) {
        let person = record.person_id.clone();
        let key = (person.clone(), record.valid_from);
        self.changes.assignments.insert(key.clone());
        self.assignments.insert(
            key,
            Assignment {
                record,
                valid_to: None,
            },
        );
        // Each assignment ends the day before the person's next one.
        let range = (person.clone(), NaiveDate::MIN)..=(person, NaiveDate::MAX);
        let starts: Vec<NaiveDate> = self
            .assignments
            .range(range.clone())
            .map(|(k, _)| k.1)
            .collect();
        for (i, (key, assignment)) in self.assignments.range_mut(range).enumerate() {
            let end = starts.get(i + 1).and_then(|next| next.pred_opt());
            if assignment.valid_to != end {
                assignment.valid_to = end;
                self.changes.assignments.insert(key.clone());
            }
        }
    }

    fn put_node(&mut self, n: NodeRecord) {
        self.changes.nodes.insert(n.node_id.clone());
        self.nodes.insert(n.node_id.clone(), n);
    }

    fn put_edge(&mut self, e: EdgeRecord) {
        self.links.insert(&e.parent_id, &e.child_id);
        let key = (e.parent_id.clone(), e.child_id.clone(), e.valid_from);
        self.changes.edges.insert(key.clone());
        self.edges.insert(key, e);
    }

    fn put_member(&mut self, m: MemberRecord) {
        let key = (m.node_id.clone(), m.person_id.clone(), m.joined_on);
        self.changes.members.insert(key.clone());
        self.members.insert(key, m);
    }
}

/// A 64-bit fingerprint of a contribution record (same record, same fingerprint). It is
/// only compared within one import, to tell a repeated row from a changed one: a fast
/// non-cryptographic hash suffices (SipHash cost a bulk import a tenth of its checks).
/// A 128-bit hash of a fact's id, by which an import of millions sets its facts aside (16
/// bytes each instead of the id's string).
pub fn id_hash(id: &str) -> u128 {
    hash_128(id)
}

/// A 128-bit hash of a rating's key, for [`State::ratings_in_import`].
pub fn rating_key_hash(key: &crate::review::RatingKey) -> u128 {
    hash_128(key)
}

/// [`rating_key_hash`] of the key made of these parts (without making it).
pub fn rating_parts_hash(cycle_id: &str, rater_id: &str, ratee_id: &str, dimension: &str) -> u128 {
    hash_128(&(cycle_id, rater_id, ratee_id, dimension))
}

/// SipHash (with fixed keys, so the same on every run) twice, under two salts: two ids of
/// one import sharing a hash is not to be expected in the life of the universe.
fn hash_128(value: &(impl std::hash::Hash + ?Sized)) -> u128 {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut hasher = std::hash::DefaultHasher::new();
        salt.hash(&mut hasher);
        value.hash(&mut hasher);
        hasher.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// A fingerprint of a rating's content, for [`State::ratings_in_import`].
pub fn rating_fingerprint(r: &crate::review::RatingRecord) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    (
        &r.cycle_id,
        &r.rater_id,
        &r.ratee_id,
        &r.dimension,
        r.relationship.as_str(),
        r.score.value().to_bits(),
        r.status.as_str(),
        &r.comment,
    )
        .hash(&mut hasher);
    hasher.finish()
}

pub fn fingerprint(c: &ContributionRecord) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    (
        &c.contribution_id,
        &c.person_id,
        &c.node_id,
        c.phase,
        c.date,
        c.effort.value().to_bits(),
        &c.description,
        &c.evidence,
        c.confirmed,
    )
        .hash(&mut h);
    h.finish()
}

fn check_person(p: &PersonRecord) -> Result<(), Rejection> {
    if p.name.trim().is_empty() {
        return reject("name", "a person needs a name");
    }
    check_order(p.joined_on, p.left_on, "left_on")
}

fn check_order(
    start: NaiveDate,
    end: Option<NaiveDate>,
    field: &'static str,
) -> Result<(), Rejection> {
    match end {
        Some(end) if end < start => reject(field, format!("{end} is before the start {start}")),
        _ => Ok(()),
    }
}

/// Whether two versions of a link are in force on a common day.
fn overlaps(a: &EdgeRecord, b: &EdgeRecord) -> bool {
    let starts_before_end = |x: &EdgeRecord, y: &EdgeRecord| match (x.valid_from, y.valid_to) {
        (Some(from), Some(to)) => from <= to,
        _ => true,
    };
    starts_before_end(a, b) && starts_before_end(b, a)
}

fn since(date: Option<NaiveDate>) -> String {
    date.map_or(String::new(), |d| format!(" from {d}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    #[test]
    fn a_nodes_rows_are_its_own_and_not_those_of_a_node_whose_id_it_begins() {
        let mut state = State::default();
        for (node, person) in [("N1", "P1"), ("N1", "P2"), ("N10", "P1"), ("N", "P3")] {
            state.members.insert(
                (node.into(), person.into(), day("2024-01-01")),
                MemberRecord {
                    joined_on: day("2024-01-01"),
                    left_on: None,
                    node_id: node.into(),
                    person_id: person.into(),
                    role: "dev".into(),
                },
            );
        }
        let people: Vec<&str> = state
            .members_of_node("N1")
            .map(|m| m.person_id.as_str())
            .collect();
        assert_eq!(people, ["P1", "P2"]);
        assert_eq!(state.members_of_node("N2").count(), 0);
        assert_eq!(state.members_of_node("N").count(), 1);
    }
}
