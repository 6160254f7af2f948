//! The mesh topology: each cluster's pod CIDRs and east-west gateway addresses,
//! indexed for the per-request lookups of enrichment. It knows nothing of where it
//! came from: [`crate::config::topology`] builds it from `[[clusters]]` and
//! validates it.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::fast_hash::FastMap;

/// Index of a cluster in the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterId(u16);

/// One cluster of the mesh.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: Arc<str>,
    pub network: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
}

/// The clusters of the mesh and the addresses that identify them.
#[derive(Debug, Default)]
pub struct Topology {
    clusters: Vec<Cluster>,
    /// Pod CIDRs, most specific first.
    cidrs: Vec<(IpNet, ClusterId)>,
    /// Gateway IP → (port, or any port when `None`) and cluster.
    gateways: FastMap<IpAddr, Vec<(Option<u16>, ClusterId)>>,
}

impl Topology {
    /// Adds a cluster (its name not yet in the topology) and returns its id. The
    /// config ([`crate::config::topology`]) validates what it adds.
    pub fn add_cluster(&mut self, cluster: Cluster) -> ClusterId {
        let id = ClusterId(u16::try_from(self.clusters.len()).unwrap_or(u16::MAX));
        self.clusters.push(cluster);
        id
    }

    /// Adds a pod address range of cluster `id`.
    pub fn add_pod_cidr(&mut self, id: ClusterId, net: IpNet) {
        self.cidrs.push((net, id));
        // Across clusters only ranges of different networks overlap; `pod_cluster`
        // tells them apart by the caller. Within one cluster, the order is moot.
        self.cidrs.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
    }

    /// Adds an east-west gateway of cluster `id` (any port when `port` is `None`).
    pub fn add_gateway(&mut self, id: ClusterId, ip: IpAddr, port: Option<u16>) {
        self.gateways.entry(ip).or_default().push((port, id));
    }

    /// No clusters configured.
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    /// The clusters, in config order.
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// The id of a cluster by name.
    pub fn id(&self, name: &str) -> Option<ClusterId> {
        let index = self.clusters.iter().position(|cluster| &*cluster.name == name)?;
        Some(ClusterId(u16::try_from(index).ok()?))
    }

    /// The name of a cluster.
    pub fn name(&self, id: ClusterId) -> &Arc<str> {
        &self.clusters[usize::from(id.0)].name
    }

    /// The cluster whose east-west gateway listens on `ip` (and `port`, when the
    /// gateway was configured with one).
    pub fn gateway_cluster(&self, ip: IpAddr, port: Option<u16>) -> Option<ClusterId> {
        let entries = self.gateways.get(&ip)?;
        entries
            .iter()
            .find(|(gateway_port, _)| gateway_port.is_none() || *gateway_port == port)
            .map(|(_, id)| *id)
    }

    /// The cluster whose pod CIDRs hold `ip`, as seen from the calling cluster `caller`.
    /// Only clusters on different networks share a range, and a pod on another network
    /// is never reached directly: the caller's own cluster first, then the first one on
    /// its network, else the most specific range's.
    pub fn pod_cluster(&self, ip: IpAddr, caller: Option<ClusterId>) -> Option<ClusterId> {
        let holders =
            || self.cidrs.iter().filter(move |(net, _)| net.contains(&ip)).map(|(_, id)| *id);
        let first = holders().next()?;
        let Some(caller) = caller else { return Some(first) };
        if holders().any(|holder| holder == caller) {
            return Some(caller);
        }
        let on_its_network = holders().find(|&holder| !self.on_different_networks(holder, caller));
        Some(on_its_network.unwrap_or(first))
    }

    /// Whether two clusters declare `network`s, and different ones.
    pub fn on_different_networks(&self, a: ClusterId, b: ClusterId) -> bool {
        let network = |id: ClusterId| self.clusters[usize::from(id.0)].network.as_deref();
        matches!((network(a), network(b)), (Some(x), Some(y)) if x != y)
    }
}
