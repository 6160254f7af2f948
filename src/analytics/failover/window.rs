//! What one (source_cluster, service) did in one time window: request, cross-cluster and
//! error counts, plus small per-name tallies of destination and upstream clusters.

use serde::{Deserialize, Serialize};

use super::Observation;

/// Counts per name, for the handful of names a key sees (`dst_cluster`, `upstream_cluster`).
/// A vector, not a map: it holds one to three entries, and lookups by `&str` never allocate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Counts(Vec<(String, u64)>);

impl Counts {
    /// Adds `n` to `name`; allocates only the first time a name is seen.
    pub(crate) fn add(&mut self, name: &str, n: u64) {
        match self.0.iter_mut().find(|(known, _)| known == name) {
            Some((_, count)) => *count += n,
            None => self.0.push((name.to_owned(), n)),
        }
    }

    pub(crate) fn merge(&mut self, other: &Counts) {
        for (name, n) in &other.0 {
            self.add(name, *n);
        }
    }

    /// The most frequent name; ties go to the alphabetically first, so results are stable.
    pub(crate) fn top(&self) -> Option<&str> {
        self.0
            .iter()
            .max_by(|(a_name, a), (b_name, b)| a.cmp(b).then_with(|| b_name.cmp(a_name)))
            .map(|(name, _)| name.as_str())
    }
}

/// A share as an exact fraction, so state holds no float and compares exactly after a
/// JSON round trip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Share {
    pub(crate) cross: u64,
    pub(crate) requests: u64,
}

impl Share {
    pub(crate) fn value(self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        self.cross as f64 / self.requests as f64
    }

    /// Whether this share is higher; anything exceeds an empty share (no requests).
    pub(crate) fn exceeds(self, other: Share) -> bool {
        other.requests == 0
            || u128::from(self.cross) * u128::from(other.requests)
                > u128::from(other.cross) * u128::from(self.requests)
    }
}

/// The counts of one key in one window, `[start, start + window_s)`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Window {
    pub(crate) start_micros: i64,
    pub(crate) requests: u64,
    pub(crate) cross_cluster: u64,
    pub(crate) errors: u64,
    /// Cross-cluster requests per `dst_cluster` (when known).
    pub(crate) targets: Counts,
    /// Requests per `upstream_cluster` (when known).
    pub(crate) upstreams: Counts,
}

impl Window {
    pub(crate) fn new(start_micros: i64) -> Self {
        Window { start_micros, ..Window::default() }
    }

    pub(crate) fn record(&mut self, obs: &Observation<'_>) {
        self.requests += 1;
        self.errors += u64::from(obs.error);
        if let Some(upstream) = obs.upstream_cluster {
            self.upstreams.add(upstream, 1);
        }
        if !obs.cross_cluster {
            return;
        }
        self.cross_cluster += 1;
        if let Some(dst) = obs.dst_cluster {
            self.targets.add(dst, 1);
        }
    }

    pub(crate) fn share(&self) -> Share {
        Share { cross: self.cross_cluster, requests: self.requests }
    }
}

/// The pending (not yet final) windows of one key, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Pending(Vec<Window>);

impl Pending {
    /// Counts `obs` in the window starting at `start`, creating it in time order if new.
    /// The newest window is the usual one, so the search runs from the back.
    pub(crate) fn record(&mut self, start: i64, obs: &Observation<'_>) {
        let windows = &mut self.0;
        let after = windows.iter().rposition(|w| w.start_micros <= start).map_or(0, |i| i + 1);
        let existing = after.checked_sub(1).and_then(|i| windows.get_mut(i));
        if let Some(window) = existing.filter(|w| w.start_micros == start) {
            window.record(obs);
            return;
        }
        let mut window = Window::new(start);
        window.record(obs);
        windows.insert(after, window);
    }

    /// Removes and returns, oldest first, the windows that start before `frontier`.
    pub(crate) fn take_before(&mut self, frontier: i64) -> std::vec::Drain<'_, Window> {
        let n = self.0.partition_point(|w| w.start_micros < frontier);
        self.0.drain(..n)
    }
}
