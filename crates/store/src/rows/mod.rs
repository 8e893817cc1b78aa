//! The projection tables, and how core's records become rows and back.

pub mod digest;
pub mod review;

use crate::StoreError;
use crate::sql::{Cell, Row, Table, Value};
use valuetree_core::domain::*;
use valuetree_core::state::{AssignmentKey, Changes, MemberKey, State};
use valuetree_core::{Amount, NaiveDate};

/// Every table valuetree keeps: the ledger and its projections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TableId {
    Events,
    PersonalValues,
    PersonKeys,
    People,
    Units,
    UnitVersions,
    Assignments,
    Nodes,
    Edges,
    Members,
    Contributions,
    Outcomes,
    Handovers,
    PeerPoints,
    Roles,
    JoinRequests,
    Policies,
    Cycles,
    Goals,
    Measurements,
    Reviewers,
    SelfReviews,
    Behaviours,
    Ratings,
    Scores,
    Overrides,
}

pub const EVENTS: Table = Table {
    id: TableId::Events,
    name: "events",
    columns: &[
        "seq",
        "event_id",
        "kind",
        "payload",
        "effective",
        "recorded",
        "actor",
        "hash",
    ],
    key_columns: 1,
};
/// The personal values taken out of the chained payloads (migration 0010).
pub const PERSONAL_VALUES: Table = Table {
    id: TableId::PersonalValues,
    name: "personal_values",
    columns: &["seq", "member", "subject", "value", "cycle_id"],
    key_columns: 2,
};
/// Each person's key for the commitments to their personal values.
pub const PERSON_KEYS: Table = Table {
    id: TableId::PersonKeys,
    name: "person_keys",
    columns: &["person_id", "key"],
    key_columns: 1,
};
pub const PEOPLE: Table = Table {
    id: TableId::People,
    name: "people",
    columns: &[
        "person_id",
        "name",
        "email",
        "joined_on",
        "left_on",
        "erased_on",
    ],
    key_columns: 1,
};
pub const UNITS: Table = Table {
    id: TableId::Units,
    name: "units",
    columns: &[
        "unit_id",
        "name",
        "parent_unit_id",
        "valid_from",
        "valid_to",
    ],
    key_columns: 1,
};
pub const UNIT_VERSIONS: Table = Table {
    id: TableId::UnitVersions,
    name: "unit_versions",
    columns: &["unit_id", "valid_from", "name", "parent_unit_id"],
    key_columns: 2,
};
pub const ASSIGNMENTS: Table = Table {
    id: TableId::Assignments,
    name: "assignments",
    columns: &[
        "person_id",
        "valid_from",
        "unit_id",
        "manager_id",
        "valid_to",
    ],
    key_columns: 2,
};
pub const NODES: Table = Table {
    id: TableId::Nodes,
    name: "nodes",
    columns: &[
        "node_id",
        "kind",
        "title",
        "lead_id",
        "created_on",
        "status",
        "flagpole",
        "description",
        "current_lead_id",
        "roles_wanted",
        "serves_id",
    ],
    key_columns: 1,
};
pub const EDGES: Table = Table {
    id: TableId::Edges,
    name: "edges",
    columns: &["parent_id", "child_id", "valid_from", "weight", "valid_to"],
    key_columns: 3,
};
pub const MEMBERS: Table = Table {
    id: TableId::Members,
    name: "members",
    columns: &["node_id", "person_id", "joined_on", "role", "left_on"],
    key_columns: 3,
};
pub const CONTRIBUTIONS: Table = Table {
    id: TableId::Contributions,
    name: "contributions",
    columns: &[
        "contribution_id",
        "person_id",
        "node_id",
        "phase",
        "date",
        "effort",
        "description",
        "evidence",
        "confirmed",
        "confirmed_on",
        "retracted_on",
        "retraction_reason",
    ],
    key_columns: 1,
};
pub const OUTCOMES: Table = Table {
    id: TableId::Outcomes,
    name: "outcomes",
    columns: &[
        "outcome_id",
        "node_id",
        "date",
        "value",
        "description",
        "evidence",
    ],
    key_columns: 1,
};
pub const HANDOVERS: Table = Table {
    id: TableId::Handovers,
    name: "handovers",
    columns: &[
        "node_id",
        "date",
        "from_lead_id",
        "to_lead_id",
        "from_unit_id",
        "to_unit_id",
        "note",
    ],
    key_columns: 2,
};

