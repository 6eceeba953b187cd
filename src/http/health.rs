//! Liveness, readiness (database and Redis reachable) and Prometheus metrics.

use std::fmt::Write as _;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use super::AppState;
use super::queues::DEFAULT_TOP;
use crate::queue::{Queue, QueueError};
use crate::store::{RunStatus, Store, StoreError};
use crate::wire::{QueuesView, TenantCount};

pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// How long readiness waits for the database and Redis.
const READY_WAIT: Duration = Duration::from_secs(2);

/// 200 when the database and Redis both answer within 2 s, else 503 with what is
/// wrong with each, a down database's address included.
pub(super) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.runs.store.db();
    let ping = tokio::time::timeout(READY_WAIT, db.within_reach(state.runs.store.ping()));
    let redis = tokio::time::timeout(READY_WAIT, state.runs.queue.redis_time_ms());
    let (ping, redis) = tokio::join!(ping, redis);
    let database_error = match ping {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(error))) => Some(error.to_string()),
        Ok(Err(unreachable)) => Some(unreachable.to_string()),
        Err(_) => Some("the database answered no query within 2 s".to_owned()),
    };
    let redis_error = match redis {
        Ok(Ok(_)) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some("Redis answered no command within 2 s".to_owned()),
    };
    let ready = database_error.is_none() && redis_error.is_none();
    let mut body = json!({ "database": database_error.is_none(), "redis": redis_error.is_none() });
    if !ready {
        body["errors"] = json!({ "database": database_error, "redis": redis_error });
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// The process's metrics, then the queues' gauges read from Redis at each scrape (left
/// out while Redis does not answer within [`READY_WAIT`]).
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    let queues = tokio::time::timeout(READY_WAIT, redis_gauges(&state.runs.queue));
    let database = tokio::time::timeout(READY_WAIT, database_gauges(&state.runs.store));
    let (queues, database) = tokio::join!(queues, database);
    match queues {
        Ok(Ok(gauges)) => text.push_str(&gauges),
        Ok(Err(error)) => tracing::debug!(%error, "no queue gauges in this scrape"),
        Err(_) => tracing::debug!("no queue gauges in this scrape: Redis is slow"),
    }
    match database {
        Ok(Ok(gauges)) => text.push_str(&gauges),
        Ok(Err(error)) => tracing::debug!(%error, "no database gauges in this scrape"),
        Err(_) => tracing::debug!("no database gauges in this scrape: the database is slow"),
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        text,
    )
}

/// What Redis holds, as gauges: the queues and the workers alive.
async fn redis_gauges(queue: &Queue) -> Result<String, QueueError> {
    let (view, workers) = tokio::try_join!(QueuesView::read(queue, DEFAULT_TOP), queue.workers())?;
    let mut text = queue_gauges(&view);
    write_gauge(
        &mut text,
        "quire_workers_alive",
        "Worker processes whose registry entry is fresh (they heartbeat every third of their lease).",
        [(String::new(), workers.len())],
    );
    Ok(text)
}

/// The queues as Prometheus gauges: they are read fresh at every scrape, so a tenant
/// that left the top list is simply absent rather than frozen at its last value.
fn queue_gauges(view: &QueuesView) -> String {
    let mut text = String::new();
    let mut gauge = |name: &str, help: &str, samples: Vec<(String, u64)>| {
        write_gauge(&mut text, name, help, samples);
    };
    let queue = |name: &str| format!("queue=\"{}\"", escape(name));
    let tenant = |count: &TenantCount| {
        format!(
            "tenant=\"{}\"",
            escape(count.tenant.as_deref().unwrap_or(""))
        )
    };
    gauge(
        "quire_queue_ready",
        "Jobs ready to run, per queue.",
        view.queues
            .iter()
            .map(|q| (queue(&q.name), q.ready))
            .collect(),
    );
    gauge(
        "quire_queue_paused",
        "Whether a queue is paused (1): workers take none of its jobs until it is resumed.",
        view.queues
            .iter()
            .map(|q| (queue(&q.name), u64::from(q.paused)))
            .collect(),
    );
    gauge(
        "quire_queue_running",
        "Jobs running now (held under a lease), per queue.",
        view.queues
            .iter()
            .map(|q| (queue(&q.name), q.running))
            .collect(),
    );
    gauge(
        "quire_queue_tenants_waiting",
        "Tenants with ready jobs, per queue; they take turns.",
        view.queues
            .iter()
            .map(|q| (queue(&q.name), q.tenants_waiting))
            .collect(),
    );
    gauge(
        "quire_queue_ready_by_tenant",
        "Ready jobs of the tenants with the most, per queue (the top 10; tenant \"\" is jobs queued without fair scheduling).",
        view.queues
            .iter()
            .flat_map(|q| {
                q.top_tenants
                    .iter()
                    .map(|t| (format!("{},{}", queue(&q.name), tenant(t)), t.count))
            })
            .collect(),
    );
    gauge(
        "quire_tenant_running",
        "Runs building now, per tenant.",
        view.running_by_tenant
            .iter()
            .map(|t| (tenant(t), t.count))
            .collect(),
    );
    // One total each: Redis keeps each of these states as one set across queues, and a
    // count per queue would read every job in it at every scrape.
    gauge(
        "quire_jobs",
        "Jobs in all queues by state: delayed (waiting for their time), parked (waiting for a lock), dead. Running jobs are per queue in quire_queue_running.",
        [
            ("delayed", view.delayed),
            ("parked", view.parked),
            ("dead", view.dead),
        ]
        .into_iter()
        .map(|(state, count)| (format!("state=\"{state}\""), count))
        .collect(),
    );
    text
}

/// One gauge in the text format: its help, its type and a sample per label set.
fn write_gauge<V: std::fmt::Display>(
    text: &mut String,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (String, V)>,
) {
    let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        let _ = if labels.is_empty() {
            writeln!(text, "{name} {value}")
        } else {
            writeln!(text, "{name}{{{labels}}} {value}")
        };
    }
}

/// What quire's own database holds, as gauges: runs per status (every status, 0 when
/// none) and webhook deliveries not yet made. Both are read off an index.
async fn database_gauges(store: &Store) -> Result<String, StoreError> {
    let (by_status, undelivered) =
        tokio::try_join!(store.runs_by_status(), store.undelivered_webhooks())?;
    let mut text = String::new();
    write_gauge(
        &mut text,
        "quire_runs",
        "Runs in quire's database, by status.",
        RunStatus::ALL.into_iter().map(|status| {
            let count = by_status
                .iter()
                .find(|(stored, _)| stored == status.as_str())
                .map_or(0, |&(_, count)| count);
            (format!("status=\"{status}\""), count)
        }),
    );
    let (pending, failing) = undelivered;
    write_gauge(
        &mut text,
        "quire_webhook_deliveries",
        "Webhook deliveries not yet made: pending (all of them) and failing (those whose endpoint already failed at least once).",
        [("pending", pending), ("failing", failing)]
            .map(|(state, count)| (format!("state=\"{state}\""), count)),
    );
    Ok(text)
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
