//! The commit log: an append-only file of JSON records, one per commit, each
//! listing the table files it made visible and how far into each source it read.
//! A file in a table directory that no commit lists was left by a run that died
//! before committing; recovery moves it aside, and the source is read again from the
//! last committed position, so a line is neither lost nor stored twice. A torn
//! last record (a crash while appending: no newline at its end) is cut off on load;
//! any other damage (a record that does not read, a commit number missing or out of
//! order) stops loading with an error saying how to recover, and changes nothing.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StorageError;

/// The commit log's file name, in `_meshlog/`.
pub const COMMIT_LOG: &str = "commits.jsonl";

/// Where a source stands once a commit is stored: the next run resumes from it.
/// Push sources (HTTP) are acknowledged once in `meshlog serve`'s write-ahead log;
/// a commit says how far into that log its rows reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Checkpoint {
    /// A file read up to an offset.
    File(FilePosition),
    /// `meshlog serve`'s in-memory rows handed over to Parquet.
    Sink(SinkPosition),
    /// A Kafka partition read up to an offset.
    Kafka(KafkaPosition),
}

impl Checkpoint {
    /// The file position, if this is a file's checkpoint.
    pub fn file(&self) -> Option<&FilePosition> {
        match self {
            Checkpoint::File(position) => Some(position),
            Checkpoint::Sink(_) | Checkpoint::Kafka(_) => None,
        }
    }

    /// The Kafka partition's position, if this is one.
    pub fn kafka(&self) -> Option<&KafkaPosition> {
        match self {
            Checkpoint::Kafka(position) => Some(position),
            Checkpoint::File(_) | Checkpoint::Sink(_) => None,
        }
    }

    /// What it is a position of: two checkpoints with the same key are of the same
    /// source, the later one further on.
    pub fn source_key(&self) -> SourceKey {
        match self {
            Checkpoint::File(position) => {
                let identity = &position.identity;
                SourceKey::File(identity.device, identity.inode, identity.fingerprint)
            }
            Checkpoint::Sink(_) => SourceKey::Sink,
            Checkpoint::Kafka(position) => {
                SourceKey::Kafka(position.topic.clone(), position.partition)
            }
        }
    }

    /// The sink's position, if this is the sink's checkpoint.
    pub fn sink(&self) -> Option<&SinkPosition> {
        match self {
            Checkpoint::Sink(position) => Some(position),
            Checkpoint::File(_) | Checkpoint::Kafka(_) => None,
        }
    }
}

/// What a [`Checkpoint`] is a position of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKey {
    /// A file by device, inode and fingerprint: after a rotation the old file and
    /// the new one have the same path, and each needs its own position.
    File(u64, u64, u64),
    Sink,
    /// A Kafka topic and partition.
    Kafka(String, i32),
}

/// How far a Kafka partition is stored: its messages before `offset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaPosition {
    pub topic: String,
    pub partition: i32,
    /// The next offset to read.
    pub offset: i64,
}

/// How far `meshlog serve`'s write-ahead log is stored in Parquet: every entry up
/// to `wal_seq` (entries after it are replayed on start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkPosition {
    pub wal_seq: u64,
}

/// How far one file has been read and stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    /// The path as given when it was ingested.
    pub path: String,
    /// The file's identity: device, inode, and a hash of its first bytes.
    pub identity: FileIdentity,
    /// Bytes read and stored: the next run starts here.
    pub offset: u64,
    /// Lines read: the next run numbers lines from here.
    pub lines: u64,
}

/// Identifies a file across renames (rotation); the fingerprint tells a reused
/// inode apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    pub device: u64,
    pub inode: u64,
    /// FNV-1a of the first `fingerprint_len` bytes.
    pub fingerprint: u64,
    pub fingerprint_len: u32,
}

/// One commit: the files it made visible and the source positions they reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitRecord {
    pub seq: u64,
    /// When it was committed, RFC 3339.
    pub committed_at: String,
    /// Table files, relative to the data directory.
    pub files: Vec<PathBuf>,
    /// Where each source stands (named `sources` in the log since the first version).
    pub sources: Vec<Checkpoint>,
    /// The state files this commit saved, relative to the data directory (absent in
    /// logs written before states were listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<PathBuf>,
    pub rows: u64,
    pub rejects: u64,
    /// When this record stands for the first commits of the log, compacted into
    /// one: how many (their files, the latest checkpoint of each source, the
    /// newest state of each kind).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub compacted: u64,
    /// Files of earlier commits that this one replaces (a compaction merged them
    /// into its own): no longer part of the data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<PathBuf>,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// What each table file says of the commit it was written for (in its footer):
/// enough for `meshlog repair` to rebuild that commit's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileCommit {
    pub seq: u64,
    pub sources: Vec<Checkpoint>,
}

