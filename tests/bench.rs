//! `quire bench` keeps working: each benchmark runs the real binary at a tiny size and
//! ends with a summary line that parses. Full-size runs never happen inside
//! `cargo test`; see PERFORMANCE.md for those.

use std::process::Command;

use quire::bench::Summary;

/// Runs `quire bench ARGS` and returns its summary line, parsed.
fn bench(args: &[&str]) -> Summary {
    let output = Command::new(env!("CARGO_BIN_EXE_quire"))
        .arg("bench")
        .args(args)
        .env_remove("DATABASE_URL")
        .env("QUIRE_LOG", "warn")
        .output()
        .expect("run quire bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "quire bench {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout.lines().last().expect("a summary line");
    Summary::parse(line).unwrap_or_else(|| panic!("not a summary line: {line:?}"))
}

fn number(summary: &Summary, key: &str) -> f64 {
    summary
        .get(key)
        .unwrap_or_else(|| panic!("{key} missing from {}", summary.line()))
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {}", summary.line()))
}

#[test]
fn the_queue_benchmark_runs_every_job_and_reports_its_rates() {
    let summary = bench(&["queue", "--jobs", "200", "--samples", "20"]);
    assert_eq!(summary.get("bench"), Some("queue"));
    assert_eq!(number(&summary, "jobs"), 200.0);
    for key in [
        "enqueue_jobs_per_s",
        "process_jobs_per_s",
        "latency_p50_ms",
        "latency_p99_ms",
    ] {
        assert!(number(&summary, key) > 0.0, "{key}");
    }
    assert!(number(&summary, "latency_p50_ms") <= number(&summary, "latency_p99_ms"));
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
