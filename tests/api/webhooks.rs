//! Completion webhooks: an endpoint that fails or never answers is retried and never
//! changes a run's outcome; deliveries survive a restart of `quire run`; every body is
//! signed with the key's secret; HTTPS endpoints are verified against the Mozilla roots
//! or a configured CA; URLs are checked when a key is created and again at delivery.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use quire::runs::{SIGNATURE_HEADER, WebhookSender};
use quire::store::{NewApiKey, RunStatus};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::on_databases;
use crate::common::{eventually, wait_until};
use crate::helpers::{Backend, TestApp, body, spawn_app, worker_options};

const LIMIT: Duration = Duration::from_secs(60);
const SECRET: &str = "whsec_test-secret";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Call {
    signature: String,
    body: Bytes,
    /// What the receiver answered; `None` while it hangs.
    answered: Option<StatusCode>,
}

/// A webhook endpoint owned by the test, recording every call: `/flaky` answers 500
/// while it has failures left, then 200; `/hang` never answers.
#[derive(Clone)]
struct Receiver {
    base_url: String,
    failures_left: Arc<AtomicUsize>,
    calls: Arc<Mutex<Vec<(&'static str, Call)>>>,
}

impl Receiver {
    /// Listens over plain HTTP on a free port; `/flaky` fails its first `failures` calls.
    async fn start(failures: usize) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        Receiver::serve(listener, base_url, failures)
    }

    /// Listens over HTTPS with `certificate` on a free port, as `https://localhost:PORT`.
    async fn start_tls(failures: usize, certificate: &ServerCertificate) -> Receiver {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("https://localhost:{}", tcp.local_addr().unwrap().port());
        let listener = TlsListener {
            tcp,
            acceptor: tokio_rustls::TlsAcceptor::from(certificate.config.clone()),
        };
        Receiver::serve(listener, base_url, failures)
    }

    fn serve<L>(listener: L, base_url: String, failures: usize) -> Receiver
    where
        L: axum::serve::Listener,
        L::Addr: std::fmt::Debug,
    {
        let receiver = Receiver {
            base_url,
            failures_left: Arc::new(AtomicUsize::new(failures)),
            calls: Arc::default(),
        };
        let router = Router::new()
            .route("/flaky", post(flaky))
            .route("/hang", post(hang))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        receiver
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// From now on `/flaky` succeeds.
    fn stop_failing(&self) {
        self.failures_left.store(0, Ordering::SeqCst);
    }

    fn record(
        &self,
        path: &'static str,
        headers: &HeaderMap,
        body: Bytes,
        answered: Option<StatusCode>,
    ) {
        let signature = headers
            .get(SIGNATURE_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let call = Call {
            signature,
            body,
            answered,
        };
        self.calls.lock().unwrap().push((path, call));
    }

    /// The calls to `path` so far, oldest first.
    fn calls(&self, path: &str) -> Vec<Call> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(p, _)| *p == path)
            .map(|(_, call)| call.clone())
            .collect()
    }
}

/// TCP plus a TLS handshake; a client that gives up on the handshake (it does not trust
/// the certificate) is dropped and never reaches the router.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, address)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, address);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A certificate for `localhost` and 127.0.0.1 signed by a CA made for the test, the
/// CA's PEM written to a file.
struct ServerCertificate {
    config: Arc<rustls::ServerConfig>,
    ca_file: std::path::PathBuf,
}

impl ServerCertificate {
    fn new(dir: &std::path::Path) -> ServerCertificate {
        let certificates =
            crate::common::TestCertificates::new("quire test CA", &["localhost", "127.0.0.1"]);
        let ca_file = dir.join(format!("ca-{}.pem", uuid::Uuid::now_v7().simple()));
        std::fs::write(&ca_file, &certificates.ca_pem).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certificates.key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certificates.cert.der().clone()], key)
        .unwrap();
        ServerCertificate {
            config: Arc::new(config),
            ca_file,
        }
    }
}

