//! The dashboard at `/dashboard`: server-rendered pages over the same functions the API
//! uses (runs, queues, workers), no second source of truth. An admin key sees every
//! tenant and may pause queues and restart workers; a tenant's key sees its own runs.

mod pages;
pub(crate) mod session;
mod stats;

use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use serde::Deserialize;

use self::pages::RunFilters;
use self::session::{Refusal, Session};
use super::{ApiError, AppState};
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::store::{RunPage, RunQuery, RunStatus, first_id_at};
use crate::wire::{QueueState, QueuesView, RunView};
use crate::writer::Format;

/// How often an open overview refreshes itself.
pub(crate) const REFRESH: Duration = Duration::from_secs(5);

/// Runs on a page of the runs list.
const PAGE: i64 = 50;

/// The dashboard's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(overview))
        .route("/dashboard/sign-in", get(sign_in_form).post(sign_in))
        .route(session::SIGN_OUT, post(sign_out))
        .route("/dashboard/runs", get(runs))
        .route("/dashboard/runs/{id}", get(run))
        .route("/dashboard/runs/{id}/{action}", post(run_action))
        .route("/dashboard/failed", get(failed))
        .route("/dashboard/failed/{action}", post(failed_action))
        .route("/dashboard/queues", get(queues))
        .route("/dashboard/queues/{name}/{action}", post(queue_action))
        .route("/dashboard/workers", get(workers))
        .route("/dashboard/workers/restart", post(restart_workers))
}

/// A page, or why it is not shown.
type Page = Result<Response, Failure>;

/// What ends a dashboard request other than its page.
enum Failure {
    /// Refused before the handler ran (no session, no CSRF token).
    Refused(Refusal),
    /// The API's own refusal (unknown run, conflict, unavailable), shown as a page.
    Api(Box<(Option<Session>, ApiError)>),
}

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Failure {
        Failure::Refused(refusal)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Refused(Refusal::SignIn) => Redirect::to("/dashboard/sign-in").into_response(),
            Failure::Refused(refusal @ (Refusal::Forbidden(_) | Refusal::Unavailable)) => {
                let message = match &refusal {
                    Refusal::Forbidden(why) => why,
                    _ => "quire's database is unavailable; try again shortly",
                };
                let status = session::refusal_status(&refusal);
                (status, pages::problem(None, message)).into_response()
            }
            Failure::Api(refused) => {
                let (session, error) = *refused;
                (
                    error.status,
                    pages::problem(session.as_ref(), &error.message),
                )
                    .into_response()
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        Failure::Refused(self).into_response()
    }
}

/// `error` shown to `session` as a page.
fn failure(session: &Session, error: impl Into<ApiError>) -> Failure {
    Failure::Api(Box::new((Some(session.clone()), error.into())))
}

/// Refuses a tenant's session with 403.
fn admin_only(session: &Session) -> Result<(), Failure> {
    super::auth::admin_only(
        &session.key,
        "only an admin key may see or change this: it concerns every tenant",
    )
    .map_err(|error| failure(session, error))
}

fn html(markup: Markup) -> Response {
    markup.into_response()
}

/// A state-changing form's one field: the CSRF token.
#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_in_form() -> Markup {
    pages::sign_in(None)
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    #[serde(default)]
    key: String,
}

/// Checks the API key once and starts a session naming it; a bad key is a 401 with
/// the form again. Only a same-site form may sign in, so no other site can sign a
/// browser in to its own key.
async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    if !session::same_origin(&headers) {
        return Failure::Refused(Refusal::Forbidden("this form was sent from another site"))
            .into_response();
    }
    match state.runs.store.authenticate(form.key.trim()).await {
        Ok(Some(key)) => {
            let cookie = session::start(&state, &key, state.runs.store.now_ms());
            ([(header::SET_COOKIE, cookie)], Redirect::to("/dashboard")).into_response()
        }
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            pages::sign_in(Some("That API key is unknown or revoked.")),
        )
            .into_response(),
        Err(error) => {
            tracing::warn!(%error, "cannot check a dashboard sign-in");
            Failure::Refused(Refusal::Unavailable).into_response()
        }
    }
}

