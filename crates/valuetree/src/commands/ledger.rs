//! `valuetree export events`, `verify`, `rebuild`.

use super::render::{self, ViewFormat};
use crate::{parse_head, progress};
use anyhow::{Context, Result};
use clap::Args;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use valuetree_app::{Actor, App};
use valuetree_store::Head;

pub fn export(app: &App, actor: &Actor, out: Option<PathBuf>) -> Result<ExitCode> {
    valuetree_app::authz::administer(actor)?;
    let total = app.head(actor)?.map_or(0, |h| h.seq as u64);
    let mut writer: Box<dyn Write> = match &out {
        Some(path) => Box::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = BufWriter::with_capacity(1 << 20, &mut writer);
    let bar = progress::bar(total, "exporting");
    let mut written = 0u64;
    let receipt = app.export_events(actor, &mut |event| {
        writeln!(writer, "{}", event.export_line())?;
        written += 1;
        if written.is_multiple_of(10_000) {
            bar.set_position(written);
        }
        Ok(())
    });
    bar.finish_and_clear();
    writer.flush().context("cannot write the export")?;
    let receipt = receipt?;
    let audit = match (receipt.audited_as, &receipt.unrecorded) {
        (Some(seq), _) => format!("; recorded as event {seq}"),
        (None, Some(why)) => format!("; {why}"),
        (None, None) => String::new(),
    };
    match out {
        Some(path) => eprintln!(
            "exported {} events to {}{audit}",
            receipt.events,
            path.display()
        ),
        None if !audit.is_empty() => eprintln!("exported {} events{audit}", receipt.events),
        None => {}
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
#[command(after_help = "\
What each check proves:
  chain         every event's hash matches its content and links to the event before it:
                finds any edit, deletion, insertion or reordering of events, and a forged
                hash, at the first bad sequence number. It cannot see events deleted from the
                end, nor a ledger re-hashed from an edit onward: for that, pin the head.
  --expect-head the event SEQ still exists with hash HASH (as printed earlier by
                `valuetree head` and kept outside the database): finds a deleted tail and a
                rewritten chain up to SEQ.
  personal      every personal value kept beside the chain (names, e-mails, descriptions,
                comments, reasons, notes) matches the commitment its event holds under the
                key of the person it is about: finds an edited value. Values that were
                erased are counted, and the first erasure named.
  projections   the projection tables equal a replay of the ledger: finds edits made directly
                in the people, units, nodes, contributions, … tables.")]
pub struct VerifyArgs {
    /// The head pinned earlier (SEQ:HASH from `valuetree head`); the check fails if that
    /// event is missing or different.
    #[arg(long, value_parser = parse_head)]
    expect_head: Option<Head>,
    /// Check the hash chain only, not the projection tables.
    #[arg(long)]
    chain_only: bool,
    /// How to print the result (the exit status says whether everything held either way).
    #[arg(long, value_enum, default_value = "table")]
    format: ViewFormat,
}

pub fn verify(app: &App, actor: &Actor, args: VerifyArgs) -> Result<ExitCode> {
    valuetree_app::authz::administer(actor)?;
    let total = app.head(actor)?.map_or(0, |h| h.seq as u64);
    let bar = progress::bar(total, "verifying");
    let report = app.verify(
        actor,
        args.expect_head.as_ref(),
        args.chain_only,
        &mut |n| bar.inc(n),
    );
    bar.finish_and_clear();
    let report = report?;
    if args.format == ViewFormat::Json {
        render::json(&report)?;
        return Ok(if report.holds() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    if let Some(failure) = &report.failure {
        eprintln!("verify FAILED at event {}: {}", failure.seq, failure.reason);
        return Ok(ExitCode::FAILURE);
    }
    say!(
        "chain ok: {} events, head {} ({:.0} events/s)",
        report.events,
        report.head.as_deref().unwrap_or("(empty)"),
        report.events as f64 / report.chain_seconds.max(1e-9)
    );
    if report.pinned_head_checked {
        say!("pinned head ok");
    }
    match report.erased_since {
        _ if !report.personal_checked => {}
        Some(seq) => say!(
            "personal values ok: {} kept, each matches its commitment; {} erased (erasures since event {seq})",
            report.personal_values,
            report.erased_values
        ),
        None => say!(
            "personal values ok: {} kept, each matches its commitment; none erased",
            report.personal_values
        ),
    }
    if let Some(mismatches) = &report.projection_mismatches {
        if !mismatches.is_empty() {
            eprintln!("verify FAILED: the projection tables differ from a replay of the ledger:");
            print_mismatches(mismatches);
            return Ok(ExitCode::FAILURE);
        }
        say!("projections ok: they equal a replay of the ledger");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_mismatches(mismatches: &[String]) {
    for m in mismatches {
        eprintln!("  {m}");
    }
    eprintln!(
        "What this can mean, and what each repair costs (keep a copy of the database file first):
  - the tables were edited directly: `valuetree rebuild` recomputes them from the ledger and
    the edits are lost, as they should be;
  - events were deleted from the end of the ledger (rows \"not in the ledger\" are then the only
    trace of them, and the chain alone cannot show it): check the head you pinned with
    `valuetree verify --expect-head SEQ:HASH`, and restore the database from a backup or an
    export; `rebuild` would discard those rows, so it refuses unless given
    --discard-unexplained."
    );
}

pub fn rebuild(
    app: &App,
    actor: &Actor,
    check: bool,
    allow: valuetree_app::commands::ledger::RebuildAllow,
) -> Result<ExitCode> {
    if check {
        let mismatches = app.check_projections(actor, 50)?;
        if mismatches.is_empty() {
            say!("projections ok: they equal a replay of the ledger");
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("the projection tables differ from a replay of the ledger:");
        print_mismatches(&mismatches);
        return Ok(ExitCode::FAILURE);
    }
    let total = app.head(actor)?.map_or(0, |h| h.seq as u64);
    let bar = progress::bar(total, "checking");
    let ticks = bar.clone();
    let mut current = None;
    let rows = app.rebuild(actor, allow, move |pass, events| {
        use valuetree_app::commands::ledger::RebuildPass;
        if current != Some(pass) {
            current = Some(pass);
            ticks.set_position(0);
            ticks.set_message(match pass {
                RebuildPass::Chain => "checking",
                RebuildPass::Compare => "comparing",
                RebuildPass::Rebuild => "rebuilding",
            });
        }
        ticks.inc(events);
    });
    bar.finish_and_clear();
    let rows = rows?;
    say!("rebuilt the projections from the ledger: {rows} rows");
    Ok(ExitCode::SUCCESS)
}

/// `valuetree head`: the ledger's head as `SEQ:HASH`, to pin outside the database.
pub fn head(app: &App, actor: &Actor) -> Result<ExitCode> {
    match app.head(actor)? {
        Some(head) => say!("{head}"),
        None => say!("0:{}", valuetree_core::chain::GENESIS_HASH),
    }
    Ok(ExitCode::SUCCESS)
}
