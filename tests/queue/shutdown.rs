//! Done-when 10: SIGTERM stops reserving at once, lets running jobs finish within the
//! grace period, hands back the rest, and exits 0 — promptly even while blocked idle.

use std::time::Duration;

use quire::queue::JobState;
use tokio::time::Instant;

use super::helpers::{TestQueue, completed, exit_code, signal, wait_until};

#[tokio::test]
async fn sigterm_lets_running_jobs_finish_within_grace_and_hands_back_the_rest() {
    let t = TestQueue::new().await;
    // Two slots: one short job and one that outlives the grace period; a third waits.
    t.queue.push(&t.noop("short", &[700])).await.unwrap();
    t.queue.push(&t.noop("long", &[60_000])).await.unwrap();
    t.queue.push(&t.noop("queued", &[0])).await.unwrap();
    let mut worker = t.spawn_process(&["--concurrency", "2", "--grace", "1500ms", "--lease", "5s"]);
    wait_until(
        Duration::from_secs(10),
        "both running jobs started",
        || async { t.records().iter().filter(|r| r.word == "start").count() == 2 },
    )
    .await;
    let signalled = Instant::now();
    signal(&worker, "TERM");
    assert_eq!(exit_code(&mut worker, Duration::from_secs(10)).await, 0);
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_millis(1500 + 1500),
        "stopped in {took:?}"
    );

    let records = t.records();
    assert_eq!(
        completed(&records, "short").len(),
        1,
        "the short job finished within grace"
    );
    assert!(
        records
            .iter()
            .any(|r| r.word == "cancelled" && r.job == "long")
    );
    let long = t.queue.job("long").await.unwrap().unwrap();
    assert_eq!(long.state, Some(JobState::Ready), "handed back");
    assert_eq!(
        (long.attempts, long.handbacks),
        (0, 1),
        "no attempt consumed, but counted"
    );
    let queued = t.queue.job("queued").await.unwrap().unwrap();
    assert_eq!(
        (queued.state, queued.attempts),
        (Some(JobState::Ready), 0),
        "never reserved"
    );
    assert!(!records.iter().any(|r| r.job == "queued"));
    assert_eq!(t.queue.counts().await.unwrap().reserved, 0);
}

#[tokio::test]
async fn sigterm_while_idle_and_blocked_waiting_exits_cleanly() {
    let t = TestQueue::new().await;
    let mut worker = t.spawn_process(&[]);
    wait_until(Duration::from_secs(10), "the worker registers", || async {
        !t.queue.workers().await.unwrap().is_empty()
    })
    .await;
    signal(&worker, "TERM");
    assert_eq!(exit_code(&mut worker, Duration::from_secs(10)).await, 0);
    assert!(
        t.queue.workers().await.unwrap().is_empty(),
        "a clean exit deregisters"
    );
}
