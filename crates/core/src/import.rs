//! Turns rows of an import file into ledger events, the way a new HRIS export would.
//!
//! - A row whose key is new records the creating event.
//! - A row equal to what is stored changes nothing, so re-importing a file is a no-op.
//! - A changed row of master data (people, units, nodes, assignments, edges, members) records
//!   the matching update event.
//! - A changed contribution, outcome or hand-over is an error: the ledger never edits a fact;
//!   retract it and record a new one. One exception: a contribution that was unconfirmed and
//!   is now `confirmed=true` records its confirmation (a lead confirmed it in the source
//!   system); a file still saying `false` after a confirmation is taken as older, not as an
//!   un-confirmation. Within one import, a contribution id may appear again only with the same
//!   content (the store keeps a fingerprint of what it recorded earlier in the same import).
//!
//! Rows are identified by their id column or, where a file has none, by a natural key:
//! assignments by (person_id, valid_from), edges by (parent_id, child_id, valid_from),
//! members by (node_id, person_id, joined_on), hand-overs by (node_id, date).

use crate::domain::*;
use crate::event::Event;
use crate::review::{CycleRecord, RatingRecord};
use crate::state::{Rejection, State};
use chrono::NaiveDate;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

/// One parsed row and the line it came from (1-based, the header being line 1).
#[derive(Clone, Debug, PartialEq)]
pub struct Row<T> {
    pub line: u64,
    pub record: T,
}

/// A node row: the optional columns may be missing from the file, in which case an existing
/// node keeps its value and a new one takes the default (active, not a flagpole, no text).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeRow {
    pub node_id: NodeId,
    pub kind: NodeKind,
    pub title: String,
    pub lead_id: Option<PersonId>,
    pub created_on: NaiveDate,
    pub status: Option<NodeStatus>,
    pub flagpole: Option<bool>,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RecordBatch {
    People(Vec<Row<PersonRecord>>),
    Units(Vec<Row<UnitRecord>>),
    Assignments(Vec<Row<AssignmentRecord>>),
    Nodes(Vec<Row<NodeRow>>),
    Edges(Vec<Row<EdgeRecord>>),
    Members(Vec<Row<MemberRecord>>),
    Contributions(Vec<Row<ContributionRecord>>),
    Outcomes(Vec<Row<OutcomeRecord>>),
    Handovers(Vec<Row<HandoverRecord>>),
    PeerPoints(Vec<Row<PeerAllocation>>),
    Cycles(Vec<Row<CycleRecord>>),
    Ratings(Vec<Row<RatingRecord>>),
}

/// The facts (loaded on demand by the store) an import batch refers to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FactIds {
    pub contributions: Vec<String>,
    pub outcomes: Vec<String>,
    /// Cycles whose ratings the batch may revise.
    pub cycles: Vec<String>,
}

