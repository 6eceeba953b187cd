//! XLSX in constant-memory mode: typed cells, number formats, a bold frozen header with
//! an autofilter (numbers' headers aligned like them), wrapped multi-line text, widths
//! measured while streaming, print setup, and continuation sheets past Excel's row
//! limit.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom};

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{
    ColNum, DocProperties, Format, FormatAlign, RowNum, Workbook, Worksheet, XlsxError,
};

use super::{Cell, Layout, WriteError, looks_like_formula};
use crate::catalog::{Column, ColumnType};

/// Excel's rows per sheet, the header included.
pub(super) const EXCEL_MAX_ROWS: RowNum = 1_048_576;
/// Excel's longest cell text.
const EXCEL_MAX_STRING: usize = 32_767;
/// Columns never grow wider than this many characters.
const MAX_WIDTH: usize = 60;
/// Reports with more columns than this print in landscape.
const PORTRAIT_COLUMNS: usize = 6;
/// The zip level measured fastest for the size it gives (research §1).
const ZIP_LEVEL: u8 = 3;
/// What a currency adds to a money cell's printed width: a space and its code.
const CURRENCY_WIDTH: usize = 4;

/// How a report's cells look in XLSX: the header, text a spreadsheet would take for a
/// formula, dates, and each column's number format, money in its row's currency when
/// the report has one. Shared with the benchmark's baseline, so that both write the
/// same workbook.
pub(crate) struct CellFormats {
    header: Format,
    /// The header of a column of numbers: right-aligned like them.
    number_header: Format,
    quoted_text: Format,
    /// Text with line breaks, wrapped in its cell rather than spilling over the next.
    wrapped_text: Format,
    date: Format,
    datetime: Format,
    /// One per column: its number format, when it has one.
    numbers: Vec<Option<Format>>,
    /// Where a row holds its currency code, when the report has a currency column.
    currency: Option<usize>,
    /// Like `numbers`, money showing the currency, per currency code: made on the
    /// code's first row and reused, never made per cell.
    priced: HashMap<String, Vec<Option<Format>>>,
}

impl CellFormats {
    /// The formats of a report with `columns`, whose rows hold their currency code at
    /// `currency` (see [`Layout::currency`]).
    pub(crate) fn new(columns: &[Column], currency: Option<usize>) -> CellFormats {
        CellFormats {
            header: Format::new().set_bold(),
            number_header: Format::new().set_bold().set_align(FormatAlign::Right),
            quoted_text: Format::new().set_quote_prefix(),
            wrapped_text: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            numbers: columns.iter().map(|c| number_format(c, None)).collect(),
            currency,
            priced: HashMap::new(),
        }
    }

    /// Freezes the header row of `sheet`, writes it, and sets the sheet up to print:
    /// fit to the page's width, the header repeated on every page, and landscape for a
    /// report of more than [`PORTRAIT_COLUMNS`] columns.
    pub(crate) fn write_header(
        &self,
        sheet: &mut Worksheet,
        columns: &[Column],
    ) -> Result<(), XlsxError> {
        sheet.set_freeze_panes(1, 0)?;
        for (col, column) in columns.iter().enumerate() {
            let format = if is_number(column.kind) {
                &self.number_header
            } else {
                &self.header
            };
            sheet.write_string_with_format(0, col as ColNum, &column.header, format)?;
        }
        sheet.set_print_fit_to_pages(1, 0);
        sheet.set_repeat_rows(0, 0)?;
        if columns.len() > PORTRAIT_COLUMNS {
            sheet.set_landscape();
        }
        Ok(())
    }

