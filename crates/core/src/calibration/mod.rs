//! Calibration: correcting each rater's leniency or severity with a crossed-effects model.
//!
//! score = mean + ratee's unit + rater's unit + relationship + cycle (fixed effects)
//!       + ratee effect + rater effect (random effects, ridge-shrunk) + noise
//!
//! - Variance components by the method of moments (Gao & Owen), in one pass over the ratings:
//!   within-ratee spread estimates σ²(rater) + σ²(noise), within-rater spread σ²(ratee) +
//!   σ²(noise), and the total spread all three.
//! - The mixed-model (Henderson) equations `(XᵀX + Λ) θ = Xᵀy`, with Λ = σ²(noise)/σ²(effect)
//!   on the random effects and a tiny ridge on the fixed ones (identifiability), solved by
//!   preconditioned conjugate gradients (`fast.rs`: the shared effects solved together, each
//!   person by their diagonal): each iteration is one pass over the ratings.
//! - Each score's standard error counts the shared effects' and the raters' uncertainty besides
//!   the person's own (`uncertainty.rs`).
//! - Effects for the ratee's and the rater's unit matter: raters are not assigned at random
//!   (people rate within their department), and without them shrinkage would hand department
//!   differences to the raters. They are shrunk lightly (see [`UNIT_VARIANCE_SHARE`]) so that a
//!   split the cross-unit ratings cannot identify settles halfway instead of following noise.
//!
//! Self-ratings are not fitted; they are reported beside the result. [`calibrate_ordinal`] fits
//! the same effects with ratings as steps of a scale (an ordered probit, `ordinal.rs`).

use std::collections::BTreeMap;

/// One rating, with every id already interned to a small integer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rating {
    pub ratee: u32,
    pub rater: u32,
    pub ratee_unit: u32,
    pub rater_unit: u32,
    pub relationship: u32,
    pub cycle: u32,
    pub score: f64,
}

/// The input: ratings, and how many distinct values each index takes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CalibrationInput {
    pub ratings: Vec<Rating>,
    pub ratees: usize,
    pub raters: usize,
    pub units: usize,
    pub relationships: usize,
    pub cycles: usize,
    /// The rating scale's lowest and highest score, when known: on too little data the
    /// standard errors are as wide as the scale allows (else as the scores given).
    pub scale: Option<(f64, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VarianceComponents {
    pub ratee: f64,
    pub rater: f64,
    pub noise: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RateeResult {
    pub n_ratings: u32,
    pub raw_mean: f64,
    /// What an average rater, from an average unit, in an average relationship and cycle,
    /// would have given: mean + the ratee's units (each by its share of their ratings) + ratee
    /// effect (+ the averages of the others).
    pub calibrated: f64,
    pub std_error: f64,
    /// Which connected group of raters and ratees the person belongs to (0 = the largest).
    pub component: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RaterResult {
    pub n_ratings: u32,
    /// How much more kindly (positive) or severely (negative) than an average rater this rater
    /// scores: the rater effect plus the rater's unit effect relative to the average unit.
    pub leniency: f64,
    pub std_error: f64,
    pub outlier: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    pub mean: f64,
    pub components: VarianceComponents,
    pub ratees: Vec<RateeResult>,
    pub raters: Vec<RaterResult>,
    pub relationship_effects: Vec<f64>,
    pub unit_effects_as_ratee: Vec<f64>,
    pub unit_effects_as_rater: Vec<f64>,
    pub cycle_effects: Vec<f64>,
    /// Sizes of the connected groups (raters and ratees linked by ratings), largest first.
    /// Scores are comparable within a group; across groups only through the fixed effects.
    pub groups: Vec<usize>,
    pub iterations: usize,
    /// What the data could not support, if anything (see [`FitWarning`]).
    pub warnings: Vec<FitWarning>,
    /// Whether the data were too few to calibrate at all: each person's score is then their
    /// raw mean, with a standard error as wide as the scale allows, and no rater is corrected.
    pub uncalibrated: bool,
    /// The ordinal model's scale: its steps and the cut points between them; `None` for the
    /// linear model.
    pub scale_steps: Option<ScaleSteps>,
}

/// The ordinal model's view of the rating scale.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleSteps {
    /// The scores given, ascending: the steps.
    pub steps: Vec<f64>,
    /// The cut points on the latent scale (noise variance 1) between successive steps.
    pub cuts: Vec<f64>,
}

/// A variance component of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Ratee,
    Rater,
    Noise,
}

/// Something the ratings could not support. Every one but [`FitWarning::AtZero`] of the
/// rater variance leaves the fit unusable: see [`FitWarning::makes_fit_unusable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FitWarning {
    /// Nobody was rated by two or more raters.
    NoRateeRatedTwice,
    /// No rater rated two or more people.
    NoRaterRatedTwice,
    /// A variance component came out at zero (at the estimator's floor).
    AtZero(Component),
}

