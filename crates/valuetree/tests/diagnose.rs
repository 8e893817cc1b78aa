//! HR's diagnostics end to end: the real binary on the `examples/` organisation, on SQLite and
//! (when configured) PostgreSQL.

mod common;

use common::each_backend;
use serde_json::Value;

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The sum of `field` over a JSON array.
fn total(list: &Value, field: &str) -> f64 {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|item| num(&item[field]))
        .sum()
}

#[test]
fn kept_credit_shows_the_departure_and_the_checkout_handover() {
    each_backend(|db| {
        let db = db.with_examples();
        let people = json(&db.ok(&["diagnose", "kept-credit", "--format", "json"]));
        let rows = people.as_array().expect("a top-level array");
        let of = |id: &str| {
            rows.iter()
                .find(|p| p["person_id"] == id)
                .unwrap_or_else(|| panic!("{id} in {people}"))
        };
        // Ana left before Smart search paid off: valuetree keeps her share, the team view
        // gives her nothing.
        let ana = of("P02");
        assert!(
            num(&ana["kept"]) > 800.0 && num(&ana["team_view_credit"]) == 0.0,
            "{ana}"
        );
        assert_eq!(ana["reasons"], serde_json::json!(["left"]));
        // Ben and Chloe discovered and designed Checkout redesign in the Mobile Lab before it
        // was handed to the Checkout squad.
        for id in ["P03", "P04"] {
            let node = of(id)["nodes"]
                .as_array()
                .and_then(|n| n.iter().find(|n| n["node_id"] == "INI2").cloned())
                .unwrap_or_default();
            assert_eq!(node["reason"], "handed_over", "{id}: {node}");
            assert_eq!(node["cause_date"], "2024-05-01");
            assert!(num(&node["kept"]) > 50.0);
        }
        // valuetree's column is the credit report's, to the cent.
        let credit = json(&db.ok(&["credit", "--format", "json"]));
        for p in credit["people"]["items"].as_array().into_iter().flatten() {
            let id = p["person"]["person_id"].as_str().unwrap_or_default();
            assert!(
                (num(&p["credit"]) - num(&of(id)["credit"])).abs() < 1e-6,
                "{id}"
            );
        }
        // What the team view takes from some it gives to those who stayed, or leaves
        // unattributed: the causes add up to everything kept.
        let kept = total(&people, "kept");
        let causes = json(&db.ok(&[
            "diagnose",
            "kept-credit",
            "--by",
            "reorganisation",
            "--format",
            "json",
        ]));
        let by_cause = total(&causes, "kept");
        assert!(
            (kept - by_cause).abs() < 1e-6 && kept > 0.0,
            "{kept} vs {by_cause}"
        );
        assert!(
            causes
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["cause"] == "hand_over")
        );
        let units = json(&db.ok(&[
            "diagnose",
            "kept-credit",
            "--by",
            "unit",
            "--format",
            "json",
        ]));
        let by_unit = total(&units, "kept");
        assert!((kept - by_unit).abs() < 1e-6);
        let table = db.ok(&["diagnose", "kept-credit"]);
        assert!(
            table.contains("Ana Souza (P02)") && table.contains("left"),
            "{table}"
        );
        // Diagnostics are HR's: anyone else is refused, naming the rule.
        for command in [
            &["diagnose", "kept-credit"][..],
            &["diagnose", "churn"],
            &["diagnose", "collaboration"],
            &["diagnose", "tree"],
        ] {
            let mut args = vec!["--as", "P01"];
            args.extend_from_slice(command);
            let err = db.fails(&args);
            assert!(
                err.contains("rule diagnostics-are-hr"),
                "{command:?}: {err}"
            );
        }
    });
}

