//! The packed storage form of a payload: its member values without their names.
//!
//! A ledger of a million contributions stores a million payloads with the same eight member
//! names; the names are a fifth of the database, and every byte stored is written twice
//! (SQLite's write-ahead log, then the database file). A payload whose members are exactly
//! one of the [`SHAPES`] is therefore stored as `#`, the shape's number, and its member
//! values in canonical order, each value's text as it is in the canonical JSON and each
//! preceded by the byte 0x1F (ASCII "unit separator", shown here as `␟`):
//!
//! ```text
//! canonical: {"confirmed":false,"contribution_id":"C1","date":"2024-09-01",…,"phase":"build"}
//! stored:    #0␟false␟"C1"␟"2024-09-01"␟…␟"build"
//! ```
//!
//! Canonical JSON escapes every control character inside strings, so 0x1F never occurs in a
//! value: finding the values is a search for one byte (`memchr`), not a JSON scan, which
//! matters because `verify` unpacks every payload it hashes.
//!
//! [`unpack_into`] gives back the canonical text byte for byte, and that text is what is
//! hashed, exported and replayed: the packed form is only how the events table holds it. A
//! canonical payload is JSON and never starts with `#`, so both forms can sit in one table
//! (ledgers written before packing read as they always did). An edit of a packed payload
//! changes the canonical text it unpacks to, so the hash check finds it as any other edit;
//! a packed text that cannot be unpacked is an error naming the event.

use std::borrow::Cow;

/// What starts a packed payload (a canonical one starts with `{`).
const MARK: u8 = b'#';
/// What precedes each value of a packed payload.
const SEPARATOR: u8 = 0x1F;

/// A member list: the names, and each as `"name":` (what unpacking writes before a value).
struct Shape {
    names: &'static [&'static str],
    quoted: &'static [&'static str],
}

macro_rules! shape {
    ($($name:literal),+ $(,)?) => {
        Shape {
            names: &[$($name),+],
            quoted: &[$(concat!("\"", $name, "\":")),+],
        }
    };
}

/// Member lists of the payloads stored packed, each sorted as canonical JSON sorts them. A
/// list's position is its number in stored payloads: append new lists, never change,
/// reorder or remove one (stored ledgers name them).
const SHAPES: &[Shape] = &[
    // 0: contribution_recorded
    shape!(
        "confirmed",
        "contribution_id",
        "date",
        "description",
        "effort",
        "node_id",
        "person_id",
        "phase",
    ),
    // 1: contribution_recorded with evidence
    shape!(
        "confirmed",
        "contribution_id",
        "date",
        "description",
        "effort",
        "evidence",
        "node_id",
        "person_id",
        "phase",
    ),
];

/// The most members a packable payload has.
pub const MOST_MEMBERS: usize = 9;

/// Why a stored payload that starts as a packed one cannot be unpacked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a packed payload {0}")]
pub struct UnpackError(&'static str);

/// Whether `stored` is in the packed form (else it is canonical JSON).
pub fn is_packed(stored: &str) -> bool {
    stored.as_bytes().first() == Some(&MARK)
}

/// A member of a canonical payload: its name and where its value's text is.
pub type Member<'a> = (&'a str, std::ops::Range<usize>);

