//! Where the cluster name ends in a `/stats` name `cluster.<cluster>.<stat>`. Cluster
//! names may hold `.`, `/`, `|` and `:` (`outbound|9080|v1|reviews.default.svc.cluster.local`,
//! `httproute/default/backend/rule/0`), so the split cannot just look for a dot. This
//! file owns the rule, applied in order:
//!
//! 1. **Istio 1.23 `;`**: the name's `alt_stat_name` ends in `;`, so the first `;.`
//!    ends the cluster (`cluster.outbound|80||x.ns.svc.cluster.local;.upstream_rq_total`).
//! 2. **Never inside the pipes**: an Istio name's FQDN and Envoy's stat names hold no
//!    `|`, so the split comes after the last `|` (`inbound|8080||.upstream_rq_total`
//!    splits at the dot right after `||`).
//! 3. **Stat vocabulary**: a split is a *candidate* when what follows it is a cluster
//!    statistic Envoy emits (see [`is_cluster_stat`]): one segment starting `upstream_`,
//!    `lb_`, `membership_`, `update_`, `assignment_` or one of a few names (`version`,
//!    `bind_errors`…); `outlier_detection.`, `health_check.`, `http1.`/`http2.`/`http3.`
//!    and similar namespaces with one more segment (not `upstream_rq_…`/`upstream_cx_…`,
//!    which Envoy never nests); `circuit_breakers.<priority>.<x>`;
//!    `ssl.<x>` and `ssl.{ciphers,curves,sigalgs,versions,certificate}.<…>`;
//!    `grpc.<service>.<method>.<success|failure|total|…>`; `<match>.total_match_count`;
//!    and the router's dynamic prefixes `internal.`/`external.`/`canary.` and
//!    `zone.<from>.<to>.` in front of an `upstream_rq_…` stat.
//! 4. **Evidence from the dump**: most names have one candidate; their cluster names
//!    are *known*. A name with several candidates (`….internal.upstream_rq_200` may be
//!    cluster `…` with stat `internal.upstream_rq_200`, or cluster `….internal`) takes
//!    the leftmost candidate whose cluster is known, else the leftmost candidate, i.e.
//!    the router's dynamic prefix belongs to the stat.
//! 5. **Unknown stats**: with no candidate, the longest known cluster that prefixes
//!    the name wins; else the split is at the last dot (most Envoy stats are one
//!    segment). A name with no dot to split at is no cluster stat.
//!
//! A trailing `;` is stripped from every cluster name found. Only the last 16 segments
//! are searched for the stat, so a name with very many dots costs linear time.
//! Splitting borrows from the name and never panics: every slice index is a `.` or `|`
//! byte.

use std::collections::HashSet;

/// A cluster stat name split into the Envoy cluster and the statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Split<'a> {
    /// The cluster name, without a trailing `;`.
    pub cluster: &'a str,
    pub stat: &'a str,
}

/// Splits `cluster.…` names, using the cluster names that the dump shows unambiguously
/// (rule 4 and 5 above). Feed it every name with [`ClusterSplitter::learn`] first.
#[derive(Debug, Default)]
pub(crate) struct ClusterSplitter<'a> {
    known: HashSet<&'a str>,
}

impl<'a> ClusterSplitter<'a> {
    /// Remembers the cluster of `name` when only one split of it is possible.
    pub fn learn(&mut self, name: &'a str) {
        if let Some(cluster) = name.strip_prefix("cluster.").and_then(unambiguous_cluster) {
            self.known.insert(cluster);
        }
    }

