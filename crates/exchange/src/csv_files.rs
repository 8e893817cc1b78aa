//! The CSV import files.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::str::FromStr;
use valuetree_core::domain::*;
use valuetree_core::import::{NodeRow, RecordBatch, Row, RowError};
use valuetree_core::review::{CyclePhase, CycleRecord, RatingRecord, RatingStatus};
use valuetree_core::{Amount, NaiveDate};

/// The kinds of CSV file `valuetree import` reads, in the order a whole directory is imported
/// (each kind only refers to kinds before it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    People,
    Units,
    Assignments,
    Nodes,
    Edges,
    Members,
    Contributions,
    Outcomes,
    Handovers,
    PeerPoints,
    Cycles,
    Ratings,
}

/// Files the simulator writes beside its import files: the ground truth that
/// `valuetree fairness` reads, never imported.
pub const SIMULATOR_TRUTH: [&str; 2] = ["truth.csv", "truth_contributions.csv"];

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::People,
        Kind::Units,
        Kind::Assignments,
        Kind::Nodes,
        Kind::Edges,
        Kind::Members,
        Kind::Contributions,
        Kind::Outcomes,
        Kind::Handovers,
        Kind::PeerPoints,
        Kind::Cycles,
        Kind::Ratings,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::People => "people",
            Kind::Units => "units",
            Kind::Assignments => "assignments",
            Kind::Nodes => "nodes",
            Kind::Edges => "edges",
            Kind::Members => "members",
            Kind::Contributions => "contributions",
            Kind::Outcomes => "outcomes",
            Kind::Handovers => "handovers",
            Kind::PeerPoints => "peer_points",
            Kind::Cycles => "cycles",
            Kind::Ratings => "ratings",
        }
    }

    /// The file name this kind has in a directory (`people.csv`, …).
    pub fn file_name(self) -> String {
        format!("{}.csv", self.name())
    }

    /// What a file named `name` in an import directory is: `Ok(Some(kind))` for an import
    /// file, `Ok(None)` for a file an import leaves alone (not CSV, or the simulator's ground
    /// truth), and for any other CSV file an error naming the nearest import file — a
    /// misspelt or capitalised name must not be skipped in silence.
    pub fn of_file_name(name: &str) -> Result<Option<Kind>, String> {
        if !name.to_ascii_lowercase().ends_with(".csv") || SIMULATOR_TRUTH.contains(&name) {
            return Ok(None);
        }
        if let Some(kind) = Kind::ALL.into_iter().find(|k| k.file_name() == name) {
            return Ok(Some(kind));
        }
        let lower = name.to_lowercase();
        let nearest = Kind::ALL
            .into_iter()
            .map(|k| k.file_name())
            .min_by_key(|file| strsim::levenshtein(&lower, file))
            .unwrap_or_default();
        Err(format!(
            "{name} is not an import file name (did you mean {nearest}?)"
        ))
    }

    pub const fn required_columns(self) -> &'static [&'static str] {
        match self {
            Kind::People => &["person_id", "name", "email", "joined_on", "left_on"],
            Kind::Units => &[
                "unit_id",
                "name",
                "parent_unit_id",
                "valid_from",
                "valid_to",
            ],
            Kind::Assignments => &["person_id", "unit_id", "manager_id", "valid_from"],
            Kind::Nodes => &["node_id", "kind", "title", "lead_id", "created_on"],
            Kind::Edges => &["parent_id", "child_id", "weight"],
            Kind::Members => &["node_id", "person_id", "role", "joined_on", "left_on"],
            Kind::Contributions => &[
                "contribution_id",
                "person_id",
                "node_id",
                "phase",
                "date",
                "effort",
                "description",
                "confirmed",
            ],
            Kind::Outcomes => &["outcome_id", "node_id", "date", "value", "description"],
            Kind::Handovers => &["node_id", "date", "from_lead_id", "to_lead_id", "note"],
            Kind::PeerPoints => &["node_id", "giver_id", "date", "recipient_id", "points"],
            Kind::Cycles => &["cycle_id", "name", "starts_on", "ends_on"],
            Kind::Ratings => &[
                "cycle_id",
                "rater_id",
                "ratee_id",
                "relationship",
                "dimension",
                "score",
                "comment",
            ],
        }
    }

    pub fn optional_columns(self) -> &'static [&'static str] {
        match self {
            Kind::Nodes => &["status", "flagpole", "description"],
            Kind::Edges => &["valid_from", "valid_to"],
            Kind::Contributions | Kind::Outcomes => &["evidence"],
            Kind::Handovers => &["from_unit_id", "to_unit_id"],
            Kind::Cycles => &[
                "phase",
                "anonymity_threshold",
                "attributed_comments",
                "committee",
                "enforce_guidance",
                "min_sources",
            ],
            // The units are the calibration CLI's; in the ledger they come from the org
            // timeline, so an import reads and ignores them.
            Kind::Ratings => &["status", "ratee_unit", "rater_unit"],
            _ => &[],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(text: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "`{text}` is not a kind of file; expected one of: {}",
                    names.join(", ")
                )
            })
    }
}

