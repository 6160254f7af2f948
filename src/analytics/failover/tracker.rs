//! The episode state machine of one (source_cluster, service): fed its final windows in
//! time order, it opens, confirms and ends failover episodes, and remembers the errors
//! of the last minute for `errors_before`.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::FailoverSettings;
use super::window::{Counts, Share, Window};

/// `errors_before` counts the errors of this many seconds before an episode starts.
pub(crate) const ERRORS_LOOKBACK_S: i64 = 60;
const MICROS: i64 = 1_000_000;

/// The settings in the units the state machine compares against.
#[derive(Clone, Debug)]
pub(crate) struct Thresholds {
    pub(crate) window_us: i64,
    enter_share: f64,
    exit_share: f64,
    min_requests: u64,
    /// Informative windows above `enter_share` a run needs before it is an episode.
    confirm_windows: u32,
}

impl Thresholds {
    pub(crate) fn new(settings: &FailoverSettings) -> Self {
        let window_s = settings.window_s.max(1);
        Thresholds {
            window_us: i64::from(window_s) * MICROS,
            enter_share: settings.enter_share,
            exit_share: settings.exit_share,
            min_requests: u64::from(settings.min_requests),
            confirm_windows: settings.min_duration_s.div_ceil(window_s).max(1),
        }
    }

    fn level(&self, window: &Window) -> Level {
        if window.requests < self.min_requests {
            return Level::Quiet;
        }
        let share = window.share().value();
        if share > self.enter_share {
            Level::High
        } else if share < self.exit_share {
            Level::Low
        } else {
            Level::Middle
        }
    }
}

/// How a final window reads: too few requests to tell, or where its share stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    /// Fewer than `min_requests`: counted, but decides nothing.
    Quiet,
    /// Share above `enter_share`.
    High,
    /// Share between `exit_share` and `enter_share`, both included.
    Middle,
    /// Share below `exit_share`.
    Low,
}

/// A run of windows above `enter_share`: a candidate until confirmed, then an episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Run {
    pub(crate) started_at_micros: i64,
    /// End of the last window counted in the run.
    pub(crate) last_window_end_micros: i64,
    pub(crate) requests: u64,
    pub(crate) cross_cluster_requests: u64,
    /// The highest share of an informative window.
    pub(crate) peak: Share,
    pub(crate) errors_before: u64,
    high_windows: u32,
    pub(crate) targets: Counts,
    pub(crate) upstreams: Counts,
}

impl Run {
    fn new(started_at_micros: i64, errors_before: u64) -> Self {
        Run {
            started_at_micros,
            last_window_end_micros: started_at_micros,
            requests: 0,
            cross_cluster_requests: 0,
            peak: Share::default(),
            errors_before,
            high_windows: 0,
            targets: Counts::default(),
            upstreams: Counts::default(),
        }
    }

    fn add(&mut self, window: &Window, level: Level, window_us: i64) {
        self.last_window_end_micros = window.start_micros.saturating_add(window_us);
        self.requests += window.requests;
        self.cross_cluster_requests += window.cross_cluster;
        self.targets.merge(&window.targets);
        self.upstreams.merge(&window.upstreams);
        self.high_windows += u32::from(level == Level::High);
        if level != Level::Quiet && window.share().exceeds(self.peak) {
            self.peak = window.share();
        }
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
    /// Whether an informative window has ever had a share at or below `enter_share`:
    /// a service always served remotely is not failing over.
    seen_below_enter: bool,
    /// (window start, errors) of the final windows with errors in the last minute.
    recent_errors: VecDeque<(i64, u64)>,
}

impl Tracker {
    /// Moves the state machine by one final window (windows come oldest first).
    pub(crate) fn step(&mut self, window: &Window, t: &Thresholds) -> Option<Ended> {
        let errors_before = self.errors_before(window.start_micros);
        self.remember_errors(window, t.window_us);
        let level = t.level(window);
        if matches!(level, Level::Middle | Level::Low) {
            self.seen_below_enter = true;
        }
        let (status, ended) = match std::mem::take(&mut self.status) {
            Status::Idle => (self.step_idle(window, level, errors_before, t), None),
            Status::Candidate(run) => (step_candidate(run, window, level, t), None),
            Status::Open(run) => step_open(run, window, level, t),
        };
        self.status = status;
        ended
    }

    /// The confirmed episode still going on, if any.
    pub(crate) fn open_run(&self) -> Option<&Run> {
        match &self.status {
            Status::Open(run) => Some(run),
            _ => None,
        }
    }

    fn step_idle(&self, window: &Window, level: Level, errors: u64, t: &Thresholds) -> Status {
        if level != Level::High || !self.seen_below_enter {
            return Status::Idle;
        }
        let mut run = Run::new(window.start_micros, errors);
        run.add(window, level, t.window_us);
        promote(run, t)
    }

    fn errors_before(&self, start_micros: i64) -> u64 {
        let from = start_micros.saturating_sub(ERRORS_LOOKBACK_S * MICROS);
        let recent = self.recent_errors.iter();
        recent.filter(|(start, _)| *start >= from).map(|(_, n)| n).sum()
    }

    /// Keeps the errors of `window` and forgets what no later window can look back to.
    fn remember_errors(&mut self, window: &Window, window_us: i64) {
        if window.errors > 0 {
            let entry = (window.start_micros, window.errors);
            self.recent_errors.push_back(entry);
        }
        let next_start = window.start_micros.saturating_add(window_us);
        let horizon = next_start.saturating_sub(ERRORS_LOOKBACK_S * MICROS);
        while self.recent_errors.front().is_some_and(|(s, _)| *s < horizon) {
            self.recent_errors.pop_front();
        }
    }
}

fn step_candidate(mut run: Run, window: &Window, level: Level, t: &Thresholds) -> Status {
    if matches!(level, Level::Middle | Level::Low) {
        return Status::Idle;
    }
    run.add(window, level, t.window_us);
    promote(run, t)
}

fn step_open(
    mut run: Run,
    window: &Window,
    level: Level,
    t: &Thresholds,
) -> (Status, Option<Ended>) {
    if level == Level::Low {
        let ended_at_micros = window.start_micros;
        return (Status::Idle, Some(Ended { ended_at_micros, run }));
    }
    run.add(window, level, t.window_us);
    (Status::Open(run), None)
}

fn promote(run: Run, t: &Thresholds) -> Status {
    if run.high_windows >= t.confirm_windows { Status::Open(run) } else { Status::Candidate(run) }
}
