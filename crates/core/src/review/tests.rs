//! The rules of review cycles, as a user would notice them.

use super::feedback::feedback_for;
use super::session::{Proposed, session};
use super::*;
use crate::domain::*;
use crate::event::Event;
use crate::state::State;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap_or_default()
}

fn ok(state: &mut State, event: Event) {
    let kind = event.kind();
    if let Err(e) = state.apply(&event) {
        panic!("{kind} refused: {}: {}", e.field, e.reason);
    }
}

fn refused(state: &mut State, event: Event) -> String {
    match state.apply(&event) {
        Ok(()) => panic!("{} was accepted", event.kind()),
        Err(e) => format!("{}: {}", e.field, e.reason),
    }
}

/// P1 works on N1 (an initiative under objective N0, led by L1) from January to June 2024.
/// M1 manages P1 until March, M2 from April. Q1–Q4 also work on N1; C1 works on N0. R1 and R2
/// report to P1. Cycle 2024H1 covers January to June.
fn organisation() -> State {
    let mut s = State::default();
    for id in [
        "P1", "M1", "M2", "L1", "Q1", "Q2", "Q3", "Q4", "C1", "R1", "R2", "H1",
    ] {
        ok(
            &mut s,
            Event::PersonHired(PersonRecord {
                person_id: id.into(),
                name: format!("Person {id}"),
                email: None,
                joined_on: day("2023-01-01"),
                left_on: None,
            }),
        );
    }
    ok(
        &mut s,
        Event::UnitCreated(UnitRecord {
            unit_id: "U1".into(),
            name: "Unit".into(),
            parent_unit_id: None,
            valid_from: day("2023-01-01"),
            valid_to: None,
        }),
    );
    let assign = |s: &mut State, person: &str, manager: &str, from: &str| {
        ok(
            s,
            Event::AssignmentChanged(AssignmentRecord {
                person_id: person.into(),
                unit_id: "U1".into(),
                manager_id: Some(manager.into()),
                valid_from: day(from),
            }),
        )
    };
    assign(&mut s, "P1", "M1", "2023-01-01");
    assign(&mut s, "P1", "M2", "2024-04-01");
    assign(&mut s, "R1", "P1", "2023-06-01");
    assign(&mut s, "R2", "P1", "2024-05-01");
    for (id, kind, lead) in [
        ("N0", NodeKind::Objective, "C1"),
        ("N1", NodeKind::Initiative, "L1"),
    ] {
        ok(
            &mut s,
            Event::NodeCreated(NodeRecord {
                node_id: id.into(),
                kind,
                title: format!("Node {id}"),
                lead_id: Some(lead.into()),
                created_on: day("2023-06-01"),
                status: NodeStatus::Active,
                flagpole: false,
                description: String::new(),
                roles_wanted: Vec::new(),
                serves_id: None,
            }),
        );
    }
    ok(
        &mut s,
        Event::NodeLinked(EdgeRecord {
            parent_id: "N0".into(),
            child_id: "N1".into(),
            weight: crate::Amount(0.5),
            valid_from: None,
            valid_to: None,
        }),
    );
    let work = [
        ("P1", "N1", "2024-03-10", 40.0),
        ("Q1", "N1", "2024-03-12", 25.0),
        ("Q2", "N1", "2024-04-01", 5.0),
        ("Q3", "N1", "2024-02-01", 10.0),
        ("Q4", "N1", "2023-10-01", 50.0),
        ("C1", "N0", "2024-05-01", 8.0),
    ];
    for (i, (person, node, date, effort)) in work.into_iter().enumerate() {
        ok(
            &mut s,
            Event::ContributionRecorded(ContributionRecord {
                contribution_id: format!("C{i}"),
                person_id: person.into(),
                node_id: node.into(),
                phase: Phase::Build,
                date: day(date),
                effort: crate::Amount(effort),
                description: String::new(),
                evidence: None,
                confirmed: true,
            }),
        );
    }
    let mut cycle = CycleRecord::with_defaults("2024H1", day("2024-01-01"), day("2024-06-30"));
    cycle.committee = vec!["H1".into()];
    cycle.phase = CyclePhase::Review;
    ok(&mut s, Event::CycleOpened(cycle));
    s
}

