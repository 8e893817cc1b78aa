//! Administration of the ledger: head, verification, rebuild, imports and the audited full
//! export. The store does the work; the app decides who may.

use crate::error::{AppError, AppResult};
use crate::{Actor, App, authz};
use serde::Serialize;
use valuetree_core::chain::StoredEvent;
use valuetree_core::event::Event;
use valuetree_store::{Head, ImportSource, ImportSummary, Preload};

/// What `verify` found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VerifyView {
    pub events: u64,
    pub head: Option<String>,
    /// The first event that does not hold, and why (`None`: the chain holds).
    pub failure: Option<ChainFailure>,
    /// Whether the pinned head was checked (and held, unless `failure` says otherwise).
    pub pinned_head_checked: bool,
    /// Projection rows that differ from a replay of the ledger; `None` when not checked.
    pub projection_mismatches: Option<Vec<String>>,
    /// Seconds the chain check took.
    pub chain_seconds: f64,
    /// Whether the personal values were checked (not with `chain_only`).
    pub personal_checked: bool,
    /// Personal values kept beside the chain, each checked against its commitment.
    pub personal_values: u64,
    /// Commitments whose value was erased (by `erase` or retention).
    pub erased_values: u64,
    /// The first erasure event, when there was one.
    pub erased_since: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChainFailure {
    pub seq: i64,
    pub reason: String,
}

impl VerifyView {
    /// True when everything checked holds.
    pub fn holds(&self) -> bool {
        self.failure.is_none()
            && self
                .projection_mismatches
                .as_ref()
                .is_none_or(|m| m.is_empty())
    }
}

/// What a full export wrote.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportReceipt {
    pub events: u64,
    /// The audit event recording the export (its sequence number); none when nothing was
    /// exported or the database could not be written (`unrecorded` says why).
    pub audited_as: Option<i64>,
    pub unrecorded: Option<String>,
}

/// A pass's progress callback, sharing the caller's (the passes run on two threads).
fn telling<F: FnMut(RebuildPass, u64) + Send + 'static>(
    progress: &std::sync::Arc<std::sync::Mutex<F>>,
    pass: RebuildPass,
) -> impl FnMut(u64) + Send + 'static {
    let progress = progress.clone();
    move |events: u64| {
        if let Ok(mut progress) = progress.lock() {
            (*progress)(pass, events);
        }
    }
}

/// The passes over the ledger a rebuild makes, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebuildPass {
    /// Checking the hash chain.
    Chain,
    /// Comparing the tables with a replay (rows no event explains are kept unless allowed).
    Compare,
    /// Replaying the ledger into fresh tables.
    Rebuild,
}

/// What `App::rebuild` may do that it refuses by default.
#[derive(Clone, Copy, Debug, Default)]
pub struct RebuildAllow {
    /// Rebuild from a ledger whose hash chain fails.
    pub broken_chain: bool,
    /// Discard projection rows that no event explains.
    pub unexplained_rows: bool,
}

impl App {
    /// The ledger's head (`None` while empty). Anyone signed in may poll it: it says only
    /// how many events there are and the hash of the last.
    pub fn head(&self, actor: &Actor) -> AppResult<Option<Head>> {
        authz::read_work(actor)?;
        self.read(|store| Ok(store.head()?))
    }

    /// Checks the hash chain (against a pinned head if given) and, unless `chain_only`, that
    /// the projection tables equal a replay of the ledger (administrators).
    pub fn verify(
        &self,
        actor: &Actor,
        expect_head: Option<&Head>,
        chain_only: bool,
        progress: &mut dyn FnMut(u64),
    ) -> AppResult<VerifyView> {
        authz::administer(actor)?;
        self.read(|store| {
            let started = std::time::Instant::now();
            let report = store.verify_chain(expect_head, progress)?;
            let chain_seconds = started.elapsed().as_secs_f64();
            let mut failure = report
                .failure
                .map(|(seq, reason)| ChainFailure { seq, reason });
            let personal_checked = !chain_only && failure.is_none();
            let (personal, erased_since) = if personal_checked {
                store.verify_personal()?
            } else {
                Default::default()
            };
            if failure.is_none()
                && let Some((seq, reason)) = personal.failure
            {
                failure = Some(ChainFailure { seq, reason });
            }
            let projection_mismatches = if chain_only || failure.is_some() {
                None
            } else {
                Some(
                    store
                        .check_projections(20)?
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                )
            };
            Ok(VerifyView {
                events: report.events,
                head: report.head.map(|h| h.to_string()),
                failure,
                pinned_head_checked: expect_head.is_some(),
                projection_mismatches,
                chain_seconds,
                personal_checked,
                personal_values: personal.values,
                erased_values: report.commitments.saturating_sub(personal.values),
                erased_since,
            })
        })
    }

    /// The projection rows that differ from a replay of the ledger, at most `limit`.
    pub fn check_projections(&self, actor: &Actor, limit: usize) -> AppResult<Vec<String>> {
        authz::administer(actor)?;
        self.read(|store| {
            Ok(store
                .check_projections(limit)?
                .iter()
                .map(ToString::to_string)
                .collect())
        })
    }

