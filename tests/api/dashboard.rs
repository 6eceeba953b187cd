//! The dashboard over HTTP, as a browser drives it: signing in with an API key, the
//! session cookie, CSRF tokens and cross-site forms refused, an admin pausing a queue
//! and retrying a failed run, and a tenant's key kept to its own runs.

use quire::store::RunStatus;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::json;

use crate::helpers::{Backend, TestApp, body, spawn_app};
use crate::lifecycle::{BROKEN, failed_broken_run};

/// A browser's session: the cookie it was given at sign-in.
struct Browser<'a> {
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
async fn sign_in<'a>(app: &'a TestApp, key: &str) -> Browser<'a> {
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
    async fn get(&self, path: &str) -> (StatusCode, String) {
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
    let paused = |app: &TestApp| {
        let queue = app.runs.queue.clone();
        async move {
            let loads = queue.loads(0).await.unwrap();
            loads
                .queues
                .iter()
                .any(|q| q.queue == "reports" && q.paused)
        }
    };
    assert!(!paused(&app).await, "a refused form paused the queue");
    let own = app.base_url.clone();
    assert_eq!(
        admin.post(pause, &csrf, Some(&own)).await,
        StatusCode::SEE_OTHER
    );
    assert!(paused(&app).await);
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
