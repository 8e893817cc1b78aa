//! `valuetree calibrate --ratings FILE`: calibrated scores from a ratings CSV, no database.

use anyhow::{Context, Result};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use valuetree_core::calibration::calibrate;
use valuetree_exchange::ratings::{intern_ratings, parse_ratings};
use valuetree_store::FileRowError;

use super::credit::Format;

#[derive(Args, Debug)]
#[command(after_help = "\
Input columns: cycle_id,rater_id,ratee_id,relationship,dimension,score,comment and optional
ratee_unit,rater_unit (relationship: manager, report, peer, lead, customer, self).
Model (docs/calibration.md): score = mean + ratee's unit + rater's unit + relationship + cycle
+ ratee effect + rater effect + noise; self-ratings are reported, not fitted.
Output: person_id,n_ratings,raw_mean,calibrated,std_error,self_rating,group (group 0 is the
largest set of people connected by ratings; scores compare best within a group).")]
pub struct CalibrateArgs {
    /// The ratings CSV.
    #[arg(long)]
    ratings: PathBuf,
    /// Calibrate one dimension (e.g. results); default: all ratings pooled into one score.
    #[arg(long)]
    dimension: Option<String>,
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
    /// Also write each rater's leniency (rater_id,n_ratings,leniency,std_error,outlier).
    #[arg(long)]
    raters_out: Option<PathBuf>,
    /// `full` (default): with unit, relationship and cycle effects. `plain`: only the ratee
    /// and rater effects, `score ~ 1 + (1|ratee) + (1|rater)` (to compare with lme4).
    #[arg(long, value_enum, default_value = "full")]
    model: Model,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Model {
    Full,
    Plain,
}

pub fn run(args: CalibrateArgs) -> Result<ExitCode> {
    let file = std::fs::File::open(&args.ratings)
        .with_context(|| format!("cannot open {}", args.ratings.display()))?;
    let rows = match parse_ratings(std::io::BufReader::new(file)) {
        Ok(rows) => rows,
        Err(errors) => {
            let label = args.ratings.display().to_string();
            let errors: Vec<FileRowError> = errors
                .into_iter()
                .map(|error| FileRowError {
                    file: label.clone(),
                    error,
                })
                .collect();
            eprintln!(
                "error: {} bad row(s) in the ratings; nothing was calibrated:",
                errors.len()
            );
            for e in errors.iter().take(valuetree_store::MAX_LISTED_ERRORS) {
                eprintln!("  {e}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let interned = intern_ratings(
        &rows,
        args.dimension.as_deref(),
        matches!(args.model, Model::Plain),
    );
    if interned.input.ratings.is_empty() {
        anyhow::bail!(
            "{} holds no ratings to calibrate{} (self-ratings are not fitted)",
            args.ratings.display(),
            args.dimension
                .as_ref()
                .map_or(String::new(), |d| format!(" for dimension `{d}`"))
        );
    }
    let started = std::time::Instant::now();
    let fit = calibrate(&interned.input)?;
    let seconds = started.elapsed().as_secs_f64();
    let self_rating = |id: &str| {
        interned
            .self_ratings
            .get(id)
            .map_or(String::new(), |(sum, n)| {
                format!("{:.3}", sum / f64::from(*n))
            })
    };
    match args.format {
        Format::Json => {
            let people: Vec<serde_json::Value> = fit
                .ratees
                .iter()
                .zip(&interned.ratees)
                .map(|(r, id)| serde_json::json!({
                    "person_id": id, "n_ratings": r.n_ratings, "raw_mean": r.raw_mean,
                    "calibrated": r.calibrated, "std_error": r.std_error, "self_rating": interned.self_ratings.get(id).map(|(s, n)| s / f64::from(*n)), "group": r.component,
                }))
                .collect();
            let raters: Vec<serde_json::Value> = fit
                .raters
                .iter()
                .zip(&interned.raters)
                .map(|(r, id)| serde_json::json!({ "rater_id": id, "n_ratings": r.n_ratings, "leniency": r.leniency, "std_error": r.std_error, "outlier": r.outlier }))
                .collect();
            let relationships: serde_json::Map<String, serde_json::Value> = interned
                .relationships
                .iter()
                .zip(&fit.relationship_effects)
                .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                .collect();
            say!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "variance": { "ratee": fit.components.ratee, "rater": fit.components.rater, "noise": fit.components.noise },
                    "groups": fit.groups, "iterations": fit.iterations, "relationship_effects": relationships,
                    "people": people, "raters": raters,
                }))?
            );
        }
        Format::Csv | Format::Table => {
            say!("person_id,n_ratings,raw_mean,calibrated,std_error,self_rating,group");
            for (r, id) in fit.ratees.iter().zip(&interned.ratees) {
                say!(
                    "{id},{},{:.4},{:.4},{:.4},{},{}",
                    r.n_ratings,
                    r.raw_mean,
                    r.calibrated,
                    r.std_error,
                    self_rating(id),
                    r.component
                );
            }
        }
    }
    if let Some(path) = &args.raters_out {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        );
        writeln!(out, "rater_id,n_ratings,leniency,std_error,outlier")?;
        for (r, id) in fit.raters.iter().zip(&interned.raters) {
            writeln!(
                out,
                "{id},{},{:.4},{:.4},{}",
                r.n_ratings, r.leniency, r.std_error, r.outlier
            )?;
        }
        out.flush()?;
    }
    let outliers = fit.raters.iter().filter(|r| r.outlier).count();
    eprintln!(
        "calibrated {} ratings of {} people by {} raters in {seconds:.2} s ({} iterations); variance: ratee {:.3}, rater {:.3}, noise {:.3}; {} connected group(s){}; {outliers} outlier rater(s)",
        interned.input.ratings.len(),
        interned.ratees.len(),
        interned.raters.len(),
        fit.iterations,
        fit.components.ratee,
        fit.components.rater,
        fit.components.noise,
        fit.groups.len(),
        if fit.groups.len() > 1 {
            format!(" (sizes {:?})", &fit.groups[..fit.groups.len().min(5)])
        } else {
            String::new()
        },
    );
    Ok(ExitCode::SUCCESS)
}
