//! Ledger operations: append, import, export, verify, rebuild.

use crate::rows::{self, EVENTS, PROJECTIONS, Reader};
use crate::sql::{Cell, Row, Table, Tx, Value};
use crate::{FileRowError, Store, StoreError};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use valuetree_core::NaiveDate;
use valuetree_core::chain::{self, ChainError, EnvelopeRef, StoredEvent};
use valuetree_core::clock::format_recorded;
use valuetree_core::event::Event;
use valuetree_core::import::{self, RecordBatch, RowError};
use valuetree_core::packed;
use valuetree_core::state::State;

/// The last event of the chain: pin it outside the database to detect a deleted tail or a
/// re-hashed chain later (`verify --expect-head`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl std::str::FromStr for Head {
    type Err = String;
    fn from_str(text: &str) -> Result<Head, String> {
        let (seq, hash) = text
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("`{text}` is not SEQ:HASH (as printed by `valuetree head`)"))?;
        let seq = seq
            .parse()
            .map_err(|_| format!("`{seq}` is not a sequence number"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("`{hash}` is not a SHA-256 hash in hex"));
        }
        Ok(Head {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// Which contributions and outcomes to load along with the master data.
#[derive(Clone, Debug)]
pub enum Preload {
    None,
    All,
    Ids {
        contributions: Vec<String>,
        outcomes: Vec<String>,
        /// Cycles whose ratings and calibrated scores to load.
        cycles: Vec<String>,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportSummary {
    /// Rows (or ledger lines) read.
    pub rows: u64,
    /// Events appended to the ledger.
    pub events: u64,
    /// Rows or events already in the ledger, skipped.
    pub unchanged: u64,
    pub head: Option<Head>,
    /// The events a direct append wrote, in order (empty for file imports, which can write
    /// millions): what a long-running reader applies to its snapshot.
    pub appended: Vec<Event>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub head: Option<Head>,
    /// The first event that does not hold, and why.
    pub failure: Option<(i64, String)>,
    /// Commitments to personal values in the chained payloads (kept values and erased ones).
    pub commitments: u64,
}

/// A difference between a stored projection row and the replay of the ledger.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    pub table: &'static str,
    pub key: String,
    pub stored: Option<Row>,
    pub replayed: Option<Row>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.stored, &self.replayed) {
            (None, _) => write!(f, "table {}: row {} is missing", self.table, self.key),
            (_, None) => write!(
                f,
                "table {}: row {} is not in the ledger",
                self.table, self.key
            ),
            (Some(s), Some(r)) => write!(
                f,
                "table {}: row {} holds {s:?}, the ledger says {r:?}",
                self.table, self.key
            ),
        }
    }
}

/// The stored columns of an event, in the order [`EventReader`] reads them. The table keeps
/// no `prev_hash` (it is the previous row's hash) and no generated id (NULL: `ev-` + seq).
const EVENT_COLUMNS: &str = "seq, event_id, kind, payload, effective, recorded, actor, hash";
/// The form of a ledger written before personal data left the chain (migration 0010).
pub const OLD_FORM: i64 = 1;
/// The form with personal values out of the chained payloads.
pub const CURRENT_FORM: i64 = 2;
/// Events are sealed and written in chunks, so an import of millions never holds them all.
const WRITE_CHUNK: usize = 20_000;
/// Events read at a time with their personal values (an export holds one window in memory).
const EVENT_WINDOW: i64 = 50_000;

fn head_of(tx: &mut dyn Tx) -> Result<Option<Head>, StoreError> {
    let rows = tx.query(
        "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
        &[],
    )?;
    match rows.first() {
        None => Ok(None),
        Some(row) => {
            let r = Reader::new("events", row);
            Ok(Some(Head {
                seq: r.int(0)?,
                hash: r.text(1)?,
            }))
        }
    }
}

/// Reads stored events in sequence order, giving each the hash of the one before as its
/// `prev_hash` and its generated id where none is stored.
struct EventReader {
    previous_hash: String,
}

impl EventReader {
    fn new() -> Self {
        EventReader {
            previous_hash: chain::GENESIS_HASH.to_string(),
        }
    }

    fn read(&mut self, row: Row) -> Result<StoredEvent, StoreError> {
        let seq = Reader::new("events", &row).int(0)?;
        let effective = Reader::new("events", &row).date(4)?;
        let mut cells = row.into_iter();
        let mut next = |field: &str| match cells.next() {
            Some(Value::Text(t)) => Ok(Some(t)),
            Some(Value::Null) => Ok(None),
            other => Err(StoreError::Corrupt {
                table: "events",
                reason: format!("event {seq} holds {other:?} where its {field} is expected"),
            }),
        };
        let text = |value: Option<String>, field: &str| {
            value.ok_or_else(|| StoreError::Corrupt {
                table: "events",
                reason: format!("event {seq} has no {field}"),
            })
        };
        let _seq = next("seq");
        let event_id = next("event_id")?.unwrap_or_else(|| chain::generated_event_id(seq));
        let kind = text(next("kind")?, "kind")?;
        let stored_payload = text(next("payload")?, "payload")?;
        let payload = match packed::canonical(&stored_payload) {
            Ok(Cow::Borrowed(_)) => stored_payload,
            Ok(Cow::Owned(canonical)) => canonical,
            Err(e) => {
                return Err(StoreError::Corrupt {
                    table: "events",
                    reason: format!("event {seq}: {e}"),
                });
            }
        };
        let _effective = next("effective");
        let recorded = text(next("recorded")?, "recorded")?;
        let actor = text(next("actor")?, "actor")?;
        let hash = text(next("hash")?, "hash")?;
        let prev_hash = std::mem::replace(&mut self.previous_hash, hash.clone());
        Ok(StoredEvent {
            seq,
            event_id,
            kind,
            payload,
            personal: std::collections::BTreeMap::new(),
            effective,
            recorded,
            actor,
            prev_hash,
            hash,
        })
    }
}

/// The event's row, in the events table's column order (as `Sealer::seal` writes a new one).
fn event_row(e: &StoredEvent) -> Row {
    vec![
        Value::Int(e.seq),
        stored_event_id(&e.event_id, e.seq),
        Value::text(&e.kind),
        Value::Text(packed::pack(&e.payload).unwrap_or_else(|| e.payload.clone())),
        Value::Text(valuetree_core::date_text(e.effective)),
        Value::text(&e.recorded),
        Value::text(&e.actor),
        Value::text(&e.hash),
    ]
}

/// How the events table stores an event id: a generated one (none given, or the sequence
/// number again) as NULL, readers put it back.
fn stored_event_id(event_id: &str, seq: i64) -> Value {
    if event_id.is_empty() || chain::generated_id_seq(event_id) == Some(seq) {
        Value::Null
    } else {
        Value::text(event_id)
    }
}

fn find_hash(tx: &mut dyn Tx, seq: i64) -> Result<Option<String>, StoreError> {
    let rows = tx.query("SELECT hash FROM events WHERE seq = $1", &[Value::Int(seq)])?;
    match rows.first() {
        None => Ok(None),
        Some(row) => Ok(Some(Reader::new("events", row).text(0)?)),
    }
}

/// Loads into `state` the facts `preload` names (the master data is already there).
pub(crate) fn load_preload(
    tx: &mut dyn Tx,
    state: &mut State,
    preload: &Preload,
) -> Result<(), StoreError> {
    if let Preload::Ids {
        contributions,
        outcomes,
        cycles,
    } = preload
    {
        load_facts(tx, state, contributions, outcomes)?;
        load_cycle_facts(tx, state, cycles)?;
    }
    Ok(())
}

/// The sequence number and hash of the event with this id, if the ledger holds one.
fn find_event(tx: &mut dyn Tx, event_id: &str) -> Result<Option<(i64, String)>, StoreError> {
    let rows = match chain::generated_id_seq(event_id) {
        Some(seq) => tx.query(
            "SELECT seq, hash FROM events WHERE seq = $1 AND event_id IS NULL",
            &[Value::Int(seq)],
        )?,
        None => tx.query(
            "SELECT seq, hash FROM events WHERE event_id = $1",
            &[Value::text(event_id)],
        )?,
    };
    match rows.first() {
        None => Ok(None),
        Some(row) => {
            let r = Reader::new("events", row);
            Ok(Some((r.int(0)?, r.text(1)?)))
        }
    }
}

fn load_state(tx: &mut dyn Tx, preload: &Preload) -> Result<State, StoreError> {
    let mut state = State::default();
    for table in PROJECTIONS {
        if !rows::is_fact_table(table) || matches!(preload, Preload::All) {
            rows::load_table(&mut state, table, &mut |each| {
                tx.for_each_row(&table.scan_sql(), &[], &mut |row| each(&row))
            })?;
        }
    }
    if let Preload::Ids {
        contributions,
        outcomes,
        cycles,
    } = preload
    {
        load_facts(tx, &mut state, contributions, outcomes)?;
        load_cycle_facts(tx, &mut state, cycles)?;
    }
    state.reindex();
    Ok(state)
}

/// Loads the named contributions and outcomes that `state` does not hold yet.
fn load_facts(
    tx: &mut dyn Tx,
    state: &mut State,
    contributions: &[String],
    outcomes: &[String],
) -> Result<(), StoreError> {
    for (table, ids) in [
        (&rows::CONTRIBUTIONS, contributions),
        (&rows::OUTCOMES, outcomes),
    ] {
        let missing: rustc_hash::FxHashSet<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| {
                if table.id == rows::TableId::Contributions {
                    !state.contributions.contains_key(*id)
                } else {
                    !state.outcomes.contains_key(*id)
                }
            })
            .collect();
        // Sized once: a re-import of a million rows otherwise rehashes the map as it grows.
        if table.id == rows::TableId::Contributions {
            state.contributions.reserve(missing.len());
        } else {
            state.outcomes.reserve(missing.len());
        }
        if missing.len() >= SCAN_FROM && missing.len().saturating_mul(4) >= row_count(tx, table)? {
            // A quarter of the table or more (a re-import of a big file): one pass over the
            // table is several times faster than as many index look-ups.
            let sql = format!("SELECT {} FROM {}", table.columns.join(", "), table.name);
            tx.for_each_cells(
                &sql,
                &[],
                &mut |cells| match cells.first().and_then(Cell::text) {
                    Some(id) if missing.contains(id) => {
                        let row: Row = cells.iter().map(Cell::to_value).collect();
                        rows::load_row(state, table, &row)
                    }
                    _ => Ok(()),
                },
            )?;
            continue;
        }
        let missing: Vec<&str> = missing.into_iter().collect();
        for chunk in missing.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {} FROM {} WHERE {} IN ({})",
                table.columns.join(", "),
                table.name,
                table.columns[0],
                placeholders.join(", ")
            );
            let params: Vec<Value> = chunk.iter().map(|id| Value::text(*id)).collect();
            tx.for_each_row(&sql, &params, &mut |row| rows::load_row(state, table, &row))?;
        }
    }
    Ok(())
}

