//! Personal data kept out of the hash chain: what makes erasure possible on a ledger that
//! must still verify (see `docs/privacy.md`).
//!
//! A ledger that hashes a person's name, e-mail and the free text written about them can
//! never forget them: erasing a value would break every hash after it. So each event kind
//! declares which members of its payload are personal ([`personal_members`]), and the
//! chained form of the payload holds, instead of each personal value, a *commitment* to it:
//!
//! ```text
//! "hmac-sha256:" + hex(HMAC-SHA-256(key, event_id ␟ member ␟ value))
//! ```
//!
//! under a random 256-bit key held per person — the person the value is *about* (its
//! [`Subject`]): a person's name and e-mail, the description of their contribution, the
//! comment of a rating of them, the reason of an override of their score. The values and the
//! keys live outside the chain; `verify` recomputes a commitment where the value is still
//! there. Erasing a person deletes their key and every value committed under it: the
//! commitments stay, so the chain still verifies, and without the key a commitment says
//! nothing about the value it stood for (not even whether two were equal: the event id and
//! the member are inside the MAC).
//!
//! Empty values are not committed (an empty description says nothing about anybody), and an
//! absent optional member stays absent.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use std::fmt::Write;

/// What a commitment starts with: the algorithm, so that a later one can sit beside it.
pub const COMMITMENT_PREFIX: &str = "hmac-sha256:";

/// Separates the parts of a committed message (it cannot occur in an id or a member name).
const SEPARATOR: char = '\u{1f}';

/// A person's key: 32 random bytes, made when their first personal value is recorded.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonKey(pub [u8; 32]);

impl std::fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A key never appears in a log or a panic message.
        f.write_str("PersonKey(…)")
    }
}

/// Whose key commits a personal member: the person the value is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The person another member of the payload names (`person_id`, `ratee_id`, …).
    Member(&'static str),
    /// The first of these members that is present (a hand-over's note is about the lead it
    /// is from, or the one it goes to when it is from nobody).
    FirstOf(&'static [&'static str]),
    /// The person who recorded the contribution the named member identifies (a retraction's
    /// reason is about the contributor; the payload names only the contribution).
    ContributorOf(&'static str),
}

/// A personal member of an event kind's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PersonalMember {
    pub member: &'static str,
    pub subject: Subject,
    /// `"member":"`, what a canonical payload holding a text value of it contains.
    needle: &'static str,
}

macro_rules! about {
    ($member:literal, $subject:expr $(,)?) => {
        PersonalMember {
            member: $member,
            subject: $subject,
            needle: concat!("\"", $member, "\":\""),
        }
    };
}

const PERSON: Subject = Subject::Member("person_id");

/// The personal members of each kind's payload (all at its top level). A kind not listed
/// holds none: ids, dates, numbers, statuses, and the organisation's own words (unit names,
/// node titles and descriptions, outcome descriptions, cycle names, policy texts).
pub fn personal_members(kind: &str) -> &'static [PersonalMember] {
    const PERSON_RECORD: &[PersonalMember] = &[about!("email", PERSON), about!("name", PERSON)];
    const CONTRIBUTION: &[PersonalMember] =
        &[about!("description", PERSON), about!("evidence", PERSON)];
    const CONTRIBUTOR_REASON: &[PersonalMember] =
        &[about!("reason", Subject::ContributorOf("contribution_id"))];
    const HANDOVER: &[PersonalMember] = &[about!(
        "note",
        Subject::FirstOf(&["from_lead_id", "to_lead_id"]),
    )];
    const JOIN: &[PersonalMember] = &[about!("message", PERSON)];
    const GOAL: &[PersonalMember] = &[about!("title", PERSON)];
    const REVIEWER: &[PersonalMember] = &[about!("reason", Subject::Member("ratee_id"))];
    const SELF_REVIEW: &[PersonalMember] = &[about!("text", PERSON)];
    const BEHAVIOUR: &[PersonalMember] = &[about!("evidence", PERSON)];
    const RATING: &[PersonalMember] = &[about!("comment", Subject::Member("ratee_id"))];
    const OVERRIDE: &[PersonalMember] = &[about!("reason", PERSON)];
    match kind {
        "person_hired" | "person_updated" => PERSON_RECORD,
        "contribution_recorded" => CONTRIBUTION,
        "contribution_retracted" | "contribution_unconfirmed" => CONTRIBUTOR_REASON,
        "node_handed_over" => HANDOVER,
        "join_requested" => JOIN,
        "goal_set" => GOAL,
        "reviewer_added" | "reviewer_removed" => REVIEWER,
        "self_review_linked" => SELF_REVIEW,
        "behaviour_assessed" => BEHAVIOUR,
        "rating_recorded" => RATING,
        "score_overridden" => OVERRIDE,
        _ => &[],
    }
}

