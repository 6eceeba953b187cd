//! Done-when 3 and 7: a stale attempt can change nothing.

use std::time::Duration;

use quire::queue::{DeathCause, JobState, LockKind, QueueError, Reservation, ReserveRequest};

use super::helpers::{TestQueue, eventually, wait_until};

async fn reserve_one(t: &TestQueue, lease_ms: u64) -> Option<Reservation> {
    let queues = vec!["default".to_owned()];
    let request = ReserveRequest {
        queues: &queues,
        lease: Duration::from_millis(lease_ms),
        max: 1,
    };
    t.queue
        .reserve(&request)
        .await
        .unwrap()
        .jobs
        .into_iter()
        .next()
}

/// Worker A reserves with a short lease and "pauses" (never renews); once the lease
/// lapses, worker B's reserve recovers the job and takes it as attempt 2.
async fn taken_over(t: &TestQueue) -> (Reservation, Reservation) {
    let a = reserve_one(t, 150).await.expect("A takes the job");
    let b = eventually(Duration::from_secs(3), "B takes the job over", || {
        reserve_one(t, 30_000)
    })
    .await;
    (a, b)
}

fn assert_lease_lost<T: std::fmt::Debug>(result: Result<T, QueueError>) {
    assert!(
        matches!(result, Err(QueueError::LeaseLost { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_worker_whose_lease_was_taken_over_cannot_ack_retry_defer_or_fail() {
    let t = TestQueue::new().await;
    t.queue
        .push(&t.noop("job", &[0]).with_overlap_key("acme"))
        .await
        .unwrap();
    let (a, b) = taken_over(&t).await;
    assert_eq!((a.attempt, b.attempt), (1, 2));
    assert_ne!(a.claim.token, b.claim.token);
    let before = t.queue.job("job").await.unwrap().unwrap();
    let lease = Duration::from_secs(30);

    assert_lease_lost(t.queue.ack(&a.claim).await);
    assert_lease_lost(t.queue.retry(&a.claim, Duration::ZERO, "stale").await);
    assert_lease_lost(t.queue.defer(&a.claim, Duration::ZERO).await);
    assert_lease_lost(t.queue.hand_back(&a.claim).await);
    assert_lease_lost(t.queue.fail(&a.claim, DeathCause::Failed, "stale").await);
    assert_lease_lost(t.queue.acquire(&a.claim, LockKind::Overlap, lease).await);
    assert_eq!(
        t.queue
            .renew(std::slice::from_ref(&a.claim), lease)
            .await
            .unwrap(),
        [false]
    );

    // B's reservation is untouched and no extra copy exists anywhere.
    let after = t.queue.job("job").await.unwrap().unwrap();
    assert_eq!(after.state, Some(JobState::Reserved));
    assert_eq!(after.token, Some(b.claim.token.clone()));
    assert_eq!(
        (after.attempts, after.error),
        (before.attempts, before.error)
    );
    let counts = t.queue.counts().await.unwrap();
    assert_eq!(
        (counts.ready, counts.delayed, counts.reserved, counts.dead),
        (0, 0, 1, 0)
    );

    // B still owns it completely.
    assert_eq!(
        t.queue
            .acquire(&b.claim, LockKind::Overlap, lease)
            .await
            .unwrap(),
        quire::queue::Acquired::Yes
    );
    t.queue.ack(&b.claim).await.unwrap();
    let counts = t.queue.counts().await.unwrap();
    assert_eq!((counts.reserved, counts.done()), (0, 1));
}

#[tokio::test]
async fn a_lapsed_lock_holder_never_frees_the_lock_now_held_by_another_attempt() {
    let t = TestQueue::new().await;
    let lease = Duration::from_millis(150);
    t.queue
        .push(&t.noop("first", &[0]).with_overlap_key("acme"))
        .await
        .unwrap();
    let first = reserve_one(&t, 150).await.unwrap();
    assert_eq!(
        t.queue
            .acquire(&first.claim, LockKind::Overlap, lease)
            .await
            .unwrap(),
        quire::queue::Acquired::Yes
    );

    // A stalls past its lease; another job with the same overlap key takes the lock.
    t.queue
        .push(&t.noop("second", &[0]).with_overlap_key("acme"))
        .await
        .unwrap();
    let lock = t.queue.keys().lock("overlap", "acme");
    let mut conn = t.queue.connection();
    wait_until(Duration::from_secs(3), "A's lock lapses", || {
        let mut conn = conn.clone();
        let lock = lock.clone();
        async move {
            redis::cmd("EXISTS")
                .arg(lock)
                .query_async::<i64>(&mut conn)
                .await
                .unwrap()
                == 0
        }
    })
    .await;
    // The same reserve recovers the lapsed first job to the front of the queue.
    let mut taken = Vec::new();
    while taken.len() < 2 {
        taken.extend(reserve_one(&t, 30_000).await);
    }
    let second = taken
        .into_iter()
        .find(|r| r.claim.job_id == "second")
        .unwrap();
    let long = Duration::from_secs(30);
    assert_eq!(
        t.queue
            .acquire(&second.claim, LockKind::Overlap, long)
            .await
            .unwrap(),
        quire::queue::Acquired::Yes
    );

    // A wakes up and finishes: its ack is refused and the lock stays the second's.
    assert_lease_lost(t.queue.ack(&first.claim).await);
    assert_lease_lost(t.queue.fail(&first.claim, DeathCause::Failed, "late").await);
    let owner: Option<String> = redis::cmd("GET")
        .arg(&lock)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(owner, Some(second.claim.token.clone()));
    assert_eq!(
        t.queue
            .renew(std::slice::from_ref(&second.claim), long)
            .await
            .unwrap(),
        [true]
    );
    t.queue.ack(&second.claim).await.unwrap();
    let owner: Option<String> = redis::cmd("GET")
        .arg(&lock)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(owner, None, "the holder's own ack releases the lock");
}

/// A job pushed again after Redis lost its record continues from what the caller kept:
/// its attempts count on, and its first token is above the last one an earlier attempt
/// held, even though the token sequence was lost with the rest (a fresh prefix here).
#[tokio::test]
async fn a_job_pushed_with_its_history_counts_on_and_gets_a_newer_token() {
    let t = TestQueue::new().await;
    let history = quire::queue::JobHistory {
        attempts: 2,
        last_token: 500,
    };
    t.queue
        .push(&t.noop("job", &[0]).with_history(history))
        .await
        .unwrap();
    t.queue.push(&t.noop("fresh", &[0])).await.unwrap();
    let first = reserve_one(&t, 30_000).await.expect("the job is ready");
    assert_eq!(first.claim.job_id, "job");
    assert_eq!(first.attempt, 3);
    assert_eq!(first.claim.token, "501");
    let second = reserve_one(&t, 30_000)
        .await
        .expect("the fresh job is ready");
    assert_eq!(second.attempt, 1);
    assert_eq!(
        second.claim.token, "502",
        "the sequence stays above the floor"
    );
}
