//! The `noop` job kind of the queue benchmark and the queue tests, served only by
//! `quire bench` (never by `quire work` or `quire run`). Its payload may ask it
//! to sleep (checking cancellation), to fail, and to record each execution as lines in
//! a file, so that tests can see "ran exactly once" across processes:
//!
//! ```text
//! start <job> <attempt> <pid> <start_ms>
//! end|cancelled <job> <attempt> <pid> <start_ms> <end_ms>
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::AsyncWriteExt as _;

use crate::worker::{JobContext, JobError, JobHandler, Outcome};

/// The kind the noop handler is registered under.
pub const NOOP_KIND: &str = "noop";

/// Does nothing, as the payload says.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopHandler;

/// What a noop job is asked to do.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoopPayload {
    /// Sleep per attempt: the n-th entry for attempt n, the last one for later attempts.
    #[serde(default)]
    sleep_ms: Vec<u64>,
    /// Fail after sleeping: `"transient"` or `"permanent"`.
    #[serde(default)]
    fail: Option<String>,
    /// Append execution lines to this file.
    #[serde(default)]
    record: Option<PathBuf>,
}

impl JobHandler for NoopHandler {
    async fn run(&self, ctx: JobContext) -> Result<Outcome, JobError> {
        let payload: NoopPayload = if ctx.job().payload.is_null() {
            NoopPayload::default()
        } else {
            ctx.payload()?
        };
        let job = &ctx.job().id;
        let attempt = ctx.attempt();
        let pid = std::process::id();
        let started = now_ms();
        record(&payload, || {
            format!("start {job} {attempt} {pid} {started}\n")
        })
        .await?;
        let index = usize::try_from(attempt)
            .unwrap_or(usize::MAX)
            .saturating_sub(1);
        let sleep = payload
            .sleep_ms
            .get(index)
            .or(payload.sleep_ms.last())
            .copied()
            .unwrap_or(0);
        // No timer for a job that does not sleep: the benchmark's jobs are these.
        let cancelled = sleep > 0
            && tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(sleep)) => false,
                () = ctx.cancellation().cancelled() => true,
            };
        let word = if cancelled { "cancelled" } else { "end" };
        let ended = now_ms();
        record(&payload, || {
            format!("{word} {job} {attempt} {pid} {started} {ended}\n")
        })
        .await?;
        if cancelled {
            return Err(JobError::transient("cancelled"));
        }
        match payload.fail.as_deref() {
            None => Ok(Outcome::Completed),
            Some("permanent") => Err(JobError::permanent(format!(
                "asked to fail (attempt {attempt})"
            ))),
            Some(_) => Err(JobError::transient(format!(
                "asked to fail (attempt {attempt})"
            ))),
        }
    }
}

/// Appends the line `line()` makes, when the payload asks for a record.
async fn record(payload: &NoopPayload, line: impl FnOnce() -> String) -> Result<(), JobError> {
    let Some(path) = &payload.record else {
        return Ok(());
    };
    let line = line();
    // One write per line on an O_APPEND file: lines from several processes never mix.
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(JobError::transient)?;
    file.write_all(line.as_bytes())
        .await
        .map_err(JobError::transient)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