    /// The currency code of `cells`, a row: its currency cell when that holds one.
    pub(crate) fn currency_of<'a>(&self, cells: &'a [Cell]) -> Option<&'a str> {
        match cells.get(self.currency?)? {
            Cell::Text(text) => currency_code(text),
            _ => None,
        }
    }

    /// Writes `cells`, a row of `columns` (and possibly its currency code past them),
    /// as row number `row`, typed and formatted, money in the row's currency if known.
    pub(crate) fn write_row(
        &mut self,
        sheet: &mut Worksheet,
        row: RowNum,
        cells: &[Cell],
        columns: &[Column],
    ) -> Result<(), XlsxError> {
        let code = self.currency_of(cells);
        if let Some(code) = code
            && !self.priced.contains_key(code)
        {
            let formats = columns.iter().map(|c| number_format(c, Some(code)));
            self.priced.insert(code.to_owned(), formats.collect());
        }
        let numbers = code.map_or(&self.numbers, |code| &self.priced[code]);
        for (col, (cell, column)) in cells.iter().zip(columns).enumerate() {
            let number = numbers[col].as_ref();
            self.write_cell(sheet, (row, col as ColNum), cell, column, number)?;
        }
        Ok(())
    }

    /// Writes `cell` of column `col`, declared as `column`, typed and formatted; a
    /// number with `number`'s format.
    fn write_cell(
        &self,
        sheet: &mut Worksheet,
        (row, c): (RowNum, ColNum),
        cell: &Cell,
        column: &Column,
        number: Option<&Format>,
    ) -> Result<(), XlsxError> {
        let number = |sheet: &mut Worksheet, value: f64| match number {
            Some(format) => sheet
                .write_number_with_format(row, c, value, format)
                .map(drop),
            None => sheet.write_number(row, c, value).map(drop),
        };
        match cell {
            Cell::Null => {}
            Cell::Text(text) => {
                let text = truncate(text, EXCEL_MAX_STRING);
                if column.kind == ColumnType::Text && looks_like_formula(text) {
                    sheet.write_string_with_format(row, c, text, &self.quoted_text)?;
                } else if text.contains('\n') {
                    sheet.write_string_with_format(row, c, text, &self.wrapped_text)?;
                } else {
                    sheet.write_string(row, c, text)?;
                }
            }
            Cell::Integer(value) => number(sheet, *value as f64)?,
            Cell::Decimal(value) => number(sheet, value.to_f64().unwrap_or(f64::NAN))?,
            Cell::Date(date) => {
                sheet.write_datetime_with_format(row, c, date, &self.date)?;
            }
            Cell::DateTime(instant) => {
                sheet.write_datetime_with_format(row, c, instant.naive_utc(), &self.datetime)?;
            }
            Cell::Boolean(value) => {
                sheet.write_boolean(row, c, *value)?;
            }
        }
        Ok(())
    }
}

/// A workbook that spills to `temp_dir` and zips at the level measured fastest.
pub(crate) fn new_workbook(temp_dir: &std::path::Path) -> Result<Workbook, XlsxError> {
    let mut workbook = Workbook::new();
    workbook.set_tempdir(temp_dir)?;
    workbook.set_zip_compression_level(ZIP_LEVEL);
    Ok(workbook)
}

/// How wide `cell` prints, in characters, given that its column is `width` wide so
/// far and its number format adds `suffix` characters: the new width of the column.
fn widened(width: usize, cell: &Cell, suffix: usize) -> usize {
    match cell {
        Cell::Null => width,
        // A text no longer in bytes than the width cannot be wider in characters.
        Cell::Text(text) if text.len() > width => {
            width.max(truncate(text, EXCEL_MAX_STRING).chars().count())
        }
        Cell::Text(_) => width,
        Cell::Integer(value) => width.max(integer_width(*value)),
        // Thousands separators and the percent sign take room too.
        Cell::Decimal(value) => width.max(decimal_width(value) + 2 + suffix),
        Cell::Date(_) => width.max(10),
        Cell::DateTime(_) => width.max(19),
        Cell::Boolean(_) => width.max(5),
    }
}

/// Streams rows into an XLSX workbook.
pub struct XlsxWriter {
    workbook: Workbook,
    file: File,
    columns: Vec<Column>,
    formats: CellFormats,
    sheet_title: String,
    sheets: u16,
    /// The next row to write on the current sheet.
    row: RowNum,
    /// The widest text seen per column, in characters.
    widths: Vec<usize>,
    /// Rows per sheet, the header included; lowered only by tests of the split.
    max_rows: RowNum,
}

impl XlsxWriter {
    pub(super) fn create(file: File, layout: &Layout) -> Result<XlsxWriter, WriteError> {
        XlsxWriter::with_max_rows(file, layout, EXCEL_MAX_ROWS)
    }

