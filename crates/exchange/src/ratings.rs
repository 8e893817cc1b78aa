//! The ratings file: `cycle_id,rater_id,ratee_id,relationship,dimension,score,comment`, with
//! optional `ratee_unit,rater_unit` (the units the two belonged to in that cycle).

use crate::small_csv::{SmallCsv, check_header, row_error};
use rustc_hash::FxHashMap;
use std::io::{Read, Seek};
use std::path::Path;
use valuetree_core::domain::Relationship;
use valuetree_core::import::RowError;

#[derive(Clone, Debug, PartialEq)]
pub struct RatingRow {
    pub line: u64,
    pub cycle_id: String,
    pub rater_id: String,
    pub ratee_id: String,
    pub relationship: Relationship,
    pub dimension: String,
    pub score: f64,
    pub comment: String,
    pub ratee_unit: Option<String>,
    pub rater_unit: Option<String>,
}

/// The columns are the ledger import's (`valuetree import ratings`), where `status` is also
/// accepted; the calibration CLI reads the same files.
const REQUIRED: &[&str] = crate::csv_files::Kind::Ratings.required_columns();
const OPTIONAL: [&str; 3] = ["ratee_unit", "rater_unit", "status"];

/// Reads a ratings file into whole rows (comments included); every bad row is reported (line,
/// column, reason). Calibration reads files with [`read_ratings_file`] instead; this reader,
/// with [`intern_ratings`], is the plain reference the streamed readers are tested against.
pub fn parse_ratings(reader: impl Read) -> Result<Vec<RatingRow>, Vec<RowError>> {
    let mut csv = SmallCsv::open(reader, REQUIRED, &OPTIONAL, "a ratings file")?;
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    while let Some(line) = csv.next_row(&mut errors) {
        let get = |name: &str| csv.get(name);
        let mut bad =
            |column: &str, reason: String| errors.push(row_error(line, Some(column), reason));
        for name in ["cycle_id", "rater_id", "ratee_id", "dimension"] {
            if get(name).is_empty() {
                bad(name, "is empty; a value is required".into());
            }
        }
        let relationship = get("relationship").parse::<Relationship>();
        if let Err(reason) = &relationship {
            bad("relationship", reason.to_string());
        }
        let score = get("score").parse::<f64>().ok().filter(|s| s.is_finite());
        if score.is_none() {
            bad("score", format!("`{}` is not a number", get("score")));
        }
        let optional = |name: &str| {
            Some(get(name))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        if let (Ok(relationship), Some(score)) = (relationship, score) {
            rows.push(RatingRow {
                line,
                cycle_id: get("cycle_id").to_string(),
                rater_id: get("rater_id").to_string(),
                ratee_id: get("ratee_id").to_string(),
                relationship,
                dimension: get("dimension").to_string(),
                score,
                comment: get("comment").to_string(),
                ratee_unit: optional("ratee_unit"),
                rater_unit: optional("rater_unit"),
            });
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Ratings interned for the calibration engine, with the ids to name the results by.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Interned {
    pub input: valuetree_core::calibration::CalibrationInput,
    pub ratees: Vec<String>,
    pub raters: Vec<String>,
    pub units: Vec<String>,
    pub relationships: Vec<String>,
    pub cycles: Vec<String>,
    /// Self-ratings, not fitted: (sum, count) by ratee id.
    pub self_ratings: FxHashMap<String, (f64, u32)>,
}

/// Names numbered in the order they are first seen.
#[derive(Debug, Default)]
struct Names {
    /// Names of up to 15 bytes (ids, units and cycles, nearly always) by their bytes packed
    /// into one integer, with the length: hashed and compared as one number, not as text.
    short: FxHashMap<u128, u32>,
    long: FxHashMap<Box<str>, u32>,
    names: Vec<String>,
    /// The last two names numbered and their numbers, the latest first: a file's rows come
    /// grouped (by cycle, by ratee), so the same name often comes again at once, or every
    /// other time (a rating's two units).
    recent: [Option<(u128, u32)>; 2],
}

/// A name of up to 15 bytes as one number: its bytes, and its length in the last byte.
fn packed(name: &str) -> Option<u128> {
    let bytes = name.as_bytes();
    let mut packed = [0u8; 16];
    packed.get_mut(..bytes.len())?.copy_from_slice(bytes);
    if bytes.len() > 15 {
        return None;
    }
    packed[15] = bytes.len() as u8;
    Some(u128::from_le_bytes(packed))
}

impl Names {
    fn number(&mut self, name: &str) -> u32 {
        let Some(key) = packed(name) else {
            if let Some(&i) = self.long.get(name) {
                return i;
            }
            let i = self.add(name);
            self.long.insert(name.into(), i);
            return i;
        };
        match self.recent {
            [Some((latest, i)), _] if latest == key => return i,
            [latest, Some((before, i))] if before == key => {
                self.recent = [Some((before, i)), latest];
                return i;
            }
            _ => {}
        }
        let i = match self.short.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.add(name);
                self.short.insert(key, i);
                i
            }
        };
        self.recent = [Some((key, i)), self.recent[0]];
        i
    }

    /// The number of `name` if it is the last name numbered: found without a lookup.
    fn latest(&self, name: &str) -> Option<u32> {
        match self.recent[0] {
            Some((key, i)) if packed(name) == Some(key) => Some(i),
            _ => None,
        }
    }

    fn add(&mut self, name: &str) -> u32 {
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        i
    }

    /// Numbers `other`'s names, in their order, after this one's: what each of `other`'s
    /// numbers becomes.
    fn absorb(&mut self, other: Names) -> Vec<u32> {
        other.names.iter().map(|name| self.number(name)).collect()
    }
}

/// The calibration input, built one rating at a time.
#[derive(Debug)]
struct InputBuilder<'d> {
    dimension: Option<&'d str>,
    plain: bool,
    ratings: Vec<valuetree_core::calibration::Rating>,
    ratees: Names,
    raters: Names,
    units: Names,
    relationships: Names,
    cycles: Names,
    /// Self-ratings, not fitted: the people who rated themselves, and (sum, count) of each.
    self_raters: Names,
    self_sums: Vec<(f64, u32)>,
    /// By ratee number, that person's number among the self-raters (`NONE` until seen): a
    /// file gives a person's self-rating beside the ratings of them, so their ratee number
    /// is at hand without a lookup, and this finds the rest.
    self_rater_of_ratee: Vec<u32>,
    /// By relationship, its number (`NONE` until seen): an array, not a lookup by name.
    relationship_numbers: [u32; Relationship::ALL.len()],
}

/// Not numbered yet.
const NONE: u32 = u32::MAX;

impl<'d> InputBuilder<'d> {
    /// A builder with room for `ratings` ratings.
    fn new(dimension: Option<&'d str>, plain: bool, ratings: usize) -> Self {
        InputBuilder {
            dimension,
            plain,
            ratings: Vec::with_capacity(ratings),
            ratees: Names::default(),
            raters: Names::default(),
            units: Names::default(),
            relationships: Names::default(),
            cycles: Names::default(),
            self_raters: Names::default(),
            self_sums: Vec::new(),
            self_rater_of_ratee: Vec::new(),
            relationship_numbers: [NONE; Relationship::ALL.len()],
        }
    }

    /// `ratee_id`'s number among the self-raters.
    fn self_rater(&mut self, ratee_id: &str) -> usize {
        let Some(ratee) = self.ratees.latest(ratee_id) else {
            return self.self_raters.number(ratee_id) as usize;
        };
        let ratee = ratee as usize;
        if ratee >= self.self_rater_of_ratee.len() {
            self.self_rater_of_ratee
                .resize(self.ratees.names.len().max(ratee + 1), NONE);
        }
        if self.self_rater_of_ratee[ratee] == NONE {
            self.self_rater_of_ratee[ratee] = self.self_raters.number(ratee_id);
        }
        self.self_rater_of_ratee[ratee] as usize
    }

    fn relationship(&mut self, relationship: Relationship) -> u32 {
        let at = relationship as usize;
        if self.relationship_numbers[at] == NONE {
            self.relationship_numbers[at] = self.relationships.number(relationship.as_str());
        }
        self.relationship_numbers[at]
    }

    fn push(&mut self, row: RatingRef<'_>) {
        if self.dimension.is_some_and(|d| d != row.dimension) {
            return;
        }
        if row.relationship == Relationship::SelfReview {
            let person = self.self_rater(row.ratee_id);
            if person == self.self_sums.len() {
                self.self_sums.push((0.0, 0));
            }
            let entry = &mut self.self_sums[person];
            entry.0 += row.score;
            entry.1 += 1;
            return;
        }
        // The plain model keeps one level of each fixed effect (the intercept alone).
        let (ratee_unit, rater_unit, relationship, cycle) = if self.plain {
            ("", "", self.relationships.number(""), "")
        } else {
            (
                row.ratee_unit.unwrap_or(""),
                row.rater_unit.unwrap_or(""),
                self.relationship(row.relationship),
                row.cycle_id,
            )
        };
        let rating = valuetree_core::calibration::Rating {
            ratee: self.ratees.number(row.ratee_id),
            rater: self.raters.number(row.rater_id),
            ratee_unit: self.units.number(ratee_unit),
            rater_unit: self.units.number(rater_unit),
            relationship,
            cycle: self.cycles.number(cycle),
            score: row.score,
        };
        self.ratings.push(rating);
    }

    /// Appends the ratings `later` built from the rest of the same file: the result is the
    /// one a single builder would have made reading both parts in order.
    fn append(&mut self, later: InputBuilder<'_>) {
        let ratees = self.ratees.absorb(later.ratees);
        let raters = self.raters.absorb(later.raters);
        let units = self.units.absorb(later.units);
        let relationships = self.relationships.absorb(later.relationships);
        let cycles = self.cycles.absorb(later.cycles);
        self.ratings.reserve(later.ratings.len());
        self.ratings.extend(later.ratings.into_iter().map(|r| {
            valuetree_core::calibration::Rating {
                ratee: ratees[r.ratee as usize],
                rater: raters[r.rater as usize],
                ratee_unit: units[r.ratee_unit as usize],
                rater_unit: units[r.rater_unit as usize],
                relationship: relationships[r.relationship as usize],
                cycle: cycles[r.cycle as usize],
                score: r.score,
            }
        }));
        let self_raters = self.self_raters.absorb(later.self_raters);
        self.self_sums
            .resize(self.self_raters.names.len(), (0.0, 0));
        for (person, (sum, count)) in self_raters.into_iter().zip(later.self_sums) {
            let entry = &mut self.self_sums[person as usize];
            entry.0 += sum;
            entry.1 += count;
        }
    }

    fn finish(self) -> Interned {
        let input = valuetree_core::calibration::CalibrationInput {
            ratings: self.ratings,
            ratees: self.ratees.names.len(),
            raters: self.raters.names.len(),
            units: self.units.names.len(),
            relationships: self.relationships.names.len(),
            cycles: self.cycles.names.len(),
            scale: None,
        };
        Interned {
            input,
            ratees: self.ratees.names,
            raters: self.raters.names,
            units: self.units.names,
            relationships: self.relationships.names,
            cycles: self.cycles.names,
            self_ratings: self
                .self_raters
                .names
                .into_iter()
                .zip(self.self_sums)
                .collect(),
        }
    }
}

/// What calibration reads of a rating, borrowed: from a file's [`RatingRow`], or straight from
/// a cycle's records (a cycle holds millions; copying each id into a row first cost as much as
/// the fit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RatingRef<'a> {
    pub cycle_id: &'a str,
    pub rater_id: &'a str,
    pub ratee_id: &'a str,
    pub relationship: Relationship,
    pub dimension: &'a str,
    pub score: f64,
    pub ratee_unit: Option<&'a str>,
    pub rater_unit: Option<&'a str>,
}

