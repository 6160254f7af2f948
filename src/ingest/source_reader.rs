//! One input being read: its framing, its `LogStream` (format detection and
//! partial lines), and where it stands: the position (offset and line count) up to
//! which every line has been turned into a row or a reject (what a commit records),
//! the line count, and the time of its latest row, by which the pipeline interleaves
//! several inputs. A slice of reading ends only where no piece of a split line is
//! held, so that a commit's position never falls between a held piece and lines
//! already stored after it: a restart then neither loses the piece nor repeats those
//! lines, and resumes with the right line numbers.

use std::io::BufRead;
use std::time::Instant;

use meshlog_parsers::envelope::{LinePosition, Span};
use meshlog_parsers::stream::LogStream;
use meshlog_parsers::{AccessLogRecord, LineParser};

use super::IngestError;
use super::lines::{Line, LineReader};
use super::source::OpenedSource;
use crate::process::{LineOrigin, Processor};
use crate::storage::commit_log::{FileIdentity, FilePosition};

/// A source and its reading state.
pub struct SourceReader {
    pub name: String,
    identity: Option<FileIdentity>,
    start_offset: u64,
    lines: LineReader<Box<dyn BufRead + Send>>,
    stream: LogStream,
    /// Offset up to which every line has produced its row or reject.
    done_offset: u64,
    /// Lines before `done_offset`.
    done_line: u64,
    /// Lines read.
    line: u64,
    /// Time of the latest row read, µs.
    pub last_ts: Option<i64>,
    pub finished: bool,
    /// Bytes of an unterminated last line left for the next read.
    pub held_partial: Option<u64>,
    /// It starts before its committed position (truncated): that must be committed.
    pub moved_back: bool,
}

impl SourceReader {
    /// Starts reading `source` with a parser for `format`.
    pub fn new(
        source: OpenedSource,
        format: &str,
        max_line_bytes: usize,
    ) -> Result<SourceReader, IngestError> {
        let parser = LineParser::new(format)
            .map_err(|error| IngestError::Format { spec: format.to_owned(), source: error })?
            .with_max_line_bytes(max_line_bytes);
        let stream = LogStream::new(parser);
        Ok(SourceReader {
            lines: LineReader::new(source.reader, stream.max_line_bytes())
                .hold_unterminated(source.hold_partial_line),
            stream,
            name: source.name,
            identity: source.identity,
            start_offset: source.start_offset,
            done_offset: source.start_offset,
            done_line: source.start_line,
            line: source.start_line,
            last_ts: None,
            finished: false,
            held_partial: None,
            moved_back: source.moved_back,
        })
    }

    /// Bytes consumed from the input so far, counting from where reading started.
    pub fn bytes_read(&self) -> u64 {
        self.lines.offset()
    }

    /// Whether this is a stream (stdin, a FIFO), which may never end.
    pub fn is_stream(&self) -> bool {
        self.identity.is_none()
    }

    /// Reads lines into `processor` until a row is later than `until` (when given),
    /// `max_lines` lines were read, a line is read past `deadline` (when given), or
    /// the input ends; past that, on to where no piece of a split line is held (at
    /// most [`meshlog_parsers::envelope::MAX_JOIN_LINES`] lines further).
    pub fn read_slice(
        &mut self,
        processor: &mut Processor,
        until: Option<i64>,
        max_lines: u64,
        deadline: Option<Instant>,
    ) -> Result<(), IngestError> {
        let mut read = 0;
        let mut stop = false;
        while !(stop || read >= max_lines) || self.stream.has_pending() {
            let Some(ts) = self.read_line(processor)? else { return Ok(()) };
            read += 1;
            stop |= deadline.is_some_and(|deadline| Instant::now() >= deadline);
            if let Some(ts) = ts {
                self.last_ts = Some(self.last_ts.map_or(ts, |last| last.max(ts)));
                stop |= until.is_some_and(|until| ts > until);
            }
        }
        Ok(())
    }

    /// Reads the next line: `None` at the end of the input (which it finishes),
    /// else the time of the rows it (and joins it ended) became.
    fn read_line(&mut self, processor: &mut Processor) -> Result<Option<Option<i64>>, IngestError> {
        let at = LinePosition::new(self.line + 1, self.start_offset + self.lines.offset());
        let line = self
            .lines
            .next_line()
            .map_err(|error| IngestError::Read { path: self.name.clone().into(), source: error })?;
        let Some(line) = line else {
            self.finish(processor);
            return Ok(None);
        };

        self.line = at.line;
        let mut ts = read_line(line, at, &mut self.stream, processor, &self.name);
        while let Some((span, outcome)) = self.stream.flushed() {
            let held = processor.outcome(outcome, b"", LineOrigin::new(&self.name, span));
            ts = ts.max(held);
        }
        if !self.stream.has_pending() {
            self.done_offset = self.start_offset + self.lines.offset();
            self.done_line = self.line;
        }
        Ok(Some(ts))
    }

