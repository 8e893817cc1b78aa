//! The hash chain.
//!
//! Each stored event is an envelope: `seq`, `event_id`, `kind`, `payload`, `effective`,
//! `recorded`, `actor`, `prev_hash`, `hash`. Its hash is the SHA-256 (lowercase hex) of the
//! canonical JSON of the envelope *without* the `hash` member (and without `personal`, the
//! personal values an export carries beside the envelope: the payload holds commitments to
//! them, see [`crate::personal`]). Canonical JSON here is RFC 8785
//! (JCS) restricted to what the ledger uses: objects with members sorted by key, no whitespace,
//! strings escaped as JSON requires (control characters as `\uXXXX` lowercase or the short
//! escapes), integers only (decimals are strings, see [`crate::Amount`]). Any JCS
//! implementation therefore reproduces the hash of an exported event.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event as it sits in the ledger. Field order here is the canonical (sorted) order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredEvent {
    pub actor: String,
    pub effective: NaiveDate,
    pub event_id: String,
    pub hash: String,
    pub kind: String,
    /// The payload, kept as its canonical JSON text so that hashing needs no re-encoding.
    #[serde(with = "raw_payload")]
    pub payload: String,
    /// The personal values the payload's commitments stand for, by member, with the key of
    /// the person each is about: carried beside the chained envelope (an export holds them,
    /// the hash does not cover them; see [`crate::personal`]). Empty for an event without
    /// personal values, or whose values were erased.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub personal: BTreeMap<String, PersonalEntry>,
    pub prev_hash: String,
    pub recorded: String,
    pub seq: i64,
}

/// One personal value of an event, as an export carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalEntry {
    /// The key of `subject`, 64 hex digits.
    pub key: String,
    pub subject: String,
    pub value: String,
}

impl StoredEvent {
    /// The canonical JSON of the envelope without `hash`: the bytes that are hashed.
    pub fn hashed_text(&self) -> String {
        self.write_envelope(None)
    }

    /// The canonical JSON of the whole envelope, with the personal values beside it: one
    /// line of a ledger export.
    pub fn export_line(&self) -> String {
        let mut line = self.write_envelope(Some(&self.hash));
        if !self.personal.is_empty() {
            let mut personal = String::with_capacity(256);
            personal.push_str(",\"personal\":{");
            for (i, (member, entry)) in self.personal.iter().enumerate() {
                if i > 0 {
                    personal.push(',');
                }
                push_json_string(&mut personal, member);
                personal.push_str(":{\"key\":");
                push_json_string(&mut personal, &entry.key);
                personal.push_str(",\"subject\":");
                push_json_string(&mut personal, &entry.subject);
                personal.push_str(",\"value\":");
                push_json_string(&mut personal, &entry.value);
                personal.push('}');
            }
            personal.push('}');
            // Canonical order: `personal` sorts between `payload` and `prev_hash`.
            if let Some(at) = line.rfind(",\"prev_hash\":") {
                line.insert_str(at, &personal);
            }
        }
        line
    }

    pub fn compute_hash(&self) -> String {
        hash_hex(self.hashed_text().as_bytes())
    }

    /// Whether `hash` matches the content (without allocating the hex of the digest).
    pub fn hash_matches(&self) -> bool {
        let digest = Sha256::digest(self.hashed_text().as_bytes());
        let mut hex_digest = [0u8; 64];
        write_hex(&digest, &mut hex_digest);
        self.hash.as_bytes() == hex_digest
    }

    fn write_envelope(&self, hash: Option<&str>) -> String {
        let mut effective = String::with_capacity(10);
        push_date(&mut effective, self.effective);
        let mut out = String::with_capacity(256 + self.payload.len());
        EnvelopeRef {
            actor: &self.actor,
            effective: &effective,
            event_id: &self.event_id,
            kind: &self.kind,
            payload: &self.payload,
            prev_hash: &self.prev_hash,
            recorded: &self.recorded,
            seq: self.seq,
        }
        .write(&mut out, hash);
        out
    }
}

