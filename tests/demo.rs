//! `quire demo` as a user runs it: the real binary in an empty folder, with nothing but
//! Redis.

use std::process::Command;
use std::time::Duration;

use common::wait_until;

mod common;

fn demo(dir: &std::path::Path, redis_url: &str, prefix: &str) -> std::process::Output {
    demo_with(&[], "warn", dir, redis_url, prefix)
}

/// `quire demo ARGS` in `dir`, logging at `log` (QUIRE_LOG) to its piped stderr.
fn demo_with(
    args: &[&str],
    log: &str,
    dir: &std::path::Path,
    redis_url: &str,
    prefix: &str,
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_quire"))
        .arg("demo")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("REDIS_URL", redis_url)
        .env("QUIRE_PREFIX", prefix)
        .env("QUIRE_BIND", "127.0.0.1:0")
        .env("QUIRE_LOG", log)
        .output()
        .expect("run quire demo")
}

#[test]
fn the_demo_builds_every_report_in_an_empty_folder_and_deduplicates_the_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("test-{}", uuid::Uuid::now_v7().simple());
    let output = demo(dir.path(), "redis://127.0.0.1:6379", &prefix);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(dir.path().join("quire-data/quire.db").exists());
    let completed = stdout
        .lines()
        .filter(|l| l.ends_with(": completed"))
        .count();
    assert_eq!(completed, 8, "{stdout}");
    assert_eq!(
        stdout.matches("completed (deduplicated)").count(),
        1,
        "{stdout}"
    );
    // Every file it names exists, with the size it states.
    let files: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("file "))
        .collect();
    assert_eq!(files.len(), 9);
    for line in files {
        let (path, rest) = line.trim().split_once(" (").unwrap();
        let bytes: u64 = rest
            .split(", ")
            .nth(1)
            .unwrap()
            .trim_end_matches(" bytes)")
            .parse()
            .unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join(path)).unwrap().len(),
            bytes,
            "{path}"
        );
    }
    assert_eq!(stdout.matches("download http://127.0.0.1:").count(), 9);

    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut conn = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{prefix}}}*"))
        .query(&mut conn)
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query(&mut conn).unwrap();
    }
}

/// `quire demo --json` prints one JSON object: the API's address and every run as
/// `quire enqueue --json` shows one, the repeated request answered by the first run.
/// Its pretty log, written to a pipe, has no colours: those are for a terminal.
#[test]
fn the_demo_prints_its_runs_as_one_json_document() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("test-{}", uuid::Uuid::now_v7().simple());
    let output = demo_with(
        &["--json"],
        "info",
        dir.path(),
        "redis://127.0.0.1:6379",
        &prefix,
    );
    common::delete_prefix("redis://127.0.0.1:6379", &prefix);
    assert!(output.status.success(), "{output:?}");
    let log = String::from_utf8(output.stderr.clone()).unwrap();
    assert!(log.contains("  INFO quire::app: API listening"), "{log}");
    assert!(!log.contains('\x1b'), "an escape code in:\n{log}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        summary["api"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{summary}"
    );
    assert!(summary.get("dashboard").is_none(), "no --serve: {summary}");
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 9, "{summary}");
    for run in runs {
        assert_eq!(run["status"], "completed", "{run}");
        let path = run["file"]["path"].as_str().unwrap();
        let bytes = std::fs::metadata(dir.path().join(path)).unwrap().len();
        assert_eq!(run["file"]["bytes"], bytes, "{run}");
        assert!(
            run["download_url"]
                .as_str()
                .unwrap()
                .contains("/v1/downloads/")
        );
    }
    let repeated: Vec<_> = runs
        .iter()
        .filter(|run| run["deduplicated"] == true)
        .collect();
    assert_eq!(repeated.len(), 1, "{summary}");
    assert_eq!(repeated[0]["id"], runs[0]["id"], "the first click's run");
}

#[test]
fn without_redis_the_demo_names_the_url_it_tried_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let output = demo(dir.path(), "redis://127.0.0.1:1", "unused");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("REDIS_URL redis://127.0.0.1:1"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
}