/// From this many ids on, [`load_facts`] may read the whole table instead of looking each up.
const SCAN_FROM: usize = 50_000;

fn row_count(tx: &mut dyn Tx, table: &Table) -> Result<usize, StoreError> {
    let rows = tx.query(&format!("SELECT count(*) FROM {}", table.name), &[])?;
    Ok(match rows.first().map(|row| &row[0]) {
        Some(Value::Int(n)) => usize::try_from(*n).unwrap_or(0),
        _ => 0,
    })
}

/// Loads the ratings and calibrated scores of the named cycles.
fn load_cycle_facts(
    tx: &mut dyn Tx,
    state: &mut State,
    cycles: &[String],
) -> Result<(), StoreError> {
    let cycles: BTreeSet<&String> = cycles.iter().collect();
    for cycle in cycles {
        // A cycle holds up to millions of ratings: growing the map as they arrive rehashed
        // it a dozen times.
        let counted = tx.query(
            "SELECT count(*) FROM ratings WHERE cycle_id = $1",
            &[Value::text(cycle.as_str())],
        )?;
        if let Some(Value::Int(n)) = counted.first().map(|row| &row[0]) {
            state
                .reviews
                .ratings
                .reserve(usize::try_from(*n).unwrap_or(0));
        }
        for table in [&rows::review::RATINGS, &rows::review::SCORES] {
            let sql = format!(
                "SELECT {} FROM {} WHERE cycle_id = $1",
                table.columns.join(", "),
                table.name
            );
            tx.for_each_row(&sql, &[Value::text(cycle.as_str())], &mut |row| {
                rows::load_row(state, table, &row)
            })?;
        }
    }
    Ok(())
}