impl RatingRow {
    pub fn as_ref(&self) -> RatingRef<'_> {
        RatingRef {
            cycle_id: &self.cycle_id,
            rater_id: &self.rater_id,
            ratee_id: &self.ratee_id,
            relationship: self.relationship,
            dimension: &self.dimension,
            score: self.score,
            ratee_unit: self.ratee_unit.as_deref(),
            rater_unit: self.rater_unit.as_deref(),
        }
    }
}

/// Builds the calibration input from `rows`: the ratings of `dimension` (all dimensions
/// pooled when `None`), self-ratings set aside. With `plain`, units, relationships and cycles
/// are ignored: the model is `score ~ 1 + (1|ratee) + (1|rater)`, for comparison with other
/// tools.
pub fn intern_ratings(rows: &[RatingRow], dimension: Option<&str>, plain: bool) -> Interned {
    intern_rating_refs(rows.iter().map(RatingRow::as_ref), dimension, plain)
}

/// [`intern_ratings`] over borrowed ratings, in the order given.
pub fn intern_rating_refs<'a>(
    rows: impl IntoIterator<Item = RatingRef<'a>>,
    dimension: Option<&str>,
    plain: bool,
) -> Interned {
    let mut builder = InputBuilder::new(dimension, plain, 0);
    for row in rows {
        builder.push(row);
    }
    builder.finish()
}

