//! The model: an organisation simulated month by month. See `docs/simulator.md`.

mod org;
mod reviews;
mod work;

use crate::{RatingRow, Rng, Sink};
use chrono::{Datelike, Months};
use std::collections::{BTreeMap, HashMap};
use valuetree_core::domain::*;
use valuetree_core::{Amount, NaiveDate};

/// The knobs of a simulation. `Default` is the documented default organisation.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Head count kept roughly constant (leavers are replaced).
    pub people: usize,
    pub years: u32,
    pub seed: u64,
    /// First day of the simulation (the 1st of a month).
    pub start: NaiveDate,
    /// Big restructures per year (new units for everyone).
    pub reorgs_per_year: u32,
    /// Share of one business unit moved elsewhere at once, without choice, once a year.
    pub rotation_rate: f64,
    /// Share of initiatives handed to another team after their design phase.
    pub handover_rate: f64,
    /// Raters per person and cycle on the results dimension, manager included (self apart).
    pub raters_per_person: usize,
    /// Standard deviation of a rater's own leniency, in rating points.
    pub rater_bias: f64,
    /// Share of people leaving per year.
    pub attrition: f64,
    pub team_size: usize,
    /// Share of initiatives raised bottom-up as flagpoles.
    pub flagpole_rate: f64,
    /// Describe each contribution in words (what it did to which node): what a demo shows
    /// people; off for the large simulations, where it would only make the files bigger.
    pub describe_work: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            people: 2_000,
            years: 3,
            seed: 1,
            start: NaiveDate::from_ymd_opt(2022, 1, 1).unwrap_or_default(),
            reorgs_per_year: 1,
            rotation_rate: 0.10,
            handover_rate: 0.25,
            raters_per_person: 3,
            rater_bias: 0.4,
            attrition: 0.12,
            team_size: 8,
            flagpole_rate: 0.10,
            describe_work: false,
        }
    }
}

/// A person chosen for the demo, with the story that makes them interesting.
#[derive(Clone, Debug, PartialEq)]
pub struct Persona {
    pub role: &'static str,
    pub person_id: String,
    pub story: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimSummary {
    pub people: usize,
    pub units: usize,
    pub nodes: usize,
    pub assignments: u64,
    pub contributions: u64,
    pub outcomes: u64,
    pub handovers: u64,
    pub ratings: u64,
    pub personas: Vec<Persona>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Ceo,
    Head(usize),
    Member,
}

struct Person {
    record: PersonRecord,
    /// The business line the person was hired into: it sets the mean ability.
    dept: usize,
    ability: f64,
    values: f64,
    /// The rater's own leniency (in standard deviations; scaled by `rater_bias`).
    lenience: f64,
    role: Role,
    team: Option<usize>,
    active: bool,
    /// Open initiatives the person is a member of now.
    memberships: u32,
    /// Initiatives the person is (or was, until cleaned) a member of.
    inits: Vec<usize>,
}

struct Team {
    unit_id: String,
    /// Index of the team's row in `Sim::units`.
    unit: usize,
    bu: usize,
    dept: usize,
    manager: Option<usize>,
    members: Vec<usize>,
    alive: bool,
    created: u32,
}

struct Bu {
    unit_id: String,
    unit: usize,
    head: usize,
}

struct Initiative {
    node: usize,
    team: usize,
    lead: usize,
    /// (person, index into `members`) of current members.
    members: Vec<(usize, usize)>,
    phase: Phase,
    phase_end: u32,
    deliverables: Vec<usize>,
    objective: usize,
    value_sum: f64,
    outcome_due: Vec<u32>,
    closed: bool,
    /// Members who left the node, and when (for the demo's "moved off" story).
    former: Vec<(usize, NaiveDate)>,
    /// The date of the latest hand-over (a node has at most one per day).
    handed_over_on: Option<NaiveDate>,
}

/// Per-cycle bookkeeping for ratings and truth.
#[derive(Default)]
struct Cycle {
    value: HashMap<usize, f64>,
    recent_own: HashMap<usize, f64>,
    inits: HashMap<usize, Vec<(usize, f64)>>,
    contributors: HashMap<usize, Vec<usize>>,
    truth: BTreeMap<(usize, usize), f64>,
}

struct Sim<'s> {
    config: SimConfig,
    sink: &'s mut dyn Sink,
    rng: Rng,
    months: u32,
    people: Vec<Person>,
    dept_ability: Vec<f64>,
    dept_culture: Vec<f64>,
    teams: Vec<Team>,
    /// The teams of each department in the current era (alive or not).
    dept_teams: Vec<Vec<usize>>,
    bus: Vec<Bu>,
    era: u32,
    units: Vec<UnitRecord>,
    nodes: Vec<NodeRecord>,
    members: Vec<MemberRecord>,
    node_budget: Vec<f64>,
    needs: Vec<usize>,
    objectives: Vec<usize>,
    initiatives: Vec<Initiative>,
    pending: BTreeMap<(usize, NaiveDate), AssignmentRecord>,
    cycle: Cycle,
    truth_sum: BTreeMap<usize, (f64, u32)>,
    /// Over every `results` rating given by someone else: the sum of the raters' leniency,
    /// the sum of their noise's variance, and the count.
    results_raters: (f64, f64, f64),
    /// Per ratee, each `results` rating by someone else: the work the rater saw (the signal)
    /// and the rater's noise: the occasions the expected rating averages over.
    results_seen: HashMap<usize, Vec<(f32, f32)>>,
    counters: SimSummary,
    contribution_seq: u64,
    outcome_seq: u64,
    stories: Stories,
    deferred_error: Option<std::io::Error>,
}

