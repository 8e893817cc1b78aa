//! `valuetree show person|node|unit`.

use crate::{open_store, parse_date};
use anyhow::{Result, bail};
use clap::Subcommand;
use std::process::ExitCode;
use valuetree_core::NaiveDate;
use valuetree_core::org;
use valuetree_core::state::State;
use valuetree_store::sql::Value;
use valuetree_store::{Preload, Store};

#[derive(Subcommand, Debug)]
pub enum ShowWhat {
    /// A person: unit and manager as of a date, full history, nodes contributed to.
    Person {
        id: String,
        /// The date to place the person on (default: today).
        #[arg(long, value_parser = parse_date)]
        as_of: Option<NaiveDate>,
    },
    /// A node of the value tree: parents, children, members, hand-overs, contributors, outcomes.
    Node { id: String },
    /// A unit: its name and parent, and its members as of a date.
    Unit {
        id: String,
        #[arg(long, value_parser = parse_date)]
        as_of: Option<NaiveDate>,
    },
}

/// "Name (ID)", or just the id if the person is unknown.
pub fn person_label(state: &State, id: &str) -> String {
    match state.people.get(id) {
        Some(p) => format!("{} ({id})", p.name),
        None => id.to_string(),
    }
}

pub fn unit_label(state: &State, id: &str, date: NaiveDate) -> String {
    match org::unit_version(state, id, date)
        .map(|v| v.name)
        .or_else(|| state.units.get(id).map(|u| u.name.clone()))
    {
        Some(name) => format!("{name} ({id})"),
        None => id.to_string(),
    }
}

fn node_label(state: &State, id: &str) -> String {
    match state.nodes.get(id) {
        Some(n) => format!("{id} \"{}\"", n.title),
        None => id.to_string(),
    }
}

fn span(from: NaiveDate, to: Option<NaiveDate>) -> String {
    format!(
        "{from} – {}",
        to.map_or(String::from("        "), |d| d.to_string())
    )
}

fn text(v: &Value) -> String {
    match v {
        Value::Text(t) => t.clone(),
        Value::Int(i) => i.to_string(),
        Value::Real(f) => format!("{f}"),
        Value::Null => String::new(),
    }
}

pub fn run(db: &str, what: ShowWhat) -> Result<ExitCode> {
    let mut store = open_store(db)?;
    let today = store.clock().today();
    let state = store.load_state(&Preload::None)?;
    match what {
        ShowWhat::Person { id, as_of } => {
            show_person(&mut store, &state, &id, as_of.unwrap_or(today))
        }
        ShowWhat::Node { id } => show_node(&mut store, &state, &id),
        ShowWhat::Unit { id, as_of } => show_unit(&state, &id, as_of.unwrap_or(today)),
    }
}

