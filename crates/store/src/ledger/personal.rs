//! The personal values and keys kept beside the chain (migration 0010; see
//! `valuetree_core::personal` and `docs/privacy.md`): sealing new events, opening stored
//! ones, checking commitments, and erasing.

use super::*;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use valuetree_core::chain::PersonalEntry;
use valuetree_core::personal::{self, PersonKey, PersonalError};

/// A fresh random key (the operating system's generator).
pub(crate) fn new_key() -> Result<PersonKey, StoreError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| StoreError::Corrupt {
        table: "person_keys",
        reason: format!("no random key could be made: {e}"),
    })?;
    Ok(PersonKey(key))
}

/// Every stored key, by person (what a bulk import seals with, on another thread).
pub(crate) fn load_all_keys(tx: &mut dyn Tx) -> Result<FxHashMap<String, PersonKey>, StoreError> {
    let mut keys = FxHashMap::default();
    tx.for_each_row("SELECT person_id, key FROM person_keys", &[], &mut |row| {
        let (person, key) = key_row(&row)?;
        keys.insert(person, key);
        Ok(())
    })?;
    Ok(keys)
}

fn key_row(row: &Row) -> Result<(String, PersonKey), StoreError> {
    let r = Reader::new("person_keys", row);
    let person = r.text(0)?;
    let key = PersonKey::from_hex(&r.text(1)?).ok_or_else(|| StoreError::Corrupt {
        table: "person_keys",
        reason: format!("the key of {person} is not 64 hex digits"),
    })?;
    Ok((person, key))
}

/// The stored key of one person.
pub(crate) fn find_key(tx: &mut dyn Tx, person: &str) -> Result<Option<PersonKey>, StoreError> {
    let rows = tx.query(
        "SELECT person_id, key FROM person_keys WHERE person_id = $1",
        &[Value::text(person)],
    )?;
    rows.first()
        .map(|row| key_row(row).map(|(_, key)| key))
        .transpose()
}

/// The keys a write seals with: those known so far and those it made.
pub(crate) struct Keys {
    known: FxHashMap<String, PersonKey>,
    /// Whether `known` holds every stored key (an import loads them all up front);
    /// otherwise a key not known yet is looked up before one is made.
    complete: bool,
    /// Rows of the keys made by this write, not written yet.
    pub made: Vec<Row>,
}

impl Keys {
    pub(crate) fn looked_up_on_demand() -> Keys {
        Keys {
            known: FxHashMap::default(),
            complete: false,
            made: Vec::new(),
        }
    }

    pub(crate) fn all(tx: &mut dyn Tx) -> Result<Keys, StoreError> {
        Ok(Keys {
            known: load_all_keys(tx)?,
            complete: true,
            made: Vec::new(),
        })
    }

    /// The key of `person`: `None` for a person who was erased (nothing personal about them
    /// is recorded any more).
    fn key_of(
        &mut self,
        person: &str,
        state: &State,
        lookup: &mut dyn FnMut(&str) -> Result<Option<PersonKey>, StoreError>,
    ) -> Result<Option<PersonKey>, StoreError> {
        if state.erased.contains_key(person) {
            return Ok(None);
        }
        if let Some(key) = self.known.get(person) {
            return Ok(Some(key.clone()));
        }
        if !self.complete
            && let Some(key) = lookup(person)?
        {
            self.known.insert(person.to_string(), key.clone());
            return Ok(Some(key));
        }
        let key = new_key()?;
        self.made
            .push(vec![Value::text(person), Value::Text(key.to_hex())]);
        self.known.insert(person.to_string(), key.clone());
        Ok(Some(key))
    }
}

/// Why an event could not be sealed: a store failure, or a refusal naming the member.
pub(crate) enum SealError {
    Store(StoreError),
    Refused {
        member: Option<&'static str>,
        reason: String,
    },
}

impl From<StoreError> for SealError {
    fn from(e: StoreError) -> Self {
        SealError::Store(e)
    }
}

