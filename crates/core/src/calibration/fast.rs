//! The solver's product `(XᵀX + diag(ridge)) x`, arranged for an organisation's millions of
//! ratings (it is nearly all of a fit's time, one pass over the ratings per iteration), and
//! its preconditioner ([`Preconditioner`]: the shared effects solved together).
//!
//! - θ is renumbered so that what ratings touch together lies together (see
//!   [`Design::new`]), and the ratings are read in runs of one ratee in one unit: the ratee's
//!   effects are read once per run, and a unit's raters come from a short stretch of θ. The solver works in
//!   that order and returns θ in [`Layout`]'s.
//! - The intercept, relationship and cycle take a few dozen combinations between them: a
//!   rating names its combination, whose sum of effects is computed once per product, and
//!   whose share of the product is added up apart and spread over its three effects after.
//! - The ratings are cut into one part per core; each part adds into its own vector, and the
//!   vectors are summed.

use super::{CalibrationInput, Layout};

/// A rating as the product reads it, within its run: the θ positions of its rater and
/// rater's unit, and its combination of small effects.
#[derive(Clone, Copy, Debug)]
struct Row {
    rater: u32,
    rater_unit: u32,
    small: u32,
}

/// The ratings of one ratee in one unit (nearly always all of the ratee's): `rows[start..end]`.
/// The ratee's and the unit's effects are read once for the run, and their sums added up
/// in a register and written once.
#[derive(Clone, Copy, Debug)]
struct Run {
    ratee: u32,
    ratee_unit: u32,
    start: u32,
    end: u32,
}

#[derive(Debug)]
pub(super) struct Design {
    runs: Vec<Run>,
    rows: Vec<Row>,
    /// For each combination, the positions of its relationship and its cycle.
    small: Vec<[usize; 2]>,
    /// Where each position of θ (in [`Layout`]'s order) is in the design's order.
    position: Vec<u32>,
    /// Where each part's runs end (the last part's at the last run), parts of about equal
    /// numbers of ratings.
    part_ends: Vec<usize>,
    /// The shared effects (intercept, relationships, cycles, units), when few enough to
    /// solve together: their positions, and XᵀX among them (dense, row-major).
    shared: Option<(Vec<usize>, Vec<f64>)>,
}

/// Up to this many shared effects are solved together in the preconditioner: a dense factor
/// of this size costs a few tenths of a second per solve and a millisecond per iteration.
pub(super) const SHARED_AT_MOST: usize = 1_000;

/// `z = M⁻¹ r` for M: the shared effects' block of the matrix, and its diagonal elsewhere.
///
/// The shared effects move against each other in ways a diagonal cannot see: a reorganisation
/// makes units that live in some cycles only, so a cycle's effect and its units' effects trade
/// off, and with the diagonal alone those directions took most of the iterations.
pub(super) struct Preconditioner {
    inverse: Vec<f64>,
    /// The shared effects' positions and their block's Cholesky factor (lower, row-major).
    shared: Option<(Vec<usize>, Vec<f64>)>,
}

impl Preconditioner {
    pub(super) fn apply(&self, r: &[f64], z: &mut [f64]) {
        super::jacobi(&self.inverse, r, z);
        if let Some((positions, factor)) = &self.shared {
            let n = positions.len();
            let mut y: Vec<f64> = positions.iter().map(|&p| r[p]).collect();
            cholesky_solve(factor, n, &mut y);
            for (&p, v) in positions.iter().zip(y) {
                z[p] = v;
            }
        }
    }
}

/// Solves `L Lᵀ x = y` in place for the lower factor L of [`cholesky`] (n×n, row-major):
/// `L y' = y`, then `Lᵀ x = y'`.
pub(super) fn cholesky_solve(factor: &[f64], n: usize, y: &mut [f64]) {
    for i in 0..n {
        let row = &factor[i * n..i * n + i];
        let sum: f64 = row.iter().zip(&y[..i]).map(|(l, v)| l * v).sum();
        y[i] = (y[i] - sum) / factor[i * n + i];
    }
    for i in (0..n).rev() {
        let sum: f64 = (i + 1..n).map(|k| factor[k * n + i] * y[k]).sum();
        y[i] = (y[i] - sum) / factor[i * n + i];
    }
}

