//! Streaming failover detector: one pass over requests, in roughly time order, gives the
//! rows of the `failovers` table. Pure and synchronous: no I/O, no clock, no threads.
//!
//! **A failover is a change, not a level.** Requests are grouped per (`source_cluster`,
//! `service`) in windows of `window_s` seconds (default 10 s) aligned to the epoch. Each
//! pair learns where it is normally served (`baseline`): locally, and what share goes
//! to each remote cluster, with the noise of that share. A window *departs* when, of
//! the traffic the baseline did not send to some remote clusters, more than
//! `enter_share` (0.5) now goes there, a rise of at least `min_shift` (0.2) of all its
//! requests. For a service normally served locally that is a cross-cluster share above
//! 0.5; for one normally split 50/50 with `cluster2`, more than 75 % to `cluster2`. A
//! run of departing windows becomes an episode once it covers `min_duration_s` (30 s)
//! or failures corroborate it (from a minute before the run: a burst of 5xx / `UH` /
//! `UF` / `URX` at 20 % of the requests and twice the usual rate, or a `/clusters`
//! snapshot of the local endpoints failing checks or gone, see
//! [`FailoverDetector::corroborate`]), and once its requests make
//! it sure: the rise is at least four standard deviations of the baseline's noise for
//! that many requests. It ends at the first window back below `exit_share` (0.2) of
//! departure; `ended_at` is that window's start. Windows with fewer than `min_requests`
//! served requests decide nothing (a lull does not end an episode, a burst of `UH`
//! with no upstream neither), but count in the episode they fall in. So a steady split
//! at any level, baseline spill, noise at low rates and a single faulty endpoint are
//! not failovers, and a service normally split 50/50 whose local share collapses is.
//! Until the baseline is established (`baseline_min_s` of windows and
//! `baseline_min_requests` requests), a window is judged only against a recent,
//! mostly-local minute (see `baseline`); a service seen only mid-split has nothing to
//! depart from. `mode = "absolute"` judges every window against a local-only baseline
//! instead: the plain cross-cluster share against `enter_share` and `exit_share`.
//!
//! `errors_before` counts the pair's errors from a minute before `started_at` until the
//! episode was confirmed (so also in its first windows), with their most frequent
//! response flags and code; `target_cluster` is the `dst_cluster` that served most of
//! the episode's cross-cluster requests, `upstream_cluster` the most frequent one.
//!
//! **Time** (`clock`): each source cluster has its own watermark, which follows the bulk
//! of its lines: a line more than `max_delay_s / 4` ahead of it is held until the lines
//! after it tell whether the stream moved on (a log gap) or the line is out of step (a
//! skewed clock, a 2099 stamp): skewed lines are counted and left out. A window is final
//! once its source cluster's watermark is `max_delay_s` (60 s) past its end; a request
//! for a window already final is counted in [`FailoverDetector::late_observations`].
//!
//! **Resuming.** [`FailoverDetector::state`] is everything needed to continue, with the
//! settings it was made with; the next run starts from it and gives exactly the
//! episodes of one uninterrupted run. An episode still open at the end of the input
//! stays open (`ended_at` NULL) and is continued.

mod baseline;
mod clock;
mod settings;
mod source;
mod tracker;
mod window;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::fast_hash::FastMap;
use clock::Decide;
use source::{Outcome, SourceState, Timing};
use tracker::{Ended, Run, Thresholds};

pub use settings::{DetectionMode, FailoverSettings, FailoverSettingsError};

/// Where a request was served, as the detector sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination<'a> {
    /// By the source cluster itself (`locality = local`).
    Local,
    /// By another cluster (`locality = cross_cluster`): its `dst_cluster`, when known.
    Remote(Option<&'a str>),
    /// Nowhere known: no upstream host (503 `UH`) or an external one.
    Elsewhere,
}

/// A failed response: 5xx, or response flags `UH`, `UF` or `URX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure<'a> {
    pub code: i32,
    /// `response_flags` as logged.
    pub flags: Option<&'a str>,
}

/// One request, as the detector needs it (borrowed from the parsed record).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation<'a> {
    pub ts_micros: i64,
    pub source_cluster: &'a str,
    pub service: &'a str,
    pub upstream_cluster: Option<&'a str>,
    pub destination: Destination<'a>,
    pub failure: Option<Failure<'a>>,
}

