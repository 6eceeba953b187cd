//! `quire seed`: load deterministic demo invoicing data.

use clap::Args;

use crate::seed::SeedOptions;
use crate::settings::Settings;

/// Options of `quire seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Number of tenants to create.
    #[arg(long, default_value_t = 3)]
    pub tenants: u32,
    /// Invoices per tenant.
    #[arg(long, default_value_t = 200)]
    pub invoices: u32,
    /// Seed of the random generator: the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Migrates, seeds, and prints the tenant slugs created, one a line.
///
/// # Errors
/// When the database cannot be reached or written.
pub async fn run(settings: &Settings, args: SeedArgs) -> anyhow::Result<()> {
    let db = super::open_database(settings).await?;
    let options = SeedOptions {
        tenants: args.tenants,
        invoices_per_tenant: args.invoices,
        seed: args.seed,
    };
    let slugs = crate::seed::seed(&db, &options).await?;
    db.close().await;
    for slug in slugs {
        println!("{slug}");
    }
    Ok(())
}
