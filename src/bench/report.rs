//! `quire bench report`: a generated table of invoice-like rows in a throw-away database
//! (a fresh PostgreSQL database, or a SQLite file in a temporary folder), built into a
//! file through the real report path — a catalog definition and [`Reporter::render`] —
//! beside a baseline on the same data in the same run:
//!
//! - CSV on PostgreSQL: `COPY (query) TO STDOUT WITH (FORMAT csv)` streamed to a file
//!   with `copy_out_raw`, the server's own formatting and nothing else;
//! - CSV on SQLite (which has no `COPY`): the same cells, read into memory first,
//!   written by the CSV writer alone;
//! - XLSX: rust_xlsxwriter in constant-memory mode writing the same cells, read into
//!   memory first, with the same formats, at zip level 3.
//!
//! Every phase runs in a child process (`quire bench phase`, hidden), so its peak
//! resident memory (VmHWM) is its own; phases alternate over several runs and the
//! medians are reported.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use futures::TryStreamExt as _;
use rust_xlsxwriter::{ColNum, Format as XlsxFormat, RowNum, Workbook};
use tokio::io::AsyncWriteExt as _;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{BenchError, Summary, peak_rss_kib};
use crate::catalog::{Catalog, Column, ColumnType};
use crate::clock::Clock;
use crate::db::Db;
use crate::report::{ReportRequest, Reporter};
use crate::writer::{Cell, Format, Layout, OutputOptions, RowWriter, looks_like_formula};

/// The benchmark's report: nine invoice-like columns of every kind a report has.
const DEFINITION: &str = r#"
name = "bench_invoices"
title = "Benchmark invoices"
description = "Generated invoice-like rows for quire bench report."
overlap = "none"
max_attempts = 1
timeout = "6h"
columns = [
    { name = "number", header = "Invoice number", type = "text" },
    { name = "client", header = "Client", type = "text" },
    { name = "status", header = "Status", type = "text" },
    { name = "issue_date", header = "Issue date", type = "date" },
    { name = "due_date", header = "Due date", type = "date" },
    { name = "currency", header = "Currency", type = "text" },
    { name = "lines", header = "Lines", type = "integer" },
    { name = "total", header = "Total", type = "money" },
    { name = "created_at", header = "Created", type = "datetime" },
]
sql = """
SELECT number, client, status, issue_date, due_date, currency, lines, total, created_at
FROM bench_invoices WHERE tenant_id = :tenant ORDER BY id
"""
"#;

/// The report's query as the baseline runs it: the same columns, rows and order.
const COPY_BASELINE: &str = "COPY (SELECT number, client, status, issue_date, due_date, \
     currency, lines, total, created_at FROM bench_invoices WHERE tenant_id = 1 ORDER BY id) \
     TO STDOUT WITH (FORMAT csv)";

const TENANT: &str = "bench";
const REPORT: &str = "bench_invoices";

/// Client names, hostile ones included: quotes, commas, a line break, other scripts,
/// and text a spreadsheet would take for a formula.
const CLIENTS: &[&str] = &[
    "Acme Corporation",
    "Müller & Söhne, \"GmbH\"",
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "株式会社 テスト",
    "+1 555 0100",
    "O'Brien Ltd",
    "-minus first",
    "@SUM(A1:A2)",
    "Line one\nline two",
    "Ελληνική Εταιρεία",
    "＝full-width",
    "Globex",
];

