//! One report definition (`reports/NAME.toml`): parsed, validated, and ready to bind.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::params::{END_DATE, ParamSpec, ParamType, START_DATE};
use super::separators::{CsvDelimiter, DecimalMark};
use super::sql::{self, BoundSql, Dialects};
use crate::db::Dialect;

/// The parameters every query may use without declaring them.
pub(super) const BUILTIN_BINDS: &[&str] = &["tenant", "today"];

/// The declared type of an output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Free text.
    Text,
    /// A whole number.
    Integer,
    /// An exact decimal number.
    Decimal,
    /// An amount of money; an integer from the database counts minor units.
    Money,
    /// A fraction: 0.15 is 15 %.
    Percent,
    /// A calendar date without a time.
    Date,
    /// A point in time, written in UTC.
    Datetime,
    /// True or false.
    Boolean,
}

impl ColumnType {
    /// How many decimal places an integer from the database is shifted by, unless the
    /// definition says otherwise: money is stored in minor units, percentages in basis
    /// points.
    fn default_scale(self) -> u32 {
        match self {
            ColumnType::Money => 2,
            ColumnType::Percent => 4,
            _ => 0,
        }
    }

    /// Whether the column holds an exact decimal number.
    pub fn is_decimal(self) -> bool {
        matches!(
            self,
            ColumnType::Decimal | ColumnType::Money | ColumnType::Percent
        )
    }
}

/// One output column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// The name the query returns it under.
    pub name: String,
    /// The header row's text.
    pub header: String,
    /// How its values are read and formatted.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Decimal places: an integer value `v` from the database means `v / 10^scale`.
    pub scale: u32,
}

/// Which runs may not execute at the same time as this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// One run of any report per tenant.
    Tenant,
    /// One run of this report per tenant.
    TenantReport,
    /// No restriction.
    None,
}

/// A validated report definition.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The name requests use to pick the report.
    pub name: String,
    /// The title people read; XLSX files also use it as sheet name and document title.
    pub title: String,
    /// What the report shows; empty when the definition has none.
    pub description: String,
    /// The parameters a request may or must give, in declaration order.
    pub params: Vec<ParamSpec>,
    /// The declared output columns, in order; never empty.
    pub columns: Vec<Column>,
    /// Which other runs this one may not execute alongside.
    pub overlap: Overlap,
    /// How long a run may wait for its overlap lock before it fails (1 hour by default).
    #[serde(skip)]
    pub overlap_wait: Duration,
    /// Executions allowed before a transient failure becomes final; at least 1.
    pub max_attempts: u32,
    /// The most runs of this report one tenant may have building at once, below the
    /// installation's limit; `None`: only that limit.
    pub max_running_per_tenant: Option<u32>,
    /// How long after a run completed an identical request is answered with it instead
    /// of a new run (zero, the default: never).
    #[serde(skip)]
    pub reuse_for: Duration,
    /// The CSV field separator of a request that names none (`None`: `,`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv_delimiter: Option<CsvDelimiter>,
    /// The CSV decimal mark of a request that names none (`None`: `.`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv_decimal: Option<DecimalMark>,
    /// The declared text column holding each row's ISO 4217 currency code, which XLSX
    /// shows beside the row's money; `None`: money has no currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_column: Option<String>,
    /// How long one execution may run before it is abandoned (30 minutes by default).
    #[serde(skip)]
    pub timeout: Duration,
    #[serde(skip)]
    sql: Dialects<BoundSql>,
    /// The query that returns the tenant's IANA time zone from `:tenant`; `None`: the
    /// tenant's dates are UTC's.
    #[serde(skip)]
    tenant_timezone_sql: Option<Dialects<BoundSql>>,
    /// The query that returns the id `:tenant` binds from the tenant's slug `:slug`.
    #[serde(skip)]
    tenant_sql: Dialects<BoundSql>,
}

/// The tenant query of a definition that names none: the demo schema's.
pub(super) const DEFAULT_TENANT_SQL: &str = "SELECT id FROM tenants WHERE slug = :slug";

/// A definition file that cannot be used: names the file and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("report definition {file}: {field}: {message}")]
pub struct DefinitionError {
    /// The definition file, as a path or a built-in file name.
    pub file: String,
    /// The offending field, such as `columns` or `params[2]`, or the parse position.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    name: String,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    params: Vec<RawParam>,
    columns: Vec<RawColumn>,
    #[serde(default)]
    overlap: Option<Overlap>,
    #[serde(default)]
    overlap_wait: Option<String>,
    #[serde(default)]
    max_attempts: Option<u32>,
    #[serde(default)]
    max_running_per_tenant: Option<u32>,
    #[serde(default)]
    reuse_for: Option<String>,
    #[serde(default)]
    csv_delimiter: Option<String>,
    #[serde(default)]
    csv_decimal: Option<String>,
    #[serde(default)]
    currency_column: Option<String>,
    #[serde(default)]
    timeout: Option<String>,
    sql: String,
    #[serde(default)]
    sql_postgres: Option<String>,
    #[serde(default)]
    sql_sqlite: Option<String>,
    #[serde(default)]
    sql_mysql: Option<String>,
    #[serde(default)]
    tenant_timezone_sql: Option<String>,
    #[serde(default)]
    tenant_sql: Option<String>,
}

