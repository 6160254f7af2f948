//! Envoy's gRPC access-log service (`envoy.service.accesslog.v3`, `envoy-types`):
//! its HTTP and TCP entries mapped straight onto the columns of `requests`, with no
//! text in between, as Envoy's own `%…%` operators would print them:
//! `START_TIME`, `REQ(:METHOD)`, `REQ(X-ENVOY-ORIGINAL-PATH?:PATH)`, `PROTOCOL`,
//! `RESPONSE_CODE` (0 when there was none, and for TCP), `RESPONSE_FLAGS` (the flag
//! fields as short names), `DURATION`, `BYTES_RECEIVED`/`BYTES_SENT` (body bytes;
//! a TCP connection's bytes), the addresses as `ip:port`, `UPSTREAM_CLUSTER`,
//! `RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)` when the logger sends that header.
//!
//! A stream's first message names its proxy ([`StreamIdentity`]): the node id
//! (Istio's `sidecar~10.1.2.3~pod.namespace~…` gives `pod.namespace` as `proxy`)
//! and its reporting cluster, Istio's node metadata `CLUSTER_ID`, else the node's
//! cluster when it is one of `[[clusters]]`.

use std::borrow::Cow;
use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::address::Address as AddressKind;
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{Address, Node, RequestMethod};
use envoy_types::pb::envoy::data::accesslog::v3::http_access_log_entry::HttpVersion;
use envoy_types::pb::envoy::data::accesslog::v3::{
    AccessLogCommon, HttpAccessLogEntry, ResponseFlags, TcpAccessLogEntry,
};
use envoy_types::pb::envoy::service::accesslog::v3::stream_access_logs_message::LogEntries;
use envoy_types::pb::google::protobuf::{self, value::Kind};
use meshlog_parsers::AccessLogRecord;
use meshlog_parsers::Timestamp;

use crate::enrich::Topology;

/// Istio's node metadata key for the cluster a proxy runs in.
pub const ISTIO_CLUSTER_METADATA: &str = "CLUSTER_ID";
/// The response header Envoy sets to the upstream's service time.
const UPSTREAM_SERVICE_TIME_HEADER: &str = "x-envoy-upstream-service-time";

/// Who sends a stream's entries, from its first message's identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamIdentity {
    /// The `proxy` column.
    pub proxy: Option<String>,
    /// The reporting cluster, when the node names one meshlog knows.
    pub cluster: Option<String>,
}

impl StreamIdentity {
    /// The identity of `node`: `proxy` from its id, `cluster` from Istio's
    /// `CLUSTER_ID` metadata, else its cluster when `topology` has it (any, with
    /// no topology).
    pub fn of(node: Option<&Node>, topology: &Topology) -> StreamIdentity {
        let Some(node) = node else { return StreamIdentity::default() };
        let proxy = proxy_of_node_id(&node.id);
        let from_metadata = node.metadata.as_ref().and_then(|metadata| {
            match metadata.fields.get(ISTIO_CLUSTER_METADATA)?.kind.as_ref()? {
                Kind::StringValue(name) if !name.trim().is_empty() => Some(name.trim().to_owned()),
                _ => None,
            }
        });
        let node_cluster = Some(node.cluster.trim())
            .filter(|name| !name.is_empty())
            .filter(|name| topology.is_empty() || topology.id(name).is_some())
            .map(str::to_owned);
        StreamIdentity { proxy, cluster: from_metadata.or(node_cluster) }
    }
}

/// `pod.namespace` of Istio's `type~ip~pod.namespace~domain` node ids; any other
/// id whole.
fn proxy_of_node_id(id: &str) -> Option<String> {
    let id = id.trim();
    if id.is_empty() {
        return None;
    }
    let parts: Vec<&str> = id.split('~').collect();
    match parts.as_slice() {
        [_, _, pod, _] if !pod.is_empty() => Some((*pod).to_owned()),
        _ => Some(id.to_owned()),
    }
}