/// A header's column names and their positions. A file has a handful of columns, so a
/// lookup is a short scan, cheaper than hashing the name (every cell of every row is looked
/// up by its column's name).
#[derive(Debug, Default)]
struct Columns(Vec<(String, usize)>);

impl Columns {
    fn get(&self, name: &str) -> Option<usize> {
        self.0.iter().find(|(n, _)| n == name).map(|&(_, i)| i)
    }

    /// Adds a column; false (and nothing added) if the name is there already.
    fn insert(&mut self, name: String, index: usize) -> bool {
        if self.get(&name).is_some() {
            return false;
        }
        self.0.push((name, index));
        true
    }
}

/// One CSV record with typed, error-collecting access to its cells by column name.
struct Cells<'a> {
    columns: &'a Columns,
    record: &'a csv::StringRecord,
    line: u64,
    errors: Vec<RowError>,
}

impl Cells<'_> {
    fn raw(&self, column: &str) -> Option<&str> {
        self.columns
            .get(column)
            .and_then(|i| self.record.get(i))
            .map(str::trim)
    }

    fn fail<T>(&mut self, column: &str, reason: String) -> Option<T> {
        self.errors.push(RowError {
            line: self.line,
            column: Some(column.to_string()),
            reason,
        });
        None
    }

    /// A cell's text, or none if it is empty; a text over its column's limit is an error.
    fn opt_text(&mut self, column: &str) -> Option<String> {
        let text = self.raw(column).filter(|t| !t.is_empty())?;
        if let Some(reason) = valuetree_core::limits::too_long(column, text) {
            return self.fail(column, reason);
        }
        Some(text.to_string())
    }

    /// A cell's text as it is, empty included (none when the column is missing); a text
    /// over its column's limit is an error.
    fn any_text(&mut self, column: &str) -> Option<String> {
        let text = self.raw(column)?;
        if let Some(reason) = valuetree_core::limits::too_long(column, text) {
            return self.fail(column, reason);
        }
        Some(text.to_string())
    }

    /// A free-text cell (a description, a note, a comment): empty when missing (one over its
    /// limit is empty too, beside the error that drops its row).
    fn free_text(&mut self, column: &str) -> String {
        self.any_text(column).unwrap_or_default()
    }

    /// A required cell; an empty one is an error. Returns an empty string on error so the
    /// rest of the row is still checked.
    fn text(&mut self, column: &str) -> String {
        if self.raw(column).is_none_or(str::is_empty) {
            self.fail::<()>(column, "is empty; a value is required".into());
            return String::new();
        }
        self.opt_text(column).unwrap_or_default()
    }

    fn parse_with<T, E: std::fmt::Display>(
        &mut self,
        column: &str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        match self.raw(column).filter(|t| !t.is_empty()) {
            None => Some(None),
            Some(text) => match parse(text) {
                Ok(v) => Some(Some(v)),
                Err(reason) => self.fail(column, reason.to_string()),
            },
        }
    }

    fn opt_date(&mut self, column: &str) -> Option<Option<NaiveDate>> {
        self.parse_with(column, |t| {
            iso_date(t)
                .or_else(|| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
                .ok_or_else(|| format!("`{t}` is not a date; write it as YYYY-MM-DD"))
        })
    }

    fn date(&mut self, column: &str) -> Option<NaiveDate> {
        match self.opt_date(column)? {
            Some(d) => Some(d),
            None => self.fail(column, "is empty; a date (YYYY-MM-DD) is required".into()),
        }
    }

    fn required<T, E: std::fmt::Display>(
        &mut self,
        column: &str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Option<T> {
        match self.parse_with(column, parse)? {
            Some(v) => Some(v),
            None => self.fail(column, "is empty; a value is required".into()),
        }
    }

    fn amount(&mut self, column: &str) -> Option<Amount> {
        self.required(column, Amount::parse)
    }

    fn opt_bool(&mut self, column: &str) -> Option<Option<bool>> {
        self.parse_with(column, parse_bool)
    }
}

/// The usual `YYYY-MM-DD` without chrono's format interpreter (a million-row file has a
/// million dates); anything else goes the general way.
fn iso_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!("`{text}` is not true or false")),
    }
}

/// Reads a CSV file of `kind`. Every bad row is reported; the result is all or nothing.
pub fn parse_csv(kind: Kind, reader: impl Read) -> Result<RecordBatch, Vec<RowError>> {
    match parse_csv_rows(kind, reader)? {
        (batch, errors) if errors.is_empty() => Ok(batch),
        (_, errors) => Err(errors),
    }
}

