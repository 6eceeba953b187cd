//! Writes generated rows to any of the databases. Every table goes through the same
//! path: its rows, parents first, in large multi-row statements; only the statement's
//! shape and how a [`Value`] is bound differ between SQLite, PostgreSQL and MySQL.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sqlx::error::BoxDynError;
use sqlx::mysql::MySqlArguments;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgArguments;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, AssertSqlSafe, Connection, MySql, Postgres, Sqlite, Transaction};

use super::rows::{Batch, Ids, Rows, Table, Value};
use crate::db::Db;

/// SQLite refuses statements with more bound parameters than this.
const SQLITE_MAX_PARAMETERS: usize = 32_766;

/// MySQL's prepared statements take at most this many parameters.
const MYSQL_MAX_PARAMETERS: usize = 65_535;

/// Rows per PostgreSQL statement. Each column travels as one array parameter, so the
/// 65,535-parameter limit never binds; this only keeps each message a few megabytes.
const POSTGRES_ROWS_PER_STATEMENT: usize = 10_000;

/// Where a seed's rows go.
///
/// SQLite: one connection, so each statement is prepared once; each batch is its own
/// transaction. PostgreSQL: the whole seed is one transaction in which the demo tables'
/// foreign keys and plain indexes are dropped and re-created after the load, as
/// PostgreSQL's manual advises for bulk loading ("Populating a Database"): checking
/// millions of rows one by one costs more than all the rest of the load, while
/// re-creating a constraint validates every row in one join, and an index is built
/// faster in one sort than row by row. Being one transaction, nobody ever sees the
/// tables without them (readers of the demo tables wait until the commit), and an
/// interrupted seed leaves nothing behind. MySQL: the whole seed is one transaction
/// too, of multi-row statements as large as its parameter limit allows.
pub(super) enum Writer {
    Sqlite(PoolConnection<Sqlite>),
    Postgres {
        tx: Transaction<'static, Postgres>,
        /// The statements that re-create the foreign keys and indexes dropped.
        restore: Vec<String>,
    },
    Mysql(Transaction<'static, MySql>),
}

impl Writer {
    /// Deletes the tenants named `slugs` (every demo row of theirs goes with them, by
    /// `ON DELETE CASCADE`) and prepares `db` for the load; returns the writer and the
    /// ids that follow those already in the database.
    pub(super) async fn start(db: &Db, slugs: &[String]) -> Result<(Writer, Ids), sqlx::Error> {
        let mut writer = match db {
            Db::Sqlite(pool) => Writer::Sqlite(pool.acquire().await?),
            Db::Postgres(pool) => Writer::Postgres {
                tx: pool.begin().await?,
                restore: Vec::new(),
            },
            Db::Mysql(pool) => Writer::Mysql(pool.begin().await?),
        };
        let delete = |placeholder: &str| format!("DELETE FROM tenants WHERE slug = {placeholder}");
        for slug in slugs {
            match &mut writer {
                Writer::Sqlite(conn) => {
                    sqlx::query(AssertSqlSafe(delete("?1")))
                        .bind(slug)
                        .execute(&mut **conn)
                        .await?;
                }
                Writer::Postgres { tx, .. } => {
                    sqlx::query(AssertSqlSafe(delete("$1")))
                        .bind(slug)
                        .execute(&mut **tx)
                        .await?;
                }
                Writer::Mysql(tx) => {
                    sqlx::query(AssertSqlSafe(delete("?")))
                        .bind(slug)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        let mut largest = [0; Table::ALL.len()];
        for table in Table::ALL {
            let sql = format!("SELECT COALESCE(MAX(id), 0) FROM {}", table.name());
            largest[table as usize] = match &mut writer {
                Writer::Sqlite(conn) => {
                    sqlx::query_scalar(AssertSqlSafe(sql))
                        .fetch_one(&mut **conn)
                        .await?
                }
                Writer::Postgres { tx, .. } => {
                    sqlx::query_scalar(AssertSqlSafe(sql))
                        .fetch_one(&mut **tx)
                        .await?
                }
                Writer::Mysql(tx) => {
                    sqlx::query_scalar(AssertSqlSafe(sql))
                        .fetch_one(&mut **tx)
                        .await?
                }
            };
        }
        if let Writer::Postgres { tx, restore } = &mut writer {
            *restore = suspend_constraints(tx).await?;
        }
        Ok((writer, Ids::after(largest)))
    }

    /// Writes every row of `batch`, parents before children.
    pub(super) async fn write(&mut self, batch: &Batch) -> Result<(), sqlx::Error> {
        match self {
            Writer::Sqlite(conn) => {
                // IMMEDIATE takes the write lock up front, so a concurrent writer makes
                // us wait (busy timeout) instead of failing half-way through.
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                for rows in batch.tables() {
                    for (sql, arguments) in
                        values_statements(rows, SQLITE_MAX_PARAMETERS, bind_sqlite)?
                    {
                        sqlx::query_with(AssertSqlSafe(sql), arguments)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await
            }
            Writer::Postgres { tx, .. } => {
                for rows in batch.tables() {
                    insert_postgres(tx, rows).await?;
                }
                Ok(())
            }
            Writer::Mysql(tx) => {
                for rows in batch.tables() {
                    for (sql, arguments) in
                        values_statements(rows, MYSQL_MAX_PARAMETERS, bind_mysql)?
                    {
                        sqlx::query_with(AssertSqlSafe(sql), arguments)
                            .execute(&mut **tx)
                            .await?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Ends the load. PostgreSQL: re-creates the indexes and foreign keys (validating
    /// every row),
    /// moves the id sequences past the ids the seed chose so that later inserts without
    /// an id do not collide, and commits. SQLite needs nothing: a rowid given no value is
    /// always one past the largest, nor does MySQL, whose AUTO_INCREMENT follows the
    /// largest id inserted.
    pub(super) async fn finish(self) -> Result<(), sqlx::Error> {
        if let Writer::Mysql(tx) = self {
            return tx.commit().await;
        }
        if let Writer::Postgres { mut tx, restore } = self {
            for statement in restore {
                sqlx::query(AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await?;
            }
            for table in Table::ALL {
                let name = table.name();
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence('{name}', 'id'), \
                     COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
                );
                sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Drops the foreign keys and the plain (non-unique) indexes of the demo tables, read
/// from the catalog so that they match the migrations whatever those say; returns the
/// statements that re-create them.
async fn suspend_constraints(conn: &mut sqlx::PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let tables: Vec<&str> = Table::ALL.iter().map(|table| table.name()).collect();
    let statements: Vec<(String, String)> = sqlx::query_as(
        "SELECT drop_it, restore FROM (
             SELECT 1 AS kind, conrelid::regclass::text AS owner, conname::text AS name,
                    format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname)
                        AS drop_it,
                    format('ALTER TABLE %s ADD CONSTRAINT %I %s',
                           conrelid::regclass, conname, pg_get_constraintdef(oid)) AS restore
             FROM pg_constraint
             WHERE contype = 'f' AND conrelid = ANY($1::text[]::regclass[])
             UNION ALL
             SELECT 2, indrelid::regclass::text, indexrelid::regclass::text,
                    format('DROP INDEX %s', indexrelid::regclass),
                    pg_get_indexdef(indexrelid)
             FROM pg_index
             WHERE NOT indisunique AND indrelid = ANY($1::text[]::regclass[])
         ) AS suspended
         ORDER BY kind, owner, name",
    )
    .bind(tables)
    .fetch_all(&mut *conn)
    .await?;
    let mut restore = Vec::with_capacity(statements.len());
    for (drop, create) in statements {
        sqlx::query(AssertSqlSafe(drop)).execute(&mut *conn).await?;
        restore.push(create);
    }
    Ok(restore)
}

/// `INSERT INTO table (columns) ` — the start of every insert into `table`.
fn insert_into(table: Table) -> String {
    format!(
        "INSERT INTO {} ({}) ",
        table.name(),
        table.columns().join(", ")
    )
}

/// Multi-row `VALUES` statements with `?` placeholders and their arguments, as many
/// rows each as `max_parameters` allows.
fn values_statements<A: Default>(
    rows: &Rows,
    max_parameters: usize,
    bind: fn(&mut A, &Value) -> Result<(), BoxDynError>,
) -> Result<Vec<(String, A)>, sqlx::Error> {
    let width = rows.table.columns().len();
    let row_placeholders = format!("({})", vec!["?"; width].join(", "));
    rows.values
        .chunks(max_parameters / width * width)
        .map(|chunk| {
            let mut sql = insert_into(rows.table);
            sql.push_str("VALUES ");
            sql.push_str(&vec![row_placeholders.as_str(); chunk.len() / width].join(", "));
            let mut arguments = A::default();
            for value in chunk {
                bind(&mut arguments, value).map_err(sqlx::Error::Encode)?;
            }
            Ok((sql, arguments))
        })
        .collect()
}

/// SQLite stores dates as `YYYY-MM-DD`, timestamps as RFC 3339 UTC text and booleans as
/// 0/1 (what sqlx encodes a `bool` as).
fn bind_sqlite(arguments: &mut SqliteArguments, value: &Value) -> Result<(), BoxDynError> {
    match value {
        Value::Int(value) => arguments.add(*value),
        Value::Text(value) => arguments.add(value.as_deref()),
        Value::Date(value) => arguments.add(*value),
        Value::Timestamp(value) => arguments.add(value.to_rfc3339_opts(SecondsFormat::Secs, true)),
        Value::Bool(value) => arguments.add(*value),
    }
}

/// MySQL stores dates as DATE, timestamps as DATETIME in UTC and booleans as TINYINT(1).
fn bind_mysql(arguments: &mut MySqlArguments, value: &Value) -> Result<(), BoxDynError> {
    match value {
        Value::Int(value) => arguments.add(*value),
        Value::Text(value) => arguments.add(value.as_deref()),
        Value::Date(value) => arguments.add(*value),
        Value::Timestamp(value) => arguments.add(value.naive_utc()),
        Value::Bool(value) => arguments.add(*value),
    }
}

/// `INSERT ... SELECT * FROM UNNEST($1, $2, ...)` with one array per column: PostgreSQL
/// parses and plans one small statement, the same for every chunk, instead of tens of
/// thousands of placeholders.
async fn insert_postgres(conn: &mut sqlx::PgConnection, rows: &Rows) -> Result<(), sqlx::Error> {
    let width = rows.table.columns().len();
    let mut sql = insert_into(rows.table);
    let placeholders: Vec<String> = (1..=width).map(|n| format!("${n}")).collect();
    sql.push_str(&format!(
        "SELECT * FROM UNNEST({})",
        placeholders.join(", ")
    ));
    for chunk in rows.values.chunks(POSTGRES_ROWS_PER_STATEMENT * width) {
        let mut columns: Vec<PgColumn<'_>> = chunk[..width].iter().map(PgColumn::like).collect();
        for (index, value) in chunk.iter().enumerate() {
            columns[index % width].push(value);
        }
        let mut arguments = PgArguments::default();
        for column in columns {
            column.bind(&mut arguments).map_err(sqlx::Error::Encode)?;
        }
        sqlx::query_with(AssertSqlSafe(sql.clone()), arguments)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// One column of a PostgreSQL statement, gathered into the array it is bound as.
enum PgColumn<'a> {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<&'a str>>),
    Date(Vec<Option<NaiveDate>>),
    Timestamp(Vec<DateTime<Utc>>),
    Bool(Vec<bool>),
}

impl<'a> PgColumn<'a> {
    /// An empty column of `value`'s type.
    fn like(value: &Value) -> PgColumn<'a> {
        match value {
            Value::Int(_) => PgColumn::Int(Vec::new()),
            Value::Text(_) => PgColumn::Text(Vec::new()),
            Value::Date(_) => PgColumn::Date(Vec::new()),
            Value::Timestamp(_) => PgColumn::Timestamp(Vec::new()),
            Value::Bool(_) => PgColumn::Bool(Vec::new()),
        }
    }

    fn push(&mut self, value: &'a Value) {
        match (self, value) {
            (PgColumn::Int(column), Value::Int(value)) => column.push(*value),
            (PgColumn::Text(column), Value::Text(value)) => column.push(value.as_deref()),
            (PgColumn::Date(column), Value::Date(value)) => column.push(*value),
            (PgColumn::Timestamp(column), Value::Timestamp(value)) => column.push(*value),
            (PgColumn::Bool(column), Value::Bool(value)) => column.push(*value),
            (_, value) => unreachable!("every row gives a column the same type, not {value:?}"),
        }
    }

    fn bind(self, arguments: &mut PgArguments) -> Result<(), BoxDynError> {
        match self {
            PgColumn::Int(column) => arguments.add(column),
            PgColumn::Text(column) => arguments.add(column),
            PgColumn::Date(column) => arguments.add(column),
            PgColumn::Timestamp(column) => arguments.add(column),
            PgColumn::Bool(column) => arguments.add(column),
        }
    }
}
