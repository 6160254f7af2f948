//! Staging a commit: the first half of committing a batch, which costs CPU but
//! never waits for the disk. Each hour's rows (sorted by `ts`), the rejects and
//! the resume states are written under `_meshlog/tmp/`, and the commit record
//! that will make them count is prepared. [`super::committer::Publisher`]
//! does the second half. Ingest runs the two on different threads, so that one
//! commit's fsyncs overlap the encoding of the next.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::TimestampMicrosecondArray;
use arrow::record_batch::RecordBatch;

use super::StorageError;
use super::commit_log::{CommitRecord, SourcePosition};
use super::layout::{Layout, hour_of, partition_of};
use super::parquet_file::{StagedFile, TableFile, relative, stage, stage_bytes, with_dictionaries};
use super::schema::{CLUSTER_STATS_DIR, ENDPOINT_STATS_DIR, REJECTS_DIR, REQUESTS_DIR};
use super::time_order::{sort_by_time, time_column};

/// The rows and positions of one commit.
pub struct PendingCommit {
    /// `requests` rows in any order; the stager sorts them.
    pub requests: RecordBatch,
    pub rejects: RecordBatch,
    /// Where each source stands once these rows are stored.
    pub sources: Vec<SourcePosition>,
    /// The failover detector's state after these rows, to resume from.
    pub detector_state: Vec<u8>,
    /// Every failover episode known after these rows.
    pub failovers: RecordBatch,
    /// Rows of admin snapshots (`/clusters`, `/stats`…), if this commit has any.
    pub stats: Option<StatsCommit>,
}

impl PendingCommit {
    /// A commit of admin snapshots alone (dump files or a scrape round): no requests,
    /// and the failover detector's state and episodes carried over as they are.
    pub fn snapshots(
        stats: StatsCommit,
        rejects: RecordBatch,
        sources: Vec<SourcePosition>,
        detector_state: Vec<u8>,
        failovers: RecordBatch,
    ) -> PendingCommit {
        let requests = RecordBatch::new_empty(super::schema::requests());
        PendingCommit { requests, rejects, sources, detector_state, failovers, stats: Some(stats) }
    }
}

/// The rows of admin snapshots in a commit, and the counter state after them.
pub struct StatsCommit {
    /// `endpoint_stats` rows in any order; the stager sorts them.
    pub endpoint_stats: RecordBatch,
    /// `cluster_stats` rows in any order; the stager sorts them.
    pub cluster_stats: RecordBatch,
    /// The last counters seen per proxy, host and statistic (for deltas), to resume from.
    pub counter_state: Vec<u8>,
}

/// What a commit wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommitStats {
    pub files: u64,
    pub rows: u64,
    pub rejects: u64,
    /// `endpoint_stats` and `cluster_stats` rows.
    pub stats_rows: u64,
}

/// A commit whose files are written under `_meshlog/tmp/`, ready to publish.
pub struct StagedCommit {
    /// The table files, then the state files.
    pub files: Vec<StagedFile>,
    /// The record that makes the table files count; `committed_at` is set on publishing.
    pub record: CommitRecord,
    /// Every failover episode known after this commit.
    pub failovers: RecordBatch,
    /// Whether the commit saves a new counter state (it has admin snapshots).
    pub saves_counters: bool,
    pub stats: CommitStats,
}

/// The failover detector's state after a commit.
pub const DETECTOR_STATE: &str = "failover-state";
/// The last counters of admin snapshots after a commit.
pub const COUNTER_STATE: &str = "counter-state";

/// A state file's path, relative to the data directory.
pub fn state_file(kind: &str, seq: u64) -> PathBuf {
    Path::new(super::layout::META_DIR).join(format!("{kind}-{seq:010}.json"))
}

/// Stages commits one after another, numbering them.
pub struct Stager {
    layout: Layout,
    /// A name part that keeps this run's files apart from any other run's.
    run_id: String,
    /// Threads to sort and encode a batch's columns on: one while something else
    /// (ingest's reader) keeps the other cores busy.
    threads: usize,
    next_seq: u64,
    /// The directory's lock, shared with the publisher: held until both halves are done.
    _lock: Arc<File>,
}

impl Stager {
    /// Stages commits from number `next_seq` on, in the directory `lock` locks.
    pub fn new(layout: Layout, next_seq: u64, lock: Arc<File>) -> Stager {
        Stager { layout, run_id: run_id(), threads: 1, next_seq, _lock: lock }
    }

