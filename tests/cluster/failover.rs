//! What only a cluster shows: quire's prefixes spread over masters, and the master of a
//! prefix's slot failing mid-run while its replica takes over.

use std::time::Duration;

use quire::worker::Exit;

use super::harness::Cluster;
use crate::queue::helpers::{Running, TestQueue, options, wait_until};

const LIMIT: Duration = Duration::from_secs(60);

/// Pushes `count` noop jobs sleeping `sleep_ms` to `t`, runs them with a worker of that
/// concurrency until each has ended once, and returns the worker.
async fn run_jobs(t: &TestQueue, name: &str, count: usize, sleep_ms: u64) -> Running {
    let jobs: Vec<_> = (0..count)
        .map(|i| t.noop(&format!("{name}-{i}"), &[sleep_ms]))
        .collect();
    t.queue.push_many(&jobs, Duration::ZERO).await.unwrap();
    let mut worker_options = options(10_000);
    worker_options.concurrency = count;
    Running::start(t.worker(worker_options).build())
}

/// Waits until `count` records of `word` exist for jobs named `name-…`.
async fn wait_for_records(t: &TestQueue, name: &str, word: &str, count: usize) {
    let prefix = format!("{name}-");
    wait_until(
        LIMIT,
        &format!("{count} {word} records of {name}"),
        || async {
            t.records()
                .iter()
                .filter(|r| r.word == word && r.job.starts_with(&prefix))
                .count()
                >= count
        },
    )
    .await;
}

/// Asserts that each of the `count` jobs `name-…` started and ended exactly once, on
/// its first attempt.
fn assert_each_ran_once(t: &TestQueue, name: &str, count: usize) {
    let records = t.records();
    for i in 0..count {
        let job = format!("{name}-{i}");
        let runs: Vec<_> = records.iter().filter(|r| r.job == job).collect();
        let words: Vec<(&str, u32)> = runs.iter().map(|r| (r.word.as_str(), r.attempt)).collect();
        assert_eq!(words, [("start", 1), ("end", 1)], "{job}: {records:?}");
    }
}

#[tokio::test]
async fn two_prefixes_land_on_different_masters_and_both_work() {
    let cluster = Cluster::start();
    let url = cluster.url();
    let first = TestQueue::on(&url).await;
    let first_master = cluster.owner(cluster.slot_of_prefix(&first.prefix));
    let second = loop {
        let candidate = TestQueue::on(&url).await;
        if cluster
            .owner(cluster.slot_of_prefix(&candidate.prefix))
            .port
            != first_master.port
        {
            break candidate;
        }
    };
    let workers = [
        run_jobs(&first, "first", 3, 10).await,
        run_jobs(&second, "second", 3, 10).await,
    ];
    wait_for_records(&first, "first", "end", 3).await;
    wait_for_records(&second, "second", "end", 3).await;
    assert_each_ran_once(&first, "first", 3);
    assert_each_ran_once(&second, "second", 3);
    for t in [&first, &second] {
        let counts = t.queue.counts().await.unwrap();
        assert_eq!((counts.done(), counts.ready, counts.dead), (3, 0, 0));
    }
    for worker in workers {
        assert_eq!(worker.stop().await, Exit::Shutdown);
    }
}

/// The master serving the prefix's slot is killed while four jobs run; its replica is
/// promoted. The running jobs keep their leases (renewed on the new master), finish,
/// and are acked once; nothing is lost and nothing runs twice, and new jobs run after.
/// The kill comes once the replica holds every write of the reservations, so what the
/// failover may lose is only a lease renewal, which the next heartbeat repeats.
#[tokio::test]
async fn a_failover_mid_run_loses_no_job_and_runs_none_twice() {
    let mut cluster = Cluster::start();
    let t = TestQueue::on(&cluster.url()).await;
    let slot = cluster.slot_of_prefix(&t.prefix);
    let worker = run_jobs(&t, "before", 4, 3_000).await;
    wait_for_records(&t, "before", "start", 4).await;
    cluster.wait_until_replicated(slot);
    let (old, new) = cluster.fail_over(slot);
    assert_ne!(old.port, new.port);

    wait_for_records(&t, "before", "end", 4).await;
    assert_each_ran_once(&t, "before", 4);
    let after: Vec<_> = (0..4)
        .map(|i| t.noop(&format!("after-{i}"), &[10]))
        .collect();
    t.queue.push_many(&after, Duration::ZERO).await.unwrap();
    wait_for_records(&t, "after", "end", 4).await;
    assert_each_ran_once(&t, "after", 4);
    let counts = t.queue.counts().await.unwrap();
    assert_eq!((counts.done(), counts.ready, counts.dead), (8, 0, 0));
    assert_eq!(worker.stop().await, Exit::Shutdown);
}
