//! The dashboard in a real browser, headless Chromium over WebDriver, on SQLite and
//! PostgreSQL. An admin signs in through the form, sees a run queued, watches it
//! complete on the self-refreshing overview, downloads its file through a new link,
//! retries a failed run from two tabs (it is requeued once), pauses the report queue
//! while a worker runs and resumes it, filters the runs and signs out. A tenant's key
//! does not see another tenant's run nor the queues. Every page is saved as a PNG in
//! `target/screenshots/`; with `QUIRE_README_SCREENSHOTS=1` the SQLite run also writes
//! the README's two. Cookies and CSRF tokens are covered over HTTP in `dashboard.rs`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use quire::runs::REPORT_QUEUE;
use quire::store::RunStatus;
use redis::AsyncCommands as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::common::{eventually, on_databases};
use crate::helpers::{Backend, TestApp, spawn_app, worker_options};
use crate::lifecycle::{BROKEN, failed_broken_run};
use crate::webdriver::{Browser, WAIT_LIMIT};

/// A browser on one app's dashboard.
struct Dashboard<'a> {
    app: &'a TestApp,
    backend: Backend,
    browser: Browser,
}

/// A table row: its cells' text by column header.
type Row = HashMap<String, String>;

/// XPath of the row of run `id` (its id heads the row) in any table.
fn run_row(id: &str) -> String {
    format!("//tr[th[normalize-space()='{id}']]")
}

/// XPath of the button `label` in the row of `first_cell` in the table `caption`.
fn row_button(caption: &str, first_cell: &str, label: &str) -> String {
    format!(
        "//table[caption[normalize-space()='{caption}']]//tr[th[normalize-space()='{first_cell}']]//button[normalize-space()='{label}']"
    )
}