/// The fields of an envelope, borrowed: what `verify` reads from a database row, so that
/// checking a hash allocates nothing.
#[derive(Clone, Copy, Debug)]
pub struct EnvelopeRef<'a> {
    pub actor: &'a str,
    /// The date as stored (`YYYY-MM-DD`); hashed as it is, so a reformatted date is a change.
    pub effective: &'a str,
    pub event_id: &'a str,
    pub kind: &'a str,
    /// Canonical JSON, or its packed storage form ([`crate::packed`]).
    pub payload: &'a str,
    pub prev_hash: &'a str,
    pub recorded: &'a str,
    pub seq: i64,
}

impl EnvelopeRef<'_> {
    fn write(&self, out: &mut String, hash: Option<&str>) {
        out.push_str("{\"actor\":");
        push_json_string(out, self.actor);
        out.push_str(",\"effective\":");
        push_json_string(out, self.effective);
        out.push_str(",\"event_id\":");
        push_json_string(out, self.event_id);
        if let Some(hash) = hash {
            out.push_str(",\"hash\":");
            push_json_string(out, hash);
        }
        out.push_str(",\"kind\":");
        push_json_string(out, self.kind);
        out.push_str(",\"payload\":");
        // A payload as the events table stores it may be packed; the canonical text is
        // hashed. One that cannot be unpacked is hashed as stored: it fails the check.
        if crate::packed::unpack_into(self.payload, out).is_err() {
            out.push_str(self.payload);
        }
        out.push_str(",\"prev_hash\":");
        push_json_string(out, self.prev_hash);
        out.push_str(",\"recorded\":");
        push_json_string(out, self.recorded);
        out.push_str(",\"seq\":");
        crate::push_integer(out, self.seq);
        out.push('}');
    }

    /// Whether `hash` is the SHA-256 of this envelope. `buffer` is scratch space, reused.
    pub fn hash_matches(&self, hash: &str, buffer: &mut String) -> bool {
        buffer.clear();
        self.write(buffer, None);
        let mut hex_digest = [0u8; 64];
        write_hex(&Sha256::digest(buffer.as_bytes()), &mut hex_digest);
        hash.as_bytes() == hex_digest
    }
}

/// Why one link of the chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error(
        "event {seq}: expected sequence number {expected} (an event was deleted, inserted or reordered)"
    )]
    Gap { seq: i64, expected: i64 },
    #[error(
        "event {seq}: its prev_hash does not match the hash of event {previous} (an event before it was changed, deleted, inserted or reordered)"
    )]
    BrokenLink { seq: i64, previous: i64 },
    #[error(
        "event {seq}: its content does not match its hash (the event was edited, or the hash forged)"
    )]
    HashMismatch { seq: i64 },
    #[error("event {seq}: its payload is not canonical JSON for a `{kind}` event: {reason}")]
    BadPayload {
        seq: i64,
        kind: String,
        reason: String,
    },
}

impl ChainError {
    pub fn seq(&self) -> i64 {
        match self {
            ChainError::Gap { seq, .. }
            | ChainError::BrokenLink { seq, .. }
            | ChainError::HashMismatch { seq }
            | ChainError::BadPayload { seq, .. } => *seq,
        }
    }
}

/// Checks one event against the one before it (`None` for the first event of the ledger).
/// The hash check does not depend on the previous event, so callers may run it in parallel
/// with [`check_hash`] and only the cheap link check in order.
pub fn check_link(previous: Option<(i64, &str)>, event: &StoredEvent) -> Result<(), ChainError> {
    let (expected_seq, expected_prev) = match previous {
        None => (1, GENESIS_HASH),
        Some((seq, hash)) => (seq + 1, hash),
    };
    if event.seq != expected_seq {
        return Err(ChainError::Gap {
            seq: event.seq,
            expected: expected_seq,
        });
    }
    if event.prev_hash != expected_prev {
        return Err(ChainError::BrokenLink {
            seq: event.seq,
            previous: expected_seq - 1,
        });
    }
    Ok(())
}

pub fn check_hash(event: &StoredEvent) -> Result<(), ChainError> {
    if !event.hash_matches() {
        return Err(ChainError::HashMismatch { seq: event.seq });
    }
    Ok(())
}

