//! MariaDB beside the other databases: as the report database, with quire's own state
//! in PostgreSQL or SQLite (runs read through a user that may only SELECT, a MariaDB
//! that goes away mid-report, one that is gone when a request comes), and as quire's
//! own state, with the reports read from PostgreSQL or from a MariaDB that is gone.

use std::time::Duration;

use quire::store::{RunQuery, RunStatus};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TcpProxy, TestDb};
use crate::helpers::{Backend, body, spawn_app_reading, spawn_app_storing_through, worker_options};

const LIMIT: Duration = Duration::from_secs(60);

/// The database name of a test database's URL.
fn database_of(db: &TestDb) -> String {
    db.url().rsplit('/').next().unwrap().to_owned()
}

/// `REPORTS_DATABASE_URL` is only ever read: `quire run` builds a report out of MariaDB
/// through a user granted nothing but SELECT, who is shown unable to write, and the
/// report database holds no table of quire's afterwards.
#[tokio::test]
async fn a_run_reads_mariadb_through_a_user_that_can_only_select() {
    let reports = TestDb::mysql().await;
    let database = database_of(&reports);
    let user = format!(
        "quire_reader_{}",
        &uuid::Uuid::now_v7().simple().to_string()[..16]
    );
    reports
        .run_script(&format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY 'only-select';\n\
             GRANT SELECT ON `{database}`.* TO '{user}'@'%';\n"
        ))
        .await;
    let reader = format!("mysql://{user}:only-select@127.0.0.1:3306/{database}");
    let tables_before = reports.tables().await;
    let mut app = spawn_app_reading(Backend::Postgres, reports, &reader, &[]).await;

    let mut server = app.spawn_server(&["run"]).await;
    let run = app.completed_through(&server, "clients", LIMIT).await;
    // The fixture gives acme three clients.
    assert_eq!(run.file.map(|file| file.rows), Some(3));
    assert_eq!(server.terminate().await, 0);

    let as_reader = quire::db::Db::connect(&reader, 1).await.unwrap();
    let refused = quire::on_any_pool!(&as_reader, pool => {
        sqlx::query("DELETE FROM clients").execute(pool).await.map(drop)
    })
    .expect_err("a SELECT-only user cannot delete");
    assert!(refused.to_string().contains("command denied"), "{refused}");
    as_reader.close().await;
    let reports = app
        .reports_db
        .take()
        .expect("the app reads its own report database");
    assert_eq!(reports.tables().await, tables_before, "nothing was created");
    assert_eq!(reports.scalar("SELECT COUNT(*) FROM clients").await, 4);
    reports.run_script(&format!("DROP USER '{user}'@'%'")).await;
    app.cleanup().await;
}

/// A report over a server-generated sequence that sleeps on every row while the gate
/// of its tenant is closed: slow enough to be cut mid-stream, fast once opened.
const GATED_NUMBERS: &str = r#"
name = "gated_numbers"
title = "Gated numbers"
overlap = "none"
sql = """
SELECT seq AS n FROM seq_1_to_5000
JOIN gate ON gate.tenant_id = :tenant
WHERE IF(gate.slow = 1, SLEEP(0.001), 0) = 0
"""
[[columns]]
name = "n"
type = "integer"
"#;

#[tokio::test]
async fn a_mariadb_lost_mid_report_hands_the_attempt_back_and_the_run_completes() {
    let reports = TestDb::mysql().await;
    reports
        .run_script("CREATE TABLE gate (tenant_id BIGINT PRIMARY KEY, slow INT NOT NULL)")
        .await;
    let proxy = TcpProxy::start("127.0.0.1:3306").await;
    let through_proxy = proxy.route()(&reports);
    let app = spawn_app_reading(
        Backend::Sqlite,
        reports,
        &through_proxy,
        &[("gated_numbers.toml", GATED_NUMBERS)],
    )
    .await;
    let reports = app.reports_db.as_ref().unwrap();
    // acme is tenant 1 of the fixture.
    reports.run_script("INSERT INTO gate VALUES (1, 1)").await;
    let _worker = app.start_worker(worker_options());

    let id = app.running_with_progress("gated_numbers", LIMIT).await;
    proxy.cut();
    reports.run_script("UPDATE gate SET slow = 0").await;

    let run = app.finished_run(&id, LIMIT).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.attempts, 1, "the lost connection spent no attempt");
    let stats = app.runs.queue.counts().await.unwrap().stats;
    assert!(
        stats.get("deferred").copied().unwrap_or(0) >= 1,
        "handed back: {stats:?}"
    );
    let file = run.file.expect("the run has its file");
    assert_eq!(file.rows, 5000);
    // Only the retry's whole file was published: the cut attempt left nothing.
    let stored = app.stored_files();
    assert_eq!(stored.len(), 1, "{stored:?}");
    let csv = std::fs::read_to_string(&stored[0]).unwrap();
    assert_eq!(csv.lines().count(), 5001);
    assert_eq!(csv.lines().last(), Some("5000"));
    app.cleanup().await;
}

