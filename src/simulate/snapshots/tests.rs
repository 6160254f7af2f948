//! Tests of the admin snapshots: Envoy's JSON shape (defaults left out, counters as
//! strings, priorities and localities per kind of host), counters equal to the lines
//! meshlog parses from the logs, ejections during the episodes and the faulty pod's,
//! the schedule and file names, and determinism.

use std::collections::BTreeMap;

use meshlog_parsers::LineParser;
use meshlog_parsers::stream::LogStream;
use serde_json::Value;

use crate::simulate::*;

fn five_minutes() -> Scenario {
    Scenario { minutes: 5, kubectl_prefix: true, ..Scenario::default() }
}

/// The run's log lines (all clusters, one stream per cluster) and its snapshots.
fn run_with_snapshots(scenario: &Scenario) -> (Vec<Vec<u8>>, Vec<Snapshot>, Truth) {
    let mut outs = vec![Vec::new(); CLUSTER_NAMES.len()];
    let mut taken = Vec::new();
    let truth = run_per_cluster_with_snapshots(scenario, &mut outs, 30, &mut |snapshot| {
        taken.push(snapshot);
        Ok(())
    })
    .unwrap();
    (outs, taken, truth)
}

fn json(snapshot: &Snapshot) -> Value {
    serde_json::from_str(&snapshot.json).unwrap()
}

fn find<'a>(snapshots: &'a [Snapshot], proxy: &str, at_ms: i64) -> &'a Snapshot {
    snapshots.iter().find(|s| s.proxy == proxy && s.at_ms == at_ms).unwrap()
}

fn cluster<'a>(document: &'a Value, name: &str) -> &'a Value {
    let clusters = document["cluster_statuses"].as_array().unwrap();
    clusters.iter().find(|cluster| cluster["name"] == name).unwrap()
}

fn hosts(cluster: &Value) -> &[Value] {
    cluster["host_statuses"].as_array().map_or(&[], Vec::as_slice)
}

/// `ip:port` of a socket host.
fn address(host: &Value) -> String {
    let socket = &host["address"]["socket_address"];
    format!("{}:{}", socket["address"].as_str().unwrap(), socket["port_value"])
}

fn host<'a>(cluster: &'a Value, ip_port: &str) -> &'a Value {
    hosts(cluster).iter().find(|host| address(host) == ip_port).unwrap()
}

/// A stat's number: absent means 0; counters and gauges are strings.
fn stat(host: &Value, name: &str) -> u64 {
    let stats = host["stats"].as_array().unwrap();
    let entry = stats.iter().find(|stat| stat["name"] == name).unwrap();
    entry.get("value").map_or(0, |value| value.as_str().unwrap().parse().unwrap())
}

fn ejected(host: &Value) -> bool {
    host["health_status"]["failed_outlier_check"] == true
}

/// Per (proxy, upstream cluster, upstream host): start times and (HTTP, 5xx, `UF`) of
/// the lines meshlog parses from the prefixed logs.
type Parsed = BTreeMap<(String, String, String), Vec<(i64, bool, bool, bool)>>;

fn parse_logs(outs: &[Vec<u8>]) -> Parsed {
    let mut parsed = Parsed::new();
    let mut stream = LogStream::new(LineParser::new("istio").unwrap());
    for line in outs.iter().flat_map(|out| out.split(|&byte| byte == b'\n')) {
        let Some((_, Ok(line))) = stream.read(line, Default::default()) else { continue };
        let record = line.record;
        let (Some(cluster), Some(host)) = (&record.upstream_cluster, &record.upstream_host) else {
            continue;
        };
        let key = (record.proxy.unwrap().into_owned(), cluster.to_string(), host.to_string());
        let flags = record.response_flags.as_deref().unwrap_or("");
        parsed.entry(key).or_default().push((
            record.ts.unwrap().micros() / 1000,
            record.protocol.is_some(),
            record.response_code >= Some(500),
            flags.split(',').any(|flag| flag == "UF"),
        ));
    }
    parsed
}