/// Cholesky factorisation in place (the lower triangle of `matrix`, n×n, row-major); false
/// when the matrix is not positive definite to working precision.
pub(super) fn cholesky(matrix: &mut [f64], n: usize) -> bool {
    for j in 0..n {
        let mut pivot = matrix[j * n + j];
        for k in 0..j {
            pivot -= matrix[j * n + k] * matrix[j * n + k];
        }
        if pivot <= 0.0 || !pivot.is_finite() {
            return false;
        }
        let pivot = pivot.sqrt();
        matrix[j * n + j] = pivot;
        for i in j + 1..n {
            let mut value = matrix[i * n + j];
            for k in 0..j {
                value -= matrix[i * n + k] * matrix[j * n + k];
            }
            matrix[i * n + j] = value / pivot;
        }
    }
    true
}

/// What the product reuses from one iteration to the next.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    sums: Vec<Vec<f64>>,
    small_sums: Vec<Vec<f64>>,
    small_x: Vec<f64>,
}

/// Parts below this many ratings are not worth a thread.
const RATINGS_PER_PART: usize = 200_000;

impl Design {
    /// The design's order of θ keeps together what ratings touch together: ratees are taken
    /// unit by unit, and each rating's unit, ratee, rater's unit and rater are numbered when
    /// first met. Most ratings are given within a unit, so a unit's ratings read and write a
    /// small stretch of θ that stays in the cache, instead of the whole of it at random.
    pub(super) fn new(input: &CalibrationInput, layout: &Layout, shared_at_most: usize) -> Design {
        let ratees = input.ratees;
        // The ratings of each ratee, by a counting sort: linear, and stable.
        let mut start = vec![0usize; ratees + 1];
        for r in &input.ratings {
            start[r.ratee as usize + 1] += 1;
        }
        for i in 0..ratees {
            start[i + 1] += start[i];
        }
        let mut by_ratee = vec![0u32; input.ratings.len()];
        let mut next = start.clone();
        for (k, r) in input.ratings.iter().enumerate() {
            by_ratee[next[r.ratee as usize]] = k as u32;
            next[r.ratee as usize] += 1;
        }
        let mut unit_of = vec![0u32; ratees];
        for r in &input.ratings {
            unit_of[r.ratee as usize] = r.ratee_unit;
        }
        let mut ratee_order: Vec<u32> = (0..ratees as u32).collect();
        ratee_order.sort_by_key(|&i| (unit_of[i as usize], i));

        const UNSEEN: u32 = u32::MAX;
        let mut position = vec![UNSEEN; layout.len];
        let mut taken = 0u32;
        let mut take = |at: usize, position: &mut [u32]| {
            if position[at] == UNSEEN {
                position[at] = taken;
                taken += 1;
            }
            position[at]
        };
        // The intercept, relationships and cycles first: a few dozen, always in the cache.
        for at in std::iter::once(0).chain(layout.relationship..layout.ratee) {
            take(at, &mut position);
        }
        let cycles = input.cycles.max(1);
        let mut rows = Vec::with_capacity(input.ratings.len());
        let mut runs = Vec::with_capacity(ratees);
        for &ratee in &ratee_order {
            let ratee = ratee as usize;
            let ratings = &mut by_ratee[start[ratee]..start[ratee + 1]];
            // A ratee rated in two units (moved between cycles) has a run in each.
            ratings.sort_by_key(|&k| input.ratings[k as usize].ratee_unit);
            for &k in ratings.iter() {
                let r = &input.ratings[k as usize];
                let ratee_unit = take(layout.ratee_unit + r.ratee_unit as usize, &mut position);
                let ratee = take(layout.ratee + r.ratee as usize, &mut position);
                let at = rows.len() as u32;
                match runs.last_mut() {
                    Some(run @ &mut Run { end, .. })
                        if end == at && run.ratee == ratee && run.ratee_unit == ratee_unit =>
                    {
                        run.end += 1;
                    }
                    _ => runs.push(Run {
                        ratee,
                        ratee_unit,
                        start: at,
                        end: at + 1,
                    }),
                }
                rows.push(Row {
                    rater_unit: take(layout.rater_unit + r.rater_unit as usize, &mut position),
                    rater: take(layout.rater + r.rater as usize, &mut position),
                    small: r.relationship * cycles as u32 + r.cycle,
                });
            }
        }
        // Units, ratees or raters no rating names (none, from an interned file) go last.
        for at in 0..layout.len {
            take(at, &mut position);
        }
        let small = (0..input.relationships.max(1) * cycles)
            .map(|s| {
                [
                    position[layout.relationship + s / cycles] as usize,
                    position[layout.cycle + s % cycles] as usize,
                ]
            })
            .collect();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let parts = cores.min(rows.len() / RATINGS_PER_PART).max(1);
        let shared = (1 + layout.ratee - layout.ratee_unit <= shared_at_most).then(|| {
            let columns: Vec<usize> = std::iter::once(0)
                .chain(layout.ratee_unit..layout.ratee)
                .collect();
            let mut index = vec![usize::MAX; layout.len];
            for (k, &c) in columns.iter().enumerate() {
                index[c] = k;
            }
            let n = columns.len();
            let mut gram = vec![0.0; n * n];
            for r in &input.ratings {
                let cols = layout.columns(r);
                let shared = [0, 1, 2, 3, 4].map(|c| index[cols[c]]);
                for a in shared {
                    for b in shared {
                        gram[a * n + b] += 1.0;
                    }
                }
            }
            let positions = columns.iter().map(|&c| position[c] as usize).collect();
            (positions, gram)
        });
        let mut design = Design {
            runs,
            rows,
            small,
            position,
            part_ends: Vec::new(),
            shared,
        };
        design.cut_into(parts);
        design
    }