/// [`parse_csv`], keeping the rows that parse beside the errors of those that do not, so
/// that an import can check the good rows against the ledger's rules and list every bad
/// row in one run. `Err` only when the file as a whole cannot be read (its header).
pub fn parse_csv_rows(
    kind: Kind,
    mut reader: impl Read,
) -> Result<(RecordBatch, Vec<RowError>), Vec<RowError>> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(|e| {
        vec![RowError {
            line: 1,
            column: None,
            reason: format!("cannot read the file: {e}"),
        }]
    })?;
    let (columns, body_start) = read_header(kind, &bytes)?;
    let body = &bytes[body_start..];
    let header_lines = bytecount(&bytes[..body_start], b'\n') as u64;
    // A large file is parsed in two halves on two threads, split at a record boundary.
    let (batch, errors) = match split_point(body) {
        Some(mid) if body.len() >= PARALLEL_BYTES => {
            let (first, second) = body.split_at(mid);
            let second_offset = header_lines + bytecount(first, b'\n') as u64;
            let ((mut batch, mut errors), (rest, rest_errors)) = std::thread::scope(|scope| {
                let other = scope.spawn(|| parse_body(kind, &columns, second, second_offset));
                let mine = parse_body(kind, &columns, first, header_lines);
                (
                    mine,
                    other
                        .join()
                        .unwrap_or_else(|_| (empty_batch(kind, 0), Vec::new())),
                )
            });
            batch.extend(rest);
            errors.extend(rest_errors);
            (batch, errors)
        }
        _ => parse_body(kind, &columns, body, header_lines),
    };
    Ok((group_peer_points(batch), errors))
}

/// A peer-points file has one row per recipient; the rows of one giver, node and date make
/// one allocation (numbered by its first line).
fn group_peer_points(batch: RecordBatch) -> RecordBatch {
    let RecordBatch::PeerPoints(rows) = batch else {
        return batch;
    };
    let mut grouped: Vec<Row<PeerAllocation>> = Vec::new();
    let mut index: HashMap<(String, String, NaiveDate), usize> = HashMap::new();
    for row in rows {
        let key = (
            row.record.node_id.clone(),
            row.record.giver_id.clone(),
            row.record.date,
        );
        match index.get(&key) {
            Some(&i) => grouped[i].record.points.extend(row.record.points),
            None => {
                index.insert(key, grouped.len());
                grouped.push(row);
            }
        }
    }
    RecordBatch::PeerPoints(grouped)
}

/// From this size on, a file is parsed on two threads.
const PARALLEL_BYTES: usize = 4 << 20;

fn bytecount(bytes: &[u8], needle: u8) -> usize {
    bytes.iter().filter(|&&b| b == needle).count()
}

/// A record boundary near the middle: a newline outside quotes (an even number of `"` before
/// it, since a quote inside a quoted field is written `""`).
fn split_point(body: &[u8]) -> Option<usize> {
    let middle = body.len() / 2;
    let mut quotes = bytecount(&body[..middle], b'"');
    for (i, &b) in body[middle..].iter().enumerate() {
        match b {
            b'"' => quotes += 1,
            b'\n' if quotes.is_multiple_of(2) => return Some(middle + i + 1),
            _ => {}
        }
    }
    None
}

