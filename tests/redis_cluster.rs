//! The queue and worker suites again, on a Redis Cluster of this binary's own (3
//! masters, a replica each; see `cluster/harness.rs`; run alone with `cargo test --test redis_cluster`), plus what only a cluster shows:
//! prefixes spread over masters, and a master failing over mid-run.
//!
//! The suites that start, stop or empty a redis-server of their own (outage, and the
//! fairness test that counts commands on a private server) also run here, on their
//! single server; the rest runs on the cluster through `redis+cluster://` seed nodes.

mod common;

/// The cluster every test of this binary shares, each test on its own prefix.
fn redis_url() -> String {
    cluster::harness::shared().to_owned()
}

mod cluster {
    pub(crate) mod harness;

    mod failover;
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
