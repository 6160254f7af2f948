//! The mesh topology from `[[clusters]]`: each cluster's pod CIDRs and east-west
//! gateways, validated and handed to [`Topology`]. A CIDR or gateway that does not
//! parse, an empty or duplicate cluster name, or an address claimed by two clusters
//! ([`claims`]) is an error naming the key and the line.

mod claims;

use std::sync::Arc;

use ipnet::IpNet;

use self::claims::Claims;
use super::{ClusterConfig, ConfigError, ConfigFile, ConfigWarning};
use crate::enrich::Topology;
use crate::enrich::address::upstream_ip;
use crate::enrich::topology::Cluster;

/// Validates the `[[clusters]]` of a config file; each warning (a CIDR with host
/// bits set) goes to stderr through `tracing::warn!`.
pub fn from_config(file: &ConfigFile) -> Result<Topology, ConfigError> {
    let (topology, warnings) = checked(file)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    Ok(topology)
}

/// Validates the `[[clusters]]` of a config file and returns what is worth a
/// warning alongside.
pub fn checked(file: &ConfigFile) -> Result<(Topology, Vec<ConfigWarning>), ConfigError> {
    let mut topology = Topology::default();
    let mut claims = Claims::default();
    for cluster in &file.config.clusters {
        add_cluster(&mut topology, file, cluster, &mut claims)?;
    }
    claims.check(file, &topology)?;
    Ok((topology, claims.warnings))
}

