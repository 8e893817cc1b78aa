//! Ledger benchmarks through the shipped code paths (parsing, validation, hashing,
//! projections): `cargo bench -p valuetree --bench ledger`.
//!
//! - import throughput: `valuetree import` of 1,000,000 contributions (the real binary); on
//!   SQLite also `VALUETREE_BENCH_MORE_IMPORTS` (default 2) more times into fresh databases,
//!   with the median of all runs;
//! - append throughput: `Store::append` in single-event transactions and in one batch;
//! - verify throughput: `valuetree verify --chain-only` (three runs, the median), and the
//!   full verify with the projection replay;
//! - export throughput.
//!
//! SQLite always; PostgreSQL too when `VALUETREE_BENCH_PG` holds a server URL (a fresh
//! database is created and dropped). `VALUETREE_BENCH_CONTRIBUTIONS` changes the size;
//! `VALUETREE_BENCH_KEEP=DIR` keeps a copy of the generated files in DIR.
//! Timings are printed, never asserted: record them in docs/benchmarks.md.

mod common;
use common::Lcg;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;
use valuetree_core::clock::SystemClock;
use valuetree_core::domain::{ContributionRecord, Phase};
use valuetree_core::event::Event;
use valuetree_core::{Amount, NaiveDate};
use valuetree_store::Store;

const PEOPLE: usize = 10_000;
const UNITS: usize = 100;
const NODES: usize = 5_000;

fn write_dataset(dir: &Path, contributions: usize) -> std::io::Result<()> {
    let mut rng = Lcg(42);
    let mut people = String::from("person_id,name,email,joined_on,left_on\n");
    for p in 0..PEOPLE {
        writeln!(people, "P{p:06},Person {p},p{p}@example.org,2020-01-01,").ok();
    }
    std::fs::write(dir.join("people.csv"), people)?;
    let mut units = String::from(
        "unit_id,name,parent_unit_id,valid_from,valid_to\nU000,Company,,2020-01-01,\n",
    );
    for u in 1..UNITS {
        writeln!(units, "U{u:03},Unit {u},U000,2020-01-01,").ok();
    }
    std::fs::write(dir.join("units.csv"), units)?;
    let mut assignments = String::from("person_id,unit_id,manager_id,valid_from\n");
    for p in 0..PEOPLE {
        let unit = p % UNITS;
        let manager = if p < UNITS {
            String::new()
        } else {
            format!("P{unit:06}")
        };
        writeln!(assignments, "P{p:06},U{unit:03},{manager},2020-01-01").ok();
    }
    std::fs::write(dir.join("assignments.csv"), assignments)?;
    // Levels: 50 needs, 450 objectives, 1,500 initiatives, the rest deliverables.
    let level = |n: usize| match n {
        0..50 => ("need", None),
        50..500 => ("objective", Some(0..50)),
        500..2000 => ("initiative", Some(50..500)),
        _ => ("deliverable", Some(500..2000)),
    };
    let mut nodes = String::from("node_id,kind,title,lead_id,created_on\n");
    let mut edges = String::from("parent_id,child_id,weight\n");
    for n in 0..NODES {
        let (kind, parents) = level(n);
        writeln!(
            nodes,
            "N{n:05},{kind},Node {n},P{:06},2020-01-01",
            rng.below(PEOPLE)
        )
        .ok();
        if let Some(range) = parents {
            // Two parents per node (multi-parent DAG); weights small enough to stay valid.
            let first = range.start + rng.below(range.len());
            let second =
                range.start + (first - range.start + 1 + rng.below(range.len() - 1)) % range.len();
            writeln!(edges, "N{first:05},N{n:05},0.01").ok();
            writeln!(edges, "N{second:05},N{n:05},0.01").ok();
        }
    }
    std::fs::write(dir.join("nodes.csv"), nodes)?;
    std::fs::write(dir.join("edges.csv"), edges)?;
    let phases = ["discover", "design", "build", "launch", "operate"];
    let mut text = String::with_capacity(contributions * 80);
    text.push_str("contribution_id,person_id,node_id,phase,date,effort,description,confirmed\n");
    for c in 0..contributions {
        writeln!(
            text,
            "C{c:08},P{:06},N{:05},{},{}-{:02}-{:02},{},work item {c},{}",
            rng.below(PEOPLE),
            rng.below(NODES),
            phases[rng.below(5)],
            2021 + rng.below(4),
            1 + rng.below(12),
            1 + rng.below(28),
            1 + rng.below(8),
            rng.below(4) != 0
        )
        .ok();
    }
    std::fs::create_dir_all(dir.join("facts"))?;
    std::fs::write(dir.join("facts").join("contributions.csv"), text)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sync_dir(&entry.path())?;
        } else {
            std::fs::File::open(entry.path())?.sync_all()?;
        }
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn run(db: &str, args: &[&str]) -> f64 {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_valuetree"))
        .args(args)
        .env("VALUETREE_DB", db)
        .output()
        .expect("run valuetree");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "valuetree {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    seconds
}

fn contribution(i: usize) -> Event {
    Event::ContributionRecorded(ContributionRecord {
        contribution_id: format!("A{i:08}"),
        person_id: format!("P{:06}", i % PEOPLE),
        node_id: format!("N{:05}", i % NODES),
        phase: Phase::Build,
        date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default(),
        effort: Amount(2.0),
        description: "appended".into(),
        evidence: None,
        confirmed: true,
    })
}

