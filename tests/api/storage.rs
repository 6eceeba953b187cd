//! Report files in an S3 bucket, on a real S3-compatible server of the test's own
//! (s3s-fs over HTTP on loopback): runs upload their files, downloads stream them with
//! byte ranges or redirect to presigned URLs, failed and killed attempts leave no
//! object, and the sweep removes the objects no run owns.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use quire::runs::Sweeper;
use quire::storage::{ObjectStorage, S3Config, Storage};
use quire::store::RunStatus;
use reqwest::StatusCode;
use reqwest::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    LOCATION, RANGE,
};
use serde_json::json;

use crate::common::{S3_ACCESS_KEY, S3_SECRET_KEY, S3Server, eventually};
use crate::downloads::assert_not_modified_for_its_etag;
use crate::helpers::{Backend, TestApp, body, spawn_app_storing_in, worker_options};
use crate::lifecycle::QUICK;
use crate::processes::{STREAMING, sha256_hex};

const LIMIT: Duration = Duration::from_secs(30);
const BUCKET: &str = "reports";
const PREFIX: &str = "quire/files";

/// The bucket of `server` under [`PREFIX`], as the settings would name it.
fn config(server: &S3Server, presigned_downloads: bool) -> S3Config {
    S3Config {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        endpoint: Some(server.endpoint()),
        region: "us-east-1".into(),
        access_key_id: Some(S3_ACCESS_KEY.into()),
        secret_access_key: Some(S3_SECRET_KEY.into()),
        presigned_downloads,
    }
}

/// An app whose files go to a new bucket of `server`.
pub(crate) async fn spawn_app_on_bucket(
    backend: Backend,
    server: &S3Server,
    presigned_downloads: bool,
    extra_reports: &[(&str, &str)],
) -> TestApp {
    server.create_bucket(BUCKET);
    let config = config(server, presigned_downloads);
    let storage = move |scratch: &Path| {
        Storage::Bucket(ObjectStorage::new(&config, scratch.to_owned()).unwrap())
    };
    let mut app = spawn_app_storing_in(backend, storage, extra_reports).await;
    // The processes it starts store their files in the bucket too.
    app.env = vec![
        (
            "QUIRE_STORAGE_URL".into(),
            format!("s3://{BUCKET}/{PREFIX}"),
        ),
        ("QUIRE_S3_ENDPOINT".into(), server.endpoint()),
        ("AWS_ACCESS_KEY_ID".into(), S3_ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), S3_SECRET_KEY.into()),
    ];
    app
}

/// The keys of the objects in the test bucket.
pub(crate) fn objects(server: &S3Server) -> Vec<String> {
    server.objects(BUCKET)
}

/// The bytes of the object `key`.
pub(crate) fn object(server: &S3Server, key: &str) -> Vec<u8> {
    std::fs::read(server.dir.path().join(BUCKET).join(key)).unwrap()
}

/// The key a run's row names, checked to be in the test bucket.
pub(crate) fn key_of(location: &str) -> String {
    location
        .strip_prefix(&format!("s3://{BUCKET}/"))
        .unwrap_or_else(|| panic!("{location} is in the bucket"))
        .to_owned()
}

/// Every file under the app's scratch folder: files are built there, then uploaded.
fn scratch_files(app: &TestApp) -> Vec<PathBuf> {
    app.stored_files()
}

