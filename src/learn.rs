//! `meshlog topology learn`: the mesh topology (`[[clusters]]` of PRODUCT.md §3) inferred
//! from admin dumps, with what each conclusion rests on and how sure it is. This file owns
//! the public API ([`Learner`] in, [`Learned`] out) and the rules below; it is pure (rows
//! in, text out), so the rules are tested on hand-built rows. `cli::topology` reads files.
//!
//! ```text
//! ClustersDump (a proxy's /clusters json/text, istioctl table) ─ evidence::read_proxy_dump ─┐
//! ShardzDump (istiod /debug/endpointShardz)                    ─ evidence::read_shardz ─────┤
//!   ─▶ Groups (pods, gateways, localities) ─ merge ─▶ clusters ─ render ─▶ Learned (TOML + summary)
//! ```
//!
//! **A proxy's endpoint list** (one dump = one proxy, whose cluster is the *local* one):
//! - Only endpoints of Istio `outbound` clusters count: inbound clusters, `PassthroughCluster`,
//!   `BlackHoleCluster`, `xds-grpc`, `agent`… are skipped, and so are unix sockets,
//!   hostnames, loopback, link-local and multicast addresses.
//! - An endpoint on port 15443 of a cluster whose service port is not 15443 is a remote
//!   **east-west gateway** (Istio puts `gateway:15443` in place of a remote network's pods).
//!   This holds whatever the priority: without outlier detection every endpoint is priority 0.
//!   Gateways that share a locality (region, zone) are one remote cluster; a gateway without
//!   locality (istioctl tables) is a cluster of its own.
//! - Any other endpoint is a pod when its IP is private (RFC 1918, CGNAT 100.64/10, IPv6
//!   ULA); a public IP in a service cluster is an external service and is skipped.
//! - Pods at priority 0 (or with no priority, as in istioctl tables) are **local**, except
//!   those in a region other than the one most of them are in: a cluster does not span
//!   regions, so they are remote pods that the proxy ranks equal for want of failover
//!   priorities. Pods at priority ≥ 1 are **remote pods of a flat network**, except those in
//!   the same /16 (IPv6 /48) as a local pod and in a local region: Envoy's priorities rank
//!   zones, not clusters, so they are the local cluster's pods in another zone.
//! - Remote pods are grouped by locality; localities whose pods share a /16 are one cluster
//!   (a regional cluster spans zones).
//!
//! **istiod's endpointShardz**: a shard `Kubernetes/<cluster>` names the cluster; its
//! endpoints give pod IPs, `network` and locality. Other registries (ServiceEntry…) are
//! skipped. Gateways' external addresses are not there: endpoints of an
//! `istio-eastwestgateway` service are the gateway's pods, noted but not used as addresses.
//!
//! **Merging** (across dumps): groups with the same known name (`--local-cluster`, shard
//! key), a shared pod IP or a shared gateway address are one cluster, except that two
//! different known names never merge (a warning says so). Partial evidence then joins the
//! clusters already known: a gateway cluster still unnamed joins the one named cluster
//! whose endpoints include the gateway's address, else the one that fits every clue there
//! is: not the cluster of a proxy that saw the gateway, localities that include the
//! gateway's, endpoints of a service the gateway was seen for, a network other than the
//! seeing proxies'. So `istioctl proxy-config endpoints POD | grep reviews` (no priority,
//! no locality) plus endpointShardz gives the shard clusters and no third one; when
//! several clusters fit, the gateway stays unnamed and a warning says which.
//!
//! **Names**: the shard key or `--local-cluster`; else guessed (`local` for the proxies'
//! own cluster, the zone or region for a remote one, `remote` when nothing identifies
//! it), with a comment saying to set it to the Istio cluster ID. **Pod CIDRs**: see `learn/cidr.rs`. **Confidence**:
//! high unless a doubt lowers it: a guessed name (low), a CIDR resting on one IP (low) or
//! two (medium), a gateway seen only in istioctl tables (low), a gateway matched by
//! address, locality, network or service, pods taken as local or remote without priorities to go by (medium; moot once
//! a shard holds them), pod IPs claimed by two clusters (low), several networks or regions
//! in one cluster (medium).
//! A cluster in a multi-network mesh with no known gateway address gets a note.

