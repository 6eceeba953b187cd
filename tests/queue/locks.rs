//! Done-when 5, 6 and the lock waits: contention never consumes an attempt, waiting
//! jobs are woken by the release (no busy re-queueing), and a dead holder's lock
//! expiring lets its waiters go on.

use std::time::Duration;

use quire::queue::{Acquired, JobState, LockKind, ReserveRequest};
use quire::worker::EventKind;

use super::helpers::{
    EventLog, Running, TestQueue, assert_never_concurrent, completed, options, wait_until,
};

async fn run_until_done(t: &TestQueue, workers: usize, events: &EventLog, total: u64) {
    let running: Vec<_> = (0..workers)
        .map(|_| Running::start(t.worker(options(2000)).observer(events.clone()).build()))
        .collect();
    wait_until(Duration::from_secs(20), "every job is done", || async {
        t.queue.counts().await.unwrap().done() == total
    })
    .await;
    for worker in running {
        worker.stop().await;
    }
}

#[tokio::test]
async fn duplicate_deliveries_of_a_unique_job_never_run_at_once_nor_consume_attempts() {
    let t = TestQueue::new().await;
    // The same work pushed twice under two ids: a duplicate delivery.
    let jobs = vec![
        t.noop("delivery-1", &[300])
            .with_unique_key("acme/invoices/csv")
            .with_max_attempts(1),
        t.noop("delivery-2", &[300])
            .with_unique_key("acme/invoices/csv")
            .with_max_attempts(1),
    ];
    t.queue.push_many(&jobs, Duration::ZERO).await.unwrap();
    let events = EventLog::default();
    run_until_done(&t, 2, &events, 2).await;

    let records = t.records();
    assert_never_concurrent(&records);
    for id in ["delivery-1", "delivery-2"] {
        let done = completed(&records, id);
        assert_eq!(done.len(), 1, "{id} ran once");
        assert_eq!(done[0].attempt, 1, "{id}: waiting consumed no attempt");
        assert_eq!(t.queue.job(id).await.unwrap().unwrap().attempts, 1);
    }
    let counts = t.queue.counts().await.unwrap();
    assert_eq!(counts.stat("locks_acquired"), 2);
    assert_eq!(counts.stat("locks_released"), 2);
}

#[tokio::test]
async fn overlapping_jobs_run_one_at_a_time_each_lock_taken_once_per_attempt_without_busy_requeueing()
 {
    const JOBS: u64 = 20;
    let t = TestQueue::new().await;
    let jobs: Vec<_> = (0..JOBS)
        .map(|i| {
            t.noop(&format!("report-{i}"), &[60])
                .with_overlap_key("tenant-acme")
                .with_max_attempts(1)
        })
        .collect();
    t.queue.push_many(&jobs, Duration::ZERO).await.unwrap();
    let events = EventLog::default();
    run_until_done(&t, 4, &events, JOBS).await;

    let records = t.records();
    assert_never_concurrent(&records);
    for job in &jobs {
        let done = completed(&records, &job.id);
        assert_eq!(done.len(), 1, "{} ran once", job.id);
        assert_eq!(done[0].attempt, 1);
    }
    let counts = t.queue.counts().await.unwrap();
    assert_eq!(counts.dead, 0, "no job failed");
    assert_eq!(
        counts.stat("locks_acquired"),
        JOBS,
        "one acquisition per attempt"
    );
    assert_eq!(
        counts.stat("locks_released"),
        JOBS,
        "one release per attempt"
    );
    // Every reservation either ran the job or parked it; a job parks only when it finds
    // the lock taken, and is woken only by a release: no busy loop.
    let parked = counts.stat("parked");
    assert_eq!(counts.stat("reserved"), JOBS + parked);
    assert!(counts.stat("woken") <= parked);
    assert!(
        parked <= 3 * JOBS,
        "{parked} parks for {JOBS} jobs looks like busy re-queueing"
    );
    wait_until(
        Duration::from_secs(2),
        "the observers saw every park",
        || async {
            events
                .all()
                .iter()
                .filter(|e| e.kind == EventKind::Deferred)
                .count() as u64
                == parked
        },
    )
    .await;
}

