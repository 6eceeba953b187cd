//! Running one report: resolve the tenant and parameters, stream the query's rows into a
//! writer on a blocking thread, and publish the finished file atomically.

mod query;
mod source;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use chrono::NaiveDate;
use chrono_tz::Tz;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::catalog::{BindValue, Catalog, FieldError, Report, ResolvedParams, params};
use crate::clock::Clock;
use crate::db::Db;
use crate::storage::{Destination, StorageError, StoredFile};
use crate::writer::{Cell, Format, Layout, OutputOptions, RowWriter, WriteError};

pub use query::{SourceError, is_transient_sql};

/// A tenant query's text and the slug it was asked about.
type TenantKey = (String, String);

/// How long a tenant seen to exist is taken to exist by [`Reporter::known_tenant_id`].
const KNOWN_TENANT_TTL: Duration = Duration::from_secs(30);

/// Batches in flight between the query and the writer; bounds memory.
const CHANNEL_BATCHES: usize = 4;

/// What went wrong running a report. [`ReportError::is_transient`] tells the worker
/// whether another attempt can help.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// No report of this name is in the catalog.
    #[error("unknown report {0:?}")]
    UnknownReport(String),
    /// No tenant has this slug in the report database.
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    /// The parameters do not validate; one error per field.
    #[error("invalid parameters: {}", describe(.0))]
    InvalidParams(Vec<FieldError>),
    /// Reading the query's rows failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Writing the file failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Storing the finished file in the object store failed.
    #[error("storing the file failed")]
    Storage(#[source] StorageError),
    /// The build was cancelled before the file was complete.
    #[error("the report was cancelled")]
    Cancelled,
    /// Building took longer than the report's timeout, which it holds.
    #[error("the report did not finish within its timeout of {0:?}")]
    TimedOut(std::time::Duration),
    /// The tenant's time zone, as the definition's `tenant_timezone_sql` returns it, is
    /// not an IANA time zone name.
    #[error("the tenant's time zone {0:?} is not an IANA time zone name")]
    UnknownTimeZone(String),
    /// The writer or publishing task panicked or was aborted; holds its message.
    #[error("the writer thread failed: {0}")]
    WriterPanicked(String),
}

/// A writer or publishing task that panicked or was aborted. A full disk met by the
/// XLSX library's temporary files is a panic there, told by its message; it is a
/// write error like any other full disk.
fn writer_failure(error: tokio::task::JoinError) -> ReportError {
    let message = error.to_string();
    if message.contains("StorageFull") {
        ReportError::Write(WriteError::storage_full())
    } else {
        ReportError::WriterPanicked(message)
    }
}

/// A local file that cannot be written is a write error, as it always was; the object
/// store's failures are storage errors.
impl From<StorageError> for ReportError {
    fn from(error: StorageError) -> ReportError {
        match error {
            StorageError::Io(error) => ReportError::Write(WriteError::Io(error)),
            other => ReportError::Storage(other),
        }
    }
}

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{} {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ReportError {
    /// Whether the report database could not be reached (see
    /// [`crate::db::is_unreachable`]).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ReportError::Source(SourceError::Query(error)) if crate::db::is_unreachable(error))
    }

    /// Whether a later attempt could succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ReportError::Source(error) => error.is_transient(),
            ReportError::Storage(error) => error.is_transient(),
            ReportError::Write(_) | ReportError::TimedOut(_) | ReportError::WriterPanicked(_) => {
                true
            }
            ReportError::UnknownReport(_)
            | ReportError::UnknownTenant(_)
            | ReportError::InvalidParams(_)
            | ReportError::UnknownTimeZone(_)
            | ReportError::Cancelled => false,
        }
    }
}

/// One report to build.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    /// The report's name in the catalog.
    pub report: String,
    /// The tenant's slug.
    pub tenant: String,
    /// The file format to write.
    pub format: Format,
    /// The validated parameters (see [`Reporter::resolve_params`]).
    pub params: ResolvedParams,
    /// Format-specific choices, such as a CSV byte-order mark.
    pub options: OutputOptions,
}

