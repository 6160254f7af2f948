//! The simulated mesh's fixed facts: three clusters (two networks), the proxies that
//! report access logs, the pod IPs of every service in every cluster, and the
//! topology TOML (`PRODUCT.md` §3) that describes exactly this mesh to meshlog.

use std::fmt::Write;

/// One cluster of the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterSpec {
    pub name: &'static str,
    pub network: &'static str,
    pub region: &'static str,
    pub zone: &'static str,
    pub pod_cidr: &'static str,
    /// The east-west gateway other networks reach this cluster through.
    pub gateway: &'static str,
}

/// `cluster1`, index of [`CLUSTERS`].
pub const C1: usize = 0;
/// `cluster2`, index of [`CLUSTERS`].
pub const C2: usize = 1;
/// `cluster3`, index of [`CLUSTERS`].
pub const C3: usize = 2;

/// cluster1 and cluster3 share the flat `network1`; cluster2 is on `network2`.
pub const CLUSTERS: [ClusterSpec; 3] = [
    ClusterSpec {
        name: "cluster1",
        network: "network1",
        region: "us-west1",
        zone: "us-west1-a",
        pod_cidr: "10.112.0.0/16",
        gateway: "34.168.157.2:15443",
    },
    ClusterSpec {
        name: "cluster2",
        network: "network2",
        region: "us-central1",
        zone: "us-central1-c",
        pod_cidr: "10.96.0.0/16",
        gateway: "35.200.10.5:15443",
    },
    ClusterSpec {
        name: "cluster3",
        network: "network1",
        region: "us-east1",
        zone: "us-east1-b",
        pod_cidr: "10.128.0.0/16",
        gateway: "34.23.45.6:15443",
    },
];

/// Whether a proxy in `from` reaches pods of `to` directly (same network) rather than
/// through `to`'s east-west gateway.
pub fn same_network(from: usize, to: usize) -> bool {
    CLUSTERS[from].network == CLUSTERS[to].network
}

/// A proxy that writes access logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxySpec {
    /// The pod name, as `kubectl logs --prefix` shows it.
    pub name: &'static str,
    pub cluster: usize,
    /// The pod IP.
    pub ip: &'static str,
}

pub const GW1: usize = 0;
pub const GW2: usize = 1;
pub const PRODUCTPAGE: usize = 2;
pub const REVIEWS: usize = 3;
pub const CHECKOUT: usize = 4;

/// The reporting proxies: both ingress gateways and three sidecars.
pub const PROXIES: [ProxySpec; 5] = [
    ProxySpec { name: "istio-ingressgateway-7d9f8c-x2k4p", cluster: C1, ip: "10.112.0.50" },
    ProxySpec { name: "istio-ingressgateway-5c8b7f-q9w2z", cluster: C2, ip: "10.96.0.31" },
    ProxySpec { name: "productpage-v1-6b746f74dc-9stvs", cluster: C1, ip: "10.112.1.23" },
    ProxySpec { name: "reviews-v2-7d79d5bd5d-8zlqv", cluster: C1, ip: "10.112.2.41" },
    ProxySpec { name: "checkout-v1-5f7c9d8b6-m4t2n", cluster: C2, ip: "10.96.4.12" },
];

/// Endpoints (`ip:port`) of one service (or subset), per cluster in [`CLUSTERS`] order.
pub type Pods = [&'static [&'static str]; 3];

pub const FRONTEND_PODS: Pods = [
    &["10.112.0.68:8080", "10.112.1.77:8080", "10.112.3.12:8080"],
    &["10.96.1.20:8080", "10.96.2.35:8080", "10.96.3.41:8080"],
    &["10.128.1.15:8080", "10.128.2.22:8080"],
];
pub const PRODUCTPAGE_PODS: Pods = [&["10.112.1.23:9080", "10.112.2.18:9080"], &[], &[]];
pub const CHECKOUT_PODS: Pods =
    [&["10.112.4.30:8080", "10.112.5.11:8080"], &["10.96.4.12:8080", "10.96.5.7:8080"], &[]];
pub const REVIEWS_V1_PODS: Pods = [&["10.112.2.40:9080"], &[], &["10.128.3.21:9080"]];
pub const REVIEWS_V2_PODS: Pods =
    [&["10.112.2.41:9080", "10.112.5.28:9080"], &[], &["10.128.5.8:9080"]];