/// The packed form of a canonical payload, or `None` if its members are not one of the
/// [`SHAPES`] (it is then stored as it is).
pub fn pack(canonical: &str) -> Option<String> {
    let bytes = canonical.as_bytes();
    if bytes.first() != Some(&b'{') {
        return None;
    }
    let mut members: [Member<'_>; MOST_MEMBERS] = std::array::from_fn(|_| ("", 0..0));
    let mut count = 0;
    let mut at = 1;
    loop {
        if count == MOST_MEMBERS {
            return None;
        }
        // A member name the shapes could hold: quoted, no escapes.
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let name_end = at + 1 + memchr::memchr(b'"', bytes.get(at + 1..)?)?;
        let name = canonical.get(at + 1..name_end)?;
        if name.contains('\\') || bytes.get(name_end + 1) != Some(&b':') {
            return None;
        }
        // Most payloads of other kinds are told apart by their first member: no need to
        // split the rest (an import of millions of ratings would).
        if !SHAPES
            .iter()
            .any(|shape| shape.names.get(count) == Some(&name))
        {
            return None;
        }
        let value_start = name_end + 2;
        let value_end = value_end(bytes, value_start)?;
        members[count] = (name, value_start..value_end);
        count += 1;
        match bytes.get(value_end) {
            Some(b',') => at = value_end + 1,
            Some(b'}') if value_end + 1 == bytes.len() => break,
            _ => return None,
        }
    }
    pack_members(canonical, &members[..count])
}

/// [`pack`], for a writer that knows where the members of the canonical text it wrote are
/// (in order): no scanning.
pub fn pack_members(canonical: &str, members: &[Member<'_>]) -> Option<String> {
    let shape = SHAPES.iter().position(|shape| {
        shape.names.len() == members.len()
            && shape.names.iter().zip(members).all(|(a, (b, _))| a == b)
    })?;
    let mut out = String::with_capacity(canonical.len());
    out.push(MARK as char);
    crate::push_integer(&mut out, shape as i64);
    for (_, range) in members {
        let value = canonical.get(range.clone())?;
        if value.as_bytes().contains(&SEPARATOR) {
            // Not canonical JSON (which escapes control characters): keep it as it is.
            return None;
        }
        out.push(SEPARATOR as char);
        out.push_str(value);
    }
    Some(out)
}

/// Appends the canonical text of a stored payload (packed or not) to `out`. On an error
/// `out` is as it was.
pub fn unpack_into(stored: &str, out: &mut String) -> Result<(), UnpackError> {
    if !is_packed(stored) {
        out.push_str(stored);
        return Ok(());
    }
    let before = out.len();
    let result = write_unpacked(stored, out);
    if result.is_err() {
        out.truncate(before);
    }
    result
}

/// The canonical text of a stored payload (packed or not).
pub fn canonical(stored: &str) -> Result<Cow<'_, str>, UnpackError> {
    if !is_packed(stored) {
        return Ok(Cow::Borrowed(stored));
    }
    let mut out = String::with_capacity(stored.len() + 96);
    write_unpacked(stored, &mut out)?;
    Ok(Cow::Owned(out))
}

fn write_unpacked(stored: &str, out: &mut String) -> Result<(), UnpackError> {
    let bytes = stored.as_bytes();
    let digits = bytes[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    // The number as `pack` writes it: no sign, no leading zero.
    if digits == 0 || digits > 3 || (digits > 1 && bytes[1] == b'0') {
        return Err(UnpackError("does not name its shape"));
    }
    let number: usize = stored[1..1 + digits]
        .parse()
        .map_err(|_| UnpackError("does not name its shape"))?;
    let shape = SHAPES
        .get(number)
        .ok_or(UnpackError("names a shape this version does not know"))?;
    let values = &stored[1 + digits..];
    if values.as_bytes().first() != Some(&SEPARATOR) {
        return Err(UnpackError("has no values"));
    }
    out.reserve(values.len() + 1 + shape.quoted.iter().map(|q| q.len()).sum::<usize>());
    let mut quoted = shape.quoted.iter();
    let mut ends = memchr::memchr_iter(SEPARATOR, values.as_bytes())
        .skip(1)
        .chain([values.len()]);
    let mut start = 1;
    for (i, quoted) in quoted.by_ref().enumerate() {
        let end = ends
            .next()
            .ok_or(UnpackError("holds fewer values than its shape has members"))?;
        if end == start {
            return Err(UnpackError("has an empty value"));
        }
        out.push(if i == 0 { '{' } else { ',' });
        out.push_str(quoted);
        out.push_str(&values[start..end]);
        start = end + 1;
    }
    if ends.next().is_some() {
        return Err(UnpackError("holds more values than its shape has members"));
    }
    out.push('}');
    Ok(())
}

/// Where the JSON value starting at `start` ends: after a string's closing quote, after the
/// bracket closing an array or object, or at the first `,`, `]` or `}` ending a literal.
/// `None` for an empty or unterminated value. Used by [`pack`] on canonical JSON only.
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    match bytes.get(start)? {
        b'"' => string_end(bytes, start + 1),
        b'[' | b'{' => nested_end(bytes, start),
        _ => {
            let length = bytes[start..]
                .iter()
                .position(|&b| matches!(b, b',' | b']' | b'}'))?;
            (length > 0).then_some(start + length)
        }
    }
}

/// After the quote closing the string whose text starts at `at`.
fn string_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let found = at + memchr::memchr2(b'"', b'\\', bytes.get(at..)?)?;
        if bytes[found] == b'"' {
            return Some(found + 1);
        }
        at = found + 2;
    }
}

