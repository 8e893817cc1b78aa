//! `valuetree import`.

use crate::progress;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use valuetree_app::{Actor, App, AppError, AppResult, FieldError};
use valuetree_core::import::RowError;
use valuetree_exchange::{Kind, parse_csv_rows, parse_ledger, stream_csv_file};
use valuetree_store::{FileRowError, ImportSource, ImportSummary, MAX_LISTED_ERRORS, StreamedKind};

#[derive(Args, Debug)]
#[command(after_help = "\
KINDS and their CSV columns (dates YYYY-MM-DD; empty cell = none; [optional]):
  people         person_id,name,email,joined_on,left_on
  units          unit_id,name,parent_unit_id,valid_from,valid_to
  assignments    person_id,unit_id,manager_id,valid_from
  nodes          node_id,kind,title,lead_id,created_on,[status,flagpole,description]
  edges          parent_id,child_id,weight,[valid_from,valid_to]
  members        node_id,person_id,role,joined_on,left_on
  contributions  contribution_id,person_id,node_id,phase,date,effort,description,confirmed,[evidence]
  outcomes       outcome_id,node_id,date,value,description,[evidence]
  handovers      node_id,date,from_lead_id,to_lead_id,note,[from_unit_id,to_unit_id]
  peer_points    node_id,giver_id,date,recipient_id,points (a giver's rows for one node and date
                 are one allocation of exactly 100 points)
  cycles         cycle_id,name,starts_on,ends_on,[phase,anonymity_threshold,attributed_comments,
                 committee (ids separated by spaces),enforce_guidance,min_sources]
  ratings        cycle_id,rater_id,ratee_id,relationship,dimension,score,comment,[status
                 (draft|submitted, default submitted),ratee_unit,rater_unit (read, not stored)]
  events         a ledger export (JSON Lines) from `valuetree export events`
  dir            a directory holding any of <kind>.csv, imported in the order above, atomically

Examples:
  valuetree import dir examples/
  valuetree import contributions contributions.csv
  valuetree export events --out backup.jsonl && valuetree --db restored.db import events backup.jsonl")]
pub struct ImportArgs {
    /// What the file holds: people, units, assignments, nodes, edges, members, contributions,
    /// outcomes, handovers, peer_points, cycles, ratings, events, or dir.
    kind: String,
    /// The file (or directory, for `dir`) to import.
    path: PathBuf,
}

pub fn run(app: &App, actor: &Actor, args: ImportArgs) -> Result<ExitCode> {
    // Refused before any file is read.
    valuetree_app::authz::administer(actor)?;
    match args.kind.as_str() {
        "events" => import_events(app, actor, &args.path),
        "dir" => {
            let files = import_files(&args.path)?;
            if files.is_empty() {
                bail!(
                    "{} holds none of the import files ({}); see `valuetree import --help`",
                    args.path.display(),
                    Kind::ALL.map(|k| k.file_name()).join(", ")
                );
            }
            import_csv(app, actor, &files)
        }
        other => {
            let kind: Kind = other
                .parse()
                .map_err(|e: String| anyhow::anyhow!("{e}, events or dir"))?;
            import_csv(app, actor, &[(kind, args.path)])
        }
    }
}

/// The import files in `dir`, in the order they are imported; any other CSV file there is
/// an error (a misspelt name would otherwise leave its rows out in silence).
fn import_files(dir: &Path) -> Result<Vec<(Kind, PathBuf)>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the directory {}", dir.display()))?;
    let mut kinds = Vec::new();
    let mut unknown = Vec::new();
    for entry in entries {
        let entry =
            entry.with_context(|| format!("cannot read the directory {}", dir.display()))?;
        if !entry.path().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        match Kind::of_file_name(&name) {
            Ok(Some(kind)) => kinds.push(kind),
            Ok(None) => {}
            Err(problem) => unknown.push(problem),
        }
    }
    if !unknown.is_empty() {
        unknown.sort();
        bail!(
            "{} holds CSV files that are not import files, so nothing was imported:\n  {}\nRename each to its kind's file name (lower case: {}) or move it out of the directory",
            dir.display(),
            unknown.join("\n  "),
            Kind::ALL.map(|k| k.file_name()).join(", ")
        );
    }
    Ok(Kind::ALL
        .into_iter()
        .filter(|k| kinds.contains(k))
        .map(|k| (k, dir.join(k.file_name())))
        .collect())
}

fn open(path: &Path) -> Result<BufReader<File>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(BufReader::with_capacity(1 << 20, file))
}

/// A file at least this large is read and parsed as it is planned, in chunks, instead of
/// being read and parsed whole first: the reading overlaps the rest, and memory holds a few
/// chunks of it, not the file.
const STREAM_BYTES: u64 = 4 << 20;

