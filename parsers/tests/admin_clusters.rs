//! Golden and property tests for the `/clusters` (text and JSON), istioctl endpoints
//! (tables with or without a header, `-o json`, `-o yaml`) and
//! `endpointShardz` readers and for admin content detection. Every file under
//! `samples/admin/` is read by its parser into one snapshot (hosts and endpoints as
//! maps of their set fields, settings as `cluster :: key = value` lines, issues), the
//! text, JSON and istioctl views of the same proxy are checked to agree, `detect` is
//! checked on every admin and access-log sample, and arbitrary input must never make a
//! parser or `detect` panic.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use meshlog_parsers::admin::{
    self, AdminIssue, AdminKind, ClustersDump, HostStatus, ShardEndpoint, ShardzDump,
    clusters_json, clusters_text, clusters_yaml, istioctl, shardz,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples")
}

fn read(file: &str) -> String {
    std::fs::read_to_string(samples().join(file)).unwrap()
}

/// A JSON object of the fields that are set.
fn object(fields: Vec<(&str, Value)>) -> Value {
    let map: Map<String, Value> = fields
        .into_iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    Value::Object(map)
}

fn host(host: &HostStatus) -> Value {
    object(vec![
        ("envoy_cluster", json!(host.envoy_cluster)),
        ("address", json!(host.address)),
        ("hostname", json!(host.hostname)),
        ("health_flags", json!(host.health_flags)),
        ("priority", json!(host.priority)),
        ("weight", json!(host.weight)),
        ("region", json!(host.region)),
        ("zone", json!(host.zone)),
        ("sub_zone", json!(host.sub_zone)),
        ("canary", json!(host.canary)),
        ("cx_active", json!(host.cx_active)),
        ("cx_connect_fail", json!(host.cx_connect_fail)),
        ("cx_total", json!(host.cx_total)),
        ("rq_active", json!(host.rq_active)),
        ("rq_error", json!(host.rq_error)),
        ("rq_success", json!(host.rq_success)),
        ("rq_timeout", json!(host.rq_timeout)),
        ("rq_total", json!(host.rq_total)),
        ("success_rate", json!(host.success_rate)),
        ("local_origin_success_rate", json!(host.local_origin_success_rate)),
    ])
}

fn issue(issue: &AdminIssue) -> Value {
    json!({"line": issue.line, "reason": issue.reason, "message": issue.message, "excerpt": issue.excerpt})
}

fn clusters(dump: &ClustersDump) -> Value {
    let settings: Vec<String> = dump
        .settings
        .iter()
        .map(|setting| format!("{} :: {} = {}", setting.envoy_cluster, setting.key, setting.value))
        .collect();
    json!({
        "hosts": dump.hosts.iter().map(host).collect::<Vec<_>>(),
        "settings": settings,
        "issues": dump.issues.iter().map(issue).collect::<Vec<_>>(),
    })
}

fn endpoint(endpoint: &ShardEndpoint) -> Value {
    object(vec![
        ("service", json!(endpoint.service)),
        ("namespace", json!(endpoint.namespace)),
        ("cluster", json!(endpoint.cluster)),
        ("registry", json!(endpoint.registry)),
        ("address", json!(endpoint.address)),
        ("port", json!(endpoint.port)),
        ("network", json!(endpoint.network)),
        ("region", json!(endpoint.region)),
        ("zone", json!(endpoint.zone)),
        ("sub_zone", json!(endpoint.sub_zone)),
        ("workload", json!(endpoint.workload)),
        ("healthy", json!(endpoint.healthy)),
    ])
}

fn shards(dump: &ShardzDump) -> Value {
    json!({
        "endpoints": dump.endpoints.iter().map(endpoint).collect::<Vec<_>>(),
        "issues": dump.issues.iter().map(issue).collect::<Vec<_>>(),
    })
}

#[test]
fn clusters_text_sample() {
    insta::assert_yaml_snapshot!(clusters(&clusters_text::parse(&read("admin/clusters.txt"))));
}

#[test]
fn clusters_text_istio_1_23_observability_name() {
    insta::assert_yaml_snapshot!(clusters(&clusters_text::parse(&read(
        "admin/clusters-istio-1.23.txt"
    ))));
}

#[test]
fn clusters_json_sample() {
    insta::assert_yaml_snapshot!(clusters(
        &clusters_json::parse(&read("admin/clusters.json")).unwrap()
    ));
}

