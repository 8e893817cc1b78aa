//! The value tree at work: objectives, initiatives, staffing, contributions, phases,
//! hand-overs and outcomes.

use super::*;

impl Sim<'_> {
    pub(super) fn live_teams(&self) -> Vec<usize> {
        (0..self.teams.len())
            .filter(|t| self.teams[*t].alive && self.teams[*t].members.len() >= 3)
            .collect()
    }

    pub(super) fn start_initiatives(&mut self, m: u32) {
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
            let title = crate::names::initiative_title(self.config.seed, index);
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
    pub(super) fn staff_initiatives(&mut self, m: u32) {
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

    pub(super) fn contribute(&mut self, m: u32) -> std::io::Result<()> {
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
                        description: if self.config.describe_work {
                            crate::names::contribution_description(
                                self.config.seed,
                                self.contribution_seq,
                                phase as usize,
                                &self.nodes[node].title,
                            )
                        } else {
                            String::new()
                        },
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
    pub(super) fn advance(&mut self, m: u32) -> std::io::Result<()> {
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

    pub(super) fn enter(&mut self, init: usize, phase: Phase, m: u32, min: u32, max: u32) {
        self.initiatives[init].phase = phase;
        self.initiatives[init].phase_end = m + self.rng.between(min, max);
    }

    pub(super) fn add_deliverables(&mut self, init: usize, m: u32) {
        let date = self.month_start(m);
        let count = 1 + self.rng.below(2);
        let lead = self.initiatives[init].lead;
        let parent = self.initiatives[init].node;
        for _ in 0..count {
            let index = self.nodes.len();
            let title =
                crate::names::deliverable_title(self.config.seed, index, &self.nodes[parent].title);
            let node = self.add_node(NodeKind::Deliverable, title, lead, date, false);
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

    pub(super) fn record_outcome(&mut self, init: usize, m: u32) -> std::io::Result<()> {
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
    pub(super) fn hand_over(&mut self, init: usize, m: u32, note: &str) -> std::io::Result<()> {
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
        self.end_all_memberships(init, last_day);
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
}
