//! Framing: splits a byte stream into lines with bounded memory. A line that lies
//! whole in the reader's buffer is handed out from there, without a copy; one that
//! straddles a refill is gathered into a buffer of its own. A line longer than the
//! limit is not buffered whole: its first bytes are kept for the reject record, the
//! rest is skipped up to the next newline, and its full length is reported.

use std::io::{self, BufRead};

/// Bytes of an overlong line kept for its reject record.
const OVERLONG_EXCERPT_BYTES: usize = 256;

/// One line read from the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'b> {
    /// A complete line, without its `\n`.
    Complete(&'b [u8]),
    /// A line over the limit: its length and its first bytes.
    TooLong { len: usize, head: &'b [u8] },
}

/// Reads lines of at most `max_bytes` from a buffered reader.
pub struct LineReader<R> {
    reader: R,
    max_bytes: usize,
    buffer: Vec<u8>,
    /// Bytes of the reader's buffer handed out as the last line, consumed on the next call.
    handed_out: usize,
    /// Byte offset of the next line in the input.
    offset: u64,
    /// The last line handed out ended at the end of the input, without a newline.
    unterminated: bool,
    /// Leave such a line unread instead (a writer may be in the middle of it).
    hold_unterminated: bool,
    /// Bytes of the line left so.
    held: Option<u64>,
}

impl<R: BufRead> LineReader<R> {
    /// A reader that accepts lines of up to `max_bytes` bytes.
    pub fn new(reader: R, max_bytes: usize) -> Self {
        LineReader {
            reader,
            max_bytes,
            buffer: Vec::new(),
            handed_out: 0,
            offset: 0,
            unterminated: false,
            hold_unterminated: false,
            held: None,
        }
    }

    /// Leaves a last line without its newline unread: [`Self::next_line`] ends the
    /// input before it, [`Self::offset`] stays at its start, and [`Self::held`] says
    /// how long it was.
    pub fn hold_unterminated(mut self, hold: bool) -> Self {
        self.hold_unterminated = hold;
        self
    }

    /// Bytes of the unterminated last line left unread, if one was.
    pub fn held(&self) -> Option<u64> {
        self.held
    }

    /// Whether the last line handed out ended at the end of the input without a
    /// newline: a writer may be in the middle of it.
    pub fn last_unterminated(&self) -> bool {
        self.unterminated
    }

    /// Byte offset in the input where the next line starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next line, or `None` at the end of the input.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.reader.consume(std::mem::take(&mut self.handed_out));
        self.unterminated = false;
        if let Some(len) = self.whole_line_in_buffer()? {
            self.handed_out = len + 1;
            self.offset += len as u64 + 1;
            let available = self.reader.fill_buf()?;
            return Ok(Some(Line::Complete(&available[..len])));
        }
        self.buffer.clear();
        let mut len = 0usize;
        let mut ended = false;
        let mut found_newline = false;
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                break;
            }
            let (chunk_len, found) = match memchr_newline(available) {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            let content = &available[..chunk_len - usize::from(found)];
            let room = self.max_bytes.saturating_add(1).saturating_sub(self.buffer.len());
            self.buffer.extend_from_slice(&content[..content.len().min(room)]);
            len += content.len();
            self.reader.consume(chunk_len);
            self.offset += chunk_len as u64;
            ended = true;
            if found {
                found_newline = true;
                break;
            }
        }
        if !ended {
            return Ok(None);
        }
        self.unterminated = !found_newline;
        if self.unterminated && self.hold_unterminated {
            self.offset -= len as u64;
            self.held = Some(len as u64);
            return Ok(None);
        }
        Ok(Some(self.finish_line(len)))
    }

    /// The length of the next line when it lies whole (newline included) in the
    /// reader's buffer and within the limit.
    fn whole_line_in_buffer(&mut self) -> io::Result<Option<usize>> {
        let available = self.reader.fill_buf()?;
        Ok(memchr_newline(available).filter(|&len| len <= self.max_bytes))
    }

    fn finish_line(&self, len: usize) -> Line<'_> {
        if len > self.max_bytes {
            let head = &self.buffer[..self.buffer.len().min(OVERLONG_EXCERPT_BYTES)];
            return Line::TooLong { len, head };
        }
        Line::Complete(&self.buffer)
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<String> {
        let mut reader = LineReader::new(input, max);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            out.push(match line {
                Line::Complete(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                Line::TooLong { len, head } => format!("too long {len} {}", head.len()),
            });
        }
        out
    }

    #[test]
    fn splits_on_newlines_and_keeps_a_last_unterminated_line() {
        assert_eq!(lines(b"a\nbb\n\nccc", 10), ["a", "bb", "", "ccc"]);
    }

    #[test]
    fn a_last_line_without_its_newline_is_marked() {
        let mut reader = LineReader::new(&b"a\nhalf a li"[..], 100);
        assert_eq!(reader.next_line().unwrap(), Some(Line::Complete(b"a")));
        assert!(!reader.last_unterminated());
        assert_eq!(reader.next_line().unwrap(), Some(Line::Complete(b"half a li")));
        assert!(reader.last_unterminated());
        assert_eq!(reader.next_line().unwrap(), None);
        let mut holding = LineReader::new(&b"a\nhalf a li"[..], 100).hold_unterminated(true);
        assert_eq!(holding.next_line().unwrap(), Some(Line::Complete(b"a")));
        assert_eq!(holding.next_line().unwrap(), None);
        assert_eq!((holding.offset(), holding.held()), (2, Some(9)));
    }

    #[test]
    fn overlong_lines_are_reported_with_their_length_and_reading_goes_on() {
        let mut input = vec![b'x'; 1000];
        input.extend_from_slice(b"\nok\n");
        assert_eq!(lines(&input, 100), ["too long 1000 101", "ok"]);
    }

    #[test]
    fn lines_straddling_buffer_refills_are_whole() {
        let input = b"first line\nsecond, longer line\n\nlast".repeat(3);
        let reader = io::BufReader::with_capacity(7, &input[..]);
        let mut lines = LineReader::new(reader, 100);
        let mut out = Vec::new();
        while let Some(Line::Complete(line)) = lines.next_line().unwrap() {
            out.push(String::from_utf8_lossy(line).into_owned());
        }
        let expected =
            String::from_utf8_lossy(&input).split('\n').map(String::from).collect::<Vec<_>>();
        assert_eq!(out, expected);
        assert_eq!(lines.offset(), input.len() as u64);
    }

    #[test]
    fn tracks_byte_offsets() {
        let mut reader = LineReader::new(&b"ab\ncd\n"[..], 10);
        reader.next_line().unwrap();
        assert_eq!(reader.offset(), 3);
    }
}