pub const PEER_POINTS: Table = Table {
    id: TableId::PeerPoints,
    name: "peer_points",
    columns: &["node_id", "giver_id", "date", "points"],
    key_columns: 3,
};

pub const ROLES: Table = Table {
    id: TableId::Roles,
    name: "roles",
    columns: &[
        "person_id",
        "role",
        "granted_on",
        "granted_by",
        "revoked_on",
        "revoked_by",
    ],
    key_columns: 2,
};

pub const JOIN_REQUESTS: Table = Table {
    id: TableId::JoinRequests,
    name: "join_requests",
    columns: &[
        "node_id",
        "person_id",
        "requested_on",
        "role",
        "message",
        "status",
        "answered_on",
        "answered_by",
    ],
    key_columns: 2,
};

pub const POLICIES: Table = Table {
    id: TableId::Policies,
    name: "policies",
    columns: &["kind", "text", "set_on", "set_by"],
    key_columns: 1,
};

/// Every projection table, in the order they are written and compared.
pub const PROJECTIONS: [&Table; 23] = [
    &PEOPLE,
    &UNITS,
    &UNIT_VERSIONS,
    &ASSIGNMENTS,
    &NODES,
    &EDGES,
    &MEMBERS,
    &CONTRIBUTIONS,
    &OUTCOMES,
    &HANDOVERS,
    &PEER_POINTS,
    &ROLES,
    &JOIN_REQUESTS,
    &POLICIES,
    &review::CYCLES,
    &review::GOALS,
    &review::MEASUREMENTS,
    &review::REVIEWERS,
    &review::SELF_REVIEWS,
    &review::BEHAVIOURS,
    &review::RATINGS,
    &review::SCORES,
    &review::OVERRIDES,
];

/// Tables whose rows are loaded on demand (they can number in the millions).
pub fn is_fact_table(table: &Table) -> bool {
    matches!(
        table.id,
        TableId::Contributions | TableId::Outcomes | TableId::Ratings | TableId::Scores
    )
}

fn date(d: NaiveDate) -> Value {
    Value::Text(valuetree_core::date_text(d))
}

fn opt_date(d: Option<NaiveDate>) -> Value {
    d.map_or(Value::Null, date)
}

fn flag(b: bool) -> Value {
    Value::Int(b.into())
}

pub fn person_row(state: &State, p: &PersonRecord) -> Row {
    vec![
        Value::text(&p.person_id),
        Value::text(&p.name),
        Value::opt_text(p.email.as_ref()),
        date(p.joined_on),
        opt_date(p.left_on),
        opt_date(state.erased.get(&p.person_id).copied()),
    ]
}

pub fn unit_row(u: &UnitRecord) -> Row {
    vec![
        Value::text(&u.unit_id),
        Value::text(&u.name),
        Value::opt_text(u.parent_unit_id.as_ref()),
        date(u.valid_from),
        opt_date(u.valid_to),
    ]
}

pub fn unit_version_row(v: &UnitVersion) -> Row {
    vec![
        Value::text(&v.unit_id),
        date(v.valid_from),
        Value::text(&v.name),
        Value::opt_text(v.parent_unit_id.as_ref()),
    ]
}

pub fn assignment_row(a: &Assignment) -> Row {
    vec![
        Value::text(&a.record.person_id),
        date(a.record.valid_from),
        Value::text(&a.record.unit_id),
        Value::opt_text(a.record.manager_id.as_ref()),
        opt_date(a.valid_to),
    ]
}

pub fn node_row(state: &State, n: &NodeRecord) -> Row {
    vec![
        Value::text(&n.node_id),
        Value::text(n.kind.as_str()),
        Value::text(&n.title),
        Value::opt_text(n.lead_id.as_ref()),
        date(n.created_on),
        Value::text(n.status.as_str()),
        flag(n.flagpole),
        Value::text(&n.description),
        Value::opt_text(state.current_lead(&n.node_id)),
        Value::Text(serde_json::to_string(&n.roles_wanted).unwrap_or_default()),
        Value::opt_text(n.serves_id.as_ref()),
    ]
}