/// What a store keeps between its own writes: the head it left and the state at that head.
pub(crate) struct WriteCache {
    head: Option<Head>,
    state: State,
}

/// The state to check new events against, inside a write transaction: the cached one if no
/// one else wrote since (same head), otherwise loaded; plus the facts `preload` names.
fn writable_state(
    cache: &mut Option<WriteCache>,
    tx: &mut dyn Tx,
    preload: &Preload,
) -> Result<(Option<Head>, State), StoreError> {
    let head = head_of(tx)?;
    let mut state = match cache.take() {
        Some(cached) if cached.head == head => cached.state,
        _ => load_state(tx, &Preload::None)?,
    };
    if let Preload::Ids {
        contributions,
        outcomes,
        cycles,
    } = preload
    {
        load_facts(tx, &mut state, contributions, outcomes)?;
        load_cycle_facts(tx, &mut state, cycles)?;
    }
    Ok((head, state))
}

fn remember(cache: &mut Option<WriteCache>, head: Option<Head>, mut state: State) {
    state.forget_facts();
    *cache = Some(WriteCache { head, state });
}

/// Events per batch handed from the reading thread to the applying one.
const REPLAY_BATCH: usize = 4_096;

/// Replays the ledger into a fresh state. This thread reads the events and parses their
/// payloads; a second thread applies them in sequence order, so parsing and applying (the
/// two halves of a replay's work) overlap. The first failure in sequence order is the one
/// reported: the reader stops at its first bad event, after handing over every event before
/// it.
fn replay(tx: &mut dyn Tx, progress: &mut dyn FnMut(u64)) -> Result<State, StoreError> {
    let capacity = contribution_capacity_hint(tx)?;
    replay_into(tx, progress, move || {
        let mut state = State::default();
        state.contributions.reserve(capacity);
        state
    })
}