/// The PostgreSQL tables, then the statement that generates the rows on the server
/// (`$1` rows, `$2` client names).
const POSTGRES_TABLES: &[&str] = &[
    "CREATE TABLE bench_clients (k INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE bench_invoices (id BIGINT PRIMARY KEY, tenant_id BIGINT NOT NULL, \
     number TEXT NOT NULL, client TEXT, status TEXT NOT NULL, issue_date DATE NOT NULL, \
     due_date DATE NOT NULL, currency TEXT NOT NULL, lines INTEGER NOT NULL, \
     total BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL)",
];
const POSTGRES_ROWS: &str = "INSERT INTO bench_invoices \
     SELECT i, 1, 'INV-' || lpad(i::text, 8, '0'), \
       CASE WHEN i % 101 = 0 THEN NULL ELSE c.name || ' #' || (i % 997) END, \
       (ARRAY['draft', 'sent', 'partial', 'paid', 'void'])[1 + i % 5], \
       DATE '2020-01-01' + (i % 2000)::int, DATE '2020-01-31' + (i % 2000)::int, \
       (ARRAY['USD', 'EUR', 'GBP', 'JPY'])[1 + i % 4], 1 + (i % 17)::int, \
       (i * 7919) % 10000000 - 50000, \
       TIMESTAMPTZ '2020-01-01 00:00:00+00' \
         + make_interval(secs => i * 37 + (i % 4) * 0.25 + (i % 3) * 0.000001) \
     FROM generate_series(1, $1::bigint) AS i \
     JOIN bench_clients c ON c.k = i % $2";

/// The SQLite tables, then the statement that generates the rows (`?1` rows, `?2`
/// client names).
const SQLITE_TABLES: &[&str] = &[
    "CREATE TABLE bench_clients (k INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE bench_invoices (id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, \
     number TEXT NOT NULL, client TEXT, status TEXT NOT NULL, issue_date TEXT NOT NULL, \
     due_date TEXT NOT NULL, currency TEXT NOT NULL, lines INTEGER NOT NULL, \
     total INTEGER NOT NULL, created_at TEXT NOT NULL)",
];
const SQLITE_ROWS: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
     INSERT INTO bench_invoices \
     SELECT i, 1, printf('INV-%08d', i), \
       CASE WHEN i % 101 = 0 THEN NULL ELSE c.name || ' #' || (i % 997) END, \
       CASE i % 5 WHEN 0 THEN 'draft' WHEN 1 THEN 'sent' WHEN 2 THEN 'partial' \
         WHEN 3 THEN 'paid' ELSE 'void' END, \
       date('2020-01-01', '+' || (i % 2000) || ' days'), \
       date('2020-01-31', '+' || (i % 2000) || ' days'), \
       CASE i % 4 WHEN 0 THEN 'USD' WHEN 1 THEN 'EUR' WHEN 2 THEN 'GBP' ELSE 'JPY' END, \
       1 + i % 17, (i * 7919) % 10000000 - 50000, \
       strftime('%Y-%m-%dT%H:%M:%fZ', '2020-01-01', '+' || (i * 37 + (i % 4) * 0.25) || ' seconds') \
     FROM n JOIN bench_clients c ON c.k = i % ?2";

/// Which database the benchmark generates its table in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchDatabase {
    Postgres,
    Sqlite,
}

/// One measured step, run in its own process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// The real report path, [`Reporter::render`].
    Render,
    /// The same with the PostgreSQL COPY fast path for CSV turned off.
    RenderRows,
    /// PostgreSQL `COPY (query) TO STDOUT WITH (FORMAT csv)` into a file.
    Copy,
    /// The same cells, read into memory first (not timed), then written alone.
    Memory,
}

/// What one phase measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseFigures {
    /// Wall time of the measured work.
    pub seconds: f64,
    /// Rows written.
    pub rows: u64,
    /// Size of the file.
    pub bytes: u64,
    /// The phase process's peak resident memory.
    pub peak_rss_kib: u64,
    /// Whether PostgreSQL's COPY rendered the report's rows (the CSV fast path).
    pub copied: bool,
}

