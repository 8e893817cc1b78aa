//! The ledger's event kinds.
//!
//! Every change to valuetree is one of these. The serialized form (`kind` + `payload`) is what
//! the ledger stores and hashes; see [`crate::chain`] for the envelope around it.

use crate::domain::*;
use crate::packed;
use crate::review::*;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum Event {
    PersonHired(PersonRecord),
    /// A new version of a person's master record (as a new HRIS export would carry).
    PersonUpdated(PersonRecord),
    PersonLeft {
        left_on: NaiveDate,
        person_id: PersonId,
    },
    UnitCreated(UnitRecord),
    UnitRenamed {
        effective_on: NaiveDate,
        name: String,
        unit_id: UnitId,
    },
    UnitMoved {
        effective_on: NaiveDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_unit_id: Option<UnitId>,
        unit_id: UnitId,
    },
    UnitDissolved {
        unit_id: UnitId,
        valid_to: NaiveDate,
    },
    /// A new version of a unit's whole record, for changes that are not a rename, move or
    /// dissolution (for example a corrected start date).
    UnitUpdated(UnitRecord),
    AssignmentChanged(AssignmentRecord),
    NodeCreated(NodeRecord),
    /// A new version of a node's record; its status changes through `NodeStatusChanged`.
    NodeUpdated(NodeRecord),
    NodeStatusChanged {
        effective_on: NaiveDate,
        node_id: NodeId,
        status: NodeStatus,
    },
    /// Links parent → child, or re-links an existing link (same parent, child and start) with
    /// a new weight or end.
    NodeLinked(EdgeRecord),
    NodeUnlinked {
        child_id: NodeId,
        parent_id: NodeId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        valid_from: Option<NaiveDate>,
        valid_to: NaiveDate,
    },
    MemberJoined(MemberRecord),
    MemberLeft {
        joined_on: NaiveDate,
        left_on: NaiveDate,
        node_id: NodeId,
        person_id: PersonId,
    },
    ContributionRecorded(ContributionRecord),
    ContributionConfirmed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirmed_by: Option<PersonId>,
        confirmed_on: NaiveDate,
        contribution_id: String,
    },
    ContributionRetracted {
        contribution_id: String,
        reason: String,
        retracted_on: NaiveDate,
    },
    /// A lead takes a confirmation back (given by mistake, or the work turned out not to be
    /// what was described); the contribution counts as unconfirmed again.
    ContributionUnconfirmed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<PersonId>,
        contribution_id: String,
        reason: String,
        unconfirmed_on: NaiveDate,
    },
    OutcomeRecorded(OutcomeRecord),
    NodeHandedOver(HandoverRecord),
    CycleOpened(CycleRecord),
    CyclePhaseChanged {
        cycle_id: String,
        effective_on: NaiveDate,
        phase: CyclePhase,
    },
    /// Sets a goal, or revises it (same goal id, same person and cycle).
    GoalSet(GoalRecord),
    KeyResultMeasured(Measurement),
    ReviewerAdded(ReviewerChange),
    ReviewerRemoved(ReviewerChange),
    SelfReviewLinked(SelfReviewEntry),
    BehaviourAssessed(BehaviourAssessment),
    /// A draft or submitted rating; a later one with the same key revises it.
    RatingRecorded(RatingRecord),
    CalibrationRecorded(CalibrationResult),
    ScoreOverridden(OverrideRecord),
    /// A member's 100 points for the others on a node; the same giver, node and date again
    /// revises the allocation.
    PeerPointsGiven(PeerAllocation),
    /// A role (`hr`, `admin`) granted to a person; `by` is the granting person, absent when
    /// the operator (whoever holds the database) granted it.
    RoleGranted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<PersonId>,
        granted_on: NaiveDate,
        person_id: PersonId,
        role: Role,
    },
    RoleRevoked {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<PersonId>,
        person_id: PersonId,
        revoked_on: NaiveDate,
        role: Role,
    },
    /// A person asks to join a node (typically a flagpole) in a role.
    JoinRequested {
        #[serde(default)]
        message: String,
        node_id: NodeId,
        person_id: PersonId,
        requested_on: NaiveDate,
        role: String,
    },
    /// The answer to a pending join request: accepted or declined by the node's lead, or
    /// withdrawn by the person who asked. An accepted request comes with its
    /// `member_joined` in the same write.
    JoinAnswered {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<PersonId>,
        node_id: NodeId,
        on: NaiveDate,
        person_id: PersonId,
        status: JoinStatus,
    },
    /// The whole ledger was exported (a full backup holds everyone's private data, so taking
    /// one is itself on the record): by whom (absent for the operator), when, and the last
    /// event the export held.
    LedgerExported {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<PersonId>,
        exported_on: NaiveDate,
        through_seq: u64,
    },
    /// An organisation-wide policy (credit attribution, final-score blend) from `set_on`:
    /// its settings as written (TOML text, so that the payload holds no floats), and who
    /// set it (absent for the operator).
    PolicySet {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<PersonId>,
        kind: PolicyKind,
        set_on: NaiveDate,
        text: String,
    },
    /// A person's personal data was erased (their key and every value committed under it
    /// deleted; see [`crate::personal`]): by whom (absent for the operator), when and why.
    /// The reason is the organisation's words (a request's reference), not personal data.
    PersonErased {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<PersonId>,
        erased_on: NaiveDate,
        person_id: PersonId,
        reason: String,
    },
    /// A run of the retention policy: the settings it applied (TOML text) and how many
    /// personal values it erased.
    RetentionApplied {
        applied_on: NaiveDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<PersonId>,
        erased: u64,
        settings: String,
    },
    /// The first event of a ledger re-encoded with its personal data out of the chain: the
    /// head of the ledger it was upgraded from, so that a head pinned before the upgrade can
    /// still be checked against the old export.
    LedgerUpgraded {
        old_hash: String,
        old_seq: i64,
        upgraded_on: NaiveDate,
    },
}

