//! The committer owns a data directory while an ingest runs: it holds the
//! directory's lock, recovers from a run that died (deleting leftover temporary
//! files, and table and state files no commit lists), and commits batches. A
//! commit has two halves: the [`Stager`] writes its files under `_meshlog/tmp/`
//! (CPU work), then the [`Publisher`] makes them durable and visible (fsync,
//! rename, fsync the directories), appends the commit record that makes them
//! count, and replaces the `failovers` table with the episodes it knows.
//! [`Committer::into_halves`] lets ingest run the halves on two threads, one
//! commit apart.

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use super::StorageError;
use super::commit_log::{COMMIT_LOG, CommitLog, CommitRecord, check_files_present, live_files};
use super::layout::Layout;
use super::parquet_file::{
    TableFile, create_dir_synced, publish_files, relative, write_atomically,
};
use super::rollup_marker::mark_rollups_complete;
use super::schema::{
    CLUSTER_STATS_DIR, ENDPOINT_STATS_DIR, ENDPOINTS_1M_DIR, FAILOVERS_DIR, REJECTS_DIR,
    REQUESTS_1M_DIR, REQUESTS_DIR,
};
pub use super::staging::{
    AppendedTable, CommitStats, PendingCommit, StagedCommit, Stager, StateKind,
};

/// A commit log longer than this is compacted into one record when the directory
/// is opened: a day of ingesting 64 Ki-row batches at 20 000 lines/s is 26 000.
const COMPACT_AFTER_RECORDS: usize = 1024;

/// What recovery found when the directory was opened.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Table and state files no commit lists (a run that died before committing
    /// them), relative to the data directory, now moved under `quarantine`.
    pub quarantined: Vec<PathBuf>,
    /// Where they went: `_meshlog/quarantine/<time>/`, keeping their paths.
    pub quarantine: Option<PathBuf>,
}

impl Recovery {
    /// One line for the end-of-run summary, when recovery moved anything.
    pub fn summary(&self) -> Option<String> {
        let dir = self.quarantine.as_ref()?;
        Some(format!(
            "moved {} files no commit lists (left by an interrupted run) to {}; \
             their lines are read again from the last commit",
            self.quarantined.len(),
            dir.display()
        ))
    }
}

/// An open, locked data directory.
pub struct Committer {
    stager: Stager,
    publisher: Publisher,
}

/// The half of a committer that makes staged commits durable and visible, in the
/// order they were staged. It holds the directory's lock.
pub struct Publisher {
    layout: Layout,
    log: CommitLog,
    /// The `failovers` table this run last wrote, so an unchanged one is not rewritten.
    failovers_written: Option<RecordBatch>,
    /// Files replaced by a compaction, deleted [`RETIRED_FOR`] later, so that a
    /// query that listed them before the compaction still reads them.
    retired: std::collections::VecDeque<(std::time::Instant, Vec<PathBuf>)>,
    /// The directory's lock, shared with the stager: held until both halves are done.
    _lock: Arc<File>,
}

impl Committer {
    /// Opens (creating it if needed) and locks `data_dir`, then recovers it.
    pub fn open(data_dir: &Path) -> Result<(Committer, Recovery), StorageError> {
        let layout = Layout::new(data_dir);
        create_dir_synced(&layout.tmp_dir())?;
        let lock = Arc::new(lock(&layout.meta_dir().join("lock"))?);
        let mut log = CommitLog::open(&layout.meta_dir().join(COMMIT_LOG))?;
        // Before the log is compacted (it then no longer names them).
        delete_replaced(&layout, log.records())?;
        log.compact_if_longer_than(COMPACT_AFTER_RECORDS)?;
        let stager = Stager::new(layout.clone(), log.next_seq(), lock.clone());
        let publisher = Publisher {
            layout,
            log,
            failovers_written: None,
            retired: std::collections::VecDeque::new(),
            _lock: lock,
        };
        let recovery = publisher.recover()?;
        let no_requests =
            live_files(publisher.log.records()).iter().all(|file| !file.starts_with(REQUESTS_DIR));
        if no_requests {
            // Every row from now on is rolled up in the commit that stores it.
            mark_rollups_complete(data_dir)?;
        }
        Ok((Committer { stager, publisher }, recovery))
    }

    /// Lets the next commits share their per-column work between `threads` threads
    /// (see [`super::parallel::all_cores`]); the written files are the same.
    pub fn set_threads(&mut self, threads: usize) {
        self.stager.set_threads(threads);
    }