/// [`replay`] into the state `fresh` makes (on the applying thread).
fn replay_into(
    tx: &mut dyn Tx,
    progress: &mut dyn FnMut(u64),
    fresh: impl FnOnce() -> State + Send,
) -> Result<State, StoreError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<(i64, Event)>>(4);
    // Applied batches come back to be filled again.
    let (give_back, applied) = std::sync::mpsc::channel::<Vec<(i64, Event)>>();
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let applier = scope.spawn(|| {
            let mut state = fresh();
            for mut batch in receiver {
                for (seq, event) in batch.drain(..) {
                    if let Err(rejection) = state.apply(&event) {
                        failed.store(true, Ordering::Relaxed);
                        return Err(StoreError::Replay {
                            seq,
                            reason: format!("{}: {}", rejection.field, rejection.reason),
                        });
                    }
                    state.take_changes();
                }
                let _ = give_back.send(batch);
            }
            Ok(state)
        });
        let mut reader = ReplayReader {
            pending: PendingEvent::default(),
            unpacked: String::with_capacity(1024),
            batch: Vec::with_capacity(REPLAY_BATCH),
            sender,
            applied,
            failed: &failed,
            progress,
        };
        // Each event's personal values (kept out of the chain) follow it, merged in sequence
        // order by the database from two ordered scans: none is held beyond its event.
        let read = tx.for_each_cells(
            "SELECT seq, '' AS member, kind, payload FROM events \
             UNION ALL SELECT seq, member, value, NULL FROM personal_values \
             ORDER BY 1, 2",
            &[],
            &mut |cells| reader.row(cells),
        );
        // Also after a read failure: the events before it are applied, and a failure among
        // them comes first.
        let last = if read.is_ok() {
            reader.finish_pending()
        } else {
            Ok(())
        };
        let ReplayReader { batch, sender, .. } = reader;
        let _ = sender.send(batch);
        drop(sender);
        let state = applier.join().map_err(|_| StoreError::Replay {
            seq: 0,
            reason: "the replaying thread panicked".into(),
        })??;
        read?;
        last?;
        Ok(state)
    })
}

