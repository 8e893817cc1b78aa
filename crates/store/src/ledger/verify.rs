//! Checking the ledger: the chain, the pinned head, the projections; and rebuilding them.

use super::personal::PersonalCheck;
use super::*;
use crate::rows::TableId;
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use valuetree_core::digests::{FactDigests, FactKey};
use valuetree_core::personal::{count_commitments, personal_members};

impl Store {
    /// Walks the chain: every hash recomputed, every link checked, and the pinned head (if
    /// given) found with its hash. A reading thread copies rows into flat batches and a
    /// checking thread hashes them, so reading and hashing overlap and no row costs an
    /// allocation. A large SQLite ledger is walked as two halves at once, the second on its
    /// own connection starting from the stored hash of the event before it: reading is the
    /// busier side, and two readers keep both cores busy.
    pub fn verify_chain(
        &mut self,
        expect_head: Option<&Head>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<VerifyReport, StoreError> {
        let sqlite_path = self.sqlite_path.clone();
        let parallel_from = self.parallel_chain_from;
        let mut tx = self.begin(false)?;
        let mut head = 0;
        tx.for_each_cells("SELECT max(seq) FROM events", &[], &mut |cells| {
            if let Some(Cell::Int(seq)) = cells.first() {
                head = *seq;
            }
            Ok(())
        })?;
        let path = match sqlite_path {
            Some(path) if head >= parallel_from && crate::sqlite::has_shared_file(&path) => path,
            _ => {
                let sql = format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq");
                let checker = check_rows(ChainChecker::new(expect_head), progress, |each| {
                    tx.for_each_cells(&sql, &[], each)
                })?;
                return Ok(checker.finish());
            }
        };
        // Appends after `head` are not this walk's: both halves stop there.
        let middle = head / 2;
        let second_counted = AtomicU64::new(0);
        let (first, second) = std::thread::scope(|scope| {
            let second = scope
                .spawn(|| check_second_half(&path, middle, head, expect_head, &second_counted));
            let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq <= $1 ORDER BY seq");
            let mut report_both = |rows: u64| {
                progress(rows + second_counted.swap(0, Ordering::Relaxed));
            };
            let first = check_rows(ChainChecker::new(expect_head), &mut report_both, |each| {
                tx.for_each_cells(&sql, &[Value::Int(middle)], each)
            });
            let second = second.join().map_err(|_| StoreError::Replay {
                seq: 0,
                reason: "the second checking thread panicked".into(),
            });
            (first, second)
        });
        progress(second_counted.load(Ordering::Relaxed));
        let first = first?;
        if first.failure.is_some() {
            // The first failure in sequence order is the one reported.
            return Ok(first.finish());
        }
        let mut second = second??;
        second.events += first.events;
        second.commitments += first.commitments;
        second.pinned_seen |= first.pinned_seen;
        Ok(second.finish())
    }

    /// Checks every kept personal value against the commitment its event holds, and finds
    /// the first erasure (`person_erased` or `retention_applied`).
    pub fn verify_personal(&mut self) -> Result<(PersonalCheck, Option<i64>), StoreError> {
        let mut tx = self.begin(false)?;
        let check = super::personal::check_values(tx.as_mut())?;
        let rows = tx.query(
            "SELECT min(seq) FROM events WHERE kind IN ('person_erased', 'retention_applied')",
            &[],
        )?;
        let first_erasure = match rows.first().map(|row| &row[0]) {
            Some(Value::Int(seq)) => Some(*seq),
            _ => None,
        };
        Ok((check, first_erasure))
    }

    /// Replays the ledger and compares the result with the stored projections, changing
    /// nothing. Returns the differences (at most `limit`).
    pub fn check_projections(&mut self, limit: usize) -> Result<Vec<Mismatch>, StoreError> {
        self.check_projections_with(limit, &mut |_| {})
    }

    /// [`Store::check_projections`], telling `progress` how many events the replay read.
    ///
    /// The replay keeps the contributions and ratings (the tables of millions) as digests
    /// of their rows ([`valuetree_core::digests`]), which the stored rows are checked
    /// against as they stream by; a second replay fetches whole the few that differ, to
    /// show them. Every stored row the ledger does not explain is returned (up to `limit`);
    /// of the rows that differ or are missing, at most [`SHOWN_WHOLE`] per check.
    pub fn check_projections_with(
        &mut self,
        limit: usize,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<Mismatch>, StoreError> {
        let postgres = self.sqlite_path.is_none();
        let mut tx = self.begin(false)?;
        let (contributions, ratings) = fact_counts(tx.as_mut())?;
        let mut state = replay_into(tx.as_mut(), progress, || {
            checking_state(contributions, ratings, Default::default())
        })?;
        let mut digests = state
            .digests
            .take()
            .expect("a checking replay keeps digests");
        let mut by_table: Vec<Vec<Mismatch>> = PROJECTIONS.iter().map(|_| Vec::new()).collect();
        let mut to_fetch: Vec<(usize, FactCheck)> = Vec::new();
        let mut found = 0;
        let is_digested =
            |table: &Table| matches!(table.id, TableId::Contributions | TableId::Ratings);
        // The digested tables first: their digests (the bulk of the replay's memory) are
        // freed before the other tables' rows are made.
        for (index, table) in PROJECTIONS
            .iter()
            .enumerate()
            .filter(|(_, t)| is_digested(t))
        {
            if found >= limit {
                break;
            }
            let mut check = check_digested(tx.as_mut(), table, &mut digests, limit - found)?;
            found += check.found();
            by_table[index].extend(check.unexplained.drain(..).map(|row| Mismatch {
                table: table.name,
                key: key_text(&row, table.key_columns),
                stored: Some(row),
                replayed: None,
            }));
            if !check.differing.is_empty() || !check.missing.is_empty() {
                to_fetch.push((index, check));
            }
        }
        drop(digests);
        for (index, table) in PROJECTIONS
            .iter()
            .enumerate()
            .filter(|(_, t)| !is_digested(t))
        {
            if found >= limit {
                break;
            }
            let mismatches = &mut by_table[index];
            compare_whole(
                tx.as_mut(),
                &state,
                table,
                postgres,
                limit - found,
                mismatches,
            )?;
            found += mismatches.len();
        }
        if !to_fetch.is_empty() {
            drop(state);
            let keep: FxHashSet<FactKey> = to_fetch
                .iter()
                .flat_map(|(_, check)| {
                    check
                        .differing
                        .iter()
                        .map(|(key, _)| *key)
                        .chain(check.missing.iter().copied())
                })
                .collect();
            // Its maps are sized as the first replay's: a map that grows holds its old and
            // new tables at once.
            let whole = replay_into(tx.as_mut(), &mut |_| {}, || {
                checking_state(contributions, ratings, keep)
            })?;
            for (index, check) in to_fetch {
                let table = PROJECTIONS[index];
                let mut replayed: FxHashMap<FactKey, Row> = match table.id {
                    TableId::Contributions => whole
                        .contributions
                        .values()
                        .map(|c| {
                            (
                                FactKey::contribution(&c.record.contribution_id),
                                rows::contribution_row(c),
                            )
                        })
                        .collect(),
                    _ => whole
                        .reviews
                        .ratings
                        .values()
                        .map(|r| (FactKey::of_rating(r), rows::review::rating_row(r)))
                        .collect(),
                };
                let shown = &mut by_table[index];
                for (key, stored) in check.differing {
                    shown.push(Mismatch {
                        table: table.name,
                        key: key_text(&stored, table.key_columns),
                        stored: Some(stored),
                        replayed: replayed.remove(&key),
                    });
                }
                for key in check.missing {
                    if let Some(row) = replayed.remove(&key) {
                        shown.push(Mismatch {
                            table: table.name,
                            key: key_text(&row, table.key_columns),
                            stored: None,
                            replayed: Some(row),
                        });
                    }
                }
            }
        }
        let mut mismatches = Vec::new();
        for mut shown in by_table {
            // Keys of one column (most tables') sort in key order; keys of several, by their
            // text: the same order every time.
            shown.sort_by(|a, b| a.key.cmp(&b.key));
            mismatches.extend(shown);
        }
        mismatches.truncate(limit);
        Ok(mismatches)
    }

    /// Replays the ledger into fresh projections (in one transaction).
    pub fn rebuild(&mut self) -> Result<u64, StoreError> {
        self.rebuild_with(&mut |_| {})
    }

    /// [`Store::rebuild`], telling `progress` how many events the replay read.
    pub fn rebuild_with(&mut self, progress: &mut dyn FnMut(u64)) -> Result<u64, StoreError> {
        self.cache = None;
        let mut tx = self.begin(true)?;
        let state = replay(tx.as_mut(), progress)?;
        let mut written = 0;
        for table in PROJECTIONS {
            tx.execute(&format!("DELETE FROM {}", table.name), &[])?;
            let rows = rows::all_rows(&state, table);
            written += rows.len() as u64;
            tx.prepare_bulk_load(table, rows.len() as u64)?;
            for chunk in rows.chunks(WRITE_CHUNK) {
                tx.write_rows(table, chunk, false)?;
            }
        }
        tx.commit()?;
        Ok(written)
    }
}

/// Of the fact rows that differ from the ledger or are missing from their table, at most
/// this many are fetched whole by a second replay to be shown (the stored rows the ledger
/// does not explain are all returned).
pub const SHOWN_WHOLE: usize = 1_000;

/// How many contributions and ratings a replay will likely hold, to size its maps once
/// instead of rehashing millions of entries as they grow: the tables' row counts, bounded by
/// the number of events (so a tampered table cannot make a replay reserve more).
fn fact_counts(tx: &mut dyn Tx) -> Result<(usize, usize), StoreError> {
    let rows = tx.query(
        "SELECT (SELECT count(*) FROM contributions), (SELECT count(*) FROM ratings), \
         (SELECT coalesce(max(seq), 0) FROM events)",
        &[],
    )?;
    let count = |i: usize| match rows.first().map(|row| &row[i]) {
        Some(Value::Int(n)) => usize::try_from(*n).unwrap_or(0),
        _ => 0,
    };
    Ok((count(0).min(count(2)), count(1).min(count(2))))
}

/// A fresh state for a replay that checks the tables: facts kept as digests (and those in
/// `keep_whole` whole as well).
fn checking_state(contributions: usize, ratings: usize, keep_whole: FxHashSet<FactKey>) -> State {
    let mut digests = FactDigests::new(
        rows::contribution_record_digest,
        rows::review::rating_digest,
    );
    digests.contributions.reserve(contributions);
    digests.ratings.reserve(ratings);
    digests.keep_whole = keep_whole;
    let mut state = State::default();
    state.digests = Some(Box::new(digests));
    state
}

/// What checking a table of facts against the replay's digests found.
#[derive(Default)]
struct FactCheck {
    /// Stored rows no event explains.
    unexplained: Vec<Row>,
    /// Stored rows that differ from the ledger's, by key (at most [`SHOWN_WHOLE`]).
    differing: Vec<(FactKey, Row)>,
    /// Facts of the ledger without a row (at most [`SHOWN_WHOLE`] less the differing).
    missing: Vec<FactKey>,
}

impl FactCheck {
    fn found(&self) -> usize {
        self.unexplained.len() + self.differing.len() + self.missing.len()
    }
}

/// Checks every stored row of `table` (contributions or ratings) against the replay's
/// digests, in the order the database gives them (no sorting). Each matched digest is
/// removed: the ones left have no row.
fn check_digested(
    tx: &mut dyn Tx,
    table: &Table,
    digests: &mut FactDigests,
    limit: usize,
) -> Result<FactCheck, StoreError> {
    let mut check = FactCheck::default();
    let shown = limit.min(SHOWN_WHOLE);
    let sql = format!("SELECT {} FROM {}", table.columns.join(", "), table.name);
    let contributions = table.id == TableId::Contributions;
    let owned = |cells: &[Cell<'_>]| cells.iter().map(Cell::to_value).collect::<Row>();
    let mut stopped = false;
    tx.for_each_cells(&sql, &[], &mut |cells| {
        if check.unexplained.len() + check.differing.len() >= limit {
            stopped = true;
            return Ok(());
        }
        let text = |i: usize| cells.get(i).and_then(Cell::text);
        let (key, same) = if contributions {
            let key = text(0).map(FactKey::contribution);
            let replayed = key.and_then(|key| digests.contributions.remove(&key));
            let same = replayed.map(|d| {
                let reason = d
                    .retracted()
                    .then(|| key.and_then(|k| digests.retractions.get(&k)))
                    .flatten();
                let status = rows::contribution_status(
                    d.recorded_confirmed(),
                    d.confirmed_on,
                    reason.map(|(on, _)| *on),
                    reason.map(|(_, why)| why.as_str()),
                );
                cells.len() == table.columns.len()
                    && d.record_is(rows::digest::of_cells(&cells[..8]))
                    && cells[8..].iter().zip(&status).all(|(s, r)| s.same_as(r))
            });
            (key, same)
        } else {
            let key = match (text(0), text(1), text(2), text(3)) {
                (Some(cycle), Some(rater), Some(ratee), Some(dimension)) => {
                    Some(FactKey::rating(cycle, rater, ratee, dimension))
                }
                _ => None,
            };
            let replayed = key.and_then(|key| digests.ratings.remove(&key));
            let same = replayed.map(|d| {
                cells.len() == table.columns.len()
                    && rows::digest::of_cells(cells) & (u64::MAX >> 1) == d.digest()
            });
            (key, same)
        };
        match (key, same) {
            (_, Some(true)) => {}
            (Some(key), Some(false)) => {
                if check.differing.len() < shown {
                    check.differing.push((key, owned(cells)));
                }
            }
            _ => check.unexplained.push(owned(cells)),
        }
        Ok(())
    })?;
    // The facts left have no row (unless the check stopped at its limit before reading
    // every row); the smallest keys are shown (the same ones every time).
    let room = if stopped {
        0
    } else {
        shown.saturating_sub(check.differing.len())
    };
    let mut missing: Vec<FactKey> = match (room, contributions) {
        (0, _) => Vec::new(),
        (_, true) => digests.contributions.keys().copied().collect(),
        (_, false) => digests.ratings.keys().copied().collect(),
    };
    if missing.len() > room {
        missing.select_nth_unstable(room);
        missing.truncate(room);
    }
    check.missing = missing;
    Ok(check)
}

/// Compares the stored rows of `table` with the replayed ones, both in key order, adding
/// the differences (at most `limit`) to `mismatches`.
fn compare_whole(
    tx: &mut dyn Tx,
    state: &State,
    table: &Table,
    postgres: bool,
    limit: usize,
    mismatches: &mut Vec<Mismatch>,
) -> Result<(), StoreError> {
    // Both sides stream in key order, byte-wise (every key column is text; PostgreSQL is
    // told to compare bytes, SQLite does by default).
    let keys: Vec<String> = table.columns[..table.key_columns]
        .iter()
        .map(|k| {
            if postgres {
                format!("{k} COLLATE \"C\"")
            } else {
                k.to_string()
            }
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        table.columns.join(", "),
        table.name,
        keys.join(", ")
    );
    // A second thread sorts the replayed rows and makes them, in batches, while this one
    // reads the stored rows (as borrowed cells: no allocation per row) and compares.
    std::thread::scope(|scope| -> Result<(), StoreError> {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Row>>(4);
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(COMPARE_BATCH);
            for row in rows::sorted_rows(state, table) {
                batch.push(row);
                if batch.len() == COMPARE_BATCH {
                    let next = Vec::with_capacity(COMPARE_BATCH);
                    // A closed channel: the comparison stopped at its limit.
                    if sender.send(std::mem::replace(&mut batch, next)).is_err() {
                        return;
                    }
                }
            }
            let _ = sender.send(batch);
        });
        let mut differ = Differ {
            table: table.name,
            key_columns: table.key_columns,
            replayed: receiver.into_iter().flatten().peekable(),
            out: mismatches,
            limit,
        };
        tx.for_each_cells(&sql, &[], &mut |cells| {
            differ.stored(cells);
            Ok(())
        })?;
        differ.finish();
        Ok(())
    })
}

/// Rows per batch, and batches on their way to the checker. Few and small: every batch is
/// memory the reader fills fresh (page faults, and on these VMs slow ones) until checked
/// batches come back to be reused.
const CHECK_BATCH: usize = 4_096;
const BATCHES_IN_FLIGHT: usize = 2;

/// From this many events on, a SQLite ledger's chain is walked as two halves at once.
pub(crate) const PARALLEL_CHAIN_FROM: i64 = 200_000;

/// Reads rows with `read` (which hands each row's cells to the callback it is given) into
/// batches that a second thread checks, continuing from `checker`'s state. Returns the
/// checker, stopped at its first failure if it found one.
fn check_rows<'h>(
    checker: ChainChecker<'h>,
    progress: &mut dyn FnMut(u64),
    read: impl FnOnce(&mut dyn FnMut(&[Cell<'_>]) -> Result<(), StoreError>) -> Result<(), StoreError>,
) -> Result<ChainChecker<'h>, StoreError> {
    let (sender, receiver) = std::sync::mpsc::sync_channel::<RawBatch>(BATCHES_IN_FLIGHT);
    // Checked batches come back to be filled again: no fresh memory (and no page faults)
    // per batch.
    let (give_back, checked) = std::sync::mpsc::channel::<RawBatch>();
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let checking = scope.spawn(|| {
            let mut checker = checker;
            for batch in receiver {
                if checker.failure.is_none() {
                    checker.check(&batch);
                    if checker.failure.is_some() {
                        failed.store(true, Ordering::Relaxed);
                    }
                }
                let _ = give_back.send(batch);
            }
            checker
        });
        let mut batch = RawBatch::default();
        let result = read(&mut |cells| {
            batch.push(cells);
            if batch.len() == CHECK_BATCH {
                progress(batch.len() as u64);
                if failed.load(Ordering::Relaxed) {
                    return Err(StoreError::Replay {
                        seq: 0,
                        reason: "stop".into(),
                    });
                }
                let next = match checked.try_recv() {
                    Ok(mut reused) => {
                        reused.clear();
                        reused
                    }
                    Err(_) => RawBatch::default(),
                };
                let _ = sender.send(std::mem::replace(&mut batch, next));
            }
            Ok(())
        });
        progress(batch.len() as u64);
        let _ = sender.send(batch);
        drop(sender);
        let checker = checking.join().map_err(|_| StoreError::Replay {
            seq: 0,
            reason: "the checking thread panicked".into(),
        })?;
        match result {
            Ok(()) => {}
            // Stopped early because the checker already found the first failure.
            Err(_) if checker.failure.is_some() => {}
            Err(e) => return Err(e),
        }
        Ok(checker)
    })
}

/// The events after `middle` up to `head`, on a connection of their own, checked from the
/// stored hash of the last event at or before `middle` (the first half checks that hash
/// itself: if it is wrong, the first half fails first).
fn check_second_half<'h>(
    path: &str,
    middle: i64,
    head: i64,
    expect_head: Option<&'h Head>,
    counted: &AtomicU64,
) -> Result<ChainChecker<'h>, StoreError> {
    let connection = crate::sqlite::open_reader(path)?;
    let mut checker = ChainChecker::new(expect_head);
    let mut before = connection
        .prepare("SELECT seq, hash FROM events WHERE seq <= ?1 ORDER BY seq DESC LIMIT 1")?;
    let mut rows = before.query([middle])?;
    if let Some(row) = rows.next()? {
        checker.previous_seq = row.get(0)?;
        // If unreadable, the first half reports that event.
        checker.previous_hash = crate::sqlite::cell(row.get_ref(1)?)
            .text()
            .unwrap_or_default()
            .to_string();
    }
    let mut statement = connection.prepare(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq"
    ))?;
    check_rows(
        checker,
        &mut |rows| {
            counted.fetch_add(rows, Ordering::Relaxed);
        },
        |each| {
            let mut rows = statement.query([middle, head])?;
            while let Some(row) = rows.next()? {
                let mut cells = [Cell::Null; RAW_FIELDS + 1];
                for (i, cell) in cells.iter_mut().enumerate() {
                    *cell = crate::sqlite::cell(row.get_ref(i)?);
                }
                each(&cells)?;
            }
            Ok(())
        },
    )
}

