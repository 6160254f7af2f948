//! The ingest pipeline: admin dumps among the inputs are stored first, in one commit
//! ([`super::dumps`]); then access-log sources are read one after another on the calling thread
//! (framing, parsing, tagging, Arrow builders); every `batch_rows` rows the batch
//! and the source positions it reaches go through a bounded channel to the
//! committer thread, which feeds the failover detector from it and encodes it, and
//! a publishing thread makes it durable and commits it, one batch behind. So
//! parsing and Parquet encoding use both cores, the fsyncs overlap the encoding,
//! and at most two batches are in memory at once, whatever the input size. The
//! reading thread is the one that bounds a run, so whatever can wait for a whole
//! batch (the detector) is left to the committer. Once reading is done, the
//! committer shares the batches still to commit between all cores.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;

use super::IngestError;
use super::dumps::{DumpOptions, SnapshotReport, sort_inputs, store_dumps};
use super::progress::Progress;
use super::source::{OpenedSource, open_source};
use super::source_reader::SourceReader;
use crate::analytics::failover::{Episode, FailoverDetector, FailoverSettings};
use crate::enrich::Topology;
use crate::process::failovers::{detector_snapshot, load_detector};
use crate::process::observations::observe_requests;
use crate::process::{Counts, Processor};
use crate::storage::commit_log::SourcePosition;
use crate::storage::committer::{
    CommitStats, Committer, PendingCommit, Publisher, Recovery, StagedCommit, Stager,
};
use crate::storage::parallel::all_cores;
use crate::storage::schema;

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
    /// Sources resumed from an earlier run: name and offset.
    pub resumed: Vec<(String, u64)>,
    /// Every failover episode known after this run.
    pub episodes: Vec<Episode>,
    pub detector: DetectorCounts,
    /// The admin dumps among the inputs.
    pub snapshots: SnapshotReport,
}

/// What the failover detector left out or holds after a run.
#[derive(Debug, Default)]
pub struct DetectorCounts {
    /// Requests that arrived after their window was final.
    pub late: u64,
    /// Requests whose time was out of step with their source cluster's stream.
    pub skewed: u64,
    /// Requests held until later lines show whether their time is right.
    pub held: u64,
    /// Settings that differ from those the saved state was made with.
    pub settings_changed: Vec<String>,
}

impl DetectorCounts {
    fn of(detector: &FailoverDetector) -> DetectorCounts {
        DetectorCounts {
            late: detector.late_observations(),
            skewed: detector.skewed_observations(),
            held: detector.held_observations(),
            settings_changed: Vec::new(),
        }
    }
}

/// Runs an ingest of `inputs` (`-` is stdin).
pub fn ingest(options: &IngestOptions, inputs: &[PathBuf]) -> Result<IngestReport, IngestError> {
    let started = Instant::now();
    let (mut committer, recovery) = Committer::open(&options.data_dir)?;
    let saved = committer.detector_state()?;
    let loaded = load_detector(saved.as_deref(), &options.failover)?;
    let mut detector = loaded.detector;
    let inputs = sort_inputs(inputs, &options.dumps, committer.log())?;
    let mut snapshots = store_dumps(&mut committer, options, &mut detector, inputs.dumps)?;
    snapshots.unchanged = inputs.unchanged;
    let sources = open_all(&inputs.logs, &committer)?;
    let processor = Processor::new(options.topology.clone(), options.source_cluster.clone());
    let (sender, receiver) = sync_channel::<ReadBatch>(1);
    let reading_done = &AtomicBool::new(false);
    let mut report = std::thread::scope(|scope| {
        let writer = scope.spawn(move || commit_all(committer, detector, receiver, reading_done));
        let read = read_all(options, sources, processor, &sender, reading_done);
        drop(sender);
        let written = writer.join().map_err(|_| IngestError::CommitterPanicked)?;
        // A committer that failed stops the reader too: its error is the one to report.
        let (stored, commits, detector) = written?;
        let mut report = read?;
        report.stored = stored;
        report.commits = commits;
        report.episodes = detector.episodes();
        report.detector = DetectorCounts::of(&detector);
        Ok::<_, IngestError>(report)
    })?;
    report.recovery = recovery;
    report.snapshots = snapshots;
    report.detector.settings_changed = loaded.settings_changed;
    report.elapsed = started.elapsed();
    Ok(report)
}

