//! The `valuetree` command line.

mod allocator;
#[macro_use]
mod output;
mod commands;
mod progress;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use valuetree_core::NaiveDate;
use valuetree_core::clock::{Clock, FixedClock, SystemClock};
use valuetree_store::{DEFAULT_DB, Head};

/// valuetree: performance management that keeps each person's record whole through any
/// reorganisation. Every change is an event in an append-only, hash-chained ledger.
#[derive(Parser, Debug)]
#[command(name = "valuetree", version, propagate_version = true)]
struct Cli {
    /// Database: a SQLite file path (created on first use), a sqlite: URL, or a
    /// postgres://user@host/db URL [default: valuetree.db; `serve --demo`: demo.db].
    #[arg(long, global = true, env = "VALUETREE_DB")]
    db: Option<String>,

    /// Act as this person, with their permissions (for scripting and tests). Without it you
    /// act as the operator, who holds the database and may administer; events record
    /// `operator` as their actor.
    #[arg(
        long = "as",
        global = true,
        env = "VALUETREE_AS",
        value_name = "PERSON_ID"
    )]
    as_person: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Import a CSV file of one kind, a directory of them, or a ledger export (atomic: one
    /// bad row and nothing is imported; re-importing the same file changes nothing).
    Import(commands::import::ImportArgs),
    /// Export the ledger.
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Check the ledger: every hash, every link, the pinned head, and the projections.
    Verify(commands::ledger::VerifyArgs),
    /// Print the head of the ledger as SEQ:HASH, to keep outside the database.
    Head,
    /// Erase a person's personal data (the right to erasure): their name, e-mail and the
    /// free texts about them; the chain still verifies, everyone's numbers stay.
    Erase(commands::privacy::EraseArgs),
    /// The retention policy: erase free texts about people once they are old enough.
    Retention {
        #[command(subcommand)]
        command: commands::privacy::RetentionCommand,
    },
    /// Re-encode a ledger written before personal data left the hash chain (the first
    /// event of the new chain records the old head); no other command runs on such a ledger.
    Upgrade,
    /// Replay the ledger into fresh projection tables.
    Rebuild {
        /// Compare the stored projections with a replay, changing nothing.
        #[arg(long)]
        check: bool,
        /// Rebuild even though the ledger's hash chain fails (the tables are then recomputed
        /// from an altered ledger; restoring a backup or an export is usually the repair).
        #[arg(long)]
        despite_broken_chain: bool,
        /// Discard rows of the tables that no event explains (refused by default: after events
        /// were deleted from the ledger's end, those rows are the only trace of them).
        #[arg(long)]
        discard_unexplained: bool,
    },
    /// Contributions: record, confirm, take a confirmation back, retract.
    Contribution {
        #[command(subcommand)]
        command: commands::work::ContributionCommand,
    },
    /// A node's day-to-day changes: outcomes, links, members, hand-overs.
    Node {
        #[command(subcommand)]
        command: commands::work::NodeCommand,
    },
    /// Flagpoles: raise one, ask to join, accept or decline.
    Flagpole {
        #[command(subcommand)]
        command: commands::work::FlagpoleCommand,
    },
    /// The credit and final-score policies in the ledger: show and set.
    Policy {
        #[command(subcommand)]
        command: commands::policy::PolicyCommand,
    },
    /// Run the server: the JSON API for the web pages and integrations.
    Serve(commands::serve::ServeArgs),
    /// Accounts to sign in to the server with: add, passwd, list, disable, tokens.
    User {
        #[command(subcommand)]
        command: commands::user::UserCommand,
    },
    /// Roles in the ledger (hr, admin): grant and revoke.
    Role {
        #[command(subcommand)]
        command: commands::work::RoleCommand,
    },
    /// Show one person, node or unit.
    Show {
        #[command(subcommand)]
        what: commands::show::ShowWhat,
    },
    /// The organisation as of a date, or what changed between two dates.
    Org(commands::org::OrgArgs),
    /// Write a simulated organisation (reorganisations, hand-overs, biased raters) with its
    /// ground truth, as import files.
    Sim(commands::sim::SimArgs),
    /// Credit from the value tree: value realised at any node, shared with everyone who
    /// worked for it (whatever happened to the org chart since).
    Credit(commands::credit::CreditArgs),
    /// Share a reward budget by credit (immediate or balanced).
    Payout(commands::credit::PayoutArgs),
    /// Calibrate ratings for rater leniency with a crossed-effects model (from a CSV, no
    /// database needed).
    Calibrate(commands::calibrate::CalibrateArgs),
    /// Review cycles: open one, move it through its phases, list and show them.
    Cycle {
        #[command(subcommand)]
        command: commands::cycle::CycleCommand,
    },
    /// Everything in a review cycle: reviewers from the ledger, ratings, goals, self review,
    /// values, feedback with anonymity, the calibration session, overrides, the final score.
    Review(commands::review::ReviewArgs),
    /// Load a fixed-seed organisation of 2,000 people at a time over three years (some 2,700
    /// in all, leavers replaced) into an empty database, and print the demo personas with
    /// their stories.
    Demo,
    /// HR's diagnostics of the organisation: credit kept through reorganisations, churn hot
    /// spots, collaboration across units, the value tree's health, rating anomalies.
    Diagnose {
        #[command(subcommand)]
        command: commands::diagnose::DiagnoseCommand,
    },
    /// What a reorganisation plan (CSV) would do to managers and to the work in flight;
    /// `--apply` records it.
    Whatif(commands::diagnose::WhatIfArgs),
    /// Compare each way of scoring people with the simulated truth (Spearman, deciles, and the
    /// people moved off their work before it bore fruit).
    Fairness(commands::fairness::FairnessArgs),
}

