//! Report parameters: their declared types, validation of request values, resolution of
//! date-range presets to dates, and the canonical form that runs store and that
//! deduplication compares.

use crate::names::echo;
use std::collections::BTreeMap;

use chrono::{Datelike, Duration, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The parameter that selects and orders a subset of a report's columns.
pub const COLUMNS_PARAM: &str = "columns";
/// The bind names a `date_range` parameter fills.
pub const START_DATE: &str = "start_date";
/// The bind name of a date range's last day, which the range includes.
pub const END_DATE: &str = "end_date";

/// The declared type of a parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ParamType {
    /// A single date written `YYYY-MM-DD`.
    Date,
    /// A preset such as `last30`, or `custom` with explicit dates; binds `:start_date`
    /// and `:end_date`.
    DateRange,
    /// A string, optionally limited in length.
    Text {
        /// The most characters allowed; `None` for no limit.
        max_length: Option<usize>,
    },
    /// A whole number, optionally bounded.
    Integer {
        /// The smallest value allowed, inclusive; `None` for no lower bound.
        min: Option<i64>,
        /// The largest value allowed, inclusive; `None` for no upper bound.
        max: Option<i64>,
    },
    /// One string out of a fixed list.
    Enum {
        /// The accepted values; never empty.
        values: Vec<String>,
    },
    /// True or false.
    Boolean,
    /// Integer ids, sorted and deduplicated, bound as a JSON array.
    IdList,
}

/// One declared parameter of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamSpec {
    /// The key requests give it under, and its bind name in the query.
    pub name: String,
    /// Human-readable name for forms; `None` when the definition gives none.
    pub label: Option<String>,
    /// Which values it accepts.
    #[serde(flatten)]
    pub kind: ParamType,
    /// Whether a request must give it when there is no default.
    pub required: bool,
    /// Used when the request leaves the parameter out.
    pub default: Option<toml::Value>,
}

/// One invalid field of a request, as reported in `details.fields`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The request key the error is about.
    pub field: String,
    /// What is wrong with its value, phrased to follow the field name.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// A value bound to a named SQL parameter. A NULL keeps its type, because PostgreSQL
/// must know the type of every placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum BindValue {
    /// A text value, or a text NULL.
    Text(Option<String>),
    /// A 64-bit integer, or an integer NULL.
    Integer(Option<i64>),
    /// A date, or a date NULL.
    Date(Option<NaiveDate>),
    /// A boolean, or a boolean NULL.
    Boolean(Option<bool>),
}

/// Parameters after validation: defaults filled in, presets resolved to dates, keys
/// sorted. This is what a run stores and what deduplication compares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResolvedParams(pub BTreeMap<String, Value>);

impl ResolvedParams {
    /// The canonical JSON text (sorted keys, no whitespace).
    pub fn canonical(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of JSON values serializes")
    }

    /// The selected columns, when the request chose a subset.
    pub fn columns(&self) -> Option<Vec<&str>> {
        self.0
            .get(COLUMNS_PARAM)
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
    }
}

/// The date-range presets, resolved against `today`.
pub const DATE_RANGE_PRESETS: &[&str] = &[
    "all",
    "last7",
    "last30",
    "this_month",
    "last_month",
    "this_quarter",
    "last_quarter",
    "this_year",
    "last_year",
    "custom",
];

/// The bounds `all` resolves to: wide enough for any invoice, valid in both databases.
const ALL_START: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");
const ALL_END: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");

fn resolve_preset(preset: &str, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let month_start = today.with_day(1)?;
    let quarter_start = NaiveDate::from_ymd_opt(today.year(), (today.month0() / 3) * 3 + 1, 1)?;
    let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1)?;
    let before = |date: NaiveDate| date.pred_opt();
    Some(match preset {
        "all" => (ALL_START, ALL_END),
        "last7" => (today - Duration::days(6), today),
        "last30" => (today - Duration::days(29), today),
        "this_month" => (month_start, before(month_start + Months::new(1))?),
        "last_month" => (month_start - Months::new(1), before(month_start)?),
        "this_quarter" => (quarter_start, before(quarter_start + Months::new(3))?),
        "last_quarter" => (quarter_start - Months::new(3), before(quarter_start)?),
        "this_year" => (year_start, before(year_start + Months::new(12))?),
        "last_year" => (year_start - Months::new(12), before(year_start)?),
        _ => return None,
    })
}