    fn with_max_rows(
        file: File,
        layout: &Layout,
        max_rows: RowNum,
    ) -> Result<XlsxWriter, WriteError> {
        let mut workbook = new_workbook(layout.temp_dir)?;
        workbook.set_properties(
            &DocProperties::new()
                .set_title(layout.title)
                .set_subject(layout.subject)
                .set_author("quire")
                .set_creation_datetime(&layout.created.naive_utc()),
        );
        let formats = CellFormats::new(layout.columns, layout.currency);
        let mut writer = XlsxWriter {
            workbook,
            file,
            widths: layout
                .columns
                .iter()
                .map(|c| c.header.chars().count())
                .collect(),
            columns: layout.columns.to_vec(),
            formats,
            sheet_title: sheet_name(layout.title),
            sheets: 0,
            row: 0,
            max_rows,
        };
        writer.start_sheet()?;
        Ok(writer)
    }

    /// Adds a sheet and writes its header row.
    fn start_sheet(&mut self) -> Result<(), WriteError> {
        self.sheets += 1;
        let name = match self.sheets {
            1 => self.sheet_title.clone(),
            n => format!("{} ({n})", truncate(&self.sheet_title, 25)),
        };
        let sheet = self.workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(name)?;
        self.formats.write_header(sheet, &self.columns)?;
        self.row = 1;
        Ok(())
    }

    fn sheet(&mut self) -> Result<&mut Worksheet, WriteError> {
        Ok(self
            .workbook
            .worksheet_from_index(usize::from(self.sheets) - 1)?)
    }

    pub(super) fn write_row(&mut self, row: &[Cell]) -> Result<(), WriteError> {
        if self.row == self.max_rows {
            self.finish_sheet()?;
            self.start_sheet()?;
        }
        let r = self.row;
        let sheet_index = usize::from(self.sheets) - 1;
        let sheet = self.workbook.worksheet_from_index(sheet_index)?;
        self.formats.write_row(sheet, r, row, &self.columns)?;
        let priced = self.formats.currency_of(row).is_some();
        for ((width, cell), column) in self.widths.iter_mut().zip(row).zip(&self.columns) {
            let suffix = if priced && column.kind == ColumnType::Money {
                CURRENCY_WIDTH
            } else {
                0
            };
            *width = widened(*width, cell, suffix);
        }
        self.row += 1;
        Ok(())
    }

