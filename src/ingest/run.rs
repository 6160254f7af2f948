//! `meshlog ingest`: the pipeline fed by sources that end. Admin dumps among the
//! inputs go to the pipeline first, as one batch ([`super::dumps`]); then access-log
//! sources are read on the calling thread (framing, parsing, tagging, Arrow
//! builders), interleaved by log time, and every `batch_rows` rows the batch and the
//! source positions it reaches go through the pipeline's bounded queue (one batch
//! deep) to its committer thread, which feeds the failover detector and encodes it
//! while a publishing thread makes the one before durable. So parsing and Parquet
//! encoding use both cores, the fsyncs overlap the encoding, and at most two batches
//! are in memory at once, whatever the input size. Once reading is done, the
//! committer shares the batches still to commit between all cores.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::IngestError;
use super::dumps::{DumpInput, DumpOptions, LogInput, SnapshotReport, sort_inputs};
use super::progress::Progress;
use super::source::{OpenedSource, open_source, stream};
use super::source_reader::SourceReader;
use crate::analytics::failover::{Episode, FailoverSettings};
use crate::enrich::Topology;
use crate::pipeline::{
    BatchContent, DetectorCounts, Origin, Pipeline, PipelineInput, PipelineOptions, SourceBatch,
};
use crate::process::{Counts, Processor};
use crate::stats::commit::SnapshotGroup;
use crate::storage::commit_log::{Checkpoint, CommitLog, FilePosition};
use crate::storage::committer::{CommitStats, Recovery};

/// What an ingest run is told.
pub struct IngestOptions {
    pub data_dir: PathBuf,
    pub topology: Arc<Topology>,
    pub source_cluster: Option<Arc<str>>,
    pub format: String,
    pub max_line_bytes: usize,
    pub failover: FailoverSettings,
    /// Rows per commit.
    pub batch_rows: usize,
    /// Show a progress bar (only drawn on a terminal).
    pub progress: bool,
    /// How admin dumps among the inputs are read.
    pub dumps: DumpOptions,
}

/// What an ingest run did.
#[derive(Debug, Default)]
pub struct IngestReport {
    pub counts: Counts,
    pub stored: CommitStats,
    pub commits: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    pub recovery: Recovery,
    /// Sources resumed from an earlier run.
    pub resumed: Vec<Resumed>,
    /// Sources whose unterminated last line was left for the next run: name and bytes.
    pub held_partial: Vec<(String, u64)>,
    /// Every failover episode known after this run.
    pub episodes: Vec<Episode>,
    pub detector: DetectorCounts,
    /// The admin dumps among the inputs.
    pub snapshots: SnapshotReport,
}

/// A source resumed where an earlier run left it.
#[derive(Debug)]
pub struct Resumed {
    pub name: String,
    /// Where reading started.
    pub offset: u64,
    /// The file whose position it took, when another (it is a copy of it).
    pub as_file: Option<String>,
}