/// Validates `input` against `specs` and returns the canonical parameters.
///
/// `column_names` are the report's declared columns, for the `columns` parameter.
///
/// # Errors
/// Every unknown, missing or ill-typed parameter, one [`FieldError`] each.
pub fn resolve(
    specs: &[ParamSpec],
    column_names: &[&str],
    input: &serde_json::Map<String, Value>,
    today: NaiveDate,
) -> Result<ResolvedParams, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut resolved = BTreeMap::new();
    let has_range = specs.iter().any(|s| s.kind == ParamType::DateRange);
    for key in input.keys() {
        let known = key == COLUMNS_PARAM
            || specs.iter().any(|s| &s.name == key)
            || (has_range && (key == START_DATE || key == END_DATE));
        if !known {
            errors.push(FieldError::new(key, "is not a parameter of this report"));
        }
    }
    for spec in specs {
        let given = input.get(&spec.name).filter(|v| !v.is_null()).cloned();
        let value = given.or_else(|| spec.default.as_ref().map(toml_to_json));
        match (&spec.kind, value) {
            (ParamType::DateRange, value) => {
                match resolve_range(&spec.name, value.as_ref(), input, today) {
                    Ok((start, end)) => {
                        resolved.insert(START_DATE.to_owned(), Value::from(start.to_string()));
                        resolved.insert(END_DATE.to_owned(), Value::from(end.to_string()));
                    }
                    Err(error) => errors.push(error),
                }
            }
            (_, None) if spec.required => errors.push(FieldError::new(&spec.name, "is required")),
            (_, None) => {
                resolved.insert(spec.name.clone(), Value::Null);
            }
            (kind, Some(value)) => match check_value(kind, &value) {
                Ok(value) => {
                    resolved.insert(spec.name.clone(), value);
                }
                Err(message) => errors.push(FieldError::new(&spec.name, message)),
            },
        }
    }
    if let Some(columns) = input.get(COLUMNS_PARAM) {
        match resolve_columns(columns, column_names) {
            Ok(columns) => {
                resolved.insert(COLUMNS_PARAM.to_owned(), columns);
            }
            Err(message) => errors.push(FieldError::new(COLUMNS_PARAM, message)),
        }
    }
    if errors.is_empty() {
        Ok(ResolvedParams(resolved))
    } else {
        Err(errors)
    }
}

/// The values bound to the SQL parameters of one run, by name (`tenant` and `today`
/// excepted: the caller adds those).
pub fn bind_values(specs: &[ParamSpec], params: &ResolvedParams) -> BTreeMap<String, BindValue> {
    let mut binds = BTreeMap::new();
    for (name, value) in &params.0 {
        let kind = specs.iter().find(|s| &s.name == name).map(|s| &s.kind);
        let text = value.as_str();
        let bind = match kind {
            None if name == START_DATE || name == END_DATE => {
                BindValue::Date(text.and_then(|t| t.parse().ok()))
            }
            None | Some(ParamType::DateRange) => continue,
            Some(ParamType::Date) => BindValue::Date(text.and_then(|t| t.parse().ok())),
            Some(ParamType::Integer { .. }) => BindValue::Integer(value.as_i64()),
            Some(ParamType::Boolean) => BindValue::Boolean(value.as_bool()),
            Some(ParamType::Text { .. } | ParamType::Enum { .. }) => {
                BindValue::Text(text.map(str::to_owned))
            }
            // An id list binds as a JSON array, read with json_each / jsonb_array_elements.
            Some(ParamType::IdList) => {
                BindValue::Text((!value.is_null()).then(|| value.to_string()))
            }
        };
        binds.insert(name.clone(), bind);
    }
    binds
}

