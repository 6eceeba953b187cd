//! `quire run`: the HTTP API and a worker in one process.

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::work::WorkArgs;
use crate::runs::Runs;
use crate::settings::Settings;
use crate::worker::WorkerOptions;

/// Serves the API and works the queue until SIGINT/SIGTERM; when either part ends, the
/// other is stopped too.
///
/// # Errors
/// Bad options, unreachable services, or an address that cannot be bound.
pub async fn run(settings: &Settings, args: WorkArgs) -> anyhow::Result<()> {
    let options = args.options()?;
    let runs = super::connect_runs(settings).await?;
    let listener = super::serve::bind(settings).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(super::cancel_on_signal(shutdown.clone()));
    serve_and_work(
        listener,
        settings.public_url.clone(),
        runs,
        options,
        shutdown,
    )
    .await
}

/// The API on `listener` and a worker with `options`, until `shutdown`; when either
/// part ends, the other is stopped too. The API's result is returned.
///
/// # Errors
/// When the API server fails.
pub async fn serve_and_work(
    listener: TcpListener,
    public_url: String,
    runs: Runs,
    options: WorkerOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let api = super::serve::serve(listener, public_url.clone(), runs.clone(), shutdown.clone());
    let worker = super::work::work(runs, options, public_url, shutdown.clone());
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
