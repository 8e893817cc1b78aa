//! The model: an organisation simulated month by month. See `docs/simulator.md`.

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

    // ---- people and org ---------------------------------------------------------------------

    fn hire(&mut self, m: u32, dept: usize) -> usize {
        let index = self.people.len();
        let id = format!("P{:07}", index + 1);
        let ability = self.dept_ability[dept] + self.rng.normal();
        let person = Person {
            record: PersonRecord {
                person_id: id.clone(),
                name: format!("Person {}", index + 1),
                email: Some(format!("{}@example.org", id.to_lowercase())),
                joined_on: self.month_start(m),
                left_on: None,
            },
            dept,
            ability,
            values: self.rng.normal(),
            lenience: self.rng.normal(),
            role: Role::Member,
            team: None,
            active: true,
            memberships: 0,
            inits: Vec::new(),
        };
        self.people.push(person);
        index
    }

    fn add_unit(
        &mut self,
        unit_id: String,
        name: String,
        parent: Option<String>,
        from: NaiveDate,
    ) -> usize {
        self.units.push(UnitRecord {
            unit_id,
            name,
            parent_unit_id: parent,
            valid_from: from,
            valid_to: None,
        });
        self.units.len() - 1
    }

    fn end_unit(&mut self, unit: usize, last_day: NaiveDate) {
        self.units[unit].valid_to = Some(last_day);
    }

    fn unit_of(&self, person: usize) -> String {
        match self.people[person].role {
            Role::Ceo => "U0".to_string(),
            Role::Head(bu) => self.bus[bu].unit_id.clone(),
            Role::Member => self.people[person]
                .team
                .map_or("U0".to_string(), |t| self.teams[t].unit_id.clone()),
        }
    }

    fn bu_unit_of(&self, person: usize) -> String {
        match self.people[person].role {
            Role::Ceo => "U0".to_string(),
            Role::Head(bu) => self.bus[bu].unit_id.clone(),
            Role::Member => self.people[person].team.map_or("U0".to_string(), |t| {
                self.bus[self.teams[t].bu].unit_id.clone()
            }),
        }
    }

    fn manager_of(&self, person: usize) -> Option<usize> {
        match self.people[person].role {
            Role::Ceo => None,
            Role::Head(_) => Some(0),
            Role::Member => {
                let team = &self.teams[self.people[person].team?];
                match team.manager {
                    Some(manager) if manager != person => Some(manager),
                    _ => Some(self.bus[team.bu].head),
                }
            }
        }
    }

    /// Records where `person` stands from `date` (flushed at the end of the month).
    fn assign(&mut self, person: usize, date: NaiveDate) {
        if date > self.month_end(self.months - 1) || !self.people[person].active {
            return;
        }
        let record = AssignmentRecord {
            person_id: self.people[person].record.person_id.clone(),
            unit_id: self.unit_of(person),
            manager_id: self
                .manager_of(person)
                .map(|m| self.people[m].record.person_id.clone()),
            valid_from: date,
        };
        self.pending.insert((person, date), record);
    }

    /// Writes the assignments dated up to `until`; later ones (a change already known for
    /// next month) wait, so that a person never gets two rows for one day.
    fn flush_assignments(&mut self, until: NaiveDate) -> std::io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        for ((person, date), record) in pending {
            if date <= until {
                self.sink.assignment(&record)?;
                self.counters.assignments += 1;
            } else {
                self.pending.insert((person, date), record);
            }
        }
        Ok(())
    }

    fn new_team(&mut self, bu: usize, dept: usize, m: u32) -> usize {
        let index = self.teams.len();
        let unit_id = format!("U{}T{}", self.era, index);
        let parent = self.bus[bu].unit_id.clone();
        let from = self.month_start(m);
        let unit = self.add_unit(unit_id.clone(), format!("Team {index}"), Some(parent), from);
        self.dept_teams[dept].push(index);
        self.teams.push(Team {
            unit_id,
            unit,
            bu,
            dept,
            manager: None,
            members: Vec::new(),
            alive: true,
            created: m,
        });
        index
    }

    fn join_team(&mut self, person: usize, team: usize) {
        if let Some(old) = self.people[person].team {
            self.teams[old].members.retain(|p| *p != person);
            if self.teams[old].manager == Some(person) {
                self.teams[old].manager = None;
            }
        }
        self.people[person].team = Some(team);
        self.people[person].role = Role::Member;
        self.teams[team].members.push(person);
    }

    /// The business unit a department belongs to in the current era.
    fn bu_for_dept(&self, dept: usize) -> usize {
        dept % self.bus.len().max(1)
    }

    /// A new era: new business units (few in odd eras, one per department in even ones), new
    /// teams for everyone, the old units dissolved the day before.
    fn restructure(&mut self, m: u32) {
        let date = self.month_start(m);
        let last_day = date.pred_opt().unwrap_or(date);
        let old_teams: Vec<usize> = (0..self.teams.len())
            .filter(|t| self.teams[*t].alive)
            .collect();
        let old_heads: Vec<usize> = self.bus.iter().map(|b| b.head).collect();
        if m > 0 {
            for unit in self.bus.iter().map(|b| b.unit).collect::<Vec<_>>() {
                self.end_unit(unit, last_day);
            }
            for &t in &old_teams {
                self.end_unit(self.teams[t].unit, last_day);
                self.teams[t].alive = false;
            }
            for teams in &mut self.dept_teams {
                teams.clear();
            }
            self.era += 1;
        }
        let depts = self.dept_ability.len();
        let count = if self.era % 2 == 1 {
            (depts / 4).max(2)
        } else {
            depts
        };
        self.bus.clear();
        for &h in &old_heads {
            self.people[h].role = Role::Member;
        }
        for b in 0..count {
            let head = match old_heads.get(b) {
                Some(&h) if self.people[h].active => h,
                _ => {
                    // A new head is taken from the members.
                    let candidates: Vec<usize> = (1..self.people.len())
                        .filter(|p| self.people[*p].active && self.people[*p].role == Role::Member)
                        .collect();
                    let pick = candidates[self.rng.below(candidates.len())];
                    if let Some(t) = self.people[pick].team {
                        self.teams[t].members.retain(|p| *p != pick);
                        if self.teams[t].manager == Some(pick) {
                            self.teams[t].manager = None;
                        }
                    }
                    pick
                }
            };
            let unit_id = format!("U{}B{}", self.era, b);
            let unit = self.add_unit(
                unit_id.clone(),
                format!("Business unit {b} (era {})", self.era),
                Some("U0".into()),
                date,
            );
            self.people[head].role = Role::Head(b);
            self.people[head].team = None;
            self.bus.push(Bu {
                unit_id,
                unit,
                head,
            });
        }
        // Heads no longer needed go back to a team.
        let surplus: Vec<usize> = old_heads
            .iter()
            .copied()
            .filter(|h| self.people[*h].active && self.people[*h].role == Role::Member)
            .collect();
        // Teams carry over with new ids; 15% of members are reshuffled within their unit.
        let mut carried: Vec<usize> = Vec::new();
        for &t in &old_teams {
            let dept = self.teams[t].dept;
            let bu = self.bu_for_dept(dept);
            let new = self.new_team(bu, dept, m);
            let members = std::mem::take(&mut self.teams[t].members);
            let manager = self.teams[t].manager;
            for p in members {
                if matches!(self.people[p].role, Role::Head(_)) {
                    continue;
                }
                self.people[p].team = None;
                self.join_team(p, new);
            }
            self.teams[new].manager = manager.filter(|mgr| self.teams[new].members.contains(mgr));
            carried.push(new);
        }
        for h in surplus {
            let dept = self.people[h].dept;
            let team = self.team_for_dept(dept, m);
            self.people[h].team = None;
            self.join_team(h, team);
        }
        let shuffle: Vec<usize> = carried
            .iter()
            .flat_map(|t| self.teams[*t].members.clone())
            .filter(|_| self.rng.chance(0.15))
            .collect();
        for p in shuffle {
            let dept = self.people[p].teams_dept(&self.teams);
            let options = &self.dept_teams[dept];
            if let Some(&t) = options.get(self.rng.below(options.len().max(1))) {
                self.join_team(p, t);
            }
        }
        for t in carried {
            self.ensure_manager(t);
        }
        for p in 0..self.people.len() {
            if self.people[p].active {
                self.assign(p, date);
            }
        }
    }

    fn ensure_manager(&mut self, team: usize) {
        if self.teams[team].manager.is_none() && !self.teams[team].members.is_empty() {
            let members: Vec<usize> = self.teams[team]
                .members
                .iter()
                .copied()
                .filter(|p| self.people[*p].active)
                .collect();
            self.teams[team].manager = self.rng.pick(&members).copied();
        }
    }

    /// A team of the department in the current era with room, or a new one.
    fn team_for_dept(&mut self, dept: usize, m: u32) -> usize {
        let bu = self.bu_for_dept(dept);
        let best = self.dept_teams[dept]
            .iter()
            .copied()
            .filter(|t| self.teams[*t].alive && self.teams[*t].bu == bu)
            .min_by_key(|t| self.teams[*t].members.len());
        match best {
            Some(t) if self.teams[t].members.len() < self.config.team_size => t,
            _ => self.new_team(bu, dept, m),
        }
    }

    fn setup(&mut self) {
        let start = self.month_start(0);
        self.add_unit("U0".into(), "Company".into(), None, start);
        let depts = self.dept_ability.len();
        for i in 0..self.config.people {
            self.hire(0, i % depts);
        }
        self.people[0].role = Role::Ceo;
        // Business units and their heads, then teams per department.
        let count = depts;
        for b in 0..count {
            let head = b + 1;
            let unit_id = format!("U0B{b}");
            let unit = self.add_unit(
                unit_id.clone(),
                format!("Business unit {b} (era 0)"),
                Some("U0".into()),
                start,
            );
            self.people[head].role = Role::Head(b);
            self.bus.push(Bu {
                unit_id,
                unit,
                head,
            });
        }
        for p in (count + 1)..self.people.len() {
            let dept = self.people[p].dept;
            let team = self.team_for_dept(dept, 0);
            self.join_team(p, team);
        }
        for t in 0..self.teams.len() {
            self.ensure_manager(t);
        }
        for p in 0..self.people.len() {
            self.assign(p, start);
        }
        // The value tree's top: customer needs, and this year's objectives.
        let needs = (self.config.people / 5_000).max(2);
        for n in 0..needs {
            let lead = self.bus[n % self.bus.len()].head;
            let node = self.add_node(
                NodeKind::Need,
                format!("Customer need {n}"),
                lead,
                start,
                false,
            );
            self.needs.push(node);
        }
        self.add_objectives(0);
    }

    fn add_objectives(&mut self, m: u32) {
        let per_year = (self.config.people / 500).max(2) / self.config.years.max(1) as usize + 1;
        let date = self.month_start(m);
        for _ in 0..per_year {
            let lead = self.bus[self.rng.below(self.bus.len())].head;
            let index = self.objectives.len();
            let node = self.add_node(
                NodeKind::Objective,
                format!("Objective {index}"),
                lead,
                date,
                false,
            );
            let need = self.needs[self.rng.below(self.needs.len())];
            self.link(need, node, 0.08, None);
            if self.rng.chance(0.1) {
                let other = self.needs[self.rng.below(self.needs.len())];
                if other != need {
                    self.link(other, node, 0.04, None);
                }
            }
            self.objectives.push(node);
        }
    }

    fn add_node(
        &mut self,
        kind: NodeKind,
        title: String,
        lead: usize,
        created: NaiveDate,
        flagpole: bool,
    ) -> usize {
        let index = self.nodes.len();
        let prefix = match kind {
            NodeKind::Need => "NEED",
            NodeKind::Objective => "OBJ",
            NodeKind::Initiative => "INI",
            NodeKind::Deliverable => "DEL",
        };
        self.nodes.push(NodeRecord {
            node_id: format!("{prefix}{index}"),
            kind,
            title,
            lead_id: Some(self.people[lead].record.person_id.clone()),
            created_on: created,
            status: NodeStatus::Active,
            flagpole,
            description: String::new(),
        });
        self.node_budget.push(1.0);
        index
    }

    /// Links parent → child with the desired weight, capped so the parent's children never
    /// weigh more than 1 in total.
    fn link(&mut self, parent: usize, child: usize, desired: f64, from: Option<NaiveDate>) {
        let w = weight(desired.min(self.node_budget[parent]));
        self.node_budget[parent] -= w;
        let record = EdgeRecord {
            parent_id: self.nodes[parent].node_id.clone(),
            child_id: self.nodes[child].node_id.clone(),
            weight: Amount(w),
            valid_from: from,
            valid_to: None,
        };
        if let Err(e) = self.sink.edge(&record) {
            // Surfaced by `run` at the end of the month (linking happens deep in the model).
            self.deferred_error.get_or_insert(e);
        }
    }

    fn add_member(&mut self, init: usize, person: usize, role: &str, date: NaiveDate) {
        let row = self.members.len();
        self.members.push(MemberRecord {
            node_id: self.nodes[self.initiatives[init].node].node_id.clone(),
            person_id: self.people[person].record.person_id.clone(),
            role: role.to_string(),
            joined_on: date,
            left_on: None,
        });
        self.initiatives[init].members.push((person, row));
        self.people[person].memberships += 1;
        self.people[person].inits.push(init);
    }

    fn end_membership(&mut self, init: usize, person: usize, last_day: NaiveDate) {
        let members = std::mem::take(&mut self.initiatives[init].members);
        let mut kept = Vec::with_capacity(members.len());
        for (p, row) in members {
            if p == person {
                // Joined and left the same day is still a membership of one day.
                let joined = self.members[row].joined_on;
                self.members[row].left_on = Some(last_day.max(joined));
                self.initiatives[init].former.push((p, last_day));
                self.people[p].memberships = self.people[p].memberships.saturating_sub(1);
                self.people[p].inits.retain(|i| *i != init);
            } else {
                kept.push((p, row));
            }
        }
        self.initiatives[init].members = kept;
    }

    fn close_initiative(&mut self, init: usize, last_day: NaiveDate, status: NodeStatus) {
        let people: Vec<usize> = self.initiatives[init]
            .members
            .iter()
            .map(|(p, _)| *p)
            .collect();
        for p in people {
            self.end_membership(init, p, last_day);
        }
        self.initiatives[init].closed = true;
        let node = self.initiatives[init].node;
        self.nodes[node].status = status;
        for d in self.initiatives[init].deliverables.clone() {
            self.nodes[d].status = status;
        }
    }

    // ---- the value tree at work ------------------------------------------------------------

    fn live_teams(&self) -> Vec<usize> {
        (0..self.teams.len())
            .filter(|t| self.teams[*t].alive && self.teams[*t].members.len() >= 3)
            .collect()
    }

    fn start_initiatives(&mut self, m: u32) {
        let total = (self.config.people / 12).max(4) as f64;
        let per_month = total / f64::from(self.months);
        let mut count = per_month.floor() as usize;
        if self.rng.chance(per_month.fract()) {
            count += 1;
        }
        let date = self.month_start(m);
        let teams = self.live_teams();
        for _ in 0..count {
            let Some(&team) = self.rng.pick(&teams) else {
                return;
            };
            let flagpole = self.rng.chance(self.config.flagpole_rate);
            let index = self.initiatives.len();
            let members: Vec<usize> = if flagpole {
                // Raised bottom-up: a founder, and people from several units who join.
                let mut chosen = Vec::new();
                for _ in 0..3 {
                    if let Some(&t) = self.rng.pick(&teams) {
                        let pool = self.teams[t].members.clone();
                        if let Some(&p) = self.rng.pick(&pool)
                            && !chosen.contains(&p)
                        {
                            chosen.push(p);
                        }
                    }
                }
                chosen
            } else {
                let mut pool = self.teams[team].members.clone();
                let size = (3 + self.rng.below(4)).min(pool.len());
                let mut chosen = Vec::new();
                for _ in 0..size {
                    let i = self.rng.below(pool.len());
                    chosen.push(pool.swap_remove(i));
                }
                chosen
            };
            let Some(&lead) = members.first() else {
                continue;
            };
            let title = if flagpole {
                format!("Flagpole {index}")
            } else {
                format!("Initiative {index}")
            };
            let node = self.add_node(NodeKind::Initiative, title, lead, date, flagpole);
            let objective = self.objectives[self.rng.below(self.objectives.len())];
            self.link(objective, node, 0.04, Some(date));
            if self.rng.chance(0.15) {
                let other = self.objectives[self.rng.below(self.objectives.len())];
                if other != objective {
                    self.link(other, node, 0.02, Some(date));
                }
            }
            let owner = self.people[lead].team.unwrap_or(team);
            self.initiatives.push(Initiative {
                node,
                team: owner,
                lead,
                members: Vec::new(),
                phase: Phase::Discover,
                phase_end: m + self.rng.between(0, 2),
                deliverables: Vec::new(),
                objective,
                value_sum: 0.0,
                outcome_due: Vec::new(),
                closed: false,
                former: Vec::new(),
                handed_over_on: None,
            });
            for (i, p) in members.into_iter().enumerate() {
                let role = if i == 0 {
                    if flagpole { "founder" } else { "lead" }
                } else {
                    "member"
                };
                self.add_member(index, p, role, date);
            }
        }
    }

    /// Everyone without work joins an open initiative: one of their team's, else one of their
    /// business unit's, else a flagpole anywhere. (Work follows the value tree, not the chart.)
    fn staff_initiatives(&mut self, m: u32) {
        let date = self.month_start(m);
        let mut by_team: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut by_bu: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut flagpoles = Vec::new();
        for (i, init) in self.initiatives.iter().enumerate() {
            if init.closed || init.phase == Phase::Operate {
                continue;
            }
            if self.nodes[init.node].flagpole {
                flagpoles.push(i);
            }
            by_team.entry(init.team).or_default().push(i);
            by_bu.entry(self.teams[init.team].bu).or_default().push(i);
        }
        for p in 1..self.people.len() {
            let person = &self.people[p];
            if !person.active || person.memberships > 0 || person.role != Role::Member {
                continue;
            }
            let Some(team) = person.team else { continue };
            let bu = self.teams[team].bu;
            let options = match (by_team.get(&team), by_bu.get(&bu)) {
                (Some(own), _) if !own.is_empty() => own.clone(),
                (_, Some(unit)) if !unit.is_empty() => unit.clone(),
                _ => flagpoles.clone(),
            };
            if let Some(&init) = self.rng.pick(&options) {
                self.add_member(init, p, "member", date);
            }
        }
    }

    fn contribute(&mut self, m: u32) -> std::io::Result<()> {
        let month_in_cycle = m % 6;
        for init in 0..self.initiatives.len() {
            if self.initiatives[init].closed {
                continue;
            }
            let phase = self.initiatives[init].phase;
            let rate = if phase == Phase::Operate { 0.3 } else { 1.0 };
            let members = self.initiatives[init].members.clone();
            let owner = self.initiatives[init].team;
            let owner_bu = self.teams[owner].bu;
            let this_month = self.month_start(m);
            for (person, row) in members {
                let ability = self.people[person].ability;
                // People get up to speed on a node over about three months.
                let months_on = (this_month - self.members[row].joined_on).num_days() as f64 / 30.0;
                let ramp = 0.6 + 0.4 * (months_on / 3.0).min(1.0);
                // What the current manager sees: recent months, and work in their own unit.
                let proximity = match self.people[person].team {
                    Some(t) if t == owner => 1.0,
                    Some(t) if self.teams[t].bu == owner_bu => 0.6,
                    _ => 0.3,
                };
                let seen = if month_in_cycle >= 3 { 1.0 } else { 0.3 } * proximity;
                let draw = self.rng.unit() / rate;
                let count = if draw < 0.2 {
                    0
                } else if draw < 0.55 {
                    1
                } else if draw < 0.85 {
                    2
                } else if draw < 1.0 {
                    3
                } else {
                    0
                };
                for _ in 0..count {
                    let deliverables = &self.initiatives[init].deliverables;
                    let node = if phase == Phase::Build
                        && !deliverables.is_empty()
                        && self.rng.chance(0.6)
                    {
                        deliverables[self.rng.below(deliverables.len())]
                    } else {
                        self.initiatives[init].node
                    };
                    let effort = (ramp
                        * (3f64.ln() + 0.25 * ability + 0.5 * self.rng.normal()).exp())
                    .round()
                    .clamp(1.0, 20.0);
                    let true_value = effort * (0.35 * ability).exp() * phase_factor(phase);
                    self.contribution_seq += 1;
                    let confirmed =
                        self.rng
                            .chance(if self.nodes[self.initiatives[init].node].flagpole {
                                0.6
                            } else {
                                0.85
                            });
                    let date = self.day_in(m);
                    let record = ContributionRecord {
                        contribution_id: format!("C{:09}", self.contribution_seq),
                        person_id: self.people[person].record.person_id.clone(),
                        node_id: self.nodes[node].node_id.clone(),
                        phase,
                        date,
                        effort: Amount(effort),
                        description: String::new(),
                        evidence: None,
                        confirmed,
                    };
                    self.sink.contribution(&record)?;
                    self.counters.contributions += 1;
                    self.initiatives[init].value_sum += true_value;
                    *self.cycle.value.entry(person).or_default() += true_value;
                    *self.cycle.recent_own.entry(person).or_default() += seen * true_value;
                    let inits = self.cycle.inits.entry(person).or_default();
                    match inits.iter_mut().find(|(i, _)| *i == init) {
                        Some(entry) => entry.1 += true_value,
                        None => inits.push((init, true_value)),
                    }
                    let contributors = self.cycle.contributors.entry(init).or_default();
                    if !contributors.contains(&person) {
                        contributors.push(person);
                    }
                    *self.cycle.truth.entry((person, node)).or_default() += true_value;
                }
            }
        }
        Ok(())
    }

    /// Moves initiatives through their phases at the end of month `m`.
    fn advance(&mut self, m: u32) -> std::io::Result<()> {
        let next = m + 1;
        let in_horizon = next < self.months;
        for init in 0..self.initiatives.len() {
            if self.initiatives[init].closed {
                continue;
            }
            let due: Vec<u32> = self.initiatives[init].outcome_due.clone();
            if due.contains(&m) {
                self.record_outcome(init, m)?;
            }
            if self.initiatives[init].phase_end > m {
                continue;
            }
            let end = self.month_end(m);
            match self.initiatives[init].phase {
                Phase::Discover => self.enter(init, Phase::Design, m, 1, 3),
                Phase::Design => {
                    if self.rng.chance(0.10) {
                        self.close_initiative(init, end, NodeStatus::Abandoned);
                    } else {
                        if in_horizon && self.rng.chance(self.config.handover_rate) {
                            self.hand_over(
                                init,
                                next,
                                "design done; another team builds and launches it",
                            )?;
                        }
                        self.enter(init, Phase::Build, m, 2, 6);
                        self.add_deliverables(init, next.min(self.months - 1));
                    }
                }
                Phase::Build => {
                    if self.rng.chance(0.05) {
                        self.close_initiative(init, end, NodeStatus::Abandoned);
                    } else {
                        self.enter(init, Phase::Launch, m, 1, 1);
                    }
                }
                Phase::Launch => {
                    // Outcomes arrive months after launch, often after the early people moved on.
                    let first = m + self.rng.between(3, 9);
                    self.initiatives[init].outcome_due.push(first);
                    if self.rng.chance(0.25) {
                        self.initiatives[init].outcome_due.push(first + 6);
                    }
                    self.enter(init, Phase::Operate, m, 3, 9);
                }
                Phase::Operate => {
                    self.close_initiative(init, end, NodeStatus::Done);
                    // Outcomes still due arrive after the work stopped.
                    let node = self.initiatives[init].node;
                    self.nodes[node].status = NodeStatus::Done;
                }
            }
        }
        // Outcomes of closed initiatives still arrive.
        for init in 0..self.initiatives.len() {
            if self.initiatives[init].closed
                && self.initiatives[init].outcome_due.contains(&m)
                && self.nodes[self.initiatives[init].node].status == NodeStatus::Done
            {
                self.record_outcome(init, m)?;
            }
        }
        Ok(())
    }

    fn enter(&mut self, init: usize, phase: Phase, m: u32, min: u32, max: u32) {
        self.initiatives[init].phase = phase;
        self.initiatives[init].phase_end = m + self.rng.between(min, max);
    }

    fn add_deliverables(&mut self, init: usize, m: u32) {
        let date = self.month_start(m);
        let count = 1 + self.rng.below(2);
        let lead = self.initiatives[init].lead;
        let parent = self.initiatives[init].node;
        for _ in 0..count {
            let index = self.nodes.len();
            let node = self.add_node(
                NodeKind::Deliverable,
                format!("Deliverable {index}"),
                lead,
                date,
                false,
            );
            self.link(parent, node, 0.12, Some(date));
            if self.rng.chance(0.1) {
                let others: Vec<usize> = (0..self.initiatives.len())
                    .rev()
                    .take(50)
                    .filter(|i| *i != init && !self.initiatives[*i].closed)
                    .collect();
                if let Some(&other) = self.rng.pick(&others) {
                    let other_node = self.initiatives[other].node;
                    self.link(other_node, node, 0.05, Some(date));
                }
            }
            self.initiatives[init].deliverables.push(node);
        }
    }

    fn record_outcome(&mut self, init: usize, m: u32) -> std::io::Result<()> {
        let date = self.day_in(m);
        let value =
            (2.0 * self.initiatives[init].value_sum * (0.25 * self.rng.normal()).exp()).round();
        self.outcome_seq += 1;
        let node = self.initiatives[init].node;
        let record = OutcomeRecord {
            outcome_id: format!("O{:07}", self.outcome_seq),
            node_id: self.nodes[node].node_id.clone(),
            date,
            value: Amount(value),
            description: format!("value realised by {}", self.nodes[node].title),
            evidence: None,
        };
        self.sink.outcome(&record)?;
        self.counters.outcomes += 1;
        if self.stories.moved_off.is_none() {
            let former = self.initiatives[init].former.clone();
            for (p, left) in former {
                if left < date && self.people[p].active {
                    self.stories.moved_off = Some(Persona {
                        role: "employee",
                        person_id: self.people[p].record.person_id.clone(),
                        story: format!(
                            "worked on {} \"{}\" until {left}, then was moved off; its outcome of {value} came on {date}, and their share is still theirs",
                            self.nodes[node].node_id, self.nodes[node].title
                        ),
                    });
                    break;
                }
            }
        }
        Ok(())
    }

    /// Hands an initiative to another team on the first day of month `m`.
    fn hand_over(&mut self, init: usize, m: u32, note: &str) -> std::io::Result<()> {
        let teams = self.live_teams();
        let current = self.initiatives[init].team;
        let candidates: Vec<usize> = teams.into_iter().filter(|t| *t != current).collect();
        let Some(&team) = self.rng.pick(&candidates) else {
            return Ok(());
        };
        let date = self.month_start(m);
        if self.initiatives[init].handed_over_on == Some(date) {
            return Ok(());
        }
        self.initiatives[init].handed_over_on = Some(date);
        let last_day = date.pred_opt().unwrap_or(date);
        let old_lead = self.initiatives[init].lead;
        let people: Vec<usize> = self.initiatives[init]
            .members
            .iter()
            .map(|(p, _)| *p)
            .collect();
        for p in people {
            self.end_membership(init, p, last_day);
        }
        let mut pool = self.teams[team].members.clone();
        let size = (3 + self.rng.below(3)).min(pool.len());
        let mut newcomers = Vec::new();
        for _ in 0..size {
            let i = self.rng.below(pool.len());
            newcomers.push(pool.swap_remove(i));
        }
        let Some(&lead) = newcomers.first() else {
            return Ok(());
        };
        for (i, p) in newcomers.into_iter().enumerate() {
            self.add_member(init, p, if i == 0 { "lead" } else { "member" }, date);
        }
        let from_unit = self.teams[current].unit_id.clone();
        self.initiatives[init].team = team;
        self.initiatives[init].lead = lead;
        let node = self.initiatives[init].node;
        let record = HandoverRecord {
            node_id: self.nodes[node].node_id.clone(),
            date,
            from_lead_id: Some(self.people[old_lead].record.person_id.clone()),
            to_lead_id: Some(self.people[lead].record.person_id.clone()),
            from_unit_id: Some(from_unit),
            to_unit_id: Some(self.teams[team].unit_id.clone()),
            note: note.to_string(),
        };
        self.sink.handover(&record)?;
        self.counters.handovers += 1;
        if self.stories.inherited.is_none() && note.starts_with("design") {
            self.stories.inherited = Some(Persona {
                role: "lead",
                person_id: self.people[lead].record.person_id.clone(),
                story: format!(
                    "inherited {} \"{}\" on {date} from {} after its discovery and design",
                    self.nodes[node].node_id,
                    self.nodes[node].title,
                    self.people[old_lead].record.person_id
                ),
            });
        }
        Ok(())
    }

    // ---- the org in motion -------------------------------------------------------------------

    fn rotate(&mut self, m: u32) {
        if self.bus.len() < 2 {
            return;
        }
        let date = self.month_start(m);
        let from_bu = self.rng.below(self.bus.len());
        let managers: std::collections::HashSet<usize> = self
            .teams
            .iter()
            .filter(|t| t.alive)
            .filter_map(|t| t.manager)
            .collect();
        let movers: Vec<usize> = (0..self.teams.len())
            .filter(|t| self.teams[*t].alive && self.teams[*t].bu == from_bu)
            .flat_map(|t| self.teams[t].members.clone())
            .filter(|p| !managers.contains(p))
            .collect();
        let targets: Vec<usize> = (0..self.teams.len())
            .filter(|t| self.teams[*t].alive && self.teams[*t].bu != from_bu)
            .collect();
        for p in movers {
            if self.rng.chance(self.config.rotation_rate)
                && let Some(&t) = self.rng.pick(&targets)
            {
                self.join_team(p, t);
                self.assign(p, date);
            }
        }
    }

    fn churn_teams(&mut self, m: u32) {
        let date = self.month_start(m);
        let alive: Vec<usize> = (0..self.teams.len())
            .filter(|t| self.teams[*t].alive)
            .collect();
        for &t in &alive {
            // A team dissolved; its people go to other teams of the same department.
            if self.teams[t].created < m && self.rng.chance(0.005) {
                let dept = self.teams[t].dept;
                let others: Vec<usize> = self.dept_teams[dept]
                    .iter()
                    .copied()
                    .filter(|o| *o != t && self.teams[*o].alive)
                    .collect();
                if others.is_empty() {
                    continue;
                }
                let members = self.teams[t].members.clone();
                for p in members {
                    let target = others[self.rng.below(others.len())];
                    self.join_team(p, target);
                    self.assign(p, date);
                }
                self.teams[t].alive = false;
                self.end_unit(self.teams[t].unit, date.pred_opt().unwrap_or(date));
                continue;
            }
            // A manager moves to another team of the unit, and some reports follow.
            if self.rng.chance(0.02) {
                let (bu, dept) = (self.teams[t].bu, self.teams[t].dept);
                let others: Vec<usize> = self.dept_teams[dept]
                    .iter()
                    .copied()
                    .filter(|o| {
                        *o != t
                            && self.teams[*o].alive
                            && self.teams[*o].bu == bu
                            && self.teams[*o].manager.is_some()
                    })
                    .collect();
                let (Some(&other), Some(moving)) = (self.rng.pick(&others), self.teams[t].manager)
                else {
                    continue;
                };
                let Some(incoming) = self.teams[other].manager else {
                    continue;
                };
                let followers: Vec<usize> = self.teams[t]
                    .members
                    .iter()
                    .copied()
                    .filter(|p| *p != moving)
                    .filter(|_| self.rng.chance(0.3))
                    .collect();
                self.join_team(moving, other);
                self.join_team(incoming, t);
                self.teams[other].manager = Some(moving);
                self.teams[t].manager = Some(incoming);
                for p in followers {
                    self.join_team(p, other);
                }
                let affected: Vec<usize> = self.teams[t]
                    .members
                    .iter()
                    .chain(self.teams[other].members.iter())
                    .copied()
                    .collect();
                for p in affected {
                    self.assign(p, date);
                }
                if self.stories.new_manager.is_none() && m % 6 >= 2 {
                    let reports = self.teams[t].members.len().saturating_sub(1);
                    self.stories.new_manager = Some(Persona {
                        role: "manager",
                        person_id: self.people[incoming].record.person_id.clone(),
                        story: format!(
                            "took over team {} on {date}, inheriting {reports} reports mid-cycle; their whole records came along",
                            self.teams[t].unit_id
                        ),
                    });
                }
            }
        }
    }

    fn leave(&mut self, m: u32) -> std::io::Result<()> {
        let last_day = self.month_end(m);
        let p_leave = self.config.attrition / 12.0;
        // Everyone who leaves this month is known first, so that no successor chosen below is
        // leaving too.
        let leavers: Vec<usize> = (0..self.people.len())
            .filter(|p| self.people[*p].active && self.people[*p].role == Role::Member)
            .filter(|_| self.rng.chance(p_leave))
            .collect();
        for &p in &leavers {
            self.people[p].active = false;
            self.people[p].record.left_on = Some(last_day);
        }
        for p in leavers {
            let later: Vec<(usize, NaiveDate)> = self
                .pending
                .range((p, last_day)..(p + 1, NaiveDate::MIN))
                .map(|(k, _)| *k)
                .filter(|(_, date)| *date > last_day)
                .collect();
            for key in later {
                self.pending.remove(&key);
            }
            if let Some(t) = self.people[p].team {
                self.teams[t].members.retain(|x| *x != p);
                if self.teams[t].manager == Some(p) {
                    self.teams[t].manager = None;
                    self.ensure_manager(t);
                    let members = self.teams[t].members.clone();
                    for member in members {
                        self.assign(member, self.month_start(m + 1));
                    }
                }
            }
            for init in self.people[p].inits.clone() {
                if self.initiatives[init].closed {
                    continue;
                }
                self.end_membership(init, p, last_day);
                if self.initiatives[init].lead == p && m + 1 < self.months {
                    let remaining: Vec<usize> = self.initiatives[init]
                        .members
                        .iter()
                        .map(|(x, _)| *x)
                        .filter(|x| self.people[*x].active)
                        .collect();
                    if let Some(&next_lead) = self.rng.pick(&remaining) {
                        let node = self.initiatives[init].node;
                        let unit = self.teams[self.initiatives[init].team].unit_id.clone();
                        let record = HandoverRecord {
                            node_id: self.nodes[node].node_id.clone(),
                            date: self.month_start(m + 1),
                            from_lead_id: Some(self.people[p].record.person_id.clone()),
                            to_lead_id: Some(self.people[next_lead].record.person_id.clone()),
                            from_unit_id: Some(unit.clone()),
                            to_unit_id: Some(unit),
                            note: "the lead left the company".into(),
                        };
                        self.sink.handover(&record)?;
                        self.counters.handovers += 1;
                        self.initiatives[init].lead = next_lead;
                        self.initiatives[init].handed_over_on = Some(self.month_start(m + 1));
                    }
                }
            }
        }
        Ok(())
    }

    fn hire_replacements(&mut self, m: u32) {
        let active = self.people.iter().filter(|p| p.active).count();
        let date = self.month_start(m);
        let depts = self.dept_ability.len();
        for _ in active..self.config.people {
            let dept = self.rng.below(depts);
            let p = self.hire(m, dept);
            let team = self.team_for_dept(dept, m);
            self.join_team(p, team);
            self.ensure_manager(team);
            self.assign(p, date);
        }
    }

    // ---- review cycles ------------------------------------------------------------------------

    fn leniency(&self, rater: usize) -> f64 {
        let dept = match self.people[rater].team {
            Some(t) => self.teams[t].dept,
            None => self.people[rater].dept,
        };
        self.dept_culture[dept] + self.config.rater_bias * self.people[rater].lenience
    }

    fn score(&mut self, signal: f64, rater: Option<usize>, noise: f64) -> u8 {
        let lenient = rater.map_or(0.0, |r| self.leniency(r));
        (3.0 + 0.9 * signal + lenient + noise * self.rng.normal())
            .round()
            .clamp(1.0, 5.0) as u8
    }

    fn rate_cycle(&mut self, m: u32) -> std::io::Result<()> {
        let date = self.month_end(m);
        let cycle_start = self.month_start(m - 5);
        let cycle_id = format!("{}H{}", date.year(), if date.month() <= 6 { 1 } else { 2 });
        let cycle = std::mem::take(&mut self.cycle);
        // Who is rated: employed at the end, and at least three months in the cycle.
        let rated: Vec<usize> = (1..self.people.len())
            .filter(|p| self.people[*p].active)
            .filter(|p| {
                let joined = self.people[*p].record.joined_on;
                joined
                    <= cycle_start
                        .checked_add_months(Months::new(3))
                        .unwrap_or(cycle_start)
            })
            .collect();
        let per_month = |p: usize| {
            let joined = self.people[p].record.joined_on.max(cycle_start);
            let months = f64::from(
                (date.year() - joined.year()) * 12 + date.month() as i32 - joined.month() as i32
                    + 1,
            );
            cycle.value.get(&p).copied().unwrap_or(0.0) / months.max(1.0)
        };
        let perf: Vec<f64> = rated.iter().map(|p| per_month(*p)).collect();
        let recent: Vec<f64> = rated
            .iter()
            .map(|p| cycle.recent_own.get(p).copied().unwrap_or(0.0))
            .collect();
        let z = standardize(&perf);
        let z_recent = standardize(&recent);
        let z_of: HashMap<usize, f64> = rated.iter().copied().zip(z.iter().copied()).collect();
        for (i, &p) in rated.iter().enumerate() {
            let entry = self.truth_sum.entry(p).or_insert((0.0, 0));
            entry.0 += z[i];
            entry.1 += 1;
        }
        let mut rows: Vec<(usize, usize, &'static str, &'static str, u8)> = Vec::new();
        for (i, &p) in rated.iter().enumerate() {
            let manager = self.manager_of(p);
            let mut raters = 0;
            if let Some(mgr) = manager {
                // The current manager sees the recent months, and the work in their own unit.
                let score = self.score(z_recent[i], Some(mgr), 0.45);
                rows.push((mgr, p, "manager", "results", score));
                let values = self.score(0.8 * self.people[p].values, Some(mgr), 0.5);
                rows.push((mgr, p, "manager", "values", values));
                raters += 1;
            }
            let mut inits = cycle.inits.get(&p).cloned().unwrap_or_default();
            inits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            if let Some(&(main, _)) = inits.first() {
                let lead = self.initiatives[main].lead;
                if raters < self.config.raters_per_person
                    && lead != p
                    && Some(lead) != manager
                    && self.people[lead].active
                {
                    let score = self.score(z[i], Some(lead), 0.5);
                    rows.push((lead, p, "lead", "results", score));
                    raters += 1;
                }
                let customer = self.nodes[self.initiatives[main].objective].lead_id.clone();
                let customer = customer
                    .and_then(|id| id[1..].parse::<usize>().ok())
                    .map(|n| n - 1);
                if let Some(c) = customer
                    && raters < self.config.raters_per_person
                    && c != p
                    && Some(c) != manager
                    && self.people[c].active
                    && self.rng.chance(0.5)
                {
                    let score = self.score(z[i], Some(c), 0.8);
                    rows.push((c, p, "customer", "results", score));
                    raters += 1;
                }
            }
            let mut peers: Vec<usize> = inits
                .iter()
                .flat_map(|(init, _)| cycle.contributors.get(init).cloned().unwrap_or_default())
                .filter(|q| *q != p && Some(*q) != manager && self.people[*q].active)
                .collect();
            peers.sort_unstable();
            peers.dedup();
            while raters < self.config.raters_per_person && !peers.is_empty() {
                let q = peers.swap_remove(self.rng.below(peers.len()));
                let score = self.score(z[i], Some(q), 0.6);
                rows.push((q, p, "peer", "results", score));
                raters += 1;
            }
            let self_score = (3.4 + 0.5 * z[i] + 0.6 * self.rng.normal())
                .round()
                .clamp(1.0, 5.0) as u8;
            rows.push((p, p, "self", "results", self_score));
            // Upward feedback: two reports rate their manager.
            let reports: Vec<usize> = match self.people[p].team {
                Some(t) if self.teams[t].manager == Some(p) => self.teams[t]
                    .members
                    .iter()
                    .copied()
                    .filter(|q| *q != p)
                    .collect(),
                _ => Vec::new(),
            };
            for _ in 0..2.min(reports.len()) {
                let q = reports[self.rng.below(reports.len())];
                let signal = z_of.get(&p).copied().unwrap_or(0.0);
                let score = self.score(signal, Some(q), 0.7);
                rows.push((q, p, "report", "results", score));
            }
        }
        for (rater, ratee, relationship, dimension, score) in rows {
            let (rater_unit, ratee_unit) = (self.bu_unit_of(rater), self.bu_unit_of(ratee));
            self.sink.rating(&RatingRow {
                cycle_id: &cycle_id,
                rater_id: &self.people[rater].record.person_id,
                ratee_id: &self.people[ratee].record.person_id,
                relationship,
                dimension,
                score,
                ratee_unit: &ratee_unit,
                rater_unit: &rater_unit,
            })?;
            self.counters.ratings += 1;
        }
        for ((person, node), value) in &cycle.truth {
            self.sink.truth_contribution(
                &self.people[*person].record.person_id,
                &self.nodes[*node].node_id,
                &cycle_id,
                *value,
            )?;
        }
        Ok(())
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
        for (p, (sum, count)) in &self.truth_sum {
            self.sink
                .truth(&self.people[*p].record.person_id, sum / f64::from(*count))?;
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
mod tests {
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
        fn truth(&mut self, person_id: &str, value: f64) -> std::io::Result<()> {
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
        let employed =
            |id: &str, date: NaiveDate| people.get(id).is_some_and(|p| p.employed_on(date));
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
            out.edges.iter().all(
                |e| nodes.contains(e.parent_id.as_str()) && nodes.contains(e.child_id.as_str())
            )
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
}
