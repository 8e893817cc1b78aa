use super::*;
use crate::calibration::tests::one_unit_rating;
use crate::calibration::{FitWarning, Rating, calibrate};

/// A deterministic stream of uniforms and normals.
struct Draws(u64);

impl Draws {
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n - 1)
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

const TRUE_CUTS: [f64; 4] = [-1.5, -0.5, 0.6, 1.7];
const STEPS: [f64; 5] = [1.0, 2.0, 3.0, 4.0, 5.0];

/// Ratings drawn from the ordinal model itself: each ratee's latent level, each rater's
/// leniency, unit noise, cut at [`TRUE_CUTS`].
fn drawn(
    seed: u64,
    ratees: usize,
    raters: usize,
    per_ratee: usize,
) -> (CalibrationInput, Vec<f64>) {
    let mut draws = Draws(seed);
    let level: Vec<f64> = (0..ratees).map(|_| 0.8 * draws.normal()).collect();
    let leniency: Vec<f64> = (0..raters).map(|_| 0.5 * draws.normal()).collect();
    let mut ratings = Vec::new();
    for (i, a) in level.iter().enumerate() {
        for _ in 0..per_ratee {
            let j = draws.below(raters);
            let z = a + leniency[j] + draws.normal();
            let step = TRUE_CUTS.iter().filter(|c| z > **c).count();
            ratings.push(Rating {
                ratee: i as u32,
                rater: j as u32,
                ratee_unit: 0,
                rater_unit: 0,
                relationship: 0,
                cycle: 0,
                score: STEPS[step],
            });
        }
    }
    let input = CalibrationInput {
        ratings,
        ratees,
        raters,
        units: 1,
        relationships: 1,
        cycles: 1,
        scale: Some((1.0, 5.0)),
    };
    (input, level)
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    sxy / (sxx * syy).sqrt()
}

#[test]
fn on_ratings_drawn_from_the_model_it_recovers_the_cut_points_and_each_persons_expected_score() {
    let (input, level) = drawn(3, 400, 300, 12);
    let fit = calibrate_ordinal(&input).expect("a fit");
    let scale = fit.scale_steps.as_ref().expect("the ordinal model's scale");
    assert_eq!(scale.steps, STEPS.to_vec());
    // The cut points are known up to the level (the intercept carries it): their gaps.
    for (k, (cut, true_cut)) in scale.cuts.iter().zip(TRUE_CUTS).enumerate().skip(1) {
        let (fitted, truth) = (cut - scale.cuts[0], true_cut - TRUE_CUTS[0]);
        assert!(
            (fitted - truth).abs() < 0.12,
            "gap {k}: {fitted} vs {truth}"
        );
    }
    // What an average rater would give each person on average, by the true model.
    let truth: Vec<f64> = level
        .iter()
        .map(|a| expected_step(&STEPS, &TRUE_CUTS, *a).0)
        .collect();
    let estimated: Vec<f64> = fit.ratees.iter().map(|r| r.calibrated).collect();
    let r = pearson(&truth, &estimated);
    assert!(r > 0.9, "Pearson {r}");
    // The nominal 90% interval holds the truth for about 90% of people.
    let held = fit
        .ratees
        .iter()
        .zip(&truth)
        .filter(|(r, t)| (r.calibrated - **t).abs() <= 1.645 * r.std_error)
        .count() as f64
        / truth.len() as f64;
    assert!((0.84..=0.96).contains(&held), "coverage {held}");
    // Better than the raw mean, which carries each rater's leniency.
    let raw: Vec<f64> = fit.ratees.iter().map(|r| r.raw_mean).collect();
    assert!(r > pearson(&truth, &raw), "{r} vs raw");
}

#[test]
fn it_ranks_people_as_the_linear_model_does_where_both_fit() {
    let (input, _) = drawn(5, 300, 200, 10);
    let ordinal = calibrate_ordinal(&input).expect("ordinal");
    let linear = calibrate(&input).expect("linear");
    let a: Vec<f64> = ordinal.ratees.iter().map(|r| r.calibrated).collect();
    let b: Vec<f64> = linear.ratees.iter().map(|r| r.calibrated).collect();
    assert!(pearson(&a, &b) > 0.98);
    assert!(linear.scale_steps.is_none());
}

#[test]
fn a_measurement_with_many_values_is_refused_and_too_few_ratings_are_left_uncalibrated() {
    let (mut input, _) = drawn(7, 50, 40, 5);
    for (i, r) in input.ratings.iter_mut().enumerate() {
        r.score = 1.0 + (i % 40) as f64 / 10.0;
    }
    assert_eq!(
        calibrate_ordinal(&input),
        Err(CalibrationError::TooManySteps {
            found: 40,
            most: MAX_STEPS
        })
    );
    let one = CalibrationInput {
        ratings: vec![one_unit_rating(0, 0, 4.0)],
        ratees: 1,
        raters: 1,
        units: 1,
        relationships: 1,
        cycles: 1,
        scale: Some((1.0, 5.0)),
    };
    let fit = calibrate_ordinal(&one).expect("a result");
    assert!(fit.uncalibrated);
    assert_eq!(fit.ratees[0].calibrated, 4.0);
    assert_eq!(fit.ratees[0].std_error, 2.0);
    assert!(fit.warnings.contains(&FitWarning::NoRateeRatedTwice));
}

#[test]
fn the_normal_distribution_helpers_hold_in_the_tails() {
    // P(ε > 8) ≈ 6.22e-16: from the tail, not 1 − Φ(8) (which rounds to 0).
    let far = interval_probability(8.0, f64::INFINITY);
    assert!((far / 6.220_960_574_271_78e-16 - 1.0).abs() < 1e-6, "{far}");
    assert!((interval_probability(-1.0, 1.0) - 0.682_689_492_137_085_9).abs() < 1e-12);
    assert!((inverse_normal_cdf(0.975) - 1.959_963_984_540_054).abs() < 1e-8);
    assert!((inverse_normal_cdf(1e-10) + 6.361_340_902_404_056).abs() < 1e-7);
    // The mean of a normal above a: a + 1/a, roughly, far out; 0 over the whole line.
    assert!((truncated_mean(f64::NEG_INFINITY, f64::INFINITY)).abs() < 1e-15);
    assert!((truncated_mean(0.0, f64::INFINITY) - 0.797_884_560_802_865_4).abs() < 1e-12);
    let m = truncated_mean(30.0, f64::INFINITY);
    assert!(m > 30.0 && m < 30.1, "{m}");
    // The expected score rises with η from the lowest step to the highest.
    let (low, _) = expected_step(&STEPS, &TRUE_CUTS, -10.0);
    let (high, _) = expected_step(&STEPS, &TRUE_CUTS, 10.0);
    assert!((low - 1.0).abs() < 1e-9 && (high - 5.0).abs() < 1e-9);
    let (at, slope) = expected_step(&STEPS, &TRUE_CUTS, 0.3);
    let (next, _) = expected_step(&STEPS, &TRUE_CUTS, 0.3 + 1e-6);
    assert!(((next - at) / 1e-6 - slope).abs() < 1e-5);
}
