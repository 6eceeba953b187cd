//! `quire seed` on real SQLite and PostgreSQL databases: the same seed gives the same
//! tables, seeding again replaces instead of failing, and the data keeps the invariants
//! the reports rely on, with its hostile values intact.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use common::{Backend, TestDb, on_databases};
use quire::seed::{DEFAULT_ANCHOR, HOSTILE_NAMES, LONG_DESCRIPTION_CHARS, SeedOptions, seed};

/// Every table the seed writes.
const TABLES: [&str; 13] = [
    "tenants",
    "clients",
    "contacts",
    "products",
    "vendors",
    "expense_categories",
    "invoices",
    "invoice_items",
    "payments",
    "payment_allocations",
    "quotes",
    "credits",
    "expenses",
];

fn options(tenants: u32, invoices_per_tenant: u32, seed: u64) -> SeedOptions {
    SeedOptions {
        tenants,
        invoices_per_tenant,
        seed,
        anchor: DEFAULT_ANCHOR,
    }
}

/// A fresh database seeded with `options`.
async fn seeded(backend: Backend, options: &SeedOptions) -> TestDb {
    let test_db = TestDb::new(backend).await;
    seed(test_db.db(), options).await.expect("seed");
    test_db
}

/// Three tenants of 300 invoices: enough for every random branch to show up.
fn typical() -> SeedOptions {
    options(3, 300, 7)
}

async fn dump_all(test_db: &TestDb) -> Vec<Vec<String>> {
    let mut tables = Vec::new();
    for table in TABLES {
        tables.push(test_db.dump(table).await);
    }
    tables
}

on_databases!(
    [Sqlite, Postgres, Mysql]
    migrate_creates_only_quire_tables_beside_an_applications_own,
    seed_refuses_a_database_that_holds_tables_of_its_own,
    seed_installs_the_demo_schema_into_an_empty_database_and_reseeds_it,
    the_same_seed_gives_identical_tables,
    seeding_twice_leaves_the_same_data_as_seeding_once,
    rows_added_after_seeding_get_fresh_ids_and_survive_a_new_seed,
    tenants_have_their_own_slug_currency_and_timezone,
    invoice_amounts_are_the_sums_of_their_items,
    paid_amounts_balances_and_statuses_follow_the_allocations,
    every_aging_bucket_holds_open_invoices_as_of_the_anchor,
    hostile_strings_are_stored_intact,
    optional_columns_hold_nulls,
);

/// Runs the real `quire` binary with `DATABASE_URL` set to `url`, as an operator would.
fn quire(url: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(args)
        .env_clear()
        .env("DATABASE_URL", url)
        .env("QUIRE_LOG", "warn")
        .output()
        .expect("run quire")
}

/// The tables whose names start with `quire_`.
fn quire_tables(tables: &[String]) -> Vec<&str> {
    tables
        .iter()
        .map(String::as_str)
        .filter(|table| table.starts_with("quire_"))
        .collect()
}

/// A fresh database holding one table of an application's, `tenants`, with a row.
async fn application_database(backend: Backend) -> TestDb {
    let app_db = TestDb::empty(backend).await;
    app_db
        .run_script(
            "CREATE TABLE tenants (id INTEGER PRIMARY KEY, company TEXT NOT NULL);\n\
             INSERT INTO tenants VALUES (1, 'the app''s own');\n",
        )
        .await;
    app_db
}

