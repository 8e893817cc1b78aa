//! Reading a small CSV file by column name (ratings, reorganisation plans): the header is
//! checked against the columns the file may have, and each row's cells are read by name.

use std::collections::HashMap;
use std::io::Read;
use valuetree_core::import::RowError;

pub(crate) fn row_error(line: u64, column: Option<&str>, reason: String) -> RowError {
    RowError {
        line,
        column: column.map(str::to_string),
        reason,
    }
}

/// The header's columns by name; every unknown and every missing column is an error. `what`
/// names the file in messages ("a plan").
pub(crate) fn check_header(
    headers: &csv::StringRecord,
    required: &[&str],
    optional: &[&str],
    what: &str,
) -> Result<HashMap<String, usize>, Vec<RowError>> {
    let mut columns: HashMap<String, usize> = HashMap::new();
    let mut errors = Vec::new();
    for (i, name) in headers.iter().enumerate() {
        let name = name.trim().trim_start_matches('\u{feff}');
        if !required.contains(&name) && !optional.contains(&name) {
            errors.push(row_error(
                1,
                Some(name),
                format!(
                    "unknown column; {what} has the columns {},[{}]",
                    required.join(","),
                    optional.join(",")
                ),
            ));
        }
        columns.insert(name.to_string(), i);
    }
    for &name in required {
        if !columns.contains_key(name) {
            errors.push(row_error(
                1,
                Some(name),
                format!("missing column; {what} needs {}", required.join(",")),
            ));
        }
    }
    if errors.is_empty() {
        Ok(columns)
    } else {
        Err(errors)
    }
}

pub(crate) struct SmallCsv<R> {
    csv: csv::Reader<R>,
    columns: HashMap<String, usize>,
    record: csv::StringRecord,
}

impl<R: Read> SmallCsv<R> {
    /// Reads the header; every unknown and every missing column is an error. `what` names
    /// the file in messages ("a plan").
    pub(crate) fn open(
        reader: R,
        required: &[&str],
        optional: &[&str],
        what: &str,
    ) -> Result<SmallCsv<R>, Vec<RowError>> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(reader);
        let headers = csv
            .headers()
            .map_err(|e| vec![row_error(1, None, format!("cannot read the header: {e}"))])?
            .clone();
        let columns = check_header(&headers, required, optional, what)?;
        Ok(SmallCsv {
            csv,
            columns,
            record: csv::StringRecord::new(),
        })
    }

    /// Moves to the next row and returns its line; `None` at the end or at a row that is not
    /// CSV (then reported in `errors`).
    pub(crate) fn next_row(&mut self, errors: &mut Vec<RowError>) -> Option<u64> {
        match self.csv.read_record(&mut self.record) {
            Ok(true) => Some(self.record.position().map_or(0, |p| p.line())),
            Ok(false) => None,
            Err(e) => {
                errors.push(row_error(
                    e.position().map_or(0, |p| p.line()),
                    None,
                    format!("not a valid CSV row: {e}"),
                ));
                None
            }
        }
    }

    /// The current row's cell in column `name`, trimmed ("" when the file has no such
    /// column).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.columns
            .get(name)
            .and_then(|&i| self.record.get(i))
            .map(str::trim)
            .unwrap_or("")
    }
}
