//! What one (source_cluster, service) did in one time window: where its requests were
//! served (locally, per remote cluster, or nowhere), how many failed and how, and which
//! Envoy clusters carried them. [`Tally`] is the part that adds up over windows, for
//! baselines and runs alike.

use serde::{Deserialize, Serialize};

use super::{Destination, Observation};

/// Counts per name, for the handful of names a key sees (`dst_cluster`, `upstream_cluster`,
/// response flags and codes). A vector, not a map: it holds one to a few entries, and
/// lookups by `&str` never allocate.
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

    pub(crate) fn get(&self, name: &str) -> u64 {
        self.0.iter().find(|(known, _)| known == name).map_or(0, |(_, n)| *n)
    }

    pub(crate) fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(name, n)| (name.as_str(), *n))
    }
}

/// A share as an exact fraction, so state holds no float for it and compares exactly
/// after a JSON round trip.
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

/// Where requests were served, and how many failed: the part of windows that adds up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tally {
    /// Every request, served or not.
    pub(crate) requests: u64,
    /// Served by the source cluster itself.
    pub(crate) local: u64,
    /// Served cross-cluster, per `dst_cluster` (`""` when the cluster is not known).
    pub(crate) remote: Counts,
    /// 5xx, or `UH` / `UF` / `URX`.
    pub(crate) errors: u64,
}

impl Tally {
    /// Requests that reached a known place, local or remote: the share's denominator.
    /// Requests with no upstream host (503 `UH`) or an external one say nothing about it.
    pub(crate) fn served(&self) -> u64 {
        self.local + self.remote.total()
    }

    pub(crate) fn cross_share(&self) -> Share {
        Share { cross: self.remote.total(), requests: self.served() }
    }

    pub(crate) fn merge(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.local += other.local;
        self.remote.merge(&other.remote);
        self.errors += other.errors;
    }

    fn record(&mut self, obs: &Observation<'_>) {
        self.requests += 1;
        self.errors += u64::from(obs.failure.is_some());
        match obs.destination {
            Destination::Local => self.local += 1,
            Destination::Remote(cluster) => self.remote.add(cluster.unwrap_or(""), 1),
            Destination::Elsewhere => {}
        }
    }
}

/// The counts of one key in one window, `[start, start + window_s)`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Window {
    pub(crate) start_micros: i64,
    pub(crate) tally: Tally,
    /// Failed responses per `response_flags` as logged (`""` for none).
    pub(crate) error_flags: Counts,
    /// Failed responses per response code.
    pub(crate) error_codes: Counts,
    /// Requests per `upstream_cluster` (when known).
    pub(crate) upstreams: Counts,
}

impl Window {
    pub(crate) fn new(start_micros: i64) -> Self {
        Window { start_micros, ..Window::default() }
    }

    pub(crate) fn record(&mut self, obs: &Observation<'_>) {
        self.tally.record(obs);
        if let Some(upstream) = obs.upstream_cluster {
            self.upstreams.add(upstream, 1);
        }
        if let Some(failure) = &obs.failure {
            self.error_flags.add(failure.flags.unwrap_or(""), 1);
            self.error_codes.add(&failure.code.to_string(), 1);
        }
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
