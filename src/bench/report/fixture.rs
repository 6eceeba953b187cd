//! The benchmark's data: a report definition over a generated table of invoice-like
//! rows, in a throw-away database (a fresh PostgreSQL database, or a SQLite file).

use std::path::Path;

use super::BenchDatabase;
use crate::bench::BenchError;
use crate::db::{Db, Dialect};
use crate::settings::{Settings, StorageSettings};

/// The benchmark's report: nine invoice-like columns of every kind a report has.
pub(super) const DEFINITION: &str = r#"
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
# LINES is a reserved word in MySQL.
sql_mysql = """
SELECT number, client, status, issue_date, due_date, currency, `lines`, total, created_at
FROM bench_invoices WHERE tenant_id = :tenant ORDER BY id
"""
"#;

pub(super) const TENANT: &str = "bench";
pub(super) const REPORT: &str = "bench_invoices";

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

/// The MariaDB tables (binary collation, so text sorts by bytes as on SQLite), then the
/// statement that generates the rows (`?` rows, `?` client names).
const MYSQL_TABLES: &[&str] = &[
    // MariaDB stops a recursive CTE after 1,000 rows unless told otherwise.
    "SET SESSION max_recursive_iterations = 4294967295",
    "CREATE TABLE bench_clients (k INT PRIMARY KEY, name VARCHAR(255) NOT NULL) \
     DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
    "CREATE TABLE bench_invoices (id BIGINT PRIMARY KEY, tenant_id BIGINT NOT NULL, \
     number VARCHAR(32) NOT NULL, client VARCHAR(255), status VARCHAR(16) NOT NULL, \
     issue_date DATE NOT NULL, due_date DATE NOT NULL, currency CHAR(3) NOT NULL, \
     `lines` INT NOT NULL, total BIGINT NOT NULL, created_at DATETIME(6) NOT NULL) \
     DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
];
const MYSQL_ROWS: &str = "INSERT INTO bench_invoices \
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
     SELECT i, 1, CONCAT('INV-', LPAD(i, 8, '0')), \
       CASE WHEN i % 101 = 0 THEN NULL ELSE CONCAT(c.name, ' #', i % 997) END, \
       ELT(1 + i % 5, 'draft', 'sent', 'partial', 'paid', 'void'), \
       DATE '2020-01-01' + INTERVAL i % 2000 DAY, DATE '2020-01-31' + INTERVAL i % 2000 DAY, \
       ELT(1 + i % 4, 'USD', 'EUR', 'GBP', 'JPY'), 1 + i % 17, \
       (i * 7919) % 10000000 - 50000, \
       TIMESTAMP '2020-01-01 00:00:00' \
         + INTERVAL (i * 37000000 + (i % 4) * 250000 + (i % 3)) MICROSECOND \
     FROM n JOIN bench_clients c ON c.k = i % ?";

