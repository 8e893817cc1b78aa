//! The application layer's snapshot at an organisation's scale: building it from the
//! database, a person's record from it, and catching up after one new contribution and one
//! new outcome (with the warm credit engine updated incrementally).
//!
//! Needs a database (it writes two events to it):
//!
//! ```sh
//! valuetree sim --people 250000 --years 3 --seed 1 --out s250
//! valuetree --db s250.db import dir s250
//! VALUETREE_BENCH_DB=s250.db cargo bench -p valuetree-app --bench snapshot
//! ```

use std::sync::Arc;
use std::time::Instant;
use valuetree_app::commands::work::NewContribution;
use valuetree_app::{Actor, App};
use valuetree_core::Amount;
use valuetree_core::clock::SystemClock;
use valuetree_core::domain::{OutcomeRecord, Phase};

fn peak_resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let Ok(db) = std::env::var("VALUETREE_BENCH_DB") else {
        eprintln!("set VALUETREE_BENCH_DB to a database (see the top of benches/snapshot.rs)");
        return;
    };
    let app = App::new(&db, Arc::new(SystemClock));
    let operator = Actor::Operator;

    let started = Instant::now();
    let snapshot = app.snapshot().expect("snapshot");
    println!(
        "snapshot built: {:.2} s, peak resident {:.0} MiB ({} people, {} nodes, {} assignments)",
        started.elapsed().as_secs_f64(),
        peak_resident_mib(),
        snapshot.state.people.len(),
        snapshot.state.nodes.len(),
        snapshot.state.assignments.len(),
    );
    let started = Instant::now();
    let engine = app.credit_engine(&snapshot).expect("credit engine");
    println!(
        "credit engine warmed: {:.2} s ({} people credited from {} outcomes), peak resident {:.0} MiB",
        started.elapsed().as_secs_f64(),
        engine.people().len(),
        engine.outcomes().len(),
        peak_resident_mib()
    );
    drop(engine);

    // People with long records: the first ids of the simulation worked there longest.
    let mut people: Vec<&String> = snapshot.state.people.keys().collect();
    people.sort();
    let sample: Vec<String> = people.iter().take(200).map(|p| p.to_string()).collect();
    let started = Instant::now();
    let first = app
        .person_record(&operator, &sample[0], None, false)
        .expect("person record");
    std::hint::black_box(&first);
    println!(
        "first person record (builds the membership index): {:.1} ms",
        ms(started)
    );
    let mut times: Vec<f64> = sample
        .iter()
        .map(|id| {
            let started = Instant::now();
            let record = app
                .person_record(&operator, id, None, false)
                .expect("person record");
            std::hint::black_box(&record);
            ms(started)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "person record from the snapshot ({} people): median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        times.len(),
        times[times.len() / 2],
        times[times.len() * 95 / 100],
        times[times.len() - 1]
    );
    let started = Instant::now();
    let credited = app
        .person_record(&operator, &sample[0], None, true)
        .expect("person record with credit");
    std::hint::black_box(&credited);
    println!("person record with credit: {:.2} ms", ms(started));

    let person = sample[0].clone();
    let node = snapshot
        .state
        .nodes
        .keys()
        .min()
        .expect("a node")
        .to_string();
    drop(snapshot);
    let today = app.today();
    let started = Instant::now();
    app.record_contribution(
        &operator,
        NewContribution {
            contribution_id: None,
            person_id: Some(person.clone()),
            node_id: node.clone(),
            phase: Phase::Build,
            date: Some(today),
            effort: 1.0,
            description: "bench: one more contribution".into(),
            evidence: None,
        },
    )
    .expect("contribution recorded");
    let written = ms(started);
    let started = Instant::now();
    let snapshot = app.snapshot().expect("caught up");
    let caught_up = ms(started);
    assert!(
        snapshot.built_credit().is_some(),
        "the engine was rebuilt instead of updated"
    );
    println!(
        "new contribution: written in {written:.1} ms, snapshot caught up in {caught_up:.1} ms"
    );
    drop(snapshot);

    let started = Instant::now();
    let outcome_id = format!("bench-{}", std::process::id());
    app.record_outcome(
        &operator,
        OutcomeRecord {
            date: today,
            description: "bench: value realised".into(),
            evidence: None,
            node_id: node,
            outcome_id,
            value: Amount(1000.0),
        },
    )
    .expect("outcome recorded");
    let written = ms(started);
    let started = Instant::now();
    let snapshot = app.snapshot().expect("caught up");
    let caught_up = ms(started);
    assert!(snapshot.built_credit().is_some());
    println!("new outcome: written in {written:.1} ms, snapshot caught up in {caught_up:.1} ms");
}
