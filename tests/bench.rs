//! `quire bench` at tiny sizes, so the benchmarks keep working; their figures are
//! measured in release builds, never asserted here.

use std::collections::HashMap;
use std::process::Command;

/// Runs `quire bench ARGS` and returns its summary line's `key=value` pairs.
fn bench(args: &[&str]) -> HashMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_quire"))
        .arg("bench")
        .args(args)
        .current_dir(dir.path())
        .env_remove("QUIRE_CONFIG")
        .env(
            "QUIRE_PREFIX",
            format!("test-{}", uuid::Uuid::now_v7().simple()),
        )
        .env("QUIRE_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = stdout.lines().last().expect("a summary line");
    summary
        .split_whitespace()
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("{pair:?} in {summary}"));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

fn positive(summary: &HashMap<String, String>, key: &str) {
    let value: f64 = summary[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key} in {summary:?}"));
    assert!(value > 0.0, "{key} in {summary:?}");
}

#[test]
fn the_queue_benchmark_runs_and_prints_its_summary() {
    let summary = bench(&[
        "queue",
        "--jobs",
        "200",
        "--concurrency",
        "4",
        "--samples",
        "20",
    ]);
    assert_eq!(summary["bench"], "queue");
    for key in [
        "enqueue_jobs_per_s",
        "process_jobs_per_s",
        "latency_p50_ms",
        "latency_p99_ms",
    ] {
        positive(&summary, key);
    }
}

#[test]
fn the_report_benchmark_runs_for_both_formats_and_databases() {
    for (format, database) in [("csv", "postgres"), ("xlsx", "sqlite")] {
        let summary = bench(&[
            "report",
            "--rows",
            "500",
            "--format",
            format,
            "--database",
            database,
            "--runs",
            "1",
        ]);
        assert_eq!(summary["bench"], "report");
        assert_eq!(summary["rows"], "500");
        for key in ["rows_per_s", "baseline_rows_per_s", "peak_rss_mib"] {
            positive(&summary, key);
        }
    }
}
