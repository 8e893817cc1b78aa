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
    Event::NodeCreated(NodeRecord {
        node_id: id.into(),
        title: format!("Node {id}"),
        description: String::new(),
        kind,
        lead_id: Some(lead.into()),
        status: NodeStatus::Active,
        created_on: date("2024-01-01"),
        flagpole: false,
        roles_wanted: Vec::new(),
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
        Event::NodeHandedOver(HandoverRecord {
            node_id: "N3".into(),
            date: date("2024-05-01"),
            from_lead_id: Some("LA".into()),
            to_lead_id: Some("LB".into()),
            from_unit_id: Some("A".into()),
            to_unit_id: Some("B".into()),
            note: "to the B team".into(),
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
    for (node, on, value) in [
        ("N1", "2024-07-01", 100.0),
        ("N3", "2024-06-01", 60.0),
        ("N2", "2024-08-01", 10.0),
    ] {
        let node = d.node(node, "");
        d.outcomes.push(CreditOutcome {
            id: format!("O-{on}"),
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
    assert!(close(kept.team_view_unattributed, 70.0) && close(kept.unattributed, 0.0));
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
