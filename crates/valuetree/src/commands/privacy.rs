//! `valuetree erase`: a person's right to erasure (see docs/privacy.md).

use super::render::{self, ViewFormat};
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;
use valuetree_app::{Actor, App};

#[derive(Args, Debug)]
#[command(after_help = "\
What is erased: the person's name and e-mail address, and every free text about them —
their contributions' descriptions and evidence, the reasons their contributions were
retracted, hand-over notes about them, their join requests' messages, their goals' titles,
their self-review texts, the evidence of their behaviour assessments, the comments of the
ratings they received, the reasons of reviewer changes and score overrides about them —
and their sign-in accounts. Each value's commitment stays in the chain, so `valuetree
verify` still passes; without the person's key (deleted too) it says nothing about the
value.

What is kept: the person's id, dates, units, efforts, scores and credit, as statistics, so
that everyone else's credit, calibration and reviews are unchanged.

It cannot be undone. Keep no export taken before it if the erasure must hold everywhere.")]
pub struct EraseArgs {
    /// The person whose personal data to erase (their id, e.g. P0001845).
    #[arg(value_name = "PERSON_ID")]
    person: String,
    /// Why (the request it answers, e.g. "GDPR request 2026-114"); recorded in the ledger,
    /// so write no personal data here.
    #[arg(long)]
    reason: String,
    /// How to print the result.
    #[arg(long, value_enum, default_value = "table")]
    format: ViewFormat,
}

pub fn erase(app: &App, actor: &Actor, args: EraseArgs) -> Result<ExitCode> {
    let receipt = app.erase_person(actor, &args.person, &args.reason)?;
    if args.format == ViewFormat::Json {
        render::json(&receipt)?;
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "erased {}: {} personal values deleted; their record and {} more table rows now read [erased]; {} sign-in accounts deleted",
        receipt.person_id,
        receipt.values_deleted,
        receipt.rows_erased,
        receipt.accounts_deleted
    );
    if let Some(seq) = receipt.seq {
        say!(
            "recorded as event {seq}; head {}",
            receipt.head.as_deref().unwrap_or("?")
        );
    }
    say!("{}", receipt.files);
    Ok(ExitCode::SUCCESS)
}

/// `valuetree upgrade`: re-encodes a ledger written before personal data left the chain.
pub fn upgrade(app: &App, actor: &Actor) -> Result<ExitCode> {
    let receipt = app.upgrade_ledger(actor)?;
    match &receipt.old_head {
        Some(old) => {
            say!(
                "upgraded: {} events (the old head {old} recorded as event 1); {} personal values taken out of the chain",
                receipt.events,
                receipt.values_taken_out
            );
            say!(
                "new head {} — pin it again (`valuetree head`), and keep the old export: a head pinned before is checked against it",
                receipt.new_head.as_deref().unwrap_or("?")
            );
        }
        None => say!("upgraded: the ledger was empty"),
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Subcommand, Debug)]
pub enum RetentionCommand {
    /// Erase the free texts the retention policy says are too old (set it with
    /// `valuetree policy set retention FILE`; see docs/privacy.md). Records one
    /// `retention_applied` event.
    Apply {
        /// List what would be erased, erasing nothing.
        #[arg(long)]
        dry_run: bool,
        /// How to print the result.
        #[arg(long, value_enum, default_value = "table")]
        format: ViewFormat,
    },
}

pub fn retention(app: &App, actor: &Actor, command: RetentionCommand) -> Result<ExitCode> {
    let RetentionCommand::Apply { dry_run, format } = command;
    let report = app.apply_retention(actor, dry_run)?;
    if format == ViewFormat::Json {
        render::json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    if report.rules.is_empty() {
        say!(
            "no retention policy is recorded (or it keeps everything): nothing to erase. See `valuetree policy show retention`"
        );
        return Ok(ExitCode::SUCCESS);
    }
    for line in &report.rules {
        say!(
            "{:<20} {:>3} years: {:>7} values {} (anchor on or before {})",
            line.texts,
            line.years,
            line.values,
            if report.dry_run { "would go" } else { "erased" },
            line.older_than
        );
    }
    match report.seq {
        Some(seq) => {
            say!(
                "erased {} values ({} table rows now read [erased]); recorded as event {seq}",
                report.values,
                report.rows_erased
            );
            if let Some(files) = &report.files {
                say!("{files}");
            }
        }
        None if report.dry_run => say!(
            "dry run: {} values would be erased; nothing was changed",
            report.values
        ),
        None => say!("nothing was due: nothing was changed"),
    }
    Ok(ExitCode::SUCCESS)
}
