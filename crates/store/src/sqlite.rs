//! SQLite backend (rusqlite, bundled SQLite): the zero-set-up default.
//!
//! rusqlite rather than sqlx: the ledger's bulk import runs prepared statements in a tight
//! loop, where rusqlite's direct calls are several times faster than sqlx's worker-thread
//! round trips, and nothing here needs async.

use crate::StoreError;
use crate::sql::{Cell, Row, Table, Tx, Value};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use std::time::Duration;

const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_ledger_and_projections",
        include_str!("../migrations/sqlite/0001_ledger_and_projections.sql"),
    ),
    (
        "0002_review_cycles",
        include_str!("../migrations/sqlite/0002_review_cycles.sql"),
    ),
    (
        "0003_peer_points",
        include_str!("../migrations/sqlite/0003_peer_points.sql"),
    ),
    (
        "0004_events_without_repetition",
        include_str!("../migrations/sqlite/0004_events_without_repetition.sql"),
    ),
    (
        "0005_index_only_given_event_ids",
        include_str!("../migrations/sqlite/0005_index_only_given_event_ids.sql"),
    ),
    (
        "0006_roles_and_flagpoles",
        include_str!("../migrations/sqlite/0006_roles_and_flagpoles.sql"),
    ),
    (
        "0007_policies",
        include_str!("../migrations/sqlite/0007_policies.sql"),
    ),
    (
        "0008_accounts",
        include_str!("../migrations/sqlite/0008_accounts.sql"),
    ),
    (
        "0009_account_language",
        include_str!("../migrations/sqlite/0009_account_language.sql"),
    ),
    (
        "0010_personal_data",
        include_str!("../migrations/sqlite/0010_personal_data.sql"),
    ),
    (
        "0011_uncalibrated_scores",
        include_str!("../migrations/sqlite/0011_uncalibrated_scores.sql"),
    ),
];

/// Opens `path` with `flags`; a connection is used by one thread at a time, so no mutex
/// around every call. Concurrent writers wait for the lock rather than fail.
fn connect(path: &str, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        flags | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Open {
        url: path.to_string(),
        reason: e.to_string(),
    })?;
    conn.busy_timeout(Duration::from_secs(120))?;
    Ok(conn)
}

