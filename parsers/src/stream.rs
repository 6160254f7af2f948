//! [`LogStream`]: the per-stream pipeline from a raw line to a record. It unwraps
//! container envelopes (joining partial CRI/Docker lines), then reads the inner line
//! with the stream's [`LineParser`]; the pod name from a `kubectl logs --prefix`
//! envelope fills `proxy` when the format itself has none.

use std::borrow::Cow;

use crate::envelope::{Decoded, EnvelopeDecoder, Unwrapped};
use crate::error::{ErrorKind, ParseError};
use crate::parser::{LineParser, Parsed};

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
    pub fn read<'a>(&'a mut self, raw: &'a [u8]) -> Option<Result<Parsed<'a>, ParseError>> {
        let decoded = self.decoder.decode(raw);
        outcome(&mut self.parser, decoded)
    }

    /// Ends the stream: each partial line still held is read as it is, one per
    /// call; call until `None`.
    pub fn finish(&mut self) -> Option<Result<Parsed<'static>, ParseError>> {
        let decoded = self.decoder.finish()?;
        outcome(&mut self.parser, decoded).map(|result| result.map(owned))
    }

    /// The reject for a line the framing found longer than the limit.
    pub fn too_long(&self, len: usize, head: &[u8]) -> ParseError {
        let kind = ErrorKind::TooLong { len, limit: self.parser.max_line_bytes() };
        ParseError::at(kind, head, 0)
    }
}

fn outcome<'a>(
    parser: &mut LineParser,
    decoded: Decoded<'a>,
) -> Option<Result<Parsed<'a>, ParseError>> {
    match decoded {
        Decoded::Pending => None,
        Decoded::Line(unwrapped) => Some(parse_unwrapped(parser, unwrapped)),
        Decoded::TooLong { len, excerpt } => {
            let kind = ErrorKind::TooLong { len, limit: parser.max_line_bytes() };
            Some(Err(ParseError::at(kind, &excerpt, 0)))
        }
    }
}

fn parse_unwrapped<'a>(
    parser: &mut LineParser,
    unwrapped: Unwrapped<'a>,
) -> Result<Parsed<'a>, ParseError> {
    let proxy = unwrapped.proxy;
    let mut parsed = match unwrapped.line {
        Cow::Borrowed(line) => parser.parse(line)?,
        Cow::Owned(line) => owned(parser.parse(&line)?),
    };
    if parsed.record.proxy.is_none() {
        parsed.record.proxy = proxy;
    }
    Ok(parsed)
}

fn owned(parsed: Parsed<'_>) -> Parsed<'static> {
    Parsed { record: parsed.record.into_owned(), format: parsed.format }
}