async fn flaky(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let failing = receiver
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    let status = if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    receiver.record("/flaky", &headers, body, Some(status));
    status
}

async fn hang(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    receiver.record("/hang", &headers, body, None);
    std::future::pending().await
}

/// Checks the call's `X-Quire-Signature` against its body and returns the payload.
fn signed_payload(call: &Call) -> Value {
    let hex_mac = call
        .signature
        .strip_prefix("sha256=")
        .unwrap_or_else(|| panic!("a sha256= signature, not {:?}", call.signature));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&call.body);
    mac.verify_slice(&hex::decode(hex_mac).unwrap())
        .expect("the signature matches the body");
    serde_json::from_slice(&call.body).unwrap()
}

/// A key of tenant `acme` whose finished runs are posted to `url`.
async fn webhook_key(app: &TestApp, url: &str) -> String {
    let new = NewApiKey {
        tenant: Some("acme".into()),
        webhook_url: Some(url.to_owned()),
        webhook_secret: Some(SECRET.to_owned()),
        ..NewApiKey::default()
    };
    app.runs.store.create_api_key(&new).await.unwrap().1
}

/// A row of `quire_webhook_deliveries`.
#[derive(Debug, sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    run_id: String,
    attempts: i64,
    delivered: bool,
    last_error: Option<String>,
}

async fn deliveries(app: &TestApp) -> Vec<DeliveryRow> {
    let sql = "SELECT id, run_id, CAST(attempts AS BIGINT) AS attempts, \
               delivered_at IS NOT NULL AS delivered, last_error \
               FROM quire_webhook_deliveries ORDER BY created_at, id";
    let sql = sqlx::AssertSqlSafe(app.db.for_this_database(sql));
    quire::on_any_pool!(&app.db.db, pool => sqlx::query_as(sql).fetch_all(pool).await).unwrap()
}

/// A sender that gives up on a delivery after 300 ms and retries from 50 ms: the
/// defaults (10 s, 5 s) are for production.
fn impatient_sender(app: &TestApp) -> WebhookSender {
    let mut sender = app.app.webhook_sender();
    sender.timeout = Duration::from_millis(300);
    sender.backoff_base = Duration::from_millis(50);
    sender
}

/// Posts a run of `report` with `key` and waits until it completed; returns its id.
async fn completed_run(app: &TestApp, key: &str, report: &str) -> String {
    let (_, run) = app.post_report(key, &body(report, json!({})), None).await;
    let id = run["id"].as_str().unwrap().to_owned();
    app.completed_run(&id, LIMIT).await;
    id
}

