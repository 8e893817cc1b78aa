//! The calibrated score's variance, counting what the person's own effect is measured against.
//!
//! A calibrated score is `mean + ratee's unit + ratee effect + the averages of the rest`.
//! Given every other effect, the ratee effect's posterior variance is `σ²/(n + λ)`; but the
//! other effects are estimated too, and a person is only as well placed as their unit's
//! effect and their raters' leniencies are:
//!
//! - **The shared effects** (intercept, units, relationships, cycles) are marginalised by the
//!   Schur complement `S = A_ss − A_sp D⁻¹ A_ps` of the mixed-model matrix A over the people's
//!   block D: the ratees eliminated exactly (their block is diagonal), then the raters, each by
//!   their diagonal as the ratees' elimination left it. Their posterior covariance is `σ² S⁻¹`. Ratings within a
//!   unit make "this unit performs well" and "this unit's raters are kind" hard to tell apart:
//!   S sees that (its off-diagonal), the person's own variance does not.
//! - The person's effect, given the shared ones, moves with them: calibrated =
//!   `wᵀθ_s + (the person's own part)` with `w = c − v/(n + λ)`, where c is the score's
//!   contrast over the shared effects and v the shared effects the person's ratings touch.
//!   Its variance: `σ²/(n + λ) + σ² wᵀS⁻¹w`.
//! - **Each rater's leniency** is uncertain by `σ²/D_j` (that diagonal), and enters the
//!   person's effect with weight `1/(n + λ)`.
//!
//! With weights (the ordinal model's observed information per rating), every count above is
//! a sum of weights and σ² is 1.
//!
//! More shared effects than the solver takes together ([`fast::SHARED_AT_MOST`]; a cycle's
//! timeline units): S by its diagonal alone, which misses how the shared effects inform each
//! other (on the test's small confounded organisation it overstates the variance by 13%).

use super::{CalibrationInput, Layout, fast};

/// The fixed effects' ridge in the variance: a prior far wider than any estimate (one
/// standard deviation of the noise per effect, against thousands of ratings behind each).
/// The solver's tiny ridge would leave S⁻¹ with entries near 10⁶ along the directions the
/// data cannot see (the unit and relationship dummies add up to the intercept); the score is
/// blind to those directions, but rounding is not.
const VARIANCE_RIDGE: f64 = 1.0;

/// What the variance reads of the ratings whatever the shrinkage: the ratings grouped by
/// rater, each ratee's touches and unit shares, and the raters dealt to the two cores. It
/// does not depend on the variance components, so the fit makes it while the solver's
/// design is being built, on the core that would otherwise wait.
pub(super) struct RatingGraph {
    by_rater: Grouped,
    ratee_touches: Touches,
    unit_shares: Touches,
    /// The raters in order of their unit, in stretches: the first core's, the second's.
    first_raters: Vec<u32>,
    second_raters: Vec<u32>,
    /// The score's contrast over the shared effects that is everyone's.
    common: Vec<f64>,
}