/// The kinds of file that are streamed: the facts, which come by the million. Master data
/// is read whole, for its checks span the whole file (a key given twice, a loop of managers
/// that two rows of one reorganisation close and open, hand-overs in date order).
fn streamed_kind(kind: Kind) -> Option<StreamedKind> {
    match kind {
        Kind::Contributions => Some(StreamedKind::Contributions),
        Kind::Outcomes => Some(StreamedKind::Outcomes),
        Kind::Ratings => Some(StreamedKind::Ratings),
        _ => None,
    }
}

fn import_csv(app: &App, actor: &Actor, files: &[(Kind, PathBuf)]) -> Result<ExitCode> {
    let mut sources: Vec<(String, ImportSource)> = Vec::new();
    let mut errors: Vec<FileRowError> = Vec::new();
    let mut total = 0u64;
    for (kind, path) in files {
        let label = path.display().to_string();
        let size = std::fs::metadata(path)
            .with_context(|| format!("cannot read {label}"))?
            .len();
        let streamed = streamed_kind(*kind).filter(|_| size >= STREAM_BYTES);
        let parsed = if let Some(streamed) = streamed {
            // Read from the disk as the import goes (the header is checked now).
            stream_csv_file(*kind, path).map(|stream| {
                total += stream.estimated_rows;
                ImportSource::Chunks {
                    kind: streamed,
                    estimated_rows: stream.estimated_rows,
                    chunks: Box::new(stream),
                }
            })
        } else {
            let mut bytes = Vec::new();
            open(path)?
                .read_to_end(&mut bytes)
                .with_context(|| format!("cannot read {label}"))?;
            // The rows that parse are checked too: one run lists every bad row.
            parse_csv_rows(*kind, bytes.as_slice()).map(|(batch, errors)| {
                total += batch.len() as u64;
                if errors.is_empty() {
                    ImportSource::Whole(batch)
                } else {
                    ImportSource::Partly(batch, errors)
                }
            })
        };
        match parsed {
            Ok(source) => sources.push((label, source)),
            Err(row_errors) => errors.extend(row_errors.into_iter().map(|error| FileRowError {
                file: label.clone(),
                error,
            })),
        }
    }
    if !errors.is_empty() {
        let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Ok(report_rejection(&listed));
    }
    let files: Vec<String> = sources.iter().map(|(f, _)| f.clone()).collect();
    let bar = progress::bar(total, "importing");
    let ticks = bar.clone();
    let result = app.import_files(actor, sources, move |n| ticks.inc(n));
    bar.finish_and_clear();
    finish(result, |s| {
        format!(
            "imported {}: {} rows, {} new events, {} rows unchanged",
            files.join(", "),
            s.rows,
            s.events,
            s.unchanged
        )
    })
}

/// Prints what an import did, or every bad row it refused.
fn finish(
    result: AppResult<ImportSummary>,
    describe: impl FnOnce(&ImportSummary) -> String,
) -> Result<ExitCode> {
    match result {
        Ok(summary) => {
            let head = summary
                .head
                .as_ref()
                .map_or("(empty ledger)".to_string(), |h| h.to_string());
            say!("{}; head {head}", describe(&summary));
            Ok(ExitCode::SUCCESS)
        }
        Err(AppError::Rejected(errors)) => {
            let listed: Vec<String> = errors.iter().map(FieldError::to_string).collect();
            Ok(report_rejection(&listed))
        }
        Err(other) => Err(other.into()),
    }
}

fn import_events(app: &App, actor: &Actor, path: &Path) -> Result<ExitCode> {
    let label = path.display().to_string();
    let events = match parse_ledger(open(path)?) {
        Ok(events) => events,
        Err(errors) => {
            let errors: Vec<String> = errors
                .into_iter()
                .map(|error: RowError| {
                    FileRowError {
                        file: label.clone(),
                        error,
                    }
                    .to_string()
                })
                .collect();
            return Ok(report_rejection(&errors));
        }
    };
    let bar = progress::bar(events.len() as u64, "importing");
    let ticks = bar.clone();
    let result = app.import_ledger(actor, events, &label, move |n| ticks.inc(n));
    bar.finish_and_clear();
    finish(result, |s| {
        format!(
            "imported {label}: {} events read, {} appended, {} already present",
            s.rows, s.events, s.unchanged
        )
    })
}

fn report_rejection(errors: &[String]) -> ExitCode {
    eprintln!(
        "error: {} bad row{}; nothing was imported. Fix them and import again:",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    for e in errors.iter().take(MAX_LISTED_ERRORS) {
        // A bad row's message quotes the file: its escape sequences are shown, not obeyed.
        eprintln!("  {}", valuetree_core::import::printable(e));
    }
    if errors.len() > MAX_LISTED_ERRORS {
        eprintln!("  … and {} more", errors.len() - MAX_LISTED_ERRORS);
    }
    ExitCode::FAILURE
}
