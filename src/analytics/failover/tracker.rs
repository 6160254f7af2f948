//! The episode state machine of one (source_cluster, service): fed its final windows in
//! time order, it learns the pair's baseline from normal times, opens a run when a
//! window departs from it towards remote clusters, confirms the run as an episode once
//! it lasted `min_duration` or failures corroborate it, and ends the episode when the
//! traffic is back at the baseline. It also remembers the last minute of errors, for
//! `errors_before`.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::baseline::{Baseline, Learning, Reference};
use super::window::{Counts, Share, Tally, Window};
use super::{DetectionMode, FailoverSettings};

/// `errors_before` counts the errors from this many seconds before an episode starts.
pub(crate) const ERRORS_LOOKBACK_S: i64 = 60;
/// How sure a run must be, in standard deviations of the reference's noise, to be an
/// episode (about 3 in 100 000 by chance for a binomial share).
pub(crate) const CONFIRM_Z: f64 = 4.0;
/// A window whose error rate is at least this (and twice the baseline's) is a burst.
const BURST_ERROR_RATE: f64 = 0.2;
/// Snapshot evidence is kept this long behind the newest final window, at most
/// [`MAX_EVIDENCE`] times.
const EVIDENCE_KEPT_S: i64 = 600;
const MAX_EVIDENCE: usize = 64;
const MICROS: i64 = 1_000_000;

/// The settings in the units the state machine compares against.
#[derive(Clone, Debug)]
pub(crate) struct Thresholds {
    pub(crate) window_us: i64,
    mode: DetectionMode,
    enter: f64,
    exit: f64,
    min_shift: f64,
    min_requests: u64,
    /// Informative windows of departure a run needs, uncorroborated, to be an episode.
    confirm_windows: u32,
    learning: Learning,
}

impl Thresholds {
    pub(crate) fn new(settings: &FailoverSettings) -> Self {
        let window_s = settings.window_s.max(1);
        let windows_in = |seconds: u32| seconds.div_ceil(window_s).max(1);
        Thresholds {
            window_us: i64::from(window_s) * MICROS,
            mode: settings.mode,
            enter: settings.enter_share,
            exit: settings.exit_share,
            min_shift: settings.min_shift,
            min_requests: u64::from(settings.min_requests),
            confirm_windows: windows_in(settings.min_duration_s),
            learning: Learning {
                bucket_windows: windows_in(settings.baseline_span_s).div_ceil(6),
                min_windows: windows_in(settings.baseline_min_s),
                min_requests: u64::from(settings.baseline_min_requests),
                mostly_local: settings.exit_share,
            },
        }
    }

    fn level(&self, tally: &Tally, reference: &Reference) -> Level {
        if tally.served() < self.min_requests {
            return Level::Quiet;
        }
        let departure = reference.departure(tally, self.min_shift);
        if departure.departure > self.enter && departure.shift >= self.min_shift {
            Level::High
        } else if departure.departure < self.exit {
            Level::Low
        } else {
            Level::Middle
        }
    }
}

/// How a final window reads against the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    /// Fewer than `min_requests` served: counted, but decides nothing.
    Quiet,
    /// Departs beyond `enter_share` (and by at least `min_shift`).
    High,
    /// Between `exit_share` and `enter_share`.
    Middle,
    /// Below `exit_share`: back at the reference.
    Low,
}

/// The errors of one final window, kept for a minute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ErrorWindow {
    start_micros: i64,
    requests: u64,
    errors: u64,
    flags: Counts,
    codes: Counts,
}

/// A run of windows departing from the reference: a candidate until confirmed, then an
/// episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Run {
    pub(crate) started_at_micros: i64,
    /// End of the last window counted in the run.
    pub(crate) last_window_end_micros: i64,
    /// End of the window that made the run an episode.
    pub(crate) confirmed_at_micros: Option<i64>,
    /// Every request of the run's windows.
    pub(crate) tally: Tally,
    /// The highest cross-cluster share of an informative window.
    pub(crate) peak: Share,
    /// Errors from a minute before the start until the run was confirmed.
    pub(crate) errors_before: u64,
    pub(crate) error_flags: Counts,
    pub(crate) error_codes: Counts,
    pub(crate) upstreams: Counts,
    /// What the run departs from, fixed when it started.
    pub(crate) reference: Reference,
    /// Whether an error burst or a snapshot of the local endpoints failing or gone came
    /// with it (from a minute before its start).
    corroborated: bool,
    high_windows: u32,
}

