//! [`LogStream`]: the per-stream pipeline from a raw line to a record. It unwraps
//! container envelopes (joining partial CRI/Docker lines), then reads the inner line
//! with the stream's [`LineParser`]; the pod name from a `kubectl logs --prefix`
//! envelope fills `proxy` when the format itself has none. Envelopes are recognised
//! by shape, so a format that itself looks like one (`ACCESS [%START_TIME%] …`, a
//! line starting with a bare UTC time) could be unwrapped by mistake: when the
//! unwrapped line does not parse, the line as it came is tried too.

use std::borrow::Cow;

use crate::envelope::{Decoded, EnvelopeDecoder, Unwrapped};
use crate::error::{ErrorKind, ParseError};
use crate::parser::{LineParser, Parsed};
use crate::record::AccessLogRecord;

/// A line that could not be read: why, and the line itself (the raw input line, or
/// the joined line when it came in pieces), to be kept with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected<'a> {
    pub error: ParseError,
    pub line: Cow<'a, [u8]>,
}

/// What one input line became.
pub type Outcome<'a> = Result<Parsed<'a>, Rejected<'a>>;

/// What one input line became when read in place ([`LogStream::read_into`]): the
/// name of the format that read it, or why it was rejected.
pub type ReadOutcome<'a> = Result<&'static str, Rejected<'a>>;

/// Unwraps and parses the lines of one input stream.
pub struct LogStream {
    decoder: EnvelopeDecoder,
    parser: LineParser,
}

impl LogStream {
    /// A stream read with `parser`; its line limit also caps joined partial lines.
    pub fn new(parser: LineParser) -> LogStream {
        LogStream { decoder: EnvelopeDecoder::new(parser.max_line_bytes()), parser }
    }

    /// The longest line accepted, in bytes.
    pub fn max_line_bytes(&self) -> usize {
        self.parser.max_line_bytes()
    }

    /// Reads one raw line (without `\n`). `None` means it was the first part of a
    /// partial line and is held until the rest arrives.
    pub fn read<'a>(&mut self, raw: &'a [u8]) -> Option<Outcome<'a>> {
        let mut record = AccessLogRecord::default();
        let read = self.read_into(raw, &mut record)?;
        Some(read.map(|format| Parsed { record, format }))
    }

    /// [`Self::read`] into `record`, a default one, where the record stays (it is
    /// large, and moving it costs more than reading a short field): the name of the
    /// format that read the line, or the rejection (then `record` means nothing).
    pub fn read_into<'a>(
        &mut self,
        raw: &'a [u8],
        record: &mut AccessLogRecord<'a>,
    ) -> Option<ReadOutcome<'a>> {
        match self.decoder.decode(raw) {
            Decoded::Pending => None,
            Decoded::Line(unwrapped) => Some(self.parse_unwrapped(unwrapped, Some(raw), record)),
            Decoded::TooLong { len, excerpt } => Some(Err(self.too_long_join(len, excerpt))),
        }
    }

    /// Ends the stream: each partial line still held is read as it is, one per
    /// call; call until `None`.
    pub fn finish(&mut self) -> Option<Outcome<'static>> {
        match self.decoder.finish()? {
            Decoded::Pending => None,
            Decoded::Line(unwrapped) => {
                let mut record = AccessLogRecord::default();
                let read = self.parse_unwrapped(unwrapped, None, &mut record);
                Some(owned(read.map(|format| Parsed { record, format })))
            }
            Decoded::TooLong { len, excerpt } => Some(Err(self.too_long_join(len, excerpt))),
        }
    }

    /// The reject for a line the framing found longer than the limit.
    pub fn too_long(&self, len: usize, head: &[u8]) -> ParseError {
        let kind = ErrorKind::TooLong { len, limit: self.parser.max_line_bytes() };
        ParseError::at(kind, head, 0)
    }

    fn too_long_join(&self, len: usize, excerpt: Vec<u8>) -> Rejected<'static> {
        Rejected { error: self.too_long(len, &excerpt), line: Cow::Owned(excerpt) }
    }

    /// Parses an unwrapped line into `record`; `raw` is the line as it came, when
    /// it was one line.
    fn parse_unwrapped<'a>(
        &mut self,
        unwrapped: Unwrapped<'a>,
        raw: Option<&'a [u8]>,
        record: &mut AccessLogRecord<'a>,
    ) -> ReadOutcome<'a> {
        let wrapped = !unwrapped.envelopes.is_empty();
        let proxy = unwrapped.proxy;
        let inner = unwrapped.line;
        let parsed = match &inner {
            Cow::Borrowed(line) => self.parser.parse_into(line, record),
            Cow::Owned(joined) => parse_joined(&mut self.parser, joined, record),
        };
        let error = match parsed {
            Ok(format) => {
                if record.proxy.is_none() {
                    record.proxy = proxy;
                }
                return Ok(format);
            }
            Err(error) => error,
        };
        if let Some(raw) = raw.filter(|_| wrapped) {
            *record = AccessLogRecord::default();
            if let Ok(format) = self.parser.parse_into(raw, record) {
                return Ok(format);
            }
        }
        let line = match (inner, raw) {
            (Cow::Owned(joined), _) => Cow::Owned(joined),
            (Cow::Borrowed(_), Some(raw)) => Cow::Borrowed(raw),
            (Cow::Borrowed(inner), None) => Cow::Borrowed(inner),
        };
        Err(Rejected { error, line })
    }
}

