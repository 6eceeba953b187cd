//! `quire bench queue | report | e2e | storm | dashboard`: reproducible benchmarks (SPEC §7). Each prints
//! its figures beside its baseline, the cited reference figures or the target,
//! then one `key=value` summary line (or, with `--json`, one JSON object of the same
//! pairs).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::UsageError;
use crate::bench::dashboard::DashboardBench;
use crate::bench::e2e::{E2eBench, POLL_INTERVAL, TARGET_P50, WARM_UP};
use crate::bench::queue::{QueueBench, REFERENCES};
use crate::bench::report::{
    Baseline, BenchDatabase, BenchStorage, Phase, PhaseFigures, ReportBench, value_name,
};
use crate::bench::storm::StormBench;
use crate::bench::{NOOP_KIND, NoopHandler, Summary, cores, median};
use crate::http::DASHBOARD_REFRESH;
use crate::settings::{Settings, StorageSettings};
use crate::storage::Storage;
use crate::writer::Format;

/// The PostgreSQL server `bench report` and `bench e2e` use when DATABASE_URL is not a
/// PostgreSQL URL.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/mysql";

/// Options of `quire bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The benchmark to run.
    #[command(subcommand)]
    pub which: BenchCommand,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// No-op jobs through push, reserve (lease + fencing token) and ack, in one process.
    Queue(QueueArgs),
    /// A generated invoice table built into CSV or XLSX beside its baseline.
    Report(ReportArgs),
    /// Small reports one at a time through the real API and a worker, from
    /// POST /v1/reports until the file is downloaded.
    E2e(E2eArgs),
    /// One tenant's burst of reports, then one report each of other tenants: their
    /// wait with fair scheduling and with FIFO, measured in the same run.
    Storm(StormArgs),
    /// The dashboard's overview and a filtered runs page over a full runs table, and
    /// the Redis commands and SQL statements an open overview costs.
    Dashboard(DashboardArgs),
    /// One measured phase of `bench report`, in its own process (internal).
    #[command(hide = true)]
    Phase(PhaseArgs),
    /// A worker serving only the benchmark's `noop` jobs, for multi-process queue
    /// tests (internal): `quire work` never runs them.
    #[command(hide = true)]
    Worker(crate::settings::WorkArgs),
}

/// Options of `quire bench report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Rows to generate and write.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Where the generated table lives: a fresh PostgreSQL database on DATABASE_URL's
    /// server (default postgres://postgres@127.0.0.1:5432/postgres), a fresh MySQL
    /// database on REPORTS_DATABASE_URL's server when that is MySQL (default
    /// mysql://root@127.0.0.1:3306/mysql), or a SQLite file in a temporary folder.
    #[arg(long, value_enum, default_value_t = BenchDatabase::Postgres)]
    pub database: BenchDatabase,
    /// Runs of each phase; the medians are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Turn off the PostgreSQL COPY fast path for CSV (to compare it with the
    /// row-by-row path, which writes the same bytes).
    #[arg(long)]
    pub no_copy: bool,
    /// Where quire's phase stores its file: `s3` uploads it to the bucket
    /// QUIRE_STORAGE_URL names, as a run does; `file,s3` measures both in one run,
    /// taking turns.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "file")]
    pub storage: Vec<BenchStorage>,
}

/// Options of `quire bench e2e`.
#[derive(Debug, Args)]
pub struct E2eArgs {
    /// Reports to time, one after the other.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Where quire's state and the report data live: a SQLite file in a temporary
    /// folder, or a fresh PostgreSQL database on DATABASE_URL's server (default
    /// postgres://postgres@127.0.0.1:5432/postgres).
    #[arg(long, value_enum, default_value_t = BenchDatabase::Sqlite)]
    pub database: BenchDatabase,
}

/// Options of `quire bench dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Runs in the table.
    #[arg(long, default_value_t = 100_000)]
    pub runs: u64,
    /// Measured requests of each page.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
    /// Where quire's state lives (as for `bench e2e`).
    #[arg(long, value_enum, default_value_t = BenchDatabase::Sqlite)]
    pub database: BenchDatabase,
}

