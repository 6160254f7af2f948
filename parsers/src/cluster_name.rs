//! Envoy upstream cluster names split into their parts. This file owns the rules that
//! turn `%UPSTREAM_CLUSTER%` (or a cluster name in admin output) into a [`ClusterName`]:
//! Istio's `outbound|<port>|<subset>|<fqdn>` and `inbound|<port>|<name>|<fqdn>` forms,
//! the SNI-style form `outbound_.<port>_.<subset>_.<fqdn>` that east-west gateways use
//! for their auto-passthrough clusters, Istio's special clusters, and every other name,
//! which in a plain Envoy fleet is itself the service identity. It borrows from the
//! input, never allocates, and never panics.
//!
//! Malformed Istio names are read as far as they go rather than rejected: a name that
//! starts with `outbound|` or `inbound|` keeps that direction; a port that is not a
//! `u16` becomes `None`; missing parts are `None`; and since an FQDN holds no `|`, any
//! extra `|` parts stay in `service` (`outbound|80||a|b` → `a|b`) so nothing is lost.

/// Which way traffic goes through the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// An Istio `outbound|…` cluster: this proxy calling another service.
    Outbound,
    /// An Istio `inbound|…` cluster or inbound passthrough: traffic to this proxy's workload.
    Inbound,
    /// Anything else: plain Envoy or other control planes, and Istio's special clusters.
    Other,
}

impl Direction {
    /// The lower-case name used in columns: `outbound`, `inbound` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
            Direction::Other => "other",
        }
    }
}

/// An upstream cluster name split into parts.
///
/// ```
/// use meshlog_parsers::{ClusterName, Direction};
/// let cluster = ClusterName::parse("outbound|80|v1|reviews.default.svc.cluster.local;");
/// assert_eq!(cluster.name, "outbound|80|v1|reviews.default.svc.cluster.local");
/// assert_eq!(cluster.direction, Direction::Outbound);
/// assert_eq!(cluster.port, Some(80));
/// assert_eq!(cluster.subset, Some("v1"));
/// assert_eq!(cluster.service, Some("reviews.default.svc.cluster.local"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterName<'a> {
    /// The name without Istio 1.23's trailing `;`.
    pub name: &'a str,
    /// Outbound or inbound for Istio clusters, else other.
    pub direction: Direction,
    /// The service port of an Istio cluster, when it is a valid `u16`.
    pub port: Option<u16>,
    /// The DestinationRule subset of an outbound Istio cluster, when not empty.
    pub subset: Option<&'a str>,
    /// The service identity: the FQDN of an Istio cluster, the whole name of a non-Istio
    /// cluster, `None` for Istio's special clusters and for an empty or `-` name.
    pub service: Option<&'a str>,
}

/// Istio's clusters that stand for no service, and the direction each one carries.
const SPECIAL_CLUSTERS: [(&str, Direction); 9] = [
    ("PassthroughCluster", Direction::Other),
    ("BlackHoleCluster", Direction::Other),
    ("InboundPassthroughClusterIpv4", Direction::Inbound),
    ("InboundPassthroughClusterIpv6", Direction::Inbound),
    ("InboundPassthroughCluster", Direction::Inbound),
    ("xds-grpc", Direction::Other),
    ("prometheus_stats", Direction::Other),
    ("agent", Direction::Other),
    ("sds-grpc", Direction::Other),
];

impl<'a> ClusterName<'a> {
    /// Splits a cluster name. Never fails: names that are no Istio form are
    /// [`Direction::Other`] with the whole name (minus a trailing `;`) as `service`.
    pub fn parse(name: &'a str) -> ClusterName<'a> {
        let name = name.strip_suffix(';').unwrap_or(name);
        // The common forms first: no special cluster starts with `outbound` or `inbound`.
        if let Some(cluster) = parse_pipe_form(name).or_else(|| parse_sni_form(name)) {
            return cluster;
        }
        if let Some(direction) = special_direction(name) {
            return ClusterName::bare(name, direction, None);
        }
        let service = if name.is_empty() || name == "-" { None } else { Some(name) };
        ClusterName::bare(name, Direction::Other, service)
    }

    /// Whether this is one of Istio's cluster forms or special clusters.
    pub fn is_istio(&self) -> bool {
        self.direction != Direction::Other || self.is_special()
    }

    /// Whether this is one of Istio's special clusters (`PassthroughCluster`,
    /// `BlackHoleCluster`, `InboundPassthroughCluster*`, `xds-grpc`, `prometheus_stats`,
    /// `agent`, `sds-grpc`), which stand for no service.
    pub fn is_special(&self) -> bool {
        special_direction(self.name).is_some()
    }

    fn bare(name: &'a str, direction: Direction, service: Option<&'a str>) -> Self {
        ClusterName { name, direction, port: None, subset: None, service }
    }
}

fn special_direction(name: &str) -> Option<Direction> {
    SPECIAL_CLUSTERS.iter().find(|(special, _)| *special == name).map(|(_, direction)| *direction)
}

/// `outbound|<port>|<subset>|<fqdn>` or `inbound|<port>|<port name>|<fqdn>`, read as far
/// as the parts go. `None` only when the name has neither prefix.
fn parse_pipe_form(name: &str) -> Option<ClusterName<'_>> {
    let (direction, rest) = split_direction(name, "|")?;
    let (port, rest) = split_pipe(rest);
    let (third, service) = match rest.map(split_pipe) {
        Some((third, service)) => (Some(third), service),
        None => (None, None),
    };
    let third = third.filter(|part| !part.is_empty());
    let service = service.filter(|part| !part.is_empty());
    Some(istio(name, direction, parse_port(port), third, service))
}

