//! Deterministic demo invoicing data.

use crate::db::Db;

/// What `quire seed` generates.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub tenants: u32,
    pub invoices_per_tenant: u32,
    pub seed: u64,
}

/// A failure while seeding.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("writing demo data failed: {0}")]
    Sql(#[from] sqlx::Error),
}

/// Generates the demo data and returns the tenant slugs it created.
///
/// # Errors
/// When the database cannot be written.
pub async fn seed(_db: &Db, _options: &SeedOptions) -> Result<Vec<String>, SeedError> {
    Ok(Vec::new())
}
