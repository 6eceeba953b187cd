//! `quire bench report`: a generated table of invoice-like rows in a throw-away database
//! (`fixture.rs`), built into a file through the real report path — a catalog
//! definition and [`Reporter::render`] — beside a baseline on the same data in the same
//! run (`baseline.rs`):
//!
//! - CSV on PostgreSQL: `COPY (query) TO STDOUT WITH (FORMAT csv)` streamed to a file
//!   with `copy_out_raw`, the server's own formatting and nothing else;
//! - CSV on SQLite (which has no `COPY`): the same cells, read into memory first,
//!   written by the CSV writer alone;
//! - XLSX: rust_xlsxwriter in constant-memory mode writing the same cells, read into
//!   memory first, with the report writer's own formats and zip level.
//!
//! Every phase runs in a child process (`quire bench phase`, hidden), so its peak
//! resident memory (VmHWM) is its own; phases alternate over several runs and the
//! medians are reported.

mod baseline;
mod fixture;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{BenchError, Summary, peak_rss_kib};
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::db::Db;
use crate::report::{ReportRequest, Reporter};
use crate::runs::RunsError;
use crate::storage::{Destination, Storage};
use crate::writer::{Format, OutputOptions};
pub use baseline::Baseline;
pub(in crate::bench) use fixture::BenchDb;
use fixture::{DEFINITION, REPORT, TENANT, generate};

/// Which database the benchmark generates its table in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchDatabase {
    /// A fresh database on the PostgreSQL server, dropped afterwards.
    Postgres,
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on the MySQL or MariaDB server, dropped afterwards.
    Mysql,
}

/// One measured step, run in its own process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// The real report path, [`Reporter::render`].
    Render,
    /// The same with the PostgreSQL COPY fast path for CSV turned off.
    RenderRows,
    /// PostgreSQL `COPY (query) TO STDOUT WITH (FORMAT csv)` into a file.
    Copy,
    /// The same cells, read into memory first (not timed), then written alone.
    Memory,
    /// The `mariadb --quick --batch` client dumping the same query into a file.
    MysqlClient,
}

/// Where `bench report` stores the rendered file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum BenchStorage {
    /// A local file, as a `file://` storage keeps it.
    File,
    /// An object of the bucket QUIRE_STORAGE_URL names, uploaded as a run's is (and
    /// deleted after the phase).
    S3,
}

/// What one phase measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseFigures {
    /// Wall time of the measured work.
    pub seconds: f64,
    /// Rows written.
    pub rows: u64,
    /// Size of the file.
    pub bytes: u64,
    /// The phase process's peak resident memory.
    pub peak_rss_kib: u64,
    /// Whether PostgreSQL's COPY rendered the report's rows (the CSV fast path).
    pub copied: bool,
}

impl PhaseFigures {
    /// The `key=value` line a phase process prints.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        summary.push("seconds", format!("{:.6}", self.seconds));
        summary.push("rows", self.rows);
        summary.push("bytes", self.bytes);
        summary.push("peak_rss_kib", self.peak_rss_kib);
        summary.push("copied", self.copied);
        summary
    }

    fn parse(summary: &Summary) -> Option<PhaseFigures> {
        Some(PhaseFigures {
            seconds: summary.get("seconds")?.parse().ok()?,
            rows: summary.get("rows")?.parse().ok()?,
            bytes: summary.get("bytes")?.parse().ok()?,
            peak_rss_kib: summary.get("peak_rss_kib")?.parse().ok()?,
            copied: summary.get("copied")?.parse().ok()?,
        })
    }

    /// Rows per second.
    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.seconds
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ReportBench {
    /// Rows generated and written.
    pub rows: u64,
    /// The output format.
    pub format: Format,
    /// Where the table lives.
    pub database: BenchDatabase,
    /// The PostgreSQL or MySQL server URL on which the throw-away database is created
    /// and dropped (unused for SQLite).
    pub server_url: String,
    /// Times each phase runs; the medians are reported.
    pub runs: usize,
    /// The `quire` binary the phases run in.
    pub exe: PathBuf,
    /// Let the report path use PostgreSQL's COPY for CSV (off: rows are decoded and
    /// written by the CSV writer, to compare the two).
    pub copy_fast_path: bool,
    /// Where quire's phase stores its file, each in turn in every run (the baseline
    /// always writes a local one).
    pub storages: Vec<BenchStorage>,
}