impl FitWarning {
    /// Whether the fit cannot be used: the people, the raters and the noise cannot be told
    /// apart. No measurable rater leniency alone is a finding, not a failure: the scores are
    /// then the ratee effects, uncorrected.
    pub fn makes_fit_unusable(self) -> bool {
        self != FitWarning::AtZero(Component::Rater)
    }
}

impl std::fmt::Display for FitWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FitWarning::NoRateeRatedTwice => {
                "nobody was rated by two or more raters, so a rater's leniency cannot be told apart from the person rated"
            }
            FitWarning::NoRaterRatedTwice => {
                "no rater rated two or more people, so a person's level cannot be told apart from their rater's leniency"
            }
            FitWarning::AtZero(Component::Ratee) => {
                "the variance between people came out at zero: these ratings show no difference between people beyond rater leniency and noise"
            }
            FitWarning::AtZero(Component::Rater) => {
                "the variance between raters came out at zero: no rater leniency was measurable, so no score was corrected for it"
            }
            FitWarning::AtZero(Component::Noise) => {
                "the noise variance came out at zero: the model fits every rating exactly, which only too few ratings allow, and its standard errors would be zero"
            }
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CalibrationError {
    #[error("there are no ratings to calibrate")]
    Empty,
    #[error(
        "the ordinal model needs a scale of labelled steps, at most {most}; these ratings hold {found} different scores (use the linear model, `full`, for measurements)"
    )]
    TooManySteps { found: usize, most: usize },
}

/// Layout of the parameter vector θ.
struct Layout {
    ratee_unit: usize,
    rater_unit: usize,
    relationship: usize,
    cycle: usize,
    ratee: usize,
    rater: usize,
    len: usize,
}

impl Layout {
    fn new(input: &CalibrationInput) -> Layout {
        let ratee_unit = 1;
        let rater_unit = ratee_unit + input.units;
        let relationship = rater_unit + input.units;
        let cycle = relationship + input.relationships;
        let ratee = cycle + input.cycles;
        let rater = ratee + input.ratees;
        Layout {
            ratee_unit,
            rater_unit,
            relationship,
            cycle,
            ratee,
            rater,
            len: rater + input.raters,
        }
    }

    /// The columns a rating touches (all with value 1).
    fn columns(&self, r: &Rating) -> [usize; 7] {
        [
            0,
            self.ratee_unit + r.ratee_unit as usize,
            self.rater_unit + r.rater_unit as usize,
            self.relationship + r.relationship as usize,
            self.cycle + r.cycle as usize,
            self.ratee + r.ratee as usize,
            self.rater + r.rater as usize,
        ]
    }
}

/// A small ridge on the fixed effects: it picks one solution among the collinear ones (the
/// unit dummies add up to the intercept) without pulling estimates measurably.
const FIXED_RIDGE: f64 = 1e-6;

/// Fits the model. Linear in the number of ratings per iteration; a few dozen iterations.
pub fn calibrate(input: &CalibrationInput) -> Result<Calibration, CalibrationError> {
    fit(
        input,
        Kernel::Fast {
            shared_at_most: fast::SHARED_AT_MOST,
        },
    )
}

