//! Writing to the ledger: appends, CSV imports, ledger imports.

use super::dependents::Updated;
use super::personal::{Keys, SealError, seal_payload};
use super::*;
use crate::sql::Table;
use valuetree_core::domain::Contribution;
use valuetree_core::personal::{self, PersonKey};

impl Store {
    /// Appends events given directly (by the API or tests), each checked like an import row.
    /// An event whose client id is already in the ledger is skipped.
    pub fn append(
        &mut self,
        events: Vec<(Event, Option<String>)>,
        actor: &str,
    ) -> Result<ImportSummary, StoreError> {
        self.append_with(actor, &Preload::None, |_| Ok(events))
    }

    /// Decides the events to append from the state they will be appended to, inside the write
    /// transaction (under the writer lock, with the state brought up to date with whatever
    /// another process wrote): an override's previous value, a forced move or a calibration
    /// is computed from the state it changes, never from an earlier read. `preload` names the
    /// facts the decision reads (a cycle's ratings and scores, contributions by id).
    ///
    /// The events are then checked and appended as [`Store::append`] does. `decide` may
    /// refuse with its own error, which rolls the transaction back.
    pub fn append_with<E: From<StoreError>>(
        &mut self,
        actor: &str,
        preload: &Preload,
        decide: impl FnOnce(&State) -> Result<Vec<(Event, Option<String>)>, E>,
    ) -> Result<ImportSummary, E> {
        self.append_then(actor, preload, decide, |_, _| Ok(()))
    }

