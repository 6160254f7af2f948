//! Checks that container-envelope handling never panics: every `\n`-separated piece
//! goes through `envelope::unwrap` and one `EnvelopeDecoder`, `flushed()` drains the
//! joins each line gives up, then `finish()` drains those still pending. Also checks
//! the decoder's documented contracts: a `TooLong` is over the limit with an excerpt of
//! at most `EXCERPT_BYTES`; `flushed()` and `finish()` return only partial lines; and
//! every line comes out exactly once: the spans' line counts add up to the pieces read
//! and no span starts on the same line as another.
//! Input: byte 0 is `max_line_bytes` (0–255, so joins overflow easily); the rest is
//! the stream.

#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use meshlog_parsers::envelope::{
    self, Decoded, EXCERPT_BYTES, EnvelopeDecoder, LinePosition, Span,
};

fuzz_target!(|data: &[u8]| {
    let Some((&max_line_bytes, stream)) = data.split_first() else {
        return;
    };
    let max_line_bytes = usize::from(max_line_bytes);
    let mut decoder = EnvelopeDecoder::new(max_line_bytes);
    let mut accounted = Accounted::default();
    let mut pieces = 0;
    let mut offset = 0;
    for raw in stream.split(|&byte| byte == b'\n') {
        pieces += 1;
        let _ = envelope::unwrap(raw);
        let decoded = decoder.decode(raw, LinePosition::new(pieces, offset));
        accounted.add(&decoded, max_line_bytes, false);
        while let Some(flushed) = decoder.flushed() {
            accounted.add(&flushed, max_line_bytes, true);
        }
        offset += raw.len() as u64 + 1;
    }
    while let Some(decoded) = decoder.finish() {
        accounted.add(&decoded, max_line_bytes, true);
        assert!(accounted.lines <= pieces, "finish() returned more lines than were read");
    }
    assert!(!decoder.has_pending(), "joins still pending after finish() gave None");
    assert_eq!(accounted.lines, pieces, "every line is accounted exactly once");
});

/// The lines the decoder has given back so far.
#[derive(Default)]
struct Accounted {
    lines: u64,
    firsts: BTreeSet<u64>,
}

impl Accounted {
    fn add(&mut self, decoded: &Decoded<'_>, max_line_bytes: usize, held: bool) {
        let span = match decoded {
            Decoded::Pending => {
                assert!(!held, "a held join came back pending");
                return;
            }
            Decoded::Line(unwrapped, span) => {
                assert!(!held || unwrapped.partial, "a held join came back complete: {unwrapped:?}");
                span
            }
            Decoded::TooLong { len, excerpt, span } => {
                assert!(*len > max_line_bytes, "TooLong of {len} bytes within {max_line_bytes}");
                assert!(excerpt.len() <= EXCERPT_BYTES, "excerpt of {} bytes", excerpt.len());
                span
            }
        };
        self.count(*span);
    }

    fn count(&mut self, span: Span) {
        assert!(span.lines >= 1, "a span of no line");
        assert!(self.firsts.insert(span.first.line), "line {} given twice", span.first.line);
        self.lines += span.lines;
    }
}
