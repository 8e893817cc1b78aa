//! The org as step functions of time, fast to ask millions of times: each person's unit and
//! manager by day, each node's lead by day.

use crate::credit::{Day, TeamRule, day};
use crate::state::State;
use rustc_hash::FxHashMap;

/// A stretch of a person's employment in one unit under one manager, from `from` on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stint {
    pub from: Day,
    pub unit: u32,
    pub manager: Option<u32>,
}

/// One person's employment and assignments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonLine {
    pub joined: Day,
    /// Last day employed, inclusive.
    pub left: Option<Day>,
    /// In date order; one per assignment.
    pub stints: Vec<Stint>,
}

impl PersonLine {
    pub fn employed_on(&self, on: Day) -> bool {
        self.joined <= on && self.left.is_none_or(|left| on <= left)
    }

    /// The stint holding on `on` (employed and assigned).
    pub fn stint_on(&self, on: Day) -> Option<&Stint> {
        if !self.employed_on(on) {
            return None;
        }
        let i = self.stints.partition_point(|s| s.from <= on);
        i.checked_sub(1).map(|i| &self.stints[i])
    }

    pub fn unit_on(&self, on: Day) -> Option<u32> {
        self.stint_on(on).map(|s| s.unit)
    }

    /// The days in `(after, until]` on which the unit may change (a new assignment, the
    /// first day employed, the day after leaving).
    fn changes_within(&self, after: Day, until: Day, out: &mut Vec<Day>) {
        let within = |d: Day| after < d && d <= until;
        let first = self.stints.partition_point(|s| s.from <= after);
        out.extend(
            self.stints[first..]
                .iter()
                .map(|s| s.from)
                .take_while(|d| *d <= until),
        );
        if within(self.joined) {
            out.push(self.joined);
        }
        if let Some(after_leaving) = self.left.map(|l| l + 1).filter(|d| within(*d)) {
            out.push(after_leaving);
        }
    }
}

/// The org of a [`State`] as step functions, with people and units numbered.
#[derive(Clone, Debug, Default)]
pub struct OrgTimeline {
    pub person_ids: Vec<String>,
    person_index: FxHashMap<String, u32>,
    pub people: Vec<PersonLine>,
    pub unit_ids: Vec<String>,
    unit_index: FxHashMap<String, u32>,
    /// Per node id: (from, lead) in date order; the first entry is the node's recorded lead
    /// from always, then each hand-over that names a new lead.
    leads: FxHashMap<String, Vec<(Day, Option<u32>)>>,
    /// Per node id: the days of its hand-overs.
    handovers: FxHashMap<String, Vec<Day>>,
}

impl OrgTimeline {
    pub fn new(state: &State) -> OrgTimeline {
        let mut timeline = OrgTimeline::default();
        let mut ids: Vec<&String> = state.people.keys().collect();
        ids.sort_unstable();
        for id in ids {
            let person = &state.people[id];
            let i = timeline.intern_person(id);
            timeline.people[i as usize].joined = day(person.joined_on);
            timeline.people[i as usize].left = person.left_on.map(day);
        }
        for assignment in state.assignments.values() {
            let a = &assignment.record;
            let unit = timeline.intern_unit(&a.unit_id);
            let manager = a.manager_id.as_deref().map(|m| timeline.intern_person(m));
            let person = timeline.intern_person(&a.person_id);
            timeline.people[person as usize].stints.push(Stint {
                from: day(a.valid_from),
                unit,
                manager,
            });
        }
        for unit in state.units.keys() {
            timeline.intern_unit(unit);
        }
        let mut nodes: Vec<&String> = state.nodes.keys().collect();
        nodes.sort_unstable();
        for id in nodes {
            let lead = state.nodes[id].lead_id.as_deref();
            let lead = lead.map(|l| timeline.intern_person(l));
            timeline.leads.insert(id.clone(), vec![(Day::MIN, lead)]);
        }
        for ((node, date), handover) in &state.handovers {
            timeline
                .handovers
                .entry(node.clone())
                .or_default()
                .push(day(*date));
            if let Some(to) = handover.to_lead_id.as_deref() {
                let to = timeline.intern_person(to);
                timeline
                    .leads
                    .entry(node.clone())
                    .or_insert_with(|| vec![(Day::MIN, None)])
                    .push((day(*date), Some(to)));
            }
        }
        timeline
    }

    fn intern_person(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.person_index.get(id) {
            return i;
        }
        let i = self.person_ids.len() as u32;
        self.person_ids.push(id.to_string());
        self.person_index.insert(id.to_string(), i);
        self.people.push(PersonLine {
            joined: Day::MIN,
            ..PersonLine::default()
        });
        i
    }

    fn intern_unit(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.unit_index.get(id) {
            return i;
        }
        let i = self.unit_ids.len() as u32;
        self.unit_ids.push(id.to_string());
        self.unit_index.insert(id.to_string(), i);
        i
    }

    pub fn find_person(&self, id: &str) -> Option<u32> {
        self.person_index.get(id).copied()
    }

    pub fn find_unit(&self, id: &str) -> Option<u32> {
        self.unit_index.get(id).copied()
    }

    pub fn line(&self, person: u32) -> &PersonLine {
        &self.people[person as usize]
    }

    pub fn unit_on(&self, person: u32, on: Day) -> Option<u32> {
        self.people[person as usize].unit_on(on)
    }

