//! [`LogStream`]: the per-stream pipeline from a raw line to a record. It unwraps
//! container envelopes (joining partial CRI/Docker lines), then reads the inner line
//! with the stream's [`LineParser`]; the pod name from a kubectl, stern or kubetail
//! prefix fills `proxy` when the format itself has none. Every outcome carries the
//! [`Span`] of input lines it accounts for (one line, or the pieces of a joined line),
//! so a caller can account for each input line exactly once. Envelopes are recognised
//! by shape, so a format that itself looks like one (`ACCESS [%START_TIME%] …`, a
//! line starting with a bare UTC time) could be unwrapped by mistake: when the
//! unwrapped line does not parse, the line with only its pod prefix removed, then the
//! line as it came, are tried too.

use std::borrow::Cow;

use crate::envelope::{self, Decoded, EnvelopeDecoder, LinePosition, Span, Unwrapped};
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

/// What one input line (or the pieces of a joined line) became.
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

    /// Reads one raw line (without `\n`) that starts `at` in the input: what it
    /// became, with the input lines that accounts for. `None` means it was a piece of
    /// a split line, held until the rest arrives. Then call [`Self::flushed`]: this line
    /// may have ended joins that will get no last piece.
    pub fn read<'a>(&mut self, raw: &'a [u8], at: LinePosition) -> Option<(Span, Outcome<'a>)> {
        let mut record = AccessLogRecord::default();
        let (span, read) = self.read_into(raw, at, &mut record)?;
        Some((span, read.map(|format| Parsed { record, format })))
    }

    /// [`Self::read`] into `record`, a default one, where the record stays (it is
    /// large, and moving it costs more than reading a short field): the name of the
    /// format that read the line, or the rejection (then `record` means nothing).
    pub fn read_into<'a>(
        &mut self,
        raw: &'a [u8],
        at: LinePosition,
        record: &mut AccessLogRecord<'a>,
    ) -> Option<(Span, ReadOutcome<'a>)> {
        match self.decoder.decode(raw, at) {
            Decoded::Pending => None,
            Decoded::Line(unwrapped, span) => {
                let raw = (span.lines == 1).then_some(raw);
                Some((span, self.parse_unwrapped(unwrapped, raw, record)))
            }
            Decoded::TooLong { len, excerpt, span } => {
                Some((span, Err(self.too_long_join(len, excerpt))))
            }
        }
    }

    /// A split line that will get no more pieces (the input switched to lines without
    /// its envelope, or it began [`envelope::MAX_JOIN_LINES`] lines ago), read as it
    /// is. Call after each [`Self::read`] until `None`.
    pub fn flushed(&mut self) -> Option<(Span, Outcome<'static>)> {
        let decoded = self.decoder.flushed()?;
        self.read_held(decoded)
    }

    /// Ends the stream: each partial line still held is read as it is, one per
    /// call; call until `None`.
    pub fn finish(&mut self) -> Option<(Span, Outcome<'static>)> {
        let decoded = self.decoder.finish()?;
        self.read_held(decoded)
    }

    /// Whether pieces of a split line are held, so that a reader should not commit
    /// its position past them yet.
    pub fn has_pending(&self) -> bool {
        self.decoder.has_pending()
    }

    /// The reject for a line the framing found longer than the limit.
    pub fn too_long(&self, len: usize, head: &[u8]) -> ParseError {
        let kind = ErrorKind::TooLong { len, limit: self.parser.max_line_bytes() };
        ParseError::at(kind, head, 0)
    }

    fn too_long_join(&self, len: usize, excerpt: Vec<u8>) -> Rejected<'static> {
        Rejected { error: self.too_long(len, &excerpt), line: Cow::Owned(excerpt) }
    }

    /// Reads a line the decoder held (an unfinished join; the decoder never hands
    /// back a `Pending` here).
    fn read_held(&mut self, decoded: Decoded<'static>) -> Option<(Span, Outcome<'static>)> {
        match decoded {
            Decoded::Line(unwrapped, span) => {
                let mut record = AccessLogRecord::default();
                let read = self.parse_unwrapped(unwrapped, None, &mut record);
                Some((span, owned(read.map(|format| Parsed { record, format }))))
            }
            Decoded::TooLong { len, excerpt, span } => {
                Some((span, Err(self.too_long_join(len, excerpt))))
            }
            Decoded::Pending => None,
        }
    }

    /// Parses an unwrapped line into `record`; `raw` is the line as it came, when
    /// it was one line.
    fn parse_unwrapped<'a>(
        &mut self,
        unwrapped: Unwrapped<'a>,
        raw: Option<&'a [u8]>,
        record: &mut AccessLogRecord<'a>,
    ) -> ReadOutcome<'a> {
        let envelopes = unwrapped.envelopes;
        let (error, inner) = match self.parse_with_proxy(unwrapped.line, unwrapped.proxy, record) {
            Ok(format) => return Ok(format),
            Err(failed) => failed,
        };
        if let Some(raw) = raw.filter(|_| !envelopes.is_empty())
            && let Some(format) = self.reread(raw, envelopes.beyond_pod_prefix(), record)
        {
            return Ok(format);
        }
        Err(Rejected { error, line: raw.map_or(inner, Cow::Borrowed) })
    }

    /// Reads a wrapped line that did not read unwrapped: with only its pod prefix
    /// removed (when more than that was), then as it came.
    fn reread<'a>(
        &mut self,
        raw: &'a [u8],
        beyond_prefix: bool,
        record: &mut AccessLogRecord<'a>,
    ) -> Option<&'static str> {
        if let Some(prefixed) = envelope::unwrap_prefix(raw).filter(|_| beyond_prefix) {
            *record = AccessLogRecord::default();
            if let Ok(format) = self.parse_with_proxy(prefixed.line, prefixed.proxy, record) {
                return Some(format);
            }
        }
        *record = AccessLogRecord::default();
        self.parser.parse_into(raw, record).ok()
    }

    /// Parses `line` into `record`, whose `proxy`, when the format has none, is the
    /// envelope's. On failure, the error and the line back.
    fn parse_with_proxy<'a>(
        &mut self,
        line: Cow<'a, [u8]>,
        proxy: Option<Cow<'a, str>>,
        record: &mut AccessLogRecord<'a>,
    ) -> Result<&'static str, (ParseError, Cow<'a, [u8]>)> {
        let parsed = match &line {
            Cow::Borrowed(borrowed) => self.parser.parse_into(borrowed, record),
            Cow::Owned(owned) => parse_owned(&mut self.parser, owned, record),
        };
        let format = parsed.map_err(|error| (error, line))?;
        if record.proxy.is_none() {
            record.proxy = proxy;
        }
        Ok(format)
    }
}

