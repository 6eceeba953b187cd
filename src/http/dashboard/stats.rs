//! The overview's last hour: runs completed and failed per minute, drawn as an SVG bar
//! chart on the server (no script, no CDN), and wait and run time percentiles per
//! report. Both come from the runs table (see `store/runs/history.rs`), the one source
//! of truth, so they survive a Redis loss and agree with the runs list.

use std::collections::BTreeMap;

use maud::{Markup, html};

use crate::store::{MinuteCounts, RunTimes};

/// The span the overview looks back over.
pub(super) const HOUR_MS: i64 = 3_600_000;

/// At most this many of the hour's completed runs feed the percentiles, the newest:
/// a month-end hour of many thousands costs the overview no more than this.
pub(super) const TIMED_RUNS: i64 = 5_000;

/// Wait (enqueue → start) and run (start → end) time percentiles of one report.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Timings {
    pub report: String,
    pub runs: usize,
    pub wait_p50: i64,
    pub wait_p95: i64,
    pub run_p50: i64,
    pub run_p95: i64,
}

/// The nearest-rank `percent`th percentile of sorted `values`.
fn percentile(sorted: &[i64], percent: usize) -> i64 {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Percentiles per report, by report name.
pub(super) fn timings(runs: &[RunTimes]) -> Vec<Timings> {
    let mut by_report = BTreeMap::<&str, (Vec<i64>, Vec<i64>)>::new();
    for run in runs {
        let (waits, durations) = by_report.entry(&run.report).or_default();
        waits.push(run.started_at - run.created_at);
        durations.push(run.finished_at - run.started_at);
    }
    by_report
        .into_iter()
        .map(|(report, (mut waits, mut durations))| {
            waits.sort_unstable();
            durations.sort_unstable();
            Timings {
                report: report.to_owned(),
                runs: waits.len(),
                wait_p50: percentile(&waits, 50),
                wait_p95: percentile(&waits, 95),
                run_p50: percentile(&durations, 50),
                run_p95: percentile(&durations, 95),
            }
        })
        .collect()
}

/// Milliseconds as a person reads them.
pub(super) fn millis(ms: i64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// The last 60 minutes up to `now_ms` as bars: completed below, failed stacked above
/// in another colour and hatched, each with its counts as a tooltip; the same figures
/// follow as a table for screen readers and for anyone who wants numbers.
pub(super) fn chart(minutes: &BTreeMap<i64, MinuteCounts>, now_ms: i64) -> Markup {
    const SLOTS: i64 = 60;
    const BAR: i64 = 10;
    const HEIGHT: i64 = 120;
    let last = now_ms / 60_000;
    let slots: Vec<(i64, MinuteCounts)> = (last - SLOTS + 1..=last)
        .map(|minute| (minute, minutes.get(&minute).copied().unwrap_or_default()))
        .collect();
    let peak = slots
        .iter()
        .map(|(_, counts)| counts.completed + counts.failed)
        .max()
        .unwrap_or(0)
        .max(1);
    let height = |count: i64| count * HEIGHT / peak;
    let (completed, failed) = slots.iter().fold((0, 0), |(c, f), (_, counts)| {
        (c + counts.completed, f + counts.failed)
    });
    let clock = |minute: i64| {
        chrono::DateTime::from_timestamp(minute * 60, 0)
            .map(|at| at.format("%H:%M").to_string())
            .unwrap_or_default()
    };
    let summary = format!(
        "Runs per minute over the last hour: {completed} completed, {failed} failed; the busiest minute had {peak}."
    );
    html! {
        figure.chart {
            svg role="img" aria-label=(summary) viewBox={ "0 0 " (SLOTS * BAR) " " (HEIGHT + 16) } preserveAspectRatio="none" {
                defs {
                    pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" {
                        rect width="4" height="4" fill="#c0392b" {}
                        path d="M0,4 L4,0" stroke="#fff" stroke-width="1" {}
                    }
                }
                @for (index, (minute, counts)) in slots.iter().enumerate() {
                    @let x = index as i64 * BAR;
                    @let done = height(counts.completed);
                    @let bad = height(counts.failed);
                    g {
                        title { (clock(*minute)) ": " (counts.completed) " completed, " (counts.failed) " failed" }
                        rect x=(x) y=(HEIGHT - done) width=(BAR - 2) height=(done) fill="#2e7d4f" {}
                        rect x=(x) y=(HEIGHT - done - bad) width=(BAR - 2) height=(bad) fill="url(#hatch)" {}
                    }
                }
                line x1="0" y1=(HEIGHT) x2=(SLOTS * BAR) y2=(HEIGHT) stroke="#555" {}
                text x="0" y=(HEIGHT + 14) font-size="11" { (clock(last - SLOTS + 1)) }
                text x=(SLOTS * BAR) y=(HEIGHT + 14) font-size="11" text-anchor="end" { (clock(last)) }
            }
            figcaption {
                (summary) " "
                span.key.completed { "solid green: completed" } " · "
                span.key.failed { "hatched red: failed" }
            }
        }
        details {
            summary { "Per-minute figures" }
            table {
                caption { "Runs per minute, last hour (minutes with runs)" }
                thead { tr { th scope="col" { "Minute (UTC)" } th scope="col" { "Completed" } th scope="col" { "Failed" } } }
                tbody {
                    @for (minute, counts) in slots.iter().filter(|(_, c)| c.completed + c.failed > 0) {
                        tr { th scope="row" { (clock(*minute)) } td.number { (counts.completed) } td.number { (counts.failed) } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(report: &str, wait: i64, run: i64) -> RunTimes {
        RunTimes {
            report: report.to_owned(),
            created_at: 1_000,
            started_at: 1_000 + wait,
            finished_at: 1_000 + wait + run,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank_per_report() {
        let mut runs: Vec<RunTimes> = (1..=100).map(|i| times("a", i, i * 10)).collect();
        runs.push(times("b", 7, 70));
        let all = timings(&runs);
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[0],
            Timings {
                report: "a".into(),
                runs: 100,
                wait_p50: 50,
                wait_p95: 95,
                run_p50: 500,
                run_p95: 950,
            }
        );
        assert_eq!((all[1].runs, all[1].wait_p50, all[1].run_p95), (1, 7, 70));
    }

    #[test]
    fn the_chart_has_a_bar_per_minute_and_says_its_totals() {
        let now = 120 * 60_000 + 30_000;
        let minutes = BTreeMap::from([
            (
                120,
                MinuteCounts {
                    completed: 4,
                    failed: 1,
                },
            ),
            (
                61,
                MinuteCounts {
                    completed: 2,
                    failed: 0,
                },
            ),
            // Older than the hour shown: left out.
            (
                60,
                MinuteCounts {
                    completed: 9,
                    failed: 9,
                },
            ),
        ]);
        let svg = chart(&minutes, now).into_string();
        assert_eq!(svg.matches("<g>").count(), 60);
        assert!(
            svg.contains("6 completed, 1 failed; the busiest minute had 5"),
            "{svg}"
        );
        assert!(svg.contains("02:00: 4 completed, 1 failed"), "{svg}");
    }
}
