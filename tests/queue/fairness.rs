//! Fair reservation: within a queue the fairness keys with ready jobs take turns (FIFO
//! within a key), a key at its running limit waits without being charged an attempt,
//! and the slots are owned by attempts, so a killed worker never leaks one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quire::queue::{Job, Queue, Reservation, ReserveRequest};
use redis::AsyncCommands;

use super::helpers::{RedisServer, TestQueue, exit_code, wait_until};

const QUEUE: &str = "default";

fn request(queues: &[String], max: usize) -> ReserveRequest<'_> {
    ReserveRequest {
        queues,
        lease: Duration::from_secs(30),
        max,
    }
}

fn default_queue() -> Vec<String> {
    vec![QUEUE.to_owned()]
}

impl TestQueue {
    /// A noop job of fairness key `key`.
    fn fair(&self, id: &str, key: &str) -> Job {
        self.noop(id, &[0]).with_fairness_key(key)
    }

    /// The ring of the default queue, in turn order.
    async fn ring(&self) -> Vec<String> {
        let mut conn = self.queue.connection();
        conn.lrange(self.queue.keys().ring(QUEUE), 0, -1)
            .await
            .unwrap()
    }

    /// Attempts running per fairness key, as the queue shows them.
    async fn running_by_key(&self) -> Vec<(String, u64)> {
        self.queue.loads(10).await.unwrap().running
    }

    /// The running slots held per fairness key by attempts of jobs with a limit.
    async fn running(&self) -> Vec<(String, i64)> {
        let mut conn = self.queue.connection();
        let mut slots: Vec<(String, i64)> =
            conn.hgetall(self.queue.keys().running()).await.unwrap();
        slots.sort();
        slots
    }

    /// Reserves up to `max` jobs of the default queue.
    async fn take(&self, max: usize) -> Vec<Reservation> {
        self.queue
            .reserve(&request(&default_queue(), max))
            .await
            .unwrap()
            .jobs
    }
}

fn ids(jobs: &[Reservation]) -> Vec<&str> {
    jobs.iter().map(|job| job.claim.job_id.as_str()).collect()
}

#[tokio::test]
async fn a_tenant_with_one_job_waits_for_at_most_one_job_of_each_other_tenant() {
    let t = TestQueue::new().await;
    let burst: Vec<Job> = (0..50).map(|i| t.fair(&format!("a-{i}"), "a")).collect();
    t.queue.push_many(&burst, Duration::ZERO).await.unwrap();
    for key in ["b", "c", "d"] {
        t.queue
            .push(&t.fair(&format!("{key}-0"), key))
            .await
            .unwrap();
    }

    let mut order = Vec::new();
    for _ in 0..10 {
        order.extend(t.take(1).await.into_iter().map(|job| job.claim.job_id));
    }
    assert_eq!(
        order,
        [
            "a-0", "b-0", "c-0", "d-0", "a-1", "a-2", "a-3", "a-4", "a-5", "a-6"
        ],
        "one turn per key, FIFO within a key"
    );
    // Alone in the ring, a key gives as many as are asked for in one call.
    let rest = t.take(100).await;
    let expected: Vec<String> = (7..50).map(|i| format!("a-{i}")).collect();
    assert_eq!(ids(&rest), expected);
    assert!(t.ring().await.is_empty());
    assert_eq!(t.queue.counts().await.unwrap().ready, 0);
}

#[tokio::test]
async fn the_ring_holds_each_key_with_ready_jobs_once_and_no_other() {
    let t = TestQueue::new().await;
    t.queue.push(&t.fair("a-1", "a")).await.unwrap();
    t.queue.push(&t.fair("a-2", "a")).await.unwrap();
    t.queue.push(&t.fair("b-1", "b")).await.unwrap();
    assert_eq!(t.ring().await, ["a", "b"]);

    assert_eq!(ids(&t.take(1).await), ["a-1"]);
    // A key that enqueues while it is being served keeps its one place in the ring.
    t.queue.push(&t.fair("a-3", "a")).await.unwrap();
    assert_eq!(t.ring().await, ["b", "a"]);
    assert_eq!(t.queue.counts().await.unwrap().ready, 3);

    // A key whose last job is taken leaves the ring.
    assert_eq!(ids(&t.take(1).await), ["b-1"]);
    assert_eq!(t.ring().await, ["a"]);
    assert_eq!(ids(&t.take(5).await), ["a-2", "a-3"]);
    assert!(t.ring().await.is_empty());

    // And comes back with its next job, even while its earlier ones run.
    t.queue.push(&t.fair("a-4", "a")).await.unwrap();
    assert_eq!(t.ring().await, ["a"]);
    assert_eq!(
        t.running_by_key().await,
        [("a".to_owned(), 3), ("b".to_owned(), 1)]
    );
    assert!(
        t.running().await.is_empty(),
        "jobs without a limit hold no slot"
    );
    let mut conn = t.queue.connection();
    let backlog: Vec<(String, i64)> = conn
        .zrange_withscores(t.queue.keys().backlog(QUEUE), 0, -1)
        .await
        .unwrap();
    assert_eq!(backlog, [("a".to_owned(), 1)]);
}

