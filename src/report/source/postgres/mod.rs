//! PostgreSQL: rows read through binary COPY where the query allows it, else through
//! the extended protocol, decoded by each column's static type.

mod binary;
mod copy;

use chrono::{DateTime, NaiveDateTime, Utc};
use futures::TryStreamExt;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use sqlx::postgres::{PgRow, PgValueFormat};
use sqlx::{AssertSqlSafe, Column as _, PgPool, Row, TypeInfo, ValueRef};
use tokio::sync::mpsc;

use super::{bind_all, decode_error, forward};
use crate::catalog::{Column, ColumnType};
use crate::report::query::{Batches, Query, SourceError, Streamed};
use crate::writer::Cell;
use binary::Decoder;

/// Runs `query` on `pool` in a transaction with its statement timeout and sends its
/// rows to `rows`.
pub(super) async fn stream(
    pool: &PgPool,
    query: &Query<'_>,
    rows: mpsc::Sender<Vec<Vec<Cell>>>,
) -> Result<Streamed, SourceError> {
    let mut tx = pool.begin().await?;
    let millis = query.timeout.as_millis().max(1);
    sqlx::query(AssertSqlSafe(format!(
        "SET LOCAL statement_timeout = {millis}"
    )))
    .execute(&mut *tx)
    .await?;
    let plan = if query.copy {
        copy::plan(&mut tx, query).await?
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
                rows: forward(stream, query, rows, decode).await?,
                copied: false,
            }
        }
    };
    tx.commit().await?;
    Ok(streamed)
}

/// Runs the COPY of `plan` and sends its rows in batches.
async fn copy_rows(
    conn: &mut sqlx::PgConnection,
    plan: &copy::CopyPlan,
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
    let mut parser = copy::TupleParser::new(plan.width);
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

/// Value `index` of `row` when it is an integer of any width; `None` for other types.
fn integer(row: &PgRow, index: usize) -> Result<Option<i64>, sqlx::Error> {
    Ok(match row.column(index).type_info().name() {
        "INT8" => Some(row.try_get::<i64, _>(index)?),
        "INT4" => Some(i64::from(row.try_get::<i32, _>(index)?)),
        "INT2" => Some(i64::from(row.try_get::<i16, _>(index)?)),
        _ => None,
    })
}

/// The tenant id in the first column of `row`: `integer`, `bigint` and `smallint`
/// alike, as application schemas declare it.
pub(super) fn integer_id(row: &PgRow) -> Result<i64, SourceError> {
    integer(row, 0)?.ok_or_else(|| SourceError::Decode {
        column: "tenants.id".into(),
        expected: ColumnType::Integer,
        found: format!("a {} value", row.column(0).type_info().name()),
    })
}

/// PostgreSQL columns have one static type each; decode by it.
fn decode(row: &PgRow, index: usize, column: &Column) -> Result<Cell, SourceError> {
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let type_info = row.column(index).type_info();
    let found = type_info.name().to_owned();
    // The types both read paths share decode in one place, so they give the same cells.
    if raw.format() == PgValueFormat::Binary
        && let Some(decoder) = Decoder::for_column(column, type_info)
    {
        let bytes = raw.as_bytes().map_err(sqlx::Error::Decode)?;
        return decoder.decode(bytes, column);
    }
    let integer = || integer(row, index);
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
            // A float becomes the shortest decimal that reads back as the same float
            // of its own width: a `real` 0.1 is 0.1, not the 0.100000001 of its f64.
            "FLOAT8" => Cell::Decimal(
                Decimal::from_f64(row.try_get::<f64, _>(index)?).ok_or_else(mismatch)?,
            ),
            "FLOAT4" => Cell::Decimal(
                Decimal::from_f32(row.try_get::<f32, _>(index)?).ok_or_else(mismatch)?,
            ),
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