#[test]
fn istioctl_endpoints_sample() {
    insta::assert_yaml_snapshot!(clusters(
        &istioctl::parse(&read("admin/istioctl-endpoints.txt")).unwrap()
    ));
}

#[test]
fn istioctl_endpoints_old_sample() {
    insta::assert_yaml_snapshot!(clusters(
        &istioctl::parse(&read("admin/istioctl-endpoints-old.txt")).unwrap()
    ));
}

#[test]
fn istioctl_eds_sample() {
    insta::assert_yaml_snapshot!(clusters(
        &istioctl::parse(&read("admin/istioctl-eds.txt")).unwrap()
    ));
}

/// `istioctl proxy-config endpoints POD | grep reviews`: no header.
#[test]
fn istioctl_endpoints_grep_sample() {
    insta::assert_yaml_snapshot!(clusters(
        &istioctl::parse(&read("admin/istioctl-endpoints-grep.txt")).unwrap()
    ));
}

#[test]
fn istioctl_endpoints_old_grep_sample() {
    insta::assert_yaml_snapshot!(clusters(
        &istioctl::parse(&read("admin/istioctl-endpoints-old-grep.txt")).unwrap()
    ));
}

#[test]
fn istioctl_eds_grep_sample() {
    insta::assert_yaml_snapshot!(clusters(
        &istioctl::parse(&read("admin/istioctl-eds-grep.txt")).unwrap()
    ));
}

#[test]
fn istioctl_endpoints_yaml_sample() {
    insta::assert_yaml_snapshot!(clusters(
        &clusters_yaml::parse(&read("admin/istioctl-endpoints.yaml")).unwrap()
    ));
}

#[test]
fn istioctl_endpoints_jq_sample() {
    insta::assert_yaml_snapshot!(clusters(
        &clusters_json::parse(&read("admin/istioctl-endpoints-jq.json")).unwrap()
    ));
}

/// `istioctl experimental envoy-stats POD --type clusters | grep …`.
#[test]
fn clusters_grep_sample() {
    insta::assert_yaml_snapshot!(clusters(&clusters_text::parse(&read("admin/clusters-grep.txt"))));
}

/// The same output pasted into an issue: the command, the banner, elisions.
#[test]
fn clusters_pasted_sample() {
    insta::assert_yaml_snapshot!(clusters(&clusters_text::parse(&read(
        "admin/clusters-pasted.txt"
    ))));
}

/// The hosts of `dump` that are in `wanted` (cluster, address), sorted.
fn hosts_of(dump: &ClustersDump, keep: impl Fn(&HostStatus) -> bool) -> Vec<HostStatus> {
    comparable_hosts(&ClustersDump {
        hosts: dump.hosts.iter().filter(|host| keep(host)).cloned().collect(),
        ..ClustersDump::default()
    })
}

#[test]
fn istioctl_yaml_and_jq_json_read_as_the_json_they_were_printed_from() {
    let json = clusters_json::parse(&read("admin/clusters-camel.json")).unwrap();
    let yaml = clusters_yaml::parse(&read("admin/istioctl-endpoints.yaml")).unwrap();
    assert_eq!(yaml.issues, []);
    let on_9080 = |host: &HostStatus| {
        yaml.hosts.iter().any(|other| other.envoy_cluster == host.envoy_cluster)
    };
    assert_eq!(comparable_hosts(&yaml), hosts_of(&json, on_9080));
    assert!(yaml.hosts.iter().any(|host| host.address == "34.168.157.2:15443"));
    let jq = clusters_json::parse(&read("admin/istioctl-endpoints-jq.json")).unwrap();
    assert_eq!(jq.issues, []);
    let reviews = |host: &HostStatus| host.envoy_cluster.contains("reviews");
    assert_eq!(comparable_hosts(&jq), hosts_of(&json, reviews));
}

#[test]
fn header_less_rows_read_as_the_rows_of_the_full_table() {
    for (fragment, table) in [
        ("admin/istioctl-endpoints-grep.txt", "admin/istioctl-endpoints.txt"),
        ("admin/istioctl-endpoints-old-grep.txt", "admin/istioctl-endpoints-old.txt"),
        ("admin/istioctl-eds-grep.txt", "admin/istioctl-eds.txt"),
    ] {
        let rows = istioctl::parse(&read(fragment)).unwrap();
        let full = istioctl::parse(&read(table)).unwrap();
        assert_eq!(rows.issues, [], "{fragment}");
        assert!(rows.hosts.len() >= 6, "{fragment}");
        assert!(rows.hosts.iter().all(|host| full.hosts.contains(host)), "{fragment}");
    }
}

