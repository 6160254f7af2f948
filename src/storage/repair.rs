//! `meshlog repair`: rebuilds a damaged commit log from the files' own metadata.
//! Every table file's name starts with its commit's number and its footer holds
//! that commit's checkpoints ([`FileCommit`]); every state file's name carries its
//! commit's number. A commit is whole once its state files are in place (they are
//! published last), so the newest commit without them was cut short by a crash:
//! its table files are moved aside and its lines read again. The damaged log is kept
//! beside the new one. Files written before checkpoints were kept in footers give
//! a record without them: their sources would be read again from the start.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};

use super::StorageError;
use super::commit_log::{COMMIT_LOG, CommitRecord, FileCommit};
use super::committer::{PARTITIONED_TABLES, StateKind, list_dir, lock, move_aside, parquet_files};
use super::layout::Layout;
use super::parquet_file::{COMMIT_KEY, sync_dir};
use super::schema::{REJECTS_DIR, REQUESTS_DIR};

/// What a repair did.
#[derive(Debug, Default)]
pub struct RepairReport {
    /// Commits in the rebuilt log.
    pub commits: usize,
    /// Table files it lists.
    pub files: usize,
    /// Commits whose files carried no checkpoints (written by an older meshlog).
    pub without_checkpoints: usize,
    /// The damaged log, kept under this name.
    pub kept_log: Option<PathBuf>,
    /// Files of a commit cut short, moved aside (relative to the data directory).
    pub set_aside: Vec<PathBuf>,
}

/// One commit as its files tell it.
#[derive(Default)]
struct Found {
    files: Vec<PathBuf>,
    states: Vec<PathBuf>,
    checkpoints: Option<FileCommit>,
    rows: u64,
    rejects: u64,
    modified: Option<std::time::SystemTime>,
}

/// Rebuilds the commit log of `data_dir` (which no other meshlog may be writing).
pub fn repair(data_dir: &Path) -> Result<RepairReport, StorageError> {
    let layout = Layout::new(data_dir);
    let _lock = lock(&layout.meta_dir().join("lock"))?;
    let mut commits = find_commits(&layout)?;
    let mut report = RepairReport::default();
    if let Some((&last, found)) = commits.iter().next_back()
        && found.states.is_empty()
    {
        report.set_aside = found.files.clone();
        move_aside(&layout, &found.files, "repair-")?;
        commits.remove(&last);
    }
    let records = records(commits, &mut report);
    report.kept_log = write_log(&layout, &records)?;
    report.commits = records.len();
    Ok(report)
}

fn find_commits(layout: &Layout) -> Result<BTreeMap<u64, Found>, StorageError> {
    let mut commits: BTreeMap<u64, Found> = BTreeMap::new();
    for table in PARTITIONED_TABLES {
        for path in parquet_files(&layout.path(table))? {
            let Some(seq) = seq_of(&path, "") else { continue };
            let relative_path = path.strip_prefix(layout.root()).unwrap_or(&path).to_path_buf();
            let found = commits.entry(seq).or_default();
            let (rows, commit) = footer(&path)?;
            match table {
                REQUESTS_DIR => found.rows += rows,
                REJECTS_DIR => found.rejects += rows,
                _ => {}
            }
            found.checkpoints = found.checkpoints.take().or(commit);
            found.modified =
                found.modified.max(fs::metadata(&path).ok().and_then(|m| m.modified().ok()));
            found.files.push(relative_path);
        }
    }
    for path in list_dir(&layout.meta_dir())? {
        for kind in StateKind::ALL {
            let prefix = format!("{}-", kind.file_prefix());
            if let Some(seq) = seq_of(&path, &prefix) {
                let relative_path = path.strip_prefix(layout.root()).unwrap_or(&path).to_path_buf();
                commits.entry(seq).or_default().states.push(relative_path);
            }
        }
    }
    Ok(commits)
}

/// The commit number a file's name starts with (after `prefix`).
fn seq_of(path: &Path, prefix: &str) -> Option<u64> {
    let name = path.file_name()?.to_str()?.strip_prefix(prefix)?;
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    (digits.len() == 10).then(|| digits.parse().ok()).flatten()
}

/// A Parquet file's row count and the commit its footer names.
fn footer(path: &Path) -> Result<(u64, Option<FileCommit>), StorageError> {
    let parquet_error = |source| StorageError::Parquet { path: path.into(), source };
    let file = File::open(path).map_err(|source| StorageError::io("open", path, source))?;
    let reader = SerializedFileReader::new(file).map_err(parquet_error)?;
    let metadata = reader.metadata().file_metadata();
    let rows = u64::try_from(metadata.num_rows()).unwrap_or(0);
    let commit = metadata
        .key_value_metadata()
        .and_then(|pairs| pairs.iter().find(|pair| pair.key == COMMIT_KEY))
        .and_then(|pair| pair.value.as_deref())
        .and_then(|value| serde_json::from_str(value).ok());
    Ok((rows, commit))
}

/// One record per commit number up to the newest, in order (a number no file
/// names gets an empty record, so the numbers stay consecutive).
fn records(commits: BTreeMap<u64, Found>, report: &mut RepairReport) -> Vec<CommitRecord> {
    let Some(&last) = commits.keys().next_back() else { return Vec::new() };
    let mut commits = commits;
    (1..=last)
        .map(|seq| {
            let found = commits.remove(&seq).unwrap_or_default();
            if found.checkpoints.is_none() && !found.files.is_empty() {
                report.without_checkpoints += 1;
            }
            report.files += found.files.len();
            let committed_at = found.modified.map(chrono::DateTime::<chrono::Utc>::from);
            CommitRecord {
                seq,
                committed_at: committed_at.unwrap_or_default().to_rfc3339(),
                files: found.files,
                sources: found.checkpoints.map(|commit| commit.sources).unwrap_or_default(),
                states: found.states,
                rows: found.rows,
                rejects: found.rejects,
                compacted: 0,
                removed: Vec::new(),
            }
        })
        .collect()
}

/// Writes the new log in place of the old, which is kept as
/// `commits.jsonl.damaged-<time>`; returns that name when there was one.
fn write_log(layout: &Layout, records: &[CommitRecord]) -> Result<Option<PathBuf>, StorageError> {
    let path = layout.meta_dir().join(COMMIT_LOG);
    let tmp = layout.tmp_dir().join(COMMIT_LOG);
    fs::create_dir_all(layout.tmp_dir())
        .map_err(|source| StorageError::io("create", &layout.tmp_dir(), source))?;
    let mut file = File::create(&tmp).map_err(|source| StorageError::io("create", &tmp, source))?;
    for record in records {
        let mut line = serde_json::to_vec(record)
            .map_err(|source| StorageError::State { what: "commit", source })?;
        line.push(b'\n');
        file.write_all(&line).map_err(|source| StorageError::io("write", &tmp, source))?;
    }
    file.sync_all().map_err(|source| StorageError::io("fsync", &tmp, source))?;
    let kept = match path.exists() {
        true => {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
            let kept = layout.meta_dir().join(format!("{COMMIT_LOG}.damaged-{stamp}"));
            fs::rename(&path, &kept).map_err(|source| StorageError::io("keep", &path, source))?;
            Some(kept)
        }
        false => None,
    };
    fs::rename(&tmp, &path).map_err(|source| StorageError::io("rename into", &path, source))?;
    sync_dir(&layout.meta_dir())?;
    Ok(kept)
}
