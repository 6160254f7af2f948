//! Golden tests for the `/stats` and `/stats/prometheus` parsers: every file under
//! `samples/admin/` read whole, one snapshot per file with one line per row
//! (`cluster | stat = value (kind)`) and then the issues, so a change in how any
//! statistic reads shows up in review. Also checks that both layouts name the same
//! statistic the same way.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use meshlog_parsers::admin::{StatSample, StatsDump, prometheus, stats_text};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/admin")
}

fn read(file: &str) -> String {
    std::fs::read_to_string(samples().join(file)).expect("sample exists")
}

/// One line per sample, then one per issue.
fn describe(dump: &StatsDump) -> String {
    let mut out = String::new();
    for sample in &dump.samples {
        writeln!(out, "{}", describe_sample(sample)).expect("writes to a String");
    }
    for issue in &dump.issues {
        writeln!(out, "ISSUE {issue}").expect("writes to a String");
    }
    out
}

fn describe_sample(sample: &StatSample) -> String {
    let cluster = sample.envoy_cluster.as_deref().unwrap_or("-");
    let value = match (&sample.text, sample.value) {
        (Some(text), _) => format!("{text:?}"),
        (None, Some(value)) if value.is_infinite() => {
            if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
        }
        (None, Some(value)) => value.to_string(),
        (None, None) => "None".to_owned(),
    };
    format!("{cluster} | {} = {value} ({})", sample.stat, sample.kind.as_str())
}

#[test]
fn stats_text_sidecar() {
    let dump = stats_text::parse(&read("stats.txt"));
    assert!(dump.issues.is_empty(), "{:?}", dump.issues);
    insta::assert_snapshot!(describe(&dump));
}

#[test]
fn stats_text_istio_1_23_semicolon_names() {
    let dump = stats_text::parse(&read("stats-istio-1.23.txt"));
    assert!(dump.issues.is_empty(), "{:?}", dump.issues);
    assert!(
        dump.samples.iter().filter_map(|s| s.envoy_cluster.as_deref()).all(|c| !c.ends_with(';'))
    );
    insta::assert_snapshot!(describe(&dump));
}

#[test]
fn prometheus_merged_scrape() {
    let dump = prometheus::parse(&read("stats-prometheus.txt"));
    assert!(dump.issues.is_empty(), "{:?}", dump.issues);
    insta::assert_snapshot!(describe(&dump));
}

/// (cluster, stat, value) of every sample of a one-line dump.
fn keys(dump: StatsDump) -> Vec<(Option<String>, String, Option<f64>)> {
    assert!(dump.issues.is_empty(), "{:?}", dump.issues);
    dump.samples.into_iter().map(|s| (s.envoy_cluster, s.stat, s.value)).collect()
}

#[test]
fn both_layouts_name_histogram_buckets_alike() {
    let text =
        "cluster.outbound|80||x.ns.svc.cluster.local;.upstream_rq_time: B0.5(0,1) B1.8e+06(0,4)";
    let prom = "envoy_cluster_upstream_rq_time_bucket{cluster_name=\"outbound|80||x.ns.svc.cluster.local;\",le=\"0.5\"} 1\n\
                envoy_cluster_upstream_rq_time_bucket{le=\"1800000\",cluster_name=\"outbound|80||x.ns.svc.cluster.local\"} 4";
    assert_eq!(keys(stats_text::parse(text)), keys(prometheus::parse(prom)));
}

#[test]
fn both_layouts_name_percentiles_like_a_prometheus_summary() {
    let text = "cluster.c.upstream_rq_time: P50(nan,3) P99.9(nan,7)";
    let prom = "envoy_cluster_upstream_rq_time{envoy_cluster_name=\"c\",quantile=\"0.5\"} 3\n\
                envoy_cluster_upstream_rq_time{envoy_cluster_name=\"c\",quantile=\"0.999\"} 7";
    assert_eq!(keys(stats_text::parse(text)), keys(prometheus::parse(prom)));
}

#[test]
fn both_layouts_name_plain_counters_alike() {
    let text = "cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_cx_total: 48";
    let prom = "envoy_cluster_upstream_cx_total{cluster_name=\"outbound|9080||reviews.default.svc.cluster.local\"} 48";
    assert_eq!(keys(stats_text::parse(text)), keys(prometheus::parse(prom)));
}

#[test]
fn feeding_one_format_to_the_other_parser_gives_issues_not_panics() {
    let text = read("stats.txt");
    let prom = read("stats-prometheus.txt");
    let as_prom = prometheus::parse(&text);
    assert!(as_prom.samples.is_empty());
    assert_eq!(as_prom.issues.len(), text.lines().count());
    let as_text = stats_text::parse(&prom);
    assert!(!as_text.issues.is_empty());
}
