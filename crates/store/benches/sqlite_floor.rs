//! What SQLite alone costs to store a CSV import's rows, as a floor under `valuetree import`:
//! `cargo bench -p valuetree-store --bench sqlite_floor`.
//!
//! The rows of N contribution events and their projection rows are built in memory first
//! (the same shapes and sizes the import writes: packed payload, hex hash, no stored
//! generated id), then
//! written into a database made by the store's own migrations, through prepared statements
//! as the store writes them (32 rows per `INSERT OR FAIL`), in one transaction, with a
//! durable commit (WAL, synchronous=FULL, the store's pragmas).
//! No parsing, checking or hashing is timed: whatever the import takes beyond these figures
//! is valuetree's own work. `VALUETREE_BENCH_CONTRIBUTIONS` changes N (default 1,000,000).
//! Timings are printed, never asserted: record them in docs/benchmarks.md.

use rusqlite::Connection;
use std::sync::Arc;
use std::time::Instant;
use valuetree_core::clock::SystemClock;
use valuetree_store::Store;

struct Rows {
    seq: i64,
    payload: String,
    date: String,
    hash: String,
    /// 32 bytes for the BLOB variant (not a real digest either).
    hash_bytes: Vec<u8>,
    contribution_id: String,
    person_id: String,
    node_id: String,
    phase: &'static str,
    description: String,
}

fn rows(n: usize) -> Vec<Rows> {
    let mut state: u64 = 42;
    let mut below = |m: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % m
    };
    let phases = ["discover", "design", "build", "launch", "operate"];
    (0..n)
        .map(|i| {
            let contribution_id = format!("C{i:08}");
            let person_id = format!("P{:06}", below(10_000));
            let node_id = format!("N{:05}", below(5_000));
            let phase = phases[below(5) as usize];
            let date = format!(
                "{}-{:02}-{:02}",
                2021 + below(4),
                1 + below(12),
                1 + below(28)
            );
            let description = format!("work item {i}");
            // Packed, as the events table stores a recorded contribution
            // (valuetree_core::packed).
            let payload = format!(
                "#0\u{1f}false\u{1f}\"{contribution_id}\"\u{1f}\"{date}\"\u{1f}\"{description}\"\
                 \u{1f}\"6\"\u{1f}\"{node_id}\"\u{1f}\"{person_id}\"\u{1f}\"{phase}\""
            );
            // Not a real chain hash (hashing is not what is measured), but 64 hex digits.
            let hash = format!("{:064x}", (i as u128 + 1) * 0x9e37_79b9_7f4a_7c15);
            Rows {
                seq: i as i64 + 1,
                payload,
                date,
                hash_bytes: hash.as_bytes()[..32].to_vec(),
                hash,
                contribution_id,
                person_id,
                node_id,
                phase,
                description,
            }
        })
        .collect()
}

/// Rows per multi-row INSERT, as the store writes them.
const ROWS: usize = 32;

/// The events table as it could be, to see what a smaller row buys: the hash as 32 bytes
/// instead of 64 hex digits.
const SLIM_EVENTS: &str = "DROP TABLE events; CREATE TABLE events (seq INTEGER PRIMARY KEY, \
    event_id TEXT UNIQUE, kind TEXT NOT NULL, payload TEXT NOT NULL, effective TEXT NOT NULL, \
    recorded TEXT NOT NULL, actor TEXT NOT NULL, hash BLOB NOT NULL)";

