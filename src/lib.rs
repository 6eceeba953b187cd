//! quire: a report-generation job runner.
//!
//! Map of the crate:
//! - [`app`]: the composition root: connects the parts from [`settings::Settings`] and
//!   hands out the API, the worker with its handlers and observers, and the loops
//!   beside it, to every command, the demo, the benchmarks and the tests.
//! - [`settings`]: typed settings from flags, environment, config file and defaults.
//! - [`telemetry`]: tracing set-up (pretty or JSON logs on stderr).
//! - [`db`]: SQLite, PostgreSQL and MySQL/MariaDB pools and migrations.
//! - [`clock`]: the clock that `:today` and timestamps come from, fixable in tests.
//! - [`seed`]: the deterministic demo invoicing data generator.
//! - [`catalog`]: report definitions (`reports/*.toml`), parameters, the SQL rewriter.
//! - [`report`]: runs one report: resolves the tenant, streams rows from the database
//!   (one reader per database under `report/source/`) into a writer, and publishes the
//!   finished file.
//! - [`writer`]: CSV and XLSX writers fed row by row off the async runtime.
//! - [`queue`]: the reliable Redis queue, on one server or a Redis Cluster; every
//!   transition is a Lua script, and a queue may be paused. Knows nothing about reports.
//! - [`worker`]: the worker runtime, its middleware chain and locks, around any
//!   [`worker::JobHandler`]. Knows nothing about reports.
//! - [`store`]: quire's own state in SQL: runs, download tokens, idempotency keys,
//!   API keys, webhook deliveries; each statement a file under `store/sql/`, bound
//!   through `store/statement.rs` (MySQL binds by position).
//! - [`storage`]: report files in a folder (written under a temporary name, synced,
//!   renamed) or an S3 bucket (built locally, then a multipart upload).
//! - [`runs`]: where reports meet the queue: enqueue, the report job handler,
//!   webhooks (and the policy of where they may go), and the sweep that keeps SQL,
//!   Redis and files in step.
//! - [`tls`]: rustls for outgoing HTTPS: the Mozilla roots plus an optional private CA.
//! - [`http`]: the JSON API on axum, downloads, health and metrics, and the dashboard
//!   (`http/dashboard/`: signed sessions, CSRF, server-rendered pages).
//! - [`bench`]: `quire bench`: the queue and report benchmarks of SPEC §7.
//! - [`cli`]: the `quire` command line; `main.rs` only dispatches to it.
//! - [`names`]: tenant slugs, report names, idempotency keys and download tokens,
//!   parsed once where a request enters.
//! - [`wire`]: [`RunView`], the JSON a run travels as: API answers and webhooks (the
//!   `quire-client` crate reads it into its own types); [`QueuesView`], what the queues
//!   hold; [`QueueState`], a queue paused or resumed.

pub mod app;
pub mod bench;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod db;
mod http;
mod names;
pub mod queue;
pub mod report;
pub mod runs;
pub mod seed;
pub mod settings;
pub mod storage;
pub mod store;
pub mod telemetry;
pub mod tls;
mod wire;
pub mod worker;
pub mod writer;

pub use names::{DownloadToken, IdempotencyKey, InvalidName, ReportName, TenantSlug};
pub use wire::{QueueState, QueueView, QueuesView, RunView, TenantCount};
