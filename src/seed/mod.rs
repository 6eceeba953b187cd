//! `quire seed`: deterministic demo invoicing data, realistic and hostile.
//!
//! Each tenant gets clients with contacts, products, invoices with line items and
//! several tax rates, partial and full payments allocated to invoices, quotes, credits,
//! and expenses with vendors and categories. Text fields carry quotes, commas, newlines,
//! non-Latin scripts, emoji and formula-like values ([`HOSTILE_NAMES`]), optional
//! columns hold NULLs, and one invoice item of every tenant has a description longer
//! than an XLSX cell ([`LONG_DESCRIPTION_CHARS`]).
//!
//! The data obeys the invariants the reports rely on: an invoice's net and tax are the
//! sums of its items' and its total is net + tax; its paid amount is the sum of its
//! payment allocations and its balance is total − paid (draft and void invoices keep
//! their balance: reports leave them out by status); `paid` means nothing is owed,
//! `partial` that something was paid and something is owed, `draft`, `sent` and `void`
//! that nothing was paid. As of the anchor date every aging bucket (current, 1–30,
//! 31–60, 61–90, 91–120 and over 120 days overdue) holds `sent` and `partial` invoices
//! with a balance, whatever the seed, once a tenant has at least 13 invoices.
//!
//! Submodules: `rng` the seeded generator, `profile` who the tenants are, `text` the
//! words, `generate` rows as Rust values, `rows` their shape, `write` the batched
//! inserts into SQLite, PostgreSQL or MySQL.

mod generate;
mod profile;
mod rng;
mod rows;
mod text;
mod write;

use chrono::NaiveDate;
use tokio::sync::mpsc;

pub use text::{HOSTILE_NAMES, LONG_DESCRIPTION_CHARS};

use crate::db::Db;
use write::Writer;

/// The date the demo data is generated around, unless told otherwise: invoices span
/// the two years before it, and aging is arranged as of this day.
pub const DEFAULT_ANCHOR: NaiveDate = match NaiveDate::from_ymd_opt(2026, 6, 30) {
    Some(date) => date,
    None => panic!("2026-06-30 is a date"),
};

/// What `quire seed` generates.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// How many tenants: `acme`, `globex`, `initech`, `umbrella`, `soylent`, then
    /// `tenant-6`, `tenant-7`, ...
    pub tenants: u32,
    /// Invoices per tenant; clients, products, payments, quotes, credits and expenses
    /// grow with it.
    pub invoices_per_tenant: u32,
    /// Seed of the random generator: the same seed, sizes and anchor give the same data.
    pub seed: u64,
    /// The "today" of the data; report tests fix `:today` to it.
    pub anchor: NaiveDate,
}

impl Default for SeedOptions {
    fn default() -> SeedOptions {
        SeedOptions {
            tenants: 3,
            invoices_per_tenant: 200,
            seed: 42,
            anchor: DEFAULT_ANCHOR,
        }
    }
}

/// A failure while seeding.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// A statement failed in the target database.
    #[error("writing demo data failed: {0}")]
    Sql(#[from] sqlx::Error),
    /// The database holds tables quire did not create, so it is someone's own database:
    /// the demo schema is not put beside them.
    #[error(
        "refusing to install the demo schema into a database that holds tables quire did \
         not create ({}); seed an empty database instead",
        .0.join(", ")
    )]
    ForeignTables(Vec<String>),
    /// The demo schema could not be installed.
    #[error("installing the demo schema failed: {0}")]
    Schema(#[from] crate::db::DbError),
}

/// Installs or updates the demo invoicing schema in `db`, unless `db` holds tables
/// that are neither quire's own (`quire_*`) nor the demo schema it installed before.
///
/// # Errors
/// [`SeedError::ForeignTables`] for such a database; otherwise when it cannot be
/// read or migrated.
pub async fn install_schema(db: &Db) -> Result<(), SeedError> {
    let schema = &crate::db::DEMO_SCHEMA;
    let tables = db.table_names().await?;
    // The demo schema's history table marks a database whose demo tables quire made.
    if !tables.iter().any(|table| table == schema.history_table()) {
        let foreign: Vec<String> = tables
            .into_iter()
            .filter(|table| !table.starts_with("quire_"))
            .collect();
        if !foreign.is_empty() {
            return Err(SeedError::ForeignTables(foreign));
        }
    }
    db.apply(schema).await?;
    Ok(())
}

/// Installs the demo schema ([`install_schema`]), generates the demo data and returns
/// the tenant slugs it created, in order.
///
/// Seeding is repeatable in place: a tenant whose slug already exists is deleted with
/// all its data and generated again, so running it twice leaves what running it once
/// does, and other tenants are left alone. Ids are chosen by the seed, following the
/// largest ids already present (PostgreSQL's sequences are moved past them afterwards),
/// so two seeds into fresh databases give identical tables.
///
/// On PostgreSQL the seed is one transaction. On SQLite each batch of invoices is its
/// own, so an interrupted seed can leave a partial tenant, which the next seed replaces.
///
/// # Errors
/// When the database cannot be written.
pub async fn seed(db: &Db, options: &SeedOptions) -> Result<Vec<String>, SeedError> {
    install_schema(db).await?;
    let tenants: Vec<_> = (0..options.tenants as usize).map(profile::tenant).collect();
    let slugs: Vec<String> = tenants.iter().map(|(slug, _)| slug.clone()).collect();
    let (mut writer, ids) = Writer::start(db, &slugs).await?;
    // Rows are generated on a blocking thread while the previous batch is written.
    let (batches, mut received) = mpsc::channel(1);
    let options = options.clone();
    let generator =
        tokio::task::spawn_blocking(move || generate::generate(&options, &tenants, ids, batches));
    while let Some(batch) = received.recv().await {
        writer.write(&batch).await?;
    }
    if let Err(error) = generator.await {
        // The generator only stops early when it panics: a bug to surface, not data to
        // commit half-made.
        std::panic::resume_unwind(error.into_panic());
    }
    writer.finish().await?;
    Ok(slugs)
}
