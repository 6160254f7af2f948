//! Whole-pipeline tests of `learn`: hand-built rows shaped like the sample mesh (cluster1
//! pods in 10.112.0.0/16 over three zones of us-east1; cluster2 pods in 10.96.0.0/16 in
//! us-west1-a behind the east-west gateway 34.168.157.2:15443), through [`Learner`] to
//! TOML that the config loader and the topology accept and that tags addresses right.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use meshlog_parsers::admin::{ClustersDump, HostStatus, ShardEndpoint, ShardzDump};

use super::*;
use crate::config::ConfigFile;
use crate::enrich::Topology;

const REVIEWS: &str = "outbound|9080||reviews.default.svc.cluster.local";
const FRONTEND: &str = "outbound|80||frontend.mycompany.mesh";
const GATEWAY: &str = "34.168.157.2:15443";

fn host(cluster: &str, address: &str, priority: Option<u32>, zone: Option<&str>) -> HostStatus {
    HostStatus {
        envoy_cluster: cluster.into(),
        address: address.into(),
        priority,
        region: zone.map(|zone| zone[..zone.len() - 2].to_owned()),
        zone: zone.map(Into::into),
        ..HostStatus::default()
    }
}

/// cluster1's ingress gateway, as `/clusters?format=json` shows it.
fn proxy_json() -> ClustersDump {
    let hosts = vec![
        host("PassthroughCluster", "142.250.72.14:443", Some(0), None),
        host("agent", "127.0.0.1:15020", Some(0), None),
        host("inbound|9080||", "10.112.1.15:9080", Some(0), None),
        host(FRONTEND, "10.112.0.68:8080", Some(0), Some("us-east1-b")),
        host(FRONTEND, "10.112.0.69:8080", Some(0), Some("us-east1-c")),
        host(FRONTEND, GATEWAY, Some(1), Some("us-west1-a")),
        host(REVIEWS, "10.112.2.40:9080", Some(0), Some("us-east1-b")),
        host(REVIEWS, "10.112.2.31:9080", Some(0), Some("us-east1-c")),
        host(REVIEWS, "10.112.2.33:9080", Some(0), Some("us-east1-d")),
        host(REVIEWS, GATEWAY, Some(1), Some("us-west1-a")),
    ];
    ClustersDump { hosts, ..ClustersDump::default() }
}

/// The same proxy through `istioctl proxy-config endpoints`: no priority, no locality.
fn proxy_istioctl() -> ClustersDump {
    let mut dump = proxy_json();
    for host in &mut dump.hosts {
        (host.priority, host.region, host.zone) = (None, None, None);
    }
    dump
}

fn shard(cluster: &str, network: &str, address: &str, zone: &str) -> ShardEndpoint {
    ShardEndpoint {
        service: "reviews.default.svc.cluster.local".into(),
        cluster: Some(cluster.into()),
        registry: Some("Kubernetes".into()),
        address: address.into(),
        network: Some(network.into()),
        region: Some(zone[..zone.len() - 2].to_owned()),
        zone: Some(zone.into()),
        ..ShardEndpoint::default()
    }
}

fn shardz() -> ShardzDump {
    let endpoints = vec![
        shard("cluster1", "network1", "10.112.2.40", "us-east1-b"),
        shard("cluster1", "network1", "10.112.2.31", "us-east1-c"),
        shard("cluster1", "network1", "10.112.0.68", "us-east1-b"),
        shard("cluster2", "network2", "10.96.3.25", "us-west1-a"),
        shard("cluster2", "network2", "10.96.3.22", "us-west1-a"),
        shard("cluster2", "network2", "10.96.4.9", "us-west1-a"),
    ];
    ShardzDump { endpoints, ..ShardzDump::default() }
}

fn learn(local: Option<&str>, add: impl FnOnce(&mut Learner)) -> Learned {
    let mut learner = Learner::new(LearnOptions { local_cluster: local.map(Into::into) });
    add(&mut learner);
    learner.finish()
}

/// The TOML, loaded as `meshlog ingest --config` loads it.
fn load(learned: &Learned) -> Topology {
    let text = learned.to_toml();
    let file = ConfigFile::parse(Path::new("learned.toml"), text.clone())
        .unwrap_or_else(|error| panic!("{error}\n{text}"));
    crate::config::topology::from_config(&file).unwrap_or_else(|error| panic!("{error}\n{text}"))
}

