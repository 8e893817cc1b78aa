//! PostgreSQL backend (the synchronous `postgres` client), for large deployments.

use crate::StoreError;
use crate::sql::{Cell, Row, Table, Tx, Value};
use bytes::BytesMut;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, NoTls};
use std::error::Error;

const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_ledger_and_projections",
        include_str!("../migrations/postgres/0001_ledger_and_projections.sql"),
    ),
    (
        "0002_review_cycles",
        include_str!("../migrations/postgres/0002_review_cycles.sql"),
    ),
    (
        "0003_peer_points",
        include_str!("../migrations/postgres/0003_peer_points.sql"),
    ),
    (
        "0004_events_without_repetition",
        include_str!("../migrations/postgres/0004_events_without_repetition.sql"),
    ),
    (
        "0005_index_only_given_event_ids",
        include_str!("../migrations/postgres/0005_index_only_given_event_ids.sql"),
    ),
    (
        "0006_roles_and_flagpoles",
        include_str!("../migrations/postgres/0006_roles_and_flagpoles.sql"),
    ),
    (
        "0007_policies",
        include_str!("../migrations/postgres/0007_policies.sql"),
    ),
    (
        "0008_accounts",
        include_str!("../migrations/postgres/0008_accounts.sql"),
    ),
    (
        "0009_account_language",
        include_str!("../migrations/postgres/0009_account_language.sql"),
    ),
    (
        "0010_personal_data",
        include_str!("../migrations/postgres/0010_personal_data.sql"),
    ),
    (
        "0011_uncalibrated_scores",
        include_str!("../migrations/postgres/0011_uncalibrated_scores.sql"),
    ),
];

/// Every writer takes this transaction-scoped advisory lock first, so appends are serialised
/// across processes and the chain cannot fork.
const WRITER_LOCK: i64 = 0x5641_4c55_4554_5245; // "VALUETRE"

/// PostgreSQL accepts at most 65,535 parameters per statement.
const MAX_PARAMS: usize = 60_000;

pub fn open(url: &str) -> Result<Client, StoreError> {
    let mut client = Client::connect(url, NoTls).map_err(|e| StoreError::Open {
        url: redact(url),
        reason: e.to_string(),
    })?;
    migrate(&mut client, url)?;
    Ok(client)
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The table that marks a PostgreSQL database (its current schema) as valuetree's, the
/// counterpart of SQLite's `application_id`.
const MARKER: &str = "valuetree_database";

fn migrate(client: &mut Client, url: &str) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITER_LOCK])?;
    claim(&mut tx, url)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied TIMESTAMPTZ NOT NULL DEFAULT now())",
    )?;
    for (name, sql) in MIGRATIONS {
        let done = tx.query_opt("SELECT 1 FROM schema_migrations WHERE name = $1", &[name])?;
        if done.is_none() {
            tx.batch_execute(sql).map_err(|e| StoreError::Migration {
                url: redact(url),
                migration: name.to_string(),
                reason: crate::sqlite::first_line(&crate::postgres_detail(&e)),
            })?;
            tx.execute("INSERT INTO schema_migrations (name) VALUES ($1)", &[name])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Marks an empty schema, or one written before the marker existed (its migrations table
/// lists valuetree's first migration), as valuetree's; refuses any other without writing.
fn claim(tx: &mut ::postgres::Transaction<'_>, url: &str) -> Result<(), StoreError> {
    let table_exists = |tx: &mut ::postgres::Transaction<'_>, name: &str| {
        tx.query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1",
            &[&name],
        )
        .map(|row| row.get::<_, i64>(0) == 1)
    };
    if table_exists(tx, MARKER)? {
        return Ok(());
    }
    let tables: i64 = tx
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
            &[],
        )?
        .get(0);
    if tables > 0 {
        let ours = table_exists(tx, "schema_migrations")?
            && tx
                .query_opt(
                    "SELECT 1 FROM schema_migrations WHERE name = $1",
                    &[&MIGRATIONS[0].0],
                )?
                .is_some();
        if !ours {
            return Err(StoreError::NotOurs {
                url: redact(url),
                found: format!("its schema holds {tables} tables of something else"),
            });
        }
    }
    tx.batch_execute(&format!(
        "CREATE TABLE {MARKER} (marked TIMESTAMPTZ NOT NULL DEFAULT now()); INSERT INTO {MARKER} DEFAULT VALUES"
    ))?;
    Ok(())
}

pub fn begin(client: &mut Client, write: bool) -> Result<Box<dyn Tx + '_>, StoreError> {
    let mut tx = client.transaction()?;
    if write {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITER_LOCK])?;
    } else {
        // One consistent snapshot for a whole read (verify, export, rebuild --check).
        tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
    }
    Ok(Box::new(PgTx(tx)))
}