fn rating(rater: &str, ratee: &str, relationship: Relationship, score: f64) -> RatingRecord {
    RatingRecord {
        comment: format!("comment by {rater}"),
        cycle_id: "2024H1".into(),
        dimension: "results".into(),
        ratee_id: ratee.into(),
        rater_id: rater.into(),
        relationship,
        score: Amount(score),
        status: RatingStatus::Submitted,
    }
}

fn cycle(s: &State) -> CycleRecord {
    s.reviews.cycles["2024H1"].record.clone()
}

#[test]
fn cycle_settings_are_checked_when_opened() {
    let mut s = organisation();
    let mut c = CycleRecord::with_defaults("X", day("2024-01-01"), day("2024-06-30"));
    c.anonymity_threshold = 2;
    assert!(refused(&mut s, Event::CycleOpened(c.clone())).contains("at least 3 raters"));
    c.anonymity_threshold = 3;
    c.guidance[0].share = Amount(0.5);
    assert!(refused(&mut s, Event::CycleOpened(c.clone())).contains("add up to 1"));
    c.guidance[0].share = Amount(0.3);
    c.guidance[1].levels = vec![4];
    assert!(refused(&mut s, Event::CycleOpened(c.clone())).contains("another band"));
    c.guidance[1].levels = vec![3];
    c.committee = vec!["nobody".into()];
    assert!(refused(&mut s, Event::CycleOpened(c)).contains("unknown person nobody"));
}

#[test]
fn phases_only_move_forward_and_close_what_they_should() {
    let mut s = organisation();
    let back = Event::CyclePhaseChanged {
        cycle_id: "2024H1".into(),
        effective_on: day("2024-07-01"),
        phase: CyclePhase::Goals,
    };
    assert!(refused(&mut s, back).contains("only move forward"));
    ok(
        &mut s,
        Event::CyclePhaseChanged {
            cycle_id: "2024H1".into(),
            effective_on: day("2024-07-01"),
            phase: CyclePhase::Calibration,
        },
    );
    let late = rating("Q1", "P1", Relationship::Peer, 4.0);
    assert!(refused(&mut s, Event::RatingRecorded(late)).contains("phase calibration"));
}

#[test]
fn ratings_are_validated_and_revisions_never_unsubmit() {
    let mut s = organisation();
    let mut r = rating("Q1", "P1", Relationship::Peer, 6.0);
    assert!(refused(&mut s, Event::RatingRecorded(r.clone())).contains("outside the scale 1–5"));
    r.score = Amount(4.0);
    r.dimension = "charisma".into();
    assert!(refused(&mut s, Event::RatingRecorded(r.clone())).contains("not `charisma`"));
    r.dimension = "results".into();
    r.relationship = Relationship::SelfReview;
    assert!(refused(&mut s, Event::RatingRecorded(r.clone())).contains("relationship"));
    r.relationship = Relationship::Peer;
    ok(&mut s, Event::RatingRecorded(r.clone()));
    r.status = RatingStatus::Draft;
    assert!(refused(&mut s, Event::RatingRecorded(r.clone())).contains("never turned back"));
    r.status = RatingStatus::Submitted;
    r.score = Amount(5.0);
    ok(&mut s, Event::RatingRecorded(r));
    assert_eq!(
        s.reviews.ratings.len(),
        1,
        "a revision replaces, it does not add"
    );
}

