//! valuetree's exchange formats.
//!
//! - CSV import files, one per kind of record ([`Kind`]). Dates are ISO 8601 (`2024-03-31`);
//!   an empty cell is "none"; columns marked optional may be left out; any other unknown
//!   column is an error, so a typo in a header never silently drops data.
//! - The ledger export: JSON Lines, one canonical event envelope per line
//!   (see `valuetree_core::chain`).
//!
//! Parsing reports every bad row (line, column, reason), not just the first.

mod csv_files;
mod ledger_file;
pub mod plan;
pub mod ratings;
mod small_csv;

pub use csv_files::{CsvStream, Kind, parse_csv, parse_csv_rows, stream_csv, stream_csv_file};
pub use ledger_file::parse_ledger;
