//! `valuetree org [--as-of DATE]` and `valuetree org diff A B`.

use super::labels::{person_label, unit_label};
use crate::{open_store, parse_date};
use anyhow::Result;
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::process::ExitCode;
use valuetree_core::NaiveDate;
use valuetree_core::org;
use valuetree_store::Preload;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct OrgArgs {
    /// The date to show the organisation on (default: today).
    #[arg(long, value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    diff: Option<OrgCommand>,
}

#[derive(Subcommand, Debug)]
enum OrgCommand {
    /// What changed between two dates: who joined, left, moved or changed manager, and which
    /// units were created or dissolved.
    Diff {
        #[arg(value_parser = parse_date)]
        from: NaiveDate,
        #[arg(value_parser = parse_date)]
        to: NaiveDate,
    },
}

pub fn run(db: &str, args: OrgArgs) -> Result<ExitCode> {
    let mut store = open_store(db)?;
    let today = store.clock().today();
    let state = store.load_state(&Preload::None)?;
    if let Some(OrgCommand::Diff { from, to }) = args.diff {
        let diff = org::diff(&state, from, to);
        if args.json {
            say!("{}", serde_json::to_string_pretty(&diff)?);
            return Ok(ExitCode::SUCCESS);
        }
        say!("Changes from {from} to {to}");
        let unit = |u: &Option<String>, d| {
            u.as_deref()
                .map_or("no unit".to_string(), |u| unit_label(&state, u, d))
        };
        let manager = |m: &Option<String>| {
            m.as_deref()
                .map_or("none".to_string(), |m| person_label(&state, m))
        };
        section(
            "joined",
            diff.joined.iter().map(|p| {
                format!(
                    "{} into {}",
                    person_label(&state, &p.person_id),
                    unit(&p.unit_id, to)
                )
            }),
        );
        section(
            "left",
            diff.left.iter().map(|p| {
                format!(
                    "{} from {}",
                    person_label(&state, &p.person_id),
                    unit(&p.unit_id, from)
                )
            }),
        );
        section(
            "moved",
            diff.moved.iter().map(|c| {
                format!(
                    "{}: {} → {}",
                    person_label(&state, &c.person_id),
                    unit(&c.before, from),
                    unit(&c.after, to)
                )
            }),
        );
        section(
            "manager changed",
            diff.manager_changed.iter().map(|c| {
                format!(
                    "{}: {} → {}",
                    person_label(&state, &c.person_id),
                    manager(&c.before),
                    manager(&c.after)
                )
            }),
        );
        section(
            "units created",
            diff.units_created.iter().map(|u| unit_label(&state, u, to)),
        );
        section(
            "units dissolved",
            diff.units_dissolved
                .iter()
                .map(|u| unit_label(&state, u, from)),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let date = args.as_of.unwrap_or(today);
    let placements = org::org_as_of(&state, date);
    if args.json {
        say!("{}", serde_json::to_string_pretty(&placements)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut by_unit: BTreeMap<Option<String>, Vec<&org::Placement>> = BTreeMap::new();
    for p in &placements {
        by_unit.entry(p.unit_id.clone()).or_default().push(p);
    }
    say!(
        "As of {date}: {} people in {} units",
        placements.len(),
        by_unit.keys().flatten().count()
    );
    for (unit, people) in by_unit {
        match &unit {
            Some(u) => {
                let parent = org::unit_version(&state, u, date)
                    .and_then(|v| v.parent_unit_id)
                    .map_or(String::new(), |p| {
                        format!("  (part of {})", unit_label(&state, &p, date))
                    });
                say!("\n{}{parent}", unit_label(&state, u, date));
            }
            None => say!("\n(no unit)"),
        }
        for p in people {
            say!(
                "  {}  manager {}",
                person_label(&state, &p.person_id),
                p.manager_id
                    .as_deref()
                    .map_or("none".to_string(), |m| person_label(&state, m))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn section(title: &str, lines: impl Iterator<Item = String>) {
    let lines: Vec<String> = lines.collect();
    say!("\n{title} ({})", lines.len());
    for line in lines {
        say!("  {line}");
    }
}
