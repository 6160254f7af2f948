//! Which committed files a running server's queries read, worked out once per
//! change of the commit log rather than once per statement. Every statement of
//! `serve` (a Grafana panel, a health check) opens a fresh [`super::QueryEngine`];
//! reading and parsing the whole commit log, checking every file it lists is there
//! and hashing the replaced paths cost several milliseconds each time on a week of
//! data. [`VisibleFiles`] keeps the last [`Visibility`] with the commit log's
//! identity (length, modification time, inode) and the commit it was cut at, and
//! reuses it while both are unchanged. A commit, a compaction or a rewrite of the
//! log changes its identity, so the next statement reads it again; the files it
//! lists are checked to be there on every such read.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::QueryError;
use super::data_dir::read_committed;
use super::fresh::Visibility;
use crate::storage::StorageError;
use crate::storage::commit_log::COMMIT_LOG;
use crate::storage::layout::META_DIR;

/// The [`Visibility`] of a data directory's commit log, cached while the log is
/// unchanged.
#[derive(Debug, Default)]
pub struct VisibleFiles {
    last: Mutex<Option<Cached>>,
}

#[derive(Debug, Clone)]
struct Cached {
    log: Option<LogIdentity>,
    through: Option<u64>,
    visibility: Option<Arc<Visibility>>,
}

/// What tells one state of the commit log from another: appends change its
/// length, rewrites (compaction of the log) its inode and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LogIdentity {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl VisibleFiles {
    /// The files of `data_dir` (resolved) a query reads, up to commit `through`
    /// (see [`Visibility::of`]); `None` when nothing is committed yet.
    pub fn of(
        &self,
        data_dir: &Path,
        through: Option<u64>,
    ) -> Result<Option<Arc<Visibility>>, QueryError> {
        // The identity is taken before the log is read: a commit appended in
        // between is then read but cached under the older identity, so the next
        // statement reads the log again rather than missing it.
        let log = log_identity(data_dir)?;
        if let Some(cached) = self.lock().as_ref()
            && cached.log == log
            && cached.through == through
        {
            return Ok(cached.visibility.clone());
        }
        let records = read_committed(data_dir)?;
        let visibility = Visibility::of(&records, through).map(Arc::new);
        *self.lock() = Some(Cached { log, through, visibility: visibility.clone() });
        Ok(visibility)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The identity of `data_dir`'s commit log; `None` when it has none yet.
fn log_identity(data_dir: &Path) -> Result<Option<LogIdentity>, QueryError> {
    let path = data_dir.join(META_DIR).join(COMMIT_LOG);
    let metadata = match std::fs::metadata(&path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(QueryError::Damaged(StorageError::io("read", &path, source)));
        }
    };
    Ok(Some(LogIdentity {
        len: metadata.len(),
        modified: metadata.modified().ok(),
        inode: inode(&metadata),
    }))
}

#[cfg(unix)]
fn inode(metadata: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(metadata)
}

#[cfg(not(unix))]
fn inode(_metadata: &std::fs::Metadata) -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::query::fixtures::TempDataDir;
    use crate::storage::commit_log::{CommitLog, CommitRecord};

    fn commit(seq: u64, files: &[&str], removed: &[&str]) -> CommitRecord {
        CommitRecord {
            seq,
            committed_at: String::new(),
            files: files.iter().map(PathBuf::from).collect(),
            sources: Vec::new(),
            states: Vec::new(),
            rows: 0,
            rejects: 0,
            compacted: 0,
            removed: removed.iter().map(PathBuf::from).collect(),
        }
    }

    /// A data directory whose `requests/` holds `files` (empty Parquet stand-ins:
    /// only their presence is checked here).
    fn data_dir(files: &[&str]) -> (TempDataDir, CommitLog) {
        let dir = TempDataDir::new("visible-files");
        std::fs::create_dir_all(dir.path.join(META_DIR)).unwrap();
        for file in files {
            let path = dir.path.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        }
        let log = CommitLog::open(&dir.path.join(META_DIR).join(COMMIT_LOG)).unwrap();
        (dir, log)
    }

    #[test]
    fn nothing_committed_is_no_visibility_until_a_commit_arrives() {
        let (dir, mut log) = data_dir(&["requests/1-a-0.parquet"]);
        let visible = VisibleFiles::default();
        assert!(visible.of(&dir.path, None).unwrap().is_none());
        log.append(commit(1, &["requests/1-a-0.parquet"], &[])).unwrap();
        assert_eq!(visible.of(&dir.path, None).unwrap().unwrap().through, 1);
    }

    #[test]
    fn an_unchanged_log_is_read_once_and_every_change_is_seen() {
        let files = ["requests/1-a-0.parquet", "requests/2-a-0.parquet", "requests/3-a-0.parquet"];
        let (dir, mut log) = data_dir(&files);
        log.append(commit(1, &files[..1], &[])).unwrap();
        let visible = VisibleFiles::default();
        let first = visible.of(&dir.path, None).unwrap().unwrap();
        let again = visible.of(&dir.path, None).unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &again), "an unchanged log is not read again");

        log.append(commit(2, &files[1..2], &[])).unwrap();
        let appended = visible.of(&dir.path, None).unwrap().unwrap();
        assert_eq!(appended.through, 2);
        // A server's view cut at an earlier commit is its own.
        assert_eq!(visible.of(&dir.path, Some(1)).unwrap().unwrap().through, 1);

        // A compaction replaces commit 1's and 2's files by its own.
        log.append(commit(3, &files[2..], &files[..2])).unwrap();
        let compacted = visible.of(&dir.path, None).unwrap().unwrap();
        assert_eq!(compacted.through, 3);
        assert!(!compacted.shows(files[0]) && !compacted.shows(files[1]));
        assert!(compacted.shows(files[2]));
    }

    #[test]
    fn a_listed_file_that_is_missing_is_an_error_once_the_log_changes() {
        let files = ["requests/1-a-0.parquet", "requests/2-a-0.parquet"];
        let (dir, mut log) = data_dir(&files[..1]);
        log.append(commit(1, &files[..1], &[])).unwrap();
        let visible = VisibleFiles::default();
        visible.of(&dir.path, None).unwrap();
        log.append(commit(2, &files[1..], &[])).unwrap();
        let error = visible.of(&dir.path, None).unwrap_err().to_string();
        assert!(error.contains("2-a-0.parquet"), "{error}");
    }
}
