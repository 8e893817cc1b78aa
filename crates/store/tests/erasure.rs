//! Erasure as a property: random ledgers (people with names and e-mail addresses,
//! contributions with descriptions, retractions with reasons), random erasures; `verify`
//! always passes, the tables equal a replay, and export → import → export is byte-identical.

use proptest::prelude::*;
use std::sync::Arc;
use valuetree_core::NaiveDate;
use valuetree_core::chain::StoredEvent;
use valuetree_core::clock::{Clock, FixedClock};
use valuetree_core::domain::*;
use valuetree_core::event::Event;
use valuetree_core::import::{NodeRow, RecordBatch, Row};
use valuetree_store::Store;

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default()
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(FixedClock::new(
        chrono::DateTime::parse_from_rfc3339("2025-01-15T09:00:00Z")
            .map(|t| t.to_utc())
            .unwrap_or_default(),
    ))
}

/// One person of a generated ledger: their name, e-mail (maybe none) and contributions'
/// descriptions (maybe empty), and whether their first contribution is retracted.
#[derive(Clone, Debug)]
struct Person {
    name: String,
    email: Option<String>,
    descriptions: Vec<String>,
    retract_first: bool,
    erase: bool,
}

fn person() -> impl Strategy<Value = Person> {
    (
        "\\PC{1,24}",
        proptest::option::of("[a-z]{1,8}@[a-z]{1,8}\\.example"),
        proptest::collection::vec("\\PC{0,30}", 0..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(name, email, descriptions, retract_first, erase)| Person {
            name,
            email,
            descriptions,
            retract_first,
            erase,
        })
}

fn write_ledger(store: &mut Store, people: &[Person]) {
    let hires = people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                Event::PersonHired(PersonRecord {
                    person_id: format!("P{i}"),
                    name: p.name.clone(),
                    email: p.email.clone(),
                    joined_on: day("2024-01-01"),
                    left_on: None,
                }),
                None,
            )
        })
        .collect();
    store.append(hires, "test").expect("hires");
    let mut contributions = Vec::new();
    for (i, p) in people.iter().enumerate() {
        for (k, description) in p.descriptions.iter().enumerate() {
            contributions.push(Row {
                line: contributions.len() as u64 + 2,
                record: ContributionRecord {
                    contribution_id: format!("C{i}-{k}"),
                    person_id: format!("P{i}"),
                    node_id: "N1".into(),
                    phase: Phase::Build,
                    date: day("2024-06-01"),
                    effort: valuetree_core::Amount(1.0 + k as f64),
                    description: description.clone(),
                    evidence: (k == 1).then(|| format!("https://example.org/{i}")),
                    confirmed: false,
                },
            });
        }
    }
    store
        .import_records(
            vec![
                (
                    "nodes".into(),
                    RecordBatch::Nodes(vec![Row {
                        line: 2,
                        record: NodeRow {
                            node_id: "N1".into(),
                            kind: NodeKind::Initiative,
                            title: "Big".into(),
                            lead_id: None,
                            created_on: day("2020-01-01"),
                            status: None,
                            flagpole: None,
                            description: None,
                        },
                    }]),
                ),
                (
                    "contributions".into(),
                    RecordBatch::Contributions(contributions),
                ),
            ],
            "test",
            &mut |_| {},
        )
        .expect("contributions");
    let retractions: Vec<(Event, Option<String>)> = people
        .iter()
        .enumerate()
        .filter(|(_, p)| p.retract_first && !p.descriptions.is_empty())
        .map(|(i, _)| {
            (
                Event::ContributionRetracted {
                    contribution_id: format!("C{i}-0"),
                    reason: format!("recorded twice by P{i}"),
                    retracted_on: day("2024-07-01"),
                },
                None,
            )
        })
        .collect();
    if !retractions.is_empty() {
        store.append(retractions, "test").expect("retractions");
    }
}

fn export(store: &mut Store) -> Vec<String> {
    let mut lines = Vec::new();
    store
        .for_each_event(&mut |event| {
            lines.push(event.export_line());
            Ok(())
        })
        .expect("export");
    lines
}

fn assert_verifies(store: &mut Store) {
    let chain = store.verify_chain(None, &mut |_| {}).expect("verify");
    assert!(chain.failure.is_none(), "{:?}", chain.failure);
    let (personal, _) = store.verify_personal().expect("personal");
    assert!(personal.failure.is_none(), "{:?}", personal.failure);
    let mismatches = store.check_projections(5).expect("projections");
    assert!(mismatches.is_empty(), "{mismatches:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn any_erasures_leave_a_ledger_that_verifies_and_round_trips(
        people in proptest::collection::vec(person(), 1..6),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = dir.path().join("a.db").display().to_string();
        let mut store = Store::open(&url, clock()).expect("open");
        write_ledger(&mut store, &people);
        assert_verifies(&mut store);
        for (i, p) in people.iter().enumerate() {
            if p.erase {
                store
                    .erase_person(
                        "test",
                        Event::PersonErased {
                            by: None,
                            erased_on: day("2025-01-15"),
                            person_id: format!("P{i}"),
                            reason: "request".into(),
                        },
                    )
                    .expect("erase");
            }
        }
        assert_verifies(&mut store);
        let first = export(&mut store);
        // Nothing of an erased person is left in the export.
        // (Their name may still be someone else's: the subject tells whose a value is.)
        for (i, _) in people.iter().enumerate().filter(|(_, p)| p.erase) {
            let id = format!("\"subject\":\"P{i}\"");
            prop_assert!(!first.iter().any(|line| line.contains(&id)), "P{i}'s values exported");
        }
        let copy_url = dir.path().join("b.db").display().to_string();
        let mut copy = Store::open(&copy_url, clock()).expect("open copy");
        let events: Vec<(u64, StoredEvent)> = first
            .iter()
            .enumerate()
            .map(|(i, line)| (i as u64 + 1, serde_json::from_str(line).expect("line")))
            .collect();
        copy.import_ledger(events, "export.jsonl", &mut |_| {}).expect("import");
        assert_verifies(&mut copy);
        prop_assert_eq!(export(&mut copy), first);
    }
}