/// Takes the personal values out of a canonical payload: the chained payload and the rows
/// of `personal_values` (for event `seq`), or `None` when it holds nothing personal.
pub(crate) fn seal_payload(
    kind: &str,
    event_id: &str,
    seq: i64,
    canonical: &str,
    state: &State,
    keys: &mut Keys,
    lookup: &mut dyn FnMut(&str) -> Result<Option<PersonKey>, StoreError>,
) -> Result<Option<(String, Vec<Row>)>, SealError> {
    if !personal::may_hold_personal(kind, canonical) {
        return Ok(None);
    }
    let mut failure: Option<StoreError> = None;
    let sealed = personal::seal_canonical(
        kind,
        event_id,
        canonical,
        &mut |contribution| {
            state
                .contributions
                .get(contribution)
                .map(|c| c.record.person_id.clone())
        },
        &mut |person| match keys.key_of(person, state, lookup) {
            Ok(key) => key,
            Err(e) => {
                failure.get_or_insert(e);
                // Any key: the failure is reported instead of the payload.
                Some(PersonKey([0; 32]))
            }
        },
    );
    if let Some(e) = failure {
        return Err(SealError::Store(e));
    }
    let sealed = match sealed {
        Ok(Some(sealed)) => sealed,
        Ok(None) => return Ok(None),
        Err(e) => {
            let member = match &e {
                PersonalError::NotText { member, .. }
                | PersonalError::NoSubject { member, .. }
                | PersonalError::Erased { member, .. } => Some(*member),
                _ => None,
            };
            return Err(SealError::Refused {
                member,
                reason: e.to_string(),
            });
        }
    };
    let rows = sealed
        .values
        .into_iter()
        .map(|v| personal_row(seq, v.member, &v.subject, v.value, v.cycle_id))
        .collect();
    Ok(Some((sealed.canonical, rows)))
}

fn personal_row(
    seq: i64,
    member: &str,
    subject: &str,
    value: String,
    cycle_id: Option<String>,
) -> Row {
    vec![
        Value::Int(seq),
        Value::text(member),
        Value::text(subject),
        Value::Text(value),
        cycle_id.map_or(Value::Null, Value::Text),
    ]
}

pub(crate) fn corrupt_value(seq: i64) -> StoreError {
    StoreError::Corrupt {
        table: "personal_values",
        reason: format!("a value of event {seq} is not text"),
    }
}

/// The personal values (with their subjects' keys) of the events after `after` up to
/// `upto`, by sequence number: what an export carries beside each event.
pub(crate) fn entries_between(
    tx: &mut dyn Tx,
    after: i64,
    upto: i64,
) -> Result<BTreeMap<i64, BTreeMap<String, PersonalEntry>>, StoreError> {
    let mut entries: BTreeMap<i64, BTreeMap<String, PersonalEntry>> = BTreeMap::new();
    tx.for_each_row(
        "SELECT v.seq, v.member, v.subject, v.value, k.key FROM personal_values v \
         LEFT JOIN person_keys k ON k.person_id = v.subject \
         WHERE v.seq > $1 AND v.seq <= $2",
        &[Value::Int(after), Value::Int(upto)],
        &mut |row| {
            let r = Reader::new("personal_values", &row);
            let seq = r.int(0)?;
            let subject = r.text(2)?;
            let key = r.opt_text(4)?.ok_or_else(|| StoreError::Corrupt {
                table: "personal_values",
                reason: format!(
                    "event {seq} keeps a value about {subject}, whose key is gone; run `valuetree verify`"
                ),
            })?;
            entries.entry(seq).or_default().insert(
                r.text(1)?,
                PersonalEntry {
                    key,
                    subject,
                    value: r.text(3)?,
                },
            );
            Ok(())
        },
    )?;
    Ok(entries)
}

/// The payload of a stored event as it reads: its commitments opened with the values it
/// carries (those erased read `[erased]`).
pub fn opened_payload(event: &StoredEvent) -> Result<String, StoreError> {
    personal::open_canonical(
        &event.kind,
        &event.event_id,
        &event.payload,
        &mut |member| event.personal.get(member).map(|e| e.value.clone()),
    )
    .map_err(|e| StoreError::Corrupt {
        table: "events",
        reason: format!("event {}: {e}", event.seq),
    })
}

/// What checking the personal values found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonalCheck {
    /// Values kept, each checked against its commitment.
    pub values: u64,
    /// The first value that does not hold, and why.
    pub failure: Option<(i64, String)>,
}

