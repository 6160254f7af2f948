//! Renders a proxy's state as Envoy's admin `/clusters?format=json` prints it: the
//! `envoy.admin.v3.Clusters` message in proto3 JSON, pretty-printed with one space per
//! level. As proto3 JSON does, fields keep the proto's order, default values are left
//! out (a zero counter has no `value`, priority 0 and `added_via_api: false` are
//! absent, an empty host list is absent), 64-bit counters are strings, and `type` is
//! written for gauges only (`COUNTER` is the enum's default). Each host carries the
//! `locality` message even when it is empty (`{}`), because Envoy always sets it.
//! Success rates are absent: outlier detection computes none for clusters of fewer
//! than five hosts.

use std::io;

use serde::Serialize;
use serde_json::ser::PrettyFormatter;

use super::counters::HostCounters;
use super::layout::{self, Discovery};
use super::state::{ClusterState, ProxyState};
use crate::simulate::mesh::CLUSTERS;

#[derive(Serialize)]
struct Clusters<'a> {
    cluster_statuses: Vec<ClusterStatus<'a>>,
}

#[derive(Serialize)]
struct ClusterStatus<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "is_false")]
    added_via_api: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    host_statuses: Vec<HostStatus<'a>>,
    circuit_breakers: CircuitBreakers,
    observability_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    eds_service_name: Option<&'a str>,
}

#[derive(Serialize)]
struct CircuitBreakers {
    thresholds: [Thresholds; 2],
}

#[derive(Serialize)]
struct Thresholds {
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<&'static str>,
    max_connections: u32,
    max_pending_requests: u32,
    max_requests: u32,
    max_retries: u32,
}

#[derive(Serialize)]
struct HostStatus<'a> {
    address: Address<'a>,
    stats: Vec<Metric>,
    health_status: HealthStatus,
    #[serde(skip_serializing_if = "is_zero")]
    weight: u32,
    #[serde(skip_serializing_if = "is_zero")]
    priority: u32,
    locality: Locality,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Address<'a> {
    SocketAddress { address: &'a str, port_value: u16 },
    Pipe { path: &'a str },
}

#[derive(Serialize)]
struct Metric {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    name: &'static str,
}

#[derive(Serialize)]
struct HealthStatus {
    #[serde(skip_serializing_if = "is_false")]
    failed_outlier_check: bool,
    eds_health_status: &'static str,
}

#[derive(Serialize, Default)]
struct Locality {
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zone: Option<&'static str>,
}

/// Istio's thresholds for the clusters it sends: no limit at default priority,
/// Envoy's defaults at high priority.
const ISTIO_BREAKERS: CircuitBreakers = CircuitBreakers {
    thresholds: [limits(None, u32::MAX, u32::MAX), limits(Some("HIGH"), 1024, 3)],
};
/// The bootstrap's thresholds for `xds-grpc`.
const BOOTSTRAP_BREAKERS: CircuitBreakers =
    CircuitBreakers { thresholds: [limits(None, 100_000, 3), limits(Some("HIGH"), 100_000, 3)] };

const fn limits(priority: Option<&'static str>, max: u32, retries: u32) -> Thresholds {
    Thresholds {
        priority,
        max_connections: max,
        max_pending_requests: max,
        max_requests: max,
        max_retries: retries,
    }
}

/// `proxy`'s `/clusters?format=json` at `at_ms`, with a final newline.
pub fn render(proxy: &ProxyState, at_ms: i64) -> io::Result<String> {
    let statuses = proxy.clusters.iter().map(|cluster| cluster_status(cluster, at_ms));
    let document = Clusters { cluster_statuses: statuses.collect() };
    let mut buf = Vec::with_capacity(32 * 1024);
    let formatter = PrettyFormatter::with_indent(b" ");
    document.serialize(&mut serde_json::Serializer::with_formatter(&mut buf, formatter))?;
    buf.push(b'\n');
    String::from_utf8(buf).map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
}

fn cluster_status(state: &ClusterState, at_ms: i64) -> ClusterStatus<'_> {
    let cluster = &state.cluster;
    let bootstrap = cluster.discovery == Discovery::Bootstrap;
    let listed = (0..cluster.endpoints.len()).filter(|&index| state.lists(index, at_ms));
    ClusterStatus {
        name: cluster.name,
        added_via_api: !bootstrap,
        host_statuses: listed.map(|index| host_status(state, index, at_ms)).collect(),
        circuit_breakers: if bootstrap { BOOTSTRAP_BREAKERS } else { ISTIO_BREAKERS },
        // Istio 1.23 and later name every cluster's stats `<name>;` (`alt_stat_name`).
        observability_name: if bootstrap {
            cluster.name.to_owned()
        } else {
            cluster.name.to_owned() + ";"
        },
        eds_service_name: (cluster.discovery == Discovery::Eds).then_some(cluster.name),
    }
}

fn host_status(state: &ClusterState, index: usize, at_ms: i64) -> HostStatus<'_> {
    let endpoint = &state.cluster.endpoints[index];
    let locality = endpoint.locality.map(|cluster| Locality {
        region: Some(CLUSTERS[cluster].region),
        zone: Some(CLUSTERS[cluster].zone),
    });
    HostStatus {
        address: address(endpoint.address),
        stats: stats(&state.hosts[index], at_ms),
        health_status: HealthStatus {
            failed_outlier_check: state.ejected(index, at_ms),
            eds_health_status: "HEALTHY",
        },
        weight: endpoint.weight,
        priority: endpoint.priority,
        locality: locality.unwrap_or_default(),
    }
}

fn address(address: layout::Address) -> Address<'static> {
    match address {
        layout::Address::Socket(host) => {
            let (ip, port) = host.rsplit_once(':').unwrap_or((host, ""));
            Address::SocketAddress { address: ip, port_value: port.parse().unwrap_or(0) }
        }
        layout::Address::Pipe(path) => Address::Pipe { path },
    }
}

/// Envoy's host stats, counters then gauges, each in its declared order.
fn stats(host: &HostCounters, at_ms: i64) -> Vec<Metric> {
    let (cx_active, rq_active) = host.active_at(at_ms);
    vec![
        metric(None, "cx_connect_fail", host.cx_connect_fail),
        metric(None, "cx_total", host.cx_total),
        metric(None, "rq_error", host.rq_error),
        metric(None, "rq_success", host.rq_success),
        metric(None, "rq_timeout", host.rq_timeout),
        metric(None, "rq_total", host.rq_total),
        metric(Some("GAUGE"), "cx_active", cx_active),
        metric(Some("GAUGE"), "rq_active", rq_active),
    ]
}

fn metric(kind: Option<&'static str>, name: &'static str, value: u64) -> Metric {
    Metric { kind, value: (value != 0).then(|| value.to_string()), name }
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}