    /// The commit log, to find where each source stands.
    pub fn log(&self) -> &CommitLog {
        &self.publisher.log
    }

    /// The state of `kind` saved by the last commit that saved one, if any.
    pub fn state(&self, kind: StateKind) -> Result<Option<Vec<u8>>, StorageError> {
        self.publisher.latest_state(kind)
    }

    /// Writes the `failovers` table from the detector state the last commit saved,
    /// so that a crash between a commit and the table's rewrite leaves no stale table.
    pub fn restore_failovers(&mut self, episodes: &RecordBatch) -> Result<(), StorageError> {
        self.publisher.write_failovers(episodes)
    }

    /// Makes a batch durable and visible.
    pub fn commit(&mut self, pending: PendingCommit) -> Result<CommitStats, StorageError> {
        let staged = self.stager.stage(pending)?;
        self.publisher.publish(staged)
    }

    /// The two halves of committing, to run on two threads: every commit the
    /// stager stages must reach the publisher, in order.
    pub fn into_halves(self) -> (Stager, Publisher) {
        (self.stager, self.publisher)
    }
}

impl Publisher {
    /// Makes a staged commit durable and visible, then counts it: its files are
    /// fsynced and renamed into place before the commit record is appended, so after
    /// a crash at any moment, recovery finds either the whole commit or none of it.
    pub fn publish(&mut self, staged: StagedCommit) -> Result<CommitStats, StorageError> {
        publish_files(&self.layout, staged.files)?;
        let mut record = staged.record;
        let seq = record.seq;
        record.committed_at = chrono::Utc::now().to_rfc3339();
        let replaced = record.removed.clone();
        self.log.append(record)?;
        self.retire(replaced)?;
        if let Some(failovers) = &staged.failovers {
            self.write_failovers(failovers)?;
        }
        for kind in staged.saved_states {
            self.remove_old_states(kind, seq)?;
        }
        Ok(staged.stats)
    }

    /// Deletes the files replaced more than [`RETIRED_FOR`] ago, and puts `replaced`
    /// in line.
    fn retire(&mut self, replaced: Vec<PathBuf>) -> Result<(), StorageError> {
        let now = std::time::Instant::now();
        if !replaced.is_empty() {
            self.retired.push_back((now, replaced));
        }
        while let Some((at, _)) = self.retired.front() {
            if now.duration_since(*at) < RETIRED_FOR {
                break;
            }
            if let Some((_, files)) = self.retired.pop_front() {
                delete_files(&self.layout, &files)?;
            }
        }
        Ok(())
    }

    /// Deletes every replaced file still kept (the writer is done).
    pub fn finish(&mut self) -> Result<(), StorageError> {
        while let Some((_, files)) = self.retired.pop_front() {
            delete_files(&self.layout, &files)?;
        }
        Ok(())
    }

