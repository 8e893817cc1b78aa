//! Calibration on synthetic data with a known truth: noise, Likert rounding, and raters who
//! mostly rate inside their own department, where weaker departments rate more kindly.

use super::*;

struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n - 1)
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-300), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|a, b| v[*a].total_cmp(&v[*b]));
    let mut out = vec![0.0; v.len()];
    for (rank, i) in order.into_iter().enumerate() {
        out[i] = rank as f64;
    }
    out
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}

struct World {
    input: CalibrationInput,
    true_ratee: Vec<f64>,
    true_rater: Vec<f64>,
}

fn world(seed: u64) -> World {
    let mut rng = Lcg(seed);
    let (departments, ratees, raters) = (10, 2_000, 400);
    let ability: Vec<f64> = (0..departments).map(|_| 0.5 * rng.normal()).collect();
    let culture: Vec<f64> = ability
        .iter()
        .map(|a| -0.8 * a + 0.1 * rng.normal())
        .collect();
    let true_ratee: Vec<f64> = (0..ratees)
        .map(|i| ability[i % departments] + rng.normal())
        .collect();
    let true_rater: Vec<f64> = (0..raters)
        .map(|j| culture[j % departments] + 0.4 * rng.normal())
        .collect();
    let relationship_effect = [0.3, 0.0, -0.1];
    let mut ratings = Vec::new();
    for (i, ability_i) in true_ratee.iter().enumerate() {
        let department = i % departments;
        for k in 0..5 {
            // 80% of raters come from the ratee's own department.
            let rater_department = if rng.unit() < 0.8 {
                department
            } else {
                rng.below(departments)
            };
            let rater = rater_department + departments * rng.below(raters / departments);
            let relationship = k % 3;
            let score = 3.0
                + 0.8 * ability_i
                + true_rater[rater]
                + relationship_effect[relationship]
                + 0.6 * rng.normal();
            ratings.push(Rating {
                ratee: i as u32,
                rater: rater as u32,
                ratee_unit: department as u32,
                rater_unit: rater_department as u32,
                relationship: relationship as u32,
                cycle: (k % 2) as u32,
                score: score.round().clamp(1.0, 5.0),
            });
        }
    }
    World {
        input: CalibrationInput {
            ratings,
            ratees,
            raters,
            units: departments,
            relationships: 3,
            cycles: 2,
            scale: None,
        },
        true_ratee,
        true_rater,
    }
}

#[test]
fn recovers_rater_leniency_and_beats_raw_means() {
    for seed in [1, 2, 3] {
        let w = world(seed);
        let fit = calibrate(&w.input).expect("fit");
        let leniency: Vec<f64> = fit.raters.iter().map(|r| r.leniency).collect();
        let recovered = pearson(&leniency, &w.true_rater);
        assert!(
            recovered >= 0.9,
            "seed {seed}: leniency correlation {recovered:.3}"
        );
        let calibrated: Vec<f64> = fit.ratees.iter().map(|r| r.calibrated).collect();
        let raw: Vec<f64> = fit.ratees.iter().map(|r| r.raw_mean).collect();
        let (s_cal, s_raw) = (
            pearson(&ranks(&calibrated), &ranks(&w.true_ratee)),
            pearson(&ranks(&raw), &ranks(&w.true_ratee)),
        );
        // Printed for docs/calibration.md (`cargo test -p valuetree-core recovers -- --nocapture`).
        println!("seed {seed}: leniency {recovered:.3}, calibrated {s_cal:.3}, raw {s_raw:.3}");
        assert!(
            s_cal >= s_raw + 0.05,
            "seed {seed}: calibrated {s_cal:.3} vs raw {s_raw:.3}"
        );
        assert!(
            fit.components.noise > 0.0 && fit.components.ratee > 0.0 && fit.components.rater > 0.0
        );
        assert!(
            fit.ratees
                .iter()
                .all(|r| r.std_error > 0.0 && r.std_error < 1.0)
        );
        assert_eq!(fit.groups.len(), 1);
    }
}

