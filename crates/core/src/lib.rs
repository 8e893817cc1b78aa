//! The pure heart of valuetree.
//!
//! Everything here is plain data in, plain data out: no files, no database, no clock reads
//! (time is passed in through [`clock::Clock`]). The store and the CLI are thin shells around it.
//!
//! - [`domain`]: the records of the organisation and the value tree (people, units, nodes, …).
//! - [`event`]: the ledger's event kinds and their canonical encoding.
//! - [`chain`]: the hash chain: how an event's hash is computed and checked.
//! - [`packed`]: the storage form of high-volume payloads (member values without names).
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
pub mod dependents;
pub mod diagnose;
pub mod digests;
pub mod domain;
pub mod event;
pub mod import;
pub mod limits;
pub mod org;
pub mod packed;
pub mod personal;
pub mod review;
pub mod state;

pub use amount::Amount;
pub use chrono::NaiveDate;

/// A date as `YYYY-MM-DD`, the same text as `date.to_string()`, without the formatting
/// machinery (imports and replays write millions of dates).
pub fn date_text(date: NaiveDate) -> String {
    let mut out = String::with_capacity(10);
    push_date_text(&mut out, date);
    out
}

/// Appends `date` as [`date_text`] writes it.
pub fn push_date_text(out: &mut String, date: NaiveDate) {
    use chrono::Datelike;
    let (year, month, day) = (date.year(), date.month(), date.day());
    let Ok(year @ 0..=9999) = u32::try_from(year) else {
        use std::fmt::Write as _;
        let _ = write!(out, "{date}");
        return;
    };
    let digit = |n: u32| b'0' + (n % 10) as u8;
    let text = [
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        b'-',
        digit(month / 10),
        digit(month),
        b'-',
        digit(day / 10),
        digit(day),
    ];
    push_ascii(out, &text);
}

/// Appends ASCII bytes (digits, `-`) without a UTF-8 check of the whole: cheaper for the
/// few bytes of a date or a number.
pub(crate) fn push_ascii(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len());
    for &b in bytes {
        out.push(char::from(b));
    }
}

/// Appends `n` in decimal, as `n.to_string()` writes it (without the formatting machinery:
/// sequence numbers and efforts are written millions of times).
pub fn push_integer(out: &mut String, n: i64) {
    let mut text = [0u8; 20];
    let mut start = text.len();
    let mut rest = n.unsigned_abs();
    loop {
        start -= 1;
        text[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    push_ascii(out, &text[start..]);
}

#[cfg(test)]
mod date_text_tests {
    use super::*;

    #[test]
    fn push_integer_is_to_string() {
        for n in [
            0,
            1,
            -1,
            9,
            10,
            99,
            100,
            123_456_789,
            i64::MAX,
            i64::MIN,
            -1_000_000,
        ] {
            let mut out = String::from("x");
            push_integer(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }

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
