//! Reorganisation what-if: what a plan would do to people's managers and to the work in
//! flight, before anyone records it.

use super::Facts;
use super::timeline::OrgTimeline;
use crate::credit::{Day, Status, date_of, day};
use crate::domain::{AssignmentRecord, NodeStatus};
use crate::event::Event;
use crate::state::State;
use chrono::{Months, NaiveDate};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What one row of a plan does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    /// A person to the unit in `target_id`.
    MovePerson,
    /// A unit under the parent unit in `target_id`; its people keep their managers.
    MoveUnit,
    /// A unit ends the day before; its people go to the unit in `target_id`.
    DissolveUnit,
    /// A person to the manager in `target_id`, in the same unit.
    ChangeManager,
}

impl std::str::FromStr for PlanAction {
    type Err = String;
    fn from_str(text: &str) -> Result<PlanAction, String> {
        match text.trim() {
            "move_person" => Ok(PlanAction::MovePerson),
            "move_unit" => Ok(PlanAction::MoveUnit),
            "dissolve_unit" => Ok(PlanAction::DissolveUnit),
            "change_manager" => Ok(PlanAction::ChangeManager),
            other => Err(format!(
                "`{other}` is no action; write move_person, move_unit, dissolve_unit or change_manager"
            )),
        }
    }
}

/// One row of a plan (`line`: its line in the file, for messages).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanRow {
    pub line: usize,
    pub action: PlanAction,
    pub subject_id: String,
    pub target_id: String,
    pub date: NaiveDate,
    pub manager_id: Option<String>,
}

/// A row the plan cannot hold: which line, which column, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanError {
    pub line: usize,
    pub field: &'static str,
    pub reason: String,
}

/// A person's placement changed by the plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedMove {
    /// The plan row that moves them.
    pub line: usize,
    pub person_id: String,
    pub date: NaiveDate,
    /// Unit and manager on the day before.
    pub from_unit_id: Option<String>,
    pub from_manager_id: Option<String>,
    pub to_unit_id: String,
    pub to_manager_id: Option<String>,
}

/// A plan checked against the org: everyone's new placement and the events that record it.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub moves: Vec<PlannedMove>,
    pub events: Vec<Event>,
}

/// Everyone employed on a day: person → (unit, manager), and unit → people.
struct DayOrg {
    placed: FxHashMap<u32, (u32, Option<u32>)>,
    members: FxHashMap<u32, BTreeSet<u32>>,
}

impl DayOrg {
    fn on(timeline: &OrgTimeline, on: Day, overlay: &FxHashMap<u32, (u32, Option<u32>)>) -> DayOrg {
        let mut org = DayOrg {
            placed: FxHashMap::default(),
            members: FxHashMap::default(),
        };
        for (p, line) in timeline.people.iter().enumerate() {
            if let Some(stint) = line.stint_on(on) {
                org.place(p as u32, stint.unit, stint.manager);
            }
        }
        for (&p, &(unit, manager)) in overlay {
            if timeline.line(p).employed_on(on) {
                org.place(p, unit, manager);
            }
        }
        org
    }

    fn place(&mut self, person: u32, unit: u32, manager: Option<u32>) {
        if let Some((old, _)) = self.placed.insert(person, (unit, manager))
            && let Some(set) = self.members.get_mut(&old)
        {
            set.remove(&person);
        }
        self.members.entry(unit).or_default().insert(person);
    }

    /// The manager most of the unit's people report to (ties: the smallest id), leaving
    /// out `except`.
    fn usual_manager(
        &self,
        timeline: &OrgTimeline,
        unit: u32,
        except: &FxHashSet<u32>,
    ) -> Option<u32> {
        let mut counts: BTreeMap<&str, (usize, u32)> = BTreeMap::new();
        for p in self.members.get(&unit).into_iter().flatten() {
            if except.contains(p) {
                continue;
            }
            if let Some((_, Some(m))) = self.placed.get(p)
                && !except.contains(m)
            {
                counts
                    .entry(&timeline.person_ids[*m as usize])
                    .or_insert((0, *m))
                    .0 += 1;
            }
        }
        let best = counts.values().map(|(n, _)| *n).max()?;
        counts.values().find(|(n, _)| *n == best).map(|(_, m)| *m)
    }

