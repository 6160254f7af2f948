//! Admin dump parser throughput: a generated `/stats` dump and a `/stats/prometheus`
//! dump of about 50,000 lines each, shaped like a large mesh's sidecar: hundreds of
//! Istio clusters (subsets, inbound, 1.23 `;` names) with their counters, gauges,
//! circuit breakers, outlier detection, TLS and router stats, and latency histograms.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use meshlog_parsers::admin::{prometheus, stats_text};

const LINES: usize = 50_000;

/// Per-cluster scalar stats of the `/stats` dump.
const CLUSTER_STATS: [&str; 44] = [
    "assignment_stale",
    "bind_errors",
    "circuit_breakers.default.cx_open",
    "circuit_breakers.default.remaining_rq",
    "circuit_breakers.default.rq_open",
    "circuit_breakers.default.rq_pending_open",
    "circuit_breakers.high.rq_open",
    "default.total_match_count",
    "external.upstream_rq_200",
    "external.upstream_rq_2xx",
    "external.upstream_rq_completed",
    "internal.upstream_rq_503",
    "lb_healthy_panic",
    "max_host_weight",
    "membership_change",
    "membership_healthy",
    "membership_total",
    "outlier_detection.ejections_active",
    "outlier_detection.ejections_enforced_consecutive_5xx",
    "outlier_detection.ejections_enforced_total",
    "ssl.handshake",
    "ssl.versions.TLSv1.3",
    "ssl.ciphers.TLS_AES_128_GCM_SHA256",
    "tlsMode-istio.total_match_count",
    "update_attempt",
    "update_success",
    "upstream_cx_active",
    "upstream_cx_connect_fail",
    "upstream_cx_destroy_remote",
    "upstream_cx_http2_total",
    "upstream_cx_rx_bytes_total",
    "upstream_cx_total",
    "upstream_cx_tx_bytes_total",
    "upstream_rq_200",
    "upstream_rq_2xx",
    "upstream_rq_503",
    "upstream_rq_5xx",
    "upstream_rq_active",
    "upstream_rq_completed",
    "upstream_rq_pending_active",
    "upstream_rq_retry",
    "upstream_rq_timeout",
    "upstream_rq_total",
    "version",
];

const PERCENTILES: &str = "P0(nan,1) P25(nan,2.05) P50(3.1,3.1) P75(5.25,6.2) P90(9.4,11.8) \
    P95(14.7,19.5) P99(57.3,98.4) P99.5(99,120) P99.9(240,250) P100(250,250)";

const BUCKETS: &str = "B0.5(0,0) B1(0,3) B5(2,812) B10(3,1340) B25(3,1699) B50(3,1790) B100(3,1811) \
    B250(3,1815) B500(3,1818) B1000(3,1840) B2500(3,1849) B5000(3,1849) B10000(3,1849) \
    B30000(3,1849) B60000(3,1849) B300000(3,1849) B600000(3,1849) B1.8e+06(3,1849) B3.6e+06(3,1849)";

/// The Envoy cluster name of the `index`th cluster: outbound with and without subsets,
/// inbound, and every fifth with Istio 1.23's `;`.
fn cluster_name(index: usize) -> String {
    let name = match index % 4 {
        0 => format!("outbound|9080||svc-{index}.ns-{}.svc.cluster.local", index % 37),
        1 => format!(
            "outbound|8080|v{}|svc-{index}.ns-{}.svc.cluster.local",
            index % 3 + 1,
            index % 37
        ),
        2 => format!("outbound|443||api-{index}.partner-{}.example.com", index % 11),
        _ => format!("inbound|{}||", 8000 + index % 1000),
    };
    if index.is_multiple_of(5) { format!("{name};") } else { name }
}

fn stats_dump() -> String {
    let mut out = String::new();
    let mut lines = 0;
    for index in 0.. {
        let cluster = cluster_name(index);
        for (n, stat) in CLUSTER_STATS.iter().enumerate() {
            let _ = writeln!(out, "cluster.{cluster}.{stat}: {}", index * 7 + n);
        }
        let _ = writeln!(out, "cluster.{cluster}.upstream_rq_time: {PERCENTILES}");
        let _ = writeln!(out, "cluster.{cluster}.upstream_cx_connect_ms: {BUCKETS}");
        let _ = writeln!(out, "cluster.{cluster}.upstream_cx_length_ms: No recorded values");
        lines += CLUSTER_STATS.len() + 3;
        if lines >= LINES {
            break;
        }
    }
    out
}

