//! Reading a ledger export (JSON Lines).

use std::io::BufRead;
use valuetree_core::chain::StoredEvent;
use valuetree_core::import::RowError;

/// Reads every event of an export, with its line number. Blank lines are allowed.
pub fn parse_ledger(reader: impl BufRead) -> Result<Vec<(u64, StoredEvent)>, Vec<RowError>> {
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let number = i as u64 + 1;
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                errors.push(RowError {
                    line: number,
                    column: None,
                    reason: format!("cannot read the line: {e}"),
                });
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<StoredEvent>(&line) {
            Ok(event) => events.push((number, event)),
            Err(e) => errors.push(RowError {
                line: number,
                column: None,
                reason: format!("not a ledger event: {e}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(events)
    } else {
        Err(errors)
    }
}