/// Writes `rows` in one transaction; with `defer_indexes`, the contributions' secondary
/// indexes are dropped first and built again before the commit (what a bulk import does).
fn write(path: &str, rows: &[Rows], defer_indexes: bool, slim: bool) -> (f64, f64, f64) {
    let mut conn = Connection::open(path).expect("open");
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("pragma");
    // The store's settings (sqlite.rs): a 64 MiB page cache, file-backed sorts with two
    // helper threads.
    conn.pragma_update(None, "cache_size", -65_536)
        .expect("pragma");
    conn.pragma_update(None, "temp_store", "FILE")
        .expect("pragma");
    conn.pragma_update(None, "threads", 2).expect("pragma");
    let started = Instant::now();
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .expect("begin");
    let indexes: Vec<String> = if defer_indexes {
        let mut stmt = tx
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name = 'contributions' AND sql IS NOT NULL",
            )
            .expect("prepare");
        let found: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        for (name, _) in &found {
            tx.execute_batch(&format!("DROP INDEX {name}"))
                .expect("drop index");
        }
        found.into_iter().map(|(_, sql)| sql).collect()
    } else {
        Vec::new()
    };
    {
        // As the store writes them: generated ids not stored (NULL), ROWS rows per
        // `INSERT OR FAIL` statement (no statement journal), the rest one by one.
        // `template` is one row's tuple, `#` where a parameter goes.
        let values = |template: &str, rows: usize| {
            let width = template.matches('#').count();
            (0..rows)
                .map(|r| {
                    let mut tuple = String::from("(");
                    let mut n = r * width;
                    for piece in template.split_inclusive('#') {
                        match piece.strip_suffix('#') {
                            Some(text) => {
                                n += 1;
                                tuple.push_str(&format!("{text}${n}"));
                            }
                            None => tuple.push_str(piece),
                        }
                    }
                    tuple.push(')');
                    tuple
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let event_sql = |rows: usize| {
            format!(
                "INSERT OR FAIL INTO events (seq, event_id, kind, payload, effective, recorded, \
                 actor, hash) VALUES {}",
                values(
                    "#, NULL, 'contribution_recorded', #, #, '2026-11-28T03:26:51.120295Z', \
                     'bench', #",
                    rows
                )
            )
        };
        let contribution_sql = |rows: usize| {
            format!(
                "INSERT OR FAIL INTO contributions (contribution_id, person_id, node_id, phase, \
                 date, description, effort, evidence, confirmed, confirmed_on, retracted_on, \
                 retraction_reason) VALUES {}",
                values("#, #, #, #, #, #, 6.0, NULL, 0, NULL, NULL, NULL", rows)
            )
        };
        let mut events = tx.prepare(&event_sql(ROWS)).expect("prepare");
        let mut contributions = tx.prepare(&contribution_sql(ROWS)).expect("prepare");
        let mut one_event = tx.prepare(&event_sql(1)).expect("prepare");
        let mut one_contribution = tx.prepare(&contribution_sql(1)).expect("prepare");
        for group in rows.chunks(ROWS) {
            let (event, contribution, parts) = if group.len() == ROWS {
                (&mut events, &mut contributions, group.chunks(ROWS))
            } else {
                (&mut one_event, &mut one_contribution, group.chunks(1))
            };
            for part in parts {
                let mut event_params: Vec<&dyn rusqlite::ToSql> = Vec::new();
                let mut contribution_params: Vec<&dyn rusqlite::ToSql> = Vec::new();
                for r in part {
                    event_params.extend([&r.seq as &dyn rusqlite::ToSql, &r.payload, &r.date]);
                    event_params.push(if slim { &r.hash_bytes } else { &r.hash });
                    contribution_params.extend([
                        &r.contribution_id as &dyn rusqlite::ToSql,
                        &r.person_id,
                        &r.node_id,
                        &r.phase,
                        &r.date,
                        &r.description,
                    ]);
                }
                event
                    .execute(event_params.as_slice())
                    .expect("insert events");
                contribution
                    .execute(contribution_params.as_slice())
                    .expect("insert contributions");
            }
        }
    }
    let inserted = started.elapsed().as_secs_f64();
    if !indexes.is_empty() {
        // As the store builds deferred indexes: a 4 MiB cache sizes the sorter's runs.
        tx.pragma_update(None, "cache_size", -4_096)
            .expect("pragma");
        for sql in &indexes {
            tx.execute_batch(sql).expect("create index");
        }
        tx.pragma_update(None, "cache_size", -65_536)
            .expect("pragma");
    }
    let indexed = started.elapsed().as_secs_f64();
    tx.commit().expect("commit");
    let committed = started.elapsed().as_secs_f64();
    let stored: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM contributions)",
            [],
            |r| r.get(0),
        )
        .expect("count rows");
    assert_eq!(stored, 2 * rows.len() as i64, "every row written once");
    (inserted, indexed - inserted, committed - indexed)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: only run when benching.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n: usize = std::env::var("VALUETREE_BENCH_CONTRIBUTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rows = rows(n);
    println!("{n} contribution events and projection rows, built in memory");
    for (defer, slim, label) in [
        (false, false, "indexes updated row by row"),
        (
            true,
            false,
            "indexes built after the rows (what the import does)",
        ),
        (true, false, "the same, again"),
        (true, true, "32-byte hashes, indexes built after the rows"),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("floor.db").display().to_string();
        // The store's migrations make the schema (and set WAL and the page size).
        drop(Store::open(&path, Arc::new(SystemClock)).expect("create the database"));
        if slim {
            Connection::open(&path)
                .and_then(|c| c.execute_batch(SLIM_EVENTS))
                .expect("slim events table");
        }
        let (inserted, indexed, committed) = write(&path, &rows, defer, slim);
        let total = inserted + indexed + committed;
        println!(
            "{label}: inserts {inserted:.2} s, index builds {indexed:.2} s, commit {committed:.2} s \
             = {total:.2} s = {:.0} rows/s",
            n as f64 / total
        );
    }
}