impl Run {
    fn new(window: &Window, reference: Reference, before: &[&ErrorWindow]) -> Self {
        let mut run = Run {
            started_at_micros: window.start_micros,
            last_window_end_micros: window.start_micros,
            confirmed_at_micros: None,
            tally: Tally::default(),
            peak: Share::default(),
            errors_before: 0,
            error_flags: Counts::default(),
            error_codes: Counts::default(),
            upstreams: Counts::default(),
            reference,
            corroborated: false,
            high_windows: 0,
        };
        for errors in before {
            run.count_errors(errors.errors, &errors.flags, &errors.codes);
            run.corroborated |= run.is_burst(errors.errors, errors.requests);
        }
        run
    }

    fn add(&mut self, window: &Window, level: Level, window_us: i64) {
        self.last_window_end_micros = window.start_micros.saturating_add(window_us);
        self.tally.merge(&window.tally);
        self.upstreams.merge(&window.upstreams);
        self.high_windows += u32::from(level == Level::High);
        let share = window.tally.cross_share();
        if level != Level::Quiet && share.exceeds(self.peak) {
            self.peak = share;
        }
        if self.confirmed_at_micros.is_none() {
            let errors = window.tally.errors;
            self.count_errors(errors, &window.error_flags, &window.error_codes);
            self.corroborated |= self.is_burst(errors, window.tally.requests);
        }
    }

    fn count_errors(&mut self, errors: u64, flags: &Counts, codes: &Counts) {
        self.errors_before += errors;
        self.error_flags.merge(flags);
        self.error_codes.merge(codes);
    }

    /// Whether `errors` of `requests` is a burst for this service: at least five, and a
    /// rate of 20 % and twice its usual one.
    fn is_burst(&self, errors: u64, requests: u64) -> bool {
        let usual = self.reference.error_rate();
        let rate = if requests == 0 { 0.0 } else { errors as f64 / requests as f64 };
        errors >= 5 && rate >= BURST_ERROR_RATE.max(2.0 * usual)
    }

    /// Whether the run is an episode: long enough or corroborated, and sure.
    fn is_confirmed(&self, t: &Thresholds) -> bool {
        let long_enough = self.high_windows >= t.confirm_windows;
        if !(long_enough || self.corroborated) {
            return false;
        }
        t.mode == DetectionMode::Absolute
            || self.reference.departure(&self.tally, t.min_shift).z >= CONFIRM_Z
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
enum Status {
    #[default]
    Idle,
    Candidate(Run),
    Open(Run),
}

/// An episode that just ended, at the start of the window that ended it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ended {
    pub(crate) ended_at_micros: i64,
    pub(crate) run: Run,
}

/// Everything one key carries between windows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tracker {
    status: Status,
    baseline: Baseline,
    /// Absolute mode only: whether an informative window has ever been at or below
    /// `enter_share` (a service always served remotely is not failing over).
    seen_below_enter: bool,
    /// The final windows with errors of the last minute.
    recent_errors: VecDeque<ErrorWindow>,
    /// When snapshots showed the local endpoints failing or gone, oldest first.
    #[serde(default)]
    evidence: VecDeque<i64>,
}

impl Tracker {
    /// Remembers that a snapshot at `ts_micros` showed the local endpoints failing or
    /// gone: it corroborates a run from a minute after it.
    pub(crate) fn note_evidence(&mut self, ts_micros: i64) {
        let at = self.evidence.partition_point(|&ts| ts < ts_micros);
        if self.evidence.get(at) != Some(&ts_micros) {
            self.evidence.insert(at, ts_micros);
        }
        while self.evidence.len() > MAX_EVIDENCE {
            self.evidence.pop_front();
        }
    }

    /// Moves the state machine by one final window (windows come oldest first).
    pub(crate) fn step(&mut self, window: &Window, t: &Thresholds) -> Option<Ended> {
        let (status, ended) = match std::mem::take(&mut self.status) {
            Status::Idle => (self.step_idle(window, t), None),
            Status::Candidate(run) => (self.step_candidate(run, window, t), None),
            Status::Open(run) => self.step_open(run, window, t),
        };
        self.status = status;
        self.remember_errors(window, t.window_us);
        let horizon = window.start_micros.saturating_sub(EVIDENCE_KEPT_S * MICROS);
        while self.evidence.front().is_some_and(|&ts| ts < horizon) {
            self.evidence.pop_front();
        }
        ended
    }

