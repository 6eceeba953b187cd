//! `quire render` end to end: the real binary against fresh SQLite and PostgreSQL
//! databases, compared with golden files; and every kind of bad input.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{TestDb, files_in, render_report};
use quire::catalog::Catalog;
use quire::settings::ReportsSource;

const FIXTURE: &str = include_str!("fixtures/golden.sql");
const TODAY: &str = "2026-06-30";

fn manifest_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Runs `quire` with `args` against `database_url`, in `dir`.
fn quire(dir: &Path, database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quire"))
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("QUIRE_REPORTS_DIR", manifest_path("reports"))
        .env("QUIRE_LOG", "warn")
        .args(args)
        .output()
        .expect("run quire")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn fixture_db(db: TestDb) -> TestDb {
    db.load_fixture(FIXTURE).await;
    db
}

/// Renders `report` for acme as of the fixed date and returns the file's bytes.
fn render(db: &TestDb, report: &str, format: &str, extra: &[&str]) -> Vec<u8> {
    let out = db.dir().join(format!("{report}.{format}"));
    let out_arg = out.display().to_string();
    let mut args = vec![
        "render", report, "--tenant", "acme", "--format", format, "--today", TODAY, "--out",
        &out_arg,
    ];
    args.extend_from_slice(extra);
    let output = quire(db.dir(), &db.url, &args);
    assert!(
        output.status.success(),
        "render failed: {}",
        stderr(&output)
    );
    std::fs::read(&out).expect("the rendered file exists")
}

/// Compares `actual` with the golden file, or rewrites it when QUIRE_BLESS is set.
fn assert_golden(name: &str, actual: &[u8]) {
    let path = manifest_path("tests/golden").join(name);
    if std::env::var_os("QUIRE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read(&path).unwrap_or_else(|_| panic!("missing golden file {name}"));
    assert!(
        expected == actual,
        "{name} differs from its golden file:\n--- expected\n{}\n--- actual\n{}",
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual)
    );
}

/// The XML parts of an XLSX file, by name.
fn xlsx_parts(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip file");
    let mut parts = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        parts.push((entry.name().expect("UTF-8 part name").into_owned(), content));
    }
    parts.sort();
    parts
}

/// The shipped catalog's report names, and for each the arguments that widen its
/// period to the whole fixture.
fn catalog_reports() -> Vec<(String, Vec<&'static str>)> {
    let source = ReportsSource::Dir(manifest_path("reports"));
    let catalog = Catalog::load(&source).expect("the shipped catalog loads");
    catalog
        .reports()
        .map(|report| {
            let widen = if report.params.iter().any(|p| p.name == "period") {
                vec!["--param", "period=all"]
            } else {
                Vec::new()
            };
            (report.name.clone(), widen)
        })
        .collect()
}

#[tokio::test]
async fn every_catalog_report_matches_its_golden_csv_on_every_database() {
    let reports = catalog_reports();
    assert_eq!(reports.len(), 15, "the whole catalog");
    for db in TestDb::each().await {
        let db = fixture_db(db).await;
        for (report, widen) in &reports {
            let csv = render(&db, report, "csv", widen);
            assert_golden(&format!("{report}.csv"), &csv);
        }
        let mut with_bom_args = vec!["--param", "period=all", "--csv-bom"];
        let with_bom = render(&db, "invoices", "csv", &with_bom_args);
        with_bom_args.pop();
        assert_eq!(&with_bom[..3], b"\xEF\xBB\xBF");
        assert_eq!(
            &with_bom[3..],
            &render(&db, "invoices", "csv", &with_bom_args)[..]
        );
    }
}

#[tokio::test]
async fn every_catalog_report_matches_its_golden_xlsx_xml_on_every_database() {
    for db in TestDb::each().await {
        let db = fixture_db(db).await;
        for (report, widen) in catalog_reports() {
            let xlsx = render(&db, &report, "xlsx", &widen);
            for (name, content) in xlsx_parts(&xlsx) {
                assert_golden(&format!("{report}.xlsx.d/{name}"), &content);
            }
        }
    }
}

#[tokio::test]
async fn formula_like_text_is_neutralised_in_text_columns_only() {
    let db = fixture_db(TestDb::sqlite().await).await;
    let csv = String::from_utf8(render(&db, "clients", "csv", &[])).unwrap();
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    // C-001's name starts with `=`, C-003's phone with `-`: both are text columns.
    assert_eq!(
        &rows[0][1],
        "'=HYPERLINK(\"http://evil.example\",\"click\")"
    );
    assert_eq!(&rows[0][6], "'+1-555-0100");
    assert_eq!(&rows[2][6], "'-5");
    // Numbers are never prefixed, even negative ones.
    let invoices =
        String::from_utf8(render(&db, "invoices", "csv", &["--param", "period=all"])).unwrap();
    assert!(invoices.contains(",-25.00,"), "{invoices}");
    assert!(!invoices.contains("'-25.00"), "{invoices}");

    let products = String::from_utf8(render(&db, "products", "csv", &[])).unwrap();
    assert!(products.contains("'@SUM(A1:A2)"));
    assert!(products.contains("'＝1+1 full-width"));
    assert!(products.contains("'\ttab first"));
}