#[test]
fn churn_collaboration_and_tree_health_read_the_examples() {
    each_backend(|db| {
        let db = db.with_examples();
        let churn = json(&db.ok(&["diagnose", "churn", "--format", "json"]));
        // The Mobile Lab: created 2023-09-01, dissolved (its last day 2024-06-30).
        let lab = churn["units_reorganised"]
            .as_array()
            .and_then(|u| u.iter().find(|u| u["unit_id"] == "U4").cloned())
            .unwrap_or_default();
        assert_eq!(
            lab["dates"],
            serde_json::json!(["2023-09-01", "2024-07-01"]),
            "{churn}"
        );
        assert_eq!(churn["names"]["units"]["U4"], "Mobile Lab");
        let collaboration = json(&db.ok(&[
            "diagnose",
            "collaboration",
            "--from",
            "2024-01-01",
            "--to",
            "2024-12-31",
            "--format",
            "json",
        ]));
        // Accessible storefront, the flagpole, is the most cross-unit initiative.
        assert_eq!(
            collaboration["initiatives"][0]["node_id"], "INI3",
            "{collaboration}"
        );
        assert!(num(&collaboration["initiatives"][0]["cross_unit_share"]) > 0.5);
        let tree = json(&db.ok(&[
            "diagnose",
            "tree",
            "--from",
            "2024-01-01",
            "--to",
            "2024-12-31",
            "--format",
            "json",
        ]));
        // NEED1 passes 80% of its own outcome down; the rest has nobody to go to.
        let need = tree["unattributed"]
            .as_array()
            .and_then(|u| u.iter().find(|u| u["node_id"] == "NEED1").cloned())
            .unwrap_or_default();
        assert!((num(&need["unattributed"]) - 100.0).abs() < 1e-9, "{tree}");
        assert!(tree["orphan_work"].as_array().is_some_and(Vec::is_empty));
        let ratings = json(&db.ok(&["diagnose", "ratings", "--cycle", "2024", "--format", "json"]));
        assert_eq!(ratings["calibrated"], false);
        assert_eq!(ratings["raters"], 12, "{ratings}");
        db.ok(&["calibrate", "--cycle", "2024"]);
        let ratings = json(&db.ok(&["diagnose", "ratings", "--cycle", "2024", "--format", "json"]));
        assert_eq!(ratings["calibrated"], true);
        assert!(
            ratings["managers"].as_u64().is_some_and(|n| n > 0),
            "{ratings}"
        );
        // The committee of a cycle may read its ratings' anomalies; an employee may not.
        let err = db.fails(&["--as", "P12", "diagnose", "ratings", "--cycle", "2024"]);
        assert!(err.contains("rule organisation-wide-views-are-hr"), "{err}");
    });
}

#[test]
fn whatif_changes_nothing_and_apply_gives_the_managers_it_predicted() {
    each_backend(|db| {
        let db = db.with_examples();
        let plan = db.write(
            "plan.csv",
            "action,subject_id,target_id,date,manager_id\n\
             move_unit,U5,U1,2025-02-01,\n\
             dissolve_unit,U3,U2,2025-02-01,\n\
             change_manager,P09,P01,2025-03-01,\n",
        );
        let head = db.head();
        let predicted = json(&db.ok(&["whatif", &plan, "--format", "json"]));
        assert_eq!(db.head(), head, "without --apply nothing is written");
        assert_eq!(predicted["applied"], false);
        let changes = predicted["manager_changes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        // The Payments team's four people go under the manager most of Search reports to.
        assert_eq!(changes.len(), 5, "{predicted}");
        assert!(changes.iter().any(|c| c["person_id"] == "P12"
            && c["from_manager_id"] == "P08"
            && c["to_manager_id"] == "P11"));
        let applied = json(&db.ok(&["whatif", &plan, "--apply", "--format", "json"]));
        assert_eq!(applied["applied"], true);
        assert_ne!(db.head(), head);
        for c in &changes {
            let date = c["date"].as_str().unwrap_or_default();
            let org = json(&db.ok(&["org", "--as-of", date, "--format", "json"]));
            let placed = org["people"]["items"]
                .as_array()
                .and_then(|p| {
                    p.iter()
                        .find(|p| p["person"]["person_id"] == c["person_id"])
                        .cloned()
                })
                .unwrap_or_default();
            assert_eq!(placed["manager"]["person_id"], c["to_manager_id"], "{c}");
        }
        db.ok(&["verify"]);
        // A plan that cannot hold names every bad row and records nothing.
        let bad = db.write(
            "bad.csv",
            "action,subject_id,target_id,date\n\
             move_person,NOBODY,U2,2025-04-01\n\
             change_manager,P01,P11,2025-04-01\n\
             move_person,P02,U2,2025-04-01\n\
             dissolve_unit,U1,U2,2025-04-01\n",
        );
        let head = db.head();
        let err = db.fails(&["whatif", &bad, "--apply"]);
        for expected in [
            "line 2, column subject_id: there is no person NOBODY",
            "line 3, column target_id: the plan makes a manager cycle",
            "line 4, column date: P02 is not employed on 2025-04-01",
            "line 5, column subject_id: unit U1 has units under it",
        ] {
            assert!(err.contains(expected), "{expected}: {err}");
        }
        assert_eq!(db.head(), head);
        let err = db.fails(&["--as", "P01", "whatif", &plan]);
        assert!(err.contains("rule diagnostics-are-hr"), "{err}");
    });
}
