//! `quire bench` keeps working: each benchmark runs the real binary at a tiny size and
//! ends with a summary line that parses. Full-size runs never happen inside
//! `cargo test`; see PERFORMANCE.md for those.

mod common;

use common::{S3_ACCESS_KEY, S3_SECRET_KEY, S3Server, bench, bench_with, number};

#[test]
fn the_queue_benchmark_runs_every_job_and_reports_its_rates() {
    let summary = bench(&["queue", "--jobs", "200", "--samples", "20"]);
    assert_eq!(summary.get("bench"), Some("queue"));
    assert_eq!(number(&summary, "jobs"), 200.0);
    for key in [
        "enqueue_jobs_per_s",
        "process_jobs_per_s",
        "fair1_process_jobs_per_s",
        "fair1000_process_jobs_per_s",
        "latency_p50_ms",
        "latency_p99_ms",
        "stop_when_empty_p50_ms",
        "shutdown_idle_p50_ms",
    ] {
        assert!(number(&summary, key) > 0.0, "{key}");
    }
    assert!(number(&summary, "latency_p50_ms") <= number(&summary, "latency_p99_ms"));
}

/// `--storage file,s3` measures quire's file written locally and uploaded to the bucket
/// QUIRE_STORAGE_URL names (as a run does, and deleted after the phase) in one run.
#[tokio::test]
async fn the_report_benchmark_measures_a_file_and_a_bucket_upload_in_one_run() {
    let server = S3Server::start().await;
    server.create_bucket("bench");
    let endpoint = server.endpoint();
    let args = [
        "report",
        "--rows",
        "500",
        "--runs",
        "1",
        "--database",
        "sqlite",
    ];
    let summary = bench_with(
        &[&args[..], &["--storage", "file,s3"]].concat(),
        &[
            ("QUIRE_STORAGE_URL", "s3://bench/phases"),
            ("QUIRE_S3_ENDPOINT", &endpoint),
            ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY),
        ],
    );
    assert_eq!(summary.get("storage"), Some("file,s3"));
    assert_eq!(number(&summary, "rows"), 500.0);
    for storage in ["file", "s3"] {
        assert!(number(&summary, &format!("{storage}_seconds")) > 0.0);
        assert!(number(&summary, &format!("{storage}_peak_rss_mib")) > 0.0);
    }
    assert_eq!(summary.get("seconds"), summary.get("file_seconds"));
    assert_eq!(server.objects("bench"), Vec::<String>::new(), "deleted");
    assert_eq!(server.open_uploads(), Vec::<std::path::PathBuf>::new());
}

#[test]
fn the_report_benchmark_runs_on_each_database_and_format() {
    for args in [
        ["--format", "csv", "--database", "postgres"],
        ["--format", "xlsx", "--database", "postgres"],
        ["--format", "csv", "--database", "sqlite"],
    ] {
        let mut all = vec!["report", "--rows", "500", "--runs", "1"];
        all.extend_from_slice(&args);
        let summary = bench(&all);
        assert_eq!(summary.get("bench"), Some("report"));
        assert_eq!(number(&summary, "rows"), 500.0);
        assert!(number(&summary, "rows_per_s") > 0.0);
        assert!(number(&summary, "baseline_rows_per_s") > 0.0);
        assert!(number(&summary, "peak_rss_mib") > 0.0);
        let expected_copy = args[3] == "postgres";
        assert_eq!(
            summary.get("copied"),
            Some(expected_copy.to_string().as_str()),
            "{args:?}"
        );
    }
}

#[test]
fn the_end_to_end_benchmark_downloads_every_report_on_each_database() {
    for database in ["sqlite", "postgres", "mysql"] {
        let summary = bench(&["e2e", "--samples", "5", "--database", database]);
        assert_eq!(summary.get("bench"), Some("e2e"));
        assert_eq!(summary.get("database"), Some(database));
        assert_eq!(number(&summary, "samples"), 5.0);
        // The seeded windows hold about ten invoices each; none is empty on average.
        assert!(number(&summary, "rows_mean") > 1.0, "{}", summary.line());
        let (p50, p99) = (number(&summary, "p50_ms"), number(&summary, "p99_ms"));
        assert!(0.0 < p50 && p50 <= p99, "{}", summary.line());
        assert!(p99 <= number(&summary, "max_ms"));
        // Enqueueing is part of the end-to-end time, never more than it.
        assert!(number(&summary, "enqueue_p50_ms") <= number(&summary, "max_ms"));
        assert_eq!(number(&summary, "target_p50_ms"), 20.0);
        assert!(matches!(summary.get("target_met"), Some("true" | "false")));
    }
}

#[test]
fn the_storm_benchmark_drains_both_modes_and_reports_their_waits() {
    let summary = bench(&[
        "storm",
        "--burst",
        "20",
        "--others",
        "3",
        "--invoices",
        "730",
    ]);
    assert_eq!(summary.get("bench"), Some("storm"));
    assert_eq!(
        (number(&summary, "burst"), number(&summary, "others")),
        (20.0, 3.0)
    );
    assert!(number(&summary, "rows_mean") > 1.0, "{}", summary.line());
    for mode in ["fair", "fifo"] {
        let (p50, p99) = (
            number(&summary, &format!("{mode}_start_p50_ms")),
            number(&summary, &format!("{mode}_start_p99_ms")),
        );
        assert!(p50 <= p99, "{}", summary.line());
        assert!(number(&summary, &format!("{mode}_drain_s")) > 0.0);
    }
}

#[test]
fn the_dashboard_benchmark_times_the_overview_and_counts_what_it_costs() {
    for database in ["sqlite", "postgres"] {
        let summary = bench(&[
            "dashboard",
            "--runs",
            "2000",
            "--requests",
            "5",
            "--database",
            database,
        ]);
        assert_eq!(summary.get("bench"), Some("dashboard"));
        assert_eq!(summary.get("database"), Some(database));
        let (p50, p95) = (
            number(&summary, "overview_p50_ms"),
            number(&summary, "overview_p95_ms"),
        );
        assert!(0.0 < p50 && p50 <= p95, "{}", summary.line());
        // The session's key, the latest runs, runs by status, the hour's minutes and
        // its timings: counted in the process, so exact whatever else runs.
        assert_eq!(
            number(&summary, "sql_per_overview"),
            5.0,
            "{}",
            summary.line()
        );
        assert!(
            number(&summary, "redis_per_overview") >= 1.0,
            "{}",
            summary.line()
        );
        assert!(number(&summary, "filtered_p50_ms") > 0.0);
    }
}
