//! MySQL and MariaDB: rows streamed in a read-only transaction with the server's own
//! statement timeout, decoded by each column's type. A zero date (`0000-00-00`, which
//! legacy tables hold for "no date") reads as NULL.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use sqlx::mysql::MySqlRow;
use sqlx::{AssertSqlSafe, Column as _, MySqlPool, Row, TypeInfo, ValueRef};
use tokio::sync::mpsc;

use super::{bind_all, decode_error, forward};
use crate::catalog::{Column, ColumnType};
use crate::report::query::{Query, SourceError, Streamed};
use crate::writer::Cell;

/// Runs `query` on `pool` in a read-only transaction with its statement timeout and
/// sends its rows to `rows`.
pub(super) async fn stream(
    pool: &MySqlPool,
    query: &Query<'_>,
    rows: mpsc::Sender<Vec<Vec<Cell>>>,
) -> Result<Streamed, SourceError> {
    let mut conn = pool.acquire().await?;
    let streamed = stream_on(&mut conn, query, rows).await;
    if streamed.is_err() {
        // A result given up halfway leaves its rows unread and its transaction open
        // (holding metadata locks): close the connection rather than hand it back.
        conn.close_on_drop();
    }
    streamed
}

async fn stream_on(
    conn: &mut sqlx::MySqlConnection,
    query: &Query<'_>,
    rows: mpsc::Sender<Vec<Vec<Cell>>>,
) -> Result<Streamed, SourceError> {
    // MariaDB counts in seconds and stops any statement; MySQL counts in milliseconds
    // and stops SELECTs, which is all a report runs. MariaDB's variable is tried first,
    // and MySQL's only when the server does not know it (error 1193), so that a report
    // costs no round trip asking which server this is.
    let mariadb = format!(
        "SET SESSION max_statement_time = {}",
        query.timeout.as_secs_f64().max(0.001)
    );
    match sqlx::query(AssertSqlSafe(mariadb))
        .execute(&mut *conn)
        .await
    {
        Err(sqlx::Error::Database(error))
            if error
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .is_some_and(|error| error.number() == 1193) =>
        {
            let mysql = format!(
                "SET SESSION max_execution_time = {}",
                query.timeout.as_millis().max(1)
            );
            sqlx::query(AssertSqlSafe(mysql))
                .execute(&mut *conn)
                .await?;
        }
        other => {
            other?;
        }
    }
    let mut tx = sqlx::Connection::begin_with(conn, "START TRANSACTION READ ONLY").await?;
    let stream = bind_all(query).fetch(&mut *tx);
    let rows = forward(stream, query, rows, decode).await?;
    tx.commit().await?;
    Ok(Streamed {
        rows,
        copied: false,
    })
}

/// Value `index` of `row` (the column `name`) when it is an integer of any width,
/// signed or not; `None` for other types.
fn integer(row: &MySqlRow, index: usize, name: &str) -> Result<Option<i64>, SourceError> {
    let type_info = row.column(index).type_info();
    Ok(match type_info.name() {
        "BIGINT UNSIGNED" => {
            let value: u64 = row.try_get(index)?;
            Some(i64::try_from(value).map_err(|_| SourceError::Decode {
                column: name.to_owned(),
                expected: ColumnType::Integer,
                found: format!("{value}, beyond a signed 64-bit integer"),
            })?)
        }
        "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED" => {
            Some(i64::try_from(row.try_get::<u64, _>(index)?).expect("fits in 32 bits"))
        }
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => Some(row.try_get(index)?),
        "BOOLEAN" => Some(i64::from(row.try_get::<bool, _>(index)?)),
        _ => None,
    })
}

/// The tenant id in the first column of `row`: any integer type.
pub(super) fn integer_id(row: &MySqlRow) -> Result<i64, SourceError> {
    const NAME: &str = "tenants.id";
    integer(row, 0, NAME)?.ok_or_else(|| SourceError::Decode {
        column: NAME.into(),
        expected: ColumnType::Integer,
        found: format!("a {} value", row.column(0).type_info().name()),
    })
}

