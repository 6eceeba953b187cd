//! RFC 4180 CSV: CRLF line ends, UTF-8 (optional BOM), exact decimals, and a leading `'`
//! on text cells that a spreadsheet would take for a formula.

use std::fs::File;
use std::io::Write;

use chrono::SecondsFormat;

use super::{Cell, Layout, WriteError, at_scale, looks_like_formula};
use crate::catalog::{Column, ColumnType};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Streams rows into a CSV file.
pub struct CsvWriter {
    out: csv::Writer<File>,
    columns: Vec<Column>,
    /// Reused for every cell, so formatting allocates nothing per cell.
    scratch: Vec<u8>,
}

impl CsvWriter {
    pub(super) fn create(mut file: File, layout: &Layout) -> Result<CsvWriter, WriteError> {
        if layout.options.csv_bom {
            file.write_all(BOM)?;
        }
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .buffer_capacity(64 * 1024)
            .from_writer(file);
        out.write_record(layout.columns.iter().map(|c| c.header.as_str()))?;
        Ok(CsvWriter {
            out,
            columns: layout.columns.to_vec(),
            scratch: Vec::with_capacity(64),
        })
    }

    pub(super) fn write_row(&mut self, row: &[Cell]) -> Result<(), WriteError> {
        for (cell, column) in row.iter().zip(&self.columns) {
            self.scratch.clear();
            format_cell(&mut self.scratch, cell, column)?;
            self.out.write_field(&self.scratch)?;
        }
        self.out.write_record(None::<&[u8]>)?;
        Ok(())
    }

    pub(super) fn finish(self) -> Result<File, WriteError> {
        self.out
            .into_inner()
            .map_err(|error| WriteError::Io(error.into_error()))
    }
}

/// Writes the CSV text of one cell into `out`.
fn format_cell(out: &mut Vec<u8>, cell: &Cell, column: &Column) -> std::io::Result<()> {
    match cell {
        Cell::Null => {}
        Cell::Text(text) => {
            if column.kind == ColumnType::Text && looks_like_formula(text) {
                out.push(b'\'');
            }
            out.extend_from_slice(text.as_bytes());
        }
        Cell::Integer(value) => write!(out, "{value}")?,
        Cell::Decimal(value) => write!(out, "{}", at_scale(*value, column.scale))?,
        Cell::Date(date) => write!(out, "{}", date.format("%Y-%m-%d"))?,
        Cell::DateTime(instant) => write!(
            out,
            "{}",
            instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        )?,
        Cell::Boolean(value) => out.extend_from_slice(if *value { b"true" } else { b"false" }),
    }
    Ok(())
}