#[test]
fn clusters_fragments_read_as_the_lines_of_the_whole_dump() {
    let whole = clusters_text::parse(&read("admin/clusters.txt"));
    let grep = clusters_text::parse(&read("admin/clusters-grep.txt"));
    assert_eq!(grep.issues, []);
    assert_eq!(grep.hosts.len(), 4);
    let pasted = clusters_text::parse(&read("admin/clusters-pasted.txt"));
    let reasons: Vec<(usize, &str)> =
        pasted.issues.iter().map(|issue| (issue.line, issue.reason)).collect();
    assert_eq!(reasons, [(1, "unknown_line")], "only the pasted command is not dump text");
    for fragment in [&grep, &pasted] {
        for host in &fragment.hosts {
            let same = whole.hosts.iter().find(|other| {
                (&other.envoy_cluster, &other.address) == (&host.envoy_cluster, &host.address)
            });
            let same = same.unwrap();
            for (part, full) in [
                (host.health_flags.as_ref(), same.health_flags.as_ref()),
                (host.region.as_ref(), same.region.as_ref()),
                (host.zone.as_ref(), same.zone.as_ref()),
            ] {
                assert!(part.is_none() || part == full, "{host:?}");
            }
            assert!(host.priority.is_none() || host.priority == same.priority, "{host:?}");
            assert!(host.rq_total.is_none() || host.rq_total == same.rq_total, "{host:?}");
        }
    }
}

#[test]
fn endpoint_shardz_sample() {
    insta::assert_yaml_snapshot!(shards(
        &shardz::parse(&read("admin/endpointShardz.json")).unwrap()
    ));
}

/// Hosts sorted by (cluster, address), without the text-only `canary`.
fn comparable_hosts(dump: &ClustersDump) -> Vec<HostStatus> {
    let mut hosts: Vec<HostStatus> =
        dump.hosts.iter().cloned().map(|host| HostStatus { canary: None, ..host }).collect();
    hosts.sort_by(|a, b| (&a.envoy_cluster, &a.address).cmp(&(&b.envoy_cluster, &b.address)));
    hosts
}

#[test]
fn text_and_json_dumps_of_one_proxy_give_the_same_hosts() {
    let text = clusters_text::parse(&read("admin/clusters.txt"));
    let json = clusters_json::parse(&read("admin/clusters.json")).unwrap();
    assert_eq!((text.issues.len(), json.issues.len()), (0, 0));
    assert_eq!(comparable_hosts(&text), comparable_hosts(&json));
}

#[test]
fn envoy_and_istioctl_json_spellings_read_the_same() {
    let snake = clusters_json::parse(&read("admin/clusters.json")).unwrap();
    let camel = clusters_json::parse(&read("admin/clusters-camel.json")).unwrap();
    assert_eq!(snake, camel);
}

#[test]
fn istioctl_table_agrees_with_the_json_it_was_printed_from() {
    let summary = |dump: &ClustersDump| {
        let mut rows: Vec<(String, String, Option<String>)> = dump
            .hosts
            .iter()
            .map(|host| {
                (host.envoy_cluster.clone(), host.address.clone(), host.health_flags.clone())
            })
            .collect();
        rows.sort();
        rows
    };
    let table = istioctl::parse(&read("admin/istioctl-endpoints.txt")).unwrap();
    let json = clusters_json::parse(&read("admin/clusters.json")).unwrap();
    assert_eq!(table.issues, []);
    assert_eq!(summary(&table), summary(&json));
}

#[test]
fn the_remote_gateway_is_priority_one_with_the_remote_locality() {
    let dump = clusters_text::parse(&read("admin/clusters.txt"));
    let gateways: Vec<&HostStatus> =
        dump.hosts.iter().filter(|host| host.address == "34.168.157.2:15443").collect();
    assert_eq!(gateways.len(), 4);
    for gateway in gateways {
        assert_eq!(
            (gateway.priority, gateway.region.as_deref()),
            (Some(1), Some("us-west1")),
            "{gateway:?}"
        );
    }
    let local_pods = dump.hosts.iter().filter(|host| host.address.starts_with("10.112."));
    assert!(
        local_pods.clone().count() > 5
            && local_pods.into_iter().all(|host| host.priority == Some(0))
    );
}

