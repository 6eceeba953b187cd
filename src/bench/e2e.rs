//! `quire bench e2e`: one small report at a time through the whole product, timed from
//! the moment its `POST /v1/reports` is sent until its file has arrived through its
//! download URL.
//!
//! Everything is the real thing, in one process: the API served by the same function
//! as `quire serve`, a worker with the report handler, sweep and webhook sender
//! started by the same function as `quire work`, the run service connected as every
//! command connects it, on a throw-away database (a SQLite file in a temporary
//! folder, or a fresh PostgreSQL database) seeded with the demo data, under a random
//! Redis prefix. The client speaks HTTP to it over loopback.
//!
//! Each sample asks for the `invoices` report as CSV over its own ten-day window
//! (about ten rows), so no sample is deduplicated to another's run. The API has no
//! wait or long-poll, so the client polls the download URL — 202 while the run is
//! queued or running, 200 with the file once it completed — every [`POLL_INTERVAL`].
//! After each sample (outside the timing) the run is read back and the downloaded
//! bytes are checked against its recorded size and SHA-256.

use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use quire_client::{Client, Download, ReportOrder, RunStatus};

use super::report::{BenchDatabase, BenchDb};
use super::{BenchError, on_fresh_prefix, quantile};
use crate::app::App;
use crate::runs::{REPORT_QUEUE, Runs};
use crate::seed::SeedOptions;
use crate::settings::Settings;
use crate::store::NewApiKey;
use crate::worker::WorkerOptions;

/// How often the client asks the download URL whether the file is ready.
pub const POLL_INTERVAL: Duration = Duration::from_millis(1);
/// The target for the median (issue #5, target 4).
pub const TARGET_P50: Duration = Duration::from_millis(20);
/// Unmeasured samples first: connections opened, statements prepared, caches warm.
pub const WARM_UP: usize = 3;
/// A sample that takes longer than this means something is stuck.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The report each sample asks for, and its parameter windows.
const REPORT: &str = "invoices";
/// Invoices per tenant: the seed spreads them over its two years of history, so a
/// [`WINDOW_DAYS`]-day window holds about ten.
const INVOICES: u32 = 730;
const HISTORY_DAYS: i64 = 730;
const WINDOW_DAYS: i64 = 10;
/// The seed's first weeks hold few invoices; windows start after them.
const SPARSE_DAYS: i64 = 30;

/// What to run.
#[derive(Debug, Clone)]
pub struct E2eBench {
    /// Measured samples, one report at a time.
    pub samples: usize,
    /// Where quire's own state and the report data live.
    pub database: BenchDatabase,
    /// PostgreSQL or MySQL server URL on which the throw-away database is created and
    /// dropped.
    pub server_url: String,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct E2eFigures {
    /// Enqueue to downloaded, per sample, sorted.
    pub latencies: Vec<Duration>,
    /// The `POST /v1/reports` answer alone, per sample, sorted.
    pub enqueue: Vec<Duration>,
    /// Rows of each sample's file.
    pub rows: Vec<u64>,
    /// Download URL polls that found the run not yet completed, over all samples.
    pub pending_polls: u64,
}

impl E2eFigures {
    /// The `q`-quantile of the end-to-end latencies.
    pub fn latency(&self, q: f64) -> Duration {
        quantile(&self.latencies, q)
    }

    /// The mean end-to-end latency.
    pub fn mean(&self) -> Duration {
        let count = u32::try_from(self.latencies.len())
            .unwrap_or(u32::MAX)
            .max(1);
        self.latencies.iter().sum::<Duration>() / count
    }

    /// The `q`-quantile of the enqueue answers.
    pub fn enqueue_latency(&self, q: f64) -> Duration {
        quantile(&self.enqueue, q)
    }

    /// The mean rows per file.
    pub fn mean_rows(&self) -> f64 {
        self.rows.iter().sum::<u64>() as f64 / self.rows.len().max(1) as f64
    }
}

impl E2eBench {
    /// Creates the database, starts the API and a worker on it, measures, then stops
    /// them and drops the database, the storage folder and the Redis prefix, whether
    /// the run succeeded or not.
    ///
    /// `settings` gives Redis and the report catalog; the database, prefix, storage
    /// folder and address are the benchmark's own.
    ///
    /// # Errors
    /// A database or Redis that cannot be reached, or a sample that fails or stalls.
    pub async fn run(&self, settings: &Settings) -> Result<E2eFigures, BenchError> {
        let scratch = tempfile::tempdir()?;
        BenchDb::around(
            self.database,
            &self.server_url,
            scratch.path(),
            settings,
            |settings| async move {
                on_fresh_prefix(
                    &settings,
                    |app| async move { self.with_app(&app.runs).await },
                )
                .await
            },
        )
        .await
    }