async fn migrate_creates_only_quire_tables_beside_an_applications_own(backend: Backend) {
    let app_db = application_database(backend).await;
    let migrated = quire(app_db.url(), &["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let tables = app_db.tables().await;
    let quire_own = quire_tables(&tables);
    assert!(quire_own.contains(&"quire_runs"), "{tables:?}");
    assert_eq!(
        tables.len(),
        quire_own.len() + 1,
        "migrate created only quire_ tables beside the app's: {tables:?}"
    );
    assert_eq!(
        app_db.rows("SELECT company FROM tenants").await,
        vec![vec![Some("the app's own".to_owned())]]
    );
}

async fn seed_refuses_a_database_that_holds_tables_of_its_own(backend: Backend) {
    let app_db = application_database(backend).await;
    let tables = app_db.tables().await;
    let seeded = quire(app_db.url(), &["seed", "--tenants", "1", "--invoices", "5"]);
    let stderr = String::from_utf8_lossy(&seeded.stderr);
    assert!(!seeded.status.success(), "seed went ahead: {stderr}");
    assert!(
        stderr.contains("refusing to install the demo schema") && stderr.contains("(tenants)"),
        "{stderr}"
    );
    assert_eq!(
        app_db.tables().await,
        tables,
        "the refused seed created tables"
    );
    assert_eq!(
        app_db.rows("SELECT company FROM tenants").await,
        vec![vec![Some("the app's own".to_owned())]]
    );
}

async fn seed_installs_the_demo_schema_into_an_empty_database_and_reseeds_it(backend: Backend) {
    let empty = TestDb::empty(backend).await;
    for _ in 0..2 {
        let seeded = quire(empty.url(), &["seed", "--tenants", "2", "--invoices", "5"]);
        assert!(
            seeded.status.success(),
            "{}",
            String::from_utf8_lossy(&seeded.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&seeded.stdout), "acme\nglobex\n");
    }
    let tables = empty.tables().await;
    for table in TABLES {
        assert!(tables.iter().any(|t| t == table), "{table} in {tables:?}");
    }
    assert_eq!(
        quire_tables(&tables),
        ["quire_demo_migrations"],
        "seeding wrote no quire state"
    );
    assert_eq!(empty.scalar("SELECT COUNT(*) FROM tenants").await, 2);
}

async fn the_same_seed_gives_identical_tables(backend: Backend) {
    let first = seeded(backend, &typical()).await;
    let second = seeded(backend, &typical()).await;
    let first_tables = dump_all(&first).await;
    for (table, (a, b)) in TABLES
        .iter()
        .zip(first_tables.iter().zip(dump_all(&second).await))
    {
        assert!(!a.is_empty(), "{table} has rows");
        assert!(
            *a == b,
            "{table} differs between two seeds with the same seed"
        );
    }

    let other = seeded(backend, &options(3, 300, 8)).await;
    assert_ne!(
        first.dump("invoices").await,
        other.dump("invoices").await,
        "another seed gives other data"
    );
}

async fn seeding_twice_leaves_the_same_data_as_seeding_once(backend: Backend) {
    let options = options(2, 40, 3);
    let test_db = TestDb::new(backend).await;
    let slugs = seed(test_db.db(), &options).await.expect("first seed");
    let once = dump_all(&test_db).await;

    let again = seed(test_db.db(), &options).await.expect("second seed");

    assert_eq!(slugs, again);
    assert!(
        once == dump_all(&test_db).await,
        "the second seed changed the data"
    );
}

async fn rows_added_after_seeding_get_fresh_ids_and_survive_a_new_seed(backend: Backend) {
    let test_db = seeded(backend, &options(1, 20, 1)).await;
    let tenants_before = test_db.scalar("SELECT MAX(id) FROM tenants").await;
    let clients_before = test_db.scalar("SELECT MAX(id) FROM clients").await;

    // No ids given: SQLite picks the next rowid, PostgreSQL its sequence, which the
    // seed must have moved past the ids it chose.
    test_db
        .scalar(
            "INSERT INTO tenants (slug, name, currency, timezone)
             VALUES ('later', 'Added later', 'CHF', 'Europe/Zurich') RETURNING id",
        )
        .await;
    test_db
        .scalar(
            "INSERT INTO clients (tenant_id, number, name, currency, payment_terms_days,
                                  created_at)
             SELECT id, 'C-1', 'Later client', 'CHF', 30, CURRENT_TIMESTAMP
             FROM tenants WHERE slug = 'later' RETURNING id",
        )
        .await;
    assert_eq!(
        test_db
            .scalar("SELECT id FROM tenants WHERE slug = 'later'")
            .await,
        tenants_before + 1
    );
    assert_eq!(
        test_db.scalar("SELECT MAX(id) FROM clients").await,
        clients_before + 1
    );

    seed(test_db.db(), &options(1, 20, 1))
        .await
        .expect("seed again");

    let slugs = test_db.rows("SELECT slug FROM tenants ORDER BY slug").await;
    assert_eq!(
        slugs,
        vec![
            vec![Some("acme".to_owned())],
            vec![Some("later".to_owned())]
        ]
    );
    assert_eq!(
        test_db
            .scalar(
                "SELECT COUNT(*) FROM clients c JOIN tenants t ON t.id = c.tenant_id
                 WHERE t.slug = 'later'"
            )
            .await,
        1
    );
}

async fn tenants_have_their_own_slug_currency_and_timezone(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let slugs = seed(test_db.db(), &options(6, 20, 5)).await.expect("seed");

    assert_eq!(
        slugs,
        [
            "acme", "globex", "initech", "umbrella", "soylent", "tenant-6"
        ]
    );
    let tenants = test_db
        .rows("SELECT slug, currency, timezone FROM tenants ORDER BY id")
        .await;
    let slugs_stored: Vec<_> = tenants.iter().map(|row| row[0].clone().unwrap()).collect();
    assert_eq!(slugs_stored, slugs);
    let named = &tenants[..5];
    let currencies: BTreeSet<_> = named.iter().map(|row| row[1].clone()).collect();
    let timezones: BTreeSet<_> = named.iter().map(|row| row[2].clone()).collect();
    assert_eq!(currencies.len(), 5, "{tenants:?}");
    assert_eq!(timezones.len(), 5, "{tenants:?}");
    assert_eq!(
        test_db
            .scalar(
                "SELECT COUNT(DISTINCT c.currency) FROM clients c
                 JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'acme'"
            )
            .await,
        3,
        "acme bills clients in USD, EUR and CAD"
    );
}

async fn invoice_amounts_are_the_sums_of_their_items(backend: Backend) {
    let test_db = seeded(backend, &typical()).await;
    let none = [
        // Each line: net = quantity × price − discount, tax rounded half up (tax is
        // (net × rate + 5000) / 10000 in integers, checked without a division, whose
        // result type differs between the databases).
        "SELECT COUNT(*) FROM invoice_items
         WHERE net_amount <> quantity * unit_price - discount
            OR tax_amount * 10000 > net_amount * tax_rate_bp + 5000
            OR (tax_amount + 1) * 10000 <= net_amount * tax_rate_bp + 5000
            OR net_amount <= 0",
        "SELECT COUNT(*) FROM invoices i
         WHERE NOT EXISTS (SELECT 1 FROM invoice_items it WHERE it.invoice_id = i.id)",
        "SELECT COUNT(*) FROM invoices i
         WHERE net_amount <> (SELECT CAST(SUM(net_amount) AS BIGINT)
                              FROM invoice_items it WHERE it.invoice_id = i.id)
            OR tax_amount <> (SELECT CAST(SUM(tax_amount) AS BIGINT)
                              FROM invoice_items it WHERE it.invoice_id = i.id)
            OR total_amount <> net_amount + tax_amount",
        "SELECT COUNT(*) FROM invoices WHERE due_date < issue_date",
        "SELECT COUNT(*) FROM quotes WHERE total_amount <> net_amount + tax_amount",
        "SELECT COUNT(*) FROM expenses WHERE total_amount <> net_amount + tax_amount",
        "SELECT COUNT(*) FROM credits
         WHERE balance <> total_amount - applied_amount
            OR (status IN ('draft', 'sent') AND applied_amount <> 0)
            OR (status = 'applied' AND balance <> 0)",
    ];
    for sql in none {
        assert_eq!(test_db.scalar(sql).await, 0, "{sql}");
    }
    let rates = test_db
        .scalar("SELECT COUNT(DISTINCT tax_rate_bp) FROM invoice_items")
        .await;
    assert!(rates >= 6, "several tax rates, got {rates}");
}

async fn paid_amounts_balances_and_statuses_follow_the_allocations(backend: Backend) {
    let test_db = seeded(backend, &typical()).await;
    let none = [
        "SELECT COUNT(*) FROM invoices i
         WHERE paid_amount <> (SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT)
                               FROM payment_allocations a WHERE a.invoice_id = i.id)
            OR balance <> total_amount - paid_amount",
        "SELECT COUNT(*) FROM invoices
         WHERE (status = 'paid' AND (balance <> 0 OR paid_amount = 0))
            OR (status = 'partial' AND (paid_amount <= 0 OR balance <= 0))
            OR (status IN ('draft', 'sent', 'void') AND paid_amount <> 0)",
        // A payment pays its own client's invoices, in their currency.
        "SELECT COUNT(*) FROM payment_allocations a
         JOIN payments p ON p.id = a.payment_id
         JOIN invoices i ON i.id = a.invoice_id
         WHERE p.client_id <> i.client_id OR p.currency <> i.currency
            OR p.tenant_id <> a.tenant_id OR i.tenant_id <> a.tenant_id
            OR a.amount <= 0 OR p.payment_date < i.issue_date",
        "SELECT COUNT(*) FROM payments p
         WHERE amount - refunded < (SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT)
                                    FROM payment_allocations a WHERE a.payment_id = p.id)",
    ];
    for sql in none {
        assert_eq!(test_db.scalar(sql).await, 0, "{sql}");
    }
    let statuses = test_db
        .rows("SELECT CAST(COUNT(DISTINCT status) AS TEXT) FROM invoices GROUP BY tenant_id")
        .await;
    assert_eq!(statuses, vec![vec![Some("5".to_owned())]; 3]);
    let shared = test_db
        .scalar(
            "SELECT COUNT(*) FROM payments p
             WHERE (SELECT COUNT(*) FROM payment_allocations a WHERE a.payment_id = p.id) > 1",
        )
        .await;
    assert!(shared > 0, "some payments cover several invoices");
    let split = test_db
        .scalar(
            "SELECT COUNT(*) FROM invoices i
             WHERE (SELECT COUNT(*) FROM payment_allocations a WHERE a.invoice_id = i.id) > 1",
        )
        .await;
    assert!(split > 0, "some invoices are paid in several payments");
}

