//! Container log envelopes: this file turns one raw line, as read from a file, stdin,
//! `kubectl logs` or a node's `/var/log/pods`, into the Envoy access-log line inside it.
//! It owns the `kubectl logs --prefix` prefix, Docker json-file records, CRI lines,
//! `kubectl logs --timestamps` stamps and Ambassador's `ACCESS ` prefix, stacked in that
//! order, plus the joining of lines a runtime split into pieces ([`EnvelopeDecoder`]).
//! It never looks at the access log itself: a line without an envelope passes through
//! borrowed and unchanged, and nothing here panics on any input.

use std::borrow::Cow;
use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use serde::Deserialize;

use crate::time_format::Timestamp;

/// How many leading bytes of a too-long joined line [`Decoded::TooLong`] keeps.
pub const EXCERPT_BYTES: usize = 200;

/// The default cap on a joined line, for [`EnvelopeDecoder::default`].
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// Longest RFC 3339 timestamp looked for at the start of a line (nanoseconds and offset).
const MAX_TIMESTAMP_BYTES: usize = 35;

/// The longest pod name (DNS-1123 subdomain) and container name (DNS-1123 label).
const MAX_POD_NAME: usize = 253;
const MAX_CONTAINER_NAME: usize = 63;

/// A raw line with its envelopes removed, and what the envelopes said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwrapped<'a> {
    /// The inner line, without a trailing `\r`. Borrowed from the raw line unless JSON
    /// escapes (in practice every complete Docker record) or a join made it owned.
    pub line: Cow<'a, [u8]>,
    /// The pod that wrote the line, from a `kubectl logs --prefix` prefix.
    pub proxy: Option<Cow<'a, str>>,
    /// The container that wrote the line, from a `kubectl logs --prefix` prefix.
    pub container: Option<Cow<'a, str>>,
    /// When the runtime or kubectl received the line. `None` without a Docker, CRI or
    /// timestamp envelope, or when its timestamp does not parse.
    pub time: Option<Timestamp>,
    /// The output stream, from a Docker or CRI envelope.
    pub stream: Option<Stream>,
    /// Which envelopes were removed.
    pub envelopes: Envelopes,
    /// The line is not complete: a CRI `P` piece or a Docker record without its final
    /// `\n` (from [`unwrap`]), or a join whose last piece never came
    /// (from [`EnvelopeDecoder::finish`]).
    pub partial: bool,
}

impl<'a> Unwrapped<'a> {
    /// A line without envelopes.
    fn plain(line: &'a [u8]) -> Unwrapped<'a> {
        Unwrapped {
            line: Cow::Borrowed(line),
            proxy: None,
            container: None,
            time: None,
            stream: None,
            envelopes: Envelopes::NONE,
            partial: false,
        }
    }

    /// Copies whatever is borrowed, so the result outlives the raw line.
    pub fn into_owned(self) -> Unwrapped<'static> {
        Unwrapped {
            line: Cow::Owned(self.line.into_owned()),
            proxy: self.proxy.map(|proxy| Cow::Owned(proxy.into_owned())),
            container: self.container.map(|container| Cow::Owned(container.into_owned())),
            time: self.time,
            stream: self.stream,
            envelopes: self.envelopes,
            partial: self.partial,
        }
    }
}

/// The container output stream a line was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`, as runtimes spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn from_word(word: &[u8]) -> Option<Stream> {
        match word {
            b"stdout" => Some(Stream::Stdout),
            b"stderr" => Some(Stream::Stderr),
            _ => None,
        }
    }
}

/// A set of envelope kinds, for reporting which ones a line or a stream carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Envelopes(u8);

impl Envelopes {
    /// No envelope.
    pub const NONE: Envelopes = Envelopes(0);
    /// `[pod/NAME/CONTAINER] ` from `kubectl logs --prefix`.
    pub const PREFIX: Envelopes = Envelopes(1);
    /// A Docker json-file record.
    pub const DOCKER: Envelopes = Envelopes(1 << 1);
    /// A CRI line (containerd, CRI-O): `<time> <stream> <F|P> <line>`.
    pub const CRI: Envelopes = Envelopes(1 << 2);
    /// `<time> ` from `kubectl logs --timestamps`.
    pub const TIMESTAMP: Envelopes = Envelopes(1 << 3);
    /// Ambassador's and Emissary's `ACCESS ` prefix.
    pub const ACCESS: Envelopes = Envelopes(1 << 4);

    const NAMED: [(Envelopes, &'static str); 5] = [
        (Envelopes::PREFIX, "prefix"),
        (Envelopes::DOCKER, "docker"),
        (Envelopes::CRI, "cri"),
        (Envelopes::TIMESTAMP, "timestamp"),
        (Envelopes::ACCESS, "access"),
    ];

    /// The set as bits, one per constant.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the set is empty: the line had no envelope.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every kind in `other` is in the set.
    pub const fn contains(self, other: Envelopes) -> bool {
        self.0 & other.0 == other.0
    }

    /// Names of the kinds in the set, outermost first: `prefix`, `docker`, `cri`,
    /// `timestamp`, `access`.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMED.into_iter().filter(move |(kind, _)| self.contains(*kind)).map(|(_, name)| name)
    }
}