fn cluster<'l>(learned: &'l Learned, name: &str) -> &'l LearnedCluster {
    learned.clusters.iter().find(|cluster| cluster.name == name).unwrap()
}

fn cidrs(cluster: &LearnedCluster) -> Vec<String> {
    cluster.pod_cidrs.iter().map(|cidr| cidr.net.to_string()).collect()
}

#[test]
fn a_proxy_dump_alone_gives_the_local_cluster_and_a_guessed_remote_one() {
    let learned = learn(Some("cluster1"), |learner| {
        learner.add_proxy_dump("clusters.json", ProxySource::ClustersJson, &proxy_json());
    });
    let names: Vec<&str> = learned.clusters.iter().map(|cluster| cluster.name.as_str()).collect();
    assert_eq!(names, ["cluster1", "us-west1-a"]);
    let local = cluster(&learned, "cluster1");
    assert_eq!(cidrs(local), ["10.112.0.0/16"]);
    assert_eq!(local.pod_cidrs[0].ips, 5);
    assert_eq!((local.region.as_deref(), local.zone.as_deref()), (Some("us-east1"), None));
    assert_eq!(local.confidence, Confidence::High, "{:?}", local.doubts);
    let remote = cluster(&learned, "us-west1-a");
    assert_eq!(remote.gateways[0].address.to_string(), GATEWAY);
    assert_eq!(remote.gateways[0].endpoints, 2);
    assert!(remote.pod_cidrs.is_empty());
    assert_eq!(remote.confidence, Confidence::Low);
    assert!(remote.doubts.iter().any(|doubt| doubt.why.contains("name is guessed from its zone")));
    assert_eq!(learned.dumps[0].used, 7);
    assert_eq!(learned.dumps[0].skipped.values().sum::<usize>(), 3);
}

#[test]
fn the_learned_toml_is_a_valid_config_that_tags_the_sample_addresses() {
    let learned = learn(Some("cluster1"), |learner| {
        learner.add_proxy_dump("clusters.json", ProxySource::ClustersJson, &proxy_json());
        learner.add_shardz("endpointShardz.json", &shardz());
    });
    let topology = load(&learned);
    let names: Vec<&str> = topology.clusters().iter().map(|cluster| &*cluster.name).collect();
    assert_eq!(names, ["cluster1", "cluster2"]);
    let pod = topology.pod_cluster("10.112.7.7".parse().unwrap(), None);
    assert_eq!(pod, topology.id("cluster1"));
    assert_eq!(topology.pod_cluster("10.96.9.9".parse().unwrap(), None), topology.id("cluster2"));
    let gateway = topology.gateway_cluster("34.168.157.2".parse().unwrap(), Some(15443));
    assert_eq!(gateway, topology.id("cluster2"));
    assert_eq!(topology.clusters()[1].network.as_deref(), Some("network2"));
}

#[test]
fn shardz_names_the_gateways_cluster_by_locality_with_medium_confidence() {
    let learned = learn(None, |learner| {
        learner.add_proxy_dump("clusters.json", ProxySource::ClustersJson, &proxy_json());
        learner.add_shardz("endpointShardz.json", &shardz());
    });
    let names: Vec<&str> = learned.clusters.iter().map(|cluster| cluster.name.as_str()).collect();
    assert_eq!(names, ["cluster1", "cluster2"], "{}", learned.to_toml());
    let cluster1 = cluster(&learned, "cluster1");
    assert_eq!(cluster1.confidence, Confidence::High, "{:?}", cluster1.doubts);
    assert_eq!(cluster1.dumps, 2);
    let cluster2 = cluster(&learned, "cluster2");
    assert_eq!(cidrs(cluster2), ["10.96.0.0/16"]);
    assert_eq!(cluster2.gateways.len(), 1);
    assert_eq!(cluster2.confidence, Confidence::Medium, "{:?}", cluster2.doubts);
    assert!(learned.warnings.is_empty(), "{:?}", learned.warnings);
}