impl RatingGraph {
    /// `weights`: each rating's information, as in [`score_variances`].
    pub(super) fn new(
        input: &CalibrationInput,
        layout: &Layout,
        weights: Option<&[f64]>,
    ) -> RatingGraph {
        let weight = |rating: usize| weights.map_or(1.0, |w| w[rating]);
        // The ratings grouped by rater on one core while the ratees' touches are made on the
        // other.
        let (by_rater, (ratee_touches, unit_shares)) = std::thread::scope(|scope| {
            let by_rater =
                scope.spawn(|| Grouped::new(input.ratings.iter().map(|r| r.rater), input.raters));
            let by_ratee = Grouped::new(input.ratings.iter().map(|r| r.ratee), input.ratees);
            let ratee_touches = touches(input, layout, &by_ratee, &weight);
            let by_rater = by_rater
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (by_rater, ratee_touches)
        });
        // The raters in two parts, one per core. Raters in order of their unit: one after
        // another they touch the same rows of the matrix, which then stay in the cache. The
        // order is dealt out in stretches, alternately, so that both parts get raters of
        // every kind (a unit's raters can cost far more than another's).
        let mut order: Vec<u32> = (0..input.raters as u32).collect();
        let mut unit_of_rater = vec![0u32; input.raters];
        for r in &input.ratings {
            unit_of_rater[r.rater as usize] = r.rater_unit;
        }
        order.sort_by_key(|j| (unit_of_rater[*j as usize], *j));
        const STRETCH: usize = 2048;
        let (mut first_raters, mut second_raters) = (Vec::new(), Vec::new());
        for (k, raters) in order.chunks(STRETCH).enumerate() {
            if k % 2 == 0 {
                first_raters.extend_from_slice(raters);
            } else {
                second_raters.extend_from_slice(raters);
            }
        }
        // The score's contrast: the intercept, the ratee's unit, and the rating-weighted
        // means of the rater's unit, relationship and cycle. All but the unit are everyone's.
        let n = input.ratings.len() as f64;
        let mut common = vec![0.0; layout.ratee];
        common[0] = 1.0;
        for r in &input.ratings {
            for c in &layout.columns(r)[2..5] {
                common[*c] += 1.0 / n;
            }
        }
        RatingGraph {
            by_rater,
            ratee_touches,
            unit_shares,
            first_raters,
            second_raters,
            common,
        }
    }
}