/// The commit log of a data directory.
pub struct CommitLog {
    path: PathBuf,
    records: Vec<CommitRecord>,
}

impl CommitLog {
    /// Loads the log at `path` (empty when missing), cutting off a torn last record.
    pub fn open(path: &Path) -> Result<CommitLog, StorageError> {
        let text = read_log(path)?;
        let parsed = parse_records(&text).map_err(|damage| damage.error(path))?;
        if parsed.valid_len < text.len() {
            truncate(path, parsed.valid_len)?;
        }
        Ok(CommitLog { path: path.into(), records: parsed.records })
    }

    /// Loads the log at `path` without changing it (a torn last record is ignored):
    /// for readers beside a running writer.
    pub fn read(path: &Path) -> Result<Vec<CommitRecord>, StorageError> {
        let text = read_log(path)?;
        Ok(parse_records(&text).map_err(|damage| damage.error(path))?.records)
    }

    /// The positions in `records`, in memory only, to be told more positions with
    /// [`CommitLog::remember`]: what a follower of live files reads from, so that a
    /// file resumes where the last read left it, committed or not.
    pub fn positions_only(records: Vec<CommitRecord>) -> CommitLog {
        CommitLog { path: PathBuf::new(), records }
    }

    /// Notes where sources stand, in memory only (a log from
    /// [`CommitLog::positions_only`]).
    pub fn remember(&mut self, sources: Vec<Checkpoint>) {
        let record = CommitRecord {
            seq: self.next_seq(),
            committed_at: String::new(),
            files: Vec::new(),
            sources,
            states: Vec::new(),
            rows: 0,
            rejects: 0,
            compacted: 0,
            removed: Vec::new(),
        };
        self.records.push(record);
    }

    /// Every commit, oldest first.
    pub fn records(&self) -> &[CommitRecord] {
        &self.records
    }

    /// The sequence number the next commit takes.
    pub fn next_seq(&self) -> u64 {
        self.records.last().map_or(1, |record| record.seq + 1)
    }

    /// The last committed position of the file with this device and inode. The
    /// caller checks the fingerprint: an inode can be reused by a new file.
    pub fn last_position(&self, device: u64, inode: u64) -> Option<&FilePosition> {
        self.records
            .iter()
            .rev()
            .flat_map(|record| record.sources.iter().filter_map(Checkpoint::file))
            .find(|position| position.identity.device == device && position.identity.inode == inode)
    }

    /// The last committed position of a Kafka partition.
    pub fn kafka_position(&self, topic: &str, partition: i32) -> Option<&KafkaPosition> {
        self.records
            .iter()
            .rev()
            .flat_map(|record| record.sources.iter().filter_map(Checkpoint::kafka))
            .find(|position| position.topic == topic && position.partition == partition)
    }

    /// Where the last commit left `meshlog serve`'s write-ahead log (0: nothing).
    pub fn last_wal_seq(&self) -> u64 {
        last_wal_seq(&self.records)
    }

    /// The last committed position of a file that `matches`.
    pub fn last_position_where(
        &self,
        matches: impl Fn(&FilePosition) -> bool,
    ) -> Option<&FilePosition> {
        self.records
            .iter()
            .rev()
            .flat_map(|record| record.sources.iter().filter_map(Checkpoint::file))
            .find(|position| matches(position))
    }

    /// Compacts the log into one record when it holds more than `max_records`, so
    /// that opening it costs what its files do, not what its history did. The new
    /// log replaces the old by a rename: a crash leaves one or the other.
    pub fn compact_if_longer_than(&mut self, max_records: usize) -> Result<bool, StorageError> {
        if self.records.len() <= max_records {
            return Ok(false);
        }
        let merged = merge(&self.records);
        let mut line = serde_json::to_vec(&merged)
            .map_err(|source| StorageError::State { what: "commit", source })?;
        line.push(b'\n');
        let tmp = self.path.with_extension("jsonl.compacting");
        let mut file =
            fs::File::create(&tmp).map_err(|source| StorageError::io("create", &tmp, source))?;
        file.write_all(&line).map_err(|source| StorageError::io("write", &tmp, source))?;
        file.sync_all().map_err(|source| StorageError::io("fsync", &tmp, source))?;
        fs::rename(&tmp, &self.path)
            .map_err(|source| StorageError::io("rename into", &self.path, source))?;
        if let Some(dir) = self.path.parent() {
            super::parquet_file::sync_dir(dir)?;
        }
        self.records = vec![merged];
        Ok(true)
    }

