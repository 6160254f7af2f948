//! Followed files (`[[sources]] type = "file"`), like `tail -F`: every poll the
//! patterns are expanded (new files are picked up), and each file read from where
//! the last read left it to its end, an unterminated last line left for the next
//! poll. A file is held open by its handle, so when it is renamed away (rotation)
//! the lines written to it before the rename are still read; a copy renamed into
//! place, a `copytruncate` and a compressed rotation are recognised by content, as
//! for `meshlog ingest`. Each read goes through the write-ahead log as the HTTP
//! sink's batches do ([`Sink::store_blocking`]), with the file's position: so its rows
//! are visible at once to `meshlog query` beside the server, and the position is
//! committed with them, so a restart neither loses nor repeats a line (it resumes
//! after the reads the WAL holds).

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::fresh::Fresh;
use super::sink::{Parsed, Sink};
use super::sources::SourceContext;
use crate::config::server::FileSourceConfig;
use crate::ingest::IngestError;
use crate::ingest::source::{LIVE_WITHIN, OpenedSource, open_file};
use crate::ingest::source_reader::SourceReader;
use crate::process::Processor;
use crate::storage::commit_log::{Checkpoint, CommitLog, CommitRecord};

/// How often files are looked at, unless the source says.
const DEFAULT_POLL: Duration = Duration::from_millis(250);
/// Lines longer than this are rejects.
const MAX_LINE_BYTES: usize = meshlog_parsers::parser::DEFAULT_MAX_LINE_BYTES;
/// Lines read into one part, at most.
const SLICE_LINES: u64 = 65_536;
/// Polls a file renamed or deleted away is still read, for the last lines written
/// to it before it was let go.
const GRACE_POLLS: u32 = 8;

/// Why following could not start.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("[[sources]] pattern {pattern:?}: {message}")]
    Pattern { pattern: String, message: String },
    #[error("[[sources]] format {spec:?} is not a format meshlog reads")]
    Format { spec: String },
}

/// The positions followers start from: the committed ones (read before the
/// pipeline starts writing), then those of the reads the WAL replayed.
pub struct StartPositions(Vec<CommitRecord>);

impl StartPositions {
    /// `replayed`: each replayed entry's positions, oldest first (a later one wins).
    pub fn of(log: &CommitLog, replayed: Vec<Vec<Checkpoint>>) -> StartPositions {
        let mut positions = CommitLog::positions_only(log.records().to_vec());
        for entry in replayed.into_iter().filter(|positions| !positions.is_empty()) {
            positions.remember(entry);
        }
        StartPositions(positions.records().to_vec())
    }

    /// The commits' records, then one per replayed entry with positions.
    pub fn records(&self) -> &[CommitRecord] {
        &self.0
    }
}

/// A file held open, and what was seen of it at the last poll.
struct Followed {
    name: String,
    file: File,
    /// Length and modification time last read up to.
    seen: Option<(u64, SystemTime)>,
    /// Polls since the path last led to this file.
    away: u32,
    /// The last read left an unterminated last line for the next one.
    held_partial: bool,
}

/// One `[[sources]] type = "file"` at work.
pub struct Follower {
    patterns: Vec<String>,
    format: String,
    cluster: Option<Arc<str>>,
    topology: Arc<crate::enrich::Topology>,
    poll: Duration,
    fresh: Arc<Fresh>,
    sink: Sink,
    stop: watch::Receiver<bool>,
    /// The WAL's writer stopped: nothing more can be stored.
    stopped: bool,
    positions: CommitLog,
    files: HashMap<(u64, u64), Followed>,
    /// Rows in memory past which reading waits (files keep what is not read).
    max_rows: usize,
}

impl Follower {
    /// The follower of `source`'s files, from the positions the context starts at.
    pub fn new(
        source: &FileSourceConfig,
        context: &SourceContext<'_>,
    ) -> Result<Follower, FollowError> {
        let settings = context.settings;
        let format = source.format.clone().unwrap_or_else(|| "auto".to_owned());
        if meshlog_parsers::LineParser::new(&format).is_err() {
            return Err(FollowError::Format { spec: format });
        }
        for pattern in &source.paths {
            glob::Pattern::new(pattern).map_err(|error| FollowError::Pattern {
                pattern: pattern.clone(),
                message: error.to_string(),
            })?;
        }
        let cluster = source.source_cluster.as_deref().map(Arc::from);
        Ok(Follower {
            patterns: source.paths.clone(),
            format,
            cluster: cluster.or_else(|| settings.source_cluster.clone()),
            topology: settings.topology.clone(),
            poll: source.poll_ms.map_or(DEFAULT_POLL, |ms| Duration::from_millis(ms.max(10))),
            fresh: context.fresh.clone(),
            sink: context.app.sink.clone(),
            stop: context.stop.clone(),
            stopped: false,
            positions: CommitLog::positions_only(context.positions.0.clone()),
            files: HashMap::new(),
            max_rows: context.max_fresh_rows,
        })
    }