    /// Reads what the stream still holds at the end (an unfinished partial line).
    fn finish(&mut self, processor: &mut Processor) {
        while let Some((span, outcome)) = self.stream.finish() {
            processor.outcome(outcome, b"", LineOrigin::new(&self.name, span));
        }
        self.done_offset = self.start_offset + self.lines.offset();
        self.done_line = self.line;
        self.finished = true;
        self.held_partial = self.lines.held();
    }

    /// Where this source stands, for a commit; `None` for stdin.
    pub fn position(&self) -> Option<FilePosition> {
        let identity = self.identity?;
        Some(FilePosition {
            path: self.name.clone(),
            identity,
            offset: self.done_offset,
            lines: self.done_line,
        })
    }
}

/// Reads one line that starts `at`; returns the time of the row it (or the split
/// line it ended) became.
pub(crate) fn read_line(
    line: Line<'_>,
    at: LinePosition,
    stream: &mut LogStream,
    processor: &mut Processor,
    source: &str,
) -> Option<i64> {
    match line {
        Line::Complete(raw) => {
            let mut record = AccessLogRecord::default();
            let (span, read) = stream.read_into(raw, at, &mut record)?;
            let origin = LineOrigin::new(source, span);
            match read {
                Ok(_format) => processor.handle_parsed(&record, raw, origin),
                Err(rejected) => {
                    processor.handle_rejected(&rejected, origin);
                    None
                }
            }
        }
        Line::TooLong { len, head } => {
            let error = stream.too_long(len, head);
            processor.reject_too_long(&error, head, LineOrigin::new(source, Span::one(at)));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, RecordBatch};
    use arrow::datatypes::Int64Type;

    use super::*;
    use crate::enrich::Topology;

    /// A CRI file whose stdout line 2 is split, its last piece on line 5, with stderr
    /// lines between; every line is garbage to the `istio` format, so each is a reject
    /// (the joined line one reject of lines 2 and 5).
    const CRI: &str = "2022-11-09T00:00:50.1Z stdout F one\n\
                       2022-11-09T00:00:50.2Z stdout P two-\n\
                       2022-11-09T00:00:50.3Z stderr F three\n\
                       2022-11-09T00:00:50.4Z stderr F four\n\
                       2022-11-09T00:00:50.5Z stdout F five\n\
                       2022-11-09T00:00:50.6Z stdout F six\n";

    fn reader(text: &'static str, start_offset: u64, start_line: u64) -> SourceReader {
        let bytes = text.as_bytes().get(usize::try_from(start_offset).unwrap()..).unwrap();
        let identity = FileIdentity { device: 1, inode: 2, fingerprint: 3, fingerprint_len: 4 };
        let source = OpenedSource {
            name: "cri.log".to_owned(),
            reader: Box::new(bytes),
            identity: Some(identity),
            start_offset,
            start_line,
            len: Some(text.len() as u64),
            hold_partial_line: false,
            resumed_as: None,
            moved_back: false,
        };
        SourceReader::new(source, "istio", 1 << 16).unwrap()
    }

    /// `(line, offset, lines)` of each reject.
    fn rejects(batch: &RecordBatch) -> Vec<(i64, i64, i64)> {
        let column =
            |name: &str| batch.column_by_name(name).unwrap().as_primitive::<Int64Type>().clone();
        let (line, offset, lines) = (column("line"), column("offset"), column("lines"));
        (0..batch.num_rows())
            .map(|row| (line.value(row), offset.value(row), lines.value(row)))
            .collect()
    }

    fn offset_of(line: usize) -> u64 {
        CRI.split_inclusive('\n').take(line - 1).map(|text| text.len() as u64).sum()
    }

    /// A commit never records a position between a held piece and lines stored after
    /// it: a slice reads on to where nothing is held, and the position says so.
    #[test]
    fn a_slice_ends_where_no_piece_is_held() {
        let mut processor = Processor::new(Arc::new(Topology::default()), None);
        let mut reader = reader(CRI, 0, 0);
        let mut positions = Vec::new();
        while !reader.finished {
            reader.read_slice(&mut processor, None, 1, None).unwrap();
            let position = reader.position().unwrap();
            positions.push((position.lines, position.offset));
        }
        let clean = |line: usize| (line as u64, offset_of(line + 1));
        assert_eq!(positions, [clean(1), clean(5), clean(6), clean(6)]);
        let (_, batch) = processor.take_batches().unwrap();
        let at = |line: usize| offset_of(line) as i64;
        let expected = [(1, at(1), 1), (3, at(3), 1), (4, at(4), 1), (2, at(2), 2), (6, at(6), 1)];
        assert_eq!(rejects(&batch), expected);
        assert_eq!(processor.counts().lines, 6);
    }

    /// Resumed from a committed position, lines keep their numbers and offsets.
    #[test]
    fn a_resumed_reader_numbers_lines_as_the_first_run_did() {
        let mut processor = Processor::new(Arc::new(Topology::default()), None);
        let mut reader = reader(CRI, offset_of(6), 5);
        reader.read_slice(&mut processor, None, 10, None).unwrap();
        let (_, batch) = processor.take_batches().unwrap();
        assert_eq!(rejects(&batch), [(6, offset_of(6) as i64, 1)]);
        assert_eq!(reader.position().unwrap().lines, 6);
    }
}