    /// Appends a record and fsyncs it: from here on its files are committed.
    pub fn append(&mut self, record: CommitRecord) -> Result<(), StorageError> {
        let mut line = serde_json::to_vec(&record)
            .map_err(|source| StorageError::io("encode commit for", &self.path, source.into()))?;
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|source| StorageError::io("open", &self.path, source))?;
        file.write_all(&line)
            .map_err(|source| StorageError::io("append to", &self.path, source))?;
        file.sync_all().map_err(|source| StorageError::io("fsync", &self.path, source))?;
        self.records.push(record);
        Ok(())
    }
}

/// Where the last of `records` to say so left `meshlog serve`'s write-ahead log.
pub fn last_wal_seq(records: &[CommitRecord]) -> u64 {
    records
        .iter()
        .rev()
        .flat_map(|record| record.sources.iter().filter_map(Checkpoint::sink))
        .map(|position| position.wal_seq)
        .next()
        .unwrap_or(0)
}

/// The files `records` list and no later record removed, oldest first.
pub fn live_files(records: &[CommitRecord]) -> Vec<&Path> {
    let removed: std::collections::HashSet<&Path> =
        records.iter().flat_map(|record| record.removed.iter().map(PathBuf::as_path)).collect();
    let listed = records.iter().flat_map(|record| record.files.iter().map(PathBuf::as_path));
    listed.filter(|file| !removed.contains(file)).collect()
}

/// Every file `records` list is under `data_dir`; else an error naming the first
/// missing one and how many are.
pub fn check_files_present(records: &[CommitRecord], data_dir: &Path) -> Result<(), StorageError> {
    let live = live_files(records);
    let mut missing = live.into_iter().filter(|file| !data_dir.join(file).exists());
    let Some(first) = missing.next() else { return Ok(()) };
    Err(StorageError::MissingFiles {
        data_dir: data_dir.into(),
        count: 1 + missing.count(),
        first: first.to_owned(),
    })
}

/// One record standing for `records`: every file, the latest checkpoint of each
/// source (newest first), the newest state of each kind, the totals.
fn merge(records: &[CommitRecord]) -> CommitRecord {
    let last = records.last().map_or(0, |record| record.seq);
    let mut sources: Vec<Checkpoint> = Vec::new();
    let mut states: Vec<PathBuf> = Vec::new();
    for record in records.iter().rev() {
        for checkpoint in &record.sources {
            if !sources.iter().any(|kept| kept.source_key() == checkpoint.source_key()) {
                sources.push(checkpoint.clone());
            }
        }
        for state in &record.states {
            if !states.iter().any(|kept| state_kind(kept) == state_kind(state)) {
                states.push(state.clone());
            }
        }
    }
    CommitRecord {
        seq: last,
        committed_at: records.last().map(|record| record.committed_at.clone()).unwrap_or_default(),
        files: live_files(records).into_iter().map(Path::to_path_buf).collect(),
        sources,
        states,
        rows: records.iter().map(|record| record.rows).sum(),
        rejects: records.iter().map(|record| record.rejects).sum(),
        compacted: records.iter().map(|record| record.compacted.max(1)).sum(),
        removed: Vec::new(),
    }
}

/// A state file's kind: its name up to the commit number.
fn state_kind(path: &Path) -> String {
    let name = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    name.trim_end_matches(".json").trim_end_matches(|c: char| c.is_ascii_digit()).to_owned()
}

fn read_log(path: &Path) -> Result<Vec<u8>, StorageError> {
    match fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(StorageError::io("read", path, source)),
    }
}

/// The records of a log, and the length of the part that holds them (all of it but
/// a torn last record).
struct ParsedLog {
    records: Vec<CommitRecord>,
    valid_len: usize,
}

/// Where a log is damaged: its line (from 1) and what is wrong.
#[derive(Debug)]
struct Damage {
    line: usize,
    problem: String,
}

impl Damage {
    fn error(self, path: &Path) -> StorageError {
        let data_dir = path.parent().and_then(Path::parent).unwrap_or(Path::new("."));
        StorageError::DamagedLog {
            path: path.into(),
            line: self.line,
            problem: self.problem,
            data_dir: data_dir.into(),
        }
    }
}

fn parse_records(text: &[u8]) -> Result<ParsedLog, Damage> {
    let mut records: Vec<CommitRecord> = Vec::new();
    let mut valid_len = 0;
    for (index, line) in text.split_inclusive(|&byte| byte == b'\n').enumerate() {
        let damage = |problem: String| Damage { line: index + 1, problem };
        if !line.ends_with(b"\n") {
            // Torn while appending: the commit never counted.
            break;
        }
        let record = serde_json::from_slice::<CommitRecord>(line)
            .map_err(|error| damage(format!("the commit record does not read ({error})")))?;
        if let Some(last) = records.last().filter(|last| record.seq != last.seq + 1) {
            let problem = format!(
                "commit {} follows commit {}: a record is missing or out of order",
                record.seq, last.seq
            );
            return Err(damage(problem));
        }
        records.push(record);
        valid_len += line.len();
    }
    Ok(ParsedLog { records, valid_len })
}

