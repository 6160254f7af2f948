//! OTLP requests shaped as Envoy's OpenTelemetry access logger sends them under
//! Istio's `envoyOtelAls` (a text body ending in a newline, the provider's labels
//! as string attributes, no resource attributes), and as other exporters do.

use opentelemetry_proto::tonic::common::v1::KeyValueList;
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::*;

/// A line in Istio's default access-log format, as Envoy formats it.
const ISTIO_LINE: &str = "[2026-11-01T10:00:00.123Z] \"GET /productpage HTTP/1.1\" 503 UH \
    no_healthy_upstream - \"-\" 0 19 0 - \"-\" \"curl/8.5.0\" \"4d5c3b1a-aaaa-bbbb-cccc-000000000001\" \
    \"productpage:9080\" \"-\" outbound|9080||productpage.default.svc.cluster.local - \
    10.96.1.7:9080 10.244.0.12:45678 - default";

fn text(value: &str) -> Option<AnyValue> {
    Some(AnyValue { value: Some(Value::StringValue(value.to_owned())) })
}

fn attribute(key: &str, value: &str) -> KeyValue {
    KeyValue { key: key.to_owned(), value: text(value), ..Default::default() }
}

fn log(body: Option<AnyValue>, attributes: Vec<KeyValue>) -> LogRecord {
    LogRecord { body, attributes, time_unix_nano: 1_793_527_200_123_000_000, ..Default::default() }
}

fn request(resource: Vec<KeyValue>, logs: Vec<LogRecord>) -> ExportLogsServiceRequest {
    let resource = Some(Resource { attributes: resource, ..Default::default() });
    let scope_logs = vec![ScopeLogs { log_records: logs, ..Default::default() }];
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs { resource, scope_logs, ..Default::default() }],
    }
}

