//! Merging the groups of every dump into clusters: by known name, shared pod IP and
//! shared gateway address (never joining two different known names), then joining each
//! gateway no dump names to the one named cluster its address, locality, network and
//! services point to.

use std::collections::{BTreeMap, BTreeSet};

use super::Doubt;
use super::evidence::{Group, Role};

/// Disjoint sets over `0..len` (union-find with path halving).
#[derive(Debug)]
pub struct DisjointSets {
    parent: Vec<usize>,
}

impl DisjointSets {
    pub fn new(len: usize) -> DisjointSets {
        DisjointSets { parent: (0..len).collect() }
    }

    pub fn find(&mut self, mut item: usize) -> usize {
        while self.parent[item] != item {
            self.parent[item] = self.parent[self.parent[item]];
            item = self.parent[item];
        }
        item
    }

    /// Joins the sets of `a` and `b`; the root of `a`'s set stays the root.
    pub fn union(&mut self, a: usize, b: usize) {
        let (root_a, root_b) = (self.find(a), self.find(b));
        if root_a != root_b {
            self.parent[root_b] = root_a;
        }
    }
}

/// The clusters, and the conflicts met on the way.
#[derive(Debug, Default)]
pub struct Merged {
    pub clusters: Vec<Group>,
    pub warnings: Vec<String>,
}

/// Union-find over groups that refuses to join two different known names.
struct Joiner<'g> {
    groups: &'g [Group],
    sets: DisjointSets,
    /// The known name of each set, at its root.
    names: Vec<Option<&'g str>>,
    warnings: Vec<String>,
}

impl<'g> Joiner<'g> {
    fn new(groups: &'g [Group]) -> Joiner<'g> {
        let names = groups.iter().map(|group| group.name.as_deref()).collect();
        Joiner { groups, sets: DisjointSets::new(groups.len()), names, warnings: Vec::new() }
    }

    /// Joins the groups at `a` and `b` because they share `what`.
    fn join(&mut self, a: usize, b: usize, what: &dyn Fn() -> String) {
        let (root_a, root_b) = (self.sets.find(a), self.sets.find(b));
        if root_a == root_b {
            return;
        }
        match (self.names[root_a], self.names[root_b]) {
            (Some(first), Some(second)) if first != second => {
                let warning = format!("{} is in {first} and in {second}: not merged", what());
                if !self.warnings.contains(&warning) {
                    self.warnings.push(warning);
                }
            }
            (first, second) => {
                self.sets.union(root_a, root_b);
                self.names[root_a] = first.or(second);
            }
        }
    }

    /// Joins every pair of groups that share a key; `keys` lists a group's keys.
    fn join_by<K: Ord + std::fmt::Display>(&mut self, keys: impl Fn(&Group) -> Vec<K>) {
        let groups = self.groups;
        let mut first_with: BTreeMap<K, usize> = BTreeMap::new();
        for (index, group) in groups.iter().enumerate() {
            for key in keys(group) {
                let what = format!("{key}");
                let first = *first_with.entry(key).or_insert(index);
                self.join(first, index, &|| what.clone());
            }
        }
    }

    /// Each group's set, and the warnings.
    fn finish(mut self) -> (Vec<usize>, Vec<String>) {
        let roots = (0..self.groups.len()).map(|index| self.sets.find(index)).collect();
        (roots, self.warnings)
    }
}

/// Groups absorbed into the first group of their set.
fn collect(groups: Vec<Group>, roots: &[usize]) -> Vec<Group> {
    let mut by_root: BTreeMap<usize, Group> = BTreeMap::new();
    for (group, root) in groups.into_iter().zip(roots) {
        match by_root.get_mut(root) {
            Some(cluster) => cluster.absorb(group),
            None => {
                by_root.insert(*root, group);
            }
        }
    }
    by_root.into_values().collect()
}

/// Merges groups into clusters.
pub fn merge(groups: Vec<Group>) -> Merged {
    let mut joiner = Joiner::new(&groups);
    joiner.join_by(|group| group.name.iter().map(|name| format!("the name {name}")).collect());
    joiner.join_by(|group| group.pods.keys().map(|ip| format!("pod IP {ip}")).collect());
    joiner.join_by(|group| group.gateways.keys().map(|gw| format!("gateway {gw}")).collect());
    let (roots, warnings) = joiner.finish();
    name_gateways(Merged { clusters: collect(groups, &roots), warnings })
}

/// Joins each unnamed gateway-only cluster to the one named cluster the evidence points
/// to (see [`gateway_match`]), so partial evidence (a grep'd istioctl fragment) lands
/// in the clusters endpointShardz names instead of a cluster of its own.
fn name_gateways(mut merged: Merged) -> Merged {
    let mut index = 0;
    while index < merged.clusters.len() {
        match gateway_match(&merged.clusters, index, &mut merged.warnings) {
            Some((target, why)) => {
                let mut gateway = merged.clusters.remove(index);
                let target = if target > index { target - 1 } else { target };
                gateway.doubts.push(Doubt::medium(why));
                merged.clusters[target].absorb(gateway);
            }
            None => index += 1,
        }
    }
    merged
}

/// The named cluster that the unnamed gateway-only cluster at `index` belongs to, and
/// why: the one whose endpoints include a gateway address; else the one that fits
/// every clue there is (not the cluster of a proxy that saw the gateway; its localities
/// include the gateway's; it serves a service the gateway was seen for; it is in
/// another network than the proxies that saw the gateway). Several fitting leave the
/// gateway unnamed, with a warning.
fn gateway_match(
    clusters: &[Group],
    index: usize,
    warnings: &mut Vec<String>,
) -> Option<(usize, String)> {
    let gateway = &clusters[index];
    let gateway_only = gateway.roles.iter().all(|role| *role == Role::RemoteGateway);
    if gateway.name.is_some() || !gateway_only {
        return None;
    }
    if let [only] = named(clusters, index, |cluster| holds_gateway_address(gateway, cluster))[..] {
        return Some((only, format!("gateway matched to {} by address", name_of(&clusters[only]))));
    }
    let seeing = seeing_networks(clusters, gateway);
    let candidates = named(clusters, index, |cluster| fits(gateway, cluster, &seeing));
    match candidates[..] {
        [only] => Some((only, clue_text(gateway, &clusters[only], &seeing))),
        [] => None,
        _ => {
            let names: Vec<&str> =
                candidates.iter().map(|&other| name_of(&clusters[other])).collect();
            warnings.push(format!(
                "the gateway {} ({}) fits {}: left unnamed",
                addresses(gateway),
                localities(gateway),
                names.join(" and ")
            ));
            None
        }
    }
}

/// The named clusters other than `index` that `keep` accepts.
fn named(clusters: &[Group], index: usize, keep: impl Fn(&Group) -> bool) -> Vec<usize> {
    let is_named = |other: &usize| *other != index && clusters[*other].name.is_some();
    (0..clusters.len()).filter(is_named).filter(|&other| keep(&clusters[other])).collect()
}

/// A gateway address that is one of the cluster's endpoints (east-west gateway pods
/// reached directly, or a pod IP).
fn holds_gateway_address(gateway: &Group, cluster: &Group) -> bool {
    gateway.gateways.keys().any(|address| {
        cluster.eastwest_pods.contains(&address.ip()) || cluster.pods.contains_key(&address.ip())
    })
}

/// The networks of the clusters whose proxies saw the gateway.
fn seeing_networks<'g>(clusters: &'g [Group], gateway: &Group) -> BTreeSet<&'g String> {
    let seeing = clusters.iter().filter(|cluster| !cluster.local_in.is_disjoint(&gateway.dumps));
    seeing.flat_map(|cluster| cluster.networks.keys()).collect()
}

