//! The dashboard's HTML, rendered on the server with maud: semantic tables with
//! captions and headers, labelled forms, and a status always written as a word (colour
//! only repeats it). Every form that changes something is a POST carrying the
//! session's CSRF token.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::session::{SIGN_OUT, Session};
use super::stats::{Timings, millis};
use crate::queue::WorkerInfo;
use crate::store::{Access, DeliveryRecord, RunEvent};
use crate::wire::{QueuesView, RunView};

/// The stylesheet and the overview's refresh script, built into the binary.
const STYLE: &str = include_str!("dashboard.css");
const REFRESH_SCRIPT: &str = include_str!("refresh.js");
const SIGN_IN: &str = include_str!("sign_in.js");

/// The sections of the navigation: (path, label).
const SECTIONS: &[(&str, &str)] = &[
    ("/dashboard", "Overview"),
    ("/dashboard/runs", "Runs"),
    ("/dashboard/failed", "Failed"),
    ("/dashboard/queues", "Queues"),
    ("/dashboard/workers", "Workers"),
];

/// A whole page: navigation for a signed-in `session`, `title` and `body`.
pub(super) fn page(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · quire" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a.brand href="/dashboard" { "quire" }
                    @if let Some(session) = session {
                        nav aria-label="Sections" {
                            ul {
                                @for (path, label) in SECTIONS {
                                    li { a href=(path) { (label) } }
                                }
                            }
                        }
                        form.signout method="post" action=(SIGN_OUT) {
                            (csrf(session))
                            span { (who(session)) }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" { h1 { (title) } (body) }
            }
        }
    }
}

fn who(session: &Session) -> String {
    let scope = match session.scope() {
        Some(tenant) => format!("tenant {tenant}"),
        None => "admin".to_owned(),
    };
    match session.key.access {
        Access::Full => scope,
        Access::ReadOnly => format!("{scope}, read-only"),
    }
}

/// The hidden CSRF field of a form.
fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A POST button: a form of its own to `action`; absent when the session may not
/// post there (a read-only key).
pub(super) fn button(session: &Session, action: &str, label: &str) -> Markup {
    button_with(session, action, label, &[])
}

/// [`button`] whose form also sends the `fields` (name, value).
fn button_with(session: &Session, action: &str, label: &str, fields: &[(&str, &str)]) -> Markup {
    html! {
        @if session.may_post(action) {
            form.inline method="post" action=(action) {
                (csrf(session))
                @for (name, value) in fields { input type="hidden" name=(name) value=(value); }
                button type="submit" { (label) }
            }
        }
    }
}

/// The sign-in form, with `problem` shown above it.
pub(super) fn sign_in(problem: Option<&str>) -> Markup {
    page(
        "Sign in",
        None,
        html! {
            @if let Some(problem) = problem { p.problem role="alert" { (problem) } }
            form method="post" action="/dashboard/sign-in" {
                label for="key" { "API key" }
                input id="key" name="key" type="password" autocomplete="off" required;
                button type="submit" { "Sign in" }
            }
            p { "An admin key sees every tenant and may pause queues; a tenant's key sees its own runs." }
            script { (PreEscaped(SIGN_IN)) }
        },
    )
}

/// An error page: `message` and a way back.
pub(super) fn problem(session: Option<&Session>, message: &str) -> Markup {
    page(
        "Not possible",
        session,
        html! {
            p.problem role="alert" { (message) }
            p { a href="/dashboard" { "Back to the overview" } }
        },
    )
}

/// A table's header row of `columns`.
fn head(columns: &[&str]) -> Markup {
    html! {
        thead { tr { @for column in columns { th scope="col" { (column) } } } }
    }
}

