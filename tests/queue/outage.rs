//! Done-when 12: Redis stops for several seconds and comes back; workers survive and
//! reconnect, every job takes effect exactly once, and an attempt whose lease lapsed
//! during the outage was cancelled by its own worker.

use std::time::Duration;

use quire::worker::Exit;
use tokio::time::Instant;

use super::helpers::{RedisServer, Running, TestQueue, completed, eventually, options, wait_until};

#[tokio::test]
async fn workers_survive_a_redis_outage_and_every_job_takes_effect_exactly_once() {
    let mut server = RedisServer::start().await;
    let t = TestQueue::on(&server.url()).await;
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let mut worker_options = options(1200);
            worker_options.concurrency = 2;
            Running::start(t.worker(worker_options).build())
        })
        .collect();
    let before: Vec<_> = (0..10)
        .map(|i| t.noop(&format!("before-{i}"), &[20]))
        .collect();
    t.queue.push_many(&before, Duration::ZERO).await.unwrap();
    wait_until(
        Duration::from_secs(10),
        "the first jobs are done",
        || async { t.queue.counts().await.unwrap().done() == 10 },
    )
    .await;
    // Attempt 1 would outlive the outage; attempt 2 is quick.
    t.queue.push(&t.noop("long", &[60_000, 50])).await.unwrap();
    wait_until(Duration::from_secs(10), "the long job started", || async {
        t.records()
            .iter()
            .any(|r| r.word == "start" && r.job == "long")
    })
    .await;

    server.pause();
    let outage = Instant::now();
    wait_until(
        Duration::from_secs(5),
        "the long job's worker cancelled it",
        || async {
            t.records()
                .iter()
                .any(|r| r.word == "cancelled" && r.job == "long")
        },
    )
    .await;
    // Keep Redis down for several seconds in all, well past the 1.2 s lease.
    tokio::time::sleep_until(outage + Duration::from_secs(3)).await;
    server.resume().await;

    let after: Vec<_> = (0..10)
        .map(|i| t.noop(&format!("after-{i}"), &[20]))
        .collect();
    eventually(
        Duration::from_secs(10),
        "the client reconnected and pushed",
        || async { t.queue.push_many(&after, Duration::ZERO).await.ok() },
    )
    .await;
    wait_until(Duration::from_secs(20), "every job is done", || async {
        t.queue
            .counts()
            .await
            .is_ok_and(|counts| counts.done() == 21)
    })
    .await;
    for worker in workers {
        assert_eq!(worker.stop().await, Exit::Shutdown);
    }

    let records = t.records();
    for job in before.iter().chain(&after) {
        assert_eq!(
            completed(&records, &job.id).len(),
            1,
            "{} took effect once",
            job.id
        );
    }
    let long: Vec<_> = records
        .iter()
        .filter(|r| r.job == "long" && r.end_ms.is_some())
        .collect();
    assert_eq!(long.len(), 2, "{long:?}");
    assert_eq!((long[0].word.as_str(), long[0].attempt), ("cancelled", 1));
    assert_eq!((long[1].word.as_str(), long[1].attempt), ("end", 2));
    assert!(
        long[0].end_ms.unwrap() <= long[1].start_ms,
        "the two attempts never overlapped"
    );
    let counts = t.queue.counts().await.unwrap();
    assert_eq!((counts.ready, counts.reserved, counts.dead), (0, 0, 0));
}
