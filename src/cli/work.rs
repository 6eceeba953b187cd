//! `quire work`: run a worker until SIGTERM/SIGINT, a restart broadcast, or one of the
//! stop options; SIGHUP reloads the report catalog.

use super::UsageError;
use crate::app::App;
use crate::settings::{Settings, WorkArgs};

/// Runs the worker; a stop for any reason is a success (exit 0).
///
/// # Errors
/// Bad options are a usage error; Redis or a database unreachable at start-up is a
/// runtime error.
pub async fn run(settings: &Settings, args: WorkArgs) -> anyhow::Result<()> {
    let args = args.or(settings.work.clone());
    let metrics_bind = args.metrics_bind;
    let options = args.options()?;
    let app = App::connect(settings).await?;
    let shutdown = super::stop_and_reload_on_signals(&app);
    if let Some(address) = metrics_bind {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| {
                UsageError(format!(
                    "cannot listen on --metrics-bind {address}: {error}"
                ))
            })?;
        // Called here, not inside the task, so the recorder is in place before the
        // worker below takes its first job.
        tokio::spawn(app.serve_metrics(listener, shutdown.clone()));
    }
    app.work(options, shutdown).await;
    Ok(())
}
