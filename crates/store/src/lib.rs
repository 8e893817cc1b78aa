//! valuetree's storage: the hash-chained ledger and its SQL projections.
//!
//! One API, two backends: SQLite (the default, a file next to you) and PostgreSQL (by URL).
//! Every write is one transaction that takes the writer lock, reads the head of the chain,
//! checks the new events against the current projections (through core's
//! [`State`](valuetree_core::state::State)), appends the events and updates the projection
//! rows they changed. Two processes writing at once therefore queue; the chain never forks.

pub mod accounts;
mod credit;
mod ledger;
mod lookup;
mod postgres;
pub mod rows;
pub mod sql;
mod sqlite;

pub use ledger::personal::{
    Erasure, PersonalCheck, RetentionCount, RetentionGroup, RetentionRule, Upgrade,
};
pub use ledger::{
    Head, ImportSource, ImportSummary, Mismatch, Preload, StreamedKind, VerifyReport,
};
pub use lookup::{By, CaughtUp};

use std::fmt;
use std::sync::Arc;
use valuetree_core::chain::ChainError;
use valuetree_core::clock::Clock;
use valuetree_core::import::RowError;

/// The default database when none is given: a SQLite file in the working directory.
pub const DEFAULT_DB: &str = "valuetree.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {url}: {reason}")]
    Open { url: String, reason: String },
    #[error(
        "there is no database at {url}; give the right one with --db (or VALUETREE_DB), or create it by importing (`valuetree import dir examples`)"
    )]
    Missing { url: String },
    #[error(
        "{url} is not a valuetree database: {found}; nothing was written to it. Give valuetree's database with --db (or VALUETREE_DB), or a new file name to create one"
    )]
    NotOurs { url: String, found: String },
    #[error(
        "cannot bring the database {url} up to this version of valuetree (migration {migration}): {reason}"
    )]
    Migration {
        url: String,
        migration: String,
        reason: String,
    },
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {}", postgres_detail(.0))]
    Postgres(#[from] ::postgres::Error),
    #[error("PostgreSQL COPY: {0}")]
    Copy(String),
    #[error("{}", Rejected::summary(.0))]
    Rejected(Vec<FileRowError>),
    #[error("the ledger is damaged: {0}")]
    Chain(#[from] ChainError),
    #[error(
        "table {table} holds a row valuetree cannot read ({reason}); run `valuetree verify` and restore from an export if it fails"
    )]
    Corrupt { table: &'static str, reason: String },
    #[error("event {seq} of the stored ledger cannot be replayed: {reason}")]
    Replay { seq: i64, reason: String },
    #[error(
        "the ledger in {url} is in the form written before valuetree kept personal data out of its hash chain; run `valuetree upgrade` first (it re-encodes the ledger and records its old head; see docs/privacy.md). No other command runs on it"
    )]
    OldForm { url: String },
    #[error("{0}")]
    Changed(String),
}

/// A bad row of one input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRowError {
    pub file: String,
    pub error: RowError,
}

impl fmt::Display for FileRowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.error)
    }
}

/// A PostgreSQL error with the server's own message (its `Display` says only "db error").
pub(crate) fn postgres_detail(error: &::postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    }
}

/// How many bad rows an error message lists before it says "and N more".
pub const MAX_LISTED_ERRORS: usize = 50;

struct Rejected;

impl Rejected {
    fn summary(errors: &[FileRowError]) -> String {
        let mut text = format!(
            "{} bad row{}; nothing was imported:",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
        for e in errors.iter().take(MAX_LISTED_ERRORS) {
            text.push_str(&format!("\n  {e}"));
        }
        if errors.len() > MAX_LISTED_ERRORS {
            text.push_str(&format!(
                "\n  … and {} more",
                errors.len() - MAX_LISTED_ERRORS
            ));
        }
        text
    }
}

enum Connection {
    Sqlite(rusqlite::Connection),
    Postgres(::postgres::Client),
}

pub struct Store {
    connection: Connection,
    clock: Arc<dyn Clock>,
    location: String,
    /// The file, when the store is SQLite (for extra read-only connections).
    sqlite_path: Option<String>,
    /// The master data as of a head this process wrote, so that the next write (while no
    /// other process wrote in between) need not load it again.
    cache: Option<ledger::WriteCache>,
    /// From this many events on, a SQLite chain is walked as two halves at once.
    parallel_chain_from: i64,
    /// Opened read-only because the file or its folder cannot be written here.
    read_only: bool,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location)
            .finish()
    }
}

impl Store {
    /// Opens (creating and migrating if needed) the database at `location`: a
    /// `postgres://` / `postgresql://` URL, a `sqlite:` URL, or a path to a SQLite file.
    pub fn open(location: &str, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        Store::open_any_form(location, clock)?.refusing_old_form()
    }

    /// The store, unless its ledger is in the old form only `valuetree upgrade` opens.
    fn refusing_old_form(mut self) -> Result<Store, StoreError> {
        if self.ledger_form()? == ledger::OLD_FORM {
            return Err(StoreError::OldForm {
                url: self.location.clone(),
            });
        }
        Ok(self)
    }