/// Reads and checks the header; returns the column positions and where the rows start.
fn read_header(kind: Kind, bytes: &[u8]) -> Result<(Columns, usize), Vec<RowError>> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let header_error = |reason: String| {
        vec![RowError {
            line: 1,
            column: None,
            reason,
        }]
    };
    let headers = csv
        .headers()
        .map_err(|e| header_error(format!("cannot read the header: {e}")))?
        .clone();
    let mut columns = Columns::default();
    let mut errors = Vec::new();
    for (i, name) in headers.iter().enumerate() {
        let name = name.trim().trim_start_matches('\u{feff}').to_string();
        if !kind.required_columns().contains(&name.as_str())
            && !kind.optional_columns().contains(&name.as_str())
        {
            let mut known: Vec<&str> = kind.required_columns().to_vec();
            known.extend(kind.optional_columns());
            errors.push(RowError {
                line: 1,
                column: Some(name.clone()),
                reason: format!(
                    "unknown column for {kind}; the columns are: {}",
                    known.join(", ")
                ),
            });
        }
        if !columns.insert(name.clone(), i) {
            errors.push(RowError {
                line: 1,
                column: Some(name),
                reason: "the column appears twice".into(),
            });
        }
    }
    for required in kind.required_columns() {
        if columns.get(required).is_none() {
            errors.push(RowError {
                line: 1,
                column: Some(required.to_string()),
                reason: format!(
                    "missing column; a {kind} file needs: {}",
                    kind.required_columns().join(", ")
                ),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // The header may not end the file (no body): then the body starts at its end.
    let body_start = usize::try_from(csv.position().byte())
        .unwrap_or(bytes.len())
        .min(bytes.len());
    Ok((columns, body_start))
}

/// Parses rows (no header); `line_offset` is the number of lines before `body` in the file.
fn parse_body(
    kind: Kind,
    columns: &Columns,
    body: &[u8],
    line_offset: u64,
) -> (RecordBatch, Vec<RowError>) {
    let mut whole = (empty_batch(kind, 0), Vec::new());
    parse_rows(
        kind,
        columns,
        body,
        bytecount(body, b'\n'),
        line_offset,
        usize::MAX,
        &mut |batch, errors| {
            whole = (batch, errors);
            true
        },
    );
    whole
}

/// Parses rows (no header) and hands them to `emit` in batches of up to `chunk_rows` rows,
/// each with the errors of its rows; stops early when `emit` returns false.
/// `lines` is about how many lines `body` holds (it sizes the batches).
fn parse_rows(
    kind: Kind,
    columns: &Columns,
    body: impl Read,
    lines: usize,
    line_offset: u64,
    chunk_rows: usize,
    emit: &mut dyn FnMut(RecordBatch, Vec<RowError>) -> bool,
) {
    // Flexible, so that each row is measured against the header here (a reader without the
    // header measures against the first row, and a file of one row is never measured).
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let width = columns.0.len();
    let capacity = |rows: usize| rows.min(chunk_rows);
    let mut errors = Vec::new();
    let mut error_count = 0usize;
    let mut batch = empty_batch(kind, capacity(lines));
    let mut record = csv::StringRecord::new();
    loop {
        let line = line_offset + csv.position().line();
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| line_offset + p.line());
                errors.push(RowError {
                    line,
                    column: None,
                    reason: format!("not a valid CSV row: {e}"),
                });
                error_count += 1;
                // A row that is not UTF-8 is skipped like any bad row; anything else stops.
                if error_count > 10_000 || !matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    break;
                }
                continue;
            }
        }
        let line = record.position().map_or(line, |p| line_offset + p.line());
        if record.len() != width {
            errors.push(RowError {
                line,
                column: None,
                reason: wrong_width(record.len(), width),
            });
            error_count += 1;
            if error_count > 10_000 {
                break;
            }
            continue;
        }
        let mut cells = Cells {
            columns,
            record: &record,
            line,
            errors: Vec::new(),
        };
        read_row(&mut cells, line, &mut batch);
        error_count += cells.errors.len();
        errors.append(&mut cells.errors);
        if batch.len() >= chunk_rows {
            let left = lines.saturating_sub(usize::try_from(line - line_offset).unwrap_or(0));
            let full = std::mem::replace(&mut batch, empty_batch(kind, capacity(left)));
            if !emit(full, std::mem::take(&mut errors)) {
                return;
            }
        }
    }
    emit(batch, errors);
}

/// Why a row with `cells` cells does not fit a header of `width` columns.
pub(crate) fn wrong_width(cells: usize, width: usize) -> String {
    if cells > width {
        format!(
            "the row has {cells} cells but the header has {width} columns: a comma inside a text cell must be quoted (\"first part, second part\")"
        )
    } else {
        format!(
            "the row has {cells} cells but the header has {width} columns: every row needs a cell for each column, empty ones included (`a,,c`)"
        )
    }
}

/// The rows of a CSV file in chunks, parsed on a thread of their own while the caller works
/// on the chunks before: a file of millions of rows is never held parsed whole.
pub struct CsvStream {
    /// The number of rows, counted from the line breaks (exact unless cells hold line breaks).
    pub estimated_rows: u64,
    chunks: std::sync::mpsc::Receiver<(RecordBatch, Vec<RowError>)>,
}

impl Iterator for CsvStream {
    /// A chunk of rows, with the errors found in them (the chunk then lacks those rows).
    type Item = (RecordBatch, Vec<RowError>);

    fn next(&mut self) -> Option<Self::Item> {
        self.chunks.recv().ok()
    }
}

/// Rows in a chunk of a [`CsvStream`].
const STREAM_ROWS: usize = 16_384;

/// Starts parsing the CSV text `bytes` of `kind` on a new thread; its header is checked now.
/// Kinds whose rows must be seen together (peer points, grouped by giver) are not streamed:
/// use [`parse_csv`] for them.
pub fn stream_csv(kind: Kind, bytes: Vec<u8>) -> Result<CsvStream, Vec<RowError>> {
    refuse_peer_points(kind)?;
    let (columns, body_start) = read_header(kind, &bytes)?;
    let header_lines = bytecount(&bytes[..body_start], b'\n') as u64;
    let estimated_rows = bytecount(&bytes[body_start..], b'\n') as u64;
    let mut body = std::io::Cursor::new(bytes);
    body.set_position(body_start as u64);
    Ok(stream_rows(
        kind,
        columns,
        body,
        estimated_rows,
        header_lines,
    ))
}

/// Peer points are grouped by giver across their whole file: never streamed.
fn refuse_peer_points(kind: Kind) -> Result<(), Vec<RowError>> {
    if kind == Kind::PeerPoints {
        return Err(vec![RowError {
            line: 1,
            column: None,
            reason: "peer points are grouped across the whole file and cannot be streamed".into(),
        }]);
    }
    Ok(())
}