impl BitOr for Envelopes {
    type Output = Envelopes;

    fn bitor(self, other: Envelopes) -> Envelopes {
        Envelopes(self.0 | other.0)
    }
}

impl BitOrAssign for Envelopes {
    fn bitor_assign(&mut self, other: Envelopes) {
        self.0 |= other.0;
    }
}

/// `prefix+timestamp+access`, or `none`.
impl fmt::Display for Envelopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, name) in self.names().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// Removes every envelope from one raw line (bytes without the `\n`).
///
/// Stateless: a CRI `P` piece or an unterminated Docker record comes back as it is, with
/// [`Unwrapped::partial`] set. Use [`EnvelopeDecoder`] to join such pieces.
///
/// ```
/// use meshlog_parsers::envelope::{unwrap, Envelopes};
///
/// let raw = b"[pod/istio-ingressgateway-7d9f8c6b5-x2x4q/istio-proxy] \
///             2022-11-09T00:00:50.418245811Z [2022-11-09T00:00:50.336Z] \"GET / HTTP/1.1\" 200";
/// let unwrapped = unwrap(raw);
/// assert_eq!(&*unwrapped.line, b"[2022-11-09T00:00:50.336Z] \"GET / HTTP/1.1\" 200");
/// assert_eq!(unwrapped.proxy.as_deref(), Some("istio-ingressgateway-7d9f8c6b5-x2x4q"));
/// assert_eq!(unwrapped.envelopes, Envelopes::PREFIX | Envelopes::TIMESTAMP);
/// ```
pub fn unwrap(raw: &[u8]) -> Unwrapped<'_> {
    let mut unwrapped = peel_outer(raw);
    peel_access(&mut unwrapped);
    unwrapped
}

/// Removes the `\r`, the kubectl prefix and a runtime envelope, but not `ACCESS `, which
/// only the first piece of a split line carries.
fn peel_outer(raw: &[u8]) -> Unwrapped<'_> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let mut unwrapped = Unwrapped::plain(raw);
    let mut body = raw;
    if let Some(prefix) = kubectl_prefix(raw) {
        unwrapped.proxy = Some(Cow::Borrowed(prefix.pod));
        unwrapped.container = Some(Cow::Borrowed(prefix.container));
        unwrapped.envelopes |= Envelopes::PREFIX;
        unwrapped.line = Cow::Borrowed(prefix.rest);
        body = prefix.rest;
    }
    if let Some(runtime) = runtime_envelope(body) {
        unwrapped.line = runtime.line;
        unwrapped.time = runtime.time;
        unwrapped.stream = runtime.stream;
        unwrapped.envelopes |= runtime.kind;
        unwrapped.partial = runtime.partial;
    }
    unwrapped
}

/// Removes Ambassador's `ACCESS ` prefix.
fn peel_access(unwrapped: &mut Unwrapped<'_>) {
    if strip_prefix(&mut unwrapped.line, b"ACCESS ") {
        unwrapped.envelopes |= Envelopes::ACCESS;
    }
}

/// `[pod/NAME/CONTAINER] ` split off the front of a line.
struct KubectlPrefix<'a> {
    pod: &'a str,
    container: &'a str,
    rest: &'a [u8],
}

/// Reads a `kubectl logs --prefix` prefix: exactly `[pod/NAME/CONTAINER] ` with
/// Kubernetes name characters, so an Envoy line's `[2022-…]` never matches.
fn kubectl_prefix(line: &[u8]) -> Option<KubectlPrefix<'_>> {
    let names = line.strip_prefix(b"[pod/")?;
    let (pod, rest) = take_name(names, is_subdomain_byte, MAX_POD_NAME)?;
    let rest = rest.strip_prefix(b"/")?;
    let (container, rest) = take_name(rest, is_label_byte, MAX_CONTAINER_NAME)?;
    let rest = rest.strip_prefix(b"] ")?;
    Some(KubectlPrefix { pod, container, rest })
}

/// Splits a non-empty run of name bytes, at most `max` long, off the front of `bytes`.
fn take_name(bytes: &[u8], allowed: fn(u8) -> bool, max: usize) -> Option<(&str, &[u8])> {
    let len = bytes.iter().take_while(|&&byte| allowed(byte)).count();
    if len == 0 || len > max {
        return None;
    }
    let (name, rest) = bytes.split_at_checked(len)?;
    Some((std::str::from_utf8(name).ok()?, rest))
}

fn is_label_byte(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-'
}

fn is_subdomain_byte(byte: u8) -> bool {
    is_label_byte(byte) || byte == b'.'
}

/// What a runtime envelope (Docker, CRI or a kubectl timestamp) wrapped around a line.
struct RuntimeEnvelope<'a> {
    kind: Envelopes,
    line: Cow<'a, [u8]>,
    time: Option<Timestamp>,
    stream: Option<Stream>,
    partial: bool,
}

