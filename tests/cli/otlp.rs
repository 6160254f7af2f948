//! OTLP logs end to end, over HTTP (`POST /v1/logs`) and gRPC (`LogsService/Export`):
//! the official OpenTelemetry Python SDK and exporters send lines as Envoy's
//! OpenTelemetry access logger does under Istio's `envoyOtelAls`
//! (tests/scripts/otlp_send.py), and the rows equal a text ingest of the same
//! lines; OTLP/JSON, partial success for lines that are not access logs, the
//! reporting cluster from a resource attribute, tokens, and the answers to what is
//! not OTLP (grpcio calls in tests/scripts/otlp_grpc_probe.py).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use super::serve_support::{Server, free_port, line, write_config};
use super::support::{meshlog_ok, query_json, scratch};

/// The columns compared between an OTLP and a text ingest of the same lines.
const ROWS: &str = "SELECT request_id, source_cluster, service, upstream_host, locality, \
    response_code, duration_ms, CAST(ts AS VARCHAR) AS ts FROM requests ORDER BY request_id";

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts").join(name)
}

/// Sends the lines of `lines` with the Python exporter of `protocol` (`http` or
/// `grpc`); the number sent.
fn send_with_python(
    protocol: &str,
    endpoint: &str,
    lines: &Path,
    resource_cluster: Option<&str>,
) -> String {
    let mut command = Command::new("timeout");
    command.args(["120", "python3"]).arg(script("otlp_send.py")).args([protocol, endpoint]);
    command.arg(lines).args(resource_cluster);
    let output = command.output().expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "otlp_send.py failed: {stderr}");
    assert!(!stderr.contains("Failed to export"), "the exporter was refused: {stderr}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn the_python_http_exporters_records_are_the_rows_of_a_text_ingest_of_their_lines() {
    exported_rows_are_those_of_a_text_ingest("http");
}

#[test]
fn the_python_grpc_exporters_records_are_the_rows_of_a_text_ingest_of_their_lines() {
    exported_rows_are_those_of_a_text_ingest("grpc");
}

fn exported_rows_are_those_of_a_text_ingest(protocol: &str) {
    let dir = scratch(&format!("otlp-python-{protocol}"));
    let grpc_port = free_port();
    let server_keys = format!(
        "otlp_cluster_attribute = \"cluster\"\notlp_grpc_listen = \"127.0.0.1:{grpc_port}\""
    );
    let (config, port) = write_config(&dir, &server_keys, "");
    let server = Server::start(&config, port);
    let lines: Vec<String> = (0..240).map(|index| line(&format!("otlp-{index:03}"))).collect();
    let file = dir.join("lines.log");
    std::fs::write(&file, format!("{}\n", lines.join("\n"))).unwrap();
    let endpoint = match protocol {
        "http" => format!("http://127.0.0.1:{port}/v1/logs"),
        _ => format!("127.0.0.1:{grpc_port}"),
    };
    assert_eq!(send_with_python(protocol, &endpoint, &file, None), "240");
    let served = server.query(ROWS);
    assert!(server.stop().success());

    let text = dir.join("text-ingest");
    let (config, text) = (config.to_str().unwrap(), text.to_str().unwrap());
    let file = file.to_str().unwrap();
    meshlog_ok(&[
        "ingest",
        "--config",
        config,
        "--data-dir",
        text,
        "--source-cluster",
        "cluster1",
        "--quiet",
        file,
    ]);
    let ingested = query_json(Path::new(text), ROWS);
    assert_eq!(served.len(), 240);
    assert_eq!(served, ingested, "OTLP rows differ from a text ingest of the same lines");
}

