//! `quire seed`: load deterministic demo invoicing data.

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;

use crate::clock::Clock;
use crate::db::Db;
use crate::seed::SeedOptions;
use crate::settings::Settings;

/// Options of `quire seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Number of tenants to create.
    #[arg(long, default_value_t = SeedOptions::default().tenants)]
    pub tenants: u32,
    /// Invoices per tenant.
    #[arg(long, default_value_t = SeedOptions::default().invoices_per_tenant)]
    pub invoices: u32,
    /// Seed of the random generator: the same seed gives the same data.
    #[arg(long, default_value_t = SeedOptions::default().seed)]
    pub seed: u64,
    /// The "today" of the data (YYYY-MM-DD): invoices span the two years before it and
    /// every aging bucket is filled as of this day. Default: today (UTC), so that
    /// presets like `last_quarter` find invoices; fix it for reproducible data.
    #[arg(long)]
    pub anchor: Option<NaiveDate>,
}

/// Seeds the report database (REPORTS_DATABASE_URL, which defaults to DATABASE_URL)
/// and prints the tenant slugs created, one a line (or as JSON). Tenants that already
/// exist under those slugs are replaced.
///
/// # Errors
/// When the database cannot be reached or written, or holds tables of its own.
pub async fn run(settings: &Settings, args: SeedArgs, json: bool) -> anyhow::Result<()> {
    let db = open_report_database(settings).await?;
    let options = SeedOptions {
        tenants: args.tenants,
        invoices_per_tenant: args.invoices,
        seed: args.seed,
        anchor: args.anchor.unwrap_or_else(|| Clock::System.today()),
    };
    let slugs = crate::seed::seed(&db, &options)
        .await
        .context("seeding REPORTS_DATABASE_URL")?;
    db.close().await;
    if json {
        println!("{}", serde_json::json!({ "tenants": slugs }));
    } else {
        for slug in slugs {
            println!("{slug}");
        }
    }
    Ok(())
}

/// The report database, opened for writing: seeding the demo data is the one write quire
/// ever makes there.
///
/// # Errors
/// When it cannot be reached.
pub(crate) async fn open_report_database(settings: &Settings) -> anyhow::Result<Db> {
    Db::connect(&settings.reports_database_url, 4)
        .await
        .with_context(|| {
            format!(
                "opening REPORTS_DATABASE_URL {}",
                super::redact(&settings.reports_database_url)
            )
        })
}