pub const REVIEWS_V3_PODS: Pods = [&["10.112.6.14:9080"], &[], &["10.128.6.19:9080"]];
/// The first pod is the faulty endpoint of the scenario.
pub const DETAILS_PODS: Pods = [&["10.112.3.17:9080", "10.112.4.9:9080"], &[], &[]];
pub const RATINGS_PODS: Pods =
    [&["10.112.3.50:9080", "10.112.6.33:9080"], &[], &["10.128.4.14:9080", "10.128.6.30:9080"]];
pub const MYSQL_PODS: Pods = [&[], &["10.96.6.5:3306"], &[]];
/// The productpage sidecar's own inbound endpoint.
pub const PRODUCTPAGE_SELF: Pods = [&["10.112.1.23:9080"], &[], &[]];
pub const REVIEWS_SELF: Pods = [&["10.112.2.41:9080"], &[], &[]];
pub const CHECKOUT_SELF: Pods = [&[], &["10.96.4.12:8080"], &[]];
/// External hosts reached through `PassthroughCluster`.
pub const PAYMENTS_API: Pods = [&[], &["52.84.150.39:443"], &[]];
pub const RATES_API: Pods = [&[], &["93.184.216.34:80"], &[]];

/// Clients of the ingress gateways (also their `x-forwarded-for`).
pub const CLIENTS: &[&str] = &[
    "10.142.0.66",
    "10.142.0.71",
    "203.0.113.24",
    "198.51.100.7",
    "192.0.2.140",
    "203.0.113.201",
    "198.51.100.93",
    "100.64.12.9",
];

/// The topology config for this mesh, in meshlog's TOML (no `data_dir`: the default
/// applies unless the caller adds one).
pub fn topology_toml() -> String {
    let mut toml = String::from("# The simulated mesh of `meshlog simulate` and `meshlog demo`.\n");
    for cluster in &CLUSTERS {
        write_cluster(&mut toml, cluster);
    }
    toml
}

fn write_cluster(toml: &mut String, cluster: &ClusterSpec) {
    let _ = write!(
        toml,
        "\n[[clusters]]\nname = \"{}\"\nnetwork = \"{}\"\nregion = \"{}\"\nzone = \"{}\"\n\
         pod_cidrs = [\"{}\"]\neastwest_gateways = [\"{}\"]\n",
        cluster.name,
        cluster.network,
        cluster.region,
        cluster.zone,
        cluster.pod_cidr,
        cluster.gateway
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_cidr(host: &str, cidr: &str) -> bool {
        let (ip, _) = host.split_once(':').unwrap_or((host, ""));
        let net: ipnet::Ipv4Net = cidr.parse().unwrap();
        net.contains(&ip.parse::<std::net::Ipv4Addr>().unwrap())
    }

    #[test]
    fn topology_toml_describes_the_three_clusters() {
        let value: toml::Value = toml::from_str(&topology_toml()).unwrap();
        let clusters = value["clusters"].as_array().unwrap();
        assert_eq!(clusters.len(), 3);
        assert_eq!(clusters[1]["name"].as_str(), Some("cluster2"));
        assert_eq!(clusters[1]["eastwest_gateways"][0].as_str(), Some("35.200.10.5:15443"));
        assert_eq!(clusters[2]["network"].as_str(), Some("network1"));
        assert_eq!(clusters[0]["pod_cidrs"][0].as_str(), Some("10.112.0.0/16"));
    }

    #[test]
    fn every_pod_and_proxy_lies_in_its_cluster_cidr() {
        let all = [
            FRONTEND_PODS,
            PRODUCTPAGE_PODS,
            CHECKOUT_PODS,
            REVIEWS_V1_PODS,
            REVIEWS_V2_PODS,
            REVIEWS_V3_PODS,
            DETAILS_PODS,
            RATINGS_PODS,
            MYSQL_PODS,
        ];
        for pods in all {
            for (cluster, hosts) in pods.iter().enumerate() {
                assert!(hosts.iter().all(|host| in_cidr(host, CLUSTERS[cluster].pod_cidr)));
            }
        }
        assert!(PROXIES.iter().all(|proxy| in_cidr(proxy.ip, CLUSTERS[proxy.cluster].pod_cidr)));
    }

    #[test]
    fn cluster1_and_cluster3_are_flat_cluster2_is_not() {
        assert!(same_network(C1, C3));
        assert!(!same_network(C1, C2));
    }
}
