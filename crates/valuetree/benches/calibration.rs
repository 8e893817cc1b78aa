//! Calibration at the brief's scale: `cargo bench -p valuetree --bench calibration`.
//!
//! 5,000,000 ratings of 250,000 ratees by 20,000 raters (50 units, 6 relationships, 6
//! cycles; 80% of a ratee's raters from the ratee's own unit; unit leniency tied to unit
//! ability). Times the fit alone (data in memory) and reports the accuracy against the
//! generated truth and the process's peak memory. Printed, never asserted.

/// The shipped `valuetree` binary's allocator, so the engine is measured as it runs there.
#[path = "../src/allocator.rs"]
mod allocator;

mod common;
use common::{Lcg, peak_memory_mib};

use std::time::Instant;
use valuetree_core::calibration::{CalibrationInput, Rating, calibrate};

fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let rank = |v: &[f64]| {
        let mut order: Vec<usize> = (0..v.len()).collect();
        order.sort_by(|a, b| v[*a].total_cmp(&v[*b]));
        let mut r = vec![0.0; v.len()];
        for (k, i) in order.into_iter().enumerate() {
            r[i] = k as f64;
        }
        r
    };
    let (a, b) = (rank(x), rank(y));
    let n = a.len() as f64;
    let m = (n - 1.0) / 2.0;
    let cov: f64 = a.iter().zip(&b).map(|(p, q)| (p - m) * (q - m)).sum();
    let var: f64 = a.iter().map(|p| (p - m).powi(2)).sum();
    cov / var
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let (ratees, raters, ratings, units) = (250_000usize, 20_000usize, 5_000_000usize, 50usize);
    let mut rng = Lcg(3);
    let ability: Vec<f64> = (0..units).map(|_| 0.4 * rng.normal()).collect();
    let culture: Vec<f64> = ability
        .iter()
        .map(|a| -0.6 * a + 0.15 * rng.normal())
        .collect();
    let truth: Vec<f64> = (0..ratees)
        .map(|i| ability[i % units] + rng.normal())
        .collect();
    let leniency: Vec<f64> = (0..raters)
        .map(|j| culture[j % units] + 0.4 * rng.normal())
        .collect();
    let mut input = CalibrationInput {
        ratees,
        raters,
        units,
        relationships: 6,
        cycles: 6,
        ..CalibrationInput::default()
    };
    input.ratings.reserve(ratings);
    for k in 0..ratings {
        let ratee = k % ratees;
        let unit = ratee % units;
        let rater_unit = if rng.unit() < 0.8 {
            unit
        } else {
            rng.below(units)
        };
        let rater = rater_unit + units * rng.below(raters / units);
        let relationship = rng.below(6);
        let score = 3.0
            + 0.8 * truth[ratee]
            + leniency[rater]
            + 0.1 * relationship as f64
            + 0.6 * rng.normal();
        input.ratings.push(Rating {
            ratee: ratee as u32,
            rater: rater as u32,
            ratee_unit: unit as u32,
            rater_unit: rater_unit as u32,
            relationship: relationship as u32,
            cycle: rng.below(6) as u32,
            score: score.round().clamp(1.0, 5.0),
        });
    }
    let before = peak_memory_mib();
    let started = Instant::now();
    let fit = calibrate(&input).expect("fit");
    let seconds = started.elapsed().as_secs_f64();
    let calibrated: Vec<f64> = fit.ratees.iter().map(|r| r.calibrated).collect();
    let raw: Vec<f64> = fit.ratees.iter().map(|r| r.raw_mean).collect();
    println!(
        "calibrate: {ratings} ratings, {ratees} ratees, {raters} raters: {seconds:.2} s ({} iterations); peak memory {:.0} MiB (input {before:.0} MiB)",
        fit.iterations,
        peak_memory_mib()
    );
    println!(
        "accuracy: Spearman with the truth, calibrated {:.3} vs raw mean {:.3}",
        spearman(&calibrated, &truth),
        spearman(&raw, &truth)
    );
}