#[test]
fn a_manager_change_mid_cycle_loses_nothing_and_a_leaver_keeps_their_ratings() {
    let mut s = organisation();
    // M1 drafts in March, M2 takes over in April (already in the org timeline).
    let mut draft = rating("M1", "P1", Relationship::Manager, 3.0);
    draft.status = RatingStatus::Draft;
    ok(&mut s, Event::RatingRecorded(draft.clone()));
    ok(
        &mut s,
        Event::RatingRecorded(rating("M2", "P1", Relationship::Manager, 4.0)),
    );
    // M1 submits the draft after P1 moved on: still accepted, nothing was bound to the line.
    let mut submitted = draft;
    submitted.status = RatingStatus::Submitted;
    ok(&mut s, Event::RatingRecorded(submitted));
    // Q1 leaves in May; the rating Q1 gave stays in the record.
    ok(
        &mut s,
        Event::RatingRecorded(rating("Q1", "P1", Relationship::Peer, 5.0)),
    );
    ok(
        &mut s,
        Event::PersonLeft {
            person_id: "Q1".into(),
            left_on: day("2024-05-15"),
        },
    );
    let ratings: Vec<&RatingRecord> = s.reviews.submitted("2024H1").collect();
    assert_eq!(ratings.len(), 3);
    let view = feedback_for(&cycle(&s), s.reviews.ratings.values(), "P1");
    let managers: Vec<&Option<String>> = view
        .groups
        .iter()
        .filter(|g| g.label == "manager")
        .map(|g| &g.rater)
        .collect();
    assert_eq!(managers, [&Some("M1".to_string()), &Some("M2".to_string())]);
}

#[test]
fn peer_feedback_reaches_the_ratee_only_from_three_raters() {
    let mut s = organisation();
    for (rater, score) in [("Q1", 4.0), ("Q2", 2.0)] {
        ok(
            &mut s,
            Event::RatingRecorded(rating(rater, "P1", Relationship::Peer, score)),
        );
    }
    ok(
        &mut s,
        Event::RatingRecorded(rating("M2", "P1", Relationship::Manager, 3.0)),
    );
    let view = feedback_for(&cycle(&s), s.reviews.ratings.values(), "P1");
    assert!(view.groups.iter().all(|g| g.label == "manager"));
    assert_eq!((view.withheld_ratings, view.withheld_raters), (2, 2));
    // A lead's rating makes three raters: pooled as "colleagues", comments unattributed.
    ok(
        &mut s,
        Event::RatingRecorded(rating("L1", "P1", Relationship::Lead, 3.0)),
    );
    let view = feedback_for(&cycle(&s), s.reviews.ratings.values(), "P1");
    let pooled = view
        .groups
        .iter()
        .find(|g| g.label == "colleagues")
        .expect("pooled group");
    assert_eq!(pooled.raters, 3);
    assert_eq!(pooled.means["results"], (3.0, 3));
    assert!(pooled.comments.iter().all(|(who, _)| who.is_none()));
    assert_eq!(view.withheld_ratings, 0);
    // Drafts never show.
    let mut draft = rating("Q3", "P1", Relationship::Peer, 1.0);
    draft.status = RatingStatus::Draft;
    ok(&mut s, Event::RatingRecorded(draft));
    let view = feedback_for(&cycle(&s), s.reviews.ratings.values(), "P1");
    assert_eq!(
        view.groups
            .iter()
            .find(|g| g.label == "colleagues")
            .map(|g| g.raters),
        Some(3)
    );
}