#[tokio::test]
async fn hostile_strings_round_trip_intact_through_xlsx() {
    let db = fixture_db(TestDb::postgres().await).await;
    let bytes = render(&db, "clients", "xlsx", &[]);
    let path = db.dir().join("read-back.xlsx");
    std::fs::write(&path, &bytes).unwrap();

    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
    let sheet = book.worksheet_range("Clients").unwrap();
    let names: Vec<String> = sheet.rows().skip(1).map(|r| r[1].to_string()).collect();
    assert_eq!(
        names,
        [
            "=HYPERLINK(\"http://evil.example\",\"click\")",
            "Müller & Söhne, \"GmbH\"\nZweigstelle",
            "株式会社 テスト",
        ]
    );
    // A formula-looking string is a string cell, never a formula.
    let formulas = book.worksheet_formula("Clients").unwrap();
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()));
    // Typed cells: money as numbers, dates as dates.
    let second_client = &sheet.rows().nth(2).unwrap();
    assert_eq!(calamine::DataType::as_f64(&second_client[10]), Some(14.0));
}

#[tokio::test]
async fn text_longer_than_excel_allows_is_cut_in_xlsx_and_kept_in_csv() {
    let db = fixture_db(TestDb::sqlite().await).await;
    let path = db.dir().join("long.xlsx");
    std::fs::write(&path, render(&db, "products", "xlsx", &[])).unwrap();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
    let sheet = book.worksheet_range("Products").unwrap();
    let description = sheet.get((2, 2)).unwrap().to_string();
    assert_eq!(description.chars().count(), 32_767);
    assert!(description.starts_with("Long description xxx"));

    let csv = String::from_utf8(render(&db, "products", "csv", &[])).unwrap();
    assert!(csv.contains(&format!("Long description {}", "x".repeat(40_000))));
}

#[tokio::test]
async fn another_tenants_rows_never_appear() {
    let db = fixture_db(TestDb::sqlite().await).await;
    let csv =
        String::from_utf8(render(&db, "invoices", "csv", &["--param", "period=all"])).unwrap();
    assert!(!csv.contains("INV-9000"));
}

/// Runs a render that must fail and checks the exit code, the message, and that no file
/// (not even a temporary one) was left in the output folder.
fn assert_rejected(db: &TestDb, args: &[&str], code: i32, message: &str) {
    let out_dir = db.dir().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("report.csv").display().to_string();
    let mut all = vec!["render"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", &out]);
    let output = quire(db.dir(), &db.url, &all);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {text}");
    assert!(
        text.contains(message),
        "{args:?}: expected {message:?} in {text:?}"
    );
    // One error line (a flag clap refuses is followed by its pointer to --help).
    let lines: Vec<&str> = text.lines().filter(|line| !line.is_empty()).collect();
    assert!(
        lines.len() == 1 || (lines.len() == 2 && lines[1].contains("--help")),
        "one clear line: {text}"
    );
    assert!(
        files_in(&out_dir).is_empty(),
        "left behind: {:?}",
        files_in(&out_dir)
    );
}

#[tokio::test]
async fn bad_input_is_a_clear_usage_error_and_leaves_no_file() {
    let db = fixture_db(TestDb::sqlite().await).await;
    assert_rejected(
        &db,
        &["nope", "--tenant", "acme"],
        2,
        "unknown report \"nope\"",
    );
    assert_rejected(
        &db,
        &["invoices", "--tenant", "initech"],
        2,
        "unknown tenant \"initech\"",
    );
    // A slug that could climb out of the output folder never reaches the file name.
    assert_rejected(
        &db,
        &["invoices", "--tenant", "../acme"],
        2,
        "tenant \"../acme\" must be 1 to 128 letters, digits, -, _ or . (not first)",
    );
    assert_rejected(
        &db,
        &["invoices", "--tenant", "acme", "--param", "status=lost"],
        2,
        "status must be one of draft, sent, partial, paid, void",
    );
    assert_rejected(
        &db,
        &["invoices", "--tenant", "acme", "--param", "colour=red"],
        2,
        "colour is not a parameter of this report",
    );
    assert_rejected(
        &db,
        &[
            "invoices",
            "--tenant",
            "acme",
            "--param",
            "period=fortnight",
        ],
        2,
        "period must be one of all, last7",
    );
    assert_rejected(
        &db,
        &[
            "invoices",
            "--tenant",
            "acme",
            "--param",
            "period=custom",
            "--param",
            "start_date=2026-05-01",
            "--param",
            "end_date=2026-04-01",
        ],
        2,
        "end_date is before start_date",
    );
    assert_rejected(
        &db,
        &[
            "invoices",
            "--tenant",
            "acme",
            "--param",
            "period=custom",
            "--param",
            "start_date=2026-02-30",
        ],
        2,
        "start_date must be a date written YYYY-MM-DD",
    );
    // clap words this one, with a hint line after the message.
    let output = quire(
        db.dir(),
        &db.url,
        &["render", "invoices", "--tenant", "acme", "--param", "oops"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("\"oops\" is not NAME=VALUE"));
}

#[tokio::test]
async fn a_malformed_definition_file_is_named_and_exits_2() {
    let db = fixture_db(TestDb::sqlite().await).await;
    let reports = db.dir().join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(
        reports.join("broken.toml"),
        "name = \"broken\"\ntitle = \"Broken\"\nsql = \"SELECT 1 AS n FROM tenants\"\ncolumns = [{ name = \"n\", type = \"integer\" }]\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_quire"))
        .current_dir(db.dir())
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .args(["render", "broken", "--tenant", "acme", "--out", "x.csv"])
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("broken.toml") && text.contains(":tenant"),
        "{text}"
    );
    assert!(!db.dir().join("x.csv").exists());
}

