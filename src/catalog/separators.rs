//! How a CSV file separates fields and writes decimals: asked for per request, with a
//! report's own choice as the default.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A CSV field separator: `,`, `;` (what spreadsheets expect where `,` is the decimal
/// mark) or a tab.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum CsvDelimiter {
    /// `,`
    #[default]
    #[serde(rename = ",")]
    Comma,
    /// `;`
    #[serde(rename = ";")]
    Semicolon,
    /// A tab.
    #[serde(rename = "\t", alias = "tab")]
    Tab,
}

impl CsvDelimiter {
    /// The separator's byte.
    pub fn byte(self) -> u8 {
        match self {
            CsvDelimiter::Comma => b',',
            CsvDelimiter::Semicolon => b';',
            CsvDelimiter::Tab => b'\t',
        }
    }
}

impl FromStr for CsvDelimiter {
    type Err = String;

    fn from_str(text: &str) -> Result<CsvDelimiter, String> {
        match text {
            "," => Ok(CsvDelimiter::Comma),
            ";" => Ok(CsvDelimiter::Semicolon),
            "\t" | "tab" => Ok(CsvDelimiter::Tab),
            other => Err(format!(
                "unknown CSV delimiter {}; use \",\", \";\" or \"tab\"",
                crate::names::echo(other)
            )),
        }
    }
}

/// The mark between a number's whole part and its fraction: `.` or `,`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum DecimalMark {
    /// `.`
    #[default]
    #[serde(rename = ".")]
    Point,
    /// `,`
    #[serde(rename = ",")]
    Comma,
}

impl FromStr for DecimalMark {
    type Err = String;

    fn from_str(text: &str) -> Result<DecimalMark, String> {
        match text {
            "." => Ok(DecimalMark::Point),
            "," => Ok(DecimalMark::Comma),
            other => Err(format!(
                "unknown decimal mark {}; use \".\" or \",\"",
                crate::names::echo(other)
            )),
        }
    }
}
