//! The rows `meshlog serve` holds in memory until they are in Parquet: each
//! acknowledged HTTP batch and each read of a followed file, once in the WAL, is a
//! [`FreshPart`]. The flusher hands the parts over to the pipeline when they are
//! many or old enough ([`Fresh::wait_due`]); when the commit that holds them is
//! published, [`Fresh`] (a [`PublishObserver`]) drops them and moves its visible
//! commit forward in one step, so a query that takes a [`Fresh::snapshot`] sees every
//! row once: the Parquet files of commits up to `visible_commit`, and the parts.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;

use crate::pipeline::PublishObserver;
use crate::query::fresh::FreshRows;
use crate::storage::commit_log::{Checkpoint, SinkPosition, SourceKey};

/// Rows from one batch or one read, not yet in Parquet.
#[derive(Debug, Clone)]
pub struct FreshPart {
    /// Its WAL entry.
    pub wal_seq: u64,
    pub requests: RecordBatch,
    pub rejects: RecordBatch,
    /// Where the sources they were read from (followed files) stand once these
    /// rows are stored.
    pub positions: Vec<Checkpoint>,
}

/// Parts on their way to one commit.
pub struct Handover {
    pub requests: Vec<RecordBatch>,
    pub rejects: Vec<RecordBatch>,
    pub checkpoints: Vec<Checkpoint>,
    pub rows: usize,
}

struct Held {
    part: FreshPart,
    id: u64,
    added: Instant,
}

#[derive(Default)]
struct State {
    parts: VecDeque<Held>,
    next_id: u64,
    /// Parts up to this id are handed over.
    handed_through: u64,
    /// Hand-overs not yet published, oldest first: the last part id of each.
    in_flight: VecDeque<u64>,
    /// The last WAL entry handed over.
    wal_handed: u64,
    /// The WAL entry the commit before the last one reached (safe to remove).
    wal_removable: u64,
    wal_committed: u64,
    visible_commit: Option<u64>,
    rows: usize,
    stopping: bool,
    /// A source asked for what is held to be committed now (a Kafka partition
    /// being revoked).
    flush_requested: bool,
    /// The sources' positions of the newest published commit that named them.
    published: BTreeMap<SourceKey, Checkpoint>,
    /// Published commits so far: tells a reader of `published` it changed.
    publications: u64,
}

/// The in-memory rows of a running server.
pub struct Fresh {
    state: Mutex<State>,
    due: Condvar,
    /// Told at every publication.
    publication: Condvar,
    data_dir: PathBuf,
}

impl Fresh {
    /// No rows yet, for the server writing `data_dir`.
    pub fn new(data_dir: PathBuf) -> Fresh {
        let state = State { next_id: 1, ..State::default() };
        Fresh {
            state: Mutex::new(state),
            due: Condvar::new(),
            publication: Condvar::new(),
            data_dir,
        }
    }