#[test]
fn snapshots_are_pretty_printed_as_envoy_prints_them() {
    let taken = snapshots(&Scenario { minutes: 1, ..Scenario::default() }, 30).unwrap();
    let text = &taken[0].json;
    assert!(text.starts_with("{\n \"cluster_statuses\": [\n  {\n   \"name\": \""), "{text}");
    assert!(text.contains("\"stats\": [\n      {\n       \"name\": \"cx_connect_fail\"\n      },"));
    assert!(
        text.contains(",\n      {\n       \"type\": \"GAUGE\",\n       \"name\": \"rq_active\"")
    );
    assert!(text.contains("\"value\": \"") && text.ends_with("]\n}\n"));
    assert!(!text.contains("\"priority\": 0") && !text.contains("\"added_via_api\": false"));
    assert!(!text.contains("\"COUNTER\"") && !text.contains("\"value\": \"0\""));
}

#[test]
fn counters_are_strings_zero_values_are_left_out_gauges_are_typed() {
    let taken = snapshots(&Scenario { minutes: 2, ..Scenario::default() }, 60).unwrap();
    let last = json(find(&taken, "istio-ingressgateway-7d9f8c-x2k4p", taken[5].at_ms));
    let frontend = cluster(&last, "outbound|80||frontend.shop.svc.cluster.local");
    let pod = host(frontend, "10.112.0.68:8080");
    let stats = pod["stats"].as_array().unwrap();
    let names: Vec<&str> = stats.iter().map(|stat| stat["name"].as_str().unwrap()).collect();
    let expected = ["cx_connect_fail", "cx_total", "rq_error", "rq_success", "rq_timeout"];
    assert_eq!(names[..5], expected);
    assert_eq!(names[5..], ["rq_total", "cx_active", "rq_active"]);
    assert!(stats[1]["value"].is_string() && stat(pod, "rq_total") > 100);
    assert_eq!(stats[0].get("value"), None, "no connection failed: no value");
    assert_eq!(stats[0].get("type"), None, "COUNTER is the default: no type");
    assert_eq!(stats[6]["type"], "GAUGE");
    assert_eq!(stat(pod, "rq_total"), stat(pod, "rq_success") + stat(pod, "rq_error"));
}

#[test]
fn hosts_carry_the_priority_locality_and_weight_of_their_kind() {
    let taken = snapshots(&Scenario { minutes: 1, ..Scenario::default() }, 60).unwrap();
    let gateway = json(find(&taken, "istio-ingressgateway-7d9f8c-x2k4p", taken[0].at_ms));
    let frontend = cluster(&gateway, "outbound|80||frontend.shop.svc.cluster.local");
    let local = host(frontend, "10.112.1.77:8080");
    assert_eq!(local.get("priority"), None);
    assert_eq!(local["locality"], serde_json::json!({"region": "us-west1", "zone": "us-west1-a"}));
    assert_eq!(local["weight"], 1);
    let east_west = host(frontend, "35.200.10.5:15443");
    assert_eq!((&east_west["priority"], &east_west["weight"]), (&1.into(), &3.into()));
    assert_eq!(east_west["locality"]["region"], "us-central1");
    let flat = host(frontend, "10.128.1.15:8080");
    assert_eq!(flat["priority"], 2, "cluster3 is not frontend's failover region");
    assert_eq!(flat["locality"]["zone"], "us-east1-b");
    let productpage = json(find(&taken, "productpage-v1-6b746f74dc-9stvs", taken[0].at_ms));
    let reviews = cluster(&productpage, "outbound|9080|v1|reviews.default.svc.cluster.local");
    let remote_pod = host(reviews, "10.128.3.21:9080");
    assert_eq!(remote_pod["priority"], 1);
    assert_eq!(remote_pod["locality"]["region"], "us-east1");
    assert_eq!(reviews["eds_service_name"], reviews["name"]);
    assert_eq!(
        reviews["observability_name"],
        "outbound|9080|v1|reviews.default.svc.cluster.local;"
    );
}

