//! Generated, realistic access-log lines for benchmarks and profiling: varied user
//! agents, flags, local and cross-cluster upstream hosts, rendered with the presets.

use meshlog_parsers::{AccessLogRecord, Format, Timestamp, presets};

const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/107.0.0.0 Safari/537.36",
    "curl/8.4.0",
    "grpc-go/1.58.3",
    "Go-http-client/1.1",
];
const HOSTS: [&str; 4] =
    ["10.112.0.68:8080", "10.112.3.17:8080", "34.168.157.2:15443", "10.96.4.2:9080"];
const CLUSTERS: [&str; 3] = [
    "outbound|80||frontend.mycompany.mesh",
    "outbound|9080|v2|reviews.default.svc.cluster.local",
    "outbound|9080||ratings.default.svc.cluster.local",
];

/// A varied, realistic record; `i` picks the variation.
pub fn record(i: usize) -> AccessLogRecord<'static> {
    let failing = i.is_multiple_of(50);
    AccessLogRecord {
        ts: Some(Timestamp::from_micros(1_667_952_050_336_000 + (i as i64) * 7_000)),
        method: Some(if i.is_multiple_of(7) { "POST" } else { "GET" }.into()),
        path: Some(format!("/api/v1/items/{}?page={}", i % 977, i % 13).into()),
        protocol: Some(if i.is_multiple_of(3) { "HTTP/2" } else { "HTTP/1.1" }.into()),
        response_code: Some(if failing { 503 } else { 200 }),
        response_flags: failing.then(|| "UH".into()),
        response_code_details: Some(
            if failing { "no_healthy_upstream" } else { "via_upstream" }.into(),
        ),
        bytes_received: Some((i % 400) as u64),
        bytes_sent: Some(11_107 + (i % 1000) as u64),
        duration_ms: Some((i % 300) as u64),
        upstream_service_time_ms: (!failing).then_some((i % 290) as u64),
        x_forwarded_for: Some("10.142.0.66".into()),
        user_agent: Some(USER_AGENTS[i % USER_AGENTS.len()].into()),
        request_id: Some(format!("36912637-ba06-41e4-97a2-{:012x}", i * 7919).into()),
        authority: Some("frontend.mycompany.mesh".into()),
        upstream_host: (!failing).then(|| HOSTS[i % HOSTS.len()].into()),
        upstream_cluster: Some(CLUSTERS[i % CLUSTERS.len()].into()),
        upstream_local_address: Some(format!("10.112.0.50:{}", 40_000 + i % 20_000).into()),
        downstream_local_address: Some("10.112.0.50:8080".into()),
        downstream_remote_address: Some(format!("10.142.0.66:{}", 10_000 + i % 50_000).into()),
        route_name: Some("default".into()),
        ..AccessLogRecord::default()
    }
}

pub fn lines_for(preset: &str, count: usize) -> Vec<String> {
    let format = presets::compile(preset).and_then(Result::ok).expect("preset compiles");
    (0..count).map(|i| format.render(&record(i))).collect()
}

/// A collected file from several proxy versions: mostly current Istio, some old.
pub fn mixed_lines(count: usize) -> Vec<String> {
    let mix = [
        "istio",
        "istio",
        "istio",
        "istio",
        "istio",
        "istio-1.8",
        "istio-1.3",
        "envoy",
        "istio-json",
        "istio",
    ];
    let formats: Vec<Format> = mix
        .iter()
        .map(|name| presets::compile(name).and_then(Result::ok).expect("compiles"))
        .collect();
    (0..count).map(|i| formats[(i / 16) % formats.len()].render(&record(i))).collect()
}