    /// The cluster and stat of `name`, or `None` when it is no `cluster.<c>.<stat>` name.
    pub fn split(&self, name: &'a str) -> Option<Split<'a>> {
        let rest = name.strip_prefix("cluster.")?;
        if let Some(split) = split_at_semicolon(rest) {
            return Some(split);
        }
        let floor = pipe_floor(rest);
        match self.pick_candidate(rest, floor) {
            Some(split) => Some(split),
            None => {
                self.longest_known_prefix(rest, floor).or_else(|| split_at_last_dot(rest, floor))
            }
        }
    }

    /// The leftmost candidate with a known cluster, else the leftmost candidate.
    fn pick_candidate(&self, rest: &'a str, floor: usize) -> Option<Split<'a>> {
        let mut candidates = candidates(rest, floor);
        let first = candidates.next()?;
        if self.known.contains(first.cluster) {
            return Some(first);
        }
        candidates.find(|split| self.known.contains(split.cluster)).or(Some(first))
    }

    fn longest_known_prefix(&self, rest: &'a str, floor: usize) -> Option<Split<'a>> {
        dot_splits(rest, floor).rev().find(|split| self.known.contains(split.cluster))
    }
}

/// The cluster of `rest` (the name after `cluster.`) when exactly one split is possible.
fn unambiguous_cluster(rest: &str) -> Option<&str> {
    if let Some(split) = split_at_semicolon(rest) {
        return Some(split.cluster);
    }
    let mut candidates = candidates(rest, pipe_floor(rest));
    let only = candidates.next()?;
    candidates.next().is_none().then_some(only.cluster)
}

/// Rule 1: Istio 1.23's `<cluster>;.<stat>`.
fn split_at_semicolon(rest: &str) -> Option<Split<'_>> {
    let (cluster, stat) = rest.split_once(";.")?;
    (!cluster.is_empty() && !stat.is_empty()).then_some(Split { cluster, stat })
}

/// The most segments a stat after the cluster name is looked for in (a gRPC service
/// name has a few dots; no Envoy cluster stat has this many). Bounds the work on a name
/// with very many dots to linear.
const MAX_STAT_SEGMENTS: usize = 16;

/// Rule 2: the first byte a split may sit at, just after the last `|`, and no earlier
/// than [`MAX_STAT_SEGMENTS`] dots from the end.
fn pipe_floor(rest: &str) -> usize {
    let after_pipes = rest.rfind('|').map_or(0, |pipe| pipe + 1);
    let bounded = rest.rmatch_indices('.').nth(MAX_STAT_SEGMENTS - 1).map_or(0, |(dot, _)| dot);
    after_pipes.max(bounded)
}

/// Rule 3: the splits, left to right, whose stat is in Envoy's cluster vocabulary.
fn candidates(rest: &str, floor: usize) -> impl Iterator<Item = Split<'_>> {
    dot_splits(rest, floor).filter(|split| is_cluster_stat(split.stat))
}

/// Every split at a dot at or after `floor` with a non-empty cluster and stat.
fn dot_splits(rest: &str, floor: usize) -> impl DoubleEndedIterator<Item = Split<'_>> {
    rest.match_indices('.').filter(move |(dot, _)| *dot >= floor).filter_map(|(dot, _)| {
        let cluster = strip_semicolon(&rest[..dot]);
        let stat = &rest[dot + 1..];
        (!cluster.is_empty() && !stat.is_empty()).then_some(Split { cluster, stat })
    })
}

fn split_at_last_dot(rest: &str, floor: usize) -> Option<Split<'_>> {
    dot_splits(rest, floor).next_back()
}

fn strip_semicolon(cluster: &str) -> &str {
    cluster.strip_suffix(';').unwrap_or(cluster)
}

/// One-segment cluster stats start with one of these.
const TOP_PREFIXES: [&str; 5] = ["upstream_", "lb_", "membership_", "update_", "assignment_"];

/// One-segment cluster stats with no common prefix.
const TOP_NAMES: [&str; 8] = [
    "bind_errors",
    "max_host_weight",
    "version",
    "warming_state",
    "config_reload",
    "config_reload_time_ms",
    "retry_or_shadow_abandoned",
    "original_dst_host_invalid",
];

/// Namespaces followed by exactly one more segment.
const ONE_SEGMENT_NAMESPACES: [&str; 8] = [
    "outlier_detection",
    "health_check",
    "http1",
    "http2",
    "http3",
    "client_ssl_socket_factory",
    "ring_hash_lb",
    "maglev_lb",
];

/// `ssl.<group>.<…>`: per-cipher, curve, signature algorithm, version and certificate stats.
const TLS_GROUPS: [&str; 5] = ["ciphers", "curves", "sigalgs", "versions", "certificate"];

/// The last segment of a `grpc.<service>.<method>.<x>` stat (gRPC stats filter and
/// bridge), besides a numeric gRPC status.
const GRPC_ENDINGS: [&str; 6] = [
    "success",
    "failure",
    "total",
    "request_message_count",
    "response_message_count",
    "upstream_rq_time",
];

/// Whether `stat` (what follows the cluster name) is a statistic Envoy emits per cluster.
pub(crate) fn is_cluster_stat(stat: &str) -> bool {
    match stat.split_once('.') {
        None => is_top_stat(stat),
        Some((head, tail)) => is_namespaced_stat(head, tail),
    }
}

fn is_top_stat(segment: &str) -> bool {
    is_segment(segment)
        && (TOP_PREFIXES.iter().any(|prefix| segment.starts_with(prefix))
            || TOP_NAMES.contains(&segment))
}

