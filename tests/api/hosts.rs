//! API and worker processes as on several hosts: each in a working folder and TMPDIR of
//! its own, sharing only the database, Redis and an S3 bucket (no folder). Runs pour in
//! through two API processes while three workers build them; one worker is SIGKILLed
//! and one restarted mid-way, and every run still ends completed exactly once, with one
//! object.

use std::time::Duration;

use futures::StreamExt as _;
use quire::store::RunStatus;
use reqwest::StatusCode;
use serde_json::json;

use quire::runs::Sweeper;

use crate::common::{S3Server, wait_until};
use crate::helpers::{Backend, QuireProcess, TestApp, body};
use crate::processes::sha256_hex;
use crate::storage::{key_of, object, objects, spawn_app_on_bucket};

const RUNS: usize = 200;
const LIMIT: Duration = Duration::from_secs(120);

/// A worker of its own host: short leases, so a killed one's runs come back soon.
fn worker(app: &TestApp, host: &tempfile::TempDir) -> QuireProcess {
    app.spawn_quire_in(
        &[
            "work",
            "--queues",
            "reports",
            "--concurrency",
            "2",
            "--lease",
            "3s",
        ],
        host.path(),
    )
}

/// How many of `ids` are completed now.
async fn completed(app: &TestApp, ids: &[String]) -> usize {
    let mut done = 0;
    for id in ids {
        if app.run(id).await.status == RunStatus::Completed {
            done += 1;
        }
    }
    done
}

#[tokio::test]
async fn runs_through_two_apis_and_three_workers_complete_once_each_despite_a_kill_and_a_restart() {
    let bucket = S3Server::start().await;
    let app = spawn_app_on_bucket(Backend::Postgres, &bucket, false, &[]).await;
    let hosts: Vec<tempfile::TempDir> = (0..6).map(|_| tempfile::tempdir().unwrap()).collect();
    let servers = [
        app.spawn_server_in(&["serve"], hosts[0].path()).await,
        app.spawn_server_in(&["serve"], hosts[1].path()).await,
    ];
    let mut workers = [
        worker(&app, &hosts[2]),
        worker(&app, &hosts[3]),
        worker(&app, &hosts[4]),
    ];

    // Distinct periods, so that no request is answered by another's run.
    let app_ref = &app;
    let first_day = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let posts = futures::stream::iter(0..RUNS)
        .map(|i| {
            let day = first_day + chrono::Days::new(i as u64);
            let request = body(
                "invoices",
                json!({ "period": "custom", "start_date": day.to_string(), "end_date": "2026-06-30" }),
            );
            let server = &servers[i % servers.len()];
            async move {
                app_ref
                    .post_report_to(&server.base_url, &app_ref.acme_key, &request, None)
                    .await
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let ids: Vec<String> = posts
        .into_iter()
        .map(|(status, answer)| {
            assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
            answer["id"].as_str().unwrap().to_owned()
        })
        .collect();

    let ids_ref = &ids;
    wait_until(LIMIT, "a quarter of the runs completed", || async move {
        completed(app_ref, ids_ref).await >= RUNS / 4
    })
    .await;
    workers[0].kill().await;
    assert_eq!(workers[1].terminate().await, 0, "{}", workers[1].log());
    workers[1] = worker(&app, &hosts[5]);

    wait_until(LIMIT, "every run completed", || async move {
        completed(app_ref, ids_ref).await == RUNS
    })
    .await;
    // One object per run, holding what its row says; once a sweep with no grace has
    // removed what no run owns, those are all the bucket holds.
    let mut keys = Vec::new();
    for id in &ids {
        let file = app.run(id).await.file.expect("a completed run has a file");
        let key = key_of(&file.path);
        assert_eq!(sha256_hex(&object(&bucket, &key)), file.sha256, "run {id}");
        keys.push(key);
    }
    keys.sort();
    let mut sweeper = Sweeper::new(app.runs.clone());
    sweeper.orphan_grace = Duration::ZERO;
    sweeper.sweep_once().await.unwrap();
    let mut left = objects(&bucket);
    left.sort();
    assert_eq!(left, keys, "only the runs' own objects remain");
    for server in &servers {
        assert!(server.log().contains("API listening"), "{}", server.log());
    }
    app.cleanup().await;
}
