//! `quire serve`: the HTTP API.

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::http::{self, AppState};
use crate::runs::Runs;
use crate::settings::Settings;

/// Serves the API until SIGINT or SIGTERM.
///
/// # Errors
/// When a backing service cannot be reached or the address cannot be bound.
pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let runs = super::connect_runs(settings).await?;
    let listener = bind(settings).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(super::cancel_on_signal(shutdown.clone()));
    serve(listener, settings.public_url.clone(), runs, shutdown).await
}

/// Listens on QUIRE_BIND.
///
/// # Errors
/// When the address cannot be bound.
pub async fn bind(settings: &Settings) -> anyhow::Result<TcpListener> {
    TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("cannot listen on QUIRE_BIND {}", settings.bind))
}

/// Serves the API on `listener` with `runs` until `shutdown`; URLs handed to clients
/// start with `public_url`.
///
/// # Errors
/// When the server fails.
pub async fn serve(
    listener: TcpListener,
    public_url: String,
    runs: Runs,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!(address = %listener.local_addr()?, "API listening");
    let state = AppState::new(runs, public_url);
    http::serve(listener, state, async move { shutdown.cancelled().await })
        .await
        .context("the API server failed")
}