    /// Says that the WAL's entries up to `wal_committed` are in Parquet and that
    /// the files of commits up to `last_commit` are visible (before any part is
    /// pushed).
    pub fn start_at(&self, wal_committed: u64, last_commit: Option<u64>) {
        let mut state = self.lock();
        state.visible_commit = Some(last_commit.unwrap_or(0));
        state.wal_handed = wal_committed;
        state.wal_committed = wal_committed;
        state.wal_removable = wal_committed;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds `part` until it is in Parquet.
    pub fn push(&self, part: FreshPart) {
        let mut state = self.lock();
        state.rows += part.requests.num_rows() + part.rejects.num_rows();
        let id = state.next_id;
        state.next_id += 1;
        state.parts.push_back(Held { part, id, added: Instant::now() });
        self.due.notify_all();
    }

    /// Rows held (handed over or not).
    pub fn rows(&self) -> usize {
        self.lock().rows
    }

    /// The last WAL entry a published commit holds.
    pub fn wal_committed(&self) -> u64 {
        self.lock().wal_committed
    }

    /// The rows a query sees besides the committed files: commits after
    /// `visible_commit` are left out (their rows are still among these parts).
    pub fn snapshot(&self) -> FreshRows {
        let state = self.lock();
        FreshRows {
            visible_commit: state.visible_commit,
            requests: state.parts.iter().map(|held| held.part.requests.clone()).collect(),
            rejects: state.parts.iter().map(|held| held.part.rejects.clone()).collect(),
        }
    }

    /// Has every part held now committed, waiting up to `timeout`; whether it was.
    pub fn commit_now(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        let Some(target) = state.parts.back().map(|held| held.id) else { return true };
        state.flush_requested = true;
        self.due.notify_all();
        while state.parts.front().is_some_and(|held| held.id <= target) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .publication
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// The sources' positions the published commits reach, once they have changed
    /// since `publications` (as returned with them before; 0 at first).
    pub fn published_since(&self, publications: u64) -> Option<(u64, Vec<Checkpoint>)> {
        let state = self.lock();
        (state.publications != publications)
            .then(|| (state.publications, state.published.values().cloned().collect()))
    }

    /// Asks [`Fresh::wait_due`] to hand over what is left and then return `None`.
    pub fn stop(&self) {
        self.lock().stopping = true;
        self.due.notify_all();
    }

    /// Waits until the parts not yet handed over hold `rows` rows, the oldest is
    /// `max_age` old, or the server stops; then takes them. `None` once stopping
    /// and nothing is left.
    pub fn wait_due(&self, rows: usize, max_age: Duration) -> Option<Handover> {
        let mut state = self.lock();
        loop {
            let waiting = state.parts.iter().filter(|held| held.id > state.handed_through);
            let (count, oldest) =
                waiting.fold((0, None), |(count, oldest): (usize, Option<Instant>), held| {
                    let rows = held.part.requests.num_rows() + held.part.rejects.num_rows();
                    (count + rows.max(1), Some(oldest.map_or(held.added, |at| at.min(held.added))))
                });
            let age = oldest.map(|at| at.elapsed());
            let old = age.is_some_and(|age| age >= max_age);
            if count > 0 && (count >= rows || old || state.stopping || state.flush_requested) {
                state.flush_requested = false;
                return Some(take_handover(&mut state));
            }
            if state.stopping {
                return None;
            }
            let wait = age.map_or(max_age, |age| max_age.saturating_sub(age));
            state = self.due.wait_timeout(state, wait).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

fn take_handover(state: &mut State) -> Handover {
    let through = state.parts.back().map_or(state.handed_through, |held| held.id);
    let mut handover =
        Handover { requests: Vec::new(), rejects: Vec::new(), checkpoints: Vec::new(), rows: 0 };
    let mut positions = BTreeMap::new();
    for held in state.parts.iter().filter(|held| held.id > state.handed_through) {
        let part = &held.part;
        handover.rows += part.requests.num_rows() + part.rejects.num_rows();
        handover.requests.push(part.requests.clone());
        handover.rejects.push(part.rejects.clone());
        state.wal_handed = state.wal_handed.max(part.wal_seq);
        // The last position of each source (a file by identity, not by path).
        for position in &part.positions {
            positions.insert(position.source_key(), position.clone());
        }
    }
    handover.checkpoints = positions.into_values().collect();
    handover.checkpoints.push(Checkpoint::Sink(SinkPosition { wal_seq: state.wal_handed }));
    state.handed_through = through;
    state.in_flight.push_back(through);
    handover
}

impl PublishObserver for Fresh {
    fn published(&self, commit_seq: u64, checkpoints: &[Checkpoint]) {
        let mut state = self.lock();
        state.visible_commit = Some(commit_seq);
        for checkpoint in checkpoints.iter().filter(|checkpoint| checkpoint.sink().is_none()) {
            state.published.insert(checkpoint.source_key(), checkpoint.clone());
        }
        state.publications += 1;
        let Some(sink) = checkpoints.iter().find_map(Checkpoint::sink) else {
            self.publication.notify_all();
            return;
        };
        let Some(through) = state.in_flight.pop_front() else { return };
        while state.parts.front().is_some_and(|held| held.id <= through) {
            if let Some(held) = state.parts.pop_front() {
                state.rows -= held.part.requests.num_rows() + held.part.rejects.num_rows();
            }
        }
        self.publication.notify_all();
        // Segments are removed one commit late, so that a reader beside the server
        // that read the log before this commit still finds the entries.
        let removable = state.wal_removable;
        state.wal_removable = state.wal_committed;
        state.wal_committed = sink.wal_seq;
        drop(state);
        if let Err(error) = crate::storage::wal::remove_committed(&self.data_dir, removable) {
            tracing::warn!(%error, "cannot remove committed WAL segments");
        }
    }
}