/// Why a stored kind and payload are not an event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("`{0}` is not an event kind")]
    NotAKind(String),
    #[error("not a valid `{kind}` event: {reason}")]
    Payload { kind: String, reason: String },
}

impl Event {
    /// The event kind as stored in the ledger (`person_hired`, `node_linked`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::PersonHired(_) => "person_hired",
            Event::PersonUpdated(_) => "person_updated",
            Event::PersonLeft { .. } => "person_left",
            Event::UnitCreated(_) => "unit_created",
            Event::UnitRenamed { .. } => "unit_renamed",
            Event::UnitMoved { .. } => "unit_moved",
            Event::UnitDissolved { .. } => "unit_dissolved",
            Event::UnitUpdated(_) => "unit_updated",
            Event::AssignmentChanged(_) => "assignment_changed",
            Event::NodeCreated(_) => "node_created",
            Event::NodeUpdated(_) => "node_updated",
            Event::NodeStatusChanged { .. } => "node_status_changed",
            Event::NodeLinked(_) => "node_linked",
            Event::NodeUnlinked { .. } => "node_unlinked",
            Event::MemberJoined(_) => "member_joined",
            Event::MemberLeft { .. } => "member_left",
            Event::ContributionRecorded(_) => "contribution_recorded",
            Event::ContributionConfirmed { .. } => "contribution_confirmed",
            Event::ContributionRetracted { .. } => "contribution_retracted",
            Event::ContributionUnconfirmed { .. } => "contribution_unconfirmed",
            Event::OutcomeRecorded(_) => "outcome_recorded",
            Event::NodeHandedOver(_) => "node_handed_over",
            Event::CycleOpened(_) => "cycle_opened",
            Event::CyclePhaseChanged { .. } => "cycle_phase_changed",
            Event::GoalSet(_) => "goal_set",
            Event::KeyResultMeasured(_) => "key_result_measured",
            Event::ReviewerAdded(_) => "reviewer_added",
            Event::ReviewerRemoved(_) => "reviewer_removed",
            Event::SelfReviewLinked(_) => "self_review_linked",
            Event::BehaviourAssessed(_) => "behaviour_assessed",
            Event::RatingRecorded(_) => "rating_recorded",
            Event::CalibrationRecorded(_) => "calibration_recorded",
            Event::ScoreOverridden(_) => "score_overridden",
            Event::PeerPointsGiven(_) => "peer_points_given",
            Event::RoleGranted { .. } => "role_granted",
            Event::RoleRevoked { .. } => "role_revoked",
            Event::JoinRequested { .. } => "join_requested",
            Event::JoinAnswered { .. } => "join_answered",
            Event::LedgerExported { .. } => "ledger_exported",
            Event::PolicySet { .. } => "policy_set",
            Event::PersonErased { .. } => "person_erased",
            Event::RetentionApplied { .. } => "retention_applied",
            Event::LedgerUpgraded { .. } => "ledger_upgraded",
        }
    }

    /// True for an event that changes only facts (contributions, outcomes, ratings,
    /// calibrated scores): the records a state holding master data only does not keep, so
    /// bringing such a state up to date can pass these events by.
    pub fn changes_facts_only(&self) -> bool {
        match self {
            Event::ContributionRecorded(_)
            | Event::ContributionConfirmed { .. }
            | Event::ContributionRetracted { .. }
            | Event::ContributionUnconfirmed { .. }
            | Event::OutcomeRecorded(_)
            | Event::RatingRecorded(_)
            | Event::CalibrationRecorded(_) => true,
            Event::PersonHired(_)
            | Event::PersonUpdated(_)
            | Event::PersonLeft { .. }
            | Event::UnitCreated(_)
            | Event::UnitRenamed { .. }
            | Event::UnitMoved { .. }
            | Event::UnitDissolved { .. }
            | Event::UnitUpdated(_)
            | Event::AssignmentChanged(_)
            | Event::NodeCreated(_)
            | Event::NodeUpdated(_)
            | Event::NodeStatusChanged { .. }
            | Event::NodeLinked(_)
            | Event::NodeUnlinked { .. }
            | Event::MemberJoined(_)
            | Event::MemberLeft { .. }
            | Event::NodeHandedOver(_)
            | Event::CycleOpened(_)
            | Event::CyclePhaseChanged { .. }
            | Event::GoalSet(_)
            | Event::KeyResultMeasured(_)
            | Event::ReviewerAdded(_)
            | Event::ReviewerRemoved(_)
            | Event::SelfReviewLinked(_)
            | Event::BehaviourAssessed(_)
            | Event::ScoreOverridden(_)
            | Event::PeerPointsGiven(_)
            | Event::RoleGranted { .. }
            | Event::RoleRevoked { .. }
            | Event::JoinRequested { .. }
            | Event::JoinAnswered { .. }
            | Event::LedgerExported { .. }
            | Event::PolicySet { .. }
            | Event::PersonErased { .. }
            | Event::RetentionApplied { .. }
            | Event::LedgerUpgraded { .. } => false,
        }
    }

    /// True for an event after which a state held in memory must be loaded again rather
    /// than brought up to date: an erasure changes texts throughout the stored tables (its
    /// replay finds the values already gone), which no in-memory step mirrors.
    pub fn reloads_state(&self) -> bool {
        matches!(
            self,
            Event::PersonErased { .. }
                | Event::RetentionApplied { .. }
                | Event::LedgerUpgraded { .. }
        )
    }

    /// The business date the event carries itself, if it carries one. Events without one
    /// (updates of master records, links "since always") take the date they are recorded.
    pub fn natural_effective_date(&self) -> Option<NaiveDate> {
        Some(match self {
            Event::PersonHired(p) => p.joined_on,
            Event::PersonLeft { left_on, .. } => *left_on,
            Event::UnitCreated(u) => u.valid_from,
            Event::UnitRenamed { effective_on, .. }
            | Event::UnitMoved { effective_on, .. }
            | Event::NodeStatusChanged { effective_on, .. } => *effective_on,
            Event::UnitDissolved { valid_to, .. } => *valid_to,
            Event::AssignmentChanged(a) => a.valid_from,
            Event::NodeCreated(n) => n.created_on,
            Event::NodeLinked(e) => return e.valid_from,
            Event::NodeUnlinked { valid_to, .. } => *valid_to,
            Event::MemberJoined(m) => m.joined_on,
            Event::MemberLeft { left_on, .. } => *left_on,
            Event::ContributionRecorded(c) => c.date,
            Event::ContributionConfirmed { confirmed_on, .. } => *confirmed_on,
            Event::ContributionRetracted { retracted_on, .. } => *retracted_on,
            Event::ContributionUnconfirmed { unconfirmed_on, .. } => *unconfirmed_on,
            Event::RoleGranted { granted_on, .. } => *granted_on,
            Event::RoleRevoked { revoked_on, .. } => *revoked_on,
            Event::JoinRequested { requested_on, .. } => *requested_on,
            Event::JoinAnswered { on, .. } => *on,
            Event::LedgerExported { exported_on, .. } => *exported_on,
            Event::PolicySet { set_on, .. } => *set_on,
            Event::PersonErased { erased_on, .. } => *erased_on,
            Event::RetentionApplied { applied_on, .. } => *applied_on,
            Event::LedgerUpgraded { upgraded_on, .. } => *upgraded_on,
            Event::OutcomeRecorded(o) => o.date,
            Event::NodeHandedOver(h) => h.date,
            Event::CycleOpened(c) => c.starts_on,
            Event::CyclePhaseChanged { effective_on, .. } => *effective_on,
            Event::KeyResultMeasured(m) => m.measured_on,
            Event::PeerPointsGiven(a) => a.date,
            Event::PersonUpdated(_)
            | Event::UnitUpdated(_)
            | Event::NodeUpdated(_)
            | Event::GoalSet(_)
            | Event::ReviewerAdded(_)
            | Event::ReviewerRemoved(_)
            | Event::SelfReviewLinked(_)
            | Event::BehaviourAssessed(_)
            | Event::RatingRecorded(_)
            | Event::CalibrationRecorded(_)
            | Event::ScoreOverridden(_) => return None,
        })
    }

    /// The canonical JSON of the payload (see [`crate::chain::canonical_json`]).
    ///
    /// Every payload struct declares its fields in alphabetical order and holds no floats, so
    /// serde's compact output already is canonical; the test `every_kind_serializes_canonically`
    /// keeps it so. This is the hot path of every import, hence no intermediate `Value`.
    pub fn canonical_payload(&self) -> String {
        match self {
            Event::ContributionRecorded(c) => contribution_payload(c),
            _ => self.serde_payload(),
        }
    }

    /// The canonical payload, and its packed storage form where it has one ([`packed`]).
    pub fn canonical_and_packed_payload(&self) -> (String, Option<String>) {
        match self {
            Event::ContributionRecorded(c) => {
                let written = contribution_payload_written(c);
                let packed = packed::pack_members(&written.text, written.members());
                (written.text, packed)
            }
            _ => {
                let text = self.serde_payload();
                let packed = packed::pack(&text);
                (text, packed)
            }
        }
    }

    fn serde_payload(&self) -> String {
        // Adjacently tagged: `{"kind":"<kind>","payload":<payload>}`; kinds need no escaping.
        let whole = serde_json::to_string(self).unwrap_or_default();
        let start = "{\"kind\":\"\",\"payload\":".len() + self.kind().len();
        whole
            .get(start..whole.len().saturating_sub(1))
            .unwrap_or("null")
            .to_string()
    }

    /// Reads an event back from its stored kind and payload text.
    pub fn from_parts(kind: &str, payload: &str) -> Result<Event, DecodeError> {
        if !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(DecodeError::NotAKind(kind.to_string()));
        }
        // The kind a replay meets by the million is read straight into its record, without
        // first copying the payload into a tagged document (same result: test
        // `a_contribution_read_directly_equals_the_tagged_reading`).
        if kind == "contribution_recorded" {
            return serde_json::from_str(payload)
                .map(Event::ContributionRecorded)
                .map_err(|e| DecodeError::Payload {
                    kind: kind.to_string(),
                    reason: e.to_string(),
                });
        }
        // Straight from text (no intermediate `Value`).
        let tagged = format!("{{\"kind\":\"{kind}\",\"payload\":{payload}}}");
        serde_json::from_str(&tagged).map_err(|e| DecodeError::Payload {
            kind: kind.to_string(),
            reason: e.to_string(),
        })
    }
}