#[tokio::test]
async fn priority_between_queues_comes_before_turns_between_keys() {
    let t = TestQueue::new().await;
    let low: Vec<Job> = ["a", "b"]
        .iter()
        .map(|key| t.fair(&format!("low-{key}"), key).with_queue("low"))
        .collect();
    t.queue.push_many(&low, Duration::ZERO).await.unwrap();
    t.queue
        .push(&t.fair("high-a", "a").with_queue("high"))
        .await
        .unwrap();
    let queues = vec!["high".to_owned(), "low".to_owned()];
    let taken = t.queue.reserve(&request(&queues, 2)).await.unwrap().jobs;
    assert_eq!(ids(&taken), ["high-a", "low-a"]);
}

#[tokio::test]
async fn a_key_at_its_limit_is_skipped_without_an_attempt_and_rejoins_when_a_slot_frees() {
    let t = TestQueue::new().await;
    let burst: Vec<Job> = (0..10)
        .map(|i| t.fair(&format!("a-{i}"), "a").with_fairness_limit(2))
        .collect();
    t.queue.push_many(&burst, Duration::ZERO).await.unwrap();
    let first = t.take(10).await;
    assert_eq!(ids(&first), ["a-0", "a-1"]);
    assert!(
        t.ring().await.is_empty(),
        "a key at its limit leaves the ring"
    );
    assert!(t.take(10).await.is_empty());
    let waiting = t.queue.job("a-2").await.unwrap().unwrap();
    assert_eq!(waiting.attempts, 0, "waiting at the limit costs no attempt");

    // Another key is not held up by it.
    t.queue.push(&t.fair("b-0", "b")).await.unwrap();
    assert_eq!(ids(&t.take(10).await), ["b-0"]);

    t.queue.ack(&first[0].claim).await.unwrap();
    assert_eq!(t.ring().await, ["a"]);
    assert_eq!(ids(&t.take(10).await), ["a-2"], "FIFO within the key");
    assert_eq!(t.running().await, [("a".to_owned(), 2)]);
    assert_eq!(
        t.running_by_key().await,
        [("a".to_owned(), 2), ("b".to_owned(), 1)]
    );
}

#[tokio::test]
async fn every_end_of_an_attempt_gives_its_slot_back() {
    let t = TestQueue::new().await;
    let jobs: Vec<Job> = (0..5)
        .map(|i| t.fair(&format!("a-{i}"), "a").with_fairness_limit(5))
        .collect();
    t.queue.push_many(&jobs, Duration::ZERO).await.unwrap();
    let taken = t.take(5).await;
    assert_eq!(t.running().await, [("a".to_owned(), 5)]);
    t.queue.ack(&taken[0].claim).await.unwrap();
    t.queue
        .retry(&taken[1].claim, Duration::from_secs(60), "transient")
        .await
        .unwrap();
    t.queue
        .defer(&taken[2].claim, Duration::from_secs(60))
        .await
        .unwrap();
    t.queue.hand_back(&taken[3].claim).await.unwrap();
    t.queue
        .fail(
            &taken[4].claim,
            quire::queue::DeathCause::Failed,
            "permanent",
        )
        .await
        .unwrap();
    assert!(t.running().await.is_empty(), "{:?}", t.running().await);
}

#[tokio::test]
async fn a_lapsed_lease_gives_its_slot_back_when_it_is_recovered() {
    let t = TestQueue::new().await;
    t.queue
        .push(&t.fair("a-0", "a").with_fairness_limit(1))
        .await
        .unwrap();
    t.queue
        .push(&t.fair("a-1", "a").with_fairness_limit(1))
        .await
        .unwrap();
    let queues = default_queue();
    let short = ReserveRequest {
        queues: &queues,
        lease: Duration::from_millis(100),
        max: 5,
    };
    let first = t.queue.reserve(&short).await.unwrap().jobs;
    assert_eq!(ids(&first), ["a-0"]);
    // The lapsed attempt's slot goes back and the recovered job is first again.
    let again = super::helpers::eventually(
        Duration::from_secs(5),
        "the lease lapses and is recovered",
        || async {
            let jobs = t.queue.reserve(&short).await.unwrap().jobs;
            (!jobs.is_empty()).then_some(jobs)
        },
    )
    .await;
    assert_eq!(ids(&again), ["a-0"]);
    assert_eq!(again[0].attempt, 2);
    assert_eq!(t.running().await, [("a".to_owned(), 1)]);
}

