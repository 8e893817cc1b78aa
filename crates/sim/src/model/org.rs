//! People and the org chart: hiring, units, teams, restructures, rotations, churn, leavers.

use super::*;

impl Sim<'_> {
    pub(super) fn hire(&mut self, m: u32, dept: usize) -> usize {
        let index = self.people.len();
        let id = format!("P{:07}", index + 1);
        let ability = self.dept_ability[dept] + self.rng.normal();
        let person = Person {
            record: PersonRecord {
                person_id: id.clone(),
                name: crate::names::person_name(self.config.seed, index),
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

    pub(super) fn add_unit(
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

    pub(super) fn end_unit(&mut self, unit: usize, last_day: NaiveDate) {
        self.units[unit].valid_to = Some(last_day);
    }

    pub(super) fn unit_of(&self, person: usize) -> String {
        match self.people[person].role {
            Role::Ceo => "U0".to_string(),
            Role::Head(bu) => self.bus[bu].unit_id.clone(),
            Role::Member => self.people[person]
                .team
                .map_or("U0".to_string(), |t| self.teams[t].unit_id.clone()),
        }
    }

    pub(super) fn bu_unit_of(&self, person: usize) -> String {
        match self.people[person].role {
            Role::Ceo => "U0".to_string(),
            Role::Head(bu) => self.bus[bu].unit_id.clone(),
            Role::Member => self.people[person].team.map_or("U0".to_string(), |t| {
                self.bus[self.teams[t].bu].unit_id.clone()
            }),
        }
    }

    pub(super) fn manager_of(&self, person: usize) -> Option<usize> {
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
    pub(super) fn assign(&mut self, person: usize, date: NaiveDate) {
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
    pub(super) fn flush_assignments(&mut self, until: NaiveDate) -> std::io::Result<()> {
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

    pub(super) fn new_team(&mut self, bu: usize, dept: usize, m: u32) -> usize {
        let index = self.teams.len();
        let unit_id = format!("U{}T{}", self.era, index);
        let parent = self.bus[bu].unit_id.clone();
        let from = self.month_start(m);
        let unit = self.add_unit(
            unit_id.clone(),
            crate::names::team_name(index),
            Some(parent),
            from,
        );
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

    pub(super) fn join_team(&mut self, person: usize, team: usize) {
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
    pub(super) fn bu_for_dept(&self, dept: usize) -> usize {
        dept % self.bus.len().max(1)
    }

    /// A new era: new business units (few in odd eras, one per department in even ones), new
    /// teams for everyone, the old units dissolved the day before.
    pub(super) fn restructure(&mut self, m: u32) {
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
                crate::names::business_unit_name(b, self.era),
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

    pub(super) fn ensure_manager(&mut self, team: usize) {
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
    pub(super) fn team_for_dept(&mut self, dept: usize, m: u32) -> usize {
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

    pub(super) fn setup(&mut self) {
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
                crate::names::business_unit_name(b, 0),
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
                crate::names::need_title(n),
                lead,
                start,
                false,
            );
            self.needs.push(node);
        }
        self.add_objectives(0);
    }

    pub(super) fn add_objectives(&mut self, m: u32) {
        let per_year = (self.config.people / 500).max(2) / self.config.years.max(1) as usize + 1;
        let date = self.month_start(m);
        for _ in 0..per_year {
            let lead = self.bus[self.rng.below(self.bus.len())].head;
            let index = self.objectives.len();
            let node = self.add_node(
                NodeKind::Objective,
                crate::names::objective_title(self.config.seed, index),
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

    pub(super) fn add_node(
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
            roles_wanted: Vec::new(),
            serves_id: None,
        });
        self.node_budget.push(1.0);
        index
    }

    /// Links parent → child with the desired weight, capped so the parent's children never
    /// weigh more than 1 in total.
    pub(super) fn link(
        &mut self,
        parent: usize,
        child: usize,
        desired: f64,
        from: Option<NaiveDate>,
    ) {
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

    pub(super) fn add_member(&mut self, init: usize, person: usize, role: &str, date: NaiveDate) {
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

    pub(super) fn end_membership(&mut self, init: usize, person: usize, last_day: NaiveDate) {
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

    /// Ends every current membership of an initiative on `last_day`.
    pub(super) fn end_all_memberships(&mut self, init: usize, last_day: NaiveDate) {
        let people: Vec<usize> = self.initiatives[init]
            .members
            .iter()
            .map(|(p, _)| *p)
            .collect();
        for p in people {
            self.end_membership(init, p, last_day);
        }
    }

    pub(super) fn close_initiative(
        &mut self,
        init: usize,
        last_day: NaiveDate,
        status: NodeStatus,
    ) {
        self.end_all_memberships(init, last_day);
        self.initiatives[init].closed = true;
        let node = self.initiatives[init].node;
        self.nodes[node].status = status;
        for d in self.initiatives[init].deliverables.clone() {
            self.nodes[d].status = status;
        }
    }

    pub(super) fn rotate(&mut self, m: u32) {
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

    pub(super) fn churn_teams(&mut self, m: u32) {
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

    pub(super) fn leave(&mut self, m: u32) -> std::io::Result<()> {
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

    pub(super) fn hire_replacements(&mut self, m: u32) {
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
}
