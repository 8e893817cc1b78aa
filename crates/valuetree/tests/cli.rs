//! End-to-end tests: the real `valuetree` binary on a real database.
//!
//! Every test runs on SQLite, and also on PostgreSQL when `VALUETREE_TEST_PG` holds a server
//! URL (e.g. `postgres://postgres@127.0.0.1:5432/test`); each run gets its own database.

mod common;
use common::*;
use std::process::Command;

#[test]
fn examples_import_verifies_and_reimport_changes_nothing() {
    each_backend(|db| {
        let db = db.with_examples();
        let head = db.head();
        assert!(head.starts_with("118:"), "{head}");
        let again = db.ok(&["import", "dir", &examples()]);
        assert!(again.contains("0 new events"), "{again}");
        assert_eq!(db.head(), head);
        let verify = db.ok(&["verify"]);
        assert!(
            verify.contains("chain ok: 118 events") && verify.contains("projections ok"),
            "{verify}"
        );
        db.ok(&["rebuild", "--check"]);
    });
}

#[test]
fn org_timeline_answers_as_of_any_date() {
    each_backend(|db| {
        let db = db.with_examples();
        // Mid-year manager change: Eve reports to Frank until 30 June, to Grace from 1 July.
        let june = db.ok(&["show", "person", "P06", "--as-of", "2024-06-30"]);
        assert!(june.contains("manager Frank Müller (P07)"), "{june}");
        let july = db.ok(&["show", "person", "P06", "--as-of", "2024-07-01"]);
        assert!(july.contains("manager Grace Kim (P08)"), "{july}");
        // A dissolved unit, its people moved.
        let diff = db.ok(&["org", "diff", "2024-06-30", "2024-07-01"]);
        assert!(
            diff.contains("units dissolved (1)\n  Mobile Lab (U4)"),
            "{diff}"
        );
        assert!(
            diff.contains("Ben Okafor (P03): Mobile Lab (U4) → Search team (U2)"),
            "{diff}"
        );
        // Someone who left: still on record, with everything she contributed.
        let ana = db.ok(&["show", "person", "P02"]);
        assert!(
            ana.contains("2024-08-31 (left)") && ana.contains("INI1 \"Smart search\""),
            "{ana}"
        );
        let gone = db.ok(&["org", "--as-of", "2024-09-01"]);
        assert!(
            !gone.contains("Ana Souza") && gone.contains("As of 2024-09-01: 11 people"),
            "{gone}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&db.ok(&["org", "--as-of", "2024-01-31", "--json"]))
                .expect("json");
        let ben = json["people"]["items"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["person"]["person_id"] == "P03"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(ben["unit"]["unit_id"], "U4");
        assert_eq!(ben["manager"]["person_id"], "P10");
        assert_eq!(ben["manager"]["name"], "Ivan Petrov");
        let csv = db.ok(&["org", "--as-of", "2024-01-31", "--format", "csv"]);
        assert!(
            csv.starts_with("person_id,name,unit_id,unit_name,manager_id,manager_name,since\n")
                && csv.lines().any(|l| l.starts_with("P03,Ben ")
                    && l.contains(",U4,")
                    && l.contains(",P10,Ivan Petrov,")),
            "{csv}"
        );
        // A hand-over moves the lead, not the record of who did the work.
        let node = db.ok(&["show", "node", "INI2"]);
        assert!(
            node.contains("lead Dan Kowalski (P05)")
                && node.contains("first lead Ivan Petrov (P10)"),
            "{node}"
        );
        assert!(node.contains("Ben Okafor (P03)  discover"), "{node}");
    });
}

#[test]
fn export_then_import_reproduces_the_ledger_byte_for_byte() {
    each_backend(|db| {
        let db = db.with_examples();
        let head_before = db.head();
        let exported = db.dir().join("ledger.jsonl");
        db.ok(&["export", "events", "--out", &exported.display().to_string()]);
        let original = std::fs::read(&exported).expect("export written");
        // A full backup holds everyone's private data: taking one is itself on the record,
        // as the event after the last one it held; an employee may not take one.
        let stdout_export = db.ok(&["export", "events"]);
        let audit = stdout_export
            .strip_prefix(std::str::from_utf8(&original).expect("utf-8"))
            .unwrap_or_else(|| panic!("the second export does not start with the first"));
        let audit: serde_json::Value = serde_json::from_str(audit.trim()).expect("one event");
        assert_eq!(audit["kind"], "ledger_exported", "{audit}");
        assert_eq!(audit["payload"]["through_seq"], 118, "{audit}");
        assert!(
            db.fails(&["--as", "P04", "export", "events"])
                .contains("rule admin-administers")
        );

        let copy = Db::sqlite();
        copy.ok(&["import", "events", &exported.display().to_string()]);
        assert_eq!(copy.head(), head_before);
        assert_eq!(
            copy.ok(&["export", "events"]).as_bytes(),
            original.as_slice()
        );
        for args in [
            &["org", "--as-of", "2024-07-01"][..],
            &["show", "node", "INI1"],
            &["show", "person", "P04"],
        ] {
            assert_eq!(copy.ok(args), db.ok(args), "{args:?}");
        }
        copy.ok(&["verify"]);
        // Importing the same export again skips every event.
        let again = copy.ok(&["import", "events", &exported.display().to_string()]);
        assert!(again.contains("0 appended, 118 already present"), "{again}");
    });
}

#[test]
fn a_bad_file_reports_every_bad_row_and_changes_nothing() {
    each_backend(|db| {
        let db = db.with_examples();
        let head = db.head();
        let file = db.write(
            "contributions.csv",
            "contribution_id,person_id,node_id,phase,date,effort,description,confirmed\n\
             C900,P03,INI1,build,2024-08-01,2,fine on its own,true\n\
             C901,P02,INI1,build,2024-10-01,3,after she left,true\n\
             C902,P99,INI1,build,2024-03-01,3,unknown person,true\n\
             C903,P03,INI1,dance,2024-13-01,-1,bad cells,maybe\n\
             C001,P02,INI1,discover,2024-01-15,6,changed effort,true\n",
        );
        let err = db.fails(&["import", "contributions", &file]);
        // Parse errors are found first and stop before any check against the ledger.
        assert!(
            err.contains("line 5, column phase")
                && err.contains("line 5, column date")
                && err.contains("line 5, column effort")
                && err.contains("line 5, column confirmed"),
            "{err}"
        );
        assert_eq!(db.head(), head);
        let file = db.write(
            "contributions.csv",
            "contribution_id,person_id,node_id,phase,date,effort,description,confirmed\n\
             C900,P03,INI1,build,2024-08-01,2,fine on its own,true\n\
             C901,P02,INI1,build,2024-10-01,3,after she left,true\n\
             C902,P99,INI1,build,2024-03-01,3,unknown person,true\n\
             C001,P02,INI1,discover,2024-01-15,6,changed effort,true\n",
        );
        let err = db.fails(&["import", "contributions", &file]);
        assert!(err.contains("3 bad rows; nothing was imported"), "{err}");
        assert!(
            err.contains("line 3, column date: 2024-10-01 is outside the employment of P02"),
            "{err}"
        );
        assert!(
            err.contains("line 4, column person_id: unknown person P99"),
            "{err}"
        );
        assert!(err.contains("line 5, column contribution_id: contribution C001 was recorded before with different content"), "{err}");
        assert_eq!(db.head(), head, "a refused import must not append anything");
        assert!(!db.ok(&["show", "node", "INI1"]).contains("fine on its own"));

        let edges = db.write(
            "edges.csv",
            "parent_id,child_id,weight\nDEL1,NEED1,0.1\nOBJ1,DEL2,0.5\n",
        );
        let err = db.fails(&["import", "edges", &edges]);
        assert!(err.contains("line 2, column child_id: linking would make a cycle: DEL1 → NEED1 → OBJ1 → INI1 → DEL1"), "{err}");
        assert!(
            err.contains(
                "line 3, column weight: the children of OBJ1 would weigh 1.400000 on 2024-03-01"
            ),
            "{err}"
        );
        let unknown = db.write("people.csv", "person_id,name,mail,joined_on,left_on\n");
        let err = db.fails(&["import", "people", &unknown]);
        assert!(
            err.contains("line 1, column mail: unknown column")
                && err.contains("line 1, column email: missing column"),
            "{err}"
        );
        assert_eq!(db.head(), head);
    });
}

#[test]
fn a_changed_master_row_records_the_matching_update_event() {
    each_backend(|db| {
        let db = db.with_examples();
        let people = db.write(
            "people.csv",
            "person_id,name,email,joined_on,left_on\n\
             P03,Ben Okafor-Smith,ben@shop.example,2023-09-01,\n\
             P04,Chloe Martin,chloe@shop.example,2023-09-01,2024-12-31\n\
             P05,Dan Kowalski,dan@shop.example,2024-04-15,\n",
        );
        let out = db.ok(&["import", "people", &people]);
        assert!(
            out.contains("3 rows, 2 new events, 1 rows unchanged"),
            "{out}"
        );
        let export = db.ok(&["export", "events"]);
        let kinds: Vec<String> = export
            .lines()
            .rev()
            .take(2)
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .map(|v| v["kind"].as_str().unwrap_or_default().to_string())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(kinds, vec!["person_left", "person_updated"]);
        assert!(
            db.ok(&["show", "person", "P03"])
                .starts_with("Ben Okafor-Smith (P03)")
        );
        // A contribution confirmed later in the source system records its confirmation.
        let confirm = db.write(
            "contributions.csv",
            "contribution_id,person_id,node_id,phase,date,effort,description,confirmed\n\
             C007,P03,INI1,operate,2024-10-05,3,Monitoring dashboards,true\n",
        );
        assert!(
            db.ok(&["import", "contributions", &confirm])
                .contains("1 new events")
        );
        assert!(
            db.ok(&["export", "events"])
                .lines()
                .last()
                .unwrap_or_default()
                .contains("\"kind\":\"contribution_confirmed\"")
        );
        db.ok(&["verify"]);
    });
}

/// Runs `valuetree verify` after a tampering and returns its error output.
fn verify_after(db: &Db, sql: &str) -> String {
    db.tamper(sql);
    db.fails(&["verify"])
}

#[test]
fn verify_names_the_first_bad_event_for_every_kind_of_tampering() {
    each_backend(|fresh| {
        let db = fresh.with_examples();
        let pristine = db.dir().join("pristine.jsonl").display().to_string();
        db.ok(&["export", "events", "--out", &pristine]);
        let restore = |db: &Db| {
            db.tamper(
                "DELETE FROM events; DELETE FROM people; DELETE FROM units; DELETE FROM unit_versions; \
                 DELETE FROM assignments; DELETE FROM nodes; DELETE FROM edges; DELETE FROM members; \
                 DELETE FROM contributions; DELETE FROM outcomes; DELETE FROM handovers; \
                 DELETE FROM cycles; DELETE FROM ratings; DELETE FROM personal_values; \
                 DELETE FROM person_keys",
            );
            db.ok(&["import", "events", &pristine]);
            db.ok(&["verify"]);
        };

        let err = verify_after(
            &db,
            "UPDATE events SET payload = replace(payload, '2023-03-01', '2023-03-02') WHERE seq = 2",
        );
        assert!(
            err.contains("FAILED at event 2") && err.contains("does not match its hash"),
            "edit: {err}"
        );
        restore(&db);

        // A commitment edited in the chained payload.
        let err = verify_after(
            &db,
            "UPDATE events SET payload = replace(payload, '\"name\":\"hmac-sha256:', '\"name\":\"hmac-sha256:0') WHERE seq = 2",
        );
        assert!(
            err.contains("FAILED at event 2") && err.contains("does not match its hash"),
            "edited commitment: {err}"
        );
        restore(&db);

        // A personal value edited beside the chain: it no longer matches its commitment.
        let err = verify_after(
            &db,
            "UPDATE personal_values SET value = 'Someone Else' WHERE seq = 2 AND member = 'name'",
        );
        assert!(
            err.contains("FAILED at event 2") && err.contains("does not match the commitment"),
            "edited personal value: {err}"
        );
        restore(&db);

        let err = verify_after(
            &db,
            "UPDATE events SET effective = '2020-01-01' WHERE seq = 7",
        );
        assert!(err.contains("FAILED at event 7"), "edit of a column: {err}");
        restore(&db);

        let err = verify_after(&db, "DELETE FROM events WHERE seq = 40");
        assert!(
            err.contains("FAILED at event 41") && err.contains("expected sequence number 40"),
            "deletion: {err}"
        );
        restore(&db);

        let err = verify_after(
            &db,
            "UPDATE events SET seq = -seq WHERE seq IN (30, 31); UPDATE events SET seq = 31 WHERE seq = -30; UPDATE events SET seq = 30 WHERE seq = -31",
        );
        assert!(err.contains("FAILED at event 30"), "reordering: {err}");
        restore(&db);

        let err = verify_after(
            &db,
            "UPDATE events SET seq = seq + 1000 WHERE seq >= 50; UPDATE events SET seq = seq - 999 WHERE seq >= 1050; \
             INSERT INTO events SELECT 50, 'inserted', kind, payload, effective, recorded, actor, hash FROM events WHERE seq = 49",
        );
        assert!(err.contains("FAILED at event 50"), "insertion: {err}");
        restore(&db);

        // A forged hash: event 12 edited and re-hashed consistently; event 13 no longer links.
        let export = db.ok(&["export", "events"]);
        let line = export.lines().nth(11).unwrap_or_default();
        let mut event: valuetree_core::chain::StoredEvent =
            serde_json::from_str(line).expect("event");
        event.actor = "mallory".into();
        let forged = event.compute_hash();
        let err = verify_after(
            &db,
            &format!("UPDATE events SET actor = 'mallory', hash = '{forged}' WHERE seq = 12"),
        );
        assert!(
            err.contains("FAILED at event 13") && err.contains("hash of event 12 was forged"),
            "forged hash: {err}"
        );
        restore(&db);

        // A deleted tail is invisible to the chain alone, but not to a pinned head.
        let head = db.head();
        db.tamper("DELETE FROM events WHERE seq > 85");
        db.ok(&["verify", "--chain-only"]);
        let err = db.fails(&["verify", "--chain-only", "--expect-head", &head]);
        assert!(
            err.contains("before the pinned head") && err.contains("deleted from its end"),
            "tail: {err}"
        );
        restore(&db);
        db.ok(&["verify", "--expect-head", &head]);

        // An edit of a projection table is found by the replay check; rebuild repairs it.
        db.tamper("UPDATE contributions SET effort = 99 WHERE contribution_id = 'C003'");
        let err = db.fails(&["verify"]);
        assert!(
            err.contains("table contributions: row C003"),
            "projection: {err}"
        );
        let err = db.fails(&["rebuild", "--check"]);
        assert!(err.contains("row C003"), "{err}");
        db.ok(&["rebuild"]);
        db.ok(&["rebuild", "--check"]);
        db.tamper("DELETE FROM people WHERE person_id = 'P05'");
        assert!(
            db.fails(&["rebuild", "--check"])
                .contains("table people: row P05 is missing")
        );
        db.ok(&["rebuild"]);
        db.ok(&["verify"]);
    });
}

#[test]
fn rebuild_reproduces_identical_projections() {
    each_backend(|db| {
        let db = db.with_examples();
        let views = |db: &Db| -> Vec<String> {
            ["P02", "P03", "P06"]
                .iter()
                .map(|p| db.ok(&["show", "person", p]))
                .chain(
                    ["INI1", "INI2", "INI3"]
                        .iter()
                        .map(|n| db.ok(&["show", "node", n])),
                )
                .chain(std::iter::once(db.ok(&[
                    "org",
                    "--as-of",
                    "2024-07-01",
                    "--json",
                ])))
                .collect()
        };
        let before = views(&db);
        let out = db.ok(&["rebuild"]);
        assert!(out.contains("rebuilt the projections"), "{out}");
        assert_eq!(views(&db), before);
        db.ok(&["rebuild", "--check"]);
    });
}

/// `verify` keeps the contributions and ratings as digests of their rows while it replays
/// (a large organisation's would not fit in memory whole): every later change of a
/// contribution replays to the row stored, and a hand edit of either table is still named
/// with both versions of the row.
#[test]
fn verify_checks_every_contribution_and_rating_row_through_later_changes() {
    each_backend(|fresh| {
        let db = fresh.with_examples();
        db.ok(&["contribution", "confirm", "C007"]);
        db.ok(&[
            "contribution",
            "unconfirm",
            "C001",
            "--reason",
            "not this one",
        ]);
        db.ok(&["contribution", "confirm", "C001"]);
        db.ok(&[
            "contribution",
            "unconfirm",
            "C002",
            "--reason",
            "counted twice",
        ]);
        db.ok(&["contribution", "retract", "C004", "--reason", "a duplicate"]);
        assert!(db.ok(&["verify"]).contains("projections ok"));

        let edits = [
            (
                "UPDATE contributions SET confirmed_on = NULL WHERE contribution_id = 'C007'",
                "table contributions: row C007 holds",
            ),
            (
                "UPDATE contributions SET confirmed = 1 WHERE contribution_id = 'C002'",
                "table contributions: row C002 holds",
            ),
            (
                "UPDATE contributions SET retraction_reason = 'other' WHERE contribution_id = 'C004'",
                "table contributions: row C004 holds",
            ),
            (
                "UPDATE contributions SET description = 'Ranking design v2' WHERE contribution_id = 'C002'",
                "the ledger says",
            ),
            (
                "UPDATE ratings SET score = 2 WHERE rater_id = 'P03' AND ratee_id = 'P04'",
                "table ratings: row 2024/P03/P04/results holds",
            ),
            (
                "DELETE FROM ratings WHERE rater_id = 'P10' AND ratee_id = 'P04'",
                "table ratings: row 2024/P10/P04/results is missing",
            ),
            (
                "INSERT INTO ratings SELECT cycle_id, 'P09', ratee_id, dimension, relationship, \
                 score, status, comment FROM ratings WHERE rater_id = 'P03' AND ratee_id = 'P04'",
                "table ratings: row 2024/P09/P04/results is not in the ledger",
            ),
        ];
        for (edit, named) in edits {
            db.tamper(edit);
            let err = db.fails(&["verify"]);
            assert!(err.contains(named), "{edit}: {err}");
            // A row that differs or is missing is the ledger's to repair; a row added by
            // hand is discarded only when asked.
            if named.ends_with("is not in the ledger") {
                db.fails(&["rebuild"]);
                db.ok(&["rebuild", "--discard-unexplained"]);
            } else {
                db.ok(&["rebuild"]);
            }
            assert!(db.ok(&["verify"]).contains("projections ok"), "{edit}");
        }
        // A rebuild keeps a row the ledger does not explain, unless told to drop it.
        db.tamper(
            "INSERT INTO contributions SELECT 'C999', person_id, node_id, phase, date, effort, \
             description, evidence, confirmed, confirmed_on, retracted_on, retraction_reason \
             FROM contributions WHERE contribution_id = 'C003'",
        );
        assert!(
            db.fails(&["rebuild"])
                .contains("row C999 is not in the ledger")
        );
    });
}

#[test]
fn an_export_that_does_not_chain_onto_the_head_is_refused() {
    each_backend(|db| {
        let db = db.with_examples();
        let exported = db.dir().join("ledger.jsonl");
        db.ok(&["export", "events", "--out", &exported.display().to_string()]);
        let text = std::fs::read_to_string(&exported).expect("export");
        // Another database with different history: the export cannot continue its chain.
        let other = Db::sqlite();
        let people = other.write(
            "people.csv",
            "person_id,name,email,joined_on,left_on\nX1,Xavier,,2020-01-01,\n",
        );
        other.ok(&["import", "people", &people]);
        let err = other.fails(&["import", "events", &exported.display().to_string()]);
        assert!(
            err.contains("line 1")
                && (err.contains("expected sequence number 2") || err.contains("prev_hash")),
            "{err}"
        );
        // A tampered line in the export is refused too: a hashed field, or a personal value
        // carried beside the chain (it no longer matches its commitment).
        let fresh = Db::sqlite();
        let tampered = text.replacen(
            "\"joined_on\":\"2023-01-02\"",
            "\"joined_on\":\"2023-01-03\"",
            1,
        );
        assert_ne!(tampered, text);
        let path = db.write("tampered.jsonl", &tampered);
        let err = fresh.fails(&["import", "events", &path]);
        assert!(err.contains("line 1, column hash"), "{err}");
        let tampered = text.replacen("Maya Chen", "Maya Chan", 1);
        let path = db.write("tampered-name.jsonl", &tampered);
        let err = fresh.fails(&["import", "events", &path]);
        assert!(
            err.contains("line 1, column personal.name")
                && err.contains("does not match its commitment"),
            "{err}"
        );
        assert_eq!(fresh.head(), format!("0:{}", "0".repeat(64)));
        // The same id with a different (valid) hash is a conflict, not a skip.
        let mut first: valuetree_core::chain::StoredEvent =
            serde_json::from_str(text.lines().next().unwrap_or_default()).expect("event");
        first.payload = first.payload.replace("2023-01-02", "2023-01-03");
        first.hash = first.compute_hash();
        let conflicting = db.write("conflict.jsonl", &format!("{}\n", first.export_line()));
        let err = db.fails(&["import", "events", &conflicting]);
        assert!(
            err.contains("already in the ledger (seq 1) with different content"),
            "{err}"
        );
    });
}

/// Contribution rows for P03 (employed throughout) on INI3.
fn contribution_file(prefix: &str, n: usize) -> String {
    let mut text =
        String::from("contribution_id,person_id,node_id,phase,date,effort,description,confirmed\n");
    for i in 0..n {
        text.push_str(&format!(
            "{prefix}{i},P03,INI3,build,2024-06-{:02},1.5,parallel work {i},true\n",
            i % 28 + 1
        ));
    }
    text
}

#[test]
fn two_processes_appending_at_once_give_one_valid_chain() {
    each_backend(|db| {
        let db = db.with_examples();
        let a = db.write("a.csv", &contribution_file("A", 3000));
        let b = db.write("b.csv", &contribution_file("B", 3000));
        let spawn = |file: &str| {
            Command::new(env!("CARGO_BIN_EXE_valuetree"))
                .args(["import", "contributions", file])
                .env("VALUETREE_DB", &db.url)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        let (first, second) = (spawn(&a), spawn(&b));
        for child in [first, second] {
            let out = child.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let verify = db.ok(&["verify"]);
        assert!(verify.contains("chain ok: 6118 events"), "{verify}");
        let node = db.ok(&["show", "node", "INI3"]);
        assert!(
            node.contains("Ben Okafor (P03)  build: 6000 contribution(s), effort 9000"),
            "{node}"
        );
    });
}

#[test]
fn sim_is_deterministic_and_its_output_imports_and_verifies() {
    let db = Db::sqlite();
    let (a, b, c) = (db.dir().join("a"), db.dir().join("b"), db.dir().join("c"));
    for (dir, seed) in [(&a, "7"), (&b, "7"), (&c, "8")] {
        let out = db.ok(&[
            "sim",
            "--people",
            "300",
            "--years",
            "2",
            "--seed",
            seed,
            "--out",
            &dir.display().to_string(),
        ]);
        assert!(out.starts_with("simulated"), "{out}");
    }
    let files = [
        "people.csv",
        "units.csv",
        "assignments.csv",
        "nodes.csv",
        "edges.csv",
        "members.csv",
        "contributions.csv",
        "outcomes.csv",
        "handovers.csv",
        "ratings.csv",
        "truth.csv",
        "truth_contributions.csv",
    ];
    for file in files {
        let (x, y) = (
            std::fs::read(a.join(file)).expect(file),
            std::fs::read(b.join(file)).expect(file),
        );
        assert!(x == y, "{file} differs between two runs with the same seed");
    }
    assert_ne!(
        std::fs::read(a.join("contributions.csv")).ok(),
        std::fs::read(c.join("contributions.csv")).ok()
    );
    let ratings = std::fs::read_to_string(a.join("ratings.csv")).unwrap_or_default();
    assert!(ratings.starts_with(
        "cycle_id,rater_id,ratee_id,relationship,dimension,score,comment,ratee_unit,rater_unit\n"
    ));
    for relationship in [",manager,", ",peer,", ",lead,", ",self,", ",report,"] {
        assert!(ratings.contains(relationship), "no {relationship} rating");
    }
    let imported = db.ok(&["import", "dir", &a.display().to_string()]);
    assert!(imported.contains("new events"), "{imported}");
    let verify = db.ok(&["verify"]);
    assert!(verify.contains("projections ok"), "{verify}");
    let fairness = db.ok(&["fairness", "--sim", &a.display().to_string()]);
    assert!(
        fairness.contains("(a) current manager's rating")
            && fairness.contains("(b) raw mean of all ratings")
            && fairness.contains("(c) calibrated ratings  ")
            && fairness.contains("(c') calibrated, ordinal model  ")
            && fairness.contains("(d) credit from the value tree  "),
        "{fairness}"
    );
    // The interval's coverage, against the expected rating the simulator writes beside the
    // truth, for both models: measured, and near the nominal 90% (a scale or estimand mix-up
    // gives near 0%; a standard error of the person's own effect alone about 75%).
    let coverages: Vec<f64> = fairness
        .lines()
        .filter_map(|line| line.strip_prefix("coverage: "))
        .filter_map(|line| line.split(" for ").nth(1))
        .filter_map(|rest| rest.split('%').next())
        .filter_map(|share| share.parse().ok())
        .collect();
    assert_eq!(coverages.len(), 2, "{fairness}");
    for coverage in coverages {
        assert!((80.0..=100.0).contains(&coverage), "{fairness}");
    }
    let svg = std::fs::read_to_string(a.join("fairness.svg")).unwrap_or_default();
    assert!(
        svg.starts_with("<svg") && svg.contains("moved off"),
        "{svg}"
    );
}

#[test]
fn demo_loads_an_empty_database_and_refuses_a_used_one() {
    let db = Db::sqlite();
    let out = db.ok(&["demo"]);
    for role in ["employee", "lead", "manager", "hr", "admin"] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(role)),
            "no {role} persona in:\n{out}"
        );
    }
    let employee = out
        .lines()
        .find(|l| l.trim_start().starts_with("employee"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_string();
    let shown = db.ok(&["show", "person", &employee]);
    assert!(
        shown.contains("Nodes contributed to") && shown.contains("INI"),
        "{shown}"
    );
    let err = db.fails(&["demo"]);
    assert!(
        err.contains("already holds") && err.contains("empty database"),
        "{err}"
    );
    let used = Db::sqlite().with_examples();
    assert!(used.fails(&["demo"]).contains("already holds 118 events"));
}

/// `valuetree credit --format csv` as (person_id → credit).
fn credits(db: &Db, extra: &[&str]) -> std::collections::BTreeMap<String, f64> {
    let mut args = vec!["credit", "--format", "csv"];
    args.extend_from_slice(extra);
    db.ok(&args)
        .lines()
        .skip(1)
        .filter_map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            Some((fields.first()?.to_string(), fields.last()?.parse().ok()?))
        })
        .collect()
}

#[test]
fn credit_tells_the_stories_of_the_product_brief() {
    each_backend(|db| {
        let db = db.with_examples();
        let all = credits(&db, &[]);
        // "I just wanted to eat meat when it was taken away": Ana left on 2024-08-31; Smart
        // search's outcome came on 2024-10-31, and her share of it is hers.
        let ana = db.ok(&["credit", "--person", "P02", "--explain"]);
        assert!(all["P02"] > 800.0, "{all:?}");
        assert!(ana.contains("from INI1 \"Smart search\", outcome O1 on 2024-10-31: 500.00 stays at the node, 100.00 of it for the design phase, 100.0% of that for 8 of 8 effort units"), "{ana}");
        // "My shoulder was stepped on": Checkout redesign was handed from the Mobile Lab to the
        // Checkout squad; discovery and design keep their share of the later value.
        let ini2 = credits(&db, &["--node", "INI2"]);
        // A node's report counts the outcomes whose value reaches it, not the whole ledger's.
        let header = db.ok(&["credit", "--node", "INI2"]);
        assert!(header.contains("(1 outcome reaching INI2)"), "{header}");
        for early in ["P03", "P04", "P10"] {
            assert!(
                ini2.get(early).is_some_and(|c| *c > 50.0),
                "{early} lost credit at the hand-over: {ini2:?}"
            );
        }
        assert!(ini2.contains_key("P05"));
        // A flagpole raised bottom-up, fed by two objectives: its people from three units share it.
        let ini3 = credits(&db, &["--node", "INI3"]);
        assert_eq!(
            ini3.keys().cloned().collect::<Vec<_>>(),
            ["P04", "P09", "P12"]
        );
        // "The boss can't even protect himself": a reorganisation changes nobody's credit.
        let moves = db.write(
            "assignments.csv",
            "person_id,unit_id,manager_id,valid_from\nP06,U2,P11,2024-11-01\nP04,U2,P11,2024-11-01\n",
        );
        db.ok(&["import", "assignments", &moves]);
        assert_eq!(credits(&db, &[]), all);
        // Conservation: credited + unattributed = value realised.
        let json: serde_json::Value =
            serde_json::from_str(&db.ok(&["credit", "--format", "json"])).expect("json");
        let (value, credited, unattributed) = (
            json["value_realised"].as_f64().unwrap_or_default(),
            json["credited"].as_f64().unwrap_or_default(),
            json["unattributed"].as_f64().unwrap_or_default(),
        );
        assert!(
            (value - 2500.0).abs() < 1e-9 && (credited + unattributed - value).abs() < 1e-9,
            "{json}"
        );
        let total: f64 = all.values().sum();
        assert!((total - credited).abs() < 1e-4, "{total} vs {credited}");
        // A period counts the outcomes dated in it.
        let q4 = credits(&db, &["--from", "2024-10-01", "--to", "2024-12-31"]);
        assert!(
            !q4.contains_key("P05"),
            "Checkout's outcome came in September: {q4:?}"
        );
    });
}

#[test]
fn credit_policy_files_and_payouts() {
    let db = Db::sqlite().with_examples();
    let policy = db.write(
        "policy.toml",
        "[phase_weights]\ndiscover = 1.0\ndesign = 0.0\nbuild = 0.0\nlaunch = 0.0\noperate = 0.0\n",
    );
    let discovery_only = credits(&db, &["--policy", &policy]);
    assert_eq!(
        discovery_only.keys().cloned().collect::<Vec<_>>(),
        ["P02", "P03", "P04", "P09"],
        "{discovery_only:?}"
    );
    // Recorded in the ledger, the policy is in force for every later command (and face);
    // an employee may not set it; a bad one is refused before it is recorded.
    let default_show = db.ok(&["policy", "show", "credit"]);
    assert!(
        default_show.contains("the default credit policy") && default_show.contains("peer_factor"),
        "{default_show}"
    );
    assert!(
        db.fails(&["--as", "P04", "policy", "set", "credit", &policy])
            .contains("rule hr-sets-policies")
    );
    db.ok(&["policy", "set", "credit", &policy]);
    assert_eq!(credits(&db, &[]), discovery_only);
    let shown: serde_json::Value =
        serde_json::from_str(&db.ok(&["policy", "show", "credit", "--format", "json"]))
            .expect("json");
    assert_eq!(shown["recorded"], true, "{shown}");
    assert_eq!(shown["settings"]["phase_weights"]["design"], 0.0, "{shown}");
    let bad_final = db.write("final.toml", "rating_weight = -2\n");
    assert!(
        db.fails(&["policy", "set", "final", &bad_final])
            .contains("rating_weight = -2")
    );
    db.ok(&["verify"]);
    db.ok(&["rebuild", "--check"]);
    let default_policy = db.write("default.toml", "");
    db.ok(&["policy", "set", "credit", &default_policy]);
    let bad = db.write("bad.toml", "[phase_weights]\nbuild = -1\n");
    assert!(
        db.fails(&["credit", "--policy", &bad])
            .contains("phase_weights.build = -1")
    );
    let typo = db.write("typo.toml", "half_life = 30\n");
    assert!(
        db.fails(&["credit", "--policy", &typo])
            .contains("half_life")
    );
    let out = db.ok(&[
        "payout",
        "--budget",
        "1000",
        "--from",
        "2024-10-01",
        "--to",
        "2024-12-31",
        "--policy",
        "balanced",
        "--format",
        "csv",
    ]);
    let total: f64 = out
        .lines()
        .skip(1)
        .filter_map(|l| l.rsplit(',').next()?.parse::<f64>().ok())
        .sum();
    assert!((total - 1000.0).abs() < 0.05, "{out}");
    // Balanced pays the Checkout squad for September's outcome too; immediate only for Q4's.
    assert!(out.contains("P05,"), "{out}");
    let immediate = db.ok(&[
        "payout",
        "--budget",
        "1000",
        "--from",
        "2024-10-01",
        "--to",
        "2024-12-31",
        "--policy",
        "immediate",
        "--format",
        "csv",
    ]);
    assert!(!immediate.contains("P05,"), "{immediate}");
    let paid = db.write("paid.csv", "person_id,paid\nP05,5000\n");
    let settled = db.ok(&[
        "payout",
        "--budget",
        "1000",
        "--from",
        "2024-10-01",
        "--to",
        "2024-12-31",
        "--policy",
        "balanced",
        "--paid",
        &paid,
        "--format",
        "csv",
    ]);
    assert!(
        !settled.contains("P05,"),
        "already paid more than their share: {settled}"
    );
}

#[test]
fn calibrate_reads_a_ratings_file_and_reports_bad_rows() {
    let db = Db::sqlite();
    let sim = db.dir().join("sim");
    db.ok(&[
        "sim",
        "--people",
        "300",
        "--years",
        "1",
        "--out",
        &sim.display().to_string(),
    ]);
    let ratings = sim.join("ratings.csv").display().to_string();
    let raters = db.dir().join("raters.csv").display().to_string();
    let out = db.ok(&[
        "calibrate",
        "--ratings",
        &ratings,
        "--dimension",
        "results",
        "--raters-out",
        &raters,
    ]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("person_id,n_ratings,raw_mean,calibrated,std_error,self_rating,group,uncalibrated")
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    assert!(rows.len() > 200, "{} people", rows.len());
    assert!(
        rows.iter()
            .all(|r| r.len() == 8 && r[3].parse::<f64>().is_ok() && r[7] == "false"),
        "{out}"
    );
    let leniency = std::fs::read_to_string(&raters).unwrap_or_default();
    assert!(
        leniency.starts_with("rater_id,n_ratings,leniency,std_error,outlier\n"),
        "{leniency}"
    );
    // The ordinal models: each person's expected score on the 1–5 scale, ranked much as the
    // linear model ranks them; the model named in the JSON.
    let linear: std::collections::HashMap<String, f64> = rows
        .iter()
        .filter_map(|r| Some((r[0].clone(), r[3].parse().ok()?)))
        .collect();
    for model in ["ordinal", "ordinal-plain"] {
        let out = db.ok(&[
            "calibrate",
            "--ratings",
            &ratings,
            "--dimension",
            "results",
            "--model",
            model,
        ]);
        let scores: Vec<(f64, f64)> = out
            .lines()
            .skip(1)
            .filter_map(|l| {
                let cells: Vec<&str> = l.split(',').collect();
                Some((cells[3].parse().ok()?, *linear.get(cells[0])?))
            })
            .collect();
        assert_eq!(scores.len(), rows.len(), "{out}");
        assert!(
            scores.iter().all(|(s, _)| (1.0..=5.0).contains(s)),
            "{model}: {out}"
        );
        let concordant = scores
            .iter()
            .zip(scores.iter().skip(1))
            .filter(|((a, b), (c, d))| (a - c) * (b - d) > 0.0)
            .count();
        assert!(
            concordant as f64 > 0.8 * (scores.len() - 1) as f64,
            "{model}: {concordant} of {} pairs ordered alike",
            scores.len() - 1
        );
        let json = db.ok(&[
            "calibrate",
            "--ratings",
            &ratings,
            "--dimension",
            "results",
            "--model",
            model,
            "--format",
            "json",
        ]);
        assert!(json.contains(&format!("\"model\": \"{model}\"")), "{json}");
    }
    let bad = db.write(
        "bad.csv",
        "cycle_id,rater_id,ratee_id,relationship,dimension,score,comment\n2024H1,P1,P2,boss,results,4,\n2024H1,P1,P3,peer,results,high,\n",
    );
    let err = db.fails(&["calibrate", "--ratings", &bad]);
    assert!(
        err.contains("line 2, column relationship") && err.contains("line 3, column score"),
        "{err}"
    );
}

/// The examples' `values` dimension holds one rating: nothing to calibrate it with. The
/// score stays the raw 4 with an error as wide as the scale allows, every format says so,
/// and `review final` says its values rating is a raw mean; the ledger still verifies.
#[test]
fn calibration_on_too_little_data_says_so_and_final_does_not_hide_it() {
    each_backend(|db| {
        let db = db.with_examples();
        let out = db.run(&["calibrate", "--cycle", "2024", "--dimension", "values"]);
        assert!(out.status.success());
        let (csv, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(csv.contains("P04,1,4.0000,4.0000,2.0000,,0,true"), "{csv}");
        assert!(
            stderr.contains("warning: nobody was rated by two or more raters")
                && stderr.contains("warning: too few ratings to calibrate"),
            "{stderr}"
        );
        let json = db.ok(&[
            "calibrate",
            "--cycle",
            "2024",
            "--dimension",
            "values",
            "--format",
            "json",
        ]);
        let json: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(json["uncalibrated"], true);
        assert!(json["warnings"].as_array().is_some_and(|w| !w.is_empty()));

        // Results: enough ratings, a real fit, no warning.
        let results = db.run(&["calibrate", "--cycle", "2024", "--dimension", "results"]);
        let stderr = String::from_utf8_lossy(&results.stderr);
        assert!(!stderr.contains("warning"), "{stderr}");

        db.ok(&["calibrate", "--cycle", "2024"]);
        let final_scores = db.run(&["review", "final", "--cycle", "2024"]);
        assert!(final_scores.status.success());
        let stderr = String::from_utf8_lossy(&final_scores.stderr);
        assert!(
            stderr.contains(
                "warning: the values rating of 1 person had too few ratings to calibrate"
            ),
            "{stderr}"
        );
        let json = db.ok(&["review", "final", "--cycle", "2024", "--format", "json"]);
        assert!(json.contains("the values rating of 1 person"), "{json}");
        assert!(db.ok(&["verify"]).contains("projections ok"));
    });
}

#[test]
fn a_review_cycle_from_ratings_to_final_score_on_the_ledger() {
    each_backend(|db| {
        let db = db.with_examples();
        let calibrated = db.run(&["calibrate", "--cycle", "2024"]);
        assert!(calibrated.status.success());
        let stderr = String::from_utf8_lossy(&calibrated.stderr);
        assert!(
            stderr.contains("recorded in the ledger as event 119"),
            "{stderr}"
        );

        // Chloe changed manager mid-year: both managers' ratings stay, attributed; three peers
        // make an anonymous aggregate.
        let chloe = db.ok(&["review", "--cycle", "2024", "feedback", "P04"]);
        assert!(
            chloe.contains("manager — Ivan Petrov (P10): results 4.00"),
            "{chloe}"
        );
        assert!(chloe.contains("manager — Grace Kim (P08)"), "{chloe}");
        assert!(
            chloe.contains("peer — 3 raters, aggregated: results 4.00"),
            "{chloe}"
        );
        assert!(
            !chloe.contains("Ben Okafor"),
            "peer comments are not attributed: {chloe}"
        );
        // Eve has two peer ratings: withheld.
        let eve = db.ok(&["review", "--cycle", "2024", "feedback", "P06"]);
        assert!(
            eve.contains("2 rating(s) from 2 colleague(s) withheld"),
            "{eve}"
        );
        assert!(!eve.contains("Helpful"), "{eve}");

        // The new manager sees the whole record, including the old manager's rating; Ana
        // left in August and her ratings of others stay.
        let record = db.ok(&["review", "--cycle", "2024", "record", "P04"]);
        assert!(
            record.contains("results 4 by Ivan Petrov (P10) (manager)"),
            "{record}"
        );
        assert!(record.contains("Grace Kim (P08) for 184 days, Ivan Petrov (P10) for 182 days"));
        let hana = db.ok(&["review", "--cycle", "2024", "record", "P09"]);
        assert!(
            hana.contains("results 4 by Ana Souza (P02) (peer)"),
            "{hana}"
        );

        // Reviewers come from the ledger with reasons.
        let reviewers = db.ok(&["review", "--cycle", "2024", "reviewers", "P04"]);
        assert!(
            reviewers
                .contains("led 'Checkout redesign' (INI2), where you contributed 11 effort units"),
            "{reviewers}"
        );

        // Goals point at the work; self-review links show on the original contributor's
        // record; a behaviour counts as met only with evidence; drafts never reach the ratee.
        db.ok(&[
            "review",
            "--cycle",
            "2024",
            "goal",
            "G1",
            "--person",
            "P04",
            "--node",
            "INI2",
            "--title",
            "Ship the one-page checkout",
            "--key-result",
            "conversion=0.05",
        ]);
        db.ok(&[
            "review",
            "--cycle",
            "2024",
            "measure",
            "G1",
            "conversion",
            "0.04",
            "--on",
            "2024-11-30",
        ]);
        db.ok(&[
            "review",
            "--cycle",
            "2024",
            "link",
            "P09",
            "--circle",
            "built_on",
            "--contribution",
            "C001",
            "--text",
            "served the query model on Ana's log analysis",
        ]);
        let ana = db.ok(&["review", "--cycle", "2024", "record", "P02"]);
        assert!(
            ana.contains("[built on your work] Hana Ito (P09) built on C001"),
            "{ana}"
        );
        let no_evidence = db.fails(&[
            "review",
            "--cycle",
            "2024",
            "behaviour",
            "P04",
            "--value",
            "collaboration",
            "--behaviour",
            "helps others succeed",
            "--met",
            "--by",
            "P08",
        ]);
        assert!(no_evidence.contains("only with evidence"), "{no_evidence}");
        db.ok(&[
            "review",
            "--cycle",
            "2024",
            "behaviour",
            "P04",
            "--value",
            "collaboration",
            "--behaviour",
            "helps others succeed",
            "--met",
            "--evidence",
            "C009",
            "--by",
            "P08",
        ]);
        db.ok(&[
            "review",
            "--cycle",
            "2024",
            "rate",
            "P04",
            "--rater",
            "P12",
            "--relationship",
            "peer",
            "--score",
            "1",
            "--draft",
        ]);
        let record = db.ok(&["review", "--cycle", "2024", "record", "P04"]);
        assert!(
            record.contains("conversion target 0.05; actual 0.04 on 2024-11-30"),
            "{record}"
        );
        assert!(
            record.contains("values: 1 of 20 behaviours met"),
            "{record}"
        );
        assert!(record.contains("[draft]"), "{record}");
        let chloe = db.ok(&["review", "--cycle", "2024", "feedback", "P04"]);
        assert!(
            chloe.contains("peer — 3 raters, aggregated: results 4.00"),
            "the draft stays out: {chloe}"
        );

        // Overrides: only in calibration, only by the committee, only with a reason.
        let early = db.fails(&[
            "review", "--cycle", "2024", "override", "P04", "--score", "5", "--reason", "x",
            "--by", "P01",
        ]);
        assert!(early.contains("only during calibration"), "{early}");
        db.ok(&[
            "cycle",
            "phase",
            "2024",
            "calibration",
            "--on",
            "2025-01-10",
        ]);
        let outsider = db.fails(&[
            "review", "--cycle", "2024", "override", "P04", "--score", "5", "--reason", "x",
            "--by", "P03",
        ]);
        assert!(
            outsider.contains("not on the calibration committee"),
            "{outsider}"
        );
        let late_rating = db.fails(&[
            "review",
            "--cycle",
            "2024",
            "rate",
            "P04",
            "--rater",
            "P12",
            "--relationship",
            "peer",
            "--score",
            "2",
        ]);
        assert!(late_rating.contains("phase calibration"), "{late_rating}");
        db.ok(&[
            "review",
            "--cycle",
            "2024",
            "override",
            "P04",
            "--score",
            "5",
            "--reason",
            "launched the one-page checkout",
            "--by",
            "P01",
        ]);
        let record = db.ok(&["review", "--cycle", "2024", "record", "P04"]);
        assert!(
            record.contains("→ 5 by Maya Chen (P01): launched the one-page checkout"),
            "{record}"
        );

        let session = db.ok(&["review", "--cycle", "2024", "session"]);
        assert!(session.contains("never enforced as a quota"), "{session}");
        assert!(
            session.contains("all") && session.contains("by manager:"),
            "{session}"
        );
        let refused = db.fails(&[
            "review",
            "--cycle",
            "2024",
            "session",
            "--apply-quota",
            "--by",
            "P01",
        ]);
        assert!(
            refused.contains("does not enforce its guidance"),
            "{refused}"
        );

        let final_csv = db.ok(&["review", "--cycle", "2024", "final", "--format", "csv"]);
        let chloe_row = final_csv
            .lines()
            .find(|l| l.starts_with("P04,"))
            .unwrap_or_else(|| panic!("{final_csv}"));
        assert!(
            chloe_row.starts_with("P04,5.0000,"),
            "the override is the rating: {chloe_row}"
        );
        let table = db.ok(&["review", "--cycle", "2024", "final"]);
        assert!(
            table.contains("9-box") && table.contains("never a sole ground"),
            "{table}"
        );

        db.ok(&["verify"]);
        db.ok(&["rebuild", "--check"]);
    });
}

#[test]
fn cycles_open_with_settings_and_refuse_an_anonymity_threshold_below_three() {
    each_backend(|db| {
        let db = db.with_examples();
        let loose = db.write("loose.toml", "anonymity_threshold = 2\n");
        let refused = db.fails(&[
            "cycle",
            "open",
            "2025H1",
            "--from",
            "2025-01-01",
            "--to",
            "2025-06-30",
            "--settings",
            &loose,
        ]);
        assert!(refused.contains("at least 3 raters"), "{refused}");
        let settings = db.write(
            "cycle.toml",
            "name = \"Spring 2025\"\nanonymity_threshold = 4\nattributed_comments = true\n\
             committee = [\"P01\"]\n[[dimensions]]\nname = \"results\"\nweight = 1\n\
             [[deadlines]]\nphase = \"goals\"\ndue_on = \"2025-01-31\"\n",
        );
        db.ok(&[
            "cycle",
            "open",
            "2025H1",
            "--from",
            "2025-01-01",
            "--to",
            "2025-06-30",
            "--settings",
            &settings,
        ]);
        let shown = db.ok(&["cycle", "show", "2025H1"]);
        assert!(
            shown.contains("Spring 2025") && shown.contains("goals due 2025-01-31"),
            "{shown}"
        );
        assert!(
            shown.contains("shown from 4 raters; comments attributed"),
            "{shown}"
        );
        assert!(shown.contains("dimensions: results 100%"), "{shown}");
        let typo = db.write("typo.toml", "anonymity = 5\n");
        let err = db.fails(&[
            "cycle",
            "open",
            "X",
            "--from",
            "2025-01-01",
            "--to",
            "2025-06-30",
            "--settings",
            &typo,
        ]);
        assert!(err.contains("unknown field `anonymity`"), "{err}");
        let back = db.fails(&["cycle", "phase", "2024", "goals"]);
        assert!(back.contains("only move forward"), "{back}");
        let listed = db.ok(&["cycle", "list"]);
        assert!(
            listed.contains("2024") && listed.contains("2025H1"),
            "{listed}"
        );
    });
}

#[test]
fn peer_points_are_checked_and_blend_with_effort_when_the_policy_asks() {
    each_backend(|db| {
        let db = db.with_examples();
        let header = "node_id,giver_id,date,recipient_id,points\n";
        let bad = db.write(
            "bad_peer.csv",
            &format!(
                "{header}INI2,P10,2024-04-30,P03,60\nINI2,P10,2024-04-30,P04,30\n\
                 INI2,P05,2024-04-30,P03,100\nINI2,P04,2024-04-30,P04,100\n"
            ),
        );
        let err = db.fails(&["import", "peer_points", &bad]);
        assert!(
            err.contains(
                "line 2, column points: an allocation gives exactly 100 points; these add up to 90"
            ),
            "{err}"
        );
        assert!(
            err.contains("line 4, column giver_id: P05 is not a member of node INI2 on 2024-04-30"),
            "{err}"
        );
        assert!(
            err.contains("line 5, column recipient_id: points go to the others"),
            "{err}"
        );

        let before = credits(&db, &[]);
        let good = db.write(
            "peer.csv",
            &format!("{header}INI2,P10,2024-04-30,P03,60\nINI2,P10,2024-04-30,P04,40\n"),
        );
        db.ok(&["import", "peer_points", &good]);
        let again = db.ok(&["import", "peer_points", &good]);
        assert!(again.contains("0 new events"), "{again}");
        assert_eq!(
            credits(&db, &[]),
            before,
            "peer allocation is off by default"
        );

        let policy = db.write("peer.toml", "peer_factor = 0.5\n");
        let blended = credits(&db, &["--policy", &policy]);
        // Chloe (P04) got all of the design pool's points and 40 of the discover pool's 100:
        // she gains; Ben (P03, 60 of 100 in discover but more effort) and Ivan (P10, no
        // points) lose; the total is the same.
        assert!(
            blended["P04"] > before["P04"] + 1.0,
            "{blended:?} vs {before:?}"
        );
        assert!(blended["P10"] < before["P10"], "{blended:?} vs {before:?}");
        let (sum_before, sum_after): (f64, f64) = (before.values().sum(), blended.values().sum());
        assert!(
            (sum_before - sum_after).abs() < 1e-6,
            "{sum_before} vs {sum_after}"
        );
        let explained = db.ok(&[
            "credit",
            "--person",
            "P04",
            "--explain",
            "--policy",
            &policy,
        ]);
        assert!(
            explained.contains("of 100 peer points") && explained.contains("40 of 40 peer points"),
            "{explained}"
        );
        db.ok(&["verify"]);
        db.ok(&["rebuild", "--check"]);
    });
}

#[test]
fn a_contribution_repeated_in_one_file_is_recorded_once_or_refused_if_it_differs() {
    each_backend(|db| {
        let db = db.with_examples();
        let header = "contribution_id,person_id,node_id,phase,date,effort,description,confirmed\n";
        let row = "C900,P04,INI3,build,2024-06-01,2,Contrast fixes,true\n";
        let same = db.write("same.csv", &format!("{header}{row}{row}"));
        let out = db.ok(&["import", "contributions", &same]);
        assert!(
            out.contains("2 rows, 1 new events, 1 rows unchanged"),
            "{out}"
        );
        let differs = db.write(
            "differs.csv",
            &format!(
                "{header}C901,P04,INI3,build,2024-06-02,2,Focus order,true\n\
                 C901,P04,INI3,build,2024-06-02,5,Focus order,true\n"
            ),
        );
        let err = db.fails(&["import", "contributions", &differs]);
        assert!(
            err.contains("line 3, column contribution_id: contribution C901 appears earlier in this import with different content"),
            "{err}"
        );
        db.ok(&["verify"]);
    });
}

/// Runs `args` as a person (`--as`) and expects a refusal naming `rule`.
fn refused_as(db: &Db, person: &str, args: &[&str], rule: &str) {
    let mut all = vec!["--as", person];
    all.extend_from_slice(args);
    let err = db.fails(&all);
    assert!(
        err.contains(&format!("rule {rule}")),
        "{args:?} as {person}: {err}"
    );
}

#[test]
fn acting_as_a_person_gives_that_persons_permissions_and_refusals_name_the_rule() {
    each_backend(|db| {
        let db = db.with_examples();
        // Chloe (P04) records her own work at Hana's flagpole INI3, not someone else's.
        refused_as(
            &db,
            "P04",
            &[
                "contribution",
                "record",
                "INI3",
                "--phase",
                "build",
                "--effort",
                "2",
                "--person",
                "P05",
            ],
            "own-work-only",
        );
        db.ok(&[
            "--as",
            "P04",
            "contribution",
            "record",
            "INI3",
            "--phase",
            "build",
            "--effort",
            "2",
            "--id",
            "C-P04-new",
            "--description",
            "contrast fixes",
        ]);
        // She cannot confirm it herself; another employee is not INI3's lead; Hana is.
        refused_as(
            &db,
            "P04",
            &["contribution", "confirm", "C-P04-new"],
            "no-self-confirmation",
        );
        refused_as(
            &db,
            "P03",
            &["contribution", "confirm", "C-P04-new"],
            "lead-confirms",
        );
        db.ok(&["--as", "P09", "contribution", "confirm", "C-P04-new"]);
        let node: serde_json::Value =
            serde_json::from_str(&db.ok(&["show", "node", "INI3", "--format", "json"]))
                .expect("json");
        let mine = node["contributions"]["items"]
            .as_array()
            .and_then(|all| all.iter().find(|c| c["contribution_id"] == "C-P04-new"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(mine["confirmed"], true, "{mine}");
        assert_eq!(mine["person"]["person_id"], "P04");
        // The ledger records who acted.
        let export = db.ok(&["export", "events"]);
        let confirmation = export
            .lines()
            .find(|l| l.contains("contribution_confirmed") && l.contains("C-P04-new"))
            .unwrap_or_default();
        assert!(
            confirmation.contains("\"actor\":\"P09\"")
                && confirmation.contains("\"confirmed_by\":\"P09\""),
            "{confirmation}"
        );
        // An employee overrides no score: that is the committee's (P01, P11).
        refused_as(
            &db,
            "P04",
            &[
                "review", "--cycle", "2024", "override", "P06", "--score", "4", "--reason", "x",
            ],
            "committee-overrides",
        );
        // A committee member cannot record an override "by" another member.
        refused_as(
            &db,
            "P11",
            &[
                "review", "--cycle", "2024", "override", "P06", "--score", "4", "--reason", "x",
                "--by", "P01",
            ],
            "committee-overrides",
        );
        // Another person's ratings are private: not to a colleague.
        refused_as(
            &db,
            "P04",
            &["review", "--cycle", "2024", "record", "P06"],
            "private-performance-data",
        );
        let colleague: serde_json::Value = serde_json::from_str(
            &db.ok(&["--as", "P04", "show", "person", "P06", "--format", "json"]),
        )
        .expect("json");
        assert!(colleague["private"].is_null(), "{}", colleague["private"]);
        // Her manager now (Grace, P08) and her former manager (Frank, P07, until 30 June
        // 2024) read her 2024 record; Frank not a cycle after his period.
        assert!(
            db.ok(&["--as", "P08", "review", "--cycle", "2024", "record", "P06"])
                .contains("Eve Laurent")
        );
        assert!(
            db.ok(&["--as", "P07", "review", "--cycle", "2024", "record", "P06"])
                .contains("Eve Laurent")
        );
        let former: serde_json::Value = serde_json::from_str(
            &db.ok(&["--as", "P07", "show", "person", "P06", "--format", "json"]),
        )
        .expect("json");
        assert_eq!(former["private"]["access"], "period");
        db.ok(&[
            "cycle",
            "open",
            "2025H1",
            "--from",
            "2025-01-01",
            "--to",
            "2025-06-30",
        ]);
        refused_as(
            &db,
            "P07",
            &["review", "--cycle", "2025H1", "record", "P06"],
            "former-manager-period",
        );
        // HR reads it once the role is granted in the ledger (and a rebuild keeps the role).
        refused_as(
            &db,
            "P12",
            &["review", "--cycle", "2024", "record", "P06"],
            "private-performance-data",
        );
        refused_as(
            &db,
            "P12",
            &["role", "grant", "P12", "hr"],
            "admin-administers",
        );
        db.ok(&["role", "grant", "P12", "hr"]);
        db.ok(&["rebuild"]);
        assert!(
            db.ok(&["--as", "P12", "review", "--cycle", "2024", "record", "P06"])
                .contains("Eve Laurent")
        );
        // Imports are an administrator's.
        refused_as(
            &db,
            "P04",
            &["import", "dir", &examples()],
            "admin-administers",
        );
        assert!(db.ok(&["verify"]).contains("chain ok"));
    });
}

#[test]
fn a_flagpole_is_raised_joined_and_linked_into_the_tree() {
    each_backend(|db| {
        let db = db.with_examples();
        db.ok(&[
            "--as",
            "P12",
            "flagpole",
            "raise",
            "INI9",
            "--title",
            "Gift cards",
            "--serves",
            "NEED1",
            "--role",
            "designer",
            "--role",
            "engineer",
        ]);
        db.ok(&[
            "--as",
            "P03",
            "flagpole",
            "ask",
            "INI9",
            "--role",
            "engineer",
            "--message",
            "I built payments",
        ]);
        refused_as(
            &db,
            "P03",
            &["flagpole", "accept", "INI9", "P03"],
            "lead-answers-join",
        );
        db.ok(&["--as", "P12", "flagpole", "accept", "INI9", "P03"]);
        // Only the lead of the need links the flagpole under it.
        refused_as(
            &db,
            "P12",
            &["node", "link", "NEED1", "INI9", "--weight", "0.1"],
            "parent-lead-links",
        );
        let node: serde_json::Value =
            serde_json::from_str(&db.ok(&["show", "node", "INI9", "--format", "json"]))
                .expect("json");
        assert_eq!(node["status"], "proposed");
        assert_eq!(node["serves"]["node_id"], "NEED1");
        assert_eq!(
            node["roles_wanted"],
            serde_json::json!(["designer", "engineer"])
        );
        assert_eq!(node["members"][0]["person"]["person_id"], "P03");
        assert_eq!(node["join_requests"][0]["status"], "accepted");
        assert!(db.ok(&["verify"]).contains("chain ok"));
    });
}

#[test]
fn the_command_lines_json_is_the_application_layers_data() {
    use valuetree_app::{Actor, App};
    each_backend(|db| {
        let db = db.with_examples();
        let clock = chrono::DateTime::parse_from_rfc3339(FIXED_CLOCK)
            .expect("clock")
            .to_utc();
        let app = App::new(
            &db.url,
            std::sync::Arc::new(valuetree_core::clock::FixedClock::new(clock)),
        );
        let direct = |value: serde_json::Value, args: &[&str]| {
            let via_cli: serde_json::Value =
                serde_json::from_str(&db.ok(args)).expect("json from the command line");
            assert_eq!(via_cli, value, "{args:?}");
        };
        let json = |v: &dyn erased::Serialize| v.to_json();
        direct(
            json(
                &app.person_record(&Actor::Operator, "P02", None, true)
                    .expect("record"),
            ),
            &["show", "person", "P02", "--credit", "--format", "json"],
        );
        direct(
            json(&app.node(&Actor::Operator, "INI2").expect("node")),
            &["show", "node", "INI2", "--format", "json"],
        );
        direct(
            json(&app.unit(&Actor::Operator, "U3", None).expect("unit")),
            &["show", "unit", "U3", "--format", "json"],
        );
        direct(
            json(
                &app.org(
                    &Actor::Operator,
                    Some(day("2024-07-01")),
                    valuetree_app::Page::ALL,
                )
                .expect("org"),
            ),
            &["org", "--as-of", "2024-07-01", "--format", "json"],
        );
        direct(
            json(
                &app.org_diff(&Actor::Operator, day("2024-06-30"), day("2024-07-01"))
                    .expect("diff"),
            ),
            &[
                "org",
                "diff",
                "2024-06-30",
                "2024-07-01",
                "--format",
                "json",
            ],
        );
        let credit = valuetree_app::queries::CreditQuery {
            from: Some(day("2024-01-01")),
            to: Some(day("2024-12-31")),
            by_node: true,
            ..Default::default()
        };
        direct(
            json(
                &app.credit_report(&Actor::Operator, &credit)
                    .expect("credit"),
            ),
            &[
                "credit",
                "--from",
                "2024-01-01",
                "--to",
                "2024-12-31",
                "--format",
                "json",
            ],
        );
        direct(
            json(&app.cycles(&Actor::Operator).expect("cycles")),
            &["cycle", "list", "--format", "json"],
        );
        direct(
            json(
                &app.feedback(&Actor::Operator, "2024", "P04")
                    .expect("feedback"),
            ),
            &[
                "review", "--cycle", "2024", "feedback", "P04", "--format", "json",
            ],
        );
        direct(
            json(
                &app.policy(&Actor::Operator, valuetree_core::domain::PolicyKind::Credit)
                    .expect("policy"),
            ),
            &["policy", "show", "credit", "--format", "json"],
        );
        // The same as a person: what they may see.
        let eve = app.actor_for("P06").expect("actor");
        direct(
            json(
                &app.person_record(&eve, "P06", None, false)
                    .expect("own record"),
            ),
            &["--as", "P06", "show", "person", "P06", "--format", "json"],
        );
    });
}

fn day(text: &str) -> valuetree_core::NaiveDate {
    text.parse().expect("a date")
}

/// Serialising the app's different view types through one closure.
mod erased {
    pub trait Serialize {
        fn to_json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Serialize for T {
        /// Through text, as the command line's output is read back: serde_json reads a
        /// float from text to within an ulp, so both sides take the same road.
        fn to_json(&self) -> serde_json::Value {
            let text = serde_json::to_string_pretty(self).expect("serialisable");
            serde_json::from_str(&text).expect("reads back")
        }
    }
}

/// What `--db` holds, byte for byte on SQLite, as a list of tables with their rows on
/// PostgreSQL: to show that a refused database was not written to.
fn database_contents(db: &Db) -> String {
    if db.url.starts_with("postgres") {
        let mut client = postgres::Client::connect(&db.url, postgres::NoTls).expect("connect");
        let tables: Vec<String> = client
            .query(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
                &[],
            )
            .expect("tables")
            .iter()
            .map(|row| row.get(0))
            .collect();
        let mut out = String::new();
        for table in tables {
            let rows: i64 = client
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .expect("count")
                .get(0);
            out.push_str(&format!("{table}: {rows}\n"));
        }
        out
    } else {
        let bytes = std::fs::read(&db.url).expect("read the database file");
        format!(
            "{} bytes, {:?}",
            bytes.len(),
            &bytes[..bytes.len().min(4096)]
        )
    }
}

#[test]
fn someone_elses_database_is_refused_and_left_unchanged() {
    each_backend(|db| {
        db.tamper(
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5)",
        );
        let before = database_contents(&db);
        let examples = examples();
        for args in [
            vec!["head"],
            vec!["verify"],
            vec!["import", "dir", &examples],
        ] {
            let error = db.fails(&args);
            assert!(
                error.contains("is not a valuetree database")
                    && error.contains("nothing was written to it"),
                "{args:?}: {error}"
            );
            assert!(error.lines().count() <= 3, "one message, not SQL: {error}");
        }
        assert_eq!(
            database_contents(&db),
            before,
            "the refused database changed"
        );
    });
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_unchanged() {
    let db = Db::sqlite();
    std::fs::write(&db.url, "name,total\nAda,9.5\n").expect("write");
    let error = db.fails(&["head"]);
    assert!(error.contains("not a SQLite database"), "{error}");
    assert_eq!(
        std::fs::read_to_string(&db.url).expect("read"),
        "name,total\nAda,9.5\n"
    );
}

#[test]
fn a_database_written_before_the_mark_is_marked_and_opens() {
    each_backend(|db| {
        let db = db.with_examples();
        let head = db.head();
        // As an earlier version left it: no mark.
        if db.url.starts_with("postgres") {
            db.tamper("DROP TABLE valuetree_database");
        } else {
            db.tamper("PRAGMA application_id = 0");
        }
        assert_eq!(db.head(), head);
        db.ok(&["verify"]);
        if !db.url.starts_with("postgres") {
            let conn = rusqlite::Connection::open(&db.url).expect("open");
            let id: i64 = conn
                .pragma_query_value(None, "application_id", |r| r.get(0))
                .expect("application_id");
            assert_eq!(id, 0x7674_7265, "marked again as valuetree's");
        } else {
            assert!(database_contents(&db).contains("valuetree_database: 1"));
        }
    });
}

#[test]
fn import_dir_refuses_csv_files_it_does_not_know_and_names_the_nearest() {
    each_backend(|db| {
        let dir = db.dir().join("upload");
        std::fs::create_dir(&dir).expect("mkdir");
        for entry in std::fs::read_dir(examples()).expect("examples") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, dir.join(path.file_name().expect("name"))).expect("copy");
        }
        std::fs::copy(dir.join("units.csv"), dir.join("Units.CSV")).expect("copy");
        std::fs::copy(dir.join("contributions.csv"), dir.join("contribution.csv")).expect("copy");
        std::fs::write(dir.join("README.txt"), "not CSV: left alone").expect("write");
        let error = db.fails(&["import", "dir", &dir.display().to_string()]);
        assert!(
            error.contains("Units.CSV is not an import file name (did you mean units.csv?)")
                && error.contains(
                    "contribution.csv is not an import file name (did you mean contributions.csv?)"
                )
                && error.contains("nothing was imported"),
            "{error}"
        );
        // Nothing was imported: the first import of the examples makes the whole ledger.
        std::fs::remove_file(dir.join("Units.CSV")).expect("rm");
        std::fs::remove_file(dir.join("contribution.csv")).expect("rm");
        let out = db.ok(&["import", "dir", &dir.display().to_string()]);
        assert!(out.contains("118 new events"), "{out}");
    });
}

#[test]
fn a_row_with_an_unquoted_comma_is_refused_not_truncated() {
    each_backend(|db| {
        let db = db.with_examples();
        let head = db.head();
        let file = db.write(
            "nodes.csv",
            "node_id,kind,title,lead_id,created_on,status,flagpole,description\n\
             INI9,initiative,X,P09,2024-05-01,active,false,first part, second part\n",
        );
        let error = db.fails(&["import", "nodes", &file]);
        assert!(
            error.contains("line 2: the row has 9 cells but the header has 8 columns"),
            "{error}"
        );
        assert_eq!(db.head(), head, "nothing imported");
    });
}

#[test]
fn rebuild_refuses_to_erase_the_trace_of_deleted_events_or_to_trust_a_broken_chain() {
    each_backend(|db| {
        let db = db.with_examples();
        let pinned = db.head();
        // The last event (a rating) deleted: the chain still holds, the projections remember.
        db.tamper("DELETE FROM events WHERE seq = 118");
        db.ok(&["verify", "--chain-only"]);
        let verify = db.fails(&["verify"]);
        assert!(
            verify.contains("is not in the ledger")
                && verify.contains("events were deleted from the end of the ledger")
                && verify.contains("--expect-head"),
            "verify must not just say rebuild: {verify}"
        );
        let refused = db.fails(&["rebuild"]);
        assert!(
            refused.contains("1 row that no event in the ledger explains")
                && refused.contains("Nothing was changed")
                && refused.contains("--discard-unexplained"),
            "{refused}"
        );
        // The evidence is still there, and the pinned head names what is missing.
        assert!(db.fails(&["verify"]).contains("is not in the ledger"));
        assert!(
            db.fails(&["verify", "--expect-head", &pinned])
                .contains("deleted from its end")
        );
        db.ok(&["rebuild", "--discard-unexplained"]);
        db.ok(&["verify"]);

        // An edited event: the chain fails, and rebuild will not recompute from it unasked.
        db.tamper(
            "UPDATE events SET payload = replace(payload, '\"name\":\"', '\"name\":\"X') WHERE seq = 3",
        );
        let refused = db.fails(&["rebuild"]);
        assert!(
            refused.contains("the ledger's chain fails at event 3")
                && refused.contains("Nothing was changed")
                && refused.contains("--despite-broken-chain"),
            "{refused}"
        );
        db.ok(&["rebuild", "--despite-broken-chain"]);
    });
}

#[test]
fn a_hand_over_must_come_from_the_lead_of_the_day_to_someone_new_after_the_node_exists() {
    each_backend(|db| {
        let db = db.with_examples();
        let head = db.head();
        let file = db.write(
            "handovers.csv",
            "node_id,date,from_lead_id,to_lead_id,note,from_unit_id,to_unit_id\n\
             INI3,2024-10-01,P01,P12,Maya is not the lead,,\n\
             INI3,2024-02-01,P09,P12,before INI3 exists,,\n\
             INI3,2024-11-01,P09,P09,to the same lead,,\n\
             INI1,2024-10-01,P02,P03,Ana handed INI1 to Hana in September,,\n",
        );
        let error = db.fails(&["import", "handovers", &file]);
        for expected in [
            "line 2, column from_lead_id: P01 does not lead INI3 on 2024-10-01: P09 does",
            "line 3, column date: 2024-02-01 is before node INI3 was created (2024-03-01)",
            "line 4, column to_lead_id: P09 already leads INI3",
            "line 5, column from_lead_id: P02 does not lead INI1 on 2024-10-01: P09 does",
        ] {
            assert!(
                error.contains(expected),
                "missing {expected:?} in:\n{error}"
            );
        }
        assert_eq!(db.head(), head, "nothing imported");
        // The lead of the day hands over; a second hand-over follows from the new lead,
        // whatever order the file lists them in.
        let file = db.write(
            "handovers.csv",
            "node_id,date,from_lead_id,to_lead_id,note,from_unit_id,to_unit_id\n\
             INI3,2024-11-01,P12,P03,then to Ben,,\n\
             INI3,2024-10-01,P09,P12,Hana to Kofi,,\n",
        );
        let out = db.ok(&["import", "handovers", &file]);
        assert!(out.contains("2 new events"), "{out}");
    });
}

#[test]
fn reversed_periods_and_meaningless_payout_flags_are_refused_with_the_reason() {
    each_backend(|db| {
        let db = db.with_examples();
        let error = db.fails(&["credit", "--from", "2025-01-01", "--to", "2024-01-01"]);
        assert!(
            error.contains("from 2025-01-01 is after to 2024-01-01"),
            "{error}"
        );
        fn payout<'a>(extra: &[&'a str]) -> Vec<&'a str> {
            let mut args = vec!["payout", "--from", "2024-01-01", "--to", "2024-12-31"];
            args.extend_from_slice(extra);
            args
        }
        let error = db.fails(&payout(&["--budget", "-5", "--policy", "immediate"]));
        assert!(
            !error.contains("unexpected argument") && error.contains("budget"),
            "{error}"
        );
        let paid = db.write("paid.csv", "person_id,paid\nP03,100\n");
        let error = db.fails(&payout(&[
            "--budget",
            "1000",
            "--policy",
            "immediate",
            "--paid",
            &paid,
        ]));
        assert!(
            error.contains("--paid is read by the balanced policy only"),
            "{error}"
        );
        db.ok(&payout(&[
            "--budget", "1000", "--policy", "balanced", "--paid", &paid,
        ]));
        let error = db.fails(&[
            "payout",
            "--budget",
            "1000",
            "--from",
            "2024-12-31",
            "--to",
            "2024-01-01",
            "--policy",
            "immediate",
        ]);
        assert!(
            error.contains("from 2024-12-31 is after to 2024-01-01"),
            "{error}"
        );
    });
}

#[test]
fn work_membership_and_value_before_their_node_exists_are_refused() {
    each_backend(|db| {
        let db = db.with_examples();
        let head = db.head();
        // INI3 was created on 2024-03-01.
        let contributions = db.write(
            "contributions.csv",
            "contribution_id,person_id,node_id,phase,date,effort,description,confirmed\n\
             C900,P09,INI3,discover,2024-02-15,2,before the flagpole was raised,false\n",
        );
        let error = db.fails(&["import", "contributions", &contributions]);
        assert!(
            error.contains(
                "line 2, column date: 2024-02-15 is before node INI3 was created (2024-03-01)"
            ),
            "{error}"
        );
        let members = db.write(
            "members.csv",
            "node_id,person_id,role,joined_on,left_on\nINI3,P12,engineer,2024-02-01,\n",
        );
        let error = db.fails(&["import", "members", &members]);
        assert!(
            error.contains("2024-02-01 is before node INI3 was created"),
            "{error}"
        );
        let outcomes = db.write(
            "outcomes.csv",
            "outcome_id,node_id,date,value,description\nO9,INI3,2024-01-31,10,too early\n",
        );
        let error = db.fails(&["import", "outcomes", &outcomes]);
        assert!(
            error.contains("2024-01-31 is before node INI3 was created"),
            "{error}"
        );
        assert_eq!(db.head(), head, "nothing imported");
    });
}

#[test]
fn a_loop_of_managers_is_refused_but_a_swap_within_one_date_is_not() {
    each_backend(|db| {
        let db = db.with_examples();
        let head = db.head();
        // P11 reports to P01 (since 2023-01-02): P01 reporting to P11 would be a loop.
        let assignments = db.write(
            "assignments.csv",
            "person_id,unit_id,manager_id,valid_from\nP01,U1,P11,2024-09-01\n",
        );
        let error = db.fails(&["import", "assignments", &assignments]);
        assert!(
            error.contains(
                "line 2, column manager_id: on 2024-09-01 the managers would form a loop: P01 → P11 → P01"
            ),
            "{error}"
        );
        assert_eq!(db.head(), head, "nothing imported");
        // P09 reports to P11; one reorganisation makes P11 report to P09 and P09 to P01. Row
        // by row the first looks like a loop; the file as a whole is not one.
        let swap = db.write(
            "assignments.csv",
            "person_id,unit_id,manager_id,valid_from\n\
             P11,U2,P09,2024-09-02\n\
             P09,U2,P01,2024-09-02\n",
        );
        let out = db.ok(&["import", "assignments", &swap]);
        assert!(out.contains("2 new events"), "{out}");
    });
}

#[test]
fn escape_sequences_in_a_file_are_shown_escaped_not_sent_to_the_terminal() {
    each_backend(|db| {
        let db = db.with_examples();
        let file = db.write(
            "assignments.csv",
            "person_id,unit_id,manager_id,valid_from\nP\u{1b}[2J\u{1b}]0;owned\u{7},U1,,2024-09-01\n",
        );
        let error = db.fails(&["import", "assignments", &file]);
        assert!(
            error.contains("P\\u{1b}[2J\\u{1b}]0;owned\\u{7}"),
            "{error:?}"
        );
        assert!(
            !error.contains('\u{1b}') && !error.contains('\u{7}'),
            "{error:?}"
        );
    });
}

/// A text over its column's limit (docs/limits.md) is refused, by an import naming the line
/// and column and by a command naming the field; nothing is recorded. Up to the limit it is
/// taken, counted in characters (a Chinese description has the room an English one has).
#[test]
fn a_text_over_its_columns_limit_is_refused_by_an_import_and_by_a_command() {
    each_backend(|db| {
        let db = db.with_examples();
        let head = db.head();
        let huge = "x".repeat(10 * 1024 * 1024);
        let file = db.write(
            "contributions.csv",
            &format!(
                "contribution_id,person_id,node_id,phase,date,effort,description,confirmed\n\
                 C90,P03,INI1,build,2024-06-03,1,{huge},false\n\
                 {long_id},P03,INI1,build,2024-06-03,1,fine,false\n",
                long_id = "C".repeat(65)
            ),
        );
        let error = db.fails(&["import", "contributions", &file]);
        assert!(
            error.contains("line 2, column description: is 10485760 characters long; description holds at most 10000"),
            "{}",
            &error[..error.len().min(2000)]
        );
        assert!(
            error.contains("line 3, column contribution_id: is 65 characters long"),
            "{}",
            &error[..error.len().min(2000)]
        );
        assert!(error.len() < 4000, "the text itself is not echoed back");
        assert_eq!(db.head(), head, "nothing was imported");

        let record = |description: &str| {
            db.run(&[
                "contribution",
                "record",
                "INI1",
                "--person",
                "P03",
                "--phase",
                "build",
                "--effort",
                "1",
                "--date",
                "2024-06-03",
                "--description",
                description,
            ])
        };
        let refused = record(&"x".repeat(10_001));
        assert!(!refused.status.success());
        let refused = String::from_utf8_lossy(&refused.stderr);
        assert!(
            refused
                .contains("description: is 10001 characters long; description holds at most 10000"),
            "{}",
            &refused[..refused.len().min(2000)]
        );
        assert_eq!(db.head(), head, "nothing was recorded");

        let chinese = record(&"修".repeat(10_000));
        assert!(chinese.status.success(), "{chinese:?}");
    });
}

/// An update of master data passes the rules a new row passes, against everything that
/// depends on it: Ana's departure moved before her 2024 work, or the search team ended while
/// three people are still in it, is refused with the dependents named; so is a unit placed
/// under one that does not exist for its whole life. Ending the team while the same import
/// moves its people out passes.
#[test]
fn an_update_is_checked_against_everything_that_depends_on_it() {
    each_backend(|db| {
        let db = db.with_examples();
        let head = db.head();
        let people = db.write(
            "people.csv",
            "person_id,name,email,joined_on,left_on\nP02,Ana Souza,ana@shop.example,2023-03-01,2023-12-31\n",
        );
        let error = db.fails(&["import", "people", &people]);
        assert!(
            error.contains("line 2, column left_on: this update of P02 would leave records outside their employment (2023-03-01 to 2023-12-31)")
                && error.contains("contribution C001 on 2024-01-15")
                && error.contains("lead of INI1 from its creation on 2024-01-08"),
            "{error}"
        );
        let units = db.write(
            "units.csv",
            "unit_id,name,parent_unit_id,valid_from,valid_to\nU2,Search team,U1,2023-01-01,2024-01-31\n",
        );
        let error = db.fails(&["import", "units", &units]);
        assert!(
            error.contains("this update of U2 would leave records outside its life")
                && error.contains("P11 still assigned to it on 2024-02-01 (since 2023-01-02)")
                && error.contains("P03's assignment to U2 from 2024-07-01"),
            "{error}"
        );
        // A new unit fits in its parent's life: the Mobile Lab (U4) ran 2023-09-01 to
        // 2024-06-30.
        let under_the_lab = db.write(
            "units.csv",
            "unit_id,name,parent_unit_id,valid_from,valid_to\n\
             U9,Lab crew,U4,2024-03-01,\n\
             U8,Old crew,U4,2023-01-01,2024-01-01\n",
        );
        let error = db.fails(&["import", "units", &under_the_lab]);
        let (line_2, line_3) = (
            error.find("line 2, column parent_unit_id: U9 would go on under U4 after U4 ends on 2024-06-30"),
            error.find("line 3, column parent_unit_id: U8 starts on 2023-01-01 under U4, which does not exist then"),
        );
        assert!(line_2.is_some() && line_3 > line_2, "{error}");
        assert_eq!(db.head(), head, "nothing was recorded");

        // The team ends on 2024-12-31 and, in the same import, its people move to Product.
        let dir = db.dir().join("reorg");
        std::fs::create_dir(&dir).expect("dir");
        std::fs::write(
            dir.join("units.csv"),
            "unit_id,name,parent_unit_id,valid_from,valid_to\nU2,Search team,U1,2023-01-01,2024-12-31\n",
        )
        .expect("units");
        std::fs::write(
            dir.join("assignments.csv"),
            "person_id,unit_id,manager_id,valid_from\nP11,U1,P01,2025-01-01\nP09,U1,P11,2025-01-01\nP03,U1,P11,2025-01-01\n",
        )
        .expect("assignments");
        db.ok(&["import", "dir", &dir.display().to_string()]);
        assert!(db.ok(&["verify"]).contains("projections ok"));
    });
}

/// A ratings file large enough to be read from the disk as it is imported (in chunks) is
/// imported whole and atomically, as a small one is: a key given again with other content
/// far down the file (in another chunk) is refused naming the first line, and the same row
/// repeated is no change.
#[test]
fn a_large_ratings_file_is_streamed_with_the_rules_of_a_whole_one() {
    each_backend(|db| {
        let mut people = String::from("person_id,name,email,joined_on,left_on\n");
        for i in 0..145 {
            people.push_str(&format!("R{i:04},Rater {i},,2023-01-02,\n"));
        }
        let dir = db.dir().join("big");
        std::fs::create_dir(&dir).expect("dir");
        std::fs::write(dir.join("people.csv"), people).expect("people");
        std::fs::write(
            dir.join("cycles.csv"),
            "cycle_id,name,starts_on,ends_on,phase\n2024,Annual review 2024,2024-01-01,2024-12-31,review\n",
        )
        .expect("cycles");
        let mut ratings =
            String::from("cycle_id,rater_id,ratee_id,relationship,dimension,score,comment\n");
        let mut rows = 0;
        for rater in 0..145 {
            for ratee in 0..145 {
                if rater != ratee {
                    let score = 1 + (rater * 7 + ratee * 3) % 5;
                    // Cells padded as some spreadsheets export them (read trimmed): a file
                    // of megabytes without a personal value to seal in every row.
                    ratings.push_str(&format!(
                        "2024,R{rater:04},R{ratee:04},peer,results{pad},{score},\n",
                        pad = " ".repeat(180)
                    ));
                    rows += 1;
                }
            }
        }
        assert!(
            ratings.len() > 4 << 20,
            "{} bytes: not streamed",
            ratings.len()
        );
        let first = ratings.lines().nth(1).expect("a first row").to_string() + "\n";
        let mut refused = ratings.clone();
        refused.push_str("2024,R0000,R0001,peer,results,1,changed my mind\n");
        std::fs::write(dir.join("ratings.csv"), &refused).expect("ratings");
        let error = db.fails(&["import", "dir", &dir.display().to_string()]);
        assert!(
            error.contains(&format!(
                "line {}: the same key appears on line 2 with different content",
                rows + 2
            )),
            "{error}"
        );
        assert!(
            db.ok(&["verify"]).contains("chain ok: 0 events"),
            "nothing imported"
        );

        ratings.push_str(&first);
        std::fs::write(dir.join("ratings.csv"), &ratings).expect("ratings");
        let out = db.ok(&["import", "dir", &dir.display().to_string()]);
        assert!(
            out.contains(&format!("{} new events, 1 rows unchanged", 145 + 1 + rows)),
            "{out}"
        );
        assert!(db.ok(&["verify"]).contains("projections ok"));
    });
}

/// A `sqlite:` URL with query parameters is refused, by a read and by a write, and no file
/// named after the whole URL appears.
#[test]
fn a_sqlite_url_with_parameters_is_refused_not_taken_as_a_file_name() {
    let db = Db::sqlite();
    let dir = db.dir().to_path_buf();
    let url = format!("sqlite:{}/x.db?mode=ro", dir.display());
    for args in [
        vec!["--db", url.as_str(), "head"],
        vec!["--db", url.as_str(), "import", "dir", &examples()],
    ] {
        let out = db.run(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("takes no parameters (`?mode=ro`)"),
            "{args:?}: {err}"
        );
    }
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert!(names.iter().all(|n| !n.starts_with("x.db")), "{names:?}");
}

/// A database in a folder nobody may write (a backup, a mounted snapshot) is read as it is:
/// every read works and gives what it gave where the database was written, nothing is
/// written beside it, and a write says why it cannot run.
#[test]
fn reads_work_on_a_database_in_a_read_only_folder() {
    use std::os::unix::fs::PermissionsExt;
    let db = Db::sqlite().with_examples();
    let credit = db.ok(&["credit"]);
    let person = db.ok(&["show", "person", "P02"]);
    let export = db.ok(&["export", "events"]);
    // After the export, which records that it ran.
    let head = db.head();

    let shelf = tempfile::tempdir().expect("temp dir");
    let binary = shelf.path().join("valuetree");
    std::fs::copy(env!("CARGO_BIN_EXE_valuetree"), &binary).expect("copy the binary");
    let backup = shelf.path().join("backup");
    std::fs::create_dir(&backup).expect("backup folder");
    let file = backup.join("t.db");
    std::fs::copy(&db.url, &file).expect("copy the database");
    let bytes = std::fs::read(&file).expect("read the copy");
    let set_mode = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    set_mode(shelf.path(), 0o755);
    set_mode(&binary, 0o755);
    set_mode(&file, 0o444);
    set_mode(&backup, 0o555);

    // Root writes whatever the modes say: run as nobody there, so that the modes hold.
    let euid = Command::new("id").arg("-u").output().expect("id -u");
    let as_root = String::from_utf8_lossy(&euid.stdout).trim() == "0";
    let run = |args: &[&str]| {
        let mut command = if as_root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        command
            .arg("--db")
            .arg(&file)
            .args(args)
            .env("VALUETREE_CLOCK", FIXED_CLOCK)
            .env_remove("VALUETREE_AS")
            .env_remove("VALUETREE_DB")
            .output()
            .expect("run valuetree")
    };
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(
            out.status.success(),
            "{args:?} failed in a read-only folder: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(ok(&["head"]).trim(), head);
    assert!(ok(&["verify"]).contains("chain ok: 119 events"));
    assert_eq!(ok(&["credit"]), credit);
    assert_eq!(ok(&["show", "person", "P02"]), person);
    let exported_again = run(&["export", "events"]);
    assert!(exported_again.status.success());
    // The same events, and the first export's own audit event after them.
    let again = String::from_utf8_lossy(&exported_again.stdout);
    assert!(again.starts_with(&export) && again.lines().count() == 119);
    let note = String::from_utf8_lossy(&exported_again.stderr);
    assert!(note.contains("not recorded in the ledger"), "{note}");

    let write = run(&[
        "cycle",
        "open",
        "2025",
        "--from",
        "2025-01-01",
        "--to",
        "2025-06-30",
    ]);
    assert!(
        !write.status.success(),
        "a write succeeded on a read-only file"
    );
    let err = String::from_utf8_lossy(&write.stderr);
    assert!(err.contains("cannot be written here"), "{err}");

    assert_eq!(std::fs::read(&file).expect("read the copy"), bytes);
    let beside: Vec<String> = std::fs::read_dir(&backup)
        .expect("backup folder")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert_eq!(beside, ["t.db"], "nothing is written beside the file");
    set_mode(&backup, 0o755);
}

/// A second version of a link (same parent and child, a later start) ends the one in force
/// the day before, instead of adding its weight to it; one that would overlap a link in
/// force on other days is refused.
#[test]
fn a_new_version_of_a_link_replaces_the_old_one_instead_of_adding_to_it() {
    each_backend(|db| {
        let db = db.with_examples();
        let newer = db.write(
            "edges.csv",
            "parent_id,child_id,weight,valid_from,valid_to\nOBJ1,INI1,0.05,2024-10-01,\n",
        );
        db.ok(&["import", "edges", &newer]);
        let node = db.ok(&["show", "node", "OBJ1", "--format", "json"]);
        assert!(
            node.contains("2024-09-30") && node.contains("0.05"),
            "the old version ends the day before: {node}"
        );
        // The weights in force never add up: the tree still checks and verifies.
        let verified = db.ok(&["verify"]);
        assert!(verified.contains("projections ok"), "{verified}");
        // A link since always next to a dated one overlaps it: refused, naming the row.
        let overlapping = db.write(
            "overlap.csv",
            "parent_id,child_id,weight,valid_from,valid_to\nOBJ1,INI3,0.1,2023-01-01,2024-06-30\n",
        );
        let err = db.fails(&["import", "edges", &overlapping]);
        assert!(
            err.contains("line 2") && err.contains("in force on days this one would be too"),
            "{err}"
        );
    });
}

/// A file that takes back a confirmation it gave is refused with the command that does it,
/// not counted as unchanged.
#[test]
fn a_file_that_unconfirms_a_contribution_is_refused_with_the_command_that_does() {
    each_backend(|db| {
        let db = db.with_examples();
        let head = db.head();
        let file = db.write(
            "contributions.csv",
            "contribution_id,person_id,node_id,phase,date,effort,description,confirmed\n\
             C001,P02,INI1,discover,2024-01-15,5,Search log analysis,false\n",
        );
        let err = db.fails(&["import", "contributions", &file]);
        assert!(
            err.contains("line 2")
                && err.contains("confirmed")
                && err.contains("valuetree contribution unconfirm C001 --reason"),
            "{err}"
        );
        assert_eq!(db.head(), head, "nothing imported");
    });
}

/// Dates against lives: a node led by someone who has left, an assignment to a manager who
/// has left, and work or value dated after today are refused, each naming its line and column.
#[test]
fn a_lead_or_manager_who_left_and_work_dated_in_the_future_are_refused() {
    each_backend(|db| {
        let db = db.with_examples();
        let head = db.head();
        let node = db.write(
            "nodes.csv",
            "node_id,kind,title,lead_id,created_on,status,flagpole,description\n\
             INI9,initiative,X,P02,2024-10-01,active,false,d\n",
        );
        let err = db.fails(&["import", "nodes", &node]);
        assert!(
            err.contains("line 2, column lead_id") && err.contains("outside the employment of P02"),
            "{err}"
        );
        let assignment = db.write(
            "assignments.csv",
            "person_id,unit_id,manager_id,valid_from\nP03,U2,P02,2024-10-01\n",
        );
        let err = db.fails(&["import", "assignments", &assignment]);
        assert!(
            err.contains("line 2, column manager_id")
                && err.contains("outside the employment of P02"),
            "{err}"
        );
        let work = db.write(
            "contributions.csv",
            "contribution_id,person_id,node_id,phase,date,effort,description,confirmed\n\
             C900,P03,INI3,build,9999-12-31,1,x,false\n",
        );
        let err = db.fails(&["import", "contributions", &work]);
        assert!(
            err.contains("line 2, column date") && err.contains("is after today (2025-01-15"),
            "{err}"
        );
        let err = db.fails(&[
            "contribution",
            "record",
            "INI3",
            "--phase",
            "build",
            "--effort",
            "1",
            "--date",
            "2025-02-01",
            "--person",
            "P03",
        ]);
        assert!(err.contains("after today"), "{err}");
        assert_eq!(db.head(), head, "nothing recorded");
    });
}

/// A file with rows the parser refuses and rows the ledger's rules refuse lists both kinds
/// in one run, in line order (nothing is imported).
#[test]
fn parse_errors_and_rule_errors_are_listed_together() {
    each_backend(|db| {
        let db = db.with_examples();
        let head = db.head();
        let file = db.write(
            "contributions.csv",
            "contribution_id,person_id,node_id,phase,date,effort,description,confirmed\n\
             C900,P03,INI3,build,2024-13-01,1,x,false\n\
             C901,P99,INI3,build,2024-03-01,1,x,false\n\
             C902,P03,INI3,build,2024-03-01,abc,x,false\n",
        );
        let err = db.fails(&["import", "contributions", &file]);
        let at = |needle: &str| err.find(needle).unwrap_or(usize::MAX);
        assert!(
            at("line 2, column date") < at("line 3, column person_id")
                && at("line 3, column person_id") < at("line 4, column effort")
                && at("line 4, column effort") < usize::MAX
                && err.contains("3 bad rows"),
            "{err}"
        );
        assert_eq!(db.head(), head, "nothing imported");
    });
}

/// `show person --as-of` is the record as it stood that day: no assignment, contribution,
/// membership or hand-over that began later, and nothing shown as ended that ended later.
#[test]
fn a_person_shown_as_of_a_date_is_the_record_of_that_day() {
    let db = Db::sqlite().with_examples();
    let today = db.ok(&["show", "person", "P06"]);
    assert!(
        today.contains("DEL2") && today.contains("manager Grace Kim (P08)"),
        "{today}"
    );
    let then = db.ok(&["show", "person", "P06", "--as-of", "2024-06-30"]);
    assert!(
        !then.contains("DEL2") && !then.contains("2024-07-01"),
        "later work and assignments are not part of the record on 2024-06-30: {then}"
    );
    assert!(then.contains("manager Frank Müller (P07)"), "{then}");
    // Ana left on 2024-08-31: on 2024-06-30 she was still employed, and still led INI1.
    let ana = db.ok(&[
        "show",
        "person",
        "P02",
        "--as-of",
        "2024-06-30",
        "--format",
        "json",
    ]);
    let record: serde_json::Value = serde_json::from_str(&ana).expect("json");
    assert_eq!(record["left_on"], serde_json::Value::Null, "{ana}");
    assert!(
        record["handovers"].as_array().is_some_and(Vec::is_empty),
        "the hand-over of 2024-09-01 had not happened: {ana}"
    );
}