#[derive(Default)]
struct Stories {
    moved_off: Option<Persona>,
    inherited: Option<Persona>,
    new_manager: Option<Persona>,
}

const PHASE_FACTOR: [(Phase, f64); 5] = [
    (Phase::Discover, 1.2),
    (Phase::Design, 1.1),
    (Phase::Build, 1.0),
    (Phase::Launch, 0.9),
    (Phase::Operate, 0.6),
];

fn phase_factor(phase: Phase) -> f64 {
    PHASE_FACTOR
        .iter()
        .find(|(p, _)| *p == phase)
        .map_or(1.0, |(_, f)| *f)
}

/// Rounds a weight to three decimals (how a person would type it).
fn weight(w: f64) -> f64 {
    (w * 1000.0).floor() / 1000.0
}

/// Runs the simulation, handing every record to `sink`; `progress` hears of each month done.
pub fn simulate(
    config: &SimConfig,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(u32),
) -> std::io::Result<SimSummary> {
    let mut sim = Sim::new(config.clone(), sink);
    sim.run(progress)?;
    sim.finish()
}

impl<'s> Sim<'s> {
    fn new(config: SimConfig, sink: &'s mut dyn Sink) -> Self {
        let mut rng = Rng::new(config.seed);
        let depts = (config.people / 2_000).clamp(4, 200);
        let dept_ability: Vec<f64> = (0..depts).map(|_| 0.4 * rng.normal()).collect();
        // Weaker departments rate more kindly.
        let dept_culture: Vec<f64> = dept_ability
            .iter()
            .map(|a| -0.6 * a + 0.15 * rng.normal())
            .collect();
        let depts = dept_ability.len();
        Sim {
            months: config.years * 12,
            config,
            sink,
            rng,
            people: Vec::new(),
            dept_ability,
            dept_culture,
            teams: Vec::new(),
            dept_teams: vec![Vec::new(); depts],
            bus: Vec::new(),
            era: 0,
            units: Vec::new(),
            nodes: Vec::new(),
            members: Vec::new(),
            node_budget: Vec::new(),
            needs: Vec::new(),
            objectives: Vec::new(),
            initiatives: Vec::new(),
            pending: BTreeMap::new(),
            cycle: Cycle::default(),
            truth_sum: BTreeMap::new(),
            results_raters: (0.0, 0.0, 0.0),
            results_seen: HashMap::new(),
            counters: SimSummary::default(),
            contribution_seq: 0,
            outcome_seq: 0,
            stories: Stories::default(),
            deferred_error: None,
        }
    }

    fn month_start(&self, m: u32) -> NaiveDate {
        self.config
            .start
            .checked_add_months(Months::new(m))
            .unwrap_or(self.config.start)
    }

    fn month_end(&self, m: u32) -> NaiveDate {
        self.month_start(m + 1)
            .pred_opt()
            .unwrap_or(self.config.start)
    }