#[test]
fn disconnected_groups_are_reported() {
    let rating = |ratee, rater| Rating {
        ratee,
        rater,
        ratee_unit: 0,
        rater_unit: 0,
        relationship: 0,
        cycle: 0,
        score: 3.0,
    };
    let input = CalibrationInput {
        ratings: vec![
            rating(0, 0),
            rating(1, 0),
            rating(2, 1),
            rating(3, 2),
            rating(4, 2),
            rating(5, 2),
        ],
        ratees: 6,
        raters: 3,
        units: 1,
        relationships: 1,
        cycles: 1,
        scale: None,
    };
    let fit = calibrate(&input).expect("fit");
    assert_eq!(fit.groups, vec![4, 3, 2]);
    let groups: Vec<u32> = fit.ratees.iter().map(|r| r.component).collect();
    assert_eq!(groups, vec![1, 1, 2, 0, 0, 0]);
    assert_eq!(
        calibrate(&CalibrationInput::default()),
        Err(CalibrationError::Empty)
    );
}

#[test]
fn a_wildly_lenient_rater_is_flagged() {
    let mut w = world(9);
    for r in w.input.ratings.iter_mut().filter(|r| r.rater == 7) {
        r.score = 5.0;
    }
    for r in w.input.ratings.iter_mut().filter(|r| r.rater == 8) {
        r.score = 1.0;
    }
    let fit = calibrate(&w.input).expect("fit");
    assert!(fit.raters[7].outlier && fit.raters[8].outlier);
    let flagged = fit.raters.iter().filter(|r| r.outlier).count();
    assert!(flagged <= 20, "{flagged} raters flagged");
}

pub(super) fn one_unit_rating(ratee: u32, rater: u32, score: f64) -> Rating {
    Rating {
        ratee,
        rater,
        ratee_unit: 0,
        rater_unit: 0,
        relationship: 0,
        cycle: 0,
        score,
    }
}

/// One rating of 4 on a 1–5 scale says nothing a model can separate: the score stays the
/// raw 4, its standard error is as wide as the scale allows (2), and the fit says why.
#[test]
fn a_single_rating_is_left_uncalibrated_with_a_wide_error_and_says_why() {
    let input = CalibrationInput {
        ratings: vec![one_unit_rating(0, 0, 4.0)],
        ratees: 1,
        raters: 1,
        units: 1,
        relationships: 1,
        cycles: 1,
        scale: Some((1.0, 5.0)),
    };
    let fit = calibrate(&input).expect("fit");
    assert!(fit.uncalibrated);
    assert!(fit.warnings.contains(&FitWarning::NoRateeRatedTwice));
    assert!(fit.warnings.contains(&FitWarning::NoRaterRatedTwice));
    assert_eq!(fit.ratees[0].calibrated, 4.0);
    assert_eq!(fit.ratees[0].std_error, 2.0);
    assert_eq!(fit.raters[0].leniency, 0.0);
}

/// Ratings that agree exactly leave no noise to estimate: the fit says so and gives the raw
/// means with honest errors instead of errors of zero.
#[test]
fn ratings_without_noise_are_left_uncalibrated() {
    // Three people in a ring of three raters, whose spreads within people and within raters
    // add up to the total spread exactly: nothing is left for noise.
    let input = CalibrationInput {
        ratings: vec![
            one_unit_rating(0, 0, 1.0),
            one_unit_rating(0, 1, 1.0),
            one_unit_rating(1, 1, 1.0),
            one_unit_rating(1, 2, 2.0),
            one_unit_rating(2, 2, 3.0),
            one_unit_rating(2, 0, 2.0),
        ],
        ratees: 3,
        raters: 3,
        units: 1,
        relationships: 1,
        cycles: 1,
        scale: None,
    };
    let fit = calibrate(&input).expect("fit");
    assert!(fit.warnings.contains(&FitWarning::AtZero(Component::Noise)));
    assert!(fit.uncalibrated);
    assert!(
        fit.ratees.iter().all(|r| r.std_error >= 0.5),
        "{:?}",
        fit.ratees
    );
    assert_eq!(fit.ratees[2].calibrated, 2.5, "the raw mean");
}

/// Enough ratings with people, raters and noise all present: no warning, a real fit.
#[test]
fn a_well_measured_organisation_has_no_warning() {
    let fit = calibrate(&world(3).input).expect("fit");
    assert_eq!(fit.warnings, Vec::<FitWarning>::new());
    assert!(!fit.uncalibrated);
}