#[tokio::test]
async fn runs_in_a_bucket_download_whole_and_in_ranges_with_their_etag() {
    let server = S3Server::start().await;
    let app = spawn_app_on_bucket(Backend::Sqlite, &server, false, &[]).await;
    let _worker = app.start_worker(worker_options());
    for (format, content_type) in [
        ("csv", "text/csv; charset=utf-8"),
        (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ] {
        let mut request = body("invoices", json!({ "period": "all" }));
        request["format"] = json!(format);
        let (status, run) = app.post_report(&app.acme_key, &request, None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{run}");
        let finished = app.completed_run(run["id"].as_str().unwrap(), LIMIT).await;
        let file = finished.file.unwrap();
        let key = key_of(&file.path);
        assert!(
            key.starts_with(&format!("{PREFIX}/{}/", finished.id)) && key.ends_with(format),
            "{key}"
        );
        let stored = object(&server, &key);
        assert_eq!(sha256_hex(&stored), file.sha256);
        assert_eq!(i64::try_from(stored.len()).unwrap(), file.bytes);

        let url = run["download_url"].as_str().unwrap();
        let whole = app.http.get(url).send().await.unwrap();
        assert_eq!(whole.status(), StatusCode::OK);
        let headers = whole.headers().clone();
        assert_eq!(headers[CONTENT_TYPE], content_type);
        assert_eq!(headers[CONTENT_LENGTH], stored.len().to_string().as_str());
        assert_eq!(headers[CACHE_CONTROL], "no-store");
        assert_eq!(headers[ETAG], format!("\"{}\"", file.sha256).as_str());
        let disposition = headers[CONTENT_DISPOSITION].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment; filename=\"invoices-acme-")
                && disposition.contains(&format!(".{format}\"")),
            "{disposition}"
        );
        assert_eq!(whole.bytes().await.unwrap().as_ref(), stored.as_slice());
        assert_not_modified_for_its_etag(&app.http, url, &file.sha256).await;

        let part = app
            .http
            .get(url)
            .header(RANGE, "bytes=10-19")
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            part.headers()[CONTENT_RANGE],
            format!("bytes 10-19/{}", stored.len()).as_str()
        );
        assert_eq!(
            part.headers()[ETAG],
            format!("\"{}\"", file.sha256).as_str()
        );
        assert_eq!(part.bytes().await.unwrap().as_ref(), &stored[10..20]);

        let beyond = app
            .http
            .get(url)
            .header(RANGE, format!("bytes={}-", stored.len() + 5))
            .send()
            .await
            .unwrap();
        assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(
            beyond.headers()[CONTENT_RANGE],
            format!("bytes */{}", stored.len()).as_str()
        );
    }
    assert_eq!(objects(&server).len(), 2, "one object a run");
    assert_eq!(scratch_files(&app), Vec::<PathBuf>::new(), "no local copy");
    assert_eq!(server.open_uploads(), Vec::<PathBuf>::new());
    app.cleanup().await;
}

/// About 12 MiB of CSV: more than one 8 MiB part of a multipart upload.
const LARGE: &str = r#"
name = "large_rows"
title = "Large rows"
sql = "SELECT lpad(CAST(n AS TEXT), 60, 'x') AS label FROM generate_series(1, 200000) AS n WHERE :tenant > 0"
columns = [{ name = "label", type = "text" }]
"#;

#[tokio::test]
async fn a_file_larger_than_a_part_is_uploaded_in_parts_and_reads_back_whole() {
    let server = S3Server::start().await;
    let app =
        spawn_app_on_bucket(Backend::Postgres, &server, false, &[("large.toml", LARGE)]).await;
    let _worker = app.start_worker(worker_options());
    let (_, run) = app
        .post_report(&app.acme_key, &body("large_rows", json!({})), None)
        .await;
    let finished = app.completed_run(run["id"].as_str().unwrap(), LIMIT).await;
    let file = finished.file.unwrap();
    let stored = object(&server, &key_of(&file.path));
    assert!(stored.len() > 8 * 1024 * 1024, "{} bytes", stored.len());
    assert_eq!(sha256_hex(&stored), file.sha256);
    // A range across the boundary of the first two parts.
    let boundary = 8 * 1024 * 1024;
    let part = app
        .http
        .get(run["download_url"].as_str().unwrap())
        .header(RANGE, format!("bytes={}-{}", boundary - 8, boundary + 7))
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.bytes().await.unwrap().as_ref(),
        &stored[boundary - 8..boundary + 8]
    );
    assert_eq!(server.open_uploads(), Vec::<PathBuf>::new());
    app.cleanup().await;
}

