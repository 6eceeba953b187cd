//! quire on a Redis Cluster that takes only TLS (`rediss+cluster://`): API and worker
//! processes that trust the cluster's CA through `SSL_CERT_FILE` build runs through it;
//! a worker that does not trust it refuses to start and says why.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::cluster::harness::Cluster;
use crate::helpers::{Backend, body, spawn_app};

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn runs_complete_through_a_tls_cluster_whose_ca_is_trusted_and_an_untrusted_one_is_refused() {
    let cluster = Cluster::start_tls();
    let mut app = spawn_app(Backend::Postgres, &[]).await;
    app.env.push(("REDIS_URL".into(), cluster.url()));

    let refused = tokio::time::timeout(LIMIT, app.quire(&["work"]).output())
        .await
        .expect("an untrusted cluster is refused promptly")
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot reach Redis at REDIS_URL rediss+cluster://")
            && stderr.contains("certificate"),
        "{stderr}"
    );

    let ca_file = cluster
        .tls()
        .unwrap()
        .ca_file
        .to_string_lossy()
        .into_owned();
    app.env.push(("SSL_CERT_FILE".into(), ca_file));
    let server = app.spawn_server(&["serve"]).await;
    let _worker = app.spawn_quire(&["work", "--queues", "reports"]);
    let mut ids = Vec::new();
    for period in ["this_month", "last_month", "last_quarter"] {
        let request = body("invoices", json!({ "period": period }));
        let (status, run) = app
            .post_report_to(&server.base_url, &app.acme_key, &request, None)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{run}");
        ids.push(run["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        let run = app.completed_run(id, LIMIT).await;
        assert!(run.file.is_some(), "{run:?}");
    }
    app.cleanup().await;
}
