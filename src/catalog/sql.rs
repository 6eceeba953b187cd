//! Rewrites named parameters (`:tenant`, `:start_date`) into the database's own
//! placeholders. A small tokenizer skips string literals, quoted identifiers (MySQL's
//! backticks too), comments, dollar-quoted bodies and `::` casts, so that only real
//! parameters are rewritten. Values are always bound, never interpolated.

use crate::db::Dialect;

/// A query with its named parameters replaced by numbered placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundSql {
    /// The SQL text in the target dialect.
    pub text: String,
    /// The parameter each placeholder binds, in placeholder order: `$1`/`?1` is
    /// `names[0]`. Numbered placeholders serve a name used twice with one bind, so the
    /// names are distinct; MySQL's `?` are positional, so there a name used twice
    /// appears twice.
    pub names: Vec<String>,
}

/// A malformed query text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    /// A string literal, quoted identifier, block comment or dollar-quoted body never
    /// ends; holds what was left open.
    #[error("unterminated {0} in the query")]
    Unterminated(&'static str),
}

/// One query written for each SQL dialect.
#[derive(Debug, Clone)]
pub struct Dialects<T> {
    /// The SQLite text.
    pub sqlite: T,
    /// The PostgreSQL text.
    pub postgres: T,
    /// The MySQL and MariaDB text.
    pub mysql: T,
}

impl<T> Dialects<T> {
    /// Builds each dialect's value with `make`, stopping at the first error.
    pub fn try_each<E>(mut make: impl FnMut(Dialect) -> Result<T, E>) -> Result<Dialects<T>, E> {
        Ok(Dialects {
            sqlite: make(Dialect::Sqlite)?,
            postgres: make(Dialect::Postgres)?,
            mysql: make(Dialect::Mysql)?,
        })
    }

    /// The value for `dialect`.
    pub fn get(&self, dialect: Dialect) -> &T {
        match dialect {
            Dialect::Sqlite => &self.sqlite,
            Dialect::Postgres => &self.postgres,
            Dialect::Mysql => &self.mysql,
        }
    }
}

/// Rewrites every `:name` of `sql` to `$n` (PostgreSQL), `?n` (SQLite), one number per
/// distinct name, so a parameter used twice is bound once; or to `?` (MySQL), one
/// placeholder and one bind per use.
///
/// # Errors
/// When a quote, quoted identifier or block comment is never closed.
pub fn rewrite(sql: &str, dialect: Dialect) -> Result<BoundSql, SqlError> {
    let bytes = sql.as_bytes();
    let mut text = String::with_capacity(sql.len());
    let mut names: Vec<String> = Vec::new();
    let mut copied_up_to = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(end) = skip_inert(sql, i, dialect)? {
            i = end;
            continue;
        }
        match bytes[i] {
            b':' if bytes.get(i + 1) == Some(&b':') => i += 2,
            b':' if bytes.get(i + 1).is_some_and(|b| is_name_start(*b)) => {
                let start = i + 1;
                let end = start
                    + bytes[start..]
                        .iter()
                        .take_while(|b| is_name_char(**b))
                        .count();
                let name = &sql[start..end];
                text.push_str(&sql[copied_up_to..i]);
                let known = names.iter().position(|known| known == name);
                match (dialect, known) {
                    (Dialect::Mysql, _) | (_, None) => names.push(name.to_owned()),
                    (_, Some(_)) => {}
                }
                match dialect {
                    Dialect::Mysql => text.push('?'),
                    Dialect::Postgres | Dialect::Sqlite => {
                        text.push(if dialect == Dialect::Postgres {
                            '$'
                        } else {
                            '?'
                        });
                        let number = known.unwrap_or(names.len() - 1) + 1;
                        text.push_str(&number.to_string());
                    }
                }
                copied_up_to = end;
                i = end;
            }
            _ => i += 1,
        }
    }
    text.push_str(&sql[copied_up_to..]);
    Ok(BoundSql { text, names })
}

/// Calls `found(start, end, n)` for every `$n` placeholder of PostgreSQL `sql` that
/// [`rewrite`] wrote (outside literals, quoted identifiers, comments, dollar-quoted
/// bodies, and not inside an identifier such as `a$1`).
pub fn for_each_placeholder(sql: &str, mut found: impl FnMut(usize, usize, usize)) {
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match skip_inert(sql, i, Dialect::Postgres) {
            Ok(Some(end)) => i = end,
            // Only text that `rewrite` accepted comes here; stop rather than guess.
            Err(_) => return,
            Ok(None) if bytes[i] == b'$' => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let in_identifier = i > 0 && (is_name_char(bytes[i - 1]) || bytes[i - 1] == b'$');
                if digits > 0
                    && !in_identifier
                    && let Ok(number) = sql[i + 1..i + 1 + digits].parse()
                {
                    found(i, i + 1 + digits, number);
                }
                i += 1 + digits;
            }
            Ok(None) => i += 1,
        }
    }
}