    /// XᵀX among the shared effects (n×n, row-major, in [`Layout`]'s order: the intercept,
    /// units, relationships and cycles), when there are few enough to hold it.
    pub(super) fn shared_gram(&self) -> Option<&[f64]> {
        self.shared.as_ref().map(|(_, gram)| gram.as_slice())
    }

    /// Cuts the runs into `parts` parts of about equal numbers of ratings.
    fn cut_into(&mut self, parts: usize) {
        let per_part = self.rows.len().div_ceil(parts.max(1)).max(1);
        let mut goal = per_part;
        self.part_ends.clear();
        for (i, run) in self.runs.iter().enumerate() {
            let end = run.end as usize;
            if end >= goal {
                self.part_ends.push(i + 1);
                goal = (end / per_part + 1) * per_part;
            }
        }
        if self.part_ends.last() != Some(&self.runs.len()) {
            self.part_ends.push(self.runs.len());
        }
    }

    /// The preconditioner for the matrix with `ridge` (in the design's order): the shared
    /// effects solved together, each person's effect by its diagonal.
    pub(super) fn preconditioner(&self, ridge: &[f64], diagonal: &[f64]) -> Preconditioner {
        let inverse = super::inverse_diagonal(diagonal);
        let shared = self.shared.as_ref().and_then(|(positions, gram)| {
            let n = positions.len();
            let mut matrix = gram.clone();
            for (k, &p) in positions.iter().enumerate() {
                matrix[k * n + k] += ridge[p];
            }
            cholesky(&mut matrix, n).then(|| (positions.clone(), matrix))
        });
        Preconditioner { inverse, shared }
    }

