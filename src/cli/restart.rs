//! `quire restart`: every worker started before now finishes its current jobs and exits.

use crate::settings::Settings;

/// Broadcasts the restart and prints its time.
///
/// # Errors
/// Redis unreachable.
pub async fn run(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let queue = super::open_queue(settings).await?;
    let at = queue.broadcast_restart().await?;
    if json {
        println!("{}", serde_json::json!({ "restart_at_ms": at }));
    } else {
        let when = chrono::DateTime::from_timestamp_millis(at).unwrap_or_default();
        println!("restart broadcast at {when}: running workers exit after their current jobs");
    }
    Ok(())
}
