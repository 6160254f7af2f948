//! The body of a `POST /api/v1/logs`, as shippers send it: decompressed
//! (`Content-Encoding: gzip` or `zstd`) with the size capped as it streams, so a
//! small body that inflates past the limit costs no more than the limit; then split
//! into records. Text bodies are lines. JSON bodies (any `*json*` content type) are
//! an array or newline-delimited values: a string is a line; an object's line is
//! its `message` (Vector) or `log` (Fluent Bit, Docker) field, and an object with
//! neither is itself the line (an Envoy or Istio JSON access-log entry). A record
//! may name its reporting cluster in a configured field.

use std::borrow::Cow;
use std::io::Read;

use serde::Deserialize;
use serde_json::value::RawValue;

/// Why a body cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body is over {limit} bytes after decompression")]
    TooLarge { limit: usize },
    #[error("Content-Encoding {0:?} is not supported (gzip, zstd or identity)")]
    Encoding(String),
    #[error("the {encoding} body does not decompress: {source}")]
    Corrupt {
        encoding: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the JSON body does not read: {0}")]
    Json(#[source] serde_json::Error),
    #[error("the body is not an OTLP ExportLogsServiceRequest: {0}")]
    Otlp(String),
}

/// How the records of a body are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Text,
    Json,
}

impl BodyKind {
    /// The kind a `Content-Type` says (text unless it names JSON).
    pub fn of_content_type(content_type: Option<&str>) -> BodyKind {
        match content_type {
            Some(kind) if kind.to_ascii_lowercase().contains("json") => BodyKind::Json,
            _ => BodyKind::Text,
        }
    }
}

/// One record: its access-log line and the reporting cluster it names.
#[derive(Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub line: Cow<'a, [u8]>,
    pub source_cluster: Option<String>,
}

/// The body decompressed, at most `limit` bytes.
pub fn decode<'b>(
    encoding: Option<&str>,
    body: &'b [u8],
    limit: usize,
) -> Result<Cow<'b, [u8]>, BodyError> {
    let encoding = encoding.map(|encoding| encoding.trim().to_ascii_lowercase());
    let (name, reader): (&'static str, Box<dyn Read + 'b>) = match encoding.as_deref() {
        None | Some("" | "identity") => {
            return match body.len() > limit {
                true => Err(BodyError::TooLarge { limit }),
                false => Ok(Cow::Borrowed(body)),
            };
        }
        // The body is in memory: the decoders read it as it is, not through a buffer.
        Some("gzip" | "x-gzip") => ("gzip", Box::new(flate2::bufread::MultiGzDecoder::new(body))),
        Some("zstd") => {
            let decoder = zstd::stream::read::Decoder::with_buffer(body)
                .map_err(|source| BodyError::Corrupt { encoding: "zstd", source })?;
            ("zstd", Box::new(decoder))
        }
        Some(other) => return Err(BodyError::Encoding(other.to_owned())),
    };
    let mut out = Vec::with_capacity(gzip_size_hint(name, body).min(limit + 1));
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|source| BodyError::Corrupt { encoding: name, source })?;
    match out.len() > limit {
        true => Err(BodyError::TooLarge { limit }),
        false => Ok(Cow::Owned(out)),
    }
}

/// The size a gzip body says it inflates to (its last member's, mod 4 GiB: a hint
/// to allocate the output once instead of doubling it, never trusted further).
fn gzip_size_hint(encoding: &str, body: &[u8]) -> usize {
    let trailer = body.len().checked_sub(4).map(|at| &body[at..]);
    match (encoding, trailer) {
        ("gzip", Some(&[a, b, c, d])) => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => 0,
    }
}

/// The records of a decoded body; `cluster_field` is a dotted path to a record's
/// reporting cluster.
pub fn records<'a>(
    kind: BodyKind,
    body: &'a [u8],
    cluster_field: Option<&str>,
) -> Result<Vec<Record<'a>>, BodyError> {
    match kind {
        BodyKind::Text => Ok(text_lines(body)),
        BodyKind::Json => json_records(body, cluster_field),
    }
}

fn text_lines(body: &[u8]) -> Vec<Record<'_>> {
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    if body.is_empty() {
        return Vec::new();
    }
    body.split(|&byte| byte == b'\n')
        .map(|line| Record { line: Cow::Borrowed(trim_cr(line)), source_cluster: None })
        .collect()
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn json_records<'a>(
    body: &'a [u8],
    cluster_field: Option<&str>,
) -> Result<Vec<Record<'a>>, BodyError> {
    let start = body.iter().position(|byte| !byte.is_ascii_whitespace());
    let Some(start) = start else { return Ok(Vec::new()) };
    if body[start] == b'[' {
        let values: Vec<&RawValue> = serde_json::from_slice(body).map_err(BodyError::Json)?;
        return Ok(values.into_iter().map(|value| record(value, cluster_field)).collect());
    }
    let lines = body.split(|&byte| byte == b'\n').map(trim_cr);
    let lines = lines.filter(|line| line.iter().any(|byte| !byte.is_ascii_whitespace()));
    Ok(lines
        .map(|line| match serde_json::from_slice::<&RawValue>(line) {
            Ok(value) => record(value, cluster_field),
            // Not JSON: the line as it is (a reject, unless a format reads it).
            Err(_) => Record { line: Cow::Borrowed(line), source_cluster: None },
        })
        .collect())
}

