//! The file name a download's `Content-Disposition` gives (RFC 6266), checked to be a
//! plain name before anything is written under it: a client saves what a server
//! names, so a hostile or broken server must not be able to name `../.bashrc`.

use std::path::{Component, Path};

use crate::error::FilenameError;

/// The file name of a `Content-Disposition` value: `filename*` (RFC 8187, UTF-8) when
/// present, since it carries the name as written, else `filename`.
///
/// # Errors
/// No name, a `filename*` that cannot be decoded, or a name that is not a plain file
/// name.
pub(crate) fn from_disposition(value: &str) -> Result<String, FilenameError> {
    let parameters = parameters(value);
    let find = |wanted: &str| {
        parameters
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.as_str())
    };
    let name = match (find("filename*"), find("filename")) {
        (Some(extended), _) => decode_extended(extended)?,
        (None, Some(plain)) => plain.to_owned(),
        (None, None) => return Err(FilenameError::Missing),
    };
    plain_file_name(name)
}

/// The `name=value` parameters after the disposition type, quoted strings unescaped.
/// A piece without `=` is skipped, as RFC 6266 asks of parameters a reader does not
/// understand.
fn parameters(value: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    // The disposition type (`attachment`) comes first and is not a parameter.
    let Some((_, mut rest)) = value.split_once(';') else {
        return found;
    };
    loop {
        let name_end = rest.find(['=', ';']).unwrap_or(rest.len());
        let name = rest[..name_end].trim();
        let Some(after) = rest[name_end..].strip_prefix('=') else {
            // No value: go on after the `;`, if there is one.
            match rest[name_end..].strip_prefix(';') {
                Some(next) => rest = next,
                None => return found,
            }
            continue;
        };
        let after = after.trim_start();
        let (text, remainder) = match after.strip_prefix('"') {
            Some(quoted) => unquote(quoted),
            None => {
                let end = after.find(';').unwrap_or(after.len());
                (after[..end].trim_end().to_owned(), &after[end..])
            }
        };
        found.push((name.to_owned(), text));
        match remainder.split_once(';') {
            Some((_, next)) => rest = next,
            None => return found,
        }
    }
}

/// A quoted string's text (backslash escapes undone) and what follows its closing
/// quote; an unclosed string runs to the end.
fn unquote(quoted: &str) -> (String, &str) {
    let mut text = String::new();
    let mut escaped = false;
    for (at, c) in quoted.char_indices() {
        match (escaped, c) {
            (true, _) => {
                text.push(c);
                escaped = false;
            }
            (false, '\\') => escaped = true,
            (false, '"') => return (text, &quoted[at + 1..]),
            (false, _) => text.push(c),
        }
    }
    (text, "")
}

/// An RFC 8187 value, `charset'language'percent-encoded`, in UTF-8 or ISO-8859-1 (the
/// two charsets the RFC requires readers to know).
fn decode_extended(value: &str) -> Result<String, FilenameError> {
    let undecodable = |why: &str| FilenameError::Undecodable(format!("{value:?}: {why}"));
    let mut parts = value.splitn(3, '\'');
    let (Some(charset), Some(_language), Some(encoded)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(undecodable("not charset'language'value"));
    };
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = tail
                .get(..2)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| undecodable("a % not followed by two hex digits"))?;
            bytes.push(hex);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    if charset.eq_ignore_ascii_case("UTF-8") {
        String::from_utf8(bytes).map_err(|_| undecodable("not UTF-8"))
    } else if charset.eq_ignore_ascii_case("ISO-8859-1") {
        Ok(bytes.into_iter().map(char::from).collect())
    } else {
        Err(undecodable("an unknown charset"))
    }
}

/// `name` if it names a file directly inside a folder: one normal path component, no
/// separator of any platform, no `..`, no control character.
fn plain_file_name(name: String) -> Result<String, FilenameError> {
    let mut components = Path::new(&name).components();
    let one_normal = matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(_)), None)
    );
    let plain = one_normal
        && !name.contains(['/', '\\'])
        && !name.contains("..")
        && !name.chars().any(char::is_control);
    if plain {
        Ok(name)
    } else {
        Err(FilenameError::Unsafe(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(value: &str) -> Result<String, FilenameError> {
        from_disposition(value)
    }

    /// Asserts that each of `values` is refused with an error that `is_kind`.
    fn refused(values: &[&str], is_kind: fn(&FilenameError) -> bool) {
        for value in values {
            let refusal = name(value);
            assert!(
                refusal.as_ref().is_err_and(is_kind),
                "{value:?}: {refusal:?}"
            );
        }
    }

    #[test]
    fn the_servers_own_header_gives_its_name() {
        let value = "attachment; filename=\"clients-acme-2026-06-30.csv\"; \
                     filename*=UTF-8''clients-acme-2026-06-30.csv";
        assert_eq!(name(value).unwrap(), "clients-acme-2026-06-30.csv");
    }

    #[test]
    fn filename_star_wins_over_the_ascii_fallback_wherever_it_stands() {
        let value =
            "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20Q1.xlsx; filename=\"r_sum_ Q1.xlsx\"";
        assert_eq!(name(value).unwrap(), "résumé Q1.xlsx");
        let latin1 = "attachment; FILENAME*=iso-8859-1'fr'caf%E9.csv";
        assert_eq!(name(latin1).unwrap(), "café.csv");
    }

    #[test]
    fn a_plain_filename_may_be_quoted_with_escapes_or_a_bare_token() {
        assert_eq!(
            name(r#"attachment; filename="a \"b\"; c.csv"; size=3"#).unwrap(),
            r#"a "b"; c.csv"#
        );
        assert_eq!(
            name("attachment; creation-date; filename = report.csv ").unwrap(),
            "report.csv"
        );
    }

    #[test]
    fn no_filename_is_missing() {
        for value in ["attachment", "attachment;", "inline; size=3", ""] {
            assert_eq!(name(value), Err(FilenameError::Missing), "{value:?}");
        }
    }

    #[test]
    fn a_broken_extended_value_is_undecodable() {
        let undecodable = |error: &FilenameError| matches!(error, FilenameError::Undecodable(_));
        refused(
            &[
                "attachment; filename*=UTF-8''%ZZ.csv",
                "attachment; filename*=UTF-8''%C3",
                "attachment; filename*=UTF-8''%FF.csv",
                "attachment; filename*=KOI8-R''x.csv",
                "attachment; filename*=x.csv",
            ],
            undecodable,
        );
    }

    #[test]
    fn names_that_leave_the_folder_or_hide_in_it_are_refused() {
        let unsafe_name = |error: &FilenameError| matches!(error, FilenameError::Unsafe(_));
        refused(
            &[
                "attachment; filename=\"../.bashrc\"",
                "attachment; filename=\"a/b.csv\"",
                "attachment; filename=\"a\\\\b.csv\"",
                "attachment; filename=\"/etc/passwd\"",
                "attachment; filename=..",
                "attachment; filename=.",
                "attachment; filename=\"\"",
                "attachment; filename*=UTF-8''..%2F..%2Fx.csv",
                "attachment; filename*=UTF-8''a%5Cb.csv",
                "attachment; filename*=UTF-8''a%0Ab.csv",
                "attachment; filename=safe.csv; filename*=UTF-8''..",
            ],
            unsafe_name,
        );
    }
}