impl PhaseFigures {
    /// The `key=value` line a phase process prints.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        summary.push("seconds", format!("{:.6}", self.seconds));
        summary.push("rows", self.rows);
        summary.push("bytes", self.bytes);
        summary.push("peak_rss_kib", self.peak_rss_kib);
        summary.push("copied", self.copied);
        summary
    }

    fn parse(summary: &Summary) -> Option<PhaseFigures> {
        Some(PhaseFigures {
            seconds: summary.get("seconds")?.parse().ok()?,
            rows: summary.get("rows")?.parse().ok()?,
            bytes: summary.get("bytes")?.parse().ok()?,
            peak_rss_kib: summary.get("peak_rss_kib")?.parse().ok()?,
            copied: summary.get("copied")?.parse().ok()?,
        })
    }

    /// Rows per second.
    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.seconds
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ReportBench {
    /// Rows generated and written.
    pub rows: u64,
    /// The output format.
    pub format: Format,
    /// Where the table lives.
    pub database: BenchDatabase,
    /// PostgreSQL server URL on which the throw-away database is created and dropped.
    pub postgres_url: String,
    /// Times each phase runs; the medians are reported.
    pub runs: usize,
    /// The `quire` binary the phases run in.
    pub exe: PathBuf,
    /// Let the report path use PostgreSQL's COPY for CSV (off: rows are decoded and
    /// written by the CSV writer, to compare the two).
    pub copy_fast_path: bool,
}

/// Which baseline a run compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// PostgreSQL `COPY ... TO STDOUT WITH (FORMAT csv)`.
    Copy,
    /// The writer alone, from cells already in memory.
    Memory,
}

impl Baseline {
    /// How the baseline is described in the output.
    pub fn describe(self, format: Format) -> &'static str {
        match (self, format) {
            (Baseline::Copy, _) => {
                "PostgreSQL COPY (query) TO STDOUT WITH (FORMAT csv) into a file"
            }
            (Baseline::Memory, Format::Xlsx) => {
                "rust_xlsxwriter constant memory, same cells and formats from memory, zip level 3"
            }
            (Baseline::Memory, Format::Csv) => {
                "the CSV writer alone, same cells from memory (SQLite has no COPY)"
            }
        }
    }

    fn phase(self) -> Phase {
        match self {
            Baseline::Copy => Phase::Copy,
            Baseline::Memory => Phase::Memory,
        }
    }
}

/// What a run measured: every run of each phase, in order.
#[derive(Debug, Clone)]
pub struct ReportFigures {
    /// Generating the table (not compared with anything).
    pub generate: Duration,
    /// The baseline used.
    pub baseline: Baseline,
    /// The baseline's runs.
    pub baseline_runs: Vec<PhaseFigures>,
    /// Our runs through [`Reporter::render`].
    pub render_runs: Vec<PhaseFigures>,
}

impl ReportBench {
    /// Generates the table, runs the phases alternately, and drops the database (or
    /// the SQLite folder) whether the run succeeded or not.
    ///
    /// # Errors
    /// A database that cannot be created or filled, or a phase that failed.
    pub async fn run(&self) -> Result<ReportFigures, BenchError> {
        let scratch = tempfile::tempdir()?;
        let database = BenchDb::create(self.database, &self.postgres_url, scratch.path()).await?;
        let figures = self.measure(&database.url, scratch.path()).await;
        let dropped = database.drop().await;
        let figures = figures?;
        dropped?;
        Ok(figures)
    }

    async fn measure(&self, url: &str, scratch: &Path) -> Result<ReportFigures, BenchError> {
        let started = Instant::now();
        generate(url, self.rows).await?;
        let generate = started.elapsed();
        let baseline = match (self.database, self.format) {
            (BenchDatabase::Postgres, Format::Csv) => Baseline::Copy,
            _ => Baseline::Memory,
        };
        let mut figures = ReportFigures {
            generate,
            baseline,
            baseline_runs: Vec::new(),
            render_runs: Vec::new(),
        };
        let ours = if self.copy_fast_path {
            Phase::Render
        } else {
            Phase::RenderRows
        };
        for run in 0..self.runs {
            for phase in [baseline.phase(), ours] {
                let out = scratch.join(format!("run{run}-{phase:?}.{}", self.format));
                let measured = self.spawn_phase(phase, url, &out).await?;
                if measured.rows != self.rows {
                    return Err(BenchError::Invalid(format!(
                        "phase {phase:?} wrote {} rows instead of {}",
                        measured.rows, self.rows
                    )));
                }
                std::fs::remove_file(&out)?;
                if phase == ours {
                    figures.render_runs.push(measured);
                } else {
                    figures.baseline_runs.push(measured);
                }
            }
        }
        Ok(figures)
    }

