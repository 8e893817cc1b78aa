//! Diagnostics for HR: what the ledger says about the organisation before a reorganisation,
//! not after (`docs/diagnostics.md` gives each definition).
//!
//! - [`kept`]: credit kept — valuetree's credit beside the team view's.
//! - [`timeline`]: the org as step functions of time (units, managers, leads by day).

pub mod kept;
pub mod timeline;

pub use kept::*;
pub use timeline::*;

#[cfg(test)]
mod tests;
