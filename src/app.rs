//! The composition root: the one place where quire's parts are connected. Every
//! command, the demo, the end-to-end benchmark and the tests build an [`App`] and ask
//! it for the API, the worker (with its handlers and observers) and the background
//! loops beside it, so what is tested is what runs in production.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::db::Db;
use crate::http::{self, AppState};
use crate::queue::{Queue, QueueConfig};
use crate::report::Reporter;
use crate::runs::{
    REPORT_JOB_KIND, ReportHandler, Retention, Runs, RunsObserver, Sweeper, WebhookClient,
    WebhookSender,
};
use crate::settings::{Limits, ReportsSource, Settings, SettingsError, redact};
use crate::storage::{Storage, StorageError};
use crate::store::Store;
use crate::worker::{Exit, Worker, WorkerOptions};

/// quire, connected: the run service and the URL clients reach the API at.
#[derive(Debug, Clone)]
pub struct App {
    /// The run service every part shares.
    pub runs: Runs,
    /// The base of the URLs handed to clients (download links, webhooks).
    pub public_url: String,
    /// The loops every worker runs beside itself.
    pub loops: Loops,
    /// How long report jobs wait out an unreachable database without spending attempts.
    pub db_outage_limit: Duration,
    /// The client webhooks are posted with, enforcing where they may go.
    pub webhooks: WebhookClient,
    /// What the API lets one caller or tenant do.
    pub limits: Limits,
    /// Where the catalog was loaded from, and is reloaded from on SIGHUP or a restart
    /// broadcast; `None` for a catalog handed in whole (tests, benchmarks).
    pub catalog_source: Option<ReportsSource>,
    /// What dashboard sessions are signed with; `None`: a secret of the process's own.
    pub dashboard_secret: Option<String>,
}

/// How often the loops beside a worker run; `None` leaves one out (a test that drives
/// it by hand).
#[derive(Debug, Clone, Copy)]
pub struct Loops {
    /// The sweep that reconciles runs, Redis and files (default every 30 s).
    pub sweep: Option<Duration>,
    /// The delivery of due webhooks (default every second).
    pub webhooks: Option<Duration>,
}

impl Default for Loops {
    fn default() -> Loops {
        Loops {
            sweep: Some(Duration::from_secs(30)),
            webhooks: Some(Duration::from_secs(1)),
        }
    }
}

impl App {
    /// Connects everything `settings` name: quire's database (migrated), the report
    /// database, the catalog and Redis.
    ///
    /// # Errors
    /// When a database or Redis cannot be reached, or the catalog or the webhook CA
    /// file is invalid.
    pub async fn connect(settings: &Settings) -> anyhow::Result<App> {
        let webhooks = settings
            .webhooks
            .client()
            .context("QUIRE_WEBHOOK_CA_FILE cannot be used")?;
        let catalog = Arc::new(Catalog::load(&settings.reports)?);
        let storage = open_storage(settings).await?;
        let db = open_database(settings).await?;
        let source = Db::connect_reports(&settings.reports_database_url, 8)
            .await
            .with_context(|| {
                format!(
                    "opening REPORTS_DATABASE_URL {}",
                    redact(&settings.reports_database_url)
                )
            })?;
        let queue = open_queue(settings).await?;
        let runs = Runs {
            store: Store::new(db, Clock::System),
            reporter: Reporter::new(catalog, source, Clock::System),
            queue,
            storage,
            retention: Retention::default(),
            max_queued_per_tenant: settings.limits.max_queued_per_tenant,
            scheduling: settings.scheduling,
        };
        Ok(App {
            db_outage_limit: settings.db_outage_limit,
            webhooks,
            limits: settings.limits,
            catalog_source: Some(settings.reports.clone()),
            dashboard_secret: settings.dashboard_secret.clone(),
            ..App::new(runs, settings.public_url.clone())
        })
    }