    /// Recomputes the projection tables from the ledger; returns the rows written. Refused,
    /// unless `allow` says otherwise, when the chain fails (the tables would be recomputed from
    /// an altered ledger) or when the tables hold rows no event explains (after events were
    /// deleted from the ledger's end, those rows are the only trace of them).
    ///
    /// `progress` hears, for each pass over the ledger (the chain check, the comparison with
    /// the tables, the rebuild), its name and then the events it read as it goes.
    pub fn rebuild(
        &self,
        actor: &Actor,
        allow: RebuildAllow,
        progress: impl FnMut(RebuildPass, u64) + Send + 'static,
    ) -> AppResult<u64> {
        authz::administer(actor)?;
        let progress = std::sync::Arc::new(std::sync::Mutex::new(progress));
        let (failure, unexplained) = self.read(|store| {
            let failure = store
                .verify_chain(None, &mut telling(&progress, RebuildPass::Chain))?
                .failure;
            let unexplained: Vec<String> = if failure.is_some() || allow.unexplained_rows {
                Vec::new()
            } else {
                store
                    .check_projections_with(
                        usize::MAX,
                        &mut telling(&progress, RebuildPass::Compare),
                    )?
                    .iter()
                    .filter(|m| m.stored.is_some() && m.replayed.is_none())
                    .map(ToString::to_string)
                    .collect()
            };
            Ok((failure, unexplained))
        })?;
        if let Some((seq, reason)) = failure
            && !allow.broken_chain
        {
            let found = if reason.starts_with(&format!("event {seq}")) {
                reason
            } else {
                format!("event {seq}: {reason}")
            };
            return Err(AppError::Invalid(format!(
                "the ledger's chain fails at {found}; rebuilding would recompute the tables from an altered ledger and erase what they still show of the original. Nothing was changed. Restore the database from a backup or import an export (`valuetree import events FILE` into a new database); to rebuild from this ledger anyway, run `valuetree rebuild --despite-broken-chain`"
            )));
        }
        if !unexplained.is_empty() {
            let listed = unexplained.len().min(20);
            return Err(AppError::Invalid(format!(
                "the tables hold {} that no event in the ledger explains:\n  {}{}\nEither they were written into the tables directly, or events were deleted from the end of the ledger and these rows are the only trace of them; rebuilding would discard them. Nothing was changed. Check the head you pinned (`valuetree verify --expect-head SEQ:HASH`) and keep a copy of the database file; to discard the rows, run `valuetree rebuild --discard-unexplained`",
                if unexplained.len() == 1 {
                    "1 row".to_string()
                } else {
                    format!("{} rows", unexplained.len())
                },
                unexplained[..listed].join("\n  "),
                if unexplained.len() > listed {
                    format!("\n  … and {} more", unexplained.len() - listed)
                } else {
                    String::new()
                }
            )));
        }
        let mut rebuilt = telling(&progress, RebuildPass::Rebuild);
        self.write_store(move |store| store.rebuild_with(&mut rebuilt))
    }

    /// Imports CSV files (administrators): the rows' people and flags come from the files,
    /// the envelope's actor is the importer.
    pub fn import_files(
        &self,
        actor: &Actor,
        files: Vec<(String, ImportSource)>,
        progress: impl FnMut(u64) + Send + 'static,
    ) -> AppResult<ImportSummary> {
        authz::administer(actor)?;
        let name = actor.ledger_name();
        let mut progress = progress;
        self.write_store(move |store| store.import_sources(files, &name, &mut progress))
    }

    /// Imports an exported ledger (administrators): events already present are skipped, the
    /// rest must chain onto the head.
    pub fn import_ledger(
        &self,
        actor: &Actor,
        events: Vec<(u64, StoredEvent)>,
        file: &str,
        progress: impl FnMut(u64) + Send + 'static,
    ) -> AppResult<ImportSummary> {
        authz::administer(actor)?;
        let (file, mut progress) = (file.to_string(), progress);
        self.write_store(move |store| store.import_ledger(events, &file, &mut progress))
    }

    /// Whether `actor` may export the ledger (a face streaming the export asks before it
    /// starts answering).
    pub fn may_export(&self, actor: &Actor) -> AppResult<()> {
        authz::administer(actor)
    }

    /// The full backup: every event, in order, to `each` (administrators). It holds
    /// everyone's private data, so the export is recorded in the ledger once it is written.
    pub fn export_events(
        &self,
        actor: &Actor,
        each: &mut dyn FnMut(&StoredEvent) -> std::io::Result<()>,
    ) -> AppResult<ExportReceipt> {
        authz::administer(actor)?;
        let mut written = 0u64;
        let mut last_seq = 0u64;
        let mut failed: Option<std::io::Error> = None;
        let mut read_only = false;
        self.read(|store| {
            read_only = store.is_read_only();
            store.for_each_event(&mut |event| {
                if failed.is_none()
                    && let Err(e) = each(&event)
                {
                    failed = Some(e);
                }
                written += 1;
                last_seq = event.seq as u64;
                Ok(())
            })?;
            Ok(())
        })?;
        if let Some(e) = failed {
            return Err(AppError::Internal(format!("cannot write the export: {e}")));
        }
        if written == 0 {
            return Ok(ExportReceipt {
                events: 0,
                audited_as: None,
                unrecorded: None,
            });
        }
        if read_only {
            return Ok(ExportReceipt {
                events: written,
                audited_as: None,
                unrecorded: Some(format!(
                    "the export is not recorded in the ledger: {} cannot be written here (a read-only file or folder), so this copy keeps no trace of it",
                    self.location()
                )),
            });
        }
        let audit = Event::LedgerExported {
            by: actor.person_id().map(str::to_string),
            exported_on: self.today(),
            through_seq: last_seq,
        };
        let receipt = self.append_decided(actor, Preload::None, move |_| Ok(vec![audit]))?;
        Ok(ExportReceipt {
            events: written,
            audited_as: receipt.seq,
            unrecorded: None,
        })
    }
}