#[tokio::test]
async fn a_request_while_mariadb_is_gone_answers_503_and_keeps_no_run() {
    let reports = TestDb::mysql().await;
    let mut proxy = TcpProxy::start("127.0.0.1:3306").await;
    let through_proxy = proxy.route()(&reports);
    let app = spawn_app_reading(Backend::Sqlite, reports, &through_proxy, &[]).await;
    proxy.refuse().await;

    // globex has not been looked up yet, so the request needs the report database.
    let for_globex = json!({ "tenant": "globex", "report": "clients", "format": "csv" });
    let (status, answer) = app.post_report(&app.admin_key, &for_globex, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "unavailable", "{answer}");
    let page = app
        .runs
        .store
        .list_runs(&RunQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.runs.is_empty(), "no run was written");
    assert!(app.stored_files().is_empty());
    app.cleanup().await;
}

#[tokio::test]
async fn a_run_kept_in_mariadb_reads_its_report_from_postgresql() {
    let reports = TestDb::postgres().await;
    let url = reports.url().to_owned();
    let app = spawn_app_reading(Backend::Mysql, reports, &url, &[]).await;
    let _worker = app.start_worker(worker_options());
    let (status, answer) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let run = app
        .finished_run(answer["id"].as_str().unwrap(), LIMIT)
        .await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.file.map(|file| file.rows), Some(3));
    let completed = "SELECT COUNT(*) FROM quire_runs WHERE status = 'completed'";
    assert_eq!(
        app.db.scalar(completed).await,
        1,
        "the run is kept in MariaDB"
    );
    let reports = app.reports_db.as_ref().unwrap();
    assert_eq!(
        reports.scalar("SELECT COUNT(*) FROM quire_runs").await,
        0,
        "and not in the report database"
    );
    app.cleanup().await;
}

/// quire's own MariaDB gone when a request comes: 503 with the error JSON, and once
/// it is back no run, token or idempotency key was half-written.
#[tokio::test]
async fn a_request_while_the_state_mariadb_is_gone_answers_503_and_writes_nothing() {
    let mut proxy = TcpProxy::start("127.0.0.1:3306").await;
    let app = spawn_app_storing_through(Backend::Mysql, proxy.route(), &[]).await;
    proxy.refuse().await;

    let (status, answer) = app
        .post_report(
            &app.acme_key,
            &body("clients", json!({})),
            Some("while-mariadb-is-gone"),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "unavailable", "{answer}");
    assert_eq!(app.enqueue_rows().await, [0; 3], "no run, token or key");
    assert_eq!(app.runs.queue.counts().await.unwrap().ready, 0, "no job");
    app.cleanup().await;
}

/// Padded rows, so that MariaDB, which sends a result in 16 KiB packets, sends some
/// every few hundred rows while the sleeps run.
const PADDED_ROWS: &str = r#"
name = "padded_rows"
title = "Padded rows"
sql = "SELECT LPAD(seq, 40, '0') AS n FROM seq_1_to_3000 WHERE SLEEP(0.001) = 0 AND :tenant > 0"
columns = [{ name = "n", type = "text" }]
"#;

/// Every connection to quire's own MariaDB cut while a worker builds a run: the run
/// still completes once, with one whole file, and nothing else is published.
#[tokio::test]
async fn the_state_mariadb_cut_mid_run_loses_no_run_and_publishes_one_whole_file() {
    let proxy = TcpProxy::start("127.0.0.1:3306").await;
    let app = spawn_app_storing_through(
        Backend::Mysql,
        proxy.route(),
        &[("padded_rows.toml", PADDED_ROWS)],
    )
    .await;
    let _worker = app.start_worker(worker_options());
    let id = app.running_with_progress("padded_rows", LIMIT).await;
    proxy.cut();

    // Read through the test's own connection: the app's pool is the one that was cut.
    let run = app.finished_run(&id, LIMIT).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let file = run.file.expect("the run has its file");
    assert_eq!(file.rows, 3000);
    let stored = app.stored_files();
    assert_eq!(stored, [std::path::PathBuf::from(&file.path)], "one file");
    let csv = std::fs::read_to_string(&stored[0]).unwrap();
    assert_eq!(csv.lines().count(), 3001);
    assert_eq!(csv.lines().last(), Some(format!("{:0>40}", 3000).as_str()));
    app.cleanup().await;
}

/// quire's own MariaDB sessions read committed data, as PostgreSQL's do; report
/// sessions keep the server's level and are read-only.
#[tokio::test]
async fn quire_reads_committed_in_its_own_mariadb_sessions_and_reports_read_only() {
    let db = TestDb::mysql().await;
    let session = "SELECT @@SESSION.tx_isolation, @@SESSION.tx_read_only, @@GLOBAL.tx_isolation";
    let store = quire::db::Db::connect(db.url(), 1).await.unwrap();
    let reports = quire::db::Db::connect_reports(db.url(), 1).await.unwrap();
    let read = |db: &quire::db::Db| {
        let quire::db::Db::Mysql(pool) = db.clone() else {
            unreachable!("a mysql:// URL opens MySQL")
        };
        async move {
            let row: (String, i64, String) =
                sqlx::query_as(session).fetch_one(&pool).await.unwrap();
            row
        }
    };
    let (isolation, read_only, _) = read(&store).await;
    assert_eq!((isolation.as_str(), read_only), ("READ-COMMITTED", 0));
    let (isolation, read_only, server_default) = read(&reports).await;
    assert_eq!((isolation, read_only), (server_default, 1));
    store.close().await;
    reports.close().await;
}
