//! API and worker processes as on several hosts: each in a network namespace, a working
//! folder and a TMPDIR of its own, sharing only the database, Redis and an S3 bucket (no
//! folder), which it reaches over a veth pair made for it. Runs pour in through two API
//! processes while three workers build them; one worker is SIGKILLed and one restarted
//! mid-way, and every run still ends completed exactly once, with one object.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use futures::StreamExt as _;
use quire::store::RunStatus;
use reqwest::StatusCode;
use serde_json::json;

use quire::runs::Sweeper;

use crate::common::{S3Server, wait_until};
use crate::helpers::{Backend, Host, QuireProcess, TestApp, body};
use crate::processes::sha256_hex;
use crate::storage::{key_of, object, objects, spawn_app_on_bucket};

const RUNS: usize = 200;
const LIMIT: Duration = Duration::from_secs(120);

/// A network namespace standing for a host: a veth pair to this machine's namespace
/// with the addresses of a /30 of 198.18.0.0/15 (the range set aside for network tests),
/// and forwarders on this side that carry its connections to the services listening on
/// 127.0.0.1 here. Its processes reach nothing else. Deleted, with its veth pair, when
/// dropped.
struct Namespace {
    name: String,
    /// This machine's end of the pair.
    gateway: Ipv4Addr,
    /// The namespace's end.
    address: Ipv4Addr,
    forwarders: Vec<tokio::task::JoinHandle<()>>,
    dir: tempfile::TempDir,
}

/// Runs `ip ARGS`, which must succeed.
fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("ip runs");
    assert!(output.status.success(), "ip {args:?}: {output:?}");
}

