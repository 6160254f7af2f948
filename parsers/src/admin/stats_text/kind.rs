//! Counter or gauge, told from a `/stats` name. `/stats` prints both as bare integers,
//! so this file owns Envoy's naming conventions that tell them apart; a name they do
//! not cover is [`StatKind::Untyped`]. Rules look at the last dot-separated segment
//! (`circuit_breakers.default.rq_open` → `rq_open`), gauges first, because some gauge
//! names end like counters (`membership_total`, `total_listeners_active`):
//!
//! - **gauge**: ends in (or is) `active`, `pending`, `buffered`, `remaining`,
//!   `draining` or `warming` after `_`; starts
//!   `remaining_`; `…_open` under `circuit_breakers.`; or one of a fixed list
//!   (`membership_healthy`, `membership_total`, `max_host_weight`, `version`,
//!   `warming_state`, `uptime`, `live`, `state`, `concurrency`, `memory_allocated`…).
//! - **counter**: ends in a counting word (`_total`, `_fail`, `_failure(s)`,
//!   `_error(s)`, `_timeout`, `_success`, `_attempt`, `_overflow`, `_reset`, `_retry`,
//!   `_cancelled`, `_completed`, `_exceeded`, `_reached`, `_rejected`, `_invalid`,
//!   `_count`, `_abandoned`, `_received`, `_stale`, `_cached`, `_miss`, `_added`,
//!   `_removed`, `_allowed`, `_denied`, `_flood`…, or the bare word); a response code or class after `_rq_` (`upstream_rq_503`,
//!   `downstream_rq_5xx`); starts `ejections_`, `lb_`, `update_`, `no_`, `fail_`,
//!   `upstream_rq_retry_`; holds `_destroy`; any `ssl.`/`tls.` stat; a numeric gRPC
//!   status; or one of a few names (`membership_change`, `config_reload`, `bind_errors`…).

use crate::admin::StatKind;

/// Words that end a gauge's name, alone or after `_`.
const GAUGE_WORDS: [&str; 6] =
    ["active", "pending", "buffered", "remaining", "draining", "warming"];

const GAUGE_NAMES: [&str; 35] = [
    "membership_healthy",
    "membership_degraded",
    "membership_excluded",
    "membership_total",
    "max_host_weight",
    "version",
    "warming_state",
    "healthy",
    "degraded",
    "uptime",
    "live",
    "state",
    "concurrency",
    "memory_allocated",
    "memory_heap_size",
    "memory_physical_size",
    "total_connections",
    "parent_connections",
    "hot_restart_epoch",
    "hot_restart_generation",
    "days_until_first_cert_expiring",
    "seconds_until_first_ocsp_response_expiring",
    "active_clusters",
    "warming_clusters",
    "connected_state",
    "pending_send_bytes",
    "pending_requests",
    "update_time",
    "size",
    "min_hashes_per_host",
    "max_hashes_per_host",
    "stats_recent_lookups",
    "expiration_unix_time_seconds",
    "fips_mode",
    "workers_started",
];

/// Words that end a counter's name, alone or after `_`.
const COUNTER_WORDS: [&str; 37] = [
    "total",
    "fail",
    "failure",
    "failures",
    "error",
    "errors",
    "timeout",
    "success",
    "attempt",
    "overflow",
    "reset",
    "retry",
    "cancelled",
    "completed",
    "exceeded",
    "reached",
    "rejected",
    "invalid",
    "count",
    "abandoned",
    "received",
    "stale",
    "cached",
    "miss",
    "eject",
    "handshake",
    "added",
    "modified",
    "removed",
    "updated",
    "created",
    "allowed",
    "denied",
    "enforced",
    "flood",
    "ready",
    "fields",
];

const COUNTER_PREFIXES: [&str; 6] =
    ["ejections_", "lb_", "update_", "no_", "fail_", "upstream_rq_retry_"];

const COUNTER_NAMES: [&str; 12] = [
    "membership_change",
    "config_reload",
    "bind_errors",
    "upstream_rq_maintenance_mode",
    "upstream_cx_close_notify",
    "upstream_cx_none_healthy",
    "upstream_cx_max_requests",
    "session_reused",
    "ssl_context_update_by_sds",
    "headers_cb_no_stream",
    "trailers",
    "dropped_headers_with_underscores",
];