/// The canonical payload of a recorded contribution, written directly: an import writes
/// millions of them, and serde's tagged-enum round trip (with dates and decimals through
/// `fmt`) costs several times more. The same text as serde's (test
/// `the_direct_contribution_payload_is_serdes`).
fn contribution_payload(c: &ContributionRecord) -> String {
    contribution_payload_written(c).text
}

/// [`contribution_payload`], and where each member's value is in it (for [`packed`]).
fn contribution_payload_written(c: &ContributionRecord) -> MemberWriter {
    use crate::chain::push_json_string;
    let mut m = MemberWriter {
        text: String::with_capacity(
            150 + c.contribution_id.len()
                + c.description.len()
                + c.node_id.len()
                + c.person_id.len(),
        ),
        members: std::array::from_fn(|_| ("", 0..0)),
        count: 0,
    };
    m.name("confirmed");
    m.text.push_str(if c.confirmed { "true" } else { "false" });
    m.end();
    m.name("contribution_id");
    push_json_string(&mut m.text, &c.contribution_id);
    m.end();
    m.name("date");
    m.text.push('"');
    crate::push_date_text(&mut m.text, c.date);
    m.text.push('"');
    m.end();
    m.name("description");
    push_json_string(&mut m.text, &c.description);
    m.end();
    m.name("effort");
    m.text.push('"');
    c.effort.push_text(&mut m.text);
    m.text.push('"');
    m.end();
    if let Some(evidence) = &c.evidence {
        m.name("evidence");
        push_json_string(&mut m.text, evidence);
        m.end();
    }
    m.name("node_id");
    push_json_string(&mut m.text, &c.node_id);
    m.end();
    m.name("person_id");
    push_json_string(&mut m.text, &c.person_id);
    m.end();
    m.name("phase");
    m.text.push('"');
    m.text.push_str(c.phase.as_str());
    m.text.push('"');
    m.end();
    m.text.push('}');
    m
}