/// The scenario with real worker processes: limit 2, 10 jobs of one tenant, a
/// worker killed mid-job. Never more than 2 execute at once, all 10 complete, and no
/// slot is left in use.
#[tokio::test]
async fn a_killed_worker_never_leaks_a_slot_of_its_tenant() {
    let t = TestQueue::new().await;
    let jobs: Vec<Job> = (0..10)
        .map(|i| {
            t.noop(&format!("a-{i}"), &[400])
                .with_fairness_key("a")
                .with_fairness_limit(2)
        })
        .collect();
    t.queue.push_many(&jobs, Duration::ZERO).await.unwrap();
    let args = ["--lease", "1s", "--concurrency", "4"];
    let mut doomed = t.spawn_process(&args);
    let survivor = t.spawn_process(&args);
    let doomed_pid = doomed.id().unwrap();
    wait_until(
        Duration::from_secs(15),
        "the doomed worker runs a job",
        || async {
            t.records()
                .iter()
                .any(|r| r.word == "start" && r.pid == doomed_pid)
        },
    )
    .await;
    doomed.start_kill().unwrap();
    exit_code(&mut doomed, Duration::from_secs(5)).await;
    let killed_at = now_ms();

    wait_until(Duration::from_secs(30), "all 10 are done", || async {
        t.queue.counts().await.unwrap().done() == 10
    })
    .await;
    drop(survivor);

    let records = t.records();
    // An execution that never ended was the killed worker's: it stopped at the kill.
    let mut edges: Vec<(i64, i32)> = Vec::new();
    for start in records.iter().filter(|r| r.word == "start") {
        let end = records
            .iter()
            .find(|r| r.word != "start" && r.job == start.job && r.attempt == start.attempt)
            .map_or(killed_at, |end| end.end_ms.unwrap());
        edges.push((start.start_ms, 1));
        edges.push((end, -1));
    }
    edges.sort();
    let (mut running, mut most) = (0, 0);
    for (_, step) in edges {
        running += step;
        most = most.max(running);
    }
    assert!(
        most <= 2,
        "{most} executions of one tenant at once: {records:?}"
    );
    assert!(t.running().await.is_empty(), "{:?}", t.running().await);
    for i in 0..10 {
        let done = super::helpers::completed(&records, &format!("a-{i}"));
        assert_eq!(done.len(), 1, "a-{i} completed exactly once: {records:?}");
    }
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

/// The reserve's work per call does not grow with the number of waiting tenants:
/// counted in Redis commands on a private server (the shared one serves other tests).
#[tokio::test]
async fn a_reserve_s_work_stays_bounded_with_100000_waiting_tenants() {
    let redis = RedisServer::start().await;
    let t = TestQueue::on(&redis.url()).await;
    for chunk in 0..100 {
        let jobs: Vec<Job> = (0..1000)
            .map(|i| {
                let n = chunk * 1000 + i;
                Job::new(format!("j{n}"), "noop", serde_json::Value::Null)
                    .with_fairness_key(format!("t{n}"))
            })
            .collect();
        t.queue.push_many(&jobs, Duration::ZERO).await.unwrap();
    }
    // The first reserve loads the script: not part of a call's work.
    assert_eq!(t.take(1).await.len(), 1);
    let mut conn = t.queue.connection();
    for max in [1usize, 10] {
        for _ in 0..3 {
            let () = redis::cmd("CONFIG")
                .arg("RESETSTAT")
                .query_async(&mut conn)
                .await
                .unwrap();
            let taken = t.take(max).await;
            assert_eq!(taken.len(), max);
            let (calls, usec) = script_calls(&t.queue).await;
            eprintln!("reserve of {max} among 100000 tenants: {calls} commands, {usec} µs");
            assert!(
                calls <= 40 + 12 * max as u64,
                "{calls} commands for a reserve of {max}"
            );
        }
    }
}

/// Commands run since the last `CONFIG RESETSTAT` (the script's own, not counting
/// EVALSHA), and the microseconds spent in EVALSHA.
async fn script_calls(queue: &Queue) -> (u64, u64) {
    let mut conn = queue.connection();
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .unwrap();
    let (mut calls, mut usec) = (0, 0);
    for line in stats.lines().filter(|line| line.starts_with("cmdstat_")) {
        let (name, fields) = line.split_once(':').unwrap();
        let field = |key: &str| -> u64 {
            fields
                .split(',')
                .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
                .unwrap()
                .parse()
                .unwrap()
        };
        match name {
            "cmdstat_evalsha" | "cmdstat_eval" => usec += field("usec"),
            "cmdstat_info" | "cmdstat_config" => {}
            _ => calls += field("calls"),
        }
    }
    (calls, usec)
}