/// Creates the benchmark's tenant, tables and rows, in one transaction.
pub(super) async fn generate(url: &str, rows: u64) -> Result<(), BenchError> {
    let db = Db::connect(url, 1).await?;
    crate::seed::install_schema(&db).await?;
    let clients = i64::try_from(CLIENTS.len()).unwrap_or(i64::MAX);
    let rows = i64::try_from(rows).unwrap_or(i64::MAX);
    let (tables, generate_rows, analyze) = match db.dialect() {
        Dialect::Postgres => (
            POSTGRES_TABLES,
            POSTGRES_ROWS,
            "VACUUM ANALYZE bench_invoices",
        ),
        Dialect::Sqlite => (SQLITE_TABLES, SQLITE_ROWS, "ANALYZE"),
        Dialect::Mysql => (MYSQL_TABLES, MYSQL_ROWS, "ANALYZE TABLE bench_invoices"),
    };
    // `?` placeholders, bound in order, which SQLite and MySQL read as positional and
    // PostgreSQL does not take: its statements use `$n`.
    let (tenant_insert, client_insert) = match db.dialect() {
        Dialect::Postgres => ("$1", "($1, $2)"),
        Dialect::Sqlite | Dialect::Mysql => ("?", "(?, ?)"),
    };
    let tenant_insert = format!(
        "INSERT INTO tenants (id, slug, name, currency, timezone) \
         VALUES (1, {tenant_insert}, 'Bench', 'USD', 'UTC')"
    );
    let client_insert = format!("INSERT INTO bench_clients (k, name) VALUES {client_insert}");
    crate::on_any_pool!(&db, pool => {
        let mut tx = pool.begin().await?;
        for sql in tables {
            sqlx::query(sqlx::AssertSqlSafe(*sql)).execute(&mut *tx).await?;
        }
        sqlx::query(sqlx::AssertSqlSafe(tenant_insert.as_str()))
        .bind(TENANT)
        .execute(&mut *tx)
        .await?;
        for (k, name) in (0i64..).zip(CLIENTS) {
            sqlx::query(sqlx::AssertSqlSafe(client_insert.as_str()))
                .bind(k)
                .bind(*name)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(generate_rows)
            .bind(rows)
            .bind(clients)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // Hint bits and statistics now, so the first measured read pays for neither.
        sqlx::query(analyze).execute(pool).await?;
    });
    db.close().await;
    Ok(())
}

/// The throw-away database of one run.
pub(in crate::bench) struct BenchDb {
    pub(in crate::bench) url: String,
    /// The server URL, database name and dialect to drop, on PostgreSQL or MySQL.
    server: Option<(String, String, Dialect)>,
}

impl BenchDb {
    /// A SQLite file in `scratch`, or a fresh database on the PostgreSQL or MySQL
    /// server at `server_url`.
    pub(in crate::bench) async fn create(
        database: BenchDatabase,
        server_url: &str,
        scratch: &Path,
    ) -> Result<BenchDb, BenchError> {
        let dialect = match database {
            BenchDatabase::Sqlite => {
                return Ok(BenchDb {
                    url: format!("sqlite://{}", scratch.join("bench.db").display()),
                    server: None,
                });
            }
            BenchDatabase::Postgres => Dialect::Postgres,
            BenchDatabase::Mysql => Dialect::Mysql,
        };
        let name = format!("quire_bench_{}", uuid::Uuid::now_v7().simple());
        admin(server_url, &format!("CREATE DATABASE {name}")).await?;
        Ok(BenchDb {
            url: with_database(server_url, &name),
            server: Some((server_url.to_owned(), name, dialect)),
        })
    }

    /// Runs `measure` on `settings` pointed at a throw-away `database` (a SQLite file
    /// in `scratch`, or a fresh one on `server_url`) holding both quire's state and the
    /// report data, with a storage folder in `scratch`; the database is dropped
    /// afterwards, whether `measure` succeeded or not.
    pub(in crate::bench) async fn around<T, Fut>(
        database: BenchDatabase,
        server_url: &str,
        scratch: &Path,
        settings: &Settings,
        measure: impl FnOnce(Settings) -> Fut,
    ) -> Result<T, BenchError>
    where
        Fut: Future<Output = Result<T, BenchError>>,
    {
        let db = BenchDb::create(database, server_url, scratch).await?;
        let settings = Settings {
            database_url: db.url.clone(),
            reports_database_url: db.url.clone(),
            storage: StorageSettings {
                dir: scratch.join("files"),
                s3: None,
            },
            ..settings.clone()
        };
        let measured = measure(settings).await;
        let dropped = db.drop().await;
        let figures = measured?;
        dropped?;
        Ok(figures)
    }

    /// Drops the server's database (the SQLite file goes with its folder).
    pub(in crate::bench) async fn drop(self) -> Result<(), BenchError> {
        if let Some((server, name, dialect)) = self.server {
            // PostgreSQL's FORCE ends connections still open to it.
            let force = if dialect == Dialect::Postgres {
                " WITH (FORCE)"
            } else {
                ""
            };
            admin(&server, &format!("DROP DATABASE IF EXISTS {name}{force}")).await?;
        }
        Ok(())
    }
}

/// Runs one statement on the server's own database (`CREATE`/`DROP DATABASE`).
async fn admin(url: &str, statement: &str) -> Result<(), BenchError> {
    let db = Db::connect(url, 1).await?;
    crate::on_any_pool!(&db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(pool)
            .await?;
    });
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
    use crate::catalog::Catalog;

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
