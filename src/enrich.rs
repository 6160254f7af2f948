//! Enrichment: tags each request with where it was served, from the mesh topology.
//! An upstream host that is an east-west gateway of another cluster is
//! `cross_cluster` through that gateway; a pod IP of another cluster is
//! `cross_cluster` direct (a flat network); the reporting cluster's own pods,
//! loopback and inbound traffic are `local`; a request with no upstream host is
//! `unknown`; anything else is `external`.

pub mod address;
mod cluster_name_cache;
mod host_cache;
pub mod topology;

use meshlog_parsers::{AccessLogRecord, ClusterName, Direction};

use address::upstream_ip;
pub use cluster_name_cache::ClusterNameCache;
pub use host_cache::HostCache;
pub use topology::{ClusterId, Topology};

/// Where a request was served, relative to the cluster that logged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Locality {
    Local,
    CrossCluster,
    External,
    Unknown,
}

impl Locality {
    /// The value of the `locality` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Locality::Local => "local",
            Locality::CrossCluster => "cross_cluster",
            Locality::External => "external",
            Locality::Unknown => "unknown",
        }
    }

    /// The locality a `locality` column value names.
    pub fn from_column(value: &str) -> Option<Locality> {
        const ALL: [Locality; 4] =
            [Locality::Local, Locality::CrossCluster, Locality::External, Locality::Unknown];
        ALL.into_iter().find(|locality| locality.as_str() == value)
    }
}

/// What enrichment adds to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enrichment {
    pub locality: Locality,
    /// The cluster that served the request, when known.
    pub dst_cluster: Option<ClusterId>,
    pub via_gateway: bool,
}

/// Tags records for one reporting cluster.
pub struct Enricher<'t> {
    topology: &'t Topology,
    source: Option<ClusterId>,
}

impl<'t> Enricher<'t> {
    /// An enricher for lines written by proxies of `source` (`None` when unknown).
    pub fn new(topology: &'t Topology, source: Option<ClusterId>) -> Self {
        Enricher { topology, source }
    }

    /// Tags one record; `cluster` is its `upstream_cluster`, already split. `hosts`
    /// remembers the hosts this enricher (this topology and source) already tagged.
    pub fn enrich(
        &self,
        record: &AccessLogRecord<'_>,
        cluster: Option<ClusterName<'_>>,
        hosts: &mut HostCache,
    ) -> Enrichment {
        self.tag(record.upstream_host.as_deref(), cluster, |host| {
            hosts.tags(host, |host| self.classify_host(host))
        })
    }

    /// Tags an upstream host of `cluster` (an access-log `%UPSTREAM_HOST%` or an
    /// endpoint of a `/clusters` snapshot).
    pub fn enrich_host(&self, host: Option<&str>, cluster: Option<ClusterName<'_>>) -> Enrichment {
        self.tag(host, cluster, |host| self.classify_host(host))
    }

    /// No host is unknown; inbound traffic, and a unix socket (on the proxy's own
    /// machine), are local; any other host is tagged by `classify`.
    fn tag(
        &self,
        host: Option<&str>,
        cluster: Option<ClusterName<'_>>,
        classify: impl FnOnce(&str) -> Enrichment,
    ) -> Enrichment {
        let Some(host) = host else {
            return self.unknown();
        };
        let inbound = cluster.is_some_and(|cluster| cluster.direction == Direction::Inbound);
        if inbound || host.starts_with("unix:") {
            return self.local(false);
        }
        classify(host)
    }

    /// Where the address in `host` is: external when it holds none.
    fn classify_host(&self, host: &str) -> Enrichment {
        match upstream_ip(host) {
            Some((ip, port)) => self.classify(ip, port),
            None => {
                Enrichment { locality: Locality::External, dst_cluster: None, via_gateway: false }
            }
        }
    }

    fn classify(&self, ip: std::net::IpAddr, port: Option<u16>) -> Enrichment {
        if let Some(cluster) = self.topology.gateway_cluster(ip, port) {
            return self.served_by(cluster, true);
        }
        if let Some(cluster) = self.topology.pod_cluster(ip, self.source) {
            return self.served_by(cluster, false);
        }
        if ip.is_loopback() || (self.topology.is_empty() && address::is_private(ip)) {
            return self.local(false);
        }
        Enrichment { locality: Locality::External, dst_cluster: None, via_gateway: false }
    }

