//! A synthetic organisation that reorganises all the time, with the ground truth kept.
//!
//! [`simulate`] runs a month-by-month model (documented in `docs/simulator.md`) and hands every
//! record to a [`Sink`]; [`CsvSink`] writes them as valuetree's import files plus
//! `ratings.csv`, `truth.csv` and `truth_contributions.csv`. The big streams (contributions,
//! ratings, assignments, per-period truth) are written as they happen; the master records
//! whose end is only known later (people, units, nodes, members) are written at the end, so
//! memory grows with the organisation, not with its history.
//!
//! Same configuration and seed → byte-identical output.

mod csv_sink;
pub mod fairness;
mod model;
pub mod names;
mod rng;

pub use csv_sink::{CsvSink, FILES};
pub use model::{Persona, SimConfig, SimSummary, simulate};
pub use rng::Rng;

use valuetree_core::domain::*;

/// One row of `ratings.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct RatingRow<'a> {
    pub cycle_id: &'a str,
    pub rater_id: &'a str,
    pub ratee_id: &'a str,
    /// `manager`, `report` (upward), `peer`, `lead`, `customer` or `self`.
    pub relationship: &'static str,
    /// `results` or `values`.
    pub dimension: &'static str,
    pub score: u8,
    pub ratee_unit: &'a str,
    pub rater_unit: &'a str,
}

/// Where the simulator puts what it generates.
pub trait Sink {
    fn person(&mut self, record: &PersonRecord) -> std::io::Result<()>;
    fn unit(&mut self, record: &UnitRecord) -> std::io::Result<()>;
    fn assignment(&mut self, record: &AssignmentRecord) -> std::io::Result<()>;
    fn node(&mut self, record: &NodeRecord) -> std::io::Result<()>;
    fn edge(&mut self, record: &EdgeRecord) -> std::io::Result<()>;
    fn member(&mut self, record: &MemberRecord) -> std::io::Result<()>;
    fn contribution(&mut self, record: &ContributionRecord) -> std::io::Result<()>;
    fn outcome(&mut self, record: &OutcomeRecord) -> std::io::Result<()>;
    fn handover(&mut self, record: &HandoverRecord) -> std::io::Result<()>;
    fn rating(&mut self, row: &RatingRow<'_>) -> std::io::Result<()>;
    /// A review cycle, written once before its ratings.
    fn cycle(
        &mut self,
        _cycle_id: &str,
        _starts_on: valuetree_core::NaiveDate,
        _ends_on: valuetree_core::NaiveDate,
    ) -> std::io::Result<()> {
        Ok(())
    }
    /// A person's true performance (the mean of their standardised value per cycle) and the
    /// rating an average rater would give them on average, on the 1–5 scale.
    fn truth(
        &mut self,
        person_id: &str,
        true_performance: f64,
        expected_rating: f64,
    ) -> std::io::Result<()>;
    fn truth_contribution(
        &mut self,
        person_id: &str,
        node_id: &str,
        period: &str,
        true_value: f64,
    ) -> std::io::Result<()>;
    fn finish(&mut self) -> std::io::Result<()>;
}