fn add_cluster(
    topology: &mut Topology,
    file: &ConfigFile,
    cluster: &ClusterConfig,
    claims: &mut Claims,
) -> Result<(), ConfigError> {
    let name = cluster.name.get_ref();
    if name.is_empty() || topology.id(name).is_some() {
        let why = if name.is_empty() { "is empty" } else { "names a cluster twice" };
        return Err(file.value_error("clusters.name", cluster.name.span(), why));
    }
    let id = topology.add_cluster(Cluster {
        name: Arc::from(name.as_str()),
        network: cluster.network.clone(),
        region: cluster.region.clone(),
        zone: cluster.zone.clone(),
    });
    for cidr in &cluster.pod_cidrs {
        let net = cidr.get_ref().parse::<IpNet>().map_err(|error| {
            file.value_error("clusters.pod_cidrs", cidr.span(), format!("{error}"))
        })?;
        topology.add_pod_cidr(id, claims.add_cidr(file, cidr, net, id));
    }
    for gateway in &cluster.eastwest_gateways {
        let (ip, port) = upstream_ip(gateway.get_ref()).ok_or_else(|| {
            let why = "is not \"ip:port\" or \"ip\" (IPv6 as \"[addr]:port\")";
            file.value_error("clusters.eastwest_gateways", gateway.span(), why)
        })?;
        claims.add_gateway(gateway, (ip, port), id);
        topology.add_gateway(id, ip, port);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(text: &str) -> Result<Topology, ConfigError> {
        let file = ConfigFile::parse(Path::new("mesh.toml"), text.into()).unwrap();
        from_config(&file)
    }

    fn refused(text: &str) -> String {
        load(text)
            .err()
            .map(|error| error.to_string())
            .unwrap_or_else(|| panic!("accepted:\n{text}"))
    }

    #[test]
    fn identical_pod_cidrs_in_two_clusters_are_an_error_naming_both() {
        // This went to the first cluster without a word.
        let message = refused(
            "[[clusters]]\nname = \"cluster1\"\npod_cidrs = [\"10.96.0.0/16\"]\n\
             [[clusters]]\nname = \"cluster2\"\npod_cidrs = [\"10.96.0.0/16\"]\n",
        );
        assert_eq!(
            message,
            "mesh.toml:6: `clusters.pod_cidrs`: `10.96.0.0/16` of cluster2 is also a pod CIDR of \
             cluster1 (`10.96.0.0/16`, mesh.toml:3): a pod address belongs to one cluster, so list \
             it under one (or give the clusters their different `network`s)"
        );
    }

    #[test]
    fn a_cidr_nested_in_another_clusters_is_an_error_either_way_round() {
        let wide_first = refused(
            "[[clusters]]\nname = \"wide\"\npod_cidrs = [\"10.0.0.0/8\"]\n\
             [[clusters]]\nname = \"narrow\"\npod_cidrs = [\"10.1.0.0/16\", \"10.96.0.0/16\"]\n",
        );
        assert_eq!(
            wide_first,
            "mesh.toml:6: `clusters.pod_cidrs`: `10.1.0.0/16` of narrow overlaps `10.0.0.0/8` of \
             wide (mesh.toml:3): the addresses of 10.1.0.0/16 would belong to both clusters; \
             narrow 10.0.0.0/8 or split it around 10.1.0.0/16"
        );
        let narrow_first = refused(
            "[[clusters]]\nname = \"narrow\"\npod_cidrs = [\"fd00:1::/64\"]\n\
             [[clusters]]\nname = \"wide\"\n\npod_cidrs = [\"fd00::/16\"]\n",
        );
        assert!(narrow_first.starts_with("mesh.toml:7: `clusters.pod_cidrs`: `fd00::/16` of wide overlaps `fd00:1::/64` of narrow (mesh.toml:3)"), "{narrow_first}");
    }

    #[test]
    fn overlaps_within_one_cluster_and_disjoint_ranges_are_fine() {
        let topology = load(
            "[[clusters]]\nname = \"a\"\npod_cidrs = [\"10.0.0.0/8\", \"10.96.0.0/16\", \"10.96.0.0/16\"]\n\
             [[clusters]]\nname = \"b\"\npod_cidrs = [\"172.16.0.0/12\", \"11.0.0.0/8\"]\n\
             eastwest_gateways = [\"10.0.0.9\"]\n\
             [[clusters]]\nname = \"c\"\neastwest_gateways = [\"10.0.0.9:15444\"]\n",
        );
        assert!(topology.is_err(), "a gateway of b inside a's pods");
        let topology = load(
            "[[clusters]]\nname = \"a\"\npod_cidrs = [\"10.0.0.0/8\", \"10.96.0.0/16\", \"10.96.0.0/16\"]\n\
             eastwest_gateways = [\"10.0.0.9:15443\"]\n\
             [[clusters]]\nname = \"b\"\npod_cidrs = [\"11.0.0.0/8\"]\n\
             eastwest_gateways = [\"34.1.2.3:15443\"]\n\
             [[clusters]]\nname = \"c\"\neastwest_gateways = [\"34.1.2.3:15444\"]\n",
        )
        .unwrap();
        let ip = |text: &str| text.parse().unwrap();
        assert_eq!(topology.pod_cluster(ip("10.96.3.4"), None), topology.id("a"));
        assert_eq!(topology.pod_cluster(ip("11.0.0.1"), None), topology.id("b"));
        assert_eq!(topology.gateway_cluster(ip("34.1.2.3"), Some(15444)), topology.id("c"));
        assert_eq!(topology.gateway_cluster(ip("34.1.2.3"), Some(15443)), topology.id("b"));
    }

    #[test]
    fn a_gateway_inside_another_clusters_cidr_is_an_error_either_way_round() {
        let gateway_later = refused(
            "[[clusters]]\nname = \"cluster1\"\npod_cidrs = [\"10.112.0.0/16\"]\n\
             [[clusters]]\nname = \"cluster2\"\neastwest_gateways = [\"10.112.0.50:15443\"]\n",
        );
        assert_eq!(
            gateway_later,
            "mesh.toml:6: `clusters.eastwest_gateways`: gateway `10.112.0.50:15443` of cluster2 lies \
             inside pod CIDR `10.112.0.0/16` of cluster1 (mesh.toml:3): an address cannot be the \
             gateway of one cluster and a pod of another"
        );
        let cidr_later = refused(
            "[[clusters]]\nname = \"cluster2\"\neastwest_gateways = [\"10.112.0.50\"]\n\
             [[clusters]]\nname = \"cluster1\"\npod_cidrs = [\"10.112.0.0/16\"]\n",
        );
        assert!(cidr_later.starts_with("mesh.toml:6: `clusters.pod_cidrs`: `10.112.0.0/16` of cluster1 holds gateway `10.112.0.50` of cluster2 (mesh.toml:3)"), "{cidr_later}");
    }

    #[test]
    fn the_same_gateway_in_two_clusters_is_an_error_naming_both() {
        let same = refused(
            "[[clusters]]\nname = \"cluster1\"\neastwest_gateways = [\"34.168.157.2:15443\"]\n\
             [[clusters]]\nname = \"cluster2\"\neastwest_gateways = [\"34.168.157.2:15443\"]\n",
        );
        assert_eq!(
            same,
            "mesh.toml:6: `clusters.eastwest_gateways`: gateway `34.168.157.2:15443` of cluster2 is \
             also a gateway of cluster1 (`34.168.157.2:15443`, mesh.toml:3): requests to it could not \
             be told apart; list it under one cluster"
        );
        let any_port = refused(
            "[[clusters]]\nname = \"cluster1\"\neastwest_gateways = [\"34.168.157.2\"]\n\
             [[clusters]]\nname = \"cluster2\"\neastwest_gateways = [\"34.168.157.2:15443\"]\n",
        );
        assert!(any_port.contains("(`34.168.157.2`, mesh.toml:3)"), "{any_port}");
    }

    #[test]
    fn host_bits_are_a_warning_saying_what_the_cidr_is_read_as() {
        let text =
            "[[clusters]]\nname = \"cluster1\"\npod_cidrs = [\"10.112.0.5/16\", \"fd00::1/64\"]\n";
        let file = ConfigFile::parse(Path::new("mesh.toml"), text.into()).unwrap();
        let (topology, warnings) = checked(&file).unwrap();
        let warnings: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            [
                "mesh.toml:3: `clusters.pod_cidrs`: `10.112.0.5/16` has host bits set: read as \
                 10.112.0.0/16 (for the one address, write 10.112.0.5/32)",
                "mesh.toml:3: `clusters.pod_cidrs`: `fd00::1/64` has host bits set: read as fd00::/64 \
                 (for the one address, write fd00::1/128)",
            ]
        );
        assert_eq!(
            topology.pod_cluster("10.112.9.9".parse().unwrap(), None),
            topology.id("cluster1")
        );
        let clean = ConfigFile::parse(
            Path::new("mesh.toml"),
            "[[clusters]]\nname = \"a\"\npod_cidrs = [\"10.112.0.0/16\", \"10.0.0.7/32\"]\n".into(),
        )
        .unwrap();
        assert!(checked(&clean).unwrap().1.is_empty());
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

    #[test]
    fn a_pod_range_reused_on_another_network_is_a_warning_and_read_from_the_caller() {
        let text = "[[clusters]]\nname = \"kind1\"\nnetwork = \"net1\"\npod_cidrs = [\"10.244.0.0/16\"]\n\
             [[clusters]]\nname = \"kind2\"\nnetwork = \"net2\"\npod_cidrs = [\"10.244.0.0/16\"]\n";
        let file = ConfigFile::parse(Path::new("mesh.toml"), text.into()).unwrap();
        let (topology, warnings) = checked(&file).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].to_string().contains("on another network"), "{}", warnings[0]);
        let pod = "10.244.1.7".parse().unwrap();
        let (kind1, kind2) = (topology.id("kind1"), topology.id("kind2"));
        assert_eq!(topology.pod_cluster(pod, kind1), kind1);
        assert_eq!(topology.pod_cluster(pod, kind2), kind2);
        let same_network = text.replace("net2", "net1");
        assert!(refused(&same_network).contains("is also a pod CIDR of kind1"));
    }
}