/// Options of `quire bench storm`.
#[derive(Debug, Args)]
pub struct StormArgs {
    /// Reports the first tenant enqueues.
    #[arg(long, default_value_t = 1_000)]
    pub burst: usize,
    /// Tenants that each enqueue one report after the burst.
    #[arg(long, default_value_t = 10)]
    pub others: usize,
    /// Worker loops.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Jobs each worker runs at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Invoices seeded per tenant: the default makes each report about 1000 rows.
    #[arg(long, default_value_t = crate::bench::storm::DEFAULT_INVOICES)]
    pub invoices: u32,
    /// Where quire's state and the report data live (as for `bench e2e`).
    #[arg(long, value_enum, default_value_t = BenchDatabase::Sqlite)]
    pub database: BenchDatabase,
}

/// Options of `quire bench phase`.
#[derive(Debug, Args)]
pub struct PhaseArgs {
    /// The phase to measure.
    #[arg(long, value_enum)]
    pub phase: Phase,
    /// The benchmark database.
    #[arg(long)]
    pub url: String,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// The file to write (quire's phase builds it there before an upload).
    #[arg(long)]
    pub out: PathBuf,
    /// Where quire's phase stores its file.
    #[arg(long, value_enum, default_value_t = BenchStorage::File)]
    pub storage: BenchStorage,
}

/// Options of `quire bench queue`.
#[derive(Debug, Args)]
pub struct QueueArgs {
    /// Jobs to enqueue and process.
    #[arg(long, default_value_t = 100_000)]
    pub jobs: usize,
    /// The worker's concurrency.
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// Jobs per enqueue batch.
    #[arg(long, default_value_t = 1_000)]
    pub batch: usize,
    /// Latency samples (one job at a time, idle worker).
    #[arg(long, default_value_t = 1_000)]
    pub samples: usize,
    /// Measure the same again on this Redis Cluster (`redis+cluster://host:port,…`) in
    /// the same run, printed beside REDIS_URL's figures.
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
}

/// Runs the chosen benchmark and prints its figures.
///
/// # Errors
/// Bad options are a usage error; Redis or a database failing is a runtime error.
pub async fn run(settings: &Settings, args: BenchArgs, json: bool) -> anyhow::Result<()> {
    let summary = match args.which {
        BenchCommand::Queue(args) => queue(settings, args, json).await?,
        BenchCommand::Report(args) => report(settings, args, json).await?,
        BenchCommand::E2e(args) => e2e(settings, args, json).await?,
        BenchCommand::Storm(args) => storm(settings, args, json).await?,
        BenchCommand::Dashboard(args) => dashboard(settings, args, json).await?,
        BenchCommand::Worker(args) => return noop_worker(settings, args).await,
        BenchCommand::Phase(args) => {
            let bucket = match args.storage {
                BenchStorage::File => None,
                BenchStorage::S3 => Some(phase_bucket(settings, &args.out)?),
            };
            let figures = crate::bench::report::run_phase(
                args.phase,
                &args.url,
                args.format,
                &args.out,
                bucket.as_ref(),
            )
            .await
            .with_context(|| format!("running benchmark phase {:?}", args.phase))?;
            figures.summary()
        }
    };
    if json {
        let object: serde_json::Map<String, serde_json::Value> = summary
            .pairs()
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        println!("{}", serde_json::Value::Object(object));
    } else {
        println!("{}", summary.line());
    }
    Ok(())
}

