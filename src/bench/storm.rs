//! `quire bench storm`: one tenant's month-end burst against everybody else's single
//! export. Tenant 1 enqueues [`StormBench::burst`] small reports, then each of the
//! other tenants enqueues one; then the workers start and drain them, as at month end
//! when requests arrive faster than reports build. Measured twice in the same run, with
//! fair scheduling and with plain first-in-first-out, each on its own Redis prefix: for
//! the other tenants' reports, the time from enqueue to start; for all of them, the time
//! from the workers' start until the last run finished.
//!
//! Everything is the real thing in one process: the run service connected as every
//! command connects it, on a throw-away database seeded with the demo data, and the
//! given number of workers started by the same function as `quire work`. Requests go
//! through the run service's enqueue (the API's own path, without HTTP). Each report is
//! `invoices` (without its overlap lock, see [`REPORT`]) as CSV over its own window of about 37 days (about a thousand rows with
//! the default [`DEFAULT_INVOICES`]), so no request is deduplicated to another's run.

use std::time::Duration;

use chrono::TimeDelta;
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::report::{BenchDatabase, BenchDb};
use super::{BenchError, on_fresh_prefix, quantile};
use crate::app::App;
use crate::names::{ReportName, TenantSlug};
use crate::runs::{REPORT_QUEUE, RunRequest, Runs, Scheduling};
use crate::seed::SeedOptions;
use crate::settings::{ReportsSource, Settings};
use crate::store::RunStatus;
use crate::worker::WorkerOptions;
use crate::writer::{Format, OutputOptions};

/// The report every request asks for: the built-in `invoices` without its overlap lock.
/// With the lock (`tenant_report`), one tenant's burst of one report builds one run at
/// a time and parks the rest, so FIFO would not keep the other tenants waiting; the
/// storm is about a burst that may build side by side, as different reports would.
const REPORT: &str = "storm_invoices";
const BUILT_IN: &str = include_str!("../../reports/invoices.toml");
/// Invoices per tenant unless told otherwise, spread by the seed over its two years of
/// history: about 27 a day, so a [`WINDOW_DAYS`]-day window holds about a thousand.
pub const DEFAULT_INVOICES: u32 = 20_000;
const HISTORY_DAYS: i64 = 730;
const WINDOW_DAYS: i64 = 37;
/// The seed's first weeks hold few invoices; windows start after them.
const SPARSE_DAYS: i64 = 30;
/// Requests of the burst in flight at once.
const BURST_IN_FLIGHT: usize = 32;
/// How often the drain is checked.
const POLL: Duration = Duration::from_millis(10);
/// A storm that has not drained by then is stuck.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(600);

/// What to run.
#[derive(Debug, Clone)]
pub struct StormBench {
    /// Reports the first tenant enqueues.
    pub burst: usize,
    /// Tenants that each enqueue one report after the burst.
    pub others: usize,
    /// Worker loops, each with `concurrency` slots.
    pub workers: usize,
    /// Jobs each worker runs at once.
    pub concurrency: usize,
    /// Invoices seeded per tenant; they set the reports' size.
    pub invoices: u32,
    /// Where quire's own state and the report data live.
    pub database: BenchDatabase,
    /// PostgreSQL or MySQL server URL on which the throw-away database is created.
    pub server_url: String,
}

/// What one mode measured.
#[derive(Debug, Clone)]
pub struct ModeFigures {
    /// Enqueue to start of each other tenant's report, sorted.
    pub starts: Vec<Duration>,
    /// The workers' start until the last run finished.
    pub drain: Duration,
    /// Rows per file, on average.
    pub rows_mean: f64,
}

impl ModeFigures {
    /// The `q`-quantile of the other tenants' waits.
    pub fn start(&self, q: f64) -> Duration {
        quantile(&self.starts, q)
    }
}

/// Both modes, measured in the same run.
#[derive(Debug, Clone)]
pub struct StormFigures {
    /// Tenants take turns.
    pub fair: ModeFigures,
    /// First in, first out.
    pub fifo: ModeFigures,
}

impl StormBench {
    /// Creates and seeds the database, measures fair then FIFO scheduling, and drops
    /// the database, storage folder and Redis prefixes, whether the run succeeded or not.
    ///
    /// # Errors
    /// A database or Redis that cannot be reached, or a run that fails or stalls.
    pub async fn run(&self, settings: &Settings) -> Result<StormFigures, BenchError> {
        let scratch = tempfile::tempdir()?;
        let reports = scratch.path().join("reports");
        std::fs::create_dir(&reports)?;
        std::fs::write(reports.join(format!("{REPORT}.toml")), definition()?)?;
        let settings = Settings {
            reports: ReportsSource::Dir(reports),
            ..settings.clone()
        };
        BenchDb::around(
            self.database,
            &self.server_url,
            scratch.path(),
            &settings,
            |settings| async move { self.seeded(&settings).await },
        )
        .await
    }

    async fn seeded(&self, settings: &Settings) -> Result<StormFigures, BenchError> {
        let options = SeedOptions {
            tenants: u32::try_from(self.others + 1).unwrap_or(u32::MAX),
            invoices_per_tenant: self.invoices,
            ..SeedOptions::default()
        };
        let db = crate::app::open_database(settings)
            .await
            .map_err(BenchError::Setup)?;
        let tenants = crate::seed::seed(&db, &options).await?;
        db.close().await;
        let first_day = options.anchor - TimeDelta::days(HISTORY_DAYS);
        // Fair first: what the database caches during the first mode helps the second,
        // so FIFO's drain time is the one favoured.
        let fair = self.mode(settings, true, &tenants, first_day).await?;
        let fifo = self.mode(settings, false, &tenants, first_day).await?;
        Ok(StormFigures { fair, fifo })
    }

