//! OTLP/HTTP logs (`POST /v1/logs`) end to end: the official OpenTelemetry Python
//! SDK and exporter send lines as Envoy's OpenTelemetry access logger does under
//! Istio's `envoyOtelAls` (tests/scripts/otlp_send.py), and the rows equal a text
//! ingest of the same lines; OTLP/JSON, partial success for lines that are not
//! access logs, the reporting cluster from a resource attribute, and the answers
//! to what is not OTLP.

use std::path::Path;
use std::process::Command;

use super::serve_support::{Server, line, write_config};
use super::support::{meshlog_ok, query_json, scratch};

/// The columns compared between an OTLP and a text ingest of the same lines.
const ROWS: &str = "SELECT request_id, source_cluster, service, upstream_host, locality, \
    response_code, duration_ms, CAST(ts AS VARCHAR) AS ts FROM requests ORDER BY request_id";

fn send_with_python(url: &str, lines: &Path, resource_cluster: Option<&str>) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/otlp_send.py");
    let mut command = Command::new("timeout");
    command.args(["120", "python3"]).arg(&script).arg(url).arg(lines).args(resource_cluster);
    let output = command.output().expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "otlp_send.py failed: {stderr}");
    assert!(!stderr.contains("Failed to export"), "the exporter was refused: {stderr}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn the_python_exporters_records_are_the_rows_of_a_text_ingest_of_their_lines() {
    let dir = scratch("otlp-python");
    let (config, port) = write_config(&dir, "otlp_cluster_attribute = \"cluster\"", "");
    let server = Server::start(&config, port);
    let lines: Vec<String> = (0..240).map(|index| line(&format!("otlp-{index:03}"))).collect();
    let file = dir.join("lines.log");
    std::fs::write(&file, format!("{}\n", lines.join("\n"))).unwrap();
    let url = format!("http://127.0.0.1:{port}/v1/logs");
    assert_eq!(send_with_python(&url, &file, None), "240");
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
    assert_eq!(send_with_python(&url, &file, Some("cluster2")), "2");

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
