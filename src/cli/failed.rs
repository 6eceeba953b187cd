//! `quire failed list | retry ID | retry --all | forget ID`: the dead set.

use clap::{Args, Subcommand};

use crate::app::App;
use crate::queue::{JobRecord, JobState, Queue};
use crate::runs::{Runs, RunsError};
use crate::settings::Settings;

/// Options of `quire failed`.
#[derive(Debug, Args)]
pub struct FailedArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: FailedAction,
}

/// What to do with dead jobs.
#[derive(Debug, Subcommand)]
pub enum FailedAction {
    /// Dead jobs, oldest first: id, queue, kind, attempts, reason.
    List {
        /// Show at most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Queue a failed run (or a dead job) again with its attempts reset, as the API's
    /// retry does (a second retry is a no-op).
    Retry {
        /// The job's id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every dead job.
        #[arg(long)]
        all: bool,
    },
    /// Delete a dead job for good.
    Forget {
        /// The job's id.
        id: String,
    },
}

/// Runs the chosen action.
///
/// # Errors
/// Redis unreachable.
pub async fn run(settings: &Settings, args: FailedArgs, json: bool) -> anyhow::Result<()> {
    let queue = super::open_queue(settings).await?;
    match args.action {
        FailedAction::List { limit } => list(&queue, limit, json).await,
        FailedAction::Retry { id: Some(id), .. } => {
            let runs = App::connect(settings).await?.runs;
            let retried = retry(&runs, &id).await?;
            report(json, &id, retried == Retried::Queued, retried.says());
            Ok(())
        }
        FailedAction::Retry { id: None, .. } => {
            let runs = App::connect(settings).await?.runs;
            // A snapshot first: jobs that die again meanwhile wait for the next retry.
            let ids: Vec<String> = queue
                .dead_jobs(usize::MAX)
                .await?
                .into_iter()
                .map(|record| record.id)
                .collect();
            let mut queued = 0;
            let mut refused = 0;
            for id in &ids {
                match retry(&runs, id).await {
                    Ok(_) => queued += 1,
                    Err(error) => {
                        refused += 1;
                        eprintln!("{id}: {error:#}");
                    }
                }
            }
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "queued": queued, "refused": refused })
                );
            } else {
                println!("{queued} dead job(s) queued again");
            }
            anyhow::ensure!(refused == 0, "{refused} dead job(s) could not be retried");
            Ok(())
        }
        FailedAction::Forget { id } => {
            if !queue.forget(std::slice::from_ref(&id)).await?[0] {
                anyhow::bail!("job {id:?} is not in the dead set");
            }
            report(json, &id, true, "deleted");
            Ok(())
        }
    }
}

/// What a retry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retried {
    /// The run or job is queued again.
    Queued,
    /// It was queued or running already: nothing changed.
    AlreadyQueued,
}

impl Retried {
    fn says(self) -> &'static str {
        match self {
            Retried::Queued => "queued again",
            Retried::AlreadyQueued => "is already queued; nothing to do",
        }
    }
}

/// Retries `id` the one way the API does: a run's row is reopened and its job queued
/// again whatever state the old job record is in; an id that is no run's is a dead
/// job of another kind, revived in Redis.
async fn retry(runs: &Runs, id: &str) -> anyhow::Result<Retried> {
    match runs.retry(id, None).await {
        Ok(_) => Ok(Retried::Queued),
        Err(RunsError::NotFound) => {
            if runs.queue.revive(&[id.to_owned()]).await?[0] {
                return Ok(Retried::Queued);
            }
            match runs.queue.job(id).await?.and_then(|record| record.state) {
                None => anyhow::bail!("no failed run and no dead job has the id {id:?}"),
                Some(JobState::Done) => {
                    anyhow::bail!("job {id:?} is done; only a dead job can be retried")
                }
                Some(_) => Ok(Retried::AlreadyQueued),
            }
        }
        Err(error) => Err(error.into()),
    }
}

fn report(json: bool, id: &str, changed: bool, says: &str) {
    if json {
        println!("{}", serde_json::json!({ "id": id, "changed": changed }));
    } else {
        println!("{id} {says}");
    }
}

async fn list(queue: &Queue, limit: usize, json: bool) -> anyhow::Result<()> {
    let dead = queue.dead_jobs(limit).await?;
    if json {
        let rows: Vec<_> = dead.iter().map(row).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for record in &dead {
            println!(
                "{}\t{}\t{}\t{}\t{}",
                record.id,
                record.queue,
                record.kind().unwrap_or_else(|| "?".into()),
                record.attempts,
                record.error.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}

fn row(record: &JobRecord) -> serde_json::Value {
    serde_json::json!({
        "id": record.id,
        "queue": record.queue,
        "kind": record.kind(),
        "attempts": record.attempts,
        "error": record.error,
    })
}
