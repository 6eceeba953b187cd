//! The clients against a live `quire serve` and `quire work`: every call of the Rust
//! client (`quire-client`), the API's refusals as its errors, files saved under the
//! server's name; and the PHP example client (`examples/php/quire-report.php`) run by
//! `php` from enqueue to saved file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use quire_client::{Client, ClientError, Download, ReportOrder, Run, RunFilter, RunStatus};
use sha2::{Digest, Sha256};

use crate::common::eventually;
use crate::helpers::{Backend, QuireProcess, TestApp, spawn_app};
use crate::lifecycle::BROKEN;

const LIMIT: Duration = Duration::from_secs(60);

/// Asserts that `result` is the API's refusal with `status` and `code`.
fn assert_refused<T: std::fmt::Debug>(result: Result<T, ClientError>, status: u16, code: &str) {
    match result {
        Err(ClientError::Api {
            status: answered,
            code: said,
            ..
        }) if answered == status && said == code => {}
        other => panic!("expected the API's {status} {code}, got {other:?}"),
    }
}

/// The run `id` once it has ended, read through the client.
async fn ended(client: &Client, id: &str) -> Run {
    eventually(LIMIT, &format!("run {id} ends"), || async move {
        client.run(id).await.ok().filter(Run::is_finished)
    })
    .await
}

/// Waits until `worker`, started with `--stop-when-empty`, has run out of work and
/// exited 0.
async fn drained(mut worker: QuireProcess) {
    let status = tokio::time::timeout(LIMIT, worker.child.wait())
        .await
        .unwrap_or_else(|_| panic!("the worker did not run out of work:\n{}", worker.log()))
        .unwrap();
    assert!(status.success(), "{status}:\n{}", worker.log());
}

/// The data rows of a CSV file (its fields may hold line breaks, so lines are not
/// rows).
fn csv_rows(bytes: &[u8]) -> u64 {
    csv::Reader::from_reader(bytes)
        .records()
        .map(Result::unwrap)
        .count() as u64
}

/// Asserts that `path` holds `run`'s whole file, named as the server names it
/// (`<report>-<tenant>-<day it finished>.<ext>`), and that nothing else, such as a
/// partial download, is left in its folder.
fn assert_saved_under_the_servers_name(path: &Path, run: &Run) {
    let file = run.file.as_ref().expect("a completed run has a file");
    let day = &run
        .finished_at
        .as_deref()
        .expect("a finished run has an end")[..10];
    let name = format!("{}-{}-{day}.{}", run.report, run.tenant, run.format);
    assert_eq!(path.file_name().unwrap().to_str(), Some(name.as_str()));
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes.len() as u64, file.bytes);
    assert_eq!(hex::encode(Sha256::digest(&bytes)), file.sha256);
    assert_eq!(csv_rows(&bytes), file.rows);
    assert!(file.rows > 0, "the fixture has clients");
    let folder: Vec<PathBuf> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(folder, [path.to_owned()], "only the file itself is left");
}

