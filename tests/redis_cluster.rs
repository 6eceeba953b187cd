//! The queue and worker suites, the API's run lifecycle suite (Redis losing its data,
//! the Invoice Ninja lock regression, dead runs and retries) and the dashboard's pages
//! again, on a Redis
//! Cluster of this binary's own (3 masters, a replica each; see `cluster/harness.rs`),
//! plus what only a cluster shows: prefixes spread over masters, a master failing
//! over mid-run, and a cluster reached over TLS. Run alone with `cargo test --test redis_cluster`.
//!
//! The outage suite is left out: it stops and empties a redis-server of its own, as do
//! a few lifecycle and fairness tests, which run here on that single server.

mod common;

/// The cluster every test of this binary shares, each test on its own prefix.
fn redis_url() -> String {
    cluster::harness::shared().to_owned()
}

// The API's helpers serve more suites than run here.
#[path = "api/dashboard.rs"]
mod dashboard;
#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/lifecycle.rs"]
mod lifecycle;

mod cluster {
    pub(crate) mod harness;

    mod bench;
    mod failover;
    mod tls;
}

mod queue {
    pub(crate) mod helpers;

    mod concurrency;
    mod crash;
    mod failed;
    mod fairness;
    mod fencing;
    mod lease;
    mod lifecycle;
    mod locks;
    mod observers;
    mod poison;
    mod restart;
    mod retries;
    mod scheduling;
    mod shutdown;
}