impl RecordBatch {
    pub fn len(&self) -> usize {
        match self {
            RecordBatch::People(r) => r.len(),
            RecordBatch::Units(r) => r.len(),
            RecordBatch::Assignments(r) => r.len(),
            RecordBatch::Nodes(r) => r.len(),
            RecordBatch::Edges(r) => r.len(),
            RecordBatch::Members(r) => r.len(),
            RecordBatch::Contributions(r) => r.len(),
            RecordBatch::Outcomes(r) => r.len(),
            RecordBatch::Handovers(r) => r.len(),
            RecordBatch::PeerPoints(r) => r.len(),
            RecordBatch::Cycles(r) => r.len(),
            RecordBatch::Ratings(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the rows of `other` (of the same kind; rows of another kind are dropped, which
    /// the parser never asks for).
    pub fn extend(&mut self, other: RecordBatch) {
        match (self, other) {
            (RecordBatch::People(a), RecordBatch::People(b)) => a.extend(b),
            (RecordBatch::Units(a), RecordBatch::Units(b)) => a.extend(b),
            (RecordBatch::Assignments(a), RecordBatch::Assignments(b)) => a.extend(b),
            (RecordBatch::Nodes(a), RecordBatch::Nodes(b)) => a.extend(b),
            (RecordBatch::Edges(a), RecordBatch::Edges(b)) => a.extend(b),
            (RecordBatch::Members(a), RecordBatch::Members(b)) => a.extend(b),
            (RecordBatch::Contributions(a), RecordBatch::Contributions(b)) => a.extend(b),
            (RecordBatch::Outcomes(a), RecordBatch::Outcomes(b)) => a.extend(b),
            (RecordBatch::Handovers(a), RecordBatch::Handovers(b)) => a.extend(b),
            (RecordBatch::PeerPoints(a), RecordBatch::PeerPoints(b)) => a.extend(b),
            (RecordBatch::Cycles(a), RecordBatch::Cycles(b)) => a.extend(b),
            (RecordBatch::Ratings(a), RecordBatch::Ratings(b)) => a.extend(b),
            _ => {}
        }
    }

    /// The facts the batch refers to, for the store to preload.
    pub fn referenced_facts(&self) -> FactIds {
        let mut facts = FactIds::default();
        match self {
            RecordBatch::Contributions(rows) => {
                facts.contributions = rows
                    .iter()
                    .map(|r| r.record.contribution_id.clone())
                    .collect();
            }
            RecordBatch::Outcomes(rows) => {
                facts.outcomes = rows.iter().map(|r| r.record.outcome_id.clone()).collect();
            }
            RecordBatch::Ratings(rows) => {
                let cycles: std::collections::BTreeSet<&String> =
                    rows.iter().map(|r| &r.record.cycle_id).collect();
                facts.cycles = cycles.into_iter().cloned().collect();
            }
            _ => {}
        }
        facts
    }
}

/// A bad row: where, which column, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = printable(&self.reason);
        match &self.column {
            Some(column) => write!(
                f,
                "line {}, column {}: {reason}",
                self.line,
                printable(column)
            ),
            None => write!(f, "line {}: {reason}", self.line),
        }
    }
}

/// `text` with its control characters written as escapes (`\u{1b}`): a message quotes what a
/// file holds, and a file's escape sequences must not drive the terminal that shows it.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// An event planned from a row, with its effective (business) date.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub line: u64,
    pub event: Event,
    pub effective: NaiveDate,
}

/// Plans the events for `batch` and applies them to `state`, handing each applied event to
/// `emit` (with the state right after it). Bad rows are appended to `errors` (and their
/// events dropped); the caller commits nothing if there are any. `today` is the effective
/// date of updates that carry no date of their own. The batch is consumed: the rows of the
/// big fact files are freed one by one as they are planned.
pub fn plan(
    state: &mut State,
    batch: RecordBatch,
    today: NaiveDate,
    errors: &mut Vec<RowError>,
    emit: &mut dyn FnMut(&mut State, Planned),
) {
    let mut planner = Planner {
        state,
        today,
        errors,
        emit,
    };
    match batch {
        RecordBatch::People(rows) => planner.rows(&rows, |r| r.person_id.clone(), Planner::person),
        RecordBatch::Units(rows) => planner.rows(&rows, |r| r.unit_id.clone(), Planner::unit),
        RecordBatch::Assignments(rows) => {
            planner.rows(
                &rows,
                |r| (r.person_id.clone(), r.valid_from),
                Planner::assignment,
            );
            planner.manager_loops(&rows);
        }
        RecordBatch::Nodes(rows) => planner.rows(&rows, |r| r.node_id.clone(), Planner::node),
        RecordBatch::Edges(rows) => planner.rows(
            &rows,
            |r| (r.parent_id.clone(), r.child_id.clone(), r.valid_from),
            Planner::edge,
        ),
        RecordBatch::Members(rows) => planner.rows(
            &rows,
            |r| (r.node_id.clone(), r.person_id.clone(), r.joined_on),
            Planner::member,
        ),
        // Facts need no separate in-file check: once a row is applied, the state holds it, and a
        // later row with the same id is "unchanged" or "recorded before with different content".
        RecordBatch::Contributions(rows) => planner.facts(rows, Planner::contribution),
        RecordBatch::Outcomes(rows) => planner.facts(rows, Planner::outcome),
        // In date order: each hand-over is checked against the lead the one before it left.
        RecordBatch::Handovers(mut rows) => {
            rows.sort_by_key(|r| r.record.date);
            planner.facts(rows, Planner::handover)
        }
        RecordBatch::PeerPoints(rows) => planner.rows(
            &rows,
            |r| (r.node_id.clone(), r.giver_id.clone(), r.date),
            Planner::peer_points,
        ),
        RecordBatch::Cycles(rows) => planner.rows(&rows, |r| r.cycle_id.clone(), Planner::cycle),
        RecordBatch::Ratings(rows) => planner.ratings(&rows),
    }
}

/// Plans `batch` and returns the events (for callers that want them all at once).
pub fn plan_all(
    state: &mut State,
    batch: &RecordBatch,
    today: NaiveDate,
    errors: &mut Vec<RowError>,
) -> Vec<Planned> {
    let mut out = Vec::new();
    plan(state, batch.clone(), today, errors, &mut |_, planned| {
        out.push(planned)
    });
    out
}

struct Planner<'a> {
    state: &'a mut State,
    today: NaiveDate,
    errors: &'a mut Vec<RowError>,
    emit: &'a mut dyn FnMut(&mut State, Planned),
}