/// Writes a canonical JSON object member by member (names in sorted order, by the caller),
/// noting where each value is.
struct MemberWriter {
    text: String,
    members: [packed::Member<'static>; packed::MOST_MEMBERS],
    count: usize,
}

impl MemberWriter {
    /// Starts a member: the separator and its name; its value follows.
    fn name(&mut self, name: &'static str) {
        self.text.push(if self.count == 0 { '{' } else { ',' });
        self.text.push('"');
        self.text.push_str(name);
        self.text.push_str("\":");
        self.members[self.count] = (name, self.text.len()..self.text.len());
    }

    /// Ends the member whose value was just written.
    fn end(&mut self) {
        self.members[self.count].1.end = self.text.len();
        self.count += 1;
    }

    /// The members written so far, in order.
    fn members(&self) -> &[packed::Member<'static>] {
        &self.members[..self.count]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Amount;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_direct_contribution_payload_is_serdes(
            confirmed in any::<bool>(),
            ids in proptest::collection::vec("\\PC{0,12}|[\"\\\\\u{0}-\u{1f}\u{7f}é€😀 a-z]{0,12}", 4),
            evidence in proptest::option::of(".{0,20}"),
            days in -800_000i32..3_000_000,
            effort in prop_oneof![Just(0.0), 0.0f64..1e6, Just(0.1), Just(2.5), Just(1e-7), (0u32..100).prop_map(f64::from)],
            phase in 0usize..5,
        ) {
            let record = ContributionRecord {
                confirmed,
                contribution_id: ids[0].clone(),
                date: NaiveDate::from_num_days_from_ce_opt(days).unwrap_or_default(),
                description: ids[1].clone(),
                effort: Amount(effort),
                evidence,
                node_id: ids[2].clone(),
                person_id: ids[3].clone(),
                phase: Phase::ALL[phase],
            };
            let event = Event::ContributionRecorded(record);
            prop_assert_eq!(event.canonical_payload(), event.serde_payload());
        }
    }

