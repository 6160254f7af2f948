//! [`EnvelopeDecoder`]: unwraps the lines of a stream and joins the pieces of split
//! lines (CRI `P` lines up to the `F`, Docker records split at 16 KiB up to the one
//! ending in `\n`), gathered per envelope kind and stream into a [`Join`], which keeps
//! the first piece's envelope details and position and counts its pieces, so that every
//! input line is accounted exactly once ([`Span`]); once past the cap it only counts
//! bytes and keeps an excerpt, so memory stays bounded on any input. A join that cannot
//! get its last piece any more is given up here.

use std::borrow::Cow;

use super::{
    DEFAULT_MAX_LINE_BYTES, Decoded, EXCERPT_BYTES, Envelopes, Stream, Unwrapped, peel_access,
    peel_outer, strip_suffix,
};

/// A join still waiting for a piece this many input lines after its first piece is
/// given up (runtimes write the pieces of a line one after another; only lines of the
/// other output stream come between them). This bounds how long a reader holds lines
/// back from a commit.
pub const MAX_JOIN_LINES: u64 = 1024;

/// Where a raw line starts in its input: its 1-based number and its byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct LinePosition {
    pub line: u64,
    pub offset: u64,
}

impl LinePosition {
    pub const fn new(line: u64, offset: u64) -> LinePosition {
        LinePosition { line, offset }
    }
}

/// The input lines one decoded line came from: where the first starts, and how many
/// there were: 1, or the pieces of a joined line (lines of another stream may lie
/// between them, each in its own span). The spans of a stream cover each input line
/// given to the decoder exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub first: LinePosition,
    pub lines: u64,
}

impl Span {
    /// One input line.
    pub const fn one(at: LinePosition) -> Span {
        Span { first: at, lines: 1 }
    }
}

/// Unwraps the raw lines of one stream (one file, one container, stdin) and joins the
/// pieces runtimes split long lines into: CRI `P` lines up to the next `F`, and Docker
/// records split at 16 KiB up to the one ending in `\n`. Pieces are joined per envelope
/// kind and output stream, so stderr lines between stdout pieces neither break nor
/// join them.
///
/// Every input line comes out exactly once, in a [`Span`]: a line, or the pieces of a
/// joined line (with the first piece's position and the number of pieces). A join
/// whose last piece never comes is given up, and comes out as a partial line from
/// [`Self::flushed`], when a line of another kind arrives (a plain line, or Docker
/// after CRI) or [`MAX_JOIN_LINES`] lines after its first piece; and from
/// [`Self::finish`] at the end of the stream.
///
/// Memory is bounded: a joined line over `max_line_bytes` stops being buffered and comes
/// out as [`Decoded::TooLong`] when its last piece arrives.
///
/// ```
/// use meshlog_parsers::envelope::{Decoded, EnvelopeDecoder, LinePosition};
///
/// let mut decoder = EnvelopeDecoder::new(64 * 1024);
/// let first = b"2022-11-09T00:00:50.524698517Z stdout P [2022-11-09T00:00:50.514Z] \"GET /";
/// assert_eq!(decoder.decode(first, LinePosition::new(1, 0)), Decoded::Pending);
/// let last = b"2022-11-09T00:00:50.524710238Z stdout F  HTTP/1.1\" 200";
/// let at = LinePosition::new(2, first.len() as u64 + 1);
/// let Decoded::Line(joined, span) = decoder.decode(last, at) else { panic!("F ends the line") };
/// assert_eq!(&*joined.line, b"[2022-11-09T00:00:50.514Z] \"GET / HTTP/1.1\" 200");
/// assert_eq!((span.first, span.lines), (LinePosition::new(1, 0), 2));
/// assert!(decoder.finish().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct EnvelopeDecoder {
    max_line_bytes: usize,
    /// At most one join per envelope kind and stream, oldest first.
    pub(super) pending: Vec<Join>,
    /// Joins given up, oldest first, for [`Self::flushed`].
    given_up: Vec<Join>,
}

impl Default for EnvelopeDecoder {
    fn default() -> Self {
        EnvelopeDecoder::new(DEFAULT_MAX_LINE_BYTES)
    }
}

impl EnvelopeDecoder {
    /// A decoder that joins split lines up to `max_line_bytes` (of inner line).
    pub fn new(max_line_bytes: usize) -> Self {
        EnvelopeDecoder { max_line_bytes, pending: Vec::new(), given_up: Vec::new() }
    }

