//! Guarantees that only hold across real processes: deduplication between two API
//! servers, a worker SIGKILLed in the middle of a report, and one SIGSTOPped while
//! Redis loses its data.

use std::time::Duration;

use quire::runs::Sweeper;
use quire::storage::TEMP_PREFIX;
use quire::store::{RunQuery, RunStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::on_databases;
use crate::common::{POSTGRES_SERVER_URL, eventually, wait_until};
use crate::helpers::{Backend, QuireProcess, TestApp, body, spawn_app, worker_options};

const LIMIT: Duration = Duration::from_secs(60);
const POSTS: usize = 100;

/// Everything the run's file should be: its rows, on disk with the recorded hash, and
/// the only file left once a sweep with no grace has removed the rest.
pub(crate) async fn assert_one_whole_file(app: &TestApp, run: &quire::store::Run) {
    let file = run.file.as_ref().expect("a completed run has a file");
    assert_eq!(file.rows, 2000);
    let on_disk = std::fs::read(&file.path).unwrap();
    assert_eq!(sha256_hex(&on_disk), file.sha256);
    let mut sweeper = Sweeper::new(app.runs.clone());
    sweeper.orphan_grace = Duration::ZERO;
    sweeper.sweep_once().await.unwrap();
    assert_eq!(
        app.stored_files(),
        [std::path::PathBuf::from(&file.path)],
        "only the run's own file remains"
    );
}

/// Sends the same POST `POSTS` times at once, alternating between `servers`.
async fn post_concurrently(
    app: &TestApp,
    servers: &[QuireProcess],
    request: &Value,
    idempotency_key: Option<&str>,
) -> Vec<(StatusCode, Value)> {
    let posts = (0..POSTS).map(|i| {
        let server = &servers[i % servers.len()];
        app.post_report_to(&server.base_url, &app.acme_key, request, idempotency_key)
    });
    futures::future::join_all(posts).await
}

/// Asserts that the answers name one run, created by exactly one of them, and that
/// both servers answered; returns the run's id.
fn assert_one_run_created(servers: &[QuireProcess], answers: &[(StatusCode, Value)]) -> String {
    let id = &answers[0].1["id"];
    for (status, answer) in answers {
        assert!(
            [StatusCode::OK, StatusCode::ACCEPTED].contains(status),
            "{status} {answer}"
        );
        assert_eq!(&answer["id"], id, "{answer}");
    }
    let created: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::ACCEPTED)
        .collect();
    assert_eq!(created.len(), 1, "exactly one 202");
    assert_eq!(created[0].1["deduplicated"], false);
    let deduplicated = answers
        .iter()
        .filter(|(status, answer)| *status == StatusCode::OK && answer["deduplicated"] == true)
        .count();
    assert_eq!(
        deduplicated,
        POSTS - 1,
        "every other answer is a 200 replay"
    );
    // Each server links to itself, so the download URLs tell who answered.
    for server in servers {
        let answered = answers
            .iter()
            .filter(|(_, answer)| {
                answer["download_url"]
                    .as_str()
                    .is_some_and(|url| url.starts_with(&server.base_url))
            })
            .count();
        assert_eq!(answered, POSTS / servers.len(), "{}", server.base_url);
    }
    id.as_str().unwrap().to_owned()
}

/// How many rows `runs` holds for `report`.
async fn runs_of(app: &TestApp, report: &str) -> usize {
    let query = RunQuery {
        report: Some(report.to_owned()),
        limit: 200,
        ..RunQuery::default()
    };
    app.runs.store.list_runs(&query).await.unwrap().runs.len()
}

