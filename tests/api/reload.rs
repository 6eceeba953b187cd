//! The catalog changing under a running `quire run`, or under `quire serve` and
//! `quire work` apart: SIGHUP reloads it, a malformed file keeps the last good one, and
//! a restart broadcast restarts `quire run`'s worker in-process on a reloaded catalog
//! while the API keeps serving.

use std::time::Duration;

use serde_json::Value;

use crate::common::wait_until;
use crate::helpers::{Backend, QuireProcess, TestApp, spawn_app};

const LIMIT: Duration = Duration::from_secs(60);

/// The shipped `clients` definition under another name.
fn clients_named(name: &str) -> String {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/clients.toml");
    let text = std::fs::read_to_string(shipped).unwrap();
    assert!(text.starts_with("name = \"clients\"\n"), "{text}");
    text.replacen("name = \"clients\"", &format!("name = {name:?}"), 1)
}

/// The report names `GET /v1/report-types` of `server` lists.
async fn listed(app: &TestApp, server: &QuireProcess) -> Vec<String> {
    let url = format!("{}/v1/report-types", server.base_url);
    let answer: Value = app
        .call(reqwest::Method::GET, &app.acme_key, url)
        .await
        .json()
        .await
        .unwrap();
    answer["report_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|report| report["name"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_alive(process: &mut QuireProcess) {
    let exited = process.child.try_wait().unwrap();
    assert!(
        exited.is_none(),
        "quire exited: {exited:?}\n{}",
        process.log()
    );
}

/// Waits until `process` has logged `line`.
async fn logged(process: &QuireProcess, line: &str) {
    wait_until(LIMIT, line, || async move { process.log().contains(line) }).await;
}

#[tokio::test]
async fn quire_run_reloads_its_catalog_on_sighup_and_restarts_its_worker_in_process() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let mut server = app.spawn_server(&["run", "--queues", "reports"]).await;
    assert!(!listed(&app, &server).await.contains(&"clients_copy".into()));

    std::fs::write(
        app.reports_dir.join("copy.toml"),
        clients_named("clients_copy"),
    )
    .unwrap();
    server.signal("HUP");
    let (app_ref, server_ref) = (&app, &server);
    wait_until(LIMIT, "SIGHUP brought in the new report", || async move {
        listed(app_ref, server_ref)
            .await
            .contains(&"clients_copy".into())
    })
    .await;

    std::fs::write(app.reports_dir.join("broken.toml"), "name = \n").unwrap();
    server.signal("HUP");
    wait_until(LIMIT, "the malformed file was reported", || async move {
        server_ref
            .log()
            .contains("the report catalog did not reload")
    })
    .await;
    let kept = listed(&app, &server).await;
    assert!(kept.contains(&"clients_copy".into()), "{kept:?}");
    assert!(kept.contains(&"invoices".into()), "{kept:?}");
    assert_alive(&mut server);

    std::fs::remove_file(app.reports_dir.join("broken.toml")).unwrap();
    std::fs::write(
        app.reports_dir.join("again.toml"),
        clients_named("clients_again"),
    )
    .unwrap();
    let restart = app.quire(&["restart"]).output().await.unwrap();
    assert!(restart.status.success(), "{restart:?}");
    let server_ref = &server;
    wait_until(LIMIT, "the restart reloaded the catalog", || async move {
        server_ref.log().contains("the worker starts again")
            && listed(app_ref, server_ref)
                .await
                .contains(&"clients_again".into())
    })
    .await;
    assert_alive(&mut server);
    let run = app.completed_through(&server, "clients_again", LIMIT).await;
    assert!(run.file.unwrap().rows > 0);

    assert_eq!(server.terminate().await, 0, "{}", server.log());
    app.cleanup().await;
}

/// `quire serve` and `quire work` each reload their own catalog on SIGHUP: the API
/// takes runs of a report added since it started and the worker builds them; a
/// malformed file leaves both on their last good catalog, still serving and building.
#[tokio::test]
async fn quire_serve_and_quire_work_each_reload_their_catalog_on_sighup() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let mut server = app.spawn_server(&["serve"]).await;
    let mut worker = app.spawn_quire(&["work", "--queues", "reports"]);
    logged(&worker, "worker started").await;

    std::fs::write(
        app.reports_dir.join("copy.toml"),
        clients_named("clients_copy"),
    )
    .unwrap();
    for process in [&server, &worker] {
        process.signal("HUP");
        logged(process, "report catalog reloaded").await;
    }
    assert!(listed(&app, &server).await.contains(&"clients_copy".into()));
    let run = app.completed_through(&server, "clients_copy", LIMIT).await;
    assert!(run.file.unwrap().rows > 0);

    std::fs::write(app.reports_dir.join("broken.toml"), "name = \n").unwrap();
    for process in [&server, &worker] {
        process.signal("HUP");
        logged(process, "the report catalog did not reload").await;
    }
    assert_alive(&mut server);
    assert_alive(&mut worker);
    let kept = listed(&app, &server).await;
    assert!(kept.contains(&"clients_copy".into()), "{kept:?}");
    let (status, answer) = app
        .post_report_to(
            &server.base_url,
            &app.acme_key,
            &crate::helpers::body("clients_copy", serde_json::json!({ "columns": ["name"] })),
            None,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{answer}");
    app.completed_run(answer["id"].as_str().unwrap(), LIMIT)
        .await;

    assert_eq!(worker.terminate().await, 0, "{}", worker.log());
    assert_eq!(server.terminate().await, 0, "{}", server.log());
    app.cleanup().await;
}