/// A ratings row is rarely shorter (`2024,P1,P2,peer,results,3,,U1,U1`, and ids are longer).
const SHORTEST_ROW: u64 = 32;

/// From this size on, a ratings file is read in two parts on two threads.
const PARALLEL_BYTES: u64 = 4 << 20;

/// Reads the ratings file at `path` straight into the calibration input: the same result
/// as [`parse_ratings`] then [`intern_ratings`], and the same messages for bad cells, without
/// holding a row of strings per rating (a company's file has millions). Unlike the row
/// reader, a row of the wrong width or not UTF-8 is reported and reading goes on. A large
/// file is read in two parts on two threads, split at a record boundary; the errors and their
/// lines are those of reading it in one part.
pub fn read_ratings_file(
    path: &Path,
    dimension: Option<&str>,
    plain: bool,
) -> Result<Interned, Vec<RowError>> {
    read_ratings_file_split(path, dimension, plain, PARALLEL_BYTES)
}

fn read_ratings_file_split(
    path: &Path,
    dimension: Option<&str>,
    plain: bool,
    parallel_bytes: u64,
) -> Result<Interned, Vec<RowError>> {
    let unreadable =
        |e: std::io::Error| vec![row_error(1, None, format!("cannot read the file: {e}"))];
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    let mut whole = csv_reader(file, true);
    let columns = RatingColumns::of_header(&mut whole)?;
    // Room for every row at once (growing a vector of millions copies it, page by page):
    // reserved, not touched, so what no rating fills costs no memory.
    let rows = usize::try_from(size / SHORTEST_ROW).unwrap_or(usize::MAX);
    let mut builder = InputBuilder::new(dimension, plain, rows);
    let mut errors = Vec::new();
    let split = if size >= parallel_bytes {
        line_start_after(path, size / 2).map_err(unreadable)?
    } else {
        None
    };
    let Some(split) = split else {
        read_rows(&mut whole, &columns, &mut builder, &mut errors, None, None);
        return finish(builder, errors);
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let later = scope.spawn(|| {
            let mut file = std::fs::File::open(path).map_err(unreadable)?;
            file.seek(std::io::SeekFrom::Start(split))
                .map_err(unreadable)?;
            let mut rest = csv_reader(file, false);
            let mut builder = InputBuilder::new(dimension, plain, rows / 2);
            let mut errors = Vec::new();
            read_rows(
                &mut rest,
                &columns,
                &mut builder,
                &mut errors,
                None,
                Some(&stop),
            );
            Ok::<_, Vec<RowError>>((builder, errors))
        });
        let reached = read_rows(
            &mut whole,
            &columns,
            &mut builder,
            &mut errors,
            Some(split),
            None,
        );
        // Past the middle without a record starting there (a quoted cell held the line
        // break): the first reader has read the whole file, and the second one's rows are
        // not rows.
        if reached.is_none() {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let rest = later
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        if let Some(line) = reached {
            let (rest, rest_errors) = rest?;
            builder.append(rest);
            errors.extend(rest_errors.into_iter().map(|mut e| {
                e.line += line - 1;
                e
            }));
        }
        Ok::<_, Vec<RowError>>(())
    })?;
    finish(builder, errors)
}