fn show_person(store: &mut Store, state: &State, id: &str, as_of: NaiveDate) -> Result<ExitCode> {
    let Some(history) = org::person_history(state, id) else {
        bail!("unknown person {id}; `valuetree org` lists everyone");
    };
    let p = &history.person;
    say!(
        "{} ({}){}",
        p.name,
        p.person_id,
        p.email
            .as_ref()
            .map_or(String::new(), |e| format!(" <{e}>"))
    );
    say!(
        "employed {}{}",
        p.joined_on,
        p.left_on
            .map_or(String::from(", still employed"), |d| format!(
                " – {d} (left)"
            ))
    );
    match org::placement(state, id, as_of) {
        None => say!("as of {as_of}: not employed"),
        Some(placement) => say!(
            "as of {as_of}: {}, manager {}{}",
            placement
                .unit_id
                .as_deref()
                .map_or("no unit".to_string(), |u| unit_label(state, u, as_of)),
            placement
                .manager_id
                .as_deref()
                .map_or("none".to_string(), |m| person_label(state, m)),
            placement
                .since
                .map_or(String::new(), |d| format!(" (since {d})"))
        ),
    }
    say!("\nHistory");
    for entry in &history.assignments {
        say!(
            "  {}  {}  manager {}",
            span(entry.valid_from, entry.valid_to),
            unit_label(state, &entry.unit_id, entry.valid_from),
            entry
                .manager_id
                .as_deref()
                .map_or("none".to_string(), |m| person_label(state, m))
        );
    }
    let rows = store.query(
        "SELECT node_id, phase, count(*), sum(effort), min(date), max(date), \
         sum(CASE WHEN retracted_on IS NULL THEN 0 ELSE 1 END) \
         FROM contributions WHERE person_id = $1 GROUP BY node_id, phase ORDER BY min(date), node_id, phase",
        &[Value::text(id)],
    )?;
    say!("\nNodes contributed to (kept through every reorganisation)");
    if rows.is_empty() {
        say!("  none recorded");
    }
    for row in rows {
        let retracted = text(&row[6]);
        say!(
            "  {}  {}: {} contribution(s), effort {}, {} – {}{}",
            node_label(state, &text(&row[0])),
            text(&row[1]),
            text(&row[2]),
            text(&row[3]),
            text(&row[4]),
            text(&row[5]),
            if retracted == "0" {
                String::new()
            } else {
                format!(" ({retracted} retracted)")
            }
        );
    }
    let memberships: Vec<_> = state
        .members
        .values()
        .filter(|m| m.person_id == id)
        .collect();
    if !memberships.is_empty() {
        say!("\nMemberships");
        for m in memberships {
            say!(
                "  {}  {}  as {}",
                span(m.joined_on, m.left_on),
                node_label(state, &m.node_id),
                m.role
            );
        }
    }
    let mut led: Vec<_> = state
        .nodes
        .values()
        .filter(|n| state.current_lead(&n.node_id).map(String::as_str) == Some(id))
        .collect();
    led.sort_unstable_by(|a, b| a.node_id.cmp(&b.node_id));
    if !led.is_empty() {
        say!("\nLeads");
        for n in led {
            say!(
                "  {} ({}, {})",
                node_label(state, &n.node_id),
                n.kind,
                n.status
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show_node(store: &mut Store, state: &State, id: &str) -> Result<ExitCode> {
    let Some(n) = state.nodes.get(id) else {
        bail!("unknown node {id}");
    };
    say!(
        "{} — {}, {}{}",
        node_label(state, id),
        n.kind,
        n.status,
        if n.flagpole {
            ", flagpole (open to join)"
        } else {
            ""
        }
    );
    say!(
        "lead {}; created {}",
        state
            .current_lead(id)
            .map(String::as_str)
            .map_or("none".to_string(), |l| person_label(state, l)),
        n.created_on
    );
    if n.lead_id.as_ref() != state.current_lead(id) {
        say!(
            "first lead {}",
            n.lead_id
                .as_deref()
                .map_or("none".to_string(), |l| person_label(state, l))
        );
    }
    if !n.description.is_empty() {
        say!("{}", n.description);
    }
    let validity = |from: Option<NaiveDate>, to: Option<NaiveDate>| match (from, to) {
        (None, None) => "always".to_string(),
        (from, to) => format!(
            "{} – {}",
            from.map_or("start".to_string(), |d| d.to_string()),
            to.map_or("".to_string(), |d| d.to_string())
        ),
    };
    let parents: Vec<_> = state.edges.values().filter(|e| e.child_id == id).collect();
    let children: Vec<_> = state.edges.values().filter(|e| e.parent_id == id).collect();
    if !parents.is_empty() {
        say!("\nParents");
        for e in parents {
            say!(
                "  {}  weight {}  ({})",
                node_label(state, &e.parent_id),
                e.weight,
                validity(e.valid_from, e.valid_to)
            );
        }
    }
    if !children.is_empty() {
        say!("\nChildren");
        for e in children {
            say!(
                "  {}  weight {}  ({})",
                node_label(state, &e.child_id),
                e.weight,
                validity(e.valid_from, e.valid_to)
            );
        }
    }
    let members: Vec<_> = state.members.values().filter(|m| m.node_id == id).collect();
    if !members.is_empty() {
        say!("\nMembers");
        for m in members {
            say!(
                "  {}  {}  as {}",
                span(m.joined_on, m.left_on),
                person_label(state, &m.person_id),
                m.role
            );
        }
    }
    let handovers: Vec<_> = state
        .handovers
        .values()
        .filter(|h| h.node_id == id)
        .collect();
    if !handovers.is_empty() {
        say!("\nHand-overs (contributors keep what they earned)");
        for h in handovers {
            say!(
                "  {}  {} → {}  {}",
                h.date,
                h.from_lead_id
                    .as_deref()
                    .map_or("-".to_string(), |p| person_label(state, p)),
                h.to_lead_id
                    .as_deref()
                    .map_or("-".to_string(), |p| person_label(state, p)),
                h.note
            );
        }
    }
    let rows = store.query(
        "SELECT person_id, phase, count(*), sum(effort), min(date), max(date) FROM contributions \
         WHERE node_id = $1 AND retracted_on IS NULL GROUP BY person_id, phase ORDER BY min(date), person_id, phase",
        &[Value::text(id)],
    )?;
    say!("\nContributors");
    if rows.is_empty() {
        say!("  none recorded");
    }
    for row in rows {
        let person = text(&row[0]);
        let employed = state
            .people
            .get(&person)
            .is_some_and(|p| p.left_on.is_none());
        say!(
            "  {}  {}: {} contribution(s), effort {}, {} – {}{}",
            person_label(state, &person),
            text(&row[1]),
            text(&row[2]),
            text(&row[3]),
            text(&row[4]),
            text(&row[5]),
            if employed { "" } else { "  (has left)" }
        );
    }
    let outcomes = store.query(
        "SELECT outcome_id, date, value, description FROM outcomes WHERE node_id = $1 ORDER BY date, outcome_id",
        &[Value::text(id)],
    )?;
    if !outcomes.is_empty() {
        say!("\nOutcomes");
        for row in outcomes {
            say!(
                "  {} {}  value {}  {}",
                text(&row[0]),
                text(&row[1]),
                text(&row[2]),
                text(&row[3])
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show_unit(state: &State, id: &str, as_of: NaiveDate) -> Result<ExitCode> {
    let Some(u) = state.units.get(id) else {
        bail!("unknown unit {id}");
    };
    say!(
        "{} — exists {}",
        unit_label(state, id, as_of),
        span(u.valid_from, u.valid_to)
    );
    if let Some(parent) = org::unit_version(state, id, as_of).and_then(|v| v.parent_unit_id) {
        say!("part of {}", unit_label(state, &parent, as_of));
    }
    let members = org::unit_members(state, id, as_of);
    say!("\nMembers as of {as_of}: {}", members.len());
    for p in members {
        say!(
            "  {}  manager {}",
            person_label(state, &p.person_id),
            p.manager_id
                .as_deref()
                .map_or("none".to_string(), |m| person_label(state, m))
        );
    }
    Ok(ExitCode::SUCCESS)
}