fn request(queues: &[String]) -> ReserveRequest<'_> {
    ReserveRequest {
        queues,
        lease: Duration::from_millis(200),
        max: 1,
    }
}

#[tokio::test]
async fn a_job_waiting_longer_than_its_overlap_wait_fails_with_overlap_timeout() {
    let t = TestQueue::new().await;
    let queues = vec!["default".to_owned()];
    let lease = Duration::from_secs(30);
    t.queue
        .push(&t.noop("holder", &[0]).with_overlap_key("k"))
        .await
        .unwrap();
    let holder = t
        .queue
        .reserve(&request(&queues))
        .await
        .unwrap()
        .jobs
        .remove(0);
    assert_eq!(
        t.queue
            .acquire(&holder.claim, LockKind::Overlap, lease)
            .await
            .unwrap(),
        Acquired::Yes
    );
    t.queue
        .renew(std::slice::from_ref(&holder.claim), lease)
        .await
        .unwrap();

    let waiter_job = t
        .noop("waiter", &[0])
        .with_overlap_key("k")
        .with_overlap_wait(Duration::from_millis(300));
    t.queue.push(&waiter_job).await.unwrap();
    let waiter = t
        .queue
        .reserve(&request(&queues))
        .await
        .unwrap()
        .jobs
        .remove(0);
    assert_eq!(
        t.queue
            .acquire(&waiter.claim, LockKind::Overlap, lease)
            .await
            .unwrap(),
        Acquired::Parked
    );
    let record = t.queue.job("waiter").await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (Some(JobState::Parked), 0));

    wait_until(Duration::from_secs(3), "the waiter times out", || async {
        let reserved = t.queue.reserve(&request(&queues)).await.unwrap();
        assert!(reserved.jobs.is_empty());
        reserved
            .buried
            .iter()
            .any(|b| b.job_id == "waiter" && b.reason == "overlap_timeout")
    })
    .await;
    let record = t.queue.job("waiter").await.unwrap().unwrap();
    assert_eq!(record.state, Some(JobState::Dead));
    assert_eq!(record.error.as_deref(), Some("overlap_timeout"));
}

#[tokio::test]
async fn a_parked_job_goes_on_when_its_dead_holder_s_lock_expires() {
    let t = TestQueue::new().await;
    let queues = vec!["default".to_owned()];
    t.queue
        .push(
            &t.noop("holder", &[0])
                .with_overlap_key("k")
                .with_max_attempts(1),
        )
        .await
        .unwrap();
    t.queue
        .push(&t.noop("waiter", &[0]).with_overlap_key("k"))
        .await
        .unwrap();
    // The holder takes the lock with a 200 ms lease and dies (never renews, never acks).
    let holder = t
        .queue
        .reserve(&request(&queues))
        .await
        .unwrap()
        .jobs
        .remove(0);
    let short = Duration::from_millis(200);
    assert_eq!(
        t.queue
            .acquire(&holder.claim, LockKind::Overlap, short)
            .await
            .unwrap(),
        Acquired::Yes
    );
    let waiter = t
        .queue
        .reserve(&request(&queues))
        .await
        .unwrap()
        .jobs
        .remove(0);
    assert_eq!(
        t.queue
            .acquire(&waiter.claim, LockKind::Overlap, short)
            .await
            .unwrap(),
        Acquired::Parked
    );

    // Nobody releases the lock; a worker still gets the waiter once the TTL runs out.
    let worker = t.worker(options(2000)).build();
    wait_until(Duration::from_secs(5), "the waiter ran", || async {
        worker.process_one().await.unwrap();
        !completed(&t.records(), "waiter").is_empty()
    })
    .await;
    let holder = t.queue.job("holder").await.unwrap().unwrap();
    assert_eq!(
        holder.state,
        Some(JobState::Dead),
        "lost on its last attempt, never run again"
    );
    assert!(completed(&t.records(), "holder").is_empty());
}