fn open_all(inputs: &[PathBuf], committer: &Committer) -> Result<Vec<OpenedSource>, IngestError> {
    inputs
        .iter()
        .map(|path| {
            open_source(path, committer.log())
                .map_err(|source| IngestError::Read { path: path.clone(), source })
        })
        .collect()
}

/// The rows the reading thread built and the source positions they reach.
struct ReadBatch {
    requests: RecordBatch,
    rejects: RecordBatch,
    sources: Vec<SourcePosition>,
}

/// The committer thread: feeds the failover detector and commits every batch it
/// receives, in order; on all cores once `reading_done` says the reader has no
/// more lines to parse. It stages each batch and hands it to a publishing thread,
/// which waits for the disk while the next batch is encoded. Returns the detector
/// with every batch seen.
fn commit_all(
    committer: Committer,
    mut detector: FailoverDetector,
    batches: Receiver<ReadBatch>,
    reading_done: &AtomicBool,
) -> Result<(CommitStats, u64, FailoverDetector), IngestError> {
    let (mut stager, publisher) = committer.into_halves();
    let (sender, staged) = sync_channel::<StagedCommit>(1);
    std::thread::scope(|scope| {
        let publishing = scope.spawn(move || publish_all(publisher, staged));
        let staging = stage_all(&mut stager, &mut detector, batches, reading_done, &sender);
        drop(sender);
        let published = publishing.join().map_err(|_| IngestError::CommitterPanicked)?;
        // A publisher that failed stops the staging too: its error is the one to report.
        let (stats, commits) = published?;
        staging?;
        Ok((stats, commits, detector))
    })
}

/// Feeds each batch to the detector, stages it with the detector's state and
/// episodes after it, and sends it on to be published.
fn stage_all(
    stager: &mut Stager,
    detector: &mut FailoverDetector,
    batches: Receiver<ReadBatch>,
    reading_done: &AtomicBool,
    staged: &SyncSender<StagedCommit>,
) -> Result<(), IngestError> {
    for ReadBatch { requests, rejects, sources } in batches {
        if reading_done.load(Ordering::Acquire) {
            stager.set_threads(all_cores());
        }
        observe_requests(detector, &requests)?;
        let (detector_state, failovers) = detector_snapshot(detector)?;
        let pending =
            PendingCommit { requests, rejects, sources, detector_state, failovers, stats: None };
        let commit = stager.stage(pending)?;
        staged.send(commit).map_err(|_| IngestError::CommitterStopped)?;
    }
    settle_held(stager, detector, staged)
}

/// At the end of the input: decides the lines the detector held that enough lines
/// followed, and commits its new state if that changed anything.
fn settle_held(
    stager: &mut Stager,
    detector: &mut FailoverDetector,
    staged: &SyncSender<StagedCommit>,
) -> Result<(), IngestError> {
    let held = detector.held_observations();
    if held == 0 {
        return Ok(());
    }
    detector.settle();
    if detector.held_observations() == held {
        return Ok(());
    }
    let (detector_state, failovers) = detector_snapshot(detector)?;
    let pending = PendingCommit {
        requests: RecordBatch::new_empty(schema::requests()),
        rejects: RecordBatch::new_empty(schema::rejects()),
        sources: Vec::new(),
        detector_state,
        failovers,
        stats: None,
    };
    let commit = stager.stage(pending)?;
    staged.send(commit).map_err(|_| IngestError::CommitterStopped)
}

