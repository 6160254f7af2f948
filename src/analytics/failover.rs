//! Streaming failover detector: one pass over requests, in roughly time order, gives the
//! rows of the `failovers` table. Pure and synchronous: no I/O, no clock, no threads.
//!
//! **How a failover is found.** Requests are grouped per (`source_cluster`, `service`) in
//! windows of `window_s` seconds (default 10 s) aligned to the epoch (10:00:00, 10:00:10, …).
//! A window's *share* is its cross-cluster requests over all its requests (failed ones
//! included). A window with fewer than `min_requests` requests (default 5) decides
//! nothing: it neither starts, confirms nor ends an episode, so a lull in traffic does not
//! end one; its requests still count in the episode it falls in. An episode *starts* with
//! a run of windows whose share is above `enter_share` (default 0.5) and is *confirmed*
//! once the run holds enough of them to cover `min_duration_s` (default 30 s: three
//! windows); a window at or below `enter_share` before that drops the run, so a short
//! spike is not a failover. Once confirmed, `started_at` is the start of the run's first
//! window, and the episode lasts until the first window whose share is below `exit_share`
//! (default 0.2); `ended_at` is that window's start. A share between the two thresholds
//! keeps an episode open (hysteresis) but never starts one. Baseline spill (a
//! DestinationRule sending 10 % to another region) and a steady share of direct calls
//! over a flat network stay below `enter_share`; a faulty local endpoint raises errors,
//! not the share: none of them is a failover. A service that has always been served
//! remotely (no local deployment) is not failing over either: a run can only start after
//! the pair has shown at least one window at or below `enter_share`. `errors_before`
//! counts the error responses (5xx, `UH`, `UF`) of the pair in the minute before
//! `started_at`; `target_cluster` is the `dst_cluster` that served most of the episode's
//! cross-cluster requests, `upstream_cluster` the most frequent one.
//!
//! **Out-of-order input.** Files and proxies interleave, so a window is final only once
//! the newest timestamp seen (over all pairs) is `max_delay_s` (default 60 s) past its
//! end. Until then it collects late arrivals; a request for a window already final is
//! counted in [`FailoverDetector::late_observations`] and otherwise ignored. Episodes
//! reflect final windows only, so results trail the input by up to `max_delay_s +
//! window_s`.
//!
//! **Resuming.** [`FailoverDetector::state`] is everything needed to continue (pending
//! windows, each pair's status, the last minute of errors, every episode); the next run
//! starts from it and gives exactly the episodes of one uninterrupted run. An episode
//! still open at the end of the input stays open (`ended_at` NULL) and is continued.

mod tracker;
mod window;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::fast_hash::FastMap;
use tracker::{Ended, Run, Thresholds, Tracker};
use window::Pending;

/// The `[failover]` settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailoverSettings {
    /// Window length, seconds (default 10).
    pub window_s: u32,
    /// A window is "failed over" when its cross-cluster share is above this (default 0.5).
    pub enter_share: f64,
    /// An episode ends at the first window whose share is below this (default 0.2).
    pub exit_share: f64,
    /// How long the share must stay above `enter_share`, seconds (default 30).
    #[serde(alias = "min_duration")]
    pub min_duration_s: u32,
    /// Requests a window needs to count (default 5).
    pub min_requests: u32,
    /// How far behind the newest timestamp a request may arrive and still count,
    /// seconds (default 60).
    pub max_delay_s: u32,
}

impl Default for FailoverSettings {
    fn default() -> Self {
        FailoverSettings {
            window_s: 10,
            enter_share: 0.5,
            exit_share: 0.2,
            min_duration_s: 30,
            min_requests: 5,
            max_delay_s: 60,
        }
    }
}

/// Settings the detector cannot work with.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FailoverSettingsError {
    #[error("failover.window_s must be at least 1 second")]
    ZeroWindow,
    #[error("failover.{name} must be between 0 and 1, got {value}")]
    ShareOutOfRange { name: &'static str, value: f64 },
    #[error("failover.exit_share ({exit}) must not be above failover.enter_share ({enter})")]
    ExitAboveEnter { exit: f64, enter: f64 },
}

impl FailoverSettings {
    /// Checks what [`FailoverDetector::new`] would otherwise quietly clamp.
    pub fn validate(&self) -> Result<(), FailoverSettingsError> {
        if self.window_s == 0 {
            return Err(FailoverSettingsError::ZeroWindow);
        }
        check_share("enter_share", self.enter_share)?;
        check_share("exit_share", self.exit_share)?;
        if self.exit_share > self.enter_share {
            let (exit, enter) = (self.exit_share, self.enter_share);
            return Err(FailoverSettingsError::ExitAboveEnter { exit, enter });
        }
        Ok(())
    }
}

fn check_share(name: &'static str, value: f64) -> Result<(), FailoverSettingsError> {
    if (0.0..=1.0).contains(&value) {
        return Ok(());
    }
    Err(FailoverSettingsError::ShareOutOfRange { name, value })
}

/// One request, as the detector needs it (borrowed from the parsed record).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation<'a> {
    pub ts_micros: i64,
    pub source_cluster: &'a str,
    pub service: &'a str,
    pub upstream_cluster: Option<&'a str>,
    /// `locality = cross_cluster`.
    pub cross_cluster: bool,
    pub dst_cluster: Option<&'a str>,
    /// 5xx, or response flag `UH` or `UF`.
    pub error: bool,
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
    /// Start of the first window of the run above `enter_share`.
    pub started_at_micros: i64,
    /// Start of the window whose share fell below `exit_share`; `None` while ongoing.
    pub ended_at_micros: Option<i64>,
    /// For an open episode: up to the end of its last final window.
    pub duration_s: f64,
    pub requests: u64,
    pub cross_cluster_requests: u64,
    /// Highest share of a window with at least `min_requests` requests.
    pub peak_cross_cluster_share: f64,
    /// Error responses of the pair in the 60 s before `started_at`.
    pub errors_before: u64,
}

