//! Done-when 13: observers run after the commit and can never change an outcome.

use std::time::Duration;

use quire::worker::{JobEvent, Observer, ObserverError};

use super::helpers::{EventLog, Running, TestQueue, options, wait_until};

struct Panicking;

impl Observer for Panicking {
    async fn observe(&self, event: &JobEvent) -> Result<(), ObserverError> {
        panic!("observer exploded on {:?}", event.kind);
    }
}

struct Failing;

impl Observer for Failing {
    async fn observe(&self, _event: &JobEvent) -> Result<(), ObserverError> {
        Err("the run record was deleted".into())
    }
}

struct Hanging;

impl Observer for Hanging {
    async fn observe(&self, _event: &JobEvent) -> Result<(), ObserverError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn an_observer_that_panics_on_every_event_changes_no_outcome() {
    let t = TestQueue::new().await;
    let events = EventLog::default();
    let worker = t
        .worker(options(2000))
        .observer(Panicking)
        .observer(Failing)
        .observer(Hanging)
        .observer(events.clone())
        .build();
    let jobs: Vec<_> = (0..20).map(|i| t.noop(&format!("job-{i}"), &[0])).collect();
    t.queue.push_many(&jobs, Duration::ZERO).await.unwrap();
    let running = Running::start(worker);
    wait_until(Duration::from_secs(10), "every job is done", || async {
        t.queue.counts().await.unwrap().done() == 20
    })
    .await;
    running.stop().await;
    let counts = t.queue.counts().await.unwrap();
    assert_eq!((counts.ready, counts.reserved, counts.dead), (0, 0, 0));
    // The well-behaved observer beside them saw every success.
    let succeeded = events
        .all()
        .iter()
        .filter(|e| e.kind == quire::worker::EventKind::Succeeded)
        .count();
    assert_eq!(succeeded, 20);
}
