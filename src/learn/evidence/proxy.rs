//! A proxy's endpoint list (`/clusters` JSON or text, an istioctl table) read into
//! groups: the proxy's own cluster (priority 0, nearby zones folded in), remote pods
//! reached directly (a flat network), and east-west gateways (`:15443`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use meshlog_parsers::admin::{ClustersDump, HostStatus};
use meshlog_parsers::{ClusterName, Direction};

use super::{
    EASTWEST_PORT, GatewaySeen, Group, Locality, NO_IP, Read, Role, UNUSABLE_IP, is_unusable,
};
use crate::enrich::address::{is_private, upstream_ip};
use crate::learn::cidr::conventional_root;
use crate::learn::merge::DisjointSets;
use crate::learn::{Doubt, ProxySource};

/// One usable endpoint of a proxy's list.
#[derive(Debug, Clone)]
struct Sighting {
    ip: IpAddr,
    port: u16,
    priority: Option<u32>,
    locality: Locality,
    is_gateway: bool,
    /// The service FQDN of the Envoy cluster it was seen in.
    service: Option<String>,
}

impl Group {
    fn add_pod(&mut self, sighting: &Sighting) {
        *self.pods.entry(sighting.ip).or_default() += 1;
        self.endpoints += 1;
        if sighting.locality.is_known() {
            self.localities.insert(sighting.locality.clone());
        }
        self.services.extend(sighting.service.clone());
    }
}

const NOT_OUTBOUND: &str = "not an outbound service cluster (inbound, Passthrough, xds-grpc…)";
const PUBLIC_IP: &str = "public IP in a service cluster (an external service)";

/// Reads one proxy's endpoint list.
pub fn read_proxy_dump(
    index: usize,
    source: ProxySource,
    dump: &ClustersDump,
    local_name: Option<&str>,
) -> Read {
    let mut read = Read::default();
    let mut sightings = Vec::new();
    for host in &dump.hosts {
        match sight(host) {
            Ok(sighting) => sightings.push(sighting),
            Err(reason) => read.skip(reason),
        }
    }
    read.used = sightings.len();
    let (gateways, pods): (Vec<_>, Vec<_>) =
        sightings.into_iter().partition(|sighting| sighting.is_gateway);
    let has_priorities = dump.hosts.iter().any(|host| host.priority.is_some());
    let split = split_local(pods);
    let local = local_group(index, &split, has_priorities, local_name);
    read.groups.extend(local);
    read.groups.extend(remote_direct_groups(index, &split.remote, &split.doubts));
    read.groups.extend(gateway_groups(index, source, &gateways));
    read
}

/// A host as a sighting, or why it does not count.
fn sight(host: &HostStatus) -> Result<Sighting, &'static str> {
    let cluster = ClusterName::parse(&host.envoy_cluster);
    if cluster.direction != Direction::Outbound {
        return Err(NOT_OUTBOUND);
    }
    let Some((ip, Some(port))) = upstream_ip(&host.address) else {
        return Err(NO_IP);
    };
    if is_unusable(ip) {
        return Err(UNUSABLE_IP);
    }
    let is_gateway = port == EASTWEST_PORT && cluster.port != Some(EASTWEST_PORT);
    if !is_gateway && !is_pod_range(ip) {
        return Err(PUBLIC_IP);
    }
    let locality = Locality::new(host.region.as_deref(), host.zone.as_deref());
    let service = cluster.service.map(str::to_owned);
    Ok(Sighting { ip, port, priority: host.priority, locality, is_gateway, service })
}
/// Addresses pods get: RFC 1918, CGNAT (100.64.0.0/10, used by some CNIs), IPv6 ULA.
fn is_pod_range(ip: IpAddr) -> bool {
    let cgnat = match ip {
        IpAddr::V4(v4) => v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64,
        IpAddr::V6(_) => false,
    };
    is_private(ip) || cgnat
}

/// A proxy's pods split into its own cluster's and remote ones.
#[derive(Debug, Default)]
struct LocalSplit {
    local: Vec<Sighting>,
    remote: Vec<Sighting>,
    /// Doubts about the remote pods, when the split rested on regions alone.
    doubts: Vec<Doubt>,
}

fn split_local(pods: Vec<Sighting>) -> LocalSplit {
    let (first, rest): (Vec<_>, Vec<_>) =
        pods.into_iter().partition(|sighting| sighting.priority.unwrap_or(0) == 0);
    let mut split = LocalSplit { local: first, remote: rest, doubts: Vec::new() };
    move_other_regions_out(&mut split);
    fold_nearby_zones_in(&mut split);
    split
}