#[tokio::test]
async fn a_database_that_is_gone_is_a_runtime_error_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv").display().to_string();
    let output = quire(
        dir.path(),
        "postgres://postgres@127.0.0.1:1/nowhere",
        &["render", "invoices", "--tenant", "acme", "--out", &out],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("REPORTS_DATABASE_URL"), "{text}");
    assert_eq!(files_in(dir.path()), Vec::<PathBuf>::new());
    assert!(!dir.path().join("quire-data").exists());
}

/// Writes one more row than an Excel sheet holds and checks the continuation sheet.
/// Slow (a million rows through calamine), so run it with `--ignored`.
#[tokio::test]
#[ignore]
async fn more_rows_than_a_sheet_holds_continue_on_a_second_sheet() {
    let db = TestDb::sqlite().await;
    db.run_script(
        "INSERT INTO tenants (id, slug, name, currency, timezone) VALUES (1, 'acme', 'Acme', 'USD', 'UTC');\n\
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1048580) \
         INSERT INTO products (tenant_id, code, name, price, tax_rate_bp, created_at) \
         SELECT 1, printf('P%08d', i), 'Product ' || i, i, 0, '2026-01-01T00:00:00Z' FROM n;\n",
    )
    .await;
    let path = db.dir().join("big.xlsx");
    std::fs::write(
        &path,
        render(&db, "products", "xlsx", &["--param", "columns=code"]),
    )
    .unwrap();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
    assert_eq!(book.sheet_names(), ["Products", "Products (2)"]);
    let first = book.worksheet_range("Products").unwrap();
    assert_eq!(first.height(), 1_048_576);
    let second = book.worksheet_range("Products (2)").unwrap();
    let codes: Vec<String> = second.rows().map(|r| r[0].to_string()).collect();
    assert_eq!(
        codes,
        [
            "Code",
            "P01048576",
            "P01048577",
            "P01048578",
            "P01048579",
            "P01048580"
        ]
    );
}

#[tokio::test]
async fn the_custom_report_example_renders_on_every_database() {
    for db in TestDb::each().await {
        let db = fixture_db(db).await;
        let out = db.dir().join("overdue.csv").display().to_string();
        let output = Command::new(env!("CARGO_BIN_EXE_quire"))
            .current_dir(db.dir())
            .env_clear()
            .env("DATABASE_URL", &db.url)
            .env("QUIRE_REPORTS_DIR", manifest_path("examples/custom_report"))
            .args([
                "render",
                "overdue_clients",
                "--tenant",
                "acme",
                "--today",
                TODAY,
            ])
            .args(["--param", "min_days=30", "--out", &out])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        // Only INV-0002 (EUR, due 2026-02-24) is open and 30+ days overdue; INV-0005's
        // balance is negative, INV-0003 is not due yet.
        let csv = std::fs::read_to_string(&out).unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            header,
            [
                "Client",
                "Currency",
                "Overdue invoices",
                "Overdue amount",
                "Oldest due date"
            ]
        );
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(
            rows,
            [[
                "Müller & Söhne, \"GmbH\"\nZweigstelle",
                "EUR",
                "1",
                "1000.00",
                "2026-02-24"
            ]]
        );
    }
}