#[test]
fn a_resource_attribute_names_the_cluster_and_otlp_json_gets_partial_success() {
    let dir = scratch("otlp-json");
    let (config, port) = write_config(&dir, "", "");
    let server = Server::start(&config, port);
    // The exporter's resource carries k8s.cluster.name; the labels' `cluster` is not
    // looked at without `otlp_cluster_attribute`.
    let file = dir.join("lines.log");
    std::fs::write(&file, format!("{}\n{}\n", line("res-1"), line("res-2"))).unwrap();
    let url = format!("http://127.0.0.1:{port}/v1/logs");
    assert_eq!(send_with_python("http", &url, &file, Some("cluster2")), "2");

    // OTLP/JSON as the spec writes it, one record that is no access log.
    let record = |body: &str| {
        serde_json::json!({ "timeUnixNano": "1686733923117000000",
        "body": { "stringValue": body } })
    };
    let request = serde_json::json!({ "resourceLogs": [{
        "resource": { "attributes": [{ "key": "k8s.cluster.name", "value": { "stringValue": "cluster1" } }] },
        "scopeLogs": [{ "logRecords": [record(&line("json-1")), record("not an access log")] }]
    }] });
    let headers = [("Content-Type", "application/json")];
    let answer = server.request("POST", "/v1/logs", &headers, request.to_string().as_bytes());
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.headers.contains("content-type: application/json"), "{answer:?}");
    let partial = &answer.json()["partialSuccess"];
    assert_eq!(partial["rejectedLogRecords"].to_string().trim_matches('"'), "1", "{answer:?}");

    let rows = server.query("SELECT request_id, source_cluster FROM requests ORDER BY request_id");
    let expected = serde_json::json!([
        { "request_id": "json-1", "source_cluster": "cluster1" },
        { "request_id": "res-1", "source_cluster": "cluster2" },
        { "request_id": "res-2", "source_cluster": "cluster2" },
    ]);
    assert_eq!(serde_json::Value::Array(rows), expected);
    let rejects = server.query("SELECT count(*) AS n FROM rejects");
    assert_eq!(rejects, [serde_json::json!({ "n": 1 })]);

    // What is not OTLP: another content type, a body that does not decode.
    let text = server.request("POST", "/v1/logs", &[("Content-Type", "text/plain")], b"x\n");
    assert_eq!(text.status, 415, "{text:?}");
    assert!(text.body.contains("application/x-protobuf"), "{text:?}");
    let headers = [("Content-Type", "application/x-protobuf")];
    let garbage = server.request("POST", "/v1/logs", &headers, b"\xff\xff\xff\xff");
    assert_eq!(garbage.status, 400, "{garbage:?}");
    assert!(garbage.headers.contains("content-type: application/x-protobuf"), "{garbage:?}");
    assert!(server.stop().success());
}

/// One `Export` call by grpcio; what came back.
fn probe(target: &str, resource_cluster: &str, lines: &[String], env: &[(&str, &str)]) -> Value {
    let mut command = Command::new("timeout");
    command.args(["60", "python3"]).arg(script("otlp_grpc_probe.py"));
    command.args([target, resource_cluster]).args(lines).envs(env.iter().copied());
    let output = command.output().expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "otlp_grpc_probe.py failed: {stderr}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn grpc_export_checks_tokens_and_clusters_and_counts_rejects_as_partial_success() {
    let dir = scratch("otlp-grpc");
    let grpc_port = free_port();
    let keys = format!("tokens = [\"t0ken\"]\notlp_grpc_listen = \"127.0.0.1:{grpc_port}\"");
    let (config, port) = write_config(&dir, &keys, "");
    let server = Server::start(&config, port);
    let target = format!("127.0.0.1:{grpc_port}");
    let token = [("MESHLOG_TOKEN", "t0ken")];

    let sent = [line("grpc-1"), "not an access log".to_owned()];
    let anonymous = probe(&target, "cluster2", &sent, &[]);
    assert_eq!(anonymous["code"], "UNAUTHENTICATED", "{anonymous}");
    let wrong = probe(&target, "cluster2", &sent, &[("MESHLOG_TOKEN", "t0ke")]);
    assert_eq!(wrong["code"], "UNAUTHENTICATED", "{wrong}");
    let stored = probe(&target, "cluster2", &sent, &token);
    assert_eq!(stored["code"], "OK", "{stored}");
    assert_eq!(stored["rejected"], 1, "{stored}");
    assert!(stored["message"].as_str().unwrap().contains("rejects"), "{stored}");

    // The metadata names the cluster of every record, over the resource's.
    let metadata = [token[0], ("MESHLOG_SOURCE_CLUSTER", "cluster1")];
    let named = probe(&target, "cluster2", &[line("grpc-2")], &metadata);
    assert_eq!(named, json!({ "code": "OK", "rejected": 0, "message": "" }));
    let unknown = [token[0], ("MESHLOG_SOURCE_CLUSTER", "cluster9")];
    let refused = probe(&target, "-", &[line("grpc-3")], &unknown);
    assert_eq!(refused["code"], "INVALID_ARGUMENT", "{refused}");
    assert!(refused["details"].as_str().unwrap().contains("cluster9"), "{refused}");

    let sql = json!({ "sql": "SELECT request_id, source_cluster FROM requests ORDER BY 1" });
    let headers = [("Authorization", "Bearer t0ken")];
    let answer = server.request("POST", "/api/v1/query", &headers, sql.to_string().as_bytes());
    assert_eq!(answer.status, 200, "{answer:?}");
    let expected = json!([
        { "request_id": "grpc-1", "source_cluster": "cluster2" },
        { "request_id": "grpc-2", "source_cluster": "cluster1" },
    ]);
    assert_eq!(answer.json(), expected);
    let metrics = server.request("GET", "/metrics", &headers, b"");
    let export = "route=\"/opentelemetry.proto.collector.logs.v1.LogsService/Export\"";
    let counted: Vec<&str> = metrics.body.lines().filter(|line| line.contains(export)).collect();
    assert!(
        counted.iter().any(|line| line.contains("code=\"401\"") && line.ends_with(" 2")),
        "{counted:?}"
    );
    assert!(
        counted.iter().any(|line| line.contains("code=\"400\"") && line.ends_with(" 1")),
        "{counted:?}"
    );
    assert!(server.stop().success());
}
