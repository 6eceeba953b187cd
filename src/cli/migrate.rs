//! `quire migrate`: apply migrations to DATABASE_URL.

use crate::settings::Settings;

/// Applies every pending migration.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let db = super::open_database(settings).await?;
    db.close().await;
    println!("migrated {}", super::redact(&settings.database_url));
    Ok(())
}
