//! An application's own MariaDB schema, as quire meets it pointed at a real invoicing
//! database: an unsigned tenant id, every column type such schemas use, and what legacy
//! tables hold (zero dates, bytes that are not UTF-8, unsigned values past i64).

mod common;

use std::sync::Arc;

use common::{Backend, TestDb, render_report};
use quire::catalog::Catalog;
use quire::report::Reporter;
use quire::writer::Format;

const OWN_SCHEMA: &str = r#"
CREATE TABLE tenants (id INT UNSIGNED PRIMARY KEY, slug VARCHAR(32) NOT NULL);
INSERT INTO tenants VALUES (7, 'acme'), (8, 'globex');
CREATE TABLE things (
    id SMALLINT PRIMARY KEY, tenant_id INT UNSIGNED NOT NULL,
    tiny TINYINT, tiny_u TINYINT UNSIGNED, small SMALLINT, medium MEDIUMINT, whole INT,
    big BIGINT, big_u BIGINT UNSIGNED, flag BOOLEAN, code CHAR(4), name VARCHAR(40),
    note TEXT, state ENUM('open', 'closed'), amount DECIMAL(12, 2), ratio FLOAT,
    score DOUBLE, day DATE, at DATETIME, stamp TIMESTAMP NULL, ref CHAR(36),
    legacy VARBINARY(16), dur TIME
) DEFAULT CHARSET = utf8mb4;
INSERT INTO things VALUES
 (1, 7, -128, 255, -3, 8388607, 2147483647, -9223372036854775808, 9223372036854775807,
  TRUE, 'AB', 'Ann "A" Müller', 'line one
line two', 'open', 1234.50, 0.1, 2.675, '2026-02-28', '2026-02-28 23:30:00',
  '2026-02-28 23:30:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'ok', '01:02:03'),
 (2, 7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 8, 1, 1, 1, 1, 1, 1, 18446744073709551615, FALSE, 'ZZ', 'other', '', 'closed',
  1.00, 1, 1, '2026-01-01', '2026-01-01 00:00:00', NULL, '', X'C328', '00:00:00');
SET STATEMENT sql_mode = '' FOR
INSERT INTO things (id, tenant_id, day, at) VALUES (3, 7, '0000-00-00', '0000-00-00 00:00:00');
"#;

const OWN_EVERYTHING: &str = r#"
name = "own_everything"
title = "Own everything"
columns = [
    { name = "tiny", type = "integer" },
    { name = "tiny_u", type = "integer" },
    { name = "small", type = "integer" },
    { name = "medium", type = "integer" },
    { name = "whole", type = "text" },
    { name = "big", type = "integer" },
    { name = "big_u", type = "integer" },
    { name = "flag", type = "boolean" },
    { name = "code", type = "text" },
    { name = "name", type = "text" },
    { name = "note", type = "text" },
    { name = "state", type = "text" },
    { name = "amount", type = "money" },
    { name = "ratio", type = "decimal" },
    { name = "score", type = "decimal" },
    { name = "day", type = "date" },
    { name = "at", type = "datetime" },
    { name = "stamp", type = "datetime" },
    { name = "ref", type = "text" },
]
sql = """
SELECT tiny, tiny_u, small, medium, whole, big, big_u, flag, code, name, note, state,
       amount, ratio, score, day, at, stamp, ref
FROM things WHERE tenant_id = :tenant ORDER BY id
"""
"#;

/// A definition of the report `report`: the column `column` of `things`, declared as `kind`.
fn single(report: &str, column: &str, kind: &str) -> (String, String) {
    (
        format!("{report}.toml"),
        format!(
            "name = \"{report}\"\ntitle = \"{report}\"\n\
             columns = [{{ name = \"{column}\", type = \"{kind}\" }}]\n\
             sql = \"SELECT {column} FROM things WHERE tenant_id = :tenant ORDER BY id\"\n"
        ),
    )
}

async fn reporter(db: &TestDb) -> Reporter {
    let catalog = Arc::new(
        Catalog::from_texts([
            ("own_everything.toml".to_owned(), OWN_EVERYTHING.to_owned()),
            single("own_bytes", "legacy", "text"),
            single("own_time", "dur", "text"),
        ])
        .unwrap(),
    );
    let source = quire::db::Db::connect_reports(db.url(), 2).await.unwrap();
    let clock = quire::clock::Clock::fixed_on("2026-06-30".parse().unwrap());
    Reporter::new(catalog, source, clock)
}

async fn render(
    reporter: &Reporter,
    report: &str,
    tenant: &str,
    format: Format,
    out: &std::path::Path,
) -> Result<String, String> {
    let no_params = serde_json::Map::new();
    render_report(reporter, report, tenant, &no_params, format, out)
        .await
        .map(|_| std::fs::read_to_string(out).unwrap_or_default())
        .map_err(|error| error.to_string())
}

#[tokio::test]
async fn every_common_mysql_type_decodes_into_its_declared_column() {
    let db = TestDb::empty(Backend::Mysql).await;
    db.run_script(OWN_SCHEMA).await;
    let reporter = reporter(&db).await;
    assert_eq!(
        reporter.tenant_id("own_everything", "acme").await.unwrap(),
        Some(7)
    );

    let out = db.dir().join("everything.csv");
    let csv = render(&reporter, "own_everything", "acme", Format::Csv, &out)
        .await
        .expect("every type renders");
    assert_eq!(
        csv,
        "tiny,tiny_u,small,medium,whole,big,big_u,flag,code,name,note,state,amount,ratio,\
         score,day,at,stamp,ref\r\n\
         -128,255,-3,8388607,2147483647,-9223372036854775808,9223372036854775807,true,AB,\
         \"Ann \"\"A\"\" Müller\",\"line one\nline two\",open,1234.50,0.1,2.675,2026-02-28,\
         2026-02-28T23:30:00Z,2026-02-28T23:30:00Z,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\r\n\
         ,,,,,,,,,,,,,,,,,,\r\n\
         ,,,,,,,,,,,,,,,,,,\r\n",
        "row 3's zero dates read as NULL, as every other NULL"
    );
    let xlsx = db.dir().join("everything.xlsx");
    render(&reporter, "own_everything", "acme", Format::Xlsx, &xlsx)
        .await
        .expect("every type renders as XLSX too");
    assert!(xlsx.exists());
}

#[tokio::test]
async fn legacy_values_that_fit_no_column_fail_the_run_naming_the_column_once() {
    let db = TestDb::empty(Backend::Mysql).await;
    db.run_script(OWN_SCHEMA).await;
    let reporter = reporter(&db).await;
    let cases = [
        (
            "own_everything",
            "globex",
            "column \"big_u\" cannot be read as Integer: \
             18446744073709551615, beyond a signed 64-bit integer",
        ),
        (
            "own_bytes",
            "globex",
            "column \"legacy\" cannot be read as Text: text that is not valid UTF-8",
        ),
        (
            "own_time",
            "acme",
            "column \"dur\" cannot be read as Text: a TIME value",
        ),
    ];
    for (report, tenant, message) in cases {
        let out = db.dir().join(format!("{report}.csv"));
        let refused = render(&reporter, report, tenant, Format::Csv, &out)
            .await
            .expect_err(report);
        assert_eq!(refused, message, "one line, naming the column");
        assert!(!out.exists(), "{report}: nothing is published");
    }
}