/// What a run measured: every run of each phase, in order.
#[derive(Debug, Clone)]
pub struct ReportFigures {
    /// Generating the table (not compared with anything).
    pub generate: Duration,
    /// The baseline used.
    pub baseline: Baseline,
    /// The baseline's runs.
    pub baseline_runs: Vec<PhaseFigures>,
    /// Our runs through [`Reporter::render`], for each storage of
    /// [`ReportBench::storages`] in its order.
    pub render_runs: Vec<Vec<PhaseFigures>>,
}

impl ReportBench {
    /// Generates the table, runs the phases alternately, and drops the database (or
    /// the SQLite folder) whether the run succeeded or not.
    ///
    /// # Errors
    /// A database that cannot be created or filled, or a phase that failed.
    pub async fn run(&self) -> Result<ReportFigures, BenchError> {
        let scratch = tempfile::tempdir()?;
        let database = BenchDb::create(self.database, &self.server_url, scratch.path()).await?;
        let figures = self.measure(&database.url, scratch.path()).await;
        let dropped = database.drop().await;
        let figures = figures?;
        dropped?;
        Ok(figures)
    }

    async fn measure(&self, url: &str, scratch: &Path) -> Result<ReportFigures, BenchError> {
        let started = Instant::now();
        generate(url, self.rows).await?;
        let generate = started.elapsed();
        let baseline = match (self.database, self.format) {
            (BenchDatabase::Postgres, Format::Csv) => Baseline::Copy,
            (BenchDatabase::Mysql, Format::Csv) => Baseline::MysqlClient,
            _ => Baseline::Memory,
        };
        let mut figures = ReportFigures {
            generate,
            baseline,
            baseline_runs: Vec::new(),
            render_runs: vec![Vec::new(); self.storages.len()],
        };
        let ours = if self.copy_fast_path {
            Phase::Render
        } else {
            Phase::RenderRows
        };
        // The baseline, then quire into each storage: `None` stands for the baseline.
        let phases: Vec<(Phase, Option<usize>)> = std::iter::once((baseline.phase(), None))
            .chain((0..self.storages.len()).map(|index| (ours, Some(index))))
            .collect();
        for run in 0..self.runs {
            for &(phase, storage) in &phases {
                let out = scratch.join(format!("run{run}-{phase:?}.{}", self.format));
                let on = storage.map_or(BenchStorage::File, |index| self.storages[index]);
                let measured = self.spawn_phase(phase, url, &out, on).await?;
                if measured.rows != self.rows {
                    return Err(BenchError::Invalid(format!(
                        "phase {phase:?} wrote {} rows instead of {}",
                        measured.rows, self.rows
                    )));
                }
                // A phase that uploaded its file left no local one.
                match std::fs::remove_file(&out) {
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    removed => removed?,
                }
                match storage {
                    Some(index) => figures.render_runs[index].push(measured),
                    None => figures.baseline_runs.push(measured),
                }
            }
        }
        Ok(figures)
    }