/// The text before the first `|` and, if there is one, the text after it.
fn split_pipe(text: &str) -> (&str, Option<&str>) {
    match text.split_once('|') {
        Some((before, after)) => (before, Some(after)),
        None => (text, None),
    }
}

/// `outbound_.<port>_.<subset>_.<fqdn>`, where a subset of `_` means none. `None` unless
/// every part is there and the port is a `u16`, so ordinary names are never mistaken
/// for it.
fn parse_sni_form(name: &str) -> Option<ClusterName<'_>> {
    let (direction, rest) = split_direction(name, "_.")?;
    let (port, rest) = rest.split_once("_.")?;
    let (third, fqdn) = rest.split_once("_.")?;
    let port = parse_port(port)?;
    let third = Some(third).filter(|part| !part.is_empty() && *part != "_");
    let service = Some(fqdn).filter(|part| !part.is_empty());
    Some(istio(name, direction, Some(port), third, service))
}

/// The direction named before `separator` and what follows it. Prefix checks, not a
/// substring search: this runs once per access-log line.
fn split_direction<'a>(name: &'a str, separator: &str) -> Option<(Direction, &'a str)> {
    let after = |prefix: &str| name.strip_prefix(prefix)?.strip_prefix(separator);
    if let Some(rest) = after("outbound") {
        Some((Direction::Outbound, rest))
    } else {
        after("inbound").map(|rest| (Direction::Inbound, rest))
    }
}

/// An Istio cluster; the third part is a subset only when outbound (inbound clusters put
/// a port name there).
fn istio<'a>(
    name: &'a str,
    direction: Direction,
    port: Option<u16>,
    third: Option<&'a str>,
    service: Option<&'a str>,
) -> ClusterName<'a> {
    let subset = if direction == Direction::Outbound { third } else { None };
    ClusterName { name, direction, port, subset, service }
}