    /// Adds the autofilter over the current sheet's rows.
    fn finish_sheet(&mut self) -> Result<(), WriteError> {
        let last_row = self.row - 1;
        let last_col = (self.columns.len() - 1) as ColNum;
        self.sheet()?.autofilter(0, 0, last_row, last_col)?;
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<File, WriteError> {
        self.finish_sheet()?;
        let widths: Vec<f64> = self
            .widths
            .iter()
            .map(|w| (*w).min(MAX_WIDTH) as f64 + 2.0)
            .collect();
        for index in 0..usize::from(self.sheets) {
            let sheet = self.workbook.worksheet_from_index(index)?;
            for (col, width) in widths.iter().enumerate() {
                sheet.set_column_width(col as ColNum, *width)?;
            }
        }
        self.workbook.save_to_writer(&mut self.file)?;
        self.file.seek(SeekFrom::End(0))?;
        Ok(self.file)
    }
}

/// The length of `value` printed in decimal, counted without printing it.
fn integer_width(value: i64) -> usize {
    usize::from(value < 0) + digits(u128::from(value.unsigned_abs()))
}

/// The length of `value` as `Decimal` prints it (sign, integer digits, and exactly
/// `scale` decimals), counted without printing it.
fn decimal_width(value: &Decimal) -> usize {
    let mantissa = value.mantissa();
    if mantissa == 0 {
        // Zero (possibly signed) is rare enough to print.
        return value.to_string().len();
    }
    let scale = value.scale() as usize;
    let integer_digits = digits(mantissa.unsigned_abs()).saturating_sub(scale).max(1);
    usize::from(mantissa < 0) + integer_digits + if scale > 0 { scale + 1 } else { 0 }
}

fn digits(value: u128) -> usize {
    value.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// Whether a column holds numbers, which spreadsheets align right.
fn is_number(kind: ColumnType) -> bool {
    matches!(
        kind,
        ColumnType::Integer | ColumnType::Decimal | ColumnType::Money | ColumnType::Percent
    )
}

/// The XLSX number format of a column, if it is numeric; money shows `currency` after
/// the amount when given (`#,##0.00 "EUR"`), at the column's scale whatever the
/// currency: the definition, not a table of minor units, says what its amounts hold.
fn number_format(column: &Column, currency: Option<&str>) -> Option<Format> {
    let decimals = "0".repeat(column.scale as usize);
    let fraction = if decimals.is_empty() {
        String::new()
    } else {
        format!(".{decimals}")
    };
    let pattern = match column.kind {
        ColumnType::Money => match currency {
            Some(code) => format!("#,##0{fraction} \"{code}\""),
            None => format!("#,##0{fraction}"),
        },
        // A percentage shows two fewer decimals than the fraction it stores.
        ColumnType::Percent => {
            let places = column.scale.saturating_sub(2) as usize;
            if places == 0 {
                "0%".to_owned()
            } else {
                format!("0.{}%", "0".repeat(places))
            }
        }
        ColumnType::Decimal if column.scale > 0 => format!("0{fraction}"),
        _ => return None,
    };
    Some(Format::new().set_num_format(pattern))
}

/// `text` as an ISO 4217 currency code: three capital letters, padding aside (a
/// `char(n)` column keeps it). Nothing else can reach a number format, where quotes or
/// format characters would change its meaning.
fn currency_code(text: &str) -> Option<&str> {
    let code = text.trim();
    (code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())).then_some(code)
}

/// Cuts `text` to at most `max` characters.
fn truncate(text: &str, max: usize) -> &str {
    // No more bytes than `max` means no more characters either.
    if text.len() <= max {
        return text;
    }
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// A valid Excel sheet name from a report title: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { ' ' } else { c })
        .collect();
    let name = truncate(cleaned.trim().trim_matches('\''), 31)
        .trim()
        .to_owned();
    if name.is_empty() {
        "Report".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::OutputOptions;

    fn layout<'a>(columns: &'a [Column], dir: &'a std::path::Path) -> Layout<'a> {
        Layout {
            title: "Split test",
            subject: "split",
            columns,
            created: chrono::DateTime::UNIX_EPOCH,
            temp_dir: dir,
            options: OutputOptions::default(),
            currency: None,
        }
    }

    #[test]
    fn rows_past_the_sheet_limit_continue_on_a_sheet_with_the_header_again() {
        let dir = tempfile::tempdir().unwrap();
        let columns = [Column {
            name: "n".into(),
            header: "Number".into(),
            kind: ColumnType::Integer,
            scale: 0,
        }];
        let path = dir.path().join("split.xlsx");
        let file = File::create(&path).unwrap();
        let mut writer = XlsxWriter::with_max_rows(file, &layout(&columns, dir.path()), 4).unwrap();
        for n in 0..7 {
            writer.write_row(&[Cell::Integer(n)]).unwrap();
        }
        writer.finish().unwrap();

        use calamine::Reader;
        let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
        assert_eq!(
            book.sheet_names(),
            ["Split test", "Split test (2)", "Split test (3)"]
        );
        let counts: Vec<Vec<String>> = book
            .sheet_names()
            .iter()
            .map(|name| {
                let range = book.worksheet_range(name).unwrap();
                range.rows().map(|r| r[0].to_string()).collect()
            })
            .collect();
        assert_eq!(counts[0], ["Number", "0", "1", "2"]);
        assert_eq!(counts[1], ["Number", "3", "4", "5"]);
        assert_eq!(counts[2], ["Number", "6"]);
    }

    #[test]
    fn number_widths_are_the_printed_lengths() {
        for value in [0i64, 7, -7, 10, -99, 123_456, i64::MAX, i64::MIN] {
            assert_eq!(integer_width(value), value.to_string().len(), "{value}");
        }
        for (mantissa, scale) in [
            (5, 2),
            (-5, 2),
            (12_345, 2),
            (-12_345, 2),
            (100, 0),
            (1, 4),
            (-1, 28),
            (0, 2),
            (i64::MAX, 3),
        ] {
            let value = Decimal::new(mantissa, scale);
            assert_eq!(decimal_width(&value), value.to_string().len(), "{value}");
        }
        assert_eq!(truncate("héllo", 3), "hél");
        assert_eq!(truncate("héllo", 5), "héllo");
    }

    #[test]
    fn sheet_names_drop_forbidden_characters_and_fit_excel() {
        assert_eq!(sheet_name("A/R: aging [detail]"), "A R  aging  detail");
        assert_eq!(sheet_name(&"x".repeat(40)).len(), 31);
    }
}