/// Per ratee, σ⁻² times the variance of the calibrated score: its own `1/(n + λ)`, the shared
/// effects' part and the raters'. `ridge` is the solver's (in [`Layout`]'s order); a score
/// carries the effects of the units the person was rated in, each by its share of their
/// ratings (see `levels`). `weights`: each rating's information (the
/// ordinal model's observed information on its latent scale); `None`: 1 each (the linear
/// model, where σ² carries the noise); `graph` made with the same weights. With more than
/// `dense_at_most` shared effects, S is taken by its diagonal. `shared_gram`: XᵀX among the
/// shared effects (n×n, row-major), if the solver's design has it: with weights of 1 it is
/// where S starts, and a pass over the ratings is saved.
pub(super) fn score_variances(
    input: &CalibrationInput,
    layout: &Layout,
    graph: &RatingGraph,
    shared_gram: Option<&[f64]>,
    ridge: &[f64],
    weights: Option<&[f64]>,
    dense_at_most: usize,
) -> Vec<f64> {
    let weight = |rating: usize| weights.map_or(1.0, |w| w[rating]);
    let shared = layout.ratee;
    let ridge_of = |k: usize| {
        if (layout.ratee_unit..layout.relationship).contains(&k) {
            ridge[k]
        } else {
            ridge[k].max(VARIANCE_RIDGE)
        }
    };
    let mut ratee_diagonal = ridge[layout.ratee..layout.rater].to_vec();
    for (rating, r) in input.ratings.iter().enumerate() {
        ratee_diagonal[r.ratee as usize] += weight(rating);
    }
    let RatingGraph {
        by_rater,
        ratee_touches,
        unit_shares,
        first_raters,
        second_raters,
        common,
    } = graph;
    let dense = shared <= dense_at_most;
    let new_schur = || {
        if dense {
            Schur::Dense(vec![0.0; shared * (shared + 1) / 2], shared)
        } else {
            Schur::Diagonal(vec![0.0; shared])
        }
    };
    let eliminate = |raters: &[u32]| {
        let mut schur = new_schur();
        let diagonal = eliminate_raters(
            input,
            layout,
            ridge,
            &ratee_diagonal,
            ratee_touches,
            by_rater,
            &weight,
            raters,
            &mut schur,
        );
        (schur, diagonal)
    };
    // Each core's raters into its own matrix; the ratings and the ratees are this thread's
    // before its raters.
    let (mut schur, (first_schur, first), (second_schur, second)) = std::thread::scope(|scope| {
        let first = scope.spawn(|| eliminate(first_raters));
        let gram = shared_gram.filter(|g| weights.is_none() && dense && g.len() == shared * shared);
        let mut schur = match gram {
            Some(gram) => Schur::upper_of(gram, shared),
            None => {
                let mut schur = new_schur();
                for (rating, r) in input.ratings.iter().enumerate() {
                    let [a, b, c, d, e, ..] = layout.columns(r);
                    let w = weight(rating);
                    schur.add_outer(&[(a, 1.0), (b, 1.0), (c, 1.0), (d, 1.0), (e, 1.0)], w);
                }
                schur
            }
        };
        for k in 0..shared {
            schur.add_diagonal(k, ridge_of(k));
        }
        // The ratees' block is diagonal: eliminated exactly.
        for (i, d) in ratee_diagonal.iter().enumerate() {
            schur.add_outer(ratee_touches.of(i), -1.0 / d);
        }
        let second = eliminate(second_raters);
        let first = first
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (schur, first, second)
    });
    schur.add(&first_schur);
    schur.add(&second_schur);
    let mut rater_diagonal = vec![0.0; input.raters];
    let dealt = first_raters.iter().chain(second_raters);
    for (j, d) in dealt.zip(first.into_iter().chain(second)) {
        rater_diagonal[*j as usize] = d;
    }
    // The raters' part on one core while this one inverts S.
    let (rater_part, (covariance, common_times)) = std::thread::scope(|scope| {
        let rater_part = scope.spawn(|| {
            let mut rater_part = vec![0.0; input.ratees];
            for (rating, r) in input.ratings.iter().enumerate() {
                rater_part[r.ratee as usize] +=
                    weight(rating).powi(2) / rater_diagonal[r.rater as usize];
            }
            rater_part
        });
        let covariance = schur.inverse();
        let common_times = covariance.times(common);
        let rater_part = rater_part
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (rater_part, (covariance, common_times))
    });
    let common_part: f64 = common.iter().zip(&common_times).map(|(a, b)| a * b).sum();

    let variance_of = |i: usize| {
        let d = ratee_diagonal[i];
        // w − common: the ratee's units, less what their ratings touch over (n + λ).
        let mut own: Vec<(usize, f64)> = ratee_touches
            .of(i)
            .iter()
            .map(|(k, count)| (*k as usize, -f64::from(*count) / d))
            .collect();
        for &(unit, share) in unit_shares.of(i) {
            let (unit, share) = (unit as usize, f64::from(share));
            match own.iter_mut().find(|(k, _)| *k == unit) {
                Some((_, v)) => *v += share,
                None => own.push((unit, share)),
            }
        }
        let cross: f64 = own.iter().map(|(k, v)| v * common_times[*k]).sum();
        let shared_part = common_part + 2.0 * cross + covariance.quadratic(&own);
        1.0 / d + shared_part.max(0.0) + rater_part[i] / (d * d)
    };
    // Two halves, one per core.
    let half = input.ratees / 2;
    let (mut variances, second_half) = std::thread::scope(|scope| {
        let second = scope.spawn(|| (half..input.ratees).map(variance_of).collect::<Vec<_>>());
        let first: Vec<f64> = (0..half).map(variance_of).collect();
        let second = second
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (first, second)
    });
    variances.extend(second_half);
    variances
}