/// Parses the rows of `body` (the header read already) on a new thread, in chunks.
fn stream_rows(
    kind: Kind,
    columns: Columns,
    body: impl Read + Send + 'static,
    estimated_rows: u64,
    header_lines: u64,
) -> CsvStream {
    let (sender, chunks) = std::sync::mpsc::sync_channel(4);
    // Dropping the stream drops the receiver: the parser's next send fails and it stops.
    std::thread::spawn(move || {
        parse_rows(
            kind,
            &columns,
            body,
            usize::try_from(estimated_rows).unwrap_or(usize::MAX),
            header_lines,
            STREAM_ROWS,
            &mut |batch, errors| sender.send((batch, errors)).is_ok(),
        );
    });
    CsvStream {
        estimated_rows,
        chunks,
    }
}

/// How much of a file [`stream_csv_file`] reads first: the header, and a sample of rows to
/// estimate how many the file holds.
const SAMPLE_BYTES: u64 = 1 << 20;

/// [`stream_csv`] straight from the file at `path`, read as it is parsed: neither the file's
/// bytes nor its rows are ever held whole (a file of millions of rows costs a few chunks of
/// memory). Its header is checked now; the row count is estimated from the first megabyte.
pub fn stream_csv_file(kind: Kind, path: &std::path::Path) -> Result<CsvStream, Vec<RowError>> {
    let unreadable = |e: std::io::Error| {
        vec![RowError {
            line: 1,
            column: None,
            reason: format!("cannot read the file: {e}"),
        }]
    };
    refuse_peer_points(kind)?;
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    let mut sample = Vec::new();
    (&mut file)
        .take(SAMPLE_BYTES)
        .read_to_end(&mut sample)
        .map_err(unreadable)?;
    let (columns, body_start) = read_header(kind, &sample)?;
    let header_lines = bytecount(&sample[..body_start], b'\n') as u64;
    let sampled_rows = bytecount(&sample[body_start..], b'\n').max(1) as u64;
    let sampled_bytes = (sample.len() - body_start).max(1) as u64;
    let estimated_rows = (size.saturating_sub(body_start as u64)) * sampled_rows / sampled_bytes;
    let mut rows = std::io::Cursor::new(sample);
    rows.set_position(body_start as u64);
    let body = rows.chain(std::io::BufReader::with_capacity(1 << 20, file));
    Ok(stream_rows(
        kind,
        columns,
        body,
        estimated_rows,
        header_lines,
    ))
}

/// An empty batch of `kind`, with room for about `rows` rows.
fn empty_batch(kind: Kind, rows: usize) -> RecordBatch {
    let rows = rows + 1;
    match kind {
        Kind::People => RecordBatch::People(Vec::with_capacity(rows)),
        Kind::Units => RecordBatch::Units(Vec::with_capacity(rows)),
        Kind::Assignments => RecordBatch::Assignments(Vec::with_capacity(rows)),
        Kind::Nodes => RecordBatch::Nodes(Vec::with_capacity(rows)),
        Kind::Edges => RecordBatch::Edges(Vec::with_capacity(rows)),
        Kind::Members => RecordBatch::Members(Vec::with_capacity(rows)),
        Kind::Contributions => RecordBatch::Contributions(Vec::with_capacity(rows)),
        Kind::Outcomes => RecordBatch::Outcomes(Vec::with_capacity(rows)),
        Kind::Handovers => RecordBatch::Handovers(Vec::with_capacity(rows)),
        Kind::PeerPoints => RecordBatch::PeerPoints(Vec::with_capacity(rows)),
        Kind::Cycles => RecordBatch::Cycles(Vec::with_capacity(rows)),
        Kind::Ratings => RecordBatch::Ratings(Vec::with_capacity(rows)),
    }
}

