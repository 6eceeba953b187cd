//! `quire serve`: the HTTP API.

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::app::App;
use crate::settings::Settings;

/// Serves the API until SIGINT or SIGTERM; SIGHUP reloads the report catalog.
///
/// # Errors
/// When a backing service cannot be reached or the address cannot be bound.
pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let app = App::connect(settings).await?;
    let listener = bind(settings).await?;
    let shutdown = super::stop_and_reload_on_signals(&app);
    app.serve(listener, shutdown).await
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