fn lines(records: &[Record<'_>]) -> Vec<String> {
    records.iter().map(|record| String::from_utf8_lossy(&record.line).into_owned()).collect()
}

#[test]
fn istios_text_body_is_the_line_and_its_cluster_label_the_reporting_cluster() {
    let labels = vec![attribute("cluster", "cluster1"), attribute("pod", "productpage-v1-abc")];
    let sent = request(Vec::new(), vec![log(text(&format!("{ISTIO_LINE}\n")), labels)]);
    let records = records(&sent, Some("cluster"));
    assert_eq!(lines(&records), [ISTIO_LINE]);
    assert_eq!(records[0].source_cluster.as_deref(), Some("cluster1"));
    // Without the setting, only `k8s.cluster.name` names a cluster.
    assert_eq!(super::records(&sent, None)[0].source_cluster, None);
}

#[test]
fn the_configured_attribute_comes_before_k8s_cluster_name_and_the_resource_before_the_record() {
    let resource = vec![attribute(K8S_CLUSTER_ATTRIBUTE, "from-resource")];
    let logs = vec![
        log(text("a"), vec![attribute("mesh.cluster", "configured")]),
        log(text("b"), vec![attribute(K8S_CLUSTER_ATTRIBUTE, "from-record")]),
    ];
    let sent = request(resource, logs);
    let clusters: Vec<_> = records(&sent, Some("mesh.cluster"))
        .into_iter()
        .map(|record| record.source_cluster)
        .collect();
    assert_eq!(clusters, [Some("configured".to_owned()), Some("from-resource".to_owned())]);
    let bare =
        request(Vec::new(), vec![log(text("c"), vec![attribute(K8S_CLUSTER_ATTRIBUTE, " ")])]);
    assert_eq!(records(&bare, None)[0].source_cluster, None, "a blank name is no name");
}

#[test]
fn envoys_built_in_cluster_name_label_comes_last() {
    let built_in = vec![attribute(ENVOY_CLUSTER_ATTRIBUTE, "cluster2")];
    let plain = request(built_in.clone(), vec![log(text("a"), Vec::new())]);
    assert_eq!(records(&plain, None)[0].source_cluster.as_deref(), Some("cluster2"));
    let labelled = request(built_in, vec![log(text("b"), vec![attribute("cluster", "cluster1")])]);
    assert_eq!(records(&labelled, Some("cluster"))[0].source_cluster.as_deref(), Some("cluster1"));
}

#[test]
fn a_key_value_body_is_a_json_entry_completed_by_the_attributes() {
    let fields = vec![
        attribute("upstream_host", "10.0.0.5:8080"),
        KeyValue {
            key: "response_code".to_owned(),
            value: Some(AnyValue { value: Some(Value::IntValue(503)) }),
            ..Default::default()
        },
    ];
    let body = Some(AnyValue { value: Some(Value::KvlistValue(KeyValueList { values: fields })) });
    let attributes = vec![attribute("upstream_host", "ignored"), attribute("response_flags", "UH")];
    let only_attributes = vec![attribute("response_code", "200")];
    let sent = request(Vec::new(), vec![log(body, attributes), log(None, only_attributes)]);
    let lines = lines(&records(&sent, None));
    let entry: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let expected = serde_json::json!({
        "upstream_host": "10.0.0.5:8080", "response_code": 503, "response_flags": "UH"
    });
    assert_eq!(entry, expected);
    assert_eq!(lines[1], r#"{"response_code":"200"}"#);
}

#[test]
fn protobuf_and_otlp_json_bodies_read_alike() {
    let sent = request(
        vec![attribute(K8S_CLUSTER_ATTRIBUTE, "cluster2")],
        vec![log(text(ISTIO_LINE), Vec::new())],
    );
    let protobuf = decode_request(OtlpEncoding::Protobuf, &sent.encode_to_vec()).unwrap();
    assert_eq!(protobuf, sent);
    // OTLP/JSON as the spec writes it: camelCase, 64-bit integers as strings.
    let json = format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"k8s.cluster.name",
        "value":{{"stringValue":"cluster2"}}}}]}},"scopeLogs":[{{"logRecords":[
        {{"timeUnixNano":"1793527200123000000","body":{{"stringValue":{line}}}}}]}}]}}]}}"#,
        line = serde_json::to_string(ISTIO_LINE).unwrap()
    );
    let from_json = decode_request(OtlpEncoding::Json, json.as_bytes()).unwrap();
    assert_eq!(from_json, sent);
    let error = decode_request(OtlpEncoding::Protobuf, b"\xff\xff\xff").unwrap_err();
    assert!(error.to_string().contains("not an OTLP ExportLogsServiceRequest"), "{error}");
}

#[test]
fn the_answer_counts_rejects_as_partial_success_in_the_requests_encoding() {
    let all = ExportLogsServiceResponse::decode(&response_body(OtlpEncoding::Protobuf, 0)[..]);
    assert_eq!(all.unwrap().partial_success, None);
    let some = ExportLogsServiceResponse::decode(&response_body(OtlpEncoding::Protobuf, 3)[..]);
    let partial = some.unwrap().partial_success.unwrap();
    assert_eq!(partial.rejected_log_records, 3);
    assert!(partial.error_message.contains("rejects table"), "{}", partial.error_message);
    let json: serde_json::Value =
        serde_json::from_slice(&response_body(OtlpEncoding::Json, 2)).unwrap();
    // opentelemetry-proto writes the int64 as a number, which OTLP/JSON readers take
    // as they take the string form.
    assert_eq!(json["partialSuccess"]["rejectedLogRecords"], serde_json::json!(2));
}

#[test]
fn only_otlps_two_content_types_are_read() {
    let of = OtlpEncoding::of_content_type;
    assert_eq!(of(Some("application/x-protobuf")), Some(OtlpEncoding::Protobuf));
    assert_eq!(of(Some("Application/JSON; charset=utf-8")), Some(OtlpEncoding::Json));
    assert_eq!(of(Some("text/plain")), None);
    assert_eq!(of(None), None);
}
