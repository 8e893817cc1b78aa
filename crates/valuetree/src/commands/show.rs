//! `valuetree show person|node|unit`: renders the application layer's views.

use super::render::{ViewFormat, json, node, person, span, unit};
use crate::parse_date;
use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;
use valuetree_app::{Actor, App};
use valuetree_core::NaiveDate;

#[derive(Subcommand, Debug)]
pub enum ShowWhat {
    /// A person: unit and manager as of a date, full history, nodes contributed to; their
    /// ratings and credit if you may see them.
    Person {
        /// The person's id.
        id: String,
        /// The date to place the person on (default: today).
        #[arg(long, value_parser = parse_date)]
        as_of: Option<NaiveDate>,
        /// Add the person's credit (private: themself, their managers, HR).
        #[arg(long)]
        credit: bool,
        /// How to print it.
        #[arg(long, value_enum, default_value = "table")]
        format: ViewFormat,
    },
    /// A node of the value tree: parents, children, members, hand-overs, contributors,
    /// outcomes, and who got what of its value.
    Node {
        /// The node's id.
        id: String,
        /// How to print it.
        #[arg(long, value_enum, default_value = "table")]
        format: ViewFormat,
    },
    /// A unit: its name and parent, and its members as of a date.
    Unit {
        /// The unit's id.
        id: String,
        /// The day to show the unit on (default: today).
        #[arg(long, value_parser = parse_date)]
        as_of: Option<NaiveDate>,
        /// How to print it.
        #[arg(long, value_enum, default_value = "table")]
        format: ViewFormat,
    },
}