    proptest! {
        /// `from_parts` reads a contribution's payload straight into its record; the result
        /// (the event, or whether it is refused) is that of reading the tagged document, for
        /// canonical payloads and damaged ones.
        #[test]
        fn a_contribution_read_directly_equals_the_tagged_reading(
            ids in proptest::collection::vec("\\PC{0,12}|[\"\\\\\u{0}-\u{1f}é a-z]{0,12}", 4),
            effort in prop_oneof![Just(0.0), 0.0f64..1e6, Just(2.5)],
            damage in 0usize..5,
        ) {
            let record = ContributionRecord {
                confirmed: effort > 1.0,
                contribution_id: ids[0].clone(),
                date: day(3),
                description: ids[1].clone(),
                effort: Amount(effort),
                evidence: None,
                node_id: ids[2].clone(),
                person_id: ids[3].clone(),
                phase: Phase::Build,
            };
            let payload = Event::ContributionRecorded(record).canonical_payload();
            let payload = match damage {
                0 => payload,
                1 => payload.replacen('{', "{\"extra\":1,", 1),
                2 => payload.replacen("\"phase\"", "\"stage\"", 1),
                3 => payload.replacen("\"build\"", "7", 1),
                _ => payload[..payload.floor_char_boundary(payload.len() / 2)].to_string(),
            };
            let tagged: Result<Event, serde_json::Error> = serde_json::from_str(&format!(
                "{{\"kind\":\"contribution_recorded\",\"payload\":{payload}}}"
            ));
            let direct = Event::from_parts("contribution_recorded", &payload);
            prop_assert_eq!(direct.as_ref().ok(), tagged.as_ref().ok(), "{}", payload);
        }
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 5, d).unwrap_or_default()
    }

