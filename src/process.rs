//! Processing: one raw line in, a stored row (or a reject) out. The [`Processor`]
//! owns the stage between framing and storage: it unwraps and parses the line
//! (`LogStream`), tags it (`Enricher`), and appends a row to the Arrow builders of
//! `requests` or `rejects`. It is synchronous and runs on its own thread; the
//! committer feeds the failover detector from the batches it hands over
//! ([`observations`]) and writes them.

pub mod failovers;
mod number_column;
pub mod observations;
pub mod rejects;
pub mod requests;
mod text_column;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use meshlog_parsers::AccessLogRecord;
use meshlog_parsers::envelope::Span;
use meshlog_parsers::stream::{Outcome, Rejected};

use crate::enrich::{ClusterId, ClusterNameCache, Enricher, HostCache, Locality, Topology};
use crate::storage::StorageError;
use rejects::{RejectRow, RejectsBuilder};
use requests::{RequestsBuilder, RowContext};

/// The reason code of a parsed line that has no time of its own.
pub const NO_TIMESTAMP: &str = "no_timestamp";

/// Where a line came from, for its reject record.
#[derive(Debug, Clone, Copy)]
pub struct LineOrigin<'a> {
    pub source: &'a str,
    /// Byte offset of the line (of a joined line's first piece) in the source.
    pub offset: u64,
    /// 1-based line number in the source (of a joined line's first piece).
    pub line: u64,
    /// Input lines it covers: 1, or the pieces of a line a runtime split.
    pub lines: u64,
}

impl<'a> LineOrigin<'a> {
    /// The origin of what the stream made of the input lines `span`.
    pub fn new(source: &'a str, span: Span) -> LineOrigin<'a> {
        LineOrigin { source, offset: span.first.offset, line: span.first.line, lines: span.lines }
    }
}

/// Counts for the summary. Every input line is counted once in `lines`, and is a
/// row, a reject, or a piece joined to the first piece of its line:
/// `lines = rows + rejected() + joined`.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub lines: u64,
    /// Pieces of split lines after their first piece (CRI `P` … `F`, Docker's 16 KiB
    /// records), stored or rejected with it.
    pub joined: u64,
    pub rows: u64,
    pub rejected_by_reason: BTreeMap<&'static str, u64>,
    pub by_locality: BTreeMap<&'static str, u64>,
}

impl Counts {
    /// Lines rejected, all reasons together.
    pub fn rejected(&self) -> u64 {
        self.rejected_by_reason.values().sum()
    }
}

/// Parses, tags and builds rows for one reporting cluster.
pub struct Processor {
    topology: Arc<Topology>,
    source_cluster: Option<Arc<str>>,
    requests: RequestsBuilder,
    rejects: RejectsBuilder,
    ts_ingested: i64,
    /// The reporting cluster's id in the topology, if it is there.
    source_id: Option<ClusterId>,
    /// The tags of the upstream hosts seen lately (for this topology and source).
    hosts: HostCache,
    /// The `upstream_cluster` names seen lately, split.
    clusters: ClusterNameCache,
    /// Counts, except rows by locality: those are kept in `rows_by_locality`.
    counts: Counts,
    /// Rows by [`Locality`], indexed by its discriminant (cheaper per row than a map).
    rows_by_locality: [u64; LOCALITIES.len()],
}

/// Every locality, in the order of its discriminant.
const LOCALITIES: [Locality; 4] =
    [Locality::Local, Locality::CrossCluster, Locality::External, Locality::Unknown];

impl Processor {
    /// A processor for lines written by `source_cluster`'s proxies.
    pub fn new(topology: Arc<Topology>, source_cluster: Option<Arc<str>>) -> Self {
        let ts_ingested = chrono::Utc::now().timestamp_micros();
        let source_id = source_cluster.as_deref().and_then(|name| topology.id(name));
        Processor {
            topology,
            source_cluster,
            requests: RequestsBuilder::default(),
            rejects: RejectsBuilder::default(),
            ts_ingested,
            source_id,
            hosts: HostCache::default(),
            clusters: ClusterNameCache::default(),
            counts: Counts::default(),
            rows_by_locality: [0; LOCALITIES.len()],
        }
    }