pub fn open(path: &str) -> Result<Connection, StoreError> {
    let conn = connect(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    )?;
    // Before anything is written: `journal_mode` below rewrites the header of any file.
    claim(&conn, path)?;
    // WAL lets readers go on while a writer writes.
    // Takes effect only on a new, empty file (before the first table exists).
    conn.pragma_update(None, "page_size", 8192)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk before it is acknowledged (an import is one commit, so the
    // cost is one fsync per import, not per row).
    conn.pragma_update(None, "synchronous", "FULL")?;
    // While readers never pause (a busy server), the write-ahead log cannot start over and
    // grows; when it does start over, the file is cut back to this size.
    conn.pragma_update(None, "journal_size_limit", 64i64 << 20)?;
    conn.pragma_update(None, "cache_size", PAGE_CACHE_KIB)?;
    // Sorts (index builds after a bulk load) spill to temporary files, not memory: a file
    // sorter keeps its keys in one buffer instead of an allocation per key, and can hand
    // sorted runs to helper threads (`threads`; the import's other core is idle while its
    // indexes are built). The measurements behind both choices are in docs/decisions.md
    // ("Import speed").
    conn.pragma_update(None, "temp_store", "FILE")?;
    conn.pragma_update(None, "threads", 2)?;
    // Reads through a memory map instead of a read() system call per page.
    conn.pragma_update(None, "mmap_size", 1i64 << 34)?;
    migrate(&conn, path)?;
    Ok(conn)
}

/// An error's first line: a failed migration's message must not print its SQL.
pub(crate) fn first_line(message: &str) -> String {
    message
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

/// SQLite's header field for the application a file belongs to: "vtre" in ASCII. It marks
/// valuetree's databases, so that `--db` naming someone else's file is refused unchanged.
pub const APPLICATION_ID: i64 = 0x7674_7265;

/// Marks a new (empty) file, or one written before the mark existed (its migrations table
/// lists valuetree's first migration), as valuetree's; refuses any other.
fn claim(conn: &Connection, path: &str) -> Result<(), StoreError> {
    let id: i64 = match conn.pragma_query_value(None, "application_id", |r| r.get(0)) {
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::NotADatabase => {
            return Err(StoreError::NotOurs {
                url: path.to_string(),
                found: "it is not a SQLite database".into(),
            });
        }
        found => found?,
    };
    if id == APPLICATION_ID {
        return Ok(());
    }
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    let found = if id != 0 {
        Some(format!("its SQLite application_id is {id:#x}"))
    } else if objects == 0 {
        None
    } else {
        let ours: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )?;
        let ours = ours == 1
            && conn.query_row(
                "SELECT count(*) FROM schema_migrations WHERE name = ?1",
                [MIGRATIONS[0].0],
                |r| r.get::<_, i64>(0),
            )? == 1;
        (!ours).then(|| format!("it holds {objects} tables and indexes of something else"))
    };
    if let Some(found) = found {
        return Err(StoreError::NotOurs {
            url: path.to_string(),
            found,
        });
    }
    conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    Ok(())
}

fn migrate(conn: &Connection, path: &str) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)",
    )?;
    for (name, sql) in MIGRATIONS {
        let done: i64 = conn.query_row(
            "SELECT count(*) FROM schema_migrations WHERE name = ?1",
            [name],
            |r| r.get(0),
        )?;
        if done == 0 {
            // IMMEDIATE: two processes opening a new file at once must not both migrate it.
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let again: i64 = conn.query_row(
                "SELECT count(*) FROM schema_migrations WHERE name = ?1",
                [name],
                |r| r.get(0),
            )?;
            if again == 0 {
                if let Err(e) = conn.execute_batch(sql) {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(StoreError::Migration {
                        url: path.to_string(),
                        migration: name.to_string(),
                        reason: first_line(&e.to_string()),
                    });
                }
                conn.execute(
                    "INSERT INTO schema_migrations (name, applied) VALUES (?1, datetime('now'))",
                    [name],
                )?;
            }
            conn.execute_batch("COMMIT")?;
        }
    }
    Ok(())
}

/// Whether a second connection to `path` would see the same database: a file, not an
/// in-memory or temporary database (each connection to those gets a database of its own).
pub fn has_shared_file(path: &str) -> bool {
    std::path::Path::new(path).is_file()
}

/// A read-only connection to the file: a second connection for parallel readers, or the
/// only one of a command that reads a database it cannot write.
///
/// A database in write-ahead-log mode is read through its `-shm` index, which SQLite must
/// be able to create beside the file. Where it cannot (a read-only folder: a backup, a
/// mounted snapshot) and no log is left over, the file is opened as immutable: nothing can
/// be writing to a file nobody can create the index for.
pub fn open_reader(path: &str) -> Result<Connection, StoreError> {
    let conn = connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let conn = match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => conn,
        Err(e) if is_read_only_failure(&e) && !has_leftover_log(path) => {
            drop(conn);
            let conn = connect(&immutable_uri(path), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })?;
            conn
        }
        Err(e) => return Err(e.into()),
    };
    conn.pragma_update(None, "mmap_size", 1i64 << 34)?;
    Ok(conn)
}

/// Opens an existing file for a command that only reads: as [`open`] does where the file
/// and its folder can be written (so that a file of an older version is migrated), and
/// read-only where they cannot (`true` beside the connection then).
pub fn open_for_reading(path: &str) -> Result<(Connection, bool), StoreError> {
    match open(path) {
        Ok(conn) => Ok((conn, false)),
        Err(StoreError::Sqlite(e)) if is_read_only_failure(&e) => {
            let conn = open_reader(path).map_err(|e| match e {
                StoreError::Sqlite(e) if is_read_only_failure(&e) => StoreError::Open {
                    url: path.to_string(),
                    reason: format!(
                        "{e}: its folder cannot be written and a write-ahead log ({path}-wal) beside it holds commits not yet in the file; open it once where it can be written (a copy of the folder) to fold the log in"
                    ),
                },
                e => e,
            })?;
            check_read_only(&conn, path)?;
            Ok((conn, true))
        }
        Err(e) => Err(e),
    }
}