/// Priority-0 pods outside the region most of them are in are remote (a cluster does not
/// span regions): the proxy has no failover priorities to tell them apart.
fn move_other_regions_out(split: &mut LocalSplit) {
    let Some(main_region) = majority_region(&split.local) else {
        return;
    };
    let in_other_region = |sighting: &Sighting| {
        sighting.locality.region.as_ref().is_some_and(|region| *region != main_region)
    };
    let (moved, kept): (Vec<_>, Vec<_>) =
        std::mem::take(&mut split.local).into_iter().partition(in_other_region);
    split.local = kept;
    if !moved.is_empty() {
        split.doubts.push(Doubt::medium(format!(
            "seen at the proxy's own priority 0; taken as remote only because most local pods are in {main_region}"
        )));
        split.remote.extend(moved);
    }
}

/// The region most sightings are in (ties go to the first by name).
fn majority_region(sightings: &[Sighting]) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for region in sightings.iter().filter_map(|sighting| sighting.locality.region.as_deref()) {
        *counts.entry(region).or_default() += 1;
    }
    let best = counts.values().copied().max()?;
    counts.into_iter().find(|(_, count)| *count == best).map(|(region, _)| region.to_owned())
}

/// Priority ≥ 1 pods in a local pod's /16 and a local region are the local cluster's
/// pods in another zone: Envoy's priorities rank zones, not clusters.
fn fold_nearby_zones_in(split: &mut LocalSplit) {
    let roots: BTreeSet<_> =
        split.local.iter().map(|sighting| conventional_root(sighting.ip)).collect();
    let regions: BTreeSet<_> =
        split.local.iter().filter_map(|sighting| sighting.locality.region.clone()).collect();
    let is_nearby = |sighting: &Sighting| {
        let same_region =
            sighting.locality.region.as_ref().is_none_or(|region| regions.contains(region));
        sighting.priority.unwrap_or(0) > 0
            && same_region
            && roots.contains(&conventional_root(sighting.ip))
    };
    let (nearby, remote): (Vec<_>, Vec<_>) =
        std::mem::take(&mut split.remote).into_iter().partition(is_nearby);
    split.remote = remote;
    split.local.extend(nearby);
}

/// The proxy's own cluster, when it saw any of its pods.
fn local_group(
    index: usize,
    split: &LocalSplit,
    has_priorities: bool,
    local_name: Option<&str>,
) -> Option<Group> {
    if split.local.is_empty() && local_name.is_none() {
        return None;
    }
    let mut group = Group::new(Role::Local, index);
    group.local_in.insert(index);
    if let Some(name) = local_name {
        group.name = Some(name.to_owned());
        group.named_by = Some("--local-cluster");
    }
    for sighting in &split.local {
        group.add_pod(sighting);
    }
    if !has_priorities && !split.local.is_empty() {
        group.membership_doubts.push(Doubt::medium(
            "a proxy dump without priorities (istioctl) gave pods that are all taken as local",
        ));
    }
    Some(group)
}

/// Remote pods by locality; localities whose pods share a /16 are one cluster.
fn remote_direct_groups(index: usize, remote: &[Sighting], doubts: &[Doubt]) -> Vec<Group> {
    let by_locality = group_by(remote, |sighting| sighting.locality.clone());
    let localities: Vec<&Locality> = by_locality.keys().collect();
    let mut sets = DisjointSets::new(localities.len());
    let mut root_owner: BTreeMap<ipnet::IpNet, usize> = BTreeMap::new();
    for (position, sightings) in by_locality.values().enumerate() {
        for sighting in sightings {
            let owner = *root_owner.entry(conventional_root(sighting.ip)).or_insert(position);
            sets.union(owner, position);
        }
    }
    let mut groups: BTreeMap<usize, Group> = BTreeMap::new();
    for (position, sightings) in by_locality.values().enumerate() {
        let group = groups.entry(sets.find(position)).or_insert_with(|| {
            let mut group = Group::new(Role::RemoteDirect, index);
            group.membership_doubts.extend(doubts.iter().cloned());
            group
        });
        for sighting in sightings {
            group.add_pod(sighting);
        }
    }
    groups.into_values().collect()
}

