//! The pipeline: the one writer of a data directory. It owns the directory's
//! committer, the failover detector and the counter state ([`stages::Stages`]), and
//! takes [`SourceBatch`]es from any number of sources through one bounded queue
//! ([`PipelineInput`]). On the committer thread each batch runs through its stages
//! and is staged (sorted and encoded under `_meshlog/tmp`); a publishing thread, one
//! commit behind, makes it durable and visible and then acknowledges it, so a
//! source is told only what is on disk. `meshlog ingest` is the pipeline fed by file
//! sources that end; `meshlog scrape` the same pipeline fed by admin endpoints.

mod batch;
mod stages;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{mpsc, oneshot};

pub use crate::storage::commit_log::Checkpoint;
pub use batch::{
    Acknowledged, BatchContent, Origin, PipelineInput, PipelineStopped, QueueWatch, SourceBatch,
};
pub use stages::DetectorCounts;

use crate::analytics::failover::{Episode, FailoverSettings, StateError};
use crate::enrich::Topology;
use crate::metrics::Metrics;
use crate::stats::StatsCounts;
use crate::storage::StorageError;
use crate::storage::commit_log::CommitLog;
use crate::storage::committer::{CommitStats, Committer, Publisher, Recovery, StagedCommit};
use crate::storage::parallel::all_cores;
use crate::storage::staging::StateKind;
use stages::Stages;

/// Why the pipeline stopped. Per-line and per-snapshot problems are never errors:
/// they are rejects.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(
        "cannot continue from the saved failover detector state (_meshlog/failover-state-*.json)"
    )]
    DetectorState(#[from] StateError),
    #[error("the publishing thread panicked")]
    Panicked,
}

/// What the pipeline is told.
pub struct PipelineOptions {
    pub data_dir: PathBuf,
    pub topology: Arc<Topology>,
    pub failover: FailoverSettings,
    /// Batches that may wait in the queue before senders wait (or are told to retry).
    pub queue_depth: usize,
    /// Told of every commit as it becomes visible, before its acknowledgement.
    pub observer: Option<Arc<dyn PublishObserver>>,
    /// Given the failover episodes, the admin snapshots' endpoints and the commits'
    /// timings (`meshlog serve`'s `/metrics`).
    pub metrics: Option<Arc<Metrics>>,
}

/// Told of each commit on the publishing thread, the moment its files are visible
/// and its record is in the log, before the source is acknowledged: `meshlog serve`
/// swaps its in-memory rows for the files here, so that no query sees both or
/// neither.
pub trait PublishObserver: Send + Sync {
    fn published(&self, commit_seq: u64, checkpoints: &[Checkpoint]);
}

/// What the pipeline did, once every source has ended.
#[derive(Debug, Default)]
pub struct PipelineReport {
    /// What commits of access-log rows stored.
    pub stored: CommitStats,
    /// What commits of admin snapshots stored, and what the snapshots gave.
    pub snapshots_stored: CommitStats,
    pub snapshots: StatsCounts,
    pub commits: u64,
    /// Every failover episode known at the end.
    pub episodes: Vec<Episode>,
    pub detector: DetectorCounts,
}

/// An open data directory, ready to run.
pub struct Pipeline {
    committer: Committer,
    stages: Stages,
    recovery: Recovery,
    settings_changed: Vec<String>,
    receiver: mpsc::Receiver<SourceBatch>,
    sources_ended: Arc<AtomicBool>,
    observer: Option<Arc<dyn PublishObserver>>,
    metrics: Option<Arc<Metrics>>,
}

impl Pipeline {
    /// Opens and locks the data directory, recovers it, loads every stage's state,
    /// and returns the input end of its queue.
    pub fn open(options: &PipelineOptions) -> Result<(Pipeline, PipelineInput), PipelineError> {
        let (mut committer, recovery) = Committer::open(&options.data_dir)?;
        let (mut stages, settings_changed) =
            Stages::load(&mut committer, options.topology.clone(), &options.failover)?;
        if let Some(metrics) = &options.metrics {
            stages.report_to(metrics.clone());
        }
        let (sender, receiver) = mpsc::channel(options.queue_depth.max(1));
        let sources_ended = Arc::new(AtomicBool::new(false));
        let input = PipelineInput { sender, sources_ended: sources_ended.clone() };
        let observer = options.observer.clone();
        let pipeline = Pipeline {
            committer,
            stages,
            recovery,
            settings_changed,
            receiver,
            sources_ended,
            observer,
            metrics: options.metrics.clone(),
        };
        Ok((pipeline, input))
    }

