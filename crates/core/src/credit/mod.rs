//! Attribution (credit): value realised anywhere on the tree reaches everyone who worked for
//! it, whatever happened to the org chart since. See `docs/credit.md`.

mod engine;
mod payout;
mod policy;

pub use engine::*;
pub use payout::*;
pub use policy::*;

#[cfg(test)]
mod tests;