    /// [`Store::append_with`], then `finish` in the same transaction (given the events
    /// appended) before it commits.
    pub(crate) fn append_then<E: From<StoreError>>(
        &mut self,
        actor: &str,
        preload: &Preload,
        decide: impl FnOnce(&State) -> Result<Vec<(Event, Option<String>)>, E>,
        finish: impl FnOnce(&mut dyn Tx, &[Event]) -> Result<(), StoreError>,
    ) -> Result<ImportSummary, E> {
        let today = self.clock.today();
        let clock = self.clock.clone();
        let mut tx = crate::begin(&mut self.connection, true)?;
        let (head, mut state) = writable_state(&mut self.cache, tx.as_mut(), preload)?;
        let events = match decide(&state) {
            Ok(events) => events,
            Err(refused) => {
                // Nothing was applied: the state is still the head's, and the next write
                // must not pay for loading it again (a refused request would cost a reload).
                remember(&mut self.cache, head, state);
                return Err(refused);
            }
        };
        if let Preload::Ids {
            contributions,
            outcomes,
            cycles,
        } = preload_for_events(events.iter().map(|(e, _)| e))
        {
            load_facts(tx.as_mut(), &mut state, &contributions, &outcomes)?;
            load_cycle_facts(tx.as_mut(), &mut state, &cycles)?;
        }
        let mut summary = ImportSummary::default();
        let mut errors = Vec::new();
        let mut planned = Vec::new();
        let mut updated = Updated::default();
        for (i, (event, id)) in events.into_iter().enumerate() {
            summary.rows += 1;
            if let Some(id) = &id {
                if chain::generated_id_seq(id).is_some() {
                    errors.push(FileRowError {
                        file: "request".into(),
                        error: RowError {
                            line: i as u64 + 1,
                            column: Some("event_id".into()),
                            reason: format!(
                                "`{id}` has the form of a generated id (ev- and 12 digits), which is reserved; choose another id"
                            ),
                        },
                    });
                    continue;
                }
                if find_event(tx.as_mut(), id)?.is_some() {
                    summary.unchanged += 1;
                    continue;
                }
            }
            match import::not_in_future(&event, today)
                .and_then(|()| valuetree_core::limits::check_event(&event))
                .and_then(|()| state.apply(&event))
            {
                Ok(()) => {
                    updated.note(&event, "request", i as u64 + 1);
                    planned.push(NewEvent {
                        effective: event.natural_effective_date().unwrap_or(today),
                        event,
                        event_id: id,
                    })
                }
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
        if errors.is_empty() {
            errors = updated.check(tx.as_mut(), &state)?;
        }
        if !errors.is_empty() {
            return Err(StoreError::Rejected(errors).into());
        }
        summary.events = planned.len() as u64;
        let mut sealer = Sealer::new(head.clone(), actor, format_recorded(clock.now()));
        let mut writes = Writes::default();
        let mut appended = Vec::with_capacity(planned.len());
        let mut keys = Keys::looked_up_on_demand();
        for (i, new) in planned.into_iter().enumerate() {
            let sealed = sealer.seal(
                &new.event,
                new.effective,
                new.event_id,
                &state,
                &mut keys,
                &mut |person| super::personal::find_key(tx.as_mut(), person),
            );
            match sealed {
                Ok((row, personal)) => {
                    writes.events.push(row);
                    writes.personal.extend(personal);
                }
                Err(SealError::Store(e)) => return Err(e.into()),
                Err(SealError::Refused { member, reason }) => {
                    errors.push(FileRowError {
                        file: "request".into(),
                        error: RowError {
                            line: i as u64 + 1,
                            column: member.map(str::to_string),
                            reason,
                        },
                    });
                }
            }
            appended.push(new.event);
        }
        if !errors.is_empty() {
            return Err(StoreError::Rejected(errors).into());
        }
        writes.keys.append(&mut keys.made);
        writes.add_changes(&mut state);
        writes.write(tx.as_mut())?;
        finish(tx.as_mut(), &appended)?;
        summary.head = sealer.head().or(head);
        summary.appended = appended;
        tx.commit()?;
        remember(&mut self.cache, summary.head.clone(), state);
        Ok(summary)
    }

    /// Imports parsed files atomically: all their rows become events, or nothing is written.
    /// The files are consumed: their rows are freed as they are planned.
    pub fn import_records(
        &mut self,
        files: Vec<(String, RecordBatch)>,
        actor: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportSummary, StoreError> {
        let sources = files
            .into_iter()
            .map(|(file, batch)| (file, ImportSource::Whole(batch)))
            .collect();
        self.import_sources(sources, actor, progress)
    }

    /// Imports files atomically, each parsed whole or arriving in chunks as it is parsed:
    /// all their rows become events, or nothing is written; a bad row anywhere (also one
    /// the parser refused) rolls the whole transaction back.
    ///
    /// Planning, checking and sealing run on a second thread and stream to this one, which
    /// writes.
    pub fn import_sources(
        &mut self,
        files: Vec<(String, ImportSource)>,
        actor: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportSummary, StoreError> {
        let today = self.clock.today();
        let recorded = format_recorded(self.clock.now());
        let mut tx = crate::begin(&mut self.connection, true)?;
        let (mut contributions, mut outcomes, mut cycles) = (Vec::new(), Vec::new(), Vec::new());
        // Into a ledger with no contributions yet, none of the file's can exist: no need to
        // list millions of ids to look them up.
        let none_stored = NoneStored::of(tx.as_mut())?;
        let files: Vec<(String, Source)> = files
            .into_iter()
            .map(|(file, source)| (file, Source::new(source, none_stored)))
            .collect();
        for (_, source) in &files {
            if let Source::Whole(batch, _) = source
                && !(none_stored.contributions && source.is_contributions())
            {
                let facts = batch.referenced_facts();
                contributions.extend(facts.contributions);
                outcomes.extend(facts.outcomes);
                cycles.extend(facts.cycles);
            }
        }
        let preload = Preload::Ids {
            contributions,
            outcomes,
            cycles,
        };
        let (head, mut state) = writable_state(&mut self.cache, tx.as_mut(), &preload)?;
        for (_, source) in &files {
            if let Some(table) = source.bulk_table() {
                tx.prepare_bulk_load(table, source.rows())?;
            }
        }
        state.set_aside_recorded_contributions();
        let mut sealer = Sealer::new(head, actor, recorded);
        // The planning thread seals without the transaction: every stored key up front.
        let mut keys = Keys::all(tx.as_mut())?;
        let (summary, errors, updated) = stream_writes(tx.as_mut(), progress, |out| {
            let mut summary = ImportSummary::default();
            let mut errors = Vec::new();
            let mut updated = Updated::default();
            // What is set aside to tell a fact given twice serves only while its kind's files
            // are planned: after the last of them, it is freed for the files that follow.
            let last_contributions = files.iter().rposition(|(_, s)| s.is_contributions());
            let last_ratings = files.iter().rposition(|(_, s)| s.is_ratings());
            for (index, (file, source)) in files.into_iter().enumerate() {
                // Sized once for the file's rows (growing a map of millions rehashes it a
                // dozen times and holds the old table beside the new one), when the file
                // comes: not beside what an earlier file set aside.
                let rows = usize::try_from(source.rows()).unwrap_or(0);
                if source.is_contributions() {
                    state.reserve_set_aside(rows);
                }
                if source.is_ratings() {
                    state.ratings_in_import.reserve(rows);
                }
                let mut file_errors = Vec::new();
                for (batch, parse_errors) in source.into_chunks() {
                    file_errors.extend(parse_errors);
                    // Lines that gave at least one event (a row's events come one after the
                    // other, so a repeat is the line just pushed).
                    let mut changed_lines: Vec<u64> = Vec::new();
                    let mut seal_errors: Vec<RowError> = Vec::new();
                    let rows = batch.len() as u64;
                    import::plan(
                        &mut state,
                        batch,
                        today,
                        &mut file_errors,
                        &mut |state, planned| {
                            if changed_lines.last() != Some(&planned.line) {
                                changed_lines.push(planned.line);
                            }
                            updated.note(&planned.event, &file, planned.line);
                            summary.events += 1;
                            let sealed = match sealer.seal(
                                &planned.event,
                                planned.effective,
                                None,
                                state,
                                &mut keys,
                                &mut |_| Ok(None),
                            ) {
                                Ok(sealed) => sealed,
                                Err(SealError::Refused { member, reason }) => {
                                    seal_errors.push(RowError {
                                        line: planned.line,
                                        column: member.map(str::to_string),
                                        reason,
                                    });
                                    return;
                                }
                                Err(SealError::Store(e)) => {
                                    seal_errors.push(RowError {
                                        line: planned.line,
                                        column: None,
                                        reason: e.to_string(),
                                    });
                                    return;
                                }
                            };
                            // A recorded contribution's projection row is written from the
                            // event: the state kept only a fingerprint of it (bounded memory
                            // for imports of millions).
                            let recorded = match planned.event {
                                Event::ContributionRecorded(record) => {
                                    Some(SetAside::Contribution(Contribution {
                                        record,
                                        confirmed_on: None,
                                        retracted_on: None,
                                        retraction_reason: None,
                                    }))
                                }
                                // A new rating is not held in the state (see
                                // `State::ratings_in_import`): its row is written from the
                                // event. A revision of a held one is a change as always.
                                Event::RatingRecorded(record)
                                    if !state.reviews.ratings.contains_key(&record.key()) =>
                                {
                                    Some(SetAside::Rating(record))
                                }
                                _ => None,
                            };
                            out.push(state, sealed, &mut keys, recorded);
                        },
                    );
                    file_errors.append(&mut seal_errors);
                    summary.rows += rows;
                    changed_lines.sort_unstable();
                    changed_lines.dedup();
                    summary.unchanged += rows - changed_lines.len() as u64;
                }
                file_errors.sort_by_key(|e| e.line);
                errors.extend(file_errors.into_iter().map(|error| FileRowError {
                    file: file.clone(),
                    error,
                }));
                if Some(index) == last_contributions {
                    drop(state.take_set_aside());
                }
                if Some(index) == last_ratings {
                    state.ratings_in_import = Default::default();
                }
            }
            summary.head = sealer.head();
            (summary, errors, updated)
        })?;
        if !errors.is_empty() {
            // Dropping the transaction rolls back everything written so far.
            return Err(StoreError::Rejected(errors));
        }
        // Once every file is applied: an export that ends a unit and moves its people out
        // in another file of the same import passes.
        let errors = updated.check(tx.as_mut(), &state)?;
        if !errors.is_empty() {
            return Err(StoreError::Rejected(errors));
        }
        // What was set aside to tell a fact given twice: freed here if no file of its kind
        // came (else after its last file). Plain hashes and fingerprints: freeing millions of
        // them is one deallocation.
        drop(state.take_set_aside());
        state.ratings_in_import = Default::default();
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
            let opened = match super::personal::opened_payload(&stored) {
                Ok(opened) => opened,
                Err(e) => {
                    errors.push(fail(line, "payload", e.to_string()));
                    continue;
                }
            };
            match Event::from_parts(&stored.kind, &opened) {
                Ok(event) => parsed.push((line, stored, event)),
                Err(reason) => errors.push(fail(line, "payload", reason.to_string())),
            }
        }
        let preload = preload_for_events(parsed.iter().map(|(_, _, e)| e));
        let (mut head, mut state) = writable_state(&mut self.cache, tx.as_mut(), &preload)?;
        // An export written before personal data left the chain holds it in its payloads:
        // it can only become a ledger of that old form (in an empty database), which
        // `valuetree upgrade` then re-encodes.
        let old_form = parsed
            .iter()
            .find(|(_, stored, _)| personal::holds_plain_personal(&stored.kind, &stored.payload))
            .map(|(line, stored, _)| (*line, stored.seq));
        if let Some((line, seq)) = old_form
            && head.is_some()
        {
            return Err(StoreError::Rejected(vec![fail(
                line,
                "payload",
                format!(
                    "event {seq} holds personal values inside its hashed payload: this export was written before valuetree kept personal data out of the chain. Import it into a new, empty database, then run `valuetree upgrade` there"
                ),
            )]));
        }
        let mut summary = ImportSummary::default();
        let mut accepted = Vec::new();
        let mut imported_keys = super::personal::ImportedKeys::default();
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
            if let Some(named) = chain::generated_id_seq(&stored.event_id)
                && named != stored.seq
            {
                errors.push(fail(
                    line,
                    "event_id",
                    format!(
                        "event {} has the id of event {named}: ids of the form ev- and 12 digits are reserved for the event at that position",
                        stored.seq
                    ),
                ));
                continue;
            }
            if let Some((seq, hash)) = find_event(tx.as_mut(), &stored.event_id)? {
                if hash == stored.hash {
                    summary.unchanged += 1;
                } else {
                    errors.push(fail(
                        line,
                        "event_id",
                        format!(
                            "event {} is already in the ledger (seq {seq}) with different content",
                            stored.event_id,
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
            if let Err((member, reason)) =
                super::personal::check_entries(&stored, &mut imported_keys, tx.as_mut())
            {
                errors.push(fail(line, &format!("personal.{member}"), reason));
                continue;
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
            let personal: Vec<Row> = chunk.iter().flat_map(super::personal::entry_rows).collect();
            if !personal.is_empty() {
                tx.write_rows(&rows::PERSONAL_VALUES, &personal, false)?;
            }
            progress(chunk.len() as u64);
        }
        let new_keys = imported_keys.new_rows();
        if !new_keys.is_empty() {
            tx.write_rows(&rows::PERSON_KEYS, &new_keys, false)?;
        }
        if old_form.is_some() {
            tx.execute(
                &format!("UPDATE ledger_form SET form = {}", super::OLD_FORM),
                &[],
            )?;
        }
        let mut writes = Writes::default();
        writes.add_changes(&mut state);
        writes.write(tx.as_mut())?;
        summary.head = head.clone();
        tx.commit()?;
        remember(&mut self.cache, head, state);
        Ok(summary)
    }
}

/// The rows of one import file: parsed whole, or contributions arriving in chunks (with the
/// errors the parser found in each) while the file is still being parsed.
pub enum ImportSource {
    Whole(RecordBatch),
    /// The rows of a file that parsed, with the errors of those that did not: the good rows
    /// are still checked, so that one run lists every bad row (nothing is imported).
    Partly(RecordBatch, Vec<RowError>),
    /// The rows of a file of `kind`, arriving in chunks as it is read and parsed: planned as
    /// they come, so that a file of millions of rows is never held whole.
    Chunks {
        kind: StreamedKind,
        /// About how many rows will come (sizes the bulk load).
        estimated_rows: u64,
        chunks: Box<dyn Iterator<Item = (RecordBatch, Vec<RowError>)> + Send>,
    },
}

/// What a streamed file holds: facts, which come by the million and which the store loads
/// only by id. (Master data is planned whole: its checks span the whole file.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamedKind {
    Contributions,
    Outcomes,
    Ratings,
}

type Chunks = Box<dyn Iterator<Item = (RecordBatch, Vec<RowError>)> + Send>;

/// An [`ImportSource`] as the import plans it.
enum Source {
    /// Rows held whole, with the errors the parser found in them.
    Whole(RecordBatch, Vec<RowError>),
    Chunks {
        kind: StreamedKind,
        estimated_rows: u64,
        chunks: Chunks,
    },
}

/// Which kinds of facts the database holds none of yet: a streamed file of such facts can be
/// planned as it comes, since none of its rows can name a stored one.
#[derive(Clone, Copy, Debug)]
struct NoneStored {
    contributions: bool,
    outcomes: bool,
    ratings: bool,
}

impl NoneStored {
    fn of(tx: &mut dyn Tx) -> Result<NoneStored, StoreError> {
        let mut none = |table: &str| -> Result<bool, StoreError> {
            Ok(tx
                .query(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])?
                .is_empty())
        };
        Ok(NoneStored {
            contributions: none("contributions")?,
            outcomes: none("outcomes")?,
            ratings: none("ratings")?,
        })
    }

    fn allows(self, kind: StreamedKind) -> bool {
        match kind {
            StreamedKind::Contributions => self.contributions,
            StreamedKind::Outcomes => self.outcomes,
            StreamedKind::Ratings => self.ratings,
        }
    }
}

impl Source {
    /// Streams stay streams where none of their rows can name a stored fact; otherwise they
    /// are read whole, so that the stored facts they name can be loaded first.
    fn new(source: ImportSource, none_stored: NoneStored) -> Source {
        match source {
            ImportSource::Whole(batch) => Source::Whole(batch, Vec::new()),
            ImportSource::Partly(batch, errors) => Source::Whole(batch, errors),
            ImportSource::Chunks {
                kind,
                estimated_rows,
                chunks,
            } if none_stored.allows(kind) => Source::Chunks {
                kind,
                estimated_rows,
                chunks,
            },
            ImportSource::Chunks { chunks, .. } => {
                let mut whole: Option<RecordBatch> = None;
                let mut errors = Vec::new();
                for (batch, batch_errors) in chunks {
                    match &mut whole {
                        Some(whole) => whole.extend(batch),
                        None => whole = Some(batch),
                    }
                    errors.extend(batch_errors);
                }
                Source::Whole(
                    whole.unwrap_or(RecordBatch::Contributions(Vec::new())),
                    errors,
                )
            }
        }
    }

    fn is_contributions(&self) -> bool {
        matches!(
            self,
            Source::Chunks {
                kind: StreamedKind::Contributions,
                ..
            } | Source::Whole(RecordBatch::Contributions(_), _)
        )
    }

    fn is_ratings(&self) -> bool {
        matches!(
            self,
            Source::Chunks {
                kind: StreamedKind::Ratings,
                ..
            } | Source::Whole(RecordBatch::Ratings(_), _)
        )
    }

    fn rows(&self) -> u64 {
        match self {
            Source::Whole(batch, _) => batch.len() as u64,
            Source::Chunks { estimated_rows, .. } => *estimated_rows,
        }
    }

    /// The projection table that receives one row per row of the file, for the kinds that
    /// come by the million.
    fn bulk_table(&self) -> Option<&'static Table> {
        match self {
            Source::Chunks {
                kind: StreamedKind::Contributions,
                ..
            }
            | Source::Whole(RecordBatch::Contributions(_), _) => Some(&rows::CONTRIBUTIONS),
            Source::Chunks {
                kind: StreamedKind::Outcomes,
                ..
            }
            | Source::Whole(RecordBatch::Outcomes(_), _) => Some(&rows::OUTCOMES),
            Source::Chunks {
                kind: StreamedKind::Ratings,
                ..
            }
            | Source::Whole(RecordBatch::Ratings(_), _) => Some(&rows::review::RATINGS),
            Source::Whole(..) => None,
        }
    }

    fn into_chunks(self) -> Chunks {
        match self {
            Source::Whole(batch, errors) => Box::new(std::iter::once((batch, errors))),
            Source::Chunks { chunks, .. } => chunks,
        }
    }
}

/// Contributions and outcomes that a list of events refers to.
pub(crate) fn preload_for_events<'e>(events: impl Iterator<Item = &'e Event>) -> Preload {
    let (mut contributions, mut outcomes, mut cycles) = (Vec::new(), Vec::new(), Vec::new());
    for event in events {
        match event {
            Event::ContributionRecorded(c) => contributions.push(c.contribution_id.clone()),
            Event::ContributionConfirmed {
                contribution_id, ..
            }
            | Event::ContributionRetracted {
                contribution_id, ..
            }
            | Event::ContributionUnconfirmed {
                contribution_id, ..
            } => contributions.push(contribution_id.clone()),
            Event::OutcomeRecorded(o) => outcomes.push(o.outcome_id.clone()),
            Event::SelfReviewLinked(s) => contributions.push(s.contribution_id.clone()),
            Event::RatingRecorded(r) => cycles.push(r.cycle_id.clone()),
            Event::ScoreOverridden(o) => cycles.push(o.cycle_id.clone()),
            _ => {}
        }
    }
    Preload::Ids {
        contributions,
        outcomes,
        cycles,
    }
}

/// Seals new events onto the chain, one after the other, into their rows.
struct Sealer {
    chain: chain::Sealing,
    actor: String,
    /// All events of one transaction share one recorded time: they are written at one instant.
    recorded: String,
}

impl Sealer {
    fn new(head: Option<Head>, actor: &str, recorded: String) -> Self {
        Sealer {
            chain: chain::Sealing::new(head.as_ref().map(|h| (h.seq, h.hash.as_str()))),
            actor: actor.to_string(),
            recorded,
        }
    }

    /// The events table's row of the next event (as [`event_row`] writes a sealed one), and
    /// the rows of its personal values (taken out of the chained payload, each committed
    /// under the key of the person it is about; `state` says who was erased and who
    /// recorded a contribution).
    fn seal(
        &mut self,
        event: &Event,
        effective: NaiveDate,
        event_id: Option<String>,
        state: &State,
        keys: &mut Keys,
        lookup: &mut dyn FnMut(&str) -> Result<Option<PersonKey>, StoreError>,
    ) -> Result<(Row, Vec<Row>), SealError> {
        let (mut payload, mut packed) = event.canonical_and_packed_payload();
        let kind = event.kind();
        let mut personal_rows = Vec::new();
        if personal::may_hold_personal(kind, &payload) {
            let next_seq = self.chain.head().map_or(1, |(seq, _)| seq + 1);
            let id = self.chain.next_event_id(event_id.as_deref());
            if let Some((sealed, rows)) =
                seal_payload(kind, &id, next_seq, &payload, state, keys, lookup)?
            {
                packed = packed::pack(&sealed);
                payload = sealed;
                personal_rows = rows;
            }
        }
        let (seq, hash) = self.chain.seal(chain::NewEnvelope {
            actor: &self.actor,
            effective,
            event_id: event_id.as_deref(),
            kind,
            payload: &payload,
            recorded: &self.recorded,
        });
        Ok((
            vec![
                Value::Int(seq),
                stored_event_id(event_id.as_deref().unwrap_or_default(), seq),
                Value::Text(kind.to_string()),
                Value::Text(packed.unwrap_or(payload)),
                Value::Text(valuetree_core::date_text(effective)),
                Value::Text(self.recorded.clone()),
                Value::Text(self.actor.clone()),
                Value::Text(hash),
            ],
            personal_rows,
        ))
    }

    fn head(&self) -> Option<Head> {
        self.chain.head().map(|(seq, hash)| Head {
            seq,
            hash: hash.to_string(),
        })
    }
}

/// Rows to write: events, and the projection rows they changed, per table in order. A key
/// changed twice keeps only its last version: one multi-row upsert may not touch a row twice
/// (PostgreSQL refuses it), and the earlier versions are moot.
#[derive(Default)]
struct Writes {
    events: Vec<Row>,
    /// Rows of `personal_values` and of `person_keys` (keys made by this write).
    personal: Vec<Row>,
    keys: Vec<Row>,
    /// Per projection table, rows whose key the database cannot hold yet (a contribution the
    /// import records): a plain INSERT, cheaper than an upsert, and it fails loudly should
    /// the key exist after all.
    new_rows: Vec<Vec<Row>>,
    /// Per projection table, rows that may replace a stored one.
    changed_rows: Vec<Vec<Row>>,
    /// Per projection table, where each key's row is in `changed_rows`.
    positions: Vec<rustc_hash::FxHashMap<String, usize>>,
}

impl Writes {
    /// Room for one streamed chunk's events.
    fn for_chunk() -> Writes {
        Writes {
            events: Vec::with_capacity(STREAM_CHUNK),
            ..Writes::default()
        }
    }

    /// Empties it, keeping the capacity.
    fn clear(&mut self) {
        self.events.clear();
        self.personal.clear();
        self.keys.clear();
        self.new_rows.iter_mut().for_each(Vec::clear);
        self.changed_rows.iter_mut().for_each(Vec::clear);
        self.positions.iter_mut().for_each(|p| p.clear());
    }

    fn add_changes(&mut self, state: &mut State) {
        if !state.has_changes() {
            // Most events of a bulk import leave nothing here: skip taking an empty set.
            return;
        }
        let changes = state.take_changes();
        for (i, table) in PROJECTIONS.iter().enumerate() {
            for row in rows::changed_rows(state, &changes, table) {
                self.put(i, table, row);
            }
        }
    }

    /// Adds the row of a key that the database does not hold yet. It is not looked up
    /// again: should the key change again before the write, that version lands in
    /// `changed_rows`, whose upsert runs after the insert.
    fn add_new_row(&mut self, table: &Table, row: Row) {
        if let Some(i) = PROJECTIONS.iter().position(|t| t.id == table.id) {
            self.allocate();
            self.new_rows[i].push(row);
        }
    }

    fn allocate(&mut self) {
        if self.positions.is_empty() {
            self.new_rows.resize_with(PROJECTIONS.len(), Vec::new);
            self.changed_rows.resize_with(PROJECTIONS.len(), Vec::new);
            self.positions
                .resize_with(PROJECTIONS.len(), rustc_hash::FxHashMap::default);
        }
    }

    /// Adds one changed row of projection `i`, replacing an earlier version of it.
    fn put(&mut self, i: usize, table: &Table, row: Row) {
        self.allocate();
        let key = key_text(&row, table.key_columns);
        match self.positions[i].get(&key) {
            Some(&at) => self.changed_rows[i][at] = row,
            None => {
                self.positions[i].insert(key, self.changed_rows[i].len());
                self.changed_rows[i].push(row);
            }
        }
    }

    fn write(&self, tx: &mut dyn Tx) -> Result<(), StoreError> {
        if !self.events.is_empty() {
            tx.write_rows(&EVENTS, &self.events, false)?;
        }
        if !self.keys.is_empty() {
            tx.write_rows(&rows::PERSON_KEYS, &self.keys, false)?;
        }
        if !self.personal.is_empty() {
            tx.write_rows(&rows::PERSONAL_VALUES, &self.personal, false)?;
        }
        for (i, table) in PROJECTIONS.iter().enumerate() {
            if let Some(rows) = self.new_rows.get(i).filter(|rows| !rows.is_empty()) {
                tx.write_rows(table, rows, false)?;
            }
            if let Some(rows) = self.changed_rows.get(i).filter(|rows| !rows.is_empty()) {
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
    /// Chunks the writer has written, sent back to be emptied here: an allocator frees memory
    /// the freeing thread allocated much more cheaply than another thread's (measured: a
    /// tenth of the writer's time went to freeing the producer's rows), and the emptied
    /// vectors keep their capacity for the next chunk instead of growing from nothing again.
    written: std::sync::mpsc::Receiver<Writes>,
    spare: Option<Writes>,
    writer_gone: bool,
}

const STREAM_CHUNK: usize = 4_096;

impl Outbox<'_> {
    fn push(
        &mut self,
        state: &mut State,
        (event, personal): (Row, Vec<Row>),
        keys: &mut Keys,
        recorded: Option<SetAside>,
    ) {
        self.writes.events.push(event);
        self.writes.personal.extend(personal);
        self.writes.keys.append(&mut keys.made);
        match recorded {
            Some(SetAside::Contribution(contribution)) => self.writes.add_new_row(
                &rows::CONTRIBUTIONS,
                rows::contribution_row_owned(contribution),
            ),
            Some(SetAside::Rating(rating)) => self
                .writes
                .add_new_row(&rows::review::RATINGS, rows::review::rating_row(&rating)),
            None => {}
        }
        self.writes.add_changes(state);
        if self.writes.events.len() >= STREAM_CHUNK && !self.writer_gone {
            while let Ok(mut written) = self.written.try_recv() {
                written.clear();
                self.spare = Some(written);
            }
            let next = self.spare.take().unwrap_or_else(Writes::for_chunk);
            let full = std::mem::replace(&mut self.writes, next);
            // A closed channel means the writer failed; its error is reported, stop sending.
            self.writer_gone = self.sender.send(full).is_err();
        }
    }
}

/// A fact an import recorded that the state keeps no copy of: its row is written from it.
enum SetAside {
    Contribution(Contribution),
    Rating(valuetree_core::review::RatingRecord),
}

/// Runs `produce` on a second thread and writes what it pushes on this one (the thread
/// that owns the transaction), so planning and hashing overlap the database work.
fn stream_writes<T: Send>(
    tx: &mut dyn Tx,
    progress: &mut dyn FnMut(u64),
    produce: impl FnOnce(&mut Outbox<'_>) -> T + Send,
) -> Result<T, StoreError> {
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Writes>(4);
    let (give_back, written) = std::sync::mpsc::channel::<Writes>();
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            let mut outbox = Outbox {
                writes: Writes::for_chunk(),
                sender: &sender,
                written,
                spare: None,
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
            // Once the producer is done nobody frees them there: the last few go here.
            let _ = give_back.send(writes);
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