/// [`calibrate`] with the literal product in the solver, one rating after another on one
/// core, run until nothing it reports can move: slow, and the reference the fast solver is
/// checked against (tests, benchmarks).
pub fn calibrate_with_reference_solver(
    input: &CalibrationInput,
) -> Result<Calibration, CalibrationError> {
    fit(input, Kernel::Reference)
}

fn fit(input: &CalibrationInput, kernel: Kernel) -> Result<Calibration, CalibrationError> {
    if input.ratings.is_empty() {
        return Err(CalibrationError::Empty);
    }
    let layout = Layout::new(input);
    // The design on one core while this one makes what every pass shares: the first
    // variance components, the right side, each effect's count of ratings, and what the
    // variance reads of the ratings.
    let (design, (mut estimated, rhs, counts, graph)) = std::thread::scope(|scope| {
        let design = scope.spawn(|| match kernel {
            Kernel::Fast { shared_at_most } => {
                Some(fast::Design::new(input, &layout, shared_at_most))
            }
            Kernel::Reference => None,
        });
        // First pass: variance components on the raw scores give the first shrinkage; the
        // second pass re-estimates them on the scores net of the fixed effects.
        let shared = (
            moments(input, &vec![0.0; input.ratings.len()]),
            right_side(input, &layout, |_, r| r.score),
            column_counts(input, &layout),
            uncertainty::RatingGraph::new(input, &layout, None),
        );
        let design = design
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (design, shared)
    });
    let mut theta = vec![0.0; layout.len];
    let mut iterations = 0;
    for _ in 0..2 {
        let ridge = ridges(&layout, &estimated.components);
        iterations +=
            Prepared::new(input, &layout, &design, &ridge, &counts).solve(&rhs, &mut theta);
        let fixed: Vec<f64> = input
            .ratings
            .iter()
            .map(|r| layout.columns(r)[..5].iter().map(|c| theta[*c]).sum())
            .collect();
        estimated = moments(input, &fixed);
    }
    let warnings = warnings_of(&estimated);
    let mut fit = summarise(
        input,
        &layout,
        &graph,
        design.as_ref().and_then(fast::Design::shared_gram),
        theta,
        estimated.components,
        iterations,
    );
    if warnings.iter().any(|w| w.makes_fit_unusable()) {
        leave_uncalibrated(input, &mut fit);
    }
    fit.warnings = warnings;
    Ok(fit)
}

/// Replaces an unusable fit's estimates by what the ratings alone say: each person's raw
/// mean, no rater leniency, and standard errors as wide as a score on the scale can spread
/// (half the scale's range, over √n): honest about knowing nothing beyond the ratings.
fn leave_uncalibrated(input: &CalibrationInput, fit: &mut Calibration) {
    let (low, high) = input.scale.unwrap_or_else(|| {
        input
            .ratings
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
                (lo.min(r.score), hi.max(r.score))
            })
    });
    // Scores that are all alike give no range: one step of the scale, at least.
    let spread = ((high - low) / 2.0).max(0.5);
    for ratee in &mut fit.ratees {
        ratee.calibrated = ratee.raw_mean;
        ratee.std_error = spread / f64::from(ratee.n_ratings.max(1)).sqrt();
    }
    for rater in &mut fit.raters {
        rater.leniency = 0.0;
        rater.std_error = spread / f64::from(rater.n_ratings.max(1)).sqrt();
        rater.outlier = false;
    }
    fit.uncalibrated = true;
}

/// The prior variance of a unit effect (as the ratee's unit or the rater's unit), as a share
/// of the variance between individual ratees: unit sd ≈ a quarter of the individual sd.
///
/// Most ratings are given within a unit, so "this unit performs better" and "this unit's raters
/// are kinder" are told apart only by the cross-unit ratings. With unshrunk unit effects that
/// split followed the noise of a few dozen cross ratings: on a 200-person simulation the model
/// fell below the raw mean (Spearman 0.77 against 0.81). Shrinking both unit effects settles
/// an unidentified split halfway and leaves well-measured units (hundreds of ratings) almost
/// untouched. Measured on the simulator (`valuetree fairness`, Spearman of method (c)):
/// 200 people 0.77 → 0.83, 2,000 people 0.85 → 0.87 (seeds 1–3 all up), 20,000 people
/// 0.840 → 0.833, 100,000 people 0.857 → 0.852 — above the raw mean at every size.
pub const UNIT_VARIANCE_SHARE: f64 = 1.0 / 16.0;

