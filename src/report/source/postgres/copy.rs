//! The PostgreSQL fast path: `COPY (query) TO STDOUT WITH (FORMAT binary)`, parsed
//! here. The server sends the same binary values as for a normal query, minus the
//! per-row protocol and decoding overhead of a driver row, and each value is decoded by
//! the same [`Decoder`] the row path uses, so the writers get the same cells and write
//! the same bytes, for CSV and XLSX alike.
//!
//! The path is taken only when every selected column has such a decoder (NUMERIC and
//! floating point columns, which sqlx decodes, take the row path); anything unexpected
//! in the stream is an error, never a guess.
//!
//! `COPY` takes no bind parameters, so each bind travels as a transaction-local setting
//! (`set_config(name, value, true)`, itself bound) and the query reads it back with
//! `current_setting(name)` cast to the bind's type; nothing is ever interpolated.

use std::fmt::Write as _;

use sqlx::postgres::{PgConnection, PgTypeInfo};
use sqlx::{AssertSqlSafe, Column as _, Executor as _, SqlSafeStr as _, Statement as _};

use super::binary::Decoder;
use crate::catalog::BindValue;
use crate::report::query::{Query, SourceError};
use crate::writer::Cell;

/// A `COPY` statement ready to run, the settings it reads its binds from, and how to
/// decode what it sends.
#[derive(Debug)]
pub(super) struct CopyPlan {
    /// `SELECT set_config('quire.bind_1', $1, true), ...`, bound with `values`.
    pub settings: Option<String>,
    /// The values of the settings, in order.
    pub values: Vec<String>,
    /// The `COPY ... TO STDOUT WITH (FORMAT binary)` statement.
    pub copy: String,
    /// Columns the query returns.
    pub width: usize,
    /// For each output column: the query column it comes from and its decoder.
    pub decoders: Vec<(usize, Decoder)>,
}

/// The fast path for `query` on `conn`, or `None` when it cannot promise the row
/// path's bytes (the caller then takes the row path).
///
/// # Errors
/// When the query cannot be prepared.
pub(super) async fn plan(
    conn: &mut PgConnection,
    query: &Query<'_>,
) -> Result<Option<CopyPlan>, SourceError> {
    let mut parameter_types = Vec::with_capacity(query.sql.names.len());
    let mut binds = Vec::with_capacity(query.sql.names.len());
    for name in &query.sql.names {
        let bind = match query.binds.get(name) {
            Some(value) => Bind::of(value),
            None => Some(Bind::Null("text")),
        };
        let Some(bind) = bind else { return Ok(None) };
        parameter_types.push(PgTypeInfo::with_name(bind.type_name()));
        binds.push(bind);
    }
    let statement = (&mut *conn)
        .prepare_with(
            AssertSqlSafe(query.sql.text.clone()).into_sql_str(),
            &parameter_types,
        )
        .await?;
    let found = statement.columns();
    if found.len() != query.columns.len() {
        return Ok(None);
    }
    let mut decoders = Vec::with_capacity(query.selected.len());
    for &index in query.selected {
        match Decoder::for_column(&query.columns[index], found[index].type_info()) {
            Some(decoder) => decoders.push((index, decoder)),
            None => return Ok(None),
        }
    }

    let mut settings = String::from("SELECT ");
    let mut values = Vec::new();
    for (number, bind) in (1..).zip(&binds) {
        if let Bind::Value { text, .. } = bind {
            if !values.is_empty() {
                settings.push_str(", ");
            }
            values.push(text.clone());
            let _ = write!(
                settings,
                "set_config('quire.bind_{number}', ${}, true)",
                values.len()
            );
        }
    }
    let inner = substitute(&query.sql.text, |number| match binds.get(number - 1) {
        Some(Bind::Value { type_name, .. }) => {
            format!("(current_setting('quire.bind_{number}')::{type_name})")
        }
        Some(Bind::Null(type_name)) => format!("(NULL::{type_name})"),
        // A placeholder with no bind fails in the row path too; keep it so it fails here.
        None => format!("${number}"),
    });
    // A definition may end its query with `;`, which `COPY (...)` does not accept.
    let inner = inner.trim_end().trim_end_matches(';');
    let copy = format!("COPY ({inner}\n) TO STDOUT WITH (FORMAT binary)");
    Ok(Some(CopyPlan {
        settings: (!values.is_empty()).then_some(settings),
        values,
        copy,
        width: query.columns.len(),
        decoders,
    }))
}