    /// Opens the database even when its ledger is in the form written before personal data
    /// left the chain: for `valuetree upgrade` (and tests of it) alone.
    pub fn open_any_form(location: &str, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        refuse_sqlite_query(location)?;
        let mut sqlite_path = None;
        let connection = if location.starts_with("postgres://")
            || location.starts_with("postgresql://")
        {
            Connection::Postgres(postgres::open(location)?)
        } else {
            let path = location
                .strip_prefix("sqlite://")
                .or_else(|| location.strip_prefix("sqlite:"))
                .unwrap_or(location);
            sqlite_path = Some(path.to_string());
            Connection::Sqlite(sqlite::open(path).map_err(|e| match e {
                    StoreError::Sqlite(e) if sqlite::is_read_only_failure(&e) => StoreError::Open {
                        url: path.to_string(),
                        reason: format!(
                            "{e}: the file, or the folder it is in, cannot be written here; commands that only read (show, credit, verify, export, …) work on it, a write needs a copy that can be written"
                        ),
                    },
                    e => e,
                })?)
        };
        Ok(Store {
            connection,
            clock,
            location: postgres::redact(location),
            sqlite_path,
            cache: None,
            parallel_chain_from: ledger::PARALLEL_CHAIN_FROM,
            read_only: false,
        })
    }

    /// Opens a database that must already exist: what a read uses, so that a mistyped
    /// `--db` is an error instead of a new, empty database. (A SQLite file of an older
    /// version is still migrated.)
    pub fn open_existing(location: &str, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        refuse_sqlite_query(location)?;
        let is_postgres =
            location.starts_with("postgres://") || location.starts_with("postgresql://");
        if !is_postgres {
            let path = location
                .strip_prefix("sqlite://")
                .or_else(|| location.strip_prefix("sqlite:"))
                .unwrap_or(location);
            let in_memory = path == ":memory:" || path.starts_with("file:");
            if !in_memory && !std::path::Path::new(path).exists() {
                return Err(StoreError::Missing {
                    url: path.to_string(),
                });
            }
            if !in_memory {
                let (connection, read_only) = sqlite::open_for_reading(path)?;
                let store = Store {
                    connection: Connection::Sqlite(connection),
                    clock,
                    location: location.to_string(),
                    sqlite_path: Some(path.to_string()),
                    cache: None,
                    parallel_chain_from: ledger::PARALLEL_CHAIN_FROM,
                    read_only,
                };
                return store.refusing_old_form();
            }
        }
        Store::open(location, clock)
    }

    /// Walks even a small SQLite chain as two halves, as a large one is: for tests that
    /// compare both walks on the same damage.
    #[doc(hidden)]
    pub fn walk_chain_in_halves_from(mut self, events: i64) -> Store {
        self.parallel_chain_from = events;
        self
    }

    /// Whether the store was opened read-only, its file or folder not writable here: a read
    /// that would also record something (an export's audit event) cannot.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Where the store is, with any password hidden.
    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn backend(&self) -> &'static str {
        match self.connection {
            Connection::Sqlite(_) => "sqlite",
            Connection::Postgres(_) => "postgres",
        }
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    fn begin(&mut self, write: bool) -> Result<Box<dyn sql::Tx + '_>, StoreError> {
        begin(&mut self.connection, write)
    }

    /// Starts a group of writes committed together (group commit: one sync for many
    /// writes). Each write in the group is a savepoint, undone alone if it fails; nothing
    /// of the group is durable before [`Store::end_group`] commits it. Only SQLite groups
    /// writes (`false`: the writes commit one by one, as without a group).
    pub fn begin_group(&mut self) -> Result<bool, StoreError> {
        match &mut self.connection {
            Connection::Sqlite(conn) => {
                conn.execute_batch("BEGIN IMMEDIATE")?;
                Ok(true)
            }
            Connection::Postgres(_) => Ok(false),
        }
    }

    /// Commits the group (`commit`), or undoes it all. When the group does not commit, the
    /// master data kept for the next write (which includes the group's writes) is dropped.
    pub fn end_group(&mut self, commit: bool) -> Result<(), StoreError> {
        let Connection::Sqlite(conn) = &mut self.connection else {
            return Ok(());
        };
        if conn.is_autocommit() {
            return Ok(());
        }
        if !commit {
            self.cache = None;
            conn.execute_batch("ROLLBACK")?;
        } else if let Err(e) = conn.execute_batch("COMMIT") {
            self.cache = None;
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }
}

/// A `sqlite:` URL names a file; query parameters (`?mode=ro`) are refused rather than
/// taken as part of the file's name (which would create `x.db?mode=ro`).
fn refuse_sqlite_query(location: &str) -> Result<(), StoreError> {
    let Some(rest) = location
        .strip_prefix("sqlite://")
        .or_else(|| location.strip_prefix("sqlite:"))
    else {
        return Ok(());
    };
    match rest.split_once('?') {
        Some((path, query)) => Err(StoreError::Open {
            url: location.to_string(),
            reason: format!(
                "a sqlite: URL names a file and takes no parameters (`?{query}`); give `sqlite:{path}` or the path alone (commands that only read open the file read-only themselves)"
            ),
        }),
        None => Ok(()),
    }
}

fn begin(connection: &mut Connection, write: bool) -> Result<Box<dyn sql::Tx + '_>, StoreError> {
    match connection {
        Connection::Sqlite(conn) => sqlite::begin(conn, write),
        Connection::Postgres(client) => postgres::begin(client, write),
    }
}