fn ridges(layout: &Layout, c: &VarianceComponents) -> Vec<f64> {
    let mut ridge = vec![FIXED_RIDGE; layout.len];
    ridge[0] = 0.0;
    let lambda_ratee = c.noise / c.ratee.max(1e-6);
    let lambda_rater = c.noise / c.rater.max(1e-6);
    ridge[layout.ratee..layout.rater]
        .iter_mut()
        .for_each(|r| *r = lambda_ratee);
    // Unit effects are shrunk too (as random effects whose variance is a sixteenth of the
    // individual ratee variance): see UNIT_VARIANCE_SHARE.
    ridge[layout.ratee_unit..layout.relationship]
        .iter_mut()
        .for_each(|r| *r = lambda_ratee / UNIT_VARIANCE_SHARE);
    ridge[layout.rater..]
        .iter_mut()
        .for_each(|r| *r = lambda_rater);
    ridge
}

/// Variance components, and what they could not be estimated from.
struct Moments {
    components: VarianceComponents,
    /// Degrees of freedom within ratees (ratings beyond each ratee's first) and raters.
    ratee_df: f64,
    rater_df: f64,
    /// Which components came out at or below the floor they are clamped to.
    at_zero: Vec<Component>,
}

/// Method-of-moments variance components of `score − offset` (Gao & Owen's U-statistics in
/// their within-group form).
fn moments(input: &CalibrationInput, offset: &[f64]) -> Moments {
    let within = |key: &(dyn Fn(&Rating) -> u32 + Sync), groups: usize| {
        let (mut sum, mut sum_sq, mut count) =
            (vec![0.0; groups], vec![0.0; groups], vec![0u32; groups]);
        for (r, o) in input.ratings.iter().zip(offset) {
            let y = r.score - o;
            let g = key(r) as usize;
            sum[g] += y;
            sum_sq[g] += y * y;
            count[g] += 1;
        }
        let (mut ss, mut df) = (0.0, 0.0);
        for g in 0..groups {
            if count[g] > 1 {
                ss += sum_sq[g] - sum[g] * sum[g] / f64::from(count[g]);
                df += f64::from(count[g] - 1);
            }
        }
        (if df > 0.0 { ss / df } else { 0.0 }, df)
    };
    // The raters' pass on one core, the ratees' and the total on this one.
    let ((within_ratee, ratee_df), (within_rater, rater_df), (total, _)) =
        std::thread::scope(|scope| {
            let raters = scope.spawn(|| within(&|r| r.rater, input.raters));
            let ratees = within(&|r| r.ratee, input.ratees);
            let total = within(&|_| 0, 1);
            let raters = raters
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (ratees, raters, total)
        });
    let floor = 0.01 * total.max(1e-9);
    let raw = [
        (Component::Ratee, total - within_ratee),
        (Component::Rater, total - within_rater),
        (Component::Noise, within_ratee + within_rater - total),
    ];
    Moments {
        components: VarianceComponents {
            ratee: raw[0].1.max(floor),
            rater: raw[1].1.max(floor),
            noise: raw[2].1.max(floor),
        },
        ratee_df,
        rater_df,
        at_zero: raw
            .iter()
            .filter(|(_, value)| *value <= floor)
            .map(|(component, _)| *component)
            .collect(),
    }
}

/// What the last moments say the data could not support.
fn warnings_of(moments: &Moments) -> Vec<FitWarning> {
    let mut warnings = Vec::new();
    if moments.ratee_df == 0.0 {
        warnings.push(FitWarning::NoRateeRatedTwice);
    }
    if moments.rater_df == 0.0 {
        warnings.push(FitWarning::NoRaterRatedTwice);
    }
    // Without a person rated twice or a rater who rated twice, the components are not
    // estimable at all: that they came out at zero says nothing more.
    if warnings.is_empty() {
        warnings.extend(moments.at_zero.iter().map(|c| FitWarning::AtZero(*c)));
    }
    warnings
}

