//! Labels for the review views that still render core's state directly; the other commands
//! render the application layer's views (see `render`).

use valuetree_core::state::State;

/// "Name (ID)", or just the id if the person is unknown.
pub fn person_label(state: &State, id: &str) -> String {
    match state.people.get(id) {
        Some(p) => format!("{} ({id})", p.name),
        None => id.to_string(),
    }
}