/// Subtracts the part of each rater in `raters` from `schur` (see [`score_variances`]) and
/// returns their diagonals after the ratees' elimination: `m + λ − Σ c²/(n + λ_ratee)` over
/// the ratees they rated, c times each (with weights: m, n and c are sums of weights).
#[allow(clippy::too_many_arguments)]
fn eliminate_raters(
    input: &CalibrationInput,
    layout: &Layout,
    ridge: &[f64],
    ratee_diagonal: &[f64],
    ratee_touches: &Touches,
    by_rater: &Grouped,
    weight: &impl Fn(usize) -> f64,
    raters: &[u32],
    schur: &mut Schur,
) -> Vec<f64> {
    let mut sums = Scatter::new(layout.ratee);
    let mut ratees: Vec<(u32, f64)> = Vec::new();
    let mut sparse: Vec<(usize, f64)> = Vec::new();
    raters
        .iter()
        .map(|&j| {
            let j = j as usize;
            ratees.clear();
            let mut d = ridge[layout.rater + j];
            for &rating in by_rater.of(j) {
                let r = &input.ratings[rating as usize];
                let w = weight(rating as usize);
                for c in &layout.columns(r)[..5] {
                    sums.add(*c, w);
                }
                ratees.push((r.ratee, w));
                d += w;
            }
            ratees.sort_unstable_by_key(|(ratee, _)| *ratee);
            for same in ratees.chunk_by(|a, b| a.0 == b.0) {
                let ratee = same[0].0 as usize;
                let c: f64 = same.iter().map(|(_, w)| w).sum();
                d -= c * c / ratee_diagonal[ratee];
                for (k, count) in ratee_touches.of(ratee) {
                    sums.add(*k as usize, -c * f64::from(*count) / ratee_diagonal[ratee]);
                }
            }
            sums.drain_into(&mut sparse, schur.is_dense());
            let diagonal = d.max(ridge[layout.rater + j]);
            schur.add_outer(&sparse, -1.0 / diagonal);
            diagonal
        })
        .collect()
}

/// Sums over a few positions of a long vector: the positions touched, in order on draining.
struct Scatter {
    values: Vec<f64>,
    touched: Vec<usize>,
    seen: Vec<bool>,
}

impl Scatter {
    fn new(len: usize) -> Scatter {
        Scatter {
            values: vec![0.0; len],
            touched: Vec::new(),
            seen: vec![false; len],
        }
    }

    fn add(&mut self, k: usize, value: f64) {
        if !self.seen[k] {
            self.seen[k] = true;
            self.touched.push(k);
        }
        self.values[k] += value;
    }

    /// The sums as (position, value), positions ascending if `ascending` (else in the order
    /// first touched); empties the scatter.
    fn drain_into(&mut self, out: &mut Vec<(usize, f64)>, ascending: bool) {
        out.clear();
        if ascending {
            self.touched.sort_unstable();
        }
        for k in self.touched.drain(..) {
            out.push((k, self.values[k]));
            self.values[k] = 0.0;
            self.seen[k] = false;
        }
    }
}

/// The ratings' positions grouped by a key (ratee or rater): a counting sort.
struct Grouped {
    starts: Vec<usize>,
    ratings: Vec<u32>,
}

impl Grouped {
    fn new(keys: impl Iterator<Item = u32> + Clone, groups: usize) -> Grouped {
        let mut starts = vec![0usize; groups + 1];
        for key in keys.clone() {
            starts[key as usize + 1] += 1;
        }
        for g in 0..groups {
            starts[g + 1] += starts[g];
        }
        let mut next = starts.clone();
        let mut ratings = vec![0u32; starts[groups]];
        for (rating, key) in keys.enumerate() {
            ratings[next[key as usize]] = rating as u32;
            next[key as usize] += 1;
        }
        Grouped { starts, ratings }
    }

    fn of(&self, group: usize) -> &[u32] {
        &self.ratings[self.starts[group]..self.starts[group + 1]]
    }
}

/// For each ratee, the shared effects their ratings touch and how often (or with what weight):
/// (position, count), positions ascending.
struct Touches {
    starts: Vec<usize>,
    entries: Vec<(u32, f32)>,
}

impl Touches {
    fn of(&self, person: usize) -> &[(u32, f32)] {
        &self.entries[self.starts[person]..self.starts[person + 1]]
    }
}