    /// One storm under a fresh prefix, with fair scheduling on or off.
    async fn mode(
        &self,
        settings: &Settings,
        fair: bool,
        tenants: &[String],
        first_day: chrono::NaiveDate,
    ) -> Result<ModeFigures, BenchError> {
        let settings = Settings {
            scheduling: Scheduling {
                fair,
                ..settings.scheduling
            },
            ..settings.clone()
        };
        on_fresh_prefix(&settings, |app| async move {
            self.storm(&app, tenants, first_day).await
        })
        .await
    }

    /// Enqueues the burst, then the other tenants' reports; then starts the workers and
    /// waits until every run has finished.
    async fn storm(
        &self,
        app: &App,
        tenants: &[String],
        first_day: chrono::NaiveDate,
    ) -> Result<ModeFigures, BenchError> {
        let runs = &app.runs;
        // The burst arrives as from a busy app: many requests in flight at once.
        let mut all: Vec<String> = futures::stream::iter(0..self.burst)
            .map(|i| enqueue(runs, &tenants[0], first_day, i))
            .buffer_unordered(BURST_IN_FLIGHT)
            .try_collect()
            .await?;
        let mut others = Vec::with_capacity(self.others);
        for tenant in &tenants[1..] {
            let id = enqueue(runs, tenant, first_day, 0).await?;
            others.push(id.clone());
            all.push(id);
        }

        let began = Instant::now();
        let shutdown = CancellationToken::new();
        let workers: Vec<_> = (0..self.workers)
            .map(|_| {
                let (app, stop) = (app.clone(), shutdown.clone());
                let options = WorkerOptions {
                    queues: vec![REPORT_QUEUE.to_owned()],
                    concurrency: self.concurrency,
                    ..WorkerOptions::default()
                };
                tokio::spawn(async move { app.work(options, stop).await })
            })
            .collect();
        let drained = drain(runs, began).await;
        let drain = began.elapsed();
        shutdown.cancel();
        for worker in workers {
            worker
                .await
                .map_err(|error| BenchError::Invalid(format!("a worker panicked: {error}")))?;
        }
        drained?;

        let mut starts = Vec::with_capacity(others.len());
        let mut rows = 0;
        for id in &all {
            let run = runs.get(id, None).await?;
            if run.status != RunStatus::Completed {
                return Err(BenchError::Invalid(format!(
                    "run {id} ended {}: {:?}",
                    run.status.as_str(),
                    run.error
                )));
            }
            rows += run.file.as_ref().map_or(0, |file| file.rows);
            if others.contains(id) {
                let waited = run.started_at.unwrap_or(run.created_at) - run.created_at;
                starts.push(Duration::from_millis(u64::try_from(waited).unwrap_or(0)));
            }
        }
        starts.sort();
        Ok(ModeFigures {
            starts,
            drain,
            rows_mean: rows as f64 / all.len() as f64,
        })
    }
}

/// The storm's report definition, made from the built-in `invoices`.
fn definition() -> Result<String, BenchError> {
    let renamed = BUILT_IN
        .replacen("name = \"invoices\"", &format!("name = \"{REPORT}\""), 1)
        .replacen("overlap = \"tenant_report\"", "overlap = \"none\"", 1);
    if renamed.contains("\"tenant_report\"") || !renamed.contains(REPORT) {
        return Err(BenchError::Invalid(
            "reports/invoices.toml no longer has the name and overlap lines the storm edits".into(),
        ));
    }
    Ok(renamed)
}

/// Waits until no run is queued or running.
async fn drain(runs: &Runs, began: Instant) -> Result<(), BenchError> {
    while !runs.store.active_runs(1).await?.is_empty() {
        if began.elapsed() > DRAIN_TIMEOUT {
            return Err(BenchError::Invalid(format!(
                "the storm did not drain within {DRAIN_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// Request `i` of `tenant`: `invoices` as CSV over its own window (the windows start a
/// day apart, and grow by a day each time they wrap round).
async fn enqueue(
    runs: &Runs,
    tenant: &str,
    first_day: chrono::NaiveDate,
    i: usize,
) -> Result<String, BenchError> {
    let starts = (HISTORY_DAYS - SPARSE_DAYS - 2 * WINDOW_DAYS) as usize;
    let start = first_day + TimeDelta::days(SPARSE_DAYS + (i % starts) as i64);
    let end = start + TimeDelta::days(WINDOW_DAYS - 1 + (i / starts) as i64);
    let Value::Object(params) = json!({
        "period": "custom",
        "start_date": start.to_string(),
        "end_date": end.to_string(),
    }) else {
        unreachable!("a JSON object literal")
    };
    let request = RunRequest {
        tenant: TenantSlug::parse(tenant).map_err(|e| BenchError::Invalid(e.to_string()))?,
        report: ReportName::parse(REPORT).map_err(|e| BenchError::Invalid(e.to_string()))?,
        format: Format::Csv,
        params,
        options: OutputOptions::default(),
        idempotency_key: None,
        api_key_id: None,
        reuse_for: None,
    };
    let enqueued = runs.enqueue(&request).await?;
    if enqueued.deduplicated {
        return Err(BenchError::Invalid(format!(
            "request {i} of {tenant} was deduplicated: the windows must differ"
        )));
    }
    Ok(enqueued.run.id)
}