/// Parses one row into `batch`; problems go to `cells.errors`.
fn read_row(c: &mut Cells<'_>, line: u64, batch: &mut RecordBatch) {
    fn push<T>(rows: &mut Vec<Row<T>>, line: u64, record: Option<T>) {
        if let Some(record) = record {
            rows.push(Row { line, record });
        }
    }
    // Each arm reads every cell first (so every bad cell is reported), then builds the record
    // only if all of them were good.
    match batch {
        RecordBatch::People(rows) => {
            let (person_id, name, email) =
                (c.text("person_id"), c.text("name"), c.opt_text("email"));
            let (joined_on, left_on) = (c.date("joined_on"), c.opt_date("left_on"));
            let record = (|| {
                Some(PersonRecord {
                    person_id,
                    name,
                    email,
                    joined_on: joined_on?,
                    left_on: left_on?,
                })
            })();
            push(rows, line, record.filter(|_| c.errors.is_empty()));
        }
        RecordBatch::Units(rows) => {
            let (unit_id, name, parent_unit_id) = (
                c.text("unit_id"),
                c.text("name"),
                c.opt_text("parent_unit_id"),
            );
            let (valid_from, valid_to) = (c.date("valid_from"), c.opt_date("valid_to"));
            let record = (|| {
                Some(UnitRecord {
                    unit_id,
                    name,
                    parent_unit_id,
                    valid_from: valid_from?,
                    valid_to: valid_to?,
                })
            })();
            push(rows, line, record.filter(|_| c.errors.is_empty()));
        }
        RecordBatch::Assignments(rows) => {
            let (person_id, unit_id, manager_id) = (
                c.text("person_id"),
                c.text("unit_id"),
                c.opt_text("manager_id"),
            );
            let valid_from = c.date("valid_from");
            let record = (|| {
                Some(AssignmentRecord {
                    person_id,
                    unit_id,
                    manager_id,
                    valid_from: valid_from?,
                })
            })();
            push(rows, line, record.filter(|_| c.errors.is_empty()));
        }
        RecordBatch::Nodes(rows) => {
            let node_id = c.text("node_id");
            let node_kind = c.required("kind", NodeKind::from_str);
            let (title, lead_id, created_on) =
                (c.text("title"), c.opt_text("lead_id"), c.date("created_on"));
            let status = c.parse_with("status", NodeStatus::from_str);
            let flagpole = c.opt_bool("flagpole");
            let description = c.any_text("description");
            let record = (|| {
                Some(NodeRow {
                    node_id,
                    kind: node_kind?,
                    title,
                    lead_id,
                    created_on: created_on?,
                    status: status?,
                    flagpole: flagpole?,
                    description,
                })
            })();
            push(rows, line, record.filter(|_| c.errors.is_empty()));
        }
        RecordBatch::Edges(rows) => {
            let (parent_id, child_id, weight) =
                (c.text("parent_id"), c.text("child_id"), c.amount("weight"));
            let (valid_from, valid_to) = (c.opt_date("valid_from"), c.opt_date("valid_to"));
            let record = (|| {
                Some(EdgeRecord {
                    parent_id,
                    child_id,
                    weight: weight?,
                    valid_from: valid_from?,
                    valid_to: valid_to?,
                })
            })();
            push(rows, line, record.filter(|_| c.errors.is_empty()));
        }
        RecordBatch::Members(rows) => {
            let (node_id, person_id, role) =
                (c.text("node_id"), c.text("person_id"), c.text("role"));
            let (joined_on, left_on) = (c.date("joined_on"), c.opt_date("left_on"));
            let record = (|| {
                Some(MemberRecord {
                    node_id,
                    person_id,
                    role,
                    joined_on: joined_on?,
                    left_on: left_on?,
                })
            })();
            push(rows, line, record.filter(|_| c.errors.is_empty()));
        }
        RecordBatch::Contributions(rows) => {
            let (contribution_id, person_id, node_id) = (
                c.text("contribution_id"),
                c.text("person_id"),
                c.text("node_id"),
            );
            let phase = c.required("phase", Phase::from_str);
            let (date, effort) = (c.date("date"), c.amount("effort"));
            if effort.is_some_and(|e| e.value() < 0.0) {
                c.fail::<()>("effort", "is negative; effort is zero or more".into());
            }
            let description = c.free_text("description");
            let evidence = c.opt_text("evidence");
            let confirmed = c.required("confirmed", parse_bool);
            let record = (|| {
                Some(ContributionRecord {
                    contribution_id,
                    person_id,
                    node_id,
                    phase: phase?,
                    date: date?,
                    effort: effort?,
                    description,
                    evidence,
                    confirmed: confirmed?,
                })
            })();
            push(rows, line, record.filter(|_| c.errors.is_empty()));
        }
        RecordBatch::Outcomes(rows) => {
            let (outcome_id, node_id, date, value) = (
                c.text("outcome_id"),
                c.text("node_id"),
                c.date("date"),
                c.amount("value"),
            );
            let description = c.free_text("description");
            let evidence = c.opt_text("evidence");
            let record = (|| {
                Some(OutcomeRecord {
                    outcome_id,
                    node_id,
                    date: date?,
                    value: value?,
                    description,
                    evidence,
                })
            })();
            push(rows, line, record.filter(|_| c.errors.is_empty()));
        }
        RecordBatch::Handovers(rows) => {
            let (node_id, date) = (c.text("node_id"), c.date("date"));
            let (from_lead_id, to_lead_id) = (c.opt_text("from_lead_id"), c.opt_text("to_lead_id"));
            let (from_unit_id, to_unit_id) = (c.opt_text("from_unit_id"), c.opt_text("to_unit_id"));
            let note = c.free_text("note");
            let record = (|| {
                Some(HandoverRecord {
                    node_id,
                    date: date?,
                    from_lead_id,
                    to_lead_id,
                    from_unit_id,
                    to_unit_id,
                    note,
                })
            })();
            push(rows, line, record.filter(|_| c.errors.is_empty()));
        }
        RecordBatch::PeerPoints(rows) => {
            let (node_id, giver_id) = (c.text("node_id"), c.text("giver_id"));
            let (date, recipient) = (c.date("date"), c.text("recipient_id"));
            let points = c.required("points", parse_count);
            let record = (|| {
                Some(PeerAllocation {
                    date: date?,
                    giver_id,
                    node_id,
                    points: vec![PeerPoints {
                        person_id: recipient,
                        points: points?,
                    }],
                })
            })();
            push(rows, line, record.filter(|_| c.errors.is_empty()));
        }
        RecordBatch::Cycles(rows) => {
            let (cycle_id, name) = (c.text("cycle_id"), c.text("name"));
            let (starts_on, ends_on) = (c.date("starts_on"), c.date("ends_on"));
            let phase = c.parse_with("phase", CyclePhase::from_str);
            let threshold = c.parse_with("anonymity_threshold", parse_count);
            let min_sources = c.parse_with("min_sources", parse_count);
            let attributed = c.opt_bool("attributed_comments");
            let enforce = c.opt_bool("enforce_guidance");
            let committee: Vec<String> = c
                .raw("committee")
                .unwrap_or_default()
                .split([' ', ';'])
                .filter(|id| !id.is_empty())
                .map(str::to_string)
                .collect();
            let record = (|| {
                let mut cycle = CycleRecord::with_defaults(&cycle_id, starts_on?, ends_on?);
                cycle.name = name;
                cycle.phase = phase?.unwrap_or(CyclePhase::Goals);
                cycle.anonymity_threshold = threshold?.unwrap_or(cycle.anonymity_threshold);
                cycle.min_sources = min_sources?.unwrap_or(cycle.min_sources);
                cycle.attributed_comments = attributed?.unwrap_or(false);
                cycle.enforce_guidance = enforce?.unwrap_or(false);
                cycle.committee = committee;
                Some(cycle)
            })();
            push(rows, line, record.filter(|_| c.errors.is_empty()));
        }
        RecordBatch::Ratings(rows) => {
            let (cycle_id, rater_id, ratee_id) =
                (c.text("cycle_id"), c.text("rater_id"), c.text("ratee_id"));
            let relationship = c.required("relationship", Relationship::from_str);
            let (dimension, score) = (c.text("dimension"), c.amount("score"));
            let comment = c.free_text("comment");
            let status = c.parse_with("status", RatingStatus::from_str);
            let record = (|| {
                Some(RatingRecord {
                    cycle_id,
                    rater_id,
                    ratee_id,
                    relationship: relationship?,
                    dimension,
                    score: score?,
                    comment,
                    status: status?.unwrap_or(RatingStatus::Submitted),
                })
            })();
            push(rows, line, record.filter(|_| c.errors.is_empty()));
        }
    }
}

