//! How long a text may be, per column: what a file row or a write may carry.
//!
//! A 10 MB description is a mistake (a file pasted into a cell, a runaway export) and a cost
//! to every page, export and replay that shows it; the limits below are generous for what
//! each column holds. They are counted in characters, not bytes, so that a name in Chinese
//! has the room a name in English has. The table is in `docs/limits.md`.
//!
//! They apply to what is newly recorded (an imported row, a command, an API call). An
//! exported ledger that is imported again is taken as it was recorded.

use crate::event::Event;
use crate::state::Rejection;

/// Ids: people, units, nodes, contributions, outcomes, cycles, events.
pub const ID_CHARS: usize = 64;
/// Names and titles: a person's name, a unit's name, a node's title, a goal.
pub const NAME_CHARS: usize = 200;
/// An e-mail address (RFC 5321's longest path).
pub const EMAIL_CHARS: usize = 254;
/// Free text: descriptions, evidence, notes, reasons, comments, messages, self-reviews.
pub const TEXT_CHARS: usize = 10_000;
/// A policy file as set with `valuetree policy set`.
pub const POLICY_CHARS: usize = 100_000;
/// Any other text column (a URL, a role, a relationship, a unit of measure).
pub const OTHER_CHARS: usize = 1_000;

/// The longest text `column` may hold.
pub fn max_chars(column: &str) -> usize {
    match column {
        "email" => EMAIL_CHARS,
        "name" | "title" => NAME_CHARS,
        "description" | "evidence" | "note" | "reason" | "comment" | "message" | "text" => {
            TEXT_CHARS
        }
        "id" | "event_id" | "by" | "confirmed_by" => ID_CHARS,
        c if c.ends_with("_id") => ID_CHARS,
        _ => OTHER_CHARS,
    }
}

/// Why `text` is too long for `column`, if it is.
pub fn too_long(column: &str, text: &str) -> Option<String> {
    too_long_for(column, text, max_chars(column))
}

fn too_long_for(column: &str, text: &str, max: usize) -> Option<String> {
    // A byte count within the limit is a character count within it.
    if text.len() <= max {
        return None;
    }
    let chars = text.chars().count();
    (chars > max).then(|| {
        format!("is {chars} characters long; {column} holds at most {max} (see docs/limits.md)")
    })
}

/// Checks every text of a new event against its column's limit. Events valuetree writes
/// itself (a calibration's results, an export's or an upgrade's record) are not checked.
pub fn check_event(event: &Event) -> Result<(), Rejection> {
    match event {
        Event::CalibrationRecorded(_)
        | Event::LedgerExported { .. }
        | Event::LedgerUpgraded { .. }
        | Event::RetentionApplied { .. } => return Ok(()),
        Event::PolicySet { text, .. } => {
            return match too_long_for("policy", text, POLICY_CHARS) {
                Some(reason) => Err(Rejection {
                    field: "text",
                    reason,
                }),
                None => Ok(()),
            };
        }
        _ => {}
    }
    let value = serde_json::to_value(event).map_err(|e| Rejection {
        field: "payload",
        reason: format!("cannot be read as JSON: {e}"),
    })?;
    match value.get("payload") {
        Some(payload) => check_value("payload", payload),
        None => Ok(()),
    }
}

/// Walks a payload: a string is checked under the name of the member that holds it (an
/// array's items under the array's name).
fn check_value(member: &str, value: &serde_json::Value) -> Result<(), Rejection> {
    match value {
        serde_json::Value::String(text) => match too_long(member, text) {
            Some(reason) => Err(Rejection {
                field: static_name(member),
                reason,
            }),
            None => Ok(()),
        },
        serde_json::Value::Array(items) => items.iter().try_for_each(|v| check_value(member, v)),
        serde_json::Value::Object(members) => members
            .iter()
            .try_for_each(|(name, v)| check_value(name, v)),
        _ => Ok(()),
    }
}

/// The member's name as the `'static` field a rejection names: the member names events
/// carry texts in, or `payload` for one this list does not know.
fn static_name(member: &str) -> &'static str {
    const NAMES: &[&str] = &[
        "email",
        "name",
        "title",
        "description",
        "evidence",
        "note",
        "reason",
        "comment",
        "message",
        "text",
        "event_id",
        "by",
        "confirmed_by",
        "person_id",
        "unit_id",
        "parent_unit_id",
        "manager_id",
        "node_id",
        "parent_id",
        "child_id",
        "lead_id",
        "from_lead_id",
        "to_lead_id",
        "contribution_id",
        "outcome_id",
        "cycle_id",
        "goal_id",
        "rater_id",
        "ratee_id",
        "giver_id",
        "receiver_id",
        "role",
        "url",
    ];
    NAMES
        .iter()
        .find(|name| **name == member)
        .copied()
        .unwrap_or("payload")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ContributionRecord;

    #[test]
    fn limits_count_characters_not_bytes() {
        // 200 Chinese characters are 600 bytes: a name, within its limit.
        assert_eq!(too_long("name", &"张".repeat(NAME_CHARS)), None);
        let reason = too_long("name", &"张".repeat(NAME_CHARS + 1)).expect("too long");
        assert!(reason.contains("201 characters") && reason.contains("at most 200"));
        assert!(too_long("person_id", &"P".repeat(ID_CHARS + 1)).is_some());
        assert!(too_long("description", &"x".repeat(TEXT_CHARS)).is_none());
    }

    #[test]
    fn a_new_event_with_a_too_long_text_is_refused_naming_the_member() {
        let record: ContributionRecord = serde_json::from_value(serde_json::json!({
            "contribution_id": "C1",
            "person_id": "P1",
            "node_id": "INI1",
            "date": "2024-05-01",
            "phase": "build",
            "effort": "1",
            "confirmed": false,
            "description": "x".repeat(TEXT_CHARS + 1),
        }))
        .expect("a contribution");
        let refused = check_event(&Event::ContributionRecorded(record.clone()))
            .expect_err("a description over the limit");
        assert_eq!(refused.field, "description");
        let mut fine = record;
        fine.description = "fixed the checkout".into();
        assert_eq!(check_event(&Event::ContributionRecorded(fine)), Ok(()));
    }
}
