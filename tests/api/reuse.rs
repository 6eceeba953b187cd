//! Reuse windows: an identical request shortly after a run completed is answered with
//! that run (200, deduplicated and reused) instead of building the file again, but
//! never with a file that expired or was deleted.

use std::time::Duration;

use quire::store::RunStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::on_databases;
use crate::helpers::{Backend, TestApp, body, spawn_app, worker_options};

const LIMIT: Duration = Duration::from_secs(20);

/// A `clients` request of acme that may reuse a run completed within `window`.
fn reusing(window: &str) -> Value {
    let mut request = body("clients", json!({}));
    request["reuse_for"] = json!(window);
    request
}

/// Posts `request`, expecting a new run, and waits until it completed; returns its id.
async fn completed(app: &TestApp, request: &Value) -> String {
    let (status, answer) = app.post_report(&app.acme_key, request, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["reused"], false);
    let id = answer["id"].as_str().unwrap().to_owned();
    let run = app.finished_run(&id, LIMIT).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    id
}

async fn a_request_within_its_window_is_answered_with_the_completed_run(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let _worker = app.start_worker(worker_options());
    let first = completed(&app, &reusing("10m")).await;

    let (status, answer) = app.post_report(&app.acme_key, &reusing("10m"), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["id"], first.as_str());
    assert_eq!(
        (answer["deduplicated"].as_bool(), answer["reused"].as_bool()),
        (Some(true), Some(true))
    );
    // Its fresh download link serves the file that was built once.
    let file = app
        .http
        .get(answer["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(app.stored_files().len(), 1);

    // Without a window (the report has none) or with a zero one, it is built again.
    let second = completed(&app, &body("clients", json!({}))).await;
    let third = completed(&app, &reusing("0s")).await;
    assert!(first != second && second != third);
    // The newest completed run is the one reused.
    let (_, answer) = app.post_report(&app.acme_key, &reusing("1h"), None).await;
    assert_eq!(answer["id"], third.as_str());
    app.cleanup().await;
}

on_databases!([Sqlite, Postgres, Mysql] a_request_within_its_window_is_answered_with_the_completed_run);

#[tokio::test]
async fn the_window_never_serves_a_deleted_or_expired_file() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let _worker = app.start_worker(worker_options());
    let first = completed(&app, &reusing("10m")).await;
    let path = app.run(&first).await.file.unwrap().path;
    std::fs::remove_file(&path).unwrap();
    let second = completed(&app, &reusing("10m")).await;
    assert_ne!(first, second, "a file deleted from disk is not served");

    app.db
        .run_script(&format!(
            "UPDATE quire_runs SET expires_at = 1 WHERE id = '{second}'"
        ))
        .await;
    let third = completed(&app, &reusing("10m")).await;
    assert_ne!(second, third, "an expired file is not served");
    app.cleanup().await;
}

#[tokio::test]
async fn a_run_that_completed_before_the_window_is_not_reused() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let _worker = app.start_worker(worker_options());
    let first = completed(&app, &reusing("10m")).await;
    let finished = app.run(&first).await.finished_at.unwrap();
    // The window is 50 ms: wait until the clock is past it, as the store reads it.
    crate::common::wait_until(LIMIT, "50 ms pass after the run finished", || async {
        chrono::Utc::now().timestamp_millis() > finished + 50
    })
    .await;
    let second = completed(&app, &reusing("50ms")).await;
    assert_ne!(first, second);
    app.cleanup().await;
}

const REUSABLE: &str = r#"
name = "reusable_clients"
title = "Clients, reused for an hour"
reuse_for = "1h"
sql = "SELECT name FROM clients WHERE tenant_id = :tenant ORDER BY name"
columns = [{ name = "name", type = "text" }]
"#;

#[tokio::test]
async fn a_reports_own_window_applies_unless_the_request_gives_one() {
    let app = spawn_app(Backend::Sqlite, &[("reusable.toml", REUSABLE)]).await;
    let _worker = app.start_worker(worker_options());
    let request = body("reusable_clients", json!({}));
    let first = completed(&app, &request).await;
    let (status, answer) = app.post_report(&app.acme_key, &request, None).await;
    assert_eq!(
        (status, answer["id"].as_str()),
        (StatusCode::OK, Some(first.as_str()))
    );
    assert_eq!(answer["reused"], true);

    let mut never = request.clone();
    never["reuse_for"] = json!("0s");
    assert_ne!(completed(&app, &never).await, first);
    app.cleanup().await;
}

#[tokio::test]
async fn an_idempotency_key_replayed_after_a_reuse_answers_the_same_run() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let _worker = app.start_worker(worker_options());
    let first = completed(&app, &reusing("10m")).await;
    for _ in 0..2 {
        let (status, answer) = app
            .post_report(&app.acme_key, &reusing("10m"), Some("month-end-1"))
            .await;
        assert_eq!(
            (status, answer["id"].as_str()),
            (StatusCode::OK, Some(first.as_str()))
        );
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_window_that_is_not_a_duration_is_refused_and_nothing_is_kept() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let (status, answer) = app.post_report(&app.acme_key, &reusing("soon"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let fields = &answer["error"]["details"]["fields"];
    assert_eq!(
        fields,
        &json!([{
            "field": "reuse_for",
            "message": "\"soon\" is not a duration like 90s, 10m or 1h",
        }]),
        "{answer}"
    );
    assert_eq!(app.enqueue_rows().await, [0, 0, 0]);
    app.cleanup().await;
}
