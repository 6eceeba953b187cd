//! `quire demo`: the whole product in one command on the embedded default. It creates
//! `quire-data/`, migrates and seeds SQLite, starts the API and workers in-process,
//! asks the API for several reports (two of them identical, to show deduplication),
//! shows their progress, and prints where each file is and its download URL. With
//! `--serve` it then keeps the API and the dashboard up until Ctrl-C, and prints a
//! sign-in link to the dashboard.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use quire_client::{Client, ReportOrder, Run};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::enqueue::Answer;
use crate::app::App;
use crate::clock::Clock;
use crate::runs::REPORT_QUEUE;
use crate::seed::SeedOptions;
use crate::settings::Settings;
use crate::store::{NewApiKey, Run as StoredRun};
use crate::worker::WorkerOptions;

/// Options of `quire demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Keep the API and the dashboard up after the reports are built, until Ctrl-C or
    /// SIGTERM, and print a sign-in link to the dashboard.
    #[arg(long)]
    pub serve: bool,
}

/// The demo gives up on runs that take longer than this.
const DEMO_LIMIT: Duration = Duration::from_secs(300);

/// Runs the demo and exits once every report is built (with `--serve`, once stopped).
/// With `--json` the summary is one JSON object: `api`, the `runs` in the order they
/// were asked for (each as `quire enqueue --json` prints it, the repeated request
/// `"deduplicated": true` with the first one's id), and with `--serve` the `dashboard`
/// sign-in link.
///
/// # Errors
/// Redis or the database unreachable, or a report that does not complete.
pub async fn run(settings: &Settings, args: DemoArgs, json: bool) -> anyhow::Result<()> {
    // Redis first: without it nothing else is worth creating.
    drop(super::open_queue(settings).await?);
    let connected = App::connect(settings).await?;
    let tenants = demo_tenants(settings, connected.runs.store.clock()).await?;
    let (listener, public_url) = listen(settings).await?;
    let app = App::new(connected.runs, public_url.clone());
    let runs = &app.runs;
    eprintln!(
        "quire demo: API on {public_url}, data in {}",
        settings.database_url
    );

    let shutdown = CancellationToken::new();
    let options = WorkerOptions {
        queues: vec![REPORT_QUEUE.to_owned()],
        concurrency: 2,
        ..WorkerOptions::default()
    };
    let serving = {
        let (app, shutdown) = (app.clone(), shutdown.clone());
        tokio::spawn(async move { app.serve_and_work(listener, options, shutdown).await })
    };

    let (_, key) = runs.store.create_api_key(&NewApiKey::default()).await?;
    let client = Client::new(&public_url, &key);
    let outcome = enqueue_and_follow(&client, &tenants).await;
    if outcome.is_err() || !args.serve {
        shutdown.cancel();
    }
    let finished = outcome?;
    let stored = stored_runs(runs, &finished).await?;
    // The key rides in the fragment, which the browser never sends: the sign-in page's
    // script fills the form with it.
    let dashboard = args
        .serve
        .then(|| format!("{public_url}/dashboard/sign-in#key={key}"));
    if json {
        let runs: Vec<_> = stored
            .iter()
            .map(|(run, answer)| super::enqueue::run_json(run, &public_url, Some(answer)))
            .collect();
        let mut summary = serde_json::json!({ "api": public_url, "runs": runs });
        if let Some(link) = &dashboard {
            summary["dashboard"] = link.clone().into();
        }
        println!("{summary}");
    } else {
        print_summary(&stored);
        if let Some(link) = &dashboard {
            println!();
            println!("dashboard {link}");
        }
    }
    let failures = stored.iter().filter(|(run, _)| run.file.is_none()).count();
    if failures > 0 {
        shutdown.cancel();
        let _ = serving.await;
        anyhow::bail!("{failures} demo report(s) failed");
    }
    if args.serve {
        eprintln!("serving the API and the dashboard until Ctrl-C");
        super::cancel_on_signal(shutdown).await;
    }
    let _ = serving.await;
    Ok(())
}

/// Two tenants to report on, seeded into the report database on first use.
async fn demo_tenants(settings: &Settings, clock: Clock) -> anyhow::Result<Vec<String>> {
    let db = super::seed::open_report_database(settings).await?;
    crate::seed::install_schema(&db).await?;
    let existing: Vec<String> = crate::on_any_pool!(&db, pool => {
        sqlx::query_scalar("SELECT slug FROM tenants ORDER BY id LIMIT 2").fetch_all(pool).await
    })?;
    if existing.len() == 2 {
        db.close().await;
        return Ok(existing);
    }
    eprintln!("quire demo: seeding demo invoicing data…");
    // Anchored on today, so presets like this_year and the aging buckets look current.
    let options = SeedOptions {
        tenants: 2,
        invoices_per_tenant: 2_000,
        anchor: clock.today(),
        ..SeedOptions::default()
    };
    let slugs = crate::seed::seed(&db, &options).await?;
    db.close().await;
    Ok(slugs)
}

