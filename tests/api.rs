//! The HTTP API and report runs end to end: the real API and workers against Redis,
//! PostgreSQL, SQLite and MariaDB.

mod common;

/// The shared development Redis every test of this binary uses, each on its own prefix.
fn redis_url() -> String {
    "redis://127.0.0.1:6379".to_owned()
}

#[path = "api/helpers.rs"]
mod helpers;
#[path = "common/webdriver.rs"]
mod webdriver;

#[path = "api/browser.rs"]
mod browser;
#[path = "api/client.rs"]
mod client;
#[path = "api/dashboard.rs"]
mod dashboard;
#[path = "api/downloads.rs"]
mod downloads;
#[path = "api/enqueue.rs"]
mod enqueue;
#[path = "api/hosts.rs"]
mod hosts;
#[path = "api/lifecycle.rs"]
mod lifecycle;
#[path = "api/limits.rs"]
mod limits;
#[path = "api/mysql.rs"]
mod mysql;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/outage.rs"]
mod outage;
#[path = "api/processes.rs"]
mod processes;
#[path = "api/queues.rs"]
mod queues;
#[path = "api/reload.rs"]
mod reload;
#[path = "api/reuse.rs"]
mod reuse;
#[path = "api/storage.rs"]
mod storage;
#[path = "api/webhooks.rs"]
mod webhooks;
