//! What one simulated proxy knows about its upstreams at any moment: its Envoy clusters
//! (`layout`), each host's counters (`counters`), and what the failover episodes do to
//! its hosts, by their cause: from the start of the errors to the end of the episode,
//! every priority-0 host of the failing service shows `failed_outlier_check` (503 `UH`
//! bursts, outlier ejection), or is not listed at all (scaled to zero); a failing
//! east-west gateway shows `failed_outlier_check` itself. A service with no local
//! deployment lists no priority-0 host.

use std::ops::Range;

use super::counters::HostCounters;
use super::layout::{Address, Discovery, EnvoyCluster, clusters_of};
use crate::simulate::line::Line;
use crate::simulate::mesh::{C2, CLUSTERS};
use crate::simulate::routes::{FRONTEND_GW1, ROUTES};
use crate::simulate::story::Cause;
use crate::simulate::timeline::Timeline;

/// What an episode does to a cluster's hosts, and when (ms since the epoch).
#[derive(Debug, Clone)]
struct Effect {
    cause: Cause,
    /// From the first error to the end of the episode.
    window: Range<i64>,
}

/// One Envoy cluster with its hosts' state.
#[derive(Debug, Clone)]
pub struct ClusterState {
    pub cluster: EnvoyCluster,
    /// One per endpoint of `cluster`, in the same order.
    pub hosts: Vec<HostCounters>,
    /// The episodes of the routes going to this cluster.
    episodes: Vec<Effect>,
    /// The service has no local deployment: its priority-0 hosts are never listed.
    no_local_deployment: bool,
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
            .map(|episode| Effect {
                cause: episode.cause,
                window: episode.burst_start_ms..episode.end_ms,
            })
            .collect();
        let no_local_deployment =
            timeline.story.frontend_served_by_cluster2() && cluster.routes.contains(&FRONTEND_GW1);
        ClusterState { cluster, hosts, episodes, no_local_deployment }
    }

    /// Whether host `index` is ejected at `at_ms`.
    pub fn ejected(&self, index: usize, at_ms: i64) -> bool {
        let local = self.is_local(index);
        let gateway =
            self.cluster.endpoints[index].address == Address::Socket(CLUSTERS[C2].gateway);
        let by_episode = self.episodes_at(at_ms).any(|cause| match cause {
            Cause::NoHealthyUpstream | Cause::OutlierEjection => local,
            Cause::GatewayFailure => gateway,
            Cause::ScaleToZero => false,
        });
        by_episode || self.hosts[index].ejected_at(at_ms)
    }

    /// Whether `/clusters` lists host `index` at `at_ms`: original-destination hosts
    /// appear with their first connection; local hosts scaled to zero, or of a service
    /// with no local deployment, do not appear.
    pub fn lists(&self, index: usize, at_ms: i64) -> bool {
        if self.is_local(index) {
            let scaled_to_zero = self.episodes_at(at_ms).any(|cause| cause == Cause::ScaleToZero);
            return !(scaled_to_zero || self.no_local_deployment);
        }
        self.cluster.discovery != Discovery::OriginalDst || self.hosts[index].used()
    }

    /// A priority-0 host of a service discovered over EDS.
    fn is_local(&self, index: usize) -> bool {
        self.cluster.discovery == Discovery::Eds && self.cluster.endpoints[index].priority == 0
    }

    fn episodes_at(&self, at_ms: i64) -> impl Iterator<Item = Cause> + '_ {
        self.episodes.iter().filter(move |e| e.window.contains(&at_ms)).map(|e| e.cause)
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
