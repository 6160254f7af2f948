//! Docker json-file records: `{"log":"…\n","stream":"stdout","time":"…"}` per line, as
//! Docker's default logging driver writes them (some writers say `message`, not `log`).
//! A record whose `log` lacks the final `\n` is a piece of a line Docker split at 16 KiB.
//! A JSON access log is not a record: it needs a string `log` and a `stream` or `time`.

use std::borrow::Cow;

use serde::Deserialize;

use super::{Envelopes, RuntimeEnvelope, Stream, strip_suffix};
use crate::time_format::Timestamp;

/// A Docker json-file record, as far as this file cares. Unknown keys (`attrs`) are
/// ignored; a key of the wrong type makes the line not a Docker record.
#[derive(Deserialize)]
struct DockerRecord<'a> {
    #[serde(borrow)]
    log: Option<JsonStr<'a>>,
    #[serde(borrow)]
    message: Option<JsonStr<'a>>,
    #[serde(borrow)]
    stream: Option<JsonStr<'a>>,
    #[serde(borrow)]
    time: Option<JsonStr<'a>>,
}

/// A JSON string, borrowed when it has no escapes. (A bare `Option<Cow<str>>` field
/// would always be owned.)
#[derive(Deserialize)]
struct JsonStr<'a>(#[serde(borrow)] Cow<'a, str>);

/// Reads a Docker json-file record: an object with a string `log` (or `message`) and a
/// `stream` or `time` key. Anything else, such as a JSON access log, is not one.
pub(super) fn docker_record(body: &[u8]) -> Option<RuntimeEnvelope<'_>> {
    if body.first() != Some(&b'{') || !mentions_log_key(body) {
        return None;
    }
    let record: DockerRecord<'_> = serde_json::from_slice(body).ok()?;
    // json-file always writes all three keys; a JSON access log with a `message`
    // and a `time` key is no Docker record.
    if record.stream.is_none() || record.time.is_none() {
        return None;
    }
    let mut line = str_to_bytes(record.log.or(record.message)?.0);
    let partial = !strip_suffix(&mut line, b"\n");
    if !partial {
        strip_suffix(&mut line, b"\r");
    }
    Some(RuntimeEnvelope {
        kind: Envelopes::DOCKER,
        line,
        time: record.time.and_then(|time| Timestamp::parse_rfc3339(&time.0)),
        stream: record.stream.and_then(|stream| Stream::from_word(stream.0.as_bytes())),
        partial,
    })
}

/// A cheap test that saves a full JSON parse of lines that cannot be Docker records.
fn mentions_log_key(body: &[u8]) -> bool {
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
    use crate::envelope::tests::{ENVOY_LINE, assert_untouched, time};
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
        assert!(unwrapped.partial);
    }

    #[test]
    fn docker_message_variant_and_extra_keys() {
        let raw = br#"{"message":"ACCESS [x] \"GET\"\r\n","attrs":{"tag":"envoy"},"stream":"stdout","time":"2019-01-01T11:11:11Z"}"#;
        let unwrapped = unwrap(raw);
        assert_eq!(&*unwrapped.line, br#"[x] "GET""#);
        assert_eq!(unwrapped.envelopes, Envelopes::DOCKER | Envelopes::ACCESS);
        assert_eq!(unwrapped.stream, Some(Stream::Stdout));
    }

    #[test]
    fn docker_record_without_newline_is_partial() {
        let unwrapped = unwrap(
            br#"{"log":"[2022-11-09T00:00:50.336Z] \"GE","stream":"stdout","time":"2019-01-01T11:11:11Z"}"#,
        );
        assert_eq!(&*unwrapped.line, br#"[2022-11-09T00:00:50.336Z] "GE"#);
        assert!(unwrapped.partial);
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