/// Whether SQLite failed because it may not write the file, its folder or its `-shm` index.
pub(crate) fn is_read_only_failure(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(e.code, ErrorCode::ReadOnly | ErrorCode::CannotOpen)
    )
}

/// A write-ahead log left beside the file holds commits the file does not: reading the file
/// as immutable would miss them.
fn has_leftover_log(path: &str) -> bool {
    std::fs::metadata(format!("{path}-wal")).is_ok_and(|m| m.len() > 0)
}

/// `path` as a `file:` URI that opens it immutable (characters that end a URI's path are
/// escaped).
fn immutable_uri(path: &str) -> String {
    let mut uri = String::from("file:");
    for c in path.chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// What [`claim`] and [`migrate`] check, without writing: a read-only file must already be
/// valuetree's and at this version's schema.
fn check_read_only(conn: &Connection, path: &str) -> Result<(), StoreError> {
    let id: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let has_migrations: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        [],
        |r| r.get(0),
    )?;
    let applied: Vec<String> = if has_migrations == 1 {
        let mut statement = conn.prepare("SELECT name FROM schema_migrations")?;
        statement
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let ours = id == APPLICATION_ID || applied.iter().any(|name| name == MIGRATIONS[0].0);
    if !ours {
        return Err(StoreError::NotOurs {
            url: path.to_string(),
            found: if id != 0 {
                format!("its SQLite application_id is {id:#x}")
            } else {
                "it holds no valuetree tables".into()
            },
        });
    }
    if let Some((missing, _)) = MIGRATIONS
        .iter()
        .find(|(name, _)| !applied.iter().any(|done| done == name))
    {
        return Err(StoreError::Migration {
            url: path.to_string(),
            migration: missing.to_string(),
            reason: "the file was written by an older version and cannot be written here (it, or its folder, is read-only); copy it somewhere writable and open the copy once to bring it up to date".into(),
        });
    }
    Ok(())
}

/// A borrowed SQLite value as a [`Cell`].
pub fn cell(value: ValueRef<'_>) -> Cell<'_> {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Int(n),
        ValueRef::Real(f) => Cell::Real(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => Cell::Utf8(t),
    }
}

pub fn begin(conn: &mut Connection, write: bool) -> Result<Box<dyn Tx + '_>, StoreError> {
    let behavior = if write {
        // Take the writer lock at BEGIN, so the head read in this transaction stays the head.
        TransactionBehavior::Immediate
    } else {
        TransactionBehavior::Deferred
    };
    // Inside a group of writes (`Store::begin_group`) the group's transaction holds the
    // writer lock: this write is a savepoint in it, undone alone if it fails.
    let tx = if conn.is_autocommit() {
        Scope::Transaction(conn.transaction_with_behavior(behavior)?)
    } else {
        Scope::Savepoint(conn.savepoint()?)
    };
    Ok(Box::new(SqliteTx {
        tx,
        deferred_indexes: Vec::new(),
        bulk_loads: Vec::new(),
    }))
}

/// A transaction of its own, or a savepoint in a group's transaction.
enum Scope<'c> {
    Transaction(rusqlite::Transaction<'c>),
    Savepoint(rusqlite::Savepoint<'c>),
}

impl std::ops::Deref for Scope<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            Scope::Transaction(tx) => tx,
            Scope::Savepoint(savepoint) => savepoint,
        }
    }
}

impl Scope<'_> {
    fn commit(self) -> rusqlite::Result<()> {
        match self {
            Scope::Transaction(tx) => tx.commit(),
            Scope::Savepoint(savepoint) => savepoint.commit(),
        }
    }
}

struct SqliteTx<'c> {
    tx: Scope<'c>,
    /// `CREATE INDEX` statements of the secondary indexes dropped for a bulk load, run again
    /// before the commit. A rollback brings the dropped indexes back by itself.
    deferred_indexes: Vec<String>,
    /// Tables announced for a bulk load whose indexes are still in place: they are set aside
    /// once enough rows were really written (a re-import that changes nothing writes none,
    /// and must not pay for rebuilding the indexes).
    bulk_loads: Vec<BulkLoad>,
}

