//! OTLP logs over HTTP (`POST /v1/logs`): what Envoy's OpenTelemetry access logger
//! (Istio's `envoyOtelAls` provider) and any OTLP exporter send, turned into the
//! sink's records. A request is an `ExportLogsServiceRequest`, protobuf or OTLP/JSON
//! (`opentelemetry-proto`'s types). Each log record is one access-log line:
//!
//! - a string body is the line, in any format meshlog reads (Istio's default text
//!   format ends with a newline, which is dropped);
//! - a key-value body is an Envoy JSON access-log entry: its keys, and those of the
//!   record's attributes that it lacks (Istio's `labels`, Envoy's `attributes`),
//!   become one JSON object line;
//! - no body: the attributes alone are that object.
//!
//! A record's reporting cluster is the attribute named by `[server]
//! otlp_cluster_attribute` (on the resource, else on the record), else the
//! resource's or record's `k8s.cluster.name`. The answer is an
//! `ExportLogsServiceResponse` in the request's encoding, with `partial_success`
//! counting the rejects; errors carry a `google.rpc.Status`.

use std::borrow::Cow;

use axum::http;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::Message;
use serde_json::{Map, Value as Json};

use super::body::{BodyError, Record};

/// The resource attribute OpenTelemetry's semantic conventions name the cluster by.
pub const K8S_CLUSTER_ATTRIBUTE: &str = "k8s.cluster.name";
/// Envoy's built-in resource label for its node's cluster (Istio turns the
/// built-in labels off).
pub const ENVOY_CLUSTER_ATTRIBUTE: &str = "cluster_name";

/// How an OTLP/HTTP request and its answer are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpEncoding {
    Protobuf,
    Json,
}

impl OtlpEncoding {
    /// The encoding a `Content-Type` names; `None` for anything but
    /// `application/x-protobuf` and `application/json`.
    pub fn of_content_type(content_type: Option<&str>) -> Option<OtlpEncoding> {
        let essence = content_type?.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/x-protobuf" => Some(OtlpEncoding::Protobuf),
            "application/json" => Some(OtlpEncoding::Json),
            _ => None,
        }
    }

    /// The `Content-Type` of an answer: the request's own.
    pub fn content_type(self) -> &'static str {
        match self {
            OtlpEncoding::Protobuf => "application/x-protobuf",
            OtlpEncoding::Json => "application/json",
        }
    }
}

/// Reads a (decompressed) request body.
pub fn decode_request(
    encoding: OtlpEncoding,
    body: &[u8],
) -> Result<ExportLogsServiceRequest, BodyError> {
    match encoding {
        OtlpEncoding::Protobuf => ExportLogsServiceRequest::decode(body)
            .map_err(|error| BodyError::Otlp(error.to_string())),
        OtlpEncoding::Json => serde_json::from_slice(body).map_err(BodyError::Json),
    }
}

/// One record per log record of `request`, in order; `cluster_attribute` names
/// the attribute that holds the reporting cluster, when configured.
pub fn records(
    request: &ExportLogsServiceRequest,
    cluster_attribute: Option<&str>,
) -> Vec<Record<'static>> {
    let names: Vec<&str> = cluster_attribute.into_iter().chain([K8S_CLUSTER_ATTRIBUTE]).collect();
    let mut records = Vec::new();
    for resource_logs in &request.resource_logs {
        let resource = resource_logs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        for scope_logs in &resource_logs.scope_logs {
            for log in &scope_logs.log_records {
                let source_cluster = names
                    .iter()
                    .find_map(|name| {
                        attribute_text(resource, name)
                            .or_else(|| attribute_text(&log.attributes, name))
                    })
                    .or_else(|| attribute_text(resource, ENVOY_CLUSTER_ATTRIBUTE));
                records.push(Record { line: Cow::Owned(line_of(log)), source_cluster });
            }
        }
    }
    records
}