/// Values that test every decoder of the COPY fast path and every formatting corner of
/// the writers: formula-like text, quotes, commas, line breaks, empty text and NULL,
/// padded `char`, extreme integers, money below one unit, years before 1 and after 9999,
/// and fractions of a second of every length.
const HOSTILE: &str = r#"
CREATE TABLE hostile (id BIGINT PRIMARY KEY, tenant_id BIGINT NOT NULL, t TEXT, v VARCHAR(40), c CHAR(6), small SMALLINT, i INTEGER, big BIGINT, flag BOOLEAN, d DATE, ts TIMESTAMP, tstz TIMESTAMPTZ);
INSERT INTO hostile VALUES
 (1, 1, '=HYPERLINK("http://evil.example","x")', '+1 555', 'ab', -5, -2147483648, -9223372036854775808, true, '0001-01-01', '2026-01-01 00:00:00', '2026-01-01 00:00:00.25+00'),
 (2, 1, '-minus', '@at', '＝fw', 32767, 2147483647, 9223372036854775807, false, '9999-12-31', '2026-06-30 23:59:59.000001', '2026-06-30 12:34:56.123456-07'),
 (3, 1, E'\ttab', E'\rcarriage', NULL, 0, 0, 5, NULL, '0044-03-15 BC', '0001-01-01 00:00:00.5 BC', '2026-03-01 01:02:03.1+05:30'),
 (4, 1, '', 'Müller & Söhne, "GmbH"', '"q"', NULL, NULL, -1, true, '10000-01-01', '12345-06-07 08:09:10.01', '1999-12-31 23:59:59.999+00'),
 (5, 1, E'line one\nline two', '株式会社 テスト', ' x ', 1, 1, 100, false, NULL, NULL, NULL),
 (6, 1, 'plain', '', 'zzzzzz', -1, -1, 0, true, '2000-01-01', '2000-01-01 00:00:00', '2000-01-01 00:00:00+00'),
 (7, 2, 'other tenant', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"#;

const HOSTILE_REPORT: &str = r#"
name = "hostile"
title = "Hostile values"
columns = [
    { name = "t", type = "text" },
    { name = "v", type = "text" },
    { name = "c", type = "text" },
    { name = "small", type = "text" },
    { name = "i", type = "integer" },
    { name = "big", type = "money" },
    { name = "flag", type = "boolean" },
    { name = "d", type = "date" },
    { name = "ts", type = "datetime" },
    { name = "tstz", type = "datetime" },
    { name = "tstz_day", type = "date" },
    { name = "ts_day", type = "date" },
    { name = "basis_points", type = "percent" },
]
sql = """
SELECT t, v, c, small, i, big, flag, d, ts, tstz, tstz AS tstz_day, ts AS ts_day, small AS basis_points
FROM hostile WHERE tenant_id = :tenant ORDER BY id;
"""
"#;

/// Renders `report` for acme into `dir` and returns the file's bytes and whether the
/// COPY fast path produced it.
/// A report whose parameters need values is skipped (`None`).
async fn render_with(
    reporter: &quire::report::Reporter,
    report: &str,
    format: quire::writer::Format,
    dir: &Path,
) -> Option<(Vec<u8>, bool)> {
    let out = dir.join(format!("{report}.{format}"));
    let rendered = match render_report(
        reporter,
        report,
        "acme",
        &serde_json::Map::new(),
        format,
        &out,
    )
    .await
    {
        Ok(rendered) => rendered,
        Err(quire::report::ReportError::InvalidParams(_)) => return None,
        Err(e) => panic!("{report}: {e}"),
    };
    Some((std::fs::read(&out).unwrap(), rendered.copied))
}

#[tokio::test]
async fn the_copy_fast_path_writes_the_same_bytes_as_the_row_path_on_hostile_data() {
    use quire::catalog::Catalog;
    use quire::writer::Format;
    use std::sync::Arc;

    let db = fixture_db(TestDb::postgres().await).await;
    db.run_script(HOSTILE).await;
    let mut texts = vec![("hostile.toml".to_owned(), HOSTILE_REPORT.to_owned())];
    for entry in std::fs::read_dir(manifest_path("reports")).unwrap() {
        let path = entry.unwrap().path();
        texts.push((
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        ));
    }
    let catalog = Arc::new(Catalog::from_texts(texts).unwrap());
    let names: Vec<String> = catalog.reports().map(|r| r.name.clone()).collect();
    let clock = quire::clock::Clock::fixed_on(TODAY.parse().unwrap());
    let source = quire::db::Db::connect_reports(&db.url, 2).await.unwrap();
    let fast = quire::report::Reporter::new(Arc::clone(&catalog), source.clone(), clock);
    let rows = fast.clone().with_copy_fast_path(false);
    let (fast_dir, rows_dir) = (db.dir().join("fast"), db.dir().join("rows"));
    let mut copied = Vec::new();
    for name in &names {
        for format in [Format::Csv, Format::Xlsx] {
            let Some((ours, used_copy)) = render_with(&fast, name, format, &fast_dir).await else {
                continue;
            };
            let (theirs, _) = render_with(&rows, name, format, &rows_dir).await.unwrap();
            assert!(ours == theirs, "{name}.{format}: the two paths differ");
            if used_copy {
                copied.push(format!("{name}.{format}"));
            }
        }
    }
    assert!(copied.contains(&"hostile.csv".to_owned()), "{copied:?}");
    assert!(copied.contains(&"hostile.xlsx".to_owned()), "{copied:?}");
    assert!(copied.contains(&"invoices.csv".to_owned()), "{copied:?}");
    // The hostile values really went through: formula-like text is neutralised.
    let csv = String::from_utf8(
        render_with(&fast, "hostile", Format::Csv, &fast_dir)
            .await
            .unwrap()
            .0,
    )
    .unwrap();
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""),
        "{csv}"
    );
    assert!(csv.contains(",'-5,"), "{csv}");
    assert!(csv.contains("+10000-01-01"), "{csv}");
    source.close().await;
}