/// A finished report file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Where the published file is, with its size and checksum.
    pub file: StoredFile,
    /// Data rows written, the header row not counted.
    pub rows: u64,
    /// Whether the rows came through PostgreSQL's binary COPY (the fast path).
    pub copied: bool,
}

/// Tenants' time zones by report name and tenant id, with when each was read.
type KnownZones = HashMap<(String, i64), (Instant, Tz)>;

/// Builds reports from the report database.
#[derive(Debug, Clone)]
pub struct Reporter {
    /// Shared by every clone, so that a reload reaches the API and the workers alike.
    catalog: Arc<ArcSwap<Catalog>>,
    source: Db,
    clock: Clock,
    copy: bool,
    /// Tenants seen to exist: their id, and when. Every enqueue checks its tenant, and
    /// tenants are rarely deleted: a deleted one is still accepted for up to
    /// [`KNOWN_TENANT_TTL`], and its run then ends `discarded`, as any run whose tenant
    /// went away before it ran. Unknown tenants are not remembered, so a new tenant is
    /// accepted at once.
    known_tenants: Arc<Mutex<HashMap<TenantKey, (Instant, i64)>>>,
    /// Time zones read at enqueue, by report and tenant id, and when: trusted as long as
    /// a known tenant. A run's own `:today` reads the zone afresh.
    known_zones: Arc<Mutex<KnownZones>>,
}

impl Reporter {
    /// A reporter reading from `source`, a read-only pool of its own (see
    /// [`Db::connect_reports`]).
    pub fn new(catalog: Arc<Catalog>, source: Db, clock: Clock) -> Reporter {
        Reporter {
            catalog: Arc::new(ArcSwap::new(catalog)),
            source,
            clock,
            copy: true,
            known_tenants: Arc::default(),
            known_zones: Arc::default(),
        }
    }

    /// Turns the PostgreSQL binary COPY fast path on (the default) or off. Both paths
    /// write the same bytes; off is for tests and benchmarks that compare them.
    pub fn with_copy_fast_path(mut self, enabled: bool) -> Reporter {
        self.copy = enabled;
        self
    }

    /// The catalog this reporter serves now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    /// Serves `catalog` from now on, to every clone of this reporter; runs already
    /// building keep the definition they started with.
    pub fn replace_catalog(&self, catalog: Catalog) {
        self.catalog.store(Arc::new(catalog));
    }

    /// The report called `name`.
    ///
    /// # Errors
    /// [`ReportError::UnknownReport`] when there is none.
    pub fn report(&self, name: &str) -> Result<Arc<Report>, ReportError> {
        self.catalog
            .load()
            .get(name)
            .cloned()
            .ok_or_else(|| ReportError::UnknownReport(name.to_owned()))
    }

    /// Validates request parameters and resolves them (defaults, presets against
    /// `today`, the tenant's date) to the canonical form a run stores.
    ///
    /// # Errors
    /// An unknown report, or every invalid parameter.
    pub fn resolve_params(
        &self,
        report: &str,
        input: &serde_json::Map<String, serde_json::Value>,
        today: NaiveDate,
    ) -> Result<ResolvedParams, ReportError> {
        let report = self.report(report)?;
        params::resolve(&report.params, &report.column_names(), input, today)
            .map_err(ReportError::InvalidParams)
    }