impl Episode {
    fn new(source_cluster: &str, service: &str, run: &Run, ended_at: Option<i64>) -> Self {
        let end = ended_at.unwrap_or(run.last_window_end_micros);
        Episode {
            source_cluster: source_cluster.to_owned(),
            service: service.to_owned(),
            upstream_cluster: run.upstreams.top().map(str::to_owned),
            target_cluster: run.targets.top().map(str::to_owned),
            started_at_micros: run.started_at_micros,
            ended_at_micros: ended_at,
            duration_s: end.saturating_sub(run.started_at_micros) as f64 / 1e6,
            requests: run.requests,
            cross_cluster_requests: run.cross_cluster_requests,
            peak_cross_cluster_share: run.peak.value(),
            errors_before: run.errors_before,
        }
    }
}

/// One (source_cluster, service): its windows not yet final and its episode status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct KeyState {
    pending: Pending,
    tracker: Tracker,
}

impl KeyState {
    /// Steps the state machine through the windows that start before `frontier`.
    fn finalize_before(&mut self, frontier: i64, t: &Thresholds) -> Vec<Ended> {
        let windows = self.pending.take_before(frontier);
        windows.filter_map(|w| self.tracker.step(&w, t)).collect()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ClosedEpisode {
    source_cluster: String,
    service: String,
    ended: Ended,
}

/// Everything the detector needs to continue later; persist it (JSON) with each commit.
/// Holds integers and strings only, so it survives a JSON round trip exactly.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorState {
    /// Newest timestamp seen.
    watermark_micros: Option<i64>,
    /// Windows starting before this are final.
    final_before_micros: Option<i64>,
    /// source_cluster → service → state: looked up by `&str` without allocating.
    keys: FastMap<String, FastMap<String, KeyState>>,
    closed: Vec<ClosedEpisode>,
    late_observations: u64,
}

/// The runtime detector: feed it every request with [`observe`](Self::observe).
#[derive(Clone, Debug)]
pub struct FailoverDetector {
    thresholds: Thresholds,
    max_delay_us: i64,
    state: DetectorState,
}

impl FailoverDetector {
    /// Starts from `state` (`DetectorState::default()` the first time). Use the same
    /// settings as the run that saved the state; a zero `window_s` counts as 1.
    pub fn new(settings: FailoverSettings, state: DetectorState) -> Self {
        FailoverDetector {
            thresholds: Thresholds::new(&settings),
            max_delay_us: i64::from(settings.max_delay_s) * 1_000_000,
            state,
        }
    }

    /// Counts one request. Allocates only for a new pair, window or cluster name.
    pub fn observe(&mut self, obs: &Observation<'_>) {
        self.advance_watermark(obs.ts_micros);
        let start = self.window_start(obs.ts_micros);
        if self.state.final_before_micros.is_some_and(|f| start < f) {
            self.state.late_observations += 1;
            return;
        }
        let keys = &mut self.state.keys;
        let services = match keys.get_mut(obs.source_cluster) {
            Some(services) => services,
            None => keys.entry(obs.source_cluster.to_owned()).or_default(),
        };
        let key = match services.get_mut(obs.service) {
            Some(key) => key,
            None => services.entry(obs.service.to_owned()).or_default(),
        };
        key.pending.record(start, obs);
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

    /// Requests that arrived after their window was final (more than `max_delay_s` late).
    pub fn late_observations(&self) -> u64 {
        self.state.late_observations
    }

    /// Makes every pending window final: call it only when the input is over for good
    /// (a one-off import). A source that will be read again must not flush: its next
    /// requests could belong to those windows, and would then count as late. Open
    /// episodes stay open either way.
    pub fn flush_final(&mut self) {
        let Some(watermark) = self.state.watermark_micros else {
            return;
        };
        let next = self.window_start(watermark);
        self.finalize_before(next.saturating_add(self.thresholds.window_us));
    }

    fn open_episodes(&self) -> impl Iterator<Item = Episode> + '_ {
        self.state.keys.iter().flat_map(|(source, services)| {
            services.iter().filter_map(move |(service, key)| {
                let run = key.tracker.open_run()?;
                Some(Episode::new(source, service, run, None))
            })
        })
    }

    fn window_start(&self, ts_micros: i64) -> i64 {
        let offset = ts_micros.rem_euclid(self.thresholds.window_us);
        ts_micros.saturating_sub(offset)
    }

    fn advance_watermark(&mut self, ts_micros: i64) {
        if self.state.watermark_micros.is_some_and(|w| ts_micros <= w) {
            return;
        }
        self.state.watermark_micros = Some(ts_micros);
        let frontier = self.window_start(ts_micros.saturating_sub(self.max_delay_us));
        self.finalize_before(frontier);
    }

    /// Feeds every pair's windows that start before `frontier` to its state machine.
    fn finalize_before(&mut self, frontier: i64) {
        if self.state.final_before_micros.is_some_and(|f| frontier <= f) {
            return;
        }
        self.state.final_before_micros = Some(frontier);
        let DetectorState { keys, closed, .. } = &mut self.state;
        for (source, services) in keys.iter_mut() {
            for (service, key) in services.iter_mut() {
                let ended = key.finalize_before(frontier, &self.thresholds);
                let named = ended.into_iter().map(|ended| ClosedEpisode {
                    source_cluster: source.clone(),
                    service: service.clone(),
                    ended,
                });
                closed.extend(named);
            }
        }
    }
}

fn episode_order(e: &Episode) -> (i64, &str, &str) {
    (e.started_at_micros, &e.source_cluster, &e.service)
}