    /// Lets the next commits share their per-column work between `threads` threads
    /// (see [`super::parallel::all_cores`]); the written files are the same.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Sorts and encodes a batch's files into `_meshlog/tmp/`.
    pub fn stage(&mut self, pending: PendingCommit) -> Result<StagedCommit, StorageError> {
        let seq = self.next_seq;
        let mut files = self.write_sorted(REQUESTS_DIR, seq, &pending.requests)?;
        files.extend(self.write_partitioned(REJECTS_DIR, seq, &pending.rejects)?);
        let mut stats_rows = 0;
        if let Some(stats) = &pending.stats {
            files.extend(self.write_sorted(ENDPOINT_STATS_DIR, seq, &stats.endpoint_stats)?);
            files.extend(self.write_sorted(CLUSTER_STATS_DIR, seq, &stats.cluster_stats)?);
            stats_rows = (stats.endpoint_stats.num_rows() + stats.cluster_stats.num_rows()) as u64;
        }
        let stats = CommitStats {
            files: files.len() as u64,
            rows: pending.requests.num_rows() as u64,
            rejects: pending.rejects.num_rows() as u64,
            stats_rows,
        };
        let record = CommitRecord {
            seq,
            committed_at: String::new(),
            files: files.iter().map(|file| file.relative_path.clone()).collect(),
            sources: pending.sources,
            rows: stats.rows,
            rejects: stats.rejects,
        };
        let detector_state = state_file(DETECTOR_STATE, seq);
        files.push(stage_bytes(&self.layout, &detector_state, &pending.detector_state)?);
        if let Some(stats) = &pending.stats {
            let counter_state = state_file(COUNTER_STATE, seq);
            files.push(stage_bytes(&self.layout, &counter_state, &stats.counter_state)?);
        }
        self.next_seq += 1;
        let saves_counters = pending.stats.is_some();
        Ok(StagedCommit { files, record, failovers: pending.failovers, saves_counters, stats })
    }

    /// Writes `rows` of `table` sorted by time, one file per hour.
    fn write_sorted(
        &self,
        table: &'static str,
        seq: u64,
        rows: &RecordBatch,
    ) -> Result<Vec<StagedFile>, StorageError> {
        let arrow_error = |source| StorageError::Arrow { table, source };
        let rows = with_dictionaries(rows, self.threads).map_err(arrow_error)?;
        let sorted = sort_by_time(&rows, self.threads).map_err(arrow_error)?;
        self.write_partitioned(table, seq, &sorted)
    }

    /// Writes one file per hour of the time column (column 0); rows must be sorted.
    fn write_partitioned(
        &self,
        table: &str,
        seq: u64,
        rows: &RecordBatch,
    ) -> Result<Vec<StagedFile>, StorageError> {
        let mut files = Vec::new();
        for (start, len) in hour_runs(time_column(rows)) {
            let slice = rows.slice(start, len);
            let partition = partition_of(time_column(&slice).value(0));
            let name = format!("{seq:010}-{}-{}.parquet", self.run_id, files.len());
            let relative_path = relative(table, Some(&partition), &name);
            let file = TableFile {
                batch: &slice,
                relative_path,
                sorted_by: Some(0),
                threads: self.threads,
            };
            files.push(stage(&self.layout, &file)?);
        }
        Ok(files)
    }
}

/// A name part that keeps two runs' files apart: the start time and process id.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("{:x}{:x}", nanos as u64, std::process::id())
}

/// Runs of consecutive rows in the same hour: (start, len).
fn hour_runs(times: &TimestampMicrosecondArray) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut current_hour = None;
    for (index, micros) in times.values().iter().enumerate() {
        let hour = hour_of(*micros);
        match runs.last_mut() {
            Some(run) if current_hour == Some(hour) => run.1 += 1,
            _ => runs.push((index, 1)),
        }
        current_hour = Some(hour);
    }
    runs
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int32Array};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    const HOUR_US: i64 = 3_600_000_000;

    fn batch(times: &[i64]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), false),
            Field::new("n", DataType::Int32, false),
        ]);
        let order = (0..i32::try_from(times.len()).unwrap()).collect::<Vec<_>>();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from(times.to_vec())),
            Arc::new(Int32Array::from(order)),
        ];
        RecordBatch::try_new(Arc::new(schema), columns).unwrap()
    }

    #[test]
    fn hour_runs_split_sorted_rows_at_hour_boundaries() {
        let rows = batch(&[0, HOUR_US - 1, HOUR_US, HOUR_US + 5, 3 * HOUR_US]);
        assert_eq!(hour_runs(time_column(&rows)), [(0, 2), (2, 2), (4, 1)]);
    }
}