#[derive(Subcommand, Debug)]
enum ExportWhat {
    /// The whole ledger as JSON Lines (one canonical event per line): a full backup that
    /// `import events` restores exactly.
    Events {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Reads a date given on the command line.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a date; write it as YYYY-MM-DD"))
}

/// A settings or policy file given on the command line, read whole: (its name, its text),
/// as `valuetree_app::settings` takes it (the name is how its errors say where).
pub fn settings_file(path: Option<&PathBuf>) -> Result<Option<(String, String)>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the settings file {}", path.display()))?;
    Ok(Some((path.display().to_string(), text)))
}

/// The clock: the system clock, unless `VALUETREE_CLOCK` fixes the start instant (RFC 3339)
/// for reproducible runs and tests.
pub fn clock() -> Result<Arc<dyn Clock>> {
    match std::env::var("VALUETREE_CLOCK") {
        Ok(text) if !text.is_empty() => {
            let start = chrono::DateTime::parse_from_rfc3339(&text).with_context(|| {
                format!(
                    "VALUETREE_CLOCK=`{text}` is not an RFC 3339 time such as 2024-01-01T00:00:00Z"
                )
            })?;
            Ok(Arc::new(FixedClock::new(start.to_utc())))
        }
        _ => Ok(Arc::new(SystemClock)),
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    // The server opens the database its own way (`--demo` defaults to demo.db) and acts as
    // whoever signs in.
    let db_flag = cli.db.clone();
    let db = cli.db.unwrap_or_else(|| DEFAULT_DB.to_string());
    if let Command::Serve(args) = cli.command {
        return commands::serve::run(db_flag, cli.as_person.as_deref(), args);
    }
    let app = valuetree_app::App::new(&db, clock()?);
    let actor = match &cli.as_person {
        Some(id) => app.actor_for(id)?,
        None => valuetree_app::Actor::Operator,
    };
    match cli.command {
        Command::Contribution { command } => commands::work::contribution(&app, &actor, command),
        Command::Node { command } => commands::work::node(&app, &actor, command),
        Command::Flagpole { command } => commands::work::flagpole(&app, &actor, command),
        Command::Role { command } => commands::work::role(&app, &actor, command),
        Command::Policy { command } => commands::policy::run(&app, &actor, command),
        Command::User { command } => commands::user::run(&app, &actor, command),
        Command::Serve(args) => commands::serve::run(db_flag, cli.as_person.as_deref(), args),
        Command::Show { what } => commands::show::run(&app, &actor, what),
        Command::Review(args) => commands::review::run(&app, &actor, args),
        Command::Sim(args) => commands::sim::run(args),
        Command::Fairness(args) => commands::fairness::run(args),
        Command::Org(args) => commands::org::run(&app, &actor, args),
        Command::Import(args) => commands::import::run(&app, &actor, args),
        Command::Export {
            what: ExportWhat::Events { out },
        } => commands::ledger::export(&app, &actor, out),
        Command::Verify(args) => commands::ledger::verify(&app, &actor, args),
        Command::Head => commands::ledger::head(&app, &actor),
        Command::Erase(args) => commands::privacy::erase(&app, &actor, args),
        Command::Upgrade => commands::privacy::upgrade(&app, &actor),
        Command::Retention { command } => commands::privacy::retention(&app, &actor, command),
        Command::Rebuild {
            check,
            despite_broken_chain,
            discard_unexplained,
        } => commands::ledger::rebuild(
            &app,
            &actor,
            check,
            valuetree_app::commands::ledger::RebuildAllow {
                broken_chain: despite_broken_chain,
                unexplained_rows: discard_unexplained,
            },
        ),
        Command::Credit(args) => commands::credit::run(&app, &actor, args),
        Command::Payout(args) => commands::credit::payout_run(&app, &actor, args),
        Command::Calibrate(args) => commands::calibrate::run(&app, &actor, args),
        Command::Cycle { command } => commands::cycle::run(&app, &actor, command),
        Command::Demo => commands::demo::run(&app, &actor),
        Command::Diagnose { command } => commands::diagnose::run(&app, &actor, command),
        Command::Whatif(args) => commands::diagnose::whatif(&app, &actor, args),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = run(cli);
    if let Err(error) = output::flush() {
        eprintln!("error: cannot write the output: {error}");
        return ExitCode::FAILURE;
    }
    match result {
        Ok(code) => code,
        Err(error) if output::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // A message may quote a file or a database; its own line breaks are kept, any
            // other control character is shown escaped rather than sent to the terminal.
            let message = format!("{error:#}");
            let shown: Vec<_> = message
                .split('\n')
                .map(valuetree_core::import::printable)
                .collect();
            eprintln!("error: {}", shown.join("\n"));
            ExitCode::FAILURE
        }
    }
}

/// `--expect-head` values.
pub fn parse_head(text: &str) -> Result<Head, String> {
    text.parse()
}

#[cfg(test)]
mod help_tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every command, argument and flag a user can give says what it is for in `--help`.
    #[test]
    fn every_command_and_flag_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let here = format!("{path} {}", command.get_name());
            if command.get_about().is_none() && !path.is_empty() {
                missing.push(format!("{here} (the command)"));
            }
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") || arg.is_hide_set() {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{here} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_name() != "help" {
                    walk(sub, &here, missing);
                }
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no help text:\n{}", missing.join("\n"));
    }
}