    /// One event of every kind, with every optional field set.
    fn one_of_each() -> Vec<Event> {
        let person = PersonRecord {
            person_id: "P\"1".into(),
            name: "Zoë \\ \u{1}".into(),
            email: Some("z@example.org".into()),
            joined_on: day(1),
            left_on: Some(day(2)),
        };
        let unit = UnitRecord {
            unit_id: "U1".into(),
            name: "Unit".into(),
            parent_unit_id: Some("U0".into()),
            valid_from: day(1),
            valid_to: Some(day(3)),
        };
        let node = NodeRecord {
            node_id: "N1".into(),
            kind: NodeKind::Initiative,
            title: "T".into(),
            lead_id: Some("P1".into()),
            created_on: day(1),
            status: NodeStatus::Active,
            flagpole: true,
            description: "d".into(),
            roles_wanted: vec!["designer".into(), "engineer".into()],
            serves_id: Some("NEED1".into()),
        };
        vec![
            Event::PersonHired(person.clone()),
            Event::PersonUpdated(person),
            Event::PersonLeft {
                person_id: "P1".into(),
                left_on: day(4),
            },
            Event::UnitCreated(unit.clone()),
            Event::UnitRenamed {
                unit_id: "U1".into(),
                name: "New".into(),
                effective_on: day(2),
            },
            Event::UnitMoved {
                unit_id: "U1".into(),
                parent_unit_id: Some("U2".into()),
                effective_on: day(2),
            },
            Event::UnitDissolved {
                unit_id: "U1".into(),
                valid_to: day(9),
            },
            Event::UnitUpdated(unit),
            Event::AssignmentChanged(AssignmentRecord {
                person_id: "P1".into(),
                unit_id: "U1".into(),
                manager_id: Some("P2".into()),
                valid_from: day(1),
            }),
            Event::NodeCreated(node.clone()),
            Event::NodeUpdated(node),
            Event::NodeStatusChanged {
                node_id: "N1".into(),
                status: NodeStatus::Done,
                effective_on: day(5),
            },
            Event::NodeLinked(EdgeRecord {
                parent_id: "N0".into(),
                child_id: "N1".into(),
                weight: Amount(0.25),
                valid_from: Some(day(1)),
                valid_to: Some(day(8)),
            }),
            Event::NodeUnlinked {
                parent_id: "N0".into(),
                child_id: "N1".into(),
                valid_from: Some(day(1)),
                valid_to: day(7),
            },
            Event::MemberJoined(MemberRecord {
                node_id: "N1".into(),
                person_id: "P1".into(),
                role: "r".into(),
                joined_on: day(1),
                left_on: Some(day(6)),
            }),
            Event::MemberLeft {
                node_id: "N1".into(),
                person_id: "P1".into(),
                joined_on: day(1),
                left_on: day(6),
            },
            Event::ContributionRecorded(ContributionRecord {
                contribution_id: "C1".into(),
                person_id: "P1".into(),
                node_id: "N1".into(),
                phase: Phase::Build,
                date: day(3),
                effort: Amount(1.5),
                description: "x".into(),
                evidence: Some("https://example.org/pr/1".into()),
                confirmed: false,
            }),
            Event::ContributionConfirmed {
                contribution_id: "C1".into(),
                confirmed_on: day(4),
                confirmed_by: Some("P2".into()),
            },
            Event::ContributionRetracted {
                contribution_id: "C1".into(),
                retracted_on: day(5),
                reason: "dup".into(),
            },
            Event::ContributionUnconfirmed {
                by: Some("P2".into()),
                contribution_id: "C1".into(),
                reason: "not this node's work".into(),
                unconfirmed_on: day(5),
            },
            Event::RoleGranted {
                by: None,
                granted_on: day(1),
                person_id: "P1".into(),
                role: Role::Hr,
            },
            Event::RoleRevoked {
                by: Some("P2".into()),
                person_id: "P1".into(),
                revoked_on: day(3),
                role: Role::Hr,
            },
            Event::JoinRequested {
                message: "I can help".into(),
                node_id: "N1".into(),
                person_id: "P3".into(),
                requested_on: day(2),
                role: "designer".into(),
            },
            Event::JoinAnswered {
                by: Some("P1".into()),
                node_id: "N1".into(),
                on: day(3),
                person_id: "P3".into(),
                status: JoinStatus::Accepted,
            },
            Event::LedgerExported {
                by: Some("P1".into()),
                exported_on: day(4),
                through_seq: 41,
            },
            Event::PolicySet {
                by: None,
                kind: PolicyKind::Credit,
                set_on: day(4),
                text: "peer_factor = 0.5\n".into(),
            },
            Event::PersonErased {
                by: Some("P2".into()),
                erased_on: day(9),
                person_id: "P3".into(),
                reason: "request 2024-17".into(),
            },
            Event::RetentionApplied {
                applied_on: day(9),
                by: None,
                erased: 12,
                settings: "[retention]\nrating_comments = 3\n".into(),
            },
            Event::LedgerUpgraded {
                old_hash: "ab".repeat(32),
                old_seq: 41,
                upgraded_on: day(9),
            },
            Event::OutcomeRecorded(OutcomeRecord {
                outcome_id: "O1".into(),
                node_id: "N1".into(),
                date: day(9),
                value: Amount(100.0),
                description: "v".into(),
                evidence: Some("e".into()),
            }),
            Event::NodeHandedOver(HandoverRecord {
                node_id: "N1".into(),
                date: day(2),
                from_lead_id: Some("P1".into()),
                to_lead_id: Some("P2".into()),
                from_unit_id: Some("U1".into()),
                to_unit_id: Some("U2".into()),
                note: "n".into(),
            }),
        ]
        .into_iter()
        .chain(review_events())
        .collect()
    }

