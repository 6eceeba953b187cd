//! `quire reports list | show NAME | check | export DIR`.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use sqlx::{AssertSqlSafe, Column as _, Executor as _, SqlSafeStr as _};

use super::UsageError;
use crate::catalog::params::DATE_RANGE_PRESETS;
use crate::catalog::{Catalog, ParamSpec, ParamType, Report};
use crate::db::Db;
use crate::settings::Settings;

/// Options of `quire reports`.
#[derive(Debug, Args)]
pub struct ReportsArgs {
    /// What to do with the catalog.
    #[command(subcommand)]
    pub action: ReportsAction,
}

/// What to do with the catalog.
#[derive(Debug, Subcommand)]
pub enum ReportsAction {
    /// One report name a line (with `--json`, an array of their names, titles and
    /// descriptions).
    List,
    /// A report's title, parameters and columns.
    Show {
        /// The report's name.
        name: String,
    },
    /// Validate every definition against the database (with `--json`, an array of
    /// `{"name", "ok", "error"}`).
    Check,
    /// Write the built-in definitions into a folder, to read or start from; a file
    /// that exists is never overwritten.
    Export {
        /// The folder (created when missing).
        dir: std::path::PathBuf,
    },
}

/// Writes every built-in definition into `dir` under its own file name, after checking
/// that none of them is there already (then nothing is written).
fn export(dir: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let files: Vec<_> = Catalog::built_in_files()
        .map(|(name, text)| (dir.join(name), text))
        .collect();
    if let Some((taken, _)) = files.iter().find(|(path, _)| path.exists()) {
        return Err(UsageError(format!(
            "{} exists: reports export never overwrites a file",
            taken.display()
        ))
        .into());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (path, text) in &files {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let written: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    if json {
        println!("{}", serde_json::json!({ "written": written }));
    } else {
        for path in written {
            println!("{path}");
        }
    }
    Ok(())
}

/// Runs the chosen action.
///
/// # Errors
/// An invalid catalog or unknown report is a usage error; a definition the database
/// rejects is a runtime error naming the report.
pub async fn run(settings: &Settings, args: ReportsArgs, json: bool) -> anyhow::Result<()> {
    let catalog = Catalog::load(&settings.reports)?;
    match args.action {
        ReportsAction::Export { dir } => export(&dir, json)?,
        ReportsAction::List if json => {
            let listed: Vec<_> = catalog
                .reports()
                .map(|report| {
                    serde_json::json!({
                        "name": report.name,
                        "title": report.title,
                        "description": report.description,
                    })
                })
                .collect();
            println!("{}", serde_json::Value::from(listed));
        }
        ReportsAction::List => {
            for report in catalog.reports() {
                println!("{}", report.name);
            }
        }
        ReportsAction::Show { name } => {
            let report = catalog
                .get(&name)
                .ok_or_else(|| UsageError(format!("unknown report {name:?}")))?;
            if json {
                println!("{}", serde_json::to_string_pretty(report)?);
            } else {
                print_report(report);
            }
        }
        ReportsAction::Check => {
            let db = Db::connect_reports(&settings.reports_database_url, 1)
                .await
                .context("opening REPORTS_DATABASE_URL")?;
            let mut failures = 0;
            let mut checked = Vec::new();
            for report in catalog.reports() {
                let outcome = check(&db, report).await;
                failures += usize::from(outcome.is_err());
                if json {
                    checked.push(serde_json::json!({
                        "name": report.name,
                        "ok": outcome.is_ok(),
                        "error": outcome.err(),
                    }));
                } else {
                    // Each line as soon as its report is checked.
                    match outcome {
                        Ok(()) => println!("ok      {}", report.name),
                        Err(problem) => println!("FAILED  {}: {problem}", report.name),
                    }
                }
            }
            db.close().await;
            if json {
                println!("{}", serde_json::Value::from(checked));
            }
            if failures > 0 {
                anyhow::bail!("{failures} report definition(s) do not match the database");
            }
        }
    }
    Ok(())
}

fn print_report(report: &Report) {
    println!("{} — {}", report.name, report.title);
    if !report.description.is_empty() {
        println!("{}", report.description);
    }
    println!("\nparameters:");
    for param in &report.params {
        println!("  {:<14} {}", param.name, describe_param(param));
    }
    println!(
        "  {:<14} list of column names",
        crate::catalog::params::COLUMNS_PARAM
    );
    println!("\ncolumns:");
    for column in &report.columns {
        println!(
            "  {:<20} {:<9} {}",
            column.name,
            format!("{:?}", column.kind).to_lowercase(),
            column.header
        );
    }
}

/// A parameter's type with what it accepts, whether it is required, and its default.
fn describe_param(param: &ParamSpec) -> String {
    let mut text = match &param.kind {
        ParamType::Date => "date (YYYY-MM-DD)".to_owned(),
        ParamType::DateRange => {
            let presets: Vec<&str> = DATE_RANGE_PRESETS
                .iter()
                .copied()
                .filter(|preset| *preset != "custom")
                .collect();
            format!(
                "date range: {}, or custom with start_date and end_date",
                presets.join(", ")
            )
        }
        ParamType::Text { max_length: None } => "text".to_owned(),
        ParamType::Text {
            max_length: Some(max),
        } => format!("text, at most {max} characters"),
        ParamType::Integer { min, max } => match (min, max) {
            (None, None) => "integer".to_owned(),
            (Some(min), None) => format!("integer, at least {min}"),
            (None, Some(max)) => format!("integer, at most {max}"),
            (Some(min), Some(max)) => format!("integer, {min} to {max}"),
        },
        ParamType::Enum { values } => format!("one of: {}", values.join(", ")),
        ParamType::Boolean => "true or false".to_owned(),
        ParamType::IdList => "list of ids".to_owned(),
    };
    if param.required {
        text.push_str(" (required)");
    }
    if let Some(default) = &param.default {
        let shown = match default {
            toml::Value::String(value) => value.clone(),
            other => other.to_string(),
        };
        text.push_str(&format!(" [default: {shown}]"));
    }
    text
}

/// Asks the database to describe the report's query and compares the columns it
/// returns with the declared ones.
async fn check(db: &Db, report: &Report) -> Result<(), String> {
    let sql = AssertSqlSafe(report.sql(db.dialect()).text.clone()).into_sql_str();
    let returned: Vec<String> = crate::on_any_pool!(db, pool => pool
        .describe(sql)
        .await
        .map(|d| d.columns().iter().map(|c| c.name().to_owned()).collect()))
    .map_err(|e| e.to_string())?;
    let declared = report.column_names();
    if returned != declared {
        return Err(format!(
            "the query returns columns [{}] but the definition declares [{}]",
            returned.join(", "),
            declared.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_is_shown_with_its_values_and_default() {
        let catalog = Catalog::built_in();
        let invoices = catalog.get("invoices").unwrap();
        let shown: Vec<String> = invoices.params.iter().map(describe_param).collect();
        assert!(
            shown[0].starts_with("date range: all, last7")
                && shown[0].ends_with("[default: this_year]"),
            "{shown:?}"
        );
        assert_eq!(shown[1], "one of: draft, sent, partial, paid, void");
        assert_eq!(shown[2], "list of ids");
    }
}