fn parse_count(text: &str) -> Result<u32, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a whole number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_cell_is_reported_with_line_and_column() {
        let text = "contribution_id,person_id,node_id,phase,date,effort,description,confirmed\n\
                    C1,P1,N1,design,2024-02-30,-1,x,maybe\n\
                    C2,P1,N1,build,2024-03-01,2,ok,true\n\
                    C3,,N1,dance,2024-03-01,1,x,false\n";
        let errors = parse_csv(Kind::Contributions, text.as_bytes())
            .err()
            .unwrap_or_default();
        let found: Vec<(u64, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.column.as_deref()))
            .collect();
        assert_eq!(
            found,
            vec![
                (2, Some("date")),
                (2, Some("effort")),
                (2, Some("confirmed")),
                (4, Some("person_id")),
                (4, Some("phase")),
            ]
        );
    }

    #[test]
    fn a_row_with_more_or_fewer_cells_than_the_header_is_refused() {
        let header = "node_id,kind,title,lead_id,created_on,status,flagpole,description\n";
        // An unquoted comma in the description: one cell too many, even as the only row.
        let one_row = format!(
            "{header}INI9,initiative,X,P09,2024-05-01,active,false,first part, second part\n"
        );
        let errors = parse_csv(Kind::Nodes, one_row.as_bytes())
            .err()
            .unwrap_or_default();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, 2);
        assert!(
            errors[0].reason.contains("9 cells but the header has 8"),
            "{errors:?}"
        );
        assert!(errors[0].reason.contains("must be quoted"), "{errors:?}");
        // Too few, for each kind that once let them through, after a good row.
        for (kind, header, good, short) in [
            (
                Kind::Nodes,
                header,
                "INI8,initiative,X,P09,2024-05-01,active,false,d",
                "INI9,initiative,X,P09,2024-05-01,active",
            ),
            (
                Kind::Edges,
                "parent_id,child_id,weight,valid_from\n",
                "N1,N2,0.5,2024-01-01",
                "N1,N3,0.5",
            ),
            (
                Kind::Cycles,
                "cycle_id,name,starts_on,ends_on\n",
                "C1,One,2024-01-01,2024-06-30",
                "C2,Two",
            ),
        ] {
            let text = format!("{header}{good}\n{short}\n");
            let errors = parse_csv(kind, text.as_bytes()).err().unwrap_or_default();
            let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
            assert_eq!(lines, vec![3], "{kind}: {errors:?}");
            assert!(
                errors[0]
                    .reason
                    .contains("every row needs a cell for each column"),
                "{errors:?}"
            );
        }
        // A quoted comma is one cell.
        let quoted = format!(
            "{header}INI9,initiative,X,P09,2024-05-01,active,false,\"first part, second part\"\n"
        );
        assert!(parse_csv(Kind::Nodes, quoted.as_bytes()).is_ok());
    }

    #[test]
    fn a_streamed_file_gives_the_rows_and_errors_of_a_whole_reading() {
        let mut text = String::from(
            "contribution_id,person_id,node_id,phase,date,effort,description,confirmed\n",
        );
        for i in 0..40_000 {
            let effort = if i % 9_999 == 7 { "-1" } else { "2" };
            text.push_str(&format!(
                "C{i},P1,N1,build,2024-03-01,{effort},\"item {i}, with a comma\",true\n"
            ));
        }
        text.push_str("C-last,P1,N1,dance,2024-03-01,1,x,false\n");
        let whole_errors = parse_csv(Kind::Contributions, text.as_bytes())
            .err()
            .unwrap_or_default();
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        let stream = stream_csv(Kind::Contributions, text.clone().into_bytes()).expect("header");
        assert_eq!(stream.estimated_rows, 40_001);
        let mut chunks = 0;
        for (batch, batch_errors) in stream {
            chunks += 1;
            errors.extend(batch_errors);
            if let RecordBatch::Contributions(batch_rows) = batch {
                rows.extend(batch_rows);
            }
        }
        assert!(chunks >= 3, "{chunks} chunks");
        assert_eq!(errors, whole_errors);
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![9, 10_008, 20_007, 30_006, 40_002]
        );
        // The rows that parsed, in order, with their line numbers.
        assert_eq!(rows.len(), 40_001 - 5);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].record.description, "item 0, with a comma");
        assert_eq!(rows.last().map(|r| r.line), Some(40_001));
        assert!(rows.windows(2).all(|w| w[0].line < w[1].line));
    }

    #[test]
    fn the_fast_date_reading_agrees_with_chrono() {
        for text in [
            "2024-02-29",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-05",
            "0000-01-01",
            "9999-12-31",
            "2024-06-3x",
            "2024/06/30",
            "+2024-06-30",
            " 2024-06-30",
        ] {
            let general = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
            let fast = iso_date(text).or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok());
            assert_eq!(fast, general, "{text}");
        }
        assert_eq!(iso_date("2024-06-30"), NaiveDate::from_ymd_opt(2024, 6, 30));
    }

    #[test]
    fn unknown_and_missing_columns_are_errors_but_optional_ones_may_be_left_out() {
        let errors = parse_csv(Kind::Edges, "parent_id,child,weight\n".as_bytes())
            .err()
            .unwrap_or_default();
        let columns: Vec<_> = errors.iter().filter_map(|e| e.column.clone()).collect();
        assert_eq!(columns, vec!["child".to_string(), "child_id".to_string()]);
        let ok = parse_csv(
            Kind::Edges,
            "parent_id,child_id,weight\nA,B,0.5\n".as_bytes(),
        );
        assert!(
            matches!(ok, Ok(RecordBatch::Edges(rows)) if rows.len() == 1 && rows[0].record.valid_from.is_none())
        );
    }
}