/// Whether `cluster` fits every clue about the gateway; a clue one side lacks is no
/// clue.
fn fits(gateway: &Group, cluster: &Group, seeing: &BTreeSet<&String>) -> bool {
    let not_seeing = cluster.local_in.is_disjoint(&gateway.dumps);
    let locality = gateway.localities.is_subset(&cluster.localities);
    let service = gateway.services.is_empty()
        || cluster.services.is_empty()
        || !gateway.services.is_disjoint(&cluster.services);
    let network = seeing.is_empty()
        || cluster.networks.is_empty()
        || cluster.networks.keys().any(|network| !seeing.contains(network));
    not_seeing && locality && service && network
}

/// `gateway matched to cluster2 by locality (…), network and service: the one cluster
/// that fits`, naming the clues that were there.
fn clue_text(gateway: &Group, cluster: &Group, seeing: &BTreeSet<&String>) -> String {
    let mut clues = Vec::new();
    if !gateway.localities.is_empty() {
        clues.push(format!("locality ({})", localities(gateway)));
    }
    if !seeing.is_empty() && !cluster.networks.is_empty() {
        let networks: Vec<&str> = cluster.networks.keys().map(String::as_str).collect();
        clues.push(format!("network ({})", networks.join(", ")));
    }
    if !gateway.services.is_disjoint(&cluster.services) {
        clues.push("service".to_owned());
    }
    if clues.is_empty() {
        clues.push("elimination".to_owned());
    }
    format!(
        "gateway matched to {} by {}: the one other cluster that fits",
        name_of(cluster),
        clues.join(", ")
    )
}

fn name_of(group: &Group) -> &str {
    group.name.as_deref().unwrap_or("?")
}

