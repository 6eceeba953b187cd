//! `quire failed`: list, retry (twice queues once), retry --all, forget.

use std::time::Duration;

use quire::queue::JobState;

use super::helpers::{TestQueue, options};

async fn dead_jobs(t: &TestQueue, ids: &[&str]) {
    let jobs: Vec<_> = ids
        .iter()
        .map(|id| t.noop(id, &[0]).with_max_attempts(1))
        .map(|job| {
            let mut job = job;
            job.payload["fail"] = "permanent".into();
            job
        })
        .collect();
    t.queue.push_many(&jobs, Duration::ZERO).await.unwrap();
    let worker = t.worker(options(2000)).build();
    while worker.process_one().await.unwrap().is_some() {}
}

#[tokio::test]
async fn retrying_a_dead_job_twice_queues_it_once() {
    let t = TestQueue::new().await;
    dead_jobs(&t, &["broken"]).await;
    let (code, listed) = t.quire(&["failed", "list"]).await;
    assert_eq!(code, 0);
    assert!(
        listed.starts_with("broken\tdefault\tnoop\t1\tasked to fail"),
        "{listed}"
    );

    assert_eq!(t.quire(&["failed", "retry", "broken"]).await.0, 0);
    assert_eq!(t.quire(&["failed", "retry", "broken"]).await.0, 0);
    let record = t.queue.job("broken").await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (Some(JobState::Ready), 0));
    let counts = t.queue.counts().await.unwrap();
    assert_eq!((counts.ready, counts.dead), (1, 0), "queued once");
}

#[tokio::test]
async fn retry_all_queues_every_dead_job_and_forget_deletes_one() {
    let t = TestQueue::new().await;
    dead_jobs(&t, &["one", "two", "three"]).await;
    assert_eq!(t.quire(&["failed", "forget", "two"]).await.0, 0);
    assert!(t.queue.job("two").await.unwrap().is_none());
    assert_eq!(
        t.quire(&["failed", "forget", "two"]).await.0,
        1,
        "not dead any more"
    );
    let (code, out) = t.quire(&["failed", "retry", "--all"]).await;
    assert_eq!((code, out.trim()), (0, "2 dead job(s) queued again"));
    let counts = t.queue.counts().await.unwrap();
    assert_eq!((counts.ready, counts.dead), (2, 0));
}
