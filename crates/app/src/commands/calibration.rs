//! Calibration of rater bias: from a ratings file (no database), or on a cycle's submitted
//! ratings, fitted under the writer lock and recorded in the ledger.

use crate::error::{AppError, AppResult};
use crate::queries::units_until;
use crate::{Actor, App, Receipt, authz};
use serde::Serialize;
use std::collections::BTreeMap;
use valuetree_core::Amount;
use valuetree_core::calibration::{calibrate, calibrate_ordinal};
use valuetree_core::event::Event;
use valuetree_core::review::{CalibratedScore, CalibrationResult};
use valuetree_core::state::State;
use valuetree_exchange::ratings::{Interned, RatingRef, intern_rating_refs};
use valuetree_store::Preload;

/// Which model to fit (docs/calibration.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CalibrationModel {
    /// The linear model: unit, relationship and cycle effects besides the ratee and rater
    /// effects.
    #[default]
    Full,
    /// The linear model with only the ratee and rater effects:
    /// `score ~ 1 + (1|ratee) + (1|rater)`.
    Plain,
    /// The ordinal model (ordered probit) with the full model's effects: ratings are steps of
    /// a scale.
    Ordinal,
    /// The ordinal model with only the ratee and rater effects (as R's
    /// `clmm(score ~ 1 + (1|ratee) + (1|rater), link = "probit")`).
    OrdinalPlain,
}

impl CalibrationModel {
    pub const ALL: [CalibrationModel; 4] = [
        CalibrationModel::Full,
        CalibrationModel::Plain,
        CalibrationModel::Ordinal,
        CalibrationModel::OrdinalPlain,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CalibrationModel::Full => "full",
            CalibrationModel::Plain => "plain",
            CalibrationModel::Ordinal => "ordinal",
            CalibrationModel::OrdinalPlain => "ordinal-plain",
        }
    }

    /// The model a name (as [`Self::as_str`] writes it) stands for.
    pub fn from_name(name: &str) -> Option<CalibrationModel> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Only the ratee and rater effects: units, relationships and cycles are pooled.
    pub fn is_plain(self) -> bool {
        matches!(
            self,
            CalibrationModel::Plain | CalibrationModel::OrdinalPlain
        )
    }

    /// Fits `input` with this model.
    pub fn fit(
        self,
        input: &valuetree_core::calibration::CalibrationInput,
    ) -> Result<
        valuetree_core::calibration::Calibration,
        valuetree_core::calibration::CalibrationError,
    > {
        match self {
            CalibrationModel::Full | CalibrationModel::Plain => calibrate(input),
            CalibrationModel::Ordinal | CalibrationModel::OrdinalPlain => calibrate_ordinal(input),
        }
    }
}

