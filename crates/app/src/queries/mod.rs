//! Queries: plain data for every face. Each takes the actor and asks [`crate::authz`]
//! before it returns anything private.

mod credit;
mod diagnose;
mod explore;
mod org;
mod person;
mod review;
mod reviewing;
mod tree;
mod work;

pub use credit::*;
pub use diagnose::*;
pub use explore::*;
pub use org::*;
pub use person::*;
pub use review::*;
pub use reviewing::*;
pub use tree::*;
pub use work::*;

use crate::error::{AppError, AppResult};
use serde::Serialize;
use valuetree_core::NaiveDate;
use valuetree_core::org as timeline;
use valuetree_core::state::State;

/// A person named in a view: id and name (empty if the ledger does not know the id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonRef {
    pub person_id: String,
    pub name: String,
}

impl PersonRef {
    pub fn of(state: &State, id: &str) -> PersonRef {
        PersonRef {
            person_id: id.to_string(),
            name: state
                .people
                .get(id)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
        }
    }
}

/// A unit named in a view, with its name as of the date in question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnitRef {
    pub unit_id: String,
    pub name: String,
}

impl UnitRef {
    pub fn of(state: &State, id: &str, date: NaiveDate) -> UnitRef {
        UnitRef {
            unit_id: id.to_string(),
            name: timeline::unit_version(state, id, date)
                .map(|v| v.name)
                .or_else(|| state.units.get(id).map(|u| u.name.clone()))
                .unwrap_or_default(),
        }
    }
}

/// A node named in a view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeRef {
    pub node_id: String,
    pub title: String,
}

impl NodeRef {
    pub fn of(state: &State, id: &str) -> NodeRef {
        NodeRef {
            node_id: id.to_string(),
            title: state
                .nodes
                .get(id)
                .map(|n| n.title.clone())
                .unwrap_or_default(),
        }
    }
}

/// Refuses a reversed period (`from` after `to`) instead of answering it with nothing.
pub(crate) fn check_period(from: Option<NaiveDate>, to: Option<NaiveDate>) -> AppResult<()> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => Err(AppError::Invalid(format!(
            "the period is reversed: from {from} is after to {to}; give the earlier date first"
        ))),
        _ => Ok(()),
    }
}