    /// Polls until the stop signal (or until the server that would send it is gone),
    /// then once more. Blocks: run it on a thread of its own.
    pub fn run(mut self) {
        loop {
            let stopping = self.stopping();
            self.poll_once();
            if stopping || self.stopped {
                return;
            }
            std::thread::sleep(self.poll);
        }
    }

    /// The server is stopping, or gone without saying so (it failed to start).
    fn stopping(&self) -> bool {
        *self.stop.borrow() || self.stop.has_changed().is_err()
    }

    fn poll_once(&mut self) {
        for followed in self.files.values_mut() {
            followed.away += 1;
        }
        for path in self.matching_paths() {
            self.track(&path);
        }
        let keys: Vec<(u64, u64)> = self.files.keys().copied().collect();
        for key in keys {
            if !self.stopped {
                self.read_new_lines(key);
            }
        }
        self.files.retain(|_, followed| followed.away <= GRACE_POLLS);
    }

    fn matching_paths(&self) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        for pattern in &self.patterns {
            match glob::glob(pattern) {
                Ok(found) => paths.extend(found.filter_map(Result::ok)),
                Err(error) => tracing::warn!(pattern, %error, "bad pattern"),
            }
        }
        paths
    }

    /// Holds the file at `path` open, if it is not already.
    fn track(&mut self, path: &Path) {
        let Ok(metadata) = std::fs::metadata(path) else { return };
        if !metadata.is_file() {
            return;
        }
        let key = (metadata.dev(), metadata.ino());
        if let Some(followed) = self.files.get_mut(&key) {
            followed.away = 0;
            return;
        }
        match File::open(path) {
            Ok(file) => {
                let name = path.display().to_string();
                tracing::info!(file = %name, "following");
                self.files
                    .insert(key, Followed { name, file, seen: None, away: 0, held_partial: false });
            }
            Err(error) => tracing::warn!(path = %path.display(), %error, "cannot open"),
        }
    }

    /// Reads what was added to a file since the last poll.
    fn read_new_lines(&mut self, key: (u64, u64)) {
        let Some(followed) = self.files.get_mut(&key) else { return };
        let Ok(metadata) = followed.file.metadata() else { return };
        let now = (metadata.len(), metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH));
        // A last line without its newline is taken whole once the file has not
        // changed for a while (the writer is gone), as `meshlog ingest` takes it.
        let stale = followed.held_partial
            && SystemTime::now().duration_since(now.1).is_ok_and(|age| age >= LIVE_WITHIN);
        if followed.seen == Some(now) && !stale {
            return;
        }
        let name = followed.name.clone();
        let read = followed
            .file
            .try_clone()
            .and_then(|file| open_file(name.clone(), file, &metadata, &self.positions));
        let opened = match read {
            Ok(opened) => opened,
            Err(error) => {
                tracing::warn!(file = %name, %error, "cannot read");
                return;
            }
        };
        match self.read_to_end(opened) {
            Ok(held_partial) => followed_seen(&mut self.files, key, now, held_partial),
            Err(error) => tracing::warn!(file = %name, %error, "cannot read"),
        }
    }

    /// Reads a file to its end, a part of at most [`SLICE_LINES`] lines at a time,
    /// waiting while the rows in memory are at their bound.
    /// Returns whether an unterminated last line was left for the next read.
    fn read_to_end(&mut self, opened: OpenedSource) -> Result<bool, IngestError> {
        let mut moved_back = opened.moved_back;
        let mut reader = SourceReader::new(opened, &self.format, MAX_LINE_BYTES)?;
        let mut processor = Processor::new(self.topology.clone(), self.cluster.clone());
        let mut before = reader.position();
        while !reader.finished && !self.stopped {
            while self.fresh.rows() >= self.max_rows {
                if self.stopping() {
                    // What is not read now is read after the restart.
                    return Ok(false);
                }
                std::thread::sleep(self.poll);
            }
            reader.read_slice(&mut processor, None, SLICE_LINES, None)?;
            let after = reader.position();
            if processor.buffered() > 0 || after != before || moved_back {
                let (requests, rejects) = processor.take_batches()?;
                let (accepted, rejected) = (requests.num_rows() as u64, rejects.num_rows() as u64);
                let parsed = Parsed { requests, rejects, accepted, rejected };
                let files: Vec<_> = after.clone().into_iter().map(Checkpoint::File).collect();
                if self.sink.store_blocking(parsed, files.clone()).is_none() {
                    // The WAL's writer stopped (it failed): the server is stopping,
                    // and this read is done again after the restart.
                    self.stopped = true;
                    return Ok(false);
                }
                self.positions.remember(files);
            }
            (before, moved_back) = (after, false);
        }
        Ok(reader.held_partial.is_some())
    }
}

fn followed_seen(
    files: &mut HashMap<(u64, u64), Followed>,
    key: (u64, u64),
    now: (u64, SystemTime),
    held_partial: bool,
) {
    if let Some(followed) = files.get_mut(&key) {
        followed.seen = Some(now);
        followed.held_partial = held_partial;
    }
}
