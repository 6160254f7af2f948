//! Which Envoy clusters each simulated proxy has and which hosts each one holds, as
//! `/clusters` lists them. An upstream cluster that a route uses holds the local pods
//! (priority 0, the proxy's locality) and then the endpoints in the other clusters:
//! their pods directly on the flat network, or their east-west gateway `ip:15443`
//! (weighted by the pods behind it) across networks, at priority 1, or 2 when the
//! service's DestinationRule names another cluster's region as its failover region.
//! Original-destination clusters (inbound, `PassthroughCluster`) hold the addresses
//! their routes reach. Every proxy also has the fixed clusters Istio gives it:
//! `BlackHoleCluster` and the bootstrap's `xds-grpc`, plus `PassthroughCluster` and
//! `InboundPassthroughClusterIpv4` for sidecars.

use crate::simulate::mesh::{CLUSTERS, PROXIES, same_network};
use crate::simulate::routes::{Kind, ROUTES, Route};
use crate::simulate::timeline::failover_target;

/// The pipe the bootstrap's `xds-grpc` cluster dials (istio-agent's XDS proxy).
pub const XDS_PIPE: &str = "./etc/istio/proxy/XDS";

/// How Envoy got a cluster and its hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// From istiod over CDS, hosts over EDS (the service name is the cluster name).
    Eds,
    /// From istiod; a host per original destination, made when a connection comes.
    OriginalDst,
    /// From istiod with no hosts (`BlackHoleCluster`).
    Static,
    /// From the bootstrap config, not over the API (`xds-grpc`).
    Bootstrap,
}

/// A host's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address {
    /// `ip:port`, as `%UPSTREAM_HOST%` logs it.
    Socket(&'static str),
    /// A Unix socket path.
    Pipe(&'static str),
}

impl Address {
    /// Whether this is the socket address `host` (`ip:port`).
    pub fn is_socket(self, host: &str) -> bool {
        matches!(self, Address::Socket(own) if own == host)
    }
}

/// One host of an Envoy cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub address: Address,
    pub priority: u32,
    pub weight: u32,
    /// Index in `CLUSTERS` of the cluster whose locality the host carries, if any.
    pub locality: Option<usize>,
}

/// One Envoy cluster of one proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvoyCluster {
    pub name: &'static str,
    pub discovery: Discovery,
    pub endpoints: Vec<Endpoint>,
    /// Indices in `ROUTES` of the routes whose lines go to this cluster.
    pub routes: Vec<usize>,
}

/// The Envoy clusters of `proxy` (an index in `PROXIES`), sorted by name.
pub fn clusters_of(proxy: usize) -> Vec<EnvoyCluster> {
    let mut clusters: Vec<EnvoyCluster> = Vec::new();
    for (index, route) in ROUTES.iter().enumerate().filter(|(_, route)| route.proxy == proxy) {
        let Some(name) = route.upstream_cluster else { continue };
        let endpoints = route_endpoints(index, route);
        match clusters.iter_mut().find(|cluster| cluster.name == name) {
            Some(cluster) => merge(cluster, index, endpoints),
            None => clusters.push(EnvoyCluster {
                name,
                discovery: discovery_of(route.kind),
                endpoints,
                routes: vec![index],
            }),
        }
    }
    add_fixed_clusters(&mut clusters, is_sidecar(proxy));
    clusters.sort_by(|a, b| a.name.cmp(b.name));
    clusters
}

/// The local endpoints of `route`: the pods in its proxy's cluster.
pub fn local_hosts(route: &Route) -> Vec<&'static str> {
    route.pods[PROXIES[route.proxy].cluster].to_vec()
}

/// What `route` reaches in `target`, with each host's weight: the pods on the flat
/// network, else `target`'s east-west gateway weighted by the pods behind it.
pub fn remote_hosts(route: &Route, target: usize) -> Vec<(&'static str, u32)> {
    let pods = route.pods[target];
    if same_network(PROXIES[route.proxy].cluster, target) {
        return pods.iter().map(|pod| (*pod, 1)).collect();
    }
    let behind = u32::try_from(pods.len()).unwrap_or(u32::MAX);
    vec![(CLUSTERS[target].gateway, behind)]
}

fn discovery_of(kind: Kind) -> Discovery {
    match kind {
        Kind::Inbound | Kind::ExternalTcp | Kind::ExternalHttp => Discovery::OriginalDst,
        _ => Discovery::Eds,
    }
}

fn is_sidecar(proxy: usize) -> bool {
    !ROUTES.iter().any(|route| route.proxy == proxy && route.kind == Kind::Gateway)
}

/// Adds a second route's hosts (`PassthroughCluster` serves two external hosts).
fn merge(cluster: &mut EnvoyCluster, route: usize, endpoints: Vec<Endpoint>) {
    cluster.routes.push(route);
    for endpoint in endpoints {
        if !cluster.endpoints.iter().any(|known| known.address == endpoint.address) {
            cluster.endpoints.push(endpoint);
        }
    }
}

fn route_endpoints(index: usize, route: &Route) -> Vec<Endpoint> {
    let home = PROXIES[route.proxy].cluster;
    if discovery_of(route.kind) == Discovery::OriginalDst {
        return local_hosts(route).into_iter().map(original_destination).collect();
    }
    let local = local_hosts(route).into_iter().map(|pod| socket(pod, 0, 1, home));
    let mut endpoints: Vec<Endpoint> = local.collect();
    for target in (0..CLUSTERS.len()).filter(|&t| t != home && !route.pods[t].is_empty()) {
        let priority = remote_priority(index, route, target);
        let remote = remote_hosts(route, target).into_iter();
        endpoints.extend(remote.map(|(host, weight)| socket(host, priority, weight, target)));
    }
    endpoints.sort_by_key(|endpoint| endpoint.priority);
    endpoints
}

/// 1 for the cluster the service spills or fails over to, 2 for the others when it
/// has such a cluster (Istio's failover priorities); 1 for every remote otherwise.
fn remote_priority(index: usize, route: &Route, target: usize) -> u32 {
    let preferred = route.spill.map(|spill| spill.cluster).or_else(|| failover_target(index));
    match preferred {
        Some(cluster) if cluster != target => 2,
        _ => 1,
    }
}

fn socket(host: &'static str, priority: u32, weight: u32, cluster: usize) -> Endpoint {
    Endpoint { address: Address::Socket(host), priority, weight, locality: Some(cluster) }
}

fn original_destination(host: &'static str) -> Endpoint {
    Endpoint { address: Address::Socket(host), priority: 0, weight: 1, locality: None }
}

fn add_fixed_clusters(clusters: &mut Vec<EnvoyCluster>, sidecar: bool) {
    let xds = Endpoint { address: Address::Pipe(XDS_PIPE), priority: 0, weight: 1, locality: None };
    let mut fixed = vec![
        ("BlackHoleCluster", Discovery::Static, vec![]),
        ("xds-grpc", Discovery::Bootstrap, vec![xds]),
    ];
    if sidecar {
        fixed.push(("PassthroughCluster", Discovery::OriginalDst, vec![]));
        fixed.push(("InboundPassthroughClusterIpv4", Discovery::OriginalDst, vec![]));
    }
    for (name, discovery, endpoints) in fixed {
        if !clusters.iter().any(|cluster| cluster.name == name) {
            clusters.push(EnvoyCluster { name, discovery, endpoints, routes: vec![] });
        }
    }
}
