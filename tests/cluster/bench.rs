//! `quire bench queue --cluster` measures the cluster beside the single server, in one
//! run of the real binary at a tiny size.

use crate::common::{bench, number};

#[test]
fn the_queue_benchmark_measures_the_cluster_beside_the_single_server() {
    let cluster = super::harness::shared();
    let summary = bench(&[
        "queue",
        "--jobs",
        "200",
        "--samples",
        "20",
        "--cluster",
        cluster,
    ]);
    for key in [
        "process_jobs_per_s",
        "cluster_enqueue_jobs_per_s",
        "cluster_process_jobs_per_s",
        "cluster_fair1_process_jobs_per_s",
        "cluster_fair1000_process_jobs_per_s",
        "cluster_latency_p50_ms",
    ] {
        assert!(number(&summary, key) > 0.0, "{key}");
    }
    assert!(
        number(&summary, "cluster_latency_p50_ms") <= number(&summary, "cluster_latency_p99_ms")
    );
}
