//! `quire failed list | retry ID | retry --all | forget ID`: the dead set.

use clap::{Args, Subcommand};

use crate::queue::{JobRecord, Queue};
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
    /// Queue a dead job again with its attempts reset (a second retry is a no-op).
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

/// Dead jobs are revived this many per script call.
const BATCH: usize = 500;

/// Runs the chosen action.
///
/// # Errors
/// Redis unreachable.
pub async fn run(settings: &Settings, args: FailedArgs, json: bool) -> anyhow::Result<()> {
    let queue = super::open_queue(settings).await?;
    match args.action {
        FailedAction::List { limit } => list(&queue, limit, json).await,
        FailedAction::Retry { id: Some(id), .. } => {
            let queued = queue.revive(std::slice::from_ref(&id)).await?[0];
            report(
                json,
                &id,
                queued,
                "queued again",
                "is not in the dead set; nothing to do",
            );
            Ok(())
        }
        FailedAction::Retry { id: None, .. } => {
            // A snapshot first: jobs that die again meanwhile wait for the next retry.
            let ids: Vec<String> = queue
                .dead_jobs(usize::MAX)
                .await?
                .into_iter()
                .map(|record| record.id)
                .collect();
            let mut queued = 0;
            for chunk in ids.chunks(BATCH) {
                queued += queue
                    .revive(chunk)
                    .await?
                    .into_iter()
                    .filter(|q| *q)
                    .count();
            }
            if json {
                println!("{}", serde_json::json!({ "queued": queued }));
            } else {
                println!("{queued} dead job(s) queued again");
            }
            Ok(())
        }
        FailedAction::Forget { id } => {
            if !queue.forget(std::slice::from_ref(&id)).await?[0] {
                anyhow::bail!("job {id:?} is not in the dead set");
            }
            report(json, &id, true, "deleted", "");
            Ok(())
        }
    }
}

fn report(json: bool, id: &str, done: bool, yes: &str, no: &str) {
    if json {
        println!("{}", serde_json::json!({ "id": id, "changed": done }));
    } else if done {
        println!("{id} {yes}");
    } else {
        println!("{id} {no}");
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