/// One bind as the COPY statement reads it: a setting cast to the bind's type, or a
/// typed NULL.
enum Bind {
    Value {
        text: String,
        type_name: &'static str,
    },
    Null(&'static str),
}

impl Bind {
    /// The types are those sqlx sends for the row path's binds (`String`, `i64`,
    /// `NaiveDate`, `bool`), so the query means the same. `None`: a value whose text
    /// form PostgreSQL would read back differently (a date outside years 1–9999).
    fn of(value: &BindValue) -> Option<Bind> {
        let (text, type_name) = match value {
            BindValue::Text(v) => (v.clone(), "text"),
            BindValue::Integer(v) => (v.map(|v| v.to_string()), "int8"),
            BindValue::Date(v) => {
                if v.is_some_and(|d| !(1..=9999).contains(&chrono::Datelike::year(&d))) {
                    return None;
                }
                (v.map(|d| d.format("%Y-%m-%d").to_string()), "date")
            }
            BindValue::Boolean(v) => (v.map(|v| v.to_string()), "bool"),
        };
        Some(match text {
            Some(text) => Bind::Value { text, type_name },
            None => Bind::Null(type_name),
        })
    }

    fn type_name(&self) -> &'static str {
        match self {
            Bind::Value { type_name, .. } | Bind::Null(type_name) => type_name,
        }
    }
}

/// Replaces every `$n` placeholder of PostgreSQL `sql` (outside literals, quoted
/// identifiers, comments and dollar-quoted bodies) with `replace(n)`.
fn substitute(sql: &str, mut replace: impl FnMut(usize) -> String) -> String {
    let mut out = String::with_capacity(sql.len() * 2);
    let mut copied = 0;
    crate::catalog::sql::for_each_placeholder(sql, |start, end, number| {
        out.push_str(&sql[copied..start]);
        out.push_str(&replace(number));
        copied = end;
    });
    out.push_str(&sql[copied..]);
    out
}

/// The 11-byte signature that starts a binary COPY stream.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Parses a binary COPY stream delivered in arbitrary chunks into rows of cells.
pub(super) struct TupleParser {
    /// Bytes received but not yet parsed (at most one incomplete tuple).
    pending: Vec<u8>,
    header_done: bool,
    finished: bool,
    width: usize,
    /// Where each field of the current tuple lies in `pending` (`None`: NULL).
    fields: Vec<Option<(usize, usize)>>,
}

impl TupleParser {
    /// A parser of tuples of `width` fields.
    pub(super) fn new(width: usize) -> TupleParser {
        TupleParser {
            pending: Vec::new(),
            header_done: false,
            finished: false,
            width,
            fields: Vec::with_capacity(width),
        }
    }

    /// Whether the stream's trailer arrived.
    pub(super) fn finished(&self) -> bool {
        self.finished
    }

    /// Takes the next chunk and appends every tuple it completes to `rows`, one cell
    /// per entry of `decoders` (query column, decoder) of `columns`.
    ///
    /// # Errors
    /// A malformed stream, or a value that does not decode.
    pub(super) fn push(
        &mut self,
        chunk: &[u8],
        decoders: &[(usize, Decoder)],
        columns: &[crate::catalog::Column],
        rows: &mut Vec<Vec<Cell>>,
    ) -> Result<(), SourceError> {
        self.pending.extend_from_slice(chunk);
        let mut at = 0;
        if !self.header_done {
            let Some(end) = header_end(&self.pending)? else {
                return Ok(());
            };
            self.header_done = true;
            at = end;
        }
        while !self.finished {
            let Some(end) = self.tuple_at(at)? else { break };
            if self.fields.is_empty() && end == at + 2 {
                self.finished = true;
                at = end;
                break;
            }
            let mut row = Vec::with_capacity(decoders.len());
            for &(index, decoder) in decoders {
                row.push(match self.fields[index] {
                    None => Cell::Null,
                    Some((start, len)) => {
                        decoder.decode(&self.pending[start..start + len], &columns[index])?
                    }
                });
            }
            rows.push(row);
            at = end;
        }
        if self.finished && at < self.pending.len() {
            return Err(malformed("data after the trailer"));
        }
        self.pending.drain(..at);
        Ok(())
    }

