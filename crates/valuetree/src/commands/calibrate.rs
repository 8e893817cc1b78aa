//! `valuetree calibrate --ratings FILE`: calibrated scores from a ratings CSV, no database;
//! `valuetree calibrate --cycle ID`: the same on a cycle's submitted ratings in the ledger,
//! recorded as a `calibration_recorded` event.

use anyhow::{Context, Result};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use valuetree_core::calibration::calibrate;
use valuetree_core::event::Event;
use valuetree_core::review::{CalibratedScore, CalibrationResult};
use valuetree_core::{Amount, org};
use valuetree_exchange::ratings::{RatingRow, intern_ratings, parse_ratings};
use valuetree_store::{FileRowError, Preload};

use super::render::Format;

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

pub fn run(db: &str, actor: &str, args: CalibrateArgs) -> Result<ExitCode> {
    let (rows, source) = match (&args.ratings, &args.cycle) {
        (Some(path), _) => match read_file(path)? {
            Some(rows) => (rows, path.display().to_string()),
            None => return Ok(ExitCode::FAILURE),
        },
        (None, Some(cycle)) => (cycle_ratings(db, cycle)?, format!("cycle {cycle}")),
        (None, None) => anyhow::bail!("give --ratings FILE or --cycle ID"),
    };
    calibrate_rows(db, actor, &args, &rows, &source)
}

fn read_file(path: &PathBuf) -> Result<Option<Vec<RatingRow>>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    match parse_ratings(std::io::BufReader::new(file)) {
        Ok(rows) => Ok(Some(rows)),
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

/// The cycle's submitted ratings, each with the units rater and ratee were in at the end of
/// the cycle (or on their last day, if they left during it).
fn cycle_ratings(db: &str, cycle_id: &str) -> Result<Vec<RatingRow>> {
    let mut store = crate::open_store(db)?;
    let state = store.load_state(&Preload::Ids {
        contributions: Vec::new(),
        outcomes: Vec::new(),
        cycles: vec![cycle_id.to_string()],
    })?;
    let cycle = state
        .cycle(cycle_id)
        .map_err(|r| anyhow::anyhow!("{r}; `valuetree cycle list` shows the cycles"))?;
    let end = cycle.record.ends_on;
    let unit_of = |person: &str| {
        let last_day = state
            .people
            .get(person)
            .and_then(|p| p.left_on)
            .map_or(end, |left| left.min(end));
        org::placement(&state, person, last_day).and_then(|p| p.unit_id)
    };
    let mut rows: Vec<RatingRow> = state
        .reviews
        .submitted(cycle_id)
        .map(|r| RatingRow {
            line: 0,
            cycle_id: r.cycle_id.clone(),
            rater_id: r.rater_id.clone(),
            ratee_id: r.ratee_id.clone(),
            relationship: r.relationship,
            dimension: r.dimension.clone(),
            score: r.score.value(),
            comment: r.comment.clone(),
            ratee_unit: unit_of(&r.ratee_id),
            rater_unit: unit_of(&r.rater_id),
        })
        .collect();
    // The ratings come from a hash map: a fixed order makes the fit reproducible to the bit.
    rows.sort_by(|a, b| {
        (&a.rater_id, &a.ratee_id, &a.dimension).cmp(&(&b.rater_id, &b.ratee_id, &b.dimension))
    });
    Ok(rows)
}

fn calibrate_rows(
    db: &str,
    actor: &str,
    args: &CalibrateArgs,
    rows: &[RatingRow],
    source: &str,
) -> Result<ExitCode> {
    let interned = intern_ratings(
        rows,
        args.dimension.as_deref(),
        matches!(args.model, Model::Plain),
    );
    if interned.input.ratings.is_empty() {
        anyhow::bail!(
            "{source} holds no submitted ratings to calibrate{} (self-ratings are not fitted)",
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
    if let Some(cycle_id) = &args.cycle {
        let result = CalibrationResult {
            cycle_id: cycle_id.clone(),
            dimension: args.dimension.clone().unwrap_or_default(),
            model: format!("{:?}", args.model).to_lowercase(),
            ratings: interned.input.ratings.len() as u64,
            scores: fit
                .ratees
                .iter()
                .zip(&interned.ratees)
                .map(|(r, id)| CalibratedScore {
                    calibrated: Amount(r.calibrated),
                    n_ratings: r.n_ratings,
                    person_id: id.clone(),
                    raw_mean: Amount(r.raw_mean),
                    std_error: Amount(r.std_error),
                })
                .collect(),
        };
        let head = super::record::record(db, actor, vec![Event::CalibrationRecorded(result)])?;
        if let Some(head) = head {
            eprintln!("recorded in the ledger as event {}", head.seq);
        }
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
