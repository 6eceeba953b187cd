//! `quire work`: run a worker until SIGTERM/SIGINT, a restart broadcast, or one of the
//! stop options.

use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::UsageError;
use crate::app::App;
use crate::queue::Backoff;
use crate::settings::Settings;
use crate::worker::WorkerOptions;

/// Options of `quire work`.
#[derive(Debug, Args)]
pub struct WorkArgs {
    /// Jobs run at the same time.
    #[arg(long, env = "QUIRE_CONCURRENCY", default_value_t = 1)]
    pub concurrency: usize,
    /// Queues served, highest priority first.
    #[arg(
        long,
        env = "QUIRE_QUEUES",
        value_delimiter = ',',
        default_value = "reports,default"
    )]
    pub queues: Vec<String>,
    /// Lease of each reservation, renewed every third of it while the job runs.
    #[arg(long, env = "QUIRE_LEASE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub lease: Duration,
    /// Caps every job's own timeout.
    #[arg(long, env = "QUIRE_TIMEOUT", value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
    /// On SIGTERM, how long running jobs may take to finish before they are handed back.
    #[arg(long, env = "QUIRE_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// Exit after reserving this many jobs.
    #[arg(long, env = "QUIRE_MAX_JOBS")]
    pub max_jobs: Option<u64>,
    /// Stop reserving after this long; running jobs still finish.
    #[arg(long, env = "QUIRE_MAX_TIME", value_parser = humantime::parse_duration)]
    pub max_time: Option<Duration>,
    /// Exit once no job is ready and none is running.
    #[arg(long, env = "QUIRE_STOP_WHEN_EMPTY")]
    pub stop_when_empty: bool,
    /// Ceiling of the first retry delay (exponential backoff with full jitter).
    #[arg(long, env = "QUIRE_BACKOFF_BASE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub backoff_base: Duration,
    /// No retry delay is longer.
    #[arg(long, env = "QUIRE_BACKOFF_CAP", default_value = "10m", value_parser = humantime::parse_duration)]
    pub backoff_cap: Duration,
    /// Serve Prometheus metrics at http://ADDR/metrics (off by default; `quire serve`
    /// and `quire run` also serve them beside the API).
    #[arg(long, env = "QUIRE_METRICS_BIND", value_name = "ADDR")]
    pub metrics_bind: Option<std::net::SocketAddr>,
}

/// The shortest lease: the heartbeat renews every third of it.
const MIN_LEASE: Duration = Duration::from_millis(300);

impl WorkArgs {
    /// Checks the options and turns them into the worker's.
    ///
    /// # Errors
    /// A [`UsageError`] when the concurrency is 0, the lease is under 300 ms or a queue
    /// name is empty.
    pub fn options(self) -> Result<WorkerOptions, UsageError> {
        if self.concurrency == 0 {
            return Err(UsageError("--concurrency must be at least 1".into()));
        }
        if self.lease < MIN_LEASE {
            return Err(UsageError("--lease must be at least 300ms".into()));
        }
        if self.queues.iter().any(|queue| queue.trim().is_empty()) {
            return Err(UsageError(
                "--queues must name queues, e.g. high,default".into(),
            ));
        }
        Ok(WorkerOptions {
            queues: self.queues,
            concurrency: self.concurrency,
            lease: self.lease,
            max_timeout: self.timeout,
            grace: self.grace,
            max_jobs: self.max_jobs,
            max_time: self.max_time,
            stop_when_empty: self.stop_when_empty,
            backoff: Backoff {
                base: self.backoff_base,
                cap: self.backoff_cap,
            },
            ..WorkerOptions::default()
        })
    }
}

/// Runs the worker; a stop for any reason is a success (exit 0).
///
/// # Errors
/// Bad options are a usage error; Redis or a database unreachable at start-up is a
/// runtime error.
pub async fn run(settings: &Settings, args: WorkArgs) -> anyhow::Result<()> {
    let metrics_bind = args.metrics_bind;
    let options = args.options()?;
    let app = App::connect(settings).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(super::cancel_on_signal(shutdown.clone()));
    if let Some(address) = metrics_bind {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| {
                UsageError(format!(
                    "cannot listen on --metrics-bind {address}: {error}"
                ))
            })?;
        let (app, stop) = (app.clone(), shutdown.clone());
        tokio::spawn(async move { app.serve_metrics(listener, stop).await });
    }
    app.work(options, shutdown).await;
    Ok(())
}