/// Reads ratings from `reader` straight into the calibration input, on this thread: what
/// [`read_ratings_file`] does with a file.
pub fn read_ratings(
    reader: impl Read,
    dimension: Option<&str>,
    plain: bool,
) -> Result<Interned, Vec<RowError>> {
    let mut csv = csv_reader(reader, true);
    let columns = RatingColumns::of_header(&mut csv)?;
    let mut builder = InputBuilder::new(dimension, plain, 0);
    let mut errors = Vec::new();
    read_rows(&mut csv, &columns, &mut builder, &mut errors, None, None);
    finish(builder, errors)
}

fn finish(builder: InputBuilder<'_>, errors: Vec<RowError>) -> Result<Interned, Vec<RowError>> {
    if errors.is_empty() {
        Ok(builder.finish())
    } else {
        Err(errors)
    }
}

fn csv_reader<R: Read>(reader: R, has_headers: bool) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(has_headers)
        // Rows of the wrong width are reported one by one, not as the end of the file.
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(reader)
}

/// Where the first line after byte `from` starts, if it does before the end.
fn line_start_after(path: &Path, from: u64) -> std::io::Result<Option<u64>> {
    use std::io::BufRead;
    let mut file = std::fs::File::open(path)?;
    file.seek(std::io::SeekFrom::Start(from))?;
    let mut line = Vec::new();
    let read = std::io::BufReader::new(file).read_until(b'\n', &mut line)?;
    Ok((line.last() == Some(&b'\n')).then_some(from + read as u64))
}