mod cidr;
mod evidence;
mod merge;
mod render;

use std::collections::BTreeMap;

use meshlog_parsers::admin::{ClustersDump, ShardzDump};

pub use cidr::CidrSupport;
pub use render::{LearnedCluster, LearnedGateway};

/// What the user told `topology learn`.
#[derive(Debug, Clone, Default)]
pub struct LearnOptions {
    /// The Istio cluster ID of the proxies whose endpoint lists are given.
    pub local_cluster: Option<String>,
}

/// Which proxy dump a [`ClustersDump`] was read from; istioctl tables carry no priority
/// (and most no locality), which lowers what can be concluded from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProxySource {
    ClustersJson,
    /// istioctl's `-o yaml`: the `/clusters?format=json` statuses, priorities and all.
    ClustersYaml,
    ClustersText,
    Istioctl,
}

impl ProxySource {
    /// A short name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxySource::ClustersJson => "/clusters?format=json",
            ProxySource::ClustersYaml => "istioctl -o yaml",
            ProxySource::ClustersText => "/clusters",
            ProxySource::Istioctl => "istioctl endpoints",
        }
    }
}

/// How sure a conclusion is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    /// `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// A reason to be less sure of a cluster, and how much less.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Doubt {
    pub level: Confidence,
    pub why: String,
}

impl Doubt {
    fn low(why: impl Into<String>) -> Doubt {
        Doubt { level: Confidence::Low, why: why.into() }
    }

    fn medium(why: impl Into<String>) -> Doubt {
        Doubt { level: Confidence::Medium, why: why.into() }
    }
}

/// One dump as read: what it was, how many rows it had, which were used and why the
/// others were skipped.
#[derive(Debug, Clone)]
pub struct DumpReport {
    pub label: String,
    pub kind: &'static str,
    pub rows: usize,
    pub used: usize,
    /// Skipped rows per reason.
    pub skipped: BTreeMap<&'static str, usize>,
}

/// Collects dumps, then infers the topology.
#[derive(Debug, Default)]
pub struct Learner {
    options: LearnOptions,
    groups: Vec<evidence::Group>,
    dumps: Vec<DumpReport>,
}

impl Learner {
    pub fn new(options: LearnOptions) -> Learner {
        Learner { options, ..Learner::default() }
    }

    /// Adds one proxy's endpoint list (`/clusters` JSON or text, an istioctl table).
    pub fn add_proxy_dump(&mut self, label: &str, source: ProxySource, dump: &ClustersDump) {
        let index = self.dumps.len();
        let local_name = self.options.local_cluster.as_deref();
        let read = evidence::read_proxy_dump(index, source, dump, local_name);
        self.record(label, source.as_str(), dump.hosts.len(), read);
    }

    /// Adds one istiod `/debug/endpointShardz` dump.
    pub fn add_shardz(&mut self, label: &str, dump: &ShardzDump) {
        let index = self.dumps.len();
        let read = evidence::read_shardz(index, dump);
        self.record(label, "endpointShardz", dump.endpoints.len(), read);
    }

    fn record(&mut self, label: &str, kind: &'static str, rows: usize, read: evidence::Read) {
        self.dumps.push(DumpReport {
            label: label.to_owned(),
            kind,
            rows,
            used: read.used,
            skipped: read.skipped,
        });
        self.groups.extend(read.groups);
    }

    /// Merges the evidence of every dump into clusters.
    pub fn finish(self) -> Learned {
        let merged = merge::merge(self.groups);
        let clusters = render::clusters(merged.clusters);
        Learned { clusters, dumps: self.dumps, warnings: merged.warnings }
    }
}

/// The inferred topology.
#[derive(Debug, Clone)]
pub struct Learned {
    pub clusters: Vec<LearnedCluster>,
    pub dumps: Vec<DumpReport>,
    /// Conflicts met while merging (two known names for one address…).
    pub warnings: Vec<String>,
}

impl Learned {
    /// The `[[clusters]]` TOML, commented, valid input for `meshlog ingest --config`.
    pub fn to_toml(&self) -> String {
        render::toml(self)
    }

    /// What was inferred and what is uncertain, for people (stderr).
    pub fn summary(&self) -> String {
        render::summary(self)
    }
}

#[cfg(test)]
mod tests;