/// The index just past the string literal, quoted identifier, comment or (PostgreSQL)
/// dollar-quoted body starting at `i`, if one does.
fn skip_inert(sql: &str, i: usize, dialect: Dialect) -> Result<Option<usize>, SqlError> {
    let bytes = sql.as_bytes();
    // MySQL strings take backslash escapes as well as doubled quotes.
    let backslashes = dialect == Dialect::Mysql;
    Ok(Some(match bytes[i] {
        b'\'' => skip_quoted(bytes, i, b'\'', backslashes, "string literal")?,
        b'"' => skip_quoted(bytes, i, b'"', backslashes, "quoted identifier")?,
        b'`' if dialect == Dialect::Mysql => {
            skip_quoted(bytes, i, b'`', false, "backtick identifier")?
        }
        b'-' if bytes.get(i + 1) == Some(&b'-') => {
            memchr_from(bytes, i, b'\n').unwrap_or(bytes.len())
        }
        b'#' if dialect == Dialect::Mysql => memchr_from(bytes, i, b'\n').unwrap_or(bytes.len()),
        b'/' if bytes.get(i + 1) == Some(&b'*') => sql[i + 2..]
            .find("*/")
            .map(|end| i + 2 + end + 2)
            .ok_or(SqlError::Unterminated("block comment"))?,
        b'$' if dialect == Dialect::Postgres => match skip_dollar_quoted(sql, i)? {
            end if end == i + 1 => return Ok(None),
            end => end,
        },
        _ => return Ok(None),
    }))
}

fn is_name_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

fn is_name_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn memchr_from(bytes: &[u8], from: usize, needle: u8) -> Option<usize> {
    bytes[from..]
        .iter()
        .position(|b| *b == needle)
        .map(|p| from + p)
}

/// Skips a literal opened by `quote` at `start`; a doubled quote is an escaped quote,
/// and so, with `backslashes`, is a quote after a backslash.
fn skip_quoted(
    bytes: &[u8],
    start: usize,
    quote: u8,
    backslashes: bool,
    what: &'static str,
) -> Result<usize, SqlError> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslashes => i += 2,
            byte if byte == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
            byte if byte == quote => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(SqlError::Unterminated(what))
}

/// Skips a PostgreSQL dollar-quoted body (`$tag$ ... $tag$`); a lone `$` (as in `$1`)
/// is passed over.
fn skip_dollar_quoted(sql: &str, start: usize) -> Result<usize, SqlError> {
    let rest = &sql[start + 1..];
    let tag_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    if rest.as_bytes().get(tag_len) != Some(&b'$') || rest.starts_with(|c: char| c.is_ascii_digit())
    {
        return Ok(start + 1);
    }
    let delimiter = &sql[start..start + tag_len + 2];
    let body_start = start + delimiter.len();
    sql[body_start..]
        .find(delimiter)
        .map(|end| body_start + end + delimiter.len())
        .ok_or(SqlError::Unterminated("dollar-quoted string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str) -> BoundSql {
        rewrite(sql, Dialect::Postgres).unwrap()
    }

    #[test]
    fn each_distinct_name_gets_one_placeholder() {
        let bound = pg("SELECT * FROM t WHERE a = :tenant AND b >= :start AND c = :tenant");
        assert_eq!(
            bound.text,
            "SELECT * FROM t WHERE a = $1 AND b >= $2 AND c = $1"
        );
        assert_eq!(bound.names, ["tenant", "start"]);
    }

    #[test]
    fn sqlite_uses_numbered_question_marks() {
        let bound = rewrite("x = :a OR y = :b OR z = :a", Dialect::Sqlite).unwrap();
        assert_eq!(bound.text, "x = ?1 OR y = ?2 OR z = ?1");
    }

    #[test]
    fn mysql_binds_each_use_of_a_name_at_its_own_question_mark() {
        let bound = rewrite("x = :a OR y = :b OR z = :a", Dialect::Mysql).unwrap();
        assert_eq!(bound.text, "x = ? OR y = ? OR z = ?");
        assert_eq!(bound.names, ["a", "b", "a"]);
    }

    #[test]
    fn mysql_backticks_hash_comments_and_backslash_escapes_are_left_alone() {
        let sql =
            "SELECT `odd:name`, 'it\\'s :no', \"a \\\" :no\" # :no\nFROM t -- :no\nWHERE id = :yes";
        let bound = rewrite(sql, Dialect::Mysql).unwrap();
        assert_eq!(bound.names, ["yes"]);
        assert!(bound.text.starts_with("SELECT `odd:name`, 'it\\'s :no'"));
        assert!(bound.text.ends_with("WHERE id = ?"));
        assert_eq!(
            rewrite("SELECT `open", Dialect::Mysql),
            Err(SqlError::Unterminated("backtick identifier"))
        );
    }

    #[test]
    fn casts_strings_identifiers_and_comments_are_left_alone() {
        let sql = "SELECT ':no', \"col:x\", a::text, 'it''s :no' -- :no\n/* :no */ FROM t WHERE id = :yes";
        let bound = pg(sql);
        assert_eq!(bound.names, ["yes"]);
        assert!(bound.text.ends_with("id = $1"));
        assert!(bound.text.contains("a::text"));
        assert!(bound.text.contains("'it''s :no'"));
    }

    #[test]
    fn dollar_quoted_bodies_are_skipped_in_postgres() {
        let bound = pg("SELECT $tag$ :no $tag$, $$ :no $$ WHERE x = :yes");
        assert_eq!(bound.names, ["yes"]);
    }

    #[test]
    fn an_unterminated_literal_is_an_error() {
        assert_eq!(
            rewrite("SELECT 'open", Dialect::Sqlite),
            Err(SqlError::Unterminated("string literal"))
        );
        assert_eq!(
            rewrite("SELECT /* open", Dialect::Sqlite),
            Err(SqlError::Unterminated("block comment"))
        );
    }
}