#[test]
fn overrides_need_the_calibration_phase_a_committee_member_and_a_reason() {
    let mut s = organisation();
    let mut o = OverrideRecord {
        by: "H1".into(),
        cycle_id: "2024H1".into(),
        dimension: String::new(),
        person_id: "P1".into(),
        previous: Amount(3.2),
        reason: "launch evidence the raters did not see".into(),
        score: Amount(4.0),
    };
    assert!(refused(&mut s, Event::ScoreOverridden(o.clone())).contains("only during calibration"));
    ok(
        &mut s,
        Event::CyclePhaseChanged {
            cycle_id: "2024H1".into(),
            effective_on: day("2024-07-01"),
            phase: CyclePhase::Calibration,
        },
    );
    o.by = "M2".into();
    assert!(
        refused(&mut s, Event::ScoreOverridden(o.clone()))
            .contains("not on the calibration committee")
    );
    o.by = "H1".into();
    o.reason = " ".into();
    assert!(refused(&mut s, Event::ScoreOverridden(o.clone())).contains("needs a reason"));
    o.reason = "launch evidence".into();
    assert!(
        refused(&mut s, Event::ScoreOverridden(o.clone())).contains("no calibrated score"),
        "nothing to override before a calibration"
    );
    ok(
        &mut s,
        Event::CalibrationRecorded(CalibrationResult {
            cycle_id: "2024H1".into(),
            dimension: String::new(),
            model: "test".into(),
            ratings: 3,
            scores: vec![CalibratedScore {
                calibrated: Amount(3.2),
                n_ratings: 3,
                person_id: "P1".into(),
                raw_mean: Amount(3.0),
                std_error: Amount(0.4),
                uncalibrated: false,
            }],
            warnings: Vec::new(),
        }),
    );
    o.previous = Amount(3.1);
    assert!(
        refused(&mut s, Event::ScoreOverridden(o.clone())).contains("stands at 3.2"),
        "a stale previous value is refused"
    );
    o.previous = Amount(3.2);
    ok(&mut s, Event::ScoreOverridden(o.clone()));
    assert_eq!(s.reviews.final_calibrated("2024H1", "", "P1"), Some(4.0));
    // A second override replaces the first: its previous value is the first override's.
    assert!(refused(&mut s, Event::ScoreOverridden(o.clone())).contains("stands at 4"));
    assert_eq!(
        s.reviews.overrides.values().next().map(|o| o.previous),
        Some(Amount(3.2))
    );
}

#[test]
fn reviewers_come_from_the_ledger_with_their_reasons() {
    let s = organisation();
    let found = s.suggest_reviewers(&cycle(&s), "P1", 10);
    let find = |id: &str| found.reviewers.iter().find(|r| r.reviewer_id == id);
    let lead = find("L1").expect("the lead of N1");
    assert_eq!(lead.relationship, Relationship::Lead);
    assert!(
        lead.reasons[0]
            .to_string()
            .contains("led 'Node N1' (N1), where you contributed 40 effort units in Mar 2024"),
        "{:?}",
        lead.reasons
    );
    // Both managers of the period, weighted by their days (M1: Jan–Mar 91 days, M2: 91).
    let m1 = find("M1").expect("first manager");
    assert!(
        m1.reasons[0]
            .to_string()
            .contains("91 of the cycle's 182 days"),
        "{:?}",
        m1.reasons
    );
    assert!(find("M2").is_some());
    // Peers ranked by effort overlap: Q1 (25) before Q3 (10) before Q2 (5); Q4 worked before
    // the period and is not suggested.
    let peers: Vec<&str> = found
        .reviewers
        .iter()
        .filter(|r| r.relationship == Relationship::Peer)
        .map(|r| r.reviewer_id.as_str())
        .collect();
    assert_eq!(peers, ["Q1", "Q3", "Q2"]);
    assert!(find("Q4").is_none());
    // The internal customer: N0's lead and contributor, whose objective P1's work fed.
    let customer = find("C1").expect("customer");
    assert_eq!(customer.relationship, Relationship::Customer);
    assert!(
        customer.reasons[0]
            .to_string()
            .contains("which your work on 'Node N1' (N1) feeds")
    );
    // Upward feedback from the reports.
    assert_eq!(
        find("R1").map(|r| r.relationship),
        Some(Relationship::Report)
    );
    assert!(found.spread_warning.is_none());
    assert!(found.kinds >= 3);
}

