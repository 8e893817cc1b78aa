//! Calibration of a ratings file at an organisation's shape, beside a floor measured in the
//! same run:
//!
//! ```sh
//! valuetree sim --people 250000 --years 3 --seed 1 --out s250
//! cargo bench -p valuetree --bench calibration_file -- s250/ratings.csv results
//! ```
//!
//! Times, in one process: the floor (the `csv` crate reading the same file into byte
//! records, one thread), reading the file into the calibration input, the fit, and the fit
//! with the literal reference solver; then how far the two fits' estimates agree. The whole
//! `valuetree calibrate` process is timed apart (docs/benchmarks.md). Printed, never asserted.

/// The shipped `valuetree` binary's allocator, so the engine is measured as it runs there.
#[path = "../src/allocator.rs"]
mod allocator;

mod common;
use common::peak_memory_mib;

use std::time::Instant;
use valuetree_core::calibration::{calibrate, calibrate_with_reference_solver};

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let Some(path) = args.first() else {
        println!("calibration_file: give a ratings file (and a dimension) after `--`; skipped");
        return;
    };
    let path = std::path::Path::new(path);
    let dimension = args.get(1).map(String::as_str);

    let started = Instant::now();
    let mut csv = csv::ReaderBuilder::new()
        .buffer_capacity(1 << 20)
        .from_path(path)
        .expect("the ratings file");
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    while csv.read_byte_record(&mut record).expect("a CSV row") {
        rows += 1;
    }
    let floor = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let interned = valuetree_exchange::ratings::read_ratings_file(path, dimension, false)
        .expect("a valid ratings file");
    let reading = started.elapsed().as_secs_f64();
    let input = &interned.input;

    let started = Instant::now();
    let fit = calibrate(input).expect("a fit");
    let fitting = started.elapsed().as_secs_f64();
    let memory = peak_memory_mib();

    let started = Instant::now();
    let reference = calibrate_with_reference_solver(input).expect("a fit");
    let reference_fitting = started.elapsed().as_secs_f64();

    let scores = |f: &valuetree_core::calibration::Calibration| -> Vec<f64> {
        f.ratees.iter().map(|r| r.calibrated).collect()
    };
    let (a, b) = (scores(&fit), scores(&reference));
    let largest = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    println!(
        "{}: {rows} rows; {} ratings of {} ratees by {} raters fitted",
        path.display(),
        input.ratings.len(),
        input.ratees,
        input.raters
    );
    println!("floor (csv byte records, one thread): {floor:.2} s");
    println!(
        "reading into the input: {reading:.2} s ({:.2}x the floor)",
        reading / floor
    );
    println!(
        "fit: {fitting:.2} s ({} iterations); reference solver: {reference_fitting:.2} s ({} iterations); {:.2}x faster",
        fit.iterations,
        reference.iterations,
        reference_fitting / fitting
    );
    println!(
        "agreement with the reference: Pearson {:.7}, largest difference {largest:.2e}",
        pearson(&a, &b)
    );
    println!("peak memory before the reference fit: {memory:.0} MiB");
}