#[test]
fn the_fast_solver_agrees_with_the_literal_one_run_to_convergence() {
    // With the shared effects solved together in the preconditioner, and with its diagonal
    // alone (as for an organisation with thousands of units).
    for (seed, shared_at_most) in [(1, fast::SHARED_AT_MOST), (2, fast::SHARED_AT_MOST), (1, 0)] {
        let world = world(seed);
        let fast = fit(&world.input, Kernel::Fast { shared_at_most }).expect("a fit");
        let reference = calibrate_with_reference_solver(&world.input).expect("a fit");
        let (a, b): (Vec<f64>, Vec<f64>) = fast
            .ratees
            .iter()
            .zip(&reference.ratees)
            .map(|(a, b)| (a.calibrated, b.calibrated))
            .unzip();
        let largest = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        // The same estimates to the third decimal of the scale, wherever the solver stops.
        assert!(
            largest < 1e-3,
            "seed {seed}: calibrated scores differ by {largest}"
        );
        assert!(pearson(&a, &b) > 0.999_99, "seed {seed}");
        for (x, y) in [
            (fast.components.ratee, reference.components.ratee),
            (fast.components.rater, reference.components.rater),
            (fast.components.noise, reference.components.noise),
        ] {
            assert!((x - y).abs() < 1e-3 * y, "seed {seed}: variance {x} vs {y}");
        }
    }
}

#[test]
fn a_score_carries_each_unit_the_person_was_rated_in_by_its_share_of_their_ratings() {
    // Rated three times in unit 0 and then, after a reorganisation, once in unit 1.
    let ratings: Vec<Rating> = [0, 0, 0, 1]
        .iter()
        .enumerate()
        .map(|(k, &unit)| Rating {
            ratee_unit: unit,
            ..one_unit_rating(0, k as u32, 3.0)
        })
        .collect();
    let input = CalibrationInput {
        ratings,
        ratees: 1,
        raters: 4,
        units: 2,
        relationships: 1,
        cycles: 1,
        scale: None,
    };
    let layout = Layout::new(&input);
    let mut theta = vec![0.0; layout.len];
    theta[layout.ratee_unit] = 1.0;
    theta[layout.ratee_unit + 1] = -1.0;
    // Not the last unit's −1: three quarters of unit 0's +1 and a quarter of unit 1's −1.
    let level = levels(&input, &layout, &theta).ratee_level[0];
    assert!((level - 0.5).abs() < 1e-12, "level {level}");
}

/// A small organisation in which most ratings stay within a unit, so that a unit's level and
/// its raters' kindness are hard to tell apart.
fn small_confounded_input() -> CalibrationInput {
    let mut rng = Lcg(11);
    let (units, ratees, raters) = (4, 120, 40);
    let mut ratings = Vec::new();
    for i in 0..ratees {
        let unit = i % units;
        for k in 0..5 {
            let rater_unit = if rng.unit() < 0.8 {
                unit
            } else {
                rng.below(units)
            };
            let rater = rater_unit + units * rng.below(raters / units);
            // Every fifth person was moved to the next unit for the second cycle (a
            // reorganisation): their score carries both units.
            let moved = i % 5 == 0 && (i + k) % 2 == 1;
            ratings.push(Rating {
                ratee: i as u32,
                rater: rater as u32,
                ratee_unit: if moved { (unit + 1) % units } else { unit } as u32,
                rater_unit: rater_unit as u32,
                relationship: (k % 2) as u32,
                cycle: ((i + k) % 2) as u32,
                score: (3.0 + 0.5 * unit as f64 - 0.4 * rater_unit as f64 + rng.normal())
                    .round()
                    .clamp(1.0, 5.0),
            });
        }
    }
    CalibrationInput {
        ratings,
        ratees,
        raters,
        units,
        relationships: 2,
        cycles: 2,
        scale: None,
    }
}

