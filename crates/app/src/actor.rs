//! Who acts: a signed-in person with their roles, or the operator.

use serde::Serialize;
use valuetree_core::NaiveDate;
use valuetree_core::domain::{PersonId, Role};
use valuetree_core::state::State;

/// The actor of every query and command. A face never builds a person actor from a request
/// field: the CLI builds it from `--as`, the server from the signed-in identity, both through
/// [`Actor::person`], which reads the person's roles from the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// Whoever holds the database (the command line without `--as`): local administration,
    /// allowed everything, and may act on a named person's behalf.
    Operator,
    /// A person, with the roles they hold today (`employee` when employed, and `hr` /
    /// `admin` when granted in the ledger).
    Person {
        person_id: PersonId,
        roles: Vec<Role>,
    },
    /// A service account of an integration (signed in with an API token), with the roles
    /// its account was given. It is nobody in the ledger: like the operator it may name the
    /// person an action is for, and its rules decide whether it may.
    Service { username: String, roles: Vec<Role> },
}

/// How the operator appears in the ledger's `actor` field.
pub const OPERATOR: &str = "operator";

impl Actor {
    /// The person `person_id` as an actor, with the roles the ledger gives them on `today`;
    /// `None` if nobody of that id was ever hired.
    pub fn person(state: &State, person_id: &str, today: NaiveDate) -> Option<Actor> {
        state.people.get(person_id)?;
        Some(Actor::Person {
            person_id: person_id.to_string(),
            roles: state.roles_of(person_id, today),
        })
    }

    /// The text written into the ledger envelope's `actor` field.
    pub fn ledger_name(&self) -> String {
        match self {
            Actor::Operator => OPERATOR.to_string(),
            Actor::Person { person_id, .. } => person_id.clone(),
            Actor::Service { username, .. } => format!("service:{username}"),
        }
    }

    pub fn person_id(&self) -> Option<&str> {
        match self {
            Actor::Operator | Actor::Service { .. } => None,
            Actor::Person { person_id, .. } => Some(person_id),
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Actor::Operator)
    }

    pub fn has_role(&self, role: Role) -> bool {
        match self {
            Actor::Operator => false,
            Actor::Person { roles, .. } | Actor::Service { roles, .. } => roles.contains(&role),
        }
    }

    /// Whether this actor is the person `id`.
    pub fn is(&self, id: &str) -> bool {
        self.person_id() == Some(id)
    }
}