fn is_namespaced_stat(head: &str, tail: &str) -> bool {
    match head {
        "internal" | "external" | "canary" => is_routed_stat(tail),
        "zone" => is_zone_stat(tail),
        "circuit_breakers" => tail
            .split_once('.')
            .is_some_and(|(priority, stat)| is_segment(priority) && is_namespace_tail(stat)),
        "ssl" | "tls" => is_tls_stat(tail),
        "grpc" => is_grpc_stat(tail),
        _ if ONE_SEGMENT_NAMESPACES.contains(&head) => is_namespace_tail(tail),
        _ => is_segment(head) && tail == "total_match_count",
    }
}

/// A non-empty name part without a dot.
fn is_segment(text: &str) -> bool {
    !text.is_empty() && !text.contains('.')
}

/// One segment, but not one of the router's or connection pool's own stats
/// (`upstream_rq_…`, `upstream_cx_…`), which Envoy never nests: `x.http2.upstream_rq_total`
/// is cluster `x.http2`, while `client_ssl_socket_factory.upstream_context_secrets_not_ready`
/// is a stat.
fn is_namespace_tail(text: &str) -> bool {
    is_segment(text) && !text.starts_with("upstream_rq_") && !text.starts_with("upstream_cx_")
}

/// What the router emits under `internal.`, `external.`, `canary.` and zones.
fn is_routed_stat(text: &str) -> bool {
    is_segment(text) && text.starts_with("upstream_rq_")
}