impl<'a> Dashboard<'a> {
    /// A fresh browser, which a dashboard URL sends to the sign-in form.
    async fn signed_out(app: &'a TestApp, backend: Backend) -> Dashboard<'a> {
        let dashboard = Dashboard {
            app,
            backend,
            browser: Browser::start().await,
        };
        dashboard.open("/dashboard").await;
        dashboard.expect_sign_in().await;
        dashboard
    }

    /// Signs in through the form with `key`.
    async fn sign_in(&self, key: &str) {
        let field = self.browser.wait_for("//input[@id='key']").await;
        field.send_keys(key).await.unwrap();
        self.click("//button[normalize-space()='Sign in']").await;
        self.heading("Overview").await;
    }

    /// The sign-in form is shown, at its own address.
    async fn expect_sign_in(&self) {
        self.browser
            .wait_for("//label[@for='key' and normalize-space()='API key']")
            .await;
        assert_eq!(self.browser.path().await, "/dashboard/sign-in");
    }

    async fn open(&self, path: &str) {
        self.browser
            .open(&format!("{}{path}", self.app.base_url))
            .await;
    }

    /// Follows the navigation link `section` to its page.
    async fn go_to(&self, section: &str) {
        self.click(&format!("//nav//a[normalize-space()='{section}']"))
            .await;
        self.heading(section).await;
    }

    /// Waits until the page's heading is `title`.
    async fn heading(&self, title: &str) {
        self.browser
            .wait_for(&format!("//h1[normalize-space()='{title}']"))
            .await;
    }

    async fn click(&self, xpath: &str) {
        self.browser.wait_for(xpath).await.click().await.unwrap();
    }

    /// Waits until the row of run `id` reads `status`.
    async fn expect_run(&self, id: &str, status: &str) {
        self.browser
            .wait_for(&format!(
                "{}[td[normalize-space()='{status}']]",
                run_row(id)
            ))
            .await;
    }

    /// The rows of the table captioned `caption` (a "no runs" row left out).
    async fn rows(&self, caption: &str) -> Vec<Row> {
        let rows = self
            .browser
            .script(
                r#"const table = [...document.querySelectorAll("table")]
                     .find((t) => t.caption && t.caption.textContent.trim() === arguments[0]);
                   const names = [...table.tHead.rows[0].cells].map((c) => c.textContent.trim());
                   return [...table.tBodies[0].rows]
                     .filter((row) => row.cells.length === names.length)
                     .map((row) => Object.fromEntries(
                       names.map((name, i) => [name, row.cells[i].textContent.trim()])));"#,
                vec![json!(caption)],
            )
            .await;
        serde_json::from_value(rows).unwrap()
    }

    /// The alert the page shows.
    async fn alert(&self) -> String {
        let alert = self.browser.wait_for("//*[@role='alert']").await;
        alert.text().await.unwrap()
    }

    /// Saves the window as `target/screenshots/<backend>-<page>.png`, and as the
    /// README's picture of `page` when asked to (`QUIRE_README_SCREENSHOTS=1`).
    async fn screenshot(&self, page: &str) {
        // CARGO_TARGET_TMPDIR is the target folder's `tmp`.
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
        let name = format!("{:?}-{page}.png", self.backend).to_lowercase();
        let path = target.join("screenshots").join(name);
        self.browser.screenshot(&path).await;
        let readme = match (self.backend, page) {
            (Backend::Sqlite, "overview" | "run") => Some(format!("dashboard-{page}.png")),
            _ => None,
        };
        if let Some(readme) = readme
            && std::env::var("QUIRE_README_SCREENSHOTS").as_deref() == Ok("1")
        {
            let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::copy(&path, docs.join(readme)).unwrap();
        }
    }
}

/// Posts a run of `clients` for `tenant` as `format`; its id. An identical run still
/// queued would be answered instead of a new one.
async fn post_clients(app: &TestApp, tenant: &str, format: &str) -> String {
    let request = json!({ "tenant": tenant, "report": "clients", "format": format, "params": {} });
    let (status, answer) = app.post_report(&app.admin_key, &request, None).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{answer}");
    answer["id"].as_str().unwrap().to_owned()
}

async fn an_admin_runs_downloads_retries_pauses_filters_and_signs_out(backend: Backend) {
    let app = spawn_app(backend, &[("broken.toml", BROKEN)]).await;
    let failed = failed_broken_run(&app).await;
    let dashboard = Dashboard::signed_out(&app, backend).await;
    dashboard.screenshot("sign-in").await;
    dashboard.sign_in(&app.admin_key).await;

    let first = post_clients(&app, "acme", "csv").await;
    dashboard.go_to("Runs").await;
    dashboard.expect_run(&first, "queued").await;

    retry_twice_from_two_tabs(&dashboard, &failed).await;

    // The overview shows the run completing without being reloaded: a mark left on the
    // page survives.
    dashboard.go_to("Overview").await;
    dashboard.expect_run(&first, "queued").await;
    dashboard
        .browser
        .script("window.notReloaded = true", Vec::new())
        .await;
    let worker = app.start_worker(worker_options());
    dashboard.expect_run(&first, "completed").await;
    let kept = dashboard
        .browser
        .script("return window.notReloaded", Vec::new())
        .await;
    assert_eq!(kept, Value::Bool(true), "the overview was reloaded");
    // The retried run, broken still, has failed again by now.
    let retried = app.finished_run(&failed, WAIT_LIMIT).await;
    assert_eq!(retried.status, RunStatus::Failed);
    dashboard.expect_run(&failed, "failed").await;
    dashboard.screenshot("overview").await;

    download_through_a_new_link(&dashboard, &first).await;

    let (second, third) = pause_and_resume(&dashboard).await;

    dashboard.go_to("Workers").await;
    let workers = dashboard.rows("Workers alive").await;
    assert_eq!(workers.len(), 1, "{workers:?}");
    dashboard.screenshot("workers").await;

    // Only completed runs of the clients report are listed, the failed run not.
    dashboard.go_to("Runs").await;
    let status = dashboard.browser.wait_for("//select[@id='status']").await;
    status.select_by_value("completed").await.unwrap();
    let report = dashboard.browser.wait_for("//input[@id='report']").await;
    report.send_keys("clients").await.unwrap();
    dashboard
        .click("//button[normalize-space()='Filter']")
        .await;
    dashboard
        .browser
        .wait_for("//select[@id='status']/option[@value='completed' and @selected]")
        .await;
    let rows = dashboard.rows("Runs, newest first").await;
    for row in &rows {
        assert_eq!(
            (row["Status"].as_str(), row["Report"].as_str()),
            ("completed", "clients")
        );
    }
    let listed: HashSet<&str> = rows.iter().map(|row| row["Run"].as_str()).collect();
    assert_eq!(listed, HashSet::from([&*first, &*second, &*third]));
    dashboard.screenshot("runs").await;

    dashboard
        .click("//button[normalize-space()='Sign out']")
        .await;
    dashboard.expect_sign_in().await;
    dashboard.open("/dashboard/runs").await;
    dashboard.expect_sign_in().await;

    worker.stop().await;
    drop(dashboard);
    app.cleanup().await;
}

/// Retries the failed run `id` from the Failed page, then again from a second tab that
/// still shows its Retry button: the run is requeued once, its job ready once.
async fn retry_twice_from_two_tabs(dashboard: &Dashboard<'_>, id: &str) {
    let client = &dashboard.browser.client;
    let retry = row_button("Failed runs, newest first", id, "Retry");
    dashboard.go_to("Failed").await;
    dashboard.browser.wait_for(&retry).await;
    dashboard.screenshot("failed").await;
    let first_tab = client.window().await.unwrap();
    let second_tab = client.new_window(true).await.unwrap().handle;
    client.switch_to_window(second_tab.clone()).await.unwrap();
    dashboard.open("/dashboard/failed").await;

    for tab in [first_tab.clone(), second_tab] {
        client.switch_to_window(tab).await.unwrap();
        dashboard.click(&retry).await;
        dashboard.heading(&format!("Run {id}")).await;
        dashboard
            .browser
            .wait_for("//dd[normalize-space()='queued']")
            .await;
    }
    client.close_window().await.unwrap();
    client.switch_to_window(first_tab).await.unwrap();

    let app = dashboard.app;
    crate::lifecycle::assert_requeued(app, id).await;
    assert_eq!(app.run(id).await.attempts, 0);
    let counts = app.runs.queue.counts().await.unwrap();
    assert_eq!(counts.stats.get("revived"), Some(&1), "{counts:?}");
}

/// Opens the completed run `id` from the Runs page (the overview may swap its rows
/// under a click), asks for a new download link, follows it, and checks that the file
/// the browser saved is the run's.
async fn download_through_a_new_link(dashboard: &Dashboard<'_>, id: &str) {
    dashboard.go_to("Runs").await;
    dashboard
        .click(&format!("{}//a[normalize-space()='{id}']", run_row(id)))
        .await;
    dashboard.heading(&format!("Run {id}")).await;
    dashboard
        .click("//button[normalize-space()='New download link']")
        .await;
    let prefix = format!("{}/v1/downloads/", dashboard.app.base_url);
    let link = format!("//a[starts-with(normalize-space(), '{prefix}')]");
    dashboard.browser.wait_for(&link).await;
    dashboard.screenshot("run").await;
    dashboard.click(&link).await;

    let run = dashboard.app.run(id).await;
    let finished = chrono::DateTime::from_timestamp_millis(run.finished_at.unwrap()).unwrap();
    let name = format!("clients-acme-{}.csv", finished.format("%Y-%m-%d"));
    let downloaded = std::fs::read(dashboard.browser.downloaded(&name).await).unwrap();
    let file = run.file.expect("a completed run has a file");
    assert_eq!(downloaded.len() as i64, file.bytes);
    let sha256 = hex::encode(Sha256::digest(&downloaded));
    assert_eq!(sha256, file.sha256);
    // The page shows the same digest.
    dashboard
        .browser
        .wait_for(&format!("//dd/code[normalize-space()='{sha256}']"))
        .await;
}

/// Pauses the report queue on the Queues page, posts two runs that an idle worker is
/// woken for but does not take, resumes the queue and sees both complete; their ids.
async fn pause_and_resume(dashboard: &Dashboard<'_>) -> (String, String) {
    let app = dashboard.app;
    dashboard.go_to("Queues").await;
    dashboard
        .click(&row_button("Queues", REPORT_QUEUE, "Pause"))
        .await;
    dashboard
        .browser
        .wait_for(&row_button("Queues", REPORT_QUEUE, "Resume"))
        .await;
    assert!(app.queue_paused(REPORT_QUEUE).await);

    // Each push leaves a wake-up token for idle workers, and the worker's one loop takes
    // a token, reserves, and blocks for the next: once it has taken the second run's
    // token, it has reserved since the first run was ready, and left it.
    let second = post_watched(app, "csv").await;
    let third = post_watched(app, "xlsx").await;
    let job = app.runs.queue.job(&second).await.unwrap().expect("a job");
    assert_eq!(job.state, Some(quire::queue::JobState::Ready));
    assert_eq!(app.run(&second).await.status, RunStatus::Queued);
    dashboard.browser.client.refresh().await.unwrap();
    let queues = dashboard.rows("Queues").await;
    let reports = queues.iter().find(|q| q["Queue"] == REPORT_QUEUE).unwrap();
    assert_eq!(
        (
            reports["State"].as_str(),
            reports["Ready"].as_str(),
            reports["Running"].as_str()
        ),
        ("paused", "2", "0")
    );
    dashboard.screenshot("queues").await;

    dashboard
        .click(&row_button("Queues", REPORT_QUEUE, "Resume"))
        .await;
    dashboard
        .browser
        .wait_for(&row_button("Queues", REPORT_QUEUE, "Pause"))
        .await;
    for id in [&second, &third] {
        app.completed_run(id, WAIT_LIMIT).await;
    }
    dashboard.go_to("Runs").await;
    dashboard.expect_run(&second, "completed").await;
    dashboard.expect_run(&third, "completed").await;
    (second, third)
}

/// Posts a run of `clients` for acme as `format` and waits until a worker has taken
/// the wake-up token its push left.
async fn post_watched(app: &TestApp, format: &str) -> String {
    let id = post_clients(app, "acme", format).await;
    let redis = redis::Client::open(app.redis_url.as_str()).unwrap();
    let conn = redis.get_multiplexed_async_connection().await.unwrap();
    let wake = app.runs.queue.keys().wake(REPORT_QUEUE);
    eventually(WAIT_LIMIT, "a worker takes the wake-up token", || {
        let (mut conn, wake) = (conn.clone(), wake.clone());
        async move { (conn.llen::<_, i64>(&wake).await.unwrap() == 0).then_some(()) }
    })
    .await;
    id
}

async fn a_tenant_sees_neither_another_tenants_run_nor_the_queues(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let own = post_clients(&app, "acme", "csv").await;
    let other = post_clients(&app, "globex", "csv").await;
    let dashboard = Dashboard::signed_out(&app, backend).await;
    dashboard.sign_in(&app.acme_key).await;

    dashboard.go_to("Runs").await;
    dashboard.expect_run(&own, "queued").await;
    let listed = dashboard.rows("Runs, newest first").await;
    assert!(
        listed
            .iter()
            .all(|row| row["Run"] != other && row["Tenant"] == "acme"),
        "another tenant's run is listed: {listed:?}"
    );

    dashboard.open(&format!("/dashboard/runs/{other}")).await;
    dashboard.heading("Not possible").await;
    assert_eq!(dashboard.browser.status().await, 404);
    assert_eq!(dashboard.alert().await, "no such run");

    dashboard.open("/dashboard/queues").await;
    dashboard.heading("Not possible").await;
    assert_eq!(dashboard.browser.status().await, 403);
    assert!(dashboard.alert().await.contains("only an admin key"));
    assert!(
        !dashboard
            .browser
            .has("//button[normalize-space()='Pause']")
            .await
    );

    drop(dashboard);
    app.cleanup().await;
}

on_databases!([Sqlite, Postgres]
    an_admin_runs_downloads_retries_pauses_filters_and_signs_out,
    a_tenant_sees_neither_another_tenants_run_nor_the_queues,
);
