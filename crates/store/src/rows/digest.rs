//! Digests of projection rows, for a check that holds digests instead of rows (see
//! `valuetree_core::digests`).
//!
//! A digest feeds each cell as [`Cell::same_as`] compares it: text by its bytes, a number by
//! its value as a double whether stored as an integer or a real (SQLite may store a whole
//! real as an integer), so a stored row and a replayed row digest alike exactly when they
//! compare alike. (Two integers beyond 2^53 that round to the same double digest alike; no
//! column holds such integers.) SipHash-1-3 with fixed keys: the same on every run, and a
//! row edited to keep its 64-bit digest would need some 2^64 tries.

use crate::sql::{Cell, Value};
use std::hash::Hasher;

/// The digest of a row's cells.
pub fn of_cells(cells: &[Cell<'_>]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    for cell in cells {
        feed(&mut hasher, *cell);
    }
    hasher.finish()
}

/// The digest of an owned row's values: [`of_cells`] of the same cells.
pub fn of_values(values: &[Value]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    for value in values {
        feed(&mut hasher, as_cell(value));
    }
    hasher.finish()
}

/// The value as the cell that would hold it.
pub fn as_cell(value: &Value) -> Cell<'_> {
    match value {
        Value::Null => Cell::Null,
        Value::Int(i) => Cell::Int(*i),
        Value::Real(f) => Cell::Real(*f),
        Value::Text(t) => Cell::Text(t),
    }
}

fn feed(hasher: &mut impl Hasher, cell: Cell<'_>) {
    let number = |hasher: &mut dyn Hasher, f: f64| {
        hasher.write_u8(2);
        // 0.0 and -0.0 compare equal.
        hasher.write_u64(if f == 0.0 { 0 } else { f.to_bits() });
    };
    match cell {
        Cell::Null => hasher.write_u8(0),
        Cell::Int(i) => number(hasher, i as f64),
        Cell::Real(f) => number(hasher, f),
        Cell::Text(text) => text_bytes(hasher, text.as_bytes()),
        Cell::Utf8(bytes) => text_bytes(hasher, bytes),
    }
}

fn text_bytes(hasher: &mut impl Hasher, bytes: &[u8]) {
    hasher.write_u8(1);
    hasher.write_usize(bytes.len());
    hasher.write(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_compare_alike_digest_alike() {
        let stored = [Cell::Text("C1"), Cell::Int(2), Cell::Null, Cell::Utf8(b"x")];
        let replayed = [
            Value::text("C1"),
            Value::Real(2.0),
            Value::Null,
            Value::text("x"),
        ];
        assert!(stored.iter().zip(&replayed).all(|(s, r)| s.same_as(r)));
        assert_eq!(of_cells(&stored), of_values(&replayed));
    }

    #[test]
    fn a_changed_or_moved_value_changes_the_digest() {
        let row = [Cell::Text("ab"), Cell::Text("c")];
        for other in [
            [Cell::Text("a"), Cell::Text("bc")],
            [Cell::Text("ab"), Cell::Text("d")],
            [Cell::Text("ab"), Cell::Null],
            [Cell::Text("ab"), Cell::Real(0.0)],
        ] {
            assert_ne!(of_cells(&row), of_cells(&other), "{other:?}");
        }
    }

    #[test]
    fn a_records_digest_is_the_digest_of_its_rows_cells() {
        use valuetree_core::domain::*;
        let record: ContributionRecord = serde_json::from_value(serde_json::json!({
            "contribution_id": "C1", "person_id": "P1", "node_id": "N1", "phase": "build",
            "date": "2024-03-01", "effort": 0.5, "description": "did it", "confirmed": true
        }))
        .expect("a contribution");
        let row = super::super::contribution_row(&Contribution {
            record: record.clone(),
            confirmed_on: None,
            retracted_on: None,
            retraction_reason: None,
        });
        assert_eq!(
            super::super::contribution_record_digest(&record),
            of_values(&row[..8])
        );
    }
}