async fn a_hundred_posts_over_two_servers_make_one_run_with_or_without_a_key(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let (first, second) = tokio::join!(app.spawn_server(&["serve"]), app.spawn_server(&["serve"]));
    let servers = [first, second];

    let clients = body("clients", json!({}));
    let answers = post_concurrently(&app, &servers, &clients, None).await;
    let by_identity = assert_one_run_created(&servers, &answers);
    assert_eq!(runs_of(&app, "clients").await, 1);

    let products = body("products", json!({}));
    let answers = post_concurrently(&app, &servers, &products, Some("order-42")).await;
    let by_key = assert_one_run_created(&servers, &answers);
    assert_eq!(runs_of(&app, "products").await, 1);

    // The key is bound to its first body, even when the other body names a queued run.
    for server in &servers {
        let (status, answer) = app
            .post_report_to(&server.base_url, &app.acme_key, &clients, Some("order-42"))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert_eq!(answer["error"]["code"], "idempotency_conflict");
    }
    assert_eq!(
        runs_of(&app, "clients").await,
        1,
        "a conflict creates nothing"
    );

    let counts = app.runs.queue.counts().await.unwrap();
    assert_eq!(counts.ready, 2, "one job per run");
    for id in [&by_identity, &by_key] {
        assert!(app.runs.queue.job(id).await.unwrap().is_some(), "job {id}");
    }
    for mut server in servers {
        server.kill().await;
    }
    app.cleanup().await;
}

on_databases!([Postgres, Mysql] a_hundred_posts_over_two_servers_make_one_run_with_or_without_a_key);

/// Streams 2,000 rows: the first batch at once, so a partial file exists early, the
/// rest a few milliseconds apiece, so an attempt lasts several seconds.
pub(crate) const STREAMING: &str = r#"
name = "streaming_rows"
title = "Streaming rows"
max_attempts = 3
sql = """
SELECT t.slug || '-' || n AS label
FROM tenants t, generate_series(1, 2000) AS n
WHERE t.id = :tenant
  AND EXISTS (SELECT FROM pg_sleep(CASE WHEN n > 1100 THEN 0.004 ELSE 0 END))
"""
# Labels padded so that MariaDB, which sends rows in 16 KiB packets, sends some of the
# first 1,100 before the sleeps begin.
sql_mysql = """
SELECT CONCAT(t.slug, '-', LPAD(seq, 32, '0')) AS label
FROM tenants t, seq_1_to_2000
WHERE t.id = :tenant AND SLEEP(CASE WHEN seq > 1100 THEN 0.004 ELSE 0 END) = 0
"""
columns = [{ name = "label", type = "text" }]
"#;

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn a_killed_workers_run_completes_on_attempt_two_with_one_file_and_no_partial_download(
    backend: Backend,
) {
    let app = spawn_app(backend, &[("streaming.toml", STREAMING)]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("streaming_rows", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap();
    let download = run["download_url"].as_str().unwrap();
    let (shared, http) = (&app, &app.http);
    // While the run is unfinished its download URL answers 202, never with bytes.
    let assert_not_served = || async move {
        let response = http.get(download).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED, "no partial file");
    };

    let mut worker = app.spawn_quire(&["work", "--lease", "1s", "--queues", "reports"]);
    eventually(LIMIT, "the first attempt has written rows", || async move {
        let run = shared.run(id).await;
        (run.status == RunStatus::Running && run.progress_rows > 0).then_some(())
    })
    .await;
    assert_not_served().await;
    worker.kill().await;
    let leftovers = app.stored_files();
    assert!(
        leftovers.iter().any(|p| p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(TEMP_PREFIX)),
        "the killed attempt left its temporary file: {leftovers:?}"
    );
    assert_not_served().await;

    let _worker = app.start_worker(worker_options());
    let run = eventually(LIMIT, "the run finishes", || async move {
        // The download before the run: read the other way round, the run could finish
        // in between and a correct 200 would look like a partial file served.
        let served = http.get(download).send().await.unwrap().status();
        let run = shared.run(id).await;
        if !run.status.is_finished() {
            assert_eq!(served, StatusCode::ACCEPTED, "no partial file");
        }
        Some(run).filter(|run| run.status.is_finished())
    })
    .await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.attempts, 2);
    let served = app.http.get(download).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    let sha256 = &run.file.as_ref().unwrap().sha256;
    assert_eq!(&sha256_hex(&served.bytes().await.unwrap()), sha256);
    assert_one_whole_file(&app, &run).await;
    app.cleanup().await;
}