/// Listens on QUIRE_BIND, or on a free port when that one is taken.
async fn listen(settings: &Settings) -> anyhow::Result<(TcpListener, String)> {
    let listener = match TcpListener::bind(settings.bind).await {
        Ok(listener) => listener,
        Err(_) => TcpListener::bind((settings.bind.ip(), 0))
            .await
            .context("cannot listen on any port for the demo API")?,
    };
    let address = listener.local_addr()?;
    let public_url = if address == settings.bind {
        settings.public_url.clone()
    } else {
        format!("http://{address}")
    };
    Ok((listener, public_url))
}

/// The reports the demo asks for: a mix of CSV and XLSX for both tenants, and the
/// first one twice.
fn orders(tenants: &[String]) -> Vec<ReportOrder> {
    let order = |tenant: &str, report: &str, format: &str, period: Option<&str>| {
        let mut order = ReportOrder::new(tenant, report, format);
        if let Some(period) = period {
            order.params.insert("period".into(), period.into());
        }
        order
    };
    let mut orders = Vec::new();
    for tenant in tenants {
        orders.push(order(tenant, "invoices", "xlsx", Some("all")));
        orders.push(order(tenant, "ar_summary", "csv", None));
        orders.push(order(tenant, "invoice_items", "csv", Some("all")));
        orders.push(order(tenant, "profit_loss", "xlsx", Some("all")));
    }
    // An impatient second click: the same request again, with the Idempotency-Key the
    // app sends for each click, so it is answered with the first run whether that run
    // is still queued or already built.
    orders[0].idempotency_key = Some("demo-first-click".into());
    orders.push(orders[0].clone());
    orders
}

/// Enqueues every order through the API and follows the runs to their end.
async fn enqueue_and_follow(
    client: &Client,
    tenants: &[String],
) -> anyhow::Result<Vec<(ReportOrder, Run)>> {
    let bars = MultiProgress::new();
    let style =
        ProgressStyle::with_template("{spinner} {prefix:<34} {msg}").expect("valid template");
    let mut accepted = Vec::new();
    let mut followed: BTreeMap<String, ProgressBar> = BTreeMap::new();
    for order in orders(tenants) {
        let run = client
            .enqueue(&order)
            .await
            .context("the API refused a demo report")?;
        let label = format!("{} {} {}", order.report, order.tenant, order.format);
        if run.deduplicated == Some(true) {
            bars.println(format!(
                "{label}: the same request again (same Idempotency-Key), answered with {}",
                run.id
            ))?;
        } else {
            let bar = bars.add(
                ProgressBar::new_spinner()
                    .with_style(style.clone())
                    .with_prefix(label),
            );
            followed.insert(run.id.clone(), bar);
        }
        accepted.push((order, run));
    }
    let deadline = tokio::time::Instant::now() + DEMO_LIMIT;
    let mut finished: BTreeMap<String, Run> = BTreeMap::new();
    while finished.len() < followed.len() {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the demo reports did not finish within {DEMO_LIMIT:?}"
        );
        for (id, bar) in &followed {
            if finished.contains_key(id) {
                continue;
            }
            let run = client.run(id).await?;
            let rows = run.progress.rows;
            bar.set_message(format!("{} — {rows} rows", run.status));
            bar.tick();
            if run.is_finished() {
                bar.finish();
                finished.insert(id.clone(), run);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(accepted
        .into_iter()
        .map(|(order, accepted)| {
            let mut run = finished
                .get(&accepted.id)
                .cloned()
                .unwrap_or(accepted.clone());
            run.download_url = accepted.download_url;
            run.deduplicated = accepted.deduplicated;
            (order, run)
        })
        .collect())
}

/// Each finished run as the database holds it (its file's local path is there), with
/// how its request was answered.
async fn stored_runs<'a>(
    runs: &crate::runs::Runs,
    finished: &'a [(ReportOrder, Run)],
) -> anyhow::Result<Vec<(StoredRun, Answer<'a>)>> {
    let mut stored = Vec::with_capacity(finished.len());
    for (_, run) in finished {
        let record = runs
            .store
            .run(&run.id)
            .await?
            .context("a demo run vanished")?;
        let answer = Answer {
            download_url: run.download_url.as_deref().unwrap_or_default(),
            deduplicated: run.deduplicated == Some(true),
            reused: run.reused == Some(true),
        };
        stored.push((record, answer));
    }
    Ok(stored)
}

/// One paragraph per report: status, rows, size, file path, download URL.
fn print_summary(stored: &[(StoredRun, Answer<'_>)]) {
    println!();
    for (run, answer) in stored {
        let dedup = if answer.deduplicated {
            " (deduplicated)"
        } else {
            ""
        };
        println!(
            "{} for {} as {}: {}{dedup}",
            run.report,
            run.tenant,
            run.format,
            run.status.as_str()
        );
        match (&run.file, &run.error) {
            (Some(file), _) => {
                println!(
                    "  file     {} ({} rows, {} bytes)",
                    file.path, file.rows, file.bytes
                );
            }
            (None, Some(error)) => {
                println!("  error    {}: {}", error.code, error.message);
            }
            (None, None) => {}
        }
        println!("  download {}", answer.download_url);
    }
}