    /// The newest state file of `kind` that a commit made count: one written by a run
    /// that died before its commit record is ignored.
    fn latest_state(&self, kind: StateKind) -> Result<Option<Vec<u8>>, StorageError> {
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
    fn state_files(&self, kind: StateKind) -> Result<Vec<(u64, PathBuf)>, StorageError> {
        let prefix = format!("{}-", kind.file_prefix());
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

    /// Replaces the `failovers` table with `episodes`, unless this run already wrote
    /// the same episodes (most commits find no episode starting, growing or ending).
    fn write_failovers(&mut self, episodes: &RecordBatch) -> Result<(), StorageError> {
        if self.failovers_written.as_ref() == Some(episodes) {
            return Ok(());
        }
        let relative_path = relative(FAILOVERS_DIR, None, "failovers.parquet");
        write_atomically(
            &self.layout,
            &TableFile {
                batch: episodes,
                relative_path,
                sorted_by: None,
                threads: 1,
                commit: None,
            },
        )?;
        self.failovers_written = Some(episodes.clone());
        Ok(())
    }

    /// Removes the state files of `kind` but the one of commit `seq` and the one
    /// before it: should the log lose its last record, the state it then ends on is
    /// still there, and the lost commit's lines are read again.
    fn remove_old_states(&self, kind: StateKind, seq: u64) -> Result<(), StorageError> {
        let mut files = self.state_files(kind)?;
        files.sort_by_key(|(file_seq, _)| std::cmp::Reverse(*file_seq));
        let previous = files.iter().map(|(file_seq, _)| *file_seq).find(|file_seq| *file_seq < seq);
        for (file_seq, path) in files {
            if file_seq != seq && Some(file_seq) != previous {
                fs::remove_file(&path)
                    .map_err(|source| StorageError::io("remove", &path, source))?;
            }
        }
        Ok(())
    }

    /// Deletes temporary files; moves the table and state files that no commit
    /// lists aside, never deleting them; and checks that every committed file and
    /// the newest state of each kind are there, naming what is not.
    fn recover(&self) -> Result<Recovery, StorageError> {
        for entry in list_dir(&self.layout.tmp_dir())? {
            fs::remove_file(&entry).map_err(|source| StorageError::io("remove", &entry, source))?;
        }
        self.check_committed_files()?;
        self.check_states()?;
        let mut orphans = Vec::new();
        // A state file of a commit whose record was never appended: the next commit
        // takes its number, and one without that kind of state would not replace it.
        for kind in StateKind::ALL {
            for (seq, path) in self.state_files(kind)? {
                if seq >= self.log.next_seq() {
                    orphans.push(path);
                }
            }
        }
        let committed = self.committed_files();
        for table in PARTITIONED_TABLES {
            for file in parquet_files(&self.layout.path(table))? {
                let relative_path = file.strip_prefix(self.layout.root()).unwrap_or(&file);
                if !committed.contains(relative_path) {
                    orphans.push(file);
                }
            }
        }
        self.quarantine(orphans)
    }

    fn committed_files(&self) -> HashSet<&Path> {
        live_files(self.log.records()).into_iter().collect()
    }

    /// Every file a commit lists is there.
    fn check_committed_files(&self) -> Result<(), StorageError> {
        check_files_present(self.log.records(), self.layout.root())
    }

    /// The newest state of each kind that a commit says it saved is there.
    fn check_states(&self) -> Result<(), StorageError> {
        for kind in StateKind::ALL {
            let prefix = format!("{}-", kind.file_prefix());
            let newest = self.log.records().iter().rev().find_map(|record| {
                let saved = record.states.iter().find(|path| {
                    path.file_name().is_some_and(|name| name.to_string_lossy().starts_with(&prefix))
                });
                saved.map(|path| (record.seq, path))
            });
            let Some((seq, path)) = newest.filter(|(_, path)| !self.layout.path(path).exists())
            else {
                continue;
            };
            // Replaced by a later commit's state: the log lost that commit's record.
            let later = self.state_files(kind)?.into_iter().find(|(later, _)| *later > seq);
            if let Some((_, found)) = later {
                let data_dir = self.layout.root().into();
                return Err(StorageError::LostRecords { last_seq: seq, found, data_dir });
            }
            return Err(StorageError::MissingState { path: self.layout.path(path), seq });
        }
        Ok(())
    }

    /// Moves `files` under `_meshlog/quarantine/<time>/`, keeping their paths
    /// relative to the data directory.
    fn quarantine(&self, files: Vec<PathBuf>) -> Result<Recovery, StorageError> {
        if files.is_empty() {
            return Ok(Recovery::default());
        }
        let root = self.layout.root();
        let quarantined: Vec<PathBuf> = files
            .iter()
            .map(|file| file.strip_prefix(root).unwrap_or(file).to_path_buf())
            .collect();
        let dir = move_aside(&self.layout, &quarantined, "")?;
        tracing::warn!(
            files = quarantined.len(),
            to = %dir.display(),
            "moved files no commit lists aside"
        );
        Ok(Recovery { quarantined, quarantine: Some(dir) })
    }
}

/// Moves `files` (relative to the data directory) under
/// `_meshlog/quarantine/<label><time>/`, keeping their paths; returns that directory.
pub(super) fn move_aside(
    layout: &Layout,
    files: &[PathBuf],
    label: &str,
) -> Result<PathBuf, StorageError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let dir = layout.meta_dir().join("quarantine").join(format!("{label}{stamp}"));
    for file in files {
        let target = dir.join(file);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|source| StorageError::io("create", parent, source))?;
        }
        let from = layout.path(file);
        fs::rename(&from, &target)
            .map_err(|source| StorageError::io("move aside", &from, source))?;
    }
    Ok(dir)
}

/// The tables whose files commits list (`failovers` is rewritten whole instead).
pub(super) const PARTITIONED_TABLES: [&str; 6] = [
    REQUESTS_DIR,
    REJECTS_DIR,
    ENDPOINT_STATS_DIR,
    CLUSTER_STATS_DIR,
    REQUESTS_1M_DIR,
    ENDPOINTS_1M_DIR,
];