/// The kind a counter-or-gauge value has, from its name (with or without the cluster).
pub(crate) fn kind_of(stat: &str) -> StatKind {
    let last = stat.rsplit('.').next().unwrap_or(stat);
    if is_gauge(stat, last) {
        StatKind::Gauge
    } else if is_counter(stat, last) {
        StatKind::Counter
    } else {
        StatKind::Untyped
    }
}

fn is_gauge(stat: &str, last: &str) -> bool {
    GAUGE_WORDS.iter().any(|word| ends_with_word(last, word))
        || last.starts_with("remaining_")
        || (last.ends_with("_open") && stat.contains("circuit_breakers."))
        || GAUGE_NAMES.contains(&last)
}

fn is_counter(stat: &str, last: &str) -> bool {
    COUNTER_WORDS.iter().any(|word| ends_with_word(last, word))
        || is_response_code_stat(last)
        || COUNTER_PREFIXES.iter().any(|prefix| last.starts_with(prefix))
        || last.contains("_destroy")
        || COUNTER_NAMES.contains(&last)
        || stat.starts_with("ssl.")
        || stat.starts_with("tls.")
        || stat.contains(".ssl.")
        || is_digits(last)
}

/// `word` itself, or a name ending `_<word>`.
fn ends_with_word(name: &str, word: &str) -> bool {
    name.strip_suffix(word).is_some_and(|head| head.is_empty() || head.ends_with('_'))
}

/// `…_rq_503` or `…_rq_5xx`.
fn is_response_code_stat(name: &str) -> bool {
    let Some((_, code)) = name.rsplit_once("_rq_") else {
        return false;
    };
    let bytes = code.as_bytes();
    match bytes {
        [first, b'x', b'x'] => first.is_ascii_digit(),
        _ => is_digits(code),
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges() {
        for stat in [
            "upstream_cx_active",
            "upstream_rq_pending_active",
            "upstream_cx_rx_bytes_buffered",
            "membership_healthy",
            "membership_total",
            "max_host_weight",
            "version",
            "circuit_breakers.default.cx_open",
            "circuit_breakers.high.rq_pending_open",
            "circuit_breakers.default.remaining_rq",
            "outlier_detection.ejections_active",
            "health_check.healthy",
            "server.uptime",
            "server.memory_allocated",
            "listener_manager.total_listeners_active",
            "cluster_manager.active_clusters",
            "control_plane.connected_state",
            "quota_remaining",
            "listener_manager.total_listeners_draining",
            "wasm.envoy.wasm.runtime.null.active",
            "listener_manager.workers_started",
        ] {
            assert_eq!(kind_of(stat), StatKind::Gauge, "{stat}");
        }
    }

    #[test]
    fn counters() {
        for stat in [
            "upstream_rq_total",
            "upstream_rq_5xx",
            "upstream_rq_503",
            "downstream_rq_2xx",
            "upstream_cx_connect_fail",
            "upstream_cx_protocol_error",
            "upstream_rq_timeout",
            "upstream_rq_per_try_timeout",
            "upstream_rq_pending_total",
            "upstream_rq_pending_overflow",
            "upstream_rq_retry_backoff_exponential",
            "outlier_detection.ejections_enforced_total",
            "outlier_detection.ejections_detected_consecutive_5xx",
            "health_check.attempt",
            "health_check.failure",
            "upstream_cx_destroy_local_with_active_rq",
            "lb_healthy_panic",
            "update_success",
            "update_no_rebuild",
            "membership_change",
            "default.total_match_count",
            "ssl.handshake",
            "ssl.versions.TLSv1.3",
            "ssl.ciphers.TLS_AES_128_GCM_SHA256",
            "listener.0.0.0.0_15006.ssl.connection_error",
            "listener.0.0.0.0_15006.no_filter_chain_match",
            "server.debug_assertion_failures",
            "grpc.foo.Bar.14",
            "cluster_manager.cluster_added",
            "http.inbound_0.0.0.0_9080.rbac.denied",
            "http2.inbound_empty_frames_flood",
            "client_ssl_socket_factory.upstream_context_secrets_not_ready",
            "server.dynamic_unknown_fields",
        ] {
            assert_eq!(kind_of(stat), StatKind::Counter, "{stat}");
        }
    }

    #[test]
    fn untyped_when_the_name_does_not_tell() {
        for stat in ["upstream_rq_time", "foo", "", "circuit_open", "activeness"] {
            assert_eq!(kind_of(stat), StatKind::Untyped, "{stat}");
        }
    }
}
