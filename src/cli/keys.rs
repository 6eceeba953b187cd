//! `quire keys create --tenant T | --admin [--read-only]`, `quire keys revoke KEY_ID`.

use clap::{Args, Subcommand};

use anyhow::Context as _;

use super::UsageError;
use crate::clock::Clock;
use crate::names::TenantSlug;
use crate::runs::WebhookUrlError;
use crate::settings::Settings;
use crate::store::{Access, NewApiKey, Store};

/// Options of `quire keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Whether to create or revoke a key.
    #[command(subcommand)]
    pub action: KeysAction,
}

/// What to do with API keys.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key; prints the key alone on stdout, once (its id goes to stderr).
    Create {
        /// The tenant the key may act for.
        #[arg(long, conflicts_with = "admin", required_unless_present = "admin")]
        tenant: Option<String>,
        /// A key for every tenant.
        #[arg(long)]
        admin: bool,
        /// A key that sees what its scope holds and changes nothing: no enqueue,
        /// cancel, retry, pause or restart.
        #[arg(long)]
        read_only: bool,
        /// POST each finished run of this key to this URL.
        #[arg(long, requires = "webhook_secret")]
        webhook_url: Option<String>,
        /// Secret of the HMAC-SHA256 signature of webhook bodies.
        #[arg(long, env = "QUIRE_WEBHOOK_SECRET", hide_env_values = true)]
        webhook_secret: Option<String>,
    },
    /// Revoke a key by its id.
    Revoke {
        /// The key's id (printed by `keys create`), not the key itself.
        key_id: String,
    },
}

/// Creates or revokes a key.
///
/// # Errors
/// When the webhook URL is refused, the database fails, or the key to revoke does not
/// exist.
pub async fn run(settings: &Settings, args: KeysArgs, json: bool) -> anyhow::Result<()> {
    if let KeysAction::Create {
        webhook_url: Some(url),
        webhook_secret,
        ..
    } = &args.action
    {
        check_webhook(settings, url, webhook_secret.as_deref()).await?;
    }
    if let KeysAction::Create {
        tenant: Some(tenant),
        ..
    } = &args.action
    {
        check_tenant(settings, tenant).await?;
    }
    let store = Store::new(super::open_database(settings).await?, Clock::System);
    match args.action {
        KeysAction::Create {
            tenant,
            admin: _,
            read_only,
            webhook_url,
            webhook_secret,
        } => {
            let access = if read_only {
                Access::ReadOnly
            } else {
                Access::Full
            };
            let (id, key) = store
                .create_api_key(&NewApiKey {
                    tenant: tenant.clone(),
                    webhook_url,
                    webhook_secret,
                    access,
                })
                .await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "id": id, "key": key, "tenant": tenant, "access": access.as_str() })
                );
            } else {
                eprintln!("created API key {id}");
                println!("{key}");
            }
        }
        KeysAction::Revoke { key_id } => {
            if !store.revoke_api_key(&key_id).await? {
                // A well-formed question with no answer, like `status` of no such run.
                anyhow::bail!("no live API key with id {key_id:?}");
            }
            if json {
                println!("{}", serde_json::json!({ "revoked": key_id }));
            } else {
                println!("revoked {key_id}");
            }
        }
    }
    store.db().close().await;
    Ok(())
}

/// A key is only made for a tenant the reports database knows: a key for any other
/// could enqueue nothing. A slug that no tenant could have is a usage error.
async fn check_tenant(settings: &Settings, tenant: &str) -> anyhow::Result<()> {
    TenantSlug::parse(tenant).map_err(|error| UsageError(error.to_string()))?;
    let reporter = super::open_reporter(settings, Clock::System).await?;
    // Reports may name tenants with different queries: any of them knowing it will do.
    for report in reporter.catalog().reports() {
        let known = reporter
            .known_tenant_id(&report.name, tenant)
            .await
            .context("looking the tenant up in the reports database")?;
        if known.is_some() {
            return Ok(());
        }
    }
    anyhow::bail!(
        "no tenant {tenant:?} in the reports database, so its key could run no report \
         (`quire seed` creates the demo tenants)"
    )
}

/// A webhook is checked before the key exists, so a mistake shows now rather than as
/// failed deliveries later.
async fn check_webhook(
    settings: &Settings,
    url: &str,
    secret: Option<&str>,
) -> Result<(), UsageError> {
    if secret.is_none_or(str::is_empty) {
        return Err(UsageError(WebhookUrlError::MissingSecret.to_string()));
    }
    settings
        .webhooks
        .check(url)
        .await
        .map_err(|error| UsageError(error.to_string()))
}
