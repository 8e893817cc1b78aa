//! Injected time. Nothing in valuetree reads the system clock except [`SystemClock`], so tests
//! and replays are deterministic.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}

/// The wall clock, for production use.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at a fixed instant and advances one microsecond per reading, so that
/// successive events still get distinct, ordered recorded times.
#[derive(Debug)]
pub struct FixedClock {
    micros: AtomicI64,
}

impl FixedClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        FixedClock {
            micros: AtomicI64::new(start.timestamp_micros()),
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        let micros = self.micros.fetch_add(1, Ordering::Relaxed);
        DateTime::from_timestamp_micros(micros).unwrap_or_default()
    }
}

/// The recorded-time format of the ledger: RFC 3339, UTC, microseconds, `Z`.
pub fn format_recorded(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}