async fn queue(settings: &Settings, args: QueueArgs, json: bool) -> anyhow::Result<Summary> {
    if args.jobs == 0 || args.concurrency == 0 || args.batch == 0 || args.samples == 0 {
        return Err(UsageError(
            "--jobs, --concurrency, --batch and --samples must be at least 1".into(),
        )
        .into());
    }
    let bench = QueueBench {
        jobs: args.jobs,
        concurrency: args.concurrency,
        batch: args.batch,
        samples: args.samples,
    };
    let figures = bench.run(&settings.redis_url).await.with_context(|| {
        format!(
            "benchmarking the queue on REDIS_URL {}",
            super::redact(&settings.redis_url)
        )
    })?;
    let enqueue = figures.enqueue_rate(args.jobs);
    let process = figures.process_rate(args.jobs);
    let (p50, p99) = (figures.latency(0.50), figures.latency(0.99));
    if !json {
        println!(
            "quire bench queue: {} no-op jobs, concurrency {}, batches of {}, {} cores",
            args.jobs,
            args.concurrency,
            args.batch,
            cores()
        );
        println!(
            "  enqueue     {enqueue:>10.0} jobs/s  ({:.3} s)",
            figures.enqueue.as_secs_f64()
        );
        println!(
            "  processing  {process:>10.0} jobs/s  ({:.3} s, lease + fencing token + ack per job)",
            figures.process.as_secs_f64()
        );
        for (keys, _, took) in &figures.fair {
            let rate = args.jobs as f64 / took.as_secs_f64();
            println!(
                "  fair, {keys:>4} fairness key(s) {rate:>8.0} jobs/s processed  ({:.3} s, {:.1} % of the above)",
                took.as_secs_f64(),
                100.0 * rate / process
            );
        }
        println!(
            "  latency     p50 {:.3} ms, p99 {:.3} ms  (enqueue to handler start, idle worker, {} samples)",
            ms(p50),
            ms(p99),
            figures.latencies.len()
        );
        println!(
            "  stops       p50 {:.3} ms, max {:.3} ms after the last job (stop_when_empty); p50 {:.3} ms, max {:.3} ms after a shutdown signal (idle worker); {} samples each",
            ms(figures.stop_when_empty(0.5)),
            ms(figures.stop_when_empty(1.0)),
            ms(figures.shutdown(0.5)),
            ms(figures.shutdown(1.0)),
            figures.shutdowns.len()
        );
        println!("  cited reference figures (issue #5, other tools on this machine kind):");
        for (what, figure) in REFERENCES {
            println!("    {what}: {figure}");
        }
    }
    let mut summary = Summary::default();
    summary.push("bench", "queue");
    summary.push("jobs", args.jobs);
    summary.push("concurrency", args.concurrency);
    summary.push("batch", args.batch);
    summary.push("cores", cores());
    summary.push("enqueue_jobs_per_s", format!("{enqueue:.0}"));
    summary.push("process_jobs_per_s", format!("{process:.0}"));
    for (keys, _, took) in &figures.fair {
        let rate = args.jobs as f64 / took.as_secs_f64();
        summary.push(
            &format!("fair{keys}_process_jobs_per_s"),
            format!("{rate:.0}"),
        );
        summary.push(
            &format!("fair{keys}_ratio"),
            format!("{:.3}", rate / process),
        );
    }
    summary.push("latency_p50_ms", format!("{:.3}", ms(p50)));
    summary.push("latency_p99_ms", format!("{:.3}", ms(p99)));
    summary.push("latency_samples", figures.latencies.len());
    summary.push(
        "stop_when_empty_p50_ms",
        format!("{:.3}", ms(figures.stop_when_empty(0.5))),
    );
    summary.push(
        "shutdown_idle_p50_ms",
        format!("{:.3}", ms(figures.shutdown(0.5))),
    );
    if let Some(url) = &args.cluster {
        let cluster = bench.run(url).await.with_context(|| {
            format!("benchmarking the queue on --cluster {}", super::redact(url))
        })?;
        let (enqueue, processed) = (
            cluster.enqueue_rate(args.jobs),
            cluster.process_rate(args.jobs),
        );
        let (p50, p99) = (cluster.latency(0.50), cluster.latency(0.99));
        let fair: Vec<(usize, f64)> = cluster
            .fair
            .iter()
            .map(|(keys, _, took)| (*keys, args.jobs as f64 / took.as_secs_f64()))
            .collect();
        if !json {
            println!("  on the cluster (--cluster, same jobs and options):");
            println!("    enqueue     {enqueue:>10.0} jobs/s");
            println!(
                "    processing  {processed:>10.0} jobs/s  ({:.1} % of the single server above)",
                100.0 * processed / process
            );
            for (keys, rate) in &fair {
                println!("    fair, {keys:>4} fairness key(s) {rate:>8.0} jobs/s processed");
            }
            println!(
                "    latency     p50 {:.3} ms, p99 {:.3} ms",
                ms(p50),
                ms(p99)
            );
        }
        summary.push("cluster_enqueue_jobs_per_s", format!("{enqueue:.0}"));
        summary.push("cluster_process_jobs_per_s", format!("{processed:.0}"));
        for (keys, rate) in &fair {
            summary.push(
                &format!("cluster_fair{keys}_process_jobs_per_s"),
                format!("{rate:.0}"),
            );
        }
        summary.push("cluster_latency_p50_ms", format!("{:.3}", ms(p50)));
        summary.push("cluster_latency_p99_ms", format!("{:.3}", ms(p99)));
    }
    Ok(summary)
}

