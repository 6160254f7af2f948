//! Container log envelopes: this module turns one raw line, as read from a file, stdin,
//! `kubectl logs`, `stern`, `kubetail` or a node's `/var/log/pods`, into the Envoy
//! access-log line inside it. It owns the pod prefixes (`kubectl logs --prefix`'s
//! `[pod/NAME/CONTAINER] `, stern's `POD CONTAINER ` and kubetail's `[POD CONTAINER] `,
//! with their ANSI colours), Docker json-file records (and stern's `--output json`), CRI
//! lines, `kubectl logs --timestamps` stamps and Ambassador's `ACCESS ` prefix, stacked
//! in that order, plus the joining of lines a runtime split into pieces
//! ([`EnvelopeDecoder`]). It never looks at the access log itself: a line without an
//! envelope passes through borrowed and unchanged, and nothing here panics on any input.
//!
//! This file holds the public types and [`unwrap`], and peels the envelopes in order;
//! each kind is read in a submodule: `prefix` (kubectl's prefix and Ambassador's
//! `ACCESS `), `tail` (stern's and kubetail's prefixes and stamps), `ansi` (colours),
//! `docker` (JSON records), `cri` (CRI lines), `timestamp` (kubectl's stamps and the
//! RFC 3339 checks CRI shares) and `join` ([`EnvelopeDecoder`]: the pieces of split
//! lines, put back together per stream, and the input lines each result covers).

use std::borrow::Cow;
use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use crate::time_format::Timestamp;

mod ansi;
mod cri;
mod docker;
mod join;
mod prefix;
mod tail;
mod timestamp;

use cri::cri_line;
use docker::json_record;
pub use join::{EnvelopeDecoder, LinePosition, MAX_JOIN_LINES, Span};
use prefix::{kubectl_prefix, peel_access};
use tail::{tail_prefix, tail_timestamp};
use timestamp::kubectl_timestamp;

/// How many leading bytes of a too-long joined line [`Decoded::TooLong`] keeps.
pub const EXCERPT_BYTES: usize = 200;

/// The default cap on a joined line, for [`EnvelopeDecoder::default`].
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// A raw line with its envelopes removed, and what the envelopes said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwrapped<'a> {
    /// The inner line, without a trailing `\r`. Borrowed from the raw line unless JSON
    /// escapes (in practice every complete Docker record), colours or a join made it
    /// owned.
    pub line: Cow<'a, [u8]>,
    /// The pod that wrote the line, from a kubectl, stern or kubetail prefix.
    pub proxy: Option<Cow<'a, str>>,
    /// The container that wrote the line, from a kubectl, stern or kubetail prefix.
    pub container: Option<Cow<'a, str>>,
    /// When the runtime, kubectl or stern received the line. `None` without a Docker,
    /// CRI or timestamp envelope, or when its timestamp does not parse.
    pub time: Option<Timestamp>,
    /// The output stream, from a Docker or CRI envelope.
    pub stream: Option<Stream>,
    /// Which envelopes were removed.
    pub envelopes: Envelopes,
    /// The line is not complete: a CRI `P` piece or a Docker record split at 16 KiB
    /// (from [`unwrap`]), or a join whose last piece never came (from
    /// [`EnvelopeDecoder::flushed`] and [`EnvelopeDecoder::finish`]).
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
    /// `<time> ` from `kubectl logs --timestamps` (or stern's `--timestamps`).
    pub const TIMESTAMP: Envelopes = Envelopes(1 << 3);
    /// Ambassador's and Emissary's `ACCESS ` prefix.
    pub const ACCESS: Envelopes = Envelopes(1 << 4);
    /// stern's `POD CONTAINER ` prefix, or its `--output json` record.
    pub const STERN: Envelopes = Envelopes(1 << 5);
    /// kubetail's `[POD] ` or `[POD CONTAINER] ` prefix.
    pub const KUBETAIL: Envelopes = Envelopes(1 << 6);
    /// ANSI colour escapes (`\x1b[…m`), removed from a line that starts with one.
    pub const ANSI: Envelopes = Envelopes(1 << 7);

    const NAMED: [(Envelopes, &'static str); 8] = [
        (Envelopes::ANSI, "ansi"),
        (Envelopes::PREFIX, "prefix"),
        (Envelopes::STERN, "stern"),
        (Envelopes::KUBETAIL, "kubetail"),
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

    /// Whether any kind in `other` is in the set.
    pub const fn intersects(self, other: Envelopes) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the set holds more than a pod prefix (and its colours): a runtime
    /// envelope, a stamp or `ACCESS `, which a format may look like itself.
    pub const fn beyond_pod_prefix(self) -> bool {
        self.0 & !(POD_PREFIXES.0 | Envelopes::ANSI.0) != 0
    }

    /// Names of the kinds in the set, outermost first: `ansi`, `prefix`, `stern`,
    /// `kubetail`, `docker`, `cri`, `timestamp`, `access`.
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

/// The pod prefixes, which name the proxy: kubectl's, stern's and kubetail's.
const POD_PREFIXES: Envelopes = Envelopes(Envelopes::PREFIX.0 | TAILERS.0);
/// The prefixes of multi-pod tailers, which may be coloured and followed by their stamp.
const TAILERS: Envelopes = Envelopes(Envelopes::STERN.0 | Envelopes::KUBETAIL.0);

/// Removes every envelope from one raw line (bytes without the `\n`).
///
/// Stateless: a CRI `P` piece or a Docker record split at 16 KiB comes back as it is,
/// with [`Unwrapped::partial`] set. Use [`EnvelopeDecoder`] to join such pieces.
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
///
/// let stern = b"\x1b[96mistio-ingressgateway-7d9f8c6b5-x2x4q\x1b[0m \x1b[36mistio-proxy\x1b[0m \
///               [2022-11-09T00:00:50.336Z] \"GET / HTTP/1.1\" 200";
/// let unwrapped = unwrap(stern);
/// assert_eq!(&*unwrapped.line, b"[2022-11-09T00:00:50.336Z] \"GET / HTTP/1.1\" 200");
/// assert_eq!(unwrapped.container.as_deref(), Some("istio-proxy"));
/// assert_eq!(unwrapped.envelopes, Envelopes::ANSI | Envelopes::STERN);
/// ```
pub fn unwrap(raw: &[u8]) -> Unwrapped<'_> {
    let mut unwrapped = peel_outer(raw);
    peel_access(&mut unwrapped);
    unwrapped
}

/// The line with only its pod prefix (and colours) removed, when more envelopes than
/// that were peeled off it: what to read when the fully unwrapped line does not read,
/// because a format itself looks like an inner envelope (a line that starts with a
/// bare UTC time, `ACCESS [%START_TIME%]`). `None` otherwise.
pub fn unwrap_prefix(raw: &[u8]) -> Option<Unwrapped<'_>> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if raw.first() == Some(&ansi::ESC) {
        let plain = ansi::strip(raw);
        let unwrapped = peel_pod_prefix(&plain, true)?.into_owned();
        return Some(Unwrapped { envelopes: unwrapped.envelopes | Envelopes::ANSI, ..unwrapped });
    }
    peel_pod_prefix(raw, false)
}

