//! The ledger's event kinds.
//!
//! Every change to valuetree is one of these. The serialized form (`kind` + `payload`) is what
//! the ledger stores and hashes; see [`crate::chain`] for the envelope around it.

use crate::domain::*;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum Event {
    PersonHired(PersonRecord),
    /// A new version of a person's master record (as a new HRIS export would carry).
    PersonUpdated(PersonRecord),
    PersonLeft {
        person_id: PersonId,
        left_on: NaiveDate,
    },
    UnitCreated(UnitRecord),
    UnitRenamed {
        unit_id: UnitId,
        name: String,
        effective_on: NaiveDate,
    },
    UnitMoved {
        unit_id: UnitId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_unit_id: Option<UnitId>,
        effective_on: NaiveDate,
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
        node_id: NodeId,
        status: NodeStatus,
        effective_on: NaiveDate,
    },
    /// Links parent → child, or re-links an existing link (same parent, child and start) with
    /// a new weight or end.
    NodeLinked(EdgeRecord),
    NodeUnlinked {
        parent_id: NodeId,
        child_id: NodeId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        valid_from: Option<NaiveDate>,
        valid_to: NaiveDate,
    },
    MemberJoined(MemberRecord),
    MemberLeft {
        node_id: NodeId,
        person_id: PersonId,
        joined_on: NaiveDate,
        left_on: NaiveDate,
    },
    ContributionRecorded(ContributionRecord),
    ContributionConfirmed {
        contribution_id: String,
        confirmed_on: NaiveDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirmed_by: Option<PersonId>,
    },
    ContributionRetracted {
        contribution_id: String,
        retracted_on: NaiveDate,
        reason: String,
    },
    OutcomeRecorded(OutcomeRecord),
    NodeHandedOver(HandoverRecord),
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
            Event::OutcomeRecorded(_) => "outcome_recorded",
            Event::NodeHandedOver(_) => "node_handed_over",
        }
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
            Event::OutcomeRecorded(o) => o.date,
            Event::NodeHandedOver(h) => h.date,
            Event::PersonUpdated(_) | Event::UnitUpdated(_) | Event::NodeUpdated(_) => return None,
        })
    }

    /// The canonical JSON of the payload (see [`crate::chain::canonical_json`]).
    pub fn canonical_payload(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let payload = value
            .get("payload")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        crate::chain::canonical_json(&payload)
    }

    /// Reads an event back from its stored kind and payload text.
    pub fn from_parts(kind: &str, payload: &str) -> Result<Event, String> {
        let payload: serde_json::Value =
            serde_json::from_str(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
        let tagged = serde_json::json!({ "kind": kind, "payload": payload });
        serde_json::from_value(tagged).map_err(|e| format!("not a valid `{kind}` event: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Amount;

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