    /// [`Reporter::resolve_params`] against the date of the tenant `slug` (UTC's for a
    /// tenant that does not exist: its request fails on the tenant anyway).
    ///
    /// # Errors
    /// An unknown report, every invalid parameter, or the tenant's time zone unknown.
    pub async fn resolve_params_for_tenant(
        &self,
        report: &str,
        slug: &str,
        input: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<ResolvedParams, ReportError> {
        let tenant_id = self.known_tenant_id(report, slug).await?;
        self.resolve_params_for(report, tenant_id, input).await
    }

    /// [`Reporter::resolve_params`] against the date of the tenant `tenant_id` as
    /// [`Reporter::known_tenant_id`] found it (`None`: UTC's).
    ///
    /// # Errors
    /// An unknown report, every invalid parameter, or the tenant's time zone unknown.
    pub async fn resolve_params_for(
        &self,
        report: &str,
        tenant_id: Option<i64>,
        input: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<ResolvedParams, ReportError> {
        let today = match tenant_id {
            Some(id) => self.clock.today_in(self.known_zone(report, id).await?),
            None => self.clock.today(),
        };
        self.resolve_params(report, input, today)
    }

    /// [`Reporter::tenant_zone`], remembered for [`KNOWN_TENANT_TTL`]: every enqueue
    /// needs it, and zones rarely change.
    async fn known_zone(&self, report: &str, tenant_id: i64) -> Result<Tz, ReportError> {
        let key = (report.to_owned(), tenant_id);
        let recent = self
            .known_zones
            .lock()
            .expect("not poisoned")
            .get(&key)
            .filter(|(at, _)| at.elapsed() < KNOWN_TENANT_TTL)
            .map(|&(_, zone)| zone);
        if let Some(zone) = recent {
            return Ok(zone);
        }
        let zone = self.tenant_zone(report, tenant_id).await?;
        self.known_zones
            .lock()
            .expect("not poisoned")
            .insert(key, (Instant::now(), zone));
        Ok(zone)
    }

    /// Today's date for the tenant `tenant_id`, in the time zone `report`'s
    /// `tenant_timezone_sql` returns for it; UTC's when the definition names no such
    /// query or it returns nothing.
    ///
    /// # Errors
    /// An unknown report, the query failing, or a zone that is not an IANA name.
    pub async fn tenant_today(
        &self,
        report: &str,
        tenant_id: i64,
    ) -> Result<NaiveDate, ReportError> {
        Ok(self
            .clock
            .today_in(self.tenant_zone(report, tenant_id).await?))
    }

    /// The time zone `report`'s `tenant_timezone_sql` returns for the tenant
    /// `tenant_id`; UTC without such a query, or when it returns nothing.
    async fn tenant_zone(&self, report: &str, tenant_id: i64) -> Result<Tz, ReportError> {
        let report = self.report(report)?;
        let Some(sql) = report.tenant_timezone_sql(self.source.dialect()) else {
            return Ok(Tz::UTC);
        };
        match source::tenant_timezone(&self.source, sql, tenant_id).await? {
            None => Ok(Tz::UTC),
            Some(name) => name.parse().map_err(|_| ReportError::UnknownTimeZone(name)),
        }
    }

    /// The id `:tenant` binds for `slug`, as far as accepting a run for it goes: a
    /// tenant seen within [`KNOWN_TENANT_TTL`] is not looked up again.
    ///
    /// # Errors
    /// When the database cannot be queried.
    pub async fn known_tenant_id(
        &self,
        report: &str,
        slug: &str,
    ) -> Result<Option<i64>, ReportError> {
        // Keyed by the query, which most reports share, so that they share the answer.
        let tenant_sql = self
            .report(report)?
            .tenant_sql(self.source.dialect())
            .text
            .clone();
        let key = (tenant_sql, slug.to_owned());
        let recently_seen = self
            .known_tenants
            .lock()
            .expect("not poisoned")
            .get(&key)
            .filter(|(at, _)| at.elapsed() < KNOWN_TENANT_TTL)
            .map(|&(_, id)| id);
        if recently_seen.is_some() {
            return Ok(recently_seen);
        }
        let id = self.tenant_id(report, slug).await?;
        let mut known = self.known_tenants.lock().expect("not poisoned");
        match id {
            Some(id) => known.insert(key, (Instant::now(), id)),
            None => known.remove(&key),
        };
        Ok(id)
    }

    /// The id `:tenant` binds in `report` for `slug`, if the tenant exists (always
    /// looked up, with the report's tenant query).
    ///
    /// # Errors
    /// An unknown report, or a database that cannot be queried.
    pub async fn tenant_id(&self, report: &str, slug: &str) -> Result<Option<i64>, ReportError> {
        let report = self.report(report)?;
        let sql = report.tenant_sql(self.source.dialect());
        Ok(source::tenant_id(&self.source, sql, slug).await?)
    }

    /// Builds `request` into the file `out`: written under a temporary name beside it,
    /// synced and renamed only once complete. `rows_written` counts rows as they land.
    ///
    /// # Errors
    /// See [`ReportError`]; on any error no file is left behind.
    pub async fn render(
        &self,
        request: &ReportRequest,
        out: &Path,
        cancel: &CancellationToken,
        rows_written: Arc<AtomicU64>,
    ) -> Result<Rendered, ReportError> {
        let destination = Destination::File(out.to_owned());
        self.render_to(request, &destination, cancel, rows_written)
            .await
    }

    /// [`Reporter::render`] into `destination`, a file or an object, published only
    /// once complete.
    ///
    /// # Errors
    /// See [`ReportError`]; on any error no file or object is left behind.
    pub async fn render_to(
        &self,
        request: &ReportRequest,
        destination: &Destination,
        cancel: &CancellationToken,
        rows_written: Arc<AtomicU64>,
    ) -> Result<Rendered, ReportError> {
        let report = self.report(&request.report)?;
        let tenant_id = self
            .tenant_id(&request.report, &request.tenant)
            .await?
            .ok_or_else(|| ReportError::UnknownTenant(request.tenant.clone()))?;
        let work = self.build(
            &report,
            tenant_id,
            request,
            destination,
            cancel,
            rows_written,
        );
        let timed_out = ReportError::TimedOut(report.timeout);
        tokio::select! {
            result = tokio::time::timeout(report.timeout, work) => match result {
                // The statement timeout and this one are the same limit; whichever
                // fires first, it is a timeout.
                Ok(Err(ReportError::Source(error))) if error.is_statement_timeout() => Err(timed_out),
                Ok(result) => result,
                Err(_) => Err(timed_out),
            },
            () = cancel.cancelled() => Err(ReportError::Cancelled),
        }
    }

    /// Reads every row of `request` into memory, decoded exactly as [`Reporter::render`]
    /// decodes them (a row ends with its currency code when the request leaves the
    /// report's currency column out). For small reports and for benchmarks that need the same cells
    /// without the database; large reports should be rendered, which streams.
    ///
    /// # Errors
    /// See [`ReportError`].
    pub async fn collect_rows(
        &self,
        request: &ReportRequest,
    ) -> Result<Vec<Vec<Cell>>, ReportError> {
        let report = self.report(&request.report)?;
        let tenant_id = self
            .tenant_id(&request.report, &request.tenant)
            .await?
            .ok_or_else(|| ReportError::UnknownTenant(request.tenant.clone()))?;
        let plan = self.plan(&report, tenant_id, request).await?;
        let (sender, mut receiver) = mpsc::channel::<Vec<Vec<Cell>>>(CHANNEL_BATCHES);
        let collect = async {
            let mut rows = Vec::new();
            while let Some(batch) = receiver.recv().await {
                rows.extend(batch);
            }
            rows
        };
        let query = plan.query(&report, self.source.dialect(), self.copy);
        let (streamed, rows) = tokio::join!(source::stream(&self.source, &query, sender), collect);
        streamed?;
        Ok(rows)
    }

    /// The binds and output columns of `request`; `:today` is the tenant's date.
    async fn plan(
        &self,
        report: &Report,
        tenant_id: i64,
        request: &ReportRequest,
    ) -> Result<Plan, ReportError> {
        let today = self.tenant_today(&report.name, tenant_id).await?;
        let mut binds = params::bind_values(&report.params, &request.params);
        binds.insert("tenant".into(), BindValue::Integer(Some(tenant_id)));
        binds.insert("today".into(), BindValue::Date(Some(today)));
        let mut decoded: Vec<usize> = match request.params.columns() {
            Some(names) => names
                .iter()
                .filter_map(|name| report.columns.iter().position(|c| c.name == *name))
                .collect(),
            None => (0..report.columns.len()).collect(),
        };
        let shown = decoded.len();
        // Money keeps its row's currency even when the request leaves the currency
        // column out: it is then read as one more cell past the output's.
        let currency = report.currency_index().map(|index| {
            decoded.iter().position(|&i| i == index).unwrap_or_else(|| {
                decoded.push(index);
                shown
            })
        });
        Ok(Plan {
            binds,
            decoded,
            shown,
            currency,
        })
    }

    async fn build(
        &self,
        report: &Report,
        tenant_id: i64,
        request: &ReportRequest,
        destination: &Destination,
        cancel: &CancellationToken,
        rows_written: Arc<AtomicU64>,
    ) -> Result<Rendered, ReportError> {
        let dialect = self.source.dialect();
        let plan = self.plan(report, tenant_id, request).await?;
        let columns: Vec<_> = plan.decoded[..plan.shown]
            .iter()
            .map(|&i| report.columns[i].clone())
            .collect();

        let pending = destination
            .create(request.format.front_to_back())
            .map_err(WriteError::Io)?;
        let output = pending.output().map_err(WriteError::Io)?;
        let temp_dir = pending.dir().to_owned();
        let (sender, mut receiver) = mpsc::channel::<Vec<Vec<Cell>>>(CHANNEL_BATCHES);
        let title = report.title.clone();
        let subject = format!("{} for {}", report.name, request.tenant);
        let created = self.clock.now();
        let (format, options) = (request.format, request.options.over(report));
        let currency = plan.currency;
        let writer_cancel = cancel.clone();
        let writer = tokio::task::spawn_blocking(move || -> Result<(), ReportError> {
            let layout = Layout {
                title: &title,
                subject: &subject,
                columns: &columns,
                created,
                temp_dir: &temp_dir,
                options,
                currency,
            };
            let mut writer = RowWriter::create(format, output, &layout)?;
            while let Some(batch) = receiver.blocking_recv() {
                if writer_cancel.is_cancelled() {
                    return Err(ReportError::Cancelled);
                }
                for row in &batch {
                    writer.write_row(row)?;
                }
                rows_written.fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Ok(writer.finish()?)
        });

        let query = plan.query(report, dialect, self.copy);
        let streamed = source::stream(&self.source, &query, sender).await;
        // A writer error explains a closed channel better than the reader's view of it,
        // and an upload's own failure explains the writer's.
        if let Err(error) = writer.await.map_err(writer_failure)? {
            return Err(pending.abandon().await.map_or(error, ReportError::from));
        }
        // Published only once every row arrived; dropping `pending` removes the file.
        let streamed = streamed?;
        let file = destination.publish(pending).await?;
        Ok(Rendered {
            file,
            rows: streamed.rows,
            copied: streamed.copied,
        })
    }
}

/// What one request binds and which declared columns it reads.
struct Plan {
    binds: BTreeMap<String, BindValue>,
    /// The declared columns each row is read as: the output's, in output order, then
    /// the currency column when the output leaves it out.
    decoded: Vec<usize>,
    /// How many of `decoded` are output columns.
    shown: usize,
    /// Where a read row holds its currency code, when the report names a currency column.
    currency: Option<usize>,
}

impl Plan {
    fn query<'a>(
        &'a self,
        report: &'a Report,
        dialect: crate::db::Dialect,
        copy: bool,
    ) -> query::Query<'a> {
        query::Query {
            sql: report.sql(dialect),
            binds: &self.binds,
            columns: &report.columns,
            selected: &self.decoded,
            timeout: report.timeout,
            copy,
        }
    }
}
