//! A request's records turned into rows: one [`Processor`] per reporting cluster
//! named in the request, each line through the same framing, parsing and tagging as
//! a file's ([`read_line`]), split lines joined within the request. A line that does
//! not parse is a reject with its reason, never an error: a request's lines are all
//! accounted, `accepted + rejected = lines`.

use std::sync::Arc;

use arrow::array::Array;
use arrow::compute::concat_batches;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use meshlog_parsers::envelope::LinePosition;
use meshlog_parsers::stream::LogStream;
use meshlog_parsers::{AccessLogRecord, FormatError, LineParser};

use super::body::Record;
use super::sink::Parsed;
use crate::enrich::Topology;
use crate::ingest::lines::Line;
use crate::ingest::source_reader::read_line;
use crate::process::{LineOrigin, Processor};
use crate::storage::StorageError;
use crate::storage::schema;
use crate::storage::staging::AppendedTable;

/// Bytes of an over-long line kept in its reject.
const TOO_LONG_HEAD_BYTES: usize = 256;

/// How a request's lines are read.
pub struct LineSettings<'a> {
    pub topology: &'a Arc<Topology>,
    pub format: &'a str,
    pub max_line_bytes: usize,
    /// The name rejects give as their source (`http`, `http batch <id>`).
    pub source: &'a str,
}