/// At most one runtime envelope wraps a line.
fn runtime_envelope(body: &[u8]) -> Option<RuntimeEnvelope<'_>> {
    docker_record(body).or_else(|| cri_line(body)).or_else(|| kubectl_timestamp(body))
}

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
fn docker_record(body: &[u8]) -> Option<RuntimeEnvelope<'_>> {
    if body.first() != Some(&b'{') || !mentions_log_key(body) {
        return None;
    }
    let record: DockerRecord<'_> = serde_json::from_slice(body).ok()?;
    if record.stream.is_none() && record.time.is_none() {
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

/// Reads a CRI line: `<RFC 3339 time> <stdout|stderr> <F|P> <line>`, or without the
/// `F`/`P` tag as some old runtimes wrote it.
fn cri_line(body: &[u8]) -> Option<RuntimeEnvelope<'_>> {
    let (time, rest) = split_timestamp(body)?;
    rfc3339_shape(time)?;
    let (word, rest) = split_once(rest, b' ')?;
    let stream = Stream::from_word(word)?;
    let (partial, line) = match rest {
        [b'F'] => (false, &[][..]),
        [b'P'] => (true, &[][..]),
        [b'F', b' ', line @ ..] => (false, line),
        [b'P', b' ', line @ ..] => (true, line),
        line => (false, line),
    };
    Some(RuntimeEnvelope {
        kind: Envelopes::CRI,
        line: Cow::Borrowed(line),
        time: parse_time(time),
        stream: Some(stream),
        partial,
    })
}

/// Reads a `kubectl logs --timestamps` stamp: `<RFC 3339 nano time> <line>`.
///
/// kubectl prints nanoseconds in UTC with trailing zeros trimmed, so a stamp with exactly
/// three fraction digits (or none) is almost surely not kubectl's but the access log's
/// own `%START_TIME%` (Envoy prints milliseconds) and is left alone.
fn kubectl_timestamp(body: &[u8]) -> Option<RuntimeEnvelope<'_>> {
    let (time, line) = split_timestamp(body)?;
    let shape = rfc3339_shape(time)?;
    let kubectl_like = shape.utc && shape.fraction_digits != 0 && shape.fraction_digits != 3;
    if !kubectl_like {
        return None;
    }
    Some(RuntimeEnvelope {
        kind: Envelopes::TIMESTAMP,
        line: Cow::Borrowed(line),
        time: parse_time(time),
        stream: None,
        partial: false,
    })
}

/// Splits a line at its first space, if that comes early enough to end a timestamp.
fn split_timestamp(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let window = body.get(..=MAX_TIMESTAMP_BYTES).unwrap_or(body);
    let space = memchr::memchr(b' ', window)?;
    let (time, rest) = body.split_at_checked(space)?;
    Some((time, rest.get(1..)?))
}

/// Splits `bytes` around the first `separator`.
fn split_once(bytes: &[u8], separator: u8) -> Option<(&[u8], &[u8])> {
    let at = memchr::memchr(separator, bytes)?;
    let (head, rest) = bytes.split_at_checked(at)?;
    Some((head, rest.get(1..)?))
}

fn parse_time(time: &[u8]) -> Option<Timestamp> {
    std::str::from_utf8(time).ok().and_then(Timestamp::parse_rfc3339)
}

/// What an RFC 3339 timestamp looks like, enough to tell kubectl's from Envoy's.
struct TimestampShape {
    fraction_digits: usize,
    utc: bool,
}

/// Checks that `token` is `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, the fraction
/// having 1 to 9 digits.
fn rfc3339_shape(token: &[u8]) -> Option<TimestampShape> {
    let (date_time, rest) = token.split_at_checked(19)?;
    if !fits(date_time, b"0000-00-00T00:00:00") {
        return None;
    }
    let (fraction_digits, zone) = match rest.strip_prefix(b".") {
        Some(fraction) => {
            let digits = fraction.iter().take_while(|byte| byte.is_ascii_digit()).count();
            ((1..=9).contains(&digits).then_some(digits)?, fraction.get(digits..)?)
        }
        None => (0, rest),
    };
    let utc = zone == b"Z";
    if !utc && !fits(zone, b"+00:00") && !fits(zone, b"-00:00") {
        return None;
    }
    Some(TimestampShape { fraction_digits, utc })
}

/// Whether `bytes` match `template`, where `0` stands for any ASCII digit.
fn fits(bytes: &[u8], template: &[u8]) -> bool {
    bytes.len() == template.len()
        && bytes.iter().zip(template).all(|(&byte, &expected)| match expected {
            b'0' => byte.is_ascii_digit(),
            _ => byte == expected,
        })
}

fn str_to_bytes(text: Cow<'_, str>) -> Cow<'_, [u8]> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
        Cow::Owned(text) => Cow::Owned(text.into_bytes()),
    }
}

