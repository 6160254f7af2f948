//! What makes a topology unambiguous: every address a request can go to belongs to
//! at most one cluster. The pod CIDRs and east-west gateways of `[[clusters]]` are
//! collected as claims, with where the config wrote them, and checked pairwise
//! across clusters once all are read: two clusters listing the same or overlapping
//! CIDRs (one CIDR nested inside another's included), a gateway inside another
//! cluster's CIDR, or one gateway in two clusters is an error naming both entries.
//! Nesting is refused rather than resolved by the longest prefix: Kubernetes gives
//! each cluster its own pod range, so a range inside another cluster's is a typo or
//! a range written too wide, and tagging by a guess would hide it. Within one
//! cluster, overlaps are harmless and accepted. Clusters on two declared, different
//! `network`s may reuse a pod range (kind's `10.244.0.0/16` in every cluster): their
//! pods are never reached directly from the other network, so that overlap is a
//! warning, and an address in it is read as the calling cluster's own, else as the
//! cluster on the caller's network ([`Topology::pod_cluster`]). A CIDR with host bits
//! set (`10.112.0.5/16`) is read as its network and is worth a warning, not an error.

use std::net::IpAddr;
use std::ops::Range;

use ipnet::IpNet;
use toml::Spanned;

use crate::config::{ConfigError, ConfigFile, ConfigWarning};
use crate::enrich::{ClusterId, Topology};

const CIDRS_KEY: &str = "clusters.pod_cidrs";
const GATEWAYS_KEY: &str = "clusters.eastwest_gateways";

/// One address range or gateway, the cluster that listed it and where.
struct Claim<T> {
    value: T,
    written: String,
    cluster: ClusterId,
    span: Range<usize>,
}

/// A gateway address: its IP, and its port unless it was written without one.
type Gateway = (IpAddr, Option<u16>);

/// The claims of a config file's clusters, and the warnings found reading them.
#[derive(Default)]
pub(super) struct Claims {
    cidrs: Vec<Claim<IpNet>>,
    gateways: Vec<Claim<Gateway>>,
    pub warnings: Vec<ConfigWarning>,
}

impl Claims {
    /// Records a pod CIDR as written; warns when it has host bits set. Returns the
    /// network it is read as.
    pub fn add_cidr(
        &mut self,
        file: &ConfigFile,
        written: &Spanned<String>,
        net: IpNet,
        cluster: ClusterId,
    ) -> IpNet {
        let network = net.trunc();
        if network != net {
            let single = IpNet::new(net.addr(), net.max_prefix_len()).unwrap_or(net);
            let message = format!(
                "`{}` has host bits set: read as {network} (for the one address, write {single})",
                written.get_ref()
            );
            self.warnings.push(file.value_warning(CIDRS_KEY, written.span(), message));
        }
        self.cidrs.push(claim(written, network, cluster));
        network
    }

    /// Records an east-west gateway address.
    pub fn add_gateway(&mut self, written: &Spanned<String>, gateway: Gateway, cluster: ClusterId) {
        self.gateways.push(claim(written, gateway, cluster));
    }

    /// The first address claimed by two clusters, as an error naming both entries;
    /// pod ranges shared across networks become warnings.
    pub fn check(&mut self, file: &ConfigFile, topology: &Topology) -> Result<(), ConfigError> {
        let names = Names { file, topology };
        for (index, cidr) in self.cidrs.iter().enumerate() {
            for earlier in &self.cidrs[..index] {
                if let Some(warning) = check_cidrs(&names, earlier, cidr)? {
                    self.warnings.push(warning);
                }
            }
        }
        for (index, gateway) in self.gateways.iter().enumerate() {
            for cidr in &self.cidrs {
                check_gateway_in_cidr(&names, gateway, cidr)?;
            }
            for earlier in &self.gateways[..index] {
                check_gateways(&names, earlier, gateway)?;
            }
        }
        Ok(())
    }
}

fn claim<T>(written: &Spanned<String>, value: T, cluster: ClusterId) -> Claim<T> {
    let span = written.span();
    Claim { value, written: written.get_ref().clone(), cluster, span }
}

/// What a message needs to name an entry: the file and the clusters' names.
struct Names<'a> {
    file: &'a ConfigFile,
    topology: &'a Topology,
}