fn addresses(group: &Group) -> String {
    let addresses: Vec<String> = group.gateways.keys().map(ToString::to_string).collect();
    addresses.join(", ")
}

fn localities(group: &Group) -> String {
    if group.localities.is_empty() {
        return "no locality".to_owned();
    }
    let names: Vec<String> = group.localities.iter().map(ToString::to_string).collect();
    names.join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;
    use std::net::{IpAddr, SocketAddr};

    use super::*;
    use crate::learn::evidence::{GatewaySeen, Locality};

    fn group(name: Option<&str>, role: Role, dump: usize, pods: &[&str]) -> Group {
        Group {
            name: name.map(Into::into),
            roles: BTreeSet::from([role]),
            dumps: BTreeSet::from([dump]),
            local_in: if role == Role::Local { BTreeSet::from([dump]) } else { BTreeSet::new() },
            pods: pods.iter().map(|ip| (ip.parse::<IpAddr>().unwrap(), 1)).collect(),
            endpoints: pods.len(),
            ..Group::default()
        }
    }

    fn with_gateway(mut group: Group, address: &str, locality: (&str, &str)) -> Group {
        let locality = Locality::new(Some(locality.0), Some(locality.1));
        group.localities.insert(locality.clone());
        let seen = GatewaySeen {
            endpoints: 1,
            dumps: group.dumps.clone(),
            localities: BTreeSet::from([locality]),
            ..GatewaySeen::default()
        };
        group.gateways.insert(address.parse::<SocketAddr>().unwrap(), seen);
        group
    }

    fn with_locality(mut group: Group, region: &str, zone: &str) -> Group {
        group.localities.insert(Locality::new(Some(region), Some(zone)));
        group
    }

    fn names(merged: &Merged) -> Vec<Option<String>> {
        merged.clusters.iter().map(|cluster| cluster.name.clone()).collect()
    }

    #[test]
    fn disjoint_sets_join_transitively() {
        let mut sets = DisjointSets::new(4);
        sets.union(0, 1);
        sets.union(2, 1);
        assert_eq!(sets.find(2), sets.find(0));
        assert_ne!(sets.find(3), sets.find(0));
    }

    #[test]
    fn groups_sharing_a_pod_ip_or_a_name_merge() {
        let merged = merge(vec![
            group(None, Role::Local, 0, &["10.112.0.1"]),
            group(Some("cluster1"), Role::Shard, 1, &["10.112.0.1", "10.112.0.2"]),
            group(Some("cluster1"), Role::Local, 2, &["10.112.5.5"]),
            group(Some("cluster2"), Role::Shard, 1, &["10.96.0.1"]),
        ]);
        assert_eq!(names(&merged), [Some("cluster1".into()), Some("cluster2".into())]);
        let cluster1 = &merged.clusters[0];
        assert_eq!(cluster1.pods.len(), 3);
        assert_eq!(cluster1.dumps, BTreeSet::from([0, 1, 2]));
        assert_eq!(cluster1.local_in, BTreeSet::from([0, 2]));
        assert!(merged.warnings.is_empty());
    }

    #[test]
    fn two_known_names_never_merge() {
        let merged = merge(vec![
            group(Some("cluster1"), Role::Local, 0, &["10.96.0.1"]),
            group(Some("cluster2"), Role::Shard, 1, &["10.96.0.1"]),
        ]);
        assert_eq!(merged.clusters.len(), 2);
        assert_eq!(
            merged.warnings,
            ["pod IP 10.96.0.1 is in cluster1 and in cluster2: not merged"]
        );
    }

    #[test]
    fn a_shared_gateway_address_merges_across_dumps() {
        let west = ("us-west1", "us-west1-a");
        let merged = merge(vec![
            with_gateway(group(None, Role::RemoteGateway, 0, &[]), "34.168.157.2:15443", west),
            with_gateway(group(None, Role::RemoteGateway, 1, &[]), "34.168.157.2:15443", west),
        ]);
        assert_eq!(merged.clusters.len(), 1);
        assert_eq!(merged.clusters[0].gateways.values().next().unwrap().endpoints, 2);
    }

    #[test]
    fn a_gateway_takes_the_name_of_the_shard_cluster_in_its_locality() {
        let gateway = with_gateway(
            group(None, Role::RemoteGateway, 0, &[]),
            "34.168.157.2:15443",
            ("us-west1", "us-west1-a"),
        );
        let merged = merge(vec![
            group(None, Role::Local, 0, &["10.112.0.1"]),
            gateway,
            with_locality(
                group(Some("cluster1"), Role::Shard, 1, &["10.112.0.1"]),
                "us-west1",
                "us-west1-a",
            ),
            with_locality(
                group(Some("cluster2"), Role::Shard, 1, &["10.96.0.1"]),
                "us-west1",
                "us-west1-a",
            ),
        ]);
        // cluster1 is the seeing proxy's own cluster, so only cluster2 is a candidate.
        assert_eq!(names(&merged), [Some("cluster1".into()), Some("cluster2".into())]);
        let cluster2 = &merged.clusters[1];
        assert_eq!(cluster2.gateways.len(), 1);
        assert!(cluster2.doubts[0].why.contains("by locality"), "{:?}", cluster2.doubts);
    }

    /// A shard cluster in `network` serving `services`.
    fn shard(name: &str, network: &str, pods: &[&str], services: &[&str]) -> Group {
        let mut group = group(Some(name), Role::Shard, 1, pods);
        group.networks.insert(network.into(), pods.len());
        group.services = services.iter().map(|service| service.to_string()).collect();
        group
    }

    /// A gateway seen in dump 0 (an istioctl row: no locality) for `services`.
    fn bare_gateway(address: &str, services: &[&str]) -> Group {
        let mut group = group(None, Role::RemoteGateway, 0, &[]);
        let seen =
            GatewaySeen { endpoints: 1, dumps: group.dumps.clone(), ..GatewaySeen::default() };
        group.gateways.insert(address.parse::<SocketAddr>().unwrap(), seen);
        group.services = services.iter().map(|service| service.to_string()).collect();
        group
    }

    const REVIEWS: &str = "reviews.default.svc.cluster.local";
    const RATINGS: &str = "ratings.default.svc.cluster.local";

    #[test]
    fn a_gateway_without_locality_joins_the_one_cluster_of_another_network_serving_it() {
        let merged = merge(vec![
            group(None, Role::Local, 0, &["10.112.2.31"]),
            bare_gateway("34.168.157.2:15443", &[REVIEWS]),
            shard("cluster1", "network1", &["10.112.2.31"], &[REVIEWS]),
            shard("cluster2", "network2", &["10.96.3.25"], &[REVIEWS]),
            shard("cluster3", "network1", &["10.80.3.25"], &[REVIEWS]),
            shard("cluster4", "network4", &["10.70.3.25"], &[RATINGS]),
        ]);
        let names = names(&merged);
        assert_eq!(names.len(), 4, "{names:?}");
        let cluster2 = merged.clusters.iter().find(|c| c.name.as_deref() == Some("cluster2"));
        let cluster2 = cluster2.unwrap();
        assert_eq!(cluster2.gateways.len(), 1);
        let why = &cluster2.doubts[0].why;
        assert!(why.contains("by network (network2), service"), "{why}");
        assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);
    }

    #[test]
    fn a_gateway_at_an_eastwest_pod_address_joins_that_cluster() {
        let mut cluster2 = shard("cluster2", "network2", &["10.96.3.25"], &[REVIEWS]);
        cluster2.eastwest_pods.insert("10.96.0.9".parse().unwrap());
        let merged = merge(vec![
            bare_gateway("10.96.0.9:15443", &[REVIEWS]),
            cluster2,
            shard("cluster3", "network3", &["10.80.3.25"], &[REVIEWS]),
        ]);
        assert_eq!(merged.clusters.len(), 2);
        assert!(merged.clusters[0].doubts[0].why.contains("cluster2 by address"));
    }

    #[test]
    fn a_gateway_that_fits_two_clusters_stays_unnamed_with_a_warning() {
        let merged = merge(vec![
            group(None, Role::Local, 0, &["10.112.2.31"]),
            bare_gateway("34.168.157.2:15443", &[REVIEWS]),
            shard("cluster1", "network1", &["10.112.2.31"], &[REVIEWS]),
            shard("cluster2", "network2", &["10.96.3.25"], &[REVIEWS]),
            shard("cluster3", "network3", &["10.80.3.25"], &[REVIEWS]),
        ]);
        assert_eq!(merged.clusters.len(), 4);
        assert!(merged.warnings[0].contains("cluster2 and cluster3"), "{:?}", merged.warnings);
    }

    #[test]
    fn a_gateway_matching_two_clusters_stays_unnamed_with_a_warning() {
        let gateway = with_gateway(
            group(None, Role::RemoteGateway, 0, &[]),
            "34.168.157.2:15443",
            ("us-west1", "us-west1-a"),
        );
        let merged = merge(vec![
            gateway,
            with_locality(
                group(Some("cluster2"), Role::Shard, 1, &["10.96.0.1"]),
                "us-west1",
                "us-west1-a",
            ),
            with_locality(
                group(Some("cluster3"), Role::Shard, 1, &["10.80.0.1"]),
                "us-west1",
                "us-west1-a",
            ),
        ]);
        assert_eq!(merged.clusters.len(), 3);
        assert!(merged.warnings[0].contains("cluster2 and cluster3"), "{:?}", merged.warnings);
    }
}
