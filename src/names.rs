//! The names and secrets a request carries in, each parsed once where it enters (the
//! API, the CLI) so that an invalid one cannot travel inward: a tenant's slug, a
//! report's name, an `Idempotency-Key` and a download token.

use std::fmt;

use serde::Serialize;

/// Why a name was refused: a sentence fit for the client, `tenant "a b" must be …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {problem}")]
pub struct InvalidName {
    /// What the name is, as the sentence starts: `tenant`, `report name`.
    what: &'static str,
    /// The rest of the sentence: the value, quoted, and the rule it breaks.
    problem: String,
}

impl InvalidName {
    /// The sentence without what the name is, to follow a request field's own name
    /// (`"a b" must be …` after `tenant`), so that the name is not said twice.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

/// The most characters of a client's value an error message repeats.
const ECHO_LIMIT: usize = 200;

/// `text` quoted for an error message, cut to 200 characters: a client that sent
/// 50 KB of nonsense gets an answer about it, not the 50 KB back.
pub(crate) fn echo(text: &str) -> String {
    match text.char_indices().nth(ECHO_LIMIT) {
        Some((end, _)) => format!("{:?}… ({} characters)", &text[..end], text.chars().count()),
        None => format!("{text:?}"),
    }
}

/// Defines a string newtype whose values satisfy `$valid`, refused with `$rule`.
macro_rules! name {
    ($(#[$doc:meta])* $name:ident, $what:literal, $rule:literal, $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses `text`.
            ///
            /// # Errors
            /// When `text` breaks the rule.
            pub fn parse(text: &str) -> Result<$name, InvalidName> {
                let valid: fn(&str) -> bool = $valid;
                if valid(text) {
                    Ok($name(text.to_owned()))
                } else {
                    Err(InvalidName {
                        what: $what,
                        problem: format!(concat!("{} ", $rule), echo(text)),
                    })
                }
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidName;

            fn from_str(text: &str) -> Result<$name, InvalidName> {
                $name::parse(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// The longest accepted tenant slug.
const MAX_TENANT: usize = 128;
/// The longest accepted `Idempotency-Key`.
pub(crate) const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Characters in a download token: 256 bits in hex.
const TOKEN_HEX_DIGITS: usize = 64;

name!(
    /// A tenant's slug, as the invoicing app names it: 1 to 128 ASCII letters, digits,
    /// `-`, `_` and `.`, not starting with `.`, so that it is safe in a file name.
    /// Whether the tenant exists is the report database's to say.
    TenantSlug,
    "tenant",
    "must be 1 to 128 letters, digits, -, _ or . (not first)",
    |text| {
        text.len() <= MAX_TENANT
            && !text.is_empty()
            && !text.starts_with('.')
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    }
);

name!(
    /// A report's name in the catalog: lowercase letters, digits and `_`.
    ReportName,
    "report name",
    "must be lowercase letters, digits and _",
    |text| {
        !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }
);

name!(
    /// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
    IdempotencyKey,
    "Idempotency-Key",
    "must be 1 to 255 visible ASCII characters",
    |text| {
        !text.is_empty()
            && text.len() <= MAX_IDEMPOTENCY_KEY
            && text.bytes().all(|b| b.is_ascii_graphic())
    }
);

name!(
    /// A download token: 256 random bits in hex, the capability to fetch one run's
    /// file. Only its hash is stored.
    DownloadToken,
    "download token",
    "must be 64 hexadecimal digits",
    |text| text.len() == TOKEN_HEX_DIGITS && text.bytes().all(|b| b.is_ascii_hexdigit())
);

impl DownloadToken {
    /// A fresh token: 256 random bits.
    pub fn generate() -> DownloadToken {
        DownloadToken(random_secret())
    }
}

/// 256 random bits in hex, URL-safe: download tokens and API keys.
pub(crate) fn random_secret() -> String {
    use rand::RngExt as _;
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_values_are_cut_to_200_characters() {
        assert_eq!(echo("acme"), "\"acme\"");
        let long = "é".repeat(5000);
        let echoed = echo(&long);
        assert!(echoed.ends_with("… (5000 characters)"), "{echoed}");
        assert_eq!(echoed.chars().filter(|c| *c == 'é').count(), 200);
        let refused = TenantSlug::parse(&"x".repeat(100_000))
            .unwrap_err()
            .to_string();
        assert!(refused.len() < 400, "{refused}");
    }

    #[test]
    fn each_name_takes_what_its_rule_allows_and_names_the_rule_when_it_refuses() {
        assert!(TenantSlug::parse("acme-co.uk_1").is_ok());
        let refused = TenantSlug::parse("two words").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "tenant \"two words\" must be 1 to 128 letters, digits, -, _ or . (not first)"
        );
        assert_eq!(format!("tenant {}", refused.problem()), refused.to_string());
        assert!(TenantSlug::parse("../etc").is_err());
        assert!(TenantSlug::parse(&"t".repeat(MAX_TENANT + 1)).is_err());
        assert!(TenantSlug::parse("").is_err());

        assert!(ReportName::parse("ar_summary").is_ok());
        assert!(ReportName::parse("AR-summary").is_err());

        assert!(IdempotencyKey::parse(&"k".repeat(MAX_IDEMPOTENCY_KEY)).is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(MAX_IDEMPOTENCY_KEY + 1)).is_err());
        assert!(IdempotencyKey::parse("caf\u{e9}").is_err());

        let token = DownloadToken::generate();
        assert_eq!(DownloadToken::parse(token.as_str()), Ok(token));
        assert!(DownloadToken::parse("../../etc/passwd").is_err());
    }
}
