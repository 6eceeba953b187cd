//! A PostgreSQL that goes away is not the job's fault: quire reaches its database
//! through a TCP proxy that the tests cut (a server restart: every connection closed)
//! or close (the server down), without touching the shared server.

use std::time::Duration;

use quire::store::RunStatus;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TcpProxy, eventually};
use crate::helpers::{body, spawn_app_through, worker_options};
use crate::processes::{STREAMING, assert_one_whole_file};

const LIMIT: Duration = Duration::from_secs(60);

/// PostgreSQL restarted while quire was idle: the pooled connections it closed are
/// found dead before use and replaced, so the next request and the next run succeed,
/// the run on its first attempt.
#[tokio::test]
async fn a_database_restarted_while_quire_is_idle_costs_no_error_and_no_attempt() {
    let proxy = TcpProxy::start("127.0.0.1:5432").await;
    let app = spawn_app_through(crate::common::Backend::Postgres, proxy.route(), &[]).await;
    let _worker = app.start_worker(worker_options());
    let (_, first) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    let first = app.finished_run(first["id"].as_str().unwrap(), LIMIT).await;
    assert_eq!(first.status, RunStatus::Completed, "{:?}", first.error);

    proxy.cut();
    let (status, second) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    let second = app
        .finished_run(second["id"].as_str().unwrap(), LIMIT)
        .await;
    assert_eq!(second.status, RunStatus::Completed, "{:?}", second.error);
    assert_eq!(second.attempts, 1);
    app.cleanup().await;
}

/// The database goes down in the middle of a report: the attempt is handed back
/// without counting, comes back while the database is still down and is handed back
/// again, and once the database is back the run completes on attempt 1 with one
/// whole file.
#[tokio::test]
async fn a_database_outage_mid_report_is_waited_out_without_spending_attempts() {
    let mut proxy = TcpProxy::start("127.0.0.1:5432").await;
    let app = spawn_app_through(
        crate::common::Backend::Postgres,
        proxy.route(),
        &[("streaming.toml", STREAMING)],
    )
    .await;
    let _worker = app.start_worker(worker_options());
    let id = app.running_with_progress("streaming_rows", LIMIT).await;
    proxy.refuse().await;
    let queue = &app.runs.queue;
    eventually(LIMIT, "two hand-backs during the outage", || async move {
        let stats = queue.counts().await.unwrap().stats;
        (stats.get("deferred").copied().unwrap_or(0) >= 2).then_some(())
    })
    .await;
    let during = app.run(&id).await;
    assert_eq!(
        (during.status, during.attempts),
        (RunStatus::Running, 1),
        "the run waits, its attempt not spent"
    );
    proxy.resume().await;

    let run = app.finished_run(&id, LIMIT).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.attempts, 1, "the outage spent no attempt");
    assert_one_whole_file(&app, &run).await;
    app.cleanup().await;
}

/// A PostgreSQL that is down is named, with the address tried, by `/readyz` and by
/// the command line well before the pool's 10 s acquire timeout.
#[tokio::test]
async fn a_database_that_is_down_is_named_by_readyz_and_the_cli_within_seconds() {
    let mut proxy = TcpProxy::start("127.0.0.1:5432").await;
    let app = spawn_app_through(crate::common::Backend::Postgres, proxy.route(), &[]).await;
    let proxied_url = proxy.route()(&app.db);
    let address = format!("127.0.0.1:{}", proxy.port);
    proxy.refuse().await;

    let readyz = app.http.get(format!("{}/readyz", app.base_url)).send();
    let answer = tokio::time::timeout(Duration::from_secs(6), readyz)
        .await
        .expect("/readyz answers within seconds")
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    let answer: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(answer["database"], false, "{answer}");
    assert_eq!(answer["redis"], true, "{answer}");
    let error = answer["errors"]["database"].as_str().unwrap();
    assert!(error.contains(&address), "{error}");

    let migrate = app
        .quire(&["migrate"])
        .env("DATABASE_URL", &proxied_url)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(6), migrate)
        .await
        .expect("the command line gives up within seconds")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach the database server at {address}")),
        "{stderr}"
    );

    proxy.resume().await;
    let app_ref = &app;
    eventually(LIMIT, "/readyz is 200 again", || async move {
        let response = app_ref
            .http
            .get(format!("{}/readyz", app_ref.base_url))
            .send()
            .await
            .ok()?;
        (response.status() == StatusCode::OK).then_some(())
    })
    .await;
    app.cleanup().await;
}
