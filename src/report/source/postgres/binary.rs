//! PostgreSQL values in their binary wire form, decoded into cells. Both ways of reading
//! a report — sqlx rows and the binary `COPY` fast path — decode through [`Decoder`],
//! so they hand the writers the very same cells and the files are the same bytes.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta};
use rust_decimal::Decimal;
use sqlx::TypeInfo as _;
use sqlx::postgres::PgTypeInfo;

use crate::catalog::{Column, ColumnType};
use crate::report::query::SourceError;
use crate::writer::Cell;

/// How one column's values decode: chosen once per column from its declared kind and
/// the PostgreSQL type the query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decoder {
    /// `text`, `varchar`, `char(n)` (sqlx calls it `CHAR`), `name` and `citext` (all
    /// sent as UTF-8 text) into a text cell.
    Text,
    /// `uuid` into a text cell, hyphenated and lower-case.
    Uuid,
    /// An integer into a text cell, as its decimal digits.
    TextFromInteger,
    /// An integer into an integer cell.
    Integer,
    /// An integer of minor units into a decimal at the column's scale.
    MinorUnits,
    /// `bool`.
    Boolean,
    /// `date`.
    Date,
    /// `timestamp` or `timestamptz` (UTC), keeping the date.
    DateOfTimestamp,
    /// `timestamp` or `timestamptz` (UTC).
    DateTime,
}

impl Decoder {
    /// The decoder for a `column` whose values are of PostgreSQL type `found`; `None`
    /// when this module does not decode that pair (NUMERIC and floating point values go
    /// through sqlx's own decoding, mismatches fail there).
    pub(super) fn for_column(column: &Column, found: &PgTypeInfo) -> Option<Decoder> {
        let name = found.name();
        let integer = matches!(name, "INT2" | "INT4" | "INT8");
        let timestamp = matches!(name, "TIMESTAMP" | "TIMESTAMPTZ");
        // An enum's type is known only by its name, so enums are cast to text in SQL.
        let text = matches!(name, "TEXT" | "VARCHAR" | "CHAR" | "BPCHAR" | "NAME")
            || name.eq_ignore_ascii_case("citext");
        Some(match column.kind {
            ColumnType::Text if text => Decoder::Text,
            ColumnType::Text if name == "UUID" => Decoder::Uuid,
            ColumnType::Text if integer => Decoder::TextFromInteger,
            ColumnType::Integer if integer => Decoder::Integer,
            ColumnType::Decimal | ColumnType::Money | ColumnType::Percent if integer => {
                Decoder::MinorUnits
            }
            ColumnType::Boolean if name == "BOOL" => Decoder::Boolean,
            ColumnType::Date if name == "DATE" => Decoder::Date,
            ColumnType::Date if timestamp => Decoder::DateOfTimestamp,
            ColumnType::Datetime if timestamp => Decoder::DateTime,
            _ => return None,
        })
    }

