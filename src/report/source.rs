//! Streams a report query's rows out of the database, decoded by the declared column
//! types, in batches. Queries run in read-only transactions with a statement timeout.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use futures::TryStreamExt;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use sqlx::postgres::{PgRow, PgValueFormat};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Column as _, Row, TypeInfo, ValueRef};
use tokio::sync::mpsc;

use super::binary::Decoder;
use super::query::{Batches, Query, SourceError, Streamed};
use crate::catalog::{BindValue, Column, ColumnType};
use crate::db::Db;
use crate::writer::Cell;

/// Runs `query` on `db` and sends its rows to `rows` in batches.
///
/// # Errors
/// When the query fails, a value does not fit its declared type, or the receiver hangs up.
pub async fn stream(
    db: &Db,
    query: &Query<'_>,
    rows: mpsc::Sender<Vec<Vec<Cell>>>,
) -> Result<Streamed, SourceError> {
    match db {
        Db::Sqlite(pool) => {
            let mut conn = pool.acquire().await?;
            let stream = bind_all(query).fetch(&mut *conn);
            let rows = forward(stream, query, rows, decode_sqlite).await?;
            Ok(Streamed {
                rows,
                copied: false,
            })
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            let millis = query.timeout.as_millis().max(1);
            sqlx::query(AssertSqlSafe(format!(
                "SET LOCAL statement_timeout = {millis}"
            )))
            .execute(&mut *tx)
            .await?;
            let plan = if query.copy {
                super::copy::plan(&mut tx, query).await?
            } else {
                None
            };
            let streamed = match plan {
                Some(plan) => {
                    tracing::debug!(statement = %plan.copy, "rows read through binary COPY");
                    Streamed {
                        rows: copy_rows(&mut tx, &plan, query, rows).await?,
                        copied: true,
                    }
                }
                None => {
                    let stream = bind_all(query).fetch(&mut *tx);
                    Streamed {
                        rows: forward(stream, query, rows, decode_postgres).await?,
                        copied: false,
                    }
                }
            };
            tx.commit().await?;
            Ok(streamed)
        }
    }
}