/// `raw` without its pod prefix, if it has one.
fn peel_pod_prefix(raw: &[u8], coloured: bool) -> Option<Unwrapped<'_>> {
    let mut unwrapped = Unwrapped::plain(raw);
    peel_prefix(&mut unwrapped, raw, coloured);
    unwrapped.envelopes.intersects(POD_PREFIXES).then_some(unwrapped)
}

/// Removes the `\r`, colours, a pod prefix and a runtime envelope, but not `ACCESS `,
/// which only the first piece of a split line carries.
fn peel_outer(raw: &[u8]) -> Unwrapped<'_> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    match raw.first() {
        Some(&ansi::ESC) => peel_coloured(raw),
        _ if may_be_wrapped(raw) => peel_plain(raw, false),
        _ => Unwrapped::plain(raw),
    }
}

/// Removes the colours of a line that starts with one (a stern or kubetail line on a
/// terminal, or `--color always`), then its envelopes.
fn peel_coloured(raw: &[u8]) -> Unwrapped<'static> {
    let plain = ansi::strip(raw);
    let plain = plain.strip_suffix(b"\r").unwrap_or(&plain);
    let unwrapped = peel_plain(plain, true).into_owned();
    Unwrapped { envelopes: unwrapped.envelopes | Envelopes::ANSI, ..unwrapped }
}

/// Removes a pod prefix and a runtime envelope from a line without colours.
fn peel_plain(raw: &[u8], coloured: bool) -> Unwrapped<'_> {
    let mut unwrapped = Unwrapped::plain(raw);
    let body = peel_prefix(&mut unwrapped, raw, coloured);
    let runtime = match unwrapped.envelopes.intersects(TAILERS) {
        true => tail_timestamp(body).or_else(|| runtime_envelope(body)),
        false => runtime_envelope(body),
    };
    if let Some(runtime) = runtime {
        unwrapped.line = runtime.line;
        unwrapped.time = runtime.time;
        unwrapped.stream = runtime.stream;
        unwrapped.envelopes |= runtime.kind;
        unwrapped.partial = runtime.partial;
        unwrapped.proxy = runtime.pod.or(unwrapped.proxy);
        unwrapped.container = runtime.container.or(unwrapped.container);
    }
    unwrapped
}