/// An application's own schema, as `quire render` meets it pointed at a real database:
/// an `integer` tenant id, and the column types the demo schema does not use.
const OWN_SCHEMA: &str = r#"
CREATE EXTENSION IF NOT EXISTS citext;
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('open', 'closed');
CREATE TABLE app.tenants (id INTEGER PRIMARY KEY, slug TEXT NOT NULL);
INSERT INTO app.tenants VALUES (7, 'acme'), (8, 'globex');
CREATE TABLE app.things (
    id SMALLINT PRIMARY KEY, tenant_id INTEGER NOT NULL, code CHAR(4), email CITEXT,
    ref UUID, state app.mood, small SMALLINT, whole INTEGER, amount NUMERIC(12, 2),
    ratio REAL, score DOUBLE PRECISION, day DATE, at TIMESTAMPTZ
);
INSERT INTO app.things VALUES
 (1, 7, 'AB', 'Ann@Example.com', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'open', -3, 2147483647, 1234.50, 0.1, 2.675, '2026-02-28', '2026-02-28 23:30:00+00'),
 (2, 7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, 8, 'ZZ', 'other@example.com', 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'closed', 1, 1, 1.00, 1, 1, '2026-01-01', '2026-01-01 00:00:00+00');
"#;

/// The text-like and integer columns: every one has a binary decoder, so the COPY fast
/// path takes the report.
const OWN_TEXTS: &str = r#"
name = "own_texts"
title = "Own texts"
columns = [
    { name = "code", type = "text" },
    { name = "email", type = "text" },
    { name = "ref", type = "text" },
    { name = "state", type = "text" },
    { name = "small", type = "integer" },
    { name = "whole", type = "text" },
    { name = "day", type = "date" },
    { name = "at", type = "datetime" },
]
sql = """
SELECT code, email, ref, state::text AS state, small, whole, day, at
FROM things WHERE tenant_id = :tenant ORDER BY id
"""
"#;

/// A uuid declared as an integer: refused, naming the column and its type.
const OWN_MISTYPED: &str = r#"
name = "own_mistyped"
title = "Own mistyped"
columns = [{ name = "ref", type = "integer" }]
sql = "SELECT ref FROM things WHERE tenant_id = :tenant ORDER BY id"
"#;

/// NUMERIC and floating point columns, which sqlx decodes on the row path.
const OWN_NUMBERS: &str = r#"
name = "own_numbers"
title = "Own numbers"
columns = [
    { name = "amount", type = "money" },
    { name = "ratio", type = "decimal" },
    { name = "score", type = "decimal" },
]
sql = "SELECT amount, ratio, score FROM things WHERE tenant_id = :tenant ORDER BY id"
"#;