impl Namespace {
    /// The `index`th namespace of a test whose names carry `tag` and whose addresses
    /// lie in `198.18.<net>.0/24`.
    fn create(tag: &str, net: u8, index: u8) -> Namespace {
        let name = format!("quire-{tag}-{index}");
        let (outside, inside) = (format!("qv{tag}{index}h"), format!("qv{tag}{index}n"));
        let gateway = Ipv4Addr::new(198, 18, net, index * 4 + 1);
        let address = Ipv4Addr::new(198, 18, net, index * 4 + 2);
        ip(&["netns", "add", &name]);
        let namespace = Namespace {
            name,
            gateway,
            address,
            forwarders: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
        };
        let ns = namespace.name.as_str();
        ip(&[
            "link", "add", &outside, "type", "veth", "peer", "name", &inside,
        ]);
        ip(&["link", "set", &inside, "netns", ns]);
        ip(&["addr", "add", &format!("{gateway}/30"), "dev", &outside]);
        ip(&["link", "set", &outside, "up"]);
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{address}/30"),
            "dev",
            &inside,
        ]);
        ip(&["-n", ns, "link", "set", &inside, "up"]);
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        namespace
    }

    /// Listens on the gateway for connections from the namespace and forwards each to
    /// `target` on this machine; returns where the namespace reaches it.
    async fn forward(&mut self, target: SocketAddr) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind((self.gateway, 0))
            .await
            .unwrap();
        let reached_at = listener.local_addr().unwrap();
        self.forwarders.push(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
        reached_at
    }

    /// The host its processes run on: the database, Redis and the bucket reached
    /// through forwarders on the gateway, and the scratch folder in its own folder.
    async fn host(&mut self, app: &TestApp, bucket: &S3Server) -> Host {
        let database: SocketAddr = "127.0.0.1:5432".parse().unwrap();
        let redis: SocketAddr = "127.0.0.1:6379".parse().unwrap();
        let s3 = SocketAddr::from((Ipv4Addr::LOCALHOST, bucket.port));
        let (database_at, redis_at, s3_at) = (
            self.forward(database).await,
            self.forward(redis).await,
            self.forward(s3).await,
        );
        let database_url = app
            .db
            .url
            .replace(&database.to_string(), &database_at.to_string());
        assert_ne!(
            database_url, app.db.url,
            "the database is reached through the gateway"
        );
        let dir = self.dir.path();
        Host {
            dir: dir.to_owned(),
            address: self.address.into(),
            launcher: ["ip", "netns", "exec", &self.name]
                .map(str::to_owned)
                .to_vec(),
            env: vec![
                ("DATABASE_URL".into(), database_url.clone()),
                ("REPORTS_DATABASE_URL".into(), database_url),
                ("REDIS_URL".into(), format!("redis://{redis_at}")),
                ("QUIRE_S3_ENDPOINT".into(), format!("http://{s3_at}")),
                (
                    "QUIRE_STORAGE_DIR".into(),
                    dir.join("scratch").to_string_lossy().into_owned(),
                ),
            ],
        }
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        for forwarder in &self.forwarders {
            forwarder.abort();
        }
        // Takes the veth pair with it.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A worker of its own host: short leases, so a killed one's runs come back soon.
fn worker(app: &TestApp, host: &Host) -> QuireProcess {
    app.spawn_quire_on(
        host,
        &[
            "work",
            "--queues",
            "reports",
            "--concurrency",
            "2",
            "--lease",
            "3s",
        ],
    )
}

/// How many of `ids` are completed now.
async fn completed(app: &TestApp, ids: &[String]) -> usize {
    let mut done = 0;
    for id in ids {
        if app.run(id).await.status == RunStatus::Completed {
            done += 1;
        }
    }
    done
}

#[tokio::test]
async fn runs_through_two_apis_and_three_workers_complete_once_each_despite_a_kill_and_a_restart() {
    let bucket = S3Server::start().await;
    let app = spawn_app_on_bucket(Backend::Postgres, &bucket, false, &[]).await;
    let tag = &uuid::Uuid::now_v7().simple().to_string()[28..];
    let net = rand::random_range(0..=255);
    let mut namespaces: Vec<Namespace> = (0..6).map(|i| Namespace::create(tag, net, i)).collect();
    let mut hosts = Vec::new();
    for namespace in &mut namespaces {
        hosts.push(namespace.host(&app, &bucket).await);
    }
    let servers = [
        app.spawn_server_on(&hosts[0], &["serve"]).await,
        app.spawn_server_on(&hosts[1], &["serve"]).await,
    ];
    let mut workers = [
        worker(&app, &hosts[2]),
        worker(&app, &hosts[3]),
        worker(&app, &hosts[4]),
    ];

    // Distinct periods, so that no request is answered by another's run.
    let app_ref = &app;
    let first_day = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let posts = futures::stream::iter(0..RUNS)
        .map(|i| {
            let day = first_day + chrono::Days::new(i as u64);
            let request = body(
                "invoices",
                json!({ "period": "custom", "start_date": day.to_string(), "end_date": "2026-06-30" }),
            );
            let server = &servers[i % servers.len()];
            async move {
                app_ref
                    .post_report_to(&server.base_url, &app_ref.acme_key, &request, None)
                    .await
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let ids: Vec<String> = posts
        .into_iter()
        .map(|(status, answer)| {
            assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
            answer["id"].as_str().unwrap().to_owned()
        })
        .collect();

    let ids_ref = &ids;
    wait_until(LIMIT, "a quarter of the runs completed", || async move {
        completed(app_ref, ids_ref).await >= RUNS / 4
    })
    .await;
    workers[0].kill().await;
    assert_eq!(workers[1].terminate().await, 0, "{}", workers[1].log());
    workers[1] = worker(&app, &hosts[5]);

    wait_until(LIMIT, "every run completed", || async move {
        completed(app_ref, ids_ref).await == RUNS
    })
    .await;
    // One object per run, holding what its row says; once a sweep with no grace has
    // removed what no run owns, those are all the bucket holds.
    let mut keys = Vec::new();
    for id in &ids {
        let file = app.run(id).await.file.expect("a completed run has a file");
        let key = key_of(&file.path);
        assert_eq!(sha256_hex(&object(&bucket, &key)), file.sha256, "run {id}");
        keys.push(key);
    }
    keys.sort();
    let mut sweeper = Sweeper::new(app.runs.clone());
    sweeper.orphan_grace = Duration::ZERO;
    sweeper.sweep_once().await.unwrap();
    let mut left = objects(&bucket);
    left.sort();
    assert_eq!(left, keys, "only the runs' own objects remain");
    for server in &servers {
        assert!(server.log().contains("API listening"), "{}", server.log());
    }
    app.cleanup().await;
}