/// A parameter as written; the fields that belong to its type are checked after parsing
/// (serde cannot combine a flattened tag with `deny_unknown_fields`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    default: Option<toml::Value>,
    #[serde(default)]
    values: Option<Vec<String>>,
    #[serde(default)]
    min: Option<i64>,
    #[serde(default)]
    max: Option<i64>,
    #[serde(default)]
    max_length: Option<usize>,
}

impl RawParam {
    fn into_spec(self) -> Result<ParamSpec, String> {
        let limits = self.min.is_some() || self.max.is_some();
        let stray = |field: &str| {
            Err(format!(
                "`{field}` does not apply to a {} parameter",
                self.kind
            ))
        };
        let kind = match self.kind.as_str() {
            "enum" => ParamType::Enum {
                values: self.values.clone().ok_or("an enum needs `values`")?,
            },
            _ if self.values.is_some() => return stray("values"),
            "integer" => ParamType::Integer {
                min: self.min,
                max: self.max,
            },
            _ if limits => return stray("min/max"),
            "text" => ParamType::Text {
                max_length: self.max_length,
            },
            _ if self.max_length.is_some() => return stray("max_length"),
            "date" => ParamType::Date,
            "date_range" => ParamType::DateRange,
            "boolean" => ParamType::Boolean,
            "id_list" => ParamType::IdList,
            other => {
                return Err(format!(
                    "unknown parameter type {other:?}; use date, date_range, text, integer, enum, boolean or id_list"
                ));
            }
        };
        Ok(ParamSpec {
            name: self.name,
            label: self.label,
            kind,
            required: self.required,
            default: self.default,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: String,
    #[serde(default)]
    header: Option<String>,
    #[serde(rename = "type")]
    kind: ColumnType,
    #[serde(default)]
    scale: Option<u32>,
}

impl Report {
    /// Parses and validates the definition `text` read from `file`.
    ///
    /// # Errors
    /// A [`DefinitionError`] naming the file and the offending field.
    pub fn parse(file: &str, text: &str) -> Result<Report, DefinitionError> {
        let error = |field: &str, message: String| DefinitionError {
            file: file.to_owned(),
            field: field.to_owned(),
            message,
        };
        let raw: RawReport = toml::from_str(text).map_err(|e| {
            let field = e
                .span()
                .map(|span| {
                    // Lines and columns count from 1, columns in characters, as editors do.
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    format!("line {line}, column {column}")
                })
                .unwrap_or_else(|| "syntax".to_owned());
            error(&field, e.message().to_owned())
        })?;

        crate::names::ReportName::parse(&raw.name).map_err(|e| error("name", e.to_string()))?;
        let duration = |field: &str, value: Option<String>, default: Duration| match value {
            None => Ok(default),
            Some(text) => humantime::parse_duration(&text).map_err(|e| {
                error(
                    field,
                    format!("{text:?} is not a duration like 90s, 30m or 1h ({e})"),
                )
            }),
        };
        let overlap_wait = duration("overlap_wait", raw.overlap_wait, Duration::from_secs(3600))?;
        let timeout = duration("timeout", raw.timeout, Duration::from_secs(30 * 60))?;
        let reuse_for = duration("reuse_for", raw.reuse_for, Duration::ZERO)?;
        let csv_delimiter = raw
            .csv_delimiter
            .map(|text| text.parse())
            .transpose()
            .map_err(|e| error("csv_delimiter", e))?;
        let csv_decimal = raw
            .csv_decimal
            .map(|text| text.parse())
            .transpose()
            .map_err(|e| error("csv_decimal", e))?;
        let max_attempts = raw.max_attempts.unwrap_or(3);
        if max_attempts == 0 {
            return Err(error("max_attempts", "must be at least 1".to_owned()));
        }
        if raw.max_running_per_tenant == Some(0) {
            return Err(error(
                "max_running_per_tenant",
                "must be at least 1".to_owned(),
            ));
        }

        if raw.columns.is_empty() {
            return Err(error(
                "columns",
                "a report needs at least one column".to_owned(),
            ));
        }
        let mut columns: Vec<Column> = Vec::with_capacity(raw.columns.len());
        for column in raw.columns {
            if columns.iter().any(|c| c.name == column.name) {
                return Err(error(
                    "columns",
                    format!("column {:?} is declared twice", column.name),
                ));
            }
            columns.push(Column {
                header: column.header.unwrap_or_else(|| column.name.clone()),
                scale: column.scale.unwrap_or(column.kind.default_scale()),
                kind: column.kind,
                name: column.name,
            });
        }
        // Checked here so that a typo fails the catalog, not every XLSX run.
        if let Some(name) = &raw.currency_column {
            match columns.iter().find(|c| c.name == *name).map(|c| c.kind) {
                None => {
                    return Err(error(
                        "currency_column",
                        format!("{name:?} is not a declared column"),
                    ));
                }
                Some(ColumnType::Text) => {}
                Some(_) => {
                    return Err(error(
                        "currency_column",
                        format!("column {name:?} must be of type text to hold currency codes"),
                    ));
                }
            }
        }

        let params = raw
            .params
            .into_iter()
            .enumerate()
            .map(|(i, param)| {
                param
                    .into_spec()
                    .map_err(|message| error(&format!("params[{i}]"), message))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut declared: Vec<&str> = BUILTIN_BINDS.to_vec();
        let mut ranges = 0;
        for (i, param) in params.iter().enumerate() {
            let field = format!("params[{i}]");
            if declared.contains(&param.name.as_str()) || param.name == super::params::COLUMNS_PARAM
            {
                return Err(error(
                    &field,
                    format!("parameter name {:?} is reserved or repeated", param.name),
                ));
            }
            match &param.kind {
                ParamType::DateRange => {
                    ranges += 1;
                    declared.extend([START_DATE, END_DATE]);
                }
                ParamType::Enum { values } if values.is_empty() => {
                    return Err(error(&field, "an enum needs at least one value".to_owned()));
                }
                _ => {}
            }
            declared.push(&param.name);
        }
        if ranges > 1 {
            return Err(error(
                "params",
                "a report has at most one date_range parameter".to_owned(),
            ));
        }

        let bind =
            |field: &str, dialect: Dialect, text: &str| -> Result<BoundSql, DefinitionError> {
                let bound = sql::rewrite(text, dialect).map_err(|e| error(field, e.to_string()))?;
                if !bound.names.iter().any(|n| n == "tenant") {
                    return Err(error(field, "the query must filter by :tenant".to_owned()));
                }
                if let Some(unknown) = bound.names.iter().find(|n| !declared.contains(&n.as_str()))
                {
                    return Err(error(
                        field,
                        format!(":{unknown} is not a declared parameter"),
                    ));
                }
                Ok(bound)
            };
        let sql = Dialects::try_each(|dialect| {
            let (field, own) = match dialect {
                Dialect::Sqlite => ("sql_sqlite", &raw.sql_sqlite),
                Dialect::Postgres => ("sql_postgres", &raw.sql_postgres),
                Dialect::Mysql => ("sql_mysql", &raw.sql_mysql),
            };
            match own {
                Some(text) => bind(field, dialect, text),
                None => bind("sql", dialect, &raw.sql),
            }
        })?;

        // A query about the tenant, binding nothing but `only`.
        let tenant_query = |field: &str, text: &str, only: &str| {
            Dialects::try_each(|dialect| {
                let bound = sql::rewrite(text, dialect).map_err(|e| error(field, e.to_string()))?;
                match bound.names.iter().find(|name| *name != only) {
                    Some(other) => Err(error(
                        field,
                        format!(":{other} is not known here; the query binds only :{only}"),
                    )),
                    None => Ok(bound),
                }
            })
        };
        let tenant_timezone_sql = raw
            .tenant_timezone_sql
            .as_deref()
            .map(|text| tenant_query("tenant_timezone_sql", text, "tenant"))
            .transpose()?;
        let tenant_sql = tenant_query(
            "tenant_sql",
            raw.tenant_sql.as_deref().unwrap_or(DEFAULT_TENANT_SQL),
            "slug",
        )?;

        Ok(Report {
            name: raw.name,
            title: raw.title,
            description: raw.description,
            params,
            columns,
            overlap: raw.overlap.unwrap_or(Overlap::TenantReport),
            overlap_wait,
            max_attempts,
            max_running_per_tenant: raw.max_running_per_tenant,
            reuse_for,
            csv_delimiter,
            csv_decimal,
            currency_column: raw.currency_column,
            timeout,
            sql,
            tenant_timezone_sql,
            tenant_sql,
        })
    }

    /// The query of the tenant's id from its slug in `dialect`: the definition's
    /// `tenant_sql`, else the demo schema's `SELECT id FROM tenants WHERE slug = :slug`.
    pub fn tenant_sql(&self, dialect: Dialect) -> &BoundSql {
        self.tenant_sql.get(dialect)
    }

    /// The query of the tenant's time zone in `dialect`, if the definition names one.
    pub fn tenant_timezone_sql(&self, dialect: Dialect) -> Option<&BoundSql> {
        Some(self.tenant_timezone_sql.as_ref()?.get(dialect))
    }

    /// The query in `dialect`, with numbered placeholders.
    pub fn sql(&self, dialect: Dialect) -> &BoundSql {
        self.sql.get(dialect)
    }

    /// Where the currency column is among the declared columns, if the report has one.
    pub fn currency_index(&self) -> Option<usize> {
        let name = self.currency_column.as_deref()?;
        self.columns.iter().position(|c| c.name == name)
    }

    /// The declared column names, in declaration order.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "clients"
title = "Clients"
sql = "SELECT name FROM clients WHERE tenant_id = :tenant"
[[columns]]
name = "name"
type = "text"
"#;

    fn field_of(text: &str) -> String {
        Report::parse("r.toml", text).unwrap_err().field
    }

    #[test]
    fn a_minimal_definition_gets_the_documented_defaults() {
        let report = Report::parse("clients.toml", MINIMAL).unwrap();
        assert_eq!(report.overlap, Overlap::TenantReport);
        assert_eq!(report.overlap_wait, Duration::from_secs(3600));
        assert_eq!(report.max_attempts, 3);
        assert_eq!(report.timeout, Duration::from_secs(1800));
        assert_eq!(
            report.sql(Dialect::Postgres).text,
            "SELECT name FROM clients WHERE tenant_id = $1"
        );
    }

    #[test]
    fn sql_that_does_not_filter_by_tenant_is_rejected() {
        let text = MINIMAL.replace("WHERE tenant_id = :tenant", "");
        let error = Report::parse("r.toml", &text).unwrap_err();
        assert_eq!(error.field, "sql");
        assert!(error.to_string().contains(":tenant"), "{error}");
    }

    #[test]
    fn an_undeclared_parameter_is_rejected() {
        let text = MINIMAL.replace(":tenant", ":tenant AND x = :mystery");
        assert_eq!(field_of(&text), "sql");
    }

    #[test]
    fn bad_durations_and_types_name_their_field() {
        assert_eq!(
            field_of(&MINIMAL.replace("title", "timeout = \"soon\"\ntitle")),
            "timeout"
        );
        let unknown_type = MINIMAL.replace("type = \"text\"", "type = \"currency\"");
        let error = Report::parse("r.toml", &unknown_type).unwrap_err();
        assert!(error.message.contains("currency"), "{error}");
        let unknown_param = format!("{MINIMAL}\n[[params]]\nname = \"x\"\ntype = \"color\"\n");
        let error = Report::parse("r.toml", &unknown_param).unwrap_err();
        assert!(error.message.contains("color"), "{error}");
    }

    #[test]
    fn a_toml_error_names_its_line_and_column() {
        let text = "name = \"x\"\ntitle = \"X\"\nmax_attempts = \"three\"\n";
        let error = Report::parse("r.toml", text).unwrap_err();
        assert_eq!(error.field, "line 3, column 16", "{error}");
        let broken = "name = \"x\"\ntitle = [\n";
        let error = Report::parse("r.toml", broken).unwrap_err();
        assert!(error.field.starts_with("line 2, column "), "{error}");
    }

    #[test]
    fn a_currency_column_must_be_a_declared_text_column() {
        let with = |column: &str| {
            let text = MINIMAL.replace(
                "title =",
                &format!("currency_column = \"{column}\"\ntitle ="),
            );
            format!("{text}[[columns]]\nname = \"total\"\ntype = \"money\"\n")
        };
        let report = Report::parse("r.toml", &with("name")).unwrap();
        assert_eq!(report.currency_column.as_deref(), Some("name"));
        assert_eq!(report.currency_index(), Some(0));

        let missing = Report::parse("r.toml", &with("currency")).unwrap_err();
        assert_eq!(missing.field, "currency_column");
        assert_eq!(
            missing.to_string(),
            "report definition r.toml: currency_column: \"currency\" is not a declared column"
        );
        let money = Report::parse("r.toml", &with("total")).unwrap_err();
        assert_eq!(money.field, "currency_column");
        assert!(money.message.contains("type text"), "{money}");
    }

    #[test]
    fn a_dialect_override_is_checked_like_the_main_query() {
        let text = MINIMAL.replace("sql =", "sql_postgres = \"SELECT 1\"\nsql =");
        assert_eq!(field_of(&text), "sql_postgres");
    }
}