/// The fields of a shipper's record that hold the line.
#[derive(Deserialize)]
struct Shipped<'a> {
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    log: Option<Cow<'a, str>>,
}

fn record<'a>(value: &'a RawValue, cluster_field: Option<&str>) -> Record<'a> {
    let text = value.get();
    let source_cluster = cluster_field.and_then(|field| field_text(text, field));
    let line = match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<Cow<'a, str>>(text).ok().map(cow_bytes),
        Some(b'{') => serde_json::from_str::<Shipped<'a>>(text)
            .ok()
            .and_then(|shipped| shipped.message.or(shipped.log))
            .map(cow_bytes),
        _ => None,
    };
    let line = line.map_or(Cow::Borrowed(text.as_bytes()), strip_newline);
    Record { line, source_cluster }
}

fn cow_bytes(text: Cow<'_, str>) -> Cow<'_, [u8]> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
        Cow::Owned(text) => Cow::Owned(text.into_bytes()),
    }
}

/// A line without the newline Docker's and Fluent Bit's `log` fields end with.
fn strip_newline(line: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    let keep = line.iter().rposition(|byte| !matches!(byte, b'\n' | b'\r')).map_or(0, |at| at + 1);
    match line {
        Cow::Borrowed(line) => Cow::Borrowed(&line[..keep]),
        Cow::Owned(mut line) => {
            line.truncate(keep);
            Cow::Owned(line)
        }
    }
}

/// The text at a dotted path (`kubernetes.cluster`) of a JSON object.
fn field_text(object: &str, path: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(object).ok()?;
    let found = path.split('.').try_fold(&value, |value, key| value.get(key))?;
    match found {
        serde_json::Value::String(text) => Some(text.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn lines(kind: BodyKind, body: &str) -> Vec<String> {
        records(kind, body.as_bytes(), None)
            .unwrap()
            .into_iter()
            .map(|record| String::from_utf8(record.line.into_owned()).unwrap())
            .collect()
    }

    #[test]
    fn text_is_lines_with_or_without_a_last_newline() {
        assert_eq!(lines(BodyKind::Text, "a\r\nb\n"), ["a", "b"]);
        assert_eq!(lines(BodyKind::Text, "a\n\nb"), ["a", "", "b"]);
        assert!(lines(BodyKind::Text, "").is_empty());
    }

    #[test]
    fn json_takes_message_or_log_or_the_object_itself() {
        let body = r#"[{"message":"one","kubernetes":{"pod_name":"p"}},{"log":"two\n","stream":"stdout"},"three",{"start_time":"2024-01-01T00:00:00.000Z","response_code":200}]"#;
        assert_eq!(
            lines(BodyKind::Json, body),
            [
                "one",
                "two",
                "three",
                r#"{"start_time":"2024-01-01T00:00:00.000Z","response_code":200}"#
            ]
        );
        let ndjson = "{\"message\":\"a \\\"quoted\\\" b\"}\n\n{\"log\":\"c\"}\nnot json\n";
        assert_eq!(lines(BodyKind::Json, ndjson), ["a \"quoted\" b", "c", "not json"]);
    }

    #[test]
    fn a_json_array_that_does_not_read_is_an_error() {
        assert!(matches!(
            records(BodyKind::Json, b"[{\"message\": ", None),
            Err(BodyError::Json(_))
        ));
    }

    #[test]
    fn reads_the_cluster_from_a_dotted_field() {
        let body = br#"{"message":"x","kubernetes":{"cluster":"cluster2"}}"#;
        let records = records(BodyKind::Json, body, Some("kubernetes.cluster")).unwrap();
        assert_eq!(records[0].source_cluster.as_deref(), Some("cluster2"));
    }

    #[test]
    fn decompression_stops_at_the_limit() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![b'a'; 10 << 20]).unwrap();
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 64 << 10);
        assert!(matches!(decode(Some("gzip"), &bomb, 1 << 20), Err(BodyError::TooLarge { .. })));
        assert_eq!(decode(Some("gzip"), &bomb, 10 << 20).unwrap().len(), 10 << 20);
        let zstd = zstd::encode_all(&b"line\n"[..], 3).unwrap();
        assert_eq!(&*decode(Some("zstd"), &zstd, 100).unwrap(), b"line\n");
        assert!(matches!(decode(Some("br"), b"", 100), Err(BodyError::Encoding(_))));
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// The output grew by doubling, copying what it held each time, and ended with
    /// up to half of it unused.
    #[test]
    fn a_gzip_body_inflates_into_one_allocation_of_the_size_its_trailer_says() {
        let text: Vec<u8> = (0..1_000_003_u32).map(|n| b'a' + (n % 7) as u8).collect();
        let Cow::Owned(decoded) = decode(Some("gzip"), &gzip(&text), 16 << 20).unwrap() else {
            panic!("a gzip body decodes into a buffer of its own");
        };
        assert_eq!(decoded, text);
        assert_eq!(decoded.capacity(), text.len());
    }

    #[test]
    fn a_body_of_several_gzip_members_inflates_past_the_last_members_size() {
        let mut body = gzip(&vec![b'x'; 100_000]);
        body.extend(gzip(b"tail\n"));
        let decoded = decode(Some("gzip"), &body, 1 << 20).unwrap();
        assert_eq!(decoded.len(), 100_005);
        assert!(decoded.ends_with(b"xtail\n"));
    }
}