/// The positions of the cells calibration reads.
#[derive(Clone, Debug)]
struct RatingColumns {
    width: usize,
    cycle_id: usize,
    rater_id: usize,
    ratee_id: usize,
    relationship: usize,
    dimension: usize,
    score: usize,
    ratee_unit: Option<usize>,
    rater_unit: Option<usize>,
}

impl RatingColumns {
    fn of_header<R: Read>(csv: &mut csv::Reader<R>) -> Result<RatingColumns, Vec<RowError>> {
        let headers = csv
            .headers()
            .map_err(|e| vec![row_error(1, None, format!("cannot read the header: {e}"))])?
            .clone();
        let columns = check_header(&headers, REQUIRED, &OPTIONAL, "a ratings file")?;
        let required = |name: &str| {
            columns
                .get(name)
                .copied()
                .ok_or_else(|| vec![row_error(1, Some(name), "missing column".to_string())])
        };
        Ok(RatingColumns {
            width: headers.len(),
            cycle_id: required("cycle_id")?,
            rater_id: required("rater_id")?,
            ratee_id: required("ratee_id")?,
            relationship: required("relationship")?,
            dimension: required("dimension")?,
            score: required("score")?,
            ratee_unit: columns.get("ratee_unit").copied(),
            rater_unit: columns.get("rater_unit").copied(),
        })
    }
}

