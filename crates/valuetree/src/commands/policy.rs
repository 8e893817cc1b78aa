//! `valuetree policy show|set`: the credit and final-score policies kept in the ledger, so
//! that every face (this command line, the server) computes with the same ones.

use super::render::{self, ViewFormat};
use super::work::done;
use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use valuetree_app::{Actor, App};
use valuetree_core::domain::PolicyKind;

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// The policy in force (credit or final), as TOML, and who set it when.
    Show {
        /// Which policy: credit, final or retention.
        kind: PolicyKind,
        /// How to print it.
        #[arg(long, value_enum, default_value = "table")]
        format: ViewFormat,
    },
    /// Record a policy from a TOML file (HR or an administrator); it is in force from now
    /// on for `credit`, `payout`, `review final` and the server. The settings are those of
    /// `valuetree credit --help` (credit) and `valuetree review final --help` (final).
    Set {
        /// Which policy: credit, final or retention.
        kind: PolicyKind,
        /// The policy as a TOML file (`policy show KIND` prints the one in force).
        file: PathBuf,
    },
}

pub fn run(app: &App, actor: &Actor, command: PolicyCommand) -> Result<ExitCode> {
    match command {
        PolicyCommand::Show { kind, format } => {
            let view = app.policy(actor, kind)?;
            if format == ViewFormat::Json {
                return render::json(&view);
            }
            match (&view.set_on, &view.set_by) {
                (Some(on), Some(by)) => {
                    say!("# the {kind} policy set on {on} by {}", render::person(by))
                }
                (Some(on), None) => say!("# the {kind} policy set on {on} by the operator"),
                _ => say!("# the default {kind} policy (none recorded yet)"),
            }
            say!("{}", view.text.trim_end());
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Set { kind, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read the policy file {}", file.display()))?;
            let receipt = app.set_policy(actor, kind, &file.display().to_string(), &text)?;
            done(
                receipt,
                format!("the {kind} policy of {} is in force", file.display()),
            )
        }
    }
}