pub fn policy_row(p: &PolicySetting) -> Row {
    vec![
        Value::text(p.kind.as_str()),
        Value::text(&p.text),
        date(p.set_on),
        Value::opt_text(p.set_by.as_ref()),
    ]
}

pub fn role_row(h: &RoleHolding) -> Row {
    vec![
        Value::text(&h.person_id),
        Value::text(h.role.as_str()),
        date(h.granted_on),
        Value::opt_text(h.granted_by.as_ref()),
        opt_date(h.revoked_on),
        Value::opt_text(h.revoked_by.as_ref()),
    ]
}

pub fn join_request_row(r: &JoinRequest) -> Row {
    vec![
        Value::text(&r.node_id),
        Value::text(&r.person_id),
        date(r.requested_on),
        Value::text(&r.role),
        Value::text(&r.message),
        Value::text(r.status.as_str()),
        opt_date(r.answered_on),
        Value::opt_text(r.answered_by.as_ref()),
    ]
}

pub fn edge_row(e: &EdgeRecord) -> Row {
    vec![
        Value::text(&e.parent_id),
        Value::text(&e.child_id),
        Value::Text(e.valid_from.map_or(String::new(), |d| d.to_string())),
        Value::Real(e.weight.value()),
        opt_date(e.valid_to),
    ]
}

pub fn member_row(m: &MemberRecord) -> Row {
    vec![
        Value::text(&m.node_id),
        Value::text(&m.person_id),
        date(m.joined_on),
        Value::text(&m.role),
        opt_date(m.left_on),
    ]
}

pub fn contribution_row(c: &Contribution) -> Row {
    let r = &c.record;
    let date = valuetree_core::date_text(r.date);
    let mut row: Row = contribution_record_cells(r, &date)
        .iter()
        .map(Cell::to_value)
        .collect();
    row.extend(contribution_status(
        r.confirmed,
        c.confirmed_on,
        c.retracted_on,
        c.retraction_reason.as_deref(),
    ));
    row
}

/// The cells of a contribution's row that its record sets, all but the last four columns
/// ([`contribution_status`]); `date` is the record's date as text.
pub fn contribution_record_cells<'r>(r: &'r ContributionRecord, date: &'r str) -> [Cell<'r>; 8] {
    [
        Cell::Text(&r.contribution_id),
        Cell::Text(&r.person_id),
        Cell::Text(&r.node_id),
        Cell::Text(r.phase.as_str()),
        Cell::Text(date),
        Cell::Real(r.effort.value()),
        Cell::Text(&r.description),
        r.evidence.as_deref().map_or(Cell::Null, Cell::Text),
    ]
}

/// The last four columns of a contribution's row: what confirming it, taking the
/// confirmation back and retracting it change.
pub fn contribution_status(
    recorded_confirmed: bool,
    confirmed_on: Option<NaiveDate>,
    retracted_on: Option<NaiveDate>,
    retraction_reason: Option<&str>,
) -> [Value; 4] {
    [
        flag(recorded_confirmed),
        opt_date(confirmed_on),
        opt_date(retracted_on),
        Value::opt_text(retraction_reason),
    ]
}

/// The digest a checking replay keeps of a contribution (see
/// `valuetree_core::digests::DigestedContribution`): of [`contribution_record_cells`].
pub fn contribution_record_digest(r: &ContributionRecord) -> u64 {
    let date = valuetree_core::date_text(r.date);
    digest::of_cells(&contribution_record_cells(r, &date))
}

/// [`contribution_row`] from a contribution given up: its strings move into the row.
pub fn contribution_row_owned(c: Contribution) -> Row {
    let r = c.record;
    vec![
        Value::Text(r.contribution_id),
        Value::Text(r.person_id),
        Value::Text(r.node_id),
        Value::text(r.phase.as_str()),
        date(r.date),
        Value::Real(r.effort.value()),
        Value::Text(r.description),
        Value::opt_text(r.evidence),
        flag(r.confirmed),
        opt_date(c.confirmed_on),
        opt_date(c.retracted_on),
        Value::opt_text(c.retraction_reason),
    ]
}

pub fn outcome_row(o: &OutcomeRecord) -> Row {
    vec![
        Value::text(&o.outcome_id),
        Value::text(&o.node_id),
        date(o.date),
        Value::Real(o.value.value()),
        Value::text(&o.description),
        Value::opt_text(o.evidence.as_ref()),
    ]
}

