//! What one simulated proxy knows about its upstreams at any moment: its Envoy clusters
//! (`layout`), each host's counters (`counters`), and when the failover episodes have
//! its local hosts ejected: from the start of the 503 `UH` burst to the end of the
//! episode, every priority-0 host of the failing service shows `failed_outlier_check`.

use std::ops::Range;

use super::counters::HostCounters;
use super::layout::{Discovery, EnvoyCluster, clusters_of};
use crate::simulate::line::Line;
use crate::simulate::routes::ROUTES;
use crate::simulate::timeline::Timeline;

/// One Envoy cluster with its hosts' state.
#[derive(Debug, Clone)]
pub struct ClusterState {
    pub cluster: EnvoyCluster,
    /// One per endpoint of `cluster`, in the same order.
    pub hosts: Vec<HostCounters>,
    /// When the episodes have the local hosts ejected (ms since the epoch).
    episodes: Vec<Range<i64>>,
}

impl ClusterState {
    fn new(cluster: EnvoyCluster, timeline: &Timeline) -> ClusterState {
        let hosts = match cluster.discovery {
            Discovery::Bootstrap => vec![HostCounters::one_stream(); cluster.endpoints.len()],
            _ => vec![HostCounters::default(); cluster.endpoints.len()],
        };
        let episodes = timeline
            .episodes
            .iter()
            .filter(|episode| cluster.routes.contains(&episode.route))
            .map(|episode| episode.burst_start_ms..episode.end_ms)
            .collect();
        ClusterState { cluster, hosts, episodes }
    }

    /// Whether host `index` is ejected at `at_ms`.
    pub fn ejected(&self, index: usize, at_ms: i64) -> bool {
        let local =
            self.cluster.discovery == Discovery::Eds && self.cluster.endpoints[index].priority == 0;
        let in_episode = local && self.episodes.iter().any(|window| window.contains(&at_ms));
        in_episode || self.hosts[index].ejected_at(at_ms)
    }

    /// Whether `/clusters` lists host `index`: original-destination hosts appear with
    /// their first connection.
    pub fn lists(&self, index: usize) -> bool {
        self.cluster.discovery != Discovery::OriginalDst || self.hosts[index].used()
    }

    fn count(&mut self, line: &Line) {
        let Some(host) = line.upstream_host else { return };
        let endpoints = &self.cluster.endpoints;
        let found = endpoints.iter().position(|endpoint| endpoint.address.is_socket(host));
        if let Some(index) = found {
            self.hosts[index].count(line);
        }
    }
}

/// One reporting proxy.
#[derive(Debug, Clone)]
pub struct ProxyState {
    /// Index in `PROXIES`.
    pub proxy: usize,
    /// Sorted by name, as the snapshot lists them.
    pub clusters: Vec<ClusterState>,
    /// Per route of `ROUTES`: the index in `clusters` its lines go to, if it is this
    /// proxy's and has a cluster.
    route_cluster: Vec<Option<usize>>,
}

impl ProxyState {
    pub fn new(proxy: usize, timeline: &Timeline) -> ProxyState {
        let clusters: Vec<ClusterState> =
            clusters_of(proxy).into_iter().map(|c| ClusterState::new(c, timeline)).collect();
        let route_cluster = (0..ROUTES.len())
            .map(|route| clusters.iter().position(|c| c.cluster.routes.contains(&route)))
            .collect();
        ProxyState { proxy, clusters, route_cluster }
    }

    /// Counts `line` if this proxy logged it.
    pub fn count(&mut self, line: &Line) {
        if line.proxy != self.proxy {
            return;
        }
        if let Some(Some(index)) = self.route_cluster.get(line.route) {
            self.clusters[*index].count(line);
        }
    }
}
