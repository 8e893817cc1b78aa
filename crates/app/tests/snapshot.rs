//! The long-running context: a write through the writer is visible to the next read of the
//! snapshot; a write by another process into the same database is picked up; the credit
//! engine updated incrementally equals one rebuilt from the database.

use proptest::prelude::*;
use std::sync::Arc;
use valuetree_app::commands::work::NewContribution;
use valuetree_app::{Actor, App};
use valuetree_core::clock::{Clock, FixedClock};
use valuetree_core::domain::{MemberRecord, OutcomeRecord, Phase};
use valuetree_core::{Amount, NaiveDate};
use valuetree_exchange::{Kind, parse_csv};
use valuetree_store::ImportSource;

fn clock() -> Arc<dyn Clock> {
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-15T09:00:00Z").expect("a time");
    Arc::new(FixedClock::new(start.to_utc()))
}

/// A database holding the examples, and its path.
fn examples_db(dir: &tempfile::TempDir) -> String {
    let db = dir.path().join("t.db").display().to_string();
    let app = App::new(&db, clock());
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let files: Vec<(String, ImportSource)> = Kind::ALL
        .into_iter()
        .filter_map(|kind| {
            let path = examples.join(kind.file_name());
            let file = std::fs::File::open(&path).ok()?;
            let batch = parse_csv(kind, std::io::BufReader::new(file)).expect("the examples parse");
            Some((kind.file_name(), ImportSource::Whole(batch)))
        })
        .collect();
    app.import_files(&Actor::Operator, files, |_| {})
        .expect("the examples import");
    db
}

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

fn contribution(person: &str, node: &str, date: &str, effort: f64) -> NewContribution {
    NewContribution {
        contribution_id: None,
        person_id: Some(person.into()),
        node_id: node.into(),
        phase: Phase::Operate,
        date: Some(day(date)),
        effort,
        description: "test work".into(),
        evidence: None,
    }
}

fn outcome(id: &str, node: &str, date: &str, value: f64) -> OutcomeRecord {
    OutcomeRecord {
        date: day(date),
        description: "test value".into(),
        evidence: None,
        node_id: node.into(),
        outcome_id: id.into(),
        value: Amount(value),
    }
}

/// Everyone's credit, by person id, from `app`'s warm engine.
fn credits(app: &App) -> Vec<(String, f64)> {
    let snapshot = app.snapshot().expect("snapshot");
    let engine = app.credit_engine(&snapshot).expect("engine");
    let mut out: Vec<(String, f64)> = engine
        .people()
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), engine.credit(i as u32)))
        .filter(|(_, c)| *c > 0.0)
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Whether two credit lists agree: the same people, each amount equal up to the rounding
/// that a different order of summation gives.
fn differences(a: &[(String, f64)], b: &[(String, f64)]) -> Option<String> {
    if a.len() != b.len() {
        return Some(format!("{} people credited vs {}", a.len(), b.len()));
    }
    a.iter().zip(b).find_map(|((p, x), (q, y))| {
        (p != q || (x - y).abs() > 1e-9 * y.abs().max(1.0)).then(|| format!("{p}: {x} vs {q}: {y}"))
    })
}

/// Writers racing each other share commits (group commit): every write answered Ok is in
/// the ledger with the receipt it was given, every refused one (a conflicting id) left
/// nothing behind, and the others in its commit were not harmed by it.
#[test]
fn concurrent_writes_share_commits_and_a_refused_one_harms_none_of_the_others() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = examples_db(&dir);
    let app = Arc::new(App::new(&db, clock()));
    let before = app
        .head(&Actor::Operator)
        .expect("head")
        .map_or(0, |h| h.seq);
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let app = app.clone();
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                for i in 0..25 {
                    // Every fifth write reuses thread 0's id with other values: a conflict
                    // (or, for thread 0 itself, a first record or a retry).
                    let (id, effort) = if i % 5 == 4 {
                        (format!("shared-{i}"), f64::from(t + 1))
                    } else {
                        (format!("t{t}-{i}"), 1.0)
                    };
                    let mut new = contribution("P04", "INI3", "2025-01-10", effort);
                    new.contribution_id = Some(id.clone());
                    let answer = app.record_contribution(&Actor::Operator, new);
                    answers.push((id, effort, answer));
                }
                answers
            })
        })
        .collect();
    let answers: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("a writer thread"))
        .collect();
    let mut recorded = std::collections::BTreeMap::new();
    for (id, effort, answer) in &answers {
        match answer {
            Ok(receipt) if !receipt.already_recorded => {
                assert!(
                    recorded
                        .insert(id.clone(), (*effort, receipt.seq))
                        .is_none(),
                    "{id} recorded twice"
                );
            }
            Ok(_) => {}
            Err(valuetree_app::AppError::Conflict(_)) => assert!(id.starts_with("shared-")),
            Err(e) => panic!("{id}: {e}"),
        }
    }
    // 16 × 20 own ids, and each of the five shared ids once.
    assert_eq!(recorded.len(), 16 * 20 + 5);
    let head = app.head(&Actor::Operator).expect("head").expect("a head");
    assert_eq!(head.seq, before + recorded.len() as i64);
    let seqs: std::collections::BTreeSet<_> = recorded.values().map(|(_, s)| *s).collect();
    assert_eq!(seqs.len(), recorded.len(), "each write has its own event");
    let verified = app
        .verify(&Actor::Operator, None, false, &mut |_| {})
        .expect("verify");
    assert!(verified.holds(), "{verified:?}");
    // What a reader sees is what the writers were told.
    let view = app.node(&Actor::Operator, "INI3").expect("the node");
    for (id, (effort, _)) in &recorded {
        let listed = view
            .contributions
            .items
            .iter()
            .find(|c| &c.contribution_id == id)
            .unwrap_or_else(|| panic!("{id} is not in the ledger"));
        assert_eq!(listed.effort, *effort, "{id}");
    }
}

