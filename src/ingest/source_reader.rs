//! One input being read: its framing, its `LogStream` (format detection and
//! partial lines), and where it stands: the offset up to which every line has been
//! turned into a row or a reject (what a commit records), the line count, and the
//! time of its latest row, by which the pipeline interleaves several inputs.

use std::io::BufRead;

use meshlog_parsers::stream::LogStream;
use meshlog_parsers::{AccessLogRecord, LineParser};

use super::IngestError;
use super::lines::{Line, LineReader};
use super::source::OpenedSource;
use crate::process::{LineOrigin, Processor};
use crate::storage::commit_log::{FileIdentity, SourcePosition};

/// A source and its reading state.
pub struct SourceReader {
    pub name: String,
    identity: Option<FileIdentity>,
    start_offset: u64,
    lines: LineReader<Box<dyn BufRead + Send>>,
    stream: LogStream,
    /// Offset up to which every line has produced its row or reject.
    done_offset: u64,
    line: u64,
    /// Time of the latest row read, µs.
    pub last_ts: Option<i64>,
    pub finished: bool,
}

/// Why a slice of reading stopped.
pub struct SliceEnd {
    pub bytes_read: u64,
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
            lines: LineReader::new(source.reader, stream.max_line_bytes()),
            stream,
            name: source.name,
            identity: source.identity,
            start_offset: source.start_offset,
            done_offset: source.start_offset,
            line: source.start_line,
            last_ts: None,
            finished: false,
        })
    }

    /// Bytes consumed from the input so far, counting from where reading started.
    pub fn bytes_read(&self) -> u64 {
        self.lines.offset()
    }

    /// Reads lines into `processor` until a row is later than `until` (when given),
    /// `max_lines` lines were read, or the input ends.
    pub fn read_slice(
        &mut self,
        processor: &mut Processor,
        until: Option<i64>,
        max_lines: u64,
    ) -> Result<(), IngestError> {
        for _ in 0..max_lines {
            let line_start = self.start_offset + self.lines.offset();
            let line = self.lines.next_line().map_err(|error| IngestError::Read {
                path: self.name.clone().into(),
                source: error,
            })?;
            let Some(line) = line else {
                self.finish(processor);
                return Ok(());
            };
            self.line += 1;
            let origin = LineOrigin { source: &self.name, offset: line_start, line: self.line };
            let (complete, ts) = read_line(line, &mut self.stream, processor, origin);
            if complete {
                self.done_offset = self.start_offset + self.lines.offset();
            }
            if let Some(ts) = ts {
                self.last_ts = Some(self.last_ts.map_or(ts, |last| last.max(ts)));
                if until.is_some_and(|until| ts > until) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Reads what the stream still holds at the end (an unfinished partial line).
    fn finish(&mut self, processor: &mut Processor) {
        while let Some(outcome) = self.stream.finish() {
            let origin =
                LineOrigin { source: &self.name, offset: self.done_offset, line: self.line };
            processor.outcome(outcome, b"", origin);
        }
        self.done_offset = self.start_offset + self.lines.offset();
        self.finished = true;
    }

    /// Where this source stands, for a commit; `None` for stdin.
    pub fn position(&self) -> Option<SourcePosition> {
        let identity = self.identity?;
        Some(SourcePosition {
            path: self.name.clone(),
            identity,
            offset: self.done_offset,
            lines: self.line,
        })
    }
}

/// Reads one line; returns whether it is complete (not held as the start of a
/// partial line) and the time of the row it became.
fn read_line(
    line: Line<'_>,
    stream: &mut LogStream,
    processor: &mut Processor,
    origin: LineOrigin<'_>,
) -> (bool, Option<i64>) {
    match line {
        Line::Complete(raw) => {
            let mut record = AccessLogRecord::default();
            match stream.read_into(raw, &mut record) {
                Some(Ok(_format)) => (true, processor.handle_parsed(&record, raw, origin)),
                Some(Err(rejected)) => {
                    processor.handle_rejected(&rejected, origin);
                    (true, None)
                }
                None => (false, None),
            }
        }
        Line::TooLong { len, head } => {
            let error = stream.too_long(len, head);
            processor.reject_too_long(&error, head, origin);
            (true, None)
        }
    }
}