/// A port written as plain decimal digits that fit a `u16`.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(name: &str) -> (Direction, Option<u16>, Option<&str>, Option<&str>) {
        let cluster = ClusterName::parse(name);
        (cluster.direction, cluster.port, cluster.subset, cluster.service)
    }

    #[test]
    fn outbound_with_empty_subset() {
        let cluster = ClusterName::parse("outbound|80||frontend.mycompany.mesh");
        assert_eq!(cluster.name, "outbound|80||frontend.mycompany.mesh");
        assert_eq!(
            parts(cluster.name),
            (Direction::Outbound, Some(80), None, Some("frontend.mycompany.mesh"))
        );
        assert!(cluster.is_istio() && !cluster.is_special());
    }

    #[test]
    fn outbound_with_subset() {
        assert_eq!(
            parts("outbound|9080|v2|reviews.default.svc.cluster.local"),
            (
                Direction::Outbound,
                Some(9080),
                Some("v2"),
                Some("reviews.default.svc.cluster.local")
            )
        );
    }

    #[test]
    fn istio_1_23_trailing_semicolon_is_stripped() {
        let cluster = ClusterName::parse("outbound|80||x.svc.cluster.local;");
        assert_eq!(cluster.name, "outbound|80||x.svc.cluster.local");
        assert_eq!(cluster.service, Some("x.svc.cluster.local"));
        assert_eq!(ClusterName::parse("PassthroughCluster;").name, "PassthroughCluster");
        assert_eq!(ClusterName::parse("service_backend;").service, Some("service_backend"));
    }

    #[test]
    fn inbound_newer_form_has_no_service() {
        assert_eq!(parts("inbound|8080||"), (Direction::Inbound, Some(8080), None, None));
    }

    #[test]
    fn inbound_older_form_has_port_name_not_subset() {
        assert_eq!(
            parts("inbound|9080|http|reviews.default.svc.cluster.local"),
            (Direction::Inbound, Some(9080), None, Some("reviews.default.svc.cluster.local"))
        );
    }

    #[test]
    fn special_clusters_have_no_service() {
        for name in ["PassthroughCluster", "BlackHoleCluster", "xds-grpc", "prometheus_stats"] {
            assert_eq!(parts(name), (Direction::Other, None, None, None), "{name}");
        }
        for name in ["agent", "sds-grpc"] {
            assert_eq!(parts(name), (Direction::Other, None, None, None), "{name}");
            assert!(ClusterName::parse(name).is_special());
        }
    }

    #[test]
    fn inbound_passthrough_clusters_are_inbound() {
        for name in [
            "InboundPassthroughClusterIpv4",
            "InboundPassthroughClusterIpv6",
            "InboundPassthroughCluster",
        ] {
            assert_eq!(parts(name), (Direction::Inbound, None, None, None), "{name}");
            assert!(ClusterName::parse(name).is_istio());
        }
    }

    #[test]
    fn plain_names_are_their_own_service() {
        for name in [
            "service_backend",
            "default-reviews-9080_gloo-system",
            "kube-system/coredns.svc:53",
            "outbound",
            "outbound_.notaport_.x",
        ] {
            assert_eq!(parts(name), (Direction::Other, None, None, Some(name)), "{name}");
            assert!(!ClusterName::parse(name).is_istio());
        }
    }

    #[test]
    fn empty_and_dash_have_no_service() {
        assert_eq!(parts(""), (Direction::Other, None, None, None));
        assert_eq!(parts("-"), (Direction::Other, None, None, None));
        assert_eq!(parts(";"), (Direction::Other, None, None, None));
    }

    #[test]
    fn sni_form_of_east_west_gateways() {
        assert_eq!(
            parts("outbound_.5000_._.helloworld.sample.svc.cluster.local"),
            (Direction::Outbound, Some(5000), None, Some("helloworld.sample.svc.cluster.local"))
        );
        assert_eq!(
            parts("outbound_.9080_.v1_.reviews.default.svc.cluster.local"),
            (
                Direction::Outbound,
                Some(9080),
                Some("v1"),
                Some("reviews.default.svc.cluster.local")
            )
        );
    }

    #[test]
    fn malformed_port_is_none() {
        assert_eq!(parts("outbound|notaport||x"), (Direction::Outbound, None, None, Some("x")));
        assert_eq!(parts("outbound|70000||x"), (Direction::Outbound, None, None, Some("x")));
        assert_eq!(parts("outbound|+80||x"), (Direction::Outbound, None, None, Some("x")));
        assert_eq!(parts("inbound|||"), (Direction::Inbound, None, None, None));
    }

    #[test]
    fn missing_parts_are_none() {
        assert_eq!(parts("outbound|80"), (Direction::Outbound, Some(80), None, None));
        assert_eq!(parts("outbound|80|v1"), (Direction::Outbound, Some(80), Some("v1"), None));
        assert_eq!(parts("outbound|"), (Direction::Outbound, None, None, None));
    }

    #[test]
    fn extra_parts_stay_in_service() {
        assert_eq!(parts("outbound|80||a|b"), (Direction::Outbound, Some(80), None, Some("a|b")));
    }

    #[test]
    fn garbage_does_not_panic() {
        for name in ["|", "||||", ";;", "outbound_.", "outbound_._.", "\u{0}|\u{fffd}", "🙂|80"] {
            let cluster = ClusterName::parse(name);
            assert!(cluster.name.len() <= name.len());
        }
    }

    #[test]
    fn direction_names() {
        assert_eq!(Direction::Outbound.as_str(), "outbound");
        assert_eq!(Direction::Inbound.as_str(), "inbound");
        assert_eq!(Direction::Other.as_str(), "other");
    }

    /// The pipe form as `splitn(3, '|')` reads it: what `split_pipe` must agree with.
    fn pipe_parts_by_splitn(name: &str) -> Option<(Option<u16>, Option<&str>, Option<&str>)> {
        let rest = name.strip_prefix("outbound|").or_else(|| name.strip_prefix("inbound|"))?;
        let mut parts = rest.splitn(3, '|');
        let port = parts.next().and_then(parse_port);
        let third = parts.next().filter(|part| !part.is_empty());
        let service = parts.next().filter(|part| !part.is_empty());
        Some((port, third, service))
    }

    proptest::proptest! {
        #[test]
        fn pipe_form_parts_agree_with_splitn(
            name in "(outbound|inbound)\\|[0-9]{0,6}(\\|[a-z_.|]{0,6}){0,3};?"
        ) {
            let trimmed = name.strip_suffix(';').unwrap_or(&name);
            let cluster = ClusterName::parse(&name);
            let (port, third, service) = pipe_parts_by_splitn(trimmed).unwrap();
            let subset = if cluster.direction == Direction::Outbound { third } else { None };
            proptest::prop_assert_eq!((cluster.port, cluster.subset, cluster.service), (port, subset, service));
        }
    }
}