type Plan = Result<Vec<Event>, Rejection>;

impl Planner<'_> {
    fn rows<T: PartialEq, K: Hash + Eq>(
        &mut self,
        rows: &[Row<T>],
        key: impl Fn(&T) -> K,
        events_for: impl Fn(&Self, &T) -> Plan,
    ) {
        let mut first_seen: HashMap<K, (u64, &T)> = HashMap::new();
        for row in rows {
            match first_seen.get(&key(&row.record)) {
                Some((_, first)) if *first == &row.record => continue,
                Some((line, _)) => {
                    self.errors.push(repeated_key(row.line, *line));
                    continue;
                }
                None => {
                    first_seen.insert(key(&row.record), (row.line, &row.record));
                }
            }
            self.apply_row(row, &events_for);
        }
    }

    /// Ratings, checked for a key given twice across the whole import: a ratings file comes
    /// in chunks (millions of rows), and the key set of a chunk alone would take a second
    /// row with a key the file already gave for the rater's revision.
    fn ratings(&mut self, rows: &[Row<RatingRecord>]) {
        for row in rows {
            let hashed = crate::state::rating_key_hash(&row.record.key());
            let print = crate::state::rating_fingerprint(&row.record);
            if let Some(&(first_print, line)) = self.state.ratings_in_import.get(&hashed) {
                if first_print != print {
                    self.errors.push(repeated_key(row.line, u64::from(line)));
                }
                continue;
            }
            let errors_before = self.errors.len();
            self.apply_row(row, &Planner::rating);
            if self.errors.len() == errors_before {
                // Lines past four billion are not to be met; the error then names the last.
                let line = u32::try_from(row.line).unwrap_or(u32::MAX);
                self.state.ratings_in_import.insert(hashed, (print, line));
            }
        }
    }

    /// Contributions, outcomes and hand-overs: each row's record moves into its event.
    fn facts<T>(&mut self, rows: Vec<Row<T>>, events_for: impl Fn(&Self, T) -> Plan) {
        for row in rows {
            let planned = events_for(self, row.record);
            self.apply_events(row.line, planned);
        }
    }

    fn apply_row<T>(&mut self, row: &Row<T>, events_for: &impl Fn(&Self, &T) -> Plan) {
        let planned = events_for(self, &row.record);
        self.apply_events(row.line, planned);
    }

    fn apply_events(&mut self, line: u64, planned: Plan) {
        let applied = planned.and_then(|events| {
            for event in events {
                self.state.apply(&event)?;
                let effective = event.natural_effective_date().unwrap_or(self.today);
                (self.emit)(
                    self.state,
                    Planned {
                        line,
                        event,
                        effective,
                    },
                );
            }
            Ok(())
        });
        if let Err(rejection) = applied {
            self.errors.push(RowError {
                line,
                column: Some(rejection.field.to_string()),
                reason: rejection.reason,
            });
        }
    }

    fn person(&self, row: &PersonRecord) -> Plan {
        Ok(match self.state.people.get(&row.person_id) {
            None => vec![Event::PersonHired(row.clone())],
            Some(old) if old == row => vec![],
            Some(old)
                if old.left_on.is_none()
                    && row.left_on.is_some()
                    && *old
                        == PersonRecord {
                            left_on: None,
                            ..row.clone()
                        } =>
            {
                vec![Event::PersonLeft {
                    person_id: row.person_id.clone(),
                    left_on: row.left_on.unwrap_or(self.today),
                }]
            }
            Some(_) => vec![Event::PersonUpdated(row.clone())],
        })
    }

    fn unit(&self, row: &UnitRecord) -> Plan {
        let Some(old) = self.state.units.get(&row.unit_id) else {
            return Ok(vec![Event::UnitCreated(row.clone())]);
        };
        if old.valid_from != row.valid_from
            || (old.valid_to.is_some() && old.valid_to != row.valid_to)
        {
            return Ok(vec![Event::UnitUpdated(row.clone())]);
        }
        let mut events = Vec::new();
        if old.name != row.name {
            events.push(Event::UnitRenamed {
                unit_id: row.unit_id.clone(),
                name: row.name.clone(),
                effective_on: self.today,
            });
        }
        if old.parent_unit_id != row.parent_unit_id {
            events.push(Event::UnitMoved {
                unit_id: row.unit_id.clone(),
                parent_unit_id: row.parent_unit_id.clone(),
                effective_on: self.today,
            });
        }
        if let (None, Some(valid_to)) = (old.valid_to, row.valid_to) {
            events.push(Event::UnitDissolved {
                unit_id: row.unit_id.clone(),
                valid_to,
            });
        }
        Ok(events)
    }

    /// After a file's assignments are applied: any of their rows that puts its person in a
    /// loop of managers on its date. Checked over the whole file, not row by row: one
    /// reorganisation may swap two people's reporting line in two rows of the same date, and
    /// halfway through, the first row looks like a loop.
    fn manager_loops(&mut self, rows: &[Row<AssignmentRecord>]) {
        let state: &State = self.state;
        let mut by_date: std::collections::BTreeMap<NaiveDate, Vec<&Row<AssignmentRecord>>> =
            std::collections::BTreeMap::new();
        for row in rows.iter().filter(|r| r.record.manager_id.is_some()) {
            by_date.entry(row.record.valid_from).or_default().push(row);
        }
        for (date, rows) in by_date {
            // People whose line of managers on `date` ends at the top, without a loop.
            let mut clear: std::collections::HashSet<&str> = std::collections::HashSet::new();
            for row in rows {
                let person = row.record.person_id.as_str();
                let mut path = vec![person];
                let mut at = person;
                let looped = loop {
                    match state.manager_on(at, date) {
                        None => break false,
                        Some(next) if clear.contains(next) => break false,
                        Some(next) if next == person => {
                            path.push(next);
                            break true;
                        }
                        // A loop above this person, not through them: its own rows say so.
                        Some(next) if path.contains(&next) => {
                            path.clear();
                            break false;
                        }
                        Some(next) => {
                            path.push(next);
                            at = next;
                        }
                    }
                };
                if looped {
                    self.errors.push(RowError {
                        line: row.line,
                        column: Some("manager_id".into()),
                        reason: format!(
                            "on {date} the managers would form a loop: {}",
                            path.join(" → ")
                        ),
                    });
                } else {
                    clear.extend(path);
                }
            }
        }
    }

    fn assignment(&self, row: &AssignmentRecord) -> Plan {
        let key = (row.person_id.clone(), row.valid_from);
        Ok(match self.state.assignments.get(&key) {
            Some(old) if old.record == *row => vec![],
            _ => vec![Event::AssignmentChanged(row.clone())],
        })
    }

    fn node(&self, row: &NodeRow) -> Plan {
        let Some(old) = self.state.nodes.get(&row.node_id) else {
            return Ok(vec![Event::NodeCreated(NodeRecord {
                node_id: row.node_id.clone(),
                kind: row.kind,
                title: row.title.clone(),
                lead_id: row.lead_id.clone(),
                created_on: row.created_on,
                status: row.status.unwrap_or(NodeStatus::Active),
                flagpole: row.flagpole.unwrap_or(false),
                description: row.description.clone().unwrap_or_default(),
                roles_wanted: Vec::new(),
                serves_id: None,
            })]);
        };
        let new = NodeRecord {
            node_id: row.node_id.clone(),
            kind: row.kind,
            title: row.title.clone(),
            lead_id: row.lead_id.clone(),
            created_on: row.created_on,
            status: old.status,
            flagpole: row.flagpole.unwrap_or(old.flagpole),
            description: row
                .description
                .clone()
                .unwrap_or_else(|| old.description.clone()),
            // Not in the nodes file: kept as the app recorded them.
            roles_wanted: old.roles_wanted.clone(),
            serves_id: old.serves_id.clone(),
        };
        let mut events = Vec::new();
        if new != *old {
            events.push(Event::NodeUpdated(new));
        }
        if let Some(status) = row.status.filter(|s| *s != old.status) {
            events.push(Event::NodeStatusChanged {
                node_id: row.node_id.clone(),
                status,
                effective_on: self.today,
            });
        }
        Ok(events)
    }

    fn edge(&self, row: &EdgeRecord) -> Plan {
        let key = (row.parent_id.clone(), row.child_id.clone(), row.valid_from);
        Ok(match self.state.edges.get(&key) {
            Some(old) if old == row => vec![],
            Some(old) if old.weight == row.weight && row.valid_to.is_some() => {
                vec![Event::NodeUnlinked {
                    parent_id: row.parent_id.clone(),
                    child_id: row.child_id.clone(),
                    valid_from: row.valid_from,
                    valid_to: row.valid_to.unwrap_or(self.today),
                }]
            }
            Some(_) => vec![Event::NodeLinked(row.clone())],
            None => {
                // A new version of a link in force: the old one ends the day before (what an
                // export with a dated row for the same parent and child means).
                let mut events = Vec::new();
                if let Some(from) = row.valid_from {
                    for old in self
                        .state
                        .edges
                        .range((row.parent_id.clone(), row.child_id.clone(), None)..)
                        .take_while(|((parent, child, _), _)| {
                            *parent == row.parent_id && *child == row.child_id
                        })
                        .map(|(_, edge)| edge)
                        .filter(|old| {
                            old.valid_from.is_none_or(|start| start < from)
                                && old.valid_to.is_none_or(|end| end >= from)
                        })
                    {
                        events.push(Event::NodeUnlinked {
                            parent_id: old.parent_id.clone(),
                            child_id: old.child_id.clone(),
                            valid_from: old.valid_from,
                            valid_to: from.pred_opt().unwrap_or(from),
                        });
                    }
                }
                events.push(Event::NodeLinked(row.clone()));
                events
            }
        })
    }

    fn member(&self, row: &MemberRecord) -> Plan {
        let key = (row.node_id.clone(), row.person_id.clone(), row.joined_on);
        Ok(match self.state.members.get(&key) {
            Some(old) if old == row => vec![],
            Some(old) if old.role == row.role && row.left_on.is_some() => {
                vec![Event::MemberLeft {
                    node_id: row.node_id.clone(),
                    person_id: row.person_id.clone(),
                    joined_on: row.joined_on,
                    left_on: row.left_on.unwrap_or(self.today),
                }]
            }
            _ => vec![Event::MemberJoined(row.clone())],
        })
    }

    fn contribution(&self, row: ContributionRecord) -> Plan {
        not_after(row.date, self.today, "date")?;
        let Some(old) = self.state.contributions.get(&row.contribution_id) else {
            return match self
                .state
                .set_aside
                .get(&crate::state::id_hash(&row.contribution_id))
            {
                None => Ok(vec![Event::ContributionRecorded(row)]),
                Some(print) if *print == crate::state::fingerprint(&row) => Ok(vec![]),
                Some(_) => Err(Rejection {
                    field: "contribution_id",
                    reason: format!(
                        "contribution {} appears earlier in this import with different content; a file may hold each contribution once",
                        row.contribution_id
                    ),
                }),
            };
        };
        let as_recorded = ContributionRecord {
            confirmed: old.record.confirmed,
            ..row.clone()
        };
        if as_recorded != old.record {
            return changed_fact("contribution_id", "contribution", &row.contribution_id);
        }
        if !row.confirmed && old.record.confirmed {
            // The file takes back a confirmation it gave: that is a lead's decision with a
            // reason, which a row cannot carry.
            return Err(Rejection {
                field: "confirmed",
                reason: format!(
                    "contribution {} was recorded as confirmed; a file does not take a confirmation back. Its node's lead does, with a reason: `valuetree contribution unconfirm {} --reason TEXT`",
                    row.contribution_id, row.contribution_id
                ),
            });
        }
        if row.confirmed && !old.is_confirmed() {
            return Ok(vec![Event::ContributionConfirmed {
                contribution_id: row.contribution_id.clone(),
                confirmed_on: self.today,
                confirmed_by: None,
            }]);
        }
        Ok(vec![])
    }

    fn outcome(&self, row: OutcomeRecord) -> Plan {
        not_after(row.date, self.today, "date")?;
        match self.state.outcomes.get(&row.outcome_id) {
            None => Ok(vec![Event::OutcomeRecorded(row)]),
            Some(old) if *old == row => Ok(vec![]),
            Some(_) => changed_fact("outcome_id", "outcome", &row.outcome_id),
        }
    }

    fn handover(&self, row: HandoverRecord) -> Plan {
        match self.state.handovers.get(&(row.node_id.clone(), row.date)) {
            None => Ok(vec![Event::NodeHandedOver(row)]),
            Some(old) if *old == row => Ok(vec![]),
            Some(_) => Err(Rejection {
                field: "date",
                reason: format!(
                    "node {} already has a different hand-over on {}; a recorded hand-over is never edited",
                    row.node_id, row.date
                ),
            }),
        }
    }
}

