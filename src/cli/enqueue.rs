//! `quire enqueue REPORT` and `quire status RUN_ID`: talk to the database and Redis
//! directly, like the API does.

use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::UsageError;
use super::render::ReportArgs;
use crate::app::App;
use crate::clock::Clock;
use crate::names::IdempotencyKey;
use crate::runs::{RunRequest, Runs, RunsError};
use crate::settings::Settings;
use crate::store::{Run, RunStatus, Store};
use crate::wire::RunView;

/// Options of `quire enqueue`.
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// The report, tenant, format and parameters of the run.
    #[command(flatten)]
    pub report: ReportArgs,
    /// Replaying the same key with the same request returns the same run.
    #[arg(long)]
    pub idempotency_key: Option<IdempotencyKey>,
    /// Show progress until the run ends, then print the file and its URL.
    #[arg(long)]
    pub wait: bool,
    /// Answer with an identical run that completed at most this long ago (e.g. `10m`)
    /// instead of building it again; `0s` never does. Default: the report's own.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub reuse_for: Option<std::time::Duration>,
}

/// Enqueues a run and prints its id (and, with `--wait`, its outcome).
///
/// # Errors
/// Invalid requests are usage errors; unavailable services are runtime errors.
pub async fn run(settings: &Settings, args: EnqueueArgs, json: bool) -> anyhow::Result<()> {
    let runs = App::connect(settings).await?.runs;
    let request = RunRequest {
        params: args.report.params_json(),
        options: args.report.options(),
        tenant: args.report.tenant,
        report: args.report.report,
        format: args.report.format,
        idempotency_key: args.idempotency_key,
        api_key_id: None,
        reuse_for: args.reuse_for,
    };
    let enqueued = runs.enqueue(&request).await.map_err(usage)?;
    let url = format!("{}/v1/downloads/{}", settings.public_url, enqueued.token);
    let run = if args.wait {
        wait_for(&runs, &enqueued.run.id).await?
    } else {
        enqueued.run
    };
    let answer = Answer {
        download_url: &url,
        deduplicated: enqueued.deduplicated,
        reused: enqueued.reused,
    };
    print_run(&run, &settings.public_url, Some(answer), json);
    if args.wait && run.status != RunStatus::Completed {
        anyhow::bail!("run {} ended {}", run.id, run.status.as_str());
    }
    Ok(())
}

/// Prints a run. Only quire's database is asked: the run's state is there, so this
/// works while Redis is down.
///
/// # Errors
/// When the run does not exist (exit code 1: a well-formed question with no answer) or
/// the database is unavailable.
pub async fn status(settings: &Settings, run_id: &str, json: bool) -> anyhow::Result<()> {
    let store = Store::new(super::open_database(settings).await?, Clock::System);
    let Some(run) = store.run(run_id).await? else {
        anyhow::bail!("no run has the id {run_id:?}");
    };
    print_run(&run, &settings.public_url, None, json);
    Ok(())
}

fn usage(error: RunsError) -> anyhow::Error {
    match error {
        RunsError::UnknownReport(_) | RunsError::Invalid(_) | RunsError::IdempotencyConflict => {
            let detail = match &error {
                RunsError::Invalid(fields) => fields
                    .iter()
                    .map(|f| format!("{} {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other.to_string(),
            };
            UsageError(detail).into()
        }
        other => anyhow::Error::new(other),
    }
}

/// Polls the run with a progress bar until it ends.
async fn wait_for(runs: &Runs, run_id: &str) -> anyhow::Result<Run> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"),
    );
    // Above the bar, and on stderr even when it is hidden (not a terminal).
    let say = |line: &str| bar.suspend(|| eprintln!("{line}"));
    say(&format!("waiting for run {run_id}"));
    let started = tokio::time::Instant::now();
    let mut told_no_worker = false;
    loop {
        let run = runs.get(run_id, None).await?;
        bar.set_message(format!(
            "{} — {} rows",
            run.status.as_str(),
            run.progress_rows
        ));
        bar.tick();
        if run.status.is_finished() {
            bar.finish_and_clear();
            return Ok(run);
        }
        // A run that stays queued may have no worker to go to: say so once, and wait on
        // (one may start).
        if !told_no_worker
            && run.status == RunStatus::Queued
            && started.elapsed() >= NO_WORKER_NOTICE
            && runs.queue.workers().await?.is_empty()
        {
            say(
                "no worker is running on this Redis prefix: the run waits until one starts \
                 (quire work or quire run)",
            );
            told_no_worker = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long `--wait` watches a queued run before it checks that a worker is alive.
const NO_WORKER_NOTICE: Duration = Duration::from_secs(3);

/// How an enqueue was answered.
pub(crate) struct Answer<'a> {
    pub(crate) download_url: &'a str,
    pub(crate) deduplicated: bool,
    pub(crate) reused: bool,
}

/// `run` as `--json` prints it: the API's shape (`GET /v1/reports/{id}`, or with its
/// `answer` that of `POST /v1/reports`), plus the file's local `path`.
pub(crate) fn run_json(
    run: &Run,
    public_url: &str,
    answer: Option<&Answer<'_>>,
) -> serde_json::Value {
    let mut view = RunView::new(public_url, run);
    if let Some(answer) = answer {
        view.download_url = Some(answer.download_url.to_owned());
        view.deduplicated = Some(answer.deduplicated);
        view.reused = Some(answer.reused);
    }
    let mut value = serde_json::to_value(&view).expect("a run view serializes");
    if let Some(file) = &run.file {
        value["file"]["path"] = serde_json::Value::from(file.path.clone());
    }
    value
}

/// Prints `run` (after an enqueue, with its `answer`), with `--json` as [`run_json`].
fn print_run(run: &Run, public_url: &str, answer: Option<Answer<'_>>, json: bool) {
    if json {
        println!("{}", run_json(run, public_url, answer.as_ref()));
        return;
    }
    let (deduplicated, reused) = answer
        .as_ref()
        .map_or((false, false), |a| (a.deduplicated, a.reused));
    let url = answer.as_ref().map(|a| a.download_url);
    let dedup = match (deduplicated, reused) {
        (_, true) => " (reused)",
        (true, false) => " (deduplicated)",
        (false, false) => "",
    };
    println!("{} {} {}{dedup}", run.id, run.status.as_str(), run.report);
    if let Some(file) = &run.file {
        println!(
            "file {} ({} rows, {} bytes)",
            file.path, file.rows, file.bytes
        );
    }
    if let Some(error) = &run.error {
        println!("error {}: {}", error.code, error.message);
    }
    if let Some(url) = url {
        println!("download {url}");
    }
}