pub fn run(app: &App, actor: &Actor, what: ShowWhat) -> Result<ExitCode> {
    match what {
        ShowWhat::Person {
            id,
            as_of,
            credit,
            format,
        } => {
            let view = app.person_record(actor, &id, as_of, credit)?;
            if format == ViewFormat::Json {
                return json(&view);
            }
            show_person(&view);
        }
        ShowWhat::Node { id, format } => {
            let view = app.node(actor, &id)?;
            if format == ViewFormat::Json {
                return json(&view);
            }
            show_node(&view);
        }
        ShowWhat::Unit { id, as_of, format } => {
            let view = app.unit(actor, &id, as_of)?;
            if format == ViewFormat::Json {
                return json(&view);
            }
            say!(
                "{} — exists {}",
                unit(&view.unit),
                span(view.valid_from, view.valid_to)
            );
            if let Some(parent) = &view.parent {
                say!("part of {}", unit(parent));
            }
            say!("\nMembers as of {}: {}", view.as_of, view.members.len());
            for p in &view.members {
                say!(
                    "  {}  manager {}",
                    person(&p.person),
                    p.manager.as_ref().map_or("none".to_string(), person)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show_person(v: &valuetree_app::queries::PersonRecordView) {
    say!(
        "{}{}",
        person(&v.person),
        v.email
            .as_ref()
            .map_or(String::new(), |e| format!(" <{e}>"))
    );
    say!(
        "employed {}{}",
        v.joined_on,
        v.left_on
            .map_or(String::from(", still employed"), |d| format!(
                " – {d} (left)"
            ))
    );
    match &v.placement {
        None => say!("as of {}: not employed", v.as_of),
        Some(p) => say!(
            "as of {}: {}, manager {}{}",
            v.as_of,
            p.unit.as_ref().map_or("no unit".to_string(), unit),
            p.manager.as_ref().map_or("none".to_string(), person),
            p.since.map_or(String::new(), |d| format!(" (since {d})"))
        ),
    }
    say!("\nHistory");
    for h in &v.history {
        say!(
            "  {}  {}  manager {}",
            span(h.valid_from, h.valid_to),
            unit(&h.unit),
            h.manager.as_ref().map_or("none".to_string(), person)
        );
    }
    say!("\nNodes contributed to (kept through every reorganisation)");
    if v.work.is_empty() {
        say!("  none recorded");
    }
    for w in &v.work {
        say!(
            "  {}  {}: {} contribution(s), effort {}, {} – {}{}",
            node(&w.node),
            w.phase,
            w.contributions,
            w.effort,
            w.first,
            w.last,
            if w.retracted == 0 {
                String::new()
            } else {
                format!(" ({} retracted)", w.retracted)
            }
        );
    }
    if !v.memberships.is_empty() {
        say!("\nMemberships");
        for m in &v.memberships {
            say!(
                "  {}  {}  as {}",
                span(m.joined_on, m.left_on),
                node(&m.node),
                m.role
            );
        }
    }
    if !v.leads.is_empty() {
        say!("\nLeads");
        for n in &v.leads {
            say!("  {} ({}, {})", node(&n.node), n.kind, n.status);
        }
    }
    if let Some(private) = &v.private {
        if let Some(credit) = private.credit {
            say!("\nCredit from the value tree: {credit:.2}");
        }
        for c in &private.cycles {
            say!("\nCycle {} ({} to {})", c.cycle_id, c.starts_on, c.ends_on);
            for r in &c.ratings {
                say!(
                    "  {} {} by {} ({}){}",
                    r.dimension,
                    r.score,
                    person(&r.rater),
                    r.relationship,
                    if r.comment.is_empty() {
                        String::new()
                    } else {
                        format!(": “{}”", r.comment)
                    }
                );
            }
            if let Some(f) = &c.feedback {
                for g in &f.groups {
                    let means: Vec<String> = g
                        .means
                        .iter()
                        .map(|(d, (mean, n))| format!("{d} {mean:.2} ({n})"))
                        .collect();
                    say!("  {}: {}", g.label, means.join(", "));
                }
                if f.withheld_ratings > 0 {
                    say!(
                        "  {} rating(s) withheld below the anonymity threshold of {}",
                        f.withheld_ratings,
                        f.threshold
                    );
                }
            }
        }
    }
}

fn show_node(v: &valuetree_app::queries::NodeView) {
    say!(
        "{} — {}, {}{}",
        node(&v.node),
        v.kind,
        v.status,
        if v.flagpole {
            ", flagpole (open to join)"
        } else {
            ""
        }
    );
    say!(
        "lead {}; created {}",
        v.lead.as_ref().map_or("none".to_string(), person),
        v.created_on
    );
    if v.lead != v.first_lead {
        say!(
            "first lead {}",
            v.first_lead.as_ref().map_or("none".to_string(), person)
        );
    }
    if !v.description.is_empty() {
        say!("{}", v.description);
    }
    if let Some(serves) = &v.serves {
        say!("serves {}", node(serves));
    }
    if !v.roles_wanted.is_empty() {
        say!("roles wanted: {}", v.roles_wanted.join(", "));
    }
    let validity = |from: Option<NaiveDate>, to: Option<NaiveDate>| match (from, to) {
        (None, None) => "always".to_string(),
        (from, to) => format!(
            "{} – {}",
            from.map_or("start".to_string(), |d| d.to_string()),
            to.map_or("".to_string(), |d| d.to_string())
        ),
    };
    for (title, edges) in [("Parents", &v.parents), ("Children", &v.children)] {
        if !edges.is_empty() {
            say!("\n{title}");
            for e in edges {
                say!(
                    "  {}  weight {}  ({})",
                    node(&e.node),
                    e.weight,
                    validity(e.valid_from, e.valid_to)
                );
            }
        }
    }
    if !v.members.is_empty() {
        say!("\nMembers");
        for m in &v.members {
            say!(
                "  {}  {}  as {}",
                span(m.joined_on, m.left_on),
                person(&m.person),
                m.role
            );
        }
    }
    if !v.handovers.is_empty() {
        say!("\nHand-overs (contributors keep what they earned)");
        for h in &v.handovers {
            say!(
                "  {}  {} → {}  {}",
                h.date,
                h.from_lead.as_ref().map_or("-".to_string(), person),
                h.to_lead.as_ref().map_or("-".to_string(), person),
                h.note
            );
        }
    }
    say!("\nContributors");
    if v.contributors.is_empty() {
        say!("  none recorded");
    }
    for c in &v.contributors {
        say!(
            "  {}  {}: {} contribution(s), effort {}, {} – {}{}",
            person(&c.person),
            c.phase,
            c.contributions,
            c.effort,
            c.first,
            c.last,
            if c.employed { "" } else { "  (has left)" }
        );
    }
    if !v.outcomes.is_empty() {
        say!("\nOutcomes");
        for o in &v.outcomes {
            say!(
                "  {} {}  value {}  {}",
                o.outcome_id,
                o.date,
                o.value,
                o.description
            );
        }
    }
    let pending: Vec<_> = v
        .join_requests
        .iter()
        .filter(|j| j.status == valuetree_core::domain::JoinStatus::Pending)
        .collect();
    if !pending.is_empty() {
        say!("\nAsking to join");
        for j in pending {
            say!(
                "  {} as {} ({}): {}",
                person(&j.person),
                j.role,
                j.requested_on,
                j.message
            );
        }
    }
}
