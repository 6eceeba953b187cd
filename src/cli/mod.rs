//! The command line of SPEC §2: one `quire` binary, one module per command group.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

pub(crate) use crate::app::{open_database, open_queue};

/// The catalog and the reports database, for commands that read reports without the
/// queue (`render`, `keys create`).
///
/// # Errors
/// An invalid catalog, or a reports database that cannot be opened.
pub(crate) async fn open_reporter(
    settings: &Settings,
    clock: crate::clock::Clock,
) -> anyhow::Result<crate::report::Reporter> {
    use anyhow::Context as _;
    let catalog = std::sync::Arc::new(crate::catalog::Catalog::load(&settings.reports)?);
    let source = crate::db::Db::connect_reports(&settings.reports_database_url, 2)
        .await
        .with_context(|| {
            format!(
                "opening REPORTS_DATABASE_URL {}",
                redact(&settings.reports_database_url)
            )
        })?;
    Ok(crate::report::Reporter::new(catalog, source, clock))
}
pub(crate) use crate::settings::redact;
use crate::settings::{Settings, SettingsArgs};

pub mod bench;
pub mod demo;
pub mod enqueue;
pub mod failed;
pub mod keys;
pub mod migrate;
pub mod queues;
pub mod render;
pub mod reports;
pub mod restart;
pub mod run;
pub mod seed;
pub mod serve;
pub mod work;

/// The `--help` heading of the options every command takes.
const GLOBAL_HEADING: &str =
    "Global options (every command; each also reads its environment variable)";

/// quire: a report-generation job runner for invoicing applications.
#[derive(Debug, Parser)]
#[command(name = "quire", version, about, propagate_version = true)]
pub struct Cli {
    /// Global options; each flag also reads an environment variable. Listed after a
    /// command's own flags, under their own heading.
    #[command(flatten, next_help_heading = GLOBAL_HEADING)]
    pub settings: SettingsArgs,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true, help_heading = GLOBAL_HEADING)]
    pub json: bool,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand of `quire`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole product in one command on the embedded default.
    Demo(demo::DemoArgs),
    /// Apply migrations to DATABASE_URL.
    Migrate,
    /// Load deterministic demo invoicing data; prints the tenant slugs it created.
    Seed(seed::SeedArgs),
    /// Serve the HTTP API.
    Serve,
    /// Run a worker.
    Work(crate::settings::WorkArgs),
    /// Serve the HTTP API and run workers in one process.
    Run(crate::settings::WorkArgs),
    /// Enqueue a report run.
    Enqueue(enqueue::EnqueueArgs),
    /// Show a run.
    Status {
        /// The run's id.
        run_id: String,
    },
    /// Build a report synchronously to a file, without the queue.
    Render(render::RenderArgs),
    /// List, show or check report definitions.
    Reports(reports::ReportsArgs),
    /// Tell every worker to finish its current jobs and exit.
    Restart,
    /// Inspect, retry and forget dead jobs.
    Failed(failed::FailedArgs),
    /// What the queues hold, and for which tenants.
    Queues(queues::QueuesArgs),
    /// Create and revoke API keys.
    Keys(keys::KeysArgs),
    /// Reproducible benchmarks.
    Bench(bench::BenchArgs),
}

impl Command {
    /// Whether the command prints its result and exits, rather than serving or working
    /// until stopped. `demo --serve` counts as printing: its summary comes first, and a
    /// reader gone by then leaves nobody to serve.
    pub fn prints_and_exits(&self) -> bool {
        !matches!(
            self,
            Command::Serve
                | Command::Work(_)
                | Command::Run(_)
                | Command::Bench(bench::BenchArgs {
                    which: bench::BenchCommand::Worker(_)
                })
        )
    }
}

/// A mistake in how quire was called or configured: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `error` and its causes on one line, each cause once: an error whose message already
/// quotes its source (`Redis failed: Connection refused`) is not followed by it again.
fn once_each(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Prints `error` as one line on stderr and returns the exit code it deserves: 2 for
/// usage and configuration mistakes, 1 for failures at run time.
pub fn report_failure(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", once_each(error));
    let usage = error.chain().any(|cause| {
        cause.is::<UsageError>()
            || cause.is::<crate::settings::SettingsError>()
            || cause.is::<crate::catalog::CatalogError>()
            || cause.is::<crate::catalog::DefinitionError>()
            || cause.is::<crate::tls::TlsError>()
    });
    if usage {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// The shutdown token of a long-running command over `app`: cancelled on SIGTERM or
/// SIGINT; until then, SIGHUP reloads the report catalog. The handlers are in place
/// when this returns, so a signal sent as soon as the command says it has started is
/// never met by the default action (which would end it on SIGHUP).
pub(crate) fn stop_and_reload_on_signals(app: &crate::app::App) -> CancellationToken {
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hangups) => {
            let (app, stop) = (app.clone(), shutdown.clone());
            tokio::spawn(async move { app.reload_on_hangup(hangups, stop).await });
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; the catalog reloads only on restart");
        }
    }
    shutdown
}

/// Cancels `shutdown` on SIGTERM or SIGINT. The SIGTERM handler is in place once the
/// returned future exists, before it is first polled.
pub fn cancel_on_signal(shutdown: CancellationToken) -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = signal(SignalKind::terminate());
    async move {
        match terminate {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the worker");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        tracing::info!("stop signal received");
        shutdown.cancel();
    }
}