/// The aging bucket of an invoice due on `due` as of `today`: 0 is current (not yet
/// overdue), then 1–30, 31–60, 61–90, 91–120 and over 120 days overdue.
fn aging_bucket(today: NaiveDate, due: NaiveDate) -> usize {
    match (today - due).num_days() {
        ..=0 => 0,
        1..=30 => 1,
        31..=60 => 2,
        61..=90 => 3,
        91..=120 => 4,
        _ => 5,
    }
}

async fn every_aging_bucket_holds_open_invoices_as_of_the_anchor(backend: Backend) {
    // 13 invoices is the fewest that guarantees every bucket, whatever the seed.
    for (tenants, invoices) in [(2, 13), (3, 300)] {
        let test_db = seeded(backend, &options(tenants, invoices, 11)).await;
        let open = test_db
            .rows(
                "SELECT CAST(tenant_id AS TEXT), CAST(due_date AS TEXT), status
                 FROM invoices WHERE status IN ('sent', 'partial') AND balance > 0",
            )
            .await;
        let mut buckets: BTreeMap<(String, String), BTreeSet<usize>> = BTreeMap::new();
        for row in open {
            let [tenant, due, status] = [&row[0], &row[1], &row[2]].map(|v| v.clone().unwrap());
            let due = NaiveDate::parse_from_str(&due, "%Y-%m-%d").expect("a date");
            buckets
                .entry((tenant, status))
                .or_default()
                .insert(aging_bucket(DEFAULT_ANCHOR, due));
        }
        assert_eq!(buckets.len(), tenants as usize * 2, "{buckets:?}");
        for (key, seen) in &buckets {
            assert_eq!(seen.len(), 6, "{key:?} misses a bucket: {seen:?}");
        }
    }
}

