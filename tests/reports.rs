//! Every shipped report against seeded data on SQLite and PostgreSQL, compared with
//! figures this test computes itself from the raw tables (in Rust, not in SQL).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use common::{TestDb, render_report};
use quire::catalog::Catalog;
use quire::clock::Clock;
use quire::db::Db;
use quire::report::Reporter;
use quire::seed::{DEFAULT_ANCHOR, SeedOptions};
use quire::writer::Format;
use rust_decimal::Decimal;

const TENANT: &str = "acme";

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

fn int(value: &Option<String>) -> i64 {
    value.as_deref().map_or(0, |v| v.parse().unwrap())
}

fn date(value: &Option<String>) -> NaiveDate {
    value.as_deref().unwrap()[..10].parse().unwrap()
}

/// Cents as the CSV writes money.
fn money(cents: i64) -> String {
    Decimal::new(cents, 2).to_string()
}

/// A text cell as the CSV writes it: formula-like text gets a leading `'`.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

struct Fixture {
    db: TestDb,
    reporter: Reporter,
    tenant_id: i64,
}

async fn fixture(db: TestDb) -> Fixture {
    let options = SeedOptions {
        tenants: 2,
        invoices_per_tenant: 150,
        seed: 7,
        ..SeedOptions::default()
    };
    let slugs = quire::seed::seed(&db.db, &options).await.unwrap();
    assert_eq!(slugs[0], TENANT);
    let source = Db::connect_reports(&db.url, 2).await.unwrap();
    let reporter = Reporter::new(
        Arc::new(Catalog::built_in()),
        source,
        Clock::fixed_on(DEFAULT_ANCHOR),
    );
    let tenant_id = reporter
        .tenant_id("invoices", TENANT)
        .await
        .unwrap()
        .unwrap();
    Fixture {
        db,
        reporter,
        tenant_id,
    }
}

impl Fixture {
    /// The report as CSV records, header first.
    async fn render(&self, report: &str, params: serde_json::Value) -> Vec<Vec<String>> {
        let serde_json::Value::Object(input) = params else {
            panic!("params are an object")
        };
        let out = self.db.dir().join(format!("{report}.csv"));
        let rendered = render_report(&self.reporter, report, TENANT, &input, Format::Csv, &out)
            .await
            .unwrap_or_else(|e| panic!("{report}: {e}"));
        let bytes = std::fs::read(&out).unwrap();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes.as_slice());
        let records: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(
            records.len() as u64,
            rendered.rows + 1,
            "{report}: header plus rows"
        );
        records
    }

    async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.db
            .rows(&sql.replace(":tenant", &self.tenant_id.to_string()))
            .await
    }
}

/// One open or closed invoice as the raw table has it.
struct Invoice {
    id: i64,
    client_id: i64,
    client_number: String,
    client: String,
    number: String,
    status: String,
    due: NaiveDate,
    issue: NaiveDate,
    currency: String,
    net: i64,
    tax: i64,
    total: i64,
    paid: i64,
    balance: i64,
}

impl Invoice {
    fn counts(&self) -> bool {
        self.status != "draft" && self.status != "void"
    }
}

async fn invoices(f: &Fixture) -> Vec<Invoice> {
    f.rows(
        "SELECT CAST(i.id AS TEXT), CAST(c.id AS TEXT), c.number, c.name, i.number, i.status, CAST(i.due_date AS TEXT), \
         CAST(i.issue_date AS TEXT), i.currency, CAST(i.net_amount AS TEXT), CAST(i.tax_amount AS TEXT), \
         CAST(i.total_amount AS TEXT), CAST(i.paid_amount AS TEXT), CAST(i.balance AS TEXT) \
         FROM invoices i JOIN clients c ON c.id = i.client_id WHERE i.tenant_id = :tenant",
    )
    .await
    .iter()
    .map(|r| Invoice {
        id: int(&r[0]),
        client_id: int(&r[1]),
        client_number: text(&r[2]),
        client: text(&r[3]),
        number: text(&r[4]),
        status: text(&r[5]),
        due: date(&r[6]),
        issue: date(&r[7]),
        currency: text(&r[8]),
        net: int(&r[9]),
        tax: int(&r[10]),
        total: int(&r[11]),
        paid: int(&r[12]),
        balance: int(&r[13]),
    })
    .collect()
}