/// A calibration: the estimates, as data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CalibrationReport {
    /// The ratings file or `cycle ID`.
    pub source: String,
    /// The dimension fitted, `None` for all pooled.
    pub dimension: Option<String>,
    pub model: CalibrationModel,
    /// Ratings fitted (self-ratings are not).
    pub ratings: usize,
    pub variance: Variance,
    /// Sizes of the connected groups of raters and ratees, largest first.
    pub groups: Vec<usize>,
    pub iterations: usize,
    pub relationship_effects: BTreeMap<String, f64>,
    pub people: Vec<CalibratedPerson>,
    pub raters: Vec<RaterLeniency>,
    /// The seconds the fit took (not the reading).
    pub seconds: f64,
    /// What the ratings could not support: too few ratings, a variance at zero
    /// (docs/calibration.md, "Too little data").
    pub warnings: Vec<String>,
    /// The ratings were too few to calibrate: every `calibrated` is the raw mean, with a
    /// standard error as wide as the scale allows, and no rater is corrected.
    pub uncalibrated: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Variance {
    pub ratee: f64,
    pub rater: f64,
    pub noise: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CalibratedPerson {
    pub person_id: String,
    pub n_ratings: u32,
    pub raw_mean: f64,
    pub calibrated: f64,
    pub std_error: f64,
    /// The mean of the person's self-ratings, reported beside the fit, never in it.
    pub self_rating: Option<f64>,
    /// The connected group (0 = the largest); scores compare best within one.
    pub group: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RaterLeniency {
    pub rater_id: String,
    pub n_ratings: u32,
    pub leniency: f64,
    pub std_error: f64,
    pub outlier: bool,
}

/// Fits `rows` (a ratings file's, or a cycle's ratings); `source` names them in errors.
/// `scale` is the rating scale's lowest and highest score, when known (a cycle's).
pub fn calibration_of<'a>(
    rows: impl IntoIterator<Item = RatingRef<'a>>,
    dimension: Option<&str>,
    model: CalibrationModel,
    source: &str,
    scale: Option<(f64, f64)>,
) -> AppResult<CalibrationReport> {
    let mut interned = intern_rating_refs(rows, dimension, model.is_plain());
    interned.input.scale = scale;
    calibration_of_interned(interned, dimension, model, source)
}

/// [`calibration_of`] on ratings interned already (a file read straight into the input:
/// [`valuetree_exchange::ratings::read_ratings_file`]).
pub fn calibration_of_interned(
    interned: Interned,
    dimension: Option<&str>,
    model: CalibrationModel,
    source: &str,
) -> AppResult<CalibrationReport> {
    if interned.input.ratings.is_empty() {
        return Err(AppError::invalid(format!(
            "{source} holds no submitted ratings to calibrate{} (self-ratings are not fitted)",
            dimension.map_or(String::new(), |d| format!(" for dimension `{d}`"))
        )));
    }
    let started = std::time::Instant::now();
    let fit = model
        .fit(&interned.input)
        .map_err(|e| AppError::invalid(format!("{source}: {e}")))?;
    let seconds = started.elapsed().as_secs_f64();
    let people = fit
        .ratees
        .iter()
        .zip(&interned.ratees)
        .map(|(r, id)| CalibratedPerson {
            person_id: id.clone(),
            n_ratings: r.n_ratings,
            raw_mean: r.raw_mean,
            calibrated: r.calibrated,
            std_error: r.std_error,
            self_rating: interned
                .self_ratings
                .get(id)
                .map(|(sum, n)| sum / f64::from(*n)),
            group: r.component,
        })
        .collect();
    let raters = fit
        .raters
        .iter()
        .zip(&interned.raters)
        .map(|(r, id)| RaterLeniency {
            rater_id: id.clone(),
            n_ratings: r.n_ratings,
            leniency: r.leniency,
            std_error: r.std_error,
            outlier: r.outlier,
        })
        .collect();
    Ok(CalibrationReport {
        source: source.to_string(),
        dimension: dimension.map(str::to_string),
        model,
        ratings: interned.input.ratings.len(),
        variance: Variance {
            ratee: fit.components.ratee,
            rater: fit.components.rater,
            noise: fit.components.noise,
        },
        groups: fit.groups,
        iterations: fit.iterations,
        relationship_effects: interned
            .relationships
            .iter()
            .cloned()
            .zip(fit.relationship_effects.iter().copied())
            .collect(),
        people,
        raters,
        seconds,
        warnings: fit.warnings.iter().map(ToString::to_string).collect(),
        uncalibrated: fit.uncalibrated,
    })
}

/// A cycle's rating scale: its lowest and highest score.
pub fn cycle_scale(state: &State, cycle_id: &str) -> Option<(f64, f64)> {
    let cycle = state.reviews.cycles.get(cycle_id)?;
    Some((1.0, cycle.record.scale_max()))
}

/// The cycle's submitted ratings, each with the units rater and ratee were in at the end of
/// the cycle (or on their last day, if they left during it), in a fixed order so that the
/// fit is reproducible to the bit. Borrowed from the state: a cycle holds millions.
pub fn cycle_ratings<'a>(state: &'a State, cycle_id: &'a str) -> AppResult<Vec<RatingRef<'a>>> {
    let cycle = state.reviews.cycles.get(cycle_id).ok_or_else(|| {
        AppError::not_found(
            format!("cycle {cycle_id}"),
            "`valuetree cycle list` shows the cycles",
        )
    })?;
    let units = units_until(state, cycle.record.ends_on);
    let unit_of = |person: &str| units.get(person).copied();
    let mut rows: Vec<RatingRef<'a>> = state
        .reviews
        .submitted(cycle_id)
        .map(|r| RatingRef {
            cycle_id: &r.cycle_id,
            rater_id: &r.rater_id,
            ratee_id: &r.ratee_id,
            relationship: r.relationship,
            dimension: &r.dimension,
            score: r.score.value(),
            ratee_unit: unit_of(&r.ratee_id),
            rater_unit: unit_of(&r.rater_id),
        })
        .collect();
    rows.sort_unstable_by(|a, b| {
        (a.rater_id, a.ratee_id, a.dimension).cmp(&(b.rater_id, b.ratee_id, b.dimension))
    });
    Ok(rows)
}

impl App {
    /// Calibrates a cycle's submitted ratings and records the result (HR, admin). The fit is
    /// made from the state the result is appended to, under the writer lock, so that a rating
    /// submitted meanwhile is either in it or after it.
    pub fn calibrate_cycle(
        &self,
        actor: &Actor,
        cycle_id: &str,
        dimension: Option<&str>,
        model: CalibrationModel,
    ) -> AppResult<(CalibrationReport, Receipt)> {
        authz::run_cycles(actor)?;
        let (cycle_id, dimension) = (cycle_id.to_string(), dimension.map(str::to_string));
        let preload = Preload::Ids {
            contributions: Vec::new(),
            outcomes: Vec::new(),
            cycles: vec![cycle_id.clone()],
        };
        self.append_deciding(actor, preload, move |state| {
            let rows = cycle_ratings(state, &cycle_id)?;
            let scale = cycle_scale(state, &cycle_id);
            let report = calibration_of(
                rows,
                dimension.as_deref(),
                model,
                &format!("cycle {cycle_id}"),
                scale,
            )?;
            let result = CalibrationResult {
                cycle_id: cycle_id.clone(),
                dimension: dimension.clone().unwrap_or_default(),
                model: model.as_str().to_string(),
                ratings: report.ratings as u64,
                scores: report
                    .people
                    .iter()
                    .map(|p| CalibratedScore {
                        calibrated: Amount(p.calibrated),
                        n_ratings: p.n_ratings,
                        person_id: p.person_id.clone(),
                        raw_mean: Amount(p.raw_mean),
                        std_error: Amount(p.std_error),
                        uncalibrated: report.uncalibrated,
                    })
                    .collect(),
                warnings: report.warnings.clone(),
            };
            Ok((vec![Event::CalibrationRecorded(result)], report))
        })
    }
}