    fn day_in(&mut self, m: u32) -> NaiveDate {
        let start = self.month_start(m);
        let days = (self.month_end(m) - start).num_days() as usize + 1;
        start + chrono::Days::new(self.rng.below(days) as u64)
    }

    // ---- the run ------------------------------------------------------------------------------

    fn run(&mut self, progress: &mut dyn FnMut(u32)) -> std::io::Result<()> {
        self.setup();
        let reorg_every = (12 / self.config.reorgs_per_year.max(1)).max(1);
        for m in 0..self.months {
            if m > 0 {
                if self.config.reorgs_per_year > 0 && m % reorg_every == reorg_every / 2 {
                    self.restructure(m);
                }
                self.hire_replacements(m);
                if m % 12 == 3 && self.config.rotation_rate > 0.0 {
                    self.rotate(m);
                }
                if m % 12 == 0 {
                    self.add_objectives(m);
                }
                self.churn_teams(m);
            }
            self.start_initiatives(m);
            self.staff_initiatives(m);
            self.contribute(m)?;
            // Leavers go before anything dated next month is decided (hand-overs pick from the
            // people who stay).
            if m + 1 < self.months {
                self.leave(m)?;
            }
            self.advance(m)?;
            if m % 6 == 5 {
                self.rate_cycle(m)?;
            }
            let end = self.month_end(m);
            self.flush_assignments(end)?;
            if let Some(e) = self.deferred_error.take() {
                return Err(e);
            }
            progress(m + 1);
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<SimSummary> {
        for p in &self.people {
            self.sink.person(&p.record)?;
        }
        for u in &self.units {
            self.sink.unit(u)?;
        }
        for n in &self.nodes {
            self.sink.node(n)?;
        }
        for m in &self.members {
            self.sink.member(m)?;
        }
        let (leniency, variance, ratings) = self.results_raters;
        let (leniency, noise) = if ratings > 0.0 {
            (leniency / ratings, (variance / ratings).sqrt())
        } else {
            // No `results` rating by someone else was given: no leniency, a peer's noise.
            (0.0, 0.6)
        };
        for (p, (sum, count)) in &self.truth_sum {
            let truth = sum / f64::from(*count);
            // The mean, over the occasions the person was rated, of what a rater of average
            // leniency would give for the work that rater saw; nobody rated them: at the
            // truth, with the average noise.
            let expected = match self.results_seen.get(p) {
                Some(seen) if !seen.is_empty() => {
                    seen.iter()
                        .map(|(signal, noise)| {
                            reviews::expected_rating(
                                f64::from(*signal),
                                leniency,
                                f64::from(*noise),
                            )
                        })
                        .sum::<f64>()
                        / seen.len() as f64
                }
                _ => reviews::expected_rating(truth, leniency, noise),
            };
            self.sink
                .truth(&self.people[*p].record.person_id, truth, expected)?;
        }
        self.sink.finish()?;
        let mut summary = std::mem::take(&mut self.counters);
        summary.people = self.people.len();
        summary.units = self.units.len();
        summary.nodes = self.nodes.len();
        let stories = std::mem::take(&mut self.stories);
        summary.personas.extend(stories.moved_off);
        summary.personas.extend(stories.inherited);
        summary.personas.extend(stories.new_manager);
        if let Some(bu) = self.bus.first() {
            summary.personas.push(Persona {
                role: "hr",
                person_id: self.people[bu.head].record.person_id.clone(),
                story: format!(
                    "heads {} and runs its review cycles and calibration",
                    bu.unit_id
                ),
            });
        }
        summary.personas.push(Persona {
            role: "admin",
            person_id: self.people[0].record.person_id.clone(),
            story: "the chief executive; imports the people and the org, manages accounts".into(),
        });
        Ok(summary)
    }
}

impl Person {
    /// The department of the team the person works in now (their own if in no team).
    fn teams_dept(&self, teams: &[Team]) -> usize {
        self.team.map_or(self.dept, |t| teams[t].dept)
    }
}

/// z-scores (mean 0, standard deviation 1; all zeros if there is no spread).
fn standardize(values: &[f64]) -> Vec<f64> {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    values
        .iter()
        .map(|v| if sd > 0.0 { (v - mean) / sd } else { 0.0 })
        .collect()
}

#[cfg(test)]
mod tests;
