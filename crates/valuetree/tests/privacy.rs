//! The right to erasure on the real binary, on both backends: personal data is out of the
//! chain, `erase` removes it from the tables, the export and the database file, and the
//! chain, everyone else's numbers and the export round trip all still hold.

mod common;

use common::{Db, each_backend};
use std::collections::BTreeMap;

/// Ana Souza's (P02's) personal data in the examples: her name and e-mail address, her
/// contributions' descriptions, the hand-over note about her leaving, a rating's comment
/// about her.
const HERS: &[&str] = &[
    "Ana Souza",
    "ana@shop.example",
    "Search log analysis",
    "Ranking design",
    "Query understanding model v1",
    "Ranking service",
    "Ana left; Hana leads the launch",
    "Smart search was hers from the first log analysis",
];

/// Someone else's personal data, which stays.
const THEIRS: &[&str] = &["Maya Chen", "Great model serving work"];

fn normalised(text: &str) -> String {
    text.replace("Ana Souza", "[erased]")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn file_bytes(db: &Db) -> Option<Vec<u8>> {
    if db.url.starts_with("postgres") {
        return None;
    }
    let mut bytes = std::fs::read(&db.url).expect("database file");
    // The write-ahead log is part of the database's files too.
    if let Ok(wal) = std::fs::read(format!("{}-wal", db.url)) {
        bytes.extend(wal);
    }
    Some(bytes)
}

fn count(haystack: &[u8], needle: &str) -> usize {
    haystack
        .windows(needle.len())
        .filter(|window| *window == needle.as_bytes())
        .count()
}

/// Whether `needle` occurs in `haystack` other than inside Hana's e-mail address (her
/// `ana@shop.example` is inside `hana@shop.example`).
fn contains(haystack: &[u8], needle: &str) -> bool {
    count(haystack, needle) > count(haystack, &format!("h{needle}"))
}

#[test]
fn erasing_a_person_removes_her_data_everywhere_and_keeps_everyones_numbers() {
    each_backend(|fresh| {
        let db = fresh.with_examples();
        db.ok(&["calibrate", "--cycle", "2024"]);
        let credit_before = db.ok(&["credit", "--format", "csv"]);
        let session_before = db.ok(&["review", "--cycle", "2024", "session"]);
        if let Some(bytes) = file_bytes(&db) {
            assert!(
                contains(&bytes, "Ana Souza"),
                "the test must see her name first"
            );
        }
        // Only the operator, or someone with both HR and admin, may erase.
        let err = db.fails(&["erase", "P02", "--reason", "GDPR request 17", "--as", "P01"]);
        assert!(err.contains("not allowed") && err.contains("HR"), "{err}");
        let out = db.ok(&["erase", "P02", "--reason", "GDPR request 17"]);
        assert!(
            out.contains("erased P02") && out.contains("8 personal values deleted"),
            "{out}"
        );
        // Twice is refused.
        let err = db.fails(&["erase", "P02", "--reason", "again"]);
        assert!(err.contains("already erased"), "{err}");

        let verified = db.ok(&["verify"]);
        assert!(
            verified.contains("8 erased (erasures since event 120)")
                && verified.contains("projections ok"),
            "{verified}"
        );
        // Everyone's credit and calibrated scores are what they were; her row stays, as a
        // pseudonymous id.
        assert_eq!(
            db.ok(&["credit", "--format", "csv"]),
            credit_before.replace("Ana Souza", "[erased]")
        );
        assert_eq!(
            normalised(&db.ok(&["review", "--cycle", "2024", "session"])),
            normalised(&session_before)
        );
        let shown = db.ok(&["show", "person", "P02"]);
        assert!(shown.contains("[erased] (P02)"), "{shown}");

        // Gone from the export and from the database file; the others' data stays.
        let export = db.dir().join("erased.jsonl").display().to_string();
        db.ok(&["export", "events", "--out", &export]);
        let exported = std::fs::read_to_string(&export).expect("export");
        for text in HERS {
            assert!(
                !contains(exported.as_bytes(), text),
                "the export still holds {text}"
            );
        }
        for text in THEIRS {
            assert!(exported.contains(text), "the export lost {text}");
        }
        if let Some(bytes) = file_bytes(&db) {
            for text in HERS {
                assert!(
                    !contains(&bytes, text),
                    "the database file still holds {text}"
                );
            }
            assert!(contains(&bytes, "Maya Chen"));
        }

        // The erased ledger round-trips: export → import → export, byte for byte.
        let copy = Db::sqlite();
        copy.ok(&["import", "events", &export]);
        let again = copy.dir().join("again.jsonl").display().to_string();
        copy.ok(&["export", "events", "--out", &again]);
        assert_eq!(
            std::fs::read_to_string(&again).expect("export"),
            exported,
            "an erased ledger does not round-trip"
        );
        let verified = copy.ok(&["verify"]);
        assert!(verified.contains("8 erased"), "{verified}");
    });
}

#[test]
fn a_tampered_value_or_commitment_is_still_caught_after_an_erasure() {
    each_backend(|fresh| {
        let db = fresh.with_examples();
        db.ok(&["erase", "P02", "--reason", "request 4"]);
        // P01's name, kept beside the chain, edited.
        db.tamper(
            "UPDATE personal_values SET value = 'Maya Chan' WHERE seq = 1 AND member = 'name'",
        );
        let err = db.fails(&["verify"]);
        assert!(
            err.contains("FAILED at event 1") && err.contains("does not match the commitment"),
            "{err}"
        );
        db.tamper(
            "UPDATE personal_values SET value = 'Maya Chen' WHERE seq = 1 AND member = 'name'",
        );
        db.ok(&["verify"]);
        // One of P02's commitments (her value is gone) edited in the chain.
        db.tamper(
            "UPDATE events SET payload = replace(payload, '\"name\":\"hmac-sha256:', '\"name\":\"hmac-sha256:1') WHERE seq = 2",
        );
        let err = db.fails(&["verify"]);
        assert!(
            err.contains("FAILED at event 2") && err.contains("does not match its hash"),
            "{err}"
        );
    });
}

#[test]
fn nothing_personal_about_an_erased_person_is_recorded_again() {
    let db = Db::sqlite().with_examples();
    db.ok(&["erase", "P02", "--reason", "request 5"]);
    let people = db.write(
        "people.csv",
        "person_id,name,email,joined_on,left_on\nP02,Ana Souza,ana@shop.example,2023-03-01,2024-08-31\n",
    );
    let err = db.fails(&["import", "people", &people]);
    assert!(err.contains("P02 was erased"), "{err}");
}

/// An export of a ledger written before personal data left the chain: each event's
/// payload with its values in plain text, chained again.
fn old_form_export(export: &str) -> String {
    let mut lines = Vec::new();
    let mut previous: Option<(i64, String)> = None;
    for line in export.lines() {
        let mut event: valuetree_core::chain::StoredEvent =
            serde_json::from_str(line).expect("event");
        let values: BTreeMap<String, String> = event
            .personal
            .iter()
            .map(|(member, entry)| (member.clone(), entry.value.clone()))
            .collect();
        event.payload = valuetree_core::personal::open_canonical(
            &event.kind,
            &event.event_id,
            &event.payload,
            &mut |member| values.get(member).cloned(),
        )
        .expect("open");
        event.personal.clear();
        let sealed = valuetree_core::chain::seal(
            event,
            previous.as_ref().map(|(seq, hash)| (*seq, hash.as_str())),
        );
        previous = Some((sealed.seq, sealed.hash.clone()));
        lines.push(sealed.export_line());
    }
    lines.join("\n") + "\n"
}

#[test]
fn an_old_form_ledger_is_refused_until_upgraded_and_then_verifies() {
    each_backend(|fresh| {
        let source = Db::sqlite().with_examples();
        let credit = source.ok(&["credit", "--format", "csv"]);
        let export = source.ok(&["export", "events"]);
        let old = old_form_export(&export);
        assert!(old.contains("\"name\":\"Ana Souza\""));
        let old_path = fresh.write("old.jsonl", &old);
        let old_head = {
            let last: valuetree_core::chain::StoredEvent =
                serde_json::from_str(old.lines().last().unwrap_or_default()).expect("event");
            format!("{}:{}", last.seq, last.hash)
        };
        // An old export goes only into an empty database, which is then of the old form.
        fresh.ok(&["import", "events", &old_path]);
        let err = fresh.fails(&["credit"]);
        assert!(err.contains("valuetree upgrade"), "{err}");
        let err = fresh.fails(&["verify"]);
        assert!(err.contains("valuetree upgrade"), "{err}");
        let out = fresh.ok(&["upgrade"]);
        assert!(
            out.contains(&format!("the old head {old_head} recorded as event 1")),
            "{out}"
        );
        let verified = fresh.ok(&["verify"]);
        assert!(
            verified.contains("personal values ok: 51 kept") && verified.contains("projections ok"),
            "{verified}"
        );
        assert_eq!(fresh.ok(&["credit", "--format", "csv"]), credit);
        let upgraded = fresh.ok(&["export", "events"]);
        let first: valuetree_core::chain::StoredEvent =
            serde_json::from_str(upgraded.lines().next().unwrap_or_default()).expect("event");
        assert_eq!(first.kind, "ledger_upgraded");
        assert!(
            first
                .payload
                .contains(&old_head.split(':').nth(1).unwrap_or_default().to_string())
        );
        assert!(
            !upgraded
                .lines()
                .nth(2)
                .unwrap_or_default()
                .contains("\"name\":\"Ana Souza\"")
        );
        // Into a database that holds a ledger already, an old export is refused.
        let err = fresh.fails(&["import", "events", &old_path]);
        assert!(err.contains("valuetree upgrade"), "{err}");
        let err = fresh.fails(&["upgrade"]);
        assert!(err.contains("already in the current form"), "{err}");
    });
}

#[test]
fn retention_erases_old_texts_by_policy_and_the_ledger_still_verifies() {
    each_backend(|fresh| {
        let db = fresh.with_examples();
        let out = db.ok(&["retention", "apply", "--dry-run"]);
        assert!(out.contains("no retention policy is recorded"), "{out}");
        let policy = db.write(
            "retention.toml",
            "rating_comments = 0\ncontribution_texts = 0\nhandover_notes = 1\n",
        );
        db.ok(&["policy", "set", "retention", &policy]);
        let head = db.head();
        let dry = db.ok(&["retention", "apply", "--dry-run"]);
        assert!(
            dry.contains("would go") && dry.contains("nothing was changed"),
            "{dry}"
        );
        assert_eq!(db.head(), head, "a dry run records nothing");
        // A person who is not HR and admin may not.
        let err = db.fails(&["retention", "apply", "--as", "P01"]);
        assert!(err.contains("not allowed"), "{err}");
        let out = db.ok(&["retention", "apply"]);
        assert!(out.contains("recorded as event"), "{out}");
        let verified = db.ok(&["verify"]);
        assert!(verified.contains("projections ok"), "{verified}");
        let export = db.ok(&["export", "events"]);
        // The 2024 cycle ended before today: its comments went, about everyone.
        assert!(!export.contains("Great model serving work"));
        assert!(!export.contains("Smart search was hers"));
        // P02 left in 2024: her descriptions went; her name stays (only `erase` takes it).
        assert!(!export.contains("Search log analysis"));
        assert!(export.contains("Ana Souza"));
        // The hand-overs came after 2024-01-15 (a year before today): their notes stay.
        assert!(export.contains("Ana left; Hana leads the launch"));
        assert!(export.contains("\"kind\":\"retention_applied\""));
        // A second run finds nothing due.
        let again = db.ok(&["retention", "apply"]);
        assert!(again.contains("nothing was due"), "{again}");
    });
}
