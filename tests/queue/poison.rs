//! Done-when 9: a job that cannot be decoded goes to the dead set with its reason, and
//! the worker carries on.

use std::time::Duration;

use quire::queue::JobState;

use super::helpers::{Running, TestQueue, completed, options, wait_until};

#[tokio::test]
async fn an_undecodable_job_lands_in_the_dead_set_with_its_reason_and_the_worker_carries_on() {
    let t = TestQueue::new().await;
    let keys = t.queue.keys();
    let mut conn = t.queue.connection();
    // Written straight into Redis, bypassing push: a garbage spec, and an id with no record.
    redis::pipe()
        .hset_multiple(
            keys.job("poison"),
            &[("spec", "{not json"), ("queue", "default"), ("max", "3")],
        )
        .rpush(keys.ready("default"), "poison")
        .rpush(keys.ready("default"), "ghost")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let good: Vec<_> = (0..5).map(|i| t.noop(&format!("good-{i}"), &[0])).collect();
    t.queue.push_many(&good, Duration::ZERO).await.unwrap();

    let running = Running::start(t.worker(options(2000)).build());
    wait_until(
        Duration::from_secs(10),
        "the good jobs are done",
        || async { t.queue.counts().await.unwrap().done() == 5 },
    )
    .await;
    running.stop().await;

    let poison = t.queue.job("poison").await.unwrap().unwrap();
    assert_eq!(poison.state, Some(JobState::Dead));
    assert!(
        poison
            .error
            .as_deref()
            .unwrap()
            .contains("cannot be decoded"),
        "{:?}",
        poison.error
    );
    let ghost = t.queue.job("ghost").await.unwrap().unwrap();
    assert_eq!(ghost.state, Some(JobState::Dead));
    assert!(ghost.error.as_deref().unwrap().contains("no job record"));
    let dead: Vec<String> = t
        .queue
        .dead_jobs(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(dead.len(), 2);
    for job in &good {
        assert_eq!(completed(&t.records(), &job.id).len(), 1);
    }
}