fn truncate(path: &Path, len: usize) -> Result<(), StorageError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|source| StorageError::io("open", path, source))?;
    file.set_len(len as u64).map_err(|source| StorageError::io("truncate", path, source))?;
    file.sync_all().map_err(|source| StorageError::io("fsync", path, source))
}

/// FNV-1a, 64 bits: a stable hash (the same on every platform and Rust version).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, offset: u64) -> CommitRecord {
        CommitRecord {
            seq,
            committed_at: "2026-11-22T00:00:00Z".into(),
            files: vec![PathBuf::from("requests/date=2026-11-01/hour=10/a.parquet")],
            sources: vec![Checkpoint::File(FilePosition {
                path: "a.log".into(),
                identity: FileIdentity { device: 1, inode: 2, fingerprint: 3, fingerprint_len: 4 },
                offset,
                lines: offset / 10,
            })],
            states: Vec::new(),
            rows: 5,
            rejects: 0,
            compacted: 0,
            removed: Vec::new(),
        }
    }

    #[test]
    fn a_compacted_log_answers_as_the_long_one_did() {
        let path =
            std::env::temp_dir().join(format!("meshlog-compact-{}.jsonl", std::process::id()));
        let _ = fs::remove_file(&path);
        let mut log = CommitLog::open(&path).unwrap();
        for seq in 1..=6 {
            let mut next = record(seq, seq * 100);
            next.files = vec![PathBuf::from(format!("requests/a-{seq}.parquet"))];
            next.states = vec![PathBuf::from(format!("_meshlog/failover-state-{seq:010}.json"))];
            if seq == 3 {
                let other = FilePosition {
                    path: "b.log".into(),
                    ..record(3, 30).sources[0].file().unwrap().clone()
                };
                let mut other = other;
                other.identity.inode = 9;
                next.sources.push(Checkpoint::File(other));
            }
            log.append(next).unwrap();
        }
        assert!(!log.compact_if_longer_than(6).unwrap());
        assert!(log.compact_if_longer_than(5).unwrap());
        let reopened = CommitLog::open(&path).unwrap();
        assert_eq!(reopened.records().len(), 1);
        let merged = &reopened.records()[0];
        assert_eq!((merged.seq, merged.compacted, merged.rows), (6, 6, 30));
        assert_eq!(merged.files.len(), 6);
        assert_eq!(merged.states, [PathBuf::from("_meshlog/failover-state-0000000006.json")]);
        assert_eq!(reopened.next_seq(), 7);
        assert_eq!(reopened.last_position(1, 2).unwrap().offset, 600);
        assert_eq!(reopened.last_position(1, 9).unwrap().offset, 30);
        let mut log = reopened;
        log.append(record(7, 700)).unwrap();
        assert_eq!(CommitLog::open(&path).unwrap().records().len(), 2, "a tail after it");
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn records_append_reload_and_a_torn_tail_is_cut() {
        let path =
            std::env::temp_dir().join(format!("meshlog-commits-{}.jsonl", std::process::id()));
        let _ = fs::remove_file(&path);
        let mut log = CommitLog::open(&path).unwrap();
        log.append(record(1, 100)).unwrap();
        log.append(record(2, 250)).unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"seq\":3,\"commit").unwrap();
        let reloaded = CommitLog::open(&path).unwrap();
        assert_eq!(reloaded.records().len(), 2);
        assert_eq!(reloaded.next_seq(), 3);
        assert_eq!(reloaded.last_position(1, 2).unwrap().offset, 250);
        assert!(reloaded.last_position(1, 3).is_none());
        assert!(fs::read(&path).unwrap().ends_with(b"}\n"));
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_record_written_before_checkpoints_and_states_reads_the_same() {
        let line = br#"{"seq":7,"committed_at":"2026-11-22T00:00:00Z","files":["requests/date=2026-11-01/hour=10/a.parquet"],"sources":[{"path":"a.log","identity":{"device":1,"inode":2,"fingerprint":3,"fingerprint_len":4},"offset":250,"lines":25}],"rows":5,"rejects":0}
"#;
        let ParsedLog { records, valid_len } = parse_records(line).unwrap();
        assert_eq!(valid_len, line.len());
        let expected = CommitRecord { seq: 7, ..record(7, 250) };
        assert_eq!(records, [CommitRecord { sources: expected.sources.clone(), ..expected }]);
        let written = serde_json::to_vec(&records[0]).unwrap();
        assert_eq!(written, line[..line.len() - 1], "no `states` key when there are none");
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
