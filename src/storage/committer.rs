//! The committer owns a data directory while an ingest runs: it holds the
//! directory's lock, recovers from a run that died (deleting files no commit
//! lists and leftover temporary files), and commits batches. A commit writes
//! each hour's rows (sorted by `ts`) and the rejects as Parquet files, saves the
//! failover detector's state, then appends the commit record that makes them
//! count, and finally replaces the `failovers` table with the episodes it knows.

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use arrow::array::TimestampMicrosecondArray;
use arrow::record_batch::RecordBatch;

use super::StorageError;
use super::commit_log::{CommitLog, CommitRecord, SourcePosition};
use super::layout::{Layout, hour_of, partition_of};
use super::parquet_file::{
    TableFile, create_dir_synced, relative, write_atomically, write_bytes_atomically,
};
use super::schema::{
    CLUSTER_STATS_DIR, ENDPOINT_STATS_DIR, FAILOVERS_DIR, REJECTS_DIR, REQUESTS_DIR,
};
use super::time_order::{sort_by_time, time_column};

/// The rows and positions of one commit.
pub struct PendingCommit {
    /// `requests` rows in any order; the committer sorts them.
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
    /// `endpoint_stats` rows in any order; the committer sorts them.
    pub endpoint_stats: RecordBatch,
    /// `cluster_stats` rows in any order; the committer sorts them.
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

/// What recovery found when the directory was opened.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Files of a run that died before committing them, now deleted.
    pub orphans_removed: Vec<PathBuf>,
}

/// An open, locked data directory.
pub struct Committer {
    layout: Layout,
    log: CommitLog,
    run_id: String,
    /// The `failovers` table this run last wrote, so an unchanged one is not rewritten.
    failovers_written: Option<RecordBatch>,
    /// Threads to sort and encode a batch's columns on: one while something else
    /// (ingest's reader) keeps the other cores busy.
    threads: usize,
    _lock: File,
}

impl Committer {
    /// Opens (creating it if needed) and locks `data_dir`, then recovers it.
    pub fn open(data_dir: &Path) -> Result<(Committer, Recovery), StorageError> {
        let layout = Layout::new(data_dir);
        create_dir_synced(&layout.tmp_dir())?;
        let lock = lock(&layout.meta_dir().join("lock"))?;
        let log = CommitLog::open(&layout.meta_dir().join("commits.jsonl"))?;
        let run_id = run_id();
        let committer =
            Committer { layout, log, run_id, failovers_written: None, threads: 1, _lock: lock };
        let recovery = committer.recover()?;
        Ok((committer, recovery))
    }

    /// Lets the next commits share their per-column work between `threads` threads
    /// (see [`super::parallel::all_cores`]); the written files are the same.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// The commit log, to find where each source stands.
    pub fn log(&self) -> &CommitLog {
        &self.log
    }

    /// The failover detector state saved by the last commit, if any.
    pub fn detector_state(&self) -> Result<Option<Vec<u8>>, StorageError> {
        self.latest_state(DETECTOR_STATE)
    }

    /// The counter state saved by the last commit that had admin snapshots, if any.
    pub fn counter_state(&self) -> Result<Option<Vec<u8>>, StorageError> {
        self.latest_state(COUNTER_STATE)
    }

    /// The newest state file of `kind` that a commit made count: one written by a run
    /// that died before its commit record is ignored.
    fn latest_state(&self, kind: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(last) = self.log.records().last() else { return Ok(None) };
        let newest = self
            .state_files(kind)?
            .into_iter()
            .filter(|(seq, _)| *seq <= last.seq)
            .max_by_key(|(seq, _)| *seq);
        let Some((_, path)) = newest else { return Ok(None) };
        fs::read(&path).map(Some).map_err(|source| StorageError::io("read", &path, source))
    }

