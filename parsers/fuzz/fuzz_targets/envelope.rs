//! Checks that container-envelope handling never panics: every `\n`-separated piece
//! goes through `envelope::unwrap` and one `EnvelopeDecoder`, then `finish()` drains
//! the joins still pending. Also checks the decoder's documented contracts: a
//! `TooLong` is over the limit with an excerpt of at most `EXCERPT_BYTES`, `finish()`
//! returns only partial lines, and draining ends.
//! Input: byte 0 is `max_line_bytes` (0–255, so joins overflow easily); the rest is
//! the stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshlog_parsers::envelope::{self, Decoded, EXCERPT_BYTES, EnvelopeDecoder};

fuzz_target!(|data: &[u8]| {
    let Some((&max_line_bytes, stream)) = data.split_first() else {
        return;
    };
    let max_line_bytes = usize::from(max_line_bytes);
    let mut decoder = EnvelopeDecoder::new(max_line_bytes);
    let mut pieces = 0;
    for raw in stream.split(|&byte| byte == b'\n') {
        let _ = envelope::unwrap(raw);
        check_too_long(&decoder.decode(raw), max_line_bytes);
        pieces += 1;
    }
    let mut drained = 0;
    while let Some(decoded) = decoder.finish() {
        drained += 1;
        assert!(drained <= pieces, "finish() returned more joins than pieces were read");
        check_too_long(&decoded, max_line_bytes);
        if let Decoded::Line(unwrapped) = decoded {
            assert!(unwrapped.partial, "finish() returned a complete line: {unwrapped:?}");
        }
    }
    assert!(!decoder.has_pending(), "joins still pending after finish() gave None");
});

fn check_too_long(decoded: &Decoded<'_>, max_line_bytes: usize) {
    if let Decoded::TooLong { len, excerpt } = decoded {
        assert!(*len > max_line_bytes, "TooLong of {len} bytes within {max_line_bytes}");
        assert!(excerpt.len() <= EXCERPT_BYTES, "excerpt of {} bytes", excerpt.len());
    }
}
