//! Ledger operations: append, import, export, verify, rebuild.

use crate::rows::{self, EVENTS, PROJECTIONS, Reader};
use crate::sql::{Cell, Row, Tx, Value};
use crate::{FileRowError, Store, StoreError};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use valuetree_core::NaiveDate;
use valuetree_core::chain::{self, ChainError, EnvelopeRef, StoredEvent};
use valuetree_core::clock::format_recorded;
use valuetree_core::event::Event;
use valuetree_core::import::{self, RecordBatch, RowError};
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
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Rows (or ledger lines) read.
    pub rows: u64,
    /// Events appended to the ledger.
    pub events: u64,
    /// Rows or events already in the ledger, skipped.
    pub unchanged: u64,
    pub head: Option<Head>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub head: Option<Head>,
    /// The first event that does not hold, and why.
    pub failure: Option<(i64, String)>,
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

const EVENT_COLUMNS: &str =
    "seq, event_id, kind, payload, effective, recorded, actor, prev_hash, hash";
/// Events are sealed and written in chunks, so an import of millions never holds them all.
const WRITE_CHUNK: usize = 20_000;

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

fn read_event(row: Row) -> Result<StoredEvent, StoreError> {
    let seq = Reader::new("events", &row).int(0)?;
    let effective = Reader::new("events", &row).date(4)?;
    let mut texts = row.into_iter().map(|v| match v {
        Value::Text(t) => Ok(t),
        other => Err(StoreError::Corrupt {
            table: "events",
            reason: format!("event {seq} holds {other:?} where text is expected"),
        }),
    });
    let mut next = || texts.next().unwrap_or(Ok(String::new()));
    let _seq = next();
    let event_id = next()?;
    let kind = next()?;
    let payload = next()?;
    let _effective = next();
    let recorded = next()?;
    let actor = next()?;
    let prev_hash = next()?;
    let hash = next()?;
    Ok(StoredEvent {
        seq,
        event_id,
        kind,
        payload,
        effective,
        recorded,
        actor,
        prev_hash,
        hash,
    })
}

fn event_row(e: &StoredEvent) -> Row {
    vec![
        Value::Int(e.seq),
        Value::text(&e.event_id),
        Value::text(&e.kind),
        Value::text(&e.payload),
        Value::Text(e.effective.to_string()),
        Value::text(&e.recorded),
        Value::text(&e.actor),
        Value::text(&e.prev_hash),
        Value::text(&e.hash),
    ]
}

fn load_state(tx: &mut dyn Tx, preload: &Preload) -> Result<State, StoreError> {
    let mut state = State::default();
    for table in PROJECTIONS {
        let is_fact = table.name == "contributions" || table.name == "outcomes";
        if !is_fact || matches!(preload, Preload::All) {
            tx.for_each_row(&table.select_sql(), &[], &mut |row| {
                rows::load_row(&mut state, table, &row)
            })?;
        }
    }
    if let Preload::Ids {
        contributions,
        outcomes,
    } = preload
    {
        load_facts(tx, &mut state, contributions, outcomes)?;
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
        let missing: BTreeSet<&String> = ids
            .iter()
            .filter(|id| {
                if table.name == "contributions" {
                    !state.contributions.contains_key(*id)
                } else {
                    !state.outcomes.contains_key(*id)
                }
            })
            .collect();
        let missing: Vec<&String> = missing.into_iter().collect();
        for chunk in missing.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {} FROM {} WHERE {} IN ({})",
                table.columns.join(", "),
                table.name,
                table.columns[0],
                placeholders.join(", ")
            );
            let params: Vec<Value> = chunk.iter().map(|id| Value::text(id.as_str())).collect();
            tx.for_each_row(&sql, &params, &mut |row| rows::load_row(state, table, &row))?;
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
    } = preload
    {
        load_facts(tx, &mut state, contributions, outcomes)?;
    }
    Ok((head, state))
}

fn remember(cache: &mut Option<WriteCache>, head: Option<Head>, mut state: State) {
    state.forget_facts();
    *cache = Some(WriteCache { head, state });
}

