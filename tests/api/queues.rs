//! What the queues hold, per tenant: `GET /v1/queues`, `quire queues list` and the
//! gauges of `/metrics` show the same state of Redis.

use std::time::Duration;

use quire::queue::ReserveRequest;
use quire::runs::REPORT_QUEUE;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, body, spawn_app, worker_options};

#[tokio::test]
async fn the_queues_show_ready_runs_per_tenant_and_runs_building_per_tenant() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    for (tenant, period) in [
        ("acme", "this_year"),
        ("acme", "last_year"),
        ("acme", "this_month"),
        ("globex", "this_year"),
    ] {
        let request = json!({
            "tenant": tenant, "report": "invoices", "format": "csv",
            "params": { "period": period },
        });
        let (status, answer) = app.post_report(&app.admin_key, &request, None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    // One of acme's runs is taken, as a worker would.
    let queues = vec![REPORT_QUEUE.to_owned()];
    let taken = app
        .runs
        .queue
        .reserve(&ReserveRequest {
            queues: &queues,
            lease: Duration::from_secs(60),
            max: 1,
        })
        .await
        .unwrap()
        .jobs;
    assert_eq!(taken.len(), 1);

    let (status, view) = app.get(&app.admin_key, "/v1/queues").await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        view,
        json!({
            "queues": [{
                "name": "reports", "ready": 3, "tenants_waiting": 2, "paused": false,
                "running": 1,
                "top_tenants": [
                    { "tenant": "acme", "count": 2 },
                    { "tenant": "globex", "count": 1 },
                ],
            }],
            "running_by_tenant": [{ "tenant": "acme", "count": 1 }],
            "delayed": 0, "running": 1, "parked": 0, "dead": 0,
        })
    );
    let (_, top) = app.get(&app.admin_key, "/v1/queues?top=1").await;
    assert_eq!(top["queues"][0]["top_tenants"].as_array().unwrap().len(), 1);

    let output = app
        .quire(&["queues", "list", "--json"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, view, "the CLI prints the API's shape");
    let output = app.quire(&["queues", "list"]).output().await.unwrap();
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(
        table.contains("reports") && table.contains("acme"),
        "{table}"
    );

    let metrics = app
        .http
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "# TYPE quire_queue_ready_by_tenant gauge",
        r#"quire_queue_ready{queue="reports"} 3"#,
        r#"quire_queue_ready_by_tenant{queue="reports",tenant="acme"} 2"#,
        r#"quire_queue_ready_by_tenant{queue="reports",tenant="globex"} 1"#,
        r#"quire_tenant_running{tenant="acme"} 1"#,
        r#"quire_queue_running{queue="reports"} 1"#,
        r#"quire_jobs{state="parked"} 0"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
    for name in ["quire_queue_ready", "quire_tenant_running", "quire_jobs"] {
        assert!(
            metrics.contains(&format!("# HELP {name} ")),
            "{name} has no HELP"
        );
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_tenant_key_may_not_see_the_queues() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let (status, answer) = app.get(&app.acme_key, "/v1/queues").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["code"], "admin_only");
    app.cleanup().await;
}

/// An admin pauses the report queue through the API: a new run is accepted and stays
/// queued (a reserve finds nothing), `GET /v1/queues` and `quire queues list` say so,
/// a tenant's key may neither pause nor resume; resumed from the command line, the run
/// completes on its first attempt.
#[tokio::test]
async fn a_paused_queue_keeps_its_runs_queued_until_it_is_resumed() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let url = |action: &str| format!("{}/v1/queues/{REPORT_QUEUE}/{action}", app.base_url);
    let refused = app
        .call(reqwest::Method::POST, &app.acme_key, url("pause"))
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let paused = app
        .call(reqwest::Method::POST, &app.admin_key, url("pause"))
        .await;
    assert_eq!(paused.status(), StatusCode::OK);
    let paused: Value = paused.json().await.unwrap();
    assert_eq!(
        paused,
        json!({ "queue": "reports", "paused": true, "changed": true })
    );

    let (status, run) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let queues = vec![REPORT_QUEUE.to_owned()];
    let reserved = app
        .runs
        .queue
        .reserve(&ReserveRequest {
            queues: &queues,
            lease: Duration::from_secs(5),
            max: 10,
        })
        .await
        .unwrap();
    assert!(reserved.jobs.is_empty(), "a paused queue gave a job");
    let (_, view) = app.get(&app.admin_key, "/v1/queues").await;
    assert_eq!(view["queues"][0]["paused"], true, "{view}");
    assert_eq!(view["queues"][0]["ready"], 1, "{view}");
    let listed = app.quire(&["queues", "list"]).output().await.unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains("(paused)"), "{listed}");

    let refused = app
        .call(reqwest::Method::POST, &app.acme_key, url("resume"))
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let id = run["id"].as_str().unwrap();
    assert_eq!(app.run(id).await.attempts, 0);
    let _worker = app.start_worker(worker_options());
    let resumed = app
        .quire(&["queues", "resume", REPORT_QUEUE, "--json"])
        .output()
        .await
        .unwrap();
    assert!(resumed.status.success(), "{resumed:?}");
    let resumed: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(
        resumed,
        json!({ "queue": "reports", "paused": false, "changed": true })
    );
    let run = app.finished_run(id, Duration::from_secs(30)).await;
    assert_eq!(run.status, quire::store::RunStatus::Completed);
    assert_eq!(run.attempts, 1);
    app.cleanup().await;
}
