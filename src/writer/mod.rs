//! Output writers. Each is fed one row at a time from a blocking thread, never from the
//! async runtime, and holds only the current row in memory.

mod csv;
mod xlsx;

pub use xlsx::number_format;

use std::fmt;
use std::fs::File;
use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalog::Column;

/// One cell of a report row, decoded from the database according to its column type.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Integer(i64),
    Decimal(Decimal),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Boolean(bool),
}

/// The file formats quire writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    /// The HTTP `Content-Type` of the file.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Format, String> {
        match text {
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            other => Err(format!("unknown format {other:?}; use csv or xlsx")),
        }
    }
}

/// Per-request output options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputOptions {
    /// Start a CSV file with a UTF-8 byte-order mark (for Excel on Windows).
    pub csv_bom: bool,
}

/// What a writer needs to know about the document besides its rows.
#[derive(Debug, Clone)]
pub struct Layout<'a> {
    pub title: &'a str,
    pub subject: &'a str,
    pub columns: &'a [Column],
    /// Stamped into the document properties, so equal inputs give equal bytes.
    pub created: DateTime<Utc>,
    /// Where XLSX constant-memory temporary files go.
    pub temp_dir: &'a Path,
    pub options: OutputOptions,
}

/// A failure while writing a file; always transient from the job's point of view
/// (disk full, I/O error), except the row limit which no retry can fix.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("writing the file failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the XLSX file failed: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

impl From<::csv::Error> for WriteError {
    fn from(error: ::csv::Error) -> WriteError {
        WriteError::Io(error.into())
    }
}

/// A file being written, one row at a time. Built once per report, so the size of its
/// variants does not matter.
#[allow(clippy::large_enum_variant)]
pub enum RowWriter {
    Csv(csv::CsvWriter),
    Xlsx(xlsx::XlsxWriter),
}

impl RowWriter {
    /// Starts a file of `format` in `file` and writes its header.
    ///
    /// # Errors
    /// When the header cannot be written.
    pub fn create(format: Format, file: File, layout: &Layout) -> Result<RowWriter, WriteError> {
        Ok(match format {
            Format::Csv => RowWriter::Csv(csv::CsvWriter::create(file, layout)?),
            Format::Xlsx => RowWriter::Xlsx(xlsx::XlsxWriter::create(file, layout)?),
        })
    }

    /// Appends one row; `row` has one cell per layout column.
    ///
    /// # Errors
    /// On an I/O error.
    pub fn write_row(&mut self, row: &[Cell]) -> Result<(), WriteError> {
        match self {
            RowWriter::Csv(writer) => writer.write_row(row),
            RowWriter::Xlsx(writer) => writer.write_row(row),
        }
    }

    /// Completes the document and returns the file, flushed but not yet synced.
    ///
    /// # Errors
    /// On an I/O error.
    pub fn finish(self) -> Result<File, WriteError> {
        match self {
            RowWriter::Csv(writer) => writer.finish(),
            RowWriter::Xlsx(writer) => writer.finish(),
        }
    }
}

/// Whether a text could be taken for a formula by a spreadsheet (OWASP "CSV Injection",
/// CWE-1236): it starts with `=`, `+`, `-`, `@`, tab or carriage return, or the
/// full-width forms of the first four.
pub fn looks_like_formula(text: &str) -> bool {
    text.starts_with([
        '=', '+', '-', '@', '\t', '\r', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
    ])
}

/// A decimal shown at least at the column's scale; digits beyond it are kept, never
/// rounded away.
pub fn at_scale(value: Decimal, scale: u32) -> Decimal {
    let mut value = value;
    if value.scale() < scale {
        value.rescale(scale);
    }
    value
}