    /// `values` (in [`Layout`]'s order) in the design's order.
    pub(super) fn to_design(&self, values: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; values.len()];
        for (value, &at) in values.iter().zip(&self.position) {
            out[at as usize] = *value;
        }
        out
    }

    /// `values` (in the design's order) back in [`Layout`]'s order.
    pub(super) fn to_layout(&self, values: &[f64], out: &mut [f64]) {
        for (o, &at) in out.iter_mut().zip(&self.position) {
            *o = values[at as usize];
        }
    }

    /// `out = (XᵀX + diag(ridge)) x`, all three in the design's order.
    pub(super) fn apply(&self, ridge: &[f64], x: &[f64], out: &mut [f64], scratch: &mut Scratch) {
        let len = x.len();
        scratch.small_x.clear();
        scratch.small_x.extend(
            self.small
                .iter()
                .map(|[rel, cycle]| x[0] + x[*rel] + x[*cycle]),
        );
        let parts = self.part_ends.len();
        scratch.sums.resize_with(parts, Vec::new);
        scratch.small_sums.resize_with(parts, Vec::new);
        let small_x = &scratch.small_x;
        let small_len = self.small.len();
        let rows = &self.rows;
        std::thread::scope(|scope| {
            let mut from = 0;
            let mut jobs = self
                .part_ends
                .iter()
                .map(|&end| {
                    let runs = &self.runs[from..end];
                    from = end;
                    runs
                })
                .zip(scratch.sums.iter_mut().zip(scratch.small_sums.iter_mut()));
            let mine = jobs.next();
            for (runs, (sums, small_sums)) in jobs {
                scope.spawn(move || {
                    add_part(runs, rows, x, small_x, len, small_len, sums, small_sums)
                });
            }
            if let Some((runs, (sums, small_sums))) = mine {
                add_part(runs, rows, x, small_x, len, small_len, sums, small_sums);
            }
        });
        // The parts' sums are read and zeroed in the same pass, ready for the next product.
        let (first, others) = scratch
            .sums
            .split_first_mut()
            .expect("a design has one part at least");
        for (((o, d), v), s) in out.iter_mut().zip(ridge).zip(x).zip(first.iter_mut()) {
            *o = d * v + *s;
            *s = 0.0;
        }
        for sums in others {
            for (o, s) in out.iter_mut().zip(sums.iter_mut()) {
                *o += *s;
                *s = 0.0;
            }
        }
        for small_sums in &scratch.small_sums {
            for (sum, [rel, cycle]) in small_sums.iter().zip(&self.small) {
                out[0] += sum;
                out[*rel] += sum;
                out[*cycle] += sum;
            }
        }
    }
}