#[test]
fn a_short_list_keeps_the_spread_and_choices_are_the_person_or_a_managers() {
    let mut s = organisation();
    let short = s.suggest_reviewers(&cycle(&s), "P1", 3);
    let mut kinds: Vec<Relationship> = short.reviewers.iter().map(|r| r.relationship).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds.len(),
        3,
        "three reviewers, three kinds: {:?}",
        short.reviewers
    );

    let change = |by: &str, reviewer: &str| ReviewerChange {
        by: by.into(),
        cycle_id: "2024H1".into(),
        ratee_id: "P1".into(),
        reason: "knows the work".into(),
        reviewer_id: reviewer.into(),
    };
    assert!(
        refused(&mut s, Event::ReviewerAdded(change("Q1", "H1")))
            .contains("only the person and their managers")
    );
    // M1 managed P1 earlier in the cycle and may still choose.
    ok(&mut s, Event::ReviewerAdded(change("M1", "H1")));
    ok(&mut s, Event::ReviewerRemoved(change("P1", "Q1")));
    let found = s.suggest_reviewers(&cycle(&s), "P1", 10);
    let h1 = found
        .reviewers
        .iter()
        .find(|r| r.reviewer_id == "H1")
        .expect("added by hand");
    assert!(
        h1.reasons
            .iter()
            .any(|r| r.to_string() == "added by M1: knows the work")
    );
    let q1 = found
        .left_out
        .iter()
        .find(|r| r.reviewer_id == "Q1")
        .expect("removed");
    assert!(
        q1.reasons
            .iter()
            .any(|r| r.to_string().starts_with("removed by P1"))
    );
    assert!(found.reviewers.iter().all(|r| r.reviewer_id != "Q1"));
}

/// P1's self review linking `contribution` in `circle`.
fn entry(circle: Circle, contribution: &str) -> SelfReviewEntry {
    SelfReviewEntry {
        circle,
        contribution_id: contribution.into(),
        cycle_id: "2024H1".into(),
        entry_id: format!("{circle}-{contribution}"),
        person_id: "P1".into(),
        text: "what it achieved".into(),
    }
}

#[test]
fn self_review_circles_link_the_right_work_and_values_need_evidence() {
    let mut s = organisation();
    ok(
        &mut s,
        Event::SelfReviewLinked(entry(Circle::OwnResults, "C0")),
    );
    assert!(
        refused(
            &mut s,
            Event::SelfReviewLinked(entry(Circle::OwnResults, "C1"))
        )
        .contains("is by Q1")
    );
    ok(
        &mut s,
        Event::SelfReviewLinked(entry(Circle::BuiltOn, "C1")),
    );
    assert!(
        refused(
            &mut s,
            Event::SelfReviewLinked(entry(Circle::OthersSuccess, "C0"))
        )
        .contains("own")
    );

    let mut b = BehaviourAssessment {
        assessed_by: "M2".into(),
        behaviour: "shares knowledge".into(),
        cycle_id: "2024H1".into(),
        evidence: String::new(),
        met: true,
        person_id: "P1".into(),
        value: "collaboration".into(),
    };
    assert!(refused(&mut s, Event::BehaviourAssessed(b.clone())).contains("only with evidence"));
    b.evidence = "C0: ran the knowledge-sharing sessions".into();
    ok(&mut s, Event::BehaviourAssessed(b.clone()));
    b.behaviour = "juggles".into();
    assert!(refused(&mut s, Event::BehaviourAssessed(b)).contains("no behaviour `juggles`"));
    let share = s.reviews.values_share(&cycle(&s), "P1");
    assert_eq!(share, Some(1.0 / 20.0));
}

#[test]
fn goals_belong_to_the_work_and_survive_the_manager_change() {
    let mut s = organisation();
    let goal = GoalRecord {
        cycle_id: "2024H1".into(),
        goal_id: "G1".into(),
        key_results: vec![KeyResult {
            metric: "conversion".into(),
            target: Amount(0.05),
        }],
        node_id: "N1".into(),
        person_id: "P1".into(),
        title: "Lift conversion".into(),
    };
    ok(&mut s, Event::GoalSet(goal.clone()));
    ok(
        &mut s,
        Event::KeyResultMeasured(Measurement {
            actual: Amount(0.03),
            goal_id: "G1".into(),
            measured_on: day("2024-05-01"),
            metric: "conversion".into(),
        }),
    );
    let stolen = GoalRecord {
        person_id: "Q1".into(),
        ..goal
    };
    assert!(refused(&mut s, Event::GoalSet(stolen)).contains("never changes hands"));
    let wrong = Measurement {
        actual: Amount(1.0),
        goal_id: "G1".into(),
        measured_on: day("2024-05-01"),
        metric: "revenue".into(),
    };
    assert!(refused(&mut s, Event::KeyResultMeasured(wrong)).contains("no key result `revenue`"));
    assert_eq!(s.reviews.goals["G1"].node_id, "N1");
}

