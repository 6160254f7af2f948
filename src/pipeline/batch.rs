//! What a source hands to the pipeline: a [`SourceBatch`] says where it came from,
//! what it holds (access-log rows already parsed and tagged by the source, or admin
//! snapshots), the checkpoints it reaches once stored, and whom to tell when it is
//! durable. [`PipelineInput`] is the sending end of the pipeline's bounded queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::AsArray;
use arrow::record_batch::RecordBatch;
use tokio::sync::{mpsc, oneshot};

use crate::stats::StatsCounts;
use crate::stats::commit::SnapshotGroup;
use crate::storage::commit_log::Checkpoint;
use crate::storage::committer::CommitStats;
use crate::storage::staging::{AppendedTable, StateKind};

/// Where a batch came from, for reports and logs.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The source's name: a path, `stdin`, `scrape`…
    pub source: String,
    /// The reporting cluster its lines or snapshots are from, when one source has one.
    pub source_cluster: Option<Arc<str>>,
    /// The format its lines were read as (`auto`, `istio`…), or the snapshot kinds.
    pub format: String,
}

/// What a batch holds.
pub enum BatchContent {
    /// Access-log rows and the lines rejected on the way, in one or more parts (in
    /// the order they were read: the failover detector sees them in that order).
    Requests { requests: Vec<RecordBatch>, rejects: Vec<RecordBatch> },
    /// Admin snapshots (`/clusters`, `/stats`…), one group per reporting cluster.
    Snapshots(Vec<SnapshotGroup>),
    /// Committed rows merged from the files they `replaced` (a compaction): stored
    /// again as they are, seen by no stage.
    Compacted { table: AppendedTable, rows: RecordBatch, replaced: Vec<std::path::PathBuf> },
}

impl BatchContent {
    /// The log time of the newest access-log row it holds, in µs.
    pub fn newest_request(&self) -> Option<i64> {
        let BatchContent::Requests { requests, .. } = self else { return None };
        let newest = |part: &RecordBatch| {
            let ts = part.column_by_name("ts")?;
            arrow::compute::max(
                ts.as_primitive_opt::<arrow::datatypes::TimestampMicrosecondType>()?,
            )
        };
        requests.iter().filter_map(newest).max()
    }
}

/// One batch from one source.
pub struct SourceBatch {
    pub origin: Origin,
    pub content: BatchContent,
    /// Where the sources stand once this batch is stored (none for push sources).
    pub checkpoints: Vec<Checkpoint>,
    /// The source's own state, stored with the batch (`meshlog serve`'s batch ids).
    pub states: Vec<(StateKind, Vec<u8>)>,
    /// Told once the batch is durable, or dropped if the pipeline fails first.
    pub ack: Option<oneshot::Sender<Acknowledged>>,
}

/// What a source is told once its batch is durable.
#[derive(Debug, Default)]
pub struct Acknowledged {
    /// The commit that holds the batch.
    pub commit_seq: u64,
    /// What the commit that holds the batch stored (it may hold other batches too).
    pub stored: CommitStats,
    /// What the batch's snapshots gave, when it had any.
    pub snapshots: StatsCounts,
}

/// The sending end of the pipeline's bounded queue; cheap to clone, one per source.
#[derive(Clone)]
pub struct PipelineInput {
    pub(super) sender: mpsc::Sender<SourceBatch>,
    pub(super) sources_ended: Arc<AtomicBool>,
}

/// The pipeline stopped (it failed; its own error says why).
#[derive(Debug, thiserror::Error)]
#[error("the pipeline stopped; see the error it reported")]
pub struct PipelineStopped;

impl PipelineInput {
    /// Queues `batch` from a thread outside any async runtime, waiting while the
    /// queue is full.
    pub fn send_blocking(&self, batch: SourceBatch) -> Result<(), PipelineStopped> {
        self.sender.blocking_send(batch).map_err(|_| PipelineStopped)
    }

    /// Queues `batch` from async code, waiting while the queue is full.
    pub async fn send(&self, batch: SourceBatch) -> Result<(), PipelineStopped> {
        self.sender.send(batch).await.map_err(|_| PipelineStopped)
    }

    /// A view of how many batches wait in the queue, which does not keep it open.
    pub fn watch(&self) -> QueueWatch {
        QueueWatch(self.sender.downgrade())
    }

    /// Says that no source will send more than what is queued: the pipeline then
    /// shares the last batches' column work between all cores.
    pub fn sources_ended(&self) {
        self.sources_ended.store(true, Ordering::Release);
    }
}

/// How many batches wait in the pipeline's queue (for metrics).
#[derive(Clone)]
pub struct QueueWatch(mpsc::WeakSender<SourceBatch>);

impl QueueWatch {
    /// Batches waiting; 0 once the pipeline is gone.
    pub fn queued(&self) -> usize {
        self.0.upgrade().map_or(0, |sender| sender.max_capacity() - sender.capacity())
    }
}
