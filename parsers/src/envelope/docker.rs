//! JSON records around a line. Docker json-file records: `{"log":"…\n","stream":"stdout",
//! "time":"…"}` per line, as Docker's default logging driver writes them (shippers'
//! copies may say `message`, not `log`). Docker's copier reads a container's output into
//! a 16 KiB buffer: a line that fills it is written as a record of exactly 16 KiB with
//! no `\n` (a piece, joined by the decoder up to the record ending in `\n`), while a
//! shorter record without `\n` is a whole line (output cut by the container's exit, or a
//! shipper's copy, which never keeps the `\n`). And stern's `--output json` records
//! (`{"message":…,"podName":…,"containerName":…}`; `extjson`'s `pod`, `container`), which
//! name the proxy. A JSON access log is neither: it needs a string `log` or `message`
//! and a `stream` and `time`, or a pod and container.

use std::borrow::Cow;

use serde::Deserialize;

use super::timestamp::parse_time;
use super::{Envelopes, RuntimeEnvelope, Stream, strip_suffix};

/// The size of the buffer Docker's log copier splits long lines at
/// (`daemon/logger/copier.go`, `defaultBufSize`). A piece is never shorter; escapes of
/// invalid UTF-8 can make its decoded text longer.
pub(super) const SPLIT_BYTES: usize = 16 * 1024;

/// A JSON record, as far as this file cares. Unknown keys (`attrs`, `labels`) are
/// ignored; a key of the wrong type makes the line not a record.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonRecord<'a> {
    #[serde(borrow)]
    log: Option<JsonStr<'a>>,
    #[serde(borrow)]
    message: Option<JsonStr<'a>>,
    #[serde(borrow)]
    stream: Option<JsonStr<'a>>,
    #[serde(borrow)]
    time: Option<JsonStr<'a>>,
    #[serde(borrow)]
    timestamp: Option<JsonStr<'a>>,
    #[serde(borrow, alias = "pod")]
    pod_name: Option<JsonStr<'a>>,
    #[serde(borrow, alias = "container")]
    container_name: Option<JsonStr<'a>>,
}

/// A JSON string, borrowed when it has no escapes. (A bare `Option<Cow<str>>` field
/// would always be owned.)
#[derive(Deserialize)]
struct JsonStr<'a>(#[serde(borrow)] Cow<'a, str>);

/// Reads a Docker json-file or stern JSON record. Anything else, such as a JSON access
/// log, is not one.
pub(super) fn json_record(body: &[u8]) -> Option<RuntimeEnvelope<'_>> {
    if body.first() != Some(&b'{') || !mentions_line_key(body) {
        return None;
    }
    let record: JsonRecord<'_> = serde_json::from_slice(body).ok()?;
    match (record.pod_name.is_some(), record.container_name.is_some()) {
        (true, true) => stern_record(record),
        _ => docker_record(record),
    }
}

