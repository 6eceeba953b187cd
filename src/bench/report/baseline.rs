//! The baselines a report run is measured against: PostgreSQL's own COPY to a file, the
//! `mariadb` client's batch dump to a file, and the writer alone on cells already in
//! memory.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use futures::TryStreamExt as _;
use rust_xlsxwriter::{ColNum, RowNum};
use tokio::io::AsyncWriteExt as _;
use tokio::time::Instant;

use super::Phase;
use super::fixture::REPORT;
use crate::bench::BenchError;
use crate::catalog::Column;
use crate::db::Db;
use crate::storage::Output;
use crate::writer::{Cell, CellFormats, Format, Layout, OutputOptions, RowWriter, new_workbook};

/// The report's query as the baseline runs it: the same columns, rows and order.
const COPY_BASELINE: &str = "COPY (SELECT number, client, status, issue_date, due_date, \
     currency, lines, total, created_at FROM bench_invoices WHERE tenant_id = 1 ORDER BY id) \
     TO STDOUT WITH (FORMAT csv)";

/// The report's query as the `mariadb` client runs it.
const MYSQL_BASELINE: &str = "SELECT number, client, status, issue_date, due_date, currency, \
     `lines`, total, created_at FROM bench_invoices WHERE tenant_id = 1 ORDER BY id";

/// Which baseline a run compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// PostgreSQL `COPY ... TO STDOUT WITH (FORMAT csv)`.
    Copy,
    /// `mariadb --quick --batch` with its output sent to a file.
    MysqlClient,
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
            (Baseline::MysqlClient, _) => {
                "the mariadb client, --quick --batch (rows streamed, tab-separated) into a file"
            }
            (Baseline::Memory, Format::Xlsx) => {
                "rust_xlsxwriter constant memory, same cells, formats and zip level, from memory"
            }
            (Baseline::Memory, Format::Csv) => {
                "the CSV writer alone, same cells from memory (SQLite has no COPY)"
            }
        }
    }

    pub(super) fn phase(self) -> Phase {
        match self {
            Baseline::Copy => Phase::Copy,
            Baseline::MysqlClient => Phase::MysqlClient,
            Baseline::Memory => Phase::Memory,
        }
    }
}

/// The COPY baseline: the report's query through `COPY ... TO STDOUT WITH (FORMAT csv)`
/// into `out`; its wall time in seconds and the rows written.
pub(super) async fn copy_to_file(source: &Db, out: &Path) -> Result<(f64, u64), BenchError> {
    let Db::Postgres(pool) = source else {
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
    Ok((started.elapsed().as_secs_f64(), rows))
}

/// The client baseline: the report's query through `mariadb --quick --batch` (rows
/// streamed from the server, not buffered) into `out`; its wall time in seconds and the
/// rows written (batch mode escapes newlines inside values, so a row is a line).
pub(super) async fn mysql_client_to_file(url: &str, out: &Path) -> Result<(f64, u64), BenchError> {
    let url = reqwest::Url::parse(url).map_err(|error| BenchError::Invalid(error.to_string()))?;
    let mut client = tokio::process::Command::new("mariadb");
    client
        .args(["--quick", "--batch", "--skip-column-names"])
        .arg("--default-character-set=utf8mb4")
        .arg(format!("--host={}", url.host_str().unwrap_or("127.0.0.1")))
        .arg(format!("--port={}", url.port().unwrap_or(3306)))
        .arg(format!("--user={}", url.username()))
        .arg(format!("--database={}", url.path().trim_start_matches('/')))
        .args(["--execute", MYSQL_BASELINE])
        .stdout(File::create(out)?);
    if let Some(password) = url.password() {
        client.env("MYSQL_PWD", password);
    }
    let started = Instant::now();
    let status = client.status().await?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(BenchError::Invalid(format!(
            "the mariadb client failed ({status})"
        )));
    }
    let rows = tokio::task::spawn_blocking({
        let out = out.to_owned();
        move || -> std::io::Result<u64> {
            use std::io::BufRead as _;
            let lines = std::io::BufReader::new(File::open(out)?).lines();
            Ok(lines.count() as u64)
        }
    })
    .await
    .map_err(|error| BenchError::Invalid(error.to_string()))??;
    Ok((seconds, rows))
}

/// The memory baseline: `rows` written by the format's writer alone; each row holds
/// its currency code at `currency` (see [`Layout::currency`]).
pub(super) fn write_from_memory(
    format: Format,
    rows: &[Vec<Cell>],
    columns: &[Column],
    currency: Option<usize>,
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
                currency,
            };
            let file = File::create(out)?;
            let synced = file.try_clone()?;
            let mut writer = RowWriter::create(Format::Csv, Output::File(file), &layout)?;
            for row in rows {
                writer.write_row(row)?;
            }
            writer.finish()?;
            synced.sync_all()?;
        }
        Format::Xlsx => write_xlsx_from_memory(rows, columns, currency, dir, out)
            .map_err(crate::writer::WriteError::from)?,
    }
    Ok(())
}

/// rust_xlsxwriter alone, with the report writer's workbook settings and cell formats:
/// constant memory, the same zip level, the cells typed and formatted alike, but no
/// widths measured and no document properties.
fn write_xlsx_from_memory(
    rows: &[Vec<Cell>],
    columns: &[Column],
    currency: Option<usize>,
    dir: &Path,
    out: &Path,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut workbook = new_workbook(dir)?;
    let mut formats = CellFormats::new(columns, currency);
    let sheet = workbook.add_worksheet_with_constant_memory()?;
    formats.write_header(sheet, columns)?;
    for (index, row) in rows.iter().enumerate() {
        formats.write_row(sheet, index as RowNum + 1, row, columns)?;
    }
    sheet.autofilter(0, 0, rows.len() as RowNum, (columns.len() - 1) as ColNum)?;
    let file = File::create(out)?;
    let mut file = BufWriter::new(file);
    workbook.save_to_writer(&mut file)?;
    file.into_inner()
        .map_err(|error| rust_xlsxwriter::XlsxError::IoError(error.into_error()))?;
    Ok(())
}