/// Each ratee's [`Touches`], and from the same pass the units they were rated in, each with
/// its share of their ratings (the score's contrast over the units).
fn touches(
    input: &CalibrationInput,
    layout: &Layout,
    by_ratee: &Grouped,
    weight: &impl Fn(usize) -> f64,
) -> (Touches, Touches) {
    let mut sums = Scatter::new(layout.ratee);
    let mut units = Scatter::new(layout.ratee);
    let mut sparse = Vec::new();
    let ratees = by_ratee.starts.len() - 1;
    let mut touched = Touches {
        starts: Vec::with_capacity(ratees + 1),
        entries: Vec::new(),
    };
    let mut shares = Touches {
        starts: Vec::with_capacity(ratees + 1),
        entries: Vec::new(),
    };
    for i in 0..ratees {
        let ratings = by_ratee.of(i);
        let share = 1.0 / ratings.len().max(1) as f64;
        for &rating in ratings {
            let w = weight(rating as usize);
            let columns = layout.columns(&input.ratings[rating as usize]);
            for c in &columns[..5] {
                sums.add(*c, w);
            }
            units.add(columns[1], share);
        }
        // Counts (or sums of weights at most 1) far below f32's 2²⁴: f32 is plenty for a
        // variance.
        for (scatter, touches) in [(&mut sums, &mut touched), (&mut units, &mut shares)] {
            touches.starts.push(touches.entries.len());
            scatter.drain_into(&mut sparse, true);
            touches
                .entries
                .extend(sparse.iter().map(|(k, v)| (*k as u32, *v as f32)));
        }
    }
    touched.starts.push(touched.entries.len());
    shares.starts.push(shares.entries.len());
    (touched, shares)
}

/// An entry of a sparse vector: its position and value.
trait Entry: Copy {
    fn parts(self) -> (usize, f64);
}

impl Entry for (usize, f64) {
    fn parts(self) -> (usize, f64) {
        self
    }
}

impl Entry for (u32, f32) {
    fn parts(self) -> (usize, f64) {
        (self.0 as usize, f64::from(self.1))
    }
}

/// Where row i of a packed upper triangle of an n×n matrix starts (its diagonal entry).
fn packed_row(i: usize, n: usize) -> usize {
    i * n - i * i.saturating_sub(1) / 2
}

/// The Schur complement of the shared effects, dense or by its diagonal alone.
enum Schur {
    /// The upper triangle, rows packed one after another (half the memory of the square: it
    /// then stays in a core's cache while millions of outer products are added).
    Dense(Vec<f64>, usize),
    Diagonal(Vec<f64>),
}

impl Schur {
    /// The dense matrix with the upper triangle of `square` (n×n, row-major).
    fn upper_of(square: &[f64], n: usize) -> Schur {
        let mut packed = Vec::with_capacity(n * (n + 1) / 2);
        for i in 0..n {
            packed.extend_from_slice(&square[i * n + i..(i + 1) * n]);
        }
        Schur::Dense(packed, n)
    }

    /// Whether [`Schur::add_outer`] needs its positions ascending (the dense triangle does;
    /// the diagonal takes them in any order).
    fn is_dense(&self) -> bool {
        matches!(self, Schur::Dense(..))
    }

    /// Adds `scale · v vᵀ` for a sparse v (positions each once; ascending for the dense
    /// triangle).
    fn add_outer(&mut self, v: &[impl Entry], scale: f64) {
        match self {
            Schur::Dense(matrix, n) => {
                let n = *n;
                for (a, first) in v.iter().enumerate() {
                    let (i, x) = first.parts();
                    // Row i from its diagonal on: entry (i, j) at row[j − i].
                    let row = &mut matrix[packed_row(i, n)..packed_row(i + 1, n)];
                    let scaled = scale * x;
                    for second in &v[a..] {
                        let (j, y) = second.parts();
                        row[j - i] += scaled * y;
                    }
                }
            }
            Schur::Diagonal(diagonal) => {
                for entry in v {
                    let (i, x) = entry.parts();
                    diagonal[i] += scale * x * x;
                }
            }
        }
    }