#[cfg(test)]
mod parallel_tests {
    use super::*;

    /// A file large enough to be parsed on two threads, with quoted newlines and commas near
    /// the middle, must give the same rows and line numbers as a row-by-row reading.
    #[test]
    fn a_large_file_parses_the_same_in_two_halves() {
        let mut text = String::from("outcome_id,node_id,date,value,description\n");
        let mut expected_lines = Vec::new();
        let mut line = 2u64;
        let mut i = 0;
        while text.len() < PARALLEL_BYTES + 1000 {
            let description = if i % 7 == 0 {
                format!("\"multi\nline, \"\"quoted\"\" {i}\"")
            } else {
                format!("plain {i}")
            };
            text.push_str(&format!("O{i},N1,2024-01-01,{i},{description}\n"));
            expected_lines.push(line);
            line += if i % 7 == 0 { 2 } else { 1 };
            i += 1;
        }
        text.push_str("bad,N1,2024-13-01,1,x\n");
        let errors = parse_csv(Kind::Outcomes, text.as_bytes())
            .err()
            .unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, line, "{:?}", errors[0]);
        let good = &text[..text.len() - "bad,N1,2024-13-01,1,x\n".len()];
        let Ok(RecordBatch::Outcomes(rows)) = parse_csv(Kind::Outcomes, good.as_bytes()) else {
            panic!("the file should parse");
        };
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, expected_lines);
        assert_eq!(rows[7].record.description, "multi\nline, \"quoted\" 7");
        assert_eq!(
            rows.last().map(|r| r.record.outcome_id.clone()),
            Some(format!("O{}", i - 1))
        );
    }
}