/// Runs an ingest of `inputs` (`-` is stdin).
pub fn ingest(options: &IngestOptions, inputs: &[PathBuf]) -> Result<IngestReport, IngestError> {
    let started = Instant::now();
    let pipeline_options = PipelineOptions {
        data_dir: options.data_dir.clone(),
        topology: options.topology.clone(),
        failover: options.failover.clone(),
        queue_depth: 1,
        observer: None,
        metrics: None,
    };
    let (mut pipeline, input) = Pipeline::open(&pipeline_options)?;
    let inputs = sort_inputs(inputs, &options.dumps, pipeline.log())?;
    let sources = open_all(inputs.logs, pipeline.log())?;
    let recovery = pipeline.take_recovery();
    let processor = Processor::new(options.topology.clone(), options.source_cluster.clone());
    let mut report = std::thread::scope(|scope| {
        let committing = scope.spawn(move || pipeline.run());
        let read = send_dumps(options, inputs.dumps, &input)
            .and_then(|()| read_all(options, sources, processor, &input));
        drop(input);
        let committed = committing.join().map_err(|_| IngestError::CommitterPanicked)?;
        // A pipeline that failed stops the reader too: its error is the one to report.
        let committed = committed?;
        let mut report = read?;
        report.stored = committed.stored;
        report.commits = committed.commits;
        report.episodes = committed.episodes;
        report.detector = committed.detector;
        report.snapshots.counts = committed.snapshots;
        report.snapshots.stored = committed.snapshots_stored;
        Ok::<_, IngestError>(report)
    })?;
    report.snapshots.unchanged = inputs.unchanged;
    report.recovery = recovery;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Sends the dumps among the inputs (in time order) as one batch, before any line.
fn send_dumps(
    options: &IngestOptions,
    dumps: Vec<DumpInput>,
    input: &PipelineInput,
) -> Result<(), IngestError> {
    if dumps.is_empty() {
        return Ok(());
    }
    let mut checkpoints = Vec::new();
    let mut group =
        SnapshotGroup { source_cluster: options.source_cluster.clone(), dumps: Vec::new() };
    for dump in dumps {
        checkpoints.extend(dump.position.map(Checkpoint::File));
        group.dumps.push(dump.dump);
    }
    let origin = Origin {
        source: "admin dumps".into(),
        source_cluster: options.source_cluster.clone(),
        format: "admin".into(),
    };
    let content = BatchContent::Snapshots(vec![group]);
    let batch = SourceBatch { origin, content, checkpoints, states: Vec::new(), ack: None };
    input.send_blocking(batch).map_err(|_| IngestError::CommitterStopped)
}

fn open_all(inputs: Vec<LogInput>, log: &CommitLog) -> Result<Vec<OpenedSource>, IngestError> {
    inputs
        .into_iter()
        .map(|input| match input {
            LogInput::Path(path) => open_source(&path, log)
                .map_err(|source| IngestError::Read { path: path.clone(), source }),
            LogInput::Stream { name, reader } => Ok(stream(name, Box::new(reader))),
        })
        .collect()
}

/// Rows of one input may run this far (µs of log time) ahead of the slowest other
/// input before reading switches: inputs are interleaved by time, so that several
/// files (several proxies) reach the failover detector in near time order.
const INTERLEAVE_STEP_US: i64 = 5_000_000;
/// How often the rows read from a stream are committed, at most.
const STREAM_COMMIT_INTERVAL: Duration = Duration::from_secs(1);
/// Lines read from one input before reading looks at the others again.
const SLICE_LINES: u64 = 16 * 1024;
/// The first batch is this fraction of `batch_rows`, so that the committer thread
/// starts encoding early instead of idling through a whole first batch.
const FIRST_BATCH_DIVISOR: usize = 16;

/// Reading state shared across sources.
struct Reader<'o> {
    options: &'o IngestOptions,
    processor: Processor,
    input: &'o PipelineInput,
    progress: Progress,
    report: IngestReport,
    /// Source positions as of the last hand-over (or the start).
    handed_over: Vec<FilePosition>,
    /// Batches handed over so far.
    batches: u64,
}

fn read_all(
    options: &IngestOptions,
    sources: Vec<OpenedSource>,
    processor: Processor,
    input: &PipelineInput,
) -> Result<IngestReport, IngestError> {
    let total_bytes = sources
        .iter()
        .map(|source| source.len.unwrap_or(0).saturating_sub(source.start_offset))
        .sum();
    let resumed = sources
        .iter()
        .filter(|source| source.start_offset > 0 || source.resumed_as.is_some())
        .map(|source| Resumed {
            name: source.name.clone(),
            offset: source.start_offset,
            as_file: source.resumed_as.clone(),
        })
        .collect();
    let report = IngestReport { resumed, ..IngestReport::default() };
    let mut readers = sources
        .into_iter()
        .map(|source| SourceReader::new(source, &options.format, options.max_line_bytes))
        .collect::<Result<Vec<_>, _>>()?;
    let progress = Progress::new(options.progress, total_bytes);
    // A truncated file's new position counts as a change, to be committed.
    let unmoved = readers.iter().filter(|reader| !reader.moved_back);
    let handed_over = unmoved.filter_map(SourceReader::position).collect();
    let mut reader =
        Reader { options, processor, input, progress, report, handed_over, batches: 0 };
    reader.interleave(&mut readers)?;
    input.sources_ended();
    reader.hand_over(&readers)?;
    reader.progress.finish();
    reader.report.bytes = readers.iter().map(SourceReader::bytes_read).sum();
    reader.report.held_partial = readers
        .iter()
        .filter_map(|source| Some((source.name.clone(), source.held_partial?)))
        .collect();
    reader.report.counts = reader.processor.counts();
    Ok(reader.report)
}