async fn hostile_strings_are_stored_intact(backend: Backend) {
    let test_db = seeded(backend, &typical()).await;
    let names = test_db
        .rows("SELECT CAST(tenant_id AS TEXT), name FROM clients")
        .await;
    let mut by_tenant: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in names {
        by_tenant
            .entry(row[0].clone().unwrap())
            .or_default()
            .insert(row[1].clone().unwrap());
    }
    assert_eq!(by_tenant.len(), 3);
    for (tenant, names) in &by_tenant {
        for hostile in HOSTILE_NAMES {
            assert!(
                names.contains(*hostile),
                "tenant {tenant} lacks {hostile:?}"
            );
        }
    }

    let long = test_db
        .rows("SELECT description FROM invoice_items WHERE LENGTH(description) > 32767")
        .await;
    assert_eq!(long.len(), 3, "one over-long description per tenant");
    for row in long {
        let description = row[0].clone().unwrap();
        assert_eq!(description.chars().count(), LONG_DESCRIPTION_CHARS);
        assert!(description.contains("作業記録 «ünïcødé»"));
    }

    // Formula-like text also shows up beyond client names.
    for sql in [
        "SELECT COUNT(*) FROM invoice_items WHERE description = '=HYPERLINK(\"x\")'",
        "SELECT COUNT(*) FROM payments WHERE reference = '@SUM(A1)'",
        "SELECT COUNT(*) FROM clients WHERE phone LIKE '+%'",
        "SELECT COUNT(*) FROM expense_categories WHERE name = 'Office, supplies'",
    ] {
        assert!(test_db.scalar(sql).await > 0, "{sql}");
    }
}