    /// Locates the tuple starting at `at`, filling `fields`; its end, or `None` when it
    /// is not complete yet. The trailer is a field count of -1 with no fields.
    fn tuple_at(&mut self, at: usize) -> Result<Option<usize>, SourceError> {
        self.fields.clear();
        let bytes = &self.pending;
        let Some(count) = bytes.get(at..at + 2) else {
            return Ok(None);
        };
        let count = i16::from_be_bytes([count[0], count[1]]);
        if count == -1 {
            return Ok(Some(at + 2));
        }
        if usize::try_from(count).ok() != Some(self.width) {
            return Err(SourceError::ColumnCount {
                found: usize::try_from(count).unwrap_or(0),
                declared: self.width,
            });
        }
        let mut cursor = at + 2;
        for _ in 0..self.width {
            let Some(length) = bytes.get(cursor..cursor + 4) else {
                return Ok(None);
            };
            let length = i32::from_be_bytes(length.try_into().expect("4 bytes"));
            cursor += 4;
            if length < 0 {
                self.fields.push(None);
                continue;
            }
            let length = usize::try_from(length).unwrap_or(usize::MAX);
            if bytes.len() < cursor + length {
                return Ok(None);
            }
            self.fields.push(Some((cursor, length)));
            cursor += length;
        }
        Ok(Some(cursor))
    }
}

/// The end of the stream's header (signature, flags, extension), once it is complete.
fn header_end(bytes: &[u8]) -> Result<Option<usize>, SourceError> {
    if bytes.len() < SIGNATURE.len() + 8 {
        return Ok(None);
    }
    if &bytes[..SIGNATURE.len()] != SIGNATURE {
        return Err(malformed("a missing signature"));
    }
    let at = SIGNATURE.len() + 4;
    let extension = i32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let end = at + 4 + usize::try_from(extension).map_err(|_| malformed("a bad header"))?;
    Ok((bytes.len() >= end).then_some(end))
}

fn malformed(what: &str) -> SourceError {
    SourceError::Copy(format!("the COPY stream has {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Column, ColumnType};

    #[test]
    fn placeholders_are_replaced_outside_literals_only() {
        let sql = "SELECT '$1', $$ $1 $$, \"$1\" -- $1\nFROM t WHERE a = $1 AND b = $12";
        let out = substitute(sql, |n| format!("<{n}>"));
        assert_eq!(
            out,
            "SELECT '$1', $$ $1 $$, \"$1\" -- $1\nFROM t WHERE a = <1> AND b = <12>"
        );
    }

    #[test]
    fn a_binary_copy_stream_parses_into_cells_across_any_chunking() {
        let text = Column {
            name: "t".into(),
            header: "T".into(),
            kind: ColumnType::Text,
            scale: 0,
        };
        let number = Column {
            kind: ColumnType::Integer,
            ..text.clone()
        };
        let columns = [text, number];
        let mut stream = Vec::new();
        stream.extend_from_slice(SIGNATURE);
        stream.extend_from_slice(&0i32.to_be_bytes());
        stream.extend_from_slice(&4i32.to_be_bytes());
        stream.extend_from_slice(b"ext!");
        for (name, value) in [(Some("a,\"b\""), 7i64), (None, -1)] {
            stream.extend_from_slice(&2i16.to_be_bytes());
            match name {
                Some(name) => {
                    stream.extend_from_slice(&(name.len() as i32).to_be_bytes());
                    stream.extend_from_slice(name.as_bytes());
                }
                None => stream.extend_from_slice(&(-1i32).to_be_bytes()),
            }
            stream.extend_from_slice(&8i32.to_be_bytes());
            stream.extend_from_slice(&value.to_be_bytes());
        }
        stream.extend_from_slice(&(-1i16).to_be_bytes());
        let decoders = [(0, Decoder::Text), (1, Decoder::Integer)];
        for chunk in [1, 3, 7, stream.len()] {
            let mut parser = TupleParser::new(2);
            let mut rows = Vec::new();
            for piece in stream.chunks(chunk) {
                parser.push(piece, &decoders, &columns, &mut rows).unwrap();
            }
            assert!(parser.finished(), "chunks of {chunk}");
            assert_eq!(
                rows,
                [
                    vec![Cell::Text("a,\"b\"".into()), Cell::Integer(7)],
                    vec![Cell::Null, Cell::Integer(-1)],
                ]
            );
        }
    }
}