/// Parses a line the decoder joined from partial lines: it is owned by the
/// decoder, so its record is made owned.
fn parse_joined(
    parser: &mut LineParser,
    joined: &[u8],
    record: &mut AccessLogRecord<'_>,
) -> Result<&'static str, ParseError> {
    let mut borrowed = AccessLogRecord::default();
    let format = parser.parse_into(joined, &mut borrowed)?;
    *record = borrowed.into_owned();
    Ok(format)
}

fn owned_parsed(parsed: Parsed<'_>) -> Parsed<'static> {
    Parsed { record: parsed.record.into_owned(), format: parsed.format }
}

fn owned(outcome: Outcome<'_>) -> Outcome<'static> {
    match outcome {
        Ok(parsed) => Ok(owned_parsed(parsed)),
        Err(rejected) => {
            Err(Rejected { error: rejected.error, line: Cow::Owned(rejected.line.into_owned()) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISTIO: &str = r#"[2022-11-09T00:00:50.336Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 11107 81 80 "10.142.0.66" "curl/8.4.0" "36912637-ba06-41e4-97a2-07cddd73f849" "34.75.183.246" "10.112.0.68:8080" outbound|80||frontend.mycompany.mesh 10.112.0.50:41008 10.112.0.50:8080 10.142.0.66:16973 - default"#;

    fn stream(spec: &str) -> LogStream {
        LogStream::new(LineParser::new(spec).unwrap())
    }

    #[test]
    fn kubectl_prefix_fills_proxy() {
        let line = format!("[pod/istio-ingressgateway-7d9f8c6b5-x2x4q/istio-proxy] {ISTIO}");
        let parsed = stream("auto").read(line.as_bytes()).unwrap().unwrap();
        assert_eq!(parsed.record.proxy.as_deref(), Some("istio-ingressgateway-7d9f8c6b5-x2x4q"));
    }

    #[test]
    fn kubectl_timestamps_with_three_fraction_digits_are_unwrapped() {
        let line = format!("2022-11-09T00:00:50.418Z {ISTIO}");
        assert!(stream("auto").read(line.as_bytes()).unwrap().is_ok());
    }

    #[test]
    fn a_format_that_looks_like_an_envelope_reads_the_line_as_it_came() {
        let format = "ACCESS [%START_TIME%] %RESPONSE_CODE% %DURATION%";
        let parsed = stream(format).read(b"ACCESS [2022-11-09T00:00:50.336Z] 200 5").unwrap();
        assert_eq!(parsed.unwrap().record.duration_ms, Some(5));
        let format = "%START_TIME(%Y-%m-%dT%H:%M:%S.%6fZ)% %RESPONSE_CODE% %DURATION%";
        let parsed = stream(format).read(b"2022-11-09T00:00:50.336123Z 200 5").unwrap();
        assert_eq!(parsed.unwrap().record.response_code, Some(200));
    }

    #[test]
    fn a_json_format_with_message_and_time_keys_is_not_a_docker_record() {
        let mut stream =
            stream(r#"{"time":"%START_TIME%","message":"%REQ(:PATH)%","code":"%RESPONSE_CODE%"}"#);
        for path in ["/a", "/b"] {
            let line =
                format!(r#"{{"time":"2022-11-09T00:00:50.336Z","message":"{path}","code":"200"}}"#);
            let parsed = stream.read(line.as_bytes()).unwrap().unwrap();
            assert_eq!(parsed.record.path.as_deref(), Some(path));
        }
    }

    #[test]
    fn reading_in_place_reads_what_read_returns() {
        let lines = [
            format!("2022-11-09T00:00:50.336Z stdout P {}", &ISTIO[..40]),
            format!("2022-11-09T00:00:50.336Z stdout F {}", &ISTIO[40..]),
            format!("[pod/istio-ingressgateway-7d9f8c6b5-x2x4q/istio-proxy] {ISTIO}"),
            ISTIO.to_string(),
            "not a log line".to_string(),
        ];
        let (mut by_read, mut in_place) = (stream("auto"), stream("auto"));
        for line in &lines {
            let expected = by_read.read(line.as_bytes());
            let mut record = AccessLogRecord::default();
            let read = in_place.read_into(line.as_bytes(), &mut record);
            match (expected, read) {
                (None, None) => {}
                (Some(Ok(parsed)), Some(Ok(format))) => {
                    assert_eq!((record, format), (parsed.record, parsed.format), "{line}");
                }
                (Some(Err(expected)), Some(Err(rejected))) => assert_eq!(rejected, expected),
                (expected, read) => panic!("{line}: {expected:?} against {read:?}"),
            }
        }
    }

    #[test]
    fn a_rejected_joined_line_keeps_the_whole_line() {
        let mut stream = stream("istio");
        assert!(
            stream
                .read(b"2022-11-09T00:00:50.336Z stdout P [2022-11-09T00:00:50.336Z] \"GET")
                .is_none()
        );
        let rejected =
            stream.read(b"2022-11-09T00:00:50.337Z stdout F  / bad").unwrap().unwrap_err();
        assert_eq!(rejected.line.as_ref(), b"[2022-11-09T00:00:50.336Z] \"GET / bad");
    }

    #[test]
    fn a_partial_line_left_at_the_end_is_read_or_rejected_with_its_text() {
        let mut stream = stream("istio");
        assert!(stream.read(b"2022-11-09T00:00:50.336Z stdout P half a line").is_none());
        let rejected = stream.finish().unwrap().unwrap_err();
        assert_eq!(rejected.line.as_ref(), b"half a line");
        assert!(stream.finish().is_none());
    }
}