/// Why a request's lines could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("format {spec:?}: {source}")]
    Format {
        spec: String,
        #[source]
        source: FormatError,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Parses and tags `records`, each under its own reporting cluster or `default_cluster`.
pub fn parse_records(
    settings: &LineSettings<'_>,
    records: &[Record<'_>],
    default_cluster: Option<&Arc<str>>,
) -> Result<Parsed, ParseError> {
    let mut groups: Vec<(Option<Arc<str>>, LineBatch)> = Vec::new();
    for record in records {
        let cluster = record.source_cluster.as_deref().map(Arc::from).or(default_cluster.cloned());
        let index = match groups.iter().position(|(name, _)| *name == cluster) {
            Some(index) => index,
            None => {
                groups.push((cluster.clone(), LineBatch::new(settings, cluster)?));
                groups.len() - 1
            }
        };
        groups[index].1.push(&record.line);
    }
    if groups.is_empty() {
        let requests = RecordBatch::new_empty(schema::requests());
        let rejects = RecordBatch::new_empty(schema::rejects());
        return Ok(Parsed { requests, rejects, accepted: 0, rejected: 0 });
    }
    let mut parts = Vec::with_capacity(groups.len());
    for (_, batch) in groups {
        parts.push(batch.finish()?);
    }
    merge(parts)
}

/// The lines of one reporting cluster.
struct LineBatch<'s> {
    stream: LogStream,
    processor: Processor,
    source: &'s str,
    max_line_bytes: usize,
    line: u64,
    offset: u64,
}

impl<'s> LineBatch<'s> {
    fn new(settings: &LineSettings<'s>, cluster: Option<Arc<str>>) -> Result<Self, ParseError> {
        let parser = LineParser::new(settings.format)
            .map_err(|source| ParseError::Format { spec: settings.format.to_owned(), source })?
            .with_max_line_bytes(settings.max_line_bytes);
        Ok(LineBatch {
            stream: LogStream::new(parser),
            processor: Processor::new(settings.topology.clone(), cluster),
            source: settings.source,
            max_line_bytes: settings.max_line_bytes,
            line: 0,
            offset: 0,
        })
    }

    fn push(&mut self, raw: &[u8]) {
        self.line += 1;
        let at = LinePosition::new(self.line, self.offset);
        self.offset += raw.len() as u64 + 1;
        let line = match raw.len() > self.max_line_bytes {
            true => {
                Line::TooLong { len: raw.len(), head: &raw[..TOO_LONG_HEAD_BYTES.min(raw.len())] }
            }
            false => Line::Complete(raw),
        };
        read_line(line, at, &mut self.stream, &mut self.processor, self.source);
        while let Some((span, outcome)) = self.stream.flushed() {
            self.processor.outcome(outcome, b"", LineOrigin::new(self.source, span));
        }
    }

    fn finish(mut self) -> Result<Parsed, ParseError> {
        while let Some((span, outcome)) = self.stream.finish() {
            self.processor.outcome(outcome, b"", LineOrigin::new(self.source, span));
        }
        parsed_of(self.processor)
    }
}

/// Tags and stores records that arrive typed (Envoy's gRPC access-log entries), all
/// under `cluster`. One with no start time is a reject whose line is its JSON.
pub fn rows_of_records(
    topology: &Arc<Topology>,
    source: &str,
    cluster: Option<Arc<str>>,
    records: &[AccessLogRecord<'_>],
) -> Result<Parsed, ParseError> {
    let mut processor = Processor::new(topology.clone(), cluster);
    for (line, record) in (1..).zip(records) {
        let origin = LineOrigin { source, offset: 0, line, lines: 1 };
        let raw = match record.ts {
            Some(_) => Vec::new(),
            None => serde_json::to_vec(record).unwrap_or_default(),
        };
        processor.handle_parsed(record, &raw, origin);
    }
    parsed_of(processor)
}

/// What `processor` made, its buffers cut to their contents.
fn parsed_of(mut processor: Processor) -> Result<Parsed, ParseError> {
    let counts = processor.counts();
    let (requests, rejects) = processor.take_batches()?;
    let rejected = counts.rejected();
    let requests = shrunk(AppendedTable::Requests, requests)?;
    let rejects = shrunk(AppendedTable::Rejects, rejects)?;
    Ok(Parsed { requests, rejects, accepted: counts.lines - rejected, rejected })
}

/// `batch` with each buffer cut to its contents. Builders grow their buffers by
/// doubling, a third of them empty on average, and these rows stay in memory until
/// they are in Parquet; cutting a buffer is a `realloc` in place, not a copy.
fn shrunk(table: AppendedTable, batch: RecordBatch) -> Result<RecordBatch, StorageError> {
    let (schema, mut columns, rows) = batch.into_parts();
    columns.iter_mut().for_each(Array::shrink_to_fit);
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(schema, columns, &options)
        .map_err(|source| StorageError::Arrow { table: table.dir(), source })
}

fn merge(mut parts: Vec<Parsed>) -> Result<Parsed, ParseError> {
    if parts.len() == 1 {
        return Ok(parts.remove(0));
    }
    let requests: Vec<RecordBatch> = parts.iter().map(|part| part.requests.clone()).collect();
    let rejects: Vec<RecordBatch> = parts.iter().map(|part| part.rejects.clone()).collect();
    let requests = concat_rows(AppendedTable::Requests, &requests)?;
    let rejects = concat_rows(AppendedTable::Rejects, &rejects)?;
    Ok(Parsed {
        requests,
        rejects,
        accepted: parts.iter().map(|part| part.accepted).sum(),
        rejected: parts.iter().map(|part| part.rejected).sum(),
    })
}

/// One batch of `batches` of `table` (rows that share a schema; none gives an
/// empty batch of the table's).
pub fn concat_rows(
    table: AppendedTable,
    batches: &[RecordBatch],
) -> Result<RecordBatch, StorageError> {
    let schema = match batches.first() {
        Some(batch) => batch.schema(),
        None => match table {
            AppendedTable::Rejects => schema::rejects(),
            _ => schema::requests(),
        },
    };
    concat_batches(&schema, batches)
        .map_err(|source| StorageError::Arrow { table: table.dir(), source })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::borrow::Cow;

    use arrow::array::ArrayData;

    use super::*;
    use crate::enrich::Topology;

    /// Bytes allocated beyond what the buffers of `data` (and its children) hold.
    fn spare_bytes(data: &ArrayData) -> usize {
        let buffers = data.buffers().iter().chain(data.nulls().map(|nulls| nulls.buffer()));
        let own: usize = buffers.map(|buffer| buffer.capacity() - buffer.len()).sum();
        own + data.child_data().iter().map(spare_bytes).sum::<usize>()
    }

    /// The rows of a request stay in memory until they are in Parquet; they were
    /// held in the builders' buffers, grown by doubling, a third empty on average.
    #[test]
    fn parsed_rows_hold_no_spare_capacity() {
        let sample = std::fs::read("samples/access-logs/istio-1.23.log").unwrap();
        let lines: Vec<&[u8]> =
            sample.split(|byte| *byte == b'\n').filter(|l| !l.is_empty()).collect();
        let records: Vec<Record<'_>> = (0..300)
            .flat_map(|_| lines.iter())
            .map(|line| Record { line: Cow::Borrowed(*line), source_cluster: None })
            .collect();
        let topology = Arc::new(Topology::default());
        let settings = LineSettings {
            topology: &topology,
            format: "istio",
            max_line_bytes: 1 << 20,
            source: "http",
        };
        let parsed = parse_records(&settings, &records, None).unwrap();
        assert!(parsed.requests.num_rows() > 3000, "{} rows", parsed.requests.num_rows());
        for (field, column) in
            parsed.requests.schema().fields().iter().zip(parsed.requests.columns())
        {
            assert_eq!(spare_bytes(&column.to_data()), 0, "column {}", field.name());
        }
    }
}
