//! Integration tests of the queue and the worker runtime against a real Redis
//! (127.0.0.1:6379, a random key prefix per test; outage tests start their own server).

mod common;

/// The shared development Redis every test of this binary uses, each on its own prefix.
fn redis_url() -> String {
    "redis://127.0.0.1:6379".to_owned()
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
    mod outage;
    mod poison;
    mod restart;
    mod retries;
    mod scheduling;
    mod shutdown;
}