pub(super) fn lock(path: &Path) -> Result<File, StorageError> {
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

pub(super) fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, StorageError> {
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
/// How long a file replaced by a compaction is kept for queries already reading it.
const RETIRED_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// Deletes the files that commits say they replaced, where still there (a crash
/// came between a compaction's record and the deletion).
fn delete_replaced(layout: &Layout, records: &[CommitRecord]) -> Result<(), StorageError> {
    let replaced: Vec<PathBuf> = records.iter().flat_map(|record| record.removed.clone()).collect();
    delete_files(layout, &replaced)
}

fn delete_files(layout: &Layout, files: &[PathBuf]) -> Result<(), StorageError> {
    for file in files {
        let path = layout.path(file);
        match fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(StorageError::io("remove", &path, error));
            }
            _ => {}
        }
    }
    Ok(())
}

pub(super) fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>, StorageError> {
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

    use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};

    use super::*;
    use crate::analytics::failover::Episode;
    use crate::process::failovers::failovers_batch;

    /// One `rejects` row, so that a commit has a table file.
    fn one_reject() -> RecordBatch {
        let text = |value: &str| -> ArrayRef { Arc::new(StringArray::from(vec![value])) };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(
                TimestampMicrosecondArray::from(vec![1_700_000_000_000_000]).with_timezone("UTC"),
            ),
            text("cluster1"),
            text("a.log"),
            Arc::new(Int64Array::from(vec![0])),
            Arc::new(Int64Array::from(vec![1])),
            Arc::new(Int64Array::from(vec![1])),
            text("syntax"),
            text("expected a date"),
            text("garbage"),
        ];
        RecordBatch::try_new(crate::storage::schema::rejects(), columns).unwrap()
    }

    fn pending(rejects: RecordBatch, detector_state: &[u8]) -> PendingCommit {
        let mut pending = PendingCommit::default();
        pending.add_rows(AppendedTable::Rejects, rejects);
        pending.save_state(StateKind::Detector, detector_state.to_vec());
        pending.failovers = Some(failovers_batch(&[]).unwrap());
        pending
    }

    fn rejects_files(root: &Path) -> Vec<PathBuf> {
        parquet_files(&root.join(REJECTS_DIR)).unwrap()
    }

    #[test]
    fn a_staged_commit_counts_only_once_published() {
        let root = std::env::temp_dir().join(format!("meshlog-stage-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let (committer, _) = Committer::open(&root).unwrap();
        let (mut stager, mut publisher) = committer.into_halves();
        let first = stager.stage(pending(one_reject(), b"1")).unwrap();
        let second = stager.stage(pending(one_reject(), b"2")).unwrap();
        assert!(rejects_files(&root).is_empty(), "staged files are not in the table");
        assert_eq!(publisher.publish(first).unwrap().rejects, 1);
        assert_eq!(rejects_files(&root).len(), 1);
        assert_eq!(publisher.latest_state(StateKind::Detector).unwrap().unwrap(), b"1");
        // A crash before the second commit is published loses it whole, and only it.
        drop((stager, publisher, second));
        let (reopened, recovery) = Committer::open(&root).unwrap();
        assert!(recovery.quarantined.is_empty());
        assert_eq!(fs::read_dir(root.join(crate::storage::layout::TMP_DIR)).unwrap().count(), 0);
        assert_eq!(reopened.log().records().len(), 1);
        assert_eq!(reopened.state(StateKind::Detector).unwrap().unwrap(), b"1");
        assert_eq!(rejects_files(&root).len(), 1);
        drop(reopened);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_state_file_no_commit_lists_is_removed_on_open() {
        let root = std::env::temp_dir().join(format!("meshlog-state-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let (mut committer, _) = Committer::open(&root).unwrap();
        committer.commit(pending(one_reject(), b"1")).unwrap();
        drop(committer);
        // A run that died after publishing commit 2's counter state, before its record.
        let uncommitted = root.join(crate::storage::staging::state_file(StateKind::Counters, 2));
        fs::write(&uncommitted, b"uncommitted").unwrap();
        let (mut committer, recovery) = Committer::open(&root).unwrap();
        assert_eq!(
            recovery.quarantined,
            [crate::storage::staging::state_file(StateKind::Counters, 2)]
        );
        assert!(!uncommitted.exists(), "moved aside");
        let moved = recovery
            .quarantine
            .as_ref()
            .unwrap()
            .join(crate::storage::staging::state_file(StateKind::Counters, 2));
        assert_eq!(fs::read(moved).unwrap(), b"uncommitted");
        // The next commit takes number 2 and has no counter state of its own.
        committer.commit(pending(one_reject(), b"2")).unwrap();
        assert_eq!(committer.state(StateKind::Counters).unwrap(), None);
        assert_eq!(committer.state(StateKind::Detector).unwrap().unwrap(), b"2");
        drop(committer);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_commit_saves_only_the_states_it_carries() {
        let root = std::env::temp_dir().join(format!("meshlog-states-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let (mut committer, _) = Committer::open(&root).unwrap();
        committer.commit(pending(one_reject(), b"detector 1")).unwrap();
        let mut counters_only = PendingCommit::default();
        counters_only.add_rows(AppendedTable::Rejects, one_reject());
        counters_only.save_state(StateKind::Counters, b"counters 2".to_vec());
        committer.commit(counters_only).unwrap();
        drop(committer);
        let (reopened, _) = Committer::open(&root).unwrap();
        assert_eq!(reopened.state(StateKind::Detector).unwrap().unwrap(), b"detector 1");
        assert_eq!(reopened.state(StateKind::Counters).unwrap().unwrap(), b"counters 2");
        let states: Vec<_> = reopened.log().records().iter().map(|r| r.states.clone()).collect();
        let detector = crate::storage::staging::state_file(StateKind::Detector, 1);
        let counters = crate::storage::staging::state_file(StateKind::Counters, 2);
        assert_eq!(states, [vec![detector], vec![counters]]);
        drop(reopened);
        fs::remove_dir_all(&root).unwrap();
    }

    /// A batch of `(ts, n)` rows, `ts` in microseconds.
    fn timed(rows: &[(i64, i64)]) -> RecordBatch {
        let times = rows.iter().map(|(ts, _)| *ts).collect::<Vec<_>>();
        let numbers = rows.iter().map(|(_, n)| *n).collect::<Vec<_>>();
        let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC"));
        let n: ArrayRef = Arc::new(Int64Array::from(numbers));
        RecordBatch::try_from_iter([("ts", ts), ("n", n)]).unwrap()
    }

    /// `meshlog serve` hands a commit its rows in several parts: they were staged
    /// one file set per part, under the same names, the last part's file replacing
    /// the others'.
    #[test]
    fn a_commit_of_several_parts_of_a_table_writes_them_sorted_into_one_file() {
        let root = std::env::temp_dir().join(format!("meshlog-parts-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let (mut committer, _) = Committer::open(&root).unwrap();
        let hour = 1_700_000_000_000_000 / 3_600_000_000 * 3_600_000_000;
        let mut pending = PendingCommit::default();
        // (`cluster_stats`: a commit of `requests` rows also writes their rollups.)
        pending.add_rows(AppendedTable::ClusterStats, timed(&[(hour + 30, 1), (hour + 10, 2)]));
        pending.add_rows(AppendedTable::ClusterStats, timed(&[(hour + 20, 3), (hour + 10, 4)]));
        let stats = committer.commit(pending).unwrap();
        assert_eq!((stats.files, stats.stats_rows), (1, 4));
        let files = parquet_files(&root.join(CLUSTER_STATS_DIR)).unwrap();
        assert_eq!(files.len(), 1);
        let file = File::open(&files[0]).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024);
        let batch = reader.unwrap().next().unwrap().unwrap();
        let numbers = batch.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(numbers.values().to_vec(), [2, 4, 3, 1]);
        drop(committer);
        fs::remove_dir_all(&root).unwrap();
    }

    /// A commit of no rows whose `failovers` table holds `episodes`.
    fn commit_with(committer: &mut Committer, episodes: &[Episode]) {
        let no_rejects = RecordBatch::new_empty(crate::storage::schema::rejects());
        let failovers = failovers_batch(episodes).unwrap();
        let pending = PendingCommit { failovers: Some(failovers), ..pending(no_rejects, b"{}") };
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
            confirmed_at_micros: 10_000_000,
            ended_at_micros: None,
            duration_s: 10.0,
            requests: 5,
            cross_cluster_requests: 4,
            peak_cross_cluster_share: 0.8,
            baseline_cross_cluster_share: 0.0,
            errors_before: 1,
            errors_before_flags: Some("UH".into()),
            errors_before_code: Some(503),
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
}
