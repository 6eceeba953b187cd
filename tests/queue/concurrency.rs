//! Done-when 4: many workers, many jobs, each reserved and completed exactly once, and
//! every job accounted for at every moment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quire::queue::Job;
use quire::worker::{JobContext, JobError, JobHandler, Outcome, Worker};
use tokio_util::sync::CancellationToken;

use super::helpers::{Running, TestQueue, options, wait_until};

/// Counts executions per job id.
#[derive(Clone, Default)]
struct Counter {
    runs: Arc<Mutex<HashMap<String, u32>>>,
}

impl JobHandler for Counter {
    async fn run(&self, ctx: JobContext) -> Result<Outcome, JobError> {
        *self
            .runs
            .lock()
            .unwrap()
            .entry(ctx.job().id.clone())
            .or_default() += 1;
        Ok(Outcome::Completed)
    }
}

#[tokio::test]
async fn fifty_workers_reserve_and_complete_ten_thousand_jobs_exactly_once() {
    const TOTAL: u64 = 10_000;
    let t = TestQueue::new().await;
    let jobs: Vec<Job> = (0..TOTAL)
        .map(|i| Job::new(format!("job-{i}"), "count", serde_json::Value::Null))
        .collect();
    for chunk in jobs.chunks(1000) {
        t.queue.push_many(chunk, Duration::ZERO).await.unwrap();
    }
    let counter = Counter::default();
    let workers: Vec<_> = (0..50)
        .map(|_| {
            Running::start(
                Worker::builder(t.queue.clone(), options(5000))
                    .handler("count", counter.clone())
                    .build(),
            )
        })
        .collect();

    // Sample the invariant while the workers drain the queue.
    let stop_sampling = CancellationToken::new();
    let sampler = {
        let queue = t.queue.clone();
        let stop = stop_sampling.clone();
        tokio::spawn(async move {
            let mut samples = 0;
            while !stop.is_cancelled() {
                let c = queue.counts().await.unwrap();
                let sum = c.ready + c.delayed + c.reserved + c.parked + c.dead + c.done();
                assert_eq!(
                    sum, TOTAL,
                    "ready+delayed+reserved+parked+dead+done at a sample: {c:?}"
                );
                samples += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            samples
        })
    };
    wait_until(Duration::from_secs(60), "every job is done", || async {
        t.queue.counts().await.unwrap().done() == TOTAL
    })
    .await;
    stop_sampling.cancel();
    let samples = sampler.await.unwrap();
    for worker in workers {
        worker.stop().await;
    }

    let runs = counter.runs.lock().unwrap().clone();
    assert_eq!(runs.len() as u64, TOTAL);
    assert!(runs.values().all(|&n| n == 1), "a job ran more than once");
    let counts = t.queue.counts().await.unwrap();
    assert_eq!(
        counts.stat("reserved"),
        TOTAL,
        "every job reserved exactly once"
    );
    assert_eq!((counts.ready, counts.reserved, counts.dead), (0, 0, 0));
    assert!(
        samples > 3,
        "the invariant was sampled while jobs moved ({samples} samples)"
    );
}