/// The commitment to `value` of `member` in event `event_id`, under `key`.
pub fn commit(key: &PersonKey, event_id: &str, member: &str, value: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("HMAC takes a key of any length");
    let mut message = String::with_capacity(event_id.len() + member.len() + value.len() + 2);
    message.push_str(event_id);
    message.push(SEPARATOR);
    message.push_str(member);
    message.push(SEPARATOR);
    message.push_str(value);
    mac.update(message.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(COMMITMENT_PREFIX.len() + 64);
    out.push_str(COMMITMENT_PREFIX);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Whether `text` is a commitment (the chained form of a personal value).
pub fn is_commitment(text: &str) -> bool {
    text.strip_prefix(COMMITMENT_PREFIX)
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A personal value taken out of a payload: what the store keeps beside the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonalValue {
    pub member: &'static str,
    /// The person whose key committed it (and whose erasure deletes it).
    pub subject: String,
    pub value: String,
    /// The review cycle the payload belongs to, if it names one: what retention of review
    /// texts counts from.
    pub cycle_id: Option<String>,
}

/// Why a payload cannot be sealed or opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PersonalError {
    #[error("member `{member}` of a `{kind}` payload is personal but not text")]
    NotText { kind: String, member: &'static str },
    #[error("cannot tell whom member `{member}` of a `{kind}` payload is about")]
    NoSubject { kind: String, member: &'static str },
    #[error(
        "{person} was erased: nothing personal about them can be recorded any more (their `{member}`)"
    )]
    Erased {
        person: String,
        member: &'static str,
    },
    #[error("the payload of event {event_id} is not a JSON object")]
    NotAnObject { event_id: String },
}

/// Replaces each personal member of `payload` (an event of `kind`) by its commitment, and
/// returns the values taken out. `contributor_of` names the person who recorded a
/// contribution; `key_of` gives a person's key (making one for a person who has none yet),
/// or `None` for a person who was erased.
pub fn seal(
    kind: &str,
    event_id: &str,
    payload: &mut Map<String, Value>,
    contributor_of: &mut dyn FnMut(&str) -> Option<String>,
    key_of: &mut dyn FnMut(&str) -> Option<PersonKey>,
) -> Result<Vec<PersonalValue>, PersonalError> {
    let mut taken = Vec::new();
    let cycle_id = payload
        .get("cycle_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    for personal in personal_members(kind) {
        let value = match payload.get(personal.member) {
            None | Some(Value::Null) => continue,
            Some(Value::String(text)) if text.is_empty() => continue,
            Some(Value::String(text)) => text.clone(),
            Some(_) => {
                return Err(PersonalError::NotText {
                    kind: kind.to_string(),
                    member: personal.member,
                });
            }
        };
        let subject = subject_of(personal.subject, payload, contributor_of).ok_or_else(|| {
            PersonalError::NoSubject {
                kind: kind.to_string(),
                member: personal.member,
            }
        })?;
        let key = key_of(&subject).ok_or_else(|| PersonalError::Erased {
            person: subject.clone(),
            member: personal.member,
        })?;
        let commitment = commit(&key, event_id, personal.member, &value);
        payload.insert(personal.member.to_string(), Value::String(commitment));
        taken.push(PersonalValue {
            member: personal.member,
            subject,
            value,
            cycle_id: cycle_id.clone(),
        });
    }
    Ok(taken)
}

fn subject_of(
    subject: Subject,
    payload: &Map<String, Value>,
    contributor_of: &mut dyn FnMut(&str) -> Option<String>,
) -> Option<String> {
    let text = |member: &str| payload.get(member).and_then(Value::as_str);
    match subject {
        Subject::Member(member) => text(member).map(str::to_string),
        Subject::FirstOf(members) => members.iter().find_map(|m| text(m)).map(str::to_string),
        Subject::ContributorOf(member) => contributor_of(text(member)?),
    }
}

/// What an erased value reads as wherever the payload is shown or replayed.
pub const ERASED: &str = "[erased]";

/// Whether a canonical payload of `kind` may hold a personal value: the quick test that
/// lets the events without one (most of a bulk import) pass sealing by.
pub fn may_hold_personal(kind: &str, canonical: &str) -> bool {
    personal_members(kind).iter().any(|personal| {
        memchr::memmem::find_iter(canonical.as_bytes(), personal.needle.as_bytes())
            .any(|at| canonical.as_bytes().get(at + personal.needle.len()) != Some(&b'"'))
    })
}

/// A payload with its personal values replaced by their commitments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedPayload {
    /// The canonical JSON that the chain hashes.
    pub canonical: String,
    pub values: Vec<PersonalValue>,
}

/// [`seal`] on a canonical payload text: `None` when it holds nothing personal (it is then
/// chained as it is).
pub fn seal_canonical(
    kind: &str,
    event_id: &str,
    canonical: &str,
    contributor_of: &mut dyn FnMut(&str) -> Option<String>,
    key_of: &mut dyn FnMut(&str) -> Option<PersonKey>,
) -> Result<Option<SealedPayload>, PersonalError> {
    if !may_hold_personal(kind, canonical) {
        return Ok(None);
    }
    let mut payload = object_of(canonical, event_id)?;
    let values = seal(kind, event_id, &mut payload, contributor_of, key_of)?;
    if values.is_empty() {
        return Ok(None);
    }
    Ok(Some(SealedPayload {
        canonical: crate::chain::canonical_json(&Value::Object(payload)),
        values,
    }))
}

fn object_of(canonical: &str, event_id: &str) -> Result<Map<String, Value>, PersonalError> {
    match serde_json::from_str(canonical) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(PersonalError::NotAnObject {
            event_id: event_id.to_string(),
        }),
    }
}