async fn optional_columns_hold_nulls(backend: Backend) {
    let test_db = seeded(backend, &typical()).await;
    let nullable = [
        ("clients", "vat_number"),
        ("clients", "email"),
        ("clients", "phone"),
        ("clients", "address"),
        ("clients", "city"),
        ("clients", "country"),
        ("contacts", "last_name"),
        ("contacts", "email"),
        ("contacts", "phone"),
        ("products", "description"),
        ("products", "cost"),
        ("products", "tax_name"),
        ("products", "stock"),
        ("invoices", "po_number"),
        ("invoice_items", "product_id"),
        ("invoice_items", "tax_name"),
        ("quotes", "valid_until"),
        ("payments", "reference"),
        ("expenses", "vendor_id"),
        ("expenses", "category_id"),
        ("expenses", "paid_date"),
        ("expenses", "notes"),
    ];
    for (table, column) in nullable {
        let nulls = test_db
            .scalar(&format!(
                "SELECT COUNT(*) FROM {table} WHERE {column} IS NULL"
            ))
            .await;
        assert!(nulls > 0, "{table}.{column} holds no NULL");
    }
}

/// `quire seed` anchors its data at today unless told otherwise, so the README's
/// `last_quarter` finds invoices: its tables are those of `--anchor` with today's date.
#[tokio::test]
async fn seed_anchors_its_data_at_today_by_default() {
    let sql = "SELECT number, issue_date, due_date FROM invoices ORDER BY number";
    loop {
        let today = chrono::Utc::now().date_naive().to_string();
        let by_default = TestDb::empty(Backend::Sqlite).await;
        let anchored = TestDb::empty(Backend::Sqlite).await;
        let base = ["seed", "--tenants", "1", "--invoices", "20"];
        let first = quire(by_default.url(), &base);
        let second = quire(anchored.url(), &[&base[..], &["--anchor", &today]].concat());
        assert!(
            first.status.success() && second.status.success(),
            "{first:?} {second:?}"
        );
        if chrono::Utc::now().date_naive().to_string() != today {
            continue; // midnight passed between the two: compare again
        }
        assert_eq!(by_default.rows(sql).await, anchored.rows(sql).await);
        assert_ne!(today, DEFAULT_ANCHOR.to_string());
        break;
    }
}