    /// Every state file of `kind` and the commit it belongs to.
    fn state_files(&self, kind: &str) -> Result<Vec<(u64, PathBuf)>, StorageError> {
        let prefix = format!("{kind}-");
        let mut files = Vec::new();
        for path in list_dir(&self.layout.meta_dir())? {
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let seq = name.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix(".json"));
            if let Some(seq) = seq.and_then(|seq| seq.parse::<u64>().ok()) {
                files.push((seq, path));
            }
        }
        Ok(files)
    }

    /// Makes a batch durable and visible.
    pub fn commit(&mut self, pending: PendingCommit) -> Result<CommitStats, StorageError> {
        let seq = self.log.next_seq();
        let mut files = self.write_sorted(REQUESTS_DIR, seq, &pending.requests)?;
        files.extend(self.write_partitioned(REJECTS_DIR, seq, &pending.rejects)?);
        write_bytes_atomically(
            &self.layout,
            &state_file(DETECTOR_STATE, seq),
            &pending.detector_state,
        )?;
        let mut stats_rows = 0;
        if let Some(stats) = &pending.stats {
            files.extend(self.write_sorted(ENDPOINT_STATS_DIR, seq, &stats.endpoint_stats)?);
            files.extend(self.write_sorted(CLUSTER_STATS_DIR, seq, &stats.cluster_stats)?);
            let state = state_file(COUNTER_STATE, seq);
            write_bytes_atomically(&self.layout, &state, &stats.counter_state)?;
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
            committed_at: chrono::Utc::now().to_rfc3339(),
            files,
            sources: pending.sources,
            rows: stats.rows,
            rejects: stats.rejects,
        };
        self.log.append(record)?;
        self.write_failovers(&pending.failovers)?;
        self.remove_old_states(DETECTOR_STATE, seq)?;
        if pending.stats.is_some() {
            self.remove_old_states(COUNTER_STATE, seq)?;
        }
        Ok(stats)
    }

    /// Replaces the `failovers` table with `episodes`, unless this run already wrote
    /// the same episodes (most commits find no episode starting, growing or ending).
    fn write_failovers(&mut self, episodes: &RecordBatch) -> Result<(), StorageError> {
        if self.failovers_written.as_ref() == Some(episodes) {
            return Ok(());
        }
        let relative_path = relative(FAILOVERS_DIR, None, "failovers.parquet");
        write_atomically(
            &self.layout,
            &TableFile { batch: episodes, relative_path, sorted_by: None, threads: self.threads },
        )?;
        self.failovers_written = Some(episodes.clone());
        Ok(())
    }

    /// Writes `rows` of `table` sorted by time, one file per hour.
    fn write_sorted(
        &self,
        table: &'static str,
        seq: u64,
        rows: &RecordBatch,
    ) -> Result<Vec<PathBuf>, StorageError> {
        let sorted = sort_by_time(rows, self.threads)
            .map_err(|source| StorageError::Arrow { table, source })?;
        self.write_partitioned(table, seq, &sorted)
    }

    /// Writes one file per hour of the time column (column 0); rows must be sorted.
    fn write_partitioned(
        &self,
        table: &str,
        seq: u64,
        rows: &RecordBatch,
    ) -> Result<Vec<PathBuf>, StorageError> {
        let mut files = Vec::new();
        for (start, len) in hour_runs(time_column(rows)) {
            let slice = rows.slice(start, len);
            let partition = partition_of(time_column(&slice).value(0));
            let name = format!("{seq:010}-{}-{}.parquet", self.run_id, files.len());
            let relative_path = relative(table, Some(&partition), &name);
            write_atomically(
                &self.layout,
                &TableFile {
                    batch: &slice,
                    relative_path: relative_path.clone(),
                    sorted_by: Some(0),
                    threads: self.threads,
                },
            )?;
            files.push(relative_path);
        }
        Ok(files)
    }

    /// Removes the state files of `kind` but the one of commit `seq`.
    fn remove_old_states(&self, kind: &str, seq: u64) -> Result<(), StorageError> {
        for (file_seq, path) in self.state_files(kind)? {
            if file_seq != seq {
                fs::remove_file(&path)
                    .map_err(|source| StorageError::io("remove", &path, source))?;
            }
        }
        Ok(())
    }

    /// Deletes temporary files and table files that no commit lists.
    fn recover(&self) -> Result<Recovery, StorageError> {
        for entry in list_dir(&self.layout.tmp_dir())? {
            fs::remove_file(&entry).map_err(|source| StorageError::io("remove", &entry, source))?;
        }
        let committed: HashSet<&Path> = self
            .log
            .records()
            .iter()
            .flat_map(|record| record.files.iter().map(PathBuf::as_path))
            .collect();
        let mut recovery = Recovery::default();
        for table in PARTITIONED_TABLES {
            for file in parquet_files(&self.layout.path(table))? {
                let relative_path = file.strip_prefix(self.layout.root()).unwrap_or(&file);
                if !committed.contains(relative_path) {
                    fs::remove_file(&file)
                        .map_err(|source| StorageError::io("remove", &file, source))?;
                    recovery.orphans_removed.push(relative_path.to_path_buf());
                }
            }
        }
        Ok(recovery)
    }
}