    fn served_by(&self, cluster: ClusterId, via_gateway: bool) -> Enrichment {
        if Some(cluster) == self.source {
            return self.local(via_gateway);
        }
        Enrichment { locality: Locality::CrossCluster, dst_cluster: Some(cluster), via_gateway }
    }

    fn local(&self, via_gateway: bool) -> Enrichment {
        Enrichment { locality: Locality::Local, dst_cluster: self.source, via_gateway }
    }

    fn unknown(&self) -> Enrichment {
        Enrichment { locality: Locality::Unknown, dst_cluster: None, via_gateway: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigFile;
    use std::borrow::Cow;
    use std::path::Path;

    fn topology() -> Topology {
        let text = r#"
[[clusters]]
name = "cluster1"
pod_cidrs = ["10.112.0.0/16"]
eastwest_gateways = ["34.168.157.2:15443"]
[[clusters]]
name = "cluster2"
pod_cidrs = ["10.96.0.0/16"]
eastwest_gateways = ["35.200.10.5:15443"]
[[clusters]]
name = "cluster3"
pod_cidrs = ["10.128.0.0/16", "fd00:3::/64"]
eastwest_gateways = ["34.23.45.6"]
"#;
        let file = ConfigFile::parse(Path::new("mesh.toml"), text.into()).unwrap();
        crate::config::topology::from_config(&file).unwrap()
    }

    fn tag(host: Option<&str>, cluster: Option<&str>) -> (Locality, Option<String>, bool) {
        let topology = topology();
        let enricher = Enricher::new(&topology, topology.id("cluster1"));
        let record = AccessLogRecord {
            upstream_host: host.map(Cow::Borrowed),
            upstream_cluster: cluster.map(Cow::Borrowed),
            ..AccessLogRecord::default()
        };
        let cluster = cluster.map(ClusterName::parse);
        let mut hosts = HostCache::default();
        let tagged = enricher.enrich(&record, cluster, &mut hosts);
        let remembered = enricher.enrich(&record, cluster, &mut hosts);
        assert_eq!(remembered, tagged, "a host found in the cache keeps its tags");
        assert_eq!(enricher.enrich_host(host, cluster), tagged, "with and without a cache alike");
        let dst = tagged.dst_cluster.map(|id| topology.name(id).to_string());
        (tagged.locality, dst, tagged.via_gateway)
    }

    const OUT: Option<&str> = Some("outbound|80||frontend.mycompany.mesh");

    #[test]
    fn product_scenario_one_local_then_through_the_remote_gateway() {
        let local = tag(Some("10.112.0.68:8080"), OUT);
        assert_eq!(local, (Locality::Local, Some("cluster1".into()), false));
        let remote = tag(Some("35.200.10.5:15443"), OUT);
        assert_eq!(remote, (Locality::CrossCluster, Some("cluster2".into()), true));
    }

    #[test]
    fn a_remote_pod_ip_is_cross_cluster_direct() {
        let tagged = tag(Some("10.128.4.2:9080"), OUT);
        assert_eq!(tagged, (Locality::CrossCluster, Some("cluster3".into()), false));
        let v6 = tag(Some("[fd00:3::7]:9080"), OUT);
        assert_eq!(v6, (Locality::CrossCluster, Some("cluster3".into()), false));
    }

    #[test]
    fn a_gateway_written_without_port_matches_any_port() {
        let tagged = tag(Some("tcp://34.23.45.6:15443"), OUT);
        assert_eq!(tagged, (Locality::CrossCluster, Some("cluster3".into()), true));
    }

    #[test]
    fn a_gateway_ip_on_another_port_is_not_the_gateway() {
        assert_eq!(tag(Some("35.200.10.5:443"), OUT).0, Locality::External);
    }

    #[test]
    fn loopback_and_inbound_are_local() {
        assert_eq!(tag(Some("127.0.0.1:9080"), OUT).0, Locality::Local);
        let inbound = tag(Some("10.96.1.1:9080"), Some("inbound|9080||"));
        assert_eq!(inbound, (Locality::Local, Some("cluster1".into()), false));
    }

    #[test]
    fn no_upstream_host_is_unknown_and_public_ips_are_external() {
        assert_eq!(tag(None, OUT), (Locality::Unknown, None, false));
        assert_eq!(tag(Some("142.250.1.1:443"), Some("PassthroughCluster")).0, Locality::External);
        assert_eq!(tag(Some("X.X.X.X:0"), OUT).0, Locality::External);
    }
}