/// Seals a new event onto the chain: fills `seq`, `prev_hash` and `hash`.
pub fn seal(mut event: StoredEvent, previous: Option<(i64, &str)>) -> StoredEvent {
    let (seq, prev) = match previous {
        None => (1, GENESIS_HASH.to_string()),
        Some((seq, hash)) => (seq + 1, hash.to_string()),
    };
    event.seq = seq;
    event.prev_hash = prev;
    if event.event_id.is_empty() {
        // A generated id is the chain position: unique within the ledger, reproducible, and
        // increasing, so the unique index on ids grows at its end. Clients that supply their
        // own ids (for idempotent retries) must not use the `ev-` prefix.
        event.event_id = generated_event_id(seq);
    }
    event.hash = event.compute_hash();
    event
}

/// The parts of a new event that its writer supplies; [`Sealing`] adds the rest.
#[derive(Clone, Copy, Debug)]
pub struct NewEnvelope<'a> {
    pub actor: &'a str,
    pub effective: NaiveDate,
    /// `None` or empty: a generated id (see [`seal`]).
    pub event_id: Option<&'a str>,
    pub kind: &'a str,
    pub payload: &'a str,
    pub recorded: &'a str,
}

/// Seals new events one after another exactly as [`seal`] does, from borrowed parts and with
/// reused scratch space: a bulk import seals millions, and building a [`StoredEvent`] per
/// event (owned copies of the actor, recorded time, kind, previous hash, generated id and
/// envelope text) was a third of its sealing cost.
#[derive(Debug, Default)]
pub struct Sealing {
    head: Option<(i64, String)>,
    envelope: String,
    event_id: String,
    effective: String,
}

impl Sealing {
    /// Continues the chain after `previous` (`None`: a new ledger).
    pub fn new(previous: Option<(i64, &str)>) -> Self {
        Sealing {
            head: previous.map(|(seq, hash)| (seq, hash.to_string())),
            ..Sealing::default()
        }
    }

    /// Seals the next event: its sequence number and hash (lowercase hex).
    pub fn seal(&mut self, new: NewEnvelope<'_>) -> (i64, String) {
        let (seq, prev_hash) = match &self.head {
            None => (1, GENESIS_HASH),
            Some((seq, hash)) => (seq + 1, hash.as_str()),
        };
        self.event_id.clear();
        let event_id = match new.event_id {
            Some(id) if !id.is_empty() => id,
            _ => {
                push_generated_event_id(&mut self.event_id, seq);
                self.event_id.as_str()
            }
        };
        self.effective.clear();
        push_date(&mut self.effective, new.effective);
        self.envelope.clear();
        EnvelopeRef {
            actor: new.actor,
            effective: &self.effective,
            event_id,
            kind: new.kind,
            payload: new.payload,
            prev_hash,
            recorded: new.recorded,
            seq,
        }
        .write(&mut self.envelope, None);
        let mut hex = [0u8; 64];
        write_hex(&Sha256::digest(self.envelope.as_bytes()), &mut hex);
        let hash = String::from(std::str::from_utf8(&hex).unwrap_or_default());
        match &mut self.head {
            Some((head_seq, head_hash)) => {
                *head_seq = seq;
                head_hash.clear();
                head_hash.push_str(&hash);
            }
            None => self.head = Some((seq, hash.clone())),
        }
        (seq, hash)
    }

    /// The id the next event will have: `given`, or the generated one of its position.
    pub fn next_event_id(&self, given: Option<&str>) -> String {
        match given {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => generated_event_id(self.head.as_ref().map_or(1, |(seq, _)| seq + 1)),
        }
    }

    /// The last event sealed (or the one the chain continues after).
    pub fn head(&self) -> Option<(i64, &str)> {
        self.head.as_ref().map(|(seq, hash)| (*seq, hash.as_str()))
    }
}

/// The id of an event whose writer gave none: `ev-` and its 12-digit sequence number.
pub fn generated_event_id(seq: i64) -> String {
    let mut out = String::with_capacity(15);
    push_generated_event_id(&mut out, seq);
    out
}