const META: &str = super::layout::META_DIR;

/// The tables whose files commits list (`failovers` is rewritten whole instead).
const PARTITIONED_TABLES: [&str; 4] =
    [REQUESTS_DIR, REJECTS_DIR, ENDPOINT_STATS_DIR, CLUSTER_STATS_DIR];

/// The failover detector's state after a commit.
const DETECTOR_STATE: &str = "failover-state";
/// The last counters of admin snapshots after a commit.
const COUNTER_STATE: &str = "counter-state";

fn state_file(kind: &str, seq: u64) -> PathBuf {
    Path::new(META).join(format!("{kind}-{seq:010}.json"))
}

fn lock(path: &Path) -> Result<File, StorageError> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| StorageError::io("open", path, source))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => {
            Err(StorageError::Locked { path: path.parent().unwrap_or(path).to_path_buf() })
        }
        Err(fs::TryLockError::Error(source)) => Err(StorageError::io("lock", path, source)),
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

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, StorageError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(StorageError::io("list", dir, source)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| StorageError::io("list", dir, source))?;
        paths.push(entry.path());
    }
    Ok(paths)
}

/// Every `.parquet` file under `dir`, at any depth.
fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>, StorageError> {
    let mut files = Vec::new();
    for path in list_dir(dir)? {
        if path.is_dir() {
            files.extend(parquet_files(&path)?);
        } else if path.extension().is_some_and(|extension| extension == "parquet") {
            files.push(path);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int32Array};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;
    use crate::analytics::failover::Episode;
    use crate::process::failovers::failovers_batch;

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

    /// A commit of no rows whose `failovers` table holds `episodes`.
    fn commit_with(committer: &mut Committer, episodes: &[Episode]) {
        let pending = PendingCommit {
            requests: RecordBatch::new_empty(crate::storage::schema::requests()),
            rejects: RecordBatch::new_empty(crate::storage::schema::rejects()),
            sources: Vec::new(),
            detector_state: b"{}".to_vec(),
            failovers: failovers_batch(episodes).unwrap(),
            stats: None,
        };
        committer.commit(pending).unwrap();
    }

    /// The inode of the `failovers` file: a rewrite (a rename into place) changes it.
    fn failovers_inode(root: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(root.join(FAILOVERS_DIR).join("failovers.parquet")).unwrap().ino()
    }

    #[test]
    fn an_unchanged_failovers_table_is_not_rewritten() {
        let root = std::env::temp_dir().join(format!("meshlog-fo-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let (mut committer, _) = Committer::open(&root).unwrap();
        let episode = Episode {
            source_cluster: "cluster1".into(),
            service: "reviews".into(),
            upstream_cluster: None,
            target_cluster: Some("cluster2".into()),
            started_at_micros: 0,
            ended_at_micros: None,
            duration_s: 10.0,
            requests: 5,
            cross_cluster_requests: 4,
            peak_cross_cluster_share: 0.8,
            errors_before: 1,
        };
        commit_with(&mut committer, std::slice::from_ref(&episode));
        let first = failovers_inode(&root);
        commit_with(&mut committer, std::slice::from_ref(&episode));
        assert_eq!(failovers_inode(&root), first, "the same episodes: no rewrite");
        let grown = Episode { requests: 6, ..episode };
        commit_with(&mut committer, &[grown]);
        assert_ne!(failovers_inode(&root), first, "an episode that grew is written");
        drop(committer);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn hour_runs_split_sorted_rows_at_hour_boundaries() {
        let rows = batch(&[0, HOUR_US - 1, HOUR_US, HOUR_US + 5, 3 * HOUR_US]);
        assert_eq!(hour_runs(time_column(&rows)), [(0, 2), (2, 2), (4, 1)]);
    }
}