/// Replays the whole stored ledger into a fresh state.
fn replay(tx: &mut dyn Tx) -> Result<State, StoreError> {
    let mut state = State::default();
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq");
    tx.for_each_row(&sql, &[], &mut |row| {
        let stored = read_event(row)?;
        let event = Event::from_parts(&stored.kind, &stored.payload).map_err(|reason| {
            StoreError::Replay {
                seq: stored.seq,
                reason,
            }
        })?;
        state
            .apply(&event)
            .map_err(|rejection| StoreError::Replay {
                seq: stored.seq,
                reason: format!("{}: {}", rejection.field, rejection.reason),
            })?;
        state.take_changes();
        Ok(())
    })?;
    Ok(state)
}

/// An event to append: the event, its effective date, and the client's id if it gave one.
pub(crate) struct NewEvent {
    pub event: Event,
    pub effective: NaiveDate,
    pub event_id: Option<String>,
}

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

    /// Runs a read-only query (used by the `show` commands for per-person look-ups).
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut tx = self.begin(false)?;
        tx.query(sql, params)
    }

    /// Appends events given directly (by the API or tests), each checked like an import row.
    /// An event whose client id is already in the ledger is skipped.
    pub fn append(
        &mut self,
        events: Vec<(Event, Option<String>)>,
        actor: &str,
    ) -> Result<ImportSummary, StoreError> {
        let today = self.clock.today();
        let clock = self.clock.clone();
        let mut tx = crate::begin(&mut self.connection, true)?;
        let preload = preload_for_events(events.iter().map(|(e, _)| e));
        let (head, mut state) = writable_state(&mut self.cache, tx.as_mut(), &preload)?;
        let mut summary = ImportSummary::default();
        let mut errors = Vec::new();
        let mut planned = Vec::new();
        for (i, (event, id)) in events.into_iter().enumerate() {
            summary.rows += 1;
            if let Some(id) = &id
                && !tx
                    .query(
                        "SELECT seq FROM events WHERE event_id = $1",
                        &[Value::text(id)],
                    )?
                    .is_empty()
            {
                summary.unchanged += 1;
                continue;
            }
            match state.apply(&event) {
                Ok(()) => planned.push(NewEvent {
                    effective: event.natural_effective_date().unwrap_or(today),
                    event,
                    event_id: id,
                }),
                Err(rejection) => errors.push(FileRowError {
                    file: "request".into(),
                    error: RowError {
                        line: i as u64 + 1,
                        column: Some(rejection.field.into()),
                        reason: rejection.reason,
                    },
                }),
            }
        }
        if !errors.is_empty() {
            return Err(StoreError::Rejected(errors));
        }
        summary.events = planned.len() as u64;
        let mut sealer = Sealer::new(head, actor, format_recorded(clock.now()));
        let mut writes = Writes::default();
        for new in planned {
            writes.events.push(event_row(&sealer.seal(
                new.event,
                new.effective,
                new.event_id,
            )));
        }
        writes.add_changes(&mut state);
        writes.write(tx.as_mut())?;
        summary.head = sealer.head;
        tx.commit()?;
        remember(&mut self.cache, summary.head.clone(), state);
        Ok(summary)
    }

    /// Imports parsed files atomically: all their rows become events, or nothing is written.
    ///
    /// Planning, checking and sealing run on a second thread and stream to this one, which
    /// writes; a bad row anywhere rolls the whole transaction back.
    pub fn import_records(
        &mut self,
        files: &[(String, RecordBatch)],
        actor: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportSummary, StoreError> {
        let today = self.clock.today();
        let recorded = format_recorded(self.clock.now());
        let mut tx = crate::begin(&mut self.connection, true)?;
        let (mut contributions, mut outcomes) = (Vec::new(), Vec::new());
        for (_, batch) in files {
            let (c, o) = batch.referenced_facts();
            contributions.extend(c);
            outcomes.extend(o);
        }
        let preload = Preload::Ids {
            contributions,
            outcomes,
        };
        let (head, mut state) = writable_state(&mut self.cache, tx.as_mut(), &preload)?;
        let mut sealer = Sealer::new(head, actor, recorded);
        let (summary, errors) = stream_writes(tx.as_mut(), progress, |out| {
            let mut summary = ImportSummary::default();
            let mut errors = Vec::new();
            for (file, batch) in files {
                let mut file_errors = Vec::new();
                let mut changed_lines = BTreeSet::new();
                import::plan(
                    &mut state,
                    batch,
                    today,
                    &mut file_errors,
                    &mut |state, planned| {
                        changed_lines.insert(planned.line);
                        summary.events += 1;
                        out.push(state, sealer.seal(planned.event, planned.effective, None));
                    },
                );
                summary.rows += batch.len() as u64;
                summary.unchanged += batch.len() as u64 - changed_lines.len() as u64;
                errors.extend(file_errors.into_iter().map(|error| FileRowError {
                    file: file.clone(),
                    error,
                }));
            }
            summary.head = sealer.head.clone();
            (summary, errors)
        })?;
        if !errors.is_empty() {
            // Dropping the transaction rolls back everything written so far.
            return Err(StoreError::Rejected(errors));
        }
        tx.commit()?;
        remember(&mut self.cache, summary.head.clone(), state);
        Ok(summary)
    }

    /// Imports a ledger export (JSON Lines). Events already present with the same id and hash
    /// are skipped; one with the same id and another hash is an error; the rest must chain
    /// onto the current head and pass the same checks as any new event.
    pub fn import_ledger(
        &mut self,
        events: Vec<(u64, StoredEvent)>,
        file: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportSummary, StoreError> {
        let mut tx = crate::begin(&mut self.connection, true)?;
        let mut parsed = Vec::with_capacity(events.len());
        let mut errors = Vec::new();
        let fail = |line: u64, column: &str, reason: String| FileRowError {
            file: file.to_string(),
            error: RowError {
                line,
                column: Some(column.to_string()),
                reason,
            },
        };
        for (line, stored) in events {
            match Event::from_parts(&stored.kind, &stored.payload) {
                Ok(event) => parsed.push((line, stored, event)),
                Err(reason) => errors.push(fail(line, "payload", reason)),
            }
        }
        let preload = preload_for_events(parsed.iter().map(|(_, _, e)| e));
        let (mut head, mut state) = writable_state(&mut self.cache, tx.as_mut(), &preload)?;
        let mut summary = ImportSummary::default();
        let mut accepted = Vec::new();
        for (line, stored, event) in parsed {
            summary.rows += 1;
            if chain::check_hash(&stored).is_err() {
                errors.push(fail(
                    line,
                    "hash",
                    format!(
                        "event {}: its content does not match its hash (the line was edited)",
                        stored.event_id
                    ),
                ));
                continue;
            }
            let existing = tx.query(
                "SELECT seq, hash FROM events WHERE event_id = $1",
                &[Value::text(&stored.event_id)],
            )?;
            if let Some(row) = existing.first() {
                let r = Reader::new("events", row);
                if r.text(1)? == stored.hash {
                    summary.unchanged += 1;
                } else {
                    errors.push(fail(
                        line,
                        "event_id",
                        format!(
                            "event {} is already in the ledger (seq {}) with different content",
                            stored.event_id,
                            r.int(0)?
                        ),
                    ));
                }
                continue;
            }
            let checked = chain::check_hash(&stored).and_then(|()| {
                chain::check_link(head.as_ref().map(|h| (h.seq, h.hash.as_str())), &stored)
            });
            if let Err(e) = checked {
                let column = if matches!(e, ChainError::Gap { .. }) {
                    "seq"
                } else {
                    "prev_hash"
                };
                let reason = format!(
                    "{e}; events must continue the chain of this database (its head is {})",
                    head.as_ref().map_or("empty".to_string(), |h| h.to_string())
                );
                errors.push(fail(line, column, reason));
                break;
            }
            if let Err(rejection) = state.apply(&event) {
                errors.push(fail(line, rejection.field, rejection.reason));
                continue;
            }
            head = Some(Head {
                seq: stored.seq,
                hash: stored.hash.clone(),
            });
            accepted.push(stored);
        }
        if !errors.is_empty() {
            return Err(StoreError::Rejected(errors));
        }
        summary.events = accepted.len() as u64;
        for chunk in accepted.chunks(WRITE_CHUNK) {
            let rows: Vec<Row> = chunk.iter().map(event_row).collect();
            tx.write_rows(&EVENTS, &rows, false)?;
            progress(chunk.len() as u64);
        }
        let mut writes = Writes::default();
        writes.add_changes(&mut state);
        writes.write(tx.as_mut())?;
        summary.head = head.clone();
        tx.commit()?;
        remember(&mut self.cache, head, state);
        Ok(summary)
    }

    /// Hands every stored event to `each`, in sequence order.
    pub fn for_each_event(
        &mut self,
        each: &mut dyn FnMut(StoredEvent) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin(false)?;
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq");
        tx.for_each_row(&sql, &[], &mut |row| each(read_event(row)?))
    }

    /// Walks the chain: every hash recomputed, every link checked, and the pinned head (if
    /// given) found with its hash. This thread reads rows into flat batches; a second thread
    /// checks them, so reading and hashing overlap and no row costs an allocation.
    pub fn verify_chain(
        &mut self,
        expect_head: Option<&Head>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<VerifyReport, StoreError> {
        let mut tx = self.begin(false)?;
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq");
        let (sender, receiver) = std::sync::mpsc::sync_channel::<RawBatch>(8);
        let failed = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let checker = scope.spawn(|| {
                let mut checker = ChainChecker::new(expect_head);
                for batch in receiver {
                    if checker.failure.is_none() {
                        checker.check(&batch);
                        if checker.failure.is_some() {
                            failed.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
                checker.finish()
            });
            let mut batch = RawBatch::default();
            let result = tx.for_each_cells(&sql, &[], &mut |cells| {
                batch.push(cells);
                if batch.len() == CHECK_BATCH {
                    progress(batch.len() as u64);
                    if failed.load(std::sync::atomic::Ordering::Relaxed) {
                        return Err(StoreError::Replay {
                            seq: 0,
                            reason: "stop".into(),
                        });
                    }
                    let _ = sender.send(std::mem::take(&mut batch));
                }
                Ok(())
            });
            progress(batch.len() as u64);
            let _ = sender.send(batch);
            drop(sender);
            let report = checker.join().map_err(|_| StoreError::Replay {
                seq: 0,
                reason: "the checking thread panicked".into(),
            })?;
            match result {
                Ok(()) => {}
                // Stopped early because the checker already found the first failure.
                Err(_) if report.failure.is_some() => {}
                Err(e) => return Err(e),
            }
            Ok(report)
        })
    }

    /// Replays the ledger and compares the result with the stored projections, changing
    /// nothing. Returns the differences (at most `limit`).
    pub fn check_projections(&mut self, limit: usize) -> Result<Vec<Mismatch>, StoreError> {
        let mut tx = self.begin(false)?;
        let state = replay(tx.as_mut())?;
        let mut mismatches = Vec::new();
        for table in PROJECTIONS {
            let mut stored = tx.query(&table.select_sql(), &[])?;
            // Sort here: a PostgreSQL collation may order text differently from bytes.
            stored.sort_by(|a, b| rows::compare_keys(a, b, table.key_columns));
            let replayed = rows::all_rows(&state, table);
            diff_rows(
                table.name,
                table.key_columns,
                &stored,
                &replayed,
                &mut mismatches,
                limit,
            );
            if mismatches.len() >= limit {
                break;
            }
        }
        Ok(mismatches)
    }

    /// Replays the ledger into fresh projections (in one transaction).
    pub fn rebuild(&mut self) -> Result<u64, StoreError> {
        self.cache = None;
        let mut tx = self.begin(true)?;
        let state = replay(tx.as_mut())?;
        let mut written = 0;
        for table in PROJECTIONS {
            tx.execute(&format!("DELETE FROM {}", table.name), &[])?;
            let rows = rows::all_rows(&state, table);
            written += rows.len() as u64;
            for chunk in rows.chunks(WRITE_CHUNK) {
                tx.write_rows(table, chunk, false)?;
            }
        }
        tx.commit()?;
        Ok(written)
    }
}

const CHECK_BATCH: usize = 16_384;

/// Rows of the events table copied into one buffer: eight text fields per row, in the order
/// event_id, kind, payload, effective, recorded, actor, prev_hash, hash.
#[derive(Default)]
struct RawBatch {
    text: String,
    rows: Vec<RawRow>,
}

struct RawRow {
    seq: i64,
    start: usize,
    /// End offsets of the eight fields in `text`.
    ends: [usize; 8],
    /// False if a field was not text (a damaged row).
    readable: bool,
}

impl RawBatch {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn push(&mut self, cells: &[Cell<'_>]) {
        let seq = match cells.first() {
            Some(Cell::Int(seq)) => *seq,
            _ => i64::MIN,
        };
        let start = self.text.len();
        let mut ends = [0usize; 8];
        let mut readable = cells.len() == 9 && seq != i64::MIN;
        for (i, cell) in cells.iter().skip(1).take(8).enumerate() {
            match cell {
                Cell::Text(text) => self.text.push_str(text),
                _ => readable = false,
            }
            ends[i] = self.text.len();
        }
        self.rows.push(RawRow {
            seq,
            start,
            ends,
            readable,
        });
    }

    /// The envelope of row `i` (or `None` if a field was unreadable), and its stored hash.
    fn envelope(&self, i: usize) -> Option<(EnvelopeRef<'_>, &str)> {
        let row = &self.rows[i];
        if !row.readable {
            return None;
        }
        let field = |k: usize| {
            let from = if k == 0 { row.start } else { row.ends[k - 1] };
            self.text.get(from..row.ends[k]).unwrap_or("")
        };
        Some((
            EnvelopeRef {
                event_id: field(0),
                kind: field(1),
                payload: field(2),
                effective: field(3),
                recorded: field(4),
                actor: field(5),
                prev_hash: field(6),
                seq: row.seq,
            },
            field(7),
        ))
    }
}

/// Checks events in order: each hash, each link, and the pinned head.
struct ChainChecker<'h> {
    previous_seq: i64,
    previous_hash: String,
    expect_head: Option<&'h Head>,
    pinned_seen: bool,
    events: u64,
    failure: Option<(i64, String)>,
    buffer: String,
}

impl<'h> ChainChecker<'h> {
    fn new(expect_head: Option<&'h Head>) -> Self {
        ChainChecker {
            previous_seq: 0,
            previous_hash: chain::GENESIS_HASH.to_string(),
            expect_head,
            pinned_seen: false,
            events: 0,
            failure: None,
            buffer: String::with_capacity(1024),
        }
    }

    fn check(&mut self, batch: &RawBatch) {
        for i in 0..batch.len() {
            if let Err(failure) = self.check_one(batch, i) {
                self.failure = Some(failure);
                return;
            }
            self.events += 1;
        }
    }

    fn check_one(&mut self, batch: &RawBatch, i: usize) -> Result<(), (i64, String)> {
        let seq = batch.rows[i].seq;
        let Some((event, hash)) = batch.envelope(i) else {
            return Err((
                seq,
                format!("event {seq} cannot be read: a column is not text"),
            ));
        };
        let expected = self.previous_seq + 1;
        if seq != expected {
            return Err((seq, ChainError::Gap { seq, expected }.to_string()));
        }
        if event.prev_hash != self.previous_hash {
            return Err((
                seq,
                ChainError::BrokenLink {
                    seq,
                    previous: self.previous_seq,
                }
                .to_string(),
            ));
        }
        if !event.hash_matches(hash, &mut self.buffer) {
            return Err((seq, ChainError::HashMismatch { seq }.to_string()));
        }
        if let Some(pinned) = self.expect_head
            && pinned.seq == seq
        {
            self.pinned_seen = true;
            if pinned.hash != hash {
                return Err((
                    seq,
                    format!(
                        "event {seq} has hash {hash}, but the pinned head says {}: the chain was rewritten from here or earlier",
                        pinned.hash
                    ),
                ));
            }
        }
        self.previous_seq = seq;
        self.previous_hash.clear();
        self.previous_hash.push_str(hash);
        Ok(())
    }

    fn finish(mut self) -> VerifyReport {
        let head = (self.previous_seq > 0).then(|| Head {
            seq: self.previous_seq,
            hash: self.previous_hash.clone(),
        });
        if self.failure.is_none()
            && let Some(pinned) = self.expect_head
            && !self.pinned_seen
        {
            self.failure = Some((
                pinned.seq,
                format!(
                    "the ledger ends at event {}, before the pinned head {pinned}: events were deleted from its end",
                    self.previous_seq
                ),
            ));
        }
        VerifyReport {
            events: self.events,
            head,
            failure: self.failure,
        }
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(i), Value::Real(f)) | (Value::Real(f), Value::Int(i)) => *i as f64 == *f,
        _ => a == b,
    }
}

fn key_text(row: &Row, key_columns: usize) -> String {
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

fn diff_rows(
    table: &'static str,
    key_columns: usize,
    stored: &[Row],
    replayed: &[Row],
    out: &mut Vec<Mismatch>,
    limit: usize,
) {
    let (mut i, mut j) = (0, 0);
    while (i < stored.len() || j < replayed.len()) && out.len() < limit {
        let ordering = match (stored.get(i), replayed.get(j)) {
            (Some(s), Some(r)) => rows::compare_keys(s, r, key_columns),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match ordering {
            std::cmp::Ordering::Less => {
                out.push(Mismatch {
                    table,
                    key: key_text(&stored[i], key_columns),
                    stored: Some(stored[i].clone()),
                    replayed: None,
                });
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(Mismatch {
                    table,
                    key: key_text(&replayed[j], key_columns),
                    stored: None,
                    replayed: Some(replayed[j].clone()),
                });
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let (s, r) = (&stored[i], &replayed[j]);
                if s.len() != r.len() || s.iter().zip(r).any(|(a, b)| !same_value(a, b)) {
                    out.push(Mismatch {
                        table,
                        key: key_text(s, key_columns),
                        stored: Some(s.clone()),
                        replayed: Some(r.clone()),
                    });
                }
                i += 1;
                j += 1;
            }
        }
    }
}

/// Contributions and outcomes that a list of events refers to.
fn preload_for_events<'e>(events: impl Iterator<Item = &'e Event>) -> Preload {
    let (mut contributions, mut outcomes) = (Vec::new(), Vec::new());
    for event in events {
        match event {
            Event::ContributionRecorded(c) => contributions.push(c.contribution_id.clone()),
            Event::ContributionConfirmed {
                contribution_id, ..
            }
            | Event::ContributionRetracted {
                contribution_id, ..
            } => contributions.push(contribution_id.clone()),
            Event::OutcomeRecorded(o) => outcomes.push(o.outcome_id.clone()),
            _ => {}
        }
    }
    Preload::Ids {
        contributions,
        outcomes,
    }
}

/// Seals new events onto the chain, one after the other.
struct Sealer {
    head: Option<Head>,
    actor: String,
    /// All events of one transaction share one recorded time: they are written at one instant.
    recorded: String,
}

impl Sealer {
    fn new(head: Option<Head>, actor: &str, recorded: String) -> Self {
        Sealer {
            head,
            actor: actor.to_string(),
            recorded,
        }
    }

    fn seal(
        &mut self,
        event: Event,
        effective: NaiveDate,
        event_id: Option<String>,
    ) -> StoredEvent {
        let sealed = chain::seal(
            StoredEvent {
                actor: self.actor.clone(),
                effective,
                event_id: event_id.unwrap_or_default(),
                hash: String::new(),
                kind: event.kind().to_string(),
                payload: event.canonical_payload(),
                prev_hash: String::new(),
                recorded: self.recorded.clone(),
                seq: 0,
            },
            self.head.as_ref().map(|h| (h.seq, h.hash.as_str())),
        );
        self.head = Some(Head {
            seq: sealed.seq,
            hash: sealed.hash.clone(),
        });
        sealed
    }
}

/// Rows to write: events, and the projection rows they changed, per table in order. A key
/// changed twice keeps only its last version: one multi-row upsert may not touch a row twice
/// (PostgreSQL refuses it), and the earlier versions are moot.
#[derive(Default)]
struct Writes {
    events: Vec<Row>,
    projections: Vec<Vec<Row>>,
    positions: Vec<HashMap<String, usize>>,
}

impl Writes {
    fn add_changes(&mut self, state: &mut State) {
        let changes = state.take_changes();
        if changes.is_empty() {
            return;
        }
        self.projections.resize_with(PROJECTIONS.len(), Vec::new);
        self.positions.resize_with(PROJECTIONS.len(), HashMap::new);
        for (i, table) in PROJECTIONS.iter().enumerate() {
            for row in rows::changed_rows(state, &changes, table) {
                let key = key_text(&row, table.key_columns);
                match self.positions[i].get(&key) {
                    Some(&at) => self.projections[i][at] = row,
                    None => {
                        self.positions[i].insert(key, self.projections[i].len());
                        self.projections[i].push(row);
                    }
                }
            }
        }
    }

    fn write(&self, tx: &mut dyn Tx) -> Result<(), StoreError> {
        if !self.events.is_empty() {
            tx.write_rows(&EVENTS, &self.events, false)?;
        }
        for (table, rows) in PROJECTIONS.iter().zip(&self.projections) {
            if !rows.is_empty() {
                tx.write_rows(table, rows, true)?;
            }
        }
        Ok(())
    }
}

/// Where a producer puts sealed events; full chunks go to the writer.
struct Outbox<'s> {
    writes: Writes,
    sender: &'s std::sync::mpsc::SyncSender<Writes>,
    writer_gone: bool,
}

const STREAM_CHUNK: usize = 4_096;

impl Outbox<'_> {
    fn push(&mut self, state: &mut State, event: StoredEvent) {
        self.writes.events.push(event_row(&event));
        self.writes.add_changes(state);
        if self.writes.events.len() >= STREAM_CHUNK && !self.writer_gone {
            // A closed channel means the writer failed; its error is reported, stop sending.
            self.writer_gone = self.sender.send(std::mem::take(&mut self.writes)).is_err();
        }
    }
}

/// Runs `produce` on a second thread and writes what it pushes on this one (the thread
/// that owns the transaction), so planning and hashing overlap the database work.
fn stream_writes<T: Send>(
    tx: &mut dyn Tx,
    progress: &mut dyn FnMut(u64),
    produce: impl FnOnce(&mut Outbox<'_>) -> T + Send,
) -> Result<T, StoreError> {
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Writes>(4);
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            let mut outbox = Outbox {
                writes: Writes::default(),
                sender: &sender,
                writer_gone: false,
            };
            let result = produce(&mut outbox);
            let rest = std::mem::take(&mut outbox.writes);
            if !outbox.writer_gone {
                let _ = sender.send(rest);
            }
            result
        });
        let mut written: Result<(), StoreError> = Ok(());
        for writes in receiver {
            if written.is_ok() {
                written = writes.write(tx);
                progress(writes.events.len() as u64);
            }
            if written.is_err() {
                // Dropping the receiver (by leaving the loop) tells the producer to stop.
                break;
            }
        }
        let result = producer.join().map_err(|_| StoreError::Replay {
            seq: 0,
            reason: "the planning thread panicked".into(),
        })?;
        written.map(|()| result)
    })
}