pub fn handover_row(h: &HandoverRecord) -> Row {
    vec![
        Value::text(&h.node_id),
        date(h.date),
        Value::opt_text(h.from_lead_id.as_ref()),
        Value::opt_text(h.to_lead_id.as_ref()),
        Value::opt_text(h.from_unit_id.as_ref()),
        Value::opt_text(h.to_unit_id.as_ref()),
        Value::text(&h.note),
    ]
}

pub fn peer_points_row(a: &PeerAllocation) -> Row {
    vec![
        Value::text(&a.node_id),
        Value::text(&a.giver_id),
        date(a.date),
        Value::Text(serde_json::to_string(&a.points).unwrap_or_default()),
    ]
}

/// The rows of `table` that `changes` names, from `state`.
pub fn changed_rows(state: &State, changes: &Changes, table: &Table) -> Vec<Row> {
    fn pick<K: Ord, V>(
        keys: &std::collections::BTreeSet<K>,
        get: impl Fn(&K) -> Option<V>,
        row: impl Fn(V) -> Row,
    ) -> Vec<Row> {
        keys.iter().filter_map(|k| get(k).map(&row)).collect()
    }
    match table.id {
        TableId::People => pick(
            &changes.people,
            |k| state.people.get(k),
            |p| person_row(state, p),
        ),
        TableId::Units => pick(&changes.units, |k| state.units.get(k), unit_row),
        TableId::UnitVersions => pick(
            &changes.unit_versions,
            |k| state.unit_versions.get(k),
            unit_version_row,
        ),
        TableId::Assignments => pick(
            &changes.assignments,
            |k| state.assignments.get(k),
            assignment_row,
        ),
        TableId::Nodes => pick(
            &changes.nodes,
            |k| state.nodes.get(k),
            |n| node_row(state, n),
        ),
        TableId::Edges => pick(&changes.edges, |k| state.edges.get(k), edge_row),
        TableId::Members => pick(&changes.members, |k| state.members.get(k), member_row),
        TableId::Contributions => pick(
            &changes.contributions,
            |k| state.contributions.get(k),
            contribution_row,
        ),
        TableId::Outcomes => pick(&changes.outcomes, |k| state.outcomes.get(k), outcome_row),
        TableId::Handovers => pick(&changes.handovers, |k| state.handovers.get(k), handover_row),
        TableId::PeerPoints => pick(
            &changes.peer_points,
            |k| state.peer_points.get(k),
            peer_points_row,
        ),
        TableId::Roles => pick(&changes.roles, |k| state.roles.get(k), role_row),
        TableId::Policies => pick(&changes.policies, |k| state.policies.get(k), policy_row),
        TableId::JoinRequests => pick(
            &changes.join_requests,
            |k| state.join_requests.get(k),
            join_request_row,
        ),
        TableId::Events | TableId::PersonalValues | TableId::PersonKeys => Vec::new(),
        TableId::Cycles
        | TableId::Goals
        | TableId::Measurements
        | TableId::Reviewers
        | TableId::SelfReviews
        | TableId::Behaviours
        | TableId::Ratings
        | TableId::Scores
        | TableId::Overrides => review::changed_rows(state, &changes.reviews, table),
    }
}

/// Every row of `table` held in `state`, sorted by key as `SELECT … ORDER BY key` returns them.
pub fn all_rows(state: &State, table: &Table) -> Vec<Row> {
    let mut rows: Vec<Row> = match table.id {
        TableId::People => state
            .people
            .values()
            .map(|p| person_row(state, p))
            .collect(),
        TableId::Units => state.units.values().map(unit_row).collect(),
        TableId::UnitVersions => state.unit_versions.values().map(unit_version_row).collect(),
        TableId::Assignments => state.assignments.values().map(assignment_row).collect(),
        TableId::Nodes => state.nodes.values().map(|n| node_row(state, n)).collect(),
        TableId::Edges => state.edges.values().map(edge_row).collect(),
        TableId::Members => state.members.values().map(member_row).collect(),
        TableId::Contributions => state.contributions.values().map(contribution_row).collect(),
        TableId::Outcomes => state.outcomes.values().map(outcome_row).collect(),
        TableId::Handovers => state.handovers.values().map(handover_row).collect(),
        TableId::PeerPoints => state.peer_points.values().map(peer_points_row).collect(),
        TableId::Roles => state.roles.values().map(role_row).collect(),
        TableId::Policies => state.policies.values().map(policy_row).collect(),
        TableId::JoinRequests => state.join_requests.values().map(join_request_row).collect(),
        TableId::Events | TableId::PersonalValues | TableId::PersonKeys => Vec::new(),
        TableId::Cycles
        | TableId::Goals
        | TableId::Measurements
        | TableId::Reviewers
        | TableId::SelfReviews
        | TableId::Behaviours
        | TableId::Ratings
        | TableId::Scores
        | TableId::Overrides => review::all_rows(state, table),
    };
    rows.sort_by(|a, b| compare_keys(a, b, table.key_columns));
    rows
}

