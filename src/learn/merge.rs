//! Merging the groups of every dump into clusters: by known name, shared pod IP and
//! shared gateway address (never joining two different known names), then naming a
//! gateway's cluster after the one endpointShardz cluster whose localities match.

use std::collections::BTreeMap;

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
    name_gateways_by_locality(Merged { clusters: collect(groups, &roots), warnings })
}

/// Joins each unnamed gateway-only cluster to the one named cluster whose localities
/// include all of its own and that is not the cluster of a proxy that saw the gateway.
fn name_gateways_by_locality(mut merged: Merged) -> Merged {
    let mut index = 0;
    while index < merged.clusters.len() {
        let target = locality_match(&merged.clusters, index, &mut merged.warnings);
        match target {
            Some(target) => {
                let mut gateway = merged.clusters.remove(index);
                let target = if target > index { target - 1 } else { target };
                let cluster = &mut merged.clusters[target];
                gateway.doubts.push(Doubt::medium(format!(
                    "gateway matched to {} by locality ({})",
                    cluster.name.as_deref().unwrap_or("?"),
                    localities(&gateway)
                )));
                cluster.absorb(gateway);
            }
            None => index += 1,
        }
    }
    merged
}

/// The named cluster that an unnamed gateway-only cluster at `index` belongs to.
fn locality_match(clusters: &[Group], index: usize, warnings: &mut Vec<String>) -> Option<usize> {
    let gateway = &clusters[index];
    let gateway_only = gateway.roles.iter().all(|role| *role == Role::RemoteGateway);
    if gateway.name.is_some() || !gateway_only || gateway.localities.is_empty() {
        return None;
    }
    let candidates: Vec<usize> = (0..clusters.len())
        .filter(|&other| other != index)
        .filter(|&other| is_candidate(gateway, &clusters[other]))
        .collect();
    if candidates.len() > 1 {
        let names: Vec<&str> =
            candidates.iter().filter_map(|&other| clusters[other].name.as_deref()).collect();
        warnings.push(format!(
            "the gateway in {} matches the localities of {}: left unnamed",
            localities(gateway),
            names.join(" and ")
        ));
        return None;
    }
    candidates.first().copied()
}

fn is_candidate(gateway: &Group, cluster: &Group) -> bool {
    cluster.name.is_some()
        && gateway.localities.is_subset(&cluster.localities)
        && cluster.local_in.is_disjoint(&gateway.dumps)
}

fn localities(group: &Group) -> String {
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