/// The bucket of a phase's upload, its file built beside `out`.
fn phase_bucket(settings: &Settings, out: &Path) -> anyhow::Result<Storage> {
    let storage = StorageSettings {
        dir: out.parent().unwrap_or(Path::new(".")).to_owned(),
        s3: settings.storage.s3.clone(),
    };
    match storage.open()? {
        bucket @ Storage::Bucket(_) => Ok(bucket),
        Storage::Folder(_) => {
            Err(UsageError("--storage s3 needs QUIRE_STORAGE_URL=s3://bucket/prefix".into()).into())
        }
    }
}

async fn report(settings: &Settings, mut args: ReportArgs, json: bool) -> anyhow::Result<Summary> {
    if args.rows == 0 || args.runs == 0 {
        return Err(UsageError("--rows and --runs must be at least 1".into()).into());
    }
    if args.storage.is_empty() {
        return Err(UsageError("--storage names at least one storage".into()).into());
    }
    // Each storage once, in the order named: the first is the one the plain figures
    // speak of.
    let mut named = std::collections::HashSet::new();
    args.storage.retain(|storage| named.insert(*storage));
    if args.storage.contains(&BenchStorage::S3) {
        // Found wrong here, not in every phase: no bucket, a missing one, bad keys.
        phase_bucket(settings, Path::new("."))?;
        crate::app::open_storage(settings).await?;
    }
    let server_url = server(settings, args.database);
    let bench = ReportBench {
        rows: args.rows,
        format: args.format,
        database: args.database,
        server_url: server_url.clone(),
        runs: args.runs,
        exe: std::env::current_exe().context("finding the quire binary")?,
        copy_fast_path: !args.no_copy,
        storages: args.storage.clone(),
    };
    let figures = bench
        .run()
        .await
        .with_context(|| on_database("reports", args.database, &server_url))?;
    let storages: Vec<(String, Medians)> = args
        .storage
        .iter()
        .zip(&figures.render_runs)
        .map(|(storage, runs)| (value_name(storage), Medians::of(runs)))
        .collect();
    // The first storage named is the one the plain figures and the ratio speak of.
    let ours = &storages[0].1;
    let baseline = Medians::of(&figures.baseline_runs);
    let ratio = ours.seconds / baseline.seconds;
    let copied = figures.render_runs.iter().flatten().all(|run| run.copied);
    let database = database_name(args.database);
    if !json {
        println!(
            "quire bench report: {} rows x 9 columns, {}, {database}, {} runs each (medians), {} cores",
            args.rows,
            args.format,
            args.runs,
            cores()
        );
        println!(
            "  table generated in {:.2} s (not measured against anything)",
            figures.generate.as_secs_f64()
        );
        for (name, medians) in &storages {
            println!(
                "  quire render   {:>10.0} rows/s  {:>7.3} s  peak RSS {:>7.1} MiB  {:>6.1} MB {name}",
                medians.rate,
                medians.seconds,
                medians.peak_rss_kib / 1024.0,
                medians.bytes / 1e6,
            );
        }
        println!(
            "  baseline       {:>10.0} rows/s  {:>7.3} s  peak RSS {:>7.1} MiB  {:>6.1} MB file",
            baseline.rate,
            baseline.seconds,
            baseline.peak_rss_kib / 1024.0,
            baseline.bytes / 1e6
        );
        println!("  baseline: {}", figures.baseline.describe(args.format));
        for (name, medians) in &storages {
            println!(
                "  quire ({name}) / baseline: {:.3}x the baseline's time",
                medians.seconds / baseline.seconds
            );
        }
        println!(
            "  PostgreSQL COPY fast path: {}",
            if copied {
                "used"
            } else {
                "not used (rows decoded and written by quire)"
            }
        );
        for ((name, _), runs) in storages.iter().zip(&figures.render_runs) {
            println!("  all runs (s): quire {name} {:?}", seconds(runs));
        }
        println!(
            "  all runs (s): baseline {:?}",
            seconds(&figures.baseline_runs)
        );
    }
    let names: Vec<&str> = storages.iter().map(|(name, _)| name.as_str()).collect();
    let mut summary = Summary::default();
    summary.push("bench", "report");
    summary.push("rows", args.rows);
    summary.push("format", args.format);
    summary.push("database", database);
    summary.push("storage", names.join(","));
    summary.push("runs", args.runs);
    summary.push("copied", copied);
    summary.push("cores", cores());
    summary.push("rows_per_s", format!("{:.0}", ours.rate));
    summary.push("seconds", format!("{:.3}", ours.seconds));
    summary.push("peak_rss_mib", format!("{:.1}", ours.peak_rss_kib / 1024.0));
    if storages.len() > 1 {
        for (name, medians) in &storages {
            summary.push(
                &format!("{name}_rows_per_s"),
                format!("{:.0}", medians.rate),
            );
            summary.push(
                &format!("{name}_seconds"),
                format!("{:.3}", medians.seconds),
            );
            summary.push(
                &format!("{name}_peak_rss_mib"),
                format!("{:.1}", medians.peak_rss_kib / 1024.0),
            );
        }
    }
    summary.push(
        "baseline",
        match figures.baseline {
            Baseline::Copy => "copy",
            Baseline::Memory => "memory",
            Baseline::MysqlClient => "mysql_client",
        },
    );
    summary.push("baseline_rows_per_s", format!("{:.0}", baseline.rate));
    summary.push("baseline_seconds", format!("{:.3}", baseline.seconds));
    summary.push(
        "baseline_peak_rss_mib",
        format!("{:.1}", baseline.peak_rss_kib / 1024.0),
    );
    summary.push("ratio", format!("{ratio:.3}"));
    Ok(summary)
}