#[test]
fn a_gateway_seen_only_in_istioctl_is_low_confidence() {
    let learned = learn(Some("cluster1"), |learner| {
        learner.add_proxy_dump("istioctl.txt", ProxySource::Istioctl, &proxy_istioctl());
    });
    let local = cluster(&learned, "cluster1");
    assert_eq!(cidrs(local), ["10.112.0.0/16"]);
    assert_eq!(local.confidence, Confidence::Medium, "{:?}", local.doubts);
    let remote = learned.clusters.iter().find(|cluster| !cluster.is_local).unwrap();
    assert_eq!(remote.name, "remote");
    assert!(remote.doubts.iter().any(|doubt| doubt.why.contains("only in istioctl")));
    load(&learned);
}

#[test]
fn istioctl_and_json_of_one_proxy_merge_and_the_gateway_is_no_longer_istioctl_only() {
    let learned = learn(Some("cluster1"), |learner| {
        learner.add_proxy_dump("istioctl.txt", ProxySource::Istioctl, &proxy_istioctl());
        learner.add_proxy_dump("clusters.json", ProxySource::ClustersJson, &proxy_json());
    });
    assert_eq!(learned.clusters.len(), 2, "{}", learned.to_toml());
    let remote = cluster(&learned, "us-west1-a");
    assert!(!remote.gateways[0].istioctl_only);
    assert_eq!(remote.gateways[0].dumps, 2);
}

#[test]
fn without_local_cluster_the_proxies_cluster_is_called_local() {
    let learned = learn(None, |learner| {
        learner.add_proxy_dump("clusters.json", ProxySource::ClustersJson, &proxy_json());
    });
    let local = cluster(&learned, "local");
    assert!(local.is_local);
    assert!(local.guessed_from.as_deref().unwrap().contains("--local-cluster"));
    assert!(learned.to_toml().contains("name = \"local\" # guessed"));
    load(&learned);
}

#[test]
fn a_flat_network_gives_the_remote_cluster_its_pod_cidr() {
    let mut dump = proxy_json();
    dump.hosts.retain(|host| host.address != GATEWAY);
    dump.hosts.push(host(REVIEWS, "10.96.3.25:9080", Some(1), Some("us-west1-a")));
    let learned = learn(Some("cluster1"), |learner| {
        learner.add_proxy_dump("clusters.json", ProxySource::ClustersJson, &dump);
    });
    let remote = cluster(&learned, "us-west1-a");
    assert_eq!(cidrs(remote), ["10.96.0.0/16"]);
    assert!(remote.gateways.is_empty());
    assert!(remote.doubts.iter().any(|doubt| doubt.why.contains("rests on 1 IP")));
    let topology = load(&learned);
    assert_eq!(topology.pod_cluster("10.96.1.1".parse().unwrap(), None), topology.id("us-west1-a"));
}

#[test]
fn a_wrong_local_cluster_is_reported_not_merged() {
    let learned = learn(Some("cluster2"), |learner| {
        learner.add_proxy_dump("clusters.json", ProxySource::ClustersJson, &proxy_json());
        learner.add_shardz("endpointShardz.json", &shardz());
    });
    assert!(learned.warnings.iter().any(|warning| warning.contains("in cluster2 and in cluster1")));
    let cluster1 = cluster(&learned, "cluster1");
    assert_eq!(cluster1.confidence, Confidence::Low, "{:?}", cluster1.doubts);
    load(&learned);
}

#[test]
fn two_networks_without_a_gateway_say_so_and_eastwest_pods_are_noted() {
    let mut dump = shardz();
    let mut gateway = shard("cluster2", "network2", "10.96.0.9", "us-west1-a");
    gateway.service = "istio-eastwestgateway.istio-system.svc.cluster.local".into();
    dump.endpoints.push(gateway);
    let learned = learn(None, |learner| learner.add_shardz("endpointShardz.json", &dump));
    let cluster1 = cluster(&learned, "cluster1");
    assert!(cluster1.notes[0].contains("no east-west gateway address known"));
    let cluster2 = cluster(&learned, "cluster2");
    assert!(cluster2.notes[0].contains("10.96.0.9"), "{:?}", cluster2.notes);
    assert!(cluster2.gateways.is_empty());
    assert_eq!(cluster2.confidence, Confidence::High);
    load(&learned);
}