/// Recomputes the commitment of every kept value under its subject's key and compares it
/// with the one its event's chained payload holds.
pub(crate) fn check_values(tx: &mut dyn Tx) -> Result<PersonalCheck, StoreError> {
    let mut check = PersonalCheck::default();
    let mut unpacked = String::with_capacity(1024);
    tx.for_each_row(
        "SELECT v.seq, v.member, v.subject, v.value, k.key, e.event_id, e.kind, e.payload \
         FROM personal_values v \
         LEFT JOIN person_keys k ON k.person_id = v.subject \
         LEFT JOIN events e ON e.seq = v.seq \
         ORDER BY v.seq, v.member",
        &[],
        &mut |row| {
            if check.failure.is_some() {
                return Ok(());
            }
            let r = Reader::new("personal_values", &row);
            let seq = r.int(0)?;
            let member = r.text(1)?;
            let subject = r.text(2)?;
            let fail = |reason: String| Some((seq, format!("event {seq}: {reason}")));
            let Some(kind) = r.opt_text(6)? else {
                check.failure = fail(format!(
                    "a personal value (`{member}`) is kept for an event the ledger does not hold"
                ));
                return Ok(());
            };
            let Some(key) = r.opt_text(4)?.as_deref().and_then(PersonKey::from_hex) else {
                check.failure = fail(format!(
                    "its `{member}` is kept but the key of {subject} is gone (or damaged)"
                ));
                return Ok(());
            };
            let event_id = r
                .opt_text(5)?
                .unwrap_or_else(|| chain::generated_event_id(seq));
            unpacked.clear();
            if packed::unpack_into(&r.text(7)?, &mut unpacked).is_err() {
                check.failure = fail("its payload cannot be unpacked".into());
                return Ok(());
            }
            let declared = personal::personal_members(&kind)
                .iter()
                .any(|p| p.member == member);
            let expected = personal::commit(&key, &event_id, &member, &r.text(3)?);
            match personal::commitment_in(&unpacked, &member) {
                Some(found) if declared && found == expected => check.values += 1,
                Some(_) if declared => {
                    check.failure = fail(format!(
                        "its `{member}` does not match the commitment in its payload (the value was changed)"
                    ));
                }
                _ => {
                    check.failure = fail(format!(
                        "a value is kept for `{member}`, which its payload does not commit to"
                    ));
                }
            }
            Ok(())
        },
    )?;
    Ok(check)
}

/// The keys an imported ledger file brings: each person's must be one key throughout, and
/// the one the database holds if it holds one.
#[derive(Default)]
pub(crate) struct ImportedKeys {
    seen: BTreeMap<String, String>,
    /// People whose key the database did not hold.
    new: Vec<String>,
}

impl ImportedKeys {
    pub(crate) fn new_rows(&self) -> Vec<Row> {
        self.new
            .iter()
            .filter_map(|person| {
                let key = self.seen.get(person)?;
                Some(vec![Value::text(person), Value::text(key)])
            })
            .collect()
    }
}

/// Checks the personal values an imported event carries: each member is one its payload
/// commits to, each value matches its commitment under the key given, and each person's
/// key is the same throughout (and the stored one). The error names the member.
pub(crate) fn check_entries(
    event: &StoredEvent,
    keys: &mut ImportedKeys,
    tx: &mut dyn Tx,
) -> Result<(), (String, String)> {
    for (member, entry) in &event.personal {
        let fail = |reason: String| Err((member.clone(), reason));
        let Some(key) = PersonKey::from_hex(&entry.key) else {
            return fail("the key is not 64 hex digits".into());
        };
        let Some(commitment) = personal::commitment_in(&event.payload, member) else {
            return fail(format!(
                "the payload of event {} holds no commitment for `{member}`",
                event.event_id
            ));
        };
        if personal::commit(&key, &event.event_id, member, &entry.value) != commitment {
            return fail(format!(
                "the value of `{member}` does not match its commitment in event {} (the value or the key was changed)",
                event.event_id
            ));
        }
        let key_hex = key.to_hex();
        match keys.seen.get(&entry.subject) {
            Some(seen) if *seen != key_hex => {
                return fail(format!(
                    "{} has another key here than on an earlier line",
                    entry.subject
                ));
            }
            Some(_) => {}
            None => {
                match find_key(tx, &entry.subject) {
                    Ok(Some(stored)) if stored.to_hex() != key_hex => {
                        return fail(format!(
                            "{} has another key in this database than in the file",
                            entry.subject
                        ));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => keys.new.push(entry.subject.clone()),
                    Err(e) => return fail(e.to_string()),
                }
                keys.seen.insert(entry.subject.clone(), key_hex);
            }
        }
    }
    Ok(())
}

/// The `personal_values` rows of an imported event.
pub(crate) fn entry_rows(event: &StoredEvent) -> Vec<Row> {
    let cycle_id = if event.personal.is_empty() {
        None
    } else {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&event.payload)
            .ok()
            .and_then(|p| {
                p.get("cycle_id")
                    .and_then(|c| c.as_str())
                    .map(str::to_string)
            })
    };
    event
        .personal
        .iter()
        .map(|(member, entry)| {
            personal_row(
                event.seq,
                member,
                &entry.subject,
                entry.value.clone(),
                cycle_id.clone(),
            )
        })
        .collect()
}