async fn e2e(settings: &Settings, args: E2eArgs, json: bool) -> anyhow::Result<Summary> {
    if args.samples == 0 {
        return Err(UsageError("--samples must be at least 1".into()).into());
    }
    let server_url = server(settings, args.database);
    let bench = E2eBench {
        samples: args.samples,
        database: args.database,
        server_url: server_url.clone(),
    };
    let figures = bench
        .run(settings)
        .await
        .with_context(|| on_database("end to end", args.database, &server_url))?;
    let (p50, p99, mean) = (figures.latency(0.50), figures.latency(0.99), figures.mean());
    let (max, enqueue_p50) = (figures.latency(1.0), figures.enqueue_latency(0.50));
    let database = database_name(args.database);
    let met = p50 < TARGET_P50;
    if !json {
        println!(
            "quire bench e2e: {} reports one at a time (after {WARM_UP} warm-up), invoices as CSV, \
             {:.1} rows each on average, {database}, API + 1 worker in one process, {} cores",
            args.samples,
            figures.mean_rows(),
            cores()
        );
        println!(
            "  enqueue -> downloadable  p50 {:.3} ms  p99 {:.3} ms  mean {:.3} ms  max {:.3} ms",
            ms(p50),
            ms(p99),
            ms(mean),
            ms(max)
        );
        println!(
            "  target (issue #5)       p50 under {:.0} ms: {}",
            ms(TARGET_P50),
            if met { "met" } else { "NOT met" }
        );
        println!("  POST /v1/reports alone  p50 {:.3} ms", ms(enqueue_p50));
        println!(
            "  the API has no wait or long-poll: the download URL is polled every {} ms \
             ({} polls answered 202 over all samples)",
            POLL_INTERVAL.as_millis(),
            figures.pending_polls
        );
    }
    let mut summary = Summary::default();
    summary.push("bench", "e2e");
    summary.push("samples", args.samples);
    summary.push("database", database);
    summary.push("cores", cores());
    summary.push("rows_mean", format!("{:.1}", figures.mean_rows()));
    summary.push("p50_ms", format!("{:.3}", ms(p50)));
    summary.push("p99_ms", format!("{:.3}", ms(p99)));
    summary.push("mean_ms", format!("{:.3}", ms(mean)));
    summary.push("max_ms", format!("{:.3}", ms(max)));
    summary.push("enqueue_p50_ms", format!("{:.3}", ms(enqueue_p50)));
    summary.push("target_p50_ms", format!("{:.0}", ms(TARGET_P50)));
    summary.push("target_met", met);
    summary.push("poll_ms", POLL_INTERVAL.as_millis());
    Ok(summary)
}