#[test]
fn detect_names_every_admin_sample() {
    for (file, kind) in [
        ("admin/clusters.txt", AdminKind::ClustersText),
        ("admin/clusters-istio-1.23.txt", AdminKind::ClustersText),
        ("admin/clusters.json", AdminKind::ClustersJson),
        ("admin/clusters-camel.json", AdminKind::ClustersJson),
        ("admin/istioctl-endpoints.txt", AdminKind::IstioctlEndpoints),
        ("admin/istioctl-endpoints-old.txt", AdminKind::IstioctlEndpoints),
        ("admin/istioctl-eds.txt", AdminKind::IstioctlEndpoints),
        ("admin/endpointShardz.json", AdminKind::EndpointShardz),
        ("admin/istioctl-endpoints-grep.txt", AdminKind::IstioctlEndpoints),
        ("admin/istioctl-endpoints-old-grep.txt", AdminKind::IstioctlEndpoints),
        ("admin/istioctl-eds-grep.txt", AdminKind::IstioctlEndpoints),
        ("admin/istioctl-endpoints.yaml", AdminKind::ClustersYaml),
        ("admin/istioctl-endpoints-jq.json", AdminKind::ClustersJson),
        ("admin/clusters-grep.txt", AdminKind::ClustersText),
        ("admin/clusters-pasted.txt", AdminKind::ClustersText),
    ] {
        let bytes = std::fs::read(samples().join(file)).unwrap();
        for head_len in [bytes.len(), 4096, 1000, 333] {
            let head = &bytes[..head_len.min(bytes.len())];
            assert_eq!(admin::detect(head), Some(kind), "{file} first {head_len} bytes");
        }
    }
}

#[test]
fn detect_says_none_for_every_access_log_sample() {
    for directory in ["access-logs", "envelopes"] {
        for entry in std::fs::read_dir(samples().join(directory)).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let head = &bytes[..bytes.len().min(4096)];
            assert_eq!(admin::detect(head), None, "{}", path.display());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_parser_panics_on_arbitrary_text(input in any::<String>()) {
        let _ = clusters_text::parse(&input);
        let _ = clusters_json::parse(&input);
        let _ = istioctl::parse(&input);
        let _ = shardz::parse(&input);
        let _ = clusters_yaml::parse(&input);
        let _ = admin::detect(input.as_bytes());
    }

    #[test]
    fn detect_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = admin::detect(&bytes);
    }

    #[test]
    fn no_parser_panics_on_dump_like_text(pieces in proptest::collection::vec(dump_piece(), 0..40)) {
        let input = pieces.concat();
        let dump = clusters_text::parse(&input);
        prop_assert!(dump.issues.iter().all(|issue| issue.line >= 1 && issue.excerpt.len() <= 120));
        let _ = istioctl::parse(&input);
        let _ = clusters_json::parse(&input);
        let _ = clusters_yaml::parse(&input);
        let _ = shardz::parse(&input);
        let _ = admin::detect(input.as_bytes());
    }
}

/// Fragments of real dumps, so random input gets past the first checks of each grammar.
fn dump_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("::".to_owned()),
        Just("\n".to_owned()),
        Just("outbound|9080||reviews.default.svc.cluster.local".to_owned()),
        Just("10.112.2.40:9080".to_owned()),
        Just("[fd00::5]:80".to_owned()),
        Just("./etc/istio/proxy/XDS".to_owned()),
        Just("default_priority".to_owned()),
        Just("rq_total".to_owned()),
        Just("success_rate".to_owned()),
        Just("-1".to_owned()),
        Just(";".to_owned()),
        Just("ENDPOINT   STATUS   OUTLIER CHECK   CLUSTER".to_owned()),
        Just("NAME   STATUS   LOCALITY   CLUSTER".to_owned()),
        Just("HEALTHY".to_owned()),
        Just("FAILED".to_owned()),
        Just("   ".to_owned()),
        Just("{\"cluster_statuses\": [".to_owned()),
        Just("{\"name\": \"c\", \"host_statuses\": [".to_owned()),
        Just(
            "{\"address\": {\"socket_address\": {\"address\": \"1.1.1.1\", \"port_value\": 80}}}"
                .to_owned()
        ),
        Just("\"Shards\": {".to_owned()),
        Just("The result of pod p:\n".to_owned()),
        Just("...\n".to_owned()),
        Just(
            "- hostStatuses:\n  - address:\n      socketAddress:\n        address: 10.0.0.1\n"
                .to_owned()
        ),
        Just("  portValue: 80\n".to_owned()),
        Just("10.112.2.31:9080  HEALTHY  OK  ".to_owned()),
        Just("]}".to_owned()),
        "\\PC{0,12}",
    ]
}