/// Asserts that the report's rows are the expected ones, whatever their order, and
/// that there are several (a check over no rows proves nothing).
fn same(report: &str, mut actual: Vec<Vec<String>>, mut expected: Vec<Vec<String>>) {
    actual.sort();
    expected.sort();
    assert!(
        expected.len() > 1,
        "{report}: the seed should give several rows"
    );
    assert_eq!(actual, expected, "{report}");
}

/// Per product and currency: its name, the invoices it sold on, and quantity, net,
/// tax and gross.
type ProductSales = (String, std::collections::BTreeSet<i64>, [i64; 4]);

async fn check_every_report(db: TestDb) {
    let f = fixture(db).await;
    let all = serde_json::json!({ "period": "all" });
    let invoices = invoices(&f).await;
    let open: Vec<&Invoice> = invoices
        .iter()
        .filter(|i| i.counts() && i.balance > 0 && i.issue <= DEFAULT_ANCHOR)
        .collect();

    // invoices: every invoice, as stored.
    let out = f.render("invoices", all.clone()).await;
    let expected: Vec<Vec<String>> = invoices
        .iter()
        .map(|i| {
            vec![
                i.number.clone(),
                cell(&i.client),
                money(i.total),
                money(i.balance),
            ]
        })
        .collect();
    let actual: Vec<Vec<String>> = out[1..]
        .iter()
        .map(|r| vec![r[0].clone(), r[1].clone(), r[8].clone(), r[10].clone()])
        .collect();
    same("invoices", actual, expected);

    // ar_detail and ar_summary: days overdue and buckets as of the anchor.
    let bucket = |days: i64| match days {
        ..=0 => 0,
        1..=30 => 1,
        31..=60 => 2,
        61..=90 => 3,
        91..=120 => 4,
        _ => 5,
    };
    let names = ["current", "1-30", "31-60", "61-90", "91-120", "120+"];
    let detail = f.render("ar_detail", serde_json::json!({})).await;
    let expected: Vec<Vec<String>> = open
        .iter()
        .map(|i| {
            let days = (DEFAULT_ANCHOR - i.due).num_days();
            vec![
                i.number.clone(),
                money(i.balance),
                days.to_string(),
                names[bucket(days)].to_owned(),
            ]
        })
        .collect();
    let actual: Vec<Vec<String>> = detail[1..]
        .iter()
        .map(|r| vec![r[1].clone(), r[7].clone(), r[8].clone(), r[9].clone()])
        .collect();
    same("ar_detail", actual, expected);
    let mut aging: BTreeMap<(String, String), [i64; 7]> = BTreeMap::new();
    for i in &open {
        let sums = aging
            .entry((cell(&i.client), i.currency.clone()))
            .or_default();
        sums[bucket((DEFAULT_ANCHOR - i.due).num_days())] += i.balance;
        sums[6] += i.balance;
    }
    let expected: Vec<Vec<String>> = aging
        .into_iter()
        .map(|((client, currency), sums)| {
            let mut row = vec![client, currency];
            row.extend(sums.iter().map(|c| money(*c)));
            row
        })
        .collect();
    let summary = f.render("ar_summary", serde_json::json!({})).await;
    same("ar_summary", summary[1..].to_vec(), expected);
    assert!(
        names
            .iter()
            .all(|name| detail.iter().any(|r| r[9] == *name)),
        "every aging bucket is populated"
    );

    // client_sales and client_balance: per client and currency.
    // Keyed by client id: two clients may share a name.
    let mut sales: BTreeMap<(i64, String), (String, [i64; 5])> = BTreeMap::new();
    for i in invoices.iter().filter(|i| i.counts()) {
        let (_, s) = sales
            .entry((i.client_id, i.currency.clone()))
            .or_insert_with(|| (cell(&i.client), [0; 5]));
        for (slot, value) in s.iter_mut().zip([1, i.net, i.tax, i.total, i.paid]) {
            *slot += value;
        }
    }
    let expected: Vec<Vec<String>> = sales
        .iter()
        .map(|((_, currency), (client, s))| {
            let mut row = vec![client.clone(), currency.clone(), s[0].to_string()];
            row.extend(s[1..].iter().map(|c| money(*c)));
            row
        })
        .collect();
    same(
        "client_sales",
        f.render("client_sales", all.clone()).await[1..].to_vec(),
        expected,
    );

    let credits = f
        .rows(
            "SELECT c.name, cr.currency, CAST(cr.balance AS TEXT), cr.status, CAST(cr.total_amount AS TEXT), CAST(c.id AS TEXT) \
             FROM credits cr JOIN clients c ON c.id = cr.client_id WHERE cr.tenant_id = :tenant",
        )
        .await;
    let mut balances: BTreeMap<(i64, String), (String, [i64; 4])> = BTreeMap::new();
    for i in invoices.iter().filter(|i| i.counts()) {
        let (_, b) = balances
            .entry((i.client_id, i.currency.clone()))
            .or_insert_with(|| (cell(&i.client), [0; 4]));
        b[0] += i.total;
        b[1] += i.paid;
        b[2] += i.balance;
    }
    for c in credits.iter().filter(|c| text(&c[3]) != "void") {
        let (_, b) = balances
            .entry((int(&c[5]), text(&c[1])))
            .or_insert_with(|| (cell(&text(&c[0])), [0; 4]));
        b[3] += int(&c[2]);
    }
    let expected: Vec<Vec<String>> = balances
        .into_iter()
        .map(|((_, currency), (client, b))| {
            let mut row = vec![client, currency];
            row.extend(b.iter().map(|c| money(*c)));
            row
        })
        .collect();
    same(
        "client_balance",
        f.render("client_balance", serde_json::json!({})).await[1..].to_vec(),
        expected,
    );

    // credits and quotes: every document with its amounts.
    let out = f.render("credits", all.clone()).await;
    assert_eq!(out.len() - 1, credits.len(), "credits");
    let credit_total: i64 = credits.iter().map(|c| int(&c[4])).sum();
    let reported: Decimal = out[1..]
        .iter()
        .map(|r| r[5].parse::<Decimal>().unwrap())
        .sum();
    assert_eq!(reported, Decimal::new(credit_total, 2), "credits total");
    let quotes = f
        .rows("SELECT number, CAST(total_amount AS TEXT) FROM quotes WHERE tenant_id = :tenant")
        .await;
    let expected: Vec<Vec<String>> = quotes
        .iter()
        .map(|q| vec![text(&q[0]), money(int(&q[1]))])
        .collect();
    let out = f.render("quotes", all.clone()).await;
    let actual: Vec<Vec<String>> = out[1..]
        .iter()
        .map(|r| vec![r[0].clone(), r[8].clone()])
        .collect();
    same("quotes", actual, expected);

    // payments: applied is the sum of the payment's allocations.
    let allocations = f.rows("SELECT CAST(payment_id AS TEXT), CAST(amount AS TEXT) FROM payment_allocations WHERE tenant_id = :tenant").await;
    let mut applied: HashMap<i64, i64> = HashMap::new();
    for a in &allocations {
        *applied.entry(int(&a[0])).or_default() += int(&a[1]);
    }
    let payments = f.rows("SELECT CAST(id AS TEXT), number, CAST(amount AS TEXT), CAST(refunded AS TEXT) FROM payments WHERE tenant_id = :tenant").await;
    let expected: Vec<Vec<String>> = payments
        .iter()
        .map(|p| {
            let used = applied.get(&int(&p[0])).copied().unwrap_or(0);
            vec![
                text(&p[1]),
                money(int(&p[2])),
                money(used),
                money(int(&p[2]) - int(&p[3]) - used),
            ]
        })
        .collect();
    let out = f.render("payments", all.clone()).await;
    let actual: Vec<Vec<String>> = out[1..]
        .iter()
        .map(|r| vec![r[0].clone(), r[6].clone(), r[7].clone(), r[9].clone()])
        .collect();
    same("payments", actual, expected);
    // Each invoice's paid amount is what was allocated to it.
    let mut allocated_to: HashMap<i64, i64> = HashMap::new();
    for a in f.rows("SELECT CAST(invoice_id AS TEXT), CAST(amount AS TEXT) FROM payment_allocations WHERE tenant_id = :tenant").await {
        *allocated_to.entry(int(&a[0])).or_default() += int(&a[1]);
    }
    assert!(
        invoices
            .iter()
            .all(|i| i.paid == allocated_to.get(&i.id).copied().unwrap_or(0))
    );

    // Items: invoice_items, product_sales and tax_summary.
    let items = f
        .rows(
            "SELECT CAST(it.invoice_id AS TEXT), p.code, p.name, CAST(it.quantity AS TEXT), CAST(it.net_amount AS TEXT), \
             CAST(it.tax_amount AS TEXT), COALESCE(it.tax_name, 'No tax'), CAST(it.tax_rate_bp AS TEXT) \
             FROM invoice_items it LEFT JOIN products p ON p.id = it.product_id WHERE it.tenant_id = :tenant",
        )
        .await;
    let by_id: HashMap<i64, &Invoice> = invoices.iter().map(|i| (i.id, i)).collect();
    let out = f.render("invoice_items", all.clone()).await;
    assert_eq!(out.len() - 1, items.len(), "invoice_items");
    let net: Decimal = out[1..]
        .iter()
        .map(|r| r[10].parse::<Decimal>().unwrap())
        .sum();
    assert_eq!(
        net,
        Decimal::new(items.iter().map(|i| int(&i[4])).sum(), 2),
        "invoice_items net"
    );

    let mut product_sales: BTreeMap<(String, String), ProductSales> = BTreeMap::new();
    let mut taxes: BTreeMap<(String, i64, String), [i64; 3]> = BTreeMap::new();
    for item in &items {
        let invoice = by_id[&int(&item[0])];
        if !invoice.counts() {
            continue;
        }
        let (net, tax) = (int(&item[4]), int(&item[5]));
        let t = taxes
            .entry((text(&item[6]), int(&item[7]), invoice.currency.clone()))
            .or_default();
        t[0] += 1;
        t[1] += net;
        t[2] += tax;
        if let Some(code) = &item[1] {
            let entry = product_sales
                .entry((cell(code), invoice.currency.clone()))
                .or_insert_with(|| (cell(&text(&item[2])), Default::default(), [0; 4]));
            entry.1.insert(invoice.id);
            entry.2[0] += int(&item[3]);
            entry.2[1] += net;
            entry.2[2] += tax;
            entry.2[3] += net + tax;
        }
    }
    let expected: Vec<Vec<String>> = product_sales
        .into_iter()
        .map(|((code, currency), (name, ids, s))| {
            vec![
                code,
                name,
                currency,
                ids.len().to_string(),
                s[0].to_string(),
                money(s[1]),
                money(s[2]),
                money(s[3]),
            ]
        })
        .collect();
    same(
        "product_sales",
        f.render("product_sales", all.clone()).await[1..].to_vec(),
        expected,
    );
    let expected: Vec<Vec<String>> = taxes
        .into_iter()
        .map(|((name, rate, currency), t)| {
            vec![
                cell(&name),
                Decimal::new(rate, 4).to_string(),
                currency,
                t[0].to_string(),
                money(t[1]),
                money(t[2]),
            ]
        })
        .collect();
    same(
        "tax_summary",
        f.render("tax_summary", all.clone()).await[1..].to_vec(),
        expected,
    );

    // profit_loss: income minus expenses per category, per currency.
    let expenses = f
        .rows(
            "SELECT e.currency, COALESCE(ec.name, 'Uncategorised'), CAST(e.net_amount AS TEXT), CAST(e.total_amount AS TEXT) \
             FROM expenses e LEFT JOIN expense_categories ec ON ec.id = e.category_id WHERE e.tenant_id = :tenant",
        )
        .await;
    let mut lines: BTreeMap<(String, u8, String), i64> = BTreeMap::new();
    let mut net_by_currency: BTreeMap<String, i64> = BTreeMap::new();
    for i in invoices.iter().filter(|i| i.counts()) {
        *lines
            .entry((i.currency.clone(), 1, "Sales".into()))
            .or_default() += i.net;
        *net_by_currency.entry(i.currency.clone()).or_default() += i.net;
    }
    for e in &expenses {
        *lines
            .entry((text(&e[0]), 2, cell(&text(&e[1]))))
            .or_default() -= int(&e[2]);
        *net_by_currency.entry(text(&e[0])).or_default() -= int(&e[2]);
    }
    for (currency, net) in net_by_currency {
        lines.insert((currency, 3, "Net profit".into()), net);
    }
    let section = ["", "income", "expense", "net"];
    let expected: Vec<Vec<String>> = lines
        .into_iter()
        .map(|((currency, position, line), amount)| {
            vec![
                currency,
                section[position as usize].into(),
                line,
                money(amount),
            ]
        })
        .collect();
    same(
        "profit_loss",
        f.render("profit_loss", all.clone()).await[1..].to_vec(),
        expected,
    );

    let out = f.render("expenses", all.clone()).await;
    assert_eq!(out.len() - 1, expenses.len(), "expenses");
    let total: Decimal = out[1..]
        .iter()
        .map(|r| r[7].parse::<Decimal>().unwrap())
        .sum();
    assert_eq!(
        total,
        Decimal::new(expenses.iter().map(|e| int(&e[3])).sum(), 2),
        "expenses total"
    );

    // clients and products: one row each, in the tenant only.
    let clients = f
        .rows("SELECT number FROM clients WHERE tenant_id = :tenant")
        .await;
    let out = f.render("clients", serde_json::json!({})).await;
    let actual: Vec<Vec<String>> = out[1..].iter().map(|r| vec![r[0].clone()]).collect();
    same(
        "clients",
        actual,
        clients.iter().map(|c| vec![cell(&text(&c[0]))]).collect(),
    );
    for row in &out[1..] {
        let number = &row[0];
        let owed: i64 = invoices
            .iter()
            .filter(|i| i.counts() && cell(&i.client_number) == *number)
            .map(|i| i.balance)
            .sum();
        assert_eq!(row[12], money(owed), "clients balance of {number}");
    }
    let products = f
        .rows("SELECT code FROM products WHERE tenant_id = :tenant")
        .await;
    let out = f.render("products", serde_json::json!({})).await;
    assert_eq!(out.len() - 1, products.len(), "products");
}

