//! Checking the ledger: the chain, the pinned head, the projections; and rebuilding them.

use super::*;

impl Store {
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
