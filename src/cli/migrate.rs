//! `quire migrate`: apply migrations to DATABASE_URL.

use crate::settings::Settings;

/// Applies every pending migration and says which (with `--json`, as
/// `{"database", "applied": [{"version", "description"}]}`).
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn run(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let (db, applied) = crate::app::migrated_database(settings).await?;
    db.close().await;
    let database = super::redact(&settings.database_url);
    if json {
        println!(
            "{}",
            serde_json::json!({ "database": database, "applied": applied })
        );
    } else {
        println!("migrated {database} ({} applied now)", applied.len());
    }
    Ok(())
}