/// Which kernel computes `(XᵀX + diag(ridge)) x` in the solver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// [`fast::Design`]: the ratings in runs by ratee, the small effects folded, on every
    /// core; the shared effects solved together in the preconditioner when there are at most
    /// `shared_at_most` of them.
    Fast { shared_at_most: usize },
    /// The literal product, one rating after another: what the fast kernel is checked against.
    Reference,
}

/// How many ratings name each effect: the diagonal of XᵀX, in [`Layout`]'s order.
fn column_counts(input: &CalibrationInput, layout: &Layout) -> Vec<f64> {
    let mut counts = vec![0.0; layout.len];
    for r in &input.ratings {
        for c in layout.columns(r) {
            counts[c] += 1.0;
        }
    }
    counts
}

/// `Xᵀy` for the response `y` of each rating (its position, the rating).
fn right_side(
    input: &CalibrationInput,
    layout: &Layout,
    response: impl Fn(usize, &Rating) -> f64,
) -> Vec<f64> {
    let mut rhs = vec![0.0; layout.len];
    for (i, r) in input.ratings.iter().enumerate() {
        let y = response(i, r);
        for c in layout.columns(r) {
            rhs[c] += y;
        }
    }
    rhs
}

/// The system `(XᵀX + diag(ridge))` ready for many right sides: the preconditioner is made
/// once (the ordinal model solves with one ridge dozens of times).
struct Prepared<'a> {
    input: &'a CalibrationInput,
    layout: &'a Layout,
    ridge: &'a [f64],
    kernel: PreparedKernel<'a>,
}

enum PreparedKernel<'a> {
    Fast {
        design: &'a fast::Design,
        ridge: Vec<f64>,
        preconditioner: fast::Preconditioner,
    },
    Reference {
        inverse: Vec<f64>,
    },
}

impl<'a> Prepared<'a> {
    fn new(
        input: &'a CalibrationInput,
        layout: &'a Layout,
        design: &'a Option<fast::Design>,
        ridge: &'a [f64],
        counts: &[f64],
    ) -> Prepared<'a> {
        let diagonal: Vec<f64> = ridge.iter().zip(counts).map(|(r, n)| r + n).collect();
        let kernel = match design {
            Some(design) => {
                let ridge = design.to_design(ridge);
                let preconditioner = design.preconditioner(&ridge, &design.to_design(&diagonal));
                PreparedKernel::Fast {
                    design,
                    ridge,
                    preconditioner,
                }
            }
            None => PreparedKernel::Reference {
                inverse: inverse_diagonal(&diagonal),
            },
        };
        Prepared {
            input,
            layout,
            ridge,
            kernel,
        }
    }

    /// Solves for the right side `rhs` (in [`Layout`]'s order) from the current θ.
    fn solve(&self, rhs: &[f64], theta: &mut [f64]) -> usize {
        match &self.kernel {
            PreparedKernel::Fast {
                design,
                ridge,
                preconditioner,
            } => {
                let mut scratch = fast::Scratch::default();
                let mut x = design.to_design(theta);
                let iterations = conjugate_gradients(
                    TOLERANCE,
                    &design.to_design(rhs),
                    &mut x,
                    |x, out| design.apply(ridge, x, out, &mut scratch),
                    |r, z| preconditioner.apply(r, z),
                );
                design.to_layout(&x, theta);
                iterations
            }
            PreparedKernel::Reference { inverse } => conjugate_gradients(
                REFERENCE_TOLERANCE,
                rhs,
                theta,
                |x, out| {
                    out.iter_mut()
                        .zip(self.ridge)
                        .zip(x)
                        .for_each(|((o, d), v)| *o = d * v);
                    for r in &self.input.ratings {
                        let cols = self.layout.columns(r);
                        let fitted: f64 = cols.iter().map(|c| x[*c]).sum();
                        for c in cols {
                            out[c] += fitted;
                        }
                    }
                },
                |r, z| jacobi(inverse, r, z),
            ),
        }
    }
}

