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
use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;

use super::StorageError;
use super::commit_log::{Checkpoint, CommitRecord, FileCommit};
use super::layout::{Layout, day_of, day_partition_of, hour_of, partition_of};
use super::parquet_file::{
    StagedFile, TableFile, as_stored_dictionary, relative, stage, stage_bytes, with_dictionaries,
};
use super::schema::{
    CLUSTER_STATS_DIR, ENDPOINT_STATS_DIR, ENDPOINTS_1M_DIR, REJECTS_DIR, REQUESTS_1M_DIR,
    REQUESTS_DIR,
};
use super::time_order::{merge_by_time, time_column};
use crate::analytics::rollup::{self, Rollup};

/// A table a commit adds rows to, in hourly (rollups: daily) partitions of its time
/// column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendedTable {
    Requests,
    Rejects,
    EndpointStats,
    ClusterStats,
    /// Written by the stager with each commit's `requests` rows, and by compaction.
    Requests1m,
    Endpoints1m,
}

impl AppendedTable {
    /// Its directory under the data directory.
    pub fn dir(self) -> &'static str {
        match self {
            AppendedTable::Requests => REQUESTS_DIR,
            AppendedTable::Rejects => REJECTS_DIR,
            AppendedTable::EndpointStats => ENDPOINT_STATS_DIR,
            AppendedTable::ClusterStats => CLUSTER_STATS_DIR,
            AppendedTable::Requests1m => REQUESTS_1M_DIR,
            AppendedTable::Endpoints1m => ENDPOINTS_1M_DIR,
        }
    }

    /// The rollup table of `rollup`.
    pub fn of_rollup(rollup: Rollup) -> AppendedTable {
        match rollup {
            Rollup::Requests1m => AppendedTable::Requests1m,
            Rollup::Endpoints1m => AppendedTable::Endpoints1m,
        }
    }

    /// Whether its partitions are days rather than hours.
    fn daily(self) -> bool {
        matches!(self, AppendedTable::Requests1m | AppendedTable::Endpoints1m)
    }

    /// Whether the stager sorts its rows by time (rejects stay in reading order).
    fn sorted(self) -> bool {
        self != AppendedTable::Rejects
    }
}

/// The state a stage saves with a commit, to resume from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// The failover detector's state.
    Detector,
    /// The last counters of admin snapshots per proxy, host and statistic (for deltas).
    Counters,
    /// The batch ids `meshlog serve` remembers, so that a retried batch is stored once.
    SinkBatches,
}

impl StateKind {
    pub const ALL: [StateKind; 3] =
        [StateKind::Detector, StateKind::Counters, StateKind::SinkBatches];

    /// The prefix of its files' names in `_meshlog/`.
    pub fn file_prefix(self) -> &'static str {
        match self {
            StateKind::Detector => "failover-state",
            StateKind::Counters => "counter-state",
            StateKind::SinkBatches => "sink-batches",
        }
    }
}

/// What one commit stores: rows added to tables, the states of the stages that
/// changed, the tables it replaces whole (derived from a state), and where each
/// source stands once these are stored. Each stage adds what it has; a commit of
/// admin snapshots carries no detector state, one of access logs no counters.
#[derive(Default)]
pub struct PendingCommit {
    pub rows: Vec<(AppendedTable, RecordBatch)>,
    pub states: Vec<(StateKind, Vec<u8>)>,
    /// Every failover episode known after this commit, when the detector changed.
    pub failovers: Option<RecordBatch>,
    pub checkpoints: Vec<Checkpoint>,
    /// Committed files this commit's rows replace (a compaction's).
    pub removed: Vec<PathBuf>,
}

impl PendingCommit {
    /// Adds `batch` to `table` (an empty batch adds nothing). The batches a commit
    /// adds to one table are written together: sorted across them, into one file per
    /// hour.
    pub fn add_rows(&mut self, table: AppendedTable, batch: RecordBatch) {
        self.rows.push((table, batch));
    }