fn time(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(String::new, |at| at.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// How long a run took, or has taken so far.
fn duration(run: &RunView) -> String {
    match (run.started_at, run.finished_at) {
        (Some(start), Some(end)) => {
            format!("{:.1} s", (end - start).num_milliseconds() as f64 / 1000.0)
        }
        _ => String::new(),
    }
}

fn status(run: &RunView) -> Markup {
    let word = run.status.as_str();
    html! { span class={ "status " (word) } { (word) } }
}

/// What the overview shows an admin beyond the latest runs; a part that could not be
/// read is `None`.
pub(super) struct Health {
    pub queues: Option<QueuesView>,
    pub workers: Option<usize>,
    pub by_status: Vec<(String, i64)>,
    pub chart: Option<Markup>,
    pub timings: Option<Vec<Timings>>,
}

/// The overview: for an admin the queues, the workers, the last hour and runs by
/// status; for everyone the latest runs.
pub(super) fn overview(session: &Session, health: Option<&Health>, recent: &[RunView]) -> Markup {
    let body = html! {
        @if let Some(health) = health {
            @if let Some(view) = &health.queues {
                (queue_table(None, view))
                p { "Running " (view.running) ", delayed " (view.delayed) ", parked (waiting for a lock) " (view.parked) ", dead " (view.dead) " (over every queue)." }
            }
            @if let Some(workers) = health.workers { p { "Workers alive: " strong { (workers) } } }
            section aria-labelledby="hour" {
                h2 id="hour" { "The last hour" }
                @if let Some(chart) = &health.chart { (chart) }
                @if let Some(timings) = &health.timings { (timing_table(timings)) }
            }
            @if !health.by_status.is_empty() {
                table {
                    caption { "Runs by status" }
                    (head(&["Status", "Runs"]))
                    tbody {
                        @for (status, count) in &health.by_status {
                            tr { th scope="row" { (status) } td.number { (count) } }
                        }
                    }
                }
            }
        }
        (run_table("Latest runs", recent))
        script data-every-ms=(super::REFRESH.as_millis()) { (PreEscaped(REFRESH_SCRIPT)) }
    };
    page("Overview", Some(session), body)
}

/// Wait and run time percentiles per report.
fn timing_table(timings: &[Timings]) -> Markup {
    html! {
        table {
            caption { "Wait (enqueue → start) and run time per report, completed runs of the last hour" }
            (head(&["Report", "Runs", "Wait p50", "Wait p95", "Run p50", "Run p95"]))
            tbody {
                @for row in timings {
                    tr {
                        th scope="row" { (row.report) }
                        td.number { (row.runs) }
                        td.number { (millis(row.wait_p50)) }
                        td.number { (millis(row.wait_p95)) }
                        td.number { (millis(row.run_p50)) }
                        td.number { (millis(row.run_p95)) }
                    }
                }
                @if timings.is_empty() { tr { td colspan="6" { "No run completed in the last hour." } } }
            }
        }
    }
}

/// The queues, with pause and resume buttons when `session` may use them.
pub(super) fn queue_table(session: Option<&Session>, view: &QueuesView) -> Markup {
    html! {
        table {
            caption { "Queues" }
            thead {
                tr {
                    th scope="col" { "Queue" }
                    th scope="col" { "State" }
                    th scope="col" { "Ready" }
                    th scope="col" { "Running" }
                    th scope="col" { "Tenants waiting" }
                    @if session.is_some() { th scope="col" { "Action" } }
                }
            }
            tbody {
                @for queue in &view.queues {
                    tr {
                        th scope="row" { (queue.name) }
                        td { @if queue.paused { "paused" } @else { "active" } }
                        td.number { (queue.ready) }
                        td.number { (queue.running) }
                        td.number { (queue.tenants_waiting) }
                        @if let Some(session) = session {
                            td {
                                @if queue.paused {
                                    (button(session, &format!("/dashboard/queues/{}/resume", queue.name), "Resume"))
                                } @else {
                                    (button(session, &format!("/dashboard/queues/{}/pause", queue.name), "Pause"))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The queues page.
pub(super) fn queues(session: &Session, view: &QueuesView) -> Markup {
    page("Queues", Some(session), queue_table(Some(session), view))
}

/// The first cells of a run's row: its id, linking to its page, its tenant and report.
fn run_cells(run: &RunView) -> Markup {
    html! {
        th scope="row" { a href={ "/dashboard/runs/" (run.id) } { (run.id) } }
        td { (run.tenant) }
        td { (run.report) }
    }
}

/// A table of runs, each linking to its page.
pub(super) fn run_table(caption: &str, runs: &[RunView]) -> Markup {
    html! {
        table {
            caption { (caption) }
            (head(&["Run", "Tenant", "Report", "Format", "Status", "Attempts", "Rows", "Duration", "Size", "Created"]))
            tbody {
                @for run in runs {
                    tr {
                        (run_cells(run))
                        td { (run.format.extension()) }
                        td { (status(run)) }
                        td.number { (run.attempts) }
                        td.number { (run.progress.rows) }
                        td.number { (duration(run)) }
                        td.number { @if let Some(file) = &run.file { (file.bytes) " B" } }
                        td { (time(run.created_at)) }
                    }
                }
                @if runs.is_empty() { tr { td colspan="10" { "No runs." } } }
            }
        }
    }
}

/// The filters of the runs page, as given.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct RunFilters {
    pub tenant: Option<String>,
    pub report: Option<String>,
    pub status: Option<String>,
    pub format: Option<String>,
    /// Created from, and before, these times (UTC, `2026-06-30T14:00`).
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<String>,
    /// A run id or an idempotency key to go straight to.
    pub q: Option<String>,
}

impl RunFilters {
    /// The query string of these filters with `cursor` instead of theirs.
    fn with_cursor(&self, cursor: &str) -> String {
        let mut pairs = vec![("cursor", cursor)];
        for (name, value) in [
            ("tenant", &self.tenant),
            ("report", &self.report),
            ("status", &self.status),
            ("format", &self.format),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                pairs.push((name, value));
            }
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// The runs page: the filter form, a page of runs, and the link to the next page.
pub(super) fn runs(
    session: &Session,
    filters: &RunFilters,
    runs: &[RunView],
    next: Option<&str>,
) -> Markup {
    let value = |field: &Option<String>| field.clone().unwrap_or_default();
    let body = html! {
        form.filters method="get" action="/dashboard/runs" role="search" {
            label for="q" { "Run id or idempotency key" }
            input id="q" name="q" value=(value(&filters.q));
            @if session.is_admin() {
                label for="tenant" { "Tenant" }
                input id="tenant" name="tenant" value=(value(&filters.tenant));
            }
            label for="report" { "Report" }
            input id="report" name="report" value=(value(&filters.report));
            label for="status" { "Status" }
            select id="status" name="status" {
                option value="" { "any" }
                @for word in crate::store::RunStatus::ALL.map(|s| s.as_str()) {
                    option value=(word) selected[filters.status.as_deref() == Some(word)] { (word) }
                }
            }
            label for="format" { "Format" }
            select id="format" name="format" {
                option value="" { "any" }
                @for word in ["csv", "xlsx"] {
                    option value=(word) selected[filters.format.as_deref() == Some(word)] { (word) }
                }
            }
            label for="from" { "Created from (UTC)" }
            input id="from" name="from" type="datetime-local" value=(value(&filters.from));
            label for="to" { "before (UTC)" }
            input id="to" name="to" type="datetime-local" value=(value(&filters.to));
            button type="submit" { "Filter" }
        }
        (run_table("Runs, newest first", runs))
        @if let Some(next) = next {
            p { a rel="next" href={ "/dashboard/runs?" (filters.with_cursor(next)) } { "Older runs" } }
        }
    };
    page("Runs", Some(session), body)
}

/// One run: what it was asked for, where it is, and what may be done with it.
pub(super) fn run(
    session: &Session,
    run: &RunView,
    identity: &str,
    events: &[RunEvent],
    deliveries: &[DeliveryRecord],
    link: Option<&str>,
) -> Markup {
    let body = html! {
        dl {
            dt { "Status" } dd { (status(run)) }
            dt { "Tenant" } dd { (run.tenant) }
            dt { "Identity (fingerprint)" } dd { code { (identity) } }
            dt { "Report" } dd { (run.report) " (" (run.format.extension()) ")" }
            dt { "Attempts" } dd { (run.attempts) }
            dt { "Rows written" } dd { (run.progress.rows) }
            dt { "Created" } dd { (time(run.created_at)) }
            dt { "Started" } dd { (time(run.started_at)) }
            dt { "Finished" } dd { (time(run.finished_at)) }
            @if let Some(error) = &run.error {
                dt { "Error" } dd { code { (error.code) } ": " (error.message) }
            }
            @if let Some(file) = &run.file {
                dt { "File" } dd { (file.rows) " rows, " (file.bytes) " bytes, SHA-256 " code { (file.sha256) } }
            }
        }
        table {
            caption { "Parameters, as resolved" }
            (head(&["Name", "Value"]))
            tbody {
                @for (name, value) in &run.params {
                    tr { th scope="row" { (name) } td { code { (value) } } }
                }
            }
        }
        (attempt_table(events))
        (wait_table(events))
        @if !deliveries.is_empty() { (delivery_table(deliveries)) }
        @if let Some(link) = link {
            p.link { "Download link (valid for one use window): " a href=(link) { (link) } }
        }
        div.actions {
            @if run.status == crate::store::RunStatus::Completed {
                (button(session, &format!("/dashboard/runs/{}/links", run.id), "New download link"))
            }
            @if !run.status.is_finished() {
                (button(session, &format!("/dashboard/runs/{}/cancel", run.id), "Cancel"))
            }
            @if run.status == crate::store::RunStatus::Failed {
                (button(session, &format!("/dashboard/runs/{}/retry", run.id), "Retry"))
            }
        }
    };
    page(&format!("Run {}", run.id), Some(session), body)
}

/// The end of an attempt: the first event after its start that closes it.
const ENDINGS: &[&str] = &["succeeded", "retried", "failed", "dead", "deferred"];

/// Each attempt: its worker, start, end, outcome and error.
fn attempt_table(events: &[RunEvent]) -> Markup {
    let ms = |at: i64| time(DateTime::<Utc>::from_timestamp_millis(at));
    html! {
        table {
            caption { "Attempts" }
            (head(&["Attempt", "Worker", "Started", "Ended", "Outcome", "Error"]))
            tbody {
                @for (index, start) in events.iter().enumerate().filter(|(_, e)| e.kind == "started") {
                    @let end = events[index + 1..].iter().find(|e| e.attempt == start.attempt && ENDINGS.contains(&e.kind.as_str()));
                    tr {
                        th scope="row" { (start.attempt) }
                        td { code { (start.worker) } }
                        td { (ms(start.at)) }
                        td { @if let Some(end) = end { (ms(end.at)) } }
                        td { @match end { Some(end) => (end.kind), None => "running" } }
                        td { @if let Some(detail) = end.and_then(|e| e.detail.as_deref()) { (detail) } }
                    }
                }
                @if !events.iter().any(|e| e.kind == "started") { tr { td colspan="6" { "No attempt has started." } } }
            }
        }
    }
}

/// What the run waited for without spending an attempt: a busy lock, a database
/// outage, a stopping worker.
fn wait_table(events: &[RunEvent]) -> Markup {
    let waits: Vec<&RunEvent> = events.iter().filter(|e| e.kind == "deferred").collect();
    let ms = |at: i64| time(DateTime::<Utc>::from_timestamp_millis(at));
    html! {
        @if !waits.is_empty() {
            table {
                caption { "Waits (lock waits and hand-backs)" }
                (head(&["At", "Attempt", "Worker", "Reason", "Waits for"]))
                tbody {
                    @for wait in waits {
                        tr {
                            td { (ms(wait.at)) }
                            td.number { (wait.attempt) }
                            td { code { (wait.worker) } }
                            td { (wait.detail.as_deref().unwrap_or("")) }
                            td.number { @if let Some(delay) = wait.delay_ms { (delay) " ms" } }
                        }
                    }
                }
            }
        }
    }
}

/// The run's webhook deliveries and what the endpoint answered.
fn delivery_table(deliveries: &[DeliveryRecord]) -> Markup {
    let ms = |at: i64| time(DateTime::<Utc>::from_timestamp_millis(at));
    html! {
        table {
            caption { "Webhook deliveries" }
            (head(&["Endpoint", "Attempts", "Delivered", "Last error", "Next attempt"]))
            tbody {
                @for delivery in deliveries {
                    tr {
                        td { code { (delivery.url) } }
                        td.number { (delivery.attempts) }
                        td { @match delivery.delivered_at { Some(at) => (ms(at)), None => "not yet" } }
                        td { (delivery.last_error.as_deref().unwrap_or("")) }
                        td { @if delivery.delivered_at.is_none() { (ms(delivery.next_attempt_at)) } }
                    }
                }
            }
        }
    }
}

/// The failed runs matching a filter, each with retry and forget buttons, and both
/// for every match at once.
pub(super) fn failed(
    session: &Session,
    tenant: Option<&str>,
    report: Option<&str>,
    runs: &[RunView],
) -> Markup {
    let filter = [
        ("tenant", tenant.unwrap_or("")),
        ("report", report.unwrap_or("")),
    ];
    let bulk = |action: &str, label: &str| {
        button_with(
            session,
            &format!("/dashboard/failed/{action}"),
            label,
            &filter,
        )
    };
    let body = html! {
        form.filters method="get" action="/dashboard/failed" role="search" {
            @if session.is_admin() {
                label for="tenant" { "Tenant" }
                input id="tenant" name="tenant" value=(tenant.unwrap_or(""));
            }
            label for="report" { "Report" }
            input id="report" name="report" value=(report.unwrap_or(""));
            button type="submit" { "Filter" }
        }
        @if !runs.is_empty() {
            div.actions {
                (bulk("retry", "Retry all matching"))
                (bulk("forget", "Forget all matching"))
            }
        }
        table {
            caption { "Failed runs, newest first" }
            (head(&["Run", "Tenant", "Report", "Reason", "Attempts", "Action"]))
            tbody {
                @for run in runs {
                    tr {
                        (run_cells(run))
                        td { @if let Some(error) = &run.error { code { (error.code) } ": " (error.message) } }
                        td.number { (run.attempts) }
                        td {
                            (button(session, &format!("/dashboard/runs/{}/retry", run.id), "Retry"))
                            " "
                            (button(session, &format!("/dashboard/runs/{}/forget", run.id), "Forget"))
                        }
                    }
                }
                @if runs.is_empty() { tr { td colspan="6" { "No failed runs." } } }
            }
        }
    };
    page("Failed", Some(session), body)
}

/// The worker processes alive.
pub(super) fn workers(session: &Session, workers: &[WorkerInfo]) -> Markup {
    let at = |ms: i64| time(DateTime::<Utc>::from_timestamp_millis(ms));
    let body = html! {
        table {
            caption { "Workers alive" }
            (head(&["Host", "PID", "Queues", "Concurrency", "Running now", "Last heartbeat", "Started"]))
            tbody {
                @for worker in workers {
                    tr {
                        th scope="row" { (worker.host) }
                        td.number { (worker.pid) }
                        td { (worker.queues.join(", ")) }
                        td.number { (worker.jobs.len()) " of " (worker.concurrency) }
                        td {
                            @for job in &worker.jobs {
                                a href={ "/dashboard/runs/" (job) } { (job) } " "
                            }
                        }
                        td { (at(worker.heartbeat_ms)) }
                        td { (at(worker.started_ms)) }
                    }
                }
                @if workers.is_empty() { tr { td colspan="7" { "No worker is alive." } } }
            }
        }
        (button(session, "/dashboard/workers/restart", "Restart all workers"))
    };
    page("Workers", Some(session), body)
}
