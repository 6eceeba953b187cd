//! Streams a report query's rows out of the database, decoded by the declared column
//! types, in batches: one module per database, sharing the binding of parameters and
//! the row loop. Queries run in read-only transactions with a statement timeout.

mod mysql;
mod postgres;
mod sqlite;

use chrono::NaiveDate;
use futures::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::mpsc;

use super::query::{Batches, Query, SourceError, Streamed};
use crate::catalog::sql::BoundSql;
use crate::catalog::{BindValue, Column};
use crate::db::Db;
use crate::writer::Cell;

/// Runs `query` on `db` and sends its rows to `rows` in batches.
///
/// # Errors
/// When the query fails, a value does not fit its declared type, or the receiver hangs up.
pub(super) async fn stream(
    db: &Db,
    query: &Query<'_>,
    rows: mpsc::Sender<Vec<Vec<Cell>>>,
) -> Result<Streamed, SourceError> {
    match db {
        Db::Sqlite(pool) => sqlite::stream(pool, query, rows).await,
        Db::Postgres(pool) => postgres::stream(pool, query, rows).await,
        Db::Mysql(pool) => mysql::stream(pool, query, rows).await,
    }
}

/// The id `sql` (a definition's tenant query) returns for the tenant `slug` on `db`,
/// if it exists: an integer of any width.
///
/// # Errors
/// When the query fails, or the id is not an integer.
pub(super) async fn tenant_id(
    db: &Db,
    sql: &BoundSql,
    slug: &str,
) -> Result<Option<i64>, SourceError> {
    match db {
        Db::Sqlite(pool) => {
            let row = bind_slug(sql, slug).fetch_optional(pool).await?;
            Ok(row.map(|row| row.try_get(0)).transpose()?)
        }
        Db::Postgres(pool) => {
            let row = bind_slug(sql, slug).fetch_optional(pool).await?;
            row.map(|row| postgres::integer_id(&row)).transpose()
        }
        Db::Mysql(pool) => {
            let row = bind_slug(sql, slug).fetch_optional(pool).await?;
            row.map(|row| mysql::integer_id(&row)).transpose()
        }
    }
}

/// `sql` with `slug` bound at every placeholder (the only name it may use).
fn bind_slug<'q, DB: sqlx::Database>(
    sql: &BoundSql,
    slug: &'q str,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut query = sqlx::query(AssertSqlSafe(sql.text.clone()));
    for _ in &sql.names {
        query = query.bind(slug);
    }
    query
}

/// The time zone `sql` (a definition's `tenant_timezone_sql`) returns for the tenant
/// `tenant_id`; `None` for no row or a NULL.
///
/// # Errors
/// When the query fails or returns something other than text.
pub(super) async fn tenant_timezone(
    db: &Db,
    sql: &BoundSql,
    tenant_id: i64,
) -> Result<Option<String>, SourceError> {
    let query = AssertSqlSafe(sql.text.clone());
    let zone: Option<Option<String>> = crate::on_any_pool!(db, pool => {
        bind_tenant(sqlx::query_scalar(query), sql, tenant_id)
            .fetch_optional(pool)
            .await?
    });
    Ok(zone.flatten())
}

/// `query` with `tenant_id` bound at every placeholder (the only name `sql` may use).
fn bind_tenant<'q, DB: sqlx::Database, O>(
    mut query: sqlx::query::QueryScalar<'q, DB, O, <DB as sqlx::Database>::Arguments>,
    sql: &BoundSql,
    tenant_id: i64,
) -> sqlx::query::QueryScalar<'q, DB, O, <DB as sqlx::Database>::Arguments>
where
    i64: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
{
    for _ in &sql.names {
        query = query.bind(tenant_id);
    }
    query
}

/// The query with every named parameter bound in placeholder order.
fn bind_all<DB: sqlx::Database>(
    query: &Query<'_>,
) -> sqlx::query::Query<'static, DB, <DB as sqlx::Database>::Arguments>
where
    Option<String>: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    Option<i64>: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    Option<NaiveDate>: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    Option<bool>: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
{
    let mut statement = sqlx::query(AssertSqlSafe(query.sql.text.clone()));
    for name in &query.sql.names {
        statement = match query.binds.get(name) {
            Some(BindValue::Text(v)) => statement.bind(v.clone()),
            Some(BindValue::Integer(v)) => statement.bind(*v),
            Some(BindValue::Date(v)) => statement.bind(*v),
            Some(BindValue::Boolean(v)) => statement.bind(*v),
            None => statement.bind(None::<String>),
        };
    }
    statement
}

async fn forward<R: Row>(
    mut stream: impl futures::Stream<Item = Result<R, sqlx::Error>> + Unpin,
    query: &Query<'_>,
    rows: mpsc::Sender<Vec<Vec<Cell>>>,
    decode: fn(&R, usize, &Column) -> Result<Cell, SourceError>,
) -> Result<u64, SourceError> {
    let mut batches = Batches::new(rows);
    let mut first = true;
    while let Some(row) = stream.try_next().await? {
        if first && row.len() != query.columns.len() {
            return Err(SourceError::ColumnCount {
                found: row.len(),
                declared: query.columns.len(),
            });
        }
        first = false;
        let cells = query
            .selected
            .iter()
            .map(|&index| decode(&row, index, &query.columns[index]))
            .collect::<Result<Vec<_>, _>>()?;
        batches.pending().push(cells);
        batches.send_if_full().await?;
    }
    batches.finish().await
}

fn decode_error(column: &Column, found: impl Into<String>) -> SourceError {
    SourceError::Decode {
        column: column.name.clone(),
        expected: column.kind,
        found: found.into(),
    }
}
