//! The joining half of [`EnvelopeDecoder`]: pieces of one split line (CRI `P` lines up to
//! the `F`, Docker records up to the one ending in `\n`) gathered per envelope kind and
//! stream into a [`Join`], which keeps the first piece's envelope details and, once past
//! the cap, only counts bytes and an excerpt, so memory stays bounded on any input.

use std::borrow::Cow;

use super::{Decoded, EXCERPT_BYTES, EnvelopeDecoder, Envelopes, Stream, Unwrapped, strip_suffix};

impl EnvelopeDecoder {
    /// Adds a piece to the join at `index`, returning the joined line once its last piece
    /// has come.
    pub(super) fn continue_join(
        &mut self,
        index: usize,
        piece: &Unwrapped<'_>,
    ) -> Decoded<'static> {
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
pub(super) struct JoinKey {
    runtime: Envelopes,
    stream: Option<Stream>,
}

impl JoinKey {
    /// The key of a piece, or `None` for lines whose envelope never splits them.
    pub(super) fn of(piece: &Unwrapped<'_>) -> Option<JoinKey> {
        let runtime = [Envelopes::DOCKER, Envelopes::CRI]
            .into_iter()
            .find(|&kind| piece.envelopes.contains(kind))?;
        Some(JoinKey { runtime, stream: piece.stream })
    }
}

/// A line being joined from pieces, with the first piece's envelope details.
#[derive(Debug, Clone)]
pub(super) struct Join {
    pub(super) key: JoinKey,
    first: Unwrapped<'static>,
    bytes: Vec<u8>,
    len: usize,
    too_long: bool,
}

impl Join {
    pub(super) fn start(key: JoinKey, mut first: Unwrapped<'_>, max_line_bytes: usize) -> Join {
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

    pub(super) fn into_decoded(self, complete: bool) -> Decoded<'static> {
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
    use crate::envelope::tests::{line, time};

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
        let docker = br#"{"log":"0123456789","stream":"stderr","time":"2019-01-01T11:11:11Z"}"#;
        assert_eq!(decoder.decode(docker), Decoded::Pending);
        let Some(Decoded::Line(first)) = decoder.finish() else { panic!("the CRI join first") };
        assert_eq!((&*first.line, first.partial), (&b"abc"[..], true));
        let too_long = Decoded::TooLong { len: 10, excerpt: b"0123456789".to_vec() };
        assert_eq!(decoder.finish(), Some(too_long));
        assert_eq!(decoder.finish(), None);
    }
}