#[tokio::test]
async fn an_application_schema_with_integer_ids_and_every_common_type_renders_on_both_paths() {
    use quire::writer::Format;
    use std::sync::Arc;

    let db = TestDb::postgres().await;
    db.run_script(OWN_SCHEMA).await;
    // Report queries name tables unqualified, as they would in the application's own
    // database: its schema comes first on the search path.
    let name = db.url().rsplit('/').next().unwrap().to_owned();
    db.run_script(&format!(
        "ALTER DATABASE {name} SET search_path = app, public"
    ))
    .await;
    let catalog = Arc::new(
        Catalog::from_texts([
            ("own_texts.toml".to_owned(), OWN_TEXTS.to_owned()),
            ("own_numbers.toml".to_owned(), OWN_NUMBERS.to_owned()),
            ("own_mistyped.toml".to_owned(), OWN_MISTYPED.to_owned()),
        ])
        .unwrap(),
    );
    let source = quire::db::Db::connect_reports(db.url(), 2).await.unwrap();
    let clock = quire::clock::Clock::fixed_on(TODAY.parse().unwrap());
    let fast = quire::report::Reporter::new(catalog, source.clone(), clock);
    let rows = fast.clone().with_copy_fast_path(false);
    assert_eq!(fast.tenant_id("own_texts", "acme").await.unwrap(), Some(7));

    let (texts, copied) = render_with(&fast, "own_texts", Format::Csv, &db.dir().join("fast"))
        .await
        .expect("own_texts renders");
    assert!(copied, "every column of own_texts has a COPY decoder");
    assert_eq!(
        String::from_utf8(texts.clone()).unwrap(),
        "code,email,ref,state,small,whole,day,at\r\n\
         AB  ,Ann@Example.com,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,open,-3,2147483647,2026-02-28,2026-02-28T23:30:00Z\r\n\
         ,,,,,,,\r\n"
    );
    let (numbers, copied) = render_with(&fast, "own_numbers", Format::Csv, &db.dir().join("fast"))
        .await
        .expect("own_numbers renders");
    assert!(!copied, "NUMERIC and floats take the row path");
    assert_eq!(
        String::from_utf8(numbers).unwrap(),
        "amount,ratio,score\r\n1234.50,0.1,2.675\r\n,,\r\n"
    );
    for format in [Format::Csv, Format::Xlsx] {
        let (ours, _) = render_with(&fast, "own_texts", format, &db.dir().join("a"))
            .await
            .unwrap();
        let (theirs, _) = render_with(&rows, "own_texts", format, &db.dir().join("b"))
            .await
            .unwrap();
        assert!(ours == theirs, "own_texts.{format}: the two paths differ");
    }
    let out = db.dir().join("mistyped.csv");
    let no_params = serde_json::Map::new();
    let refused = render_report(&fast, "own_mistyped", "acme", &no_params, Format::Csv, &out)
        .await
        .expect_err("a uuid is not an integer")
        .to_string();
    assert_eq!(
        refused, "column \"ref\" cannot be read as Integer: a UUID value",
        "one line naming the column and its SQL type"
    );
    assert!(!out.exists(), "nothing is published");
    source.close().await;
}

/// An 8 KiB tmpfs mounted for one test, unmounted when dropped. Mounting needs root,
/// which the tests run as, on this machine and in CI.
struct TinyDisk {
    dir: tempfile::TempDir,
}