/// Whether a payload of `kind` holds a personal value in plain text (a payload chained
/// before personal data left the chain), rather than only commitments.
pub fn holds_plain_personal(kind: &str, canonical: &str) -> bool {
    if !may_hold_personal(kind, canonical) {
        return false;
    }
    let Ok(payload) = serde_json::from_str::<Map<String, Value>>(canonical) else {
        return false;
    };
    personal_members(kind).iter().any(|personal| {
        matches!(payload.get(personal.member), Some(Value::String(text)) if !text.is_empty() && !is_commitment(text))
    })
}

/// Whether a chained payload of `kind` holds commitments to open.
pub fn holds_commitments(kind: &str, canonical: &str) -> bool {
    !personal_members(kind).is_empty()
        && memchr::memmem::find(canonical.as_bytes(), b"\"hmac-sha256:").is_some()
}

/// The payload as it reads: each commitment replaced by its value where `value_of` has it,
/// else by [`ERASED`]. Nothing is checked here (`verify` checks commitments); a payload
/// without commitments comes back as it is.
pub fn open_canonical(
    kind: &str,
    event_id: &str,
    canonical: &str,
    value_of: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<String, PersonalError> {
    if !holds_commitments(kind, canonical) {
        return Ok(canonical.to_string());
    }
    let mut payload = object_of(canonical, event_id)?;
    for personal in personal_members(kind) {
        if let Some(Value::String(text)) = payload.get(personal.member)
            && is_commitment(text)
        {
            let opened = value_of(personal.member).unwrap_or_else(|| ERASED.to_string());
            payload.insert(personal.member.to_string(), Value::String(opened));
        }
    }
    Ok(crate::chain::canonical_json(&Value::Object(payload)))
}

/// The commitment a chained payload holds for `member`, if it holds one.
pub fn commitment_in(canonical: &str, member: &str) -> Option<String> {
    match serde_json::from_str::<Map<String, Value>>(canonical) {
        Ok(payload) => match payload.get(member) {
            Some(Value::String(text)) if is_commitment(text) => Some(text.clone()),
            _ => None,
        },
        Err(_) => None,
    }
}

/// How many commitments a chained payload holds (what `verify` counts: those without a
/// value are the erased ones).
pub fn count_commitments(canonical: &str) -> usize {
    memchr::memmem::find_iter(canonical.as_bytes(), b"\"hmac-sha256:").count()
}

/// A person's key as the store keeps it (lowercase hex).
impl PersonKey {
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            let _ = write!(out, "{byte:02x}");
        }
        out
    }

    pub fn from_hex(text: &str) -> Option<PersonKey> {
        if text.len() != 64 {
            return None;
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(PersonKey(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn key(byte: u8) -> PersonKey {
        PersonKey([byte; 32])
    }

    fn object(json: &str) -> Map<String, Value> {
        match serde_json::from_str(json) {
            Ok(Value::Object(map)) => map,
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn a_commitment_depends_on_the_key_the_event_the_member_and_the_value() {
        let base = commit(&key(1), "E1", "name", "Ana Souza");
        assert!(is_commitment(&base), "{base}");
        for other in [
            commit(&key(2), "E1", "name", "Ana Souza"),
            commit(&key(1), "E2", "name", "Ana Souza"),
            commit(&key(1), "E1", "email", "Ana Souza"),
            commit(&key(1), "E1", "name", "Ana Sousa"),
        ] {
            assert_ne!(other, base);
        }
        assert_eq!(commit(&key(1), "E1", "name", "Ana Souza"), base);
        assert!(!is_commitment("Ana Souza"));
        assert!(!is_commitment("hmac-sha256:xyz"));
    }

    #[test]
    fn a_hire_keeps_ids_and_dates_and_commits_name_and_email_under_the_persons_key() {
        let mut payload = object(
            r#"{"email":"ana@shop.example","joined_on":"2023-03-01","name":"Ana Souza","person_id":"P02"}"#,
        );
        let original = payload.clone();
        let mut keys: HashMap<String, PersonKey> = HashMap::new();
        let taken = seal(
            "person_hired",
            "E7",
            &mut payload,
            &mut |_| None,
            &mut |p| Some(keys.entry(p.to_string()).or_insert_with(|| key(9)).clone()),
        )
        .expect("sealed");
        assert_eq!(
            taken
                .iter()
                .map(|v| (v.member, v.subject.as_str(), v.value.as_str()))
                .collect::<Vec<_>>(),
            vec![
                ("email", "P02", "ana@shop.example"),
                ("name", "P02", "Ana Souza")
            ]
        );
        assert_eq!(payload["person_id"], "P02");
        assert_eq!(payload["joined_on"], "2023-03-01");
        let chained = serde_json::to_string(&payload).expect("json");
        assert!(
            !chained.contains("Ana") && !chained.contains("shop.example"),
            "{chained}"
        );
        // Opened with the values: the original payload.
        let sealed = crate::chain::canonical_json(&Value::Object(payload));
        let values: HashMap<&str, String> =
            taken.iter().map(|v| (v.member, v.value.clone())).collect();
        let opened = open_canonical("person_hired", "E7", &sealed, &mut |m| {
            values.get(m).cloned()
        })
        .expect("opened");
        assert_eq!(
            opened,
            crate::chain::canonical_json(&Value::Object(original))
        );
        // Erased: the commitments stay in the chain, the payload reads [erased].
        let erased =
            object(&open_canonical("person_hired", "E7", &sealed, &mut |_| None).expect("opened"));
        assert_eq!(erased["name"], ERASED);
        assert_eq!(erased["email"], ERASED);
        // Each kept value matches its commitment under the key; a changed one does not.
        let name = commitment_in(&sealed, "name").expect("committed");
        assert_eq!(commit(&key(9), "E7", "name", "Ana Souza"), name);
        assert_ne!(commit(&key(9), "E7", "name", "Ana Souza!"), name);
    }

    #[test]
    fn each_personal_text_is_committed_under_the_person_it_is_about() {
        let cases = [
            (
                "rating_recorded",
                r#"{"comment":"great","rater_id":"P1","ratee_id":"P2"}"#,
                "P2",
            ),
            (
                "node_handed_over",
                r#"{"from_lead_id":"P3","note":"left","to_lead_id":"P4"}"#,
                "P3",
            ),
            (
                "node_handed_over",
                r#"{"note":"first lead","to_lead_id":"P4"}"#,
                "P4",
            ),
            (
                "contribution_retracted",
                r#"{"contribution_id":"C1","reason":"dup"}"#,
                "P5",
            ),
            (
                "score_overridden",
                r#"{"by":"P6","person_id":"P7","reason":"x"}"#,
                "P7",
            ),
            (
                "reviewer_added",
                r#"{"by":"P6","ratee_id":"P8","reason":"y","reviewer_id":"P9"}"#,
                "P8",
            ),
        ];
        for (kind, json, whom) in cases {
            let mut payload = object(json);
            let taken = seal(
                kind,
                "E1",
                &mut payload,
                &mut |c| (c == "C1").then(|| "P5".to_string()),
                &mut |_| Some(key(1)),
            )
            .expect("sealed");
            assert_eq!(taken.len(), 1, "{kind}");
            assert_eq!(taken[0].subject, whom, "{kind}");
        }
        // Whom a text is about must be known: a retraction of an unknown contribution is not
        // sealed under nobody's key.
        let mut payload = object(r#"{"contribution_id":"C9","reason":"dup"}"#);
        let error = seal(
            "contribution_retracted",
            "E1",
            &mut payload,
            &mut |_| None,
            &mut |_| Some(key(1)),
        );
        assert!(
            matches!(error, Err(PersonalError::NoSubject { .. })),
            "{error:?}"
        );
    }

    #[test]
    fn empty_and_absent_values_and_other_kinds_are_left_as_they_are() {
        let mut payload = object(r#"{"contribution_id":"C1","description":"","person_id":"P1"}"#);
        let before = payload.clone();
        let taken = seal(
            "contribution_recorded",
            "E1",
            &mut payload,
            &mut |_| None,
            &mut |_| Some(key(1)),
        )
        .expect("sealed");
        assert!(taken.is_empty());
        assert_eq!(payload, before);
        let mut outcome = object(r#"{"description":"Launched","node_id":"INI1","value":"100"}"#);
        let before = outcome.clone();
        seal(
            "outcome_recorded",
            "E1",
            &mut outcome,
            &mut |_| None,
            &mut |_| Some(key(1)),
        )
        .expect("sealed");
        assert_eq!(outcome, before);
    }

    proptest! {
        /// Any text survives sealing and opening, and the sealed payload holds none of it.
        #[test]
        fn seal_then_open_gives_back_the_payload(
            name in "\\PC{1,40}",
            email in proptest::option::of("[a-z]{1,10}@[a-z]{1,10}\\.example"),
            key_byte in any::<u8>(),
            event in "[A-Za-z0-9-]{1,20}",
        ) {
            let mut payload = Map::new();
            payload.insert("person_id".into(), Value::String("P1".into()));
            payload.insert("name".into(), Value::String(name.clone()));
            if let Some(email) = &email {
                payload.insert("email".into(), Value::String(email.clone()));
            }
            let original = payload.clone();
            let taken = seal("person_updated", &event, &mut payload, &mut |_| None, &mut |_| Some(key(key_byte)))
                .expect("sealed");
            prop_assert_eq!(taken.len(), 1 + usize::from(email.is_some()));
            for v in &taken {
                prop_assert!(is_commitment(payload[v.member].as_str().unwrap_or_default()));
            }
            let values: HashMap<&str, String> = taken.iter().map(|v| (v.member, v.value.clone())).collect();
            let sealed = crate::chain::canonical_json(&Value::Object(payload));
            for v in &taken {
                prop_assert_eq!(commitment_in(&sealed, v.member), Some(commit(&key(key_byte), &event, v.member, &v.value)));
            }
            let opened = open_canonical("person_updated", &event, &sealed, &mut |m| values.get(m).cloned())
                .expect("opened");
            prop_assert_eq!(opened, crate::chain::canonical_json(&Value::Object(original)));
        }
    }
}