/// Removes `prefix` from the front of `line`, if it is there.
fn strip_prefix(line: &mut Cow<'_, [u8]>, prefix: &[u8]) -> bool {
    if !line.starts_with(prefix) {
        return false;
    }
    match line {
        Cow::Borrowed(bytes) => *bytes = bytes.get(prefix.len()..).unwrap_or_default(),
        Cow::Owned(bytes) => drop(bytes.drain(..prefix.len().min(bytes.len()))),
    }
    true
}

/// Removes `suffix` from the end of `line`, if it is there.
fn strip_suffix(line: &mut Cow<'_, [u8]>, suffix: &[u8]) -> bool {
    if !line.ends_with(suffix) {
        return false;
    }
    match line {
        Cow::Borrowed(bytes) => *bytes = bytes.strip_suffix(suffix).unwrap_or(bytes),
        Cow::Owned(bytes) => bytes.truncate(bytes.len().saturating_sub(suffix.len())),
    }
    true
}

/// What [`EnvelopeDecoder::decode`] made of one raw line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole inner line: borrowed from the raw line, or owned if it was joined.
    Line(Unwrapped<'a>),
    /// The raw line was a piece of a longer line, kept until its last piece arrives.
    Pending,
    /// A joined line grew past the decoder's `max_line_bytes`; its pieces were counted
    /// but not kept.
    TooLong {
        /// The length the joined line would have had.
        len: usize,
        /// Its first [`EXCERPT_BYTES`] bytes, for the report.
        excerpt: Vec<u8>,
    },
}

/// Unwraps the raw lines of one stream (one file, one container, stdin) and joins the
/// pieces runtimes split long lines into: CRI `P` lines up to the next `F`, Docker records
/// up to the one ending in `\n`. Pieces are joined per envelope kind and output stream, so
/// stderr lines between stdout pieces neither break nor join them.
///
/// Memory is bounded: a joined line over `max_line_bytes` stops being buffered and comes
/// out as [`Decoded::TooLong`] when its last piece arrives.
///
/// ```
/// use meshlog_parsers::envelope::{Decoded, EnvelopeDecoder};
///
/// let mut decoder = EnvelopeDecoder::new(64 * 1024);
/// let first = b"2022-11-09T00:00:50.524698517Z stdout P [2022-11-09T00:00:50.514Z] \"GET /";
/// assert_eq!(decoder.decode(first), Decoded::Pending);
/// let last = b"2022-11-09T00:00:50.524710238Z stdout F  HTTP/1.1\" 200";
/// let Decoded::Line(joined) = decoder.decode(last) else { panic!("F ends the line") };
/// assert_eq!(&*joined.line, b"[2022-11-09T00:00:50.514Z] \"GET / HTTP/1.1\" 200");
/// assert!(decoder.finish().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct EnvelopeDecoder {
    max_line_bytes: usize,
    /// At most one join per envelope kind and stream, oldest first.
    pending: Vec<Join>,
}

impl Default for EnvelopeDecoder {
    fn default() -> Self {
        EnvelopeDecoder::new(DEFAULT_MAX_LINE_BYTES)
    }
}

impl EnvelopeDecoder {
    /// A decoder that joins split lines up to `max_line_bytes` (of inner line).
    pub fn new(max_line_bytes: usize) -> Self {
        EnvelopeDecoder { max_line_bytes, pending: Vec::new() }
    }

    /// Unwraps one raw line (without its `\n`), joining it to earlier pieces if it
    /// continues a split line. A line that needs no join is returned as [`unwrap`]
    /// returns it, borrowing from `raw`, so a caller may keep the lines of a whole batch.
    pub fn decode<'a>(&mut self, raw: &'a [u8]) -> Decoded<'a> {
        let mut piece = peel_outer(raw);
        let key = JoinKey::of(&piece);
        if let Some(index) = key.and_then(|key| self.pending.iter().position(|j| j.key == key)) {
            return self.continue_join(index, &piece);
        }
        peel_access(&mut piece);
        match key {
            Some(key) if piece.partial => {
                self.pending.push(Join::start(key, piece, self.max_line_bytes));
                Decoded::Pending
            }
            _ => Decoded::Line(piece),
        }
    }

    /// At the end of the stream, returns one join still waiting for its last piece, as a
    /// line marked [`Unwrapped::partial`] (or [`Decoded::TooLong`]). Call until `None`.
    pub fn finish(&mut self) -> Option<Decoded<'static>> {
        if self.pending.is_empty() {
            return None;
        }
        Some(self.pending.remove(0).into_decoded(false))
    }

    /// Whether pieces are waiting for the rest of their line, so a reader should not yet
    /// commit its position past them.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    fn continue_join(&mut self, index: usize, piece: &Unwrapped<'_>) -> Decoded<'static> {
        let max_line_bytes = self.max_line_bytes;
        let Some(join) = self.pending.get_mut(index) else {
            return Decoded::Pending;
        };
        join.push(&piece.line, max_line_bytes);
        if piece.partial {
            return Decoded::Pending;
        }
        self.pending.remove(index).into_decoded(true)
    }
}

/// Which pieces belong together: same runtime envelope, same stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct JoinKey {
    runtime: Envelopes,
    stream: Option<Stream>,
}