/// The projection columns that hold personal texts, with the column naming whom each is
/// about (as `valuetree_core::personal::personal_members` declares it for the events they
/// come from). Erasing a person sets theirs to `[erased]`, as a replay reads them once the
/// values are gone; an empty or absent text stays as it is (it was never committed).
const PERSONAL_COLUMNS: &[(&str, &[&str], &str)] = &[
    ("people", &["name", "email"], "person_id"),
    (
        "contributions",
        &["description", "evidence", "retraction_reason"],
        "person_id",
    ),
    ("handovers", &["note"], "coalesce(from_lead_id, to_lead_id)"),
    ("join_requests", &["message"], "person_id"),
    ("goals", &["title"], "person_id"),
    ("reviewers", &["reason"], "ratee_id"),
    ("self_reviews", &["text"], "person_id"),
    ("behaviour_assessments", &["evidence"], "person_id"),
    ("ratings", &["comment"], "ratee_id"),
    ("score_overrides", &["reason"], "person_id"),
];

fn erased_sql(table: &str, columns: &[&str], condition: &str) -> String {
    let sets: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "{c} = CASE WHEN {c} IS NULL OR {c} = '' THEN {c} ELSE '{}' END",
                personal::ERASED
            )
        })
        .collect();
    let any: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "({c} IS NOT NULL AND {c} <> '' AND {c} <> '{}')",
                personal::ERASED
            )
        })
        .collect();
    format!(
        "UPDATE {table} SET {} WHERE {condition} AND ({})",
        sets.join(", "),
        any.join(" OR ")
    )
}

/// What an erasure removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Erasure {
    /// The `person_erased` event.
    pub seq: Option<i64>,
    pub head: Option<Head>,
    /// Personal values deleted (each leaves its commitment in the chain).
    pub values: u64,
    /// Projection rows whose texts now read `[erased]`.
    pub rows: u64,
    /// Sign-in accounts of the person deleted (with their sessions and tokens).
    pub accounts: u64,
    /// How the database files were cleaned of the deleted bytes.
    pub files: String,
}

impl Store {
    /// Erases a person's personal data: records `event` (a `person_erased`, checked like any
    /// event: the person exists and was not erased before), and in the same transaction
    /// deletes their key and every value committed under it, sets the personal texts about
    /// them in the tables to `[erased]`, and deletes their sign-in accounts. Then the
    /// database files are cleaned of the deleted bytes (SQLite: written over with zeros and
    /// the write-ahead log emptied; PostgreSQL: `VACUUM FULL` of the tables touched).
    pub fn erase_person(&mut self, actor: &str, event: Event) -> Result<Erasure, StoreError> {
        self.erase_with(actor, event, |tx, events, erasure| {
            for event in events {
                if let Event::PersonErased { person_id, .. } = event {
                    erase_in(tx, person_id, erasure)?;
                }
            }
            Ok(())
        })
    }

