//! Done-when 14 (delayed jobs, queue priority) and the wake-up path.

use std::time::Duration;

use quire::queue::{JobState, ReserveRequest};
use tokio::time::Instant;

use super::helpers::{Running, TestQueue, eventually, options, wait_until};

#[tokio::test]
async fn a_delayed_job_is_not_reservable_before_its_time_and_is_at_its_time() {
    let t = TestQueue::new().await;
    let queues = vec!["default".to_owned()];
    let request = ReserveRequest {
        queues: &queues,
        lease: Duration::from_secs(5),
        max: 1,
    };
    let pushed = Instant::now();
    t.queue
        .push_after(&t.noop("later", &[0]), Duration::from_millis(400))
        .await
        .unwrap();
    let early = t.queue.reserve(&request).await.unwrap();
    assert!(early.jobs.is_empty(), "reserved before its time");
    let next_due = early.next_due.expect("the delayed job is due later");
    assert!(next_due <= Duration::from_millis(400) && next_due > Duration::from_millis(200));
    assert_eq!(
        t.queue.job("later").await.unwrap().unwrap().state,
        Some(JobState::Delayed)
    );

    let taken = eventually(
        Duration::from_secs(3),
        "the delayed job is reservable",
        || async {
            let jobs = t.queue.reserve(&request).await.unwrap().jobs;
            (!jobs.is_empty()).then_some(jobs)
        },
    )
    .await;
    // Redis TIME is read in whole milliseconds at push and at reserve: allow 2 ms.
    assert!(
        pushed.elapsed() >= Duration::from_millis(398),
        "{:?}",
        pushed.elapsed()
    );
    assert_eq!(taken[0].claim.job_id, "later");
    assert_eq!(taken[0].attempt, 1);
}

#[tokio::test]
async fn a_lower_priority_queue_is_served_only_when_the_higher_is_empty() {
    let t = TestQueue::new().await;
    let low: Vec<_> = (0..3)
        .map(|i| t.noop(&format!("low-{i}"), &[0]).with_queue("low"))
        .collect();
    let high: Vec<_> = (0..3)
        .map(|i| t.noop(&format!("high-{i}"), &[0]).with_queue("high"))
        .collect();
    t.queue.push_many(&low, Duration::ZERO).await.unwrap();
    t.queue.push_many(&high, Duration::ZERO).await.unwrap();
    let mut worker_options = options(2000);
    worker_options.queues = vec!["high".into(), "low".into()];
    let worker = t.worker(worker_options).build();
    let mut order = Vec::new();
    while let Some(processed) = worker.process_one().await.unwrap() {
        order.push(processed.job_id);
    }
    assert_eq!(
        order,
        ["high-0", "high-1", "high-2", "low-0", "low-1", "low-2"]
    );
}

/// How fast the push wakes an idle worker is measured by `quire bench queue`
/// (enqueue to start); here each push to an idle, blocked worker must start its job.
#[tokio::test]
async fn an_idle_worker_starts_each_pushed_job() {
    let t = TestQueue::new().await;
    let running = Running::start(t.worker(options(2000)).build());
    wait_until(Duration::from_secs(5), "the worker registers", || async {
        !t.queue.workers().await.unwrap().is_empty()
    })
    .await;
    for i in 0..5 {
        let id = format!("fast-{i}");
        t.queue.push(&t.noop(&id, &[0])).await.unwrap();
        wait_until(Duration::from_secs(10), "the job ends", || async {
            t.records().iter().any(|r| r.job == id && r.word == "end")
        })
        .await;
    }
    running.stop().await;
    assert_eq!(t.queue.counts().await.unwrap().done(), 5);
}

/// A paused queue keeps taking pushes but is not reserved from, while the other queues
/// of the same worker are; its job waits spending no attempt, and resuming wakes the
/// idle worker for it.
#[tokio::test]
async fn a_paused_queue_waits_without_spending_attempts_until_it_is_resumed() {
    let t = TestQueue::new().await;
    assert!(t.queue.set_paused("held", true).await.unwrap());
    assert!(
        !t.queue.set_paused("held", true).await.unwrap(),
        "pausing twice changes nothing"
    );
    t.queue
        .push(&t.noop("waits", &[0]).with_queue("held"))
        .await
        .unwrap();
    let mut worker_options = options(2000);
    worker_options.queues = vec!["held".to_owned(), "open".to_owned()];
    let worker = Running::start(t.worker(worker_options).build());
    t.queue
        .push(&t.noop("runs", &[0]).with_queue("open"))
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(10),
        "the open queue's job ran",
        || async {
            t.records()
                .iter()
                .any(|r| r.job == "runs" && r.word == "end")
        },
    )
    .await;
    let waiting = t.queue.job("waits").await.unwrap().unwrap();
    assert_eq!(waiting.state, Some(JobState::Ready));
    assert_eq!(waiting.attempts, 0);
    let loads = t.queue.loads(0).await.unwrap();
    let held = loads.queues.iter().find(|q| q.queue == "held").unwrap();
    assert!(held.paused && held.ready == 1, "{held:?}");

    assert!(t.queue.set_paused("held", false).await.unwrap());
    wait_until(
        Duration::from_secs(10),
        "the resumed queue's job ran",
        || async {
            t.records()
                .iter()
                .any(|r| r.job == "waits" && r.word == "end")
        },
    )
    .await;
    let loads = t.queue.loads(0).await.unwrap();
    assert!(loads.queues.iter().all(|q| !q.paused), "{loads:?}");
    worker.stop().await;
}