/// Reads `csv`'s rows into `builder` (bad rows into `errors`) to the end, or, given `until`,
/// up to the record that starts at that byte: then that record's line is returned, the
/// record left unread. When no record starts there (a quoted cell held the line break),
/// reading goes on to the end and returns `None`. `stop` ends the reading early.
fn read_rows<R: Read>(
    csv: &mut csv::Reader<R>,
    columns: &RatingColumns,
    builder: &mut InputBuilder<'_>,
    errors: &mut Vec<RowError>,
    mut until: Option<u64>,
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> Option<u64> {
    let mut record = csv::ByteRecord::new();
    let mut next = csv.position().clone();
    for count in 0u64.. {
        if count % 4096 == 0 && stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
            return None;
        }
        if let Some(boundary) = until {
            // The position before reading is where the next record's bytes start, blank
            // lines included; a record starts at the boundary when it is reached exactly.
            if next.byte() == boundary {
                return Some(next.line());
            }
            if next.byte() > boundary {
                until = None;
            }
        }
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                errors.push(row_error(
                    e.position().map_or(0, |p| p.line()),
                    None,
                    format!("cannot read the file: {e}"),
                ));
                break;
            }
        }
        next = csv.position().clone();
        let line = record.position().map_or(0, |p| p.line());
        read_row(&record, line, columns, builder, errors);
    }
    None
}

/// One row into `builder`, or its problems into `errors`: the checks [`parse_ratings`] makes,
/// with the same messages.
fn read_row(
    record: &csv::ByteRecord,
    line: u64,
    columns: &RatingColumns,
    builder: &mut InputBuilder<'_>,
    errors: &mut Vec<RowError>,
) {
    if record.len() != columns.width {
        errors.push(row_error(
            line,
            None,
            crate::csv_files::wrong_width(record.len(), columns.width),
        ));
        return;
    }
    // An ASCII row (nearly every one) is text as a whole; any other is checked cell by cell.
    if !record.as_slice().is_ascii()
        && let Some(bad) = record
            .iter()
            .position(|cell| std::str::from_utf8(cell).is_err())
    {
        errors.push(row_error(
            line,
            None,
            format!("cell {} is not UTF-8 text; save the file as UTF-8", bad + 1),
        ));
        return;
    }
    // The row's text checked once (cells are ranges of it), not cell by cell. Every cell is
    // text by now (checked above), and so is their concatenation: this cannot fail.
    let text = std::str::from_utf8(record.as_slice()).unwrap_or("");
    let cell = |i: usize| {
        record
            .range(i)
            .and_then(|range| text.get(range))
            .map_or("", str::trim)
    };
    let (cycle_id, rater_id, ratee_id, dimension) = (
        cell(columns.cycle_id),
        cell(columns.rater_id),
        cell(columns.ratee_id),
        cell(columns.dimension),
    );
    let errors_before = errors.len();
    let mut bad = |column: &str, reason: String| errors.push(row_error(line, Some(column), reason));
    for (name, value) in [
        ("cycle_id", cycle_id),
        ("rater_id", rater_id),
        ("ratee_id", ratee_id),
        ("dimension", dimension),
    ] {
        if value.is_empty() {
            bad(name, "is empty; a value is required".into());
        }
    }
    let relationship = cell(columns.relationship).parse::<Relationship>();
    if let Err(reason) = &relationship {
        bad("relationship", reason.to_string());
    }
    let score_text = cell(columns.score);
    let score = match score_text.as_bytes() {
        // One digit, as almost every score is: its value without the float parser.
        [digit @ b'0'..=b'9'] => Some(f64::from(digit - b'0')),
        _ => score_text.parse::<f64>().ok().filter(|s| s.is_finite()),
    };
    if score.is_none() {
        bad("score", format!("`{score_text}` is not a number"));
    }
    if errors.len() > errors_before {
        return;
    }
    let (Ok(relationship), Some(score)) = (relationship, score) else {
        return;
    };
    let optional = |i: Option<usize>| i.map(cell).filter(|v| !v.is_empty());
    builder.push(RatingRef {
        cycle_id,
        rater_id,
        ratee_id,
        relationship,
        dimension,
        score,
        ratee_unit: optional(columns.ratee_unit),
        rater_unit: optional(columns.rater_unit),
    });
}

#[cfg(test)]
mod tests;