/// How far the solver goes: the weighed residual over the weighed right side (see
/// [`conjugate_gradients`]). On the simulator's 250,000-person organisation the estimates
/// then agree with the reference solver's, run to [`REFERENCE_TOLERANCE`], at a Pearson
/// correlation above 0.99999 (docs/benchmarks.md); a tolerance three times looser stopped
/// before the unit effects had settled.
const TOLERANCE: f64 = 1e-5;

/// The reference solver goes until nothing it reports can move.
const REFERENCE_TOLERANCE: f64 = 1e-9;

/// The Jacobi preconditioner: `z = r ⊙ inverse`.
fn jacobi(inverse: &[f64], r: &[f64], z: &mut [f64]) {
    for ((z, r), m) in z.iter_mut().zip(r).zip(inverse) {
        *z = r * m;
    }
}

/// A's inverse diagonal: the Jacobi preconditioner (1 where the diagonal is 0).
fn inverse_diagonal(diagonal: &[f64]) -> Vec<f64> {
    diagonal
        .iter()
        .map(|d| if *d > 0.0 { 1.0 / d } else { 1.0 })
        .collect()
}

/// Preconditioned conjugate gradients on `A θ = rhs`, from the current θ, to `tolerance`:
/// `apply(x, out)` sets `out = A x`, `precondition(r, z)` sets `z = M⁻¹ r`
/// for a symmetric positive definite M near A. Returns the iterations used.
fn conjugate_gradients(
    tolerance: f64,
    rhs: &[f64],
    theta: &mut [f64],
    mut apply: impl FnMut(&[f64], &mut [f64]),
    precondition: impl Fn(&[f64], &mut [f64]),
) -> usize {
    let len = rhs.len();
    let mut residual = vec![0.0; len];
    apply(theta, &mut residual);
    for (r, b) in residual.iter_mut().zip(rhs) {
        *r = b - *r;
    }
    let mut z = vec![0.0; len];
    precondition(&residual, &mut z);
    let mut rz: f64 = residual.iter().zip(&z).map(|(r, z)| r * z).sum();
    let mut direction = z.clone();
    // Converged when the residual, weighed by the preconditioner, is small beside the right
    // side weighed alike: each equation counts by its own scale. Unweighed, the intercept's
    // equation (the sum of every score) dwarfs a person's, and the solver stopped while unit
    // effects were still off by a tenth of a scale point.
    let mut scaled = vec![0.0; len];
    precondition(rhs, &mut scaled);
    let target = tolerance
        * tolerance
        * rhs
            .iter()
            .zip(&scaled)
            .map(|(b, s)| b * s)
            .sum::<f64>()
            .max(1e-300);
    let mut ap = vec![0.0; len];
    // The vector updates are fused into few passes per iteration: at this size the vectors
    // are out of the cache, and each pass over them costs about as much as the arithmetic.
    for iteration in 0..500 {
        if rz <= target {
            return iteration;
        }
        apply(&direction, &mut ap);
        let denominator: f64 = direction.iter().zip(&ap).map(|(a, b)| a * b).sum();
        if denominator <= 0.0 {
            return iteration;
        }
        let alpha = rz / denominator;
        for ((t, r), (d, a)) in theta
            .iter_mut()
            .zip(residual.iter_mut())
            .zip(direction.iter().zip(&ap))
        {
            *t += alpha * d;
            *r -= alpha * a;
        }
        precondition(&residual, &mut z);
        let rz_next: f64 = residual.iter().zip(&z).map(|(r, z)| r * z).sum();
        let beta = rz_next / rz;
        rz = rz_next;
        for (d, z) in direction.iter_mut().zip(&z) {
            *d = z + beta * *d;
        }
    }
    500
}