/// A CSV file goes to the bucket while its rows are written: with the query holding
/// back its last row (on an advisory lock the test holds), a whole 8 MiB part is on the
/// server, nothing is built locally, no object is visible and the run is still running;
/// once the row comes, the run completes with its one object.
#[tokio::test]
async fn a_csv_file_is_uploaded_while_its_rows_are_written() {
    use sqlx::Connection as _;

    let server = S3Server::start().await;
    let lock = i64::from(rand::random::<u32>());
    let held_back = LARGE.replace(
        "WHERE :tenant > 0",
        &format!(
            "WHERE :tenant > 0 AND (n < 200000 OR EXISTS (SELECT 1 FROM pg_advisory_xact_lock({lock})))"
        ),
    );
    let app = spawn_app_on_bucket(
        Backend::Postgres,
        &server,
        false,
        &[("large.toml", &held_back)],
    )
    .await;
    let mut holder = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(lock)
        .execute(&mut holder)
        .await
        .unwrap();
    let _worker = app.start_worker(worker_options());
    let (_, run) = app
        .post_report(&app.acme_key, &body("large_rows", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap();

    let part_size = 8 * 1024 * 1024;
    eventually(
        LIMIT,
        "a whole part of the upload is on the server",
        || async {
            let parts = server.open_uploads();
            parts
                .iter()
                .any(|file| std::fs::metadata(file).is_ok_and(|meta| meta.len() == part_size))
                .then_some(())
        },
    )
    .await;
    assert_eq!(app.run(id).await.status, RunStatus::Running);
    assert_eq!(objects(&server), Vec::<String>::new(), "not visible yet");
    assert_eq!(scratch_files(&app), Vec::<PathBuf>::new(), "no local copy");

    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(lock)
        .execute(&mut holder)
        .await
        .unwrap();
    let file = app.completed_run(id, LIMIT).await.file.unwrap();
    let stored = object(&server, &key_of(&file.path));
    assert!(stored.len() as u64 > part_size, "{} bytes", stored.len());
    assert_eq!(sha256_hex(&stored), file.sha256);
    assert_eq!(i64::try_from(stored.len()).unwrap(), file.bytes);
    assert_eq!(objects(&server), [key_of(&file.path)]);
    assert_eq!(server.open_uploads(), Vec::<PathBuf>::new());
    app.cleanup().await;
}

/// Waits until run `id` failed for want of its storage, without a file.
async fn failed_on_storage(app: &TestApp, id: &str) {
    let failed = app.finished_run(id, LIMIT).await;
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(failed.error.as_ref().unwrap().code, "storage_failed");
    assert!(failed.file.is_none());
}

/// Retries the failed run `id` and checks that it completes with its one object.
async fn retried_into_one_object(app: &TestApp, server: &S3Server, id: &str) {
    let retry = app
        .call(
            reqwest::Method::POST,
            &app.acme_key,
            format!("{}/v1/reports/{id}/retry", app.base_url),
        )
        .await;
    assert!(retry.status().is_success(), "{retry:?}");
    let completed = app.completed_run(id, LIMIT).await;
    let file = completed.file.unwrap();
    assert_eq!(objects(server), [key_of(&file.path)]);
    assert_eq!(
        sha256_hex(&object(server, &key_of(&file.path))),
        file.sha256
    );
}

/// A proxy in front of the S3 server that forwards `budget` bytes of requests, then
/// closes every connection and refuses new ones until refilled: the store going away
/// in the middle of an upload.
struct CuttingProxy {
    port: u16,
    budget: Arc<AtomicI64>,
    accepting: tokio::task::JoinHandle<()>,
}

impl CuttingProxy {
    async fn start(server: &S3Server, budget: i64) -> CuttingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = format!("127.0.0.1:{}", server.port);
        let budget = Arc::new(AtomicI64::new(budget));
        let left = budget.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if left.load(Ordering::SeqCst) > 0 {
                    tokio::spawn(forward(inbound, target.clone(), left.clone()));
                }
            }
        });
        CuttingProxy {
            port,
            budget,
            accepting,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The store is reachable again.
    fn refill(&self) {
        self.budget.store(i64::MAX, Ordering::SeqCst);
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Forwards one connection until the request budget is spent; then drops it.
async fn forward(mut inbound: tokio::net::TcpStream, target: String, budget: Arc<AtomicI64>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
        return;
    };
    let (mut client_reads, mut client_writes) = inbound.split();
    let (mut server_reads, mut server_writes) = outbound.split();
    let requests = async {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let read = client_reads.read(&mut buffer).await.unwrap_or(0);
            let sent = i64::try_from(read).unwrap();
            if read == 0 || budget.fetch_sub(sent, Ordering::SeqCst) < sent {
                return;
            }
            if server_writes.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    };
    let answers = tokio::io::copy(&mut server_reads, &mut client_writes);
    tokio::select! {
        () = requests => {}
        _ = answers => {}
    }
}

/// The store going away after the first part of an upload: the attempt fails, no object
/// is visible, and the retried run stores its one object.
#[tokio::test]
async fn a_store_lost_mid_upload_leaves_no_object_and_the_retried_run_stores_one() {
    let server = S3Server::start().await;
    server.create_bucket(BUCKET);
    let proxy = CuttingProxy::start(&server, 9 * 1024 * 1024).await;
    let mut config = config(&server, false);
    config.endpoint = Some(proxy.endpoint());
    let storage = move |scratch: &Path| {
        Storage::Bucket(ObjectStorage::new(&config, scratch.to_owned()).unwrap())
    };
    let once = LARGE.replace("title =", "max_attempts = 1\ntitle =");
    let app = spawn_app_storing_in(Backend::Postgres, storage, &[("large.toml", &once)]).await;
    let _worker = app.start_worker(worker_options());
    let (_, run) = app
        .post_report(&app.acme_key, &body("large_rows", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap();
    failed_on_storage(&app, id).await;
    assert_eq!(objects(&server), Vec::<String>::new(), "no partial object");
    // The abort could not reach the store either: the first part waits on the server
    // for the bucket's lifecycle rule, never visible as an object.
    assert!(!server.open_uploads().is_empty());

    proxy.refill();
    retried_into_one_object(&app, &server, id).await;
    app.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_bucket_fails_the_attempt_without_an_object_and_a_retry_stores_it() {
    let mut server = S3Server::start().await;
    let app = spawn_app_on_bucket(Backend::Sqlite, &server, false, &[("quick.toml", QUICK)]).await;
    server.stop();
    let _worker = app.start_worker(worker_options());
    let (_, run) = app
        .post_report(&app.acme_key, &body("quick_clients", json!({})), None)
        .await;
    let id = run["id"].as_str().unwrap();
    // QUICK allows one attempt: an unreachable store fails it.
    failed_on_storage(&app, id).await;
    let download = app
        .http
        .get(run["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::GONE);

    server.resume().await;
    assert_eq!(objects(&server), Vec::<String>::new(), "no object");
    assert_eq!(server.open_uploads(), Vec::<PathBuf>::new(), "no parts");
    assert_eq!(scratch_files(&app), Vec::<PathBuf>::new(), "no local copy");

    // The failure was transient: a retry stores the file.
    retried_into_one_object(&app, &server, id).await;
    app.cleanup().await;
}

/// A worker killed mid-run leaves no object; the next attempt stores the one object,
/// and the sweep removes the killed attempt's local leftovers. A CSV file, uploaded as
/// it is written, leaves no local file but its open upload (the bucket's lifecycle rule
/// is for those); an XLSX workbook, built locally first, leaves its scratch file.
async fn killed_mid_run_then_stored_once(format: &str) {
    let server = S3Server::start().await;
    let app = spawn_app_on_bucket(
        Backend::Postgres,
        &server,
        false,
        &[("streaming.toml", STREAMING)],
    )
    .await;
    let mut request = body("streaming_rows", json!({}));
    request["format"] = json!(format);
    let (_, run) = app.post_report(&app.acme_key, &request, None).await;
    let id = run["id"].as_str().unwrap();
    let mut worker = app.spawn_quire(&["work", "--lease", "1s", "--queues", "reports"]);
    let shared = &app;
    eventually(LIMIT, "the first attempt has written rows", || async move {
        let run = shared.run(id).await;
        (run.status == RunStatus::Running && run.progress_rows > 0).then_some(())
    })
    .await;
    let streamed = format == "csv";
    if streamed {
        eventually(LIMIT, "the attempt's upload is open", || async {
            (!server.open_uploads().is_empty()).then_some(())
        })
        .await;
    }
    worker.kill().await;
    assert_eq!(objects(&server), Vec::<String>::new(), "no partial object");
    assert_eq!(
        scratch_files(&app).is_empty(),
        streamed,
        "a local file only where the workbook is built first"
    );

    let _worker = app.start_worker(worker_options());
    let run = app.finished_run(id, LIMIT).await;
    assert_eq!(
        run.status,
        RunStatus::Completed,
        "{:?}\n{}",
        run.error,
        worker.log()
    );
    assert_eq!(run.attempts, 2);
    let file = run.file.unwrap();
    assert_eq!(objects(&server), [key_of(&file.path)]);
    let mut sweeper = Sweeper::new(app.runs.clone());
    sweeper.orphan_grace = Duration::ZERO;
    sweeper.sweep_once().await.unwrap();
    assert_eq!(scratch_files(&app), Vec::<PathBuf>::new());
    assert_eq!(objects(&server), [key_of(&file.path)]);
    app.cleanup().await;
}

#[tokio::test]
async fn a_killed_workers_csv_upload_leaves_no_object_and_its_next_attempt_stores_one() {
    killed_mid_run_then_stored_once("csv").await;
}

#[tokio::test]
async fn a_killed_workers_xlsx_build_leaves_no_object_and_its_next_attempt_stores_one() {
    killed_mid_run_then_stored_once("xlsx").await;
}

#[tokio::test]
async fn the_sweep_deletes_losing_attempts_orphans_and_expired_objects_only() {
    let server = S3Server::start().await;
    let app = spawn_app_on_bucket(Backend::Sqlite, &server, false, &[]).await;
    let _worker = app.start_worker(worker_options());
    let mut runs = Vec::new();
    for report in ["clients", "products"] {
        let (_, run) = app
            .post_report(&app.acme_key, &body(report, json!({})), None)
            .await;
        let run = app.completed_run(run["id"].as_str().unwrap(), LIMIT).await;
        runs.push(run);
    }
    let kept = key_of(&runs[0].file.as_ref().unwrap().path);
    let expired = key_of(&runs[1].file.as_ref().unwrap().path);
    // What crashed attempts leave: a losing attempt's object beside the run's, an
    // upload whose attempt died before recording it; and what is not quire's.
    let losing = format!("{PREFIX}/{}/999.csv", runs[0].id);
    let orphan = format!("{PREFIX}/{}/1.xlsx", uuid::Uuid::now_v7());
    let foreign = [
        format!("{PREFIX}/notes.txt"),
        "elsewhere/1/2.csv".to_owned(),
    ];
    for key in [&losing, &orphan].into_iter().chain(&foreign) {
        let path = server.dir.path().join(BUCKET).join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "stray").unwrap();
    }
    app.db
        .run_script(&format!(
            "UPDATE quire_runs SET expires_at = 1 WHERE id = '{}';\n",
            runs[1].id
        ))
        .await;

    let mut sweeper = Sweeper::new(app.runs.clone());
    sweeper.orphan_grace = Duration::ZERO;
    let report = sweeper.sweep_once().await.unwrap();
    assert_eq!(report.files_removed, 3, "{report:?}");
    let mut left = vec![kept];
    left.extend(foreign);
    left.sort();
    assert_eq!(objects(&server), left, "{expired} expired");
    let expired_run = app.run(&runs[1].id).await;
    assert!(expired_run.file.is_none_or(|file| file.path.is_empty()));
    app.cleanup().await;
}

#[tokio::test]
async fn presigned_downloads_redirect_to_the_object() {
    let server = S3Server::start().await;
    let app = spawn_app_on_bucket(Backend::Sqlite, &server, true, &[]).await;
    let _worker = app.start_worker(worker_options());
    let (_, run) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    let finished = app.finished_run(run["id"].as_str().unwrap(), LIMIT).await;
    let file = finished.file.unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = no_redirects
        .get(run["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND);
    assert_eq!(answer.headers()[CACHE_CONTROL], "no-store");
    let location = answer.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with(&server.endpoint()), "{location}");
    assert!(location.contains("X-Amz-Signature="), "{location}");

    // No credentials but the URL's own.
    let object = no_redirects.get(&location).send().await.unwrap();
    assert_eq!(object.status(), StatusCode::OK);
    let disposition = object.headers()[CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"clients-acme-"),
        "{disposition}"
    );
    assert_eq!(sha256_hex(&object.bytes().await.unwrap()), file.sha256);
    let tampered = location.replace(&key_of(&file.path), &format!("{PREFIX}/other.csv"));
    let refused = no_redirects.get(&tampered).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    app.cleanup().await;
}

/// A missing bucket or credentials the store refuses stop a process at start, with an
/// error naming the setting to correct (exit 2, as every configuration error); a store
/// that cannot be reached is a failure at run time (exit 1).
#[tokio::test]
async fn a_missing_bucket_or_refused_credentials_stop_quire_naming_the_setting() {
    let server = S3Server::start().await;
    server.create_bucket(BUCKET);
    let unreachable = format!("http://127.0.0.1:{}", crate::helpers::free_port());
    let dir = tempfile::tempdir().unwrap();
    for (bucket, secret, endpoint, code, says) in [
        (
            "missing",
            S3_SECRET_KEY,
            server.endpoint(),
            2,
            "QUIRE_STORAGE_URL is invalid: the bucket missing does not exist",
        ),
        (
            BUCKET,
            "wrong",
            server.endpoint(),
            2,
            "AWS_ACCESS_KEY_ID is invalid",
        ),
        (
            BUCKET,
            S3_SECRET_KEY,
            unreachable,
            1,
            "error: cannot reach the object store of QUIRE_STORAGE_URL",
        ),
    ] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_quire"))
            .arg("work")
            .current_dir(dir.path())
            .env_clear()
            .env("QUIRE_STORAGE_URL", format!("s3://{bucket}/{PREFIX}"))
            .env("QUIRE_S3_ENDPOINT", endpoint)
            .env("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(!dir.path().join("quire-data").exists(), "nothing opened");
    }
}