async fn storm(settings: &Settings, args: StormArgs, json: bool) -> anyhow::Result<Summary> {
    if args.burst == 0 || args.others == 0 || args.workers == 0 || args.concurrency == 0 {
        return Err(UsageError(
            "--burst, --others, --workers and --concurrency must be at least 1".into(),
        )
        .into());
    }
    let server_url = server(settings, args.database);
    let bench = StormBench {
        burst: args.burst,
        others: args.others,
        workers: args.workers,
        concurrency: args.concurrency,
        invoices: args.invoices,
        database: args.database,
        server_url: server_url.clone(),
    };
    let figures = bench
        .run(settings)
        .await
        .with_context(|| on_database("the storm", args.database, &server_url))?;
    let database = database_name(args.database);
    let (fair, fifo) = (&figures.fair, &figures.fifo);
    let drain_ratio = fair.drain.as_secs_f64() / fifo.drain.as_secs_f64();
    if !json {
        println!(
            "quire bench storm: tenant 1 enqueues {} reports, then {} other tenants one each \
             (invoices as CSV, {:.0} rows on average), then {} workers x concurrency {} start; \
             {database}, {} cores",
            args.burst,
            args.others,
            fair.rows_mean,
            args.workers,
            args.concurrency,
            cores()
        );
        for (name, mode) in [("fair", fair), ("fifo", fifo)] {
            println!(
                "  {name:<5} other tenants' enqueue -> start  p50 {:>9.1} ms  p99 {:>9.1} ms   drain {:.2} s",
                ms(mode.start(0.50)),
                ms(mode.start(0.99)),
                mode.drain.as_secs_f64()
            );
        }
        println!(
            "  fair drain / fifo drain {drain_ratio:.3}  (fair ran first: the database's caches favour fifo)"
        );
    }
    let mut summary = Summary::default();
    summary.push("bench", "storm");
    summary.push("burst", args.burst);
    summary.push("others", args.others);
    summary.push("workers", args.workers);
    summary.push("concurrency", args.concurrency);
    summary.push("database", database);
    summary.push("cores", cores());
    summary.push("rows_mean", format!("{:.1}", fair.rows_mean));
    summary.push("fair_start_p50_ms", format!("{:.1}", ms(fair.start(0.50))));
    summary.push("fair_start_p99_ms", format!("{:.1}", ms(fair.start(0.99))));
    summary.push("fifo_start_p50_ms", format!("{:.1}", ms(fifo.start(0.50))));
    summary.push("fifo_start_p99_ms", format!("{:.1}", ms(fifo.start(0.99))));
    summary.push("fair_drain_s", format!("{:.2}", fair.drain.as_secs_f64()));
    summary.push("fifo_drain_s", format!("{:.2}", fifo.drain.as_secs_f64()));
    summary.push("drain_ratio", format!("{drain_ratio:.3}"));
    Ok(summary)
}