    /// Whether a snapshot from a minute before `run` started until its last window
    /// showed the local endpoints failing or gone.
    fn has_evidence_for(&self, run: &Run) -> bool {
        let from = run.started_at_micros.saturating_sub(ERRORS_LOOKBACK_S * MICROS);
        self.evidence.iter().any(|&ts| ts >= from && ts < run.last_window_end_micros)
    }

    /// The confirmed episode still going on, if any.
    pub(crate) fn open_run(&self) -> Option<&Run> {
        match &self.status {
            Status::Open(run) => Some(run),
            _ => None,
        }
    }

    fn step_idle(&mut self, window: &Window, t: &Thresholds) -> Status {
        let Some(reference) = self.reference(t) else {
            self.learn(window, t);
            return Status::Idle;
        };
        let level = t.level(&window.tally, &reference);
        if matches!(level, Level::Middle | Level::Low) {
            self.seen_below_enter = true;
        }
        let may_start = t.mode == DetectionMode::Baseline || self.seen_below_enter;
        if level != Level::High || !may_start {
            self.learn(window, t);
            return Status::Idle;
        }
        let mut run = Run::new(window, reference, &self.errors_before(window.start_micros));
        run.add(window, level, t.window_us);
        run.corroborated |= self.has_evidence_for(&run);
        promote(run, t)
    }

    fn step_candidate(&mut self, mut run: Run, window: &Window, t: &Thresholds) -> Status {
        let level = t.level(&window.tally, &run.reference);
        if matches!(level, Level::Middle | Level::Low) {
            self.learn(window, t);
            return Status::Idle;
        }
        run.add(window, level, t.window_us);
        run.corroborated |= self.has_evidence_for(&run);
        promote(run, t)
    }

    fn step_open(
        &mut self,
        mut run: Run,
        window: &Window,
        t: &Thresholds,
    ) -> (Status, Option<Ended>) {
        let level = t.level(&window.tally, &run.reference);
        if level == Level::Low {
            self.learn(window, t);
            let ended_at_micros = window.start_micros;
            return (Status::Idle, Some(Ended { ended_at_micros, run }));
        }
        run.add(window, level, t.window_us);
        (Status::Open(run), None)
    }

    /// What the pair's windows are judged against now; `None` while it is unknown.
    fn reference(&self, t: &Thresholds) -> Option<Reference> {
        match t.mode {
            DetectionMode::Absolute => Some(Reference::local_only()),
            DetectionMode::Baseline => self.baseline.reference(&t.learning),
        }
    }

    fn learn(&mut self, window: &Window, t: &Thresholds) {
        if window.tally.served() >= t.min_requests {
            self.baseline.learn(&window.tally, &t.learning);
        }
    }

    /// The windows with errors in the minute before `start_micros`.
    fn errors_before(&self, start_micros: i64) -> Vec<&ErrorWindow> {
        let from = start_micros.saturating_sub(ERRORS_LOOKBACK_S * MICROS);
        self.recent_errors.iter().filter(|w| w.start_micros >= from).collect()
    }

    /// Keeps the errors of `window` and forgets what no later window can look back to.
    fn remember_errors(&mut self, window: &Window, window_us: i64) {
        if window.tally.errors > 0 {
            self.recent_errors.push_back(ErrorWindow {
                start_micros: window.start_micros,
                requests: window.tally.requests,
                errors: window.tally.errors,
                flags: window.error_flags.clone(),
                codes: window.error_codes.clone(),
            });
        }
        let next_start = window.start_micros.saturating_add(window_us);
        let horizon = next_start.saturating_sub(ERRORS_LOOKBACK_S * MICROS);
        while self.recent_errors.front().is_some_and(|w| w.start_micros < horizon) {
            self.recent_errors.pop_front();
        }
    }
}

fn promote(mut run: Run, t: &Thresholds) -> Status {
    if !run.is_confirmed(t) {
        return Status::Candidate(run);
    }
    run.confirmed_at_micros = Some(run.last_window_end_micros);
    Status::Open(run)
}
