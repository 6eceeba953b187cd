//! Enqueueing: validation, tenant scope, deduplication and idempotency keys.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, body, spawn_app};

#[tokio::test]
async fn a_valid_request_is_accepted_with_a_status_and_download_url() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let (status, run) = app
        .post_report(
            &app.acme_key,
            &body("invoices", json!({ "period": "last_year" })),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert_eq!(run["status"], "queued");
    assert_eq!(run["deduplicated"], false);
    assert_eq!(run["params"]["start_date"], "2025-01-01");
    assert!(
        run["download_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/v1/downloads/", app.base_url))
    );
    let id = run["id"].as_str().unwrap();
    // Committed row and pushed job.
    assert!(app.runs.store.run(id).await.unwrap().is_some());
    assert!(app.runs.queue.job(id).await.unwrap().is_some());
    app.cleanup().await;
}

#[tokio::test]
async fn bad_requests_get_the_documented_status_and_nothing_is_queued() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let url = format!("{}/v1/reports", app.base_url);
    let send = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json::<serde_json::Value>().await.unwrap())
    };
    let key = &app.acme_key;
    let cases = [
        (
            send(app.http.post(&url).send_json_text(key, "{not json")).await,
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        (
            send(
                app.http
                    .post(&url)
                    .send_json_text(key, r#"{"tenant":"acme","format":"csv"}"#),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        (
            send(app.http.post(&url).bearer_auth(key).body("tenant=acme")).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            send(
                app.http
                    .post(&url)
                    .send_json_text(key, &format!("{{\"pad\":\"{}\"}}", "x".repeat(100_000))),
            )
            .await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            send(app.http.post(&url).json(&body("invoices", json!({})))).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            send(
                app.http
                    .post(&url)
                    .bearer_auth("qk_wrong")
                    .json(&body("invoices", json!({}))),
            )
            .await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            send(
                app.http
                    .post(&url)
                    .bearer_auth(key)
                    .json(&json!({"tenant":"globex","report":"invoices","format":"csv"})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "forbidden_tenant",
        ),
        (
            send(
                app.http
                    .post(&url)
                    .bearer_auth(key)
                    .json(&body("nope", json!({}))),
            )
            .await,
            StatusCode::NOT_FOUND,
            "unknown_report",
        ),
        (
            send(app.http.post(&url).bearer_auth(key).json(&body(
                "invoices",
                json!({ "period": "fortnight", "colour": 1 }),
            )))
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_params",
        ),
        (
            send(
                app.http
                    .post(&url)
                    .bearer_auth(&app.admin_key)
                    .json(&json!({"tenant":"initech","report":"invoices","format":"pdf"})),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
    ];
    for ((status, answer), expected_status, expected_code) in cases {
        assert_eq!(status, expected_status, "{answer}");
        assert_eq!(answer["error"]["code"], expected_code, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // Every malformed field is named at once; a well-formed tenant the report
    // database does not know is refused like a malformed one.
    for (tenant, format, refused) in [
        ("no such tenant", "pdf", &["format", "tenant"][..]),
        ("initech", "csv", &["tenant"][..]),
    ] {
        let (_, invalid) = app
            .post_report(
                &app.admin_key,
                &json!({"tenant": tenant, "report": "invoices", "format": format}),
                None,
            )
            .await;
        let fields: Vec<&str> = invalid["error"]["details"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, refused, "{invalid}");
    }
    // A tenant whose time zone is not a zone cannot have its dates resolved. (A zone
    // read at enqueue is trusted for a while: this report's was not read yet.)
    app.db
        .run_script("UPDATE tenants SET timezone = 'Mars/Olympus_Mons' WHERE slug = 'acme'")
        .await;
    let (status, invalid) = app
        .post_report(&app.acme_key, &body("payments", json!({})), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{invalid}");
    assert_eq!(
        invalid["error"]["details"]["fields"],
        json!([{
            "field": "tenant",
            "message": "has the time zone \"Mars/Olympus_Mons\", which is not an IANA time zone name"
        }])
    );
    let page = app
        .runs
        .store
        .list_runs(&quire::store::RunQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.runs.is_empty(), "nothing was queued");
    assert_eq!(app.runs.queue.counts().await.unwrap().ready, 0);
    app.cleanup().await;
}

/// Sends raw text as a JSON body.
trait SendJsonText {
    fn send_json_text(self, key: &str, text: &str) -> Self;
}

impl SendJsonText for reqwest::RequestBuilder {
    fn send_json_text(self, key: &str, text: &str) -> Self {
        self.bearer_auth(key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(text.to_owned())
    }
}

#[tokio::test]
async fn an_identical_request_returns_the_queued_run_deduplicated() {
    // Each database writes a new run with its own statement (see `Store::enqueue_run`).
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        identical_request_deduplicated_on(backend).await;
    }
}

async fn identical_request_deduplicated_on(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let request = body("invoices", json!({ "period": "last_month" }));
    let (first_status, first) = app.post_report(&app.acme_key, &request, None).await;
    // The same resolved parameters written differently are the same request.
    let same = body(
        "invoices",
        json!({ "period": "custom", "start_date": "2026-05-01", "end_date": "2026-05-31" }),
    );
    let (second_status, second) = app.post_report(&app.admin_key, &same, None).await;
    assert_eq!(first_status, StatusCode::ACCEPTED);
    assert_eq!(second_status, StatusCode::OK, "{second}");
    assert_eq!(second["deduplicated"], true);
    assert_eq!(first["id"], second["id"]);
    assert_ne!(
        first["download_url"], second["download_url"],
        "each answer mints a fresh URL"
    );
    // Another format is another run.
    let mut xlsx = request.clone();
    xlsx["format"] = json!("xlsx");
    let (third_status, third) = app.post_report(&app.acme_key, &xlsx, None).await;
    assert_eq!(third_status, StatusCode::ACCEPTED);
    assert_ne!(third["id"], first["id"]);
    app.cleanup().await;
}

#[tokio::test]
async fn an_idempotency_key_replays_its_run_and_refuses_another_body() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let request = body("clients", json!({}));
    let (status, first) = app
        .post_report(&app.acme_key, &request, Some("order-1"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, replay) = app
        .post_report(&app.acme_key, &request, Some("order-1"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replay["id"], first["id"]);
    assert_eq!(replay["deduplicated"], true);
    let (status, conflict) = app
        .post_report(&app.acme_key, &body("products", json!({})), Some("order-1"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(conflict["error"]["code"], "idempotency_conflict");
    app.cleanup().await;
}

#[tokio::test]
async fn another_tenants_run_is_not_found() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let (_, run) = app
        .post_report(
            &app.admin_key,
            &json!({"tenant":"globex","report":"clients","format":"csv"}),
            None,
        )
        .await;
    let id = run["id"].as_str().unwrap();
    let (status, answer) = app.get(&app.acme_key, &format!("/v1/reports/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"]["code"], "run_not_found");
    let (status, _) = app.get(&app.admin_key, &format!("/v1/reports/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = app.get(&app.acme_key, "/v1/reports").await;
    assert_eq!(list["runs"].as_array().unwrap().len(), 0);
    app.cleanup().await;
}

#[tokio::test]
async fn a_revoked_key_is_refused() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let store = &app.runs.store;
    let (id, key) = store
        .create_api_key(&quire::store::NewApiKey {
            tenant: Some("acme".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let (status, _) = app.get(&key, "/v1/report-types").await;
    assert_eq!(status, StatusCode::OK);
    assert!(store.revoke_api_key(&id).await.unwrap());
    let (status, answer) = app.get(&key, "/v1/report-types").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"]["code"], "unauthorized");
    app.cleanup().await;
}

/// A body of the wrong shape is told in the API's words, naming the field, and a
/// long bad value comes back cut to 200 characters.
#[tokio::test]
async fn wrong_shapes_are_named_by_field_without_rust_types_or_whole_values() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let url = format!("{}/v1/reports", app.base_url);
    let long = "z".repeat(20_000);
    let cases = [
        (
            r#"{"tenant":"acme","report":"clients","format":"csv","options":5}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "options: must be an object, not a number".to_owned(),
        ),
        (
            r#"{"tenant":"acme","report":"clients","format":"csv","options":{"x":1}}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "options.x: unknown field \"x\"; expected one of csv_bom, csv_delimiter, csv_decimal"
                .to_owned(),
        ),
        (
            "[]".to_owned(),
            StatusCode::BAD_REQUEST,
            "the body must be an object".to_owned(),
        ),
        (
            r#"{"report":"clients","format":"csv"}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "the field tenant is required".to_owned(),
        ),
        (
            format!(r#"{{"tenant":"acme","report":"clients","format":"{long}"}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "\"{}\"… (20000 characters) is not csv or xlsx",
                &long[..200]
            ),
        ),
    ];
    for (text, status, says) in cases {
        let response = app
            .http
            .post(&url)
            .send_json_text(&app.acme_key, &text)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{text:.80}");
        let answer = response.text().await.unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&answer).unwrap();
        let error = &parsed["error"];
        let fields = error["details"]["fields"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut messages = fields.iter().map(|field| &field["message"]);
        assert!(
            std::iter::once(&error["message"])
                .chain(&mut messages)
                .any(|message| message.as_str().unwrap().contains(&says)),
            "{answer}"
        );
        for internal in ["struct", "OutputOptions", "CreateBody", "deserialize"] {
            assert!(!answer.contains(internal), "{answer}");
        }
        assert!(answer.len() < 1000, "{} bytes: {answer:.300}", answer.len());
    }
    assert_eq!(app.enqueue_rows().await, [0, 0, 0], "nothing was written");
    app.cleanup().await;
}

#[tokio::test]
async fn a_request_without_a_format_is_csv() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let (status, run) = app
        .post_report(
            &app.acme_key,
            &json!({"tenant":"acme","report":"clients"}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert_eq!(run["format"], "csv");
    app.cleanup().await;
}

#[tokio::test]
async fn an_admin_key_lists_one_tenants_runs_and_a_tenant_key_only_its_own() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    for tenant in ["acme", "globex"] {
        let request = json!({"tenant": tenant, "report": "clients"});
        let (status, _) = app.post_report(&app.admin_key, &request, None).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let tenants = |list: &serde_json::Value| -> Vec<String> {
        list["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| run["tenant"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, all) = app.get(&app.admin_key, "/v1/reports").await;
    assert_eq!(tenants(&all).len(), 2);
    let (_, globex) = app.get(&app.admin_key, "/v1/reports?tenant=globex").await;
    assert_eq!(tenants(&globex), ["globex"]);
    let (_, own) = app.get(&app.acme_key, "/v1/reports?tenant=acme").await;
    assert_eq!(tenants(&own), ["acme"]);
    let (status, answer) = app.get(&app.acme_key, "/v1/reports?tenant=globex").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["code"], "forbidden_tenant");
    app.cleanup().await;
}

#[tokio::test]
async fn quire_status_reads_the_database_alone_and_an_unknown_run_exits_1() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let (_, run) = app
        .post_report(
            &app.acme_key,
            &json!({"tenant":"acme","report":"clients"}),
            None,
        )
        .await;
    let id = run["id"].as_str().unwrap();
    // Redis is not needed: nothing listens on port 1.
    let output = app
        .quire(&["status", id, "--json"])
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let mut shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (shown["id"].as_str(), shown["status"].as_str()),
        (Some(id), Some("queued"))
    );
    // The API's shape: RFC 3339 times, progress.rows (the base URL is each one's own).
    let (_, mut api) = app.get(&app.acme_key, &format!("/v1/reports/{id}")).await;
    for view in [&mut shown, &mut api] {
        view.as_object_mut().unwrap().remove("status_url");
    }
    assert_eq!(shown, api);
    assert!(
        shown["created_at"].as_str().unwrap().ends_with('Z'),
        "{shown}"
    );

    let output = app
        .quire(&["status", "no-such-run"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no run has the id \"no-such-run\""),
        "{stderr}"
    );
    app.cleanup().await;
}

/// Each field's message follows the field's name: the command line says what is wrong
/// once (it used to print `tenant unknown tenant "nosuch"`).
#[tokio::test]
async fn enqueue_names_an_unknown_tenant_once_and_exits_2() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let output = app
        .quire(&["enqueue", "clients", "--tenant", "nosuch"])
        .env("QUIRE_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: tenant \"nosuch\" is unknown\n"
    );
    assert!(output.stdout.is_empty());
    app.cleanup().await;
}

#[tokio::test]
async fn keys_are_made_only_for_tenants_the_reports_database_knows() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let create = |tenant: &str| {
        let mut command = app.quire(&["keys", "create", "--tenant", tenant]);
        async move { command.output().await.unwrap() }
    };
    let made = create("acme").await;
    assert!(made.status.success(), "{made:?}");
    let key = String::from_utf8(made.stdout).unwrap();
    let (status, _) = app.get(key.trim(), "/v1/report-types").await;
    assert_eq!(status, StatusCode::OK);

    let unknown = create("doesnotexist").await;
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("no tenant \"doesnotexist\""), "{stderr}");
    assert!(unknown.stdout.is_empty());
    assert_eq!(create("not a slug").await.status.code(), Some(2));
    let keys = app.db.scalar("SELECT COUNT(*) FROM quire_api_keys").await;
    assert_eq!(keys, 3, "the test's two keys and the one made for acme");

    // --json prints the key with its id and tenant.
    let made = app
        .quire(&["keys", "create", "--tenant", "globex", "--json"])
        .output()
        .await
        .unwrap();
    let printed: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    assert_eq!(printed["tenant"], "globex");
    let (status, _) = app
        .get(printed["key"].as_str().unwrap(), "/v1/report-types")
        .await;
    assert_eq!(status, StatusCode::OK);
    let id = printed["id"].as_str().unwrap();
    let revoked = app
        .quire(&["keys", "revoke", id, "--json"])
        .output()
        .await
        .unwrap();
    let printed: serde_json::Value = serde_json::from_slice(&revoked.stdout).unwrap();
    assert_eq!(printed["revoked"], id);
    // A key that is not there (any more) is a failure, not a usage mistake.
    let again = app.quire(&["keys", "revoke", id]).output().await.unwrap();
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(stderr, format!("error: no live API key with id {id:?}\n"));
    app.cleanup().await;
}

const EUROPEAN: &str = r#"
name = "european_products"
title = "Products for European spreadsheets"
csv_delimiter = ";"
csv_decimal = ","
sql = "SELECT name, price FROM products WHERE tenant_id = :tenant ORDER BY name"
columns = [
    { name = "name", type = "text" },
    { name = "price", type = "money" },
]
"#;

/// A report's own CSV separators apply unless the request names others; a separator
/// that is not one of the offered ones is refused before anything is kept.
#[tokio::test]
async fn a_reports_csv_separators_apply_unless_the_request_names_others() {
    let app = spawn_app(Backend::Sqlite, &[("european.toml", EUROPEAN)]).await;
    let _worker = app.start_worker(crate::helpers::worker_options());
    let header = |options: serde_json::Value| {
        let app = &app;
        async move {
            let request = json!({
                "tenant": "acme", "report": "european_products", "options": options,
            });
            let (status, run) = app.post_report(&app.acme_key, &request, None).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{run}");
            let id = run["id"].as_str().unwrap();
            let done = app
                .finished_run(id, std::time::Duration::from_secs(20))
                .await;
            let text = std::fs::read_to_string(done.file.unwrap().path).unwrap();
            let mut lines = text.lines();
            (
                lines.next().unwrap().to_owned(),
                lines.next().unwrap().to_owned(),
            )
        }
    };
    let (head, row) = header(json!({})).await;
    assert_eq!(head, "name;price");
    assert!(row.contains(';') && row.contains(','), "{row}");
    let (head, row) = header(json!({ "csv_delimiter": ",", "csv_decimal": "." })).await;
    assert_eq!(head, "name,price");
    assert!(row.contains('.'), "{row}");

    let request = json!({
        "tenant": "acme", "report": "european_products", "options": { "csv_delimiter": "|" },
    });
    let (status, answer) = app.post_report(&app.acme_key, &request, None).await;
    assert!(status.is_client_error(), "{status} {answer}");
    assert!(answer.to_string().contains("csv_delimiter"), "{answer}");
    app.cleanup().await;
}

/// `quire enqueue --wait` names the run at once and, with no worker alive, says so
/// after a few seconds and keeps waiting; a worker that starts then finishes it.
#[tokio::test]
async fn enqueue_wait_says_when_no_worker_is_alive_and_goes_on_waiting() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let mut waiting = app.spawn_quire(&["enqueue", "clients", "--tenant", "acme", "--wait"]);
    let waiting_ref = &waiting;
    crate::common::wait_until(
        std::time::Duration::from_secs(20),
        "the missing worker is named",
        || async move { waiting_ref.log().contains("no worker is running") },
    )
    .await;
    let log = waiting.log();
    let named = log.find("waiting for run ").expect("the run is named");
    assert!(named < log.find("no worker is running").unwrap(), "{log}");
    assert!(
        waiting.child.try_wait().unwrap().is_none(),
        "it keeps waiting"
    );

    let _worker = app.start_worker(crate::helpers::worker_options());
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), waiting.child.wait())
        .await
        .expect("the run finishes once a worker runs")
        .unwrap();
    assert!(status.success(), "{}", waiting.log());
    app.cleanup().await;
}