on_databases!([Postgres, Mysql] a_killed_workers_run_completes_on_attempt_two_with_one_file_and_no_partial_download);

/// The benchmark's noop kind may append to a file its payload names: a production
/// worker must not serve it.
#[tokio::test]
async fn quire_work_buries_a_noop_job_instead_of_running_it() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let record = app.db.dir().join("noop-records.txt");
    let job = quire::queue::Job::new(
        "stray-noop",
        quire::bench::NOOP_KIND,
        json!({ "record": record }),
    );
    assert!(app.runs.queue.push(&job).await.unwrap());
    let mut worker = app.spawn_quire(&["work", "--queues", "default"]);
    let queue = &app.runs.queue;
    let dead = eventually(LIMIT, "the noop job is dead", || async move {
        let record = queue.job("stray-noop").await.unwrap()?;
        (record.state == Some(quire::queue::JobState::Dead)).then_some(record)
    })
    .await;
    assert!(
        dead.error
            .as_deref()
            .is_some_and(|reason| reason.contains("no handler")),
        "{:?}",
        dead.error
    );
    assert!(!record.exists(), "the noop handler never ran");
    assert_eq!(worker.terminate().await, 0);
    app.cleanup().await;
}

/// `REPORTS_DATABASE_URL` is only ever read: `quire run` builds a report through a role
/// that may do nothing but `SELECT`, and that role is shown unable to write.
#[tokio::test]
async fn a_run_completes_when_the_report_database_role_can_only_select() {
    let mut app = spawn_app(Backend::Postgres, &[]).await;
    let database = app.db.url().rsplit('/').next().unwrap().to_owned();
    let role = format!("quire_reader_{}", uuid::Uuid::now_v7().simple());
    app.db
        .run_script(&format!(
            "CREATE ROLE {role} LOGIN;\n\
             GRANT CONNECT ON DATABASE {database} TO {role};\n\
             GRANT USAGE ON SCHEMA public TO {role};\n\
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};\n"
        ))
        .await;
    let reader = format!(
        "{}/{database}",
        POSTGRES_SERVER_URL.replace("postgres@", &format!("{role}@"))
    );
    app.reports_url = Some(reader.clone());

    let mut server = app.spawn_server(&["run"]).await;
    let run = app.completed_through(&server, "clients", LIMIT).await;
    assert!(run.file.is_some_and(|file| file.rows > 0));
    assert_eq!(server.terminate().await, 0);

    // The role the reports were read through cannot write, so nothing was written.
    let as_reader = quire::db::Db::connect(&reader, 1).await.unwrap();
    let quire::db::Db::Postgres(pool) = &as_reader else {
        unreachable!("a postgres:// URL opens PostgreSQL")
    };
    let refused = sqlx::query("DELETE FROM clients")
        .execute(pool)
        .await
        .expect_err("a SELECT-only role cannot delete");
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );
    as_reader.close().await;
    app.db
        .run_script(&format!("DROP OWNED BY {role};\nDROP ROLE {role};\n"))
        .await;
    app.cleanup().await;
}