    fn review_events() -> Vec<Event> {
        let mut cycle = CycleRecord::with_defaults("2024H1", day(1), day(30));
        cycle.committee = vec!["P9".into()];
        cycle.deadlines = vec![Deadline {
            due_on: day(10),
            phase: CyclePhase::Goals,
        }];
        let change = ReviewerChange {
            by: "P1".into(),
            cycle_id: "2024H1".into(),
            ratee_id: "P1".into(),
            reason: "worked together on N1".into(),
            reviewer_id: "P2".into(),
        };
        vec![
            Event::CycleOpened(cycle),
            Event::CyclePhaseChanged {
                cycle_id: "2024H1".into(),
                effective_on: day(11),
                phase: CyclePhase::SelfReview,
            },
            Event::GoalSet(GoalRecord {
                cycle_id: "2024H1".into(),
                goal_id: "G1".into(),
                key_results: vec![KeyResult {
                    metric: "conversion".into(),
                    target: Amount(0.05),
                }],
                node_id: "N1".into(),
                person_id: "P1".into(),
                title: "Lift conversion".into(),
            }),
            Event::KeyResultMeasured(Measurement {
                actual: Amount(0.04),
                goal_id: "G1".into(),
                measured_on: day(20),
                metric: "conversion".into(),
            }),
            Event::ReviewerAdded(change.clone()),
            Event::ReviewerRemoved(change),
            Event::SelfReviewLinked(SelfReviewEntry {
                circle: Circle::BuiltOn,
                contribution_id: "C1".into(),
                cycle_id: "2024H1".into(),
                entry_id: "S1".into(),
                person_id: "P2".into(),
                text: "reused the research".into(),
            }),
            Event::BehaviourAssessed(BehaviourAssessment {
                assessed_by: "P2".into(),
                behaviour: "shares knowledge".into(),
                cycle_id: "2024H1".into(),
                evidence: "C1".into(),
                met: true,
                person_id: "P1".into(),
                value: "collaboration".into(),
            }),
            Event::RatingRecorded(RatingRecord {
                comment: "solid".into(),
                cycle_id: "2024H1".into(),
                dimension: "results".into(),
                ratee_id: "P1".into(),
                rater_id: "P2".into(),
                relationship: Relationship::Peer,
                score: Amount(4.0),
                status: RatingStatus::Submitted,
            }),
            Event::CalibrationRecorded(CalibrationResult {
                cycle_id: "2024H1".into(),
                dimension: String::new(),
                model: "full".into(),
                ratings: 1,
                scores: vec![CalibratedScore {
                    calibrated: Amount(3.5),
                    n_ratings: 1,
                    person_id: "P1".into(),
                    raw_mean: Amount(4.0),
                    std_error: Amount(0.5),
                    uncalibrated: true,
                }],
                warnings: vec!["nobody was rated by two or more raters".into()],
            }),
            Event::ScoreOverridden(OverrideRecord {
                by: "P9".into(),
                cycle_id: "2024H1".into(),
                dimension: String::new(),
                person_id: "P1".into(),
                previous: Amount(3.5),
                reason: "evidence of N1 launch".into(),
                score: Amount(4.0),
            }),
            Event::PeerPointsGiven(PeerAllocation {
                date: day(30),
                giver_id: "P1".into(),
                node_id: "N1".into(),
                points: vec![
                    PeerPoints {
                        person_id: "P2".into(),
                        points: 60,
                    },
                    PeerPoints {
                        person_id: "P3".into(),
                        points: 40,
                    },
                ],
            }),
        ]
    }

