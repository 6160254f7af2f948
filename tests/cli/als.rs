//! Envoy's gRPC access-log service end to end: a client built from `envoy-types`
//! streams HTTP and TCP entries as an Istio sidecar's gRPC access logger does (the
//! node in the first message, `CLUSTER_ID` in its metadata), and the rows equal a
//! text ingest of the lines Envoy would have printed for the same requests in
//! Istio's default format. The stream stays open, as Envoy's does, until the
//! server stops and ends it.

use std::path::Path;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::core::v3::address::Address as AddressKind;
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{Address, Node, RequestMethod, SocketAddress};
use envoy_types::pb::envoy::data::accesslog::v3::http_access_log_entry::HttpVersion;
use envoy_types::pb::envoy::data::accesslog::v3::{
    AccessLogCommon, ConnectionProperties, HttpAccessLogEntry, HttpRequestProperties,
    HttpResponseProperties, ResponseFlags, TcpAccessLogEntry,
};
use envoy_types::pb::envoy::service::accesslog::v3::StreamAccessLogsMessage;
use envoy_types::pb::envoy::service::accesslog::v3::access_log_service_client::AccessLogServiceClient;
use envoy_types::pb::envoy::service::accesslog::v3::stream_access_logs_message::{
    HttpAccessLogEntries, Identifier, LogEntries, TcpAccessLogEntries,
};
use envoy_types::pb::google::protobuf::{self, Struct, UInt32Value, Value, value::Kind};
use serde_json::json;

use super::serve_support::{Server, free_port, wait_until, write_config};
use super::support::{meshlog_ok, query_json, scratch};

/// Every column but `proxy`, which a text line without a prefix does not name.
const ROWS: &str = "SELECT * EXCLUDE (proxy) FROM requests ORDER BY ts";