#[test]
fn the_standard_error_counts_the_shared_effects_and_the_raters_as_the_exact_posterior_does() {
    let input = small_confounded_input();
    let layout = Layout::new(&input);
    let fit = calibrate(&input).expect("a fit");
    let ridge = ridges(&layout, &fit.components);
    let graph = uncertainty::RatingGraph::new(&input, &layout, None);
    let variances = uncertainty::score_variances(
        &input,
        &layout,
        &graph,
        None,
        &ridge,
        None,
        fast::SHARED_AT_MOST,
    );
    // More shared effects than the dense limit: S by its diagonal (the organisation's
    // timeline units in a cycle).
    let by_diagonal = uncertainty::score_variances(&input, &layout, &graph, None, &ridge, None, 0);
    // The exact posterior covariance (over σ²): the inverse of the whole mixed-model matrix,
    // with the fixed effects' ridge the variance uses.
    let n = layout.len;
    let mut matrix = vec![0.0; n * n];
    for r in &input.ratings {
        for a in layout.columns(r) {
            for b in layout.columns(r) {
                matrix[a * n + b] += 1.0;
            }
        }
    }
    for (k, value) in ridge.iter().enumerate() {
        let fixed = !(layout.ratee_unit..layout.relationship).contains(&k) && k < layout.ratee;
        matrix[k * n + k] += if fixed { value.max(1.0) } else { *value };
    }
    assert!(fast::cholesky(&mut matrix, n), "positive definite");
    let solve = |mut y: Vec<f64>| {
        fast::cholesky_solve(&matrix, n, &mut y);
        y
    };
    let count = input.ratings.len() as f64;
    let mut common = vec![0.0; n];
    common[0] = 1.0;
    for r in &input.ratings {
        for c in &layout.columns(r)[2..5] {
            common[*c] += 1.0 / count;
        }
    }
    let lambda = fit.components.noise / fit.components.ratee;
    let (mut own_only_short, mut ratios, mut diagonal_ratios) = (0.0, Vec::new(), Vec::new());
    for (i, ratee) in fit.ratees.iter().enumerate() {
        let mut contrast = common.clone();
        // The units the person was rated in, each by its share of their ratings.
        for r in input.ratings.iter().filter(|r| r.ratee as usize == i) {
            contrast[layout.ratee_unit + r.ratee_unit as usize] += 1.0 / f64::from(ratee.n_ratings);
        }
        contrast[layout.ratee + i] += 1.0;
        let exact: f64 = contrast
            .iter()
            .zip(solve(contrast.clone()))
            .map(|(a, b)| a * b)
            .sum();
        let own = 1.0 / (f64::from(ratee.n_ratings) + lambda);
        let ours = variances[i];
        ratios.push(ours / exact);
        assert!(
            by_diagonal[i] >= own,
            "{i}: {} below its own part {own}",
            by_diagonal[i]
        );
        diagonal_ratios.push(by_diagonal[i] / exact);
        own_only_short += (exact - own) / exact;
        // What is reported is that, in scale points.
        let reported = (fit.components.noise * ours).sqrt();
        assert!((ratee.std_error - reported).abs() < 1e-12);
    }
    let worst = ratios.iter().fold(0.0f64, |w, r| w.max((r - 1.0).abs()));
    let mean_ratio = ratios.iter().sum::<f64>() / ratios.len() as f64;
    // The person's own variance alone misses a good part of the exact one; ours is near it.
    assert!(
        own_only_short / ratios.len() as f64 > 0.05,
        "own only short by {own_only_short}"
    );
    assert!((mean_ratio - 1.0).abs() < 0.01, "mean ratio {mean_ratio}");
    assert!(worst < 0.03, "worst ratio off by {worst}");
    let diagonal_mean = diagonal_ratios.iter().sum::<f64>() / diagonal_ratios.len() as f64;
    eprintln!(
        "FIG diag mean {diagonal_mean} min {:?} max {:?}",
        diagonal_ratios
            .iter()
            .cloned()
            .fold(f64::INFINITY, f64::min),
        diagonal_ratios.iter().cloned().fold(0.0, f64::max)
    );
}

#[test]
fn the_variance_started_from_the_designs_gram_is_the_variance_counted_from_the_ratings() {
    let input = small_confounded_input();
    let layout = Layout::new(&input);
    let fit = calibrate(&input).expect("a fit");
    let ridge = ridges(&layout, &fit.components);
    let graph = uncertainty::RatingGraph::new(&input, &layout, None);
    let design = fast::Design::new(&input, &layout, fast::SHARED_AT_MOST);
    let gram = design.shared_gram();
    assert!(
        gram.is_some(),
        "a small organisation's design holds the gram"
    );
    let variances = |gram| {
        uncertainty::score_variances(
            &input,
            &layout,
            &graph,
            gram,
            &ridge,
            None,
            fast::SHARED_AT_MOST,
        )
    };
    assert_eq!(variances(gram), variances(None));
}
