//! The dashboard's HTML, rendered on the server with maud: semantic tables with
//! captions and headers, labelled forms, and a status always written as a word (colour
//! only repeats it). Every form that changes something is a POST carrying the
//! session's CSRF token.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::session::Session;
use crate::queue::WorkerInfo;
use crate::wire::{QueuesView, RunView};

/// The stylesheet and the overview's refresh script, built into the binary.
const STYLE: &str = include_str!("dashboard.css");
const REFRESH: &str = include_str!("refresh.js");
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
                        form.signout method="post" action="/dashboard/sign-out" {
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
    match session.scope() {
        Some(tenant) => format!("tenant {tenant}"),
        None => "admin".to_owned(),
    }
}

/// The hidden CSRF field of a form.
fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A POST button: a form of its own to `action`.
pub(super) fn button(session: &Session, action: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf(session))
            button type="submit" { (label) }
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

/// The overview: the queues, the workers, and runs by status.
pub(super) fn overview(
    session: &Session,
    queues: Option<&QueuesView>,
    workers: Option<usize>,
    by_status: &[(String, i64)],
    recent: &[RunView],
) -> Markup {
    let body = html! {
        @if let Some(view) = queues {
            (queue_table(None, view))
            p { "Running " (view.running) ", delayed " (view.delayed) ", parked (waiting for a lock) " (view.parked) ", dead " (view.dead) "." }
        }
        @if let Some(workers) = workers { p { "Workers alive: " strong { (workers) } } }
        @if !by_status.is_empty() {
            table {
                caption { "Runs by status" }
                (head(&["Status", "Runs"]))
                tbody {
                    @for (status, count) in by_status {
                        tr { th scope="row" { (status) } td.number { (count) } }
                    }
                }
            }
        }
        (run_table("Latest runs", recent))
        script { (PreEscaped(REFRESH)) }
    };
    page("Overview", Some(session), body)
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
                    th scope="col" { "Tenants waiting" }
                    @if session.is_some() { th scope="col" { "Action" } }
                }
            }
            tbody {
                @for queue in &view.queues {
                    tr {
                        th scope="row" { (queue.name) }
                        td { @if queue.paused { "paused" } @else { "running" } }
                        td.number { (queue.ready) }
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
pub(super) fn run(session: &Session, run: &RunView, link: Option<&str>) -> Markup {
    let body = html! {
        dl {
            dt { "Status" } dd { (status(run)) }
            dt { "Tenant" } dd { (run.tenant) }
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
        @if let Some(link) = link {
            p.link { "Download link (valid for one use window): " a href=(link) { (link) } }
        }
        div.actions {
            @if run.status == crate::store::RunStatus::Completed {
                (button(session, &format!("/dashboard/runs/{}/link", run.id), "New download link"))
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

/// The failed runs, each with a retry button.
pub(super) fn failed(session: &Session, runs: &[RunView]) -> Markup {
    let body = html! {
        table {
            caption { "Failed runs, newest first" }
            (head(&["Run", "Tenant", "Report", "Reason", "Attempts", "Action"]))
            tbody {
                @for run in runs {
                    tr {
                        (run_cells(run))
                        td { @if let Some(error) = &run.error { code { (error.code) } ": " (error.message) } }
                        td.number { (run.attempts) }
                        td { (button(session, &format!("/dashboard/runs/{}/retry", run.id), "Retry")) }
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
            (head(&["Host", "PID", "Running now", "Last heartbeat", "Started"]))
            tbody {
                @for worker in workers {
                    tr {
                        th scope="row" { (worker.host) }
                        td.number { (worker.pid) }
                        td {
                            @for job in &worker.jobs {
                                a href={ "/dashboard/runs/" (job) } { (job) } " "
                            }
                        }
                        td { (at(worker.heartbeat_ms)) }
                        td { (at(worker.started_ms)) }
                    }
                }
                @if workers.is_empty() { tr { td colspan="5" { "No worker is alive." } } }
            }
        }
        (button(session, "/dashboard/workers/restart", "Restart all workers"))
    };
    page("Workers", Some(session), body)
}