/// The rows of `table` in key order, made one at a time for the tables that can hold
/// millions of rows (contributions, outcomes, ratings, calibrated scores), all at once for
/// the others.
pub fn sorted_rows<'s>(state: &'s State, table: &Table) -> Box<dyn Iterator<Item = Row> + 's> {
    fn by_key<'s, K: Ord, V, H>(
        map: &'s std::collections::HashMap<K, V, H>,
        row: impl Fn(&'s K, &'s V) -> Row + 's,
    ) -> Box<dyn Iterator<Item = Row> + 's> {
        // String and tuple-of-String keys order by bytes, as `compare_keys` does.
        let mut entries: Vec<(&K, &V)> = map.iter().collect();
        // Keys of a map are unique, so an unstable sort gives the one order (and is faster).
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Box::new(entries.into_iter().map(move |(k, v)| row(k, v)))
    }
    match table.id {
        TableId::Contributions => by_key(&state.contributions, |_, c| contribution_row(c)),
        TableId::Outcomes => by_key(&state.outcomes, |_, o| outcome_row(o)),
        TableId::Ratings => by_key(&state.reviews.ratings, |_, r| review::rating_row(r)),
        TableId::Scores => by_key(&state.reviews.scores, review::score_row),
        _ => Box::new(all_rows(state, table).into_iter()),
    }
}

pub fn compare_keys(a: &Row, b: &Row, key_columns: usize) -> std::cmp::Ordering {
    for i in 0..key_columns {
        let ordering = match (&a[i], &b[i]) {
            (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Value::Int(x), Value::Int(y)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
    std::cmp::Ordering::Equal
}

// ---- reading rows back --------------------------------------------------------------------

/// Typed access to a stored row, naming the table and column when a value is not as expected
/// (which means someone edited the database by hand).
pub struct Reader<'r> {
    table: &'static str,
    row: &'r Row,
}

impl<'r> Reader<'r> {
    pub fn new(table: &'static str, row: &'r Row) -> Self {
        Reader { table, row }
    }

    fn corrupt(&self, i: usize, what: &str) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            reason: format!(
                "column {} holds {:?}, expected {what}",
                i + 1,
                self.row.get(i)
            ),
        }
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.row.get(i) {
            Some(Value::Null) => Ok(None),
            Some(Value::Text(t)) => Ok(Some(t.clone())),
            _ => Err(self.corrupt(i, "text")),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?.ok_or_else(|| self.corrupt(i, "text"))
    }

    pub fn opt_date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError> {
        match self.opt_text(i)? {
            None => Ok(None),
            Some(t) if t.is_empty() => Ok(None),
            Some(t) => t.parse().map(Some).map_err(|_| self.corrupt(i, "a date")),
        }
    }

    pub fn date(&self, i: usize) -> Result<NaiveDate, StoreError> {
        self.opt_date(i)?.ok_or_else(|| self.corrupt(i, "a date"))
    }

    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.row.get(i) {
            Some(Value::Int(n)) => Ok(*n),
            _ => Err(self.corrupt(i, "an integer")),
        }
    }

    pub fn real(&self, i: usize) -> Result<Amount, StoreError> {
        match self.row.get(i) {
            Some(Value::Real(f)) => Ok(Amount(*f)),
            Some(Value::Int(n)) => Ok(Amount(*n as f64)),
            _ => Err(self.corrupt(i, "a number")),
        }
    }

    pub fn parsed<T: std::str::FromStr>(&self, i: usize) -> Result<T, StoreError> {
        self.text(i)?
            .parse()
            .map_err(|_| self.corrupt(i, "a known value"))
    }
}

