//! The store API on a real database: SQLite always, PostgreSQL when `VALUETREE_TEST_PG` is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use valuetree_core::NaiveDate;
use valuetree_core::clock::{Clock, FixedClock};
use valuetree_core::domain::*;
use valuetree_core::event::Event;
use valuetree_store::{Store, StoreError};

struct Db {
    url: String,
    admin: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Db {
    fn open(&self) -> Store {
        let clock: Arc<dyn Clock> = test_clock();
        Store::open(&self.url, clock).expect("open store")
    }
}

/// The tests' "today": after every date they record (work is not recorded before it happened).
fn test_clock() -> Arc<dyn Clock> {
    Arc::new(FixedClock::new(
        chrono::DateTime::parse_from_rfc3339("2025-01-15T09:00:00Z")
            .map(|t| t.to_utc())
            .unwrap_or_default(),
    ))
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.admin
            && let Ok(mut client) = postgres::Client::connect(admin, postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

fn each_backend(test: impl Fn(&Db)) {
    let dir = tempfile::tempdir().expect("temp dir");
    test(&Db {
        url: dir.path().join("store.db").display().to_string(),
        admin: None,
        _dir: dir,
    });
    if let Ok(admin) = std::env::var("VALUETREE_TEST_PG")
        && !admin.is_empty()
    {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "vt_store_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap_or_else(|e| {
            panic!("VALUETREE_TEST_PG is set but PostgreSQL is unreachable: {e}")
        });
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        test(&Db {
            url: format!("{base}/{name}"),
            admin: Some((admin.clone(), name)),
            _dir: tempfile::tempdir().expect("temp dir"),
        });
    }
}

/// A SQLite database file `name` in a fresh directory, for tests that also open it directly.
fn sqlite_file(name: &str) -> (Db, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    let db = Db {
        url: path.display().to_string(),
        admin: None,
        _dir: dir,
    };
    (db, path)
}

fn day(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

fn hire(id: &str) -> Event {
    Event::PersonHired(PersonRecord {
        person_id: id.into(),
        name: format!("Person {id}"),
        email: None,
        joined_on: day("2024-01-01"),
        left_on: None,
    })
}

fn assign(id: &str, unit: &str) -> Event {
    Event::AssignmentChanged(AssignmentRecord {
        person_id: id.into(),
        unit_id: unit.into(),
        manager_id: None,
        valid_from: day("2024-02-01"),
    })
}

fn unit(id: &str) -> Event {
    Event::UnitCreated(UnitRecord {
        unit_id: id.into(),
        name: format!("Unit {id}"),
        parent_unit_id: None,
        valid_from: day("2024-01-01"),
        valid_to: None,
    })
}

#[test]
fn a_writer_sees_what_another_handle_wrote_in_between() {
    each_backend(|db| {
        let (mut first, mut second) = (db.open(), db.open());
        first
            .append(vec![(hire("P1"), None), (unit("U1"), None)], "a")
            .expect("first write");
        second
            .append(vec![(hire("P2"), None)], "b")
            .expect("second write");
        // `first` cached the org at its own head; it must notice P2 before accepting this.
        let summary = first
            .append(vec![(assign("P2", "U1"), None)], "a")
            .expect("third write");
        assert_eq!(summary.head.map(|h| h.seq), Some(4));
        let report = second.verify_chain(None, &mut |_| {}).expect("verify");
        assert_eq!((report.events, report.failure), (4, None));
        assert!(second.check_projections(10).expect("check").is_empty());
    });
}

#[test]
fn a_refused_write_changes_nothing_and_poisons_no_cache() {
    each_backend(|db| {
        let mut store = db.open();
        store
            .append(vec![(hire("P1"), None), (unit("U1"), None)], "a")
            .expect("write");
        let head = store.head().expect("head");
        let refused = store.append(vec![(hire("P9"), None), (assign("P404", "U1"), None)], "a");
        match refused {
            Err(StoreError::Rejected(errors)) => {
                assert_eq!(errors.len(), 1);
                assert_eq!(errors[0].error.line, 2);
                assert_eq!(errors[0].error.column.as_deref(), Some("person_id"));
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert_eq!(store.head().expect("head"), head);
        // P9 was applied to the in-memory state before the refusal; it must not linger.
        let again = store.append(vec![(assign("P9", "U1"), None)], "a");
        assert!(matches!(again, Err(StoreError::Rejected(_))), "{again:?}");
        store
            .append(vec![(hire("P9"), None)], "a")
            .expect("P9 can be hired now");
    });
}

#[test]
fn a_client_event_id_makes_a_retry_harmless() {
    each_backend(|db| {
        let mut store = db.open();
        let first = store
            .append(vec![(hire("P1"), Some("req-1".into()))], "api")
            .expect("write");
        let retry = store
            .append(vec![(hire("P1"), Some("req-1".into()))], "api")
            .expect("retry");
        assert_eq!((first.events, retry.events, retry.unchanged), (1, 0, 1));
        let mut ids = Vec::new();
        store
            .for_each_event(&mut |e| {
                ids.push(e.event_id);
                Ok(())
            })
            .expect("events");
        assert_eq!(ids, vec!["req-1".to_string()]);

        // A generated id is not stored (it is the sequence number again) but reads back.
        store
            .append(vec![(hire("P2"), None)], "api")
            .expect("write");
        let stored = store
            .query("SELECT event_id FROM events WHERE seq = 2", &[])
            .expect("query");
        assert_eq!(stored, vec![vec![valuetree_store::sql::Value::Null]]);
        ids.clear();
        store
            .for_each_event(&mut |e| {
                ids.push(format!("{} after {}", e.event_id, &e.prev_hash[..8]));
                Ok(())
            })
            .expect("events");
        let first_hash = first.head.map(|h| h.hash).unwrap_or_default();
        assert_eq!(
            ids,
            vec![
                "req-1 after 00000000".to_string(),
                format!("ev-000000000002 after {}", &first_hash[..8])
            ]
        );
        // A client may not take that form for its own ids.
        let retry = store
            .append(vec![(hire("P2"), Some("ev-000000000002".into()))], "api")
            .expect_err("reserved form");
        assert!(
            matches!(&retry, StoreError::Rejected(errors) if errors[0].error.reason.contains("reserved")),
            "{retry:?}"
        );
        let report = store.verify_chain(None, &mut |_| {}).expect("verify");
        assert!(report.failure.is_none(), "{:?}", report.failure);
    });
}

#[test]
fn awkward_text_survives_the_round_trip_and_verifies() {
    each_backend(|db| {
        let mut store = db.open();
        let name = "Zoë \t tab \\ backslash \n newline \r \"quote\" \u{1} 北京";
        let event = Event::PersonHired(PersonRecord {
            person_id: "P\\1".into(),
            name: name.into(),
            email: None,
            joined_on: day("2024-01-01"),
            left_on: None,
        });
        store
            .append(vec![(event, None)], "tab\there")
            .expect("write");
        let report = store.verify_chain(None, &mut |_| {}).expect("verify");
        assert_eq!(report.failure, None);
        assert!(store.check_projections(10).expect("check").is_empty());
        let state = store
            .load_state(&valuetree_store::Preload::None)
            .expect("state");
        assert_eq!(
            state.people.get("P\\1").map(|p| p.name.as_str()),
            Some(name)
        );
    });
}

/// The one node the large-import tests record their contributions on.
fn big_node() -> valuetree_core::import::NodeRow {
    valuetree_core::import::NodeRow {
        node_id: "N1".into(),
        kind: NodeKind::Initiative,
        title: "Big".into(),
        lead_id: None,
        created_on: day("2020-01-01"),
        status: None,
        flagpole: None,
        description: None,
    }
}

/// Contributions C{i} of `person` on the node of [`big_node`], one per line from line i + 2.
fn contribution_batch(
    ids: std::ops::Range<usize>,
    person: &str,
) -> valuetree_core::import::RecordBatch {
    use valuetree_core::import::{RecordBatch, Row};
    RecordBatch::Contributions(
        ids.map(|i| Row {
            line: i as u64 + 2,
            record: ContributionRecord {
                contribution_id: format!("C{i}"),
                person_id: person.into(),
                node_id: "N1".into(),
                phase: Phase::Build,
                date: day("2024-06-01"),
                effort: valuetree_core::Amount(1.0),
                description: String::new(),
                evidence: None,
                confirmed: true,
            },
        })
        .collect(),
    )
}

#[test]
fn credit_data_read_in_parallel_matches_the_ledger() {
    use valuetree_core::Amount;
    use valuetree_core::credit::{Engine, Policy};
    use valuetree_core::import::{RecordBatch, Row};
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db {
        url: dir.path().join("big.db").display().to_string(),
        admin: None,
        _dir: dir,
    };
    let mut store = db.open();
    let people: Vec<Row<PersonRecord>> = ["A", "B", "C"]
        .iter()
        .enumerate()
        .map(|(i, id)| Row {
            line: i as u64 + 2,
            record: PersonRecord {
                person_id: id.to_string(),
                name: id.to_string(),
                email: None,
                joined_on: day("2020-01-01"),
                left_on: None,
            },
        })
        .collect();
    let node = big_node();
    // Enough rows for two readers; the two halves meet the people in a different order, so
    // the merge must re-number them.
    let order = |i: usize| {
        if i < 105_000 {
            ["A", "B", "C"][i % 3]
        } else {
            ["C", "B", "A"][i % 3]
        }
    };
    let contributions: Vec<Row<ContributionRecord>> = (0..210_000)
        .map(|i| Row {
            line: i as u64 + 2,
            record: ContributionRecord {
                contribution_id: format!("C{i}"),
                person_id: order(i).to_string(),
                node_id: "N1".into(),
                phase: Phase::Build,
                date: day("2021-01-01"),
                effort: Amount(if order(i) == "A" { 2.0 } else { 1.0 }),
                description: String::new(),
                evidence: None,
                confirmed: true,
            },
        })
        .collect();
    let outcome = OutcomeRecord {
        outcome_id: "O1".into(),
        node_id: "N1".into(),
        date: day("2022-01-01"),
        value: Amount(400.0),
        description: String::new(),
        evidence: None,
    };
    let files = vec![
        ("people".to_string(), RecordBatch::People(people)),
        (
            "nodes".to_string(),
            RecordBatch::Nodes(vec![Row {
                line: 2,
                record: node,
            }]),
        ),
        (
            "contributions".to_string(),
            RecordBatch::Contributions(contributions),
        ),
        (
            "outcomes".to_string(),
            RecordBatch::Outcomes(vec![Row {
                line: 2,
                record: outcome,
            }]),
        ),
    ];
    store
        .import_records(files, "test", &mut |_| {})
        .expect("import");
    let data = store.credit_data(None, None).expect("credit data");
    assert_eq!(data.contributions.len(), 210_000);
    let engine = Engine::new(data, Policy::default()).expect("engine");
    let credit = |id: &str| {
        engine
            .people()
            .iter()
            .position(|p| p == id)
            .map_or(0.0, |i| engine.credit(i as u32))
    };
    // A put in twice the effort of B and of C.
    assert!(
        (credit("A") - 200.0).abs() < 1e-6
            && (credit("B") - 100.0).abs() < 1e-6
            && (credit("C") - 100.0).abs() < 1e-6
    );
}

/// Person A (from 2020) and node N1, as import batches.
fn person_a_and_node_n1() -> Vec<(String, valuetree_core::import::RecordBatch)> {
    use valuetree_core::import::{RecordBatch, Row};
    let person = Row {
        line: 2,
        record: PersonRecord {
            person_id: "A".into(),
            name: "A".into(),
            email: None,
            joined_on: day("2020-01-01"),
            left_on: None,
        },
    };
    let node = Row {
        line: 2,
        record: big_node(),
    };
    vec![
        ("people".into(), RecordBatch::People(vec![person])),
        ("nodes".into(), RecordBatch::Nodes(vec![node])),
    ]
}

#[test]
fn a_bulk_import_rebuilds_the_indexes_it_set_aside_and_a_refused_one_keeps_them() {
    let (db, path) = sqlite_file("bulk.db");
    let mut store = db.open();
    let mut batches = person_a_and_node_n1();
    batches.push(("contributions".into(), contribution_batch(0..60_000, "A")));
    store
        .import_records(batches, "test", &mut |_| {})
        .expect("bulk import");
    let sqlite = rusqlite::Connection::open(&path).expect("open");
    let indexes = || -> Vec<String> {
        let mut stmt = sqlite
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contributions' \
                 AND sql IS NOT NULL ORDER BY name",
            )
            .expect("prepare");
        stmt.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let expected = vec![
        "contributions_by_node".to_string(),
        "contributions_by_person".to_string(),
    ];
    assert_eq!(indexes(), expected);
    let integrity: String = sqlite
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check");
    assert_eq!(integrity, "ok");

    // As many again, by someone unknown: refused, and the indexes are still there.
    let refused = store.import_records(
        vec![(
            "contributions".into(),
            contribution_batch(60_000..120_000, "Z"),
        )],
        "test",
        &mut |_| {},
    );
    assert!(matches!(refused, Err(StoreError::Rejected(_))));
    assert_eq!(indexes(), expected);
    let count: i64 = sqlite
        .query_row("SELECT count(*) FROM contributions", [], |r| r.get(0))
        .expect("count");
    assert_eq!(count, 60_000);
    assert!(
        store
            .check_projections(10)
            .expect("check projections")
            .is_empty()
    );
}

#[test]
fn a_ledger_written_before_the_compact_events_table_migrates_and_verifies() {
    // A ledger as the first three migrations stored it: prev_hash and every id in the row.
    let dir = tempfile::tempdir().expect("temp dir");
    let new = Db {
        url: dir.path().join("new.db").display().to_string(),
        admin: None,
        _dir: tempfile::tempdir().expect("temp dir"),
    };
    let mut store = new.open();
    store
        .append(
            vec![
                (unit("U1"), None),
                (hire("P1"), Some("client-1".into())),
                (hire("P2"), None),
                (assign("P1", "U1"), None),
            ],
            "test",
        )
        .expect("write");
    let mut events = Vec::new();
    store
        .for_each_event(&mut |e| {
            events.push(e);
            Ok(())
        })
        .expect("events");
    let old_path = dir.path().join("old.db");
    let old = rusqlite::Connection::open(&old_path).expect("open");
    old.execute_batch(concat!(
        include_str!("../migrations/sqlite/0001_ledger_and_projections.sql"),
        include_str!("../migrations/sqlite/0002_review_cycles.sql"),
        include_str!("../migrations/sqlite/0003_peer_points.sql"),
        "CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL);
         INSERT INTO schema_migrations VALUES ('0001_ledger_and_projections', ''),
             ('0002_review_cycles', ''), ('0003_peer_points', '');"
    ))
    .expect("old schema");
    for e in &events {
        old.execute(
            "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                e.seq,
                e.event_id,
                e.kind,
                e.payload,
                e.effective.to_string(),
                e.recorded,
                e.actor,
                e.prev_hash,
                e.hash
            ],
        )
        .expect("old event");
    }
    drop(old);
    let migrated = Db {
        url: old_path.display().to_string(),
        admin: None,
        _dir: dir,
    };
    // A ledger with events that predates migration 0010 counts as the old form (personal
    // data inside the chain; `valuetree upgrade` re-encodes it): opened here as it is.
    let clock: Arc<dyn Clock> = test_clock();
    assert!(matches!(
        Store::open(&migrated.url, clock.clone()),
        Err(valuetree_store::StoreError::OldForm { .. })
    ));
    let mut store = Store::open_any_form(&migrated.url, clock).expect("open");
    let mut read_back = Vec::new();
    store
        .for_each_event(&mut |e| {
            read_back.push(e);
            Ok(())
        })
        .expect("events");
    // The personal values were not copied into the old tables.
    for event in &mut events {
        event.personal.clear();
    }
    assert_eq!(read_back, events);
    let ids = store
        .query("SELECT event_id FROM events ORDER BY seq", &[])
        .expect("ids");
    use valuetree_store::sql::Value;
    assert_eq!(
        ids,
        vec![
            vec![Value::Null],
            vec![Value::text("client-1")],
            vec![Value::Null],
            vec![Value::Null]
        ]
    );
    store.rebuild().expect("rebuild projections");
    let report = store.verify_chain(None, &mut |_| {}).expect("verify");
    assert!(report.failure.is_none(), "{:?}", report.failure);

    // Only the ids a client gave are indexed (three of the four rows are NULL), the lookup
    // by id uses that index, and the database still refuses a given id twice.
    let sqlite = rusqlite::Connection::open(&migrated.url).expect("open");
    let entries: i64 = sqlite
        .query_row(
            "SELECT count(*) FROM events INDEXED BY events_by_given_id WHERE event_id IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("count index entries");
    assert_eq!(entries, 1);
    let plan: String = sqlite
        .query_row(
            "EXPLAIN QUERY PLAN SELECT seq, hash FROM events WHERE event_id = ?1",
            ["client-1"],
            |r| r.get(3),
        )
        .expect("query plan");
    assert!(plan.contains("events_by_given_id"), "{plan}");
    let duplicate = sqlite.execute(
        "INSERT INTO events VALUES (99, 'client-1', 'k', '{}', '2024-01-01', 'r', 'a', 'h')",
        [],
    );
    assert!(duplicate.is_err(), "a given id stored twice");
}

#[test]
fn contributions_arriving_in_chunks_are_imported_atomically() {
    use valuetree_core::import::{RecordBatch, RowError};
    use valuetree_store::ImportSource;
    let stream = |chunks: Vec<(RecordBatch, Vec<RowError>)>| ImportSource::Chunks {
        kind: valuetree_store::StreamedKind::Contributions,
        estimated_rows: chunks.iter().map(|(b, _)| b.len() as u64).sum(),
        chunks: Box::new(chunks.into_iter()),
    };
    let count = |store: &mut Store| {
        store
            .query("SELECT count(*) FROM contributions", &[])
            .expect("count")
    };
    each_backend(|db| {
        let mut store = db.open();
        store
            .append(
                vec![
                    (hire("P1"), None),
                    (
                        Event::NodeCreated(NodeRecord {
                            node_id: "N1".into(),
                            kind: NodeKind::Initiative,
                            title: "Big".into(),
                            lead_id: None,
                            created_on: day("2020-01-01"),
                            status: NodeStatus::Active,
                            flagpole: false,
                            description: String::new(),
                            roles_wanted: Vec::new(),
                            serves_id: None,
                        }),
                        None,
                    ),
                ],
                "test",
            )
            .expect("master data");
        // A bad row in the second chunk, and an error the parser found in the third: nothing
        // of the first is kept.
        let refused = store.import_sources(
            vec![(
                "c.csv".into(),
                stream(vec![
                    (contribution_batch(0..100, "P1"), Vec::new()),
                    (contribution_batch(100..200, "nobody"), Vec::new()),
                    (
                        contribution_batch(200..300, "P1"),
                        vec![RowError {
                            line: 400,
                            column: Some("date".into()),
                            reason: "not a date".into(),
                        }],
                    ),
                ]),
            )],
            "test",
            &mut |_| {},
        );
        let Err(StoreError::Rejected(errors)) = refused else {
            panic!("expected a refusal: {refused:?}");
        };
        assert_eq!(errors.len(), 101, "{:?}", errors.first());
        assert_eq!(errors[0].error.line, 102);
        assert_eq!(errors[100].error.line, 400);
        assert_eq!(
            count(&mut store),
            vec![vec![valuetree_store::sql::Value::Int(0)]]
        );

        let done = store
            .import_sources(
                vec![(
                    "c.csv".into(),
                    stream(vec![
                        (contribution_batch(0..100, "P1"), Vec::new()),
                        (contribution_batch(100..250, "P1"), Vec::new()),
                    ]),
                )],
                "test",
                &mut |_| {},
            )
            .expect("import");
        assert_eq!((done.rows, done.events), (250, 250));
        // Again, into a ledger that holds them now: read whole, nothing changes.
        let again = store
            .import_sources(
                vec![(
                    "c.csv".into(),
                    stream(vec![
                        (contribution_batch(0..200, "P1"), Vec::new()),
                        (contribution_batch(200..260, "P1"), Vec::new()),
                    ]),
                )],
                "test",
                &mut |_| {},
            )
            .expect("re-import");
        assert_eq!((again.rows, again.events, again.unchanged), (260, 10, 250));
        assert_eq!(
            count(&mut store),
            vec![vec![valuetree_store::sql::Value::Int(260)]]
        );
        assert!(store.check_projections(10).expect("check").is_empty());
    });
}

/// Multi-row inserts bind only what changed since the group before (SQLite): values that
/// repeat for a while, then change, then come back, must each land in their own row.
#[test]
fn rows_whose_values_repeat_and_change_across_a_bulk_write_are_stored_as_given() {
    use valuetree_core::import::{RecordBatch, Row};
    use valuetree_store::sql::Value;
    let phases = [Phase::Discover, Phase::Design, Phase::Build];
    let record = |i: usize| ContributionRecord {
        contribution_id: format!("C{i}"),
        // Runs of 40 rows per person cross the 32-row groups at different places.
        person_id: if (i / 40).is_multiple_of(2) {
            "P1"
        } else {
            "P2"
        }
        .into(),
        node_id: "N1".into(),
        phase: phases[(i / 7) % 3],
        date: day(if i % 64 < 32 {
            "2024-06-01"
        } else {
            "2024-06-02"
        }),
        effort: valuetree_core::Amount((i % 5) as f64 + 0.5),
        description: if i.is_multiple_of(33) {
            format!("note {i}")
        } else {
            String::new()
        },
        // One row with evidence among rows without: the NULL must come back after it.
        evidence: (i % 50 == 17).then(|| format!("https://example.org/{i}")),
        confirmed: i.is_multiple_of(3),
    };
    each_backend(|db| {
        let mut store = db.open();
        store
            .append(vec![(hire("P1"), None), (hire("P2"), None)], "test")
            .expect("people");
        store
            .import_records(
                vec![(
                    "nodes".into(),
                    RecordBatch::Nodes(vec![Row {
                        line: 2,
                        record: big_node(),
                    }]),
                )],
                "test",
                &mut |_| {},
            )
            .expect("node");
        let rows = 300;
        store
            .import_records(
                vec![(
                    "contributions".into(),
                    RecordBatch::Contributions(
                        (0..rows)
                            .map(|i| Row {
                                line: i as u64 + 2,
                                record: record(i),
                            })
                            .collect(),
                    ),
                )],
                "test",
                &mut |_| {},
            )
            .expect("contributions");
        let stored = store
            .query(
                "SELECT contribution_id, person_id, phase, date, effort, description, evidence, \
                 confirmed FROM contributions ORDER BY CAST(substr(contribution_id, 2) AS INTEGER)",
                &[],
            )
            .expect("stored rows");
        assert_eq!(stored.len(), rows);
        for (i, row) in stored.iter().enumerate() {
            let r = record(i);
            let text = |s: &str| Value::Text(s.to_string());
            let expected = vec![
                text(&r.contribution_id),
                text(&r.person_id),
                text(r.phase.as_str()),
                text(&r.date.to_string()),
                Value::Real(r.effort.0),
                text(&r.description),
                r.evidence.as_deref().map_or(Value::Null, text),
                Value::Int(i64::from(r.confirmed)),
            ];
            assert_eq!(row, &expected, "row {i}");
        }
        let report = store.verify_chain(None, &mut |_| {}).expect("verify");
        assert_eq!(report.failure, None);
        assert_eq!(report.events, rows as u64 + 3);
        assert!(store.check_projections(10).expect("check").is_empty());
    });
}

/// SQLite stores whatever bytes it is given as TEXT: a field that is not UTF-8 is a damaged
/// event, found at its sequence number — also in the event id column, where NULL stands for
/// the generated id and bad bytes must not pass for it.
#[test]
fn a_field_that_is_not_utf8_is_found_where_it_is() {
    for (column, seq) in [("actor", 2), ("payload", 3), ("event_id", 2)] {
        let (db, path) = sqlite_file("bytes.db");
        let mut store = db.open();
        store
            .append(
                vec![(hire("P1"), None), (unit("U1"), None), (hire("P2"), None)],
                "a",
            )
            .expect("write");
        let sqlite = rusqlite::Connection::open(&path).expect("open");
        sqlite
            .execute(
                &format!("UPDATE events SET {column} = CAST(x'c328ff' AS TEXT) WHERE seq = ?1"),
                [seq],
            )
            .expect("damage");
        let report = store.verify_chain(None, &mut |_| {}).expect("verify");
        let (at, reason) = report.failure.expect("a failure");
        assert_eq!(at, seq, "{column}: {reason}");
        assert!(reason.contains("cannot be read"), "{column}: {reason}");
    }
}

/// Runs `sql` on the database behind the store, as someone editing it by hand would.
fn edit_by_hand(db: &Db, sql: &str) {
    if db.url.starts_with("postgres") {
        postgres::Client::connect(&db.url, postgres::NoTls)
            .and_then(|mut client| client.batch_execute(sql))
            .expect("edit PostgreSQL by hand");
    } else {
        rusqlite::Connection::open(&db.url)
            .and_then(|sqlite| sqlite.execute_batch(sql))
            .expect("edit SQLite by hand");
    }
}

/// Person P1, node N1 and contributions C<ids> by P1 on it, recorded by an import.
fn person_p1_with_contributions(store: &mut Store, ids: std::ops::Range<usize>) {
    store
        .append(vec![(hire("P1"), None)], "test")
        .expect("person");
    store
        .import_records(
            vec![
                (
                    "nodes".into(),
                    valuetree_core::import::RecordBatch::Nodes(vec![valuetree_core::import::Row {
                        line: 2,
                        record: big_node(),
                    }]),
                ),
                ("contributions".into(), contribution_batch(ids, "P1")),
            ],
            "test",
            &mut |_| {},
        )
        .expect("contributions");
}

/// Every event as `export events` writes it.
fn export_lines(store: &mut Store) -> Vec<String> {
    let mut lines = Vec::new();
    store
        .for_each_event(&mut |event| {
            lines.push(event.export_line());
            Ok(())
        })
        .expect("export");
    lines
}

/// The projection check compares the contributions (kept by the replay as digests of their
/// rows) with the stored rows: a deleted, an added and a changed row are each found, shown in
/// byte order of their keys, and the limit cuts the list (never naming a row missing that the
/// check stopped before reading).
#[test]
fn contributions_edited_by_hand_are_found_in_key_order() {
    each_backend(|db| {
        let mut store = db.open();
        person_p1_with_contributions(&mut store, 0..40);
        assert!(store.check_projections(10).expect("check").is_empty());
        edit_by_hand(
            db,
            "DELETE FROM contributions WHERE contribution_id = 'C12'; \
             UPDATE contributions SET effort = 7 WHERE contribution_id = 'C3'; \
             INSERT INTO contributions SELECT 'C25x', person_id, node_id, phase, date, effort, \
             description, evidence, confirmed, confirmed_on, retracted_on, retraction_reason \
             FROM contributions WHERE contribution_id = 'C25'",
        );
        let found: Vec<String> = store
            .check_projections(10)
            .expect("check")
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0], "table contributions: row C12 is missing");
        assert_eq!(
            found[1],
            "table contributions: row C25x is not in the ledger"
        );
        assert!(
            found[2].starts_with("table contributions: row C3 holds")
                && found[2].contains("Real(7.0)")
                && found[2].contains("Real(1.0)"),
            "{found:?}"
        );
        for limit in [1, 2] {
            let cut: Vec<String> = store
                .check_projections(limit)
                .expect("check")
                .iter()
                .map(|m| m.to_string())
                .collect();
            assert_eq!(cut.len(), limit);
            assert!(cut.iter().all(|m| found.contains(m)), "{cut:?}");
        }
        store.rebuild().expect("rebuild");
        assert!(store.check_projections(10).expect("check").is_empty());
    });
}

/// A re-import naming most of a big table's contributions reads the table in one pass
/// instead of looking each id up: the same rows are still found unchanged, a new one
/// recorded, and a changed one refused.
#[test]
fn a_big_re_import_finds_unchanged_new_and_changed_contributions() {
    use valuetree_core::import::RecordBatch;
    each_backend(|db| {
        let mut batches = person_a_and_node_n1();
        batches.push(("contributions".into(), contribution_batch(0..60_000, "A")));
        db.open()
            .import_records(batches, "test", &mut |_| {})
            .expect("bulk import");
        // A fresh store: nothing cached, the stored rows are read back.
        let again = db
            .open()
            .import_records(
                vec![("contributions".into(), contribution_batch(0..60_001, "A"))],
                "test",
                &mut |_| {},
            )
            .expect("re-import");
        assert_eq!((again.events, again.unchanged), (1, 60_000));
        let mut changed = contribution_batch(0..60_001, "A");
        if let RecordBatch::Contributions(rows) = &mut changed {
            rows[59_999].record.effort = valuetree_core::Amount(2.0);
        }
        let refused =
            db.open()
                .import_records(vec![("contributions".into(), changed)], "test", &mut |_| {});
        match refused {
            Err(StoreError::Rejected(errors)) => {
                let text = format!("{errors:?}");
                assert!(
                    text.contains("C59999") && !text.contains("C59998"),
                    "{text}"
                );
            }
            other => panic!("a changed contribution must be refused: {other:?}"),
        }
        let mut store = db.open();
        assert!(store.check_projections(10).expect("check").is_empty());
    });
}

/// A large SQLite chain is walked as two halves at once, the second from the stored hash of
/// the event before it. On every kind of damage — in either half, at the event where they
/// meet or just after it, a forged hash there, a deleted or a reordered event, a pinned
/// head in either half or past the end — the report is the one a single walk gives.
#[test]
fn a_chain_walked_in_halves_reports_what_a_single_walk_does() {
    let (db, path) = sqlite_file("halves.db");
    {
        let mut store = db.open();
        let events: Vec<(Event, Option<String>)> =
            (0..40).map(|i| (hire(&format!("P{i:02}")), None)).collect();
        store.append(events, "a").expect("write");
    }
    let middle = 20;
    let single_and_halves = |expect_head: Option<&valuetree_store::Head>| {
        let single = db
            .open()
            .verify_chain(expect_head, &mut |_| {})
            .expect("single walk");
        let mut counted = 0;
        let halves = db
            .open()
            .walk_chain_in_halves_from(10)
            .verify_chain(expect_head, &mut |n| counted += n)
            .expect("walk in halves");
        (single, halves, counted)
    };
    let (single, halves, counted) = single_and_halves(None);
    assert_eq!(single, halves);
    assert_eq!((halves.failure, halves.events, counted), (None, 40, 40));

    let pristine = std::fs::read(&path).expect("read database");
    let damages = [
        format!("UPDATE events SET actor = 'm' WHERE seq = {}", middle - 5),
        format!("UPDATE events SET actor = 'm' WHERE seq = {middle}"),
        format!("UPDATE events SET actor = 'm' WHERE seq = {}", middle + 1),
        format!("UPDATE events SET actor = 'm' WHERE seq = {}", middle + 9),
        format!("UPDATE events SET hash = 'forged' WHERE seq = {middle}"),
        format!("DELETE FROM events WHERE seq = {}", middle + 1),
        format!("DELETE FROM events WHERE seq = {middle}"),
        format!(
            "UPDATE events SET seq = -seq WHERE seq IN ({m}, {n}); \
             UPDATE events SET seq = {n} WHERE seq = -{m}; UPDATE events SET seq = {m} WHERE seq = -{n}",
            m = middle,
            n = middle + 1
        ),
        "UPDATE events SET payload = CAST(x'c328ff' AS TEXT) WHERE seq = 30".to_string(),
    ];
    for damage in &damages {
        std::fs::write(&path, &pristine).expect("restore database");
        rusqlite::Connection::open(&path)
            .and_then(|c| c.execute_batch(damage))
            .expect("damage");
        let (single, halves, _) = single_and_halves(None);
        assert!(single.failure.is_some(), "{damage}: found by a single walk");
        assert_eq!(single, halves, "{damage}");
    }
    std::fs::write(&path, &pristine).expect("restore database");
    for (seq, hash) in [
        (7, None),
        (33, None),
        (33, Some("0".repeat(64))),
        (45, None),
    ] {
        let mut store = db.open();
        let stored = store
            .query(
                "SELECT hash FROM events WHERE seq = $1",
                &[valuetree_store::sql::Value::Int(seq)],
            )
            .expect("hash");
        let hash = hash.unwrap_or_else(|| match stored.first().map(|row| &row[0]) {
            Some(valuetree_store::sql::Value::Text(text)) => text.clone(),
            _ => "0".repeat(64),
        });
        let pinned = valuetree_store::Head { seq, hash };
        let (single, halves, _) = single_and_halves(Some(&pinned));
        assert_eq!(single, halves, "pinned {pinned}");
        assert_eq!(
            single.failure.is_some(),
            seq > 40 || pinned.hash.starts_with("000")
        );
    }
}

/// An in-memory database cannot be read by a second connection (it would get a database of
/// its own): its chain is walked whole, whatever its length.
#[test]
fn an_in_memory_chain_is_walked_whole() {
    let clock: Arc<dyn Clock> = test_clock();
    let mut store = Store::open(":memory:", clock)
        .expect("open in memory")
        .walk_chain_in_halves_from(10);
    let events: Vec<(Event, Option<String>)> =
        (0..40).map(|i| (hire(&format!("P{i:02}")), None)).collect();
    store.append(events, "a").expect("write");
    let report = store.verify_chain(None, &mut |_| {}).expect("verify");
    assert_eq!((report.failure, report.events), (None, 40));
    assert_eq!(report.head.map(|head| head.seq), Some(40));
}

/// Recorded contributions are stored packed (member values without their names); what is
/// hashed, exported and replayed is the canonical text. An edit inside a packed payload, a
/// shape that does not exist or does not fit and a missing separator are each found at their
/// event, and a payload stored canonical (as ledgers written before packing hold them) reads
/// the same.
#[test]
fn packed_contribution_payloads_read_back_canonical_and_their_edits_are_found() {
    each_backend(|db| {
        let mut store = db.open();
        person_p1_with_contributions(&mut store, 0..5);
        let stored_payload = |store: &mut Store, seq: i64| -> String {
            match store
                .query(
                    "SELECT payload FROM events WHERE seq = $1",
                    &[valuetree_store::sql::Value::Int(seq)],
                )
                .expect("payload")
                .first()
                .and_then(|row| row.first())
            {
                Some(valuetree_store::sql::Value::Text(text)) => text.clone(),
                other => panic!("event {seq} holds {other:?}"),
            }
        };
        let exported = export_lines(&mut store);
        let last = exported.len() as i64;
        assert_eq!(
            stored_payload(&mut store, last),
            "#0\u{1f}true\u{1f}\"C4\"\u{1f}\"2024-06-01\"\u{1f}\"\"\u{1f}\"1\"\u{1f}\"N1\"\
             \u{1f}\"P1\"\u{1f}\"build\""
        );
        assert!(
            exported[last as usize - 1].contains(
                r#""payload":{"confirmed":true,"contribution_id":"C4","date":"2024-06-01","description":"","effort":"1","node_id":"N1","person_id":"P1","phase":"build"}"#
            ),
            "{}",
            exported[last as usize - 1]
        );
        assert!(
            !stored_payload(&mut store, 1).starts_with('#'),
            "a hire is not packed"
        );
        let clean = store.verify_chain(None, &mut |_| {}).expect("verify");
        assert_eq!((clean.failure, clean.events), (None, last as u64));

        let edited = last - 2;
        let packed = stored_payload(&mut store, edited);
        let canonical = valuetree_core::packed::canonical(&packed)
            .expect("unpacks")
            .into_owned();
        for (damage, found) in [
            (packed.replace("\"1\"", "\"9\""), true),
            (packed.replacen("#0", "#7", 1), true),
            (packed.replacen("#0", "#1", 1), true),
            (packed.replacen('\u{1f}', "", 2), true),
            (canonical.clone(), false),
        ] {
            edit_by_hand(
                db,
                &format!(
                    "UPDATE events SET payload = '{}' WHERE seq = {edited}",
                    damage.replace('\'', "''")
                ),
            );
            let report = store.verify_chain(None, &mut |_| {}).expect("verify");
            if found {
                let (at, reason) = report.failure.expect("a failure");
                assert_eq!(at, edited, "{damage}: {reason}");
            } else {
                assert_eq!(report.failure, None, "canonical text: {damage}");
                assert_eq!(
                    export_lines(&mut store),
                    exported,
                    "the same export from either form"
                );
                assert!(store.check_projections(10).expect("check").is_empty());
            }
        }
        edit_by_hand(
            db,
            &format!("UPDATE events SET payload = '#9[true]' WHERE seq = {edited}"),
        );
        let error = store
            .for_each_event(&mut |_| Ok(()))
            .expect_err("an unknown shape cannot be exported");
        assert!(
            error.to_string().contains(&format!("event {edited}")),
            "{error}"
        );
        assert!(store.rebuild().is_err(), "nor replayed");
    });
}
