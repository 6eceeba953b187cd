//! A run's life: built under its locks, fenced against stale attempts, discarded when
//! its tenant is gone, dropped when its row is gone, cancelled, retried.

use std::sync::Arc;
use std::time::Duration;

use quire::runs::{REPORT_JOB_KIND, ReportHandler, RunsObserver, Sweeper};
use quire::store::{RunFile, RunStatus, StartOutcome};
use quire::worker::{
    EventKind, JobContext, JobError, JobEvent, JobHandler, Observer as _, Outcome, Worker,
};
use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::Notify;

use crate::common::on_databases;
use crate::helpers::{Backend, body, spawn_app, worker_options};

const LIMIT: Duration = Duration::from_secs(30);

/// Two reports of one tenant whose `overlap` is the tenant; the first sleeps in the
/// database for a while.
pub(crate) const SLOW: &str = r#"
name = "slow_invoices"
title = "Slow invoices"
overlap = "tenant"
max_attempts = 1
sql = "SELECT number FROM invoices, (SELECT pg_sleep(2)) AS pause WHERE tenant_id = :tenant ORDER BY number"
sql_mysql = "SELECT number FROM invoices, (SELECT SLEEP(2)) AS pause WHERE tenant_id = :tenant ORDER BY number"
columns = [{ name = "number", type = "text" }]
"#;
pub(crate) const QUICK: &str = r#"
name = "quick_clients"
title = "Quick clients"
overlap = "tenant"
max_attempts = 1
sql = "SELECT name FROM clients WHERE tenant_id = :tenant ORDER BY name"
columns = [{ name = "name", type = "text" }]
"#;