#[tokio::test]
async fn the_rust_client_makes_every_call_of_the_api_against_a_live_server() {
    let app = spawn_app(Backend::Sqlite, &[("broken.toml", BROKEN)]).await;
    let server = app.spawn_server(&["serve"]).await;
    let client = Client::new(&server.base_url, &app.acme_key);

    let catalog = client.report_types().await.unwrap();
    let clients = catalog.iter().find(|t| t.name == "clients").unwrap();
    assert!(!clients.title.is_empty() && !clients.columns.is_empty());
    assert!(catalog.iter().any(|t| t.name == "broken_query"));

    // Refusals arrive as the API's code, whatever the call.
    let unknown = ReportOrder::new("acme", "no_such_report", "csv");
    assert_refused(client.enqueue(&unknown).await, 404, "unknown_report");
    let mut unknown_param = ReportOrder::new("acme", "clients", "csv");
    unknown_param
        .params
        .insert("period".into(), "last_year".into());
    let invalid = client.enqueue(&unknown_param).await;
    let said = invalid.as_ref().map_err(ToString::to_string).unwrap_err();
    assert!(
        said.ends_with("; params.period is not a parameter of this report"),
        "{said}"
    );
    assert_refused(invalid, 422, "invalid_params");
    // Each invalid field once, its message after its name.
    let admin = Client::new(&server.base_url, &app.admin_key);
    let said = admin
        .enqueue(&ReportOrder::new("nosuch", "clients", "csv"))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        said,
        "the API answered 422: invalid_request: the request has invalid values; tenant \"nosuch\" is unknown"
    );
    assert_refused(client.run("no-such-run").await, 404, "run_not_found");
    assert_refused(client.link("no-such-run").await, 404, "run_not_found");
    let stranger = Client::new(&server.base_url, "not-a-key");
    assert_refused(stranger.report_types().await, 401, "unauthorized");
    let elsewhere = RunFilter {
        tenant: Some("globex".into()),
        ..RunFilter::default()
    };
    assert_refused(client.list(&elsewhere).await, 403, "forbidden_tenant");

    // No worker yet: the runs stay queued.
    let order = ReportOrder::new("acme", "clients", "csv");
    let queued = client.enqueue(&order).await.unwrap();
    assert_eq!(
        (queued.status, queued.deduplicated),
        (RunStatus::Queued, Some(false))
    );
    let first_url = queued.download_url.clone().unwrap();
    let again = client.enqueue(&order).await.unwrap();
    assert_eq!((&again.id, again.deduplicated), (&queued.id, Some(true)));
    assert_eq!(
        client.run(&queued.id).await.unwrap().status,
        RunStatus::Queued
    );
    assert_eq!(
        client.fetch(&first_url).await.unwrap(),
        Download::Pending {
            status: RunStatus::Queued,
            progress: quire_client::Progress { rows: 0 },
        }
    );
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        client.download_to(&first_url, dir.path()).await,
        Err(ClientError::NotReady {
            status: RunStatus::Queued
        })
    ));

    let doomed = client
        .enqueue(&ReportOrder::new("acme", "invoices", "csv"))
        .await
        .unwrap();
    let cancelled = client.cancel(&doomed.id).await.unwrap();
    assert_eq!(
        (&cancelled.id, cancelled.status),
        (&doomed.id, RunStatus::Cancelled)
    );
    assert_refused(
        client.fetch(doomed.download_url.as_deref().unwrap()).await,
        410,
        "run_not_completed",
    );
    assert_refused(client.retry(&doomed.id).await, 409, "conflict");

    let broken = client
        .enqueue(&ReportOrder::new("acme", "broken_query", "csv"))
        .await
        .unwrap();
    drained(app.spawn_quire(&["work", "--queues", "reports", "--stop-when-empty"])).await;
    let completed = ended(&client, &queued.id).await;
    assert_eq!(
        completed.status,
        RunStatus::Completed,
        "{:?}",
        completed.error
    );
    let failed = ended(&client, &broken.id).await;
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(failed.error.unwrap().code, "report_failed");

    assert_refused(client.cancel(&completed.id).await, 409, "conflict");
    assert_refused(client.retry(&completed.id).await, 409, "conflict");
    // No worker runs now, so the retried run stays as the retry left it.
    let retried = client.retry(&broken.id).await.unwrap();
    assert_eq!(
        (
            &retried.id,
            retried.status,
            retried.attempts,
            &retried.error
        ),
        (&broken.id, RunStatus::Queued, 0, &None)
    );
    assert_eq!(client.retry(&broken.id).await.unwrap(), retried);

    // Newest first, in pages.
    let newest_first = [&broken.id, &doomed.id, &queued.id];
    let first = client
        .list(&RunFilter {
            limit: Some(2),
            ..RunFilter::default()
        })
        .await
        .unwrap();
    let second = client
        .list(&RunFilter {
            limit: Some(2),
            cursor: first.next_cursor.clone(),
            ..RunFilter::default()
        })
        .await
        .unwrap();
    assert!(first.next_cursor.is_some());
    assert_eq!(second.next_cursor, None);
    let listed: Vec<&String> = first
        .runs
        .iter()
        .chain(&second.runs)
        .map(|r| &r.id)
        .collect();
    assert_eq!(listed, newest_first);
    let completed_clients = client
        .list(&RunFilter {
            status: Some(RunStatus::Completed),
            report: Some("clients".into()),
            ..RunFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(completed_clients.runs, std::slice::from_ref(&completed));

    // The enqueue's URL and a fresh one give the same file.
    let link = client.link(&completed.id).await.unwrap();
    assert_eq!(link.id, completed.id);
    assert_ne!(link.download_url, first_url, "a new token");
    let saved = client
        .download_to(&link.download_url, dir.path())
        .await
        .unwrap();
    assert_eq!(saved.parent(), Some(dir.path()));
    assert_saved_under_the_servers_name(&saved, &completed);
    let Download::File(fetched) = client.fetch(&first_url).await.unwrap() else {
        panic!("a completed run's URL gives its file");
    };
    assert_eq!(fetched, std::fs::read(&saved).unwrap());
    let elsewhere = tempfile::tempdir().unwrap();
    let chosen = elsewhere.path().join("mine.csv");
    let bytes = Client::for_downloads()
        .download(&first_url, &chosen)
        .await
        .unwrap();
    assert_eq!(bytes, completed.file.as_ref().unwrap().bytes);
    assert_eq!(std::fs::read(&chosen).unwrap(), fetched);
    app.cleanup().await;
}

/// `php quire-report.php ARGS` against `server` with acme's key, saving into `out`.
async fn php_client(
    app: &TestApp,
    server: &QuireProcess,
    out: &Path,
    args: &[&str],
) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/php/quire-report.php");
    tokio::process::Command::new("php")
        .arg(script)
        .args(args)
        .arg("--out")
        .arg(out)
        .env("QUIRE_URL", &server.base_url)
        .env("QUIRE_API_KEY", &app.acme_key)
        .output()
        .await
        .expect("php runs (.ci/run installs php-cli and php-curl)")
}