/// The event a replay read last, waiting for its personal values.
#[derive(Default)]
struct PendingEvent {
    seq: Option<i64>,
    kind: String,
    payload: String,
    values: Vec<(String, String)>,
}

/// A replay's reading side: assembles each event from its row and the rows of its personal
/// values, parses it and hands it over in batches.
struct ReplayReader<'r> {
    pending: PendingEvent,
    unpacked: String,
    batch: Vec<(i64, Event)>,
    sender: std::sync::mpsc::SyncSender<Vec<(i64, Event)>>,
    applied: std::sync::mpsc::Receiver<Vec<(i64, Event)>>,
    failed: &'r std::sync::atomic::AtomicBool,
    progress: &'r mut dyn FnMut(u64),
}

impl ReplayReader<'_> {
    fn row(&mut self, cells: &[Cell<'_>]) -> Result<(), StoreError> {
        let (seq, member, first, second) = match cells {
            [Cell::Int(seq), member, first, second] => (*seq, member.text(), first, second),
            _ => {
                return Err(StoreError::Corrupt {
                    table: "events",
                    reason: format!(
                        "a row holds {cells:?} where seq, kind and payload are expected"
                    ),
                });
            }
        };
        match member {
            Some("") => {
                self.finish_pending()?;
                let kind = stored_text(first.text(), seq, "kind")?;
                let payload = stored_text(second.text(), seq, "payload")?;
                let pending = &mut self.pending;
                pending.seq = Some(seq);
                pending.kind.clear();
                pending.kind.push_str(kind);
                pending.payload.clear();
                pending.payload.push_str(payload);
                pending.values.clear();
                Ok(())
            }
            Some(member) => {
                // A value kept for an event the ledger does not hold is not the replay's to
                // report: `verify` does (personal::check_values).
                if self.pending.seq == Some(seq) {
                    let Some(value) = first.text() else {
                        return Err(personal::corrupt_value(seq));
                    };
                    self.pending
                        .values
                        .push((member.to_string(), value.to_string()));
                }
                Ok(())
            }
            None => Err(personal::corrupt_value(seq)),
        }
    }

    /// Parses the pending event (if any) with its personal values, and hands it over.
    fn finish_pending(&mut self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        let Some(seq) = self.pending.seq.take() else {
            return Ok(());
        };
        let replay_error = |reason: String| StoreError::Replay { seq, reason };
        let kind = self.pending.kind.as_str();
        self.unpacked.clear();
        packed::unpack_into(&self.pending.payload, &mut self.unpacked)
            .map_err(|e| replay_error(e.to_string()))?;
        if valuetree_core::personal::holds_commitments(kind, &self.unpacked) {
            let kept = &self.pending.values;
            self.unpacked =
                valuetree_core::personal::open_canonical(kind, "", &self.unpacked, &mut |member| {
                    kept.iter()
                        .find(|(m, _)| m == member)
                        .map(|(_, v)| v.clone())
                })
                .map_err(|e| replay_error(e.to_string()))?;
        }
        let event =
            Event::from_parts(kind, &self.unpacked).map_err(|e| replay_error(e.to_string()))?;
        self.batch.push((seq, event));
        if self.batch.len() == REPLAY_BATCH {
            (self.progress)(REPLAY_BATCH as u64);
            let stop = || StoreError::Replay {
                seq: 0,
                reason: "stopped: the replay failed at an earlier event".into(),
            };
            if self.failed.load(Ordering::Relaxed) {
                return Err(stop());
            }
            let next = self
                .applied
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(REPLAY_BATCH));
            self.sender
                .send(std::mem::replace(&mut self.batch, next))
                .map_err(|_| stop())?;
        }
        Ok(())
    }
}

