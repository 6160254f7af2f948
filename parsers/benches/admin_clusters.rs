//! `/clusters` reading throughput: one generated proxy with many Istio clusters, each
//! with local pods and a remote east-west gateway, every host with all eight stats,
//! health flags and locality, printed as Envoy prints it both ways: a ~5 MB
//! `/clusters?format=json` (protobuf JSON: string counters, zeros left out) and the
//! same clusters and hosts as `/clusters` text. Two baselines put the JSON number in
//! context: serde_json building its `Value` tree, and serde_json skipping every token.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use meshlog_parsers::admin::{clusters_json, clusters_text};
use serde::de::IgnoredAny;
use serde_json::{Value, json};

const CLUSTERS: usize = 420;
const HOSTS_PER_CLUSTER: usize = 10;

/// One generated host: (address, priority, stats in `/clusters` order, outlier flag).
struct Host {
    ip: String,
    port: u16,
    priority: u32,
    stats: [(&'static str, u64); 8],
    ejected: bool,
}

fn cluster_name(index: usize) -> String {
    format!(
        "outbound|{}||service-{index}.team-{}.svc.cluster.local",
        8000 + index % 100,
        index % 17
    )
}

fn hosts(cluster: usize) -> Vec<Host> {
    (0..HOSTS_PER_CLUSTER)
        .map(|index| {
            let seed = (cluster * 31 + index * 7) as u64;
            let remote = index + 1 == HOSTS_PER_CLUSTER;
            let ip = if remote {
                "34.168.157.2".to_owned()
            } else {
                format!("10.112.{}.{}", cluster % 250, index + 2)
            };
            Host {
                ip,
                port: if remote { 15443 } else { 9080 },
                priority: u32::from(remote),
                stats: [
                    ("cx_active", seed % 5),
                    ("cx_connect_fail", seed % 3),
                    ("cx_total", 100 + seed),
                    ("rq_active", seed % 2),
                    ("rq_error", seed % 11),
                    ("rq_success", 10_000 + seed * 13),
                    ("rq_timeout", seed % 4),
                    ("rq_total", 10_020 + seed * 13),
                ],
                ejected: seed.is_multiple_of(9),
            }
        })
        .collect()
}

fn json_host(host: &Host) -> Value {
    let stats: Vec<Value> = host
        .stats
        .iter()
        .map(|(name, value)| {
            let mut stat = json!({"name": name});
            if *value != 0 {
                stat["value"] = json!(value.to_string());
            }
            if matches!(*name, "cx_active" | "rq_active") {
                stat["type"] = json!("GAUGE");
            }
            stat
        })
        .collect();
    let (region, zone) =
        if host.priority == 0 { ("us-east1", "us-east1-b") } else { ("us-west1", "us-west1-a") };
    let mut value = json!({
        "address": {"socket_address": {"address": host.ip, "port_value": host.port}},
        "stats": stats,
        "health_status": {"eds_health_status": "HEALTHY"},
        "weight": 1,
        "locality": {"region": region, "zone": zone},
    });
    if host.ejected {
        value["health_status"]["failed_outlier_check"] = json!(true);
    }
    if host.priority != 0 {
        value["priority"] = json!(host.priority);
    }
    value
}

fn json_dump() -> String {
    let clusters: Vec<Value> = (0..CLUSTERS)
        .map(|index| {
            let name = cluster_name(index);
            json!({
                "name": name,
                "added_via_api": true,
                "host_statuses": hosts(index).iter().map(json_host).collect::<Vec<_>>(),
                "circuit_breakers": {"thresholds": [
                    {"max_connections": 4294967295u32, "max_pending_requests": 4294967295u32,
                     "max_requests": 4294967295u32, "max_retries": 4294967295u32},
                    {"priority": "HIGH", "max_connections": 1024, "max_pending_requests": 1024,
                     "max_requests": 1024, "max_retries": 3}
                ]},
                "observability_name": name,
                "eds_service_name": name,
            })
        })
        .collect();
    serde_json::to_string_pretty(&json!({"cluster_statuses": clusters})).unwrap_or_default()
}

fn text_dump() -> String {
    let mut text = String::new();
    for index in 0..CLUSTERS {
        let name = cluster_name(index);
        text.push_str(&format!("{name}::observability_name::{name}\n"));
        for (priority, limits) in [("default", [4294967295u64; 4]), ("high", [1024, 1024, 1024, 3])]
        {
            for (limit, value) in
                ["max_connections", "max_pending_requests", "max_requests", "max_retries"]
                    .iter()
                    .zip(limits)
            {
                text.push_str(&format!("{name}::{priority}_priority::{limit}::{value}\n"));
            }
        }
        text.push_str(&format!("{name}::added_via_api::true\n{name}::eds_service_name::{name}\n"));
        for host in hosts(index) {
            push_text_host(&mut text, &name, &host);
        }
    }
    text
}

fn push_text_host(text: &mut String, cluster: &str, host: &Host) {
    let prefix = format!("{cluster}::{}:{}::", host.ip, host.port);
    for (stat, value) in host.stats {
        text.push_str(&format!("{prefix}{stat}::{value}\n"));
    }
    let flags = if host.ejected { "/failed_outlier_check" } else { "healthy" };
    let (region, zone) =
        if host.priority == 0 { ("us-east1", "us-east1-b") } else { ("us-west1", "us-west1-a") };
    for (stat, value) in [
        ("hostname", ""),
        ("health_flags", flags),
        ("weight", "1"),
        ("region", region),
        ("zone", zone),
        ("sub_zone", ""),
        ("canary", "false"),
    ] {
        text.push_str(&format!("{prefix}{stat}::{value}\n"));
    }
    text.push_str(&format!("{prefix}priority::{}\n", host.priority));
    text.push_str(&format!("{prefix}success_rate::-1\n{prefix}local_origin_success_rate::-1\n"));
}

fn clusters_bench(c: &mut Criterion) {
    let json = json_dump();
    let text = text_dump();
    let hosts = CLUSTERS * HOSTS_PER_CLUSTER;
    assert_eq!(clusters_json::parse(&json).map(|dump| dump.hosts.len()).ok(), Some(hosts));
    assert_eq!(clusters_text::parse(&text).hosts.len(), hosts);
    println!(
        "clusters-json: {} bytes; clusters-text: {} bytes; {hosts} hosts",
        json.len(),
        text.len()
    );

    let mut group = c.benchmark_group("admin_clusters");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("clusters-json", |b| b.iter(|| clusters_json::parse(black_box(&json))));
    // Baselines for the JSON reader: building serde_json's `Value` tree (what a tree
    // walk would pay before reading a single field) and skipping every token (the floor).
    group.bench_function("json-value-tree-baseline", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(&json)).is_ok())
    });
    group.bench_function("json-skip-baseline", |b| {
        b.iter(|| serde_json::from_str::<IgnoredAny>(black_box(&json)).is_ok())
    });
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("clusters-text", |b| b.iter(|| clusters_text::parse(black_box(&text))));
    group.finish();
}

criterion_group!(benches, clusters_bench);
criterion_main!(benches);