    /// An app over an already connected run service (tests fix its clocks).
    pub fn new(runs: Runs, public_url: String) -> App {
        App {
            runs,
            public_url,
            loops: Loops::default(),
            db_outage_limit: crate::runs::DEFAULT_OUTAGE_LIMIT,
            webhooks: WebhookClient::default(),
            limits: Limits::default(),
            catalog_source: None,
            dashboard_secret: None,
        }
    }

    /// Loads the catalog again from where it first came from, for the API and the
    /// workers alike. A catalog that no longer loads (a malformed file) is logged and
    /// the last good one stays in use; returns whether the new one was taken.
    pub async fn reload_catalog(&self) -> bool {
        let Some(source) = self.catalog_source.clone() else {
            return false;
        };
        let loaded = tokio::task::spawn_blocking(move || Catalog::load(&source))
            .await
            .expect("loading the catalog does not panic");
        match loaded {
            Ok(catalog) => {
                let reports = catalog.reports().count();
                self.runs.reporter.replace_catalog(catalog);
                tracing::info!(reports, "report catalog reloaded");
                true
            }
            Err(error) => {
                tracing::error!(
                    %error,
                    "the report catalog did not reload; the last good one stays in use"
                );
                false
            }
        }
    }

    /// Reloads the catalog on every SIGHUP that `hangups` receives until `shutdown`.
    pub async fn reload_on_hangup(
        &self,
        mut hangups: tokio::signal::unix::Signal,
        shutdown: CancellationToken,
    ) {
        loop {
            tokio::select! {
                Some(()) = hangups.recv() => {
                    tracing::info!("SIGHUP: reloading the report catalog");
                    self.reload_catalog().await;
                }
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// What the API's handlers share.
    fn state(&self) -> AppState {
        AppState::new(
            self.runs.clone(),
            self.public_url.clone(),
            self.limits,
            self.dashboard_secret.as_deref(),
        )
    }

    /// Serves the API on `listener` until `shutdown`. The metrics recorder is installed
    /// by this call, not when the future first runs, so a worker started beside it
    /// counts from its first job.
    ///
    /// # Errors
    /// When the server fails.
    pub fn serve(
        &self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> impl Future<Output = anyhow::Result<()>> + use<> {
        let state = self.state();
        async move {
            tracing::info!(address = %listener.local_addr()?, "API listening");
            http::serve(listener, state, async move { shutdown.cancelled().await })
                .await
                .context("the API server failed")
        }
    }

    /// Serves `/metrics` alone on `listener` until `shutdown`: the listener of a worker
    /// that serves no API. Like [`App::serve`], the recorder is installed by the call.
    ///
    /// # Errors
    /// When the listener fails.
    pub fn serve_metrics(
        &self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> impl Future<Output = anyhow::Result<()>> + use<> {
        let state = self.state();
        async move {
            tracing::info!(address = %listener.local_addr()?, "metrics listening");
            http::metrics::serve(listener, state, async move { shutdown.cancelled().await })
                .await
                .context("the metrics listener failed")
        }
    }

    /// The production worker: the report handler and the observer that keeps runs in
    /// step with their jobs.
    pub fn worker(&self, options: WorkerOptions) -> Worker {
        Worker::builder(self.runs.queue.clone(), options)
            .handler(
                REPORT_JOB_KIND,
                ReportHandler::with_outage_limit(self.runs.clone(), self.db_outage_limit),
            )
            .observer(RunsObserver::new(self.runs.clone()))
            .build()
    }

    /// The webhook sender of this app's runs, posting through its client.
    pub fn webhook_sender(&self) -> WebhookSender {
        WebhookSender::new(
            self.runs.clone(),
            self.webhooks.clone(),
            self.public_url.clone(),
        )
    }

    /// Runs the worker, and beside it the sweep and the webhook sender, until
    /// `shutdown` or another reason to stop; the loops stop with the worker.
    pub async fn work(&self, options: WorkerOptions, shutdown: CancellationToken) -> Exit {
        warn_if_redis_evicts(&self.runs.queue).await;
        let background = CancellationToken::new();
        let sweeper = async {
            if let Some(every) = self.loops.sweep {
                Sweeper::new(self.runs.clone())
                    .run(every, background.clone())
                    .await;
            }
        };
        let webhooks = async {
            if let Some(every) = self.loops.webhooks {
                self.webhook_sender().run(every, background.clone()).await;
            }
        };
        let worker = async {
            let exit = self.worker(options).run(shutdown).await;
            tracing::info!(?exit, "worker stopped");
            background.cancel();
            exit
        };
        let (exit, (), ()) = tokio::join!(worker, sweeper, webhooks);
        exit
    }

    /// The API on `listener` and a worker with `options`, until `shutdown`; when either
    /// part ends, the other is stopped too. The API's result is returned. A restart
    /// broadcast does not end the worker here: it finishes its jobs and starts again on a
    /// reloaded catalog while the API keeps serving, so one process is one service to
    /// supervise.
    ///
    /// # Errors
    /// When the API server fails.
    pub async fn serve_and_work(
        &self,
        listener: TcpListener,
        options: WorkerOptions,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let api = self.serve(listener, shutdown.clone());
        let worker = async {
            loop {
                let exit = self.work(options.clone(), shutdown.clone()).await;
                if exit != Exit::Restart {
                    return exit;
                }
                tracing::info!("restart broadcast: the worker starts again on a reloaded catalog");
                self.reload_catalog().await;
            }
        };
        tokio::pin!(api, worker);
        tokio::select! {
            result = &mut api => {
                tracing::info!(?result, "the API stopped; stopping the worker");
                shutdown.cancel();
                worker.await;
                result
            }
            exit = &mut worker => {
                tracing::info!(?exit, "the worker stopped; stopping the API");
                shutdown.cancel();
                api.await
            }
        }
    }
}

/// Opens quire's own database and applies pending migrations.
///
/// # Errors
/// When the database cannot be reached or migrated.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    Ok(migrated_database(settings).await?.0)
}

/// [`open_database`], with the migrations it applied.
///
/// # Errors
/// When the database cannot be reached or migrated.
pub async fn migrated_database(
    settings: &Settings,
) -> anyhow::Result<(Db, Vec<crate::db::AppliedMigration>)> {
    let db = Db::connect(&settings.database_url, 8)
        .await
        .with_context(|| format!("opening DATABASE_URL {}", redact(&settings.database_url)))?;
    let applied = db.migrate().await.context("migrating DATABASE_URL")?;
    Ok((db, applied))
}

/// Opens the file storage and checks a bucket: it exists and takes the credentials.
///
/// # Errors
/// A [`SettingsError`](crate::settings::SettingsError) naming the setting to correct
/// when the bucket is missing or refuses the credentials; another error when it cannot
/// be reached.
pub async fn open_storage(settings: &Settings) -> anyhow::Result<Storage> {
    let storage = settings.storage.open()?;
    match storage.check().await {
        Ok(()) => Ok(storage),
        Err(StorageError::Refused {
            setting, message, ..
        }) => Err(SettingsError::Invalid {
            name: setting,
            message,
        }
        .into()),
        Err(error) => Err(error).context("cannot reach the object store of QUIRE_STORAGE_URL"),
    }
}

/// Connects to the queue under the configured prefix.
///
/// # Errors
/// When Redis cannot be reached.
pub async fn open_queue(settings: &Settings) -> anyhow::Result<Queue> {
    Queue::connect(
        &settings.redis_url,
        &settings.prefix,
        QueueConfig::default(),
    )
    .await
    .with_context(|| {
        format!(
            "cannot reach Redis at REDIS_URL {}",
            redact(&settings.redis_url)
        )
    })
}

/// SPEC §1: a Redis that may evict keys can silently drop jobs and locks.
async fn warn_if_redis_evicts(queue: &Queue) {
    let policy: Result<Vec<String>, _> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query_async(&mut queue.connection())
        .await;
    if let Ok(reply) = policy
        && let Some(policy) = reply.get(1)
        && policy != "noeviction"
    {
        tracing::warn!(
            %policy,
            "Redis maxmemory-policy is not noeviction: under memory pressure Redis may \
             evict queued jobs and locks; set maxmemory-policy noeviction"
        );
    }
}
