//! `valuetree export events`, `verify`, `rebuild`.

use crate::{open_store, parse_head, progress};
use anyhow::{Context, Result};
use clap::Args;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use valuetree_store::Head;

pub fn export(db: &str, out: Option<PathBuf>) -> Result<ExitCode> {
    let mut store = open_store(db)?;
    let total = store.head()?.map_or(0, |h| h.seq as u64);
    let mut writer: Box<dyn Write> = match &out {
        Some(path) => Box::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = BufWriter::with_capacity(1 << 20, &mut writer);
    let bar = progress::bar(total, "exporting");
    let mut written = 0u64;
    let mut io_error = None;
    store.for_each_event(&mut |event| {
        if io_error.is_none()
            && let Err(e) = writeln!(writer, "{}", event.export_line())
        {
            io_error = Some(e);
        }
        written += 1;
        if written.is_multiple_of(10_000) {
            bar.set_position(written);
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    if let Some(e) = io_error {
        return Err(e).context("cannot write the export");
    }
    writer.flush().context("cannot write the export")?;
    if let Some(path) = out {
        eprintln!("exported {written} events to {}", path.display());
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
}

pub fn verify(db: &str, args: VerifyArgs) -> Result<ExitCode> {
    let mut store = open_store(db)?;
    let total = store.head()?.map_or(0, |h| h.seq as u64);
    let bar = progress::bar(total, "verifying");
    let started = std::time::Instant::now();
    let report = store.verify_chain(args.expect_head.as_ref(), &mut |n| bar.inc(n))?;
    bar.finish_and_clear();
    if let Some((seq, reason)) = report.failure {
        eprintln!("verify FAILED at event {seq}: {reason}");
        return Ok(ExitCode::FAILURE);
    }
    let seconds = started.elapsed().as_secs_f64();
    say!(
        "chain ok: {} events, head {} ({:.0} events/s)",
        report.events,
        report.head.map_or("(empty)".to_string(), |h| h.to_string()),
        report.events as f64 / seconds.max(1e-9)
    );
    if args.expect_head.is_some() {
        say!("pinned head ok");
    }
    if !args.chain_only {
        let mismatches = store.check_projections(20)?;
        if !mismatches.is_empty() {
            eprintln!("verify FAILED: the projection tables differ from a replay of the ledger:");
            for m in &mismatches {
                eprintln!("  {m}");
            }
            eprintln!("run `valuetree rebuild` to recompute them from the ledger");
            return Ok(ExitCode::FAILURE);
        }
        say!("projections ok: they equal a replay of the ledger");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rebuild(db: &str, check: bool) -> Result<ExitCode> {
    let mut store = open_store(db)?;
    if check {
        let mismatches = store.check_projections(50)?;
        if mismatches.is_empty() {
            say!("projections ok: they equal a replay of the ledger");
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("the projection tables differ from a replay of the ledger:");
        for m in &mismatches {
            eprintln!("  {m}");
        }
        eprintln!("run `valuetree rebuild` to recompute them from the ledger");
        return Ok(ExitCode::FAILURE);
    }
    let rows = store.rebuild()?;
    say!("rebuilt the projections from the ledger: {rows} rows");
    Ok(ExitCode::SUCCESS)
}
