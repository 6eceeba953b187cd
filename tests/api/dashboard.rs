//! The dashboard over HTTP, as a browser drives it: signing in with an API key, the
//! session cookie, CSRF tokens and cross-site forms refused, an admin pausing a queue
//! and retrying a failed run, and a tenant's key kept to its own runs.

use std::time::Duration;

use quire::store::{Access, NewApiKey, RunEvent, RunStatus};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::json;

use crate::common::eventually;
use crate::helpers::{Backend, TestApp, body, spawn_app, worker_options};
use crate::lifecycle::{BROKEN, failed_broken_run};

/// A browser's session: the cookie it was given at sign-in.
pub(crate) struct Browser<'a> {
    app: &'a TestApp,
    cookie: String,
}

/// `request` with `pairs` as its form body, as a browser posts a form.
fn form(request: reqwest::RequestBuilder, pairs: &[(&str, &str)]) -> reqwest::RequestBuilder {
    request
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(pairs).unwrap())
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    quire::tls::TrustedRoots::default()
        .client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with `key` and returns the session, checking the cookie's attributes.
pub(crate) async fn sign_in<'a>(app: &'a TestApp, key: &str) -> Browser<'a> {
    let answer = form(
        client().post(format!("{}/dashboard/sign-in", app.base_url)),
        &[("key", key)],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer.headers()[LOCATION], "/dashboard");
    let set = answer.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/dashboard",
        "Max-Age=28800",
    ] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains(key), "the cookie holds the API key: {set}");
    Browser {
        app,
        cookie: set.split(';').next().unwrap().to_owned(),
    }
}

impl Browser<'_> {
    pub(crate) async fn get(&self, path: &str) -> (StatusCode, String) {
        let answer = client()
            .get(format!("{}{path}", self.app.base_url))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        (answer.status(), answer.text().await.unwrap())
    }

    /// Posts a form to `path` with `csrf` and, when given, an `Origin` header.
    async fn post(&self, path: &str, csrf: &str, origin: Option<&str>) -> StatusCode {
        let mut request = form(
            client()
                .post(format!("{}{path}", self.app.base_url))
                .header(COOKIE, &self.cookie),
            &[("csrf", csrf)],
        );
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        request.send().await.unwrap().status()
    }

    /// The CSRF token of the forms on `path`.
    async fn csrf(&self, path: &str) -> String {
        let (status, page) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let start = page
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token")
            + 19;
        page[start..start + 64].to_owned()
    }
}