    /// The commit log, for sources to find where they stand.
    pub fn log(&self) -> &CommitLog {
        self.committer.log()
    }

    /// The state a source saved with the last commit that saved one of `kind`.
    pub fn state(&self, kind: StateKind) -> Result<Option<Vec<u8>>, PipelineError> {
        Ok(self.committer.state(kind)?)
    }

    /// What recovery found when the directory was opened (asked once).
    pub fn take_recovery(&mut self) -> Recovery {
        std::mem::take(&mut self.recovery)
    }

    /// Commits every batch queued, in order, until every [`PipelineInput`] is
    /// dropped; then settles what the detector held. Blocks the calling thread: run
    /// it on a thread of its own (not an async runtime's).
    pub fn run(self) -> Result<PipelineReport, PipelineError> {
        let Pipeline {
            committer,
            mut stages,
            settings_changed,
            mut receiver,
            sources_ended,
            observer,
            metrics,
            ..
        } = self;
        let (mut stager, publisher) = committer.into_halves();
        let (sender, staged) = std::sync::mpsc::sync_channel::<Publishable>(1);
        let mut report = std::thread::scope(|scope| {
            let publishing = scope.spawn(move || publish_all(publisher, staged, observer, metrics));
            let staging = (|| {
                while let Some(batch) = receiver.blocking_recv() {
                    if sources_ended.load(Ordering::Acquire) {
                        stager.set_threads(all_cores());
                    }
                    let snapshots = matches!(batch.content, BatchContent::Snapshots(_));
                    let newest_row = batch.content.newest_request();
                    let (mut pending, counts) = stages.prepare(batch.content, batch.checkpoints)?;
                    pending.states.extend(batch.states);
                    let commit = stager.stage(pending)?;
                    let publishable =
                        Publishable { commit, ack: batch.ack, snapshots, counts, newest_row };
                    if sender.send(publishable).is_err() {
                        return Ok(());
                    }
                }
                if let Some(pending) = stages.settle()? {
                    let commit = stager.stage(pending)?;
                    let counts = StatsCounts::default();
                    let publishable = Publishable {
                        commit,
                        ack: None,
                        snapshots: false,
                        counts,
                        newest_row: None,
                    };
                    let _ = sender.send(publishable);
                }
                Ok::<_, PipelineError>(())
            })();
            drop(sender);
            let published = publishing.join().map_err(|_| PipelineError::Panicked)?;
            // A publisher that failed stops the staging too: its error is the one to report.
            let report = published?;
            staging?;
            Ok::<_, PipelineError>(report)
        })?;
        report.episodes = stages.episodes();
        report.detector = DetectorCounts { settings_changed, ..stages.detector_counts() };
        Ok(report)
    }
}

/// A staged commit on its way to the publisher, and whom to tell once it is durable.
struct Publishable {
    commit: StagedCommit,
    ack: Option<oneshot::Sender<Acknowledged>>,
    snapshots: bool,
    counts: StatsCounts,
    /// The log time of its newest request row, in µs.
    newest_row: Option<i64>,
}

/// Publishes every staged commit, in order, acknowledging each once durable.
fn publish_all(
    mut publisher: Publisher,
    staged: std::sync::mpsc::Receiver<Publishable>,
    observer: Option<Arc<dyn PublishObserver>>,
    metrics: Option<Arc<Metrics>>,
) -> Result<PipelineReport, PipelineError> {
    let mut report = PipelineReport::default();
    for Publishable { commit, ack, snapshots, counts, newest_row } in staged {
        let commit_seq = commit.record.seq;
        let checkpoints = commit.record.sources.clone();
        let started = std::time::Instant::now();
        let stored = publisher.publish(commit)?;
        if let Some(metrics) = &metrics {
            metrics.committed(started.elapsed(), newest_row);
        }
        if let Some(observer) = &observer {
            observer.published(commit_seq, &checkpoints);
        }
        report.commits += 1;
        match snapshots {
            true => report.snapshots_stored.add(stored),
            false => report.stored.add(stored),
        }
        report.snapshots.add(counts.clone());
        if let Some(ack) = ack {
            // A source that stopped waiting has nothing more to be told.
            let _ = ack.send(Acknowledged { commit_seq, stored, snapshots: counts });
        }
    }
    publisher.finish()?;
    Ok(report)
}