impl Planner<'_> {
    /// An allocation with the same giver, node and date as a stored one revises it.
    fn peer_points(&self, row: &PeerAllocation) -> Plan {
        let key = (row.node_id.clone(), row.giver_id.clone(), row.date);
        Ok(match self.state.peer_points.get(&key) {
            Some(old) if old == row => vec![],
            _ => vec![Event::PeerPointsGiven(row.clone())],
        })
    }

    /// A cycle's settings never change once it is opened; a later phase in the file moves the
    /// cycle on, an earlier one is taken as an older file.
    fn cycle(&self, row: &CycleRecord) -> Plan {
        let Some(old) = self.state.reviews.cycles.get(&row.cycle_id) else {
            return Ok(vec![Event::CycleOpened(row.clone())]);
        };
        let same_settings = CycleRecord {
            phase: old.record.phase,
            ..row.clone()
        } == old.record;
        if !same_settings {
            return Err(Rejection {
                field: "cycle_id",
                reason: format!(
                    "cycle {} was opened with other settings; settings never change once a cycle is open: open a new cycle",
                    row.cycle_id
                ),
            });
        }
        Ok(if row.phase > old.phase {
            vec![Event::CyclePhaseChanged {
                cycle_id: row.cycle_id.clone(),
                effective_on: self.today,
                phase: row.phase,
            }]
        } else {
            vec![]
        })
    }

    /// A new rating is recorded; an unchanged one is skipped; a changed one is recorded as the
    /// rater's revision (refused once the cycle is in calibration).
    fn rating(&self, row: &RatingRecord) -> Plan {
        Ok(match self.state.reviews.ratings.get(&row.key()) {
            Some(old) if old == row => vec![],
            _ => vec![Event::RatingRecorded(row.clone())],
        })
    }
}