/// Parses a line the envelopes made (a joined, unescaped or uncoloured line): it
/// does not outlive this call, so its record is made owned.
fn parse_owned(
    parser: &mut LineParser,
    line: &[u8],
    record: &mut AccessLogRecord<'_>,
) -> Result<&'static str, ParseError> {
    let mut borrowed = AccessLogRecord::default();
    let format = parser.parse_into(line, &mut borrowed)?;
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
    const POD: &str = "istio-ingressgateway-7d9f8c6b5-x2x4q";

    fn stream(spec: &str) -> LogStream {
        LogStream::new(LineParser::new(spec).unwrap())
    }

    fn at(n: u64) -> LinePosition {
        LinePosition::new(n, 0)
    }

    /// Reads one line that needs no join, as line 1.
    fn read_one<'a>(stream: &mut LogStream, line: &'a [u8]) -> Outcome<'a> {
        let (span, outcome) = stream.read(line, at(1)).expect("a whole line");
        assert_eq!(span, Span::one(at(1)));
        outcome
    }

    #[test]
    fn pod_prefixes_fill_proxy() {
        for line in [
            format!("[pod/{POD}/istio-proxy] {ISTIO}"),
            format!("{POD} istio-proxy {ISTIO}"),
            format!("\x1b[96m{POD}\x1b[0m \x1b[36mistio-proxy\x1b[0m {ISTIO}"),
            format!("[{POD} istio-proxy] {ISTIO}"),
            format!(
                r#"{{"message":{},"podName":"{POD}","containerName":"istio-proxy"}}"#,
                serde_json::to_string(ISTIO).unwrap()
            ),
        ] {
            let parsed = read_one(&mut stream("auto"), line.as_bytes()).expect(&line);
            assert_eq!(parsed.record.proxy.as_deref(), Some(POD), "{line}");
        }
    }

    #[test]
    fn kubectl_timestamps_with_three_fraction_digits_are_unwrapped() {
        let line = format!("2022-11-09T00:00:50.418Z {ISTIO}");
        assert!(read_one(&mut stream("auto"), line.as_bytes()).is_ok());
    }

    #[test]
    fn a_format_that_looks_like_an_envelope_reads_the_line_as_it_came() {
        let format = "ACCESS [%START_TIME%] %RESPONSE_CODE% %DURATION%";
        let parsed = read_one(&mut stream(format), b"ACCESS [2022-11-09T00:00:50.336Z] 200 5");
        assert_eq!(parsed.unwrap().record.duration_ms, Some(5));
        let format = "%START_TIME(%Y-%m-%dT%H:%M:%S.%6fZ)% %RESPONSE_CODE% %DURATION%";
        let parsed = read_one(&mut stream(format), b"2022-11-09T00:00:50.336123Z 200 5");
        assert_eq!(parsed.unwrap().record.response_code, Some(200));
    }

    /// Behind a pod prefix the line as it came never reads: the line with only the
    /// prefix removed is tried, and keeps the prefix's proxy.
    #[test]
    fn a_format_that_looks_like_an_envelope_behind_a_prefix_reads_without_the_prefix() {
        let format = "%START_TIME(%Y-%m-%dT%H:%M:%S.%6fZ)% %RESPONSE_CODE% %DURATION%";
        for line in [
            format!("[pod/{POD}/istio-proxy] 2022-11-09T00:00:50.336123Z 200 5"),
            format!(
                "\x1b[96m{POD}\x1b[0m \x1b[36mistio-proxy\x1b[0m 2022-11-09T00:00:50.336123Z 200 5"
            ),
        ] {
            let parsed = read_one(&mut stream(format), line.as_bytes()).expect(&line);
            assert_eq!(parsed.record.response_code, Some(200));
            assert_eq!(parsed.record.proxy.as_deref(), Some(POD));
        }
    }

    #[test]
    fn a_json_format_with_message_and_time_keys_is_not_a_docker_record() {
        let mut stream =
            stream(r#"{"time":"%START_TIME%","message":"%REQ(:PATH)%","code":"%RESPONSE_CODE%"}"#);
        for path in ["/a", "/b"] {
            let line =
                format!(r#"{{"time":"2022-11-09T00:00:50.336Z","message":"{path}","code":"200"}}"#);
            let parsed = read_one(&mut stream, line.as_bytes()).unwrap();
            assert_eq!(parsed.record.path.as_deref(), Some(path));
        }
    }

    #[test]
    fn reading_in_place_reads_what_read_returns() {
        let lines = [
            format!("2022-11-09T00:00:50.336Z stdout P {}", &ISTIO[..40]),
            format!("2022-11-09T00:00:50.336Z stdout F {}", &ISTIO[40..]),
            format!("[pod/{POD}/istio-proxy] {ISTIO}"),
            format!("\x1b[32m[{POD}]\x1b(B\x1b[m {ISTIO}"),
            ISTIO.to_string(),
            "not a log line".to_string(),
        ];
        let (mut by_read, mut in_place) = (stream("auto"), stream("auto"));
        for (n, line) in (1..).zip(&lines) {
            let expected = by_read.read(line.as_bytes(), at(n));
            let mut record = AccessLogRecord::default();
            let read = in_place.read_into(line.as_bytes(), at(n), &mut record);
            match (expected, read) {
                (None, None) => {}
                (Some((span, Ok(parsed))), Some((read_span, Ok(format)))) => {
                    assert_eq!(span, read_span);
                    assert_eq!((record, format), (parsed.record, parsed.format), "{line}");
                }
                (Some(expected), Some((span, Err(rejected)))) => {
                    assert_eq!(expected, (span, Err(rejected)));
                }
                (expected, read) => panic!("{line}: {expected:?} against {read:?}"),
            }
        }
    }

    #[test]
    fn a_rejected_joined_line_keeps_the_whole_line_and_the_first_piece_position() {
        let mut stream = stream("istio");
        let first = b"2022-11-09T00:00:50.336Z stdout P [2022-11-09T00:00:50.336Z] \"GET";
        assert!(stream.read(first, LinePosition::new(4, 300)).is_none());
        let last = b"2022-11-09T00:00:50.337Z stdout F  / bad";
        let (span, outcome) = stream.read(last, LinePosition::new(5, 370)).unwrap();
        assert_eq!(span, Span { first: LinePosition::new(4, 300), lines: 2 });
        assert_eq!(outcome.unwrap_err().line.as_ref(), b"[2022-11-09T00:00:50.336Z] \"GET / bad");
    }

    #[test]
    fn a_rejected_docker_record_keeps_the_record_as_it_came() {
        let raw = br#"{"log":"bad line\n","stream":"stdout","time":"2022-11-09T00:00:50.1Z"}"#;
        let rejected = read_one(&mut stream("istio"), raw).unwrap_err();
        assert_eq!(rejected.line.as_ref(), raw);
    }

    #[test]
    fn a_partial_line_left_at_the_end_is_read_or_rejected_with_its_text() {
        let mut stream = stream("istio");
        assert!(stream.read(b"2022-11-09T00:00:50.336Z stdout P half a line", at(9)).is_none());
        assert!(stream.has_pending());
        let (span, outcome) = stream.finish().unwrap();
        assert_eq!(span, Span::one(at(9)));
        assert_eq!(outcome.unwrap_err().line.as_ref(), b"half a line");
        assert!(stream.finish().is_none());
        assert!(!stream.has_pending());
    }

    /// A user's trial: Filebeat-style `message` records and a short Docker record
    /// without their `\n` were joined with the next record, so one of 7 lines vanished
    /// and the lines after it were numbered wrong.
    #[test]
    fn records_without_newline_are_not_joined_with_the_next() {
        let istio = |ms: u32| ISTIO.replace("50.336Z", &format!("50.{ms}Z")).replace('"', "\\\"");
        let record = |key: &str, text: String| {
            format!(r#"{{"{key}":"{text}","stream":"stdout","time":"2022-11-09T00:00:50.4Z"}}"#)
        };
        let lines = [
            record("log", format!("{}\\n", istio(301))),
            record("message", istio(302)),
            record("message", istio(303)),
            record("log", istio(304)),
            record("log", format!("{}\\n", istio(305))),
            record("log", "not an access log".to_owned()),
            record("log", istio(307)),
        ];
        let mut stream = stream("auto");
        let mut spans = Vec::new();
        for (n, line) in (1..).zip(&lines) {
            let (span, outcome) = stream.read(line.as_bytes(), at(n)).expect("a whole line");
            spans.push((span, outcome.is_ok()));
            assert!(stream.flushed().is_none());
        }
        assert!(stream.finish().is_none());
        let expected: Vec<_> = (1..=7).map(|n| (Span::one(at(n)), n != 6)).collect();
        assert_eq!(spans, expected);
    }
}
