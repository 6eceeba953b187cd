//! Done-when 8: transient errors retry with growing backoff and fail with the last real
//! error; permanent errors, unknown kinds and exhausted timeouts fail as they should.

use std::time::Duration;

use quire::queue::{Backoff, Job, JobState};
use quire::worker::{AttemptOutcome, EventKind, JobContext, JobError, JobHandler, Outcome, Worker};

use super::helpers::{EventLog, Running, TestQueue, options, wait_until};

/// Fails every attempt the way its payload says, naming the attempt.
struct Failing;

impl JobHandler for Failing {
    async fn run(&self, ctx: JobContext) -> Result<Outcome, JobError> {
        let message = format!("connection lost during attempt {}", ctx.attempt());
        match ctx.job().payload["error"].as_str() {
            Some("permanent") => Err(JobError::permanent("the definition's SQL is invalid")),
            _ => Err(JobError::transient(message)),
        }
    }
}

#[tokio::test]
async fn a_transient_error_retries_with_growing_delays_then_fails_with_the_last_error() {
    let t = TestQueue::new().await;
    let backoff = Backoff {
        base: Duration::from_millis(40),
        cap: Duration::from_secs(5),
    };
    let mut worker_options = options(2000);
    worker_options.backoff = backoff;
    let events = EventLog::default();
    let worker = Worker::builder(t.queue.clone(), worker_options)
        .handler("failing", Failing)
        .observer(events.clone())
        .build();
    let job = Job::new(
        "flaky",
        "failing",
        serde_json::json!({ "error": "transient" }),
    )
    .with_max_attempts(4);
    t.queue.push(&job).await.unwrap();
    let running = Running::start(worker);
    wait_until(Duration::from_secs(10), "the job is dead", || async {
        t.queue.job("flaky").await.unwrap().unwrap().state == Some(JobState::Dead)
    })
    .await;
    running.stop().await;

    let record = t.queue.job("flaky").await.unwrap().unwrap();
    assert_eq!(record.attempts, 4);
    assert_eq!(
        record.error.as_deref(),
        Some("connection lost during attempt 4"),
        "the last real error"
    );
    let events = events.all();
    let retries: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::Retried)
        .collect();
    assert_eq!(
        retries.iter().map(|e| e.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    for retry in &retries {
        // Full jitter: each delay is drawn under a ceiling that doubles per retry.
        assert!(
            retry.delay.unwrap() <= backoff.ceiling(retry.attempt),
            "{retry:?}"
        );
    }
    assert!(backoff.ceiling(1) < backoff.ceiling(2) && backoff.ceiling(2) < backoff.ceiling(3));
    let failed: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempt, 4);
}

#[tokio::test]
async fn a_permanent_error_fails_at_once() {
    let t = TestQueue::new().await;
    let worker = Worker::builder(t.queue.clone(), options(2000))
        .handler("failing", Failing)
        .build();
    let job = Job::new(
        "broken",
        "failing",
        serde_json::json!({ "error": "permanent" }),
    )
    .with_max_attempts(5);
    t.queue.push(&job).await.unwrap();
    let processed = worker.process_one().await.unwrap().unwrap();
    assert_eq!(
        processed.outcome,
        AttemptOutcome::Failed {
            error: "the definition's SQL is invalid".into()
        }
    );
    let record = t.queue.job("broken").await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (Some(JobState::Dead), 1));
    assert!(
        worker.process_one().await.unwrap().is_none(),
        "nothing left to run"
    );
}

#[tokio::test]
async fn a_job_of_an_unknown_kind_fails_at_once() {
    let t = TestQueue::new().await;
    let worker = t.worker(options(2000)).build();
    t.queue
        .push(&Job::new(
            "mystery",
            "no-such-kind",
            serde_json::Value::Null,
        ))
        .await
        .unwrap();
    let processed = worker.process_one().await.unwrap().unwrap();
    assert!(
        matches!(processed.outcome, AttemptOutcome::Failed { ref error } if error.contains("no-such-kind"))
    );
    assert_eq!(
        t.queue.job("mystery").await.unwrap().unwrap().state,
        Some(JobState::Dead)
    );
}

#[tokio::test]
async fn a_timeout_cancels_the_handler_and_counts_as_an_attempt() {
    let t = TestQueue::new().await;
    // The wind-down after a timeout is an eighth of the lease: a long lease gives the
    // handler's cancelled record seconds to reach the file on a loaded machine (CI once
    // saw 250 ms pass before it was written). A prompt handler ends the test as soon.
    let worker = t.worker(options(30_000)).build();
    let job = t
        .noop("slow", &[10_000])
        .with_timeout(Duration::from_millis(200))
        .with_max_attempts(2);
    t.queue.push(&job).await.unwrap();
    let first = worker.process_one().await.unwrap().unwrap();
    assert!(
        matches!(first.outcome, AttemptOutcome::Retried { ref error, .. } if error.contains("timed out"))
    );
    let records = t.records();
    assert_eq!(
        records.last().unwrap().word,
        "cancelled",
        "the handler saw the cancellation"
    );
    let second = loop {
        if let Some(processed) = worker.process_one().await.unwrap() {
            break processed;
        }
    };
    assert_eq!(second.attempt, 2);
    assert!(
        matches!(second.outcome, AttemptOutcome::Failed { ref error } if error.contains("timed out"))
    );
}

/// Asks to run later on its first run, then completes.
#[derive(Default)]
struct DeferOnce {
    runs: std::sync::atomic::AtomicU32,
}

impl JobHandler for DeferOnce {
    async fn run(&self, _ctx: JobContext) -> Result<Outcome, JobError> {
        if self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Ok(Outcome::Defer(Duration::from_millis(50)))
        } else {
            Ok(Outcome::Completed)
        }
    }
}

#[tokio::test]
async fn a_handler_that_defers_runs_again_later_without_consuming_an_attempt() {
    let t = TestQueue::new().await;
    let worker = Worker::builder(t.queue.clone(), options(2000))
        .handler("defer", DeferOnce::default())
        .build();
    t.queue
        .push(&Job::new("patient", "defer", serde_json::Value::Null).with_max_attempts(1))
        .await
        .unwrap();
    let first = worker.process_one().await.unwrap().unwrap();
    assert!(matches!(first.outcome, AttemptOutcome::Deferred { .. }));
    assert_eq!(
        t.queue.job("patient").await.unwrap().unwrap().state,
        Some(JobState::Delayed)
    );
    let second =
        super::helpers::eventually(Duration::from_secs(3), "the job runs again", || async {
            worker.process_one().await.unwrap()
        })
        .await;
    assert_eq!(
        (second.attempt, second.outcome),
        (1, AttemptOutcome::Succeeded)
    );
}