fn stored_text<'a>(value: Option<&'a str>, seq: i64, field: &str) -> Result<&'a str, StoreError> {
    value.ok_or_else(|| StoreError::Corrupt {
        table: "events",
        reason: format!("event {seq} has no {field} (or it is not UTF-8 text)"),
    })
}

/// How many contributions a replay will likely hold, to size its map once instead of
/// rehashing a million entries as it grows: the projection's row count, bounded by the
/// number of events (so a tampered projection cannot make a replay reserve more).
fn contribution_capacity_hint(tx: &mut dyn Tx) -> Result<usize, StoreError> {
    let rows = tx.query(
        "SELECT (SELECT count(*) FROM contributions), (SELECT coalesce(max(seq), 0) FROM events)",
        &[],
    )?;
    let count = |i: usize| match rows.first().map(|row| &row[i]) {
        Some(Value::Int(n)) => usize::try_from(*n).unwrap_or(0),
        _ => 0,
    };
    Ok(count(0).min(count(1)))
}

/// An event to append: the event, its effective date, and the client's id if it gave one.
pub(crate) struct NewEvent {
    pub event: Event,
    pub effective: NaiveDate,
    pub event_id: Option<String>,
}

mod dependents;
pub mod personal;
mod verify;
pub(crate) use verify::PARALLEL_CHAIN_FROM;
mod write;
pub(crate) use write::preload_for_events as preload_for;
pub use write::{ImportSource, StreamedKind};

impl Store {
    pub fn head(&mut self) -> Result<Option<Head>, StoreError> {
        let mut tx = self.begin(false)?;
        head_of(tx.as_mut())
    }

    /// The projections as stored, with the contributions and outcomes `preload` asks for.
    pub fn load_state(&mut self, preload: &Preload) -> Result<State, StoreError> {
        let mut tx = self.begin(false)?;
        load_state(tx.as_mut(), preload)
    }

    /// [`Store::load_state`], with the head of the ledger it was read at (one transaction).
    pub fn load_state_and_head(
        &mut self,
        preload: &Preload,
    ) -> Result<(Option<Head>, State), StoreError> {
        let mut tx = self.begin(false)?;
        let head = head_of(tx.as_mut())?;
        Ok((head, load_state(tx.as_mut(), preload)?))
    }

    /// The ratings and calibrated scores of `cycles` alone, in an otherwise empty state, with
    /// the head they were read at: for a caller that loads them on a second connection while
    /// the first loads the master data, and moves them over when both heads agree.
    pub fn load_cycle_facts(
        &mut self,
        cycles: &[String],
    ) -> Result<(Option<Head>, State), StoreError> {
        let mut tx = self.begin(false)?;
        let head = head_of(tx.as_mut())?;
        let mut state = State::default();
        load_cycle_facts(tx.as_mut(), &mut state, cycles)?;
        Ok((head, state))
    }

