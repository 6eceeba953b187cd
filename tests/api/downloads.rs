//! Downloads: the token is the capability; the file comes with the right headers and
//! byte ranges; unfinished, failed and expired runs answer 202 and 410.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, RANGE, REFERRER_POLICY,
};
use serde_json::json;

use crate::common::on_databases;
use crate::helpers::{Backend, body, spawn_app, worker_options};

const LIMIT: Duration = Duration::from_secs(30);

/// The download at `url` answers 304 with no body to a client that names its ETag
/// (the file's SHA-256) in `If-None-Match`, among others or weakly, and sends the file
/// to one that names another.
pub(crate) async fn assert_not_modified_for_its_etag(
    http: &reqwest::Client,
    url: &str,
    sha256: &str,
) {
    let etag = format!("\"{sha256}\"");
    for named in [etag.clone(), format!("\"other\", W/{etag}")] {
        let unchanged = http
            .get(url)
            .header(IF_NONE_MATCH, &named)
            .send()
            .await
            .unwrap();
        assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED, "{named}");
        assert_eq!(unchanged.headers()[ETAG], etag.as_str());
        assert!(unchanged.bytes().await.unwrap().is_empty());
    }
    let changed = http
        .get(url)
        .header(IF_NONE_MATCH, "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert!(!changed.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_completed_run_downloads_with_its_headers_and_byte_ranges() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let (_, run) = app
        .post_report(
            &app.acme_key,
            &body("invoices", json!({ "period": "all" })),
            None,
        )
        .await;
    let url = run["download_url"].as_str().unwrap().to_owned();
    // Not built yet: 202 with the status, and never a partial file.
    let waiting = app.http.get(&url).send().await.unwrap();
    assert_eq!(waiting.status(), StatusCode::ACCEPTED);
    assert_eq!(waiting.headers()[reqwest::header::RETRY_AFTER], "1");
    assert_eq!(
        waiting.json::<serde_json::Value>().await.unwrap()["status"],
        "queued"
    );

    let _worker = app.start_worker(worker_options());
    let finished = app.finished_run(run["id"].as_str().unwrap(), LIMIT).await;
    let file = finished.file.unwrap();
    let on_disk = std::fs::read(&file.path).unwrap();

    let response = app.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(headers[CONTENT_LENGTH], on_disk.len().to_string().as_str());
    assert_eq!(headers[CACHE_CONTROL], "no-store");
    assert_eq!(headers[REFERRER_POLICY], "no-referrer");
    assert_eq!(headers[ETAG], format!("\"{}\"", file.sha256).as_str());
    let disposition = headers[CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"invoices-acme-"),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''invoices-acme-"),
        "{disposition}"
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), on_disk.as_slice());
    assert_not_modified_for_its_etag(&app.http, &url, &file.sha256).await;

    let metrics = app
        .http
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("quire_runs_enqueued_total"), "{metrics}");
    assert!(metrics.contains("quire_report_rows_total"), "{metrics}");

    let partial = app
        .http
        .get(&url)
        .header(RANGE, "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        partial.headers()[CONTENT_RANGE],
        format!("bytes 0-9/{}", on_disk.len()).as_str()
    );
    assert_eq!(partial.bytes().await.unwrap().as_ref(), &on_disk[..10]);
    app.cleanup().await;
}

async fn unknown_expired_and_unfinished_downloads_are_refused(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let get = |path: String| {
        let http = app.http.clone();
        let base = app.base_url.clone();
        async move {
            let response = http.get(format!("{base}{path}")).send().await.unwrap();
            let status = response.status();
            (
                status,
                response
                    .json::<serde_json::Value>()
                    .await
                    .unwrap_or_default(),
            )
        }
    };
    let (status, answer) = get(format!("/v1/downloads/{}", "a".repeat(64))).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_token"))
    );
    for hostile in [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "..",
        "quire.db",
    ] {
        let (status, _) = get(format!("/v1/downloads/{hostile}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{hostile}");
    }

    let (_, run) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap();
    let expired = app.runs.store.mint_token(id, 0).await.unwrap();
    let (status, answer) = get(format!("/v1/downloads/{expired}")).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::GONE, Some("token_expired"))
    );

    let cancel = app
        .call(
            reqwest::Method::DELETE,
            &app.acme_key,
            format!("{}/v1/reports/{id}", app.base_url),
        )
        .await;
    assert_eq!(cancel.status(), StatusCode::OK);
    let token = run["download_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let (status, answer) = get(format!("/v1/downloads/{token}")).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(answer["error"]["details"]["error"]["code"], "cancelled");
    app.cleanup().await;
}

on_databases!([Postgres, Mysql] unknown_expired_and_unfinished_downloads_are_refused);

#[tokio::test]
async fn a_discarded_runs_download_is_gone_with_its_reason() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("products", json!({})), None)
        .await;
    app.db
        .run_script("DELETE FROM tenants WHERE slug = 'acme'")
        .await;
    let _worker = app.start_worker(worker_options());
    app.finished_run(run["id"].as_str().unwrap(), LIMIT).await;
    let response = app
        .http
        .get(run["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::GONE);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["details"]["status"], "discarded");
    assert_eq!(
        answer["error"]["details"]["error"]["code"],
        "tenant_deleted"
    );
    app.cleanup().await;
}