#[tokio::test]
async fn failing_and_hanging_endpoints_are_retried_with_signed_bodies_and_runs_still_complete() {
    let mut app = spawn_app(Backend::Sqlite, &[]).await;
    // The test drives impatient senders itself.
    app.app.loops.webhooks = None;
    let receiver = Receiver::start(2).await;
    let flaky_key = webhook_key(&app, &receiver.url("/flaky")).await;
    let hang_key = webhook_key(&app, &receiver.url("/hang")).await;
    let _worker = app.start_worker(worker_options());
    let ids = [
        completed_run(&app, &flaky_key, "clients").await,
        completed_run(&app, &hang_key, "products").await,
    ];

    let sender = impatient_sender(&app);
    let (sender, receiver_ref) = (&sender, &receiver);
    wait_until(
        LIMIT,
        "the flaky endpoint accepted a retry and the hanging one was retried",
        || async move {
            tokio::time::timeout(Duration::from_secs(5), sender.deliver_due())
                .await
                .expect("a hanging endpoint holds the sender no longer than its timeout")
                .unwrap();
            let flaky = receiver_ref.calls("/flaky");
            flaky.last().and_then(|call| call.answered) == Some(StatusCode::OK)
                && receiver_ref.calls("/hang").len() >= 2
        },
    )
    .await;

    let flaky = receiver.calls("/flaky");
    let answers: Vec<_> = flaky.iter().map(|call| call.answered.unwrap()).collect();
    assert_eq!(
        answers,
        [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::OK
        ]
    );
    let rows = deliveries(&app).await;
    let flaky_row = rows.iter().find(|row| row.run_id == ids[0]).unwrap();
    assert!(flaky_row.delivered);
    assert_eq!(flaky_row.attempts, 3);
    let hang_row = rows.iter().find(|row| row.run_id == ids[1]).unwrap();
    assert!(
        !hang_row.delivered,
        "a hanging endpoint never counts as delivered"
    );
    assert!(
        hang_row.attempts >= 2 && hang_row.last_error.is_some(),
        "{hang_row:?}"
    );

    for (id, row, calls) in [
        (&ids[0], flaky_row, flaky),
        (&ids[1], hang_row, receiver.calls("/hang")),
    ] {
        for call in &calls {
            let payload = signed_payload(call);
            assert_eq!(payload["event"], "run.finished");
            assert_eq!(payload["delivery_id"], row.id.as_str());
            assert_eq!(payload["run"]["id"], id.as_str());
            assert_eq!(payload["run"]["status"], "completed");
        }
    }
    for id in &ids {
        assert_eq!(app.run(id).await.status, RunStatus::Completed, "unchanged");
    }
    app.cleanup().await;
}