/// A stored assignment and its key.
fn read_assignment(r: &Reader<'_>) -> Result<(AssignmentKey, Assignment), StoreError> {
    let a = Assignment {
        record: AssignmentRecord {
            person_id: r.text(0)?,
            valid_from: r.date(1)?,
            unit_id: r.text(2)?,
            manager_id: r.opt_text(3)?,
        },
        valid_to: r.opt_date(4)?,
    };
    Ok(((a.record.person_id.clone(), a.record.valid_from), a))
}

/// A stored membership and its key.
fn read_member(r: &Reader<'_>) -> Result<(MemberKey, MemberRecord), StoreError> {
    let m = MemberRecord {
        node_id: r.text(0)?,
        person_id: r.text(1)?,
        joined_on: r.date(2)?,
        role: r.text(3)?,
        left_on: r.opt_date(4)?,
    };
    Ok(((m.node_id.clone(), m.person_id.clone(), m.joined_on), m))
}

/// What a scan hands each row to.
pub type RowSink<'a> = dyn FnMut(&Row) -> Result<(), StoreError> + 'a;

/// Loads every row of `table` into `state`, read by `scan` (each row to the callback it is
/// given). The organisation's big tables (assignments, memberships), when `state` holds none
/// yet, are gathered first and their maps built at once: a map built from all its entries
/// sorts them in one go, where inserting rows one by one in the database's order walks the
/// tree at random for each.
pub fn load_table(
    state: &mut State,
    table: &Table,
    scan: &mut dyn FnMut(&mut RowSink<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    match table.id {
        TableId::Assignments if state.assignments.is_empty() => {
            let mut entries = Vec::new();
            scan(&mut |row| {
                entries.push(read_assignment(&Reader::new(table.name, row))?);
                Ok(())
            })?;
            state.assignments = entries.into_iter().collect();
        }
        TableId::Members if state.members.is_empty() => {
            let mut entries = Vec::new();
            scan(&mut |row| {
                entries.push(read_member(&Reader::new(table.name, row))?);
                Ok(())
            })?;
            state.members = entries.into_iter().collect();
        }
        _ => scan(&mut |row| load_row(state, table, row))?,
    }
    Ok(())
}

/// Puts one stored row of `table` into `state`.
pub fn load_row(state: &mut State, table: &Table, row: &Row) -> Result<(), StoreError> {
    let r = Reader::new(table.name, row);
    match table.id {
        TableId::People => {
            let p = PersonRecord {
                person_id: r.text(0)?,
                name: r.text(1)?,
                email: r.opt_text(2)?,
                joined_on: r.date(3)?,
                left_on: r.opt_date(4)?,
            };
            if let Some(erased_on) = r.opt_date(5)? {
                state.erased.insert(p.person_id.clone(), erased_on);
            }
            state.people.insert(p.person_id.clone(), p);
        }
        TableId::Units => {
            let u = UnitRecord {
                unit_id: r.text(0)?,
                name: r.text(1)?,
                parent_unit_id: r.opt_text(2)?,
                valid_from: r.date(3)?,
                valid_to: r.opt_date(4)?,
            };
            state.units.insert(u.unit_id.clone(), u);
        }
        TableId::UnitVersions => {
            let v = UnitVersion {
                unit_id: r.text(0)?,
                valid_from: r.date(1)?,
                name: r.text(2)?,
                parent_unit_id: r.opt_text(3)?,
            };
            state
                .unit_versions
                .insert((v.unit_id.clone(), v.valid_from), v);
        }
        TableId::Assignments => {
            let (key, a) = read_assignment(&r)?;
            state.assignments.insert(key, a);
        }
        TableId::Nodes => {
            let n = NodeRecord {
                node_id: r.text(0)?,
                kind: r.parsed(1)?,
                title: r.text(2)?,
                lead_id: r.opt_text(3)?,
                created_on: r.date(4)?,
                status: r.parsed(5)?,
                flagpole: r.int(6)? != 0,
                description: r.text(7)?,
                roles_wanted: serde_json::from_str(&r.text(9)?).map_err(|e| {
                    StoreError::Corrupt {
                        table: "nodes",
                        reason: format!("roles_wanted does not read back: {e}"),
                    }
                })?,
                serves_id: r.opt_text(10)?,
            };
            state.nodes.insert(n.node_id.clone(), n);
        }
        TableId::Edges => {
            let e = EdgeRecord {
                parent_id: r.text(0)?,
                child_id: r.text(1)?,
                valid_from: r.opt_date(2)?,
                weight: r.real(3)?,
                valid_to: r.opt_date(4)?,
            };
            state
                .edges
                .insert((e.parent_id.clone(), e.child_id.clone(), e.valid_from), e);
        }
        TableId::Members => {
            let (key, m) = read_member(&r)?;
            state.members.insert(key, m);
        }
        TableId::Contributions => {
            let c = Contribution {
                record: ContributionRecord {
                    contribution_id: r.text(0)?,
                    person_id: r.text(1)?,
                    node_id: r.text(2)?,
                    phase: r.parsed(3)?,
                    date: r.date(4)?,
                    effort: r.real(5)?,
                    description: r.text(6)?,
                    evidence: r.opt_text(7)?,
                    confirmed: r.int(8)? != 0,
                },
                confirmed_on: r.opt_date(9)?,
                retracted_on: r.opt_date(10)?,
                retraction_reason: r.opt_text(11)?,
            };
            state
                .contributions
                .insert(c.record.contribution_id.clone(), c);
        }
        TableId::Outcomes => {
            let o = OutcomeRecord {
                outcome_id: r.text(0)?,
                node_id: r.text(1)?,
                date: r.date(2)?,
                value: r.real(3)?,
                description: r.text(4)?,
                evidence: r.opt_text(5)?,
            };
            state.outcomes.insert(o.outcome_id.clone(), o);
        }
        TableId::Handovers => {
            let h = HandoverRecord {
                node_id: r.text(0)?,
                date: r.date(1)?,
                from_lead_id: r.opt_text(2)?,
                to_lead_id: r.opt_text(3)?,
                from_unit_id: r.opt_text(4)?,
                to_unit_id: r.opt_text(5)?,
                note: r.text(6)?,
            };
            state.handovers.insert((h.node_id.clone(), h.date), h);
        }
        TableId::PeerPoints => {
            let a = PeerAllocation {
                node_id: r.text(0)?,
                giver_id: r.text(1)?,
                date: r.date(2)?,
                points: serde_json::from_str(&r.text(3)?).map_err(|e| StoreError::Corrupt {
                    table: "peer_points",
                    reason: format!("points do not read back: {e}"),
                })?,
            };
            state
                .peer_points
                .insert((a.node_id.clone(), a.giver_id.clone(), a.date), a);
        }
        TableId::Roles => {
            let h = RoleHolding {
                person_id: r.text(0)?,
                role: r.parsed(1)?,
                granted_on: r.date(2)?,
                granted_by: r.opt_text(3)?,
                revoked_on: r.opt_date(4)?,
                revoked_by: r.opt_text(5)?,
            };
            state.roles.insert((h.person_id.clone(), h.role), h);
        }
        TableId::Policies => {
            let p = PolicySetting {
                kind: r.parsed(0)?,
                text: r.text(1)?,
                set_on: r.date(2)?,
                set_by: r.opt_text(3)?,
            };
            state.policies.insert(p.kind, p);
        }
        TableId::JoinRequests => {
            let j = JoinRequest {
                node_id: r.text(0)?,
                person_id: r.text(1)?,
                requested_on: r.date(2)?,
                role: r.text(3)?,
                message: r.text(4)?,
                status: r.parsed(5)?,
                answered_on: r.opt_date(6)?,
                answered_by: r.opt_text(7)?,
            };
            state
                .join_requests
                .insert((j.node_id.clone(), j.person_id.clone()), j);
        }
        TableId::Events | TableId::PersonalValues | TableId::PersonKeys => {}
        TableId::Cycles
        | TableId::Goals
        | TableId::Measurements
        | TableId::Reviewers
        | TableId::SelfReviews
        | TableId::Behaviours
        | TableId::Ratings
        | TableId::Scores
        | TableId::Overrides => review::load_row(state, table, row)?,
    }
    Ok(())
}