    /// Decodes one non-NULL value of `column`.
    ///
    /// # Errors
    /// A value of the wrong size, text that is not UTF-8, or a date beyond chrono's range.
    pub(super) fn decode(self, bytes: &[u8], column: &Column) -> Result<Cell, SourceError> {
        let invalid = |what: &str| SourceError::Decode {
            column: column.name.clone(),
            expected: column.kind,
            found: what.to_owned(),
        };
        let integer = || -> Result<i64, SourceError> {
            Ok(match bytes.len() {
                2 => i64::from(i16::from_be_bytes([bytes[0], bytes[1]])),
                4 => i64::from(i32::from_be_bytes(bytes.try_into().expect("4 bytes"))),
                8 => i64::from_be_bytes(bytes.try_into().expect("8 bytes")),
                _ => return Err(invalid("an integer of unexpected size")),
            })
        };
        let timestamp = || -> Result<NaiveDateTime, SourceError> {
            let micros = i64::from_be_bytes(
                bytes
                    .try_into()
                    .map_err(|_| invalid("a timestamp of unexpected size"))?,
            );
            postgres_epoch()
                .and_time(chrono::NaiveTime::MIN)
                .checked_add_signed(TimeDelta::microseconds(micros))
                .ok_or_else(|| invalid("a timestamp outside the supported range"))
        };
        Ok(match self {
            Decoder::Text => Cell::Text(
                std::str::from_utf8(bytes)
                    .map_err(|_| invalid("text that is not UTF-8"))?
                    .to_owned(),
            ),
            Decoder::Uuid => Cell::Text(
                uuid::Uuid::from_slice(bytes)
                    .map_err(|_| invalid("a uuid of unexpected size"))?
                    .to_string(),
            ),
            Decoder::TextFromInteger => Cell::Text(integer()?.to_string()),
            Decoder::Integer => Cell::Integer(integer()?),
            Decoder::MinorUnits => Cell::Decimal(
                Decimal::try_new(integer()?, column.scale)
                    .map_err(|_| invalid("a scale beyond 28 decimals"))?,
            ),
            Decoder::Boolean => {
                Cell::Boolean(*bytes.first().ok_or_else(|| invalid("an empty boolean"))? != 0)
            }
            Decoder::Date => {
                let days = i32::from_be_bytes(
                    bytes
                        .try_into()
                        .map_err(|_| invalid("a date of unexpected size"))?,
                );
                Cell::Date(
                    EPOCH_DAYS_FROM_CE
                        .checked_add(days)
                        .and_then(NaiveDate::from_num_days_from_ce_opt)
                        .ok_or_else(|| invalid("a date outside the supported range"))?,
                )
            }
            Decoder::DateOfTimestamp => Cell::Date(timestamp()?.date()),
            Decoder::DateTime => Cell::DateTime(DateTime::from_naive_utc_and_offset(
                timestamp()?,
                chrono::Utc,
            )),
        })
    }
}

/// 2000-01-01 counted from 0001-01-01 as day 1, as chrono counts.
const EPOCH_DAYS_FROM_CE: i32 = 730_120;

/// PostgreSQL counts dates and timestamps from 2000-01-01.
fn postgres_epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(kind: ColumnType, scale: u32) -> Column {
        Column {
            name: "c".into(),
            header: "C".into(),
            kind,
            scale,
        }
    }

    #[test]
    fn wire_values_decode_to_the_cells_the_writers_expect() {
        let money = column(ColumnType::Money, 2);
        assert_eq!(
            Decoder::MinorUnits
                .decode(&(-5i64).to_be_bytes(), &money)
                .unwrap(),
            Cell::Decimal(Decimal::new(-5, 2))
        );
        let text = column(ColumnType::Text, 0);
        assert_eq!(
            Decoder::TextFromInteger
                .decode(&(-7i32).to_be_bytes(), &text)
                .unwrap(),
            Cell::Text("-7".into())
        );
        let date = column(ColumnType::Date, 0);
        assert_eq!(
            Decoder::Date.decode(&(-1i32).to_be_bytes(), &date).unwrap(),
            Cell::Date(NaiveDate::from_ymd_opt(1999, 12, 31).unwrap())
        );
        let at = column(ColumnType::Datetime, 0);
        assert_eq!(
            Decoder::DateTime
                .decode(&1_500_000i64.to_be_bytes(), &at)
                .unwrap(),
            Cell::DateTime("2000-01-01T00:00:01.5Z".parse().unwrap())
        );
        // PostgreSQL's infinity is i64::MAX microseconds: an error, never a panic.
        assert!(
            Decoder::DateTime
                .decode(&i64::MAX.to_be_bytes(), &at)
                .is_err()
        );
        assert!(Decoder::Text.decode(b"\xff", &text).is_err());
        assert_eq!(
            Decoder::Date.decode(&0i32.to_be_bytes(), &date).unwrap(),
            Cell::Date(postgres_epoch())
        );
        assert!(
            Decoder::Date
                .decode(&i32::MAX.to_be_bytes(), &date)
                .is_err()
        );
    }

    #[test]
    fn numeric_and_floating_point_values_are_left_to_sqlx() {
        let money = column(ColumnType::Money, 2);
        let of = PgTypeInfo::with_name;
        assert_eq!(Decoder::for_column(&money, &of("NUMERIC")), None);
        assert_eq!(Decoder::for_column(&money, &of("FLOAT8")), None);
        assert_eq!(
            Decoder::for_column(&money, &of("INT8")),
            Some(Decoder::MinorUnits)
        );
    }
}