    /// Records `event` and, in the same transaction, runs `erase` (which deletes values
    /// and erases texts, counting them); then cleans the files. SQLite zeroes what is
    /// deleted or overwritten meanwhile (`secure_delete`).
    fn erase_with(
        &mut self,
        actor: &str,
        event: Event,
        erase: impl FnOnce(&mut dyn Tx, &[Event], &mut Erasure) -> Result<(), StoreError>,
    ) -> Result<Erasure, StoreError> {
        if let crate::Connection::Sqlite(conn) = &mut self.connection {
            conn.pragma_update(None, "secure_delete", true)?;
        }
        let mut erasure = Erasure::default();
        let result = self.append_then(
            actor,
            &Preload::None,
            |_| Ok::<_, StoreError>(vec![(event, None)]),
            |tx, events| erase(tx, events, &mut erasure),
        );
        // The cached master data holds texts the tables no longer do.
        self.cache = None;
        let summary = match result {
            Ok(summary) => summary,
            Err(e) => {
                if let crate::Connection::Sqlite(conn) = &mut self.connection {
                    let _ = conn.pragma_update(None, "secure_delete", false);
                }
                return Err(e);
            }
        };
        erasure.seq = summary.head.as_ref().map(|h| h.seq);
        erasure.head = summary.head;
        erasure.files = self.clean_files()?;
        Ok(erasure)
    }

    /// Removes deleted bytes from the database files after an erasure.
    fn clean_files(&mut self) -> Result<String, StoreError> {
        match &mut self.connection {
            crate::Connection::Sqlite(conn) => {
                conn.pragma_update(None, "secure_delete", false)?;
                // The log holds the pages as they were before: copy the new ones into the
                // file and empty it.
                let busy: i64 =
                    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
                Ok(if busy == 0 {
                    "SQLite: deleted content zeroed (secure_delete); write-ahead log checkpointed and emptied".into()
                } else {
                    "SQLite: deleted content zeroed (secure_delete); the write-ahead log could not be emptied while other connections read (it is at the next checkpoint)".into()
                })
            }
            crate::Connection::Postgres(client) => {
                let mut tables: Vec<&str> = vec![
                    "personal_values",
                    "person_keys",
                    "accounts",
                    "sessions",
                    "api_tokens",
                    "audit_log",
                ];
                tables.extend(PERSONAL_COLUMNS.iter().map(|(t, _, _)| *t));
                client.batch_execute(&format!("VACUUM FULL {}", tables.join(", ")))?;
                Ok(format!("PostgreSQL: VACUUM FULL of {}", tables.join(", ")))
            }
        }
    }
}

/// Deletes `person`'s key and values, erases their texts in the tables and deletes their
/// accounts (inside the erasure's transaction).
fn erase_in(tx: &mut dyn Tx, person: &str, erasure: &mut Erasure) -> Result<(), StoreError> {
    let who = [Value::text(person)];
    erasure.values += tx.execute("DELETE FROM personal_values WHERE subject = $1", &who)?;
    tx.execute("DELETE FROM person_keys WHERE person_id = $1", &who)?;
    for (table, columns, whom) in PERSONAL_COLUMNS {
        erasure.rows += tx.execute(&erased_sql(table, columns, &format!("{whom} = $1")), &who)?;
    }
    // Sign-in names are often e-mail addresses: the accounts go, and the account audit
    // log names the person by their id from now on.
    let usernames: Vec<String> = tx
        .query("SELECT username FROM accounts WHERE person_id = $1", &who)?
        .iter()
        .filter_map(|row| match row.first() {
            Some(Value::Text(name)) => Some(name.clone()),
            _ => None,
        })
        .collect();
    for username in &usernames {
        let name = [Value::text(username)];
        tx.execute("DELETE FROM sessions WHERE username = $1", &name)?;
        tx.execute("DELETE FROM api_tokens WHERE username = $1", &name)?;
        let renamed = [Value::text(person), Value::text(username)];
        tx.execute("UPDATE audit_log SET actor = $1 WHERE actor = $2", &renamed)?;
        tx.execute(
            "UPDATE audit_log SET subject = $1 WHERE subject = $2",
            &renamed,
        )?;
        tx.execute(
            "UPDATE audit_log SET detail = '' WHERE subject = $1",
            &[Value::text(person)],
        )?;
    }
    erasure.accounts += tx.execute("DELETE FROM accounts WHERE person_id = $1", &who)?;
    Ok(())
}

/// What `valuetree upgrade` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Upgrade {
    /// The head of the ledger before (`None`: it was empty).
    pub old_head: Option<Head>,
    pub new_head: Option<Head>,
    pub events: u64,
    /// Personal values taken out of the chained payloads.
    pub values: u64,
}

/// Where the re-encoded events wait while the old ones are still in the table.
const UPGRADE_OFFSET: i64 = 1 << 40;