    /// Saves a stage's state with this commit.
    pub fn save_state(&mut self, kind: StateKind, bytes: Vec<u8>) {
        self.states.push((kind, bytes));
    }

    /// Rows of `table` in this commit.
    fn rows_of(&self, table: AppendedTable) -> u64 {
        let rows = self.rows.iter().filter(|(of, _)| *of == table);
        rows.map(|(_, batch)| batch.num_rows() as u64).sum()
    }

    /// Whether the commit stores nothing and moves no source.
    pub fn is_empty(&self) -> bool {
        self.rows.iter().all(|(_, batch)| batch.num_rows() == 0)
            && self.states.is_empty()
            && self.failovers.is_none()
            && self.checkpoints.is_empty()
    }
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

impl CommitStats {
    /// Adds what another commit wrote.
    pub fn add(&mut self, other: CommitStats) {
        self.files += other.files;
        self.rows += other.rows;
        self.rejects += other.rejects;
        self.stats_rows += other.stats_rows;
    }
}

/// A commit whose files are written under `_meshlog/tmp/`, ready to publish.
pub struct StagedCommit {
    /// The table files, then the state files.
    pub files: Vec<StagedFile>,
    /// The record that makes the table files count; `committed_at` is set on publishing.
    pub record: CommitRecord,
    /// Every failover episode known after this commit, when the detector changed.
    pub failovers: Option<RecordBatch>,
    /// The kinds of state this commit saves.
    pub saved_states: Vec<StateKind>,
    pub stats: CommitStats,
}

/// A state file's path, relative to the data directory.
pub fn state_file(kind: StateKind, seq: u64) -> PathBuf {
    Path::new(super::layout::META_DIR).join(format!("{}-{seq:010}.json", kind.file_prefix()))
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
        let commit = FileCommit { seq, sources: pending.checkpoints.clone() };
        let commit = serde_json::to_string(&commit)
            .map_err(|source| StorageError::State { what: "commit", source })?;
        let mut files = Vec::new();
        for (table, parts) in parts_by_table(&pending.rows) {
            let target = Target { table, seq, commit: &commit };
            if !table.sorted() {
                self.write_unsorted(&target, &parts, &mut files)?;
                continue;
            }
            let sorted = merge_by_time(&parts, self.threads, as_stored_dictionary)
                .map_err(|source| StorageError::Arrow { table: table.dir(), source })?;
            self.write_partitioned(&target, &sorted, &mut files)?;
            // A compaction moves rows the rollups already count.
            if table == AppendedTable::Requests && pending.removed.is_empty() {
                self.write_rollups(seq, &commit, &sorted, &mut files)?;
            }
        }
        // A compaction moves rows from the files it replaces: it adds none.
        let added = |table| match pending.removed.is_empty() {
            true => pending.rows_of(table),
            false => 0,
        };
        let stats = CommitStats {
            files: files.len() as u64,
            rows: added(AppendedTable::Requests),
            rejects: added(AppendedTable::Rejects),
            stats_rows: added(AppendedTable::EndpointStats) + added(AppendedTable::ClusterStats),
        };
        let mut record = CommitRecord {
            seq,
            committed_at: String::new(),
            files: files.iter().map(|file| file.relative_path.clone()).collect(),
            sources: pending.checkpoints,
            states: Vec::new(),
            rows: stats.rows,
            rejects: stats.rejects,
            compacted: 0,
            removed: pending.removed,
        };
        let mut saved_states = Vec::new();
        for (kind, bytes) in &pending.states {
            let path = state_file(*kind, seq);
            files.push(stage_bytes(&self.layout, &path, bytes)?);
            record.states.push(path);
            saved_states.push(*kind);
        }
        self.next_seq += 1;
        Ok(StagedCommit { files, record, failovers: pending.failovers, saved_states, stats })
    }

