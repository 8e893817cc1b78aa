//! The small SQL surface the ledger needs, implemented once per backend.
//!
//! valuetree's queries are portable SQL (`$1` placeholders work in both SQLite and
//! PostgreSQL when numbered in order of appearance), and its columns use only portable types
//! (text, 64-bit integers, doubles). What differs per backend is how a transaction takes the
//! writer lock and how rows are written in bulk; that is what [`Tx`] hides.

use crate::StoreError;

/// A column value as valuetree stores it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Value {
    pub fn text(text: impl Into<String>) -> Value {
        Value::Text(text.into())
    }

    pub fn opt_text<T: ToString>(text: Option<T>) -> Value {
        text.map_or(Value::Null, |t| Value::Text(t.to_string()))
    }
}

pub type Row = Vec<Value>;

/// A column value borrowed from the current row (no allocation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    /// Text as SQLite stored it, its UTF-8 not checked yet: whoever reads it as text checks
    /// it ([`Cell::text`]), so a reader that only copies the bytes (`verify`, on its reading
    /// thread) does not pay for the check.
    Utf8(&'a [u8]),
}

impl<'a> Cell<'a> {
    /// The cell's text, if it is text and valid UTF-8.
    pub fn text(&self) -> Option<&'a str> {
        match *self {
            Cell::Text(text) => Some(text),
            Cell::Utf8(bytes) => std::str::from_utf8(bytes).ok(),
            _ => None,
        }
    }

    /// The cell as an owned value; text that is not UTF-8 gets replacement characters, as
    /// [`Tx::for_each_row`] gives it.
    pub fn to_value(&self) -> Value {
        match *self {
            Cell::Null => Value::Null,
            Cell::Int(i) => Value::Int(i),
            Cell::Real(f) => Value::Real(f),
            Cell::Text(text) => Value::text(text),
            Cell::Utf8(bytes) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
        }
    }

    /// Whether the cell holds `value`. An integer equals the same number stored as a real
    /// (SQLite may store a whole real as an integer); text compares byte for byte.
    pub fn same_as(&self, value: &Value) -> bool {
        match (*self, value) {
            (Cell::Null, Value::Null) => true,
            (Cell::Int(a), Value::Int(b)) => a == *b,
            (Cell::Real(a), Value::Real(b)) => a == *b,
            (Cell::Int(i), Value::Real(f)) => i as f64 == *f,
            (Cell::Real(f), Value::Int(i)) => *i as f64 == f,
            (Cell::Text(a), Value::Text(b)) => a == b,
            (Cell::Utf8(a), Value::Text(b)) => a == b.as_bytes(),
            _ => false,
        }
    }

    /// The cell's text as bytes (not checked as UTF-8), if it is text.
    pub fn text_bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Cell::Text(text) => Some(text.as_bytes()),
            Cell::Utf8(bytes) => Some(bytes),
            _ => None,
        }
    }
}

/// A projection table: its name, its columns, and how many leading columns form the key.
#[derive(Debug)]
pub struct Table {
    /// Which table this is: code that treats tables differently matches on it, so that a
    /// table added later is a compile error wherever it is not handled (a misspelt name
    /// used to yield no rows, silently).
    pub id: crate::rows::TableId,
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub key_columns: usize,
}

impl Table {
    pub fn upsert_sql(&self, insert: &str, rows: usize) -> String {
        let mut sql = self.insert_sql(insert, rows);
        let keys = self.columns[..self.key_columns].join(", ");
        let updates: Vec<String> = self.columns[self.key_columns..]
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        sql.push_str(&format!(
            " ON CONFLICT ({keys}) DO UPDATE SET {}",
            updates.join(", ")
        ));
        sql
    }

    /// `insert` is the statement's verb: `INSERT`, or a backend's variant of it.
    pub fn insert_sql(&self, insert: &str, rows: usize) -> String {
        let width = self.columns.len();
        let tuples: Vec<String> = (0..rows)
            .map(|r| {
                let params: Vec<String> =
                    (1..=width).map(|c| format!("${}", r * width + c)).collect();
                format!("({})", params.join(", "))
            })
            .collect();
        format!(
            "{insert} INTO {} ({}) VALUES {}",
            self.name,
            self.columns.join(", "),
            tuples.join(", ")
        )
    }

    /// Every row, in whatever order the database keeps them: what loading into maps reads.
    /// Ordered by the key, SQLite walks the key's index and looks each row up from there: for
    /// an organisation's assignments and memberships, several times as long as the scan.
    pub fn scan_sql(&self) -> String {
        format!("SELECT {} FROM {}", self.columns.join(", "), self.name)
    }
}

/// One transaction on one backend.
pub trait Tx {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError>;

    /// Runs a query and hands each row to `each`, without holding the whole result.
    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Like [`Tx::for_each_row`], but hands each row as borrowed cells, valid during the call.
    fn for_each_cells(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(&[Cell<'_>]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Writes rows; existing keys are updated when `upsert`, an error otherwise.
    fn write_rows(&mut self, table: &Table, rows: &[Row], upsert: bool) -> Result<(), StoreError>;

    /// Announces that about `incoming` rows are about to be written into `table`. A backend
    /// may then keep the table's secondary indexes out of the way and build them once, before
    /// the commit, when that is cheaper than updating them row by row. The default does
    /// nothing.
    fn prepare_bulk_load(&mut self, table: &Table, incoming: u64) -> Result<(), StoreError> {
        let _ = (table, incoming);
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError>;

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut rows = Vec::new();
        self.for_each_row(sql, params, &mut |row| {
            rows.push(row);
            Ok(())
        })?;
        Ok(rows)
    }
}
