//! `quire bench dashboard`: what the dashboard costs with a full runs table.
//!
//! A throw-away database (a SQLite file, or a fresh PostgreSQL database) gets
//! `runs` runs spread over the last day, the API is served by the same function as
//! `quire serve` on loopback, and a client signed in with an admin key asks for the
//! overview (and a filtered runs page) again and again. The time of each answer,
//! measured at the client over loopback, bounds the server's time from above.
//!
//! The load of an open overview is counted, not estimated: Redis's
//! `total_commands_processed` and quire's own `quire_store_statements_total` (read
//! from `/metrics`) before and after the measured requests give Redis commands and
//! SQL statements per overview; an open tab asks for one every refresh interval.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::report::{BenchDatabase, BenchDb};
use super::{BenchError, on_fresh_prefix, quantile};
use crate::app::App;
use crate::settings::Settings;
use crate::store::NewApiKey;

/// Unmeasured requests first: connections opened, statements prepared.
const WARM_UP: usize = 5;

/// The runs the benchmark fills the table with.
const FILL: &str = include_str!("dashboard_runs.sql");

/// What to run.
#[derive(Debug, Clone)]
pub struct DashboardBench {
    /// Runs in the table.
    pub runs: u64,
    /// Measured requests of each page.
    pub requests: usize,
    /// Where quire's state lives.
    pub database: BenchDatabase,
    /// The PostgreSQL server the throw-away database is made on.
    pub server_url: String,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct DashboardFigures {
    /// Overview answer times, sorted.
    pub overview: Vec<Duration>,
    /// Answer times of the runs page filtered by tenant and status, sorted.
    pub filtered: Vec<Duration>,
    /// Redis commands one overview sends.
    pub redis_per_overview: f64,
    /// Statements one overview sends to quire's database.
    pub sql_per_overview: f64,
}

impl DashboardFigures {
    /// The `q`-quantile of the overview times.
    pub fn overview(&self, q: f64) -> Duration {
        quantile(&self.overview, q)
    }

    /// The `q`-quantile of the filtered runs page times.
    pub fn filtered(&self, q: f64) -> Duration {
        quantile(&self.filtered, q)
    }
}

impl DashboardBench {
    /// Creates and fills the database, serves the API on it, measures, then stops it
    /// and drops the database and the Redis prefix, whether the run succeeded or not.
    ///
    /// # Errors
    /// A database or Redis that cannot be reached, or a page that does not answer 200.
    pub async fn run(&self, settings: &Settings) -> Result<DashboardFigures, BenchError> {
        let scratch = tempfile::tempdir()?;
        BenchDb::around(
            self.database,
            &self.server_url,
            scratch.path(),
            settings,
            |settings| async move {
                on_fresh_prefix(&settings, |app| self.with_app(&settings, app)).await
            },
        )
        .await
    }

    /// Fills the runs table, serves the API, measures, stops it.
    async fn with_app(
        &self,
        settings: &Settings,
        app: App,
    ) -> Result<DashboardFigures, BenchError> {
        let store = &app.runs.store;
        let now = store.now_ms();
        let runs_count = i64::try_from(self.runs).unwrap_or(i64::MAX);
        crate::on_any_pool!(store.db(), pool => {
            sqlx::query(FILL).bind(runs_count).bind(now).execute(pool).await?;
        });
        let key = store.create_api_key(&NewApiKey::default()).await?.1;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let shutdown = CancellationToken::new();
        let served = tokio::spawn(app.serve(listener, shutdown.clone()));
        let measured = self.measure(settings, &base, &key).await;
        shutdown.cancel();
        let stopped = served
            .await
            .map_err(|error| BenchError::Invalid(format!("the API panicked: {error}")))?
            .map_err(BenchError::Setup);
        let figures = measured?;
        stopped?;
        Ok(figures)
    }

    async fn measure(
        &self,
        settings: &Settings,
        base: &str,
        key: &str,
    ) -> Result<DashboardFigures, BenchError> {
        let http = crate::tls::TrustedRoots::default()
            .client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| BenchError::Invalid(error.to_string()))?;
        let cookie = sign_in(&http, base, key).await?;
        let get = |path: &'static str| {
            let request = http.get(format!("{base}{path}")).header(COOKIE, &cookie);
            async move {
                let started = Instant::now();
                let answer = request.send().await.map_err(invalid)?;
                let status = answer.status();
                answer.bytes().await.map_err(invalid)?;
                if status != reqwest::StatusCode::OK {
                    return Err(BenchError::Invalid(format!("{path} answered {status}")));
                }
                Ok(started.elapsed())
            }
        };
        const OVERVIEW: &str = "/dashboard";
        const FILTERED: &str = "/dashboard/runs?tenant=tenant-7&status=failed";
        for _ in 0..WARM_UP {
            get(OVERVIEW).await?;
            get(FILTERED).await?;
        }
        let mut redis = redis::Client::open(settings.redis_url.as_str())?
            .get_multiplexed_async_connection()
            .await?;
        // A scrape reads gauges from the database too: its own statements are
        // measured by two scrapes in a row and taken off.
        let first_scrape = statements(&http, base).await?;
        let statements_before = statements(&http, base).await?;
        let per_scrape = statements_before - first_scrape;
        let commands_before = commands_processed(&mut redis).await?;
        let mut overview = Vec::with_capacity(self.requests);
        for _ in 0..self.requests {
            overview.push(get(OVERVIEW).await?);
        }
        // The INFO that reads the count after is itself counted.
        let commands = commands_processed(&mut redis).await? - commands_before - 1;
        let sql = statements(&http, base).await? - statements_before - per_scrape;
        let mut filtered = Vec::with_capacity(self.requests);
        for _ in 0..self.requests {
            filtered.push(get(FILTERED).await?);
        }
        overview.sort();
        filtered.sort();
        let requests = self.requests.max(1) as f64;
        Ok(DashboardFigures {
            overview,
            filtered,
            redis_per_overview: commands as f64 / requests,
            sql_per_overview: sql as f64 / requests,
        })
    }
}

fn invalid(error: reqwest::Error) -> BenchError {
    BenchError::Invalid(format!("a dashboard request failed: {error}"))
}

/// Signs in through the form, as a browser does; returns the session cookie.
async fn sign_in(http: &reqwest::Client, base: &str, key: &str) -> Result<String, BenchError> {
    let answer = http
        .post(format!("{base}/dashboard/sign-in"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("key={key}"))
        .send()
        .await
        .map_err(invalid)?;
    answer
        .headers()
        .get(SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| BenchError::Invalid("signing in set no session cookie".into()))
}

/// Redis's count of commands processed since it started.
async fn commands_processed(
    redis: &mut redis::aio::MultiplexedConnection,
) -> Result<u64, BenchError> {
    let info: String = redis::cmd("INFO").arg("stats").query_async(redis).await?;
    info.lines()
        .find_map(|line| line.strip_prefix("total_commands_processed:"))
        .and_then(|count| count.trim().parse().ok())
        .ok_or_else(|| BenchError::Invalid("INFO stats has no total_commands_processed".into()))
}

/// quire's count of statements sent to its database, read from `/metrics`.
async fn statements(http: &reqwest::Client, base: &str) -> Result<u64, BenchError> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_err(invalid)?
        .text()
        .await
        .map_err(invalid)?;
    Ok(text
        .lines()
        .find_map(|line| line.strip_prefix("quire_store_statements_total "))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0))
}