    /// Unwraps one raw line (without its `\n`), which starts `at` in the input, joining
    /// it to earlier pieces if it continues a split line. A line that needs no join is
    /// returned as [`unwrap`](super::unwrap) returns it, borrowing from `raw`, so a caller may keep the
    /// lines of a whole batch. Call [`Self::flushed`] after each line: this line may
    /// have ended joins that will not get their last piece.
    pub fn decode<'a>(&mut self, raw: &'a [u8], at: LinePosition) -> Decoded<'a> {
        let mut piece = peel_outer(raw);
        let key = JoinKey::of(&piece);
        if !self.pending.is_empty() {
            self.give_up_joins(key, at);
        }
        if let Some(index) = key.and_then(|key| self.pending.iter().position(|j| j.key == key)) {
            return self.continue_join(index, &piece);
        }
        peel_access(&mut piece);
        match key {
            Some(key) if piece.partial => {
                self.pending.push(Join::start(key, piece, at, self.max_line_bytes));
                Decoded::Pending
            }
            _ => Decoded::Line(piece, Span::one(at)),
        }
    }

    /// A join given up (see the type's doc), as a line marked [`Unwrapped::partial`]
    /// (or [`Decoded::TooLong`]). Call after each [`Self::decode`] until `None`.
    pub fn flushed(&mut self) -> Option<Decoded<'static>> {
        if self.given_up.is_empty() {
            return None;
        }
        Some(self.given_up.remove(0).into_decoded(false))
    }

    /// At the end of the stream, returns one join still waiting for its last piece, as a
    /// line marked [`Unwrapped::partial`] (or [`Decoded::TooLong`]). Call until `None`.
    pub fn finish(&mut self) -> Option<Decoded<'static>> {
        self.given_up.append(&mut self.pending);
        self.flushed()
    }

    /// Whether pieces are waiting for the rest of their line (or a given-up join for
    /// [`Self::flushed`]), so a reader should not yet commit its position past them.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || !self.given_up.is_empty()
    }

    /// Adds a piece to the join at `index`, returning the joined line once its last piece
    /// has come.
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

    /// Gives up the joins that a line of `key` (`None`: no runtime envelope) starting
    /// `at` shows will get no last piece: those of another envelope kind (the input
    /// switched to other lines), and those begun [`MAX_JOIN_LINES`] lines ago.
    fn give_up_joins(&mut self, key: Option<JoinKey>, at: LinePosition) {
        let runtime = key.map(|key| key.runtime);
        let mut index = 0;
        while let Some(join) = self.pending.get(index) {
            let switched = runtime != Some(join.key.runtime);
            let too_old = at.line.saturating_sub(join.span.first.line) >= MAX_JOIN_LINES;
            if switched || too_old {
                self.given_up.push(self.pending.remove(index));
            } else {
                index += 1;
            }
        }
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
pub(super) struct Join {
    key: JoinKey,
    first: Unwrapped<'static>,
    span: Span,
    bytes: Vec<u8>,
    len: usize,
    too_long: bool,
}

impl Join {
    fn start(
        key: JoinKey,
        mut first: Unwrapped<'_>,
        at: LinePosition,
        max_line_bytes: usize,
    ) -> Join {
        let first_bytes = std::mem::take(&mut first.line);
        let first = first.into_owned();
        let span = Span { first: at, lines: 0 };
        let mut join = Join { key, first, span, bytes: Vec::new(), len: 0, too_long: false };
        join.push(&first_bytes, max_line_bytes);
        join
    }

    /// Appends a piece, or once over the cap only counts it (keeping the excerpt).
    fn push(&mut self, piece: &[u8], max_line_bytes: usize) {
        self.span.lines += 1;
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
            return Decoded::TooLong { len: self.len, excerpt: self.bytes, span: self.span };
        }
        let mut line = Cow::Owned(self.bytes);
        if complete {
            strip_suffix(&mut line, b"\r");
        }
        Decoded::Line(Unwrapped { line, partial: !complete, ..self.first }, self.span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::docker::SPLIT_BYTES;
    use crate::envelope::tests::{at, line, time};

    fn joined(decoded: Decoded<'_>) -> (Unwrapped<'_>, Span) {
        match decoded {
            Decoded::Line(unwrapped, span) => (unwrapped, span),
            other => panic!("expected a line, got {other:?}"),
        }
    }

    #[test]
    fn decoder_joins_cri_pieces_per_stream() {
        let mut decoder = EnvelopeDecoder::new(1024);
        let first = "2022-11-09T00:00:50.1Z stdout P ACCESS [2022-11-09T00:00:50.336Z] ";
        assert_eq!(decoder.decode(first.as_bytes(), at(1)), Decoded::Pending);
        let second = b"2022-11-09T00:00:50.2Z stdout P \"GET / ";
        assert_eq!(decoder.decode(second, at(2)), Decoded::Pending);
        let stderr = decoder.decode(b"2022-11-09T00:00:50.25Z stderr F warning", at(3));
        assert_eq!(line(&stderr), b"warning");
        assert_eq!(
            stderr,
            Decoded::Line(
                crate::envelope::unwrap(b"2022-11-09T00:00:50.25Z stderr F warning"),
                Span::one(at(3))
            )
        );
        assert!(decoder.has_pending());
        let last = decoder.decode(b"2022-11-09T00:00:50.3Z stdout F HTTP/1.1\" 200\r", at(4));
        let (joined, span) = joined(last);
        assert_eq!(&*joined.line, b"[2022-11-09T00:00:50.336Z] \"GET / HTTP/1.1\" 200");
        assert_eq!(joined.time, time("2022-11-09T00:00:50.1Z"));
        assert_eq!(joined.envelopes, Envelopes::CRI | Envelopes::ACCESS);
        assert_eq!(span, Span { first: at(1), lines: 3 });
        assert!(!joined.partial);
        assert!(!decoder.has_pending());
    }

    /// A Docker record of exactly 16 KiB without `\n`, as Docker's copier writes a line
    /// that fills its buffer, then the rest up to the record ending in `\n`.
    fn docker_piece(text: &str, time: &str) -> String {
        let text = serde_json::to_string(text).unwrap();
        format!(r#"{{"log":{text},"stream":"stdout","time":"{time}"}}"#)
    }

    #[test]
    fn decoder_joins_docker_pieces_and_keeps_first_details() {
        let mut decoder = EnvelopeDecoder::new(64 * 1024);
        let path = "x".repeat(2 * SPLIT_BYTES);
        let line = format!("[2022-11-09T00:00:50.336Z] \"GET /{path} HTTP/1.1\" 200");
        let (first, rest) = line.split_at(SPLIT_BYTES);
        let (second, last) = rest.split_at(SPLIT_BYTES);
        let first = format!("[pod/p/c] {}", docker_piece(first, "2019-01-01T11:11:11.1Z"));
        assert_eq!(decoder.decode(first.as_bytes(), at(1)), Decoded::Pending);
        let second = docker_piece(second, "2019-01-01T11:11:11.1Z");
        assert_eq!(decoder.decode(second.as_bytes(), at(2)), Decoded::Pending);
        let last = docker_piece(&format!("{last}\n"), "2019-01-01T11:11:11.2Z");
        let (joined, span) = joined(decoder.decode(last.as_bytes(), at(3)));
        assert_eq!(&*joined.line, line.as_bytes());
        assert_eq!(joined.proxy.as_deref(), Some("p"));
        assert_eq!(joined.time, time("2019-01-01T11:11:11.1Z"));
        assert_eq!(joined.stream, Some(Stream::Stdout));
        assert_eq!(span, Span { first: at(1), lines: 3 });
    }

    /// Docker's copier writes what is left of a line at the container's exit without
    /// `\n`: that record ends the join all the same.
    #[test]
    fn a_docker_record_shorter_than_a_piece_ends_the_join() {
        let mut decoder = EnvelopeDecoder::new(64 * 1024);
        let piece = docker_piece(&"a".repeat(SPLIT_BYTES), "2019-01-01T11:11:11Z");
        assert_eq!(decoder.decode(piece.as_bytes(), at(7)), Decoded::Pending);
        let end = docker_piece("bc", "2019-01-01T11:11:11Z");
        let (joined, span) = joined(decoder.decode(end.as_bytes(), at(8)));
        assert_eq!(joined.line.len(), SPLIT_BYTES + 2);
        assert_eq!(span, Span { first: at(7), lines: 2 });
        assert!(!decoder.has_pending());
    }

    #[test]
    fn decoder_caps_joined_lines() {
        let mut decoder = EnvelopeDecoder::new(300);
        let piece = format!("2022-11-09T00:00:50.1Z stdout P {}", "a".repeat(250));
        assert_eq!(decoder.decode(piece.as_bytes(), at(1)), Decoded::Pending);
        assert_eq!(decoder.decode(piece.as_bytes(), at(2)), Decoded::Pending);
        assert_eq!(decoder.decode(piece.as_bytes(), at(3)), Decoded::Pending);
        let total = decoder.pending.iter().map(|join| join.bytes.capacity()).sum::<usize>();
        assert!(total <= EXCERPT_BYTES, "kept {total} bytes");
        let excerpt = vec![b'a'; EXCERPT_BYTES];
        let expected =
            Decoded::TooLong { len: 753, excerpt, span: Span { first: at(1), lines: 4 } };
        assert_eq!(decoder.decode(b"2022-11-09T00:00:50.2Z stdout F bcd", at(4)), expected);
        assert!(!decoder.has_pending());
    }

    #[test]
    fn decoder_excerpt_spans_pieces_under_a_small_cap() {
        let mut decoder = EnvelopeDecoder::new(10);
        let first = b"2022-11-09T00:00:50.1Z stdout P 12345";
        assert_eq!(decoder.decode(first, at(1)), Decoded::Pending);
        let decoded = decoder.decode(b"2022-11-09T00:00:50.2Z stdout F 6789abcdef", at(2));
        let span = Span { first: at(1), lines: 2 };
        assert_eq!(
            decoded,
            Decoded::TooLong { len: 15, excerpt: b"123456789abcdef".to_vec(), span }
        );
    }

    #[test]
    fn decoder_finish_flushes_every_pending_join() {
        let mut decoder = EnvelopeDecoder::new(8);
        assert_eq!(decoder.decode(b"2022-11-09T00:00:50.1Z stdout P abc", at(1)), Decoded::Pending);
        assert_eq!(
            decoder.decode(b"2022-11-09T00:00:50.1Z stderr P 0123456789", at(2)),
            Decoded::Pending
        );
        assert!(decoder.flushed().is_none());
        let (first, span) = joined(decoder.finish().expect("the stdout join first"));
        assert_eq!((&*first.line, first.partial, span), (&b"abc"[..], true, Span::one(at(1))));
        let too_long =
            Decoded::TooLong { len: 10, excerpt: b"0123456789".to_vec(), span: Span::one(at(2)) };
        assert_eq!(decoder.finish(), Some(too_long));
        assert_eq!(decoder.finish(), None);
        assert!(!decoder.has_pending());
    }

    /// The input switched to lines without that envelope: the piece is a line of its own.
    #[test]
    fn a_join_is_given_up_when_the_envelope_changes() {
        let mut decoder = EnvelopeDecoder::new(1024);
        assert_eq!(decoder.decode(b"2022-11-09T00:00:50.1Z stdout P abc", at(1)), Decoded::Pending);
        let docker = docker_piece("x\n", "2019-01-01T11:11:11Z");
        assert_eq!(line(&decoder.decode(docker.as_bytes(), at(2))), b"x");
        let (given_up, span) = joined(decoder.flushed().expect("the CRI piece"));
        assert_eq!(
            (&*given_up.line, given_up.partial, span),
            (&b"abc"[..], true, Span::one(at(1)))
        );
        assert!(decoder.flushed().is_none());
        assert_eq!(decoder.decode(b"2022-11-09T00:00:50.1Z stdout P def", at(3)), Decoded::Pending);
        let plain = b"[2022-11-09T00:00:51.032Z] \"GET /favicon.ico HTTP/1.1\" 404";
        assert_eq!(line(&decoder.decode(plain, at(4))), plain);
        assert_eq!(line(&decoder.flushed().expect("the second piece")), b"def");
        assert!(!decoder.has_pending());
    }

    #[test]
    fn a_join_is_given_up_max_join_lines_after_its_first_piece() {
        let mut decoder = EnvelopeDecoder::new(1024);
        assert_eq!(decoder.decode(b"2022-11-09T00:00:50.1Z stdout P abc", at(1)), Decoded::Pending);
        let stderr = b"2022-11-09T00:00:50.1Z stderr F x";
        for n in 2..=MAX_JOIN_LINES {
            assert_eq!(line(&decoder.decode(stderr, at(n))), b"x");
            assert!(decoder.flushed().is_none(), "line {n}");
        }
        let late = decoder.decode(b"2022-11-09T00:00:50.1Z stdout F def", at(MAX_JOIN_LINES + 1));
        assert_eq!(line(&late), b"def");
        assert_eq!(line(&decoder.flushed().expect("the old piece")), b"abc");
    }
}