/// Appends [`generated_event_id`]`(seq)`.
pub fn push_generated_event_id(out: &mut String, seq: i64) {
    if !(0..1_000_000_000_000).contains(&seq) {
        let _ = write!(out, "ev-{seq:012}");
        return;
    }
    out.push_str("ev-");
    let mut digits = [b'0'; 12];
    let mut rest = seq;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    crate::push_ascii(out, &digits);
}

/// The sequence number an id of the generated form names (`ev-` and 12 digits), if it has
/// that form. Such ids are reserved: a client's own ids may not take it.
pub fn generated_id_seq(event_id: &str) -> Option<i64> {
    let digits = event_id.strip_prefix("ev-")?;
    if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn hash_hex(bytes: &[u8]) -> String {
    let mut out = [0u8; 64];
    write_hex(&Sha256::digest(bytes), &mut out);
    String::from(std::str::from_utf8(&out).unwrap_or_default())
}

/// Lowercase hex of a SHA-256 digest.
fn write_hex(digest: &[u8], out: &mut [u8; 64]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in digest.iter().take(32).enumerate() {
        out[2 * i] = DIGITS[(byte >> 4) as usize];
        out[2 * i + 1] = DIGITS[(byte & 0xf) as usize];
    }
}

/// `YYYY-MM-DD`, as chrono's `%Y-%m-%d` writes it for years 0–9999, without parsing a format.
fn push_date(out: &mut String, date: NaiveDate) {
    use chrono::Datelike;
    if (0..=9999).contains(&date.year()) {
        crate::push_date_text(out, date);
    } else {
        let _ = write!(out, "{}", date.format("%Y-%m-%d"));
    }
}

/// Canonical JSON (sorted members, no whitespace) of a JSON value.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, value);
    out
}

fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, member)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(out, key);
                out.push(':');
                write_canonical(out, member);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::String(text) => push_json_string(out, text),
        other => out.push_str(&other.to_string()),
    }
}