async fn a_delivery_that_failed_under_one_quire_run_is_made_by_the_next_after_a_restart(
    backend: Backend,
) {
    let app = spawn_app(backend, &[]).await;
    let receiver = Receiver::start(usize::MAX).await;
    let created = app
        .quire(&["keys", "create", "--tenant", "acme"])
        .args(["--webhook-url", &receiver.url("/flaky")])
        .args(["--webhook-secret", SECRET])
        .output()
        .await
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();

    let mut first = app.spawn_server(&["run", "--queues", "reports"]).await;
    let (status, run) = app
        .post_report_to(&first.base_url, &key, &body("clients", json!({})), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_str().unwrap();
    let finished = app.finished_run(id, LIMIT).await;
    assert_eq!(
        finished.status,
        RunStatus::Completed,
        "a failing endpoint changes nothing"
    );
    let receiver_ref = &receiver;
    wait_until(LIMIT, "the first process tried to deliver", || async move {
        !receiver_ref.calls("/flaky").is_empty()
    })
    .await;
    assert_eq!(first.terminate().await, 0, "{}", first.log());
    let failed = receiver.calls("/flaky");

    receiver.stop_failing();
    let mut second = app.spawn_server(&["run", "--queues", "reports"]).await;
    let app_ref = &app;
    let delivery = eventually(LIMIT, "the second process delivers", || async move {
        deliveries(app_ref)
            .await
            .into_iter()
            .find(|row| row.delivered)
    })
    .await;

    let calls = receiver.calls("/flaky");
    assert_eq!(
        calls.len(),
        failed.len() + 1,
        "retried until delivered, then never again"
    );
    assert_eq!(delivery.attempts, calls.len() as i64);
    for (i, call) in calls.iter().enumerate() {
        let payload = signed_payload(call);
        assert_eq!(payload["delivery_id"], delivery.id.as_str());
        assert_eq!(payload["run"]["id"], id);
        assert_eq!(payload["run"]["status"], "completed");
        // Each process links to itself: the URL tells which one made the delivery.
        let (sender, answer) = if i < failed.len() {
            (&first, StatusCode::INTERNAL_SERVER_ERROR)
        } else {
            (&second, StatusCode::OK)
        };
        assert_eq!(call.answered, Some(answer));
        let status_url = payload["run"]["status_url"].as_str().unwrap();
        assert!(status_url.starts_with(&sender.base_url), "{status_url}");
    }
    second.kill().await;
    app.cleanup().await;
}

on_databases!([Postgres, Mysql] a_delivery_that_failed_under_one_quire_run_is_made_by_the_next_after_a_restart);

/// Every worker process runs a sender: a delivery being tried by one (an endpoint that
/// hangs, say) must not be posted again by another.
async fn two_senders_never_post_the_same_delivery_at_once(backend: Backend) {
    let mut app = spawn_app(backend, &[]).await;
    // The test drives its two senders itself.
    app.app.loops.webhooks = None;
    let receiver = Receiver::start(0).await;
    let key = webhook_key(&app, &receiver.url("/hang")).await;
    let _worker = app.start_worker(worker_options());
    completed_run(&app, &key, "clients").await;
    let senders = [impatient_sender(&app), impatient_sender(&app)];
    let (first, second) = tokio::join!(senders[0].deliver_due(), senders[1].deliver_due());
    first.unwrap();
    second.unwrap();
    assert_eq!(receiver.calls("/hang").len(), 1);
    app.cleanup().await;
}

on_databases!([Postgres, Mysql] two_senders_never_post_the_same_delivery_at_once);

/// The delivery row of run `id`, once its last attempt left an error.
async fn failed_delivery(app: &TestApp, sender: &WebhookSender, id: &str) -> DeliveryRow {
    eventually(LIMIT, "a delivery attempt failed", || async move {
        sender.deliver_due().await.unwrap();
        deliveries(app)
            .await
            .into_iter()
            .find(|row| row.run_id == id && row.last_error.is_some())
    })
    .await
}

/// An endpoint whose certificate quire does not trust is never posted to, and the
/// delivery says why; `--webhook-ca-file` then makes `quire run` trust it.
#[tokio::test]
async fn https_endpoints_are_verified_against_the_roots_and_the_configured_ca() {
    let mut app = spawn_app(Backend::Sqlite, &[]).await;
    app.app.loops.webhooks = None;
    let certificate = ServerCertificate::new(app.db.dir());
    let receiver = Receiver::start_tls(0, &certificate).await;
    let created = app
        .quire(&["keys", "create", "--tenant", "acme"])
        .args(["--webhook-url", &receiver.url("/flaky")])
        .args(["--webhook-secret", SECRET])
        .output()
        .await
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let worker = app.start_worker(worker_options());
    let id = completed_run(&app, &key, "clients").await;

    // The default client trusts only the Mozilla roots.
    let failed = failed_delivery(&app, &impatient_sender(&app), &id).await;
    let error = failed.last_error.unwrap();
    assert!(
        error.contains("invalid peer certificate: UnknownIssuer"),
        "{error}"
    );
    assert!(
        receiver.calls("/flaky").is_empty(),
        "no request got through"
    );
    assert!(!failed.delivered);
    assert_eq!(app.run(&id).await.status, RunStatus::Completed);
    worker.stop().await;

    let ca_file = certificate.ca_file.to_str().unwrap();
    let mut server = app
        .spawn_server(&["run", "--queues", "reports", "--webhook-ca-file", ca_file])
        .await;
    let app_ref = &app;
    let delivered = eventually(LIMIT, "quire run delivers", || async move {
        deliveries(app_ref)
            .await
            .into_iter()
            .find(|row| row.delivered)
    })
    .await;
    let calls = receiver.calls("/flaky");
    assert_eq!(calls.len(), 1);
    let payload = signed_payload(&calls[0]);
    assert_eq!(payload["delivery_id"], delivered.id.as_str());
    assert_eq!(payload["run"]["id"], id.as_str());
    server.kill().await;
    app.cleanup().await;
}

/// `quire keys create` with `args`: its exit code and stderr.
async fn create_key(app: &TestApp, args: &[&str]) -> (i32, String) {
    let output = app
        .quire(&["keys", "create", "--tenant", "acme"])
        .args(args)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    (output.status.code().unwrap(), stderr)
}

#[tokio::test]
async fn keys_create_checks_the_webhook_url_and_secret_first() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let refused = [
        (
            &[
                "--webhook-url",
                "http://192.0.2.10/hook",
                "--webhook-secret",
                SECRET,
            ][..],
            "QUIRE_ALLOW_INSECURE_WEBHOOKS",
            &["--allow-insecure-webhooks"][..],
        ),
        (
            &[
                "--webhook-url",
                "https://169.254.169.254/latest",
                "--webhook-secret",
                SECRET,
            ],
            "169.254.169.254",
            &["--allow-link-local-webhooks"],
        ),
        (
            &[
                "--webhook-url",
                "https://[fd00::1]/hook",
                "--webhook-secret",
                SECRET,
            ],
            "fd00::1",
            &["--allow-link-local-webhooks=true"],
        ),
    ];
    for (args, says, allow) in refused {
        let (code, stderr) = create_key(&app, args).await;
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        let allowed: Vec<&str> = args.iter().chain(allow).copied().collect();
        let (code, stderr) = create_key(&app, &allowed).await;
        assert_eq!(code, 0, "{allowed:?}: {stderr}");
    }
    let (code, stderr) = create_key(
        &app,
        &[
            "--webhook-url",
            "https://hooks.quire.invalid/q",
            "--webhook-secret",
            SECRET,
        ],
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("hooks.quire.invalid does not resolve"),
        "{stderr}"
    );
    let (code, stderr) = create_key(
        &app,
        &[
            "--webhook-url",
            "https://hooks.example.com/q",
            "--webhook-secret",
            "",
        ],
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("non-empty --webhook-secret"), "{stderr}");
    let (code, stderr) = create_key(
        &app,
        &[
            "--webhook-url",
            "http://127.0.0.1:9/hook",
            "--webhook-secret",
            SECRET,
        ],
    )
    .await;
    assert_eq!(code, 0, "loopback may be plain http: {stderr}");

    let keys = "SELECT COUNT(*) FROM quire_api_keys WHERE webhook_url IS NOT NULL";
    let keys = sqlx::AssertSqlSafe(app.db.for_this_database(keys));
    let stored: i64 =
        quire::on_any_pool!(&app.db.db, pool => sqlx::query_scalar(keys).fetch_one(pool).await)
            .unwrap();
    assert_eq!(
        stored, 4,
        "the three allowed and the loopback key; no refused one"
    );
    app.cleanup().await;
}