    /// Adds another of the same shape.
    fn add(&mut self, other: &Schur) {
        match (self, other) {
            (Schur::Dense(a, _), Schur::Dense(b, _)) | (Schur::Diagonal(a), Schur::Diagonal(b)) => {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y)
            }
            _ => unreachable!("both halves are made alike"),
        }
    }

    fn add_diagonal(&mut self, k: usize, value: f64) {
        match self {
            Schur::Dense(matrix, n) => {
                matrix[packed_row(k, *n)] += value;
            }
            Schur::Diagonal(diagonal) => diagonal[k] += value,
        }
    }

    /// S⁻¹. The dense matrix holds its upper triangle; when it is not positive definite to
    /// working precision (the diagonal approximation of the people's block can overshoot),
    /// the diagonal alone is used.
    fn inverse(self) -> Covariance {
        match self {
            Schur::Dense(upper, n) => {
                let mut lower = vec![0.0; n * n];
                for j in 0..n {
                    for i in j..n {
                        lower[i * n + j] = upper[packed_row(j, n) + i - j];
                    }
                }
                if fast::cholesky(&mut lower, n) {
                    Covariance::Dense(inverse_from_cholesky(&lower, n), n)
                } else {
                    Covariance::Diagonal(
                        (0..n)
                            .map(|k| upper[packed_row(k, n)])
                            .map(|d| if d > 0.0 { 1.0 / d } else { 0.0 })
                            .collect(),
                    )
                }
            }
            Schur::Diagonal(diagonal) => Covariance::Diagonal(
                diagonal
                    .iter()
                    .map(|d| if *d > 0.0 { 1.0 / d } else { 0.0 })
                    .collect(),
            ),
        }
    }
}

/// (L Lᵀ)⁻¹ from the lower factor L: L⁻¹ column by column, then L⁻ᵀ L⁻¹.
fn inverse_from_cholesky(factor: &[f64], n: usize) -> Vec<f64> {
    // inverse_l[i * n + j], lower triangular.
    let mut inverse_l = vec![0.0; n * n];
    for j in 0..n {
        inverse_l[j * n + j] = 1.0 / factor[j * n + j];
        for i in j + 1..n {
            let mut sum = 0.0;
            for k in j..i {
                sum += factor[i * n + k] * inverse_l[k * n + j];
            }
            inverse_l[i * n + j] = -sum / factor[i * n + i];
        }
    }
    let mut out = vec![0.0; n * n];
    for a in 0..n {
        for b in a..n {
            let mut sum = 0.0;
            for k in b..n {
                sum += inverse_l[k * n + a] * inverse_l[k * n + b];
            }
            out[a * n + b] = sum;
            out[b * n + a] = sum;
        }
    }
    out
}

enum Covariance {
    Dense(Vec<f64>, usize),
    Diagonal(Vec<f64>),
}

impl Covariance {
    fn times(&self, v: &[f64]) -> Vec<f64> {
        match self {
            Covariance::Dense(m, n) => (0..*n)
                .map(|i| {
                    m[i * n..(i + 1) * n]
                        .iter()
                        .zip(v)
                        .map(|(a, b)| a * b)
                        .sum()
                })
                .collect(),
            Covariance::Diagonal(d) => d.iter().zip(v).map(|(a, b)| a * b).collect(),
        }
    }

    /// vᵀ M v for a sparse v.
    fn quadratic(&self, v: &[(usize, f64)]) -> f64 {
        match self {
            // Symmetric: each pair once, doubled.
            Covariance::Dense(m, n) => v
                .iter()
                .enumerate()
                .map(|(a, (i, x))| {
                    let row = &m[i * n..(i + 1) * n];
                    let others: f64 = v[a + 1..].iter().map(|(j, y)| row[*j] * y).sum();
                    x * (x * row[*i] + 2.0 * others)
                })
                .sum(),
            Covariance::Diagonal(d) => v.iter().map(|(i, x)| x * x * d[*i]).sum(),
        }
    }
}