#[test]
fn the_session_shows_guidance_deviation_and_enforces_only_when_opted_in() {
    let mut c = CycleRecord::with_defaults("S", day("2024-01-01"), day("2024-06-30"));
    // Ten people, all rated 4 by a lenient manager M, whose calibrated scores are spread.
    let proposed: Vec<Proposed> = (0..10)
        .map(|i| Proposed {
            person_id: format!("P{i}"),
            unit_id: Some("U1".into()),
            manager_id: Some("M".into()),
            score: 2.0 + i as f64 * 0.3,
            manager_rating: Some(4.5),
        })
        .collect();
    let view = session(&c, &proposed);
    let top = &view.overall.bands[0];
    // Scores 2.0 … 4.7 round to levels 2,2,3,3,3,4,4,4,4,5: top band (4–5) holds 5 of 10.
    assert_eq!((top.count, top.label.as_str()), (5, "top"));
    assert!((top.deviation - 0.2).abs() < 1e-12);
    assert!(view.forced_moves.is_empty(), "guidance only");
    assert_eq!(view.by_manager[0].group, "M");
    let m = &view.anomalies[0];
    assert!(m.flagged && m.mean_gap > 1.0, "{m:?}");
    c.enforce_guidance = true;
    let view = session(&c, &proposed);
    // Forced: the top 3 stay in the top band; ranks 4–5 (levels 4) move down to level 3.
    let moved: Vec<(&str, u32, u32)> = view
        .forced_moves
        .iter()
        .map(|m| (m.person_id.as_str(), m.from_level, m.to_level))
        .collect();
    assert!(
        moved.contains(&("P6", 4, 3)) && moved.contains(&("P5", 4, 3)),
        "{moved:?}"
    );
    // Rank 10 (P0, level 2) is the bottom 10%: stays.
    assert!(!moved.iter().any(|m| m.0 == "P0"));
}

#[test]
fn members_of_the_same_node_at_the_same_time_are_suggested_too() {
    let mut s = organisation();
    for (person, from) in [("P1", "2024-01-01"), ("H1", "2024-02-01")] {
        ok(
            &mut s,
            Event::MemberJoined(MemberRecord {
                node_id: "N1".into(),
                person_id: person.into(),
                role: "engineer".into(),
                joined_on: day(from),
                left_on: None,
            }),
        );
    }
    let found = s.suggest_reviewers(&cycle(&s), "P1", 20);
    let h1 = found
        .reviewers
        .iter()
        .find(|r| r.reviewer_id == "H1")
        .expect("a fellow member with no contribution");
    assert_eq!(h1.relationship, Relationship::Peer);
    assert!(
        h1.reasons[0]
            .to_string()
            .contains("member of 'Node N1' (N1) with you from 2024-02-01 to 2024-06-30 (151 days)"),
        "{:?}",
        h1.reasons
    );
}

