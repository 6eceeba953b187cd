//! Done-when 11: `quire restart` stops every running worker after its current jobs; a
//! worker started afterwards is unaffected, and a deleted key never restarts anyone.

use std::time::Duration;

use super::helpers::{TestQueue, completed, exit_code, wait_until};

#[tokio::test]
async fn quire_restart_stops_every_running_worker_after_its_current_jobs() {
    let t = TestQueue::new().await;
    t.queue
        .push(&t.noop("a-job", &[800]).with_queue("a"))
        .await
        .unwrap();
    t.queue
        .push(&t.noop("b-job", &[800]).with_queue("b"))
        .await
        .unwrap();
    let mut on_a = t.spawn_process(&["--queues", "a"]);
    let mut on_b = t.spawn_process(&["--queues", "b,c"]);
    wait_until(Duration::from_secs(10), "both jobs started", || async {
        t.records().iter().filter(|r| r.word == "start").count() == 2
    })
    .await;
    let (code, _) = t.quire(&["restart"]).await;
    assert_eq!(code, 0);
    assert_eq!(exit_code(&mut on_a, Duration::from_secs(10)).await, 0);
    assert_eq!(exit_code(&mut on_b, Duration::from_secs(10)).await, 0);
    let records = t.records();
    assert_eq!(
        completed(&records, "a-job").len(),
        1,
        "current jobs finished first"
    );
    assert_eq!(completed(&records, "b-job").len(), 1);
    assert_eq!(t.queue.counts().await.unwrap().done(), 2);
}

#[tokio::test]
async fn a_worker_started_after_the_restart_keeps_running_and_a_deleted_key_never_restarts() {
    let t = TestQueue::new().await;
    let (code, _) = t.quire(&["restart"]).await;
    assert_eq!(code, 0);
    let mut worker = t.spawn_process(&[]);
    t.queue.push(&t.noop("after-restart", &[0])).await.unwrap();
    wait_until(
        Duration::from_secs(10),
        "the later worker runs a job",
        || async { t.queue.counts().await.unwrap().done() == 1 },
    )
    .await;

    let mut conn = t.queue.connection();
    redis::cmd("DEL")
        .arg(t.queue.keys().restart())
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    t.queue.push(&t.noop("after-delete", &[0])).await.unwrap();
    wait_until(Duration::from_secs(10), "it runs another job", || async {
        t.queue.counts().await.unwrap().done() == 2
    })
    .await;
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker is still running"
    );
    assert_eq!(t.queue.workers().await.unwrap().len(), 1);
    worker.start_kill().unwrap();
}
