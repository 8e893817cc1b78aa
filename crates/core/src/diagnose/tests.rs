//! The diagnostics on a small hand-made organisation with known answers.
//!
//! Units A and B since 2024-01-01, and the Lab (L) until 2024-06-30 (dissolved: its lead LL
//! goes to B, its engineer W to A on 2024-07-01, a reorganisation).
//! - N1 (initiative, lead LA in A): LA, X, Y (all A) and Z (B) each put in 1 in February;
//!   X then moves A→B (04-01), back to A (05-01), to B again (06-01); Y leaves (03-31).
//!   100 realised on 2024-07-01.
//! - N3 (initiative, lead LA): V (A) works on it in February; handed over to LB (B) on
//!   2024-05-01; 60 realised on 2024-06-01.
//! - N2 (deliverable, lead LL in the Lab): W works on it in March; 10 realised on 2024-08-01.
//! - N4 (initiative, lead LA): X works on it on 2024-05-15; no value yet.
//! - N3 goes back to LA on 2024-09-01 (its second hand-over).
//! - NEED (a need) links to N1 with weight 0.5; NEED2 has nothing below it and 5 realised on
//!   2024-07-01, which nobody can share.
//! - N5: a flagpole Z raised, which nobody joined.

use super::*;
use crate::credit::{CreditContribution, CreditData, CreditOutcome, Engine, Policy, Status, day};
use crate::domain::*;
use crate::event::Event;
use crate::state::State;
use chrono::NaiveDate;

pub(super) fn date(text: &str) -> NaiveDate {
    text.parse().unwrap_or_default()
}

fn person(id: &str, joined: &str, left: Option<&str>) -> Event {
    Event::PersonHired(PersonRecord {
        person_id: id.into(),
        name: format!("Person {id}"),
        email: None,
        joined_on: date(joined),
        left_on: left.map(date),
    })
}

fn unit(id: &str, to: Option<&str>) -> Event {
    Event::UnitCreated(UnitRecord {
        unit_id: id.into(),
        name: format!("Unit {id}"),
        parent_unit_id: None,
        valid_from: date("2024-01-01"),
        valid_to: to.map(date),
    })
}

fn assign(person: &str, unit: &str, manager: Option<&str>, from: &str) -> Event {
    Event::AssignmentChanged(AssignmentRecord {
        person_id: person.into(),
        unit_id: unit.into(),
        manager_id: manager.map(Into::into),
        valid_from: date(from),
    })
}

fn node(id: &str, kind: NodeKind, lead: &str) -> Event {
    let flagpole = id == "N5";
    Event::NodeCreated(NodeRecord {
        node_id: id.into(),
        title: format!("Node {id}"),
        description: String::new(),
        kind,
        lead_id: Some(lead.into()),
        status: if flagpole {
            NodeStatus::Proposed
        } else {
            NodeStatus::Active
        },
        created_on: date("2024-01-01"),
        flagpole,
        roles_wanted: if flagpole {
            vec!["designer".into()]
        } else {
            Vec::new()
        },
        serves_id: None,
    })
}

