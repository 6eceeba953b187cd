//! `quire serve`: the HTTP API.

use anyhow::Context as _;
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
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    serve(settings, runs, shutdown).await
}

/// Serves the API with `runs` until `shutdown`.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    settings: &Settings,
    runs: Runs,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("cannot listen on QUIRE_BIND {}", settings.bind))?;
    tracing::info!(address = %listener.local_addr()?, "API listening");
    let state = AppState::new(runs, settings.public_url.clone());
    http::serve(listener, state, async move { shutdown.cancelled().await })
        .await
        .context("the API server failed")
}

/// Cancels `token` on the first SIGINT or SIGTERM.
pub async fn cancel_on_signal(token: CancellationToken) {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("stopping");
    token.cancel();
}