async fn sign_out(session: Session, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Page {
    session.check(&headers, &form.csrf)?;
    Ok((
        [(header::SET_COOKIE, session::end())],
        Redirect::to("/dashboard/sign-in"),
    )
        .into_response())
}

/// A page of the runs the session may see.
async fn visible(state: &AppState, session: &Session, query: RunQuery) -> Result<RunPage, Failure> {
    state
        .runs
        .store
        .list_runs(&RunQuery {
            tenant: session.scope().map(str::to_owned).or(query.tenant),
            ..query
        })
        .await
        .map_err(|error| failure(session, error))
}

/// The latest runs the session may see, as the API shows them.
async fn latest(
    state: &AppState,
    session: &Session,
    query: RunQuery,
) -> Result<(Vec<RunView>, Option<String>), Failure> {
    let page = visible(state, session, query).await?;
    let runs = page
        .runs
        .iter()
        .map(|run| RunView::new(&state.public_url, run))
        .collect();
    Ok((runs, page.next))
}

/// A form or query field, unless it was left blank.
fn given(field: &Option<String>) -> Option<String> {
    field.clone().filter(|value| !value.trim().is_empty())
}

/// The answer to an action the dashboard does not have.
fn no_such_action(session: &Session) -> Failure {
    failure(
        session,
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such action"),
    )
}

async fn overview(State(state): State<AppState>, session: Session) -> Page {
    let recent = RunQuery {
        limit: 10,
        ..RunQuery::default()
    };
    let (recent, _) = latest(&state, &session, recent).await?;
    if !session.is_admin() {
        return Ok(html(pages::overview(&session, None, &recent)));
    }
    let queue = &state.runs.queue;
    let store = &state.runs.store;
    let now = store.now_ms();
    let since = now - stats::HOUR_MS;
    let (queues, workers, by_status, activity, times) = tokio::join!(
        QueuesView::read(queue, 5),
        queue.workers(),
        store.runs_by_status(),
        store.activity(since),
        store.completed_times(since, stats::TIMED_RUNS),
    );
    // A part that cannot be read is left out; the page still shows the rest.
    let health = pages::Health {
        queues: queues.ok(),
        workers: workers.ok().map(|workers| workers.len()),
        by_status: by_status.unwrap_or_default(),
        chart: activity.ok().map(|minutes| stats::chart(&minutes, now)),
        timings: times.ok().map(|times| stats::timings(&times)),
    };
    Ok(html(pages::overview(&session, Some(&health), &recent)))
}

async fn runs(
    State(state): State<AppState>,
    session: Session,
    Query(filters): Query<RunFilters>,
) -> Page {
    if let Some(wanted) = given(&filters.q) {
        return find(&state, &session, wanted.trim(), given(&filters.tenant)).await;
    }
    let bad = |message: String| {
        failure(
            &session,
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message),
        )
    };
    let status = given(&filters.status)
        .map(|word| RunStatus::parse(&word).ok_or_else(|| bad(format!("unknown status {word:?}"))))
        .transpose()?;
    let format = given(&filters.format)
        .map(|word| word.parse::<Format>().map_err(bad))
        .transpose()?;
    let bound = |field: &Option<String>| {
        given(field)
            .map(|text| {
                NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M")
                    .map(|at| first_id_at(at.and_utc().timestamp_millis()))
                    .map_err(|_| bad(format!("{text:?} is not a time like 2026-06-30T14:00")))
            })
            .transpose()
    };
    let (from, to) = (bound(&filters.from)?, bound(&filters.to)?);
    // The cursor and the end of the range are both upper bounds: the lower one holds.
    let before = match (given(&filters.cursor), to) {
        (Some(cursor), Some(to)) => Some(cursor.min(to)),
        (cursor, to) => cursor.or(to),
    };
    let query = RunQuery {
        tenant: given(&filters.tenant),
        status,
        report: given(&filters.report),
        format,
        limit: PAGE,
        before,
        from,
    };
    let (runs, next) = latest(&state, &session, query).await?;
    Ok(html(pages::runs(
        &session,
        &filters,
        &runs,
        next.as_deref(),
    )))
}

/// Goes to the run whose id is `wanted`, or that the idempotency key `wanted` of the
/// session's tenant (an admin names the tenant) led to. Both are primary-key lookups.
async fn find(state: &AppState, session: &Session, wanted: &str, tenant: Option<String>) -> Page {
    let found = |id: &str| Ok(Redirect::to(&format!("/dashboard/runs/{id}")).into_response());
    if state.runs.get(wanted, session.scope()).await.is_ok() {
        return found(wanted);
    }
    let not_found = |message: String| {
        failure(
            session,
            ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
        )
    };
    let Some(tenant) = session.scope().map(str::to_owned).or(tenant) else {
        return Err(not_found(format!(
            "no run has the id {wanted:?}; to look up an idempotency key, name its tenant too"
        )));
    };
    let run = state
        .runs
        .store
        .run_of_idempotency_key(&tenant, wanted)
        .await
        .map_err(|error| failure(session, error))?;
    match run {
        Some(id) => found(&id),
        None => Err(not_found(format!(
            "no run of {tenant} has the id or idempotency key {wanted:?}"
        ))),
    }
}

async fn run(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Page {
    run_page(&state, &session, &id, MintLink::No).await
}

/// Whether a run's page comes with a fresh download link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MintLink {
    Yes,
    No,
}

/// Run `id`'s page with its history and webhook deliveries, and a fresh download link
/// when asked for one.
async fn run_page(state: &AppState, session: &Session, id: &str, mint: MintLink) -> Page {
    let runs = &state.runs;
    let run = runs
        .get(id, session.scope())
        .await
        .map_err(|error| failure(session, error))?;
    let link = match mint {
        MintLink::Yes => {
            let token = runs
                .mint_token(&run.id)
                .await
                .map_err(|error| failure(session, error))?;
            Some(format!("{}/v1/downloads/{token}", state.public_url))
        }
        MintLink::No => None,
    };
    let store = &runs.store;
    let (events, deliveries) = tokio::try_join!(store.run_events(id), store.run_deliveries(id))
        .map_err(|error| failure(session, error))?;
    Ok(html(pages::run(
        session,
        &RunView::new(&state.public_url, &run),
        &run.identity,
        &events,
        &deliveries,
        link.as_deref(),
    )))
}