#[test]
fn a_write_is_visible_to_the_next_read_and_another_process_write_is_picked_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = examples_db(&dir);
    let app = App::new(&db, clock());
    let operator = Actor::Operator;
    let before = app
        .person_record(&operator, "P04", None, false)
        .expect("P04");
    let engine_before = credits(&app);

    // Through this app's writer: the next read sees it, without a reload.
    app.record_contribution(&operator, contribution("P04", "INI3", "2024-12-01", 3.0))
        .expect("recorded");
    let after = app
        .person_record(&operator, "P04", None, false)
        .expect("P04");
    assert_eq!(after.contributions.total, before.contributions.total + 1);
    assert!(
        app.snapshot().expect("snapshot").has_warm_credit(),
        "the warm engine was updated, not dropped"
    );

    // Another process (its own connections and writer) records a membership and an outcome:
    // this app notices on its next read.
    let other = App::new(&db, clock());
    other
        .join(
            &operator,
            MemberRecord {
                joined_on: day("2024-12-02"),
                left_on: None,
                node_id: "INI3".into(),
                person_id: "P06".into(),
                role: "tester".into(),
            },
        )
        .expect("joined");
    other
        .record_outcome(&operator, outcome("O-later", "INI3", "2024-12-20", 500.0))
        .expect("outcome");
    // Another process's writes are looked for every 200 ms: they show within a second.
    let started = std::time::Instant::now();
    let p06 = loop {
        let p06 = app
            .person_record(&operator, "P06", None, false)
            .expect("P06");
        let joined = p06
            .memberships
            .iter()
            .any(|m| m.node.node_id == "INI3" && m.role == "tester");
        if joined || started.elapsed() > std::time::Duration::from_secs(1) {
            break p06;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        p06.memberships
            .iter()
            .any(|m| m.node.node_id == "INI3" && m.role == "tester"),
        "{:?}",
        p06.memberships
    );
    let engine_after = credits(&app);
    assert_ne!(
        engine_after, engine_before,
        "the new outcome shared its value"
    );
    let fresh = App::new(&db, clock());
    assert_eq!(differences(&engine_after, &credits(&fresh)), None);
    assert_eq!(
        app.snapshot().expect("snapshot").head,
        fresh.snapshot().expect("snapshot").head
    );
}

const PEOPLE: [&str; 6] = ["P01", "P03", "P04", "P05", "P09", "P12"];
const NODES: [&str; 6] = ["INI1", "INI2", "INI3", "DEL1", "DEL2", "OBJ1"];

#[derive(Clone, Debug)]
enum Step {
    Contribution(usize, usize, u32, u8),
    Outcome(usize, u32, u16),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..PEOPLE.len(), 0..NODES.len(), 1u32..28, 1u8..9)
            .prop_map(|(p, n, d, e)| Step::Contribution(p, n, d, e)),
        (0..NODES.len(), 1u32..28, 1u16..2000).prop_map(|(n, d, v)| Step::Outcome(n, d, v)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// After any sequence of new contributions and outcomes (each read in between, so that
    /// the engine is updated one write at a time), the incrementally updated engine credits
    /// everyone exactly as one built from the database.
    #[test]
    fn the_incrementally_updated_engine_equals_a_rebuilt_one(
        steps in proptest::collection::vec(step(), 1..12)
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = examples_db(&dir);
        let app = App::new(&db, clock());
        let operator = Actor::Operator;
        credits(&app);
        for (i, step) in steps.iter().enumerate() {
            match step {
                Step::Contribution(p, n, d, e) => app.record_contribution(
                    &operator,
                    contribution(PEOPLE[*p], NODES[*n], &format!("2024-12-{d:02}"), f64::from(*e)),
                ),
                Step::Outcome(n, d, v) => app.record_outcome(
                    &operator,
                    outcome(&format!("O-p{i}"), NODES[*n], &format!("2024-12-{d:02}"), f64::from(*v)),
                ),
            }
            .expect("written");
            prop_assert!(app.snapshot().expect("snapshot").has_warm_credit());
            let incremental = credits(&app);
            let rebuilt = credits(&App::new(&db, clock()));
            prop_assert_eq!(differences(&incremental, &rebuilt), None);
        }
    }
}