/// A replay that checks the stored tables keeps new contributions and ratings only as
/// digests, and refuses exactly what a replay holding them whole refuses.
#[test]
fn a_checking_replay_keeps_facts_as_digests_and_applies_the_same_rules() {
    use crate::digests::{FactDigests, FactKey};
    let mut s = organisation();
    let mut digests = FactDigests::new(|c| c.effort.value() as u64, |r| r.score.value() as u64);
    digests.keep_whole.insert(FactKey::contribution("K1"));
    s.digests = Some(Box::new(digests));
    let record_by = |id: &str, person: &str, confirmed: bool| {
        Event::ContributionRecorded(ContributionRecord {
            contribution_id: id.into(),
            person_id: person.into(),
            node_id: "N1".into(),
            phase: Phase::Build,
            date: day("2024-03-01"),
            effort: Amount(3.0),
            description: "work".into(),
            evidence: None,
            confirmed,
        })
    };
    let record = |id: &str, confirmed: bool| record_by(id, "P1", confirmed);
    let confirm = |id: &str| Event::ContributionConfirmed {
        contribution_id: id.into(),
        confirmed_on: day("2024-03-05"),
        confirmed_by: Some("L1".into()),
    };
    let unconfirm = |id: &str| Event::ContributionUnconfirmed {
        by: Some("L1".into()),
        contribution_id: id.into(),
        reason: "not done".into(),
        unconfirmed_on: day("2024-03-06"),
    };
    let retract = |id: &str| Event::ContributionRetracted {
        contribution_id: id.into(),
        reason: "a duplicate".into(),
        retracted_on: day("2024-03-07"),
    };
    let digest = |s: &State, id: &str| {
        s.digests.as_ref().expect("digests").contributions[&FactKey::contribution(id)]
    };

    ok(&mut s, record("D1", true));
    assert!(!s.contributions.contains_key("D1"), "kept as a digest only");
    assert_eq!(digest(&s, "D1").record(), 3);
    assert!(refused(&mut s, record("D1", false)).contains("already recorded"));
    assert!(refused(&mut s, record("C0", false)).contains("already recorded"));
    assert!(refused(&mut s, confirm("D1")).contains("already confirmed"));
    ok(&mut s, unconfirm("D1"));
    assert!(!digest(&s, "D1").is_confirmed());
    assert!(refused(&mut s, unconfirm("D1")).contains("not confirmed"));
    ok(&mut s, confirm("D1"));
    assert_eq!(digest(&s, "D1").confirmed_on, Some(day("2024-03-05")));
    ok(&mut s, retract("D1"));
    assert!(refused(&mut s, confirm("D1")).contains("was retracted"));
    assert_eq!(
        s.digests.as_ref().expect("digests").retractions[&FactKey::contribution("D1")],
        (day("2024-03-07"), "a duplicate".to_string())
    );
    assert!(refused(&mut s, confirm("nothing")).contains("unknown contribution"));

    // A self review links a contribution by its contributor, kept with the digest.
    let link =
        |circle: Circle, contribution: &str| Event::SelfReviewLinked(entry(circle, contribution));
    ok(&mut s, record_by("D2", "Q1", true));
    assert!(refused(&mut s, link(Circle::OwnResults, "D2")).contains("is by Q1"));
    ok(&mut s, link(Circle::BuiltOn, "D2"));
    assert!(refused(&mut s, link(Circle::OwnResults, "D1")).contains("was retracted"));
    assert!(refused(&mut s, link(Circle::OwnResults, "D9")).contains("unknown contribution"));

    // A fact a first check found to differ is kept whole as well, and changed in both forms.
    ok(&mut s, record("K1", false));
    ok(&mut s, confirm("K1"));
    assert_eq!(s.contributions["K1"].confirmed_on, Some(day("2024-03-05")));
    assert_eq!(digest(&s, "K1").confirmed_on, Some(day("2024-03-05")));

    let mut r = rating("Q1", "P1", Relationship::Peer, 4.0);
    ok(&mut s, Event::RatingRecorded(r.clone()));
    assert!(s.reviews.ratings.is_empty(), "kept as a digest only");
    let kept = s.digests.as_ref().expect("digests").ratings[&FactKey::of_rating(&r)];
    assert!(kept.submitted() && kept.digest() == 4);
    r.status = RatingStatus::Draft;
    assert!(refused(&mut s, Event::RatingRecorded(r)).contains("never turned back"));
}