fn toml_to_json(value: &toml::Value) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn resolve_range(
    name: &str,
    value: Option<&Value>,
    input: &serde_json::Map<String, Value>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), FieldError> {
    let explicit_dates = input.contains_key(START_DATE) || input.contains_key(END_DATE);
    let preset = match value {
        Some(Value::String(preset)) => preset.as_str(),
        Some(_) => return Err(FieldError::new(name, "must be a date-range preset")),
        None if explicit_dates => "custom",
        None => return Err(FieldError::new(name, "is required")),
    };
    if preset == "custom" {
        let date = |key: &str| -> Result<NaiveDate, FieldError> {
            let text = input
                .get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| FieldError::new(key, "is required for a custom date range"))?;
            parse_date(text).map_err(|message| FieldError::new(key, message))
        };
        let (start, end) = (date(START_DATE)?, date(END_DATE)?);
        if start > end {
            return Err(FieldError::new(END_DATE, "is before start_date"));
        }
        return Ok((start, end));
    }
    if explicit_dates {
        return Err(FieldError::new(
            name,
            "start_date and end_date need the preset `custom`",
        ));
    }
    resolve_preset(preset, today).ok_or_else(|| {
        FieldError::new(
            name,
            format!(
                "must be one of {} (got {})",
                DATE_RANGE_PRESETS.join(", "),
                echo(preset)
            ),
        )
    })
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("must be a date written YYYY-MM-DD (got {})", echo(text)))
}

/// Checks one value against its type and returns its canonical JSON form. Strings are
/// accepted for every type, since command-line parameters arrive as text.
fn check_value(kind: &ParamType, value: &Value) -> Result<Value, String> {
    match kind {
        ParamType::Date => {
            let text = value.as_str().ok_or("must be a date written YYYY-MM-DD")?;
            parse_date(text).map(|date| Value::from(date.to_string()))
        }
        ParamType::Text { max_length } => {
            let text = value.as_str().ok_or("must be text")?;
            match max_length {
                Some(max) if text.chars().count() > *max => {
                    Err(format!("must be at most {max} characters"))
                }
                _ => Ok(Value::from(text)),
            }
        }
        ParamType::Integer { min, max } => {
            let number = match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .ok_or("must be an integer")?;
            if min.is_some_and(|min| number < min) || max.is_some_and(|max| number > max) {
                return Err(format!(
                    "must be between {} and {}",
                    min.map_or("-∞".to_owned(), |m| m.to_string()),
                    max.map_or("∞".to_owned(), |m| m.to_string())
                ));
            }
            Ok(Value::from(number))
        }
        ParamType::Enum { values } => {
            let text = value.as_str().unwrap_or_default();
            if values.iter().any(|v| v == text) {
                Ok(Value::from(text))
            } else {
                Err(format!("must be one of {}", values.join(", ")))
            }
        }
        ParamType::Boolean => match value {
            Value::Bool(b) => Ok(Value::from(*b)),
            Value::String(s) if s == "true" => Ok(Value::from(true)),
            Value::String(s) if s == "false" => Ok(Value::from(false)),
            _ => Err("must be true or false".to_owned()),
        },
        ParamType::IdList => {
            let ids: Option<Vec<i64>> = match value {
                Value::Array(items) => items.iter().map(Value::as_i64).collect(),
                Value::String(s) => s
                    .split(',')
                    .filter(|part| !part.trim().is_empty())
                    .map(|part| part.trim().parse().ok())
                    .collect(),
                _ => None,
            };
            let mut ids = ids.ok_or("must be a list of integer ids")?;
            ids.sort_unstable();
            ids.dedup();
            Ok(Value::from(ids))
        }
        ParamType::DateRange => unreachable!("date ranges are resolved by resolve_range"),
    }
}