impl SqliteTx<'_> {
    /// Counts rows written into a table announced for a bulk load; at the threshold, sets
    /// its secondary indexes aside until the commit.
    fn count_bulk_rows(&mut self, table: &str, rows: u64) -> Result<(), StoreError> {
        let Some(at) = self.bulk_loads.iter().position(|b| b.table == table) else {
            return Ok(());
        };
        self.bulk_loads[at].written += rows;
        if self.bulk_loads[at].written < BULK_LOAD_TRIGGER_ROWS {
            return Ok(());
        }
        self.bulk_loads.swap_remove(at);
        // Indexes with SQL are the ones a migration created; the automatic indexes behind
        // PRIMARY KEY and UNIQUE (sql IS NULL) stay, they enforce the keys.
        let indexes: Vec<(String, String)> = {
            let mut stmt = self.tx.prepare(
                "SELECT name, sql FROM sqlite_master \
                 WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL ORDER BY name",
            )?;
            stmt.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        for (name, sql) in indexes {
            self.tx.execute_batch(&format!("DROP INDEX {name}"))?;
            self.deferred_indexes.push(sql);
        }
        Ok(())
    }
}

struct BulkLoad {
    table: &'static str,
    written: u64,
}

/// The page cache (negative: KiB); SQLite only takes the memory as it needs it. Reads go
/// through the memory map, so the cache mostly holds a write's dirty pages: at 64 MiB a
/// large import writes them to the WAL while rows still stream (the writer has slack then)
/// rather than all at the commit, with less resident memory than a larger cache (measured
/// against 256 MiB: docs/decisions.md, "SQLite settings").
const PAGE_CACHE_KIB: i64 = -65_536;

/// The page cache while deferred indexes are built, which also sizes the sorter's runs.
const INDEX_BUILD_CACHE_KIB: i64 = -4_096;

/// Rows per multi-row INSERT statement (at most 32,766 parameters: the widest table has 13
/// columns).
const ROWS_PER_INSERT: usize = 32;

/// With SQLite's default conflict resolution (ABORT), a multi-row INSERT that fails halfway
/// undoes the rows it already wrote, so SQLite keeps a statement journal: a copy of every
/// existing page the statement changes, a memory copy per page per statement (measured: about
/// a tenth of a 1,000,000-row import's CPU). The store never goes on with a transaction after a
/// failed write (the caller rolls it all back), so FAIL, which keeps the rows written before
/// the error, is as safe and needs no journal.
const MULTI_ROW_INSERT: &str = "INSERT OR FAIL";

/// Below this many incoming rows, updating the indexes row by row costs too little to matter.
const BULK_LOAD_MIN_ROWS: u64 = 50_000;

/// The indexes are set aside once this many rows were really written: the few written
/// before cost little, and an import whose rows are mostly unchanged does not rebuild the
/// indexes for nothing.
const BULK_LOAD_TRIGGER_ROWS: u64 = 10_000;

/// Building an index from scratch costs a fraction of inserting as many keys one by one in
/// random order (docs/decisions.md, "Bulk loads build secondary indexes once"), so rebuilding
/// pays while the table already holds at most about twice the incoming rows.
const BULK_LOAD_MAX_EXISTING_PER_INCOMING: u64 = 2;