/// After the bracket closing the array or object opened at `start`.
fn nested_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut at = start;
    while let Some(&b) = bytes.get(at) {
        match b {
            b'"' => {
                at = string_end(bytes, at + 1)?;
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ => {}
        }
        at += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Amount;
    use crate::domain::{ContributionRecord, Phase};
    use crate::event::Event;
    use proptest::prelude::*;

    fn contribution(evidence: Option<String>, description: String) -> String {
        contribution_event(evidence, description).canonical_payload()
    }

    fn contribution_event(evidence: Option<String>, description: String) -> Event {
        Event::ContributionRecorded(ContributionRecord {
            confirmed: true,
            contribution_id: "C00000042".into(),
            date: chrono::NaiveDate::from_ymd_opt(2024, 9, 1).expect("a date"),
            description,
            effort: "2.5".parse::<Amount>().expect("an amount"),
            evidence,
            node_id: "N1".into(),
            person_id: "P7".into(),
            phase: Phase::Build,
        })
    }

    #[test]
    fn a_contribution_is_stored_without_member_names_and_read_back_byte_for_byte() {
        let plain = contribution(None, "work item 42".into());
        let stored = pack(&plain).expect("a contribution packs");
        assert_eq!(
            stored,
            "#0\u{1f}true\u{1f}\"C00000042\"\u{1f}\"2024-09-01\"\u{1f}\"work item 42\"\
             \u{1f}\"2.5\"\u{1f}\"N1\"\u{1f}\"P7\"\u{1f}\"build\""
        );
        assert_eq!(canonical(&stored).expect("unpacks"), plain);
        let with_evidence = contribution(Some("PR #12, \"fixed\"\u{1f}".into()), String::new());
        let stored = pack(&with_evidence).expect("packs");
        assert!(stored.starts_with("#1\u{1f}"), "{stored}");
        assert_eq!(canonical(&stored).expect("unpacks"), with_evidence);
    }

    #[test]
    fn other_payloads_are_stored_as_they_are() {
        for payload in [
            r#"{"name":"Ana","person_id":"P1"}"#,
            r#"{}"#,
            r#"[1,2]"#,
            r#"{"confirmed":false}"#,
        ] {
            assert_eq!(pack(payload), None, "{payload}");
            assert!(!is_packed(payload));
            assert_eq!(canonical(payload).expect("as it is"), payload);
        }
    }

    #[test]
    fn a_damaged_packed_payload_is_an_error_and_leaves_the_output_alone() {
        let values =
            |values: &[&str]| -> String { values.iter().map(|v| format!("\u{1f}{v}")).collect() };
        let eight = [
            "true",
            "\"C1\"",
            "\"d\"",
            "\"e\"",
            "\"1\"",
            "\"N\"",
            "\"P\"",
            "\"build\"",
        ];
        for stored in [
            "#".to_string(),
            format!("#x{}", values(&eight)),
            format!("#00{}", values(&eight)),
            format!("#9{}", values(&eight)),
            "#0".to_string(),
            "#0true".to_string(),
            format!("#0{}", values(&eight[..7])),
            format!("#0{}", values(&[&eight[..], &["\"extra\""]].concat())),
            format!("#0{}\u{1f}", values(&eight)),
            format!(
                "#0{}",
                values(&[
                    "true", "", "\"d\"", "\"e\"", "\"1\"", "\"N\"", "\"P\"", "\"b\""
                ])
            ),
            format!("#1{}", values(&eight)),
        ] {
            let mut out = String::from("kept");
            assert!(unpack_into(&stored, &mut out).is_err(), "{stored:?}");
            assert_eq!(out, "kept", "{stored:?}");
        }
    }

    proptest! {
        #[test]
        fn any_contribution_packs_and_unpacks_to_its_canonical_text(
            description in "\\PC{0,20}|[\"\\\\\u{0}-\u{1f}\\[\\]{},:é😀 a-z]{0,20}",
            evidence in proptest::option::of("[\"\\\\\\[\\]{},: a-z]{0,20}"),
        ) {
            let event = contribution_event(evidence, description);
            let canonical_text = event.canonical_payload();
            let stored = pack(&canonical_text).expect("a contribution packs");
            prop_assert!(stored.len() < canonical_text.len());
            prop_assert_eq!(canonical(&stored).expect("unpacks"), canonical_text.as_str());
            // The import's writer notes the members as it writes them instead of scanning.
            prop_assert_eq!(
                event.canonical_and_packed_payload(),
                (canonical_text.clone(), Some(stored))
            );
        }

        #[test]
        fn unpacking_any_text_never_panics(stored in "#[0-9]{0,2}[\u{1f}\"\\\\,\\[\\]{} a-zé0-9]{0,40}") {
            let _ = canonical(&stored);
        }
    }
}
