//! The pure heart of valuetree.
//!
//! Everything here is plain data in, plain data out: no files, no database, no clock reads
//! (time is passed in through [`clock::Clock`]). The store and the CLI are thin shells around it.
//!
//! - [`domain`]: the records of the organisation and the value tree (people, units, nodes, …).
//! - [`event`]: the ledger's event kinds and their canonical encoding.
//! - [`chain`]: the hash chain: how an event's hash is computed and checked.
//! - [`state`]: the projections held in memory, and the rules every event must pass.
//! - [`dag`]: value-tree rules (no cycles, weights per parent sum to at most 1 on any date).
//! - [`org`]: the time-versioned org: as-of queries, histories and diffs.
//! - [`review`]: review cycles, goals, ratings, calibration results and overrides.
//! - [`import`]: turns rows of an import file into events, the way a new HRIS export would.

pub mod amount;
pub mod calibration;
pub mod chain;
pub mod clock;
pub mod credit;
pub mod dag;
pub mod domain;
pub mod event;
pub mod import;
pub mod org;
pub mod review;
pub mod state;

pub use amount::Amount;
pub use chrono::NaiveDate;

/// A date as `YYYY-MM-DD`, the same text as `date.to_string()`, without the formatting
/// machinery (imports and replays write millions of dates).
pub fn date_text(date: NaiveDate) -> String {
    use chrono::Datelike;
    let (year, month, day) = (date.year(), date.month(), date.day());
    if !(0..=9999).contains(&year) {
        return date.to_string();
    }
    let digits = [
        year / 1000,
        year / 100 % 10,
        year / 10 % 10,
        year % 10,
        -1,
        month as i32 / 10,
        month as i32 % 10,
        -1,
        day as i32 / 10,
        day as i32 % 10,
    ];
    digits
        .iter()
        .map(|&d| {
            if d < 0 {
                '-'
            } else {
                char::from(b'0' + d as u8)
            }
        })
        .collect()
}

#[cfg(test)]
mod date_text_tests {
    use super::*;

    #[test]
    fn date_text_is_to_string() {
        for (y, m, d) in [
            (2024, 2, 29),
            (1, 1, 1),
            (0, 12, 31),
            (9999, 12, 31),
            (10000, 1, 1),
            (-5, 3, 4),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
            assert_eq!(date_text(date), date.to_string());
        }
    }
}