#[test]
fn the_toml_comments_say_what_each_cluster_rests_on() {
    let learned = learn(Some("cluster1"), |learner| {
        learner.add_proxy_dump("clusters.json", ProxySource::ClustersJson, &proxy_json());
    });
    let text = learned.to_toml();
    let verdict = "# cluster1 (name from --local-cluster): inferred from 5 endpoint(s) in 1 dump(s); high confidence";
    assert!(text.contains(verdict), "{text}");
    assert!(text.contains("\"10.112.0.0/16\", # 5 pod IPs seen"), "{text}");
    assert!(
        text.contains(
            "\"34.168.157.2:15443\", # 2 endpoint(s) in 1 dump(s), locality us-west1/us-west1-a"
        ),
        "{text}"
    );
    let summary = learned.summary();
    assert!(
        summary.contains("read clusters.json (/clusters?format=json): 7 of 10 endpoints used"),
        "{summary}"
    );
    assert!(summary.contains("learned 2 cluster(s)"), "{summary}");
}

#[test]
fn names_and_labels_with_quotes_or_newlines_stay_valid_toml() {
    let learned = learn(Some("odd \"name\"\nhere"), |learner| {
        learner.add_proxy_dump("dump\nwith newline", ProxySource::ClustersJson, &proxy_json());
    });
    let topology = load(&learned);
    assert_eq!(&*topology.clusters()[0].name, "odd \"name\"\nhere");
}

#[test]
fn nothing_learned_from_an_empty_dump_is_still_valid_toml() {
    let learned = learn(None, |learner| {
        learner.add_proxy_dump("empty", ProxySource::ClustersText, &ClustersDump::default());
    });
    assert!(learned.clusters.is_empty());
    assert!(load(&learned).is_empty());
}

#[test]
fn shardz_confirms_pods_an_istioctl_table_could_only_take_as_local() {
    let learned = learn(Some("cluster1"), |learner| {
        learner.add_proxy_dump("istioctl.txt", ProxySource::Istioctl, &proxy_istioctl());
        learner.add_shardz("endpointShardz.json", &shardz());
    });
    let cluster1 = cluster(&learned, "cluster1");
    assert_eq!(cluster1.confidence, Confidence::High, "{:?}", cluster1.doubts);
    load(&learned);
}

/// `istioctl proxy-config endpoints POD | grep reviews` (local pods and the remote
/// gateway, no header, no priority, no locality) plus istiod's endpointShardz: the
/// gateway has no locality to go by, but it is in the one other cluster, of another
/// network, serving reviews. It used to become a third cluster called `remote`.
#[test]
fn a_grepped_istioctl_fragment_plus_shardz_gives_exactly_the_two_clusters() {
    let mut fragment = proxy_istioctl();
    fragment.hosts.retain(|host| host.envoy_cluster == REVIEWS);
    for local in [None, Some("cluster1")] {
        let learned = learn(local, |learner| {
            learner.add_proxy_dump("grep.txt", ProxySource::Istioctl, &fragment);
            learner.add_shardz("endpointShardz.json", &shardz());
        });
        let names: Vec<&str> =
            learned.clusters.iter().map(|cluster| cluster.name.as_str()).collect();
        assert_eq!(names, ["cluster1", "cluster2"], "{}", learned.to_toml());
        let cluster2 = cluster(&learned, "cluster2");
        assert_eq!(cluster2.gateways.len(), 1);
        assert_eq!(cluster2.gateways[0].address.to_string(), GATEWAY);
        assert!(
            cluster2.doubts.iter().any(|doubt| doubt.why.contains("gateway matched to cluster2")),
            "{:?}",
            cluster2.doubts
        );
        assert!(learned.warnings.is_empty(), "{:?}", learned.warnings);
        let topology = load(&learned);
        assert_eq!(
            topology.gateway_cluster("34.168.157.2".parse().unwrap(), Some(15443)),
            topology.id("cluster2")
        );
    }
}

#[test]
fn a_gateway_nothing_identifies_is_still_called_remote() {
    let mut fragment = proxy_istioctl();
    fragment.hosts.retain(|host| host.address == GATEWAY);
    let learned = learn(None, |learner| {
        learner.add_proxy_dump("grep.txt", ProxySource::Istioctl, &fragment);
    });
    let names: Vec<&str> = learned.clusters.iter().map(|cluster| cluster.name.as_str()).collect();
    assert_eq!(names, ["remote"]);
}