    /// The personal members declared for erasure (`crate::personal`) are members of their
    /// kind's payload, and so is each member naming whom they are about: a renamed field
    /// would otherwise leave its text in the chain.
    #[test]
    fn every_declared_personal_member_is_in_its_kinds_payload() {
        use crate::personal::{Subject, personal_members};
        let events = one_of_each();
        let mut declared_kinds = 0;
        for event in &events {
            let members = personal_members(event.kind());
            if members.is_empty() {
                continue;
            }
            declared_kinds += 1;
            let payload: serde_json::Value =
                serde_json::from_str(&event.canonical_payload()).unwrap_or_default();
            for personal in members {
                assert!(
                    payload
                        .get(personal.member)
                        .is_some_and(serde_json::Value::is_string),
                    "{}: no text member {}",
                    event.kind(),
                    personal.member
                );
                let subjects: Vec<&str> = match personal.subject {
                    Subject::Member(m) | Subject::ContributorOf(m) => vec![m],
                    Subject::FirstOf(ms) => ms.to_vec(),
                };
                for m in subjects {
                    assert!(payload.get(m).is_some(), "{}: no member {m}", event.kind());
                }
            }
        }
        // Every kind the declarations name exists.
        assert_eq!(declared_kinds, 14);
    }

    #[test]
    fn every_kind_serializes_canonically() {
        for event in one_of_each() {
            let text = event.canonical_payload();
            let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            assert_eq!(
                text,
                crate::chain::canonical_json(&parsed),
                "{} is not canonical",
                event.kind()
            );
            assert_eq!(Event::from_parts(event.kind(), &text), Ok(event));
        }
    }

    #[test]
    fn payload_round_trips_through_its_canonical_text() {
        let event = Event::ContributionRecorded(ContributionRecord {
            contribution_id: "C1".into(),
            person_id: "P1".into(),
            node_id: "N1".into(),
            phase: Phase::Design,
            date: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap_or_default(),
            effort: Amount(2.5),
            description: "interviews".into(),
            evidence: None,
            confirmed: true,
        });
        let text = event.canonical_payload();
        assert_eq!(
            text,
            r#"{"confirmed":true,"contribution_id":"C1","date":"2024-03-01","description":"interviews","effort":"2.5","node_id":"N1","person_id":"P1","phase":"design"}"#
        );
        assert_eq!(Event::from_parts(event.kind(), &text), Ok(event));
    }
}
