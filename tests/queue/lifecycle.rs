//! Push idempotency, the stop options, the hand-back bound, the worker registry, and
//! the agreement of the Rust and Lua key builders.

use std::time::Duration;

use quire::queue::{Deferred, ReserveRequest};
use quire::worker::Exit;

use super::helpers::{TestQueue, completed, exit_code, options, wait_until};

#[tokio::test]
async fn pushing_an_existing_id_again_changes_nothing() {
    let t = TestQueue::new().await;
    assert!(t.queue.push(&t.noop("once", &[0])).await.unwrap());
    assert!(!t.queue.push(&t.noop("once", &[5_000])).await.unwrap());
    let worker = t.worker(options(2000)).build();
    worker.process_one().await.unwrap().unwrap();
    assert!(
        !t.queue.push(&t.noop("once", &[0])).await.unwrap(),
        "done jobs are kept"
    );
    // In one batch: a known id, a new one, and the new one again.
    let batch = [
        t.noop("once", &[0]),
        t.noop("fresh", &[0]),
        t.noop("fresh", &[5_000]),
    ];
    assert_eq!(
        t.queue.push_many(&batch, Duration::ZERO).await.unwrap(),
        [false, true, false]
    );
    let counts = t.queue.counts().await.unwrap();
    assert_eq!(
        (counts.stat("pushed"), counts.ready, counts.done()),
        (2, 1, 1)
    );
    let fresh = t.queue.job("fresh").await.unwrap().unwrap();
    assert!(
        fresh.spec.contains("[0]"),
        "the first copy is kept: {}",
        fresh.spec
    );
}

#[tokio::test]
async fn stop_when_empty_exits_once_nothing_is_ready_or_running() {
    let t = TestQueue::new().await;
    let jobs: Vec<_> = (0..3).map(|i| t.noop(&format!("job-{i}"), &[50])).collect();
    t.queue.push_many(&jobs, Duration::ZERO).await.unwrap();
    let mut worker_options = options(2000);
    worker_options.stop_when_empty = true;
    worker_options.concurrency = 2;
    // How soon the stop follows the last job is a benchmark's business; here the stop
    // must come, with every job done.
    let exit = tokio::time::timeout(
        Duration::from_secs(30),
        t.worker(worker_options).build().run(Default::default()),
    )
    .await
    .expect("the worker stops once the queue is empty");
    assert_eq!(exit, Exit::Empty);
    assert_eq!(t.queue.counts().await.unwrap().done(), 3);
}

#[tokio::test]
async fn max_jobs_exits_after_reserving_that_many() {
    let t = TestQueue::new().await;
    let jobs: Vec<_> = (0..5).map(|i| t.noop(&format!("job-{i}"), &[0])).collect();
    t.queue.push_many(&jobs, Duration::ZERO).await.unwrap();
    let mut worker_options = options(2000);
    worker_options.max_jobs = Some(2);
    let exit = t
        .worker(worker_options)
        .build()
        .run(Default::default())
        .await;
    assert_eq!(exit, Exit::MaxJobs);
    let counts = t.queue.counts().await.unwrap();
    assert_eq!((counts.done(), counts.ready), (2, 3));
}

#[tokio::test]
async fn max_time_stops_reserving_but_never_interrupts_the_running_job() {
    let t = TestQueue::new().await;
    t.queue.push(&t.noop("slow", &[600])).await.unwrap();
    t.queue.push(&t.noop("next", &[0])).await.unwrap();
    let mut worker_options = options(2000);
    worker_options.max_time = Some(Duration::from_millis(200));
    let exit = t
        .worker(worker_options)
        .build()
        .run(Default::default())
        .await;
    assert_eq!(exit, Exit::MaxTime);
    assert_eq!(completed(&t.records(), "slow").len(), 1);
    assert!(completed(&t.records(), "next").is_empty());
}

#[tokio::test]
async fn a_job_handed_back_too_often_goes_to_the_dead_set() {
    let t = TestQueue::new().await;
    t.queue.push(&t.noop("restless", &[0])).await.unwrap();
    let queues = vec!["default".to_owned()];
    let request = ReserveRequest {
        queues: &queues,
        lease: Duration::from_secs(5),
        max: 1,
    };
    let limit = quire::queue::QueueConfig::default().max_handbacks;
    for _ in 0..limit {
        let job = t.queue.reserve(&request).await.unwrap().jobs.remove(0);
        assert_eq!(job.attempt, 1, "a hand-back consumes no attempt");
        assert_eq!(t.queue.hand_back(&job.claim).await.unwrap(), Deferred::Yes);
    }
    let job = t.queue.reserve(&request).await.unwrap().jobs.remove(0);
    assert_eq!(job.handbacks, limit);
    assert_eq!(
        t.queue.hand_back(&job.claim).await.unwrap(),
        Deferred::Buried
    );
    let record = t.queue.job("restless").await.unwrap().unwrap();
    assert!(record.error.unwrap().contains("handed back"));
}

#[tokio::test]
async fn a_worker_is_registered_with_its_jobs_and_vanishes_when_killed() {
    let t = TestQueue::new().await;
    t.queue.push(&t.noop("running", &[60_000])).await.unwrap();
    let mut worker = t.spawn_process(&["--lease", "600ms"]);
    wait_until(
        Duration::from_secs(10),
        "the worker lists its job",
        || async {
            let workers = t.queue.workers().await.unwrap();
            workers.len() == 1 && workers[0].jobs == ["running"]
        },
    )
    .await;
    let registered = t.queue.workers().await.unwrap().remove(0);
    assert_eq!(Some(registered.pid), worker.id());
    assert!(!registered.host.is_empty() && registered.started_ms > 0);
    worker.start_kill().unwrap();
    exit_code(&mut worker, Duration::from_secs(5)).await;
    wait_until(
        Duration::from_secs(5),
        "the dead worker's entry expires",
        || async { t.queue.workers().await.unwrap().is_empty() },
    )
    .await;
}

#[tokio::test]
async fn the_lua_and_rust_key_builders_agree() {
    let t = TestQueue::new().await;
    let keys = t.queue.keys();
    let script = redis::Script::new(concat!(
        include_str!("../../src/queue/lua/common.lua"),
        "return { job_key('j'), ready_key('q'), wake_key('q'), lock_key('overlap', 'k'),
          waiters_key('unique', 'k'), K.dead, K.stats, K.restart, list_key('q', 'acme'),
          list_key('q', ''), ring_key('q'), backlog_key('q'), K.running, blocked_key('acme'), K.paused }"
    ));
    let lua: Vec<String> = script
        .key(keys.base())
        .arg(keys.base())
        .invoke_async(&mut t.queue.connection())
        .await
        .unwrap();
    let rust = vec![
        keys.job("j"),
        keys.ready("q"),
        keys.wake("q"),
        keys.lock("overlap", "k"),
        keys.waiters("unique", "k"),
        keys.dead(),
        keys.stats(),
        keys.restart(),
        keys.fair("q", "acme"),
        keys.ready("q"),
        keys.ring("q"),
        keys.backlog("q"),
        keys.running(),
        keys.blocked("acme"),
        keys.paused(),
    ];
    assert_eq!(lua, rust);
}
