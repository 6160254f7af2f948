//! Pod CIDRs summarised from the pod IPs seen for one cluster, kept apart from every
//! other cluster's IPs. The rules:
//!
//! 1. IPs are grouped by their conventional root: the /16 for IPv4 (GKE, EKS, AKS and kind
//!    all hand out pod ranges of /16 or wider), the /48 for IPv6.
//! 2. A root that holds no other cluster's IP is taken whole. One that does is split in
//!    halves, recursively, keeping the largest halves that hold this cluster's IPs and no
//!    other's: the fewest prefixes that keep the clusters apart.
//! 3. Adjacent prefixes are merged (10.112.0.0/16 + 10.113.0.0/16 = 10.112.0.0/15), and
//!    IPv4 prefixes are widened to a common supernet of at most /14 (GKE's default pod
//!    range) when it holds no other cluster's IP.
//! 4. An IP seen in two clusters (overlapping pod networks, or a wrong `--local-cluster`)
//!    cannot be kept apart: it is left out and reported.
//!
//! Each CIDR carries the number of IPs it rests on.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

/// A CIDR and how many seen pod IPs it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrSupport {
    pub net: IpNet,
    pub ips: usize,
}

/// A cluster's CIDRs, and the IPs that another cluster claims too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrSummary {
    pub cidrs: Vec<CidrSupport>,
    pub shared: Vec<IpAddr>,
}

/// The widest IPv4 prefix two CIDRs of one cluster are widened to.
const WIDEST_V4_MERGE: u8 = 14;

/// The conventional pod range an IP is grouped by: its /16 (IPv4) or /48 (IPv6).
pub fn conventional_root(ip: IpAddr) -> IpNet {
    let prefix = if ip.is_ipv4() { 16 } else { 48 };
    IpNet::new(ip, prefix).map_or_else(|_| IpNet::from(ip), |net| net.trunc())
}

/// Summarises `own` into CIDRs that hold none of `foreign`.
pub fn summarise(own: &BTreeSet<IpAddr>, foreign: &BTreeSet<IpAddr>) -> CidrSummary {
    let shared: Vec<IpAddr> = own.intersection(foreign).copied().collect();
    let own: Vec<IpAddr> = own.difference(foreign).copied().collect();
    let foreign: Vec<IpAddr> = foreign.iter().copied().filter(|ip| !shared.contains(ip)).collect();
    let roots: BTreeSet<IpNet> = own.iter().map(|ip| conventional_root(*ip)).collect();
    let mut nets = Vec::new();
    for root in roots {
        cover(root, &within(root, &own), &within(root, &foreign), &mut nets);
    }
    let nets = widen(IpNet::aggregate(&nets), &foreign);
    let cidrs = nets.into_iter().map(|net| CidrSupport { net, ips: within(net, &own).len() });
    CidrSummary { cidrs: cidrs.collect(), shared }
}

fn within(net: IpNet, ips: &[IpAddr]) -> Vec<IpAddr> {
    ips.iter().copied().filter(|ip| net.contains(ip)).collect()
}

/// The largest subnets of `net` that hold some of `own` and none of `foreign`.
fn cover(net: IpNet, own: &[IpAddr], foreign: &[IpAddr], out: &mut Vec<IpNet>) {
    if own.is_empty() {
        return;
    }
    if foreign.is_empty() {
        out.push(net);
        return;
    }
    let Ok(halves) = net.subnets(net.prefix_len() + 1) else {
        return; // a single address both own and foreign: left out as shared
    };
    for half in halves {
        cover(half, &within(half, own), &within(half, foreign), out);
    }
}

/// Merges neighbouring IPv4 CIDRs into their common supernet while it is no wider than
/// /14 and holds no foreign IP.
fn widen(mut nets: Vec<IpNet>, foreign: &[IpAddr]) -> Vec<IpNet> {
    let mut index = 0;
    while index + 1 < nets.len() {
        match supernet(nets[index], nets[index + 1]) {
            Some(wider) if within(wider, foreign).is_empty() => {
                nets.splice(index..index + 2, [wider]);
                index = index.saturating_sub(1);
            }
            _ => index += 1,
        }
    }
    nets
}