#[tokio::test]
async fn an_admin_signs_in_pauses_a_queue_with_a_csrf_token_and_retries_a_failed_run() {
    let app = spawn_app(Backend::Sqlite, &[("broken.toml", BROKEN)]).await;
    let outsider = client()
        .get(format!("{}/dashboard", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(outsider.status(), StatusCode::SEE_OTHER);
    assert_eq!(outsider.headers()[LOCATION], "/dashboard/sign-in");
    let refused = form(
        client().post(format!("{}/dashboard/sign-in", app.base_url)),
        &[("key", "qk_not_a_key")],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.text().await.unwrap().contains("unknown or revoked"));

    let failed = failed_broken_run(&app).await;
    let admin = sign_in(&app, &app.admin_key).await;
    let (status, overview) = admin.get("/dashboard").await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    for part in [
        "<caption>Queues</caption>",
        "Workers alive",
        "Runs by status",
        &failed,
    ] {
        assert!(
            overview.contains(part),
            "{part} missing from the overview:\n{overview}"
        );
    }

    let csrf = admin.csrf("/dashboard/queues").await;
    let pause = "/dashboard/queues/reports/pause";
    assert_eq!(admin.post(pause, "", None).await, StatusCode::FORBIDDEN);
    let evil = Some("http://evil.example");
    assert_eq!(admin.post(pause, &csrf, evil).await, StatusCode::FORBIDDEN);
    assert!(
        !app.queue_paused("reports").await,
        "a refused form paused the queue"
    );
    let own = app.base_url.clone();
    assert_eq!(
        admin.post(pause, &csrf, Some(&own)).await,
        StatusCode::SEE_OTHER
    );
    assert!(app.queue_paused("reports").await);
    let (_, queues) = admin.get("/dashboard/queues").await;
    assert!(
        queues.contains("paused") && queues.contains("Resume"),
        "{queues}"
    );

    let (_, page) = admin.get(&format!("/dashboard/runs/{failed}")).await;
    assert!(page.contains("Retry") && page.contains("failed"), "{page}");
    let retry = format!("/dashboard/runs/{failed}/retry");
    assert_eq!(admin.post(&retry, &csrf, None).await, StatusCode::SEE_OTHER);
    assert_eq!(app.run(&failed).await.status, RunStatus::Queued);

    assert_eq!(
        admin.post("/dashboard/sign-out", &csrf, None).await,
        StatusCode::SEE_OTHER
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_tenant_sees_only_its_own_runs_and_cannot_touch_the_queues() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let (_, acme) = app
        .post_report(&app.admin_key, &body("clients", json!({})), None)
        .await;
    let globex = json!({ "tenant": "globex", "report": "clients", "format": "csv", "params": {} });
    let (_, globex) = app.post_report(&app.admin_key, &globex, None).await;
    let (acme, globex) = (acme["id"].as_str().unwrap(), globex["id"].as_str().unwrap());

    let tenant = sign_in(&app, &app.acme_key).await;
    let (status, runs) = tenant.get("/dashboard/runs?tenant=globex").await;
    assert_eq!(status, StatusCode::OK);
    assert!(runs.contains(acme), "{runs}");
    assert!(
        !runs.contains(globex),
        "another tenant's run is listed:\n{runs}"
    );
    let (status, _) = tenant.get(&format!("/dashboard/runs/{globex}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = tenant.get("/dashboard/queues").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let csrf = tenant.csrf("/dashboard/runs").await;
    let pause = tenant
        .post("/dashboard/queues/reports/pause", &csrf, None)
        .await;
    assert_eq!(pause, StatusCode::FORBIDDEN);
    let (status, _) = tenant.get("/dashboard/workers").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Search goes straight to a run by its id or by the tenant's idempotency key.
    let keyed = json!({ "tenant": "acme", "report": "clients", "format": "xlsx", "params": {} });
    let (_, keyed) = app
        .post_report(&app.acme_key, &keyed, Some("order-7"))
        .await;
    let keyed = keyed["id"].as_str().unwrap();
    let at = |answer: reqwest::Response| {
        answer
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned())
    };
    let search = |browser: &Browser, q: String| {
        let request = client()
            .get(format!("{}/dashboard/runs?{q}", app.base_url))
            .header(COOKIE, browser.cookie.clone());
        async move { request.send().await.unwrap() }
    };
    let by_key = search(&tenant, "q=order-7".into()).await;
    assert_eq!(at(by_key), Some(format!("/dashboard/runs/{keyed}")));
    let by_id = search(&tenant, format!("q={acme}")).await;
    assert_eq!(at(by_id), Some(format!("/dashboard/runs/{acme}")));
    assert_eq!(
        search(&tenant, "q=nosuch".into()).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        search(&tenant, format!("q={globex}")).await.status(),
        StatusCode::NOT_FOUND,
        "another tenant's run is found"
    );
    let admin = sign_in(&app, &app.admin_key).await;
    let unnamed = search(&admin, "q=order-7".into()).await;
    assert_eq!(unnamed.status(), StatusCode::NOT_FOUND);
    assert!(unnamed.text().await.unwrap().contains("name its tenant"));
    let named = search(&admin, "q=order-7&tenant=acme".into()).await;
    assert_eq!(at(named), Some(format!("/dashboard/runs/{keyed}")));

    // A revoked key's sessions end with it.
    let key_id = app
        .runs
        .store
        .authenticate(&app.acme_key)
        .await
        .unwrap()
        .unwrap()
        .id;
    assert!(app.runs.store.revoke_api_key(&key_id).await.unwrap());
    let (status, _) = tenant.get("/dashboard/runs").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    app.cleanup().await;
}

const LIMIT: Duration = Duration::from_secs(30);

/// Waits until run `id`'s history holds an event of `kind`: the observer writes it
/// after the queue committed the outcome.
pub(crate) async fn history_has(app: &TestApp, id: &str, kind: &str) -> Vec<RunEvent> {
    let store = app.runs.store.clone();
    eventually(LIMIT, &format!("run {id} has a {kind} event"), || {
        let store = store.clone();
        async move {
            let events = store.run_events(id).await.unwrap();
            events.iter().any(|e| e.kind == kind).then_some(events)
        }
    })
    .await
}

/// The run page shows each attempt (worker, outcome, the redacted error), the overview
/// the last hour's chart and timings, and the workers page each worker's queues and
/// concurrency: against SQLite and PostgreSQL.
async fn history_and_the_last_hour(backend: Backend) {
    let app = spawn_app(backend, &[("broken.toml", BROKEN)]).await;
    let failed = failed_broken_run(&app).await;
    let (_, done) = app
        .post_report(&app.acme_key, &body("clients", json!({})), None)
        .await;
    let done = done["id"].as_str().unwrap().to_owned();
    let worker = app.start_worker(worker_options());
    app.completed_run(&done, LIMIT).await;
    let events = history_has(&app, &done, "succeeded").await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["started", "succeeded"]);
    assert_eq!(events[0].attempt, 1);
    let pid = std::process::id().to_string();
    assert!(events[0].worker.contains(&pid), "{:?}", events[0]);

    let admin = sign_in(&app, &app.admin_key).await;
    let (_, page) = admin.get(&format!("/dashboard/runs/{done}")).await;
    for part in [
        "<caption>Attempts</caption>",
        &events[0].worker,
        "succeeded",
    ] {
        assert!(
            page.contains(part),
            "{part} missing from the run page:\n{page}"
        );
    }
    history_has(&app, &failed, "failed").await;
    let (_, page) = admin.get(&format!("/dashboard/runs/{failed}")).await;
    assert!(page.contains("the report query failed"), "{page}");
    assert!(
        !page.contains("no_such_column"),
        "the run page shows the database's error:\n{page}"
    );

    let (_, overview) = admin.get("/dashboard").await;
    for part in [
        "over the last hour: 1 completed, 1 failed",
        "<th scope=\"row\">clients</th>",
        "Wait p95",
    ] {
        assert!(
            overview.contains(part),
            "{part} missing from the overview:\n{overview}"
        );
    }
    let (_, workers) = admin.get("/dashboard/workers").await;
    let concurrency = format!(" of {}", worker_options().concurrency);
    for part in ["<td>reports</td>", concurrency.as_str(), pid.as_str()] {
        assert!(
            workers.contains(part),
            "{part} missing from the workers page:\n{workers}"
        );
    }
    worker.stop().await;
    app.cleanup().await;
}

#[tokio::test]
async fn history_and_the_last_hour_on_sqlite() {
    history_and_the_last_hour(Backend::Sqlite).await;
}

#[tokio::test]
async fn history_and_the_last_hour_on_postgres() {
    history_and_the_last_hour(Backend::Postgres).await;
}

/// A read-only admin key sees every page but no action button, and every change it
/// posts is refused, in the dashboard and the API alike; a download link it may mint.
#[tokio::test]
async fn a_read_only_key_sees_everything_and_changes_nothing() {
    let app = spawn_app(Backend::Sqlite, &[("broken.toml", BROKEN)]).await;
    let failed = failed_broken_run(&app).await;
    let (_, key) = app
        .runs
        .store
        .create_api_key(&NewApiKey {
            access: Access::ReadOnly,
            ..NewApiKey::default()
        })
        .await
        .unwrap();

    let api = |request: reqwest::RequestBuilder| {
        let request = request.bearer_auth(&key);
        async move {
            let answer = request.send().await.unwrap();
            (answer.status(), answer.text().await.unwrap())
        }
    };
    let (status, list) = api(client().get(format!("{}/v1/reports", app.base_url))).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.contains(&failed));
    for path in [
        "/v1/reports".to_owned(),
        format!("/v1/reports/{failed}/retry"),
        "/v1/queues/reports/pause".to_owned(),
    ] {
        let request = client()
            .post(format!("{}{path}", app.base_url))
            .json(&body("clients", json!({})));
        let (status, answer) = api(request).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
        assert!(answer.contains("read_only_key"), "{answer}");
    }

    let reader = sign_in(&app, &key).await;
    let (_, overview) = reader.get("/dashboard").await;
    assert!(overview.contains("admin, read-only"), "{overview}");
    let (status, queues) = reader.get("/dashboard/queues").await;
    assert_eq!(status, StatusCode::OK);
    assert!(queues.contains("<th scope=\"row\">reports</th>") || queues.contains("Queues"));
    assert!(!queues.contains(">Pause<"), "{queues}");
    let (_, page) = reader.get(&format!("/dashboard/runs/{failed}")).await;
    assert!(!page.contains(">Retry<"), "{page}");
    let (_, failed_page) = reader.get("/dashboard/failed").await;
    assert!(failed_page.contains(&failed));
    assert!(!failed_page.contains("Retry all matching"), "{failed_page}");
    let csrf = reader.csrf("/dashboard").await;
    for path in [
        format!("/dashboard/runs/{failed}/retry"),
        "/dashboard/failed/retry".to_owned(),
        "/dashboard/queues/reports/pause".to_owned(),
        "/dashboard/workers/restart".to_owned(),
    ] {
        assert_eq!(
            reader.post(&path, &csrf, None).await,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(app.run(&failed).await.status, RunStatus::Failed);
    assert_eq!(
        reader.post("/dashboard/sign-out", &csrf, None).await,
        StatusCode::SEE_OTHER
    );
    app.cleanup().await;
}

/// The failed page retries or forgets every run matching its filter; a second click
/// (the form sent twice) changes nothing more, and a forgotten run leaves the failed
/// list and the dead set.
#[tokio::test]
async fn the_failed_page_retries_and_forgets_all_matching_once() {
    let app = spawn_app(Backend::Sqlite, &[("broken.toml", BROKEN)]).await;
    let first = failed_broken_run(&app).await;
    let admin = sign_in(&app, &app.admin_key).await;
    let csrf = admin.csrf("/dashboard/failed").await;
    let (_, page) = admin.get("/dashboard/failed?report=broken_query").await;
    assert!(
        page.contains(&first) && page.contains("Retry all matching"),
        "{page}"
    );
    let (_, other) = admin.get("/dashboard/failed?report=clients").await;
    assert!(!other.contains(&first), "{other}");

    for _ in 0..2 {
        let answer = form(
            client()
                .post(format!("{}/dashboard/failed/retry", app.base_url))
                .header(COOKIE, &admin.cookie),
            &[
                ("csrf", csrf.as_str()),
                ("report", "broken_query"),
                ("tenant", ""),
            ],
        )
        .send()
        .await
        .unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(app.run(&first).await.status, RunStatus::Queued);
    let loads = app.runs.queue.loads(0).await.unwrap();
    let ready: u64 = loads.queues.iter().map(|q| q.ready).sum();
    assert_eq!(ready, 1, "the double click enqueued twice: {loads:?}");

    // It fails again; forgetting it sets it aside and drops its dead job.
    let worker = app.start_worker(worker_options());
    assert_eq!(
        app.finished_run(&first, LIMIT).await.status,
        RunStatus::Failed
    );
    worker.stop().await;
    let forget = format!("/dashboard/runs/{first}/forget");
    assert_eq!(
        admin.post(&forget, &csrf, None).await,
        StatusCode::SEE_OTHER
    );
    let run = app.run(&first).await;
    assert_eq!(run.status, RunStatus::Discarded);
    assert_eq!(run.error.unwrap().code, "forgotten");
    assert!(app.runs.queue.job(&first).await.unwrap().is_none());
    let (_, page) = admin.get("/dashboard/failed").await;
    assert!(!page.contains(&first), "{page}");
    app.cleanup().await;
}

/// The runs list filters by format and by a creation time range (read off the ids).
#[tokio::test]
async fn runs_filter_by_format_and_time_range() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let order = |format: &str| json!({ "tenant": "acme", "report": "clients", "format": format, "params": {} });
    let (_, csv) = app.post_report(&app.admin_key, &order("csv"), None).await;
    let (_, xlsx) = app.post_report(&app.admin_key, &order("xlsx"), None).await;
    let (csv, xlsx) = (csv["id"].as_str().unwrap(), xlsx["id"].as_str().unwrap());
    let admin = sign_in(&app, &app.admin_key).await;
    let (_, page) = admin.get("/dashboard/runs?format=xlsx").await;
    assert!(page.contains(xlsx) && !page.contains(csv), "{page}");
    let now = chrono::Utc::now();
    let minute = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%dT%H:%M").to_string();
    let around = format!(
        "/dashboard/runs?from={}&to={}",
        minute(now - chrono::TimeDelta::minutes(5)),
        minute(now + chrono::TimeDelta::minutes(5))
    );
    let (_, page) = admin.get(&around).await;
    assert!(page.contains(xlsx) && page.contains(csv), "{page}");
    let earlier = format!(
        "/dashboard/runs?to={}",
        minute(now - chrono::TimeDelta::minutes(5))
    );
    let (_, page) = admin.get(&earlier).await;
    assert!(!page.contains(xlsx) && !page.contains(csv), "{page}");
    let (status, page) = admin.get("/dashboard/runs?from=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("is not a time like"), "{page}");
    app.cleanup().await;
}
