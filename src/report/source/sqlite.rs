//! SQLite: rows decoded by the storage class each value carries.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool, TypeInfo, ValueRef};
use tokio::sync::mpsc;

use super::{bind_all, decode_error, forward};
use crate::catalog::{Column, ColumnType};
use crate::report::query::{Query, SourceError, Streamed};
use crate::writer::Cell;

/// Runs `query` on `pool` (opened read-only) and sends its rows to `rows`.
pub(super) async fn stream(
    pool: &SqlitePool,
    query: &Query<'_>,
    rows: mpsc::Sender<Vec<Vec<Cell>>>,
) -> Result<Streamed, SourceError> {
    let mut conn = pool.acquire().await?;
    let stream = bind_all(query).fetch(&mut *conn);
    let rows = forward(stream, query, rows, decode).await?;
    Ok(Streamed {
        rows,
        copied: false,
    })
}

/// SQLite values carry their own storage class, whatever the column declares.
fn decode(row: &SqliteRow, index: usize, column: &Column) -> Result<Cell, SourceError> {
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
