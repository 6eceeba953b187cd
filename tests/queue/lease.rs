//! Done-when 1: the heartbeat keeps a long job's lease, so it runs exactly once.

use std::time::Duration;

use super::helpers::{Running, TestQueue, completed, options, wait_until};

#[tokio::test]
async fn a_job_running_three_times_longer_than_its_lease_runs_once_among_four_workers() {
    let t = TestQueue::new().await;
    let lease_ms = 600;
    let workers: Vec<_> = (0..4)
        .map(|_| Running::start(t.worker(options(lease_ms)).build()))
        .collect();
    t.queue
        .push(&t.noop("long", &[3 * lease_ms]))
        .await
        .unwrap();
    wait_until(Duration::from_secs(10), "the long job is done", || async {
        t.queue.counts().await.unwrap().done() == 1
    })
    .await;
    for worker in workers {
        worker.stop().await;
    }
    let records = t.records();
    assert_eq!(
        records.iter().filter(|r| r.word == "start").count(),
        1,
        "{records:?}"
    );
    let done = completed(&records, "long");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].attempt, 1);
    assert!(done[0].end_ms.unwrap() - done[0].start_ms >= i64::try_from(3 * lease_ms).unwrap());
    let record = t.queue.job("long").await.unwrap().unwrap();
    assert_eq!((record.attempts, record.recoveries), (1, 0));
}