struct PgTx<'c>(postgres::Transaction<'c>);

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => i.to_sql(ty, out),
            Value::Real(f) => f.to_sql(ty, out),
            Value::Text(s) => s.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn params(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn read_row(row: &postgres::Row) -> Result<Row, StoreError> {
    let mut out = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        out.push(if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)?
                .map_or(Value::Null, Value::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)?
                .map_or(Value::Null, |n| Value::Int(n.into()))
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(i)?
                .map_or(Value::Null, Value::Real)
        } else {
            row.try_get::<_, Option<String>>(i)?
                .map_or(Value::Null, Value::Text)
        });
    }
    Ok(out)
}

/// Plain inserts (the ledger's events) go through `COPY … FROM STDIN`, PostgreSQL's bulk path.
fn copy_rows(
    tx: &mut postgres::Transaction<'_>,
    table: &Table,
    rows: &[Row],
) -> Result<(), StoreError> {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let mut text = String::with_capacity(rows.len() * 512);
    for row in rows {
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                text.push('\t');
            }
            match value {
                Value::Null => text.push_str("\\N"),
                Value::Int(n) => {
                    let _ = write!(text, "{n}");
                }
                // Display is the shortest text that reads back to the same double.
                Value::Real(f) => {
                    let _ = write!(text, "{f}");
                }
                Value::Text(t) => {
                    for c in t.chars() {
                        match c {
                            '\\' => text.push_str("\\\\"),
                            '\t' => text.push_str("\\t"),
                            '\n' => text.push_str("\\n"),
                            '\r' => text.push_str("\\r"),
                            c => text.push(c),
                        }
                    }
                }
            }
        }
        text.push('\n');
    }
    let sql = format!(
        "COPY {} ({}) FROM STDIN",
        table.name,
        table.columns.join(", ")
    );
    let mut writer = tx.copy_in(&sql)?;
    writer
        .write_all(text.as_bytes())
        .map_err(|e| StoreError::Copy(e.to_string()))?;
    writer.finish()?;
    Ok(())
}

impl Tx for PgTx<'_> {
    fn execute(&mut self, sql: &str, values: &[Value]) -> Result<u64, StoreError> {
        Ok(self.0.execute(sql, &params(values))?)
    }

    fn for_each_row(
        &mut self,
        sql: &str,
        values: &[Value],
        each: &mut dyn FnMut(Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut rows = self.0.query_raw(sql, params(values))?;
        while let Some(row) = rows.next()? {
            each(read_row(&row)?)?;
        }
        Ok(())
    }

    fn for_each_cells(
        &mut self,
        sql: &str,
        values: &[Value],
        each: &mut dyn FnMut(&[Cell<'_>]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut rows = self.0.query_raw(sql, params(values))?;
        while let Some(row) = rows.next()? {
            let mut cells = Vec::with_capacity(row.len());
            for (i, column) in row.columns().iter().enumerate() {
                let ty = column.type_();
                cells.push(if *ty == Type::INT8 {
                    row.try_get::<_, Option<i64>>(i)?
                        .map_or(Cell::Null, Cell::Int)
                } else if *ty == Type::INT4 {
                    row.try_get::<_, Option<i32>>(i)?
                        .map_or(Cell::Null, |n| Cell::Int(n.into()))
                } else if *ty == Type::FLOAT8 {
                    row.try_get::<_, Option<f64>>(i)?
                        .map_or(Cell::Null, Cell::Real)
                } else {
                    row.try_get::<_, Option<&str>>(i)?
                        .map_or(Cell::Null, Cell::Text)
                });
            }
            each(&cells)?;
        }
        Ok(())
    }

    fn write_rows(&mut self, table: &Table, rows: &[Row], upsert: bool) -> Result<(), StoreError> {
        if !upsert {
            return copy_rows(&mut self.0, table, rows);
        }
        // Many rows per statement: one round trip per chunk instead of per row.
        let per_statement = (MAX_PARAMS / table.columns.len()).max(1);
        let mut prepared: Option<(usize, postgres::Statement)> = None;
        for chunk in rows.chunks(per_statement) {
            let statement = match &prepared {
                Some((n, statement)) if *n == chunk.len() => statement.clone(),
                _ => {
                    let sql = if upsert {
                        table.upsert_sql("INSERT", chunk.len())
                    } else {
                        table.insert_sql("INSERT", chunk.len())
                    };
                    let statement = self.0.prepare(&sql)?;
                    prepared = Some((chunk.len(), statement.clone()));
                    statement
                }
            };
            let flat: Vec<&(dyn ToSql + Sync)> = chunk
                .iter()
                .flatten()
                .map(|v| v as &(dyn ToSql + Sync))
                .collect();
            self.0.execute(&statement, &flat)?;
        }
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(self.0.commit()?)
    }
}
