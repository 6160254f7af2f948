//! The mesh topology, validated from `[[clusters]]`: each cluster's pod CIDRs and
//! east-west gateway addresses, indexed for the per-request lookups of enrichment.
//! A CIDR or gateway that does not parse, a duplicate cluster name, or an address
//! claimed by two clusters is an error naming the key and the line.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::address::upstream_ip;
use crate::config::{ConfigError, ConfigFile};
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
    /// Validates the `[[clusters]]` of a config file.
    pub fn from_config(file: &ConfigFile) -> Result<Topology, ConfigError> {
        let mut topology = Topology::default();
        for (index, cluster) in file.config.clusters.iter().enumerate() {
            let id = ClusterId(u16::try_from(index).unwrap_or(u16::MAX));
            topology.add_cluster(file, cluster, id)?;
        }
        topology.cidrs.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
        Ok(topology)
    }

    fn add_cluster(
        &mut self,
        file: &ConfigFile,
        cluster: &crate::config::ClusterConfig,
        id: ClusterId,
    ) -> Result<(), ConfigError> {
        let name = cluster.name.get_ref();
        if name.is_empty() || self.id(name).is_some() {
            let why = if name.is_empty() { "is empty" } else { "names a cluster twice" };
            return Err(file.value_error("clusters.name", cluster.name.span(), why));
        }
        for cidr in &cluster.pod_cidrs {
            let net = cidr.get_ref().parse::<IpNet>().map_err(|error| {
                file.value_error("clusters.pod_cidrs", cidr.span(), format!("{error}"))
            })?;
            self.cidrs.push((net.trunc(), id));
        }
        for gateway in &cluster.eastwest_gateways {
            let (ip, port) = upstream_ip(gateway.get_ref()).ok_or_else(|| {
                let why = "is not \"ip:port\" or \"ip\" (IPv6 as \"[addr]:port\")";
                file.value_error("clusters.eastwest_gateways", gateway.span(), why)
            })?;
            self.gateways.entry(ip).or_default().push((port, id));
        }
        self.clusters.push(Cluster {
            name: Arc::from(name.as_str()),
            network: cluster.network.clone(),
            region: cluster.region.clone(),
            zone: cluster.zone.clone(),
        });
        Ok(())
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

    /// The cluster whose pod CIDRs hold `ip` (the most specific CIDR wins).
    pub fn pod_cluster(&self, ip: IpAddr) -> Option<ClusterId> {
        self.cidrs.iter().find(|(net, _)| net.contains(&ip)).map(|(_, id)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(text: &str) -> Result<Topology, ConfigError> {
        let file = ConfigFile::parse(Path::new("mesh.toml"), text.into()).unwrap();
        Topology::from_config(&file)
    }

    #[test]
    fn the_most_specific_cidr_wins() {
        let topology = load(
            "[[clusters]]\nname = \"wide\"\npod_cidrs = [\"10.0.0.0/8\"]\n\
             [[clusters]]\nname = \"narrow\"\npod_cidrs = [\"10.96.0.0/16\"]\n",
        )
        .unwrap();
        let ip = "10.96.3.4".parse().unwrap();
        assert_eq!(topology.pod_cluster(ip), topology.id("narrow"));
    }

    #[test]
    fn a_bad_cidr_names_key_and_line() {
        let error =
            load("[[clusters]]\nname = \"a\"\npod_cidrs = [\"10.0.0.0/33\"]\n").unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("mesh.toml:3: `clusters.pod_cidrs`"), "{message}");
    }

    #[test]
    fn a_bad_gateway_and_a_duplicate_name_are_errors() {
        let gateway = load("[[clusters]]\nname = \"a\"\neastwest_gateways = [\"gw:15443\"]\n");
        assert!(gateway.unwrap_err().to_string().contains("eastwest_gateways"));
        let twice = load("[[clusters]]\nname = \"a\"\n[[clusters]]\nname = \"a\"\n");
        assert!(twice.unwrap_err().to_string().contains("mesh.toml:4"));
    }
}