impl Store {
    /// The form of the stored ledger ([`OLD_FORM`] or [`CURRENT_FORM`]).
    pub fn ledger_form(&mut self) -> Result<i64, StoreError> {
        let mut tx = self.begin(false)?;
        let rows = tx.query("SELECT form FROM ledger_form", &[])?;
        match rows.first().map(|row| &row[0]) {
            Some(Value::Int(form)) => Ok(*form),
            _ => Err(StoreError::Corrupt {
                table: "ledger_form",
                reason: "it holds no form".into(),
            }),
        }
    }

    /// Re-encodes a ledger of the old form: a new chain whose first event
    /// (`ledger_upgraded`) records the old head, then every old event in order, its
    /// personal values replaced by commitments under fresh per-person keys, its envelope
    /// otherwise as it was (an explicit event id kept; a generated one follows the event's
    /// new position). One transaction; the projections are recomputed after it.
    pub fn upgrade(&mut self, actor: &str) -> Result<Upgrade, StoreError> {
        if self.ledger_form()? != OLD_FORM {
            return Err(StoreError::Corrupt {
                table: "ledger_form",
                reason: "the ledger is already in the current form; nothing to upgrade".into(),
            });
        }
        self.cache = None;
        let today = self.clock.today();
        let recorded = valuetree_core::clock::format_recorded(self.clock.now());
        let mut tx = self.begin(true)?;
        let old_head = head_of(tx.as_mut())?;
        let mut upgrade = Upgrade {
            old_head: old_head.clone(),
            ..Upgrade::default()
        };
        if let Some(old) = &old_head {
            let mut state = State::default();
            let mut keys = Keys::all(tx.as_mut())?;
            let mut sealing = chain::Sealing::new(None);
            let first = Event::LedgerUpgraded {
                old_hash: old.hash.clone(),
                old_seq: old.seq,
                upgraded_on: today,
            };
            state.apply(&first).map_err(|r| StoreError::Replay {
                seq: 0,
                reason: r.reason,
            })?;
            let payload = first.canonical_payload();
            let (seq, hash) = sealing.seal(chain::NewEnvelope {
                actor,
                effective: today,
                event_id: None,
                kind: first.kind(),
                payload: &payload,
                recorded: &recorded,
            });
            let mut rows = vec![vec![
                Value::Int(seq + UPGRADE_OFFSET),
                Value::Null,
                Value::text(first.kind()),
                Value::Text(payload),
                Value::Text(valuetree_core::date_text(today)),
                Value::text(&recorded),
                Value::text(actor),
                Value::Text(hash),
            ]];
            let mut personal_rows = Vec::new();
            let mut reader = EventReader::new();
            let mut after = 0;
            while after < old.seq {
                let upto = (after + EVENT_WINDOW).min(old.seq);
                let old_rows = tx.query(
                    &format!(
                        "SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq"
                    ),
                    &[Value::Int(after), Value::Int(upto)],
                )?;
                // Read: the old rows go before the new ones come (their explicit ids are
                // unique in the table).
                tx.execute(
                    "DELETE FROM events WHERE seq > $1 AND seq <= $2",
                    &[Value::Int(after), Value::Int(upto)],
                )?;
                for row in old_rows {
                    let stored = reader.read(row)?;
                    let event = Event::from_parts(&stored.kind, &stored.payload).map_err(|e| {
                        StoreError::Replay {
                            seq: stored.seq,
                            reason: e.to_string(),
                        }
                    })?;
                    state.apply(&event).map_err(|r| StoreError::Replay {
                        seq: stored.seq,
                        reason: format!("{}: {}", r.field, r.reason),
                    })?;
                    state.take_changes();
                    let given = chain::generated_id_seq(&stored.event_id)
                        .is_none()
                        .then_some(stored.event_id.as_str());
                    let new_seq = sealing.head().map_or(1, |(s, _)| s + 1);
                    let id = sealing.next_event_id(given);
                    let sealed = match seal_payload(
                        &stored.kind,
                        &id,
                        new_seq,
                        &stored.payload,
                        &state,
                        &mut keys,
                        &mut |_| Ok(None),
                    ) {
                        Ok(sealed) => sealed,
                        Err(SealError::Store(e)) => return Err(e),
                        Err(SealError::Refused { reason, .. }) => {
                            return Err(StoreError::Replay {
                                seq: stored.seq,
                                reason,
                            });
                        }
                    };
                    let payload = match sealed {
                        Some((payload, values)) => {
                            upgrade.values += values.len() as u64;
                            personal_rows.extend(values);
                            payload
                        }
                        None => stored.payload.clone(),
                    };
                    let (seq, hash) = sealing.seal(chain::NewEnvelope {
                        actor: &stored.actor,
                        effective: stored.effective,
                        event_id: given,
                        kind: &stored.kind,
                        payload: &payload,
                        recorded: &stored.recorded,
                    });
                    rows.push(vec![
                        Value::Int(seq + UPGRADE_OFFSET),
                        super::stored_event_id(given.unwrap_or_default(), seq),
                        Value::Text(stored.kind),
                        Value::Text(packed::pack(&payload).unwrap_or(payload)),
                        Value::Text(valuetree_core::date_text(stored.effective)),
                        Value::Text(stored.recorded),
                        Value::Text(stored.actor),
                        Value::Text(hash),
                    ]);
                }
                tx.write_rows(&EVENTS, &rows, false)?;
                rows.clear();
                if !personal_rows.is_empty() {
                    tx.write_rows(&rows::PERSONAL_VALUES, &personal_rows, false)?;
                    personal_rows.clear();
                }
                after = upto;
            }
            if !keys.made.is_empty() {
                tx.write_rows(&rows::PERSON_KEYS, &keys.made, false)?;
            }
            tx.execute(
                "UPDATE events SET seq = seq - $1 WHERE seq > $1",
                &[Value::Int(UPGRADE_OFFSET)],
            )?;
            upgrade.events = u64::try_from(old.seq + 1).unwrap_or(0);
            upgrade.new_head = sealing.head().map(|(seq, hash)| Head {
                seq,
                hash: hash.to_string(),
            });
        }
        tx.execute(
            &format!("UPDATE ledger_form SET form = {}", CURRENT_FORM),
            &[],
        )?;
        tx.commit()?;
        self.rebuild()?;
        Ok(upgrade)
    }
}