impl JoinKey {
    /// The key of a piece, or `None` for lines whose envelope never splits them.
    fn of(piece: &Unwrapped<'_>) -> Option<JoinKey> {
        let runtime = [Envelopes::DOCKER, Envelopes::CRI]
            .into_iter()
            .find(|&kind| piece.envelopes.contains(kind))?;
        Some(JoinKey { runtime, stream: piece.stream })
    }
}

/// A line being joined from pieces, with the first piece's envelope details.
#[derive(Debug, Clone)]
struct Join {
    key: JoinKey,
    first: Unwrapped<'static>,
    bytes: Vec<u8>,
    len: usize,
    too_long: bool,
}

impl Join {
    fn start(key: JoinKey, mut first: Unwrapped<'_>, max_line_bytes: usize) -> Join {
        let first_bytes = std::mem::take(&mut first.line);
        let first = first.into_owned();
        let mut join = Join { key, first, bytes: Vec::new(), len: 0, too_long: false };
        join.push(&first_bytes, max_line_bytes);
        join
    }

    /// Appends a piece, or once over the cap only counts it (keeping the excerpt).
    fn push(&mut self, piece: &[u8], max_line_bytes: usize) {
        self.len = self.len.saturating_add(piece.len());
        if !self.too_long && self.len <= max_line_bytes {
            self.bytes.extend_from_slice(piece);
            return;
        }
        self.too_long = true;
        let room = EXCERPT_BYTES.saturating_sub(self.bytes.len());
        self.bytes.extend(piece.iter().take(room));
        self.bytes.truncate(EXCERPT_BYTES);
        self.bytes.shrink_to_fit();
    }

    fn into_decoded(self, complete: bool) -> Decoded<'static> {
        if self.too_long {
            return Decoded::TooLong { len: self.len, excerpt: self.bytes };
        }
        let mut line = Cow::Owned(self.bytes);
        if complete {
            strip_suffix(&mut line, b"\r");
        }
        Decoded::Line(Unwrapped { line, partial: !complete, ..self.first })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVOY_LINE: &str = r#"[2022-11-09T00:00:50.336Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 11107 81 80 "10.142.0.66" "Mozilla/5.0" "36912637-ba06-41e4-97a2-07cddd73f849" "34.75.183.246" "10.112.0.68:8080" outbound|80||frontend.mycompany.mesh 10.112.0.50:41008 10.112.0.50:8080 10.142.0.66:16973 - frontend-frontend.web-team.mgmt-cluster"#;
    const POD: &str = "istio-ingressgateway-7d9f8c6b5-x2x4q";
    const KUBECTL_TIME: &str = "2022-11-09T00:00:50.418245811Z";

    fn time(text: &str) -> Option<Timestamp> {
        Timestamp::parse_rfc3339(text)
    }

    fn line<'a>(decoded: &'a Decoded<'_>) -> &'a [u8] {
        match decoded {
            Decoded::Line(unwrapped) => &unwrapped.line,
            other => panic!("expected a line, got {other:?}"),
        }
    }

    fn assert_untouched(raw: &[u8]) {
        let unwrapped = unwrap(raw);
        assert!(matches!(unwrapped.line, Cow::Borrowed(_)), "{unwrapped:?}");
        assert_eq!(unwrapped, Unwrapped::plain(raw));
    }

    #[test]
    fn plain_envoy_line_passes_through_borrowed() {
        assert_untouched(ENVOY_LINE.as_bytes());
        assert_untouched(b"");
    }

