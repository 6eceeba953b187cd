//! What the API lets one caller do: enqueues per key (token bucket in Redis, 429 with
//! Retry-After), queued runs per tenant (422 `too_many_queued`), and how long a
//! request may take (a stalled body answers 408). Each refusal leaves nothing behind.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{Backend, body, spawn_app};

#[tokio::test]
async fn an_api_key_past_its_enqueue_rate_gets_429_with_retry_after_and_others_do_not() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let mut server = app.spawn_server(&["serve", "--rate-limit", "3/h"]).await;
    let post = |key: &str, report: &str| {
        app.http
            .post(format!("{}/v1/reports", server.base_url))
            .bearer_auth(key)
            .json(&body(report, json!({})))
            .send()
    };
    for report in ["clients", "products", "clients"] {
        let status = post(&app.acme_key, report).await.unwrap().status();
        assert!(status.is_success(), "{report}: {status}");
    }
    let before = app.enqueue_rows().await;
    let refused = post(&app.acme_key, "invoices").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // One token of three an hour comes back within 20 minutes.
    assert!((1..=1200).contains(&retry_after), "{retry_after}");
    let answer: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "rate_limited", "{answer}");
    assert_eq!(
        app.enqueue_rows().await,
        before,
        "a refused request adds no row"
    );

    let other = post(&app.admin_key, "invoices").await.unwrap();
    assert_eq!(
        other.status(),
        StatusCode::ACCEPTED,
        "the bucket is per key"
    );
    server.kill().await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_tenant_at_its_queued_cap_gets_422_and_a_duplicate_still_gets_its_run() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let mut server = app
        .spawn_server(&["serve", "--max-queued-per-tenant", "2"])
        .await;
    let base_url = server.base_url.clone();
    let post = async |report: &str| {
        let request = body(report, json!({}));
        app.post_report_to(&base_url, &app.acme_key, &request, None)
            .await
    };
    assert_eq!(post("clients").await.0, StatusCode::ACCEPTED);
    assert_eq!(post("products").await.0, StatusCode::ACCEPTED);
    let before = app.enqueue_rows().await;
    let (status, answer) = post("invoices").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["code"], "too_many_queued", "{answer}");
    assert_eq!(answer["error"]["details"]["limit"], 2, "{answer}");
    assert_eq!(
        app.enqueue_rows().await,
        before,
        "the refused run was removed"
    );
    let counts = app.runs.queue.counts().await.unwrap();
    assert_eq!(counts.ready, 2, "no job was pushed for it");

    let (status, again) = post("clients").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an identical request is answered: {again}"
    );
    assert_eq!(again["deduplicated"], true);
    server.kill().await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_request_body_that_stalls_answers_408_and_enqueues_nothing() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let mut server = app
        .spawn_server(&["serve", "--request-timeout", "2s"])
        .await;
    let address = server.base_url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /v1/reports HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"tenant\":",
        app.acme_key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The rest of the body never comes; the server answers on its own.
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers a stalled body and closes")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    assert_eq!(app.enqueue_rows().await, [0, 0, 0]);
    server.kill().await;
    app.cleanup().await;
}