/// Publishes every staged commit, in order, adding up what they stored.
fn publish_all(
    mut publisher: Publisher,
    staged: Receiver<StagedCommit>,
) -> Result<(CommitStats, u64), IngestError> {
    let mut total = CommitStats::default();
    let mut commits = 0;
    for commit in staged {
        let stats = publisher.publish(commit)?;
        total.files += stats.files;
        total.rows += stats.rows;
        total.rejects += stats.rejects;
        commits += 1;
    }
    Ok((total, commits))
}

/// Rows of one input may run this far (µs of log time) ahead of the slowest other
/// input before reading switches: inputs are interleaved by time, so that several
/// files (several proxies) reach the failover detector in near time order.
const INTERLEAVE_STEP_US: i64 = 5_000_000;
/// Lines read from one input before reading looks at the others again.
const SLICE_LINES: u64 = 16 * 1024;
/// The first batch is this fraction of `batch_rows`, so that the committer thread
/// starts encoding early instead of idling through a whole first batch.
const FIRST_BATCH_DIVISOR: usize = 16;

/// Reading state shared across sources.
struct Reader<'o> {
    options: &'o IngestOptions,
    processor: Processor,
    sender: &'o SyncSender<ReadBatch>,
    progress: Progress,
    report: IngestReport,
    /// Source positions as of the last hand-over (or the start).
    handed_over: Vec<SourcePosition>,
    /// Batches handed over so far.
    batches: u64,
}

fn read_all(
    options: &IngestOptions,
    sources: Vec<OpenedSource>,
    processor: Processor,
    sender: &SyncSender<ReadBatch>,
    reading_done: &AtomicBool,
) -> Result<IngestReport, IngestError> {
    let total_bytes = sources
        .iter()
        .map(|source| source.len.unwrap_or(0).saturating_sub(source.start_offset))
        .sum();
    let resumed = sources
        .iter()
        .filter(|source| source.start_offset > 0)
        .map(|source| (source.name.clone(), source.start_offset))
        .collect();
    let report = IngestReport { resumed, ..IngestReport::default() };
    let mut readers = sources
        .into_iter()
        .map(|source| SourceReader::new(source, &options.format, options.max_line_bytes))
        .collect::<Result<Vec<_>, _>>()?;
    let progress = Progress::new(options.progress, total_bytes);
    let handed_over = readers.iter().filter_map(SourceReader::position).collect();
    let mut reader =
        Reader { options, processor, sender, progress, report, handed_over, batches: 0 };
    reader.interleave(&mut readers)?;
    reading_done.store(true, Ordering::Release);
    reader.hand_over(&readers)?;
    reader.progress.finish();
    reader.report.bytes = readers.iter().map(SourceReader::bytes_read).sum();
    reader.report.counts = reader.processor.counts();
    Ok(reader.report)
}

impl Reader<'_> {
    /// Reads every source to its end, always advancing the one furthest behind in
    /// log time, up to a little past the next slowest.
    fn interleave(&mut self, readers: &mut [SourceReader]) -> Result<(), IngestError> {
        while let Some(index) = furthest_behind(readers) {
            let until = slowest_other(readers, index).map(|ts| ts + INTERLEAVE_STEP_US);
            // A slice stops where the batch is full, so that batches have `batch_rows` rows.
            let room = self.batch_rows().saturating_sub(self.processor.buffered()).max(1);
            let lines = SLICE_LINES.min(u64::try_from(room).unwrap_or(u64::MAX));
            readers[index].read_slice(&mut self.processor, until, lines)?;
            let bytes = readers.iter().map(SourceReader::bytes_read).sum();
            self.progress.update(bytes, self.processor.lines());
            if self.processor.buffered() >= self.batch_rows() {
                self.hand_over(readers)?;
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
        let sources: Vec<SourcePosition> =
            readers.iter().filter_map(SourceReader::position).collect();
        if self.processor.buffered() == 0 && sources == self.handed_over {
            return Ok(());
        }
        self.handed_over.clone_from(&sources);
        let (requests, rejects) = self.processor.take_batches()?;
        self.batches += 1;
        let batch = ReadBatch { requests, rejects, sources };
        self.sender.send(batch).map_err(|_| IngestError::CommitterStopped)
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