    #[test]
    fn kubectl_prefix_gives_proxy_and_container() {
        let raw = format!("[pod/{POD}/istio-proxy] {ENVOY_LINE}");
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes());
        assert_eq!(unwrapped.proxy.as_deref(), Some(POD));
        assert_eq!(unwrapped.container.as_deref(), Some("istio-proxy"));
        assert_eq!(unwrapped.envelopes, Envelopes::PREFIX);
        assert!(matches!(unwrapped.line, Cow::Borrowed(_)));
    }

    #[test]
    fn almost_prefixes_pass_through() {
        for raw in [
            "[pod/x] GET /",
            "[pod/a/b]",
            "[pod/a/b]GET /",
            "[pod//b] GET /",
            "[pod/a/] GET /",
            "[pod/A/b] GET /",
            "[pod/a/b.c] GET /",
            "[pod/a/b/c] GET /",
            "[deployment/a/b] GET /",
            "[pod/",
        ] {
            assert_untouched(raw.as_bytes());
        }
        let long_pod = format!("[pod/{}/c] x", "a".repeat(MAX_POD_NAME + 1));
        assert_untouched(long_pod.as_bytes());
    }

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
        let raw = br#"{"message":"ACCESS [x] \"GET\"\r\n","attrs":{"tag":"envoy"},"time":"2019-01-01T11:11:11Z"}"#;
        let unwrapped = unwrap(raw);
        assert_eq!(&*unwrapped.line, br#"[x] "GET""#);
        assert_eq!(unwrapped.envelopes, Envelopes::DOCKER | Envelopes::ACCESS);
        assert_eq!(unwrapped.stream, None);
    }

    #[test]
    fn docker_record_without_newline_is_partial() {
        let unwrapped = unwrap(br#"{"log":"[2022-11-09T00:00:50.336Z] \"GE","stream":"stdout"}"#);
        assert_eq!(&*unwrapped.line, br#"[2022-11-09T00:00:50.336Z] "GE"#);
        assert!(unwrapped.partial);
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

    #[test]
    fn cri_full_line() {
        let raw = format!("{KUBECTL_TIME} stdout F {ENVOY_LINE}");
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes());
        assert_eq!(unwrapped.stream, Some(Stream::Stdout));
        assert_eq!(unwrapped.time, time(KUBECTL_TIME));
        assert_eq!(unwrapped.envelopes, Envelopes::CRI);
        assert!(!unwrapped.partial);
    }

    #[test]
    fn cri_partial_stderr_offset_and_old_forms() {
        let partial =
            unwrap(b"2022-11-09T01:00:50.1+01:00 stderr P [2022-11-09T00:00:50.336Z] \"GE");
        assert_eq!(&*partial.line, b"[2022-11-09T00:00:50.336Z] \"GE");
        assert_eq!(partial.stream, Some(Stream::Stderr));
        assert!(partial.partial);

        let untagged = unwrap(b"2016-10-06T00:17:09.669794202Z stdout Fetched 3 items");
        assert_eq!(&*untagged.line, b"Fetched 3 items");
        assert_eq!(untagged.envelopes, Envelopes::CRI);

        let empty = unwrap(b"2016-10-06T00:17:09.669794202Z stdout F ");
        assert_eq!(&*empty.line, b"");
        assert_eq!(empty.envelopes, Envelopes::CRI);
    }

    #[test]
    fn kubectl_timestamp_is_removed() {
        let raw = format!("{KUBECTL_TIME} {ENVOY_LINE}");
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes());
        assert_eq!(unwrapped.time, time(KUBECTL_TIME));
        assert!(unwrapped.time.is_some());
        assert_eq!(unwrapped.envelopes, Envelopes::TIMESTAMP);
        assert_eq!(unwrapped.stream, None);
    }

    #[test]
    fn timestamp_lookalikes_pass_through() {
        for raw in [
            KUBECTL_TIME,
            "2022-11-09T00:00:50.418245811Z",
            "2022-11-09T00:00:50.336Z GET / 200",
            "2022-11-09T00:00:50Z GET / 200",
            "2022-11-09T00:00:50.418245811+00:00 GET / 200",
            "2022-11-09T00:00:50.4182458111Z GET / 200",
            "2022-11-09 00:00:50.418245811Z GET / 200",
            "2022-11-09T00:00:50.Z GET / 200",
            "2022-11-09T00:00:49.001284Z\tinfo\txdsproxy\tconnected to upstream XDS server",
            "9999-99-99T99:99:99.1234Z\u{e9}",
        ] {
            assert_untouched(raw.as_bytes());
        }
    }

    #[test]
    fn ambassador_access_prefix() {
        let raw = format!("ACCESS {ENVOY_LINE}");
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes());
        assert_eq!(unwrapped.envelopes, Envelopes::ACCESS);
        assert_untouched(b"ACCESSED [x]");
    }

    #[test]
    fn prefix_and_timestamp_stack() {
        let raw = format!("[pod/{POD}/istio-proxy] {KUBECTL_TIME} {ENVOY_LINE}");
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes());
        assert_eq!(unwrapped.proxy.as_deref(), Some(POD));
        assert_eq!(unwrapped.time, time(KUBECTL_TIME));
        assert_eq!(unwrapped.envelopes, Envelopes::PREFIX | Envelopes::TIMESTAMP);
        assert_eq!(unwrapped.envelopes.to_string(), "prefix+timestamp");
    }

    #[test]
    fn prefix_timestamp_and_access_stack() {
        let raw = format!(
            "[pod/emissary-ingress-5f7c9b8d4-qk2lm/ambassador] {KUBECTL_TIME} ACCESS {ENVOY_LINE}\r"
        );
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes());
        assert_eq!(unwrapped.container.as_deref(), Some("ambassador"));
        let all = Envelopes::PREFIX | Envelopes::TIMESTAMP | Envelopes::ACCESS;
        assert_eq!(unwrapped.envelopes, all);
        assert_eq!(
            unwrapped.envelopes.names().collect::<Vec<_>>(),
            ["prefix", "timestamp", "access"]
        );
    }

    #[test]
    fn crlf_is_removed() {
        let raw = format!("{ENVOY_LINE}\r");
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes());
        assert_eq!(unwrapped.envelopes, Envelopes::NONE);
        assert_eq!(&*unwrap(b"\r").line, b"");
        assert_eq!(&*unwrap(b"2022-11-09T00:00:50.1Z stdout F x\r").line, b"x");
    }

    #[test]
    fn invalid_utf8_inside_is_kept() {
        let raw = b"[pod/p/c] 2022-11-09T00:00:50.1Z stdout F \xff\xfe[\xc3";
        let unwrapped = unwrap(raw);
        assert_eq!(&*unwrapped.line, b"\xff\xfe[\xc3");
        assert_eq!(unwrapped.envelopes, Envelopes::PREFIX | Envelopes::CRI);
        assert_untouched(b"[pod/p\xff/c] x");
        assert_untouched(b"{\"log\":\"\xff\\n\",\"stream\":\"stdout\"}");
        assert_untouched(b"2022-11-09T00:00:50.1\xffZ x");
    }

    #[test]
    fn envelopes_names_and_display() {
        assert_eq!(Envelopes::NONE.to_string(), "none");
        assert!(Envelopes::NONE.is_empty());
        let set = Envelopes::DOCKER | Envelopes::ACCESS;
        assert!(set.contains(Envelopes::ACCESS) && !set.contains(Envelopes::CRI));
        assert_eq!(set.to_string(), "docker+access");
        assert_eq!(set.bits(), 0b1_0010);
        assert_eq!(Stream::Stderr.as_str(), "stderr");
    }

    #[test]
    fn decoder_passes_whole_lines_borrowed() {
        let mut decoder = EnvelopeDecoder::new(1024);
        let raw = format!("{KUBECTL_TIME} stdout F {ENVOY_LINE}");
        let decoded = decoder.decode(raw.as_bytes());
        assert!(matches!(&decoded, Decoded::Line(u) if matches!(u.line, Cow::Borrowed(_))));
        assert_eq!(line(&decoded), ENVOY_LINE.as_bytes());
        assert_eq!(line(&decoder.decode(b"plain")), b"plain");
        assert!(!decoder.has_pending());
        assert!(decoder.finish().is_none());
    }

    #[test]
    fn decoder_joins_cri_pieces_per_stream() {
        let mut decoder = EnvelopeDecoder::new(1024);
        let first = "2022-11-09T00:00:50.1Z stdout P ACCESS [2022-11-09T00:00:50.336Z] ";
        assert_eq!(decoder.decode(first.as_bytes()), Decoded::Pending);
        assert_eq!(decoder.decode(b"2022-11-09T00:00:50.2Z stdout P \"GET / "), Decoded::Pending);
        let stderr = decoder.decode(b"2022-11-09T00:00:50.25Z stderr F warning");
        assert_eq!(line(&stderr), b"warning");
        assert!(decoder.has_pending());
        let Decoded::Line(joined) =
            decoder.decode(b"2022-11-09T00:00:50.3Z stdout F HTTP/1.1\" 200\r")
        else {
            panic!("F ends the join");
        };
        assert_eq!(&*joined.line, b"[2022-11-09T00:00:50.336Z] \"GET / HTTP/1.1\" 200");
        assert_eq!(joined.time, time("2022-11-09T00:00:50.1Z"));
        assert_eq!(joined.envelopes, Envelopes::CRI | Envelopes::ACCESS);
        assert!(!joined.partial);
        assert!(!decoder.has_pending());
    }

    #[test]
    fn decoder_joins_docker_pieces_and_keeps_first_details() {
        let mut decoder = EnvelopeDecoder::new(1024);
        let first = br#"[pod/p/c] {"log":"[2022-11-09T00:00:50.336Z] \"GE","stream":"stdout","time":"2019-01-01T11:11:11.1Z"}"#;
        assert_eq!(decoder.decode(first), Decoded::Pending);
        let last =
            br#"{"log":"T / HTTP/1.1\"\n","stream":"stdout","time":"2019-01-01T11:11:11.2Z"}"#;
        let Decoded::Line(joined) = decoder.decode(last) else { panic!("\\n ends the join") };
        assert_eq!(&*joined.line, br#"[2022-11-09T00:00:50.336Z] "GET / HTTP/1.1""#);
        assert_eq!(joined.proxy.as_deref(), Some("p"));
        assert_eq!(joined.time, time("2019-01-01T11:11:11.1Z"));
        assert_eq!(joined.stream, Some(Stream::Stdout));
    }

    #[test]
    fn decoder_caps_joined_lines() {
        let mut decoder = EnvelopeDecoder::new(300);
        let piece = format!("2022-11-09T00:00:50.1Z stdout P {}", "a".repeat(250));
        assert_eq!(decoder.decode(piece.as_bytes()), Decoded::Pending);
        assert_eq!(decoder.decode(piece.as_bytes()), Decoded::Pending);
        assert_eq!(decoder.decode(piece.as_bytes()), Decoded::Pending);
        let total = decoder.pending.iter().map(|join| join.bytes.capacity()).sum::<usize>();
        assert!(total <= EXCERPT_BYTES, "kept {total} bytes");
        let expected = Decoded::TooLong { len: 753, excerpt: vec![b'a'; EXCERPT_BYTES] };
        assert_eq!(decoder.decode(b"2022-11-09T00:00:50.2Z stdout F bcd"), expected);
        assert!(!decoder.has_pending());
    }

    #[test]
    fn decoder_excerpt_spans_pieces_under_a_small_cap() {
        let mut decoder = EnvelopeDecoder::new(10);
        assert_eq!(decoder.decode(b"2022-11-09T00:00:50.1Z stdout P 12345"), Decoded::Pending);
        let decoded = decoder.decode(b"2022-11-09T00:00:50.2Z stdout F 6789abcdef");
        assert_eq!(decoded, Decoded::TooLong { len: 15, excerpt: b"123456789abcdef".to_vec() });
    }

    #[test]
    fn decoder_finish_flushes_every_pending_join() {
        let mut decoder = EnvelopeDecoder::new(8);
        assert_eq!(decoder.decode(b"2022-11-09T00:00:50.1Z stdout P abc"), Decoded::Pending);
        assert_eq!(decoder.decode(br#"{"log":"0123456789","stream":"stderr"}"#), Decoded::Pending);
        let Some(Decoded::Line(first)) = decoder.finish() else { panic!("the CRI join first") };
        assert_eq!((&*first.line, first.partial), (&b"abc"[..], true));
        let too_long = Decoded::TooLong { len: 10, excerpt: b"0123456789".to_vec() };
        assert_eq!(decoder.finish(), Some(too_long));
        assert_eq!(decoder.finish(), None);
    }

    fn decode_all(raw: &[u8]) -> Vec<Unwrapped<'static>> {
        let mut decoder = EnvelopeDecoder::default();
        let mut lines = Vec::new();
        for raw_line in raw.split(|&byte| byte == b'\n').filter(|l| !l.is_empty()) {
            match decoder.decode(raw_line) {
                Decoded::Line(unwrapped) => lines.push(unwrapped.into_owned()),
                Decoded::Pending => {}
                Decoded::TooLong { len, .. } => panic!("{len} bytes"),
            }
        }
        assert!(decoder.finish().is_none());
        lines
    }

    fn access_lines(lines: &[Unwrapped<'_>]) -> usize {
        lines.iter().filter(|u| u.line.starts_with(b"[2022-11-09T00:0")).count()
    }

    #[test]
    fn samples_unwrap_to_envoy_lines() {
        let cri = decode_all(include_bytes!("../../samples/envelopes/cri.log"));
        assert_eq!((cri.len(), access_lines(&cri)), (9, 5));
        let docker = decode_all(include_bytes!("../../samples/envelopes/docker.json.log"));
        assert_eq!((docker.len(), access_lines(&docker)), (9, 7));
        let kubectl =
            decode_all(include_bytes!("../../samples/envelopes/kubectl-prefix-timestamps.log"));
        assert_eq!((kubectl.len(), access_lines(&kubectl)), (12, 8));
        assert!(kubectl.iter().all(|u| u.proxy.as_deref() == Some(POD)));
        let ambassador = decode_all(include_bytes!("../../samples/envelopes/ambassador.log"));
        assert_eq!((ambassador.len(), access_lines(&ambassador)), (10, 8));
        let crlf =
            decode_all(include_bytes!("../../samples/envelopes/kubectl-timestamps-crlf.log"));
        assert_eq!((crlf.len(), access_lines(&crlf)), (6, 5));

        let split_in_samples = |lines: &[Unwrapped<'_>]| {
            let split = lines.iter().find(|u| u.line.starts_with(b"[2022-11-09T00:00:50.514Z]"));
            split.map(|u| u.line.to_vec())
        };
        let whole = split_in_samples(&kubectl);
        assert!(whole.is_some());
        assert_eq!(split_in_samples(&cri), whole);
        assert_eq!(split_in_samples(&docker), whole);
        let all = [cri, docker, kubectl, ambassador, crlf].concat();
        assert!(all.iter().all(|u| !u.line.contains(&b'\r') && !u.partial));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_bytes(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let _ = unwrap(&raw);
            let mut decoder = EnvelopeDecoder::new(16);
            let _ = decoder.decode(&raw);
            let _ = decoder.decode(&raw);
            while decoder.finish().is_some() {}
        }

        #[test]
        fn never_panics_on_envelope_like_lines(
            lines in proptest::collection::vec(
                "(\\[pod/[a-z.]{0,3}/[a-z]{0,2}\\] ?)?(2022-11-09T00:00:50(\\.[0-9]{0,10})?(Z|\\+01:00)? ?)?((stdout|stderr) ?)?([FP] ?)?(ACCESS )?(\\{\"log\":\"[a-z\\\\]{0,3}(\\\\n)?\",\"stream\":\"stdout\"\\})?.{0,8}\r?",
                0..12,
            )
        ) {
            let mut decoder = EnvelopeDecoder::new(24);
            for line in &lines {
                let _ = unwrap(line.as_bytes());
                if let Decoded::TooLong { excerpt, .. } = decoder.decode(line.as_bytes()) {
                    proptest::prop_assert!(excerpt.len() <= EXCERPT_BYTES);
                }
            }
            proptest::prop_assert!(decoder.pending.len() <= 6);
            while decoder.finish().is_some() {}
        }
    }
}