impl TinyDisk {
    fn mount() -> TinyDisk {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8k", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(mounted.success(), "mounting a tmpfs needs root");
        TinyDisk { dir }
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A disk that fills up mid-file: the error says so in words, no panic report or
/// backtrace is printed (the XLSX library panics on its temporary files; quire turns
/// that into the error it is), and nothing is left on the disk.
#[tokio::test]
async fn a_full_disk_says_no_space_left_and_leaves_no_file() {
    let db = fixture_db(TestDb::sqlite().await).await;
    let disk = TinyDisk::mount();
    for format in ["csv", "xlsx"] {
        let out = disk.dir.path().join(format!("products.{format}"));
        let output = Command::new(env!("CARGO_BIN_EXE_quire"))
            .current_dir(db.dir())
            .env_clear()
            .env("DATABASE_URL", &db.url)
            .env("QUIRE_REPORTS_DIR", manifest_path("reports"))
            .env("QUIRE_LOG", "warn")
            .env("RUST_BACKTRACE", "1")
            .args(["render", "products", "--tenant", "acme", "--today", TODAY])
            .args(["--format", format, "--out"])
            .arg(&out)
            .output()
            .expect("run quire");
        let stderr = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{format}: {stderr}");
        assert!(
            stderr
                .to_lowercase()
                .contains("writing the file failed: no space left on device"),
            "{format}: {stderr}"
        );
        for crash in ["stack backtrace", "thread '"] {
            assert!(!stderr.contains(crash), "{format}: {stderr}");
        }
        assert_eq!(files_in(disk.dir.path()), Vec::<PathBuf>::new(), "{format}");
    }
}

/// `--out -` writes the file to stdout (the summary goes to stderr), byte for byte the
/// file `--out PATH` writes; a folder that does not exist is an error, not made.
#[tokio::test]
async fn out_dash_writes_to_stdout_and_a_missing_folder_is_an_error() {
    let db = fixture_db(TestDb::sqlite().await).await;
    let file = render(&db, "products", "csv", &[]);
    let args = ["render", "products", "--tenant", "acme", "--today", TODAY];
    let output = quire(db.dir(), &db.url, &[&args[..], &["--out", "-"]].concat());
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(output.stdout, file);
    assert!(stderr(&output).starts_with("- ("), "{}", stderr(&output));

    let missing = db.dir().join("no-such-folder").join("products.csv");
    let missing_arg = missing.display().to_string();
    let output = quire(
        db.dir(),
        &db.url,
        &[&args[..], &["--out", &missing_arg]].concat(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );
    assert!(!db.dir().join("no-such-folder").exists());
}

/// Rendering from a folder without quire's default database names the missing file
/// and creates nothing there.
#[test]
fn render_with_the_default_database_from_another_folder_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_quire"))
        .current_dir(dir.path())
        .env_clear()
        .env("QUIRE_LOG", "warn")
        .args(["render", "products", "--tenant", "acme"])
        .output()
        .expect("run quire");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("the SQLite database quire-data/quire.db does not exist"),
        "{}",
        stderr(&output)
    );
    assert_eq!(files_in(dir.path()), Vec::<PathBuf>::new());
    assert!(!dir.path().join("quire-data").exists());
}

/// `--csv-delimiter` and `--csv-decimal` write the same cells for European
/// spreadsheets: `;` between fields and `,` in decimal, money and percent cells only.
#[tokio::test]
async fn csv_delimiter_and_decimal_mark_change_only_the_separators() {
    let db = fixture_db(TestDb::sqlite().await).await;
    let parse = |bytes: &[u8], delimiter: u8| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .from_reader(bytes)
            .records()
            .map(|record| record.unwrap().iter().map(str::to_owned).collect())
            .collect()
    };
    let plain = parse(&render(&db, "products", "csv", &[]), b',');
    let european = render(
        &db,
        "products",
        "csv",
        &["--csv-delimiter", ";", "--csv-decimal", ","],
    );
    let european = parse(&european, b';');
    assert!(plain.len() > 1);
    assert_eq!(plain.len(), european.len());
    // Price, cost and tax rate are decimal kinds; the other columns are untouched.
    let decimal_columns = [3, 4, 6];
    let mut commas = 0;
    for (row, (plain, european)) in plain.iter().zip(&european).enumerate() {
        for (i, (a, b)) in plain.iter().zip(european).enumerate() {
            if row > 0 && decimal_columns.contains(&i) {
                assert_eq!(&a.replace('.', ","), b, "row {row} column {i}");
                commas += usize::from(b.contains(','));
            } else {
                assert_eq!(a, b, "row {row} column {i}");
            }
        }
    }
    assert!(commas > 0, "some decimal cell has a fraction");