/// One request as the test describes it; rendered both as an entry and as the line
/// Envoy prints for it.
struct Request {
    /// Milliseconds after 2026-11-01T10:00:00Z.
    at_ms: i64,
    http: Option<(RequestMethod, &'static str, HttpVersion)>,
    code: u32,
    flags: ResponseFlags,
    details: &'static str,
    bytes: (u64, u64),
    duration_ms: i64,
    service_time_ms: Option<u32>,
    id: &'static str,
    authority: &'static str,
    upstream: (&'static str, u32),
    cluster: &'static str,
}

const START_S: i64 = 1_793_527_200;

fn socket(ip: &str, port: u32) -> Option<Address> {
    let socket = SocketAddress {
        address: ip.to_owned(),
        port_specifier: Some(PortSpecifier::PortValue(port)),
        ..Default::default()
    };
    Some(Address { address: Some(AddressKind::SocketAddress(socket)) })
}

fn requests() -> Vec<Request> {
    let get = Some((RequestMethod::Get, "/details/0", HttpVersion::Http11));
    let post = Some((RequestMethod::Post, "/reviews", HttpVersion::Http2));
    let failure = ResponseFlags {
        upstream_connection_failure: true,
        upstream_retry_limit_exceeded: true,
        ..Default::default()
    };
    let none = ResponseFlags::default();
    let details = "outbound|9080||details.default.svc.cluster.local";
    let reviews = "outbound|9080||reviews.default.svc.cluster.local";
    vec![
        Request {
            at_ms: 117,
            http: get,
            code: 200,
            flags: none,
            details: "via_upstream",
            bytes: (0, 178),
            duration_ms: 3,
            service_time_ms: Some(2),
            id: "als-1",
            authority: "details:9080",
            upstream: ("10.112.2.18", 9080),
            cluster: details,
        },
        Request {
            at_ms: 1_250,
            http: get,
            code: 503,
            flags: failure,
            details: "upstream_reset_before_response_started{connection_failure}",
            bytes: (0, 91),
            duration_ms: 1_002,
            service_time_ms: None,
            id: "als-2",
            authority: "details:9080",
            upstream: ("34.168.157.2", 15443),
            cluster: details,
        },
        Request {
            at_ms: 2_500,
            http: post,
            code: 201,
            flags: none,
            details: "via_upstream",
            bytes: (312, 24),
            duration_ms: 17,
            service_time_ms: Some(15),
            id: "als-3",
            authority: "reviews:9080",
            upstream: ("34.168.157.2", 15443),
            cluster: reviews,
        },
        Request {
            at_ms: 3_000,
            http: None,
            code: 0,
            flags: none,
            details: "",
            bytes: (517, 4242),
            duration_ms: 60_000,
            service_time_ms: None,
            id: "",
            authority: "",
            upstream: ("10.112.7.7", 3306),
            cluster: "outbound|3306||mysql.default.svc.cluster.local",
        },
    ]
}

fn common(request: &Request) -> AccessLogCommon {
    let nanos = (request.at_ms % 1000) as i32 * 1_000_000;
    AccessLogCommon {
        start_time: Some(protobuf::Timestamp { seconds: START_S + request.at_ms / 1000, nanos }),
        duration: Some(protobuf::Duration {
            seconds: request.duration_ms / 1000,
            nanos: (request.duration_ms % 1000) as i32 * 1_000_000 + 400_000,
        }),
        downstream_remote_address: socket("10.112.1.15", 36105),
        downstream_local_address: socket("10.116.2.9", 9080),
        upstream_remote_address: socket(request.upstream.0, request.upstream.1),
        upstream_local_address: socket("10.112.1.15", 55834),
        upstream_cluster: request.cluster.to_owned(),
        response_flags: Some(request.flags),
        route_name: if request.http.is_some() { "default".to_owned() } else { String::new() },
        ..Default::default()
    }
}

fn http_entry(request: &Request) -> HttpAccessLogEntry {
    let (method, path, version) = request.http.expect("an HTTP request");
    let response_headers = request
        .service_time_ms
        .map(|ms| ("x-envoy-upstream-service-time".to_owned(), ms.to_string()))
        .into_iter()
        .collect();
    HttpAccessLogEntry {
        common_properties: Some(common(request)),
        protocol_version: version as i32,
        request: Some(HttpRequestProperties {
            request_method: method as i32,
            path: path.to_owned(),
            user_agent: "python-requests/2.31.0".to_owned(),
            request_id: request.id.to_owned(),
            authority: request.authority.to_owned(),
            request_body_bytes: request.bytes.0,
            ..Default::default()
        }),
        response: Some(HttpResponseProperties {
            response_code: Some(UInt32Value { value: request.code }),
            response_code_details: request.details.to_owned(),
            response_body_bytes: request.bytes.1,
            response_headers,
            ..Default::default()
        }),
    }
}

fn tcp_entry(request: &Request) -> TcpAccessLogEntry {
    let (received_bytes, sent_bytes) = request.bytes;
    TcpAccessLogEntry {
        common_properties: Some(common(request)),
        connection_properties: Some(ConnectionProperties { received_bytes, sent_bytes }),
    }
}

/// The line Envoy prints for `request` in Istio's default format.
fn istio_line(request: &Request) -> String {
    let dash = |text: &str| if text.is_empty() { "-".to_owned() } else { text.to_owned() };
    let (method, path, protocol) = match request.http {
        Some((method, path, version)) => {
            let protocol = if version == HttpVersion::Http2 { "HTTP/2" } else { "HTTP/1.1" };
            (method.as_str_name(), path, protocol)
        }
        None => ("-", "-", "-"),
    };
    let mut flags = Vec::new();
    if request.flags.upstream_connection_failure {
        flags.push("UF");
    }
    if request.flags.upstream_retry_limit_exceeded {
        flags.push("URX");
    }
    let time = format!("2026-11-01T10:00:{:02}.{:03}Z", request.at_ms / 1000, request.at_ms % 1000);
    let service_time = request.service_time_ms.map_or("-".to_owned(), |ms| ms.to_string());
    let user_agent = if request.http.is_some() { "python-requests/2.31.0" } else { "-" };
    format!(
        "[{time}] \"{method} {path} {protocol}\" {code} {flags} {details} - \"-\" {received} \
         {sent} {duration} {service_time} \"-\" \"{user_agent}\" \"{id}\" \"{authority}\" \
         \"{host}:{port}\" {cluster} 10.112.1.15:55834 10.116.2.9:9080 10.112.1.15:36105 - \
         {route}",
        code = request.code,
        flags = dash(&flags.join(",")),
        details = dash(request.details),
        received = request.bytes.0,
        sent = request.bytes.1,
        duration = request.duration_ms,
        id = dash(request.id),
        authority = dash(request.authority),
        host = request.upstream.0,
        port = request.upstream.1,
        cluster = request.cluster,
        route = if request.http.is_some() { "default" } else { "-" },
    )
}

/// The first message names the sidecar (Istio's node id and `CLUSTER_ID`).
fn identifier() -> Identifier {
    let cluster_id = Value { kind: Some(Kind::StringValue("cluster1".to_owned())) };
    Identifier {
        node: Some(Node {
            id: "sidecar~10.112.1.15~productpage-v1-6b7f.default~default.svc.cluster.local"
                .to_owned(),
            cluster: "productpage.default".to_owned(),
            metadata: Some(Struct { fields: [("CLUSTER_ID".to_owned(), cluster_id)].into() }),
            ..Default::default()
        }),
        log_name: "envoy_als".to_owned(),
    }
}

/// The stream's two messages: HTTP entries after the identifier, then TCP ones.
fn messages(requests: &[Request]) -> Vec<StreamAccessLogsMessage> {
    let http: Vec<_> = requests.iter().filter(|r| r.http.is_some()).map(http_entry).collect();
    let tcp: Vec<_> = requests.iter().filter(|r| r.http.is_none()).map(tcp_entry).collect();
    vec![
        StreamAccessLogsMessage {
            identifier: Some(identifier()),
            log_entries: Some(LogEntries::HttpLogs(HttpAccessLogEntries { log_entry: http })),
        },
        StreamAccessLogsMessage {
            identifier: None,
            log_entries: Some(LogEntries::TcpLogs(TcpAccessLogEntries { log_entry: tcp })),
        },
    ]
}

/// Streams `messages` and keeps the stream open, as Envoy does, until the server
/// ends it; what the call came back with.
async fn stream_and_hold(port: u16, messages: Vec<StreamAccessLogsMessage>) -> tonic::Code {
    let mut client = AccessLogServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("the gRPC listener answers");
    let (sender, receiver) = futures::channel::mpsc::unbounded();
    for message in messages {
        sender.unbounded_send(message).unwrap();
    }
    let answer = client.stream_access_logs(receiver).await;
    drop(sender);
    answer.map_or_else(|status| status.code(), |_| tonic::Code::Ok)
}

#[test]
fn streamed_entries_are_the_rows_of_a_text_ingest_of_envoys_lines() {
    let dir = scratch("als");
    let grpc_port = free_port();
    let (config, port) =
        write_config(&dir, &format!("otlp_grpc_listen = \"127.0.0.1:{grpc_port}\""), "");
    let server = Server::start(&config, port);
    let requests = requests();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let streaming = runtime.spawn(stream_and_hold(grpc_port, messages(&requests)));
    let stored = || server.query("SELECT count(*) AS n FROM requests")[0]["n"] == 4;
    wait_until(Duration::from_millis(100), stored, || "the entries are not stored".to_owned());
    let served = server.query(ROWS);
    let proxies = server.query("SELECT DISTINCT proxy, source_cluster FROM requests");
    // Stopping ends the open stream: no wait for the shutdown deadline (30 s).
    let stopping = Instant::now();
    assert!(server.stop().success());
    assert!(stopping.elapsed() < Duration::from_secs(20), "{:?}", stopping.elapsed());
    assert_eq!(runtime.block_on(streaming).unwrap(), tonic::Code::Ok);
    assert_eq!(
        proxies,
        [json!({ "proxy": "productpage-v1-6b7f.default", "source_cluster": "cluster1" })]
    );

    let lines: Vec<String> = requests.iter().map(istio_line).collect();
    let file = dir.join("envoy.log");
    std::fs::write(&file, format!("{}\n", lines.join("\n"))).unwrap();
    let text = dir.join("text-ingest");
    let (config, text) = (config.to_str().unwrap(), text.to_str().unwrap());
    let args = ["ingest", "--config", config, "--data-dir", text, "--source-cluster", "cluster1"];
    meshlog_ok(&[&args[..], &["--quiet", file.to_str().unwrap()]].concat());
    let ingested = query_json(Path::new(text), ROWS);
    assert_eq!(ingested.len(), 4, "the lines parse: {lines:#?}");
    assert_eq!(served, ingested, "ALS rows differ from a text ingest of Envoy's lines");
    let gateway = served.iter().filter(|row| row["dst_cluster"] == "cluster2").count();
    assert_eq!(gateway, 2, "the requests through cluster2's gateway: {served:#?}");
}