/// `<from zone>.<to zone>.upstream_rq_…`.
fn is_zone_stat(text: &str) -> bool {
    let mut parts = text.splitn(3, '.');
    let (Some(from), Some(to), Some(stat)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    is_segment(from) && is_segment(to) && is_routed_stat(stat)
}

fn is_tls_stat(text: &str) -> bool {
    match text.split_once('.') {
        None => is_namespace_tail(text),
        Some((group, rest)) => TLS_GROUPS.contains(&group) && !rest.is_empty(),
    }
}

fn is_grpc_stat(text: &str) -> bool {
    let mut segments = text.split('.');
    let last = segments.next_back().unwrap_or_default();
    let known_ending = GRPC_ENDINGS.contains(&last)
        || (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()));
    known_ending && segments.all(|segment| !segment.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `name` with a splitter that has learnt every name in `dump` first.
    fn split_in<'a>(dump: &[&'a str], name: &'a str) -> Option<(&'a str, &'a str)> {
        let mut splitter = ClusterSplitter::default();
        for known in dump {
            splitter.learn(known);
        }
        splitter.learn(name);
        splitter.split(name).map(|split| (split.cluster, split.stat))
    }

    fn split(name: &str) -> Option<(&str, &str)> {
        split_in(&[], name)
    }

    #[test]
    fn istio_outbound_with_subset() {
        assert_eq!(
            split("cluster.outbound|9080|v1|reviews.default.svc.cluster.local.upstream_rq_5xx"),
            Some(("outbound|9080|v1|reviews.default.svc.cluster.local", "upstream_rq_5xx"))
        );
    }

    #[test]
    fn istio_1_23_semicolon_ends_the_cluster() {
        assert_eq!(
            split("cluster.outbound|80||frontend.ns.svc.cluster.local;.upstream_rq_total"),
            Some(("outbound|80||frontend.ns.svc.cluster.local", "upstream_rq_total"))
        );
        // Even when the stat is unknown, or looks like a dynamic prefix.
        assert_eq!(
            split("cluster.outbound|80||x.internal;.internal.upstream_rq_200"),
            Some(("outbound|80||x.internal", "internal.upstream_rq_200"))
        );
        assert_eq!(
            split("cluster.inbound|8080||;.brand_new"),
            Some(("inbound|8080||", "brand_new"))
        );
    }

    #[test]
    fn new_style_inbound_splits_right_after_the_pipes() {
        assert_eq!(
            split("cluster.inbound|8080||.upstream_cx_active"),
            Some(("inbound|8080||", "upstream_cx_active"))
        );
    }

    #[test]
    fn gloo_and_slashed_names() {
        assert_eq!(
            split("cluster.default-petstore-8080_gloo-system.upstream_cx_total"),
            Some(("default-petstore-8080_gloo-system", "upstream_cx_total"))
        );
        assert_eq!(
            split("cluster.httproute/default/backend/rule/0.membership_healthy"),
            Some(("httproute/default/backend/rule/0", "membership_healthy"))
        );
        assert_eq!(
            split("cluster.api.payments.example.com.circuit_breakers.high.rq_open"),
            Some(("api.payments.example.com", "circuit_breakers.high.rq_open"))
        );
    }

    #[test]
    fn namespaced_stats() {
        let fqdn = "outbound|9080||ratings.default.svc.cluster.local";
        for stat in [
            "outlier_detection.ejections_enforced_consecutive_5xx",
            "circuit_breakers.default.remaining_rq",
            "health_check.attempt",
            "http2.rx_reset",
            "http1.dropped_headers_with_underscores",
            "ssl.handshake",
            "ssl.ciphers.TLS_AES_128_GCM_SHA256",
            "ssl.versions.TLSv1.3",
            "tlsMode-istio.total_match_count",
            "default.total_match_count",
            "client_ssl_socket_factory.ssl_context_update_by_sds",
            "client_ssl_socket_factory.upstream_context_secrets_not_ready",
            "internal.upstream_rq_200",
            "external.upstream_rq_5xx",
            "canary.upstream_rq_completed",
            "zone.us-west1-a.us-west1-b.upstream_rq_2xx",
            "grpc.envoy.service.discovery.v3.AggregatedDiscoveryService.StreamAggregatedResources.success",
            "grpc.foo.Bar.14",
            "lb_healthy_panic",
            "retry_or_shadow_abandoned",
            "max_host_weight",
            "version",
            "bind_errors",
        ] {
            let name = format!("cluster.{fqdn}.{stat}");
            assert_eq!(split(&name), Some((fqdn, stat)), "{stat}");
        }
    }

    #[test]
    fn dynamic_prefix_belongs_to_the_stat_by_default() {
        assert_eq!(
            split("cluster.outbound|80||x.ns.svc.cluster.local.internal.upstream_rq_200"),
            Some(("outbound|80||x.ns.svc.cluster.local", "internal.upstream_rq_200"))
        );
    }

    #[test]
    fn internal_tld_cluster_is_recognised_from_the_rest_of_the_dump() {
        let dump = ["cluster.outbound|80||metadata.google.internal.upstream_cx_total"];
        assert_eq!(
            split_in(&dump, "cluster.outbound|80||metadata.google.internal.upstream_rq_200"),
            Some(("outbound|80||metadata.google.internal", "upstream_rq_200"))
        );
        // Without that evidence the dynamic-prefix reading wins.
        assert_eq!(
            split("cluster.outbound|80||metadata.google.internal.upstream_rq_200"),
            Some(("outbound|80||metadata.google", "internal.upstream_rq_200"))
        );
    }

    #[test]
    fn labels_that_look_like_namespaces_stay_in_the_cluster() {
        assert_eq!(
            split("cluster.a.http2.upstream_rq_total"),
            Some(("a.http2", "upstream_rq_total"))
        );
        assert_eq!(
            split("cluster.a.grpc.b.upstream_rq_total"),
            Some(("a.grpc.b", "upstream_rq_total"))
        );
        assert_eq!(
            split("cluster.a.ssl.b.upstream_cx_total"),
            Some(("a.ssl.b", "upstream_cx_total"))
        );
        assert_eq!(
            split("cluster.api.version.upstream_rq_total"),
            Some(("api.version", "upstream_rq_total"))
        );
        assert_eq!(
            split("cluster.a.upstream_x.upstream_rq_total"),
            Some(("a.upstream_x", "upstream_rq_total"))
        );
    }

    #[test]
    fn unknown_stat_uses_a_known_cluster_then_the_last_dot() {
        let dump = ["cluster.backend.example.com.upstream_cx_total"];
        assert_eq!(
            split_in(&dump, "cluster.backend.example.com.thrift.request_call"),
            Some(("backend.example.com", "thrift.request_call"))
        );
        assert_eq!(
            split("cluster.outbound|80||x.ns.svc.cluster.local.brand_new_stat"),
            Some(("outbound|80||x.ns.svc.cluster.local", "brand_new_stat"))
        );
    }

    #[test]
    fn names_without_a_stat_are_not_cluster_stats() {
        for name in [
            "cluster.",
            "cluster.foo",
            "cluster.foo.",
            "cluster..upstream_rq_total",
            "cluster.outbound|80||x",
            "cluster_manager.active_clusters",
            "server.uptime",
            "cluster.;.x",
        ] {
            assert_eq!(split(name), None, "{name}");
        }
    }

    #[test]
    fn trailing_semicolon_is_stripped_in_fallbacks() {
        assert_eq!(split("cluster.foo;.x.y"), Some(("foo", "x.y")));
        assert_eq!(split("cluster.a;b.upstream_rq_total"), Some(("a;b", "upstream_rq_total")));
    }

    #[test]
    fn very_many_dots_take_linear_time() {
        let name = format!("cluster.{}upstream_rq_total", "a.".repeat(200_000));
        let started = std::time::Instant::now();
        let split = split(&name).unwrap();
        assert_eq!(split.1, "upstream_rq_total");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn garbage_does_not_panic() {
        for name in ["cluster.|", "cluster.||.", "cluster.🙂.🙂", "cluster.a|.", "cluster.;;..;."]
        {
            let _ = split(name);
        }
    }
}
