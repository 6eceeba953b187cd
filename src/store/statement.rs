//! A store statement: its file's text, with `$n` placeholders that SQLite and
//! PostgreSQL both take, and, made on first use, the MySQL text, whose `?` are
//! positional: there a `$n` written twice, or out of order, is bound once per use.

use std::sync::OnceLock;

use sqlx::{Arguments, Database, Encode, IntoArguments, MySql, Postgres, Sqlite, Type};

/// One statement of `store/sql/`; a `static` per use of [`sql!`](super::sql).
#[derive(Debug)]
pub(crate) struct Statement {
    text: &'static str,
    /// The text MySQL runs instead, when it needs its own (still with `$n`).
    mysql: Option<&'static str>,
    positional: OnceLock<Positional>,
}

/// The statement with positional placeholders, and for each, which `$n` it binds
/// (zero-based).
#[derive(Debug)]
struct Positional {
    text: String,
    binds: Vec<usize>,
}

/// A value bound to a store statement: quire's own state is text and integers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Text(Option<&'a str>),
    Integer(Option<i64>),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(text: &'a str) -> Self {
        Value::Text(Some(text))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(text: &'a String) -> Self {
        Value::Text(Some(text))
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(text: Option<&'a str>) -> Self {
        Value::Text(text)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(text: &'a Option<String>) -> Self {
        Value::Text(text.as_deref())
    }
}

impl From<i64> for Value<'_> {
    fn from(number: i64) -> Self {
        Value::Integer(Some(number))
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(number: Option<i64>) -> Self {
        Value::Integer(number)
    }
}

/// The databases quire keeps its state in, by how they number placeholders.
pub(crate) trait StateDatabase: Database {
    /// Whether `?` placeholders bind by position (MySQL), not by number.
    const POSITIONAL: bool;
}

impl StateDatabase for Sqlite {
    const POSITIONAL: bool = false;
}

impl StateDatabase for Postgres {
    const POSITIONAL: bool = false;
}

impl StateDatabase for MySql {
    const POSITIONAL: bool = true;
}

/// The arguments of a statement on `DB`, as its driver wants them.
type Args<DB> = <DB as Database>::Arguments;

impl Statement {
    /// The statement written as `text`.
    pub(crate) const fn new(text: &'static str, mysql: Option<&'static str>) -> Statement {
        Statement {
            text,
            mysql,
            positional: OnceLock::new(),
        }
    }

    fn positional(&self) -> &Positional {
        self.positional.get_or_init(|| {
            let written = self.mysql.unwrap_or(self.text);
            let mut text = String::with_capacity(written.len());
            let mut binds = Vec::new();
            let mut copied_up_to = 0;
            crate::catalog::sql::for_each_placeholder(written, |start, end, number| {
                text.push_str(&written[copied_up_to..start]);
                text.push('?');
                binds.push(number - 1);
                copied_up_to = end;
            });
            text.push_str(&written[copied_up_to..]);
            Positional { text, binds }
        })
    }

    /// The text for `DB` and `values` bound as it numbers them.
    ///
    /// # Panics
    /// When the text names a `$n` past `values`: a statement and its caller disagree.
    fn prepared<'v, DB>(&'static self, values: &[Value<'v>]) -> (&'static str, Args<DB>)
    where
        DB: StateDatabase,
        Option<&'v str>: Encode<'v, DB> + Type<DB>,
        Option<i64>: Encode<'v, DB> + Type<DB>,
    {
        let mut arguments = Args::<DB>::default();
        let mut add = |value: Value<'v>| {
            match value {
                Value::Text(text) => arguments.add(text),
                Value::Integer(number) => arguments.add(number),
            }
            .expect("text and integers always encode")
        };
        if DB::POSITIONAL {
            let positional = self.positional();
            for &bind in &positional.binds {
                add(values[bind]);
            }
            (&positional.text, arguments)
        } else {
            values.iter().copied().for_each(add);
            (self.text, arguments)
        }
    }

    /// The statement with `values` bound, for `execute`.
    pub(crate) fn query<'v, DB>(
        &'static self,
        values: &[Value<'v>],
    ) -> sqlx::query::Query<'static, DB, Args<DB>>
    where
        DB: StateDatabase,
        Args<DB>: IntoArguments<DB>,
        Option<&'v str>: Encode<'v, DB> + Type<DB>,
        Option<i64>: Encode<'v, DB> + Type<DB>,
    {
        let (text, arguments) = self.prepared::<DB>(values);
        sqlx::query_with(text, arguments)
    }

    /// The statement with `values` bound, its rows decoded as `O`.
    pub(crate) fn query_as<'v, DB, O>(
        &'static self,
        values: &[Value<'v>],
    ) -> sqlx::query::QueryAs<'static, DB, O, Args<DB>>
    where
        DB: StateDatabase,
        Args<DB>: IntoArguments<DB>,
        O: for<'r> sqlx::FromRow<'r, DB::Row>,
        Option<&'v str>: Encode<'v, DB> + Type<DB>,
        Option<i64>: Encode<'v, DB> + Type<DB>,
    {
        let (text, arguments) = self.prepared::<DB>(values);
        sqlx::query_as_with(text, arguments)
    }

    /// The statement with `values` bound, the first column of its rows decoded as `O`.
    pub(crate) fn query_scalar<'v, DB, O>(
        &'static self,
        values: &[Value<'v>],
    ) -> sqlx::query::QueryScalar<'static, DB, O, Args<DB>>
    where
        DB: StateDatabase,
        Args<DB>: IntoArguments<DB>,
        (O,): for<'r> sqlx::FromRow<'r, DB::Row>,
        Option<&'v str>: Encode<'v, DB> + Type<DB>,
        Option<i64>: Encode<'v, DB> + Type<DB>,
    {
        let (text, arguments) = self.prepared::<DB>(values);
        sqlx::query_scalar_with(text, arguments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_binds_each_use_of_a_number_in_the_order_written() {
        static FINISH: Statement = Statement::new(
            "-- $1: id, $2: fence\nUPDATE t SET a = $3, b = '$9' WHERE id = $1 AND ($2 IS NULL OR f = $2)",
            None,
        );
        let positional = FINISH.positional();
        assert_eq!(
            positional.text,
            "-- $1: id, $2: fence\nUPDATE t SET a = ?, b = '$9' WHERE id = ? AND (? IS NULL OR f = ?)"
        );
        assert_eq!(positional.binds, [2, 0, 1, 1]);
    }
}