/// The records of one message's entries, in order.
pub fn records(entries: LogEntries, identity: &StreamIdentity) -> Vec<AccessLogRecord<'static>> {
    match entries {
        LogEntries::HttpLogs(http) => {
            http.log_entry.iter().map(|entry| http_record(entry, identity)).collect()
        }
        LogEntries::TcpLogs(tcp) => {
            tcp.log_entry.iter().map(|entry| tcp_record(entry, identity)).collect()
        }
    }
}

/// One HTTP entry as a record.
pub fn http_record(
    entry: &HttpAccessLogEntry,
    identity: &StreamIdentity,
) -> AccessLogRecord<'static> {
    let mut record = common_record(entry.common_properties.as_ref(), identity);
    if let Some(request) = &entry.request {
        record.method = RequestMethod::try_from(request.request_method)
            .ok()
            .filter(|method| *method != RequestMethod::MethodUnspecified)
            .map(|method| Cow::Borrowed(method.as_str_name()));
        let path =
            if request.original_path.is_empty() { &request.path } else { &request.original_path };
        record.path = text(path);
        record.user_agent = text(&request.user_agent);
        record.x_forwarded_for = text(&request.forwarded_for);
        record.request_id = text(&request.request_id);
        record.authority = text(&request.authority);
        record.bytes_received = Some(request.request_body_bytes);
    }
    record.protocol = protocol(entry.protocol_version);
    let response = entry.response.as_ref();
    record.response_code = Some(
        response
            .and_then(|response| response.response_code.as_ref())
            .map_or(0, |code| u16::try_from(code.value).unwrap_or(0)),
    );
    if let Some(response) = response {
        record.response_code_details = text(&response.response_code_details);
        record.bytes_sent = Some(response.response_body_bytes);
        record.upstream_service_time_ms = response
            .response_headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(UPSTREAM_SERVICE_TIME_HEADER))
            .and_then(|(_, value)| value.trim().parse().ok());
    }
    record
}

/// One TCP connection as a record: no request, response code 0.
pub fn tcp_record(
    entry: &TcpAccessLogEntry,
    identity: &StreamIdentity,
) -> AccessLogRecord<'static> {
    let mut record = common_record(entry.common_properties.as_ref(), identity);
    record.response_code = Some(0);
    if let Some(connection) = &entry.connection_properties {
        record.bytes_received = Some(connection.received_bytes);
        record.bytes_sent = Some(connection.sent_bytes);
    }
    record
}

/// What HTTP and TCP entries share.
fn common_record(
    common: Option<&AccessLogCommon>,
    identity: &StreamIdentity,
) -> AccessLogRecord<'static> {
    let mut record =
        AccessLogRecord { proxy: identity.proxy.clone().map(Cow::Owned), ..Default::default() };
    let Some(common) = common else { return record };
    record.ts = common.start_time.as_ref().and_then(timestamp);
    record.duration_ms = common
        .duration
        .as_ref()
        .or(common.time_to_last_downstream_tx_byte.as_ref())
        .and_then(millis);
    record.response_flags = common.response_flags.as_ref().and_then(flags_text).map(Cow::Owned);
    record.connection_termination_details = text(&common.connection_termination_details);
    record.upstream_transport_failure_reason = text(&common.upstream_transport_failure_reason);
    record.upstream_host = address(common.upstream_remote_address.as_ref());
    record.upstream_cluster = text(&common.upstream_cluster);
    record.upstream_local_address = address(common.upstream_local_address.as_ref());
    record.downstream_local_address = address(common.downstream_local_address.as_ref());
    record.downstream_remote_address = address(common.downstream_remote_address.as_ref());
    record.requested_server_name =
        common.tls_properties.as_ref().and_then(|tls| text(&tls.tls_sni_hostname));
    record.route_name = text(&common.route_name);
    record
}

/// Envoy prints an empty string as `-`: absent.
fn text(value: &str) -> Option<Cow<'static, str>> {
    (!value.is_empty()).then(|| Cow::Owned(value.to_owned()))
}