impl Names<'_> {
    fn cluster(&self, id: ClusterId) -> &str {
        self.topology.name(id)
    }

    /// `path:line` of an entry.
    fn place<T>(&self, claim: &Claim<T>) -> String {
        self.file.location(claim.span.clone())
    }

    /// An error at the line of `claim`.
    fn error<T>(&self, key: &str, claim: &Claim<T>, message: String) -> ConfigError {
        self.file.value_error(key, claim.span.clone(), message)
    }
}

/// Two clusters' pod CIDRs must not share an address, unless the clusters are on
/// different networks (then a warning). `earlier` comes first in the file.
fn check_cidrs(
    names: &Names<'_>,
    earlier: &Claim<IpNet>,
    later: &Claim<IpNet>,
) -> Result<Option<ConfigWarning>, ConfigError> {
    let (a, b) = (earlier.value, later.value);
    if earlier.cluster == later.cluster || !(a.contains(&b.network()) || b.contains(&a.network())) {
        return Ok(None);
    }
    let (this, that) = (names.cluster(later.cluster), names.cluster(earlier.cluster));
    let place = names.place(earlier);
    if names.topology.on_different_networks(earlier.cluster, later.cluster) {
        let message = format!(
            "`{}` of {this} overlaps `{}` of {that} ({place}), on another network: an address \
             in both is read as the calling cluster's own, else as the one on its network",
            later.written, earlier.written
        );
        return Ok(Some(names.file.value_warning(CIDRS_KEY, later.span.clone(), message)));
    }
    let message = if a == b {
        format!(
            "`{}` of {this} is also a pod CIDR of {that} (`{}`, {place}): a pod address \
             belongs to one cluster, so list it under one (or give the clusters their \
             different `network`s)",
            later.written, earlier.written
        )
    } else {
        let (inner, outer) = if a.contains(&b.network()) { (b, a) } else { (a, b) };
        format!(
            "`{}` of {this} overlaps `{}` of {that} ({place}): the addresses of {inner} would \
             belong to both clusters; narrow {outer} or split it around {inner}",
            later.written, earlier.written
        )
    };
    Err(names.error(CIDRS_KEY, later, message))
}

/// A gateway of one cluster must not be a pod address of another.
fn check_gateway_in_cidr(
    names: &Names<'_>,
    gateway: &Claim<Gateway>,
    cidr: &Claim<IpNet>,
) -> Result<(), ConfigError> {
    if gateway.cluster == cidr.cluster || !cidr.value.contains(&gateway.value.0) {
        return Ok(());
    }
    let gateway_cluster = names.cluster(gateway.cluster);
    let cidr_cluster = names.cluster(cidr.cluster);
    let why = "an address cannot be the gateway of one cluster and a pod of another";
    if gateway.span.start > cidr.span.start {
        let message = format!(
            "gateway `{}` of {gateway_cluster} lies inside pod CIDR `{}` of {cidr_cluster} \
             ({}): {why}",
            gateway.written,
            cidr.written,
            names.place(cidr)
        );
        return Err(names.error(GATEWAYS_KEY, gateway, message));
    }
    let message = format!(
        "`{}` of {cidr_cluster} holds gateway `{}` of {gateway_cluster} ({}): {why}",
        cidr.written,
        gateway.written,
        names.place(gateway)
    );
    Err(names.error(CIDRS_KEY, cidr, message))
}

/// One gateway address (a port, or any port) must belong to one cluster.
fn check_gateways(
    names: &Names<'_>,
    earlier: &Claim<Gateway>,
    later: &Claim<Gateway>,
) -> Result<(), ConfigError> {
    let ((ip, port), (other_ip, other_port)) = (earlier.value, later.value);
    let same_port = port.is_none() || other_port.is_none() || port == other_port;
    if earlier.cluster == later.cluster || ip != other_ip || !same_port {
        return Ok(());
    }
    let message = format!(
        "gateway `{}` of {} is also a gateway of {} (`{}`, {}): requests to it could not be \
         told apart; list it under one cluster",
        later.written,
        names.cluster(later.cluster),
        names.cluster(earlier.cluster),
        earlier.written,
        names.place(earlier)
    );
    Err(names.error(GATEWAYS_KEY, later, message))
}
