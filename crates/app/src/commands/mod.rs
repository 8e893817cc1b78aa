//! Commands: the writes a person makes one by one. Each checks [`crate::authz`] against the
//! state the events are appended to (inside the write, under the writer lock), fills every
//! "by" field from the actor, and returns a [`crate::Receipt`].

pub mod calibration;
pub mod ledger;
pub mod privacy;
pub mod review;
pub mod roles;
pub mod work;

use crate::actor::Actor;
use crate::error::{AppError, AppResult};
use valuetree_core::domain::PersonId;

/// The person a command acts as: the actor, or for the operator the person named (the
/// command line's `--by`, `--rater`, `--person`). A person actor naming someone else is
/// refused by the command's own rule; naming nobody means themselves.
pub(crate) fn acting_person(
    actor: &Actor,
    named: Option<&str>,
    field: &str,
) -> AppResult<PersonId> {
    match (actor.person_id(), named) {
        (Some(me), None) => Ok(me.to_string()),
        (Some(me), Some(other)) if other == me => Ok(me.to_string()),
        (Some(_), Some(other)) => Ok(other.to_string()),
        (None, Some(other)) => Ok(other.to_string()),
        (None, None) => Err(AppError::invalid(format!(
            "say on whose behalf with --{field} (the operator acts for a named person)"
        ))),
    }
}

/// The person who did it, as a "by" field: the actor's own id; the operator's is empty.
pub(crate) fn by_of(actor: &Actor) -> Option<PersonId> {
    actor.person_id().map(str::to_string)
}

/// An id for a record made from a page, which names none: random, so that two writes in the
/// same instant never collide.
pub(crate) fn fresh_id(prefix: &str) -> AppResult<String> {
    let mut nonce = [0u8; 6];
    getrandom::fill(&mut nonce)
        .map_err(|e| AppError::Internal(format!("no randomness from the system: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(nonce)))
}
