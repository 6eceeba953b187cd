//! `quire render REPORT`: build a report synchronously to a file, without the queue.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::UsageError;
use crate::clock::Clock;
use crate::names::{ReportName, TenantSlug};
use crate::report::{ReportError, ReportRequest};
use crate::settings::Settings;
use crate::writer::{CsvDelimiter, DecimalMark, Format, OutputOptions};

/// What to build, shared by `quire render` and `quire enqueue`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The report's name (see `quire reports list`).
    pub report: ReportName,
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: TenantSlug,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// A report parameter, `name=value`; repeat for several.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Start the CSV with a UTF-8 byte-order mark.
    #[arg(long)]
    pub csv_bom: bool,
    /// CSV field separator: `,`, `;` or `tab` (default: the report's, else `,`).
    #[arg(long)]
    pub csv_delimiter: Option<CsvDelimiter>,
    /// CSV decimal mark: `.` or `,` (default: the report's, else `.`).
    #[arg(long)]
    pub csv_decimal: Option<DecimalMark>,
}

impl ReportArgs {
    /// The parameters as the JSON map requests carry (every value a string).
    pub fn params_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.params
            .iter()
            .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
            .collect()
    }

    /// The output options asked for.
    pub fn options(&self) -> OutputOptions {
        OutputOptions {
            csv_bom: self.csv_bom,
            csv_delimiter: self.csv_delimiter,
            csv_decimal: self.csv_decimal,
        }
    }
}

/// Options of `quire render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The report, tenant, format and parameters to build.
    #[command(flatten)]
    pub report: ReportArgs,
    /// Where to write the file (default: REPORT-TENANT.EXT in the current folder; `-`:
    /// standard output). Its folder must exist.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Build the report as if today were this date (YYYY-MM-DD).
    #[arg(long)]
    pub today: Option<NaiveDate>,
}

/// Splits `name=value`.
///
/// # Errors
/// When there is no `=`.
pub fn parse_param(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.trim().to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{text:?} is not NAME=VALUE"))
}

/// Builds the report and prints where the file is.
///
/// # Errors
/// Bad input is a [`UsageError`]; database and disk failures are runtime errors.
pub async fn run(settings: &Settings, args: RenderArgs, json: bool) -> anyhow::Result<()> {
    let clock = args.today.map_or(Clock::System, Clock::fixed_on);
    let reporter = super::open_reporter(settings, clock).await?;
    let wanted = args.report;
    let params = reporter
        .resolve_params_for_tenant(
            wanted.report.as_str(),
            wanted.tenant.as_str(),
            &wanted.params_json(),
        )
        .await
        .map_err(usage)?;
    let default_name = || {
        PathBuf::from(format!(
            "{}-{}.{}",
            wanted.report,
            wanted.tenant,
            wanted.format.extension()
        ))
    };
    // `-` builds into a scratch folder and copies the finished file to stdout; the
    // summary then goes to stderr.
    let scratch = tempfile::tempdir()?;
    let to_stdout = args.out.as_deref() == Some(Path::new("-"));
    let out = match args.out {
        Some(_) if to_stdout => scratch.path().join(default_name()),
        Some(path) => {
            if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty())
                && !folder.is_dir()
            {
                return Err(UsageError(format!(
                    "--out {}: the folder {} does not exist",
                    path.display(),
                    folder.display()
                ))
                .into());
            }
            path
        }
        None => default_name(),
    };
    let request = ReportRequest {
        options: wanted.options(),
        report: wanted.report.to_string(),
        tenant: wanted.tenant.to_string(),
        format: wanted.format,
        params,
    };
    let rendered = reporter
        .render(
            &request,
            &out,
            &CancellationToken::new(),
            Arc::new(AtomicU64::new(0)),
        )
        .await
        .map_err(usage)
        .with_context(|| format!("rendering report {:?}", request.report))?;
    let summary = if json {
        serde_json::json!({
            "path": (!to_stdout).then_some(&out),
            "rows": rendered.rows,
            "bytes": rendered.file.bytes,
            "sha256": rendered.file.sha256,
        })
        .to_string()
    } else {
        format!(
            "{} ({} rows, {} bytes, sha256 {})",
            if to_stdout {
                "-".into()
            } else {
                out.display().to_string()
            },
            rendered.rows,
            rendered.file.bytes,
            rendered.file.sha256
        )
    };
    if to_stdout {
        let file = out.clone();
        tokio::task::spawn_blocking(move || {
            std::io::copy(
                &mut std::fs::File::open(file)?,
                &mut std::io::stdout().lock(),
            )
        })
        .await
        .context("copying the file to stdout")??;
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    Ok(())
}

fn usage(error: ReportError) -> anyhow::Error {
    match error {
        ReportError::UnknownReport(_)
        | ReportError::UnknownTenant(_)
        | ReportError::InvalidParams(_) => UsageError(error.to_string()).into(),
        other => other.into(),
    }
}
