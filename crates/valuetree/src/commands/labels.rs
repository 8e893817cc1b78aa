//! Labels for the commands that still render core's state directly (org, the review
//! views); the others render the application layer's views (see `show`).

use valuetree_core::NaiveDate;
use valuetree_core::org;
use valuetree_core::state::State;

/// "Name (ID)", or just the id if the person is unknown.
pub fn person_label(state: &State, id: &str) -> String {
    match state.people.get(id) {
        Some(p) => format!("{} ({id})", p.name),
        None => id.to_string(),
    }
}

pub fn unit_label(state: &State, id: &str, date: NaiveDate) -> String {
    match org::unit_version(state, id, date)
        .map(|v| v.name)
        .or_else(|| state.units.get(id).map(|u| u.name.clone()))
    {
        Some(name) => format!("{name} ({id})"),
        None => id.to_string(),
    }
}