/// Runs the COPY of `plan` and sends its rows in batches.
async fn copy_rows(
    conn: &mut sqlx::PgConnection,
    plan: &super::copy::CopyPlan,
    query: &Query<'_>,
    batches: mpsc::Sender<Vec<Vec<Cell>>>,
) -> Result<u64, SourceError> {
    if let Some(settings) = &plan.settings {
        let mut statement = sqlx::query(AssertSqlSafe(settings.clone()));
        for value in &plan.values {
            statement = statement.bind(value.clone());
        }
        statement.execute(&mut *conn).await?;
    }
    let mut parser = super::copy::TupleParser::new(plan.width);
    let mut chunks = conn.copy_out_raw(&plan.copy).await?;
    let mut rows = Batches::new(batches);
    while let Some(chunk) = chunks.try_next().await? {
        parser.push(&chunk, &plan.decoders, query.columns, rows.pending())?;
        rows.send_if_full().await?;
    }
    if !parser.finished() {
        return Err(SourceError::Copy(
            "the COPY stream ended before its trailer".into(),
        ));
    }
    rows.finish().await
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

/// SQLite values carry their own storage class, whatever the column declares.
fn decode_sqlite(row: &SqliteRow, index: usize, column: &Column) -> Result<Cell, SourceError> {
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let storage = raw.type_info().name().to_owned();
    let text = || row.try_get_unchecked::<String, _>(index);
    let integer = || row.try_get_unchecked::<i64, _>(index);
    Ok(match column.kind {
        ColumnType::Text => Cell::Text(text()?),
        ColumnType::Integer => Cell::Integer(integer()?),
        ColumnType::Boolean => Cell::Boolean(integer()? != 0),
        ColumnType::Decimal | ColumnType::Money | ColumnType::Percent => match storage.as_str() {
            "INTEGER" => Cell::Decimal(Decimal::new(integer()?, column.scale)),
            "REAL" => {
                let value = row.try_get_unchecked::<f64, _>(index)?;
                Cell::Decimal(
                    Decimal::from_f64(value)
                        .ok_or_else(|| decode_error(column, value.to_string()))?,
                )
            }
            _ => {
                let value = text()?;
                Cell::Decimal(Decimal::from_str(&value).map_err(|_| decode_error(column, value))?)
            }
        },
        ColumnType::Date => {
            let value = text()?;
            Cell::Date(parse_date(&value).ok_or_else(|| decode_error(column, value))?)
        }
        ColumnType::Datetime => {
            let value = text()?;
            Cell::DateTime(parse_datetime(&value).ok_or_else(|| decode_error(column, value))?)
        }
    })
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// PostgreSQL columns have one static type each; decode by it.
fn decode_postgres(row: &PgRow, index: usize, column: &Column) -> Result<Cell, SourceError> {
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let found = row.column(index).type_info().name().to_owned();
    // The types both read paths share decode in one place, so they give the same cells.
    if raw.format() == PgValueFormat::Binary
        && let Some(decoder) = Decoder::for_column(column, &found)
    {
        let bytes = raw.as_bytes().map_err(sqlx::Error::Decode)?;
        return decoder.decode(bytes, column);
    }
    let integer = || -> Result<Option<i64>, sqlx::Error> {
        Ok(match found.as_str() {
            "INT8" => Some(row.try_get::<i64, _>(index)?),
            "INT4" => Some(i64::from(row.try_get::<i32, _>(index)?)),
            "INT2" => Some(i64::from(row.try_get::<i16, _>(index)?)),
            _ => None,
        })
    };
    let mismatch = || decode_error(column, format!("a {found} value"));
    Ok(match column.kind {
        ColumnType::Text => match found.as_str() {
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => Cell::Text(row.try_get(index)?),
            _ => Cell::Text(integer()?.ok_or_else(mismatch)?.to_string()),
        },
        ColumnType::Integer => Cell::Integer(integer()?.ok_or_else(mismatch)?),
        ColumnType::Boolean => Cell::Boolean(row.try_get(index)?),
        ColumnType::Decimal | ColumnType::Money | ColumnType::Percent => match found.as_str() {
            "NUMERIC" => {
                let mut value: Decimal = row.try_get(index)?;
                // A whole NUMERIC (SUM of a BIGINT column is one) is minor units like
                // any other integer; a NUMERIC with decimals is an amount as it stands.
                if value.scale() == 0 {
                    value.set_scale(column.scale).map_err(|_| mismatch())?;
                }
                Cell::Decimal(value)
            }
            "FLOAT8" | "FLOAT4" => {
                let value: f64 = if found == "FLOAT8" {
                    row.try_get(index)?
                } else {
                    f64::from(row.try_get::<f32, _>(index)?)
                };
                Cell::Decimal(Decimal::from_f64(value).ok_or_else(mismatch)?)
            }
            _ => Cell::Decimal(Decimal::new(integer()?.ok_or_else(mismatch)?, column.scale)),
        },
        ColumnType::Date => match found.as_str() {
            "DATE" => Cell::Date(row.try_get(index)?),
            "TIMESTAMPTZ" => Cell::Date(row.try_get::<DateTime<Utc>, _>(index)?.date_naive()),
            "TIMESTAMP" => Cell::Date(row.try_get::<NaiveDateTime, _>(index)?.date()),
            _ => return Err(mismatch()),
        },
        ColumnType::Datetime => match found.as_str() {
            "TIMESTAMPTZ" => Cell::DateTime(row.try_get(index)?),
            "TIMESTAMP" => Cell::DateTime(row.try_get::<NaiveDateTime, _>(index)?.and_utc()),
            _ => return Err(mismatch()),
        },
    })
}
