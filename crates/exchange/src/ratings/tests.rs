use super::*;
use proptest::prelude::*;

const HEADER: &str =
    "cycle_id,rater_id,ratee_id,relationship,dimension,score,comment,ratee_unit,rater_unit\n";

/// A file written to the temporary directory, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(bytes: &[u8]) -> TempFile {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("valuetree-ratings-{}-{n}.csv", std::process::id()));
        std::fs::write(&path, bytes).expect("a temporary file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What the rows read whole then interned give: the reference the streamed readers match.
fn by_rows(bytes: &[u8], dimension: Option<&str>, plain: bool) -> Result<Interned, ()> {
    parse_ratings(bytes)
        .map(|rows| intern_ratings(&rows, dimension, plain))
        .map_err(|_| ())
}

/// The streamed reader agrees with the reference on what it accepts and what it yields, and
/// the two-part file reader, split anywhere, yields exactly what the one-part reader does,
/// errors and their lines included.
fn all_readers_agree(
    bytes: &[u8],
    dimension: Option<&str>,
    plain: bool,
) -> Result<(), TestCaseError> {
    let streamed = read_ratings(bytes, dimension, plain);
    let reference = by_rows(bytes, dimension, plain);
    match (&streamed, &reference) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        // The row reader stops at the first row of the wrong width or not UTF-8 and names
        // it; the streamed one names every such row: both refuse the file.
        (a, b) => prop_assert!(false, "streamed {a:?}\nrows {b:?}"),
    }
    let file = TempFile::new(bytes);
    for threshold in [0, 1, bytes.len() as u64 / 2] {
        let split = read_ratings_file_split(&file.0, dimension, plain, threshold);
        prop_assert_eq!(&split, &streamed, "split from {} bytes on", threshold);
    }
    Ok(())
}

fn row() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("2024"), Just("2025H1"), Just(" 2025H2 ")],
        0..12u32,
        0..12u32,
        prop_oneof![
            Just("manager"),
            Just("peer"),
            Just("self"),
            Just("report"),
            Just("customer"),
            Just("boss")
        ],
        prop_oneof![Just("results"), Just("values"), Just("")],
        prop_oneof![Just("1"), Just("4"), Just("3.5"), Just("x"), Just(""), Just("1e400")],
        prop_oneof![
            Just(String::new()),
            Just("\"good, and kind\"".to_string()),
            Just("\"line one\nline two \"\"quoted\"\"\"".to_string()),
            Just("张".to_string()),
        ],
        prop_oneof![Just(""), Just("U1"), Just("U2")],
        prop_oneof![Just(""), Just("U1"), Just("U3")],
        prop_oneof![Just(""), Just(""), Just(""), Just(",extra"), Just("\r")],
        // Ids of up to 15 bytes are numbered by a packed key, longer ones by their text.
        prop_oneof![Just("P"), Just("P"), Just("person-with-a-long-id-")],
    )
        .prop_map(
            |(cycle, rater, ratee, rel, dim, score, comment, ratee_unit, rater_unit, tail, id)| {
                format!(
                    "{cycle},{id}{rater},P{ratee},{rel},{dim},{score},{comment},{ratee_unit},{rater_unit}{tail}\n"
                )
            },
        )
}

fn file() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(row(), 0..40),
        proptest::collection::vec(0..3usize, 0..40),
    )
        .prop_map(|(rows, blanks)| {
            let mut text = HEADER.to_string();
            for (i, row) in rows.iter().enumerate() {
                if blanks.get(i) == Some(&0) {
                    text.push('\n');
                }
                text.push_str(row);
            }
            text.into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_streamed_readers_read_what_the_row_reader_reads(
        bytes in file(),
        dimension in prop_oneof![Just(None), Just(Some("results"))],
        plain in any::<bool>(),
    ) {
        all_readers_agree(&bytes, dimension, plain)?;
    }

    #[test]
    fn no_bytes_make_the_streamed_readers_panic_or_disagree(
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend(body);
        let _ = read_ratings(bytes.as_slice(), None, false);
        let file = TempFile::new(&bytes);
        prop_assert_eq!(
            read_ratings_file_split(&file.0, None, false, 0),
            read_ratings(bytes.as_slice(), None, false)
        );
    }
}

fn valid_rows(count: usize) -> String {
    let mut text = HEADER.to_string();
    for i in 0..count {
        text.push_str(&format!(
            "2024,P{},P{},peer,results,{},,U{},U{}\n",
            i % 7,
            (i * 3) % 11,
            1 + i % 5,
            i % 3,
            i % 4
        ));
    }
    text
}

#[test]
fn a_split_inside_a_quoted_cell_still_reads_the_file_as_it_is() {
    // A comment of many lines around the middle: the first line break after the middle is
    // inside it, so the second part's rows are not rows and the first reader reads on.
    let mut text = valid_rows(50);
    text.push_str("2024,P1,P2,peer,results,3,\"");
    text.push_str(&"a comment line\n".repeat(200));
    text.push_str("\",U1,U1\n");
    text.push_str(&valid_rows(50)[HEADER.len()..]);
    let bytes = text.into_bytes();
    let file = TempFile::new(&bytes);
    let whole = read_ratings(bytes.as_slice(), None, false).expect("a valid file");
    assert_eq!(whole.input.ratings.len(), 101);
    assert_eq!(
        read_ratings_file_split(&file.0, None, false, 0).expect("a valid file"),
        whole
    );
}

#[test]
fn errors_in_the_second_part_name_their_line_in_the_file() {
    let mut text = valid_rows(100);
    text.push_str("2024,P1,P2,peer,results,seven,,U1,U1\n");
    text.push_str(&valid_rows(100)[HEADER.len()..]);
    let file = TempFile::new(text.as_bytes());
    let errors = read_ratings_file_split(&file.0, None, false, 0).expect_err("a bad score");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 102);
    assert_eq!(errors[0].column.as_deref(), Some("score"));
    assert_eq!(errors[0].reason, "`seven` is not a number");
}