/// Runs a prepared multi-row INSERT for `group`, binding only the parameters whose value
/// differs from the one still bound from the statement's previous run (`bound`, empty
/// before the first). SQLite keeps bindings across runs, and every text bind costs it an
/// allocation and a copy: the columns a bulk import repeats on every row (the event kind,
/// the recorded time, the actor, the NULLs of a new contribution) are bound once per call
/// instead of once per row (measured: binding was a seventh of the writer's time).
fn execute_rebinding_changes<'r>(
    stmt: &mut rusqlite::CachedStatement<'_>,
    group: &'r [Row],
    bound: &mut Vec<&'r Value>,
) -> Result<(), StoreError> {
    let values = group.iter().flatten();
    let mut count = 0;
    if bound.is_empty() {
        for (i, value) in values.enumerate() {
            stmt.raw_bind_parameter(i + 1, value)?;
            bound.push(value);
            count += 1;
        }
    } else {
        for (i, (value, previous)) in values.zip(bound.iter_mut()).enumerate() {
            if *previous != value {
                stmt.raw_bind_parameter(i + 1, value)?;
                *previous = value;
            }
            count += 1;
        }
    }
    // A short row would leave the previous row's values bound: refuse it, as `execute` does.
    if count != stmt.parameter_count() || group.iter().map(Vec::len).sum::<usize>() != count {
        return Err(rusqlite::Error::InvalidParameterCount(count, stmt.parameter_count()).into());
    }
    stmt.raw_execute()?;
    Ok(())
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn read_row(row: &rusqlite::Row<'_>, width: usize) -> Result<Row, StoreError> {
    let mut out = Vec::with_capacity(width);
    for i in 0..width {
        out.push(cell(row.get_ref(i)?).to_value());
    }
    Ok(out)
}

impl Tx for SqliteTx<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let mut stmt = self.tx.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params))? as u64)
    }

    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            each(read_row(row, width)?)?;
        }
        Ok(())
    }

    fn for_each_cells(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(&[Cell<'_>]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            // On the stack for the usual narrow query: readers stream millions of rows.
            let mut small = [Cell::Null; 16];
            let mut wide = Vec::new();
            let cells: &mut [Cell<'_>] = if width <= small.len() {
                &mut small[..width]
            } else {
                wide.resize(width, Cell::Null);
                &mut wide
            };
            for (i, slot) in cells.iter_mut().enumerate() {
                *slot = cell(row.get_ref(i)?);
            }
            each(cells)?;
        }
        Ok(())
    }

    fn write_rows(&mut self, table: &Table, rows: &[Row], upsert: bool) -> Result<(), StoreError> {
        self.count_bulk_rows(table.name, rows.len() as u64)?;
        // Cached prepared statements of ROWS_PER_INSERT rows, then one per row for the rest:
        // in-process SQLite has no round trip to save, but fewer statements run fewer
        // statement starts and resets.
        let sql = |rows: usize| {
            if upsert {
                table.upsert_sql(MULTI_ROW_INSERT, rows)
            } else {
                table.insert_sql(MULTI_ROW_INSERT, rows)
            }
        };
        let mut groups = rows.chunks_exact(ROWS_PER_INSERT);
        if rows.len() >= ROWS_PER_INSERT {
            let mut stmt = self.tx.prepare_cached(&sql(ROWS_PER_INSERT))?;
            let mut bound = Vec::new();
            for group in &mut groups {
                execute_rebinding_changes(&mut stmt, group, &mut bound)?;
            }
        }
        let mut stmt = self.tx.prepare_cached(&sql(1))?;
        for row in groups.remainder() {
            stmt.execute(rusqlite::params_from_iter(row))?;
        }
        Ok(())
    }

    fn prepare_bulk_load(&mut self, table: &Table, incoming: u64) -> Result<(), StoreError> {
        if incoming < BULK_LOAD_MIN_ROWS {
            return Ok(());
        }
        // max(rowid) is a cheap upper bound of the row count (one step down the table's B-tree).
        let existing: Option<i64> =
            self.tx
                .query_row(&format!("SELECT max(rowid) FROM {}", table.name), [], |r| {
                    r.get(0)
                })?;
        let existing = existing.map_or(0, |n| n.max(0) as u64);
        if existing <= incoming.saturating_mul(BULK_LOAD_MAX_EXISTING_PER_INCOMING)
            && !self.bulk_loads.iter().any(|b| b.table == table.name)
        {
            self.bulk_loads.push(BulkLoad {
                table: table.name,
                written: 0,
            });
        }
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        if !self.deferred_indexes.is_empty() {
            // SQLite's sorter keeps up to the page cache's size of keys in one sorted run:
            // with the normal cache that is every key of a million-row table in one run,
            // sorted on one core. A small cache while the sorter starts cuts the keys into
            // runs that the helper thread sorts while this one reads on, then merges.
            self.tx
                .pragma_update(None, "cache_size", INDEX_BUILD_CACHE_KIB)?;
            let built = self
                .deferred_indexes
                .iter()
                .try_for_each(|sql| self.tx.execute_batch(sql));
            self.tx.pragma_update(None, "cache_size", PAGE_CACHE_KIB)?;
            built?;
        }
        Ok(self.tx.commit()?)
    }
}