/// The error of a row whose key an earlier line (`first`) gave with other content.
fn repeated_key(line: u64, first: u64) -> RowError {
    RowError {
        line,
        column: None,
        reason: format!(
            "the same key appears on line {first} with different content; a file may hold each key once"
        ),
    }
}

fn changed_fact(field: &'static str, what: &str, id: &str) -> Plan {
    Err(Rejection {
        field,
        reason: format!(
            "{what} {id} was recorded before with different content; the ledger never edits a fact: retract it and record a new one under a new id"
        ),
    })
}

/// Work done and value realised are recorded once they happened: a date after the recording
/// day (UTC) is refused (planned work is recorded when it is done).
pub fn not_after(date: NaiveDate, today: NaiveDate, field: &'static str) -> Result<(), Rejection> {
    if date > today {
        return Err(Rejection {
            field,
            reason: format!(
                "{date} is after today ({today}, UTC): work and value are recorded once they happened"
            ),
        });
    }
    Ok(())
}

/// [`not_after`] for the events that record what happened (contributions and outcomes), as
/// every write checks them.
pub fn not_in_future(event: &Event, today: NaiveDate) -> Result<(), Rejection> {
    match event {
        Event::ContributionRecorded(c) => not_after(c.date, today, "date"),
        Event::OutcomeRecorded(o) => not_after(o.date, today, "date"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_shows_a_files_control_characters_as_escapes() {
        let error = RowError {
            line: 3,
            column: Some("name\u{7}".into()),
            reason: "unknown person \u{1b}[2J\u{1b}]0;owned\u{7}P1\r".into(),
        };
        let shown = error.to_string();
        assert_eq!(
            shown,
            "line 3, column name\\u{7}: unknown person \\u{1b}[2J\\u{1b}]0;owned\\u{7}P1\\u{d}"
        );
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(printable("Zoë Müller, 张伟"), "Zoë Müller, 张伟");
    }
    use crate::Amount;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap_or_default()
    }

    fn rows<T>(records: Vec<T>) -> Vec<Row<T>> {
        records
            .into_iter()
            .enumerate()
            .map(|(i, record)| Row {
                line: i as u64 + 2,
                record,
            })
            .collect()
    }

    fn kinds(
        state: &mut State,
        batch: &RecordBatch,
        errors: &mut Vec<RowError>,
    ) -> Vec<&'static str> {
        plan_all(state, batch, day("2025-01-01"), errors)
            .iter()
            .map(|p| p.event.kind())
            .collect()
    }

    fn person(id: &str, left: Option<&str>) -> PersonRecord {
        PersonRecord {
            person_id: id.into(),
            name: format!("Person {id}"),
            email: None,
            joined_on: day("2024-01-01"),
            left_on: left.map(day),
        }
    }

    fn unit(name: &str, parent: Option<&str>, to: Option<&str>) -> UnitRecord {
        UnitRecord {
            unit_id: "U1".into(),
            name: name.into(),
            parent_unit_id: parent.map(Into::into),
            valid_from: day("2024-01-01"),
            valid_to: to.map(day),
        }
    }

    #[test]
    fn master_data_changes_become_the_matching_events() {
        let mut state = State::default();
        let mut errors = Vec::new();
        let people = RecordBatch::People(rows(vec![person("P1", None), person("P2", None)]));
        assert_eq!(
            kinds(&mut state, &people, &mut errors),
            ["person_hired", "person_hired"]
        );
        assert_eq!(
            kinds(&mut state, &people, &mut errors),
            Vec::<&str>::new(),
            "re-import is a no-op"
        );
        let later = RecordBatch::People(rows(vec![
            person("P1", Some("2024-09-30")),
            PersonRecord {
                name: "Renamed".into(),
                ..person("P2", None)
            },
        ]));
        assert_eq!(
            kinds(&mut state, &later, &mut errors),
            ["person_left", "person_updated"]
        );

        let units = RecordBatch::Units(rows(vec![unit("Root", None, None)]));
        assert_eq!(kinds(&mut state, &units, &mut errors), ["unit_created"]);
        let other = RecordBatch::Units(rows(vec![UnitRecord {
            unit_id: "U0".into(),
            ..unit("Top", None, None)
        }]));
        assert_eq!(kinds(&mut state, &other, &mut errors), ["unit_created"]);
        let changed =
            RecordBatch::Units(rows(vec![unit("Renamed", Some("U0"), Some("2024-12-31"))]));
        assert_eq!(
            kinds(&mut state, &changed, &mut errors),
            ["unit_renamed", "unit_moved", "unit_dissolved"]
        );
        assert!(errors.is_empty(), "{errors:?}");

        let twice = RecordBatch::People(rows(vec![
            person("P3", None),
            PersonRecord {
                name: "Other".into(),
                ..person("P3", None)
            },
        ]));
        assert_eq!(kinds(&mut state, &twice, &mut errors), ["person_hired"]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 3);
    }

    #[test]
    fn facts_are_never_edited_but_can_be_confirmed() {
        let mut state = State::default();
        let mut errors = Vec::new();
        kinds(
            &mut state,
            &RecordBatch::People(rows(vec![person("P1", None)])),
            &mut errors,
        );
        let node = NodeRow {
            node_id: "N1".into(),
            kind: NodeKind::Initiative,
            title: "Node".into(),
            lead_id: None,
            created_on: day("2024-01-01"),
            status: None,
            flagpole: None,
            description: None,
        };
        kinds(
            &mut state,
            &RecordBatch::Nodes(rows(vec![node])),
            &mut errors,
        );
        assert_eq!(
            state.nodes.get("N1").map(|n| n.status),
            Some(NodeStatus::Active)
        );
        let contribution = ContributionRecord {
            contribution_id: "C1".into(),
            person_id: "P1".into(),
            node_id: "N1".into(),
            phase: Phase::Build,
            date: day("2024-02-01"),
            effort: Amount(3.0),
            description: "work".into(),
            evidence: None,
            confirmed: false,
        };
        let batch = |c: ContributionRecord| RecordBatch::Contributions(rows(vec![c]));
        assert_eq!(
            kinds(&mut state, &batch(contribution.clone()), &mut errors),
            ["contribution_recorded"]
        );
        let confirmed = ContributionRecord {
            confirmed: true,
            ..contribution.clone()
        };
        assert_eq!(
            kinds(&mut state, &batch(confirmed.clone()), &mut errors),
            ["contribution_confirmed"]
        );
        assert_eq!(
            kinds(&mut state, &batch(confirmed), &mut errors),
            Vec::<&str>::new()
        );
        assert_eq!(
            kinds(&mut state, &batch(contribution.clone()), &mut errors),
            Vec::<&str>::new(),
            "an older file does not un-confirm"
        );
        assert!(errors.is_empty(), "{errors:?}");
        let edited = ContributionRecord {
            effort: Amount(5.0),
            ..contribution
        };
        assert_eq!(
            kinds(&mut state, &batch(edited), &mut errors),
            Vec::<&str>::new()
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].column.as_deref(), Some("contribution_id"));
        assert!(
            errors[0].reason.contains("retract it"),
            "{}",
            errors[0].reason
        );
    }
}