#[test]
fn fixed_inbound_and_passthrough_clusters_look_like_istios() {
    let taken = snapshots(&Scenario { minutes: 1, ..Scenario::default() }, 60).unwrap();
    let sidecar = json(find(&taken, "checkout-v1-5f7c9d8b6-m4t2n", taken[0].at_ms));
    let names: Vec<&str> = sidecar["cluster_statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cluster| cluster["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    let xds = &hosts(cluster(&sidecar, "xds-grpc"))[0];
    assert_eq!(xds["address"], serde_json::json!({"pipe": {"path": "./etc/istio/proxy/XDS"}}));
    assert_eq!((&xds["locality"], stat(xds, "rq_active")), (&serde_json::json!({}), 1));
    assert_eq!(cluster(&sidecar, "xds-grpc").get("added_via_api"), None);
    assert_eq!(cluster(&sidecar, "BlackHoleCluster").get("host_statuses"), None);
    let passthrough = cluster(&sidecar, "PassthroughCluster");
    assert_eq!(passthrough.get("eds_service_name"), None);
    let tls = host(passthrough, "52.84.150.39:443");
    assert!(stat(tls, "cx_total") > 0 && stat(tls, "rq_total") == 0, "TCP: connections only");
    assert!(stat(host(passthrough, "93.184.216.34:80"), "rq_total") > 0);
    let inbound = host(cluster(&sidecar, "inbound|8080||"), "10.96.4.12:8080");
    assert_eq!(inbound["locality"], serde_json::json!({}));
    let gateway = json(find(&taken, "istio-ingressgateway-5c8b7f-q9w2z", taken[0].at_ms));
    assert!(!gateway.to_string().contains("PassthroughCluster"), "gateways have none");
}

/// (`cx_total`, `rq_total`, `rq_error`, `cx_connect_fail`) of `lines` that started
/// before `at_ms`.
fn expected_stats(lines: &[(i64, bool, bool, bool)], at_ms: i64) -> [u64; 4] {
    let before = lines.iter().filter(|line| line.0 < at_ms);
    before.fold([0; 4], |[cx, rq, error, connect], &(_, http, failed, connect_failed)| {
        let error = error + u64::from(http && failed);
        [cx + 1, rq + u64::from(http), error, connect + u64::from(connect_failed)]
    })
}

#[test]
fn every_snapshot_counts_exactly_the_logged_lines_that_started_before_it() {
    let (outs, taken, _) = run_with_snapshots(&five_minutes());
    let parsed = parse_logs(&outs);
    let mut listed = std::collections::BTreeSet::new();
    for snapshot in &taken {
        let document = json(snapshot);
        for cluster in document["cluster_statuses"].as_array().unwrap() {
            let name = cluster["name"].as_str().unwrap();
            for host in hosts(cluster).iter().filter(|host| host["address"]["pipe"].is_null()) {
                let key = (snapshot.proxy.to_owned(), name.to_owned(), address(host));
                let lines = parsed.get(&key).map_or(&[][..], Vec::as_slice);
                let stats = ["cx_total", "rq_total", "rq_error", "cx_connect_fail"];
                let shown = stats.map(|name| stat(host, name));
                assert_eq!(
                    shown,
                    expected_stats(lines, snapshot.at_ms),
                    "{key:?} at {}",
                    snapshot.at_ms
                );
                listed.insert(key);
            }
        }
    }
    assert!(parsed.keys().all(|key| listed.contains(key)), "a logged host is missing");
    assert_eq!(taken.len(), 10 * 5, "every 30 s for 5 minutes, five proxies");
}

#[test]
fn episodes_eject_the_local_hosts_and_move_the_traffic_to_the_failover_hosts() {
    let (_, taken, truth) = run_with_snapshots(&five_minutes());
    let ms = |us: i64| us / 1000;
    for episode in &truth.episodes {
        let of_proxy: Vec<_> = taken.iter().filter(|s| s.proxy == episode.proxy).collect();
        let at = |at_ms: i64| json(of_proxy.iter().find(|s| s.at_ms >= at_ms).unwrap());
        let (during, later) = (at(ms(episode.started_at_us)), at(ms(episode.ended_at_us) + 30_000));
        let cluster_during = cluster(&during, &episode.upstream_cluster);
        let cluster_after = cluster(&later, &episode.upstream_cluster);
        for local in &episode.ejected_hosts {
            assert!(ejected(host(cluster_during, local)), "{local} during");
            assert!(!ejected(host(cluster_after, local)), "{local} after");
            let (frozen, resumed) = (host(cluster_during, local), host(cluster_after, local));
            assert!(stat(resumed, "rq_total") > stat(frozen, "rq_total"));
        }
        let end = at(ms(episode.ended_at_us));
        for remote in &episode.failover_hosts {
            let gain = stat(host(cluster(&end, &episode.upstream_cluster), remote), "rq_total")
                - stat(host(cluster_during, remote), "rq_total");
            assert!(gain > 50, "{remote} took {gain}");
            assert!(!ejected(host(cluster_during, remote)));
        }
    }
    assert_eq!(truth.episodes[0].failover_hosts, ["35.200.10.5:15443"]);
    assert_eq!(truth.episodes[1].ejected_hosts, ["10.112.3.50:9080", "10.112.6.33:9080"]);
}

#[test]
fn local_hosts_stop_growing_while_the_traffic_is_elsewhere() {
    let (_, taken, truth) = run_with_snapshots(&Scenario::default());
    let episode = &truth.episodes[0];
    let inside: Vec<Value> = taken
        .iter()
        .filter(|s| s.proxy == episode.proxy)
        .filter(|s| s.at_ms > episode.started_at_us / 1000 && s.at_ms < episode.ended_at_us / 1000)
        .map(json)
        .collect();
    assert!(inside.len() >= 3);
    for local in &episode.ejected_hosts {
        let totals: Vec<u64> = inside
            .iter()
            .map(|doc| stat(host(cluster(doc, &episode.upstream_cluster), local), "rq_total"))
            .collect();
        assert!(totals.windows(2).all(|pair| pair[0] == pair[1]), "{local}: {totals:?}");
    }
}

#[test]
fn the_faulty_details_pod_errs_and_is_ejected_some_of_the_time() {
    let taken = snapshots(&Scenario::default(), 30).unwrap();
    let details = "outbound|9080||details.default.svc.cluster.local";
    let faulty: Vec<Value> = taken
        .iter()
        .filter(|s| s.proxy == "productpage-v1-6b746f74dc-9stvs")
        .map(|s| host(cluster(&json(s), details), "10.112.3.17:9080").clone())
        .collect();
    let ejections = faulty.iter().filter(|host| ejected(host)).count();
    assert!((1..faulty.len() / 2).contains(&ejections), "{ejections} of {}", faulty.len());
    let last = faulty.last().unwrap();
    let error_share = stat(last, "rq_error") as f64 / stat(last, "rq_total") as f64;
    assert!((0.25..0.35).contains(&error_share), "{error_share}");
    assert!(stat(last, "cx_connect_fail") > 0);
    let end = json(taken.iter().rfind(|s| s.proxy == "productpage-v1-6b746f74dc-9stvs").unwrap());
    let healthy = host(cluster(&end, details), "10.112.4.9:9080");
    assert_eq!(stat(healthy, "rq_error"), 0);
}

#[test]
fn snapshots_follow_the_schedule_and_are_named_for_their_time() {
    let scenario = Scenario { minutes: 2, ..Scenario::default() };
    assert!(snapshots(&scenario, 0).unwrap().is_empty());
    let taken = snapshots(&scenario, 45).unwrap();
    let start_ms = DEFAULT_START_US / 1000;
    let times: Vec<i64> = taken.iter().step_by(5).map(|s| s.at_ms - start_ms).collect();
    assert_eq!(times, [45_000, 90_000]);
    let first = &taken[0];
    assert_eq!((first.cluster, first.proxy), ("cluster1", "istio-ingressgateway-7d9f8c-x2k4p"));
    assert_eq!(first.file_name(), "istio-ingressgateway-7d9f8c-x2k4p.1793527245.clusters.json");
    assert_eq!(
        taken[4].relative_path(),
        "admin/cluster2/checkout-v1-5f7c9d8b6-m4t2n.1793527245.clusters.json"
    );
    let last = snapshots(&scenario, 30).unwrap().pop().unwrap();
    assert_eq!(last.at_ms - start_ms, 120_000, "the last one is at the end of the run");
}

#[test]
fn same_seed_same_snapshots_whatever_the_output() {
    let scenario = Scenario { minutes: 2, ..Scenario::default() };
    let alone = snapshots(&scenario, 30).unwrap();
    assert_eq!(alone, snapshots(&scenario, 30).unwrap());
    let noisy = Scenario { malformed_per_million: 50_000, format: OutputFormat::Json, ..scenario };
    let (_, with_lines, truth) = run_with_snapshots(&noisy);
    assert_eq!(alone, with_lines, "corruption and format change the logs, not the proxies");
    let paths: Vec<String> = alone.iter().map(Snapshot::relative_path).collect();
    assert_eq!((truth.snapshot_every_s, truth.snapshot_files), (30, paths));
    assert_ne!(alone, snapshots(&Scenario { seed: 2, ..noisy }, 30).unwrap());
}