#[tokio::test]
async fn the_php_client_saves_a_report_under_the_servers_name_and_fails_clearly() {
    let app = spawn_app(Backend::Sqlite, &[("broken.toml", BROKEN)]).await;
    let server = app.spawn_server(&["serve"]).await;
    let _worker = app.spawn_quire(&["work", "--queues", "reports"]);
    let out = tempfile::tempdir().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();

    let saved = php_client(
        &app,
        &server,
        out.path(),
        &["--tenant", "acme", "--report", "clients"],
    )
    .await;
    let stderr = text(&saved.stderr);
    assert!(saved.status.success(), "{stderr}\n{}", server.log());
    let path = PathBuf::from(text(&saved.stdout).trim_end());
    assert_eq!(path.parent(), Some(out.path()));
    let client = Client::new(&server.base_url, &app.acme_key);
    let runs = client.list(&RunFilter::default()).await.unwrap().runs;
    let [run] = runs.as_slice() else {
        panic!("one run: {runs:?}");
    };
    assert_eq!(run.status, RunStatus::Completed);
    assert!(
        stderr.contains(&format!("run {} is completed", run.id)),
        "{stderr}"
    );
    assert_saved_under_the_servers_name(&path, run);

    // Refused by the API, a run that fails, a usage error: a clear line and no file.
    let empty = tempfile::tempdir().unwrap();
    for (args, exit, says) in [
        (
            &["--tenant", "acme", "--report", "nope"][..],
            1,
            "404 unknown_report",
        ),
        (
            &["--tenant", "acme", "--report", "broken_query"],
            1,
            "ended failed: report_failed",
        ),
        (&["--report", "clients"], 2, "--tenant is required"),
    ] {
        let failed = php_client(&app, &server, empty.path(), args).await;
        let stderr = text(&failed.stderr);
        assert_eq!(failed.status.code(), Some(exit), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert_eq!(
        std::fs::read_dir(empty.path()).unwrap().count(),
        0,
        "nothing saved"
    );
    app.cleanup().await;
}

/// The folder of the workspace's examples, built as programs: `cargo test
/// --all-targets` builds them only as tests. With the workspace's features and the
/// environment the test build had, this only compiles and links the examples.
async fn built_examples() -> PathBuf {
    let mut cargo = tokio::process::Command::new(env!("CARGO"));
    // What cargo tells this test about its package: build scripts that watch these
    // (ring's does) would otherwise be rebuilt, and all that depends on them.
    for (name, _) in std::env::vars_os() {
        let told = name.to_str().is_some_and(|name| {
            [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix))
                || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&name)
        });
        if told {
            cargo.env_remove(name);
        }
    }
    let built = cargo
        .args(["build", "--quiet", "--workspace", "--examples"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    let built = tokio::time::timeout(Duration::from_secs(600), built)
        .await
        .expect("the examples build within 10 minutes")
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let test_binary = std::env::current_exe().unwrap();
    let profile_dir = test_binary.parent().and_then(Path::parent).unwrap();
    profile_dir.join("examples")
}

/// The Rust client's examples against a live server: `enqueue_report` follows a run to
/// its end and prints how to download it; `download_report` saves the file under the
/// server's name; a run that fails gets its reason and exit 1, and no download hint.
#[tokio::test]
async fn the_rust_examples_enqueue_follow_and_download_and_a_failed_run_gets_no_download_hint() {
    let app = spawn_app(Backend::Sqlite, &[("broken.toml", BROKEN)]).await;
    let server = app.spawn_server(&["serve"]).await;
    let _worker = app.spawn_quire(&["work", "--queues", "reports"]);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let examples = built_examples().await;
    let enqueue = |report: &str| {
        tokio::process::Command::new(examples.join("enqueue_report"))
            .args(["acme", report, "csv"])
            .env("QUIRE_URL", &server.base_url)
            .env("QUIRE_API_KEY", &app.acme_key)
            .kill_on_drop(true)
            .output()
    };

    let completed = enqueue("clients").await.unwrap();
    let stdout = text(&completed.stdout);
    assert!(
        completed.status.success(),
        "{stdout}\n{}",
        text(&completed.stderr)
    );
    let id = stdout
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("run "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the run is named first");
    let hint = stdout
        .lines()
        .find(|line| line.starts_with("download it with: "))
        .unwrap_or_else(|| panic!("a download hint: {stdout}"));
    let url = hint.rsplit(' ').next().unwrap();
    let out = tempfile::tempdir().unwrap();
    let downloaded = tokio::process::Command::new(examples.join("download_report"))
        .arg(url)
        .arg(out.path())
        .output()
        .await
        .unwrap();
    let said = text(&downloaded.stdout);
    assert!(
        downloaded.status.success(),
        "{said}\n{}",
        text(&downloaded.stderr)
    );
    let path = PathBuf::from(said.trim_end().strip_prefix("wrote ").unwrap());
    let run = Client::new(&server.base_url, &app.acme_key)
        .run(id)
        .await
        .unwrap();
    assert_saved_under_the_servers_name(&path, &run);

    let failed = enqueue("broken_query").await.unwrap();
    let (stdout, stderr) = (text(&failed.stdout), text(&failed.stderr));
    assert_eq!(failed.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("ended failed: report_failed"), "{stderr}");
    assert!(!stdout.contains("download"), "no download hint: {stdout}");
    app.cleanup().await;
}
