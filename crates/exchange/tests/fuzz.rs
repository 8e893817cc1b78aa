//! Hostile and arbitrary input for the readers of every exchange format: arbitrary bytes
//! never panic (a bad file is a list of errors), and any input a reader accepts round-trips
//! through what valuetree writes back.

use proptest::prelude::*;
use valuetree_core::chain::StoredEvent;
use valuetree_core::domain::PersonRecord;
use valuetree_core::import::{RecordBatch, Row};
use valuetree_exchange::ratings::{parse_ratings, read_ratings};
use valuetree_exchange::{Kind, parse_csv, parse_ledger, stream_csv};

fn header(kind: Kind, optional: bool) -> String {
    let mut columns: Vec<&str> = kind.required_columns().to_vec();
    if optional {
        columns.extend(kind.optional_columns());
    }
    format!("{}\n", columns.join(","))
}

/// A kind, and bytes that look like a CSV file of it often enough to reach the row parser:
/// its header then arbitrary bytes, its header then CSV-ish text, or arbitrary bytes alone.
fn csv_like() -> impl Strategy<Value = (Kind, Vec<u8>)> {
    (0..Kind::ALL.len(), any::<bool>()).prop_flat_map(|(i, optional)| {
        let kind = Kind::ALL[i];
        let head = header(kind, optional);
        let head_again = head.clone();
        (
            Just(kind),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..400),
                proptest::collection::vec(any::<u8>(), 0..400).prop_map(move |body| {
                    let mut bytes = head.clone().into_bytes();
                    bytes.extend(body);
                    bytes
                }),
                "[a-zA-Z0-9,\"\n\r ;:.\\-_é张\u{1b}]{0,300}"
                    .prop_map(move |body| format!("{head_again}{body}").into_bytes()),
            ],
        )
    })
}

/// A file read whole and streamed gives the same rows, or both give errors.
fn read_both_ways(kind: Kind, bytes: &[u8]) -> Result<(), TestCaseError> {
    let whole = parse_csv(kind, bytes);
    if kind == Kind::PeerPoints {
        return Ok(());
    }
    let streamed = stream_csv(kind, bytes.to_vec()).map(|stream| {
        let mut batch: Option<RecordBatch> = None;
        let mut errors = Vec::new();
        for (chunk, chunk_errors) in stream {
            errors.extend(chunk_errors);
            match &mut batch {
                Some(b) => b.extend(chunk),
                None => batch = Some(chunk),
            }
        }
        (batch, errors)
    });
    match (&whole, streamed) {
        (Ok(batch), Ok((Some(streamed), errors))) => {
            prop_assert!(errors.is_empty(), "{errors:?}");
            prop_assert_eq!(batch, &streamed);
        }
        (Ok(batch), Ok((None, errors))) => prop_assert!(errors.is_empty() && batch.is_empty()),
        (Err(_), Ok((_, errors))) => prop_assert!(!errors.is_empty()),
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => prop_assert!(false, "streaming refused an accepted file: {e:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn no_csv_file_makes_a_reader_panic((kind, bytes) in csv_like()) {
        read_both_ways(kind, &bytes)?;
        let _ = parse_ratings(bytes.as_slice());
        let _ = read_ratings(bytes.as_slice(), None, false);
    }

    #[test]
    fn no_line_makes_the_ledger_reader_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..600)
    ) {
        let _ = parse_ledger(bytes.as_slice());
    }

    /// People with any names (commas, quotes, line breaks, Chinese) and e-mails, written as
    /// a spreadsheet would quote them, read back as they were written.
    #[test]
    fn any_people_file_written_with_quoting_reads_back_the_same(
        people in proptest::collection::vec(
            (
                "[A-Za-z0-9]{1,8}",
                "[^\\s\\x00-\\x1f][^\\x00-\\x09\\x0b-\\x1f]{0,40}[^\\s\\x00-\\x1f]",
                proptest::option::of("[a-z]{1,10}@[a-z]{1,10}\\.example"),
                (2000i32..2030, 1u32..13, 1u32..29),
                proptest::option::of(0i64..4000),
            ),
            1..20,
        )
    ) {
        let mut seen = std::collections::BTreeSet::new();
        let records: Vec<PersonRecord> = people
            .into_iter()
            .filter(|(id, ..)| seen.insert(id.clone()))
            .map(|(id, name, email, (y, m, d), stay)| {
                let joined_on = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("a date");
                PersonRecord {
                    person_id: format!("P{id}"),
                    name,
                    email,
                    joined_on,
                    left_on: stay.map(|days| joined_on + chrono::Duration::days(days)),
                }
            })
            .collect();
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .write_record(["person_id", "name", "email", "joined_on", "left_on"])
            .expect("header");
        for p in &records {
            writer
                .write_record([
                    p.person_id.clone(),
                    p.name.clone(),
                    p.email.clone().unwrap_or_default(),
                    p.joined_on.to_string(),
                    p.left_on.map(|d| d.to_string()).unwrap_or_default(),
                ])
                .expect("row");
        }
        let bytes = writer.into_inner().expect("bytes");
        read_both_ways(Kind::People, &bytes)?;
        let parsed = parse_csv(Kind::People, bytes.as_slice());
        let Ok(RecordBatch::People(rows)) = parsed else {
            return Err(TestCaseError::fail(format!("refused: {parsed:?}")));
        };
        let read: Vec<PersonRecord> = rows.into_iter().map(|Row { record, .. }| record).collect();
        prop_assert_eq!(read, records);
    }

    /// A ledger line the reader accepts is written back (`export_line`) as a line that reads
    /// as the same event.
    #[test]
    fn an_accepted_ledger_line_round_trips(
        actor in "[a-z0-9]{1,10}",
        name in "\\PC{0,30}",
        seq in 1i64..1_000_000,
        with_personal in any::<bool>(),
    ) {
        let quoted = serde_json::to_string(&name).expect("json");
        let personal = if with_personal {
            format!(
                r#","personal":{{"name":{{"key":"{}","subject":"P1","value":{quoted}}}}}"#,
                "ab".repeat(32)
            )
        } else {
            String::new()
        };
        let line = format!(
            r#"{{"actor":"{actor}","effective":"2024-01-02","event_id":"ev-1","hash":"{h}","kind":"unit_created","payload":{{"name":{quoted},"unit_id":"U1","valid_from":"2024-01-02"}}{personal},"prev_hash":"{h}","recorded":"2024-01-02T00:00:00Z","seq":{seq}}}"#,
            h = "0".repeat(64),
        );
        let events = parse_ledger(line.as_bytes()).expect("accepted");
        let event: &StoredEvent = &events[0].1;
        let again = parse_ledger(event.export_line().as_bytes()).expect("accepted again");
        prop_assert_eq!(&again[0].1, event);
    }
}
