//! Output writers. Each is fed one row at a time from a blocking thread, never from the
//! async runtime, and holds only the current row in memory.

mod csv;
mod xlsx;

pub(crate) use xlsx::{CellFormats, new_workbook};

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalog::{Column, Report};
pub use crate::catalog::{CsvDelimiter, DecimalMark};
use crate::storage::Output;

/// One cell of a report row, decoded from the database according to its column type.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A SQL NULL, written as an empty cell.
    Null,
    /// Text.
    Text(String),
    /// A whole number.
    Integer(i64),
    /// An exact decimal number, already shifted by the column's scale.
    Decimal(Decimal),
    /// A calendar date.
    Date(NaiveDate),
    /// A point in time in UTC.
    DateTime(DateTime<Utc>),
    /// True or false.
    Boolean(bool),
}

/// The file formats quire writes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values (RFC 4180), UTF-8.
    Csv,
    /// An Excel workbook.
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

    /// Whether the file is written front to back, never going back: then it can be
    /// uploaded while it is written. An XLSX workbook is a zip whose directory comes
    /// last.
    pub fn front_to_back(self) -> bool {
        self == Format::Csv
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
            other => Err(format!(
                "unknown format {}; use csv or xlsx",
                crate::names::echo(other)
            )),
        }
    }
}

/// Per-request output options. The CSV separators are left out of the JSON when not
/// given, so requests made before they existed keep their identity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OutputOptions {
    /// Start a CSV file with a UTF-8 byte-order mark (for Excel on Windows).
    pub csv_bom: bool,
    /// The CSV field separator; when omitted, the report's own (`,` unless it says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv_delimiter: Option<CsvDelimiter>,
    /// The CSV decimal mark of decimal, money and percent cells; when omitted, the
    /// report's own (`.` unless it says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv_decimal: Option<DecimalMark>,
}

impl OutputOptions {
    /// These options with the separators they leave out taken from `report`'s.
    pub fn over(self, report: &Report) -> OutputOptions {
        OutputOptions {
            csv_bom: self.csv_bom,
            csv_delimiter: self.csv_delimiter.or(report.csv_delimiter),
            csv_decimal: self.csv_decimal.or(report.csv_decimal),
        }
    }
}

impl From<std::io::Error> for WriteError {
    fn from(error: std::io::Error) -> WriteError {
        WriteError::Io(error)
    }
}

impl WriteError {
    /// The error of a disk that is full, as the XLSX library reports it only by
    /// panicking (its temporary files are written with `expect`): the writer thread's
    /// panic is told apart by this kind in its message.
    pub fn storage_full() -> WriteError {
        WriteError::Io(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "no space left on device",
        ))
    }

    /// Whether the disk was full.
    pub fn is_storage_full(&self) -> bool {
        matches!(self, WriteError::Io(error) if error.kind() == std::io::ErrorKind::StorageFull)
    }
}

/// What a writer needs to know about the document besides its rows.
#[derive(Debug, Clone)]
pub struct Layout<'a> {
    /// The report's title: the XLSX document title and sheet name.
    pub title: &'a str,
    /// The XLSX document subject, such as `invoices for acme`.
    pub subject: &'a str,
    /// The columns to write, in output order.
    pub columns: &'a [Column],
    /// Stamped into the document properties, so equal inputs give equal bytes.
    pub created: DateTime<Utc>,
    /// Where XLSX constant-memory temporary files go.
    pub temp_dir: &'a Path,
    /// The output options asked for.
    pub options: OutputOptions,
    /// Where each row holds its currency code (ISO 4217), when the report has a currency
    /// column: one of `columns`, or the one cell a row has past them when the request
    /// left that column out. XLSX shows the row's money in it; CSV ignores it.
    pub currency: Option<usize>,
}

/// A failure while writing a file; always transient from the job's point of view
/// (disk full, I/O error), except the row limit which no retry can fix.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Writing to disk failed, or the CSV writer did. Not the error's source as well:
    /// printed with its causes, the reason would show twice.
    #[error("writing the file failed: {0}")]
    Io(std::io::Error),
    /// The XLSX library failed to build or save the workbook.
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
    /// Writing a CSV file.
    Csv(csv::CsvWriter<Output>),
    /// Writing an XLSX file.
    Xlsx(xlsx::XlsxWriter),
}

impl RowWriter {
    /// Starts a file of `format` in `output` and writes its header.
    ///
    /// # Errors
    /// When the header cannot be written, or an XLSX workbook is to be streamed: it
    /// needs a file to seek in.
    pub fn create(
        format: Format,
        output: Output,
        layout: &Layout,
    ) -> Result<RowWriter, WriteError> {
        Ok(match (format, output) {
            (Format::Csv, output) => RowWriter::Csv(csv::CsvWriter::create(output, layout)?),
            (Format::Xlsx, Output::File(file)) => {
                RowWriter::Xlsx(xlsx::XlsxWriter::create(file, layout)?)
            }
            (Format::Xlsx, Output::Upload(_)) => {
                return Err(WriteError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "an XLSX workbook is written to a file, not streamed",
                )));
            }
        })
    }

    /// Appends one row; `row` has one cell per layout column, then possibly its
    /// currency code (see [`Layout::currency`]).
    ///
    /// # Errors
    /// On an I/O error.
    pub fn write_row(&mut self, row: &[Cell]) -> Result<(), WriteError> {
        match self {
            RowWriter::Csv(writer) => writer.write_row(row),
            RowWriter::Xlsx(writer) => writer.write_row(row),
        }
    }

    /// Completes the document: a file is flushed but not yet synced, an upload is
    /// told the file is whole.
    ///
    /// # Errors
    /// On an I/O error.
    pub fn finish(self) -> Result<(), WriteError> {
        let output = match self {
            RowWriter::Csv(writer) => writer.finish()?,
            RowWriter::Xlsx(writer) => Output::File(writer.finish()?),
        };
        Ok(output.finish()?)
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