/// The access-log line a log record carries.
fn line_of(log: &LogRecord) -> Vec<u8> {
    match log.body.as_ref().and_then(|body| body.value.as_ref()) {
        Some(Value::StringValue(text)) => text.trim_end_matches(['\n', '\r']).as_bytes().to_vec(),
        Some(Value::BytesValue(bytes)) => bytes.clone(),
        Some(Value::KvlistValue(list)) => object_line(&list.values, &log.attributes),
        _ => object_line(&[], &log.attributes),
    }
}

/// One JSON object of `fields`, then those `attributes` whose keys it lacks.
fn object_line(fields: &[KeyValue], attributes: &[KeyValue]) -> Vec<u8> {
    let mut object = Map::new();
    for field in fields.iter().chain(attributes) {
        if !object.contains_key(&field.key) {
            object.insert(field.key.clone(), json_of(field.value.as_ref()));
        }
    }
    Json::Object(object).to_string().into_bytes()
}

fn json_of(value: Option<&AnyValue>) -> Json {
    match value.and_then(|value| value.value.as_ref()) {
        Some(Value::StringValue(text)) => Json::String(text.clone()),
        Some(Value::BoolValue(flag)) => Json::Bool(*flag),
        Some(Value::IntValue(number)) => Json::from(*number),
        Some(Value::DoubleValue(number)) => {
            serde_json::Number::from_f64(*number).map_or(Json::Null, Json::Number)
        }
        Some(Value::ArrayValue(array)) => {
            Json::Array(array.values.iter().map(|value| json_of(Some(value))).collect())
        }
        Some(Value::KvlistValue(list)) => {
            let fields = list.values.iter();
            Json::Object(fields.map(|kv| (kv.key.clone(), json_of(kv.value.as_ref()))).collect())
        }
        Some(Value::BytesValue(bytes)) => Json::String(String::from_utf8_lossy(bytes).into_owned()),
        Some(Value::StringValueStrindex(_)) | None => Json::Null,
    }
}

/// The text of the string attribute `name`, when there is one and it is not empty.
fn attribute_text(attributes: &[KeyValue], name: &str) -> Option<String> {
    let found = attributes.iter().find(|attribute| attribute.key == name)?;
    match found.value.as_ref()?.value.as_ref()? {
        Value::StringValue(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        _ => None,
    }
}

/// The answer to a request whose lines are all stored, `rejected` of them as
/// rejects.
pub fn response(rejected: u64) -> ExportLogsServiceResponse {
    let partial_success = (rejected > 0).then(|| ExportLogsPartialSuccess {
        rejected_log_records: i64::try_from(rejected).unwrap_or(i64::MAX),
        error_message: format!(
            "{rejected} log record(s) are not access-log lines meshlog reads; they are \
             kept in the rejects table with the reason"
        ),
    });
    ExportLogsServiceResponse { partial_success }
}

/// [`response`], in `encoding`.
pub fn response_body(encoding: OtlpEncoding, rejected: u64) -> Vec<u8> {
    let response = response(rejected);
    match encoding {
        OtlpEncoding::Protobuf => response.encode_to_vec(),
        OtlpEncoding::Json => serde_json::to_vec(&response).unwrap_or_default(),
    }
}

/// gRPC's code for an answer with HTTP `status`, as OTLP maps them.
pub fn grpc_code(status: http::StatusCode) -> i32 {
    match status.as_u16() {
        400 | 415 => 3, // INVALID_ARGUMENT
        401 => 16,      // UNAUTHENTICATED
        413 => 8,       // RESOURCE_EXHAUSTED
        503 => 14,      // UNAVAILABLE
        _ => 13,        // INTERNAL
    }
}

/// `google.rpc.Status`, the body of an OTLP/HTTP error (its `details` left empty).
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The body of an error answer: `google.rpc.Status` with the gRPC `code` that
/// matches the HTTP status and `message`.
pub fn status_body(encoding: OtlpEncoding, code: i32, message: &str) -> Vec<u8> {
    match encoding {
        OtlpEncoding::Protobuf => RpcStatus { code, message: message.to_owned() }.encode_to_vec(),
        OtlpEncoding::Json => {
            serde_json::json!({ "code": code, "message": message }).to_string().into_bytes()
        }
    }
}

#[cfg(test)]
#[path = "otlp_tests.rs"]
mod tests;