#[tokio::test]
async fn every_report_matches_independent_figures_on_sqlite() {
    check_every_report(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn every_report_matches_independent_figures_on_postgres() {
    check_every_report(TestDb::postgres().await).await;
}

/// The PostgreSQL COPY fast path and the row path write the same bytes, for every
/// report and both formats, on hostile seeded data.
#[tokio::test]
async fn the_copy_fast_path_writes_the_same_bytes_as_the_row_path() {
    let f = fixture(TestDb::postgres().await).await;
    let rows_only = f.reporter.clone().with_copy_fast_path(false);
    let mut copied = std::collections::BTreeSet::<String>::new();
    for report in f
        .reporter
        .catalog()
        .reports()
        .map(|r| r.name.clone())
        .collect::<Vec<_>>()
    {
        for format in [Format::Csv, Format::Xlsx] {
            let mut files = Vec::new();
            for (path, reporter) in [("fast", &f.reporter), ("rows", &rows_only)] {
                let out = f.db.dir().join(format!("{report}-{path}.{format}"));
                let no_params = serde_json::Map::new();
                let rendered = render_report(reporter, &report, TENANT, &no_params, format, &out)
                    .await
                    .unwrap_or_else(|e| panic!("{report} {path}: {e}"));
                if rendered.copied {
                    assert_eq!(path, "fast", "{report}: the row path never copies");
                    copied.insert(report.clone());
                }
                files.push(std::fs::read(&out).unwrap());
            }
            assert!(
                files[0] == files[1],
                "{report} as {format}: the two paths differ"
            );
        }
    }
    // Queries the planner can hand to COPY take the fast path (others fall back).
    assert!(
        copied.contains("invoices") && copied.len() >= 5,
        "fast path taken by {copied:?}"
    );
}

/// Three tenants on either side of the date line, and one whose zone is not a zone.
const ZONED_TENANTS: &str = "INSERT INTO tenants (id, slug, name, currency, timezone) VALUES \
    (21, 'kiwi', 'Kiwi', 'NZD', 'Pacific/Auckland'), \
    (22, 'angeleno', 'Angeleno', 'USD', 'America/Los_Angeles'), \
    (23, 'martian', 'Martian', 'USD', 'Mars/Olympus_Mons')";

/// `:today` and a date-range preset, as a report sees them.
const DATES_REPORT: &str = r#"
name = "dates"
title = "Dates"
params = [{ name = "period", type = "date_range", default = "this_month" }]
columns = [
    { name = "today", type = "date" },
    { name = "first", type = "date" },
    { name = "last", type = "date" },
]
tenant_timezone_sql = "SELECT timezone FROM tenants WHERE id = :tenant"
sql = "SELECT :today AS today, :start_date AS first, :end_date AS last FROM tenants WHERE id = :tenant"
"#;

#[tokio::test]
async fn today_and_presets_are_the_tenants_own_dates_on_each_side_of_the_date_line() {
    for db in TestDb::each().await {
        db.run_script(ZONED_TENANTS).await;
        let catalog =
            Catalog::from_texts([("dates.toml".to_owned(), DATES_REPORT.to_owned())]).unwrap();
        let source = Db::connect_reports(&db.url, 2).await.unwrap();
        // 23:30 UTC on the last day of January: already 1 February in Auckland, still
        // the afternoon of 31 January in Los Angeles.
        let late = Clock::Fixed("2026-01-31T23:30:00Z".parse().unwrap());
        let reporter = Reporter::new(Arc::new(catalog), source.clone(), late);
        for (tenant, dates) in [
            ("kiwi", ["2026-02-01", "2026-02-01", "2026-02-28"]),
            ("angeleno", ["2026-01-31", "2026-01-01", "2026-01-31"]),
        ] {
            let out = db.dir().join(format!("{tenant}.csv"));
            let no_params = serde_json::Map::new();
            render_report(&reporter, "dates", tenant, &no_params, Format::Csv, &out)
                .await
                .unwrap();
            assert_eq!(
                std::fs::read_to_string(&out).unwrap(),
                format!("today,first,last\r\n{}\r\n", dates.join(",")),
                "{tenant} on {}",
                db.url
            );
        }
        // A zone that is not an IANA name is refused, naming it, before any run exists.
        let refused = reporter
            .resolve_params_for_tenant("dates", "martian", &serde_json::Map::new())
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            refused,
            "the tenant's time zone \"Mars/Olympus_Mons\" is not an IANA time zone name"
        );
        source.close().await;
    }
}