    /// The chain of managers above `person` if it comes back to them.
    fn cycle_through(&self, person: u32) -> Option<Vec<u32>> {
        let mut chain = vec![person];
        let mut at = person;
        for _ in 0..=self.placed.len() {
            match self.placed.get(&at).and_then(|(_, m)| *m) {
                Some(m) if m == person => {
                    chain.push(m);
                    return Some(chain);
                }
                Some(m) => {
                    if chain.contains(&m) {
                        return None;
                    }
                    chain.push(m);
                    at = m;
                }
                None => return None,
            }
        }
        None
    }
}

/// Checks a plan against the org of `state` and works out everyone's new placement. Rows
/// take effect in date order (then file order); every bad row is named.
pub fn plan(
    state: &State,
    timeline: &OrgTimeline,
    rows: &[PlanRow],
) -> Result<Plan, Vec<PlanError>> {
    let mut errors = Vec::new();
    let mut order: Vec<&PlanRow> = rows.iter().collect();
    order.sort_by_key(|r| (r.date, r.line));
    let mut overlay: FxHashMap<u32, (u32, Option<u32>)> = FxHashMap::default();
    let mut unit_parents: FxHashMap<String, Option<String>> = FxHashMap::default();
    let mut moves = Vec::new();
    let mut events = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let date = order[i].date;
        let on = day(date);
        let before = DayOrg::on(timeline, on - 1, &overlay);
        let mut org = DayOrg::on(timeline, on, &overlay);
        let mut changed: Vec<(u32, usize)> = Vec::new();
        while i < order.len() && order[i].date == date {
            let row = order[i];
            i += 1;
            let mut bad = |field: &'static str, reason: String| {
                errors.push(PlanError {
                    line: row.line,
                    field,
                    reason,
                })
            };
            let person = |id: &str| {
                timeline
                    .find_person(id)
                    .filter(|_| state.people.contains_key(id))
            };
            let unit_on = |id: &str| {
                state
                    .units
                    .get(id)
                    .filter(|u| u.exists_on(date))
                    .and_then(|_| timeline.find_unit(id))
            };
            let employed = |p: u32| timeline.line(p).employed_on(on);
            let describe_unit = |id: &str| match state.units.get(id) {
                None => format!("there is no unit {id}"),
                Some(u) => format!(
                    "unit {id} does not exist on {date} (it exists from {}{})",
                    u.valid_from,
                    u.valid_to.map(|t| format!(" to {t}")).unwrap_or_default()
                ),
            };
            let describe_person = |id: &str| match state.people.get(id) {
                None => format!("there is no person {id}"),
                Some(p) => format!(
                    "{id} is not employed on {date} (joined {}{})",
                    p.joined_on,
                    p.left_on.map(|l| format!(", left {l}")).unwrap_or_default()
                ),
            };
            let named_manager = match row.manager_id.as_deref() {
                None => None,
                Some(id) => match person(id).filter(|m| employed(*m)) {
                    Some(m) => Some(m),
                    None => {
                        bad("manager_id", describe_person(id));
                        continue;
                    }
                },
            };
            match row.action {
                PlanAction::MovePerson | PlanAction::ChangeManager => {
                    let Some(p) = person(&row.subject_id) else {
                        bad("subject_id", describe_person(&row.subject_id));
                        continue;
                    };
                    if !employed(p) {
                        bad("date", describe_person(&row.subject_id));
                        continue;
                    }
                    let (unit, manager) = if row.action == PlanAction::MovePerson {
                        let Some(unit) = unit_on(&row.target_id) else {
                            bad("target_id", describe_unit(&row.target_id));
                            continue;
                        };
                        let except: FxHashSet<u32> = [p].into_iter().collect();
                        match named_manager.or_else(|| org.usual_manager(timeline, unit, &except)) {
                            Some(m) => (unit, Some(m)),
                            None => {
                                bad(
                                    "manager_id",
                                    format!(
                                        "unit {} has nobody on {date} to take a manager from: name the manager in manager_id",
                                        row.target_id
                                    ),
                                );
                                continue;
                            }
                        }
                    } else {
                        let Some(m) = person(&row.target_id).filter(|m| employed(*m)) else {
                            bad("target_id", describe_person(&row.target_id));
                            continue;
                        };
                        if m == p {
                            bad(
                                "target_id",
                                format!("{} cannot manage themselves", row.subject_id),
                            );
                            continue;
                        }
                        let Some(&(unit, _)) = org.placed.get(&p) else {
                            bad(
                                "subject_id",
                                format!("{} has no unit on {date} to keep", row.subject_id),
                            );
                            continue;
                        };
                        (unit, Some(m))
                    };
                    org.place(p, unit, manager);
                    changed.push((p, row.line));
                }
                PlanAction::DissolveUnit => {
                    let Some(gone) = unit_on(&row.subject_id) else {
                        bad("subject_id", describe_unit(&row.subject_id));
                        continue;
                    };
                    let Some(unit) = unit_on(&row.target_id).filter(|u| *u != gone) else {
                        bad("target_id", describe_unit(&row.target_id));
                        continue;
                    };
                    // Units under it must move first (a unit under a dissolved one is lost).
                    let mut below: Vec<&str> = state
                        .units
                        .values()
                        .filter(|u| u.exists_on(date) && u.unit_id != row.subject_id)
                        .filter(|u| {
                            let parent = match unit_parents.get(&u.unit_id) {
                                Some(p) => p.clone(),
                                None => crate::org::unit_version(state, &u.unit_id, date)
                                    .and_then(|v| v.parent_unit_id),
                            };
                            parent.as_deref() == Some(row.subject_id.as_str())
                        })
                        .map(|u| u.unit_id.as_str())
                        .collect();
                    if !below.is_empty() {
                        below.sort_unstable();
                        bad(
                            "subject_id",
                            format!(
                                "unit {} has units under it on {date} ({}): move them first with move_unit rows dated on or before it",
                                row.subject_id,
                                below.join(", ")
                            ),
                        );
                        continue;
                    }
                    let people: Vec<u32> = org
                        .members
                        .get(&gone)
                        .into_iter()
                        .flatten()
                        .copied()
                        .collect();
                    let except: FxHashSet<u32> = people.iter().copied().collect();
                    let Some(manager) =
                        named_manager.or_else(|| org.usual_manager(timeline, unit, &except))
                    else {
                        bad(
                            "manager_id",
                            format!(
                                "unit {} has nobody on {date} to take a manager from: name the manager in manager_id",
                                row.target_id
                            ),
                        );
                        continue;
                    };
                    for p in people {
                        // The new manager keeps their own manager.
                        let theirs = if p == manager {
                            org.placed.get(&p).and_then(|(_, m)| *m)
                        } else {
                            Some(manager)
                        };
                        org.place(p, unit, theirs);
                        changed.push((p, row.line));
                    }
                    let Some(last_day) = date.pred_opt() else {
                        continue;
                    };
                    events.push(Event::UnitDissolved {
                        unit_id: row.subject_id.clone(),
                        valid_to: last_day,
                    });
                }
                PlanAction::MoveUnit => {
                    if unit_on(&row.subject_id).is_none() {
                        bad("subject_id", describe_unit(&row.subject_id));
                        continue;
                    }
                    if unit_on(&row.target_id).is_none() {
                        bad("target_id", describe_unit(&row.target_id));
                        continue;
                    }
                    // The new parent must not be the unit or below it.
                    let parent_of = |id: &str| -> Option<String> {
                        match unit_parents.get(id) {
                            Some(p) => p.clone(),
                            None => crate::org::unit_version(state, id, date)
                                .and_then(|v| v.parent_unit_id),
                        }
                    };
                    let mut at = Some(row.target_id.clone());
                    let mut steps = 0;
                    let mut looped = false;
                    while let Some(u) = at {
                        if u == row.subject_id {
                            looped = true;
                            break;
                        }
                        steps += 1;
                        if steps > state.units.len() + 1 {
                            break;
                        }
                        at = parent_of(&u);
                    }
                    if looped {
                        bad(
                            "target_id",
                            format!(
                                "unit {} is {} itself or below it: a unit cannot sit under itself",
                                row.target_id, row.subject_id
                            ),
                        );
                        continue;
                    }
                    unit_parents.insert(row.subject_id.clone(), Some(row.target_id.clone()));
                    events.push(Event::UnitMoved {
                        effective_on: date,
                        parent_unit_id: Some(row.target_id.clone()),
                        unit_id: row.subject_id.clone(),
                    });
                }
            }
        }
        // Record the day's moves (the last row for a person wins), checking for cycles.
        let mut seen: FxHashSet<u32> = FxHashSet::default();
        for &(p, line) in changed.iter().rev() {
            if !seen.insert(p) {
                continue;
            }
            let Some(&(unit, manager)) = org.placed.get(&p) else {
                continue;
            };
            if let Some(chain) = org.cycle_through(p) {
                let names: Vec<&str> = chain
                    .iter()
                    .map(|p| timeline.person_ids[*p as usize].as_str())
                    .collect();
                errors.push(PlanError {
                    line,
                    field: "target_id",
                    reason: format!(
                        "the plan makes a manager cycle on {date}: {}",
                        names.join(" → ")
                    ),
                });
                continue;
            }
            overlay.insert(p, (unit, manager));
            let was = before.placed.get(&p).copied();
            let id = |p: u32| timeline.person_ids[p as usize].clone();
            let unit_id = |u: u32| timeline.unit_ids[u as usize].clone();
            moves.push(PlannedMove {
                line,
                person_id: id(p),
                date,
                from_unit_id: was.map(|(u, _)| unit_id(u)),
                from_manager_id: was.and_then(|(_, m)| m).map(id),
                to_unit_id: unit_id(unit),
                to_manager_id: manager.map(id),
            });
        }
    }
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.line.cmp(&b.line).then(a.field.cmp(b.field)));
        errors.dedup();
        return Err(errors);
    }
    moves.sort_by(|a, b| a.date.cmp(&b.date).then(a.person_id.cmp(&b.person_id)));
    // Assignments first, then the unit events of the same day (a dissolution needs its
    // people elsewhere).
    let mut assignments: Vec<Event> = moves
        .iter()
        .map(|m| {
            Event::AssignmentChanged(AssignmentRecord {
                person_id: m.person_id.clone(),
                unit_id: m.to_unit_id.clone(),
                manager_id: m.to_manager_id.clone(),
                valid_from: m.date,
            })
        })
        .collect();
    assignments.extend(events);
    assignments.sort_by_key(|e| match e {
        Event::AssignmentChanged(a) => (a.valid_from, 0),
        Event::UnitDissolved { valid_to, .. } => (valid_to.succ_opt().unwrap_or(*valid_to), 1),
        Event::UnitMoved { effective_on, .. } => (*effective_on, 1),
        _ => (NaiveDate::MIN, 2),
    });
    Ok(Plan {
        moves,
        events: assignments,
    })
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ManagerChange {
    pub person_id: String,
    pub date: NaiveDate,
    pub from_manager_id: Option<String>,
    pub to_manager_id: Option<String>,
}

