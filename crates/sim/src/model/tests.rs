//! The model's invariants and determinism.

use super::*;
use crate::RatingRow;
use std::collections::HashMap;

/// Keeps everything in memory, for checking the model's invariants.
#[derive(Default)]
struct Collect {
    people: Vec<PersonRecord>,
    units: Vec<UnitRecord>,
    assignments: Vec<AssignmentRecord>,
    nodes: Vec<NodeRecord>,
    edges: Vec<EdgeRecord>,
    members: Vec<MemberRecord>,
    contributions: Vec<ContributionRecord>,
    outcomes: Vec<OutcomeRecord>,
    handovers: Vec<HandoverRecord>,
    ratings: Vec<(String, String, String, &'static str)>,
    truth: Vec<(String, f64)>,
}

impl Sink for Collect {
    fn person(&mut self, r: &PersonRecord) -> std::io::Result<()> {
        self.people.push(r.clone());
        Ok(())
    }
    fn unit(&mut self, r: &UnitRecord) -> std::io::Result<()> {
        self.units.push(r.clone());
        Ok(())
    }
    fn assignment(&mut self, r: &AssignmentRecord) -> std::io::Result<()> {
        self.assignments.push(r.clone());
        Ok(())
    }
    fn node(&mut self, r: &NodeRecord) -> std::io::Result<()> {
        self.nodes.push(r.clone());
        Ok(())
    }
    fn edge(&mut self, r: &EdgeRecord) -> std::io::Result<()> {
        self.edges.push(r.clone());
        Ok(())
    }
    fn member(&mut self, r: &MemberRecord) -> std::io::Result<()> {
        self.members.push(r.clone());
        Ok(())
    }
    fn contribution(&mut self, r: &ContributionRecord) -> std::io::Result<()> {
        self.contributions.push(r.clone());
        Ok(())
    }
    fn outcome(&mut self, r: &OutcomeRecord) -> std::io::Result<()> {
        self.outcomes.push(r.clone());
        Ok(())
    }
    fn handover(&mut self, r: &HandoverRecord) -> std::io::Result<()> {
        self.handovers.push(r.clone());
        Ok(())
    }
    fn rating(&mut self, r: &RatingRow<'_>) -> std::io::Result<()> {
        let date = if r.cycle_id.ends_with("H1") {
            "06-30"
        } else {
            "12-31"
        };
        let day = format!("{}-{date}", &r.cycle_id[..4]);
        self.ratings.push((
            r.rater_id.to_string(),
            r.ratee_id.to_string(),
            day,
            r.relationship,
        ));
        Ok(())
    }
    fn truth(&mut self, person_id: &str, value: f64, _expected: f64) -> std::io::Result<()> {
        self.truth.push((person_id.to_string(), value));
        Ok(())
    }
    fn truth_contribution(&mut self, _: &str, _: &str, _: &str, _: f64) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn run(config: &SimConfig) -> (Collect, SimSummary) {
    let mut sink = Collect::default();
    let summary = simulate(config, &mut sink, &mut |_| {}).unwrap_or_default();
    (sink, summary)
}

#[test]
fn the_model_keeps_its_invariants() {
    let config = SimConfig {
        people: 600,
        seed: 11,
        ..SimConfig::default()
    };
    let (out, summary) = run(&config);
    let people: HashMap<&str, &PersonRecord> = out
        .people
        .iter()
        .map(|p| (p.person_id.as_str(), p))
        .collect();
    let employed = |id: &str, date: NaiveDate| people.get(id).is_some_and(|p| p.employed_on(date));
    assert!(
        out.contributions.len() > 10_000,
        "{}",
        out.contributions.len()
    );
    for c in &out.contributions {
        assert!(employed(&c.person_id, c.date), "{c:?}");
    }
    for (rater, ratee, day, _) in &out.ratings {
        let date: NaiveDate = day.parse().unwrap_or_default();
        assert!(
            employed(rater, date) && employed(ratee, date),
            "{rater} rates {ratee} on {day}"
        );
    }
    for a in &out.assignments {
        assert!(employed(&a.person_id, a.valid_from), "{a:?}");
    }
    for m in &out.members {
        assert!(employed(&m.person_id, m.joined_on), "{m:?}");
    }
    // Weights per parent never exceed 1 (links never end, so per parent is per date).
    let mut totals: HashMap<&str, f64> = HashMap::new();
    for e in &out.edges {
        assert!((0.0..=1.0).contains(&e.weight.value()));
        *totals.entry(e.parent_id.as_str()).or_default() += e.weight.value();
    }
    assert!(totals.values().all(|t| *t <= 1.0 + 1e-9));
    // Outcomes come after the launch: someone worked on the launch or operation before.
    for o in &out.outcomes {
        let launched = out.contributions.iter().any(|c| {
            c.node_id == o.node_id
                && matches!(c.phase, Phase::Launch | Phase::Operate)
                && c.date <= o.date
        });
        assert!(launched, "{o:?}");
    }
    // Every referenced id exists.
    let nodes: std::collections::HashSet<&str> =
        out.nodes.iter().map(|n| n.node_id.as_str()).collect();
    let units: std::collections::HashSet<&str> =
        out.units.iter().map(|u| u.unit_id.as_str()).collect();
    assert!(
        out.edges
            .iter()
            .all(|e| nodes.contains(e.parent_id.as_str()) && nodes.contains(e.child_id.as_str()))
    );
    assert!(
        out.assignments
            .iter()
            .all(|a| units.contains(a.unit_id.as_str()))
    );
    assert!(
        out.handovers
            .iter()
            .all(|h| nodes.contains(h.node_id.as_str()))
    );
    // The stories the demo needs are there.
    let roles: Vec<&str> = summary.personas.iter().map(|p| p.role).collect();
    assert_eq!(roles, ["employee", "lead", "manager", "hr", "admin"]);
    assert!(!out.truth.is_empty() && !out.handovers.is_empty());
    // Several restructures: units were dissolved.
    assert!(out.units.iter().filter(|u| u.valid_to.is_some()).count() > 100);
}

#[test]
fn the_same_seed_gives_the_same_organisation() {
    let config = SimConfig {
        people: 300,
        years: 2,
        seed: 5,
        ..SimConfig::default()
    };
    let (a, _) = run(&config);
    let (b, _) = run(&config);
    assert_eq!(a.contributions, b.contributions);
    assert_eq!(a.ratings, b.ratings);
    assert_eq!(a.truth, b.truth);
    let (c, _) = run(&SimConfig { seed: 6, ..config });
    assert_ne!(a.contributions, c.contributions);
}