fn resolve_columns(value: &Value, column_names: &[&str]) -> Result<Value, String> {
    let requested: Vec<String> = match value {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or("must be a list of column names")?,
        Value::String(s) => s.split(',').map(|c| c.trim().to_owned()).collect(),
        _ => return Err("must be a list of column names".to_owned()),
    };
    if requested.is_empty() || requested.iter().any(String::is_empty) {
        return Err("must name at least one column".to_owned());
    }
    for (i, name) in requested.iter().enumerate() {
        if !column_names.contains(&name.as_str()) {
            return Err(format!(
                "has unknown column {}; the columns are {}",
                echo(name),
                column_names.join(", ")
            ));
        }
        if requested[..i].contains(name) {
            return Err(format!("names column {} twice", echo(name)));
        }
    }
    Ok(Value::from(requested))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn range_spec() -> Vec<ParamSpec> {
        vec![
            ParamSpec {
                name: "period".into(),
                label: None,
                kind: ParamType::DateRange,
                required: false,
                default: Some(toml::Value::String("this_year".into())),
            },
            ParamSpec {
                name: "status".into(),
                label: None,
                kind: ParamType::Enum {
                    values: vec!["paid".into(), "sent".into()],
                },
                required: false,
                default: None,
            },
        ]
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn run(input: Value) -> Result<ResolvedParams, Vec<FieldError>> {
        let Value::Object(map) = input else { panic!() };
        resolve(&range_spec(), &["a", "b"], &map, date("2024-05-15"))
    }

    #[test]
    fn presets_resolve_to_inclusive_dates() {
        let cases = [
            ("last7", "2024-05-09", "2024-05-15"),
            ("last30", "2024-04-16", "2024-05-15"),
            ("this_month", "2024-05-01", "2024-05-31"),
            ("last_month", "2024-04-01", "2024-04-30"),
            ("this_quarter", "2024-04-01", "2024-06-30"),
            ("last_quarter", "2024-01-01", "2024-03-31"),
            ("this_year", "2024-01-01", "2024-12-31"),
            ("last_year", "2023-01-01", "2023-12-31"),
        ];
        for (preset, start, end) in cases {
            let resolved = run(json!({ "period": preset })).unwrap();
            assert_eq!(resolved.0[START_DATE], json!(start), "{preset}");
            assert_eq!(resolved.0[END_DATE], json!(end), "{preset}");
        }
    }

    #[test]
    fn a_preset_and_the_same_custom_dates_resolve_identically() {
        let preset = run(json!({ "period": "last_month" })).unwrap();
        let custom = run(
            json!({ "period": "custom", "start_date": "2024-04-01", "end_date": "2024-04-30" }),
        )
        .unwrap();
        assert_eq!(preset.canonical(), custom.canonical());
    }

    #[test]
    fn defaults_are_filled_and_keys_sorted() {
        let resolved = run(json!({})).unwrap();
        assert_eq!(
            resolved.canonical(),
            r#"{"end_date":"2024-12-31","start_date":"2024-01-01","status":null}"#
        );
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors =
            run(json!({ "period": "yesterday", "status": "lost", "color": "red" })).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["color", "period", "status"]);
    }

    #[test]
    fn a_custom_range_needs_ordered_valid_dates() {
        let backwards = run(
            json!({ "period": "custom", "start_date": "2024-05-02", "end_date": "2024-05-01" }),
        );
        assert_eq!(backwards.unwrap_err()[0].field, END_DATE);
        let malformed = run(
            json!({ "period": "custom", "start_date": "2024-13-01", "end_date": "2024-05-01" }),
        );
        assert_eq!(malformed.unwrap_err()[0].field, START_DATE);
    }

    #[test]
    fn columns_select_known_names_in_order() {
        let resolved = run(json!({ "columns": "b,a" })).unwrap();
        assert_eq!(resolved.columns().unwrap(), ["b", "a"]);
        assert_eq!(
            run(json!({ "columns": "b,z" })).unwrap_err()[0].field,
            "columns"
        );
    }
}