/// json-file always writes all three keys; a JSON access log with a `message` and a
/// `time` key is no Docker record.
fn docker_record(record: JsonRecord<'_>) -> Option<RuntimeEnvelope<'_>> {
    let (Some(stream), Some(time)) = (record.stream, record.time) else { return None };
    let split_by_docker = record.log.is_some();
    let mut line = str_to_bytes(record.log.or(record.message)?.0);
    let ended = strip_suffix(&mut line, b"\n");
    let partial = split_by_docker && !ended && line.len() >= SPLIT_BYTES;
    if !partial {
        // A piece's `\r` is the line's text; the join strips the joined line's.
        strip_suffix(&mut line, b"\r");
    }
    let mut envelope = RuntimeEnvelope::around(Envelopes::DOCKER, line);
    envelope.partial = partial;
    envelope.time = parse_time(time.0.as_bytes());
    envelope.stream = Stream::from_word(stream.0.as_bytes());
    Some(envelope)
}

/// A stern `--output json` (or `extjson`) record: its message names no stream.
fn stern_record(record: JsonRecord<'_>) -> Option<RuntimeEnvelope<'_>> {
    let mut line = str_to_bytes(record.message?.0);
    strip_suffix(&mut line, b"\n");
    strip_suffix(&mut line, b"\r");
    let mut envelope = RuntimeEnvelope::around(Envelopes::STERN, line);
    envelope.time = record.timestamp.and_then(|time| parse_time(time.0.as_bytes()));
    envelope.pod = record.pod_name.map(|pod| pod.0);
    envelope.container = record.container_name.map(|container| container.0);
    Some(envelope)
}

/// A cheap test that saves a full JSON parse of lines that cannot be records.
fn mentions_line_key(body: &[u8]) -> bool {
    memchr::memmem::find(body, b"\"log\"").is_some()
        || memchr::memmem::find(body, b"\"message\"").is_some()
}

fn str_to_bytes(text: Cow<'_, str>) -> Cow<'_, [u8]> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
        Cow::Owned(text) => Cow::Owned(text.into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::tests::{ENVOY_LINE, POD, assert_untouched, time};
    use crate::envelope::unwrap;

    #[test]
    fn docker_record_unwraps_escaped_line() {
        let raw = serde_json::json!({
            "log": format!("{ENVOY_LINE}\n"),
            "stream": "stdout",
            "time": "2019-01-01T11:11:11.111111111Z",
        })
        .to_string();
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes());
        assert_eq!(unwrapped.stream, Some(Stream::Stdout));
        assert_eq!(unwrapped.time, time("2019-01-01T11:11:11.111111111Z"));
        assert_eq!(unwrapped.envelopes, Envelopes::DOCKER);
        assert!(!unwrapped.partial);
    }

    #[test]
    fn docker_record_without_escapes_is_borrowed() {
        let raw = br#"{"time":"2019-01-01T11:11:11.111111111Z","stream":"stderr","log":"hello"}"#;
        let unwrapped = unwrap(raw);
        assert_eq!(&*unwrapped.line, b"hello");
        assert!(matches!(unwrapped.line, Cow::Borrowed(_)), "{unwrapped:?}");
        assert_eq!(unwrapped.stream, Some(Stream::Stderr));
    }

    #[test]
    fn docker_message_variant_and_extra_keys() {
        let raw = br#"{"message":"ACCESS [x] \"GET\"\r\n","attrs":{"tag":"envoy"},"stream":"stdout","time":"2019-01-01T11:11:11Z"}"#;
        let unwrapped = unwrap(raw);
        assert_eq!(&*unwrapped.line, br#"[x] "GET""#);
        assert_eq!(unwrapped.envelopes, Envelopes::DOCKER | Envelopes::ACCESS);
        assert_eq!(unwrapped.stream, Some(Stream::Stdout));
    }

    /// Docker splits only at its 16 KiB buffer: a shorter record without `\n` (output
    /// cut by the container's exit) and a shipper's `message` copy are whole lines.
    #[test]
    fn records_without_newline_are_whole_lines_below_docker_split_size() {
        let short = unwrap(
            br#"{"log":"[2022-11-09T00:00:50.336Z] \"GE\r","stream":"stdout","time":"2019-01-01T11:11:11Z"}"#,
        );
        assert_eq!(&*short.line, br#"[2022-11-09T00:00:50.336Z] "GE"#);
        assert!(!short.partial);
        let long = "a".repeat(SPLIT_BYTES);
        let message =
            format!(r#"{{"message":"{long}","stream":"stdout","time":"2019-01-01T11:11:11Z"}}"#);
        assert!(!unwrap(message.as_bytes()).partial);
        let split =
            format!(r#"{{"log":"{long}","stream":"stdout","time":"2019-01-01T11:11:11Z"}}"#);
        assert!(unwrap(split.as_bytes()).partial);
        let one_short = format!(
            r#"{{"log":"{}","stream":"stdout","time":"2019-01-01T11:11:11Z"}}"#,
            &long[1..]
        );
        assert!(!unwrap(one_short.as_bytes()).partial);
        let with_cr = format!(
            r#"{{"log":"{}\r","stream":"stdout","time":"2019-01-01T11:11:11Z"}}"#,
            &long[1..]
        );
        let piece = unwrap(with_cr.as_bytes());
        assert!(piece.partial && piece.line.ends_with(b"\r"), "a piece keeps its \\r");
    }

    #[test]
    fn stern_json_records_name_the_proxy() {
        let raw = format!(
            r#"{{"message":{},"nodeName":"gke-node-1","namespace":"istio-system","podName":"{POD}","containerName":"istio-proxy","labels":{{"app":"istio-ingressgateway"}},"annotations":null}}"#,
            serde_json::to_string(ENVOY_LINE).unwrap()
        );
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes());
        assert_eq!(unwrapped.proxy.as_deref(), Some(POD));
        assert_eq!(unwrapped.container.as_deref(), Some("istio-proxy"));
        assert_eq!(unwrapped.envelopes, Envelopes::STERN);
        let stamped = br#"{"message":"GET /\n","timestamp":"2022-11-09T09:00:50.418245811+09:00","podName":"p","containerName":"c"}"#;
        let unwrapped = unwrap(stamped);
        assert_eq!(
            (&*unwrapped.line, unwrapped.time),
            (&b"GET /"[..], time("2022-11-09T00:00:50.418245811Z"))
        );
        let extjson = br#"{"pod": "p", "container": "c", "message": "GET /"}"#;
        assert_eq!(unwrap(extjson).proxy.as_deref(), Some("p"));
    }

    #[test]
    fn a_record_without_stream_and_time_is_no_docker_record() {
        assert_untouched(br#"{"time":"2022-11-09T00:00:50.336Z","message":"/a","code":"200"}"#);
        assert_untouched(br#"{"log":"x\n","stream":"stdout"}"#);
    }

    #[test]
    fn json_access_logs_pass_through_untouched() {
        for raw in [
            r#"{"start_time":"2022-11-09T00:00:50.336Z","method":"GET","response_code":200}"#,
            r#"{"log":"not docker: no stream or time key\n"}"#,
            r#"{"log":42,"stream":"stdout"}"#,
            r#"{"log":"x\n","stream":"stdout","time":7}"#,
            r#"{"log":"x\n","log":"y\n","stream":"stdout"}"#,
            r#"{"log":"truncated"#,
            r#"{"message":"x","stream":"stdout"} trailing"#,
            r#"["log","stream"]"#,
        ] {
            assert_untouched(raw.as_bytes());
        }
    }
}