async fn dashboard(
    settings: &Settings,
    args: DashboardArgs,
    json: bool,
) -> anyhow::Result<Summary> {
    if args.runs == 0 || args.requests == 0 || args.database == BenchDatabase::Mysql {
        return Err(UsageError(
            "--runs and --requests must be at least 1, and --database sqlite or postgres".into(),
        )
        .into());
    }
    let server_url = server(settings, args.database);
    let bench = DashboardBench {
        runs: args.runs,
        requests: args.requests,
        database: args.database,
        server_url: server_url.clone(),
    };
    let figures = bench
        .run(settings)
        .await
        .with_context(|| on_database("the dashboard benchmark", args.database, &server_url))?;
    let database = database_name(args.database);
    // Three tabs each ask for the overview once a refresh interval.
    let tabs = 3.0 / DASHBOARD_REFRESH.as_secs_f64();
    if !json {
        println!(
            "quire bench dashboard: {} runs over the last day, {} requests per page, {database}, {} cores",
            args.runs,
            args.requests,
            cores()
        );
        println!(
            "  overview                          p50 {:>7.2} ms  p95 {:>7.2} ms  (target: under 100 ms)",
            ms(figures.overview(0.50)),
            ms(figures.overview(0.95))
        );
        println!(
            "  runs of one tenant, failed        p50 {:>7.2} ms  p95 {:>7.2} ms",
            ms(figures.filtered(0.50)),
            ms(figures.filtered(0.95))
        );
        println!(
            "  one overview: {:.1} Redis commands, {:.1} SQL statements; 3 open tabs refreshing every {} s: {:.1} Redis commands/s, {:.1} SQL statements/s",
            figures.redis_per_overview,
            figures.sql_per_overview,
            DASHBOARD_REFRESH.as_secs(),
            figures.redis_per_overview * tabs,
            figures.sql_per_overview * tabs
        );
    }
    let mut summary = Summary::default();
    summary.push("bench", "dashboard");
    summary.push("runs", args.runs);
    summary.push("database", database);
    summary.push("cores", cores());
    summary.push(
        "overview_p50_ms",
        format!("{:.2}", ms(figures.overview(0.50))),
    );
    summary.push(
        "overview_p95_ms",
        format!("{:.2}", ms(figures.overview(0.95))),
    );
    summary.push(
        "filtered_p50_ms",
        format!("{:.2}", ms(figures.filtered(0.50))),
    );
    summary.push(
        "filtered_p95_ms",
        format!("{:.2}", ms(figures.filtered(0.95))),
    );
    summary.push(
        "redis_per_overview",
        format!("{:.1}", figures.redis_per_overview),
    );
    summary.push(
        "sql_per_overview",
        format!("{:.1}", figures.sql_per_overview),
    );
    summary.push(
        "three_tabs_redis_per_s",
        format!("{:.1}", figures.redis_per_overview * tabs),
    );
    summary.push(
        "three_tabs_sql_per_s",
        format!("{:.1}", figures.sql_per_overview * tabs),
    );
    Ok(summary)
}

/// The server on which benchmarks create their throw-away `database`: the configured
/// one of its kind, else the local default.
fn server(settings: &Settings, database: BenchDatabase) -> String {
    let configured = [&settings.database_url, &settings.reports_database_url];
    let (scheme, default) = match database {
        BenchDatabase::Postgres | BenchDatabase::Sqlite => ("postgres", DEFAULT_POSTGRES_URL),
        BenchDatabase::Mysql => ("mysql", DEFAULT_MYSQL_URL),
    };
    configured
        .into_iter()
        .find(|url| url.starts_with(scheme))
        .map_or_else(|| default.to_owned(), String::clone)
}

/// What a benchmark failure was about: `what` on which database.
fn on_database(what: &str, database: BenchDatabase, server_url: &str) -> String {
    match database {
        BenchDatabase::Postgres | BenchDatabase::Mysql => format!(
            "benchmarking {what} on {database:?} at {}",
            super::redact(server_url)
        ),
        BenchDatabase::Sqlite => format!("benchmarking {what} on SQLite"),
    }
}

fn database_name(database: BenchDatabase) -> String {
    format!("{database:?}").to_lowercase()
}

/// The median of each figure over a phase's runs.
struct Medians {
    seconds: f64,
    rate: f64,
    peak_rss_kib: f64,
    bytes: f64,
}

impl Medians {
    fn of(runs: &[PhaseFigures]) -> Medians {
        let pick =
            |f: fn(&PhaseFigures) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
        Medians {
            seconds: pick(|r| r.seconds),
            rate: pick(PhaseFigures::rate),
            peak_rss_kib: pick(|r| r.peak_rss_kib as f64),
            bytes: pick(|r| r.bytes as f64),
        }
    }
}

fn seconds(runs: &[PhaseFigures]) -> Vec<String> {
    runs.iter().map(|r| format!("{:.3}", r.seconds)).collect()
}

fn ms(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A worker with only the noop handler, until SIGTERM/SIGINT, a restart broadcast or
/// one of the stop options.
async fn noop_worker(settings: &Settings, args: crate::settings::WorkArgs) -> anyhow::Result<()> {
    let options = args.options()?;
    let queue = super::open_queue(settings).await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(super::cancel_on_signal(shutdown.clone()));
    let exit = crate::worker::Worker::builder(queue, options)
        .handler(NOOP_KIND, NoopHandler)
        .build()
        .run(shutdown)
        .await;
    tracing::info!(?exit, "worker stopped");
    Ok(())
}