/// One part's share of the product, added to `sums` (θ-long, zero but for what earlier
/// parts of the same product added) and into `small_sums` (by combination).
#[allow(clippy::too_many_arguments)]
fn add_part(
    runs: &[Run],
    rows: &[Row],
    x: &[f64],
    small_x: &[f64],
    len: usize,
    small_len: usize,
    sums: &mut Vec<f64>,
    small_sums: &mut Vec<f64>,
) {
    // Zero on first use; after that the product leaves them zeroed.
    sums.resize(len, 0.0);
    small_sums.clear();
    small_sums.resize(small_len, 0.0);
    for run in runs {
        let (ratee, unit) = (run.ratee as usize, run.ratee_unit as usize);
        let own = x[ratee] + x[unit];
        let mut total = 0.0;
        for row in &rows[run.start as usize..run.end as usize] {
            let fitted = own
                + small_x[row.small as usize]
                + x[row.rater_unit as usize]
                + x[row.rater as usize];
            total += fitted;
            small_sums[row.small as usize] += fitted;
            sums[row.rater_unit as usize] += fitted;
            sums[row.rater as usize] += fitted;
        }
        sums[ratee] += total;
        sums[unit] += total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::Rating;

    /// The literal product, one rating after another.
    fn literal(input: &CalibrationInput, layout: &Layout, ridge: &[f64], x: &[f64]) -> Vec<f64> {
        let mut out: Vec<f64> = ridge.iter().zip(x).map(|(d, v)| d * v).collect();
        for r in &input.ratings {
            let cols = layout.columns(r);
            let fitted: f64 = cols.iter().map(|c| x[*c]).sum();
            for c in cols {
                out[c] += fitted;
            }
        }
        out
    }

    /// Deterministic draws below `n`.
    fn draws(mut seed: u64) -> impl FnMut(u32) -> u32 {
        move |n| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % u64::from(n)) as u32
        }
    }

    fn scattered_input() -> CalibrationInput {
        let mut next = draws(7);
        CalibrationInput {
            ratings: (0..5_000)
                .map(|_| Rating {
                    ratee: next(300),
                    rater: next(200),
                    ratee_unit: next(9),
                    rater_unit: next(9),
                    relationship: next(5),
                    cycle: next(3),
                    score: f64::from(1 + next(5)),
                })
                .collect(),
            ratees: 300,
            raters: 200,
            units: 9,
            relationships: 5,
            cycles: 3,
            scale: None,
        }
    }

    #[test]
    fn the_preconditioner_solves_the_shared_effects_block_exactly() {
        let input = scattered_input();
        let layout = Layout::new(&input);
        let design = Design::new(&input, &layout, SHARED_AT_MOST);
        let ridge: Vec<f64> = (0..layout.len).map(|i| 0.5 + (i % 3) as f64).collect();
        let ridge = design.to_design(&ridge);
        let mut diagonal = vec![0.0; layout.len];
        let mut unit = vec![0.0; layout.len];
        let mut scratch = Scratch::default();
        for p in 0..layout.len {
            unit[p] = 1.0;
            let mut column = vec![0.0; layout.len];
            design.apply(&ridge, &unit, &mut column, &mut scratch);
            diagonal[p] = column[p];
            unit[p] = 0.0;
        }
        let preconditioner = design.preconditioner(&ridge, &diagonal);
        let (positions, _) = preconditioner.shared.as_ref().expect("few shared effects");
        let mut r = vec![0.0; layout.len];
        for (k, &p) in positions.iter().enumerate() {
            r[p] = (k % 7) as f64 - 3.0;
        }
        let mut z = vec![f64::NAN; layout.len];
        preconditioner.apply(&r, &mut z);
        let mut back = vec![0.0; layout.len];
        design.apply(&ridge, &z, &mut back, &mut scratch);
        for &p in positions {
            assert!(
                (back[p] - r[p]).abs() < 1e-6,
                "position {p}: {} vs {}",
                back[p],
                r[p]
            );
        }
    }

    #[test]
    fn the_product_in_parts_is_the_literal_product() {
        let input = scattered_input();
        let mut next = draws(11);
        let layout = Layout::new(&input);
        let x: Vec<f64> = (0..layout.len)
            .map(|_| f64::from(next(1000)) / 100.0 - 5.0)
            .collect();
        let ridge: Vec<f64> = (0..layout.len).map(|i| (i % 4) as f64).collect();
        let expected = literal(&input, &layout, &ridge, &x);
        for parts in [1, 2, 3, 7] {
            let mut design = Design::new(&input, &layout, SHARED_AT_MOST);
            design.cut_into(parts);
            let mut product = vec![f64::NAN; layout.len];
            let mut scratch = Scratch::default();
            let (x, ridge) = (design.to_design(&x), design.to_design(&ridge));
            // Twice: the scratch vectors of the first product must not leak into the second.
            design.apply(&ridge, &x, &mut product, &mut scratch);
            design.apply(&ridge, &x, &mut product, &mut scratch);
            let mut out = vec![f64::NAN; layout.len];
            design.to_layout(&product, &mut out);
            for (i, (a, b)) in out.iter().zip(&expected).enumerate() {
                assert!(
                    (a - b).abs() < 1e-9 * b.abs().max(1.0),
                    "{parts} parts, θ[{i}]: {a} vs {b}"
                );
            }
        }
    }
}