    /// The org part of the master data — people, units, assignments, the value tree,
    /// hand-overs, policies — with the memberships of flagpoles only: what the diagnostics
    /// read, without the rest of the snapshot (every membership, the review cycles, roles),
    /// which a one-shot diagnostic would otherwise load for nothing.
    pub fn load_org_state(&mut self) -> Result<State, StoreError> {
        let mut tx = self.begin(false)?;
        let mut state = State::default();
        for table in [
            &rows::PEOPLE,
            &rows::UNITS,
            &rows::UNIT_VERSIONS,
            &rows::ASSIGNMENTS,
            &rows::NODES,
            &rows::EDGES,
            &rows::HANDOVERS,
            &rows::POLICIES,
        ] {
            rows::load_table(&mut state, table, &mut |each| {
                tx.for_each_row(&table.scan_sql(), &[], &mut |row| each(&row))
            })?;
        }
        let members = &rows::MEMBERS;
        let sql = format!(
            "SELECT {} FROM members WHERE node_id IN (SELECT node_id FROM nodes WHERE flagpole <> 0)",
            members.columns.join(", "),
        );
        rows::load_table(&mut state, members, &mut |each| {
            tx.for_each_row(&sql, &[], &mut |row| each(&row))
        })?;
        state.reindex();
        Ok(state)
    }

    /// Runs a read-only query (used by the `show` commands for per-person look-ups).
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut tx = self.begin(false)?;
        tx.query(sql, params)
    }

    /// Hands every stored event to `each`, in sequence order, with its personal values.
    pub fn for_each_event(
        &mut self,
        each: &mut dyn FnMut(StoredEvent) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.for_each_event_after(0, usize::MAX, each)
    }

    /// Hands the stored events after `seq` to `each`, in sequence order, at most `limit`,
    /// each with its personal values (read window by window beside the events).
    pub fn for_each_event_after(
        &mut self,
        seq: i64,
        limit: usize,
        each: &mut dyn FnMut(StoredEvent) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin(false)?;
        let mut reader = EventReader::new();
        if seq > 0 {
            reader.previous_hash = match find_hash(tx.as_mut(), seq)? {
                Some(hash) => hash,
                None => {
                    return Err(StoreError::Corrupt {
                        table: "events",
                        reason: format!("event {seq} is missing"),
                    });
                }
            };
        }
        let Some(head) = head_of(tx.as_mut())? else {
            return Ok(());
        };
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
        );
        let mut remaining = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut after = seq;
        while after < head.seq && remaining > 0 {
            let upto = after.saturating_add(EVENT_WINDOW).min(head.seq);
            let mut personal = personal::entries_between(tx.as_mut(), after, upto)?;
            let params = [Value::Int(after), Value::Int(upto), Value::Int(remaining)];
            tx.for_each_row(&sql, &params, &mut |row| {
                let mut event = reader.read(row)?;
                event.personal = personal.remove(&event.seq).unwrap_or_default();
                remaining -= 1;
                each(event)
            })?;
            after = upto;
        }
        Ok(())
    }

    /// The stored hash of event `seq`, if there is one.
    pub fn event_hash(&mut self, seq: i64) -> Result<Option<String>, StoreError> {
        let mut tx = self.begin(false)?;
        find_hash(tx.as_mut(), seq)
    }
}

fn key_text(row: &Row, key_columns: usize) -> String {
    if let (1, Some(Value::Text(key))) = (key_columns, row.first()) {
        // Most tables have one text key: no list to join.
        return key.clone();
    }
    row.iter()
        .take(key_columns)
        .map(|v| match v {
            Value::Text(t) => t.clone(),
            Value::Int(i) => i.to_string(),
            Value::Real(f) => f.to_string(),
            Value::Null => String::new(),
        })
        .collect::<Vec<_>>()
        .join("/")
}