/// Gateways that share a known locality are one remote cluster.
fn gateway_groups(index: usize, source: ProxySource, gateways: &[Sighting]) -> Vec<Group> {
    let by_address = group_by(gateways, |sighting| SocketAddr::new(sighting.ip, sighting.port));
    let mut sets = DisjointSets::new(by_address.len());
    let mut locality_owner: BTreeMap<&Locality, usize> = BTreeMap::new();
    for (position, sightings) in by_address.values().enumerate() {
        for locality in sightings.iter().map(|sighting| &sighting.locality) {
            if locality.is_known() {
                sets.union(*locality_owner.entry(locality).or_insert(position), position);
            }
        }
    }
    let mut groups: BTreeMap<usize, Group> = BTreeMap::new();
    for (position, (address, sightings)) in by_address.iter().enumerate() {
        let group = groups
            .entry(sets.find(position))
            .or_insert_with(|| Group::new(Role::RemoteGateway, index));
        let seen = gateway_seen(index, source, sightings);
        group.services.extend(sightings.iter().filter_map(|sighting| sighting.service.clone()));
        group.endpoints += seen.endpoints;
        group.localities.extend(seen.localities.iter().cloned());
        group.gateways.insert(*address, seen);
    }
    groups.into_values().collect()
}

fn gateway_seen(index: usize, source: ProxySource, sightings: &[&Sighting]) -> GatewaySeen {
    GatewaySeen {
        endpoints: sightings.len(),
        dumps: BTreeSet::from([index]),
        localities: sightings
            .iter()
            .map(|sighting| sighting.locality.clone())
            .filter(Locality::is_known)
            .collect(),
        sources: BTreeSet::from([source]),
    }
}

