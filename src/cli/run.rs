//! `quire run`: the HTTP API and a worker in one process; a restart broadcast restarts
//! the worker on a reloaded catalog, and SIGHUP reloads the catalog.

use crate::app::App;
use crate::settings::{Settings, WorkArgs};

/// Serves the API and works the queue until SIGINT/SIGTERM; when either part ends, the
/// other is stopped too.
///
/// # Errors
/// Bad options, unreachable services, or an address that cannot be bound.
pub async fn run(settings: &Settings, args: WorkArgs) -> anyhow::Result<()> {
    let args = args.or(settings.work.clone());
    if args.metrics_bind.is_some() {
        return Err(super::UsageError(
            "quire run serves /metrics beside the API; --metrics-bind is for quire work".into(),
        )
        .into());
    }
    let options = args.options()?;
    let app = App::connect(settings).await?;
    let listener = super::serve::bind(settings).await?;
    let shutdown = super::stop_and_reload_on_signals(&app);
    app.serve_and_work(listener, options, shutdown).await
}
