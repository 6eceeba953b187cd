//! RFC 4180 CSV: CRLF line ends, UTF-8 (optional BOM), exact decimals, and a leading `'`
//! on text cells that a spreadsheet would take for a formula.

use std::io::Write;

use chrono::{DateTime, Datelike as _, NaiveDate, SecondsFormat, Timelike as _, Utc};

use super::{Cell, DecimalMark, Layout, WriteError, at_scale, looks_like_formula};
use crate::catalog::{Column, ColumnType};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Streams rows into a CSV file, or whatever else takes bytes in order.
pub struct CsvWriter<W: Write> {
    out: csv::Writer<W>,
    columns: Vec<Column>,
    decimal: DecimalMark,
    /// Reused for every cell, so formatting allocates nothing per cell.
    scratch: Vec<u8>,
}

impl<W: Write> CsvWriter<W> {
    pub(super) fn create(mut file: W, layout: &Layout) -> Result<CsvWriter<W>, WriteError> {
        if layout.options.csv_bom {
            file.write_all(BOM)?;
        }
        let mut out = csv::WriterBuilder::new()
            .delimiter(layout.options.csv_delimiter.unwrap_or_default().byte())
            .terminator(csv::Terminator::CRLF)
            .buffer_capacity(64 * 1024)
            .from_writer(file);
        out.write_record(layout.columns.iter().map(|c| c.header.as_str()))?;
        Ok(CsvWriter {
            out,
            columns: layout.columns.to_vec(),
            decimal: layout.options.csv_decimal.unwrap_or_default(),
            scratch: Vec::with_capacity(64),
        })
    }

    pub(super) fn write_row(&mut self, row: &[Cell]) -> Result<(), WriteError> {
        for (cell, column) in row.iter().zip(&self.columns) {
            self.scratch.clear();
            format_cell(&mut self.scratch, cell, column, self.decimal)?;
            self.out.write_field(&self.scratch)?;
        }
        self.out.write_record(None::<&[u8]>)?;
        Ok(())
    }

    pub(super) fn finish(self) -> Result<W, WriteError> {
        self.out
            .into_inner()
            .map_err(|error| WriteError::Io(error.into_error()))
    }
}

/// Writes the CSV text of one cell into `out`.
fn format_cell(
    out: &mut Vec<u8>,
    cell: &Cell,
    column: &Column,
    decimal: DecimalMark,
) -> std::io::Result<()> {
    match cell {
        Cell::Null => {}
        Cell::Text(text) => {
            if column.kind == ColumnType::Text && looks_like_formula(text) {
                out.push(b'\'');
            }
            out.extend_from_slice(text.as_bytes());
        }
        Cell::Integer(value) => write!(out, "{value}")?,
        Cell::Decimal(value) => {
            let start = out.len();
            write!(out, "{}", at_scale(*value, column.scale))?;
            if decimal == DecimalMark::Comma
                && let Some(point) = out[start..].iter().position(|&b| b == b'.')
            {
                out[start + point] = b',';
            }
        }
        Cell::Date(date) => write_date(out, *date)?,
        Cell::DateTime(instant) => write_datetime(out, instant)?,
        Cell::Boolean(value) => out.extend_from_slice(if *value { b"true" } else { b"false" }),
    }
    Ok(())
}

/// chrono's `%Y-%m-%d`. Years 0–9999 are written digit by digit, because chrono's
/// formatter interprets its pattern anew for every cell (the largest cost of a CSV file
/// in profiles); other years, which chrono writes with a sign, go through chrono.
fn write_date(out: &mut Vec<u8>, date: NaiveDate) -> std::io::Result<()> {
    match u32::try_from(date.year()) {
        Ok(year) if year <= 9999 => {
            push_digits(out, year, 4);
            out.push(b'-');
            push_digits(out, date.month(), 2);
            out.push(b'-');
            push_digits(out, date.day(), 2);
            Ok(())
        }
        _ => write!(out, "{}", date.format("%Y-%m-%d")),
    }
}

/// chrono's RFC 3339 form with `Z` and the shortest exact fraction of 0, 3, 6 or 9
/// digits (`SecondsFormat::AutoSi`), by hand like [`write_date`]; leap seconds and years
/// outside 0–9999 go through chrono.
fn write_datetime(out: &mut Vec<u8>, instant: &DateTime<Utc>) -> std::io::Result<()> {
    let naive = instant.naive_utc();
    let nanos = naive.nanosecond();
    if !(0..=9999).contains(&naive.year()) || nanos >= 1_000_000_000 {
        return write!(
            out,
            "{}",
            instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        );
    }
    write_date(out, naive.date())?;
    out.push(b'T');
    push_digits(out, naive.hour(), 2);
    out.push(b':');
    push_digits(out, naive.minute(), 2);
    out.push(b':');
    push_digits(out, naive.second(), 2);
    if nanos != 0 {
        out.push(b'.');
        if nanos.is_multiple_of(1_000_000) {
            push_digits(out, nanos / 1_000_000, 3);
        } else if nanos.is_multiple_of(1_000) {
            push_digits(out, nanos / 1_000, 6);
        } else {
            push_digits(out, nanos, 9);
        }
    }
    out.push(b'Z');
    Ok(())
}

/// `value` in exactly `width` decimal digits, zero-padded (`value` must fit).
fn push_digits(out: &mut Vec<u8>, value: u32, width: u32) {
    let mut divisor = 10u32.pow(width - 1);
    while divisor > 0 {
        out.push(b'0' + (value / divisor % 10) as u8);
        divisor /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_datetimes_are_written_exactly_as_chrono_writes_them() {
        let dates = [
            "0000-01-01",
            "0001-02-03",
            "0999-12-31",
            "2024-02-29",
            "9999-12-31",
        ];
        let mut days: Vec<NaiveDate> = dates.iter().map(|d| d.parse().unwrap()).collect();
        days.extend([
            NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(-1, 3, 15).unwrap(),
            NaiveDate::from_ymd_opt(-44, 3, 15).unwrap(),
        ]);
        for day in days {
            let mut ours = Vec::new();
            write_date(&mut ours, day).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                day.format("%Y-%m-%d").to_string()
            );
            for nanos in [
                0,
                1,
                999,
                1_000,
                120_000,
                1_000_000,
                250_000_000,
                999_999_999,
                123_456_789,
                1_500_000_000,
            ] {
                let Some(time) = chrono::NaiveTime::from_hms_nano_opt(23, 59, 59, nanos) else {
                    continue;
                };
                let instant = day.and_time(time).and_utc();
                let mut ours = Vec::new();
                write_datetime(&mut ours, &instant).unwrap();
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
                );
            }
        }
    }
}