pub(super) fn org() -> State {
    let mut state = State::default();
    let mut events = vec![
        unit("A", None),
        unit("B", None),
        unit("L", Some("2024-06-30")),
    ];
    for id in ["LA", "LB", "LL", "X", "Z", "V", "W"] {
        events.push(person(id, "2024-01-01", None));
    }
    events.push(person("Y", "2024-01-01", Some("2024-03-31")));
    events.extend([
        assign("LA", "A", None, "2024-01-01"),
        assign("LB", "B", None, "2024-01-01"),
        assign("LL", "L", None, "2024-01-01"),
        assign("X", "A", Some("LA"), "2024-01-01"),
        assign("Y", "A", Some("LA"), "2024-01-01"),
        assign("V", "A", Some("LA"), "2024-01-01"),
        assign("Z", "B", Some("LB"), "2024-01-01"),
        assign("W", "L", Some("LL"), "2024-01-01"),
        assign("X", "B", Some("LB"), "2024-04-01"),
        assign("X", "A", Some("LA"), "2024-05-01"),
        assign("X", "B", Some("LB"), "2024-06-01"),
        assign("LL", "B", Some("LB"), "2024-07-01"),
        assign("W", "A", Some("LA"), "2024-07-01"),
        node("N1", NodeKind::Initiative, "LA"),
        node("N3", NodeKind::Initiative, "LA"),
        node("N2", NodeKind::Deliverable, "LL"),
        node("N4", NodeKind::Initiative, "LA"),
        node("N5", NodeKind::Initiative, "Z"),
        node("NEED", NodeKind::Need, "LA"),
        node("NEED2", NodeKind::Need, "LB"),
        Event::NodeLinked(EdgeRecord {
            parent_id: "NEED".into(),
            child_id: "N1".into(),
            weight: crate::Amount(0.5),
            valid_from: None,
            valid_to: None,
        }),
        Event::NodeHandedOver(HandoverRecord {
            node_id: "N3".into(),
            date: date("2024-05-01"),
            from_lead_id: Some("LA".into()),
            to_lead_id: Some("LB".into()),
            from_unit_id: Some("A".into()),
            to_unit_id: Some("B".into()),
            note: "to the B team".into(),
        }),
        Event::NodeHandedOver(HandoverRecord {
            node_id: "N3".into(),
            date: date("2024-09-01"),
            from_lead_id: Some("LB".into()),
            to_lead_id: Some("LA".into()),
            from_unit_id: Some("B".into()),
            to_unit_id: Some("A".into()),
            note: "back".into(),
        }),
    ]);
    for event in &events {
        assert_eq!(state.apply(event), Ok(()), "{event:?}");
    }
    state
}