/// The smallest IPv4 net holding both, when it is /14 or narrower.
fn supernet(first: IpNet, second: IpNet) -> Option<IpNet> {
    let (IpNet::V4(first), IpNet::V4(second)) = (first, second) else {
        return None;
    };
    let differing = u32::from(first.network()) ^ u32::from(second.network());
    let common = u8::try_from(differing.leading_zeros()).ok()?;
    let prefix = common.min(first.prefix_len()).min(second.prefix_len());
    if prefix < WIDEST_V4_MERGE {
        return None;
    }
    let wider = ipnet::Ipv4Net::new(first.network(), prefix).ok()?.trunc();
    Some(IpNet::V4(wider))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> BTreeSet<IpAddr> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    fn cidrs(own: &[&str], foreign: &[&str]) -> Vec<(String, usize)> {
        let summary = summarise(&ips(own), &ips(foreign));
        summary.cidrs.into_iter().map(|cidr| (cidr.net.to_string(), cidr.ips)).collect()
    }

    #[test]
    fn ips_in_one_slash_16_give_that_slash_16() {
        let got = cidrs(&["10.112.0.68", "10.112.2.40", "10.112.3.7"], &["10.96.3.25"]);
        assert_eq!(got, [("10.112.0.0/16".to_string(), 3)]);
    }

    #[test]
    fn one_ip_still_gives_its_slash_16() {
        assert_eq!(cidrs(&["10.96.3.25"], &[]), [("10.96.0.0/16".to_string(), 1)]);
    }

    #[test]
    fn a_shared_slash_16_is_split_to_keep_clusters_apart() {
        let got = cidrs(&["10.0.1.5", "10.0.2.7"], &["10.0.200.1"]);
        assert_eq!(got, [("10.0.0.0/17".to_string(), 2)]);
        let both_halves = cidrs(&["10.0.1.5", "10.0.129.1"], &["10.0.200.1"]);
        assert_eq!(both_halves, [("10.0.0.0/17".to_string(), 1), ("10.0.128.0/18".to_string(), 1)]);
    }

    #[test]
    fn no_cidr_ever_holds_a_foreign_ip() {
        let own = ips(&["10.0.1.5", "10.0.1.6", "10.0.3.1", "10.1.0.1"]);
        let foreign = ips(&["10.0.1.7", "10.0.2.1", "10.0.0.255"]);
        let summary = summarise(&own, &foreign);
        for cidr in &summary.cidrs {
            assert!(foreign.iter().all(|ip| !cidr.net.contains(ip)), "{}", cidr.net);
        }
        assert!(own.iter().all(|ip| summary.cidrs.iter().any(|cidr| cidr.net.contains(ip))));
        assert_eq!(summary.cidrs.iter().map(|cidr| cidr.ips).sum::<usize>(), 4);
    }

    #[test]
    fn neighbouring_slash_16s_merge_up_to_a_slash_14_only() {
        assert_eq!(cidrs(&["10.112.0.1", "10.113.0.1"], &[]), [("10.112.0.0/15".to_string(), 2)]);
        assert_eq!(cidrs(&["10.112.0.1", "10.115.0.1"], &[]), [("10.112.0.0/14".to_string(), 2)]);
        let far = cidrs(&["10.96.0.1", "10.112.0.1"], &[]);
        assert_eq!(far, [("10.96.0.0/16".to_string(), 1), ("10.112.0.0/16".to_string(), 1)]);
        let blocked = cidrs(&["10.112.0.1", "10.115.0.1"], &["10.114.0.1"]);
        assert_eq!(blocked.len(), 2, "{blocked:?}");
    }

    #[test]
    fn an_ip_claimed_by_two_clusters_is_left_out_and_reported() {
        let summary = summarise(&ips(&["10.0.0.5", "10.0.0.6"]), &ips(&["10.0.0.5", "10.9.0.1"]));
        assert_eq!(summary.shared, [IpAddr::from([10, 0, 0, 5])]);
        assert_eq!(summary.cidrs, [CidrSupport { net: "10.0.0.0/16".parse().unwrap(), ips: 1 }]);
    }

    #[test]
    fn ipv6_pods_give_a_slash_48() {
        let got = cidrs(&["fd00:10:244:1::5", "fd00:10:244:7::9"], &["fd00:20::1"]);
        assert_eq!(got, [("fd00:10:244::/48".to_string(), 2)]);
    }

    #[test]
    fn ipv4_and_ipv6_pods_of_one_cluster_give_one_cidr_each() {
        let got = cidrs(&["10.112.0.1", "fd00:10:244:1::5"], &[]);
        assert_eq!(got.len(), 2);
    }
}