/// Worker A is stalled mid-report (SIGSTOP) while Redis dies and comes back empty; the
/// sweep pushes the run again and worker B builds it. Redis's token sequence restarted,
/// so without the run's fence carried into the new job B would get A's token again and
/// both attempts would hold the run. With it, B's token is newer: when A resumes, its
/// lease renewal and its writes are refused, and the run completes once, by B.
async fn a_worker_stalled_while_redis_lost_its_data_cannot_write_when_it_resumes(backend: Backend) {
    let mut redis = crate::common::RedisServer::start().await;
    let app =
        crate::helpers::spawn_app_on(&redis.url(), backend, &[("streaming.toml", STREAMING)]).await;
    let (_, run) = app
        .post_report(&app.acme_key, &body("streaming_rows", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap();
    let shared = &app;

    let stalled = app.spawn_quire(&["work", "--lease", "1s", "--queues", "reports"]);
    let first = eventually(LIMIT, "worker A has written rows", || async move {
        let run = shared.run(id).await;
        (run.status == RunStatus::Running && run.progress_rows > 0).then_some(run)
    })
    .await;
    stalled.signal("STOP");
    redis.restart_empty().await;
    assert!(
        app.runs.queue.job(id).await.unwrap().is_none(),
        "Redis came back empty"
    );
    let swept = Sweeper::new(app.runs.clone()).sweep_once().await.unwrap();
    assert_eq!(swept.requeued, 1, "the sweep pushes the run again");

    let _worker = app.start_worker(worker_options());
    let stale_fence = first.fence.clone();
    eventually(LIMIT, "worker B has taken the run over", || {
        let stale_fence = stale_fence.clone();
        async move {
            let run = shared.run(id).await;
            (run.status == RunStatus::Running && run.fence != stale_fence).then_some(())
        }
    })
    .await;
    stalled.signal("CONT");
    let stalled = &stalled;
    // Its lease renewal or its progress check, whichever runs first, stops it; its
    // outcome is then refused by Redis.
    eventually(LIMIT, "worker A stands down", || async move {
        let log = stalled.log();
        (log.contains("the lease could not be renewed")
            || log.contains("the attempt's outcome was not committed"))
        .then_some(())
    })
    .await;
    let run = app.finished_run(id, LIMIT).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.attempts, 2, "attempts shown are attempts made");
    assert_ne!(run.fence, first.fence);
    // The database refuses a token it has seen, so B would get the run in the end even
    // with A's token, after handing it back; the pushed history spares it that.
    let stats = app.runs.queue.counts().await.unwrap().stats;
    assert_eq!(
        stats.get("deferred"),
        None,
        "B started at its first reservation"
    );
    assert!(
        !app.runs
            .store
            .record_progress(id, first.fence.as_deref().unwrap(), 1)
            .await
            .unwrap(),
        "A's token is fenced out"
    );
    assert_one_whole_file(&app, &run).await;
    app.cleanup().await;
}

on_databases!([Postgres] a_worker_stalled_while_redis_lost_its_data_cannot_write_when_it_resumes);

/// The JSON log lines of `process` whose message is `message` and whose `what` is
/// `what`.
fn log_lines(process: &QuireProcess, message: &str, what: &str) -> usize {
    process
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == message && line["fields"]["what"] == what)
        .count()
}

/// Redis going away while `quire work` waits for jobs is one warning when it goes and
/// one line when it is back, however many retries lie between; then work goes on.
#[tokio::test]
async fn a_redis_outage_is_logged_once_by_the_worker_loops_not_per_retry() {
    let mut redis = crate::common::RedisServer::start().await;
    let app = crate::helpers::spawn_app_on(&redis.url(), Backend::Sqlite, &[]).await;
    let worker = app.spawn_quire(&["work", "--queues", "reports", "--log-format", "json"]);
    let worker_ref = &worker;
    wait_until(LIMIT, "the worker started", || async move {
        worker_ref.log().contains("worker started")
    })
    .await;
    // A list is a JSON array in JSON logs, not the text of one.
    let started = worker
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == "worker started")
        .unwrap();
    assert_eq!(started["fields"]["queues"], json!(["reports"]), "{started}");

    redis.pause();
    wait_until(LIMIT, "the reserve loop retried three times", || async move {
        log_lines(worker_ref, "Redis is still unavailable", "reserving jobs") >= 3
    })
    .await;
    redis.resume().await;
    wait_until(
        LIMIT,
        "the reserve loop saw Redis come back",
        || async move { log_lines(worker_ref, "Redis is back", "reserving jobs") == 1 },
    )
    .await;
    let warned = log_lines(
        &worker,
        "Redis is unavailable; retrying until it is back",
        "reserving jobs",
    );
    assert_eq!(warned, 1, "{}", worker.log());

    let (_, run) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    let run = app.finished_run(run["id"].as_str().unwrap(), LIMIT).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    app.cleanup().await;
}