fn protocol(version: i32) -> Option<Cow<'static, str>> {
    let name = match HttpVersion::try_from(version).ok()? {
        HttpVersion::Http10 => "HTTP/1.0",
        HttpVersion::Http11 => "HTTP/1.1",
        HttpVersion::Http2 => "HTTP/2",
        HttpVersion::Http3 => "HTTP/3",
        HttpVersion::ProtocolUnspecified => return None,
    };
    Some(Cow::Borrowed(name))
}

fn timestamp(time: &protobuf::Timestamp) -> Option<Timestamp> {
    let micros = time.seconds.checked_mul(1_000_000)?.checked_add(i64::from(time.nanos) / 1_000)?;
    Some(Timestamp::from_micros(micros))
}

/// Whole milliseconds, as `%DURATION%` prints them.
fn millis(duration: &protobuf::Duration) -> Option<u64> {
    let seconds = u64::try_from(duration.seconds).ok()?;
    let nanos = u64::try_from(duration.nanos).ok()?;
    Some(Duration::new(seconds, 0).as_millis() as u64 + nanos / 1_000_000)
}

/// `ip:port` of a socket address (a pipe's path, an internal listener's name).
fn address(address: Option<&Address>) -> Option<Cow<'static, str>> {
    let owned = match address?.address.as_ref()? {
        AddressKind::SocketAddress(socket) => {
            let host = &socket.address;
            let port = match &socket.port_specifier {
                Some(PortSpecifier::PortValue(port)) => port.to_string(),
                Some(PortSpecifier::NamedPort(name)) => name.clone(),
                None => return text(host),
            };
            match host.contains(':') {
                true => format!("[{host}]:{port}"),
                false => format!("{host}:{port}"),
            }
        }
        AddressKind::Pipe(pipe) => pipe.path.clone(),
        AddressKind::EnvoyInternalAddress(internal) => format!("{internal:?}"),
    };
    (!owned.is_empty()).then_some(Cow::Owned(owned))
}

/// The set flags as `%RESPONSE_FLAGS%` prints them (`UH,URX`); `None` for none.
fn flags_text(flags: &ResponseFlags) -> Option<String> {
    let set = [
        (flags.failed_local_healthcheck, "LH"),
        (flags.no_healthy_upstream, "UH"),
        (flags.upstream_request_timeout, "UT"),
        (flags.local_reset, "LR"),
        (flags.upstream_remote_reset, "UR"),
        (flags.upstream_connection_failure, "UF"),
        (flags.upstream_connection_termination, "UC"),
        (flags.upstream_overflow, "UO"),
        (flags.no_route_found, "NR"),
        (flags.delay_injected, "DI"),
        (flags.fault_injected, "FI"),
        (flags.rate_limited, "RL"),
        (flags.unauthorized_details.is_some(), "UAEX"),
        (flags.rate_limit_service_error, "RLSE"),
        (flags.downstream_connection_termination, "DC"),
        (flags.upstream_retry_limit_exceeded, "URX"),
        (flags.stream_idle_timeout, "SI"),
        (flags.invalid_envoy_request_headers, "IH"),
        (flags.downstream_protocol_error, "DPE"),
        (flags.upstream_max_stream_duration_reached, "UMSDR"),
        (flags.response_from_cache_filter, "RFCF"),
        (flags.no_filter_config_found, "NFCF"),
        (flags.duration_timeout, "DT"),
        (flags.upstream_protocol_error, "UPE"),
        (flags.no_cluster_found, "NC"),
        (flags.overload_manager, "OM"),
        (flags.dns_resolution_failure, "DF"),
        (flags.downstream_remote_reset, "DR"),
    ];
    let names: Vec<&str> = set.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect();
    (!names.is_empty()).then(|| names.join(","))
}

#[cfg(test)]
#[path = "als_tests.rs"]
mod tests;
