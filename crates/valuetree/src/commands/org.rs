//! `valuetree org [--as-of DATE]` and `valuetree org diff A B`: render the application
//! layer's org views.

use super::render::{self, Format, ViewFormat};
use crate::parse_date;
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use std::process::ExitCode;
use valuetree_app::queries::{PersonRef, UnitRef};
use valuetree_app::{Actor, App, Page};
use valuetree_core::NaiveDate;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct OrgArgs {
    /// The date to show the organisation on (default: today).
    #[arg(long, value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// How to print it (`org diff` has no csv).
    #[arg(long, value_enum, global = true)]
    format: Option<Format>,
    /// The same as `--format json`.
    #[arg(long, global = true, conflicts_with = "format")]
    json: bool,
    #[command(subcommand)]
    diff: Option<OrgCommand>,
}

#[derive(Subcommand, Debug)]
enum OrgCommand {
    /// What changed between two dates: who joined, left, moved or changed manager, and which
    /// units were created or dissolved.
    Diff {
        /// The first day (YYYY-MM-DD).
        #[arg(value_parser = parse_date)]
        from: NaiveDate,
        /// The last day (YYYY-MM-DD; not before the first).
        #[arg(value_parser = parse_date)]
        to: NaiveDate,
    },
}

fn manager(m: &Option<PersonRef>) -> String {
    m.as_ref().map_or("none".to_string(), render::person)
}

fn unit(u: &Option<UnitRef>) -> String {
    u.as_ref().map_or("no unit".to_string(), render::unit)
}

pub fn run(app: &App, actor: &Actor, args: OrgArgs) -> Result<ExitCode> {
    let format = if args.json {
        Format::Json
    } else {
        args.format.unwrap_or_default()
    };
    if let Some(OrgCommand::Diff { from, to }) = args.diff {
        let view_format = match format {
            Format::Table => ViewFormat::Table,
            Format::Json => ViewFormat::Json,
            Format::Csv => {
                bail!("`org diff` is several lists, not one table: use --format table or json")
            }
        };
        let diff = app.org_diff(actor, from, to)?;
        if view_format == ViewFormat::Json {
            return render::json(&diff);
        }
        say!("Changes from {from} to {to}");
        section(
            "joined",
            diff.joined
                .iter()
                .map(|p| format!("{} into {}", render::person(&p.person), unit(&p.unit))),
        );
        section(
            "left",
            diff.left
                .iter()
                .map(|p| format!("{} from {}", render::person(&p.person), unit(&p.unit))),
        );
        section(
            "moved",
            diff.moved.iter().map(|c| {
                format!(
                    "{}: {} → {}",
                    render::person(&c.person),
                    unit(&c.before),
                    unit(&c.after)
                )
            }),
        );
        section(
            "manager changed",
            diff.manager_changed.iter().map(|c| {
                format!(
                    "{}: {} → {}",
                    render::person(&c.person),
                    manager(&c.before),
                    manager(&c.after)
                )
            }),
        );
        section("units created", diff.units_created.iter().map(render::unit));
        section(
            "units dissolved",
            diff.units_dissolved.iter().map(render::unit),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let view = app.org(actor, args.as_of, Page::ALL)?;
    match format {
        Format::Json => return render::json(&view),
        Format::Csv => {
            render::csv_line(&[
                "person_id",
                "name",
                "unit_id",
                "unit_name",
                "manager_id",
                "manager_name",
                "since",
            ]);
            for p in &view.people.items {
                let unit = p.unit.as_ref();
                let manager = p.manager.as_ref();
                render::csv_line(&[
                    p.person.person_id.as_str(),
                    p.person.name.as_str(),
                    unit.map_or("", |u| u.unit_id.as_str()),
                    unit.map_or("", |u| u.name.as_str()),
                    manager.map_or("", |m| m.person_id.as_str()),
                    manager.map_or("", |m| m.name.as_str()),
                    &p.since.map_or(String::new(), |d| d.to_string()),
                ]);
            }
            return Ok(ExitCode::SUCCESS);
        }
        Format::Table => {}
    }
    say!(
        "As of {}: {} people in {} units",
        view.as_of,
        view.people.total,
        view.units.len()
    );
    let mut units = view.units.iter().peekable();
    let mut current: Option<Option<&str>> = None;
    for p in &view.people.items {
        let unit_id = p.unit.as_ref().map(|u| u.unit_id.as_str());
        if current != Some(unit_id) {
            match unit_id {
                Some(id) => {
                    while units.peek().is_some_and(|u| u.unit.unit_id != id) {
                        units.next();
                    }
                    let parent = units
                        .peek()
                        .and_then(|u| u.parent.as_ref())
                        .map_or(String::new(), |p| {
                            format!("  (part of {})", render::unit(p))
                        });
                    say!("\n{}{parent}", unit(&p.unit));
                }
                None => say!("\n(no unit)"),
            }
            current = Some(unit_id);
        }
        say!(
            "  {}  manager {}",
            render::person(&p.person),
            manager(&p.manager)
        );
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