/// An operator's log: one info line per HTTP request with its route template, status
/// and latency (never the path, which holds download tokens), and one per completed
/// run with what it built.
#[tokio::test]
async fn requests_and_completed_runs_are_logged_once_each_without_tokens() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let server = app
        .spawn_server(&["run", "--queues", "reports", "--log-format", "json"])
        .await;
    let run = app.completed_through(&server, "clients", LIMIT).await;
    let (_, answer) = app
        .post_report_to(
            &server.base_url,
            &app.acme_key,
            &body("clients", json!({})),
            None,
        )
        .await;
    let download = answer["download_url"].as_str().unwrap().to_owned();
    let token = download.rsplit('/').next().unwrap().to_owned();
    let file = app.http.get(&download).send().await.unwrap();
    assert!(file.status().is_success());

    let server_ref = &server;
    wait_until(LIMIT, "the download is logged", || async move {
        server_ref.log().contains("/v1/downloads/{token}")
    })
    .await;
    let lines: Vec<Value> = server
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "request" && line["level"] == "INFO")
        .collect();
    let posted = requests
        .iter()
        .find(|line| line["span"]["route"] == "/v1/reports" && line["span"]["method"] == "POST")
        .expect("the POST is logged");
    assert_eq!(posted["fields"]["status"], 202);
    assert!(posted["fields"]["latency_ms"].as_f64().is_some());
    let completed: Vec<&Value> = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "run completed")
        .collect();
    let first = completed
        .iter()
        .find(|line| line["fields"]["run_id"] == run.id.as_str())
        .expect("the run's completion is logged");
    for field in [
        "tenant",
        "report",
        "format",
        "rows",
        "bytes",
        "duration_ms",
        "attempt",
    ] {
        assert!(!first["fields"][field].is_null(), "{field} in {first}");
    }
    assert_eq!(first["fields"]["rows"], run.file.unwrap().rows);
    let log = server.log();
    assert!(!log.contains(&token), "a download token is in the log");
    assert!(!log.contains(&app.acme_key), "an API key is in the log");
}

/// Every metric family of a scrape: name → (its `# HELP`, its `# TYPE`), checking that
/// each sample belongs to a family that has both.
fn metric_families(text: &str) -> std::collections::BTreeMap<String, (bool, String)> {
    let mut families: std::collections::BTreeMap<String, (bool, String)> = Default::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split_whitespace().next().unwrap();
            families.entry(name.to_owned()).or_default().0 = true;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap();
            families.entry(name.to_owned()).or_default().1 = words.next().unwrap().to_owned();
        } else if !line.is_empty() {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| families.get(*base).is_some_and(|f| f.1 == "histogram"))
                .unwrap_or(name);
            let (help, kind) = families
                .get(family)
                .unwrap_or_else(|| panic!("{name} has no # HELP or # TYPE before it"));
            assert!(
                *help && !kind.is_empty(),
                "{name}: HELP {help}, TYPE {kind:?}"
            );
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
    families
}

/// The value of the sample `series` (name and labels, as printed) in a scrape.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