/// One row of the `failovers` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub source_cluster: String,
    pub service: String,
    /// The most frequent `upstream_cluster` during the episode.
    pub upstream_cluster: Option<String>,
    /// The `dst_cluster` that served most of the episode's cross-cluster requests.
    pub target_cluster: Option<String>,
    /// Start of the first window of the run.
    pub started_at_micros: i64,
    /// End of the window that confirmed it.
    pub confirmed_at_micros: i64,
    /// Start of the window back at the baseline; `None` while ongoing.
    pub ended_at_micros: Option<i64>,
    /// For an open episode: up to the end of its last final window.
    pub duration_s: f64,
    pub requests: u64,
    pub cross_cluster_requests: u64,
    /// Highest cross-cluster share of a window with at least `min_requests` served.
    pub peak_cross_cluster_share: f64,
    /// The cross-cluster share the episode departed from.
    pub baseline_cross_cluster_share: f64,
    /// Error responses from a minute before `started_at` until the episode was confirmed.
    pub errors_before: u64,
    /// The most frequent `response_flags` of those errors (`None` when they had none).
    pub errors_before_flags: Option<String>,
    /// The most frequent response code of those errors.
    pub errors_before_code: Option<i32>,
}

impl Episode {
    fn new(source_cluster: &str, service: &str, run: &Run, ended_at: Option<i64>) -> Self {
        let end = ended_at.unwrap_or(run.last_window_end_micros);
        let flags = run.error_flags.top().filter(|flags| !flags.is_empty() && *flags != "-");
        Episode {
            source_cluster: source_cluster.to_owned(),
            service: service.to_owned(),
            upstream_cluster: run.upstreams.top().map(str::to_owned),
            target_cluster: run.tally.remote.top().map(str::to_owned),
            started_at_micros: run.started_at_micros,
            confirmed_at_micros: run.confirmed_at_micros.unwrap_or(run.last_window_end_micros),
            ended_at_micros: ended_at,
            duration_s: end.saturating_sub(run.started_at_micros) as f64 / 1e6,
            requests: run.tally.requests,
            cross_cluster_requests: run.tally.remote.total(),
            peak_cross_cluster_share: run.peak.value(),
            baseline_cross_cluster_share: run.reference.cross_share(),
            errors_before: run.errors_before,
            errors_before_flags: flags.map(str::to_owned),
            errors_before_code: run.error_codes.top().and_then(|code| code.parse().ok()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ClosedEpisode {
    source_cluster: String,
    service: String,
    ended: Ended,
}

/// The version of [`DetectorState`]'s layout; a state of another version is refused.
const STATE_VERSION: u32 = 2;

/// Everything the detector needs to continue later; persist it (JSON) with each commit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorState {
    version: u32,
    /// The settings the state was made with.
    settings: FailoverSettings,
    /// source_cluster → its clock and services: looked up by `&str` without allocating.
    sources: FastMap<String, SourceState>,
    closed: Vec<ClosedEpisode>,
    late_observations: u64,
    skewed_observations: u64,
}

impl Default for DetectorState {
    fn default() -> Self {
        DetectorState {
            version: STATE_VERSION,
            settings: FailoverSettings::default(),
            sources: FastMap::default(),
            closed: Vec::new(),
            late_observations: 0,
            skewed_observations: 0,
        }
    }
}

/// A saved state this version cannot continue from.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the failover detector's state cannot be read: {0}")]
    Unreadable(#[from] serde_json::Error),
    #[error(
        "the failover detector's state has layout version {found}, this meshlog reads {STATE_VERSION}"
    )]
    Version { found: u32 },
}

impl DetectorState {
    /// Reads a state saved by [`FailoverDetector::state`].
    pub fn from_json(bytes: &[u8]) -> Result<DetectorState, StateError> {
        #[derive(Deserialize)]
        struct Versioned {
            version: Option<u32>,
        }
        let found = serde_json::from_slice::<Versioned>(bytes)?.version.unwrap_or(1);
        if found != STATE_VERSION {
            return Err(StateError::Version { found });
        }
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The settings the state was made with.
    pub fn settings(&self) -> &FailoverSettings {
        &self.settings
    }
}

/// The runtime detector: feed it every request with [`observe`](Self::observe).
#[derive(Clone, Debug)]
pub struct FailoverDetector {
    thresholds: Thresholds,
    timing: Timing,
    state: DetectorState,
}

impl FailoverDetector {
    /// Starts from `state` (`DetectorState::default()` the first time) with `settings`,
    /// which the state then records. Settings other than the state's apply from now on
    /// (compare [`DetectorState::settings`] first to tell the user).
    pub fn new(settings: FailoverSettings, mut state: DetectorState) -> Self {
        let thresholds = Thresholds::new(&settings);
        let max_delay_us = i64::from(settings.max_delay_s) * 1_000_000;
        let timing =
            Timing { window_us: thresholds.window_us, max_delay_us, max_jump_us: max_delay_us / 4 };
        state.settings = settings;
        FailoverDetector { thresholds, timing, state }
    }