/// Invoice Ninja #10768: a without-overlapping lock that is busy must not consume the
/// waiting job's only attempt.
async fn two_runs_of_one_tenant_with_tenant_overlap_both_complete_one_after_the_other(
    backend: Backend,
) {
    let app = spawn_app(backend, &[("slow.toml", SLOW), ("quick.toml", QUICK)]).await;
    let (_, slow) = app
        .post_report(&app.acme_key, &body("slow_invoices", json!({})), None)
        .await;
    // Two workers: the first takes the slow run; the second's run must wait for it.
    let workers = [
        app.start_worker(worker_options()),
        app.start_worker(worker_options()),
    ];
    let deadline = tokio::time::Instant::now() + LIMIT;
    while app
        .runs
        .store
        .run(slow["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap()
        .status
        != RunStatus::Running
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (_, quick) = app
        .post_report(&app.acme_key, &body("quick_clients", json!({})), None)
        .await;
    let slow = app.finished_run(slow["id"].as_str().unwrap(), LIMIT).await;
    let quick = app.finished_run(quick["id"].as_str().unwrap(), LIMIT).await;
    assert_eq!(
        (slow.status, quick.status),
        (RunStatus::Completed, RunStatus::Completed)
    );
    assert_eq!(
        (slow.attempts, quick.attempts),
        (1, 1),
        "each handler ran once"
    );
    assert!(
        quick.started_at.unwrap() >= slow.finished_at.unwrap(),
        "one after the other"
    );
    // A run is completed in SQL just before its job is acked in Redis, where the ack
    // releases its locks: wait for both acks.
    let counts = crate::common::eventually(LIMIT, "both jobs are acked", || async {
        let counts = app.runs.queue.counts().await.unwrap();
        (counts.done() == 2).then_some(counts)
    })
    .await;
    // Each run holds its unique lock and the tenant's overlap lock, once per attempt.
    assert_eq!(counts.stat("locks_acquired"), 4);
    assert_eq!(counts.stat("locks_released"), 4);
    assert_eq!(counts.dead, 0);
    // The quick run's page shows its wait for the lock, then its one attempt.
    let events = crate::dashboard::history_has(&app, &quick.id, "succeeded").await;
    let waits: Vec<_> = events.iter().filter(|e| e.kind == "deferred").collect();
    assert!(
        !waits.is_empty()
            && waits.iter().all(|e| e
                .detail
                .as_deref()
                .is_some_and(|d| d.contains("waiting for the overlap lock"))),
        "{events:?}"
    );
    assert_eq!(events.iter().filter(|e| e.kind == "started").count(), 1);
    let admin = crate::dashboard::sign_in(&app, &app.admin_key).await;
    let (_, page) = admin.get(&format!("/dashboard/runs/{}", quick.id)).await;
    for part in [
        "Waits (lock waits and hand-backs)",
        "waiting for the overlap lock",
    ] {
        assert!(
            page.contains(part),
            "{part} missing from the run page:\n{page}"
        );
    }
    for worker in workers {
        worker.stop().await;
    }
    app.cleanup().await;
}

on_databases!([Postgres, Mysql] two_runs_of_one_tenant_with_tenant_overlap_both_complete_one_after_the_other);

#[tokio::test]
async fn a_run_whose_tenant_was_deleted_is_discarded_without_retry_or_locks() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    app.db
        .run_script("DELETE FROM tenants WHERE slug = 'acme'")
        .await;
    let _worker = app.start_worker(worker_options());
    let run = app.finished_run(run["id"].as_str().unwrap(), LIMIT).await;
    assert_eq!(run.status, RunStatus::Discarded);
    assert_eq!(run.error.unwrap().code, "tenant_deleted");
    assert_eq!(run.attempts, 1);
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let counts = app.runs.queue.counts().await.unwrap();
        if counts.done() == 1 {
            assert_eq!(
                counts.stat("locks_acquired"),
                counts.stat("locks_released"),
                "no lock left"
            );
            assert_eq!(counts.dead + counts.ready + counts.delayed, 0, "no retry");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.cleanup().await;
}

/// Enqueue remembers tenants it saw exist for a while, never ones it did not.
#[tokio::test]
async fn a_new_tenant_is_accepted_at_once_and_a_just_deleted_one_is_discarded_at_run_time() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let for_newco = json!({ "tenant": "newco", "report": "clients", "format": "csv" });
    let (status, answer) = app.post_report(&app.admin_key, &for_newco, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["details"]["fields"][0]["field"], "tenant");
    app.db
        .run_script(
            "INSERT INTO tenants (id, slug, name, currency, timezone) \
             VALUES (3, 'newco', 'Newco', 'USD', 'UTC')",
        )
        .await;
    let (status, first) = app.post_report(&app.admin_key, &for_newco, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");

    app.db
        .run_script("DELETE FROM tenants WHERE slug = 'newco'")
        .await;
    let csv_with_bom = json!({
        "tenant": "newco", "report": "clients", "format": "csv",
        "options": { "csv_bom": true },
    });
    let (status, second) = app.post_report(&app.admin_key, &csv_with_bom, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "seen moments ago: {second}");
    let _worker = app.start_worker(worker_options());
    for run in [first, second] {
        let run = app.finished_run(run["id"].as_str().unwrap(), LIMIT).await;
        assert_eq!(run.status, RunStatus::Discarded);
        assert_eq!(run.error.unwrap().code, "tenant_deleted");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_job_whose_run_row_is_gone_is_dropped_and_a_new_request_is_accepted() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let request = body("clients", json!({}));
    let (_, run) = app.post_report(&app.acme_key, &request, None).await;
    let id = run["id"].as_str().unwrap().to_owned();
    app.db
        .run_script(&format!("DELETE FROM quire_runs WHERE id = '{id}'"))
        .await;
    let _worker = app.start_worker(worker_options());
    let deadline = tokio::time::Instant::now() + LIMIT;
    while app.runs.queue.counts().await.unwrap().done() != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job was not dropped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(app.stored_files().is_empty());
    let (status, again) = app.post_report(&app.acme_key, &request, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_ne!(again["id"].as_str().unwrap(), id);
    app.cleanup().await;
}

async fn a_stale_attempt_cannot_complete_the_run_or_claim_its_file(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap();
    let store = &app.runs.store;
    assert!(matches!(
        store.start_attempt(id, "9", 1).await.unwrap(),
        StartOutcome::Started(_)
    ));
    // The lease of attempt 1 lapsed; attempt 2 takes over and finishes first.
    assert!(matches!(
        store.start_attempt(id, "10", 2).await.unwrap(),
        StartOutcome::Started(_)
    ));
    // Attempt 1, stalled before it reached the database, resumes: its older token
    // (shorter, so text order alone would call it larger) cannot take the run back.
    assert!(matches!(
        store.start_attempt(id, "9", 1).await.unwrap(),
        StartOutcome::Superseded(_)
    ));
    let file = |token: &str| RunFile {
        path: format!("/files/{id}/{token}.csv"),
        bytes: 10,
        sha256: token.repeat(4),
        rows: 1,
    };
    assert!(!store.record_progress(id, "9", 5).await.unwrap());
    assert!(
        store
            .complete_run(id, "10", &file("10"), i64::MAX)
            .await
            .unwrap()
    );
    assert!(
        !store
            .complete_run(id, "9", &file("9"), i64::MAX)
            .await
            .unwrap()
    );
    let run = store.run(id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.attempts, 2);
    assert_eq!(run.file.unwrap().path, format!("/files/{id}/10.csv"));
    app.cleanup().await;
}

on_databases!([Sqlite, Postgres, Mysql] a_stale_attempt_cannot_complete_the_run_or_claim_its_file);

#[tokio::test]
async fn cancel_stops_a_queued_run_and_retry_requeues_only_failed_ones() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap();
    let url = format!("{}/v1/reports/{id}", app.base_url);
    let cancelled = app.call(reqwest::Method::DELETE, &app.acme_key, &url).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let again = app.call(reqwest::Method::DELETE, &app.acme_key, &url).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let retry = app
        .call(reqwest::Method::POST, &app.acme_key, format!("{url}/retry"))
        .await;
    assert_eq!(
        retry.status(),
        StatusCode::CONFLICT,
        "a cancelled run is not failed"
    );
    // The worker sees the cancelled run and builds nothing.
    let _worker = app.start_worker(worker_options());
    let deadline = tokio::time::Instant::now() + LIMIT;
    while app.runs.queue.counts().await.unwrap().done() != 1 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(app.stored_files().is_empty());
    app.cleanup().await;
}

/// A report whose SQL names a column that does not exist: its runs fail at once.
pub(crate) const BROKEN: &str = r#"
name = "broken_query"
title = "Broken query"
max_attempts = 3
sql = "SELECT no_such_column AS name FROM clients WHERE tenant_id = :tenant"
columns = [{ name = "name", type = "text" }]
"#;

#[tokio::test]
async fn a_permanent_failure_fails_at_once_and_a_retry_requeues_the_same_run_once() {
    let app = spawn_app(Backend::Sqlite, &[("broken.toml", BROKEN)]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("broken_query", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap();
    let worker = app.start_worker(worker_options());
    let failed = app.finished_run(id, LIMIT).await;
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(
        failed.attempts, 1,
        "an SQL error in the definition is not retried"
    );
    let error = failed.error.unwrap();
    assert_eq!(error.code, "report_failed");
    assert!(
        !error.message.contains("no_such_column"),
        "no SQL leaks to clients: {}",
        error.message
    );
    worker.stop().await;

    let url = format!("{}/v1/reports/{id}/retry", app.base_url);
    let first = app.call(reqwest::Method::POST, &app.acme_key, &url).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = app.call(reqwest::Method::POST, &app.acme_key, &url).await;
    assert_eq!(second.status(), StatusCode::OK);
    let run: serde_json::Value = second.json().await.unwrap();
    assert_eq!(
        (
            run["id"].as_str().unwrap(),
            run["status"].as_str().unwrap(),
            run["attempts"].as_i64()
        ),
        (id, "queued", Some(0))
    );
    assert_eq!(
        app.runs.queue.counts().await.unwrap().ready,
        1,
        "queued once"
    );
    app.cleanup().await;
}

/// A run of the broken report, failed permanently by a worker; its job is dead.
pub(crate) async fn failed_broken_run(app: &crate::helpers::TestApp) -> String {
    let (_, run) = app
        .post_report(&app.acme_key, &body("broken_query", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    let worker = app.start_worker(worker_options());
    assert_eq!(app.finished_run(&id, LIMIT).await.status, RunStatus::Failed);
    worker.stop().await;
    id
}

/// Queued in the database, and its job ready in Redis: the retry took effect.
pub(crate) async fn assert_requeued(app: &crate::helpers::TestApp, id: &str) {
    assert_eq!(app.run(id).await.status, RunStatus::Queued);
    let job = app
        .runs
        .queue
        .job(id)
        .await
        .unwrap()
        .expect("the run has a job");
    assert_eq!(job.state, Some(quire::queue::JobState::Ready));
}

/// Every way a run's old job can be found when it is retried: dead (the usual case),
/// done (a dead-set retry revived the job but not the run, and an attempt found the
/// run ended), and gone (its record expired, or Redis lost its data). The API's retry
/// queues the run and its job in each.
#[tokio::test]
async fn a_retry_requeues_the_run_whether_its_old_job_is_dead_done_or_gone() {
    let app = spawn_app(Backend::Sqlite, &[("broken.toml", BROKEN)]).await;
    let retry = |id: String| {
        let app = &app;
        async move {
            let url = format!("{}/v1/reports/{id}/retry", app.base_url);
            let answer = app.call(reqwest::Method::POST, &app.acme_key, &url).await;
            assert_eq!(answer.status(), StatusCode::OK);
        }
    };

    let dead = failed_broken_run(&app).await;
    retry(dead.clone()).await;
    assert_requeued(&app, &dead).await;
    app.runs.store.delete_run(&dead).await.unwrap();

    let done = failed_broken_run(&app).await;
    // The old `quire failed retry`: the job revived in Redis, the run left failed.
    assert!(
        app.runs
            .queue
            .revive(std::slice::from_ref(&done))
            .await
            .unwrap()[0]
    );
    let worker = app.start_worker(worker_options());
    crate::common::eventually(LIMIT, "the revived job is done", || async {
        let job = app.runs.queue.job(&done).await.unwrap().unwrap();
        (job.state == Some(quire::queue::JobState::Done)).then_some(())
    })
    .await;
    worker.stop().await;
    assert_eq!(app.run(&done).await.status, RunStatus::Failed);
    retry(done.clone()).await;
    assert_requeued(&app, &done).await;
    app.runs.store.delete_run(&done).await.unwrap();

    let gone = failed_broken_run(&app).await;
    app.forget_redis_keys().await;
    retry(gone.clone()).await;
    assert_requeued(&app, &gone).await;
    app.cleanup().await;
}

/// `quire failed retry` takes the same path for a run: its row is queued again, not
/// only its job. An id that is neither a run nor a dead job is an error.
#[tokio::test]
async fn quire_failed_retry_requeues_the_run_and_refuses_an_unknown_id() {
    let app = spawn_app(Backend::Sqlite, &[("broken.toml", BROKEN)]).await;
    let id = failed_broken_run(&app).await;
    let output = app.quire(&["failed", "retry", &id]).output().await.unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("{id} queued again")
    );
    assert_requeued(&app, &id).await;

    let output = app
        .quire(&["failed", "retry", "nonsense"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("no failed run and no dead job has the id \"nonsense\""),
        "{output:?}"
    );
    app.cleanup().await;
}

/// A run still queued whose job is done (a retry that stopped between the two, or a
/// job record edited by hand) is found by the sweep, which queues the job again.
#[tokio::test]
async fn the_sweep_revives_the_done_job_of_a_queued_run() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap();
    let mut conn = app.runs.queue.connection();
    let _: () =
        redis::AsyncCommands::hset(&mut conn, app.runs.queue.keys().job(id), "state", "done")
            .await
            .unwrap();
    let swept = Sweeper::new(app.runs.clone()).sweep_once().await.unwrap();
    assert_eq!(swept.requeued, 1);
    assert_requeued(&app, id).await;
    app.cleanup().await;
}

/// The workers of a deployment take turns looking for unowned files, one turn per
/// `orphan_every` between them: a sweep loop whose turn was taken still pushes again a
/// run that lost its job, but leaves an unowned file alone; one whose turn comes
/// removes it.
#[tokio::test]
async fn the_workers_take_turns_looking_for_unowned_files() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap();
    app.forget_redis_keys().await;
    let orphan = app.storage.path().join("a-run-gone").join("1.csv");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, "left behind").unwrap();

    let mut hourly = Sweeper::new(app.runs.clone());
    hourly.orphan_grace = Duration::ZERO;
    hourly.orphan_every = Duration::from_secs(3600);
    assert!(hourly.take_orphan_turn().await, "the period's one turn");
    assert!(!hourly.clone().take_orphan_turn().await, "taken already");

    let sweep_loop = |sweeper: Sweeper| {
        let stop = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(sweeper.run(Duration::from_millis(20), stop.clone()));
        (stop, task)
    };
    let (stop, task) = sweep_loop(hourly.clone());
    crate::common::eventually(LIMIT, "the sweep pushed the run again", || async {
        app.runs.queue.job(id).await.unwrap().map(drop)
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    assert!(orphan.exists(), "not this loop's turn");

    let mut often = hourly;
    often.orphan_every = Duration::from_millis(1);
    let (stop, task) = sweep_loop(often);
    crate::common::eventually(LIMIT, "the unowned file is removed on a turn", || async {
        (!orphan.exists()).then_some(())
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    app.cleanup().await;
}

/// Holds a report attempt after its handler returned (its failure already written to
/// the database) until the test lets the worker commit the outcome in Redis.
struct HeldBeforeCommit {
    report: ReportHandler,
    returned: Arc<Notify>,
    commit: Arc<Notify>,
}

impl JobHandler for HeldBeforeCommit {
    async fn run(&self, context: JobContext) -> Result<Outcome, JobError> {
        let result = self.report.run(context).await;
        self.returned.notify_one();
        self.commit.notified().await;
        result
    }
}

/// The race behind a lost retry: the handler records `failed` in the database before
/// the worker commits the failure in Redis. A retry in between used to answer 200
/// `queued` and be undone by that commit and by the observer.
#[tokio::test]
async fn a_retry_while_the_failed_attempt_is_committing_is_refused_and_a_late_observer_cannot_undo_a_retry()
 {
    let app = spawn_app(Backend::Sqlite, &[("broken.toml", BROKEN)]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("broken_query", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    let (returned, commit) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let held = HeldBeforeCommit {
        report: ReportHandler::new(app.runs.clone()),
        returned: returned.clone(),
        commit: commit.clone(),
    };
    // No observer on this worker: the test plays the late observer itself.
    let worker = Worker::builder(app.runs.queue.clone(), worker_options())
        .handler(REPORT_JOB_KIND, held)
        .build();
    let processing = tokio::spawn(async move { worker.process_one().await });
    returned.notified().await;
    assert_eq!(app.run(&id).await.status, RunStatus::Failed);

    let url = format!("{}/v1/reports/{id}/retry", app.base_url);
    let refused = app.call(reqwest::Method::POST, &app.acme_key, &url).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let error: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "attempt_finishing");
    assert_eq!(
        app.run(&id).await.status,
        RunStatus::Failed,
        "nothing changed"
    );

    commit.notify_one();
    let processed = processing.await.unwrap().unwrap().expect("the job ran");
    assert_eq!(processed.attempt, 1);
    let retried = app.call(reqwest::Method::POST, &app.acme_key, &url).await;
    assert_eq!(retried.status(), StatusCode::OK);

    let late = JobEvent {
        kind: EventKind::Failed,
        job_id: id.clone(),
        job_kind: Some(REPORT_JOB_KIND.to_owned()),
        attempt: 1,
        worker_id: "late".to_owned(),
        detail: Some("the attempt's error".to_owned()),
        delay: None,
    };
    RunsObserver::new(app.runs.clone())
        .observe(&late)
        .await
        .unwrap();
    let swept = Sweeper::new(app.runs.clone()).sweep_once().await.unwrap();
    assert_eq!(swept.failed, 0);
    let run = app.run(&id).await;
    assert_eq!((run.status, run.attempts), (RunStatus::Queued, 0));
    assert_eq!(
        app.runs.queue.counts().await.unwrap().ready,
        1,
        "queued once"
    );
    app.cleanup().await;
}

/// A retry whose revive Redis never received (the API answered 503 after the run was
/// queued again in the database) is completed by the sweep, not failed.
#[tokio::test]
async fn the_sweep_revives_the_job_of_a_retried_run_whose_revive_never_happened() {
    let app = spawn_app(Backend::Sqlite, &[("broken.toml", BROKEN)]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("broken_query", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    let worker = Worker::builder(app.runs.queue.clone(), worker_options())
        .handler(REPORT_JOB_KIND, ReportHandler::new(app.runs.clone()))
        .build();
    worker.process_one().await.unwrap().expect("the job ran");
    let dead = app.runs.queue.job(&id).await.unwrap().unwrap();
    assert_eq!(dead.state, Some(quire::queue::JobState::Dead));
    // The retry's database half, without its Redis half.
    let (_, requeued) = app.runs.store.requeue_failed(&id).await.unwrap().unwrap();
    assert!(requeued);

    let swept = Sweeper::new(app.runs.clone()).sweep_once().await.unwrap();
    assert_eq!((swept.failed, swept.requeued), (0, 1));
    assert_eq!(app.run(&id).await.status, RunStatus::Queued);
    let revived = app.runs.queue.job(&id).await.unwrap().unwrap();
    assert_eq!(revived.state, Some(quire::queue::JobState::Ready));
    app.cleanup().await;
}

async fn runs_survive_redis_losing_all_its_data(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap();
    app.forget_redis_keys().await;
    assert!(
        app.runs.queue.job(id).await.unwrap().is_none(),
        "the job is gone with Redis's data"
    );
    let report = quire::runs::Sweeper::new(app.runs.clone())
        .sweep_once()
        .await
        .unwrap();
    assert_eq!(report.requeued, 1);
    // Rebuilt as it was pushed: in its tenant's ready list, the tenant in the ring.
    let keys = app.runs.queue.keys();
    let mut conn = app.runs.queue.connection();
    let ready: Vec<String> = redis::AsyncCommands::lrange(
        &mut conn,
        keys.fair(quire::runs::REPORT_QUEUE, "acme"),
        0,
        -1,
    )
    .await
    .unwrap();
    assert_eq!(ready, [id]);
    let ring: Vec<String> =
        redis::AsyncCommands::lrange(&mut conn, keys.ring(quire::runs::REPORT_QUEUE), 0, -1)
            .await
            .unwrap();
    assert_eq!(ring, ["acme"]);
    let _worker = app.start_worker(worker_options());
    let run = app.finished_run(id, LIMIT).await;
    assert_eq!(run.status, RunStatus::Completed);
    app.cleanup().await;
}

on_databases!([Postgres, Mysql] runs_survive_redis_losing_all_its_data);

#[tokio::test]
async fn an_enqueue_whose_push_fails_answers_503_and_keeps_no_run() {
    let mut redis = crate::common::RedisServer::start().await;
    let app = crate::helpers::spawn_app_on(&redis.url(), Backend::Sqlite, &[]).await;
    redis.pause();
    let (status, answer) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "unavailable");
    let page = app
        .runs
        .store
        .list_runs(&quire::store::RunQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.runs.is_empty(), "the run row was removed");
    let (status, ready) = app.get(&app.acme_key, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        (ready["database"].as_bool(), ready["redis"].as_bool()),
        (Some(true), Some(false))
    );
    app.cleanup().await;
}

/// A duplicate request is answered with a run only once that run's job is in Redis:
/// the run it meets may belong to a request whose push is still under way or has
/// failed (it is left here without its job, as between the two steps).
#[tokio::test]
async fn a_duplicate_is_answered_only_once_the_runs_job_is_in_redis() {
    let mut redis = crate::common::RedisServer::start().await;
    let app = crate::helpers::spawn_app_on(&redis.url(), Backend::Sqlite, &[]).await;
    let request = body("clients", json!({}));
    let (status, first) = app.post_report(&app.acme_key, &request, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let id = first["id"].as_str().unwrap();
    app.forget_redis_keys().await;
    assert!(app.runs.queue.job(id).await.unwrap().is_none());

    let (status, duplicate) = app.post_report(&app.acme_key, &request, None).await;
    assert_eq!(status, StatusCode::OK, "{duplicate}");
    assert_eq!(duplicate["id"], id);
    assert!(
        app.runs.queue.job(id).await.unwrap().is_some(),
        "the job is there before the answer"
    );

    app.forget_redis_keys().await;
    redis.pause();
    let (status, answer) = app.post_report(&app.acme_key, &request, None).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no run without its job: {answer}"
    );
    redis.resume().await;
    app.cleanup().await;
}

/// A Redis that restarted between two requests (its data kept) is found broken by the
/// second one, which reconnects and sends again: both answer 2xx and both jobs exist.
#[tokio::test]
async fn a_redis_restart_between_two_requests_fails_neither() {
    let mut redis = crate::common::RedisServer::start().await;
    let app = crate::helpers::spawn_app_on(&redis.url(), Backend::Sqlite, &[]).await;
    let request = |format: &str| {
        let mut request = body("clients", json!({}));
        request["format"] = json!(format);
        request
    };
    let (status, first) = app.post_report(&app.acme_key, &request("csv"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    redis.pause();
    redis.resume().await;
    let (status, second) = app.post_report(&app.acme_key, &request("xlsx"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    for run in [&first, &second] {
        let id = run["id"].as_str().unwrap();
        assert!(
            app.runs.queue.job(id).await.unwrap().is_some(),
            "job {id} exists"
        );
    }
    app.cleanup().await;
}

/// SQLite writes the enqueues that arrive together in one transaction, sent as one
/// query: one enqueue failing halfway must fail alone, leave none of its rows, and leave
/// no connection inside a transaction (it would hold the write lock and stall every
/// later enqueue).
#[tokio::test]
async fn an_enqueue_failing_halfway_on_sqlite_fails_alone_and_writes_nothing() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    app.db
        .run_script(
            "CREATE TRIGGER refuse_key BEFORE INSERT ON quire_idempotency_keys \
             WHEN NEW.idempotency_key = 'refused' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
        .await;
    let poster = &app;
    let posts = (0..16).map(|n| {
        let request = body("invoices", json!({ "client_ids": [n + 1] }));
        let key = if n == 7 {
            "refused".to_owned()
        } else {
            format!("k-{n}")
        };
        async move {
            poster
                .post_report(&poster.acme_key, &request, Some(&key))
                .await
        }
    });
    let answers = futures::future::join_all(posts).await;
    for (n, (status, answer)) in answers.iter().enumerate() {
        let expected = if n == 7 {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::ACCEPTED
        };
        assert_eq!(*status, expected, "enqueue {n}: {answer}");
    }
    assert_eq!(
        app.enqueue_rows().await,
        [15; 3],
        "one run, token and key per accepted enqueue"
    );
    app.db.run_script("DROP TRIGGER refuse_key").await;
    // More enqueues than the pool has connections, so that each connection is used.
    for n in 16..28 {
        let request = body("invoices", json!({ "client_ids": [n + 1] }));
        let (status, answer) = app.post_report(&app.acme_key, &request, None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    assert_eq!(app.db.scalar("SELECT COUNT(*) FROM quire_runs").await, 27);
    app.cleanup().await;
}

const SLEEPY: &str = r#"
name = "sleepy"
title = "Sleepy"
max_attempts = 1
timeout = "1s"
sql = "SELECT name FROM clients, (SELECT pg_sleep(5)) AS pause WHERE tenant_id = :tenant"
sql_mysql = "SELECT name FROM clients, (SELECT SLEEP(5)) AS pause WHERE tenant_id = :tenant"
columns = [{ name = "name", type = "text" }]
"#;

async fn a_run_past_its_timeout_fails_with_timeout_and_leaves_no_file(backend: Backend) {
    let app = spawn_app(backend, &[("sleepy.toml", SLEEPY)]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("sleepy", json!({})), None)
        .await;
    let _worker = app.start_worker(worker_options());
    let run = app.finished_run(run["id"].as_str().unwrap(), LIMIT).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.attempts, 1);
    assert_eq!(run.error.unwrap().code, "timeout");
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    app.cleanup().await;
}

on_databases!([Postgres, Mysql] a_run_past_its_timeout_fails_with_timeout_and_leaves_no_file);

const SLOW_ROWS: &str = r#"
name = "slow_rows"
title = "Slow rows"
sql = "SELECT n, pg_sleep(0.002) IS NULL AS slept FROM generate_series(1, 10000) AS n WHERE :tenant > 0"
# MariaDB's sequence engine; it sends rows in 16 KiB packets, the first after 5 s here.
sql_mysql = "SELECT seq AS n, SLEEP(0.002) = 0 AS slept FROM seq_1_to_10000 WHERE :tenant > 0"
columns = [{ name = "n", type = "integer" }, { name = "slept", type = "boolean" }]
"#;

async fn cancelling_a_running_run_stops_its_attempt_without_a_file_or_a_dead_job(backend: Backend) {
    let app = spawn_app(backend, &[("slow_rows.toml", SLOW_ROWS)]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("slow_rows", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap();
    let _worker = app.start_worker(worker_options());
    crate::common::wait_until(LIMIT, "the run records progress", || async {
        app.runs.store.run(id).await.unwrap().unwrap().progress_rows > 0
    })
    .await;
    let cancel = app
        .call(
            reqwest::Method::DELETE,
            &app.acme_key,
            format!("{}/v1/reports/{id}", app.base_url),
        )
        .await;
    assert_eq!(cancel.status(), StatusCode::OK);
    crate::common::wait_until(LIMIT, "the attempt stops", || async {
        app.runs.queue.counts().await.unwrap().done() == 1
    })
    .await;
    let run = app.runs.store.run(id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
    assert!(run.file.is_none());
    assert_eq!(app.runs.queue.counts().await.unwrap().dead, 0);
    crate::common::wait_until(LIMIT, "no file is left", || async {
        app.stored_files().is_empty()
    })
    .await;
    app.cleanup().await;
}

on_databases!([Postgres, Mysql] cancelling_a_running_run_stops_its_attempt_without_a_file_or_a_dead_job);

const LIMITED: &str = r#"
name = "limited_clients"
title = "Clients, two at a time per tenant"
max_running_per_tenant = 2
sql = "SELECT name FROM clients WHERE tenant_id = :tenant"
columns = [{ name = "name", type = "text" }]
"#;

/// A run's job takes turns under its tenant, limited by the lower of the installation's
/// and the report's `max_running_per_tenant`; without fair scheduling it has neither.
#[tokio::test]
async fn a_runs_job_takes_its_tenant_as_fairness_key_and_the_lower_running_limit() {
    let app = spawn_app(Backend::Sqlite, &[("limited.toml", LIMITED)]).await;
    let (_, answer) = app
        .post_report(&app.acme_key, &body("limited_clients", json!({})), None)
        .await;
    let id = answer["id"].as_str().unwrap();
    let mut conn = app.runs.queue.connection();
    let pushed: Vec<Option<String>> = redis::cmd("HMGET")
        .arg(app.runs.queue.keys().job(id))
        .arg("fair")
        .arg("flimit")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(pushed, [Some("acme".to_owned()), Some("2".to_owned())]);

    let run = app.run(id).await;
    for (fair, setting, expected) in [
        (true, Some(1), (Some("acme"), Some(1))),
        (true, Some(5), (Some("acme"), Some(2))),
        (true, None, (Some("acme"), Some(2))),
        (false, Some(1), (None, None)),
    ] {
        let runs = quire::runs::Runs {
            scheduling: quire::runs::Scheduling {
                fair,
                max_running_per_tenant: setting,
            },
            ..app.runs.clone()
        };
        let job = runs.job_for(&run).unwrap();
        assert_eq!(
            (job.fairness_key.as_deref(), job.fairness_limit),
            expected,
            "fair {fair}, setting {setting:?}"
        );
    }
    app.cleanup().await;
}
