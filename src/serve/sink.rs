//! The write-ahead log's writer: one thread takes the parsed batches of every HTTP
//! request and every read of a followed file, appends each to the WAL, makes the
//! whole group durable with one fsync, then holds the rows in [`Fresh`], tells each
//! request it is stored, and counts them in the metrics. A batch whose
//! id is remembered is not stored again: its request gets the first answer. The
//! queue in front of the thread is bounded, and so are the rows held in memory:
//! past either, [`Sink::try_submit`] says [`Refused::Busy`] (the client gets 503 and
//! retries), so memory stays bounded under any load.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use tokio::sync::{mpsc, oneshot};

use super::batches::{BatchOutcome, RememberedBatches};
use super::fresh::{Fresh, FreshPart};
use crate::metrics::{Metrics, traffic};
use crate::storage::commit_log::Checkpoint;
use crate::storage::wal::{EntryMeta, Wal, WalError};

/// Requests waiting for the writer before new ones are refused.
const QUEUE_DEPTH: usize = 256;
/// How often a waiting request looks for room among the rows in memory.
const ROOM_POLL: Duration = Duration::from_millis(5);
/// Batches appended before one fsync, at most.
const GROUP_MAX: usize = 512;

/// A request's lines, parsed and tagged.
pub struct Parsed {
    pub requests: RecordBatch,
    pub rejects: RecordBatch,
    pub accepted: u64,
    pub rejected: u64,
}

/// A batch on its way to the WAL, and whom to tell.
pub struct Submission {
    pub batch_id: Option<String>,
    pub parsed: Parsed,
    /// Where the sources it was read from (followed files) stand once it is stored.
    pub positions: Vec<Checkpoint>,
    pub reply: oneshot::Sender<Receipt>,
}

/// What a request is told once its batch is durable.
#[derive(Debug, Clone, Copy)]
pub struct Receipt {
    pub outcome: BatchOutcome,
    /// The batch id was already stored: nothing was stored this time.
    pub duplicate: bool,
}

/// Why a batch was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The writer or the rows in memory are at their bound: retry later.
    Busy,
    /// The writer stopped (it failed, or the server is stopping).
    Stopped,
}

/// What the writer shares with the rest of the server.
pub struct SinkShared {
    /// Where durable rows are held until they are in Parquet.
    pub fresh: Arc<Fresh>,
    pub batches: Arc<Mutex<RememberedBatches>>,
    /// Rows in memory past which batches wait (and requests are told 503).
    pub max_fresh_rows: usize,
    /// Where durable lines are counted.
    pub metrics: Arc<Metrics>,
    /// Told if the WAL fails.
    pub failed: Arc<tokio::sync::Notify>,
}

/// The sending end of the writer; cheap to clone.
#[derive(Clone)]
pub struct Sink {
    sender: mpsc::Sender<Submission>,
    fresh: Arc<Fresh>,
    batches: Arc<Mutex<RememberedBatches>>,
    max_fresh_rows: usize,
}

impl Sink {
    /// Starts the writer thread on `wal`; `shared.failed` is told if the WAL fails
    /// (the server then stops, with the error).
    pub fn start(
        wal: Wal,
        shared: SinkShared,
    ) -> std::io::Result<(Sink, std::thread::JoinHandle<Result<(), WalError>>)> {
        let SinkShared { fresh, batches, max_fresh_rows, metrics, failed } = shared;
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        let writer = Writer { wal, fresh: fresh.clone(), batches: batches.clone(), metrics };
        let thread = std::thread::Builder::new().name("wal".into()).spawn(move || {
            let written = writer.run(receiver);
            if let Err(error) = &written {
                tracing::error!(%error, "the write-ahead log failed; stopping");
                failed.notify_one();
            }
            written
        })?;
        Ok((Sink { sender, fresh, batches, max_fresh_rows }, thread))
    }

    /// What the batch `id` gave, if it is already stored.
    pub fn remembered(&self, id: &str) -> Option<BatchOutcome> {
        self.batches.lock().unwrap_or_else(PoisonError::into_inner).get(id)
    }

    /// Queues a batch for the WAL, waiting up to `patience` for the rows in memory
    /// to fall under their bound and for room in the queue (a request slowed down
    /// is cheaper for a client than a 503 and a retry a second later).
    pub async fn submit(&self, submission: Submission, patience: Duration) -> Result<(), Refused> {
        let deadline = tokio::time::Instant::now() + patience;
        while self.fresh.rows() >= self.max_fresh_rows {
            if tokio::time::Instant::now() >= deadline {
                return Err(Refused::Busy);
            }
            tokio::time::sleep(ROOM_POLL).await;
        }
        match tokio::time::timeout_at(deadline, self.sender.send(submission)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Refused::Stopped),
            Err(_) => Err(Refused::Busy),
        }
    }

    /// Stores a batch from a thread outside the async runtime (a followed file's
    /// read), waiting for room and for the fsync; `None` if the writer stopped.
    pub fn store_blocking(&self, parsed: Parsed, positions: Vec<Checkpoint>) -> Option<Receipt> {
        let (reply, receipt) = oneshot::channel();
        let submission = Submission { batch_id: None, parsed, positions, reply };
        self.sender.blocking_send(submission).ok()?;
        receipt.blocking_recv().ok()
    }
}

