//! `examples/invoice_ninja`: its three definitions over Invoice Ninja's own tables,
//! loaded into MariaDB with the example's rows, rendered for one company.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Backend, TestDb, render_report};
use quire::catalog::Catalog;
use quire::settings::ReportsSource;
use quire::writer::Format;

fn example(file: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/invoice_ninja")
            .join(file),
    )
    .expect("the example's file")
}

#[tokio::test]
async fn the_invoice_ninja_reports_render_one_companys_rows_from_its_own_tables() {
    let db = TestDb::empty(Backend::Mysql).await;
    db.run_script(&example("schema.sql")).await;
    db.run_script(&example("rows.sql")).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/invoice_ninja");
    let catalog = Arc::new(Catalog::load(&ReportsSource::Dir(dir)).expect("the example loads"));
    let source = quire::db::Db::connect_reports(db.url(), 2).await.unwrap();
    let clock = quire::clock::Clock::fixed_on("2026-06-30".parse().unwrap());
    let reporter = quire::report::Reporter::new(catalog, source, clock);
    assert_eq!(
        reporter.tenant_id("invoices", "acme-key").await.unwrap(),
        Some(1)
    );

    let render = |report: &'static str| {
        let (reporter, out) = (reporter.clone(), db.dir().join(format!("{report}.csv")));
        async move {
            render_report(
                &reporter,
                report,
                "acme-key",
                &serde_json::Map::new(),
                Format::Csv,
                &out,
            )
            .await
            .unwrap_or_else(|error| panic!("{report}: {error}"));
            std::fs::read_to_string(&out).unwrap()
        }
    };
    let invoices = render("invoices").await;
    let numbers: Vec<&str> = invoices
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap())
        .collect();
    assert_eq!(
        numbers,
        [
            "INV-0001", "INV-0002", "INV-0003", "INV-0004", "INV-0005", "INV-0008"
        ],
        "deleted invoices, deleted clients, other years and the other company are left out:\n{invoices}"
    );
    assert!(invoices.contains("INV-0002,2026-02-10,2026-03-12,Acme Retail,Partial,110,USD,500.000000,200.000000,300.000000,"), "{invoices}");

    let payments = render("payments").await;
    assert_eq!(
        payments.lines().count(),
        6,
        "a header and five applications:\n{payments}"
    );
    assert!(
        payments.contains(",INV-0002,300.0000,100.0000"),
        "{payments}"
    );

    let balances = render("client_balances").await;
    assert_eq!(
        balances.lines().skip(1).collect::<Vec<_>>(),
        [
            "Acme Retail,0001,USD,300.000000,1200.000000,0.000000,1,300.000000",
            "Bluebird Ltd,0002,GBP,750.500000,100.000000,0.000000,1,0.000000",
            "Copperfield & Sons,0003,EUR,400.000000,40.000000,0.000000,1,400.000000",
        ],
        "{balances}"
    );
}