/// Removes a kubectl, stern or kubetail prefix into `unwrapped`; returns what follows.
fn peel_prefix<'a>(unwrapped: &mut Unwrapped<'a>, raw: &'a [u8], coloured: bool) -> &'a [u8] {
    let (kind, pod, container, rest) = if let Some(prefix) = kubectl_prefix(raw) {
        (Envelopes::PREFIX, prefix.pod, Some(prefix.container), prefix.rest)
    } else if let Some(prefix) = tail_prefix(raw, coloured) {
        (prefix.kind, prefix.pod, prefix.container, prefix.rest)
    } else {
        return raw;
    };
    unwrapped.proxy = Some(Cow::Borrowed(pod));
    unwrapped.container = container.map(Cow::Borrowed);
    unwrapped.envelopes |= kind;
    unwrapped.line = Cow::Borrowed(rest);
    rest
}

/// Whether `raw` starts the way an envelope starts: `[` and a lowercase letter (a
/// kubectl or kubetail prefix), a lowercase letter (a stern prefix), `{` (a JSON
/// record) or a digit (a CRI or kubectl time). An Envoy text line (`[2026-…`) is told
/// apart by its first two bytes, without trying each envelope in turn. (Coloured lines,
/// which start with ESC, are told apart before.)
fn may_be_wrapped(raw: &[u8]) -> bool {
    match raw {
        [b'[', second, ..] => second.is_ascii_lowercase(),
        [first, ..] => *first == b'{' || first.is_ascii_digit() || first.is_ascii_lowercase(),
        [] => false,
    }
}

/// What a runtime envelope (Docker, CRI, a kubectl or stern timestamp, a stern JSON
/// record) wrapped around a line.
struct RuntimeEnvelope<'a> {
    kind: Envelopes,
    line: Cow<'a, [u8]>,
    time: Option<Timestamp>,
    stream: Option<Stream>,
    partial: bool,
    /// The pod and container a stern JSON record names.
    pod: Option<Cow<'a, str>>,
    container: Option<Cow<'a, str>>,
}

impl<'a> RuntimeEnvelope<'a> {
    /// An envelope of `kind` around `line`, with no pod, stream or time.
    fn around(kind: Envelopes, line: Cow<'a, [u8]>) -> RuntimeEnvelope<'a> {
        RuntimeEnvelope {
            kind,
            line,
            time: None,
            stream: None,
            partial: false,
            pod: None,
            container: None,
        }
    }
}

/// At most one runtime envelope wraps a line. A new envelope must also be admitted by
/// [`may_be_wrapped`], which lets lines through by their first bytes.
fn runtime_envelope(body: &[u8]) -> Option<RuntimeEnvelope<'_>> {
    json_record(body).or_else(|| cri_line(body)).or_else(|| kubectl_timestamp(body))
}