    async fn spawn_phase(
        &self,
        phase: Phase,
        url: &str,
        out: &Path,
    ) -> Result<PhaseFigures, BenchError> {
        let phase_name = clap::ValueEnum::to_possible_value(&phase)
            .map(|value| value.get_name().to_owned())
            .unwrap_or_default();
        let output = tokio::process::Command::new(&self.exe)
            .args(["bench", "phase", "--phase", &phase_name, "--url", url])
            .args(["--format", self.format.extension(), "--out"])
            .arg(out)
            .env("QUIRE_LOG", "warn")
            .output()
            .await?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let parsed = stdout
            .lines()
            .last()
            .and_then(Summary::parse)
            .and_then(|summary| PhaseFigures::parse(&summary));
        match parsed {
            Some(figures) if output.status.success() => Ok(figures),
            _ => Err(BenchError::Invalid(format!(
                "phase {phase_name} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))),
        }
    }
}

/// Runs one phase in this process against the benchmark database at `url`, writing
/// `out`, and measures it.
///
/// # Errors
/// The database or the file failing, or `copy` on a database other than PostgreSQL.
pub async fn run_phase(
    phase: Phase,
    url: &str,
    format: Format,
    out: &Path,
) -> Result<PhaseFigures, BenchError> {
    let source = Db::connect_reports(url, 2).await?;
    let catalog = Catalog::from_texts([(format!("{REPORT}.toml"), DEFINITION.to_owned())])
        .map_err(|error| BenchError::Invalid(error.to_string()))?;
    let reporter = Reporter::new(Arc::new(catalog), source.clone(), Clock::System)
        .with_copy_fast_path(phase != Phase::RenderRows);
    let request = ReportRequest {
        report: REPORT.into(),
        tenant: TENANT.into(),
        format,
        params: reporter.resolve_params(REPORT, &serde_json::Map::new())?,
        options: OutputOptions::default(),
    };
    let mut copied = false;
    let (seconds, rows) = match phase {
        Phase::Render | Phase::RenderRows => {
            let started = Instant::now();
            let rendered = reporter
                .render(
                    &request,
                    out,
                    &CancellationToken::new(),
                    Arc::new(AtomicU64::new(0)),
                )
                .await?;
            copied = rendered.copied;
            (started.elapsed().as_secs_f64(), rendered.rows)
        }
        Phase::Copy => {
            let Db::Postgres(pool) = &source else {
                return Err(BenchError::Invalid(
                    "the COPY baseline needs PostgreSQL".into(),
                ));
            };
            let mut conn = pool.acquire().await?;
            let started = Instant::now();
            let file = tokio::fs::File::create(out).await?;
            let mut file = tokio::io::BufWriter::with_capacity(256 * 1024, file);
            let mut rows = 0;
            let mut chunks = conn.copy_out_raw(COPY_BASELINE).await?;
            while let Some(chunk) = chunks.try_next().await? {
                file.write_all(&chunk).await?;
                rows += 1;
            }
            file.flush().await?;
            (started.elapsed().as_secs_f64(), rows)
        }
        Phase::Memory => {
            let rows = reporter.collect_rows(&request).await?;
            let columns = reporter.report(REPORT)?.columns.clone();
            let out = out.to_owned();
            let (seconds, count) = tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                write_from_memory(format, &rows, &columns, &out)?;
                Ok::<_, BenchError>((started.elapsed().as_secs_f64(), rows.len() as u64))
            })
            .await
            .map_err(|error| BenchError::Invalid(error.to_string()))??;
            (seconds, count)
        }
    };
    source.close().await;
    Ok(PhaseFigures {
        seconds,
        rows,
        bytes: std::fs::metadata(out)?.len(),
        peak_rss_kib: peak_rss_kib().unwrap_or(0),
        copied,
    })
}

/// The memory baseline: `rows` written by the format's writer alone.
fn write_from_memory(
    format: Format,
    rows: &[Vec<Cell>],
    columns: &[Column],
    out: &Path,
) -> Result<(), BenchError> {
    let dir = out.parent().unwrap_or(Path::new("."));
    match format {
        Format::Csv => {
            let layout = Layout {
                title: REPORT,
                subject: REPORT,
                columns,
                created: chrono::Utc::now(),
                temp_dir: dir,
                options: OutputOptions::default(),
            };
            let mut writer = RowWriter::create(Format::Csv, File::create(out)?, &layout)?;
            for row in rows {
                writer.write_row(row)?;
            }
            writer.finish()?.sync_all()?;
        }
        Format::Xlsx => write_xlsx_from_memory(rows, columns, dir, out)
            .map_err(crate::writer::WriteError::from)?,
    }
    Ok(())
}

/// rust_xlsxwriter alone: constant memory, zip level 3, the cells typed and formatted
/// as the report's writer types and formats them.
fn write_xlsx_from_memory(
    rows: &[Vec<Cell>],
    columns: &[Column],
    dir: &Path,
    out: &Path,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut workbook = Workbook::new();
    workbook.set_tempdir(dir)?;
    workbook.set_zip_compression_level(3);
    let bold = XlsxFormat::new().set_bold();
    let quoted = XlsxFormat::new().set_quote_prefix();
    let date = XlsxFormat::new().set_num_format("yyyy-mm-dd");
    let datetime = XlsxFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let numbers: Vec<Option<XlsxFormat>> =
        columns.iter().map(crate::writer::number_format).collect();
    let sheet = workbook.add_worksheet_with_constant_memory()?;
    sheet.set_freeze_panes(1, 0)?;
    for (col, column) in columns.iter().enumerate() {
        sheet.write_string_with_format(0, col as ColNum, &column.header, &bold)?;
    }
    for (index, row) in rows.iter().enumerate() {
        let r = index as RowNum + 1;
        for (col, (cell, column)) in row.iter().zip(columns).enumerate() {
            let c = col as ColNum;
            let number = |sheet: &mut rust_xlsxwriter::Worksheet, value: f64| match &numbers[col] {
                Some(format) => sheet
                    .write_number_with_format(r, c, value, format)
                    .map(drop),
                None => sheet.write_number(r, c, value).map(drop),
            };
            match cell {
                Cell::Null => {}
                Cell::Text(text) if column.kind == ColumnType::Text && looks_like_formula(text) => {
                    sheet.write_string_with_format(r, c, text, &quoted)?;
                }
                Cell::Text(text) => {
                    sheet.write_string(r, c, text)?;
                }
                Cell::Integer(value) => number(sheet, *value as f64)?,
                Cell::Decimal(value) => {
                    use rust_decimal::prelude::ToPrimitive as _;
                    number(sheet, value.to_f64().unwrap_or(f64::NAN))?;
                }
                Cell::Date(value) => {
                    sheet.write_datetime_with_format(r, c, value, &date)?;
                }
                Cell::DateTime(value) => {
                    sheet.write_datetime_with_format(r, c, value.naive_utc(), &datetime)?;
                }
                Cell::Boolean(value) => {
                    sheet.write_boolean(r, c, *value)?;
                }
            }
        }
    }
    sheet.autofilter(0, 0, rows.len() as RowNum, (columns.len() - 1) as ColNum)?;
    let file = File::create(out)?;
    let mut file = BufWriter::new(file);
    workbook.save_to_writer(&mut file)?;
    file.into_inner()
        .map_err(|error| rust_xlsxwriter::XlsxError::IoError(error.into_error()))?;
    Ok(())
}

/// Creates the benchmark's tenant, tables and rows, in one transaction.
async fn generate(url: &str, rows: u64) -> Result<(), BenchError> {
    let db = Db::connect(url, 1).await?;
    db.migrate().await?;
    let clients = i64::try_from(CLIENTS.len()).unwrap_or(i64::MAX);
    let rows = i64::try_from(rows).unwrap_or(i64::MAX);
    match &db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            for sql in POSTGRES_TABLES {
                sqlx::query(sqlx::AssertSqlSafe(*sql))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO tenants (id, slug, name, currency, timezone) \
                 VALUES (1, $1, 'Bench', 'USD', 'UTC')",
            )
            .bind(TENANT)
            .execute(&mut *tx)
            .await?;
            for (k, name) in (0i64..).zip(CLIENTS) {
                sqlx::query("INSERT INTO bench_clients (k, name) VALUES ($1, $2)")
                    .bind(k)
                    .bind(*name)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(POSTGRES_ROWS)
                .bind(rows)
                .bind(clients)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            // Hint bits and statistics now, so the first measured read pays for neither.
            sqlx::query("VACUUM ANALYZE bench_invoices")
                .execute(pool)
                .await?;
        }
        Db::Sqlite(pool) => {
            let mut tx = pool.begin().await?;
            for sql in SQLITE_TABLES {
                sqlx::query(sqlx::AssertSqlSafe(*sql))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO tenants (id, slug, name, currency, timezone) \
                 VALUES (1, ?1, 'Bench', 'USD', 'UTC')",
            )
            .bind(TENANT)
            .execute(&mut *tx)
            .await?;
            for (k, name) in (0i64..).zip(CLIENTS) {
                sqlx::query("INSERT INTO bench_clients (k, name) VALUES (?1, ?2)")
                    .bind(k)
                    .bind(*name)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(SQLITE_ROWS)
                .bind(rows)
                .bind(clients)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            sqlx::query("ANALYZE").execute(pool).await?;
        }
    }
    db.close().await;
    Ok(())
}

/// The throw-away database of one run.
pub(super) struct BenchDb {
    pub(super) url: String,
    /// The server URL and database name to drop, on PostgreSQL.
    postgres: Option<(String, String)>,
}

impl BenchDb {
    /// A SQLite file in `scratch`, or a fresh database on the PostgreSQL server.
    pub(super) async fn create(
        database: BenchDatabase,
        postgres_url: &str,
        scratch: &Path,
    ) -> Result<BenchDb, BenchError> {
        match database {
            BenchDatabase::Sqlite => Ok(BenchDb {
                url: format!("sqlite://{}", scratch.join("bench.db").display()),
                postgres: None,
            }),
            BenchDatabase::Postgres => {
                let name = format!("quire_bench_{}", uuid::Uuid::now_v7().simple());
                admin(postgres_url, &format!("CREATE DATABASE {name}")).await?;
                Ok(BenchDb {
                    url: with_database(postgres_url, &name),
                    postgres: Some((postgres_url.to_owned(), name)),
                })
            }
        }
    }