    /// Counts one request. Allocates only for a new pair, window or cluster name, or
    /// for a line held until its neighbours show whether its clock is right.
    pub fn observe(&mut self, obs: &Observation<'_>) {
        let sources = &mut self.state.sources;
        let source = match sources.get_mut(obs.source_cluster) {
            Some(source) => source,
            None => sources.entry(obs.source_cluster.to_owned()).or_default(),
        };
        let mut outcome = Outcome::default();
        source.observe(obs, &self.thresholds, self.timing, &mut outcome);
        self.record(obs.source_cluster, outcome);
    }

    /// Notes that a snapshot of `source_cluster`'s proxies at `ts_micros` showed the local
    /// endpoints of `service` failing checks or gone from the endpoint list: a run of
    /// departing windows from a minute after it on is an episode without waiting for
    /// `min_duration`.
    pub fn corroborate(&mut self, source_cluster: &str, service: &str, ts_micros: i64) {
        let sources = &mut self.state.sources;
        let source = match sources.get_mut(source_cluster) {
            Some(source) => source,
            None => sources.entry(source_cluster.to_owned()).or_default(),
        };
        source.corroborate(service, ts_micros);
    }

    /// Every episode so far, closed and open, by (started_at, source_cluster, service).
    /// Only final windows count; calling this changes nothing.
    pub fn episodes(&self) -> Vec<Episode> {
        let closed = self.state.closed.iter().map(|c| {
            let ended_at = Some(c.ended.ended_at_micros);
            Episode::new(&c.source_cluster, &c.service, &c.ended.run, ended_at)
        });
        let mut all: Vec<Episode> = closed.chain(self.open_episodes()).collect();
        all.sort_by(|a, b| episode_order(a).cmp(&episode_order(b)));
        all
    }

    /// A snapshot to persist with each commit; [`new`](Self::new) continues from it.
    pub fn state(&self) -> DetectorState {
        self.state.clone()
    }

    /// The state as JSON, to persist.
    pub fn state_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&self.state)
    }

    /// Requests that arrived after their window was final (more than `max_delay_s` late,
    /// or stamped far in the past).
    pub fn late_observations(&self) -> u64 {
        self.state.late_observations
    }

    /// Requests left out because their time was out of step with the rest of their
    /// source cluster's stream (a skewed clock, a stamp decades off).
    pub fn skewed_observations(&self) -> u64 {
        self.state.skewed_observations
    }

    /// Requests held until the lines after them show whether their time is right.
    pub fn held_observations(&self) -> u64 {
        self.state.sources.values().map(|source| source.clock.held_len() as u64).sum()
    }

    /// At the end of an input that may continue later: decides the held lines that
    /// enough lines followed; the others stay held in the state.
    pub fn settle(&mut self) {
        self.for_each_source(|source, name, t, timing, out| {
            source.release_held(name, Decide::WithWhatFollowed, t, timing, out);
        });
    }

    /// Makes every held line and pending window final: call it only when the input is
    /// over for good (a one-off import). A source that will be read again must not
    /// flush: its next requests could belong to those windows, and would then count as
    /// late. Open episodes stay open either way.
    pub fn flush_final(&mut self) {
        self.for_each_source(|source, name, t, timing, out| {
            source.release_held(name, Decide::Now, t, timing, out);
            source.finalize_all(t, timing, out);
        });
    }

    fn for_each_source(
        &mut self,
        mut work: impl FnMut(&mut SourceState, &str, &Thresholds, Timing, &mut Outcome),
    ) {
        let names: Vec<String> = self.state.sources.keys().cloned().collect();
        for name in names {
            let mut outcome = Outcome::default();
            if let Some(source) = self.state.sources.get_mut(&name) {
                work(source, &name, &self.thresholds, self.timing, &mut outcome);
            }
            self.record(&name, outcome);
        }
    }

    /// Adds what became of a source cluster's lines to the detector's counts.
    fn record(&mut self, source: &str, outcome: Outcome) {
        self.state.late_observations += outcome.late;
        self.state.skewed_observations += outcome.skewed;
        let closed = outcome.ended.into_iter().map(|(service, ended)| ClosedEpisode {
            source_cluster: source.to_owned(),
            service,
            ended,
        });
        self.state.closed.extend(closed);
    }

    fn open_episodes(&self) -> impl Iterator<Item = Episode> + '_ {
        self.state.sources.iter().flat_map(|(name, source)| {
            source.services.iter().filter_map(move |(service, key)| {
                let run = key.tracker.open_run()?;
                Some(Episode::new(name, service, run, None))
            })
        })
    }
}

fn episode_order(e: &Episode) -> (i64, &str, &str) {
    (e.started_at_micros, &e.source_cluster, &e.service)
}
