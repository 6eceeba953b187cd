//! How the worker waits out Redis: every Redis step is retried with backoff while
//! Redis is unavailable, until it succeeds, is refused, or the worker stops. (A job's
//! own retries follow its queue's [`Backoff`](crate::queue::Backoff).)

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::queue::QueueError;

/// Redis errors are retried this often at first, backing off to a second.
const RETRY_FIRST: Duration = Duration::from_millis(50);
pub(super) const RETRY_MAX: Duration = Duration::from_secs(1);

/// Runs a Redis step, retrying while Redis is unavailable, until it succeeds, is
/// refused, or `stop` fires (then the last error is returned).
pub(super) async fn persist<T, F, Fut>(
    stop: &CancellationToken,
    mut step: F,
) -> Result<T, QueueError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, QueueError>>,
{
    let mut outage = Outage::new("a worker step");
    loop {
        match step().await {
            Err(error) if error.is_unavailable() && !stop.is_cancelled() => {
                let failures = outage.failed(&error);
                pause(stop, backoff(failures)).await;
            }
            other => {
                outage.over();
                return other;
            }
        }
    }
}

/// One log line when Redis becomes unavailable to a loop and one when it is back,
/// however many retries lie between (those log at debug).
#[derive(Debug)]
pub(super) struct Outage {
    what: &'static str,
    since: Option<Instant>,
    failures: u32,
}

impl Outage {
    /// An outage tracker for the loop named `what` (e.g. `reserving jobs`).
    pub(super) fn new(what: &'static str) -> Outage {
        Outage {
            what,
            since: None,
            failures: 0,
        }
    }

    /// Records a failed try; returns how many failed in a row.
    pub(super) fn failed(&mut self, error: &dyn std::fmt::Display) -> u32 {
        self.failures += 1;
        if self.since.is_none() {
            self.since = Some(Instant::now());
            tracing::warn!(what = self.what, %error, "Redis is unavailable; retrying until it is back");
        } else {
            tracing::debug!(what = self.what, %error, failures = self.failures, "Redis is still unavailable");
        }
        self.failures
    }

    /// Records a successful try, ending the outage if there was one.
    pub(super) fn over(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::info!(
                what = self.what,
                failures = self.failures,
                after = ?since.elapsed(),
                "Redis is back"
            );
        }
        self.failures = 0;
    }
}

/// Backoff between Redis retries: doubling from 50 ms to 1 s.
pub(super) fn backoff(failures: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(1 << failures.min(5))
        .min(RETRY_MAX)
}

/// Sleeps, or less if `stop` fires.
pub(super) async fn pause(stop: &CancellationToken, duration: Duration) {
    tokio::select! {
        () = stop.cancelled() => {}
        () = tokio::time::sleep(duration) => {}
    }
}
