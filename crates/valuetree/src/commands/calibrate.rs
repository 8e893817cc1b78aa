//! `valuetree calibrate --ratings FILE`: calibrated scores from a ratings CSV, no database;
//! `valuetree calibrate --cycle ID`: the same on a cycle's submitted ratings in the ledger,
//! recorded as a `calibration_recorded` event.

use super::render::{self, Format};
use anyhow::{Context, Result};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use valuetree_app::commands::calibration::{
    CalibrationModel, CalibrationReport, calibration_of_interned,
};
use valuetree_app::{Actor, App};
use valuetree_exchange::ratings::{Interned, read_ratings_file};
use valuetree_store::FileRowError;

#[derive(Args, Debug)]
#[command(after_help = "\
Input columns: cycle_id,rater_id,ratee_id,relationship,dimension,score,comment and optional
ratee_unit,rater_unit (relationship: manager, report, peer, lead, customer, self).
Model (docs/calibration.md): score = mean + ratee's unit + rater's unit + relationship + cycle
+ ratee effect + rater effect + noise; self-ratings are reported, not fitted.
Output: person_id,n_ratings,raw_mean,calibrated,std_error,self_rating,group (group 0 is the
largest set of people connected by ratings; scores compare best within a group).
With --cycle, the cycle's submitted ratings are read from the database (units from the org
timeline at the cycle's end) and the result is recorded in the ledger.")]
#[command(group(clap::ArgGroup::new("source").required(true).args(["ratings", "cycle"])))]
pub struct CalibrateArgs {
    /// The ratings CSV.
    #[arg(long)]
    ratings: Option<PathBuf>,
    /// Calibrate this review cycle's submitted ratings from the database, and record the
    /// result in the ledger.
    #[arg(long)]
    cycle: Option<String>,
    /// Calibrate one dimension (e.g. results); default: all ratings pooled into one score.
    #[arg(long)]
    dimension: Option<String>,
    /// How to print it.
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
    /// Also write each rater's leniency (rater_id,n_ratings,leniency,std_error,outlier).
    #[arg(long)]
    raters_out: Option<PathBuf>,
    /// The model (docs/calibration.md); default `full`. The recorded result of a --cycle
    /// run names the model it came from.
    #[arg(long, value_enum)]
    model: Option<Model>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Model {
    /// The linear model with unit, relationship and cycle effects.
    Full,
    /// The linear model with only the ratee and rater effects,
    /// `score ~ 1 + (1|ratee) + (1|rater)` (to compare with lme4).
    Plain,
    /// The ordinal model (ordered probit: ratings are steps of a scale) with the full
    /// model's effects; scores are each person's expected score on the scale.
    Ordinal,
    /// The ordinal model with only the ratee and rater effects (to compare with R's clmm).
    OrdinalPlain,
}

pub fn run(app: &App, actor: &Actor, args: CalibrateArgs) -> Result<ExitCode> {
    let model = args.model.map(|model| match model {
        Model::Full => CalibrationModel::Full,
        Model::Plain => CalibrationModel::Plain,
        Model::Ordinal => CalibrationModel::Ordinal,
        Model::OrdinalPlain => CalibrationModel::OrdinalPlain,
    });
    let dimension = args.dimension.as_deref();
    let report = match (&args.ratings, &args.cycle) {
        (Some(path), _) => match read_file(path, dimension, model.unwrap_or_default())? {
            Some(interned) => calibration_of_interned(
                interned,
                dimension,
                model.unwrap_or_default(),
                &path.display().to_string(),
            )?,
            None => return Ok(ExitCode::FAILURE),
        },
        (None, Some(cycle)) => {
            let (report, receipt) =
                app.calibrate_cycle(actor, cycle, dimension, model.unwrap_or_default())?;
            if let Some(seq) = receipt.seq {
                eprintln!("recorded in the ledger as event {seq}");
            }
            report
        }
        (None, None) => anyhow::bail!("give --ratings FILE or --cycle ID"),
    };
    print_report(&args, &report)
}

fn read_file(
    path: &Path,
    dimension: Option<&str>,
    model: CalibrationModel,
) -> Result<Option<Interned>> {
    match read_ratings_file(path, dimension, model.is_plain()) {
        Ok(interned) => Ok(Some(interned)),
        Err(errors) => {
            let label = path.display().to_string();
            eprintln!(
                "error: {} bad row(s) in the ratings; nothing was calibrated:",
                errors.len()
            );
            for error in errors.into_iter().take(valuetree_store::MAX_LISTED_ERRORS) {
                let e = FileRowError {
                    file: label.clone(),
                    error,
                };
                eprintln!("  {e}");
            }
            Ok(None)
        }
    }
}

fn print_report(args: &CalibrateArgs, report: &CalibrationReport) -> Result<ExitCode> {
    match args.format {
        Format::Json => {
            render::json(report)?;
        }
        Format::Csv | Format::Table => {
            say!(
                "person_id,n_ratings,raw_mean,calibrated,std_error,self_rating,group,uncalibrated"
            );
            let uncalibrated = report.uncalibrated;
            crate::output::push_lines(&report.people, |out, p| {
                // Writing into memory cannot fail.
                let _ = write!(
                    out,
                    "{},{},{:.4},{:.4},{:.4},",
                    p.person_id, p.n_ratings, p.raw_mean, p.calibrated, p.std_error
                );
                if let Some(s) = p.self_rating {
                    let _ = write!(out, "{s:.3}");
                }
                let _ = write!(out, ",{},{uncalibrated}", p.group);
            });
        }
    }
    if let Some(path) = &args.raters_out {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        );
        writeln!(out, "rater_id,n_ratings,leniency,std_error,outlier")?;
        for r in &report.raters {
            writeln!(
                out,
                "{},{},{:.4},{:.4},{}",
                r.rater_id, r.n_ratings, r.leniency, r.std_error, r.outlier
            )?;
        }
        out.flush()?;
    }
    let outliers = report.raters.iter().filter(|r| r.outlier).count();
    let groups = &report.groups;
    eprintln!(
        "calibrated {} ratings of {} people by {} raters in {:.2} s ({} iterations); variance: ratee {:.3}, rater {:.3}, noise {:.3}; {} connected group(s){}; {outliers} outlier rater(s)",
        report.ratings,
        report.people.len(),
        report.raters.len(),
        report.seconds,
        report.iterations,
        report.variance.ratee,
        report.variance.rater,
        report.variance.noise,
        groups.len(),
        if groups.len() > 1 {
            format!(" (sizes {:?})", &groups[..groups.len().min(5)])
        } else {
            String::new()
        },
    );
    if matches!(args.format, Format::Csv | Format::Table) {
        eprintln!(
            "the `group` column: people linked through shared raters form a connected group; calibrated scores compare within a group, not across groups"
        );
    }
    // On standard error in every format (the JSON carries them too): a warning must reach
    // whoever reads the scores, whatever they read them with.
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if report.uncalibrated {
        eprintln!(
            "warning: too few ratings to calibrate: each `calibrated` is the person's raw mean, its standard error as wide as the scale allows, and the `uncalibrated` column says so; no rater was corrected"
        );
    }
    Ok(ExitCode::SUCCESS)
}
