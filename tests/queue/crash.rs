//! Done-when 2: a SIGKILLed worker's job runs again elsewhere once its lease lapses, as
//! the next attempt, exactly once; killed during the last attempt, the job fails without
//! running again.

use std::time::Duration;

use quire::queue::JobState;

use super::helpers::{TestQueue, completed, exit_code, wait_until};

/// Starts a `quire work` process and waits until it has started `job`.
async fn worker_running(t: &TestQueue, job: &str) -> tokio::process::Child {
    let child = t.spawn_process(&["--lease", "1s", "--backoff-base", "20ms"]);
    wait_until(
        Duration::from_secs(10),
        "the worker started the job",
        || async {
            t.records()
                .iter()
                .any(|r| r.word == "start" && r.job == job)
        },
    )
    .await;
    child
}

#[tokio::test]
async fn a_killed_worker_s_job_runs_again_on_another_worker_as_attempt_two_exactly_once() {
    let t = TestQueue::new().await;
    // Attempt 1 would run for a minute; attempt 2 is quick.
    t.queue
        .push(&t.noop("report", &[60_000, 100]))
        .await
        .unwrap();
    let mut first = worker_running(&t, "report").await;
    first.start_kill().unwrap(); // SIGKILL
    exit_code(&mut first, Duration::from_secs(5)).await;
    let killed_pid = first.id();

    let mut second = t.spawn_process(&["--lease", "1s"]);
    wait_until(Duration::from_secs(15), "the job is done", || async {
        t.queue.counts().await.unwrap().done() == 1
    })
    .await;
    second.start_kill().unwrap();

    let records = t.records();
    let done = completed(&records, "report");
    assert_eq!(done.len(), 1, "{records:?}");
    assert_eq!(done[0].attempt, 2);
    assert_ne!(Some(done[0].pid), killed_pid);
    let starts: Vec<u32> = records
        .iter()
        .filter(|r| r.word == "start")
        .map(|r| r.attempt)
        .collect();
    assert_eq!(starts, [1, 2], "started once per attempt");
    let record = t.queue.job("report").await.unwrap().unwrap();
    assert_eq!((record.attempts, record.recoveries), (2, 1));
}

#[tokio::test]
async fn a_worker_killed_during_the_last_allowed_attempt_fails_the_job_without_running_it_again() {
    let t = TestQueue::new().await;
    t.queue
        .push(&t.noop("report", &[60_000]).with_max_attempts(1))
        .await
        .unwrap();
    let mut first = worker_running(&t, "report").await;
    first.start_kill().unwrap();
    exit_code(&mut first, Duration::from_secs(5)).await;

    let mut second = t.spawn_process(&["--lease", "1s"]);
    wait_until(Duration::from_secs(15), "the job is dead", || async {
        t.queue.job("report").await.unwrap().unwrap().state == Some(JobState::Dead)
    })
    .await;
    second.start_kill().unwrap();
    let record = t.queue.job("report").await.unwrap().unwrap();
    assert!(record.error.unwrap().contains("last allowed attempt"));
    assert_eq!(record.attempts, 1);
    let starts = t.records().iter().filter(|r| r.word == "start").count();
    assert_eq!(starts, 1, "never ran again");
}

#[tokio::test]
async fn a_job_whose_workers_were_lost_more_than_three_times_is_dead() {
    let t = TestQueue::new().await;
    t.queue
        .push(&t.noop("cursed", &[0]).with_max_attempts(10))
        .await
        .unwrap();
    let queues = vec!["default".to_owned()];
    let request = quire::queue::ReserveRequest {
        queues: &queues,
        lease: Duration::from_millis(50),
        max: 1,
    };
    // Each reservation's worker "dies": nobody renews, the lease lapses, the next
    // reserve recovers the job. The fourth recovery buries it instead.
    let reservations = std::sync::atomic::AtomicUsize::new(0);
    let buried =
        super::helpers::eventually(Duration::from_secs(10), "the job is buried", || async {
            let reserved = t.queue.reserve(&request).await.unwrap();
            reservations.fetch_add(reserved.jobs.len(), std::sync::atomic::Ordering::Relaxed);
            reserved.buried.into_iter().find(|b| b.job_id == "cursed")
        })
        .await;
    assert_eq!(reservations.into_inner(), 4);
    assert!(buried.reason.contains("lost 4 times"), "{}", buried.reason);
    let record = t.queue.job("cursed").await.unwrap().unwrap();
    assert_eq!((record.state, record.recoveries), (Some(JobState::Dead), 4));
}
