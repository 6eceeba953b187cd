//! The catalog as `GET /v1/report-types` shows it: what an app can ask for, enough to
//! build a form.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A report that can be asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportType {
    /// Its name, as [`ReportOrder::report`](crate::ReportOrder::report) gives it.
    pub name: String,
    /// A title for people.
    pub title: String,
    /// What it lists.
    pub description: String,
    /// The parameters it takes.
    pub parameters: Vec<Parameter>,
    /// Its columns, in output order.
    pub columns: Vec<Column>,
}

/// One parameter of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    /// The key a request gives it under.
    pub name: String,
    /// A label for forms, when the definition gives one.
    pub label: Option<String>,
    /// `date`, `date_range`, `text`, `integer`, `enum`, `boolean` or `id_list`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether a request must give it (it has no default).
    pub required: bool,
    /// The value used when a request leaves it out.
    pub default: Option<Value>,
    /// What its type allows: `values` of an enum, `min` and `max` of an integer,
    /// `max_length` of a text.
    #[serde(flatten)]
    pub limits: Map<String, Value>,
}

/// One column of a report's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Its name in the `columns` parameter.
    pub name: String,
    /// The header row's text.
    pub header: String,
    /// `text`, `integer`, `decimal`, `money`, `percent`, `date`, `datetime` or
    /// `boolean`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Decimal places of decimal and money values.
    pub scale: u32,
}