    /// Rows and rejects held, not yet handed over.
    pub fn buffered(&self) -> usize {
        self.requests.len() + self.rejects.len()
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        let mut counts = self.counts.clone();
        for (locality, rows) in LOCALITIES.iter().zip(self.rows_by_locality) {
            if rows > 0 {
                counts.by_locality.insert(locality.as_str(), rows);
            }
        }
        counts
    }

    /// Input lines read so far.
    pub fn lines(&self) -> u64 {
        self.counts.lines
    }

    /// Counts the input lines one outcome covers.
    fn count_lines(&mut self, origin: LineOrigin<'_>) {
        self.counts.lines += origin.lines;
        self.counts.joined += origin.lines.saturating_sub(1);
    }

    /// Handles what the stream made of one input line.
    /// `raw` is the input line, kept if the record cannot be stored. Returns the
    /// time of the stored row, if one was stored.
    pub fn outcome(
        &mut self,
        outcome: Outcome<'_>,
        raw: &[u8],
        origin: LineOrigin<'_>,
    ) -> Option<i64> {
        match outcome {
            Ok(parsed) => self.handle_parsed(&parsed.record, raw, origin),
            Err(rejected) => {
                self.handle_rejected(&rejected, origin);
                None
            }
        }
    }

    /// Handles a line the stream read into `record` (see [`Self::outcome`]).
    pub fn handle_parsed(
        &mut self,
        record: &AccessLogRecord<'_>,
        raw: &[u8],
        origin: LineOrigin<'_>,
    ) -> Option<i64> {
        self.count_lines(origin);
        self.record(record, raw, origin)
    }

    /// Handles a line the stream rejected.
    pub fn handle_rejected(&mut self, rejected: &Rejected<'_>, origin: LineOrigin<'_>) {
        self.count_lines(origin);
        let error = &rejected.error;
        self.reject(origin, error.code(), &error.to_string(), &rejected.line);
    }

    /// Rejects a line the stream never saw (longer than the limit).
    pub fn reject_too_long(
        &mut self,
        error: &meshlog_parsers::ParseError,
        head: &[u8],
        origin: LineOrigin<'_>,
    ) {
        self.count_lines(origin);
        self.reject(origin, error.code(), &error.to_string(), head);
    }

    fn record(
        &mut self,
        record: &AccessLogRecord<'_>,
        raw: &[u8],
        origin: LineOrigin<'_>,
    ) -> Option<i64> {
        let Some(ts) = record.ts.map(|ts| ts.micros()) else {
            let why = "the line has no start time (%START_TIME%), so it cannot be placed in time";
            self.reject(origin, NO_TIMESTAMP, why, raw);
            return None;
        };
        // Borrowed field by field: the topology's names are used while the builders
        // change, without an `Arc` clone per row.
        let Processor { topology, source_cluster, source_id, requests, hosts, clusters, .. } = self;
        let cluster = record.upstream_cluster.as_deref().map(|name| clusters.parse(name));
        let tags = Enricher::new(topology, *source_id).enrich(record, cluster, hosts);
        let dst_cluster = tags.dst_cluster.map(|id| &**topology.name(id));
        let source_cluster = source_cluster.as_deref();
        let context = RowContext { source_cluster, dst_cluster, cluster };
        requests.append(ts, record, &tags, &context);
        self.counts.rows += 1;
        self.rows_by_locality[tags.locality as usize] += 1;
        Some(ts)
    }

    fn reject(&mut self, origin: LineOrigin<'_>, reason: &'static str, error: &str, raw: &[u8]) {
        *self.counts.rejected_by_reason.entry(reason).or_default() += 1;
        self.rejects.append(&RejectRow {
            ts_ingested: self.ts_ingested,
            source_cluster: self.source_cluster.as_deref(),
            source: origin.source,
            offset: origin.offset,
            line: origin.line,
            lines: origin.lines,
            reason,
            error,
            raw,
        });
    }

    /// Hands over the rows built so far.
    pub fn take_batches(&mut self) -> Result<(RecordBatch, RecordBatch), StorageError> {
        Ok((self.requests.finish()?, self.rejects.finish()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localities_are_listed_in_discriminant_order() {
        for (index, locality) in LOCALITIES.iter().enumerate() {
            assert_eq!(*locality as usize, index, "{locality:?}");
        }
    }
}