/// Cancel, retry or a fresh download link, through the functions the API uses.
async fn run_action(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Page {
    session.check(&headers, &form.csrf)?;
    let runs = &state.runs;
    let done = match action.as_str() {
        "cancel" => runs.cancel(&id, session.scope()).await.map(drop),
        "retry" => runs.retry(&id, session.scope()).await.map(drop),
        "forget" => runs.forget(&id, session.scope()).await,
        "links" => return run_page(&state, &session, &id, MintLink::Yes).await,
        _ => return Err(no_such_action(&session)),
    };
    done.map_err(|error| failure(&session, error))?;
    Ok(Redirect::to(&format!("/dashboard/runs/{id}")).into_response())
}

/// The filter of the failed page and of its actions on every matching run.
#[derive(Debug, Default, Deserialize)]
struct FailedFilter {
    tenant: Option<String>,
    report: Option<String>,
}

impl FailedFilter {
    /// The failed runs matching, as the session may see them: `limit` from `before`.
    fn query(&self, limit: i64, before: Option<String>) -> RunQuery {
        RunQuery {
            tenant: given(&self.tenant),
            report: given(&self.report),
            status: Some(RunStatus::Failed),
            limit,
            before,
            ..RunQuery::default()
        }
    }
}

async fn failed(
    State(state): State<AppState>,
    session: Session,
    Query(filter): Query<FailedFilter>,
) -> Page {
    let (runs, _) = latest(&state, &session, filter.query(PAGE, None)).await?;
    Ok(html(pages::failed(
        &session,
        filter.tenant.as_deref(),
        filter.report.as_deref(),
        &runs,
    )))
}

/// A bulk action's form: the CSRF token and the filter it applies to.
#[derive(Debug, Deserialize)]
struct BulkForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    filter: FailedFilter,
}

/// Retries or forgets every failed run matching the filter. Each run is changed
/// through the same function as its own button, so a second click finds none left to
/// change and enqueues nothing twice.
async fn failed_action(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(action): Path<String>,
    Form(form): Form<BulkForm>,
) -> Page {
    session.check(&headers, &form.csrf)?;
    if !matches!(action.as_str(), "retry" | "forget") {
        return Err(no_such_action(&session));
    }
    let mut before = None;
    loop {
        let page = visible(&state, &session, form.filter.query(200, before)).await?;
        for run in &page.runs {
            let done = match action.as_str() {
                "retry" => state.runs.retry(&run.id, session.scope()).await.map(drop),
                _ => state.runs.forget(&run.id, session.scope()).await,
            };
            // A run another hand changed meanwhile is no longer this action's business.
            if let Err(error) = done {
                tracing::info!(run_id = %run.id, %error, action, "a failed run was left as it is");
            }
        }
        match page.next {
            Some(cursor) => before = Some(cursor),
            None => break,
        }
    }
    let back = serde_urlencoded::to_string([
        ("tenant", form.filter.tenant.unwrap_or_default()),
        ("report", form.filter.report.unwrap_or_default()),
    ])
    .unwrap_or_default();
    Ok(Redirect::to(&format!("/dashboard/failed?{back}")).into_response())
}

async fn queues(State(state): State<AppState>, session: Session) -> Page {
    admin_only(&session)?;
    let view = QueuesView::read(&state.runs.queue, 0)
        .await
        .map_err(|error| failure(&session, crate::runs::RunsError::from(error)))?;
    Ok(html(pages::queues(&session, &view)))
}

async fn queue_action(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path((name, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Page {
    session.check(&headers, &form.csrf)?;
    admin_only(&session)?;
    let paused = match action.as_str() {
        "pause" => true,
        "resume" => false,
        _ => return Err(no_such_action(&session)),
    };
    QueueState::set(&state.runs.queue, &name, paused)
        .await
        .map_err(|error| failure(&session, crate::runs::RunsError::from(error)))?;
    Ok(Redirect::to("/dashboard/queues").into_response())
}

async fn workers(State(state): State<AppState>, session: Session) -> Page {
    admin_only(&session)?;
    let workers = state
        .runs
        .queue
        .workers()
        .await
        .map_err(|error| failure(&session, crate::runs::RunsError::from(error)))?;
    Ok(html(pages::workers(&session, &workers)))
}

/// `quire restart` from the dashboard: every worker finishes its jobs and exits (or, in
/// `quire run`, starts again).
async fn restart_workers(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Page {
    session.check(&headers, &form.csrf)?;
    admin_only(&session)?;
    state
        .runs
        .queue
        .broadcast_restart()
        .await
        .map_err(|error| failure(&session, crate::runs::RunsError::from(error)))?;
    Ok(Redirect::to("/dashboard/workers").into_response())
}
