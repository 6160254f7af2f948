//! Golden tests: every file under `samples/` read with its preset (or `auto`, or its
//! own format string) through the same [`LogStream`] the CLI uses, one snapshot per
//! file. Each line appears as its record (column → value, plus `format`) or as its
//! reject (`reason`, `error`), so a change in how any line reads shows up in review.

use std::path::{Path, PathBuf};

use meshlog_parsers::LineParser;
use meshlog_parsers::envelope::{LinePosition, Span};
use meshlog_parsers::stream::LogStream;
use serde_json::{Value, json};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples")
}

/// Reads `file` (relative to `samples/`) with `spec` and returns one value per line.
fn read_sample(file: &str, spec: &str) -> Vec<Value> {
    let bytes = std::fs::read(samples().join(file)).expect("sample exists");
    let parser = LineParser::new(spec).expect("spec compiles");
    let mut stream = LogStream::new(parser);
    let mut out = Vec::new();
    let lines = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let mut offset = 0;
    for (number, raw) in (1..).zip(lines.split(|byte| *byte == b'\n')) {
        if let Some((span, outcome)) = stream.read(raw, LinePosition::new(number, offset)) {
            out.push(describe(span, outcome));
        }
        while let Some((span, outcome)) = stream.flushed() {
            out.push(describe(span, outcome));
        }
        offset += raw.len() as u64 + 1;
    }
    while let Some((span, outcome)) = stream.finish() {
        out.push(describe(span, outcome));
    }
    out
}

/// A line's record or reject, with its line number (and the lines it covers, when a
/// runtime split it).
fn describe(span: Span, outcome: meshlog_parsers::stream::Outcome<'_>) -> Value {
    let mut value = match outcome {
        Ok(parsed) => {
            let mut value = serde_json::to_value(&parsed.record).expect("serialises");
            strip_nulls(&mut value);
            value["format"] = json!(parsed.format);
            value
        }
        Err(meshlog_parsers::stream::Rejected { error, .. }) => json!({
            "reason": error.code(),
            "error": error.to_string(),
        }),
    };
    value["line"] = json!(span.first.line);
    if span.lines > 1 {
        value["lines"] = json!(span.lines);
    }
    value
}

/// Snapshots list only the columns a line has, and the start of a very long value
/// (a split line's path), so they stay readable.
fn strip_nulls(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, value| !value.is_null() && value != &json!([]));
        for value in map.values_mut() {
            if let Some(text) = value.as_str().filter(|text| text.len() > LONG_VALUE) {
                let head: String = text.chars().take(LONG_VALUE_HEAD).collect();
                *value = json!(format!("{head}… ({} bytes)", text.len()));
            }
        }
    }
}

/// Values longer than this many bytes are cut to their first `LONG_VALUE_HEAD` characters.
const LONG_VALUE: usize = 1000;
const LONG_VALUE_HEAD: usize = 120;

macro_rules! golden {
    ($name:ident, $file:expr, $spec:expr) => {
        #[test]
        fn $name() {
            insta::assert_yaml_snapshot!(read_sample($file, $spec));
        }
    };
}

golden!(istio_1_23, "access-logs/istio-1.23.log", "istio-1.23");
golden!(istio_1_9, "access-logs/istio-1.9.log", "istio-1.9");
golden!(istio_1_8, "access-logs/istio-1.8.log", "istio-1.8");
golden!(istio_1_3, "access-logs/istio-1.3.log", "istio-1.3");
golden!(istio_1_2, "access-logs/istio-1.2.log", "istio-1.2");
golden!(istio_1_1, "access-logs/istio-1.1.log", "istio-1.1");
golden!(istio_1_0, "access-logs/istio-1.0.log", "istio-1.0");
golden!(envoy_default, "access-logs/envoy.log", "envoy");
golden!(istio_json_1_5_string_values, "access-logs/istio-json-1.5.log", "istio-json");
golden!(istio_json_1_12_typed_values, "access-logs/istio-json-1.12.log", "istio-json");
golden!(istio_json_1_23_trailing_semicolon, "access-logs/istio-json-1.23.log", "istio-json");
golden!(envoy_gateway, "access-logs/envoy-gateway.log", "envoy-gateway");
golden!(hard_cases, "access-logs/hard-cases.log", "istio");
golden!(crlf_line_endings, "access-logs/crlf.log", "istio");
golden!(invalid_utf8_is_replaced, "access-logs/invalid-utf8.log", "istio");
golden!(malformed_lines_are_rejected_with_reasons, "access-logs/malformed.log", "auto");
golden!(long_line_is_rejected, "access-logs/long-line.log", "istio");
golden!(auto_on_a_mixed_file, "access-logs/mixed.log", "auto");
golden!(envelope_cri, "envelopes/cri.log", "auto");
golden!(envelope_docker_json, "envelopes/docker.json.log", "auto");
golden!(envelope_kubectl_prefix_timestamps, "envelopes/kubectl-prefix-timestamps.log", "auto");
golden!(envelope_kubectl_timestamps_crlf, "envelopes/kubectl-timestamps-crlf.log", "auto");
golden!(envelope_ambassador_access_prefix, "envelopes/ambassador.log", "auto");
golden!(envelope_stern, "envelopes/stern.log", "auto");
golden!(envelope_stern_color_timestamps, "envelopes/stern-color-timestamps.log", "auto");
golden!(envelope_kubetail_colored, "envelopes/kubetail.log", "auto");

#[test]
fn custom_format_string() {
    let format = std::fs::read_to_string(samples().join("access-logs/custom.format")).unwrap();
    insta::assert_yaml_snapshot!(read_sample("access-logs/custom.log", &format));
}

/// An operator's own `json_format`: a key whose value is an operator with text
/// around it (`"%DURATION%ms"`, `"%REQ(:METHOD)% %REQ(:PATH)%"`), a constant, a key
/// the format does not name (kept as an extra), and a refused value.
#[test]
fn custom_json_format() {
    let format = std::fs::read_to_string(samples().join("access-logs/custom-json.format")).unwrap();
    insta::assert_yaml_snapshot!(read_sample("access-logs/custom-json.log", &format));
}

#[test]
fn auto_reads_every_preset_sample_like_its_preset() {
    let cases = [
        ("access-logs/istio-1.23.log", "istio-1.23"),
        ("access-logs/istio-1.8.log", "istio-1.8"),
        ("access-logs/istio-1.3.log", "istio-1.3"),
        ("access-logs/istio-1.2.log", "istio-1.2"),
        ("access-logs/istio-1.1.log", "istio-1.1"),
        ("access-logs/istio-1.0.log", "istio-1.0"),
        ("access-logs/envoy.log", "envoy"),
        ("access-logs/istio-json-1.12.log", "istio-json"),
        ("access-logs/envoy-gateway.log", "envoy-gateway"),
        ("access-logs/hard-cases.log", "istio"),
    ];
    for (file, preset) in cases {
        let without_format = |mut value: Value| {
            value.as_object_mut().unwrap().remove("format");
            value
        };
        let auto: Vec<Value> = read_sample(file, "auto").into_iter().map(without_format).collect();
        let fixed: Vec<Value> = read_sample(file, preset).into_iter().map(without_format).collect();
        assert_eq!(auto, fixed, "{file}: auto reads differently from {preset}");
    }
}