    /// Seeds the data, starts the API and the worker, measures, stops them.
    async fn with_app(&self, runs: &Runs) -> Result<E2eFigures, BenchError> {
        let options = SeedOptions {
            tenants: 1,
            invoices_per_tenant: INVOICES,
            ..SeedOptions::default()
        };
        let tenant = crate::seed::seed(runs.store.db(), &options)
            .await?
            .remove(0);
        let first_day = options.anchor - TimeDelta::days(HISTORY_DAYS);
        let key = runs
            .store
            .create_api_key(&NewApiKey {
                tenant: Some(tenant.clone()),
                ..NewApiKey::default()
            })
            .await?
            .1;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let public_url = format!("http://{}", listener.local_addr()?);

        let shutdown = CancellationToken::new();
        let worker_options = WorkerOptions {
            queues: vec![REPORT_QUEUE.to_owned()],
            ..WorkerOptions::default()
        };
        let app = App::new(runs.clone(), public_url.clone());
        let stop = shutdown.clone();
        let app =
            tokio::spawn(async move { app.serve_and_work(listener, worker_options, stop).await });
        let client = Client::new(&public_url, &key);
        let measured = self.measure(&client, &tenant, first_day).await;
        shutdown.cancel();
        let served = app
            .await
            .map_err(|error| BenchError::Invalid(format!("the API panicked: {error}")))?
            .map_err(BenchError::Setup);
        let figures = measured?;
        served?;
        Ok(figures)
    }

    async fn measure(
        &self,
        client: &Client,
        tenant: &str,
        first_day: NaiveDate,
    ) -> Result<E2eFigures, BenchError> {
        let mut figures = E2eFigures {
            latencies: Vec::with_capacity(self.samples),
            enqueue: Vec::with_capacity(self.samples),
            rows: Vec::with_capacity(self.samples),
            pending_polls: 0,
        };
        for i in 0..WARM_UP + self.samples {
            let order = order(tenant, first_day, i);
            let sample = tokio::time::timeout(SAMPLE_TIMEOUT, sample(client, &order))
                .await
                .map_err(|_| {
                    BenchError::Invalid(format!(
                        "sample {i} was not downloadable within {SAMPLE_TIMEOUT:?}"
                    ))
                })??;
            let rows = verify(client, &sample).await?;
            if i >= WARM_UP {
                figures.latencies.push(sample.total);
                figures.enqueue.push(sample.enqueue);
                figures.rows.push(rows);
                figures.pending_polls += sample.pending_polls;
            }
        }
        figures.latencies.sort();
        figures.enqueue.sort();
        Ok(figures)
    }
}

/// Sample `i`'s order: the report over the `i`-th of the ten-day windows that start
/// one a week apart (wrapping round) after the history's first month, which the seed
/// leaves sparse, so consecutive samples never ask for the same run.
fn order(tenant: &str, first_day: NaiveDate, i: usize) -> ReportOrder {
    let starts = (HISTORY_DAYS - SPARSE_DAYS - WINDOW_DAYS) as usize;
    let start = first_day + TimeDelta::days(SPARSE_DAYS + (i * 7 % starts) as i64);
    let end = start + TimeDelta::days(WINDOW_DAYS - 1);
    let params = json!({
        "period": "custom",
        "start_date": start.to_string(),
        "end_date": end.to_string(),
    });
    let Value::Object(params) = params else {
        unreachable!("a JSON object literal")
    };
    ReportOrder {
        tenant: tenant.to_owned(),
        report: REPORT.to_owned(),
        format: "csv".to_owned(),
        params,
        idempotency_key: None,
    }
}

/// One timed sample.
struct Sample {
    run_id: String,
    file: Vec<u8>,
    /// POST sent to file received.
    total: Duration,
    /// POST sent to its answer received.
    enqueue: Duration,
    pending_polls: u64,
}

async fn sample(client: &Client, order: &ReportOrder) -> Result<Sample, BenchError> {
    let started = Instant::now();
    let run = client.enqueue(order).await?;
    let enqueue = started.elapsed();
    if run.deduplicated == Some(true) {
        return Err(BenchError::Invalid(format!(
            "run {} was deduplicated: the samples must each build their own",
            run.id
        )));
    }
    let url = run
        .download_url
        .ok_or_else(|| BenchError::Invalid("the API gave no download URL".into()))?;
    let mut pending_polls = 0;
    loop {
        match client.fetch(&url).await? {
            Download::File(file) => {
                return Ok(Sample {
                    run_id: run.id,
                    file,
                    total: started.elapsed(),
                    enqueue,
                    pending_polls,
                });
            }
            Download::Pending { .. } => {
                pending_polls += 1;
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
    }
}

/// Checks the downloaded bytes are the run's file (size and SHA-256 as the run
/// records them) and returns its rows.
async fn verify(client: &Client, sample: &Sample) -> Result<u64, BenchError> {
    let run = client.run(&sample.run_id).await?;
    let sha256 = hex::encode(Sha256::digest(&sample.file));
    match &run.file {
        Some(file)
            if run.status == RunStatus::Completed
                && file.bytes == sample.file.len() as u64
                && file.sha256 == sha256 =>
        {
            Ok(file.rows)
        }
        file => Err(BenchError::Invalid(format!(
            "run {} is {} and its file is {file:?}, but {} bytes with SHA-256 {sha256} were downloaded",
            sample.run_id,
            run.status,
            sample.file.len()
        ))),
    }
}