/// Per-cluster Prometheus families (Istio's tag names) and their types.
const FAMILIES: [(&str, &str, &str); 20] = [
    ("envoy_cluster_assignment_stale", "counter", ""),
    ("envoy_cluster_circuit_breakers_default_cx_open", "gauge", ""),
    ("envoy_cluster_circuit_breakers_default_rq_open", "gauge", ""),
    ("envoy_cluster_circuit_breakers_default_remaining_rq", "gauge", ""),
    ("envoy_cluster_lb_healthy_panic", "counter", ""),
    ("envoy_cluster_membership_healthy", "gauge", ""),
    ("envoy_cluster_membership_total", "gauge", ""),
    ("envoy_cluster_outlier_detection_ejections_active", "gauge", ""),
    ("envoy_cluster_outlier_detection_ejections_enforced_total", "counter", ""),
    ("envoy_cluster_ssl_handshake", "counter", ""),
    ("envoy_cluster_upstream_cx_active", "gauge", ""),
    ("envoy_cluster_upstream_cx_connect_fail", "counter", ""),
    ("envoy_cluster_upstream_cx_total", "counter", ""),
    ("envoy_cluster_upstream_rq", "counter", "response_code_class=\"2xx\","),
    ("envoy_cluster_upstream_rq", "counter", "response_code_class=\"5xx\","),
    ("envoy_cluster_upstream_rq", "counter", "response_code=\"200\","),
    ("envoy_cluster_upstream_rq", "counter", "response_code=\"503\","),
    ("envoy_cluster_upstream_rq_retry", "counter", ""),
    ("envoy_cluster_upstream_rq_timeout", "counter", ""),
    ("envoy_cluster_upstream_rq_total", "counter", ""),
];

const LE: [&str; 20] = [
    "0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000",
    "30000", "60000", "300000", "600000", "1800000", "3600000", "+Inf",
];

fn prometheus_dump() -> String {
    let per_cluster = FAMILIES.len() + LE.len() + 2;
    let clusters: Vec<String> = (0..LINES / per_cluster).map(cluster_name).collect();
    let mut out = String::new();
    for (family, kind, labels) in FAMILIES {
        let _ = writeln!(out, "# TYPE {family} {kind}");
        for (index, cluster) in clusters.iter().enumerate() {
            let _ = writeln!(out, "{family}{{{labels}cluster_name=\"{cluster}\"}} {}", index * 3);
        }
        out.push('\n');
    }
    let _ = writeln!(out, "# TYPE envoy_cluster_upstream_rq_time histogram");
    for cluster in &clusters {
        for (n, le) in LE.iter().enumerate() {
            let _ = writeln!(
                out,
                "envoy_cluster_upstream_rq_time_bucket{{cluster_name=\"{cluster}\",le=\"{le}\"}} {}",
                n * 90
            );
        }
        let _ = writeln!(
            out,
            "envoy_cluster_upstream_rq_time_sum{{cluster_name=\"{cluster}\"}} 27401.5"
        );
        let _ = writeln!(
            out,
            "envoy_cluster_upstream_rq_time_count{{cluster_name=\"{cluster}\"}} 1710"
        );
    }
    out
}

fn bench_dump(
    c: &mut Criterion,
    name: &str,
    dump: &str,
    parse: fn(&str) -> meshlog_parsers::admin::StatsDump,
) {
    let parsed = parse(dump);
    assert!(parsed.issues.is_empty(), "{:?}", parsed.issues.first());
    let mut group = c.benchmark_group("admin");
    group.throughput(Throughput::Elements(dump.lines().count() as u64));
    group.sample_size(30);
    group.bench_function(name, |b| b.iter(|| black_box(parse(black_box(dump)))));
    group.finish();
}

fn admin_bench(c: &mut Criterion) {
    bench_dump(c, "stats_text", &stats_dump(), stats_text::parse);
    bench_dump(c, "prometheus", &prometheus_dump(), prometheus::parse);
}

criterion_group!(benches, admin_bench);
criterion_main!(benches);