fn seconds_list(runs: &[f64]) -> String {
    let listed: Vec<String> = runs.iter().map(|s| format!("{s:.2}")).collect();
    listed.join(" / ")
}

fn median(runs: &mut [f64]) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// The bench's files: the master data directory and the contributions file.
fn dataset_paths(data: &Path) -> (String, String) {
    let facts = data.join("facts").join("contributions.csv");
    (data.display().to_string(), facts.display().to_string())
}

/// `rounds` more imports of the contributions, each into a fresh SQLite database (deleted
/// after): one import is one sample of a machine whose speed moves from minute to minute.
fn more_sqlite_imports(data: &Path, rounds: usize) -> Vec<f64> {
    let (dir, facts) = dataset_paths(data);
    (0..rounds)
        .map(|round| {
            let scratch = tempfile::tempdir().expect("temp dir");
            let db = scratch
                .path()
                .join(format!("round-{round}.db"))
                .display()
                .to_string();
            run(&db, &["import", "dir", &dir]);
            run(&db, &["import", "contributions", &facts])
        })
        .collect()
}

fn bench_backend(name: &str, db: &str, data: &Path, contributions: usize, more_imports: usize) {
    println!("\n== {name} ==");
    let (dir, facts) = dataset_paths(data);
    let master = run(db, &["import", "dir", &dir]);
    println!(
        "import master data ({PEOPLE} people, {NODES} nodes, edges, assignments): {master:.2} s"
    );
    let seconds = run(db, &["import", "contributions", &facts]);
    println!(
        "import {contributions} contributions: {seconds:.2} s = {:.0} contributions/s",
        contributions as f64 / seconds
    );
    if more_imports > 0 {
        let mut all = more_sqlite_imports(data, more_imports);
        all.insert(0, seconds);
        let listed = seconds_list(&all);
        let median = median(&mut all);
        println!(
            "import {contributions} contributions, {} runs into fresh databases: {listed} s; \
             median {median:.2} s = {:.0} contributions/s",
            all.len(),
            contributions as f64 / median
        );
    }
    let reimport = run(db, &["import", "contributions", &facts]);
    println!("re-import of the same file (no change): {reimport:.2} s");

    let mut store = Store::open(db, Arc::new(SystemClock)).expect("open store");
    let singles = 1_000;
    let started = Instant::now();
    for i in 0..singles {
        store
            .append(vec![(contribution(i), None)], "bench")
            .expect("append");
    }
    let single_rate = singles as f64 / started.elapsed().as_secs_f64();
    println!("append, one event per transaction (durable commit each): {single_rate:.0} events/s");
    let batch: Vec<_> = (singles..singles + 100_000)
        .map(|i| (contribution(i), None))
        .collect();
    let started = Instant::now();
    store.append(batch, "bench").expect("append batch");
    println!(
        "append, 100,000 events in one transaction: {:.0} events/s",
        100_000.0 / started.elapsed().as_secs_f64()
    );
    drop(store);

    let events = contributions + PEOPLE * 2 + UNITS + NODES * 3 + singles + 100_000;
    // Three runs, the median reported: the first run after the writes above is often slower
    // (the kernel is still writing their pages back).
    let mut chain: Vec<f64> = (0..3)
        .map(|_| run(db, &["verify", "--chain-only"]))
        .collect();
    let listed = seconds_list(&chain);
    let chain = median(&mut chain);
    println!(
        "verify --chain-only (~{events} events), 3 runs: {listed} s; median {chain:.2} s = {:.0} events/s",
        events as f64 / chain
    );
    let full = run(db, &["verify"]);
    println!(
        "verify (chain + projection replay): {full:.2} s = {:.0} events/s",
        events as f64 / full
    );
    let export = run(
        db,
        &[
            "export",
            "events",
            "--out",
            &data.join("export.jsonl").display().to_string(),
        ],
    );
    println!(
        "export events: {export:.2} s = {:.0} events/s",
        events as f64 / export
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: only run when benching.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let contributions: usize = std::env::var("VALUETREE_BENCH_CONTRIBUTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    write_dataset(dir.path(), contributions).expect("write dataset");
    // On disk before anything is timed: the first import would otherwise share the machine
    // with the kernel writing back the ~70 MB just generated.
    sync_dir(dir.path()).expect("sync the dataset");
    if let Ok(keep) = std::env::var("VALUETREE_BENCH_KEEP") {
        // To profile one step by hand: the generated files, kept outside the temp dir.
        copy_dir(dir.path(), Path::new(&keep)).expect("copy the dataset");
    }
    println!(
        "dataset: {PEOPLE} people, {UNITS} units, {NODES} nodes, {contributions} contributions (generated in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    // SQLite's import is also run this many more times, into fresh databases, for a median.
    let more_imports: usize = std::env::var("VALUETREE_BENCH_MORE_IMPORTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let sqlite = dir.path().join("bench.db").display().to_string();
    bench_backend("SQLite", &sqlite, dir.path(), contributions, more_imports);
    if let Ok(admin) = std::env::var("VALUETREE_BENCH_PG") {
        let name = format!("vt_bench_{}", std::process::id());
        let mut client =
            postgres::Client::connect(&admin, postgres::NoTls).expect("connect to PostgreSQL");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        bench_backend(
            "PostgreSQL",
            &format!("{base}/{name}"),
            dir.path(),
            contributions,
            0,
        );
        let _ = client.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"));
    }
}