/// The bytes of value `index` as they came over the wire.
fn raw_bytes(row: &MySqlRow, index: usize) -> Result<&[u8], sqlx::Error> {
    row.try_get_unchecked(index)
}

/// Whether the DATE, DATETIME or TIMESTAMP value `bytes` is MySQL's zero date: text
/// `0000-00-00…`, or in the binary protocol a value whose length byte is 0 (any other
/// date has 4, 7 or 11 bytes).
fn is_zero_date(bytes: &[u8]) -> bool {
    bytes.first().is_none_or(|len| *len == 0) || bytes.starts_with(b"0000-00-00")
}

/// MySQL columns have one type each; decode by it.
fn decode(row: &MySqlRow, index: usize, column: &Column) -> Result<Cell, SourceError> {
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    // Borrowed, not copied: this runs for every cell.
    let found = row.column(index).type_info().name();
    if matches!(found, "DATE" | "DATETIME" | "TIMESTAMP") && is_zero_date(raw_bytes(row, index)?) {
        return Ok(Cell::Null);
    }
    let integer = || integer(row, index, &column.name);
    let mismatch = || decode_error(column, format!("a {found} value"));
    Ok(match column.kind {
        ColumnType::Text => match integer()? {
            Some(value) => Cell::Text(value.to_string()),
            None => {
                // Text columns, and binary ones holding text: checked here, so that a
                // legacy table's bad bytes name their column.
                let bytes: &[u8] = match found {
                    "VARCHAR" | "CHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT"
                    | "ENUM" | "SET" | "JSON" | "VARBINARY" | "BINARY" | "BLOB" | "TINYBLOB"
                    | "MEDIUMBLOB" | "LONGBLOB" => raw_bytes(row, index)?,
                    _ => return Err(mismatch()),
                };
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| decode_error(column, "text that is not valid UTF-8"))?;
                Cell::Text(text.to_owned())
            }
        },
        ColumnType::Integer => match found {
            // MySQL sums integers into DECIMAL: a whole one is still an integer.
            "DECIMAL" => {
                let value: Decimal = row.try_get(index)?;
                Cell::Integer(
                    i64::try_from(value)
                        .ok()
                        .filter(|_| value.fract().is_zero())
                        .ok_or_else(|| decode_error(column, value.to_string()))?,
                )
            }
            _ => Cell::Integer(integer()?.ok_or_else(mismatch)?),
        },
        ColumnType::Boolean => Cell::Boolean(integer()?.ok_or_else(mismatch)? != 0),
        ColumnType::Decimal | ColumnType::Money | ColumnType::Percent => match found {
            "DECIMAL" => {
                let mut value: Decimal = row.try_get(index)?;
                // As on PostgreSQL: a whole DECIMAL (SUM of a BIGINT column is one) is
                // minor units like any other integer.
                if value.scale() == 0 {
                    value.set_scale(column.scale).map_err(|_| mismatch())?;
                }
                Cell::Decimal(value)
            }
            "DOUBLE" => Cell::Decimal(
                Decimal::from_f64(row.try_get::<f64, _>(index)?).ok_or_else(mismatch)?,
            ),
            "FLOAT" => Cell::Decimal(
                Decimal::from_f32(row.try_get::<f32, _>(index)?).ok_or_else(mismatch)?,
            ),
            _ => Cell::Decimal(Decimal::new(integer()?.ok_or_else(mismatch)?, column.scale)),
        },
        ColumnType::Date => match found {
            "DATE" => Cell::Date(row.try_get::<NaiveDate, _>(index)?),
            "DATETIME" => Cell::Date(row.try_get::<NaiveDateTime, _>(index)?.date()),
            "TIMESTAMP" => Cell::Date(row.try_get::<DateTime<Utc>, _>(index)?.date_naive()),
            _ => return Err(mismatch()),
        },
        ColumnType::Datetime => match found {
            "DATETIME" => Cell::DateTime(row.try_get::<NaiveDateTime, _>(index)?.and_utc()),
            "TIMESTAMP" => Cell::DateTime(row.try_get(index)?),
            _ => return Err(mismatch()),
        },
    })
}
