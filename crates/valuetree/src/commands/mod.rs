pub mod credit;
pub mod demo;
pub mod fairness;
pub mod import;
pub mod ledger;
pub mod org;
pub mod show;
pub mod sim;