/// What both models read per person from θ: counts, raw means, units, and each ratee's level
/// on the model's scale (the linear model's calibrated score; the ordinal model's latent one).
struct Levels {
    ratee_level: Vec<f64>,
    ratee_count: Vec<u32>,
    ratee_sum: Vec<f64>,
    rater_count: Vec<u32>,
    /// Per rater, the mean over their ratings of their unit's effect (a reorganisation moves
    /// raters between units).
    rater_unit_effect: Vec<f64>,
    /// The rating-weighted mean rater's-unit effect.
    average_rater_unit: f64,
}

fn levels(input: &CalibrationInput, layout: &Layout, theta: &[f64]) -> Levels {
    let n = input.ratings.len() as f64;
    // Averages of the effects a ratee does not choose: rater's unit, relationship, cycle,
    // weighted by how often they occur.
    let average = |offset: usize, key: &dyn Fn(&Rating) -> u32| {
        input
            .ratings
            .iter()
            .map(|r| theta[offset + key(r) as usize])
            .sum::<f64>()
            / n
    };
    let average_rater_unit = average(layout.rater_unit, &|r| r.rater_unit);
    let average_relationship = average(layout.relationship, &|r| r.relationship);
    let average_cycle = average(layout.cycle, &|r| r.cycle);
    let (mut ratee_count, mut ratee_sum) = (vec![0u32; input.ratees], vec![0.0; input.ratees]);
    // The units a person was rated in, each as often as they were rated there: over years of
    // reorganisations a person's ratings span several units, and their effect was estimated
    // net of all of them, so the last unit alone would add the difference between it and the
    // others to the score (docs/decisions.md).
    let mut ratee_unit_sum = vec![0.0; input.ratees];
    let (mut rater_count, mut rater_unit_sum) = (vec![0u32; input.raters], vec![0.0; input.raters]);
    for r in &input.ratings {
        ratee_count[r.ratee as usize] += 1;
        ratee_sum[r.ratee as usize] += r.score;
        ratee_unit_sum[r.ratee as usize] += theta[layout.ratee_unit + r.ratee_unit as usize];
        rater_count[r.rater as usize] += 1;
        rater_unit_sum[r.rater as usize] += theta[layout.rater_unit + r.rater_unit as usize];
    }
    let mean = |sum: f64, count: u32| sum / f64::from(count.max(1));
    let ratee_level = (0..input.ratees)
        .map(|i| {
            theta[0]
                + mean(ratee_unit_sum[i], ratee_count[i])
                + theta[layout.ratee + i]
                + average_rater_unit
                + average_relationship
                + average_cycle
        })
        .collect();
    let rater_unit_effect = rater_unit_sum
        .iter()
        .zip(&rater_count)
        .map(|(sum, count)| mean(*sum, *count))
        .collect();
    Levels {
        ratee_level,
        ratee_count,
        ratee_sum,
        rater_count,
        rater_unit_effect,
        average_rater_unit,
    }
}

impl Levels {
    fn raw_mean(&self, i: usize) -> f64 {
        match self.ratee_count[i] {
            0 => f64::NAN,
            k => self.ratee_sum[i] / f64::from(k),
        }
    }

    /// A rater's leniency on the model's scale: their effect and their units', relative to
    /// the average unit.
    fn leniency(&self, layout: &Layout, theta: &[f64], j: usize) -> f64 {
        theta[layout.rater + j] + self.rater_unit_effect[j] - self.average_rater_unit
    }
}