    async fn spawn_phase(
        &self,
        phase: Phase,
        url: &str,
        out: &Path,
        storage: BenchStorage,
    ) -> Result<PhaseFigures, BenchError> {
        let phase_name = value_name(&phase);
        let storage = value_name(&storage);
        let output = tokio::process::Command::new(&self.exe)
            .args(["bench", "phase", "--phase", &phase_name, "--url", url])
            .args(["--storage", &storage])
            .args(["--format", self.format.extension(), "--out"])
            .arg(out)
            .env("QUIRE_LOG", "warn")
            .output()
            .await?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let parsed = stdout
            .lines()
            .last()
            .and_then(Summary::parse)
            .and_then(|summary| PhaseFigures::parse(&summary));
        match parsed {
            Some(figures) if output.status.success() => Ok(figures),
            _ => Err(BenchError::Invalid(format!(
                "phase {phase_name} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))),
        }
    }
}

/// How `value` is spelled on the command line.
pub fn value_name(value: &impl clap::ValueEnum) -> String {
    value
        .to_possible_value()
        .map(|value| value.get_name().to_owned())
        .unwrap_or_default()
}

/// Runs one phase in this process against the benchmark database at `url`, writing
/// `out` (quire's phase into `bucket` instead, when given), and measures it.
///
/// # Errors
/// The database, the file or the bucket failing, or `copy` on a database other than
/// PostgreSQL.
pub async fn run_phase(
    phase: Phase,
    url: &str,
    format: Format,
    out: &Path,
    bucket: Option<&Storage>,
) -> Result<PhaseFigures, BenchError> {
    let source = Db::connect_reports(url, 2).await?;
    let catalog = Catalog::from_texts([(format!("{REPORT}.toml"), DEFINITION.to_owned())])
        .map_err(|error| BenchError::Invalid(error.to_string()))?;
    let reporter = Reporter::new(Arc::new(catalog), source.clone(), Clock::System)
        .with_copy_fast_path(phase != Phase::RenderRows);
    let request = ReportRequest {
        report: REPORT.into(),
        tenant: TENANT.into(),
        format,
        params: reporter
            .resolve_params_for_tenant(REPORT, TENANT, &serde_json::Map::new())
            .await?,
        options: OutputOptions::default(),
    };
    let mut copied = false;
    let local_size = || std::fs::metadata(out).map(|meta| meta.len());
    let (seconds, rows, bytes) = match phase {
        Phase::Render | Phase::RenderRows => {
            let destination = match bucket {
                Some(storage) => {
                    storage.destination(REPORT, "bench", format.extension(), format.content_type())
                }
                None => Destination::File(out.to_owned()),
            };
            let started = Instant::now();
            let rendered = reporter
                .render_to(
                    &request,
                    &destination,
                    &CancellationToken::new(),
                    Arc::new(AtomicU64::new(0)),
                )
                .await?;
            let seconds = started.elapsed().as_secs_f64();
            if let Some(storage) = bucket {
                let location = rendered.file.location.to_string();
                storage.remove(&location).await.map_err(RunsError::from)?;
            }
            copied = rendered.copied;
            (seconds, rendered.rows, rendered.file.bytes)
        }
        Phase::Copy => {
            let (seconds, rows) = baseline::copy_to_file(&source, out).await?;
            (seconds, rows, local_size()?)
        }
        Phase::MysqlClient => {
            let (seconds, rows) = baseline::mysql_client_to_file(url, out).await?;
            (seconds, rows, local_size()?)
        }
        Phase::Memory => {
            let rows = reporter.collect_rows(&request).await?;
            let report = reporter.report(REPORT)?;
            let (columns, currency) = (report.columns.clone(), report.currency_index());
            let out = out.to_owned();
            let (seconds, count) = tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                baseline::write_from_memory(format, &rows, &columns, currency, &out)?;
                Ok::<_, BenchError>((started.elapsed().as_secs_f64(), rows.len() as u64))
            })
            .await
            .map_err(|error| BenchError::Invalid(error.to_string()))??;
            (seconds, count, local_size()?)
        }
    };
    source.close().await;
    Ok(PhaseFigures {
        seconds,
        rows,
        bytes,
        peak_rss_kib: peak_rss_kib().unwrap_or(0),
        copied,
    })
}
