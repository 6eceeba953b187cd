//! The PostgreSQL fast path for CSV: `COPY (query) TO STDOUT WITH (FORMAT csv)`, with
//! every cell rendered by the server exactly as the CSV writer renders the decoded value
//! — formula-like text prefixed with `'`, money shifted to its scale, dates and
//! datetimes in the writer's formats, booleans as `true`/`false`, NULL and empty text
//! as an empty field — so the file is byte for byte the one the row-by-row path writes.
//!
//! The path is taken only when that promise can be kept for every value the query can
//! return: each selected column must have a type listed below (NUMERIC and floating
//! point columns, whose decoding in Rust rounds or rescales, take the row path), the
//! server must store UTF-8, and at least two columns are selected (the CSV writer
//! quotes a record made of one empty field). Values the row path cannot decode at all
//! (infinite dates, years beyond chrono's range) make the query fail, as they make the
//! row path fail.
//!
//! `COPY` takes no bind parameters, so each bind travels as a transaction-local setting
//! (`set_config(name, value, true)`, itself bound) and the query reads it back with
//! `current_setting(name)` cast to the bind's type; nothing is ever interpolated.

use std::fmt::Write as _;

use sqlx::postgres::{PgConnection, PgTypeInfo};
use sqlx::{
    AssertSqlSafe, Column as _, Executor as _, SqlSafeStr as _, Statement as _, TypeInfo as _,
};

use super::source::{Query, SourceError};
use crate::catalog::{BindValue, Column, ColumnType};

/// Code points that make text look like a formula (see
/// [`crate::writer::looks_like_formula`]): `= + - @`, tab, carriage return, and the
/// full-width `＝ ＋ － ＠`.
const FORMULA_STARTS: &str = "61, 43, 45, 64, 9, 13, 65309, 65291, 65293, 65312";

/// A `COPY` statement ready to run, and the settings it reads its binds from.
#[derive(Debug)]
pub(super) struct CopyPlan {
    /// `SELECT set_config('quire.bind_1', $1, true), ...`, bound with `values`.
    pub settings: Option<String>,
    /// The values of the settings, in order.
    pub values: Vec<String>,
    /// The `COPY ... TO STDOUT` statement.
    pub copy: String,
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
    if query.selected.len() < 2 {
        return Ok(None);
    }
    let encoding: String = sqlx::query_scalar("SELECT current_setting('server_encoding')")
        .fetch_one(&mut *conn)
        .await?;
    if encoding != "UTF8" {
        return Ok(None);
    }
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
    let mut cells = Vec::with_capacity(query.selected.len());
    for &index in query.selected {
        let column = &query.columns[index];
        let value = format!("q.c{}", index + 1);
        match render(column, found[index].type_info().name(), &value) {
            Some(expression) => cells.push(expression),
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
    let aliases: Vec<String> = (1..=query.columns.len()).map(|n| format!("c{n}")).collect();
    let copy = format!(
        "COPY (SELECT {} FROM ({inner}\n) AS q({})) TO STDOUT WITH (FORMAT csv)",
        cells.join(", "),
        aliases.join(", ")
    );
    Ok(Some(CopyPlan {
        settings: (!values.is_empty()).then_some(settings),
        values,
        copy,
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

/// The SQL expression that renders `value`, of PostgreSQL type `found`, as the CSV
/// writer renders the cell the row path decodes for `column`; `None` when there is no
/// exact one.
fn render(column: &Column, found: &str, value: &str) -> Option<String> {
    let integer = matches!(found, "INT2" | "INT4" | "INT8");
    Some(match column.kind {
        ColumnType::Text if matches!(found, "TEXT" | "VARCHAR" | "NAME") => format!(
            "CASE WHEN ascii({value}) IN ({FORMULA_STARTS}) THEN '''' || {value} \
             ELSE NULLIF({value}, '') END"
        ),
        // The row path writes the number as text, so a negative one looks like a formula.
        ColumnType::Text if integer => {
            format!("CASE WHEN {value} < 0 THEN '''' || {value} ELSE {value}::text END")
        }
        ColumnType::Integer if integer => format!("{value}::text"),
        ColumnType::Boolean if found == "BOOL" => {
            format!("CASE WHEN {value} THEN 'true' WHEN NOT {value} THEN 'false' END")
        }
        // An integer is minor units: `Decimal::new(v, scale)` prints exactly `scale`
        // decimals, as does the product with 10^-scale.
        ColumnType::Decimal | ColumnType::Money | ColumnType::Percent
            if integer && column.scale <= 28 =>
        {
            match column.scale {
                0 => format!("{value}::text"),
                scale => format!(
                    "({value}::numeric * 0.{}1)::text",
                    "0".repeat(scale as usize - 1)
                ),
            }
        }
        ColumnType::Date => match found {
            "DATE" | "TIMESTAMP" => date(value),
            "TIMESTAMPTZ" => date(&format!("({value} AT TIME ZONE 'UTC')")),
            _ => return None,
        },
        ColumnType::Datetime => match found {
            "TIMESTAMP" => datetime(value),
            "TIMESTAMPTZ" => datetime(&format!("({value} AT TIME ZONE 'UTC')")),
            _ => return None,
        },
        _ => return None,
    })
}

/// chrono's `%Y-%m-%d` of a date or timestamp: years 1–9999 in four digits, later
/// ones with a `+`, earlier ones astronomically numbered (1 BC is `0000`, 2 BC `-0001`).
fn date(value: &str) -> String {
    format!(
        "CASE WHEN {value} >= '0001-01-01' AND {value} < '10000-01-01' \
         THEN to_char({value}, 'YYYY-MM-DD') \
         ELSE {} || to_char({value}, '-MM-DD') END",
        year(value)
    )
}

/// chrono's RFC 3339 form with `Z` and the shortest of no, 3 or 6 fraction digits that
/// is exact, of a timestamp in UTC.
fn datetime(value: &str) -> String {
    format!(
        "CASE WHEN {value} >= '0001-01-01' AND {value} < '10000-01-01' \
         THEN to_char({value}, 'YYYY-MM-DD\"T\"HH24:MI:SS') \
         ELSE {} || to_char({value}, '-MM-DD\"T\"HH24:MI:SS') END \
         || CASE WHEN date_trunc('second', {value}) = {value} THEN '' \
         WHEN date_trunc('milliseconds', {value}) = {value} THEN to_char({value}, '.MS') \
         ELSE to_char({value}, '.US') END || 'Z'",
        year(value)
    )
}

/// The year of a date outside 1–9999 as chrono writes it; a value the row path cannot
/// decode (infinite, or past chrono's last year) stops the query with an error.
fn year(value: &str) -> String {
    format!(
        "CASE WHEN NOT isfinite({value}) OR {value} >= '262143-01-01' \
         THEN (('quire: ' || {value}::text || ' is outside the dates a report can hold')::int)::text \
         WHEN {value} >= '10000-01-01' THEN '+' || extract(year FROM {value})::int::text \
         WHEN extract(year FROM {value}) = -1 THEN '0000' \
         ELSE '-' || lpad((-extract(year FROM {value})::int - 1)::text, 4, '0') END"
    )
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn numeric_and_float_columns_take_the_row_path() {
        let money = Column {
            name: "m".into(),
            header: "M".into(),
            kind: ColumnType::Money,
            scale: 2,
        };
        assert!(render(&money, "NUMERIC", "v").is_none());
        assert!(render(&money, "FLOAT8", "v").is_none());
        assert_eq!(
            render(&money, "INT8", "v").unwrap(),
            "(v::numeric * 0.01)::text"
        );
    }
}