pub(super) fn work() -> CreditData {
    let mut d = CreditData::default();
    let add = |d: &mut CreditData, who: &str, node: &str, on: &str| {
        let (person, node) = (d.person(who), d.node(node, ""));
        d.contributions.push(CreditContribution {
            person,
            node,
            phase: Phase::Build,
            date: day(date(on)),
            effort: 1.0,
            status: Status::Confirmed,
        });
    };
    for who in ["LA", "X", "Y", "Z"] {
        add(&mut d, who, "N1", "2024-02-01");
    }
    add(&mut d, "V", "N3", "2024-02-01");
    add(&mut d, "W", "N2", "2024-03-01");
    add(&mut d, "X", "N4", "2024-05-15");
    for (node, on, value) in [
        ("NEED2", "2024-07-01", 5.0),
        ("N1", "2024-07-01", 100.0),
        ("N3", "2024-06-01", 60.0),
        ("N2", "2024-08-01", 10.0),
    ] {
        let node = d.node(node, "");
        d.outcomes.push(CreditOutcome {
            id: format!("O-{}-{on}", d.nodes[node as usize].id),
            node,
            date: day(date(on)),
            value,
        });
    }
    d
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn credit_kept_names_who_left_moved_was_handed_over_or_worked_across_units() {
    let state = org();
    let engine = Engine::new(work(), Policy::default()).expect("engine");
    let kept = kept_credit(&engine, &OrgTimeline::new(&state));
    let of = |id: &str| {
        kept.people
            .iter()
            .find(|p| p.person_id == id)
            .unwrap_or_else(|| panic!("{id} in the report"))
    };
    assert!(close(of("X").kept, 25.0) && close(of("X").team_view_credit, 0.0));
    assert_eq!(of("X").reasons, vec![OffTeamReason::Moved]);
    assert_eq!(
        of("X").nodes[0].cause_date,
        Some(date("2024-06-01")),
        "the last move"
    );
    assert_eq!(of("Y").reasons, vec![OffTeamReason::Left]);
    assert_eq!(of("Y").nodes[0].cause_date, Some(date("2024-04-01")));
    assert_eq!(of("Z").reasons, vec![OffTeamReason::OtherUnit]);
    assert!(
        close(of("LA").kept, -75.0),
        "the lead takes it all in the team view"
    );
    assert!(of("LA").reasons.is_empty());
    assert_eq!(of("V").reasons, vec![OffTeamReason::HandedOver]);
    assert_eq!(of("V").nodes[0].cause_date, Some(date("2024-05-01")));
    assert!(close(of("V").kept, 60.0));
    // The Lab dissolved: its lead went to B, W to A.
    assert_eq!(of("W").reasons, vec![OffTeamReason::Moved]);
    assert_eq!(of("W").nodes[0].cause_date, Some(date("2024-07-01")));
    // Nobody on N3's new team worked on it, nor on N2's: unattributed in the team view.
    assert!(close(kept.team_view_unattributed, 75.0) && close(kept.unattributed, 5.0));
    let total: f64 = kept.people.iter().map(|p| p.kept).sum();
    assert!(close(
        total,
        kept.team_view_unattributed - kept.unattributed
    ));
    assert_eq!(kept.people[0].person_id, "V", "most kept first");

    let reorganisations: Vec<NaiveDate> =
        crate::org::reorganisations(&state, NaiveDate::MIN, NaiveDate::MAX)
            .iter()
            .map(|r| r.date)
            .collect();
    let causes = kept_by_cause(&kept, &reorganisations);
    let find = |cause: KeptCause| {
        causes
            .iter()
            .find(|(c, _, _)| *c == cause)
            .map(|(_, d, t)| (*d, (t.kept * 1e6).round() / 1e6, t.people))
    };
    assert_eq!(
        find(KeptCause::Reorganisation),
        Some((Some(date("2024-07-01")), 10.0, 1))
    );
    assert_eq!(find(KeptCause::HandOver), Some((None, 60.0, 1)));
    assert_eq!(find(KeptCause::Departure).map(|f| f.1), Some(25.0));
    let sum: f64 = causes.iter().map(|(_, _, t)| t.kept).sum();
    assert!(close(sum, total), "the causes add up to everything kept");
}

#[test]
fn moving_with_the_lead_keeps_the_team_views_credit_too() {
    let mut state = org();
    // W follows the Lab's lead to B instead.
    let follow = assign("W", "B", Some("LB"), "2024-07-01");
    assert_eq!(state.apply(&follow), Ok(()));
    let engine = Engine::new(work(), Policy::default()).expect("engine");
    let kept = kept_credit(&engine, &OrgTimeline::new(&state));
    let w = kept.people.iter().find(|p| p.person_id == "W");
    assert!(w.is_some_and(|w| close(w.kept, 0.0) && close(w.team_view_credit, 10.0)));
}

fn with_facts<T>(state: &State, look: impl FnOnce(&Facts<'_>) -> T) -> T {
    let data = work();
    let engine = Engine::new(data.clone(), Policy::default()).expect("engine");
    let timeline = OrgTimeline::new(state);
    look(&Facts::new(state, &timeline, &data, &engine))
}

#[test]
fn churn_finds_the_person_moved_off_live_work_twice_and_the_lonely_flagpole() {
    let state = org();
    let churn = with_facts(&state, |f| churn(f, date("2024-12-31"), 10));
    // X left N1 (04-01) and N4 (06-01) before value reached them; going back to A (05-01)
    // put X beside N1's lead again, so that move does not count.
    assert_eq!(churn.moved_off_live_work_repeatedly.len(), 1);
    let x = &churn.moved_off_live_work_repeatedly[0];
    assert_eq!(x.person_id, "X");
    let dates: Vec<NaiveDate> = x.moves.iter().map(|m| m.date).collect();
    assert_eq!(dates, vec![date("2024-04-01"), date("2024-06-01")]);
    assert_eq!(x.moves[1].node_ids, vec!["N4".to_string()]);
    // Employed on 12-31: LA, LB, Z, V none; LL and W one; X three.
    assert_eq!(churn.manager_changes_distribution, [4, 2, 0, 1, 0]);
    assert_eq!(churn.manager_changes_top[0].person_id, "X");
    assert_eq!(churn.manager_changes_top[0].changes, 3);
    // 2024-01-01 (units created) and 2024-07-01 (the Lab dissolved, two people moved).
    let lab = churn.units_reorganised.iter().find(|u| u.unit_id == "L");
    assert_eq!(lab.map(|u| u.reorganisations), Some(2));
    assert_eq!(churn.handed_over_repeatedly.len(), 1);
    assert_eq!(churn.handed_over_repeatedly[0].node_id, "N3");
    let lonely: Vec<&str> = churn
        .flagpoles_without_people
        .iter()
        .map(|f| f.node_id.as_str())
        .collect();
    assert_eq!(lonely, vec!["N5"]);
}

#[test]
fn collaboration_sees_the_shared_initiative_and_the_labs_silo() {
    let state = org();
    let c = with_facts(&state, |f| {
        collaboration(f, date("2024-01-01"), date("2024-12-31"), None, None, 10)
    });
    let cell = |a: &str, b: &str| {
        c.matrix
            .iter()
            .find(|e| e.unit_id == a && e.with_unit_id == b)
            .map(|e| e.effort)
    };
    assert_eq!(cell("A", "B"), Some(3.0), "LA, X and Y beside Z on N1");
    assert_eq!(cell("B", "A"), Some(1.0));
    assert_eq!(cell("A", "A"), Some(2.0), "N3 and N4: A alone");
    assert_eq!(cell("L", "L"), Some(1.0));
    // The grid: A and B share N1 (A 3 beside B, B 1 beside A); L shares nothing.
    assert_eq!(c.grid_units, vec!["A".to_string(), "B".to_string()]);
    assert_eq!(c.grid, vec![vec![0.0, 3.0], vec![1.0, 0.0]]);
    let silos: Vec<&str> = c.silos.iter().map(|s| s.unit_id.as_str()).collect();
    assert_eq!(silos, vec!["L"]);
    let n1 = c.initiatives.iter().find(|i| i.node_id == "N1");
    assert!(n1.is_some_and(|i| close(i.cross_unit_share, 0.25) && i.units == 2));
    assert_eq!(c.initiatives[0].node_id, "N1", "the most cross-unit first");
    assert!(c.bridges.iter().any(|b| b.person_id == "Z" && b.units == 1));
    // As of 2024-07-15 X is in B: N1 is then A (LA) beside B (X, Z); Y, gone, is left out.
    let later = with_facts(&state, |f| {
        collaboration(
            f,
            date("2024-01-01"),
            date("2024-12-31"),
            Some(date("2024-07-15")),
            None,
            10,
        )
    });
    assert_eq!(
        later
            .matrix
            .iter()
            .find(|e| e.unit_id == "B" && e.with_unit_id == "A")
            .map(|e| e.effort),
        Some(2.0)
    );
}

#[test]
fn tree_health_finds_orphan_work_an_unserved_need_and_unattributed_value() {
    let state = org();
    let h = with_facts(&state, |f| {
        tree_health(
            f,
            date("2024-12-31"),
            date("2024-01-01"),
            date("2024-12-31"),
        )
    });
    let orphans: Vec<&str> = h.orphan_work.iter().map(|o| o.node_id.as_str()).collect();
    assert_eq!(orphans.len(), 3);
    for id in ["N2", "N3", "N4"] {
        assert!(orphans.contains(&id), "{id} has no path to a need");
    }
    assert_eq!(h.needs_without_live_initiative, vec!["NEED2".to_string()]);
    let need = h.effort_and_value.iter().find(|e| e.node_id == "NEED");
    assert!(need.is_some_and(|n| close(n.effort, 4.0) && close(n.value, 100.0)));
    assert_eq!(h.unattributed.len(), 1);
    assert_eq!(h.unattributed[0].node_id, "NEED2");
    assert!(close(h.unattributed_total, 5.0));
}

fn row(line: usize, action: PlanAction, subject: &str, target: &str, on: &str) -> PlanRow {
    PlanRow {
        line,
        action,
        subject_id: subject.into(),
        target_id: target.into(),
        date: date(on),
        manager_id: None,
    }
}

#[test]
fn whatif_names_manager_changes_and_the_work_a_move_takes_off_its_team() {
    let state = org();
    let rows = vec![
        row(2, PlanAction::DissolveUnit, "L", "A", "2024-04-15"),
        row(3, PlanAction::MovePerson, "V", "B", "2024-04-15"),
    ];
    let timeline = OrgTimeline::new(&state);
    let checked = plan(&state, &timeline, &rows).expect("a plan that holds");
    let w = with_facts(&state, |f| whatif(f, &rows, &checked));
    let changes: Vec<(&str, Option<&str>, Option<&str>)> = w
        .manager_changes
        .iter()
        .map(|c| {
            (
                c.person_id.as_str(),
                c.from_manager_id.as_deref(),
                c.to_manager_id.as_deref(),
            )
        })
        .collect();
    // The Lab's people go under the manager most of A reports to (LA); V under LB, B's.
    assert_eq!(
        changes,
        vec![
            ("LL", None, Some("LA")),
            ("V", Some("LA"), Some("LB")),
            ("W", Some("LL"), Some("LA")),
        ]
    );
    // V leaves N3's team (lead LA, in A) before value reached it; W moves with N2's lead.
    assert_eq!(w.live_initiatives.len(), 1);
    assert_eq!(w.live_initiatives[0].node_id, "N3");
    assert_eq!(w.live_initiatives[0].people[0].person_id, "V");
    assert!(close(w.live_initiatives[0].people[0].recent_share, 1.0));
    assert_eq!(w.work_at_stake.len(), 1);
    assert!(close(w.work_at_stake_effort, 1.0));
    // Assignments for LL, V, W, then the Lab's end on 04-14.
    assert_eq!(checked.events.len(), 4);
    assert!(matches!(
        checked.events.last(),
        Some(Event::UnitDissolved { valid_to, .. }) if *valid_to == date("2024-04-14")
    ));
    // Applying the events gives the placements the plan predicted.
    let mut applied = state.clone();
    for e in &checked.events {
        assert_eq!(applied.apply(e), Ok(()), "{e:?}");
    }
    for c in &w.manager_changes {
        let placed = crate::org::placement(&applied, &c.person_id, c.date);
        assert_eq!(placed.and_then(|p| p.manager_id), c.to_manager_id);
    }
}

#[test]
fn whatif_counts_earlier_moves_off_live_work() {
    let state = org();
    let rows = vec![row(2, PlanAction::MovePerson, "X", "A", "2024-06-20")];
    let timeline = OrgTimeline::new(&state);
    let checked = plan(&state, &timeline, &rows).expect("a plan that holds");
    let w = with_facts(&state, |f| whatif(f, &rows, &checked));
    assert_eq!(w.people_moved.len(), 1);
    assert_eq!(w.people_moved[0].earlier_moves_off_live_work, 2);
}

#[test]
fn a_bad_plan_names_every_bad_row() {
    let state = org();
    let mut with_manager = row(6, PlanAction::MovePerson, "Z", "A", "2024-04-15");
    with_manager.manager_id = Some("NOBODY".into());
    let rows = vec![
        row(2, PlanAction::MovePerson, "GHOST", "A", "2024-04-15"),
        row(3, PlanAction::MovePerson, "Y", "B", "2024-05-01"),
        row(4, PlanAction::ChangeManager, "LA", "V", "2024-04-15"),
        row(5, PlanAction::DissolveUnit, "A", "NOWHERE", "2024-04-15"),
        with_manager,
        row(7, PlanAction::MoveUnit, "A", "A", "2024-04-15"),
        row(8, PlanAction::ChangeManager, "X", "LB", "2024-04-15"),
    ];
    let timeline = OrgTimeline::new(&state);
    let errors = plan(&state, &timeline, &rows).expect_err("refused");
    let named: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field)).collect();
    assert_eq!(
        named,
        vec![
            (2, "subject_id"),
            (3, "date"),
            (4, "target_id"),
            (5, "target_id"),
            (6, "manager_id"),
            (7, "target_id"),
        ],
        "{errors:?}"
    );
    assert!(errors[2].reason.contains("cycle"), "{}", errors[2].reason);
}
