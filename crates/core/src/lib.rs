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
