//! Evidence: the rows of one dump read into [`Group`]s, each a would-be cluster with the
//! pod IPs, gateway addresses, localities and networks seen for it. This file holds
//! what every dump gives; [`proxy`] owns the per-dump rules of the module doc in
//! `learn.rs` for a proxy's endpoint list (which endpoints count, what is a gateway,
//! which pods are local to the proxy), and [`shardz`] reads istiod's shards.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::{Doubt, ProxySource};

mod proxy;
mod shardz;

pub use proxy::read_proxy_dump;
pub use shardz::read_shardz;

/// The port of Istio's east-west gateways (`tls` AUTO_PASSTHROUGH).
pub const EASTWEST_PORT: u16 = 15443;

/// Where an endpoint runs, as far as a dump says.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Locality {
    pub region: Option<String>,
    pub zone: Option<String>,
}

impl Locality {
    pub fn new(region: Option<&str>, zone: Option<&str>) -> Locality {
        let known = |part: Option<&str>| part.filter(|text| !text.is_empty()).map(str::to_owned);
        Locality { region: known(region), zone: known(zone) }
    }

    pub fn is_known(&self) -> bool {
        self.region.is_some() || self.zone.is_some()
    }
}

impl fmt::Display for Locality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.region, &self.zone) {
            (Some(region), Some(zone)) => write!(f, "{region}/{zone}"),
            (Some(region), None) => f.write_str(region),
            (None, Some(zone)) => write!(f, "zone {zone}"),
            (None, None) => f.write_str("unknown locality"),
        }
    }
}

/// What a group was seen as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The cluster of a proxy whose endpoint list was given.
    Local,
    /// Remote pods a proxy reaches directly (a flat network).
    RemoteDirect,
    /// Reached through an east-west gateway.
    RemoteGateway,
    /// A `Kubernetes/<cluster>` shard of endpointShardz.
    Shard,
}

/// How one gateway address was seen.
#[derive(Debug, Clone, Default)]
pub struct GatewaySeen {
    pub endpoints: usize,
    pub dumps: BTreeSet<usize>,
    pub localities: BTreeSet<Locality>,
    pub sources: BTreeSet<ProxySource>,
}

impl GatewaySeen {
    fn absorb(&mut self, other: GatewaySeen) {
        self.endpoints += other.endpoints;
        self.dumps.extend(other.dumps);
        self.localities.extend(other.localities);
        self.sources.extend(other.sources);
    }
}

/// What is known of one would-be cluster.
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// A real name: the shard key or `--local-cluster`.
    pub name: Option<String>,
    /// Where the name came from.
    pub named_by: Option<&'static str>,
    pub roles: BTreeSet<Role>,
    /// The dumps whose proxy runs in this cluster.
    pub local_in: BTreeSet<usize>,
    /// Network → endpoints that said so.
    pub networks: BTreeMap<String, usize>,
    pub localities: BTreeSet<Locality>,
    /// Pod IP → endpoint rows seen with it.
    pub pods: BTreeMap<IpAddr, usize>,
    pub gateways: BTreeMap<SocketAddr, GatewaySeen>,
    /// Pods of an `istio-eastwestgateway` service (endpointShardz).
    pub eastwest_pods: BTreeSet<IpAddr>,
    /// Service FQDNs it was seen serving (a proxy's outbound clusters, shard services).
    pub services: BTreeSet<String>,
    /// Endpoint rows that contributed.
    pub endpoints: usize,
    pub dumps: BTreeSet<usize>,
    pub doubts: Vec<Doubt>,
    /// Doubts about which cluster the pods belong to, moot once a shard confirms them.
    pub membership_doubts: Vec<Doubt>,
}

impl Group {
    fn new(role: Role, dump: usize) -> Group {
        Group { roles: BTreeSet::from([role]), dumps: BTreeSet::from([dump]), ..Group::default() }
    }

    /// Takes in everything `other` knows.
    pub fn absorb(&mut self, other: Group) {
        if self.name.is_none() {
            self.name = other.name;
            self.named_by = other.named_by;
        }
        self.roles.extend(other.roles);
        self.local_in.extend(other.local_in);
        for (network, count) in other.networks {
            *self.networks.entry(network).or_default() += count;
        }
        self.localities.extend(other.localities);
        for (ip, count) in other.pods {
            *self.pods.entry(ip).or_default() += count;
        }
        for (address, seen) in other.gateways {
            self.gateways.entry(address).or_default().absorb(seen);
        }
        self.eastwest_pods.extend(other.eastwest_pods);
        self.services.extend(other.services);
        self.endpoints += other.endpoints;
        self.dumps.extend(other.dumps);
        self.doubts.extend(other.doubts);
        self.membership_doubts.extend(other.membership_doubts);
    }
}

/// One dump read: its groups, how many rows were used, and why the others were not.
#[derive(Debug, Default)]
pub struct Read {
    pub groups: Vec<Group>,
    pub used: usize,
    pub skipped: BTreeMap<&'static str, usize>,
}

impl Read {
    fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }
}

const NO_IP: &str = "no IP address (unix socket, hostname)";
const UNUSABLE_IP: &str = "loopback, link-local, multicast or unspecified address";

/// Loopback, unspecified, link-local or multicast: never a pod or gateway.
fn is_unusable(ip: IpAddr) -> bool {
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || link_local
}