/// A person taken off a live node's team by the plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeparatedPerson {
    pub person_id: String,
    /// Their share of the node's effort in the 90 days before the date.
    pub recent_share: f64,
    /// All their standing effort on the node up to the date.
    pub effort: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AffectedInitiative {
    pub node_id: String,
    pub date: NaiveDate,
    pub lead_id: Option<String>,
    /// The lead's unit before and after the plan.
    pub lead_unit_before: Option<String>,
    pub lead_unit_after: Option<String>,
    /// Recent contributors in the lead's unit before the plan and not after it.
    pub people: Vec<SeparatedPerson>,
    /// Whether value has reached the node by the date; if not, their work is at stake.
    pub value_realised: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MovedPerson {
    pub person_id: String,
    pub date: NaiveDate,
    pub from_unit_id: Option<String>,
    pub to_unit_id: String,
    /// Times they were moved off live work in the 24 months before the date.
    pub earlier_moves_off_live_work: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkAtStake {
    pub person_id: String,
    pub node_id: String,
    pub effort: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WhatIf {
    pub rows: usize,
    pub manager_changes: Vec<ManagerChange>,
    pub live_initiatives: Vec<AffectedInitiative>,
    /// Work on affected nodes no value has reached yet: valuetree keeps it for them, the
    /// team view would lose it.
    pub work_at_stake: Vec<WorkAtStake>,
    pub work_at_stake_effort: f64,
    /// Everyone whose unit the plan changes, most often moved before first.
    pub people_moved: Vec<MovedPerson>,
    /// The events `--apply` records.
    pub events: usize,
}

/// What a checked plan does to the work in flight.
pub fn whatif(facts: &Facts<'_>, rows: &[PlanRow], plan: &Plan) -> WhatIf {
    let timeline = facts.timeline;
    let manager_changes: Vec<ManagerChange> = plan
        .moves
        .iter()
        .filter(|m| m.from_manager_id != m.to_manager_id)
        .map(|m| ManagerChange {
            person_id: m.person_id.clone(),
            date: m.date,
            from_manager_id: m.from_manager_id.clone(),
            to_manager_id: m.to_manager_id.clone(),
        })
        .collect();
    // Placement after the plan, by person, per date (the plan's moves in date order).
    let mut planned: FxHashMap<u32, Vec<(Day, u32)>> = FxHashMap::default();
    for m in &plan.moves {
        if let (Some(p), Some(u)) = (
            timeline.find_person(&m.person_id),
            timeline.find_unit(&m.to_unit_id),
        ) {
            planned.entry(p).or_default().push((day(m.date), u));
        }
    }
    let unit_after = |p: u32, on: Day| -> Option<u32> {
        planned
            .get(&p)
            .and_then(|list| list.iter().rev().find(|(d, _)| *d <= on).map(|(_, u)| *u))
            .filter(|_| timeline.line(p).employed_on(on))
            .or_else(|| timeline.unit_on(p, on))
    };
    let dates: BTreeSet<Day> = plan.moves.iter().map(|m| day(m.date)).collect();
    // The contributions that matter: standing ones on live nodes up to the last date.
    let last = dates.iter().next_back().copied().unwrap_or(Day::MIN);
    let mut by_node: FxHashMap<u32, Vec<(u32, Day, f64)>> = FxHashMap::default();
    for c in &facts.work.contributions {
        if c.status == Status::Retracted || c.date >= last || !facts.is_work_node(c.node) {
            continue;
        }
        let live = facts
            .state
            .nodes
            .get(facts.node_id(c.node))
            .is_some_and(|n| matches!(n.status, NodeStatus::Proposed | NodeStatus::Active));
        if live && let Some(p) = facts.person_line(c.person) {
            by_node
                .entry(c.node)
                .or_default()
                .push((p, c.date, c.effort));
        }
    }
    let moved_people: FxHashSet<u32> = planned.keys().copied().collect();
    let mut affected = Vec::new();
    let mut stake = Vec::new();
    let id = |p: u32| timeline.person_ids[p as usize].clone();
    let unit_id = |u: u32| timeline.unit_ids[u as usize].clone();
    // Candidate nodes: those a moved person worked on, or whose lead the plan moves.
    let mut node_list: Vec<u32> = by_node
        .iter()
        .filter(|(node, work)| {
            work.iter().any(|(p, _, _)| moved_people.contains(p))
                || dates.iter().any(|&on| {
                    timeline
                        .lead_on(facts.node_id(**node), on)
                        .is_some_and(|l| moved_people.contains(&l))
                })
        })
        .map(|(node, _)| *node)
        .collect();
    node_list.sort_unstable_by_key(|v| facts.node_id(*v));
    for &on in &dates {
        for &node in &node_list {
            let work = &by_node[&node];
            let recent: Vec<&(u32, Day, f64)> = work
                .iter()
                .filter(|(_, d, _)| on - super::LIVE_WORK_DAYS <= *d && *d < on)
                .collect();
            if recent.is_empty() {
                continue;
            }
            let node_id = facts.node_id(node);
            let lead = timeline.lead_on(node_id, on);
            let touched = lead.is_some_and(|l| moved_people.contains(&l))
                || recent.iter().any(|(p, _, _)| moved_people.contains(p));
            if !touched {
                continue;
            }
            let lead_before = lead.and_then(|l| timeline.unit_on(l, on - 1));
            let lead_after = lead.and_then(|l| unit_after(l, on));
            let total: f64 = recent.iter().map(|r| r.2).sum();
            let mut people: BTreeMap<u32, (f64, f64)> = BTreeMap::new();
            for &&(p, _, effort) in &recent {
                let before = timeline.unit_on(p, on - 1);
                let after = unit_after(p, on);
                let moved_by_plan =
                    moved_people.contains(&p) || lead.is_some_and(|l| moved_people.contains(&l));
                if moved_by_plan
                    && Some(p) != lead
                    && before.is_some()
                    && before == lead_before
                    && (after.is_none() || after != lead_after)
                {
                    people.entry(p).or_default().0 += effort;
                }
            }
            if people.is_empty() {
                continue;
            }
            for &(q, d, effort) in work {
                if d < on
                    && let Some((_, all)) = people.get_mut(&q)
                {
                    *all += effort;
                }
            }
            let value_realised = facts.engine.first_value_day(node).is_some_and(|v| v <= on);
            if !value_realised {
                for (p, (_, all)) in &people {
                    stake.push(WorkAtStake {
                        person_id: id(*p),
                        node_id: node_id.to_string(),
                        effort: *all,
                    });
                }
            }
            affected.push(AffectedInitiative {
                node_id: node_id.to_string(),
                date: date_of(on),
                lead_id: lead.map(id),
                lead_unit_before: lead_before.map(unit_id),
                lead_unit_after: lead_after.map(unit_id),
                people: people
                    .into_iter()
                    .map(|(p, (recent, all))| SeparatedPerson {
                        person_id: id(p),
                        recent_share: if total > 0.0 { recent / total } else { 0.0 },
                        effort: all,
                    })
                    .collect(),
                value_realised,
            });
        }
    }
    // Earlier moves off live work of everyone the plan moves to another unit.
    let earliest = plan
        .moves
        .iter()
        .map(|m| m.date)
        .min()
        .unwrap_or(NaiveDate::MIN);
    let window_start = earliest
        .checked_sub_months(Months::new(24))
        .unwrap_or(NaiveDate::MIN);
    let latest = plan
        .moves
        .iter()
        .map(|m| m.date)
        .max()
        .unwrap_or(NaiveDate::MIN);
    let earlier =
        super::churn::moves_off_live_work_of(facts, window_start, latest, Some(&moved_people));
    let mut people_moved: Vec<MovedPerson> = plan
        .moves
        .iter()
        .filter(|m| m.from_unit_id.as_deref() != Some(m.to_unit_id.as_str()))
        .map(|m| {
            let since = m
                .date
                .checked_sub_months(Months::new(24))
                .unwrap_or(NaiveDate::MIN);
            MovedPerson {
                person_id: m.person_id.clone(),
                date: m.date,
                from_unit_id: m.from_unit_id.clone(),
                to_unit_id: m.to_unit_id.clone(),
                earlier_moves_off_live_work: earlier
                    .iter()
                    .filter(|e| e.person_id == m.person_id && since <= e.date && e.date < m.date)
                    .count(),
            }
        })
        .collect();
    people_moved.sort_by(|a, b| {
        b.earlier_moves_off_live_work
            .cmp(&a.earlier_moves_off_live_work)
            .then(a.person_id.cmp(&b.person_id))
    });
    stake.sort_by(|a, b| {
        b.effort
            .total_cmp(&a.effort)
            .then(a.person_id.cmp(&b.person_id))
    });
    WhatIf {
        rows: rows.len(),
        manager_changes,
        live_initiatives: affected,
        work_at_stake_effort: stake.iter().fold(0.0, |sum, s| sum + s.effort),
        work_at_stake: stake,
        people_moved,
        events: plan.events.len(),
    }
}
