//! The records of the organisation and of the value tree.
//!
//! The same structs are the payloads of ledger events, the rows of import files and the rows
//! of the projection tables, so there is one definition of what a person or a node is.
//!
//! The fields of every record are declared in alphabetical order: serialized as they are,
//! they are already canonical JSON (see `Event::canonical_payload`).

use crate::Amount;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub type PersonId = String;
pub type UnitId = String;
pub type NodeId = String;

/// Declares a closed vocabulary (node kinds, statuses, phases) with its text form.
/// A word that is not in a vocabulary (a phase, a node kind, a role…), with the words that
/// are.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not one of: {}", allowed.join(", "))]
pub struct UnknownValue {
    pub value: String,
    pub allowed: &'static [&'static str],
}

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = $crate::domain::UnknownValue;
            fn from_str(text: &str) -> Result<Self, $crate::domain::UnknownValue> {
                match text.trim() {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::domain::UnknownValue {
                        value: other.to_string(),
                        allowed: &[$($text),+],
                    }),
                }
            }
        }
    };
}
pub(crate) use vocabulary;

vocabulary!(
    /// The level of a value-tree node.
    NodeKind { Need = "need", Objective = "objective", Initiative = "initiative", Deliverable = "deliverable" }
);
vocabulary!(
    NodeStatus { Proposed = "proposed", Active = "active", Done = "done", Abandoned = "abandoned" }
);
vocabulary!(
    /// The phase of the work a contribution belongs to.
    Phase { Discover = "discover", Design = "design", Build = "build", Launch = "launch", Operate = "operate" }
);

vocabulary!(
    /// How a rater knows the person they rate (`report` is upward feedback).
    Relationship { Manager = "manager", Report = "report", Peer = "peer", Lead = "lead", Customer = "customer", SelfReview = "self" }
);

vocabulary!(
    /// A role granted in the ledger. Everyone employed is an `employee` without a grant;
    /// `hr` and `admin` are granted and revoked by events, so that a backup keeps them.
    Role { Employee = "employee", Hr = "hr", Admin = "admin" }
);

vocabulary!(
    /// An organisation-wide policy kept in the ledger: how credit is attributed (docs/credit.md),
    /// how the final score blends its parts, and how long free texts about people are kept
    /// (docs/privacy.md).
    PolicyKind { Credit = "credit", Final = "final", Retention = "retention" }
);
vocabulary!(
    /// Where a request to join a node stands.
    JoinStatus { Pending = "pending", Accepted = "accepted", Declined = "declined", Withdrawn = "withdrawn" }
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub joined_on: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_on: Option<NaiveDate>,
    pub name: String,
    pub person_id: PersonId,
}

impl PersonRecord {
    /// Employed on `date`: joined on or before it, and left (last day) on or after it.
    pub fn employed_on(&self, date: NaiveDate) -> bool {
        self.joined_on <= date && self.left_on.is_none_or(|left| date <= left)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_unit_id: Option<UnitId>,
    pub unit_id: UnitId,
    pub valid_from: NaiveDate,
    /// Last day the unit exists, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<NaiveDate>,
}

impl UnitRecord {
    pub fn exists_on(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && self.valid_to.is_none_or(|to| date <= to)
    }
}

/// A unit's name and parent from a date on (renames and moves are time-versioned).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitVersion {
    pub unit_id: UnitId,
    pub valid_from: NaiveDate,
    pub name: String,
    pub parent_unit_id: Option<UnitId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssignmentRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_id: Option<PersonId>,
    pub person_id: PersonId,
    pub unit_id: UnitId,
    pub valid_from: NaiveDate,
}

/// An assignment as projected: the record plus its derived end (the day before the person's
/// next assignment), which makes "who was where" a plain SQL range query.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub record: AssignmentRecord,
    pub valid_to: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub created_on: NaiveDate,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub flagpole: bool,
    pub kind: NodeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<PersonId>,
    pub node_id: NodeId,
    /// Roles the node's lead is looking for (a flagpole's open roles).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles_wanted: Vec<String>,
    /// The need (or objective) a flagpole says it serves, before the lead of that node links
    /// it into the tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serves_id: Option<NodeId>,
    pub status: NodeStatus,
    pub title: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeRecord {
    pub child_id: NodeId,
    pub parent_id: NodeId,
    /// `None`: linked since always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
    /// Last day of the link, inclusive; `None`: still linked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<NaiveDate>,
    pub weight: Amount,
}

impl EdgeRecord {
    pub fn valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from.is_none_or(|from| from <= date) && self.valid_to.is_none_or(|to| date <= to)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub joined_on: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_on: Option<NaiveDate>,
    pub node_id: NodeId,
    pub person_id: PersonId,
    pub role: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContributionRecord {
    #[serde(default)]
    pub confirmed: bool,
    pub contribution_id: String,
    pub date: NaiveDate,
    #[serde(default)]
    pub description: String,
    pub effort: Amount,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    pub node_id: NodeId,
    pub person_id: PersonId,
    pub phase: Phase,
}

/// A contribution as projected: the record as recorded, plus what later events did to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Contribution {
    pub record: ContributionRecord,
    pub confirmed_on: Option<NaiveDate>,
    pub retracted_on: Option<NaiveDate>,
    pub retraction_reason: Option<String>,
}

impl Contribution {
    pub fn is_confirmed(&self) -> bool {
        self.record.confirmed || self.confirmed_on.is_some()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    pub date: NaiveDate,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    pub node_id: NodeId,
    pub outcome_id: String,
    pub value: Amount,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandoverRecord {
    pub date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_lead_id: Option<PersonId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_unit_id: Option<UnitId>,
    pub node_id: NodeId,
    #[serde(default)]
    pub note: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_lead_id: Option<PersonId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_unit_id: Option<UnitId>,
}

/// Points one member gives another for their part in a node's work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerPoints {
    pub person_id: PersonId,
    pub points: u32,
}

/// A member's allocation of 100 points among the node's other members, for the period ending
/// on `date`. Blended with effort when a credit policy sets `peer_factor`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerAllocation {
    pub date: NaiveDate,
    pub giver_id: PersonId,
    pub node_id: NodeId,
    pub points: Vec<PeerPoints>,
}

/// Every allocation gives exactly this many points.
pub const PEER_POINTS_PER_ALLOCATION: u32 = 100;

/// The policy in force, as projected from the last `policy_set` of its kind: the settings as
/// written (TOML), checked by the application before they were recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicySetting {
    pub kind: PolicyKind,
    pub set_by: Option<PersonId>,
    pub set_on: NaiveDate,
    pub text: String,
}

/// A role held by a person, as projected from `role_granted` / `role_revoked`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleHolding {
    pub granted_by: Option<PersonId>,
    pub granted_on: NaiveDate,
    pub person_id: PersonId,
    pub revoked_by: Option<PersonId>,
    pub revoked_on: Option<NaiveDate>,
    pub role: Role,
}

impl RoleHolding {
    /// Held on `date`: granted on or before it and not revoked by then.
    pub fn held_on(&self, date: NaiveDate) -> bool {
        self.granted_on <= date && self.revoked_on.is_none_or(|revoked| date < revoked)
    }
}

/// A person's request to join a node (a flagpole), and its answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub answered_by: Option<PersonId>,
    pub answered_on: Option<NaiveDate>,
    pub message: String,
    pub node_id: NodeId,
    pub person_id: PersonId,
    pub requested_on: NaiveDate,
    pub role: String,
    pub status: JoinStatus,
}
