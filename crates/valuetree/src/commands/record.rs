//! Appending events typed on the command line, with the ledger's refusal in words.

use anyhow::Result;
use valuetree_core::event::Event;
use valuetree_store::{Head, StoreError};

/// A store error as the user should read it: every refused field with its reason.
pub fn rejected(error: StoreError) -> anyhow::Error {
    match error {
        StoreError::Rejected(errors) => {
            let reasons: Vec<String> = errors
                .iter()
                .map(|e| match &e.error.column {
                    Some(field) => format!("{field}: {}", e.error.reason),
                    None => e.error.reason.clone(),
                })
                .collect();
            anyhow::anyhow!("refused, nothing was recorded: {}", reasons.join("; "))
        }
        other => other.into(),
    }
}

/// Appends `events` in one transaction and returns the new head.
pub fn record(db: &str, actor: &str, events: Vec<Event>) -> Result<Option<Head>> {
    let mut store = crate::open_store(db)?;
    let summary = store
        .append(events.into_iter().map(|e| (e, None)).collect(), actor)
        .map_err(rejected)?;
    Ok(summary.head)
}
