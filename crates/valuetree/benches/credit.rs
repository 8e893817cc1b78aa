//! Credit engine benchmark at the brief's scale: `cargo bench -p valuetree --bench credit`.
//!
//! 250,000 people, 50,000 nodes (needs → objectives → initiatives → deliverables, depth 4,
//! multi-parent), 10,000,000 contributions, 200,000 outcomes, generated in memory with the
//! simulator's shape. Times the engine alone (data in memory), one incremental outcome and one
//! incremental contribution, and reports the peak memory of the process. Printed, never
//! asserted: record the figures in docs/benchmarks.md. `VALUETREE_BENCH_SCALE=0.1` runs a
//! tenth of the size.

/// The shipped `valuetree` binary's allocator, so the engine is measured as it runs there.
#[path = "../src/allocator.rs"]
mod allocator;

mod common;
use common::{Lcg, peak_memory_mib};

use std::time::Instant;
use valuetree_core::credit::{
    CreditContribution, CreditData, CreditEdge, CreditOutcome, Engine, Policy, Status,
};
use valuetree_core::domain::Phase;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let scale: f64 = std::env::var("VALUETREE_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let sized = |n: f64| ((n * scale) as usize).max(10);
    let (people, contributions, outcomes) =
        (sized(250_000.0), sized(10_000_000.0), sized(200_000.0));
    let (needs, objectives, initiatives) = (sized(50.0), sized(500.0), sized(12_000.0));
    let deliverables = sized(50_000.0) - needs - objectives - initiatives;
    let generate = |announce: bool| {
        let mut rng = Lcg(7);
        let started = Instant::now();
        let mut data = CreditData::default();
        for p in 0..people {
            data.person(&format!("P{p:07}"));
        }
        let levels = [
            ("NEED", needs),
            ("OBJ", objectives),
            ("INI", initiatives),
            ("DEL", deliverables),
        ];
        let mut first = Vec::new();
        for (prefix, count) in levels {
            first.push(data.nodes.len());
            for i in 0..count {
                data.node(&format!("{prefix}{i}"), &format!("{prefix} {i}"));
            }
        }
        let mut edges = Vec::new();
        let mut budget = vec![1.0f64; data.nodes.len()];
        for level in 1..4 {
            let (parents, parent_count) = (first[level - 1], levels[level - 1].1);
            for child in first[level]..first[level] + levels[level].1 {
                for k in 0..if rng.below(10) == 0 { 2 } else { 1 } {
                    let parent = parents + rng.below(parent_count);
                    let weight: f64 = if k == 0 { 0.05 } else { 0.02 };
                    let weight = weight.min(budget[parent]);
                    budget[parent] -= weight;
                    if edges
                        .iter()
                        .rev()
                        .take(3)
                        .any(|e: &CreditEdge| e.parent == parent as u32 && e.child == child as u32)
                    {
                        continue;
                    }
                    edges.push(CreditEdge {
                        parent: parent as u32,
                        child: child as u32,
                        weight,
                        from: None,
                        to: None,
                    });
                }
            }
        }
        data.edges = edges;
        let phases = [
            Phase::Discover,
            Phase::Design,
            Phase::Build,
            Phase::Launch,
            Phase::Operate,
        ];
        let work_nodes = first[2];
        let span = data.nodes.len() - work_nodes;
        data.contributions = (0..contributions)
            .map(|_| CreditContribution {
                person: rng.below(people) as u32,
                node: (work_nodes + rng.below(span)) as u32,
                phase: phases[rng.below(5)],
                date: 738_000 + rng.below(1_095) as i32,
                effort: (1 + rng.below(8)) as f64,
                status: if rng.below(5) == 0 {
                    Status::Unconfirmed
                } else {
                    Status::Confirmed
                },
            })
            .collect();
        data.outcomes = (0..outcomes)
            .map(|i| {
                // Most outcomes at initiatives, some higher up, a few at needs.
                let node = match rng.below(100) {
                    0 => rng.below(needs),
                    1..=9 => first[1] + rng.below(objectives),
                    10..=69 => first[2] + rng.below(initiatives),
                    _ => first[3] + rng.below(deliverables),
                };
                CreditOutcome {
                    id: format!("O{i}"),
                    node: node as u32,
                    date: 738_180 + rng.below(915) as i32,
                    value: (100 + rng.below(900)) as f64,
                }
            })
            .collect();
        if announce {
            println!(
                "generated {people} people, {} nodes, {} edges, {contributions} contributions, {outcomes} outcomes in {:.1} s",
                data.nodes.len(),
                data.edges.len(),
                started.elapsed().as_secs_f64()
            );
        }
        (data, first)
    };
    // The engine is timed on five fresh copies of the same data (the first run after a
    // build is often slower on a shared machine); the median is the figure to record.
    let mut times = Vec::new();
    let mut before = 0.0;
    let mut last = None;
    for run in 0..5 {
        // The previous run's engine goes before the next copy of the data is made.
        drop(last.take());
        let (data, first) = generate(run == 0);
        if run == 0 {
            before = peak_memory_mib();
        }
        let started = Instant::now();
        let engine = Engine::new(data, Policy::default()).expect("a DAG");
        times.push(started.elapsed().as_secs_f64());
        last = Some((engine, first));
    }
    let Some((mut engine, first)) = last else {
        return;
    };
    let runs: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
    times.sort_by(f64::total_cmp);
    println!(
        "engine, everyone credited from every outcome: median {:.3} s of 5 runs ({} s; credited {:.0} + unattributed {:.0} = {:.0})",
        times[2],
        runs.join(", "),
        engine.total_credited(),
        engine.total_unattributed(),
        engine.total_value()
    );
    let started = Instant::now();
    let gained = engine.add_outcome(CreditOutcome {
        id: "new".into(),
        node: first[1] as u32,
        date: 739_100,
        value: 5_000.0,
    });
    println!(
        "incremental: one new outcome at an objective: {:.2} ms ({} people gained)",
        started.elapsed().as_secs_f64() * 1e3,
        gained.len()
    );
    let started = Instant::now();
    let changed = engine.add_contribution(CreditContribution {
        person: 1,
        node: first[2] as u32,
        phase: Phase::Build,
        date: 738_500,
        effort: 5.0,
        status: Status::Confirmed,
    });
    println!(
        "incremental: one new contribution: {:.2} ms ({} people changed)",
        started.elapsed().as_secs_f64() * 1e3,
        changed.len()
    );
    println!(
        "peak memory: {:.0} MiB (the generated input alone, before the first run: {before:.0} MiB)",
        peak_memory_mib()
    );
}