    let tabbed = render(&db, "products", "csv", &["--csv-delimiter", "tab"]);
    assert_eq!(parse(&tabbed, b'\t'), plain);
    let output = quire(
        db.dir(),
        &db.url,
        &[
            "render",
            "products",
            "--tenant",
            "acme",
            "--csv-delimiter",
            "|",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("unknown CSV delimiter"),
        "{}",
        stderr(&output)
    );
}

/// XLSX files people open and print: numbers' headers aligned right like their column,
/// multi-line text wrapped in its cell, fit to the page's width with the header row on
/// every printed page, and landscape for a wide report.
#[tokio::test]
async fn xlsx_headers_align_text_wraps_and_the_sheet_prints_fit_to_width() {
    let db = fixture_db(TestDb::sqlite().await).await;
    let parts = xlsx_parts(&render(&db, "clients", "xlsx", &[]));
    let part = |name: &str| {
        let (_, bytes) = parts.iter().find(|(n, _)| n == name).unwrap();
        String::from_utf8(bytes.clone()).unwrap()
    };
    let sheet = part("xl/worksheets/sheet1.xml");
    let styles = part("xl/styles.xml");
    assert!(sheet.contains(r#"<pageSetUpPr fitToPage="1"/>"#), "{sheet}");
    assert!(
        sheet.contains(r#"orientation="landscape""#),
        "14 columns print landscape"
    );
    assert!(
        part("xl/workbook.xml").contains("_xlnm.Print_Titles"),
        "the header repeats"
    );
    assert!(
        styles.contains(r#"<alignment horizontal="right"/>"#),
        "{styles}"
    );
    assert!(styles.contains(r#"wrapText="1""#), "{styles}");

    // Six columns fit a portrait page.
    let narrow = xlsx_parts(&render(&db, "client_balance", "xlsx", &[]));
    let (_, sheet) = narrow
        .iter()
        .find(|(n, _)| n == "xl/worksheets/sheet1.xml")
        .unwrap();
    let sheet = String::from_utf8_lossy(sheet);
    assert!(
        sheet.contains("fitToPage") && !sheet.contains("landscape"),
        "{sheet}"
    );
}

/// A report whose rows carry a currency: USD, EUR, NULL (INV-0003) and a code that is
/// not one (INV-0004).
const PRICED_REPORT: &str = r#"
name = "priced"
title = "Priced"
currency_column = "currency"
columns = [
    { name = "number", type = "text" },
    { name = "currency", type = "text" },
    { name = "net", type = "money" },
]
sql = """
SELECT number,
       CASE number WHEN 'INV-0003' THEN NULL WHEN 'INV-0004' THEN 'dollars' ELSE currency END AS currency,
       net_amount AS net
FROM invoices WHERE tenant_id = :tenant ORDER BY number
"""
"#;

/// The number format code of each cell of `column` (a letter) below the header of the
/// first sheet among a workbook's `parts`: the cell's style, looked up in styles.xml.
fn number_formats(parts: &[(String, Vec<u8>)], column: char) -> Vec<String> {
    let part = |name: &str| {
        let (_, bytes) = parts.iter().find(|(n, _)| n == name).unwrap();
        String::from_utf8(bytes.clone()).unwrap()
    };
    // The value of attribute `name` in `element`, the text after an element's name.
    let attribute = |element: &str, name: &str| -> Option<String> {
        let tag = format!(" {}", &element[..element.find('>').unwrap()]);
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = start + tag[start..].find('"')?;
        Some(tag[start..end].replace("&quot;", "\""))
    };
    let styles = part("xl/styles.xml");
    let codes: std::collections::HashMap<String, String> = styles
        .split("<numFmt ")
        .skip(1)
        .map(|e| {
            (
                attribute(e, "numFmtId").unwrap(),
                attribute(e, "formatCode").unwrap(),
            )
        })
        .collect();
    let cell_xfs = &styles[styles.find("<cellXfs").unwrap()..styles.find("</cellXfs>").unwrap()];
    let xf_formats: Vec<String> = cell_xfs
        .split("<xf ")
        .skip(1)
        .map(|e| attribute(e, "numFmtId").unwrap())
        .collect();
    part("xl/worksheets/sheet1.xml")
        .split("<c ")
        .skip(1)
        .filter(|e| {
            let at = attribute(e, "r").unwrap();
            at.starts_with(column) && at[1..] != *"1"
        })
        .map(|e| {
            let xf: usize = attribute(e, "s").map_or(0, |s| s.parse().unwrap());
            let id = &xf_formats[xf];
            codes.get(id).cloned().unwrap_or(format!("built-in {id}"))
        })
        .collect()
}

/// Money in XLSX shows its row's currency, from one format per currency; a row without
/// a known currency keeps the plain money format; the amounts stay numbers; and a
/// request that leaves the currency column out still gets them.
#[tokio::test]
async fn xlsx_money_shows_its_rows_currency_and_stays_a_number() {
    use quire::writer::Format;
    use std::sync::Arc;

    let db = fixture_db(TestDb::sqlite().await).await;
    let catalog = Catalog::from_texts([("priced.toml".to_owned(), PRICED_REPORT.to_owned())]);
    let clock = quire::clock::Clock::fixed_on(TODAY.parse().unwrap());
    let source = quire::db::Db::connect_reports(&db.url, 2).await.unwrap();
    let reporter = quire::report::Reporter::new(Arc::new(catalog.unwrap()), source.clone(), clock);
    let all = serde_json::Map::new();
    let serde_json::Value::Object(without_currency) =
        serde_json::json!({ "columns": ["number", "net"] })
    else {
        unreachable!()
    };
    for (input, net, net_column) in [(&all, 'C', 2), (&without_currency, 'B', 1)] {
        let out = db.dir().join("priced.xlsx");
        render_report(&reporter, "priced", "acme", input, Format::Xlsx, &out)
            .await
            .unwrap();
        let bytes = std::fs::read(&out).unwrap();
        let parts = xlsx_parts(&bytes);
        assert_eq!(
            number_formats(&parts, net),
            [
                "#,##0.00 \"USD\"",
                "#,##0.00 \"EUR\"",
                "#,##0.00",
                "#,##0.00",
                "#,##0.00 \"USD\"",
            ]
        );
        let (_, styles) = parts.iter().find(|(n, _)| n == "xl/styles.xml").unwrap();
        let styles = String::from_utf8_lossy(styles);
        assert_eq!(styles.matches("&quot;USD&quot;").count(), 1, "{styles}");

        use calamine::{Data, Reader};
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("Priced").unwrap();
        let amounts: Vec<&Data> = sheet.rows().skip(1).map(|r| &r[net_column]).collect();
        assert_eq!(
            amounts,
            [
                &Data::Float(100.0),
                &Data::Float(1234.56),
                &Data::Float(0.05),
                &Data::Float(1.0),
                &Data::Float(-25.0),
            ]
        );
        assert_eq!(
            sheet.width(),
            net_column + 1,
            "no column shows the hidden code"
        );
    }
    source.close().await;
}