    /// Writes both rollups of a commit's `requests` rows, one file per day each.
    fn write_rollups(
        &self,
        seq: u64,
        commit: &str,
        requests: &RecordBatch,
        files: &mut Vec<StagedFile>,
    ) -> Result<(), StorageError> {
        for (rollup, rows) in rollup::of_requests(requests)
            .map_err(|source| StorageError::Arrow { table: REQUESTS_1M_DIR, source })?
        {
            let table = AppendedTable::of_rollup(rollup);
            let rows = with_dictionaries(&rows, self.threads)
                .map_err(|source| StorageError::Arrow { table: table.dir(), source })?;
            self.write_partitioned(&Target { table, seq, commit }, &rows, files)?;
        }
        Ok(())
    }

    /// Writes the rows of a table's `parts` in their order, one file per hour run.
    fn write_unsorted(
        &self,
        target: &Target<'_>,
        parts: &[RecordBatch],
        files: &mut Vec<StagedFile>,
    ) -> Result<(), StorageError> {
        let rows = match parts {
            [one] => one.clone(),
            _ => concat_batches(&parts[0].schema(), parts)
                .map_err(|source| StorageError::Arrow { table: target.table.dir(), source })?,
        };
        self.write_partitioned(target, &rows, files)
    }

    /// Writes one file per hour (or day) of the time column (column 0) into `files`,
    /// the commit's so far; rows must be sorted. Files are numbered in the commit, so
    /// no two of its files share a name, whatever their tables.
    fn write_partitioned(
        &self,
        target: &Target<'_>,
        rows: &RecordBatch,
        files: &mut Vec<StagedFile>,
    ) -> Result<(), StorageError> {
        let daily = target.table.daily();
        let period_of = if daily { day_of } else { hour_of };
        let partition_of = if daily { day_partition_of } else { partition_of };
        for (start, len) in runs(time_column(rows), period_of) {
            let slice = rows.slice(start, len);
            let partition = partition_of(time_column(&slice).value(0));
            let name = format!("{:010}-{}-{}.parquet", target.seq, self.run_id, files.len());
            let relative_path = relative(target.table.dir(), Some(&partition), &name);
            let file = TableFile {
                batch: &slice,
                relative_path,
                sorted_by: Some(0),
                threads: self.threads,
                commit: Some(target.commit),
            };
            files.push(stage(&self.layout, &file)?);
        }
        Ok(())
    }
}

/// The rows a commit adds, by table in the order the tables first come, each
/// table's parts in their order (one commit writes one set of files per table).
fn parts_by_table(rows: &[(AppendedTable, RecordBatch)]) -> Vec<(AppendedTable, Vec<RecordBatch>)> {
    let mut tables: Vec<(AppendedTable, Vec<RecordBatch>)> = Vec::new();
    for (table, batch) in rows {
        match tables.iter_mut().find(|(of, _)| of == table) {
            Some((_, parts)) => parts.push(batch.clone()),
            None => tables.push((*table, vec![batch.clone()])),
        }
    }
    tables
}

/// Where a table's files of one commit go, and the commit they say they belong to.
struct Target<'a> {
    table: AppendedTable,
    seq: u64,
    /// A [`FileCommit`] as JSON, for each file's footer.
    commit: &'a str,
}

/// A name part that keeps two runs' files apart: the start time and process id.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("{:x}{:x}", nanos as u64, std::process::id())
}

/// Runs of consecutive rows in the same period (the start of which `period_of`
/// gives): (start, len).
fn runs(times: &TimestampMicrosecondArray, period_of: fn(i64) -> i64) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut current = None;
    for (index, micros) in times.values().iter().enumerate() {
        let period = period_of(*micros);
        match runs.last_mut() {
            Some(run) if current == Some(period) => run.1 += 1,
            _ => runs.push((index, 1)),
        }
        current = Some(period);
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
        assert_eq!(runs(time_column(&rows), hour_of), [(0, 2), (2, 2), (4, 1)]);
    }
}