/// The README's "Running it" section as a newcomer follows it: its lines, as written,
/// run by bash in an empty folder with the built `quire` first on the PATH (and a Redis
/// prefix of the test's own). They start `quire run` in the background on the default
/// port and stop it at the end; the file they save must hold rows: `last_quarter` of
/// freshly seeded data is not empty. Whatever the lines leave running is stopped.
#[tokio::test]
async fn the_readme_running_it_section_works_as_written() {
    let readme = include_str!("../README.md");
    let section = &readme[readme.find("## Running it").expect("the section")..];
    let block = &section[section.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    drop(
        std::net::TcpListener::bind("127.0.0.1:8080")
            .expect("port 8080 is free for the README's quire run"),
    );

    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("test-{}", uuid::Uuid::now_v7().simple());
    let quire = std::path::Path::new(env!("CARGO_BIN_EXE_quire"));
    let path = std::env::join_paths(
        std::iter::once(quire.parent().unwrap().to_owned())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let with_env = |command: &mut tokio::process::Command| {
        command
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", &path)
            .env("QUIRE_PREFIX", &prefix)
            .env("QUIRE_LOG", "warn");
    };
    let mut bash = tokio::process::Command::new("bash");
    with_env(bash.args(["-eu", "-c", block]));
    // A group of its own, so that `quire run` is stopped with it whatever happens.
    let bash = bash
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let group = i32::try_from(bash.id().unwrap()).unwrap();
    let output = tokio::time::timeout(Duration::from_secs(120), bash.wait_with_output()).await;
    // SAFETY: signals the test's own process group; no memory is involved.
    unsafe { libc::kill(-group, libc::SIGTERM) };
    wait_until(
        Duration::from_secs(30),
        "the README's quire run stopped",
        || async {
            tokio::net::TcpStream::connect("127.0.0.1:8080")
                .await
                .is_err()
        },
    )
    .await;
    common::delete_prefix("redis://127.0.0.1:6379", &prefix);
    let output = output
        .expect("the README's lines end within 2 minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");

    let run: serde_json::Value = stdout
        .lines()
        .find_map(|line| serde_json::from_str(line).ok())
        .expect("the POST's answer is echoed");
    assert_eq!(
        (run["status"].as_str(), run["deduplicated"].as_bool()),
        (Some("queued"), Some(false)),
        "{run}"
    );
    let saved: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != "quire-data")
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert!(
        saved[0].starts_with("invoices-acme-") && saved[0].ends_with(".xlsx"),
        "{saved:?}"
    );
    let file = std::fs::read(dir.path().join(&saved[0])).unwrap();
    assert!(file.starts_with(b"PK"), "an XLSX file");

    let mut status = tokio::process::Command::new(quire);
    with_env(status.args(["status", "--json", run["id"].as_str().unwrap()]));
    let shown = status.output().await.unwrap();
    assert!(shown.status.success(), "{shown:?}");
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["file"]["bytes"], file.len(), "{shown}");
    assert!(
        shown["file"]["rows"].as_i64().unwrap() > 0,
        "last_quarter is not empty: {shown}"
    );
}

/// `quire demo --serve` keeps the API and the dashboard up once the reports are built,
/// and prints a sign-in link whose key (in the fragment, never sent) signs in to a
/// dashboard showing the demo's runs; SIGTERM stops it with exit code 0.
#[tokio::test]
async fn the_demo_with_serve_keeps_the_dashboard_up_behind_its_sign_in_link() {
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("test-{}", uuid::Uuid::now_v7().simple());
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(["demo", "--serve"])
        .current_dir(dir.path())
        .env_clear()
        .env("REDIS_URL", "redis://127.0.0.1:6379")
        .env("QUIRE_PREFIX", &prefix)
        .env("QUIRE_BIND", "127.0.0.1:0")
        .env("QUIRE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let link = tokio::time::timeout(std::time::Duration::from_secs(180), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(link) = line.strip_prefix("dashboard ") {
                return link.to_owned();
            }
        }
        panic!("quire demo --serve printed no sign-in link");
    })
    .await
    .expect("the demo prints its sign-in link");
    let (page, key) = link
        .split_once("#key=")
        .expect("the key is in the fragment");
    let base = page.strip_suffix("/dashboard/sign-in").unwrap();

    let http = quire::tls::TrustedRoots::default()
        .client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = http.get(page).send().await.unwrap();
    assert_eq!(form.status(), reqwest::StatusCode::OK);
    assert!(form.text().await.unwrap().contains("location.hash"));
    let signed_in = http
        .post(page)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("key={key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), reqwest::StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let overview = http
        .get(format!("{base}/dashboard"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(overview.status(), reqwest::StatusCode::OK);
    let overview = overview.text().await.unwrap();
    assert!(overview.contains("completed"), "{overview}");

    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(sent.unwrap().success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("the demo stops on SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    common::delete_prefix("redis://127.0.0.1:6379", &prefix);
}