fn summarise(
    input: &CalibrationInput,
    layout: &Layout,
    graph: &uncertainty::RatingGraph,
    shared_gram: Option<&[f64]>,
    theta: Vec<f64>,
    components: VarianceComponents,
    iterations: usize,
) -> Calibration {
    // The connected groups on one core while this one reads the levels and residuals.
    let (group, levels, rater_sq_residual) = std::thread::scope(|scope| {
        let group = scope.spawn(|| components_of(input));
        let levels = levels(input, layout, &theta);
        let mut rater_sq_residual = vec![0.0; input.raters];
        for r in &input.ratings {
            let fitted: f64 = layout.columns(r).iter().map(|c| theta[*c]).sum();
            rater_sq_residual[r.rater as usize] += (r.score - fitted).powi(2);
        }
        let group = group
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (group, levels, rater_sq_residual)
    });
    let noise = components.noise;
    let lambda_rater = noise / components.rater;
    let variances = uncertainty::score_variances(
        input,
        layout,
        graph,
        shared_gram,
        &ridges(layout, &components),
        None,
        fast::SHARED_AT_MOST,
    );
    let ratees = (0..input.ratees)
        .map(|i| RateeResult {
            n_ratings: levels.ratee_count[i],
            raw_mean: levels.raw_mean(i),
            calibrated: levels.ratee_level[i],
            std_error: (noise * variances[i]).sqrt(),
            component: group.ratee[i],
        })
        .collect();
    let spread = components.rater.sqrt();
    let raters = (0..input.raters)
        .map(|j| {
            let m = levels.rater_count[j];
            let erratic = m >= 3 && rater_sq_residual[j] / f64::from(m) > 4.0 * noise;
            RaterResult {
                n_ratings: m,
                leniency: levels.leniency(layout, &theta, j),
                std_error: (noise / (f64::from(m) + lambda_rater)).sqrt(),
                // Far from everyone else's leniency, or far noisier than a typical rater.
                outlier: m >= 3 && ((theta[layout.rater + j]).abs() > 2.5 * spread || erratic),
            }
        })
        .collect();
    assemble(
        input,
        layout,
        &theta,
        components,
        iterations,
        ratees,
        raters,
        group.sizes,
    )
}

/// The fit as reported, from its parts.
#[allow(clippy::too_many_arguments)]
fn assemble(
    input: &CalibrationInput,
    layout: &Layout,
    theta: &[f64],
    components: VarianceComponents,
    iterations: usize,
    ratees: Vec<RateeResult>,
    raters: Vec<RaterResult>,
    groups: Vec<usize>,
) -> Calibration {
    let slice = |from: usize, len: usize| theta[from..from + len].to_vec();
    Calibration {
        mean: theta[0],
        relationship_effects: slice(layout.relationship, input.relationships),
        unit_effects_as_ratee: slice(layout.ratee_unit, input.units),
        unit_effects_as_rater: slice(layout.rater_unit, input.units),
        cycle_effects: slice(layout.cycle, input.cycles),
        components,
        ratees,
        raters,
        groups,
        iterations,
        warnings: Vec::new(),
        uncalibrated: false,
        scale_steps: None,
    }
}

struct Groups {
    ratee: Vec<u32>,
    sizes: Vec<usize>,
}

/// Union-find over ratees and raters linked by ratings; groups numbered largest first.
fn components_of(input: &CalibrationInput) -> Groups {
    let total = input.ratees + input.raters;
    let mut parent: Vec<usize> = (0..total).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for r in &input.ratings {
        let (a, b) = (
            find(&mut parent, r.ratee as usize),
            find(&mut parent, input.ratees + r.rater as usize),
        );
        if a != b {
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut size: BTreeMap<usize, usize> = BTreeMap::new();
    let mut seen = vec![false; total];
    for r in &input.ratings {
        for x in [r.ratee as usize, input.ratees + r.rater as usize] {
            if !seen[x] {
                seen[x] = true;
                *size.entry(find(&mut parent, x)).or_default() += 1;
            }
        }
    }
    let mut order: Vec<(usize, usize)> = size.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let number: BTreeMap<usize, u32> = order
        .iter()
        .enumerate()
        .map(|(i, (root, _))| (*root, i as u32))
        .collect();
    let ratee = (0..input.ratees)
        .map(|i| {
            number
                .get(&find(&mut parent, i))
                .copied()
                .unwrap_or(u32::MAX)
        })
        .collect();
    Groups {
        ratee,
        sizes: order.into_iter().map(|(_, s)| s).collect(),
    }
}

mod fast;
mod ordinal;
#[cfg(test)]
mod tests;
mod uncertainty;

pub use ordinal::{MAX_STEPS, calibrate_ordinal};
