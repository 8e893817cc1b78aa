//! Typed look-ups of the projections for one person or one node, and catching a long-lived
//! state up with what was appended since it was read. The application layer's queries use
//! these instead of SQL text of their own.

use crate::ledger::Head;
use crate::rows::{self, Reader};
use crate::sql::{Table, Value};
use crate::{Store, StoreError};
use valuetree_core::chain::StoredEvent;
use valuetree_core::domain::{Contribution, OutcomeRecord, PolicyKind, PolicySetting};
use valuetree_core::event::Event;
use valuetree_core::review::RatingRecord;
use valuetree_core::state::State;

/// What [`Store::catch_up`] applied: the head the state is now at, and the events.
#[derive(Debug, Default)]
pub struct CaughtUp {
    pub head: Option<Head>,
    pub events: Vec<Event>,
}

/// Which column a look-up filters on.
#[derive(Clone, Copy, Debug)]
pub enum By<'a> {
    Person(&'a str),
    Node(&'a str),
}

impl Store {
    fn rows_where(
        &mut self,
        table: &Table,
        column: &str,
        id: &str,
        into: &mut State,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "SELECT {} FROM {} WHERE {column} = $1",
            table.columns.join(", "),
            table.name
        );
        let mut tx = self.begin(false)?;
        tx.for_each_row(&sql, &[Value::text(id)], &mut |row| {
            rows::load_row(into, table, &row)
        })
    }

    /// The contributions of one person or one node (retracted ones included), in date
    /// order, then by id.
    pub fn contributions_by(&mut self, by: By<'_>) -> Result<Vec<Contribution>, StoreError> {
        let mut scratch = State::default();
        let (column, id) = match by {
            By::Person(id) => ("person_id", id),
            By::Node(id) => ("node_id", id),
        };
        self.rows_where(&rows::CONTRIBUTIONS, column, id, &mut scratch)?;
        let mut found: Vec<Contribution> = scratch.contributions.into_values().collect();
        found.sort_by(|a, b| {
            (a.record.date, &a.record.contribution_id)
                .cmp(&(b.record.date, &b.record.contribution_id))
        });
        Ok(found)
    }

    /// One contribution by id.
    pub fn contribution(&mut self, id: &str) -> Result<Option<Contribution>, StoreError> {
        let mut scratch = State::default();
        self.rows_where(&rows::CONTRIBUTIONS, "contribution_id", id, &mut scratch)?;
        Ok(scratch.contributions.remove(id))
    }

    /// The event of `kind` whose payload has `field` = `id` (the latest, if several): the
    /// receipt a retried write answers with. It searches the stored payloads for the quoted
    /// id (whichever form they are stored in) and reads the candidates back, so it is meant
    /// for the rare retry, not for every request.
    pub fn recording_event(
        &mut self,
        kind: &str,
        field: &str,
        id: &str,
    ) -> Result<Option<Head>, StoreError> {
        let quoted = serde_json::to_string(id).map_err(|e| StoreError::Corrupt {
            table: "events",
            reason: e.to_string(),
        })?;
        let escaped: String = quoted
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let candidates = {
            let mut tx = self.begin(false)?;
            tx.query(
                "SELECT seq FROM events WHERE kind = $1 AND payload LIKE $2 ESCAPE '\\' ORDER BY seq DESC LIMIT 50",
                &[Value::text(kind), Value::text(format!("%{escaped}%"))],
            )?
        };
        for row in candidates {
            let Some(Value::Int(seq)) = row.first() else {
                continue;
            };
            for (stored, event) in self.events_after(seq - 1, 1)? {
                let payload: serde_json::Value = serde_json::from_str(&event.canonical_payload())
                    .map_err(|e| StoreError::Corrupt {
                    table: "events",
                    reason: e.to_string(),
                })?;
                if payload.get(field).and_then(|v| v.as_str()) == Some(id) {
                    return Ok(Some(Head {
                        seq: stored.seq,
                        hash: stored.hash,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// The outcomes recorded at one node, in date order.
    pub fn outcomes_of_node(&mut self, node_id: &str) -> Result<Vec<OutcomeRecord>, StoreError> {
        let mut scratch = State::default();
        self.rows_where(&rows::OUTCOMES, "node_id", node_id, &mut scratch)?;
        let mut found: Vec<OutcomeRecord> = scratch.outcomes.into_values().collect();
        found.sort_by(|a, b| (a.date, &a.outcome_id).cmp(&(b.date, &b.outcome_id)));
        Ok(found)
    }

    /// Every rating one person received, in every cycle (drafts included: whoever shows
    /// them decides who may see what).
    pub fn ratings_of(&mut self, ratee_id: &str) -> Result<Vec<RatingRecord>, StoreError> {
        let table = &rows::review::RATINGS;
        let sql = format!(
            "SELECT {} FROM {} WHERE ratee_id = $1",
            table.columns.join(", "),
            table.name
        );
        let mut found = Vec::new();
        let mut tx = self.begin(false)?;
        tx.for_each_row(&sql, &[Value::text(ratee_id)], &mut |row| {
            found.push(rows::review::read_rating(&Reader::new(table.name, &row))?);
            Ok(())
        })?;
        found.sort_by(|a, b| {
            (&a.cycle_id, &a.dimension, &a.rater_id).cmp(&(&b.cycle_id, &b.dimension, &b.rater_id))
        });
        Ok(found)
    }

    /// The policies in force (`policy_set`), by kind: what a one-shot command reads instead
    /// of the whole master data.
    pub fn policies(
        &mut self,
    ) -> Result<std::collections::BTreeMap<PolicyKind, PolicySetting>, StoreError> {
        let table = &rows::POLICIES;
        let sql = format!("SELECT {} FROM {}", table.columns.join(", "), table.name);
        let mut state = State::default();
        let mut tx = self.begin(false)?;
        tx.for_each_row(&sql, &[], &mut |row| {
            rows::load_row(&mut state, table, &row)
        })?;
        Ok(state.policies)
    }

    /// The stored events after `seq`, in order (at most `limit`), parsed.
    pub fn events_after(
        &mut self,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<(StoredEvent, Event)>, StoreError> {
        let mut out = Vec::new();
        self.for_each_event_after(seq, limit, &mut |stored| {
            let opened = crate::ledger::personal::opened_payload(&stored)?;
            let event =
                Event::from_parts(&stored.kind, &opened).map_err(|reason| StoreError::Replay {
                    seq: stored.seq,
                    reason: reason.to_string(),
                })?;
            out.push((stored, event));
            Ok(())
        })?;
        Ok(out)
    }

    /// The events appended since `from`, checked to follow it: `None` when the ledger at
    /// `from` is not the one read then (rewritten or restored), or more than `max_events`
    /// came in; the caller then reloads.
    pub fn window_after(
        &mut self,
        from: Option<&Head>,
        max_events: usize,
    ) -> Result<Option<CaughtUp>, StoreError> {
        let current = self.head()?;
        if current.as_ref() == from {
            return Ok(Some(CaughtUp {
                head: current,
                events: Vec::new(),
            }));
        }
        let start = match from {
            None => 0,
            Some(head) => {
                // The event the state was read at must still be there with the same hash.
                match self.event_hash(head.seq)? {
                    Some(hash) if hash == head.hash => head.seq,
                    _ => return Ok(None),
                }
            }
        };
        let behind = current.as_ref().map_or(0, |h| h.seq) - start;
        if behind < 0 || behind as usize > max_events {
            return Ok(None);
        }
        let events = self.events_after(start, max_events + 1)?;
        let head = events
            .last()
            .map(|(stored, _)| Head {
                seq: stored.seq,
                hash: stored.hash.clone(),
            })
            .or_else(|| from.cloned());
        Ok(Some(CaughtUp {
            head,
            events: events.into_iter().map(|(_, e)| e).collect(),
        }))
    }

    /// Applies a window's events to `state` (master data as of the window's start); `false`
    /// when a replay cannot hold, and the caller reloads.
    ///
    /// `state` holds master data; the projection tables hold everything as of now. Events
    /// that change only facts pass the master data by; the others may need the facts they
    /// name (an override checks the calibrated score), read as they stand now, which is what
    /// those events saw unless the same window changed them.
    pub fn apply_window(
        &mut self,
        state: &mut State,
        events: &[Event],
    ) -> Result<bool, StoreError> {
        {
            let mut tx = self.begin(false)?;
            let preload =
                crate::ledger::preload_for(events.iter().filter(|e| !e.changes_facts_only()));
            crate::ledger::load_preload(tx.as_mut(), state, &preload)?;
        }
        for event in events {
            if !event.changes_facts_only() && state.apply(event).is_err() {
                return Ok(false);
            }
            state.take_changes();
        }
        state.forget_facts();
        Ok(true)
    }

    /// Brings `state` (master data as of `from`) up to the head: [`Store::window_after`]
    /// then [`Store::apply_window`].
    pub fn catch_up(
        &mut self,
        state: &mut State,
        from: Option<&Head>,
        max_events: usize,
    ) -> Result<Option<CaughtUp>, StoreError> {
        let Some(window) = self.window_after(from, max_events)? else {
            return Ok(None);
        };
        if !self.apply_window(state, &window.events)? {
            return Ok(None);
        }
        Ok(Some(window))
    }
}
