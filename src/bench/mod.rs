//! `quire bench`: reproducible benchmarks (SPEC §7). Each one runs the real code path
//! against real Redis or a real database, measures it beside a baseline or the cited
//! reference figures, and returns figures that the CLI prints and ends with one
//! parseable `key=value` summary line.
//!
//! - [`queue`]: no-op jobs through the full reliable lifecycle (push, reserve with a
//!   lease and fencing token, ack), in one process, under a throw-away Redis prefix.
//! - [`report`]: a generated invoice table in a throw-away database, built into CSV or
//!   XLSX through the real report path, beside PostgreSQL's `COPY` (CSV) or
//!   rust_xlsxwriter writing the same cells from memory (XLSX). Each phase runs in a
//!   child process so that its peak memory is its own.
//!
//! - [`NoopHandler`]: the `noop` job kind those jobs are, also served by the hidden
//!   `quire bench worker` for multi-process queue tests.
//! - [`e2e`]: small reports one at a time through the real API and a real worker, in
//!   one process, from `POST /v1/reports` until the file is downloaded.
//! - [`dashboard`]: the dashboard's overview and a filtered runs page over a table of
//!   100,000 runs, with the Redis commands and SQL statements each overview costs.
//! - [`storm`]: one tenant's burst against the other tenants' single reports, with fair
//!   scheduling and with FIFO, in the same run.
//!
//! A benchmark never weakens a guarantee to look fast: jobs hold leases and fencing
//! tokens, files are synced before they are published.

pub mod dashboard;
pub mod e2e;
mod noop;
pub mod queue;
pub mod report;
pub mod storm;

pub use noop::{NOOP_KIND, NoopHandler};

use std::fmt::Write as _;
use std::time::Duration;

use crate::app::App;
use crate::settings::Settings;

/// Errors of a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Redis failed or a queue transition was refused.
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
    /// Redis failed a benchmark's own command.
    #[error("Redis failed: {0}")]
    Redis(#[from] redis::RedisError),
    /// The benchmark database could not be created, reached or filled.
    #[error("the benchmark database failed: {0}")]
    Database(#[from] sqlx::Error),
    /// The benchmark database could not be opened or migrated.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// Building the report failed.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// Writing a baseline file failed.
    #[error(transparent)]
    Write(#[from] crate::writer::WriteError),
    /// A file or a child process could not be handled.
    #[error("I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// Seeding the benchmark's demo data failed.
    #[error(transparent)]
    Seed(#[from] crate::seed::SeedError),
    /// quire's own state could not be written.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The run service refused or failed a request.
    #[error(transparent)]
    Runs(#[from] crate::runs::RunsError),
    /// The benchmark's API call failed.
    #[error("calling the API failed: {0}")]
    Client(#[from] quire_client::ClientError),
    /// Starting or running the API or the run service failed.
    #[error("{0:#}")]
    Setup(anyhow::Error),
    /// The run did not do what it measured (lost jobs, a phase that failed).
    #[error("{0}")]
    Invalid(String),
}

/// Runs `measure` with the app `settings` connect under a fresh Redis prefix;
/// afterwards the prefix's keys are deleted and the database closed, whether `measure`
/// succeeded or not.
async fn on_fresh_prefix<T, Fut>(
    settings: &Settings,
    measure: impl FnOnce(App) -> Fut,
) -> Result<T, BenchError>
where
    Fut: Future<Output = Result<T, BenchError>>,
{
    let settings = Settings {
        prefix: format!("quire-bench-{}", uuid::Uuid::now_v7().simple()),
        ..settings.clone()
    };
    let app = App::connect(&settings).await.map_err(BenchError::Setup)?;
    let runs = app.runs.clone();
    let measured = measure(app).await;
    let cleaned = queue::delete_prefix(&runs.queue).await;
    runs.store.db().close().await;
    let figures = measured?;
    cleaned?;
    Ok(figures)
}

/// A benchmark's results as ordered `key=value` pairs: the summary line, and the JSON
/// object with `--json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pairs: Vec<(String, String)>,
}

impl Summary {
    /// Appends `key=value`; values never contain spaces, so the line splits on blanks.
    pub fn push(&mut self, key: &str, value: impl std::fmt::Display) {
        let value = value.to_string().replace(char::is_whitespace, "_");
        self.pairs.push((key.to_owned(), value));
    }

    /// The pairs in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The one-line form: `key=value key=value ...`.
    pub fn line(&self) -> String {
        let mut line = String::new();
        for (key, value) in &self.pairs {
            if !line.is_empty() {
                line.push(' ');
            }
            let _ = write!(line, "{key}={value}");
        }
        line
    }

    /// Parses a line written by [`Summary::line`].
    pub fn parse(line: &str) -> Option<Summary> {
        let pairs = line
            .split_whitespace()
            .map(|pair| {
                pair.split_once('=')
                    .map(|(key, value)| (key.to_owned(), value.to_owned()))
            })
            .collect::<Option<Vec<_>>>()?;
        (!pairs.is_empty()).then_some(Summary { pairs })
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The `q`-quantile (0..=1) of `sorted` samples, by the nearest-rank method.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of `values` (which it sorts); 0 when empty.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// This process's peak resident memory (VmHWM) in KiB, when the kernel tells it.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Online CPUs, as `nproc` counts them.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_line_parses_back_to_its_pairs() {
        let mut summary = Summary::default();
        summary.push("bench", "queue");
        summary.push("jobs_per_s", 1234.5);
        summary.push("note", "two words");
        let parsed = Summary::parse(&summary.line()).unwrap();
        assert_eq!(parsed, summary);
        assert_eq!(parsed.get("note"), Some("two_words"));
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&samples, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&samples, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&samples[..1], 0.99), Duration::from_millis(1));
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn peak_memory_is_read_from_proc() {
        assert!(peak_rss_kib().is_some_and(|kib| kib > 0));
    }
}