/// A kind of free text the retention policy erases by age (docs/privacy.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionGroup {
    /// Ratings' comments, after their cycle ends.
    RatingComments,
    /// Self-review texts, behaviour evidence, goal titles, reviewer and override reasons,
    /// after their cycle ends.
    ReviewTexts,
    /// Contributions' descriptions, evidence and retraction reasons, after the person left.
    ContributionTexts,
    /// Hand-over notes, after the hand-over.
    HandoverNotes,
    /// Join requests' messages, after the request.
    JoinMessages,
}

/// The texts of one group older than `cutoff` (their anchor on or before it) are erased.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionRule {
    pub group: RetentionGroup,
    pub cutoff: NaiveDate,
}

/// How many values one rule erases (or would).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionCount {
    pub rule: RetentionRule,
    pub values: u64,
}

const CYCLES_ENDED: &str = "cycle_id IN (SELECT cycle_id FROM cycles WHERE ends_on <= $1)";

impl RetentionGroup {
    pub fn from_name(name: &str) -> Option<RetentionGroup> {
        Some(match name {
            "rating_comments" => RetentionGroup::RatingComments,
            "review_texts" => RetentionGroup::ReviewTexts,
            "contribution_texts" => RetentionGroup::ContributionTexts,
            "handover_notes" => RetentionGroup::HandoverNotes,
            "join_messages" => RetentionGroup::JoinMessages,
            _ => return None,
        })
    }

