//! `quire queues list`: what each queue holds, and for which tenants; `quire queues
//! pause|resume NAME`: keep workers from a queue, or let them back.

use clap::{Args, Subcommand};

use crate::settings::Settings;
use crate::wire::{QueueState, QueuesView, TenantCount};

/// Options of `quire queues`.
#[derive(Debug, Args)]
pub struct QueuesArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: QueuesAction,
}

/// What to do with the queues.
#[derive(Debug, Subcommand)]
pub enum QueuesAction {
    /// Ready jobs per queue with the tenants that have the most, runs building per
    /// tenant, and the totals (`--json`: the shape of `GET /v1/queues`).
    List {
        /// Tenants listed per queue.
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// Keep workers from taking the queue's jobs; new runs still queue and wait,
    /// spending no attempt, and runs already building go on.
    Pause {
        /// The queue, such as `reports`.
        queue: String,
    },
    /// Let workers take the queue's jobs again.
    Resume {
        /// The queue.
        queue: String,
    },
}

/// Runs the chosen action.
///
/// # Errors
/// Redis unreachable.
pub async fn run(settings: &Settings, args: QueuesArgs, json: bool) -> anyhow::Result<()> {
    let queue = super::open_queue(settings).await?;
    match args.action {
        QueuesAction::List { top } => {
            let view = QueuesView::read(&queue, top).await?;
            if json {
                println!("{}", serde_json::to_string(&view)?);
            } else {
                print!("{}", table(&view));
            }
            Ok(())
        }
        QueuesAction::Pause { queue: name } => print_state(&queue, &name, true, json).await,
        QueuesAction::Resume { queue: name } => print_state(&queue, &name, false, json).await,
    }
}

/// Pauses or resumes `name` and prints what became of it.
async fn print_state(
    queue: &crate::queue::Queue,
    name: &str,
    paused: bool,
    json: bool,
) -> anyhow::Result<()> {
    let state = QueueState::set(queue, name, paused).await?;
    if json {
        println!("{}", serde_json::to_string(&state)?);
    } else {
        let now = if paused { "paused" } else { "resumed" };
        let already = if paused {
            "already paused"
        } else {
            "not paused"
        };
        match state.changed {
            true => println!("queue {name} {now}"),
            false => println!("queue {name} was {already}; nothing changed"),
        }
    }
    Ok(())
}

/// The view as text: one line per queue, then its top tenants indented.
fn table(view: &QueuesView) -> String {
    let name = |count: &TenantCount| count.tenant.clone().unwrap_or_else(|| "(any)".into());
    let mut text = String::new();
    for queue in &view.queues {
        text += &format!(
            "{:<20} {:>8} ready  {:>6} tenants waiting  {:>6} running{}\n",
            queue.name,
            queue.ready,
            queue.tenants_waiting,
            queue.running,
            if queue.paused { "  (paused)" } else { "" }
        );
        for tenant in &queue.top_tenants {
            text += &format!("  {:<18} {:>8} ready\n", name(tenant), tenant.count);
        }
    }
    text += &format!(
        "running {}  delayed {}  parked {}  dead {}\n",
        view.running, view.delayed, view.parked, view.dead
    );
    for tenant in &view.running_by_tenant {
        text += &format!("  {:<18} {:>8} running\n", name(tenant), tenant.count);
    }
    text
}