/// What [`EnvelopeDecoder::decode`] made of one raw line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole inner line (borrowed from the raw line, or owned if it was joined), and
    /// the input lines it came from.
    Line(Unwrapped<'a>, Span),
    /// The raw line was a piece of a longer line, kept until its last piece arrives.
    Pending,
    /// A joined line grew past the decoder's `max_line_bytes`; its pieces were counted
    /// but not kept.
    TooLong {
        /// The length the joined line would have had.
        len: usize,
        /// Its first [`EXCERPT_BYTES`] bytes, for the report.
        excerpt: Vec<u8>,
        /// The input lines its pieces were.
        span: Span,
    },
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

#[cfg(test)]
mod tests {
    use super::*;

    // Fixtures and helpers shared with the submodules' tests.
    pub(super) const ENVOY_LINE: &str = r#"[2022-11-09T00:00:50.336Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 11107 81 80 "10.142.0.66" "Mozilla/5.0" "36912637-ba06-41e4-97a2-07cddd73f849" "34.75.183.246" "10.112.0.68:8080" outbound|80||frontend.mycompany.mesh 10.112.0.50:41008 10.112.0.50:8080 10.142.0.66:16973 - frontend-frontend.web-team.mgmt-cluster"#;
    pub(super) const POD: &str = "istio-ingressgateway-7d9f8c6b5-x2x4q";
    pub(super) const KUBECTL_TIME: &str = "2022-11-09T00:00:50.418245811Z";

    pub(super) fn time(text: &str) -> Option<Timestamp> {
        Timestamp::parse_rfc3339(text)
    }

    pub(super) fn line<'a>(decoded: &'a Decoded<'_>) -> &'a [u8] {
        match decoded {
            Decoded::Line(unwrapped, _) => &unwrapped.line,
            other => panic!("expected a line, got {other:?}"),
        }
    }

    pub(super) fn assert_untouched(raw: &[u8]) {
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

    /// The position of line `n` in tests where offsets do not matter.
    pub(super) fn at(n: u64) -> LinePosition {
        LinePosition::new(n, n * 100)
    }

    #[test]
    fn decoder_passes_whole_lines_borrowed() {
        let mut decoder = EnvelopeDecoder::new(1024);
        let raw = format!("{KUBECTL_TIME} stdout F {ENVOY_LINE}");
        let decoded = decoder.decode(raw.as_bytes(), at(1));
        assert!(matches!(&decoded, Decoded::Line(u, _) if matches!(u.line, Cow::Borrowed(_))));
        assert_eq!(decoded, Decoded::Line(unwrap(raw.as_bytes()), Span::one(at(1))));
        assert_eq!(line(&decoder.decode(b"plain", at(2))), b"plain");
        assert!(!decoder.has_pending());
        assert!(decoder.finish().is_none());
    }

    fn decode_all(raw: &[u8]) -> Vec<Unwrapped<'static>> {
        let mut decoder = EnvelopeDecoder::default();
        let mut lines = Vec::new();
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        for (index, raw_line) in raw.split(|&byte| byte == b'\n').enumerate() {
            match decoder.decode(raw_line, at(index as u64 + 1)) {
                Decoded::Line(unwrapped, _) => lines.push(unwrapped.into_owned()),
                Decoded::Pending => {}
                Decoded::TooLong { len, .. } => panic!("{len} bytes"),
            }
            assert!(decoder.flushed().is_none(), "no join in the samples is given up");
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
        assert_eq!((docker.len(), access_lines(&docker)), (10, 8));
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
        /// The first-bytes check never skips a line some envelope would have taken.
        #[test]
        fn lines_told_apart_by_their_first_bytes_have_no_envelope(
            line in "(\\[pod/[a-z.]{0,3}/[a-z]{0,2}\\] ?|\\[[0-9a-z]{0,3}:?[a-z.-]{0,3}( [a-z-]{0,2})?\\] ?|[0-9a-z]{0,3} [a-z.]{0,3} ([a-z]{1,2} )?|\\[2022|\\[|\\{|\\{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"2022-11-09T00:00:50Z\"\\}|\\{\"message\":\"x\",\"podName\":\"p\",\"containerName\":\"c\"\\}|2022-11-09T00:00:50Z stdout F |ACCESS |[a-zA-Z ])?.{0,12}",
        ) {
            let raw = line.as_bytes();
            let wrapped = kubectl_prefix(raw).is_some()
                || tail_prefix(raw, false).is_some()
                || runtime_envelope(raw).is_some();
            proptest::prop_assert!(!wrapped || may_be_wrapped(raw));
        }

        #[test]
        fn never_panics_on_bytes(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let _ = unwrap(&raw);
            let mut decoder = EnvelopeDecoder::new(16);
            let _ = decoder.decode(&raw, at(1));
            let _ = decoder.decode(&raw, at(2));
            while decoder.finish().is_some() {}
        }

        /// Envelope-like lines of every shape (and the stern, kubetail and colour
        /// prefixes) never panic, and every line comes out exactly once.
        #[test]
        fn every_envelope_like_line_comes_out_once(
            lines in proptest::collection::vec(
                "(\\x1b\\[3[0-9]m)?(\\[pod/[a-z.]{0,3}/[a-z]{0,2}\\] ?|[a-z]{1,3} [a-z]{1,3} |\\[[0-9:]{0,2}[a-z]{1,3}( [a-z]{1,2})?\\] )?(2022-11-09T00:00:50(\\.[0-9]{0,10})?(Z|\\+01:00)? ?)?((stdout|stderr) ?)?([FP] ?)?(ACCESS )?(\\{\"log\":\"[a-z\\\\]{0,3}(\\\\n)?\",\"stream\":\"stdout\"\\})?.{0,8}\r?",
                0..12,
            )
        ) {
            let mut decoder = EnvelopeDecoder::new(24);
            let mut spans = Vec::new();
            let mut keep = |decoded: Decoded<'_>| match decoded {
                Decoded::Line(_, span) | Decoded::TooLong { span, .. } => spans.push(span),
                Decoded::Pending => {}
            };
            for (index, line) in lines.iter().enumerate() {
                let _ = unwrap(line.as_bytes());
                let decoded = decoder.decode(line.as_bytes(), at(index as u64 + 1));
                if let Decoded::TooLong { excerpt, .. } = &decoded {
                    proptest::prop_assert!(excerpt.len() <= EXCERPT_BYTES);
                }
                keep(decoded);
                while let Some(flushed) = decoder.flushed() {
                    keep(flushed);
                }
            }
            proptest::prop_assert!(decoder.pending.len() <= 6);
            while let Some(held) = decoder.finish() {
                keep(held);
            }
            let firsts: std::collections::BTreeSet<u64> = spans.iter().map(|span| span.first.line).collect();
            proptest::prop_assert_eq!(firsts.len(), spans.len());
            proptest::prop_assert_eq!(spans.iter().map(|span| span.lines).sum::<u64>(), lines.len() as u64);
        }
    }
}
