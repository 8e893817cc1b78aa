//! `valuetree sim`: writes a simulated organisation as import files.

use anyhow::{Context, Result};
use clap::Args;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use valuetree_sim::{CsvSink, SimConfig, SimSummary, simulate};

#[derive(Args, Debug, Clone)]
#[command(after_help = "\
Writes into DIR: people.csv, units.csv, assignments.csv, nodes.csv, edges.csv, members.csv,
contributions.csv, outcomes.csv, handovers.csv (importable with `valuetree import dir DIR`),
ratings.csv, and the ground truth: truth.csv (person_id,true_performance,expected_rating) and
truth_contributions.csv (person_id,node_id,period,true_value). Same options and seed give
byte-identical files. The model is described in docs/simulator.md.")]
pub struct SimArgs {
    /// Head count, kept roughly constant (leavers are replaced).
    #[arg(long, default_value_t = 2_000)]
    pub people: usize,
    /// Years of history to simulate.
    #[arg(long, default_value_t = 3)]
    pub years: u32,
    /// The random seed: the same seed writes the same organisation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The directory to write the files into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// First day of the simulation (YYYY-MM-DD, the 1st of a month).
    #[arg(long, value_parser = crate::parse_date, default_value = "2022-01-01")]
    pub start: valuetree_core::NaiveDate,
    /// Big restructures per year (everyone gets new units).
    #[arg(long, default_value_t = 1)]
    pub reorgs_per_year: u32,
    /// Share of one business unit moved elsewhere at once, without choice, once a year.
    #[arg(long, default_value_t = 0.10)]
    pub rotation_rate: f64,
    /// Share of initiatives handed to another team after their design phase.
    #[arg(long, default_value_t = 0.25)]
    pub handover_rate: f64,
    /// Raters per person and cycle on results, manager included (self-ratings apart).
    #[arg(long, default_value_t = 3)]
    pub raters_per_person: usize,
    /// Standard deviation of each rater's own leniency, in rating points.
    #[arg(long, default_value_t = 0.4)]
    pub rater_bias: f64,
    /// Share of people leaving per year.
    #[arg(long, default_value_t = 0.12)]
    pub attrition: f64,
    /// Share of initiatives raised bottom-up as flagpoles.
    #[arg(long, default_value_t = 0.10)]
    pub flagpole_rate: f64,
}

impl SimArgs {
    pub fn config(&self) -> SimConfig {
        SimConfig {
            people: self.people,
            years: self.years,
            seed: self.seed,
            start: self.start,
            reorgs_per_year: self.reorgs_per_year,
            rotation_rate: self.rotation_rate,
            handover_rate: self.handover_rate,
            raters_per_person: self.raters_per_person,
            rater_bias: self.rater_bias,
            attrition: self.attrition,
            flagpole_rate: self.flagpole_rate,
            ..SimConfig::default()
        }
    }
}

/// Runs the simulation into `dir`.
pub fn write(config: &SimConfig, dir: &Path) -> Result<SimSummary> {
    anyhow::ensure!(
        config.people >= 50,
        "--people must be at least 50 (got {})",
        config.people
    );
    anyhow::ensure!(config.years >= 1, "--years must be at least 1");
    anyhow::ensure!(
        valuetree_core::NaiveDate::from_ymd_opt(
            chrono::Datelike::year(&config.start),
            chrono::Datelike::month(&config.start),
            1
        ) == Some(config.start),
        "--start must be the first day of a month (got {})",
        config.start
    );
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut sink = CsvSink::new(|name| {
        let file = File::create(dir.join(name))?;
        Ok(Box::new(BufWriter::with_capacity(1 << 20, file)) as Box<dyn Write + Send>)
    })
    .with_context(|| format!("cannot create the files in {}", dir.display()))?;
    let bar = crate::progress::bar(u64::from(config.years) * 12, "simulating");
    let summary = simulate(config, &mut sink, &mut |month| {
        bar.set_position(month.into())
    })
    .with_context(|| format!("cannot write the simulation to {}", dir.display()));
    bar.finish_and_clear();
    summary
}

pub fn run(args: SimArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let summary = write(&args.config(), &args.out)?;
    say!(
        "simulated {} people over {} years in {:.1} s into {}: {} units, {} nodes, {} assignments, {} contributions, {} outcomes, {} hand-overs, {} ratings",
        summary.people,
        args.years,
        started.elapsed().as_secs_f64(),
        args.out.display(),
        summary.units,
        summary.nodes,
        summary.assignments,
        summary.contributions,
        summary.outcomes,
        summary.handovers,
        summary.ratings
    );
    Ok(ExitCode::SUCCESS)
}