struct Writer {
    wal: Wal,
    fresh: Arc<Fresh>,
    batches: Arc<Mutex<RememberedBatches>>,
    metrics: Arc<Metrics>,
}

/// A batch appended to the WAL, waiting for the group's fsync.
struct Appended {
    seq: u64,
    submission: Submission,
}

impl Writer {
    /// Writes groups until every [`Sink`] is dropped or the WAL fails (then every
    /// request waiting is dropped unanswered: its client gets an error, not a 200).
    fn run(mut self, mut receiver: mpsc::Receiver<Submission>) -> Result<(), WalError> {
        while let Some(first) = receiver.blocking_recv() {
            let mut group = vec![first];
            while group.len() < GROUP_MAX {
                match receiver.try_recv() {
                    Ok(submission) => group.push(submission),
                    Err(_) => break,
                }
            }
            self.write_group(group)?;
        }
        self.wal.sync()
    }

    fn write_group(&mut self, group: Vec<Submission>) -> Result<(), WalError> {
        let mut appended = Vec::with_capacity(group.len());
        let mut duplicates = Vec::new();
        for submission in group {
            let known = submission.batch_id.as_deref().and_then(|id| self.known(id, &appended));
            match known {
                Some(outcome) => duplicates.push((submission.reply, outcome)),
                None => appended.push(self.append(submission)?),
            }
        }
        self.wal.sync()?;
        // Counted once every request of the group is answered: off the ack path.
        let mut stored = Vec::with_capacity(appended.len());
        for Appended { seq, submission } in appended {
            let Submission { batch_id, parsed, positions, reply } = submission;
            let outcome = BatchOutcome { accepted: parsed.accepted, rejected: parsed.rejected };
            if let Some(id) = batch_id {
                self.batches.lock().unwrap_or_else(PoisonError::into_inner).insert(id, outcome);
            }
            let source = source_kind(&positions);
            let part = FreshPart {
                wal_seq: seq,
                requests: parsed.requests,
                rejects: parsed.rejects,
                positions,
            };
            stored.push((source, outcome, part.requests.clone(), part.rejects.clone()));
            self.fresh.push(part);
            let _ = reply.send(Receipt { outcome, duplicate: false });
        }
        for (reply, outcome) in duplicates {
            let _ = reply.send(Receipt { outcome, duplicate: true });
        }
        for (source, outcome, requests, rejects) in stored {
            self.count(source, outcome, &requests, &rejects);
        }
        Ok(())
    }

    /// Counts a durable batch's lines in the metrics, by its `source` kind.
    fn count(
        &self,
        source: &str,
        outcome: BatchOutcome,
        requests: &RecordBatch,
        rejects: &RecordBatch,
    ) {
        let lines = &self.metrics.lines;
        lines.with_label_values(&[source, "stored"]).inc_by(outcome.accepted);
        lines.with_label_values(&[source, "rejected"]).inc_by(outcome.rejected);
        let counted = traffic::count_requests(&self.metrics, requests)
            .and_then(|()| traffic::count_rejects(&self.metrics, source, rejects));
        if let Err(error) = counted {
            tracing::warn!(%error, "a batch is missing from the traffic metrics");
        }
    }

    /// What an earlier batch with this id gave: stored before, or earlier in this group.
    fn known(&self, id: &str, appended: &[Appended]) -> Option<BatchOutcome> {
        let remembered = self.batches.lock().unwrap_or_else(PoisonError::into_inner).get(id);
        remembered.or_else(|| {
            appended.iter().find(|entry| entry.submission.batch_id.as_deref() == Some(id)).map(
                |entry| BatchOutcome {
                    accepted: entry.submission.parsed.accepted,
                    rejected: entry.submission.parsed.rejected,
                },
            )
        })
    }

    fn append(&mut self, submission: Submission) -> Result<Appended, WalError> {
        let parsed = &submission.parsed;
        let meta = EntryMeta {
            batch_id: submission.batch_id.clone(),
            accepted: parsed.accepted,
            rejected: parsed.rejected,
            positions: submission.positions.clone(),
        };
        let seq = self.wal.append(&meta, &parsed.requests, &parsed.rejects)?;
        Ok(Appended { seq, submission })
    }
}

/// The `source` a batch's lines are counted under: `file` for a followed file's
/// read, `kafka` for a Kafka batch, `http` for what was pushed (the sink, OTLP,
/// Envoy's ALS).
fn source_kind(positions: &[Checkpoint]) -> &'static str {
    match positions.first() {
        Some(Checkpoint::File(_)) => "file",
        Some(Checkpoint::Kafka(_)) => "kafka",
        Some(Checkpoint::Sink(_)) | None => "http",
    }
}