    /// Drops the PostgreSQL database (the SQLite file goes with its folder).
    pub(super) async fn drop(self) -> Result<(), BenchError> {
        if let Some((server, name)) = self.postgres {
            admin(
                &server,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await?;
        }
        Ok(())
    }
}

/// Runs one statement on the server's own database (`CREATE`/`DROP DATABASE`).
async fn admin(url: &str, statement: &str) -> Result<(), BenchError> {
    let db = Db::connect(url, 1).await?;
    if let Db::Postgres(pool) = &db {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(pool)
            .await?;
    }
    db.close().await;
    Ok(())
}

/// `url` with its database name replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let authority = url.find("://").map_or(0, |i| i + 3);
    let path = url[authority..].find('/').map(|i| authority + i);
    let query = url.find('?');
    match (path, query) {
        (Some(path), Some(query)) if query > path => {
            format!("{}/{name}{}", &url[..path], &url[query..])
        }
        (Some(path), _) => format!("{}/{name}", &url[..path]),
        (None, Some(query)) => format!("{}/{name}{}", &url[..query], &url[query..]),
        (None, None) => format!("{url}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_parameters_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "b"),
            "postgres://u:p@h/b?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "b"),
            "postgres://h:5432/b"
        );
    }

    #[test]
    fn the_benchmark_definition_is_a_valid_report() {
        let catalog =
            Catalog::from_texts([("bench.toml".to_owned(), DEFINITION.to_owned())]).unwrap();
        assert_eq!(catalog.get(REPORT).unwrap().columns.len(), 9);
    }
}