pub(crate) fn push_json_string(out: &mut String, text: &str) {
    // Every byte is looked at (no early exit) so that the check compiles to vector
    // instructions: `verify` runs it on seven fields of every event.
    let plain = !text.bytes().fold(false, |special, b| {
        special | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        // serde_json escapes exactly as RFC 8785 asks (short escapes, lowercase \u00xx).
        out.push_str(&Value::String(text.to_string()).to_string());
    }
}

/// Serializes the payload text as raw JSON and reads it back into canonical text.
mod raw_payload {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(payload: &str, serializer: S) -> Result<S::Ok, S::Error> {
        let value: serde_json::Value =
            serde_json::from_str(payload).map_err(serde::ser::Error::custom)?;
        serde::Serialize::serialize(&value, serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(super::canonical_json(&value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_generated_id_is_ev_and_twelve_digits() {
        for seq in [0, 1, 42, 999_999_999_999, 1_000_000_000_000, i64::MAX, -7] {
            assert_eq!(generated_event_id(seq), format!("ev-{seq:012}"));
        }
        assert_eq!(generated_event_id(12), "ev-000000000012");
    }

    fn event(payload: &str) -> StoredEvent {
        StoredEvent {
            actor: "hr".into(),
            effective: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap_or_default(),
            event_id: String::new(),
            hash: String::new(),
            kind: "person_left".into(),
            payload: payload.into(),
            personal: BTreeMap::new(),
            prev_hash: String::new(),
            recorded: "2024-01-03T00:00:00.000000Z".into(),
            seq: 0,
        }
    }

    fn build_chain(payloads: &[String]) -> Vec<StoredEvent> {
        let mut chain: Vec<StoredEvent> = Vec::new();
        for payload in payloads {
            let previous = chain.last().map(|e| (e.seq, e.hash.as_str()));
            let sealed = seal(event(payload), previous);
            chain.push(sealed);
        }
        chain
    }

    /// The index of the first event whose link or hash does not hold.
    fn first_bad(chain: &[StoredEvent]) -> Option<usize> {
        let mut previous: Option<(i64, &str)> = None;
        for (i, e) in chain.iter().enumerate() {
            if check_hash(e).is_err() || check_link(previous, e).is_err() {
                return Some(i);
            }
            previous = Some((e.seq, &e.hash));
        }
        None
    }

    #[test]
    fn export_line_is_canonical_and_hash_is_over_the_rest() {
        let e = seal(
            event(r#"{"left_on":"2024-01-02","person_id":"P\"1"}"#),
            None,
        );
        let line = e.export_line();
        let parsed: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        assert_eq!(canonical_json(&parsed), line);
        let mut without_hash = parsed.clone();
        if let Some(map) = without_hash.as_object_mut() {
            map.remove("hash");
        }
        assert_eq!(hash_hex(canonical_json(&without_hash).as_bytes()), e.hash);
        let back: StoredEvent = serde_json::from_str(&line).unwrap_or_else(|_| event(""));
        assert_eq!(back, e);
    }

    fn payloads() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec("[a-z\"\\\\\u{0}-\u{1f}é]{0,12}", 1..20).prop_map(|texts| {
            texts
                .into_iter()
                .map(|t| canonical_json(&serde_json::json!({ "person_id": t })))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn sealing_from_parts_gives_the_chain_that_seal_gives(
            p in payloads(),
            ids in prop::collection::vec(prop::option::of("[a-z0-9\"\\-]{0,8}"), 20),
            start in prop::option::of((1i64..1_000_000, "[0-9a-f]{64}")),
        ) {
            let mut sealing = Sealing::new(start.as_ref().map(|(seq, hash)| (*seq, hash.as_str())));
            let mut previous = start.clone();
            for (payload, id) in p.iter().zip(&ids) {
                let mut expected = event(payload);
                expected.event_id = id.clone().unwrap_or_default();
                let expected = seal(
                    expected,
                    previous.as_ref().map(|(seq, hash)| (*seq, hash.as_str())),
                );
                let (seq, hash) = sealing.seal(NewEnvelope {
                    actor: &expected.actor,
                    effective: expected.effective,
                    event_id: id.as_deref(),
                    kind: &expected.kind,
                    payload,
                    recorded: &expected.recorded,
                });
                prop_assert_eq!((seq, hash.as_str()), (expected.seq, expected.hash.as_str()));
                prop_assert_eq!(sealing.head(), Some((seq, hash.as_str())));
                previous = Some((seq, hash));
            }
        }

        #[test]
        fn an_untouched_chain_verifies(p in payloads()) {
            prop_assert_eq!(first_bad(&build_chain(&p)), None);
        }

        #[test]
        fn any_edit_is_found_at_the_edited_event(p in payloads(), at in any::<prop::sample::Index>(), field in 0..5usize) {
            let mut chain = build_chain(&p);
            let i = at.index(chain.len());
            let e = &mut chain[i];
            match field {
                0 => e.actor.push('x'),
                1 => e.payload = canonical_json(&serde_json::json!({"person_id": "forged"})),
                2 => e.effective = e.effective.succ_opt().unwrap_or_default(),
                3 => e.kind.push('x'),
                _ => e.recorded.push('x'),
            }
            if e.payload == p[i] && field == 1 { return Ok(()); }
            prop_assert_eq!(first_bad(&chain), Some(i));
        }

        #[test]
        fn deletion_insertion_and_reordering_are_found(p in payloads(), at in any::<prop::sample::Index>(), how in 0..3usize) {
            prop_assume!(p.len() >= 2);
            let mut chain = build_chain(&p);
            let i = at.index(chain.len() - 1);
            match how {
                0 => { chain.remove(i); }
                1 => { let copy = chain[i].clone(); chain.insert(i, copy); }
                _ => chain.swap(i, i + 1),
            }
            // A duplicated event is only out of place from its second copy on.
            let expected = if how == 1 { i + 1 } else { i };
            prop_assert_eq!(first_bad(&chain), Some(expected));
        }

        #[test]
        fn a_forged_hash_breaks_the_next_link(p in payloads(), at in any::<prop::sample::Index>()) {
            prop_assume!(p.len() >= 2);
            let mut chain = build_chain(&p);
            let i = at.index(chain.len() - 1);
            // Edit and re-hash event i: it is self-consistent, but event i+1 no longer links.
            chain[i].actor = "mallory".into();
            chain[i].hash = chain[i].compute_hash();
            prop_assert_eq!(first_bad(&chain), Some(i + 1));
        }
    }
}
