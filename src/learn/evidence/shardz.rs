//! istiod's `/debug/endpointShardz` read into one group per `Kubernetes/<cluster>`
//! shard, with real cluster names, networks and localities.

use std::collections::BTreeMap;
use std::net::IpAddr;

use meshlog_parsers::admin::{ShardEndpoint, ShardzDump};

use super::{Group, Locality, NO_IP, Read, Role, UNUSABLE_IP, is_unusable};
use crate::enrich::address::upstream_ip;

const NOT_KUBERNETES: &str = "not a Kubernetes endpoint (ServiceEntry or other registry)";
const NO_CLUSTER: &str = "no cluster in the shard key or ClusterID";

/// Reads istiod's endpointShardz: one group per `Kubernetes/<cluster>` shard.
pub fn read_shardz(index: usize, dump: &ShardzDump) -> Read {
    let mut read = Read::default();
    let mut groups: BTreeMap<&str, Group> = BTreeMap::new();
    for endpoint in &dump.endpoints {
        let (cluster, ip) = match shard_pod(endpoint) {
            Ok(found) => found,
            Err(reason) => {
                read.skip(reason);
                continue;
            }
        };
        read.used += 1;
        let group = groups.entry(cluster).or_insert_with(|| shard_group(index, cluster));
        add_shard_endpoint(group, endpoint, ip);
    }
    read.groups = groups.into_values().collect();
    read
}

/// The cluster and pod IP of a shard endpoint, or why it does not count.
fn shard_pod(endpoint: &ShardEndpoint) -> Result<(&str, IpAddr), &'static str> {
    if endpoint.registry.as_deref().is_some_and(|registry| registry != "Kubernetes") {
        return Err(NOT_KUBERNETES);
    }
    let Some(cluster) = endpoint.cluster.as_deref().filter(|cluster| !cluster.is_empty()) else {
        return Err(NO_CLUSTER);
    };
    let Some((ip, _)) = upstream_ip(&endpoint.address) else {
        return Err(NO_IP);
    };
    if is_unusable(ip) {
        return Err(UNUSABLE_IP);
    }
    Ok((cluster, ip))
}

fn shard_group(index: usize, cluster: &str) -> Group {
    let mut group = Group::new(Role::Shard, index);
    group.name = Some(cluster.to_owned());
    group.named_by = Some("endpointShardz");
    group
}

fn add_shard_endpoint(group: &mut Group, endpoint: &ShardEndpoint, ip: IpAddr) {
    *group.pods.entry(ip).or_default() += 1;
    group.endpoints += 1;
    if !endpoint.service.is_empty() {
        group.services.insert(endpoint.service.clone());
    }
    let locality = Locality::new(endpoint.region.as_deref(), endpoint.zone.as_deref());
    if locality.is_known() {
        group.localities.insert(locality);
    }
    if let Some(network) = endpoint.network.as_deref().filter(|network| !network.is_empty()) {
        *group.networks.entry(network.to_owned()).or_default() += 1;
    }
    if is_eastwest_gateway(endpoint) {
        group.eastwest_pods.insert(ip);
    }
}

/// An endpoint of Istio's east-west gateway service.
fn is_eastwest_gateway(endpoint: &ShardEndpoint) -> bool {
    endpoint.service.starts_with("istio-eastwestgateway.")
        || endpoint.workload.as_deref().is_some_and(|workload| workload.contains("eastwestgateway"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pods(group: &Group) -> Vec<String> {
        group.pods.keys().map(ToString::to_string).collect()
    }

    fn shard(cluster: Option<&str>, address: &str, registry: &str) -> ShardEndpoint {
        ShardEndpoint {
            service: "reviews.default.svc.cluster.local".into(),
            cluster: cluster.map(Into::into),
            registry: Some(registry.into()),
            address: address.into(),
            network: Some("network2".into()),
            region: Some("us-west1".into()),
            zone: Some("us-west1-a".into()),
            ..ShardEndpoint::default()
        }
    }

    #[test]
    fn shards_group_by_cluster_and_skip_other_registries() {
        let mut gateway = shard(Some("cluster2"), "10.96.0.9", "Kubernetes");
        gateway.service = "istio-eastwestgateway.istio-system.svc.cluster.local".into();
        let dump = ShardzDump {
            endpoints: vec![
                shard(Some("cluster2"), "10.96.3.25", "Kubernetes"),
                shard(Some("cluster1"), "10.112.2.40", "Kubernetes"),
                shard(Some("cluster1"), "10.0.0.1", "External"),
                shard(None, "10.0.0.2", "Kubernetes"),
                shard(Some("cluster1"), "not-an-ip", "Kubernetes"),
                gateway,
            ],
            ..ShardzDump::default()
        };
        let read = read_shardz(1, &dump);
        assert_eq!((read.used, read.skipped.values().sum::<usize>()), (3, 3));
        let names: Vec<_> = read.groups.iter().map(|group| group.name.clone().unwrap()).collect();
        assert_eq!(names, ["cluster1", "cluster2"]);
        let cluster2 = &read.groups[1];
        assert_eq!(pods(cluster2), ["10.96.0.9", "10.96.3.25"]);
        assert_eq!(cluster2.networks["network2"], 2);
        assert_eq!(cluster2.eastwest_pods.len(), 1);
        assert_eq!(cluster2.localities.iter().next().unwrap().to_string(), "us-west1/us-west1-a");
    }
}