/// Rows of the events table copied into one buffer: seven text fields per row, in the order
/// event_id (the generated one where none is stored), kind, payload, effective, recorded,
/// actor, hash. The bytes are copied as stored; their UTF-8 is checked by the checking
/// thread (reading is the busier of the two threads).
#[derive(Default)]
struct RawBatch {
    text: Vec<u8>,
    rows: Vec<RawRow>,
    /// Scratch space for a generated event id.
    generated_id: String,
}

const RAW_FIELDS: usize = 7;

struct RawRow {
    seq: i64,
    start: usize,
    /// End offsets of the fields in `text`.
    ends: [usize; RAW_FIELDS],
    /// False if a field was not text (a damaged row).
    readable: bool,
}

impl RawBatch {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn clear(&mut self) {
        self.text.clear();
        self.rows.clear();
    }

    fn push(&mut self, cells: &[Cell<'_>]) {
        let seq = match cells.first() {
            Some(Cell::Int(seq)) => *seq,
            _ => i64::MIN,
        };
        let start = self.text.len();
        let mut ends = [0usize; RAW_FIELDS];
        let mut readable = cells.len() == RAW_FIELDS + 1 && seq != i64::MIN;
        for (i, cell) in cells.iter().skip(1).take(RAW_FIELDS).enumerate() {
            match cell {
                Cell::Text(text) => self.text.extend_from_slice(text.as_bytes()),
                Cell::Utf8(bytes) => self.text.extend_from_slice(bytes),
                Cell::Null if i == 0 => {
                    self.generated_id.clear();
                    chain::push_generated_event_id(&mut self.generated_id, seq);
                    self.text.extend_from_slice(self.generated_id.as_bytes());
                }
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

    /// The envelope of row `i`, linked to `prev_hash` (or `None` if a field was not text
    /// or not UTF-8), and its stored hash.
    fn envelope<'b: 'e, 'p: 'e, 'e>(
        &'b self,
        i: usize,
        prev_hash: &'p str,
    ) -> Option<(EnvelopeRef<'e>, &'b str)> {
        let row = &self.rows[i];
        if !row.readable {
            return None;
        }
        // One check for the whole row; a field boundary inside a character (a field that
        // is not UTF-8 on its own) makes that field unreadable.
        let text = std::str::from_utf8(self.text.get(row.start..row.ends[RAW_FIELDS - 1])?).ok()?;
        let field = |k: usize| {
            let from = if k == 0 { row.start } else { row.ends[k - 1] };
            text.get(from - row.start..row.ends[k] - row.start)
        };
        Some((
            EnvelopeRef {
                event_id: field(0)?,
                kind: field(1)?,
                payload: field(2)?,
                effective: field(3)?,
                recorded: field(4)?,
                actor: field(5)?,
                prev_hash,
                seq: row.seq,
            },
            field(6)?,
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
    /// Commitments to personal values found in the chained payloads.
    commitments: u64,
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
            commitments: 0,
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
        let Some((event, hash)) = batch.envelope(i, &self.previous_hash) else {
            return Err((
                seq,
                format!("event {seq} cannot be read: a column is not text (or not UTF-8)"),
            ));
        };
        let expected = self.previous_seq + 1;
        if seq != expected {
            return Err((seq, ChainError::Gap { seq, expected }.to_string()));
        }
        // Each hash covers the previous event's hash: a mismatch is an edit of this event,
        // or of the hash of the one before (a forged hash breaks the next link).
        if !event.hash_matches(hash, &mut self.buffer) {
            let reason = if self.previous_seq > 0 {
                format!(
                    "event {seq}: its content, with the hash of event {} before it, does not match its hash (this event was edited, or the hash of event {} was forged)",
                    self.previous_seq, self.previous_seq
                )
            } else {
                ChainError::HashMismatch { seq }.to_string()
            };
            return Err((seq, reason));
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
        if !personal_members(event.kind).is_empty() {
            self.commitments += count_commitments(event.payload) as u64;
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
            commitments: self.commitments,
        }
    }
}

/// Replayed rows per batch handed to the comparing thread.
const COMPARE_BATCH: usize = 4_096;

/// Orders a replayed row against a stored one by their key columns, as [`rows::compare_keys`]
/// orders two rows: text byte by byte, integers by value.
fn compare_key_cells(
    replayed: &Row,
    stored: &[Cell<'_>],
    key_columns: usize,
) -> std::cmp::Ordering {
    for (r, s) in replayed.iter().zip(stored).take(key_columns) {
        let ordering = match (r, s) {
            (Value::Int(r), Cell::Int(s)) => r.cmp(s),
            (Value::Text(r), s) => s
                .text_bytes()
                .map_or(std::cmp::Ordering::Equal, |s| r.as_bytes().cmp(s)),
            _ => std::cmp::Ordering::Equal,
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
    std::cmp::Ordering::Equal
}

/// Compares stored rows (handed in key order) with the replayed rows of one table.
struct Differ<'a, I: Iterator<Item = Row>> {
    table: &'static str,
    key_columns: usize,
    replayed: std::iter::Peekable<I>,
    out: &'a mut Vec<Mismatch>,
    limit: usize,
}

impl<I: Iterator<Item = Row>> Differ<'_, I> {
    fn mismatch(&mut self, stored: Option<Row>, replayed: Option<Row>) {
        if self.out.len() < self.limit {
            let key = stored
                .as_ref()
                .or(replayed.as_ref())
                .map_or(String::new(), |r| key_text(r, self.key_columns));
            self.out.push(Mismatch {
                table: self.table,
                key,
                stored,
                replayed,
            });
        }
    }

    fn stored(&mut self, s: &[Cell<'_>]) {
        if self.out.len() >= self.limit {
            return;
        }
        // Replayed rows before this key are missing from the table.
        while let Some(r) = self
            .replayed
            .next_if(|r| compare_key_cells(r, s, self.key_columns).is_lt())
        {
            self.mismatch(None, Some(r));
        }
        let owned = |cells: &[Cell<'_>]| cells.iter().map(Cell::to_value).collect::<Row>();
        match self
            .replayed
            .next_if(|r| compare_key_cells(r, s, self.key_columns).is_eq())
        {
            Some(r) => {
                if s.len() != r.len() || s.iter().zip(&r).any(|(a, b)| !a.same_as(b)) {
                    self.mismatch(Some(owned(s)), Some(r));
                }
            }
            None => self.mismatch(Some(owned(s)), None),
        }
    }

    /// Replayed rows after the last stored one are missing from the table.
    fn finish(mut self) {
        while self.out.len() < self.limit {
            match self.replayed.next() {
                Some(r) => self.mismatch(None, Some(r)),
                None => break,
            }
        }
    }
}
