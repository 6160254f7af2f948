//! Entries shaped as Envoy's gRPC access logger sends them from an Istio sidecar
//! (node id `sidecar~ip~pod.namespace~domain`, `CLUSTER_ID` in the node metadata).

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::SocketAddress;
use envoy_types::pb::envoy::data::accesslog::v3::{
    ConnectionProperties, HttpRequestProperties, HttpResponseProperties, TlsProperties,
};
use envoy_types::pb::google::protobuf::{Struct, UInt32Value, Value};

use super::*;
use crate::enrich::topology::Cluster;

fn socket(ip: &str, port: u32) -> Option<Address> {
    let socket = SocketAddress {
        address: ip.to_owned(),
        port_specifier: Some(PortSpecifier::PortValue(port)),
        ..Default::default()
    };
    Some(Address { address: Some(AddressKind::SocketAddress(socket)) })
}

fn common() -> AccessLogCommon {
    AccessLogCommon {
        start_time: Some(protobuf::Timestamp { seconds: 1_793_527_200, nanos: 123_456_789 }),
        duration: Some(protobuf::Duration { seconds: 1, nanos: 250_999_999 }),
        downstream_remote_address: socket("10.244.0.12", 45678),
        downstream_local_address: socket("10.96.1.7", 9080),
        upstream_remote_address: socket("35.200.10.5", 15443),
        upstream_local_address: socket("10.244.0.12", 51234),
        upstream_cluster: "outbound|9080||productpage.default.svc.cluster.local".to_owned(),
        response_flags: Some(ResponseFlags {
            upstream_connection_failure: true,
            upstream_retry_limit_exceeded: true,
            ..Default::default()
        }),
        route_name: "default".to_owned(),
        tls_properties: Some(TlsProperties {
            tls_sni_hostname: "outbound_.9080_._.productpage.default.svc.cluster.local".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn identity() -> StreamIdentity {
    StreamIdentity { proxy: Some("frontend-7d4f.default".to_owned()), cluster: None }
}

#[test]
fn an_http_entry_fills_the_columns_envoys_operators_would() {
    let entry = HttpAccessLogEntry {
        common_properties: Some(common()),
        protocol_version: HttpVersion::Http11 as i32,
        request: Some(HttpRequestProperties {
            request_method: RequestMethod::Get as i32,
            path: "/productpage?u=1".to_owned(),
            authority: "productpage:9080".to_owned(),
            user_agent: "curl/8.5.0".to_owned(),
            request_id: "4d5c3b1a-0001".to_owned(),
            request_body_bytes: 0,
            ..Default::default()
        }),
        response: Some(HttpResponseProperties {
            response_code: Some(UInt32Value { value: 503 }),
            response_code_details: "upstream_reset_before_response_started{connection_failure}"
                .to_owned(),
            response_body_bytes: 91,
            response_headers: HashMap::from([(
                "X-Envoy-Upstream-Service-Time".to_owned(),
                "17".to_owned(),
            )]),
            ..Default::default()
        }),
    };
    let record = http_record(&entry, &identity());
    assert_eq!(record.ts, Some(Timestamp::from_micros(1_793_527_200_123_456)));
    assert_eq!(record.proxy.as_deref(), Some("frontend-7d4f.default"));
    assert_eq!(record.method.as_deref(), Some("GET"));
    assert_eq!(record.path.as_deref(), Some("/productpage?u=1"));
    assert_eq!(record.protocol.as_deref(), Some("HTTP/1.1"));
    assert_eq!(record.response_code, Some(503));
    assert_eq!(record.response_flags.as_deref(), Some("UF,URX"));
    assert_eq!(record.duration_ms, Some(1250), "whole milliseconds, as %DURATION%");
    assert_eq!((record.bytes_received, record.bytes_sent), (Some(0), Some(91)));
    assert_eq!(record.upstream_service_time_ms, Some(17));
    assert_eq!(record.upstream_host.as_deref(), Some("35.200.10.5:15443"));
    assert_eq!(record.downstream_remote_address.as_deref(), Some("10.244.0.12:45678"));
    assert_eq!(record.downstream_local_address.as_deref(), Some("10.96.1.7:9080"));
    assert_eq!(record.upstream_local_address.as_deref(), Some("10.244.0.12:51234"));
    let cluster = "outbound|9080||productpage.default.svc.cluster.local";
    assert_eq!(record.upstream_cluster.as_deref(), Some(cluster));
    assert_eq!(
        record.requested_server_name.as_deref(),
        Some("outbound_.9080_._.productpage.default.svc.cluster.local")
    );
    assert_eq!(record.request_id.as_deref(), Some("4d5c3b1a-0001"));
    assert_eq!(record.authority.as_deref(), Some("productpage:9080"));
    assert_eq!(record.route_name.as_deref(), Some("default"));
    assert_eq!(record.x_forwarded_for, None, "an empty string is Envoy's `-`");
}

#[test]
fn the_original_path_wins_and_a_missing_response_is_code_0() {
    let entry = HttpAccessLogEntry {
        common_properties: Some(AccessLogCommon { response_flags: None, ..common() }),
        request: Some(HttpRequestProperties {
            path: "/rewritten".to_owned(),
            original_path: "/api/v1/orders".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let record = http_record(&entry, &StreamIdentity::default());
    assert_eq!(record.path.as_deref(), Some("/api/v1/orders"));
    assert_eq!((record.method, record.protocol), (None, None));
    assert_eq!(record.response_code, Some(0));
    assert_eq!((record.response_flags, record.proxy), (None, None));
}

#[test]
fn a_tcp_entry_is_a_connection_with_its_bytes_and_code_0() {
    let entry = TcpAccessLogEntry {
        common_properties: Some(common()),
        connection_properties: Some(ConnectionProperties { received_bytes: 517, sent_bytes: 4242 }),
    };
    let record = tcp_record(&entry, &identity());
    assert_eq!(record.response_code, Some(0));
    assert_eq!((record.bytes_received, record.bytes_sent), (Some(517), Some(4242)));
    assert_eq!(record.method, None);
    assert_eq!(record.upstream_host.as_deref(), Some("35.200.10.5:15443"));
}

#[test]
fn the_stream_identity_comes_from_istios_node_id_and_cluster_metadata() {
    let mut topology = Topology::default();
    topology.add_cluster(Cluster {
        name: "cluster2".into(),
        network: None,
        region: None,
        zone: None,
    });
    let metadata = |cluster: &str| {
        let value = Value { kind: Some(Kind::StringValue(cluster.to_owned())) };
        Some(Struct { fields: [(ISTIO_CLUSTER_METADATA.to_owned(), value)].into() })
    };
    let istio = Node {
        id: "sidecar~10.244.0.12~frontend-7d4f.default~default.svc.cluster.local".to_owned(),
        cluster: "frontend.default".to_owned(),
        metadata: metadata("cluster1"),
        ..Default::default()
    };
    let identity = StreamIdentity::of(Some(&istio), &topology);
    assert_eq!(identity.proxy.as_deref(), Some("frontend-7d4f.default"));
    assert_eq!(identity.cluster.as_deref(), Some("cluster1"));
    // Istio's node cluster is the workload's service cluster: not a mesh cluster.
    let no_metadata = Node { metadata: None, ..istio.clone() };
    assert_eq!(StreamIdentity::of(Some(&no_metadata), &topology).cluster, None);
    let plain =
        Node { id: "edge-1".to_owned(), cluster: "cluster2".to_owned(), ..Default::default() };
    let identity = StreamIdentity::of(Some(&plain), &topology);
    assert_eq!(
        (identity.proxy.as_deref(), identity.cluster.as_deref()),
        (Some("edge-1"), Some("cluster2"))
    );
    assert_eq!(StreamIdentity::of(None, &topology), StreamIdentity::default());
}

#[test]
fn flags_come_out_in_envoys_order_as_meshlog_reads_them() {
    let all = ResponseFlags {
        failed_local_healthcheck: true,
        no_healthy_upstream: true,
        upstream_request_timeout: true,
        local_reset: true,
        upstream_remote_reset: true,
        upstream_connection_failure: true,
        upstream_connection_termination: true,
        upstream_overflow: true,
        no_route_found: true,
        delay_injected: true,
        fault_injected: true,
        rate_limited: true,
        unauthorized_details: Some(Default::default()),
        rate_limit_service_error: true,
        downstream_connection_termination: true,
        upstream_retry_limit_exceeded: true,
        stream_idle_timeout: true,
        invalid_envoy_request_headers: true,
        downstream_protocol_error: true,
        upstream_max_stream_duration_reached: true,
        response_from_cache_filter: true,
        no_filter_config_found: true,
        duration_timeout: true,
        upstream_protocol_error: true,
        no_cluster_found: true,
        overload_manager: true,
        dns_resolution_failure: true,
        downstream_remote_reset: true,
    };
    let text = flags_text(&all).unwrap();
    let known: Vec<&str> = meshlog_parsers::flags::FLAGS.iter().map(|flag| flag.short).collect();
    let positions: Vec<usize> = text
        .split(',')
        .map(|name| known.iter().position(|known| *known == name).expect(name))
        .collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    assert_eq!(positions.len(), 28);
    assert_eq!(flags_text(&ResponseFlags::default()), None);
}