    /// The event kinds and members whose values the group holds.
    fn values(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            RetentionGroup::RatingComments => (&["rating_recorded"], &["comment"]),
            RetentionGroup::ReviewTexts => (
                &[
                    "goal_set",
                    "reviewer_added",
                    "reviewer_removed",
                    "self_review_linked",
                    "behaviour_assessed",
                    "score_overridden",
                ],
                &["title", "reason", "text", "evidence"],
            ),
            RetentionGroup::ContributionTexts => (
                &[
                    "contribution_recorded",
                    "contribution_retracted",
                    "contribution_unconfirmed",
                ],
                &["description", "evidence", "reason"],
            ),
            RetentionGroup::HandoverNotes => (&["node_handed_over"], &["note"]),
            RetentionGroup::JoinMessages => (&["join_requested"], &["message"]),
        }
    }

    /// Which of the group's values are older than the cutoff (`$1`).
    fn anchor(self) -> &'static str {
        match self {
            RetentionGroup::RatingComments | RetentionGroup::ReviewTexts => CYCLES_ENDED,
            RetentionGroup::ContributionTexts => {
                "subject IN (SELECT person_id FROM people WHERE left_on IS NOT NULL AND left_on <= $1)"
            }
            RetentionGroup::HandoverNotes | RetentionGroup::JoinMessages => {
                "seq IN (SELECT seq FROM events WHERE effective <= $1)"
            }
        }
    }

    /// The projection columns that hold the group's texts, and the rows whose texts come
    /// from the values the anchor selects.
    fn projections(self) -> &'static [(&'static str, &'static [&'static str], &'static str)] {
        match self {
            RetentionGroup::RatingComments => &[("ratings", &["comment"], CYCLES_ENDED)],
            RetentionGroup::ReviewTexts => &[
                ("goals", &["title"], CYCLES_ENDED),
                ("reviewers", &["reason"], CYCLES_ENDED),
                ("self_reviews", &["text"], CYCLES_ENDED),
                ("behaviour_assessments", &["evidence"], CYCLES_ENDED),
                ("score_overrides", &["reason"], CYCLES_ENDED),
            ],
            RetentionGroup::ContributionTexts => &[(
                "contributions",
                &["description", "evidence", "retraction_reason"],
                "person_id IN (SELECT person_id FROM people WHERE left_on IS NOT NULL AND left_on <= $1)",
            )],
            RetentionGroup::HandoverNotes => &[("handovers", &["note"], "date <= $1")],
            RetentionGroup::JoinMessages => {
                &[("join_requests", &["message"], "requested_on <= $1")]
            }
        }
    }

    fn values_sql(self, verb: &str) -> String {
        let (kinds, members) = self.values();
        let quoted = |names: &[&str]| {
            names
                .iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "{verb} personal_values WHERE member IN ({}) AND seq IN (SELECT seq FROM events WHERE kind IN ({})) AND {}",
            quoted(members),
            quoted(kinds),
            self.anchor()
        )
    }
}

fn cutoff_param(rule: &RetentionRule) -> [Value; 1] {
    [Value::Text(valuetree_core::date_text(rule.cutoff))]
}

/// How many values each rule selects.
fn count_retained(
    tx: &mut dyn Tx,
    rules: &[RetentionRule],
) -> Result<Vec<RetentionCount>, StoreError> {
    let mut counts = Vec::new();
    for rule in rules {
        let rows = tx.query(
            &rule.group.values_sql("SELECT count(*) FROM"),
            &cutoff_param(rule),
        )?;
        let values = match rows.first().map(|row| &row[0]) {
            Some(Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        counts.push(RetentionCount {
            rule: *rule,
            values,
        });
    }
    Ok(counts)
}

impl Store {
    /// What the retention rules would erase now: values per rule.
    pub fn retention_counts(
        &mut self,
        rules: &[RetentionRule],
    ) -> Result<Vec<RetentionCount>, StoreError> {
        let mut tx = self.begin(false)?;
        count_retained(tx.as_mut(), rules)
    }

    /// Applies the retention rules: records `event` (a `retention_applied` naming the count
    /// `expected`), and in the same transaction deletes the values the rules select (their
    /// commitments stay) and sets the texts they stood for in the tables to `[erased]`;
    /// then cleans the files as an erasure does. Refused if the count changed since it was
    /// read (run it again).
    pub fn apply_retention(
        &mut self,
        actor: &str,
        rules: &[RetentionRule],
        expected: u64,
        event: Event,
    ) -> Result<Erasure, StoreError> {
        self.erase_with(actor, event, |tx, _, erasure| {
                for rule in rules {
                    erasure.values += tx.execute(&rule.group.values_sql("DELETE FROM"), &cutoff_param(rule))?;
                    for (table, columns, rows) in rule.group.projections() {
                        erasure.rows += tx.execute(&erased_sql(table, columns, rows), &cutoff_param(rule))?;
                    }
                }
                if erasure.values != expected {
                    return Err(StoreError::Changed(format!(
                        "the retention run counted {expected} values to erase, but {} matched when it erased them (the ledger changed meanwhile); nothing was erased, run it again",
                        erasure.values
                    )));
                }
                Ok(())
        })
    }
}