/// A key stored with a metadata address (before the check existed, or written by hand)
/// is refused at delivery, without a connection.
#[tokio::test]
async fn a_forbidden_webhook_url_is_refused_at_delivery_and_the_run_is_unaffected() {
    let mut app = spawn_app(Backend::Sqlite, &[]).await;
    app.app.loops.webhooks = None;
    let key = webhook_key(&app, "https://169.254.169.254/latest/meta-data").await;
    let worker = app.start_worker(worker_options());
    let id = completed_run(&app, &key, "clients").await;
    let failed = failed_delivery(&app, &impatient_sender(&app), &id).await;
    let error = failed.last_error.unwrap();
    assert!(
        error.contains("169.254.169.254") && error.contains("QUIRE_ALLOW_LINK_LOCAL_WEBHOOKS"),
        "{error}"
    );
    assert_eq!(app.run(&id).await.status, RunStatus::Completed);
    // The run's page shows the delivery and why it failed.
    let admin = crate::dashboard::sign_in(&app, &app.admin_key).await;
    let (_, page) = admin.get(&format!("/dashboard/runs/{id}")).await;
    for part in [
        "<caption>Webhook deliveries</caption>",
        "https://169.254.169.254/latest/meta-data",
        "QUIRE_ALLOW_LINK_LOCAL_WEBHOOKS",
        "not yet",
    ] {
        assert!(
            page.contains(part),
            "{part} missing from the run page:\n{page}"
        );
    }
    worker.stop().await;
    app.cleanup().await;
}