impl Reader<'_> {
    /// Reads every source to its end, always advancing the one furthest behind in
    /// log time, up to a little past the next slowest.
    fn interleave(&mut self, readers: &mut [SourceReader]) -> Result<(), IngestError> {
        // A stream (`kubectl logs -f … | meshlog ingest -`) may never end: its rows are
        // committed by time as well as by size, so that they are queryable within seconds.
        let streaming = readers.iter().any(SourceReader::is_stream);
        let mut handed_over_at = Instant::now();
        while let Some(index) = furthest_behind(readers) {
            let until = slowest_other(readers, index).map(|ts| ts + INTERLEAVE_STEP_US);
            // A slice stops where the batch is full, so that batches have `batch_rows` rows.
            let room = self.batch_rows().saturating_sub(self.processor.buffered()).max(1);
            let lines = SLICE_LINES.min(u64::try_from(room).unwrap_or(u64::MAX));
            let deadline = streaming.then(|| handed_over_at + STREAM_COMMIT_INTERVAL);
            readers[index].read_slice(&mut self.processor, until, lines, deadline)?;
            let bytes = readers.iter().map(SourceReader::bytes_read).sum();
            self.progress.update(bytes, self.processor.lines());
            let due = deadline.is_some_and(|deadline| Instant::now() >= deadline);
            if self.processor.buffered() >= self.batch_rows()
                || (due && self.processor.buffered() > 0)
            {
                self.hand_over(readers)?;
                handed_over_at = Instant::now();
            }
        }
        Ok(())
    }

    /// Rows to gather before the next hand-over: fewer for the first batch.
    fn batch_rows(&self) -> usize {
        match self.batches {
            0 => (self.options.batch_rows / FIRST_BATCH_DIVISOR).max(1),
            _ => self.options.batch_rows,
        }
    }

    /// Sends the rows built so far, with the positions they reach, to the committer.
    fn hand_over(&mut self, readers: &[SourceReader]) -> Result<(), IngestError> {
        let sources: Vec<FilePosition> =
            readers.iter().filter_map(SourceReader::position).collect();
        if self.processor.buffered() == 0 && sources == self.handed_over {
            return Ok(());
        }
        self.handed_over.clone_from(&sources);
        let (requests, rejects) = self.processor.take_batches()?;
        self.batches += 1;
        let origin = Origin {
            source: "access logs".into(),
            source_cluster: self.options.source_cluster.clone(),
            format: self.options.format.clone(),
        };
        let content = BatchContent::Requests { requests: vec![requests], rejects: vec![rejects] };
        let checkpoints = sources.into_iter().map(Checkpoint::File).collect();
        let batch = SourceBatch { origin, content, checkpoints, states: Vec::new(), ack: None };
        self.input.send_blocking(batch).map_err(|_| IngestError::CommitterStopped)
    }
}

/// The unfinished source with the earliest latest row (one with no row yet first).
fn furthest_behind(readers: &[SourceReader]) -> Option<usize> {
    readers
        .iter()
        .enumerate()
        .filter(|(_, reader)| !reader.finished)
        .min_by_key(|(_, reader)| reader.last_ts.unwrap_or(i64::MIN))
        .map(|(index, _)| index)
}

/// The earliest latest row among the other unfinished sources.
fn slowest_other(readers: &[SourceReader], index: usize) -> Option<i64> {
    readers
        .iter()
        .enumerate()
        .filter(|(other, reader)| *other != index && !reader.finished)
        .filter_map(|(_, reader)| reader.last_ts)
        .min()
}