    /// The node's lead on `on`: after every hand-over dated on or before it.
    pub fn lead_on(&self, node_id: &str, on: Day) -> Option<u32> {
        let leads = self.leads.get(node_id)?;
        let i = leads.partition_point(|(from, _)| *from <= on);
        i.checked_sub(1).and_then(|i| leads[i].1)
    }

    /// The unit of the node's lead on `on`.
    pub fn lead_unit_on(&self, node_id: &str, on: Day) -> Option<u32> {
        self.lead_on(node_id, on).and_then(|l| self.unit_on(l, on))
    }

    /// The node's hand-over days, in order.
    pub fn handover_days(&self, node_id: &str) -> &[Day] {
        self.handovers.get(node_id).map_or(&[], Vec::as_slice)
    }

    /// The unit of the node's lead over `[from, to]` as a step function: it changes with a
    /// hand-over and with every change of the leads' units.
    fn lead_unit_segments(&self, node_id: &str, from: Day, to: Day) -> Vec<(Day, Option<u32>)> {
        let mut points = vec![from];
        if let Some(leads) = self.leads.get(node_id) {
            for (i, (start, lead)) in leads.iter().enumerate() {
                let end = leads.get(i + 1).map_or(Day::MAX, |next| next.0 - 1);
                if end < from || to < *start {
                    continue;
                }
                if from < *start {
                    points.push(*start);
                }
                if let Some(lead) = lead {
                    self.people[*lead as usize].changes_within(
                        from.max(*start),
                        to.min(end),
                        &mut points,
                    );
                }
            }
        }
        segments(points, |d| self.lead_unit_on(node_id, d))
    }

    fn person_segments(&self, person: u32, from: Day, to: Day) -> Vec<(Day, Option<u32>)> {
        let mut points = vec![from];
        self.people[person as usize].changes_within(from, to, &mut points);
        segments(points, |d| self.unit_on(person, d))
    }
}

/// A step function from its change points: (start, value), equal neighbours merged.
fn segments(mut points: Vec<Day>, value: impl Fn(Day) -> Option<u32>) -> Vec<(Day, Option<u32>)> {
    points.sort_unstable();
    points.dedup();
    let mut out: Vec<(Day, Option<u32>)> = Vec::with_capacity(points.len());
    for p in points {
        let v = value(p);
        if out.last().is_none_or(|last| last.1 != v) {
            out.push((p, v));
        }
    }
    out
}

/// The team view's rule: a contributor counts at a node on a day when they are assigned to
/// the unit of the node's lead on that day (that exact unit, not the units below it).
pub struct LeadUnitTeams<'t> {
    pub timeline: &'t OrgTimeline,
    /// The timeline's person for each engine person.
    people: Vec<Option<u32>>,
    /// The node id of each engine node.
    nodes: Vec<String>,
}

impl<'t> LeadUnitTeams<'t> {
    pub fn new(
        timeline: &'t OrgTimeline,
        engine_people: &[String],
        engine_nodes: &[String],
    ) -> LeadUnitTeams<'t> {
        LeadUnitTeams {
            timeline,
            people: engine_people
                .iter()
                .map(|p| timeline.find_person(p))
                .collect(),
            nodes: engine_nodes.to_vec(),
        }
    }

    pub fn person(&self, engine_person: u32) -> Option<u32> {
        self.people.get(engine_person as usize).copied().flatten()
    }

    pub fn node_id(&self, engine_node: u32) -> &str {
        &self.nodes[engine_node as usize]
    }

    /// Whether the person counts at the node on `on`.
    pub fn counts(&self, engine_node: u32, engine_person: u32, on: Day) -> bool {
        let Some(person) = self.person(engine_person) else {
            return false;
        };
        let unit = self.timeline.unit_on(person, on);
        unit.is_some() && unit == self.timeline.lead_unit_on(self.node_id(engine_node), on)
    }
}

impl TeamRule for LeadUnitTeams<'_> {
    fn spans(&self, node: u32, from: Day, to: Day, people: &[u32], spans: &mut [Vec<(Day, Day)>]) {
        let lead = self
            .timeline
            .lead_unit_segments(self.node_id(node), from, to);
        if lead.iter().all(|(_, unit)| unit.is_none()) {
            return;
        }
        for (engine_person, out) in people.iter().zip(spans.iter_mut()) {
            let Some(person) = self.person(*engine_person) else {
                continue;
            };
            let own = self.timeline.person_segments(person, from, to);
            // Walk both step functions; a span where both name the same unit.
            let (mut i, mut k) = (0, 0);
            let mut at = from;
            loop {
                let next_lead = lead.get(i + 1).map_or(Day::MAX, |s| s.0);
                let next_own = own.get(k + 1).map_or(Day::MAX, |s| s.0);
                let end = next_lead.min(next_own).saturating_sub(1).min(to);
                if lead[i].1.is_some() && lead[i].1 == own[k].1 {
                    match out.last_mut() {
                        Some(last) if last.1 + 1 == at => last.1 = end,
                        _ => out.push((at, end)),
                    }
                }
                if end >= to {
                    break;
                }
                at = end + 1;
                if next_lead == at {
                    i += 1;
                }
                if next_own == at {
                    k += 1;
                }
            }
        }
    }
}