fn group_by<K: Ord>(
    sightings: &[Sighting],
    key: impl Fn(&Sighting) -> K,
) -> BTreeMap<K, Vec<&Sighting>> {
    let mut groups: BTreeMap<K, Vec<&Sighting>> = BTreeMap::new();
    for sighting in sightings {
        groups.entry(key(sighting)).or_default().push(sighting);
    }
    groups
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn host(cluster: &str, address: &str, priority: Option<u32>, locality: &str) -> HostStatus {
        let (region, zone) = locality.split_once('/').unwrap_or((locality, ""));
        HostStatus {
            envoy_cluster: cluster.into(),
            address: address.into(),
            priority,
            region: Some(region.into()).filter(|text: &String| !text.is_empty()),
            zone: Some(zone.into()).filter(|text: &String| !text.is_empty()),
            ..HostStatus::default()
        }
    }

    const REVIEWS: &str = "outbound|9080||reviews.default.svc.cluster.local";

    fn read(hosts: Vec<HostStatus>) -> Read {
        let dump = ClustersDump { hosts, ..ClustersDump::default() };
        read_proxy_dump(0, ProxySource::ClustersJson, &dump, None)
    }

    fn pods(group: &Group) -> Vec<String> {
        group.pods.keys().map(ToString::to_string).collect()
    }

    #[test]
    fn special_inbound_loopback_unix_and_public_endpoints_are_skipped() {
        let read = read(vec![
            host("PassthroughCluster", "142.250.72.14:443", Some(0), ""),
            host("inbound|9080||", "10.112.1.15:9080", Some(0), ""),
            host("agent", "127.0.0.1:15020", Some(0), ""),
            host("xds-grpc", "unix://./etc/istio/proxy/XDS", Some(0), ""),
            host(REVIEWS, "127.0.0.6:9080", Some(0), ""),
            host(REVIEWS, "169.254.1.1:9080", Some(0), ""),
            host("outbound|443||www.example.com", "93.184.216.34:443", Some(0), ""),
            host(REVIEWS, "10.112.2.40:9080", Some(0), "us-east1/us-east1-b"),
        ]);
        assert_eq!(read.used, 1);
        assert_eq!(read.skipped.values().sum::<usize>(), 7);
        assert_eq!(read.skipped[NOT_OUTBOUND], 4);
        assert_eq!(read.skipped[PUBLIC_IP], 1);
        assert_eq!(read.groups.len(), 1);
        assert_eq!(pods(&read.groups[0]), ["10.112.2.40"]);
    }

    #[test]
    fn port_15443_is_a_gateway_unless_the_service_port_is_15443() {
        let read = read(vec![
            host(REVIEWS, "34.168.157.2:15443", Some(1), "us-west1/us-west1-a"),
            host(
                "outbound|15443||istio-eastwestgateway.istio-system.svc.cluster.local",
                "10.112.9.9:15443",
                Some(0),
                "us-east1/us-east1-b",
            ),
        ]);
        let gateway = read.groups.iter().find(|group| group.roles.contains(&Role::RemoteGateway));
        let gateway = gateway.unwrap();
        assert_eq!(gateway.gateways.keys().next().unwrap().to_string(), "34.168.157.2:15443");
        let local = read.groups.iter().find(|group| group.roles.contains(&Role::Local)).unwrap();
        assert_eq!(pods(local), ["10.112.9.9"]);
    }

    #[test]
    fn a_gateway_at_priority_zero_is_still_a_gateway() {
        let read = read(vec![host(REVIEWS, "35.1.2.3:15443", Some(0), "us-west1/us-west1-a")]);
        assert_eq!(read.groups.len(), 1);
        assert!(read.groups[0].roles.contains(&Role::RemoteGateway));
    }

    #[test]
    fn gateways_sharing_a_locality_are_one_cluster_and_others_are_not() {
        let read = read(vec![
            host(REVIEWS, "35.0.0.1:15443", Some(1), "us-west1/us-west1-a"),
            host(REVIEWS, "35.0.0.2:15443", Some(1), "us-west1/us-west1-a"),
            host(REVIEWS, "35.0.0.3:15443", Some(2), "europe-west1/europe-west1-b"),
            host(REVIEWS, "35.0.0.4:15443", None, ""),
            host(REVIEWS, "35.0.0.5:15443", None, ""),
        ]);
        let mut sizes: Vec<usize> = read.groups.iter().map(|group| group.gateways.len()).collect();
        sizes.sort();
        assert_eq!(sizes, [1, 1, 1, 2]);
    }

    #[test]
    fn local_pods_in_other_zones_at_priority_one_stay_local() {
        let read = read(vec![
            host(REVIEWS, "10.112.2.40:9080", Some(0), "us-east1/us-east1-b"),
            host(REVIEWS, "10.112.2.31:9080", Some(1), "us-east1/us-east1-c"),
            host(REVIEWS, "10.96.3.25:9080", Some(2), "us-west1/us-west1-a"),
            host(REVIEWS, "10.96.4.9:9080", Some(2), "us-west1/us-west1-b"),
        ]);
        assert_eq!(read.groups.len(), 2);
        let local = read.groups.iter().find(|group| group.roles.contains(&Role::Local)).unwrap();
        assert_eq!(pods(local), ["10.112.2.31", "10.112.2.40"]);
        let remote = read.groups.iter().find(|group| group.roles.contains(&Role::RemoteDirect));
        assert_eq!(pods(remote.unwrap()), ["10.96.3.25", "10.96.4.9"]);
    }

    #[test]
    fn remote_localities_in_different_slash_16s_are_different_clusters() {
        let read = read(vec![
            host(REVIEWS, "10.112.2.40:9080", Some(0), "us-east1/us-east1-b"),
            host(REVIEWS, "10.96.3.25:9080", Some(1), "us-west1/us-west1-a"),
            host(REVIEWS, "10.80.3.25:9080", Some(1), "us-west1/us-west1-b"),
        ]);
        let remote = read.groups.iter().filter(|group| group.roles.contains(&Role::RemoteDirect));
        assert_eq!(remote.count(), 2);
    }

    #[test]
    fn without_failover_priorities_another_region_is_remote_with_a_doubt() {
        let read = read(vec![
            host(REVIEWS, "10.112.2.40:9080", Some(0), "us-east1/us-east1-b"),
            host(REVIEWS, "10.112.2.41:9080", Some(0), "us-east1/us-east1-c"),
            host(REVIEWS, "10.96.3.25:9080", Some(0), "us-west1/us-west1-a"),
        ]);
        let remote = read.groups.iter().find(|group| group.roles.contains(&Role::RemoteDirect));
        let remote = remote.unwrap();
        assert_eq!(pods(remote), ["10.96.3.25"]);
        assert!(remote.membership_doubts[0].why.contains("us-east1"), "{:?}", remote);
    }

    #[test]
    fn istioctl_rows_without_priority_are_local_with_a_doubt() {
        let dump = ClustersDump {
            hosts: vec![host(REVIEWS, "10.112.2.40:9080", None, "")],
            ..ClustersDump::default()
        };
        let read = read_proxy_dump(3, ProxySource::Istioctl, &dump, Some("cluster1"));
        let local = &read.groups[0];
        assert_eq!(local.name.as_deref(), Some("cluster1"));
        assert_eq!(local.local_in, BTreeSet::from([3]));
        assert_eq!(local.membership_doubts.len(), 1);
    }
}