/// `quire serve` and `quire work --metrics-bind` both answer `/metrics` in the text
/// format, every metric with its help and type, report times and sizes as histograms,
/// attempts and lock waits counted, jobs running per queue and parked, runs and webhook
/// deliveries read from the database.
#[tokio::test]
async fn the_api_and_the_worker_export_metrics_worth_scraping() {
    use crate::lifecycle::{QUICK, SLOW};
    let app = spawn_app(
        Backend::Postgres,
        &[("slow.toml", SLOW), ("quick.toml", QUICK)],
    )
    .await;
    let server = app.spawn_server(&["serve"]).await;
    let port = crate::helpers::free_port();
    let address = format!("127.0.0.1:{port}");
    let _worker = app.spawn_quire(&[
        "work",
        "--queues",
        "reports",
        "--concurrency",
        "2",
        "--metrics-bind",
        &address,
    ]);
    app.completed_through(&server, "clients", LIMIT).await;
    // The slow run's query waits for this lock on its table, so it stays running until
    // the gauges are read; the quick run waits for its tenant-wide overlap lock.
    let quire::db::Db::Postgres(pool) = &app.db.db else {
        unreachable!("a PostgreSQL app")
    };
    let mut holding = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE invoices IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *holding)
        .await
        .unwrap();
    let (_, slow) = app
        .post_report(&app.acme_key, &body("slow_invoices", json!({})), None)
        .await;
    let slow_id = slow["id"].as_str().unwrap();
    let app_ref = &app;
    wait_until(LIMIT, "the slow run is running", || async move {
        app_ref.run(slow_id).await.status == RunStatus::Running
    })
    .await;
    let (_, quick) = app
        .post_report(&app.acme_key, &body("quick_clients", json!({})), None)
        .await;
    let api_metrics = format!("{}/metrics", server.base_url);
    let http = &app.http;
    let gauges = eventually(LIMIT, "the quick run parks behind the slow one", || {
        let scraped = http.get(&api_metrics).send();
        async move {
            let text = scraped.await.ok()?.text().await.ok()?;
            (sample(&text, r#"quire_jobs{state="parked"}"#) == Some(1.0)).then_some(text)
        }
    })
    .await;
    for (series, value) in [
        (r#"quire_queue_running{queue="reports"}"#, 1.0),
        (r#"quire_queue_ready{queue="reports"}"#, 0.0),
        (r#"quire_jobs{state="delayed"}"#, 0.0),
        (r#"quire_jobs{state="dead"}"#, 0.0),
        (r#"quire_tenant_running{tenant="acme"}"#, 1.0),
    ] {
        assert_eq!(sample(&gauges, series), Some(value), "{series}\n{gauges}");
    }
    holding.rollback().await.unwrap();
    for id in [slow_id, quick["id"].as_str().unwrap()] {
        let run = app.finished_run(id, LIMIT).await;
        assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    }

    let scrape = |url: String| {
        let http = app.http.clone();
        async move { http.get(url).send().await.ok()?.text().await.ok() }
    };
    let worker_url = format!("http://{address}/metrics");
    let worker = eventually(LIMIT, "the worker's metrics show the report", || {
        let scraped = scrape(worker_url.clone());
        async move {
            scraped
                .await
                .filter(|text| text.contains("quire_report_seconds_bucket"))
        }
    })
    .await;
    let families = metric_families(&worker);
    for histogram in [
        "quire_report_seconds",
        "quire_report_rows",
        "quire_run_wait_seconds",
    ] {
        assert_eq!(families[histogram].1, "histogram", "{worker}");
    }
    assert!(
        worker.contains(r#"report="clients",format="csv""#),
        "{worker}"
    );
    assert_eq!(families["quire_queue_ready"].1, "gauge");
    assert_eq!(
        sample(&worker, "quire_workers_alive"),
        Some(1.0),
        "{worker}"
    );
    // Every attempt, the first job's too: the recorder is in place before the worker
    // starts (a scrape once missed the first job's start when it was not).
    assert_eq!(
        sample(&worker, r#"quire_job_attempts_total{kind="report"}"#),
        Some(3.0),
        "{worker}"
    );
    assert_eq!(
        sample(&worker, r#"quire_lock_waits_total{lock="overlap"}"#).map(|waits| waits >= 1.0),
        Some(true),
        "{worker}"
    );

    let api = scrape(format!("{}/metrics", server.base_url))
        .await
        .unwrap();
    let families = metric_families(&api);
    assert_eq!(families["quire_http_requests_total"].1, "counter");
    assert!(
        api.contains(r#"quire_http_requests_total{route="/v1/reports",status="202"} 1"#),
        "{api}"
    );
    assert_eq!(families["quire_http_request_seconds"].1, "histogram");
    for (series, value) in [
        (r#"quire_runs{status="completed"}"#, 3.0),
        (r#"quire_runs{status="queued"}"#, 0.0),
        (r#"quire_runs{status="failed"}"#, 0.0),
        (r#"quire_webhook_deliveries{state="pending"}"#, 0.0),
        (r#"quire_webhook_deliveries{state="failing"}"#, 0.0),
    ] {
        assert_eq!(sample(&api, series), Some(value), "{series}\n{api}");
    }
    assert_eq!(families["quire_runs"].1, "gauge");
    app.cleanup().await;
}
