//! The time of one source cluster's stream, as the detector trusts it: a watermark that
//! follows the bulk of the lines, so one line from a skewed clock (six minutes ahead, or
//! dated 2099) cannot make every later line late.
//!
//! A line at most `max_jump` (a quarter of `max_delay`) ahead of the watermark moves it
//! at once. A line further ahead (or the first line of all) is *held*: it counts only
//! once the lines after it have decided. Every later line is one of its followers, and
//! a follower more than `max_jump` before it is *behind* it. A held line is released as
//! in step as soon as the watermark reaches within `max_jump` of it (the stream caught
//! up), and judged once [`LOOKAHEAD`] lines followed it: *skewed* when most of them were
//! behind it (the stream went on at its old time), in step otherwise (the stream moved
//! on: a gap in the log, or its first line). So a proxy whose clock is off is skewed as a
//! whole while its lines are less than half of its source cluster's, whatever chunks it
//! writes them in. Lines more than `max_delay` behind are late, not skewed.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::{Destination, Failure, Observation};

/// Lines after a held line that decide it.
pub(crate) const LOOKAHEAD: u32 = 256;
/// At the end of an input that continues later, a held line is decided with the lines
/// that followed it, if at least this many did.
const MIN_FOLLOWERS_TO_SETTLE: u32 = 8;
/// The most lines held per source cluster; past it the oldest is decided early.
const MAX_HELD: usize = 4 * LOOKAHEAD as usize;

/// How eagerly held lines are decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decide {
    /// Once [`LOOKAHEAD`] lines followed.
    WhenSure,
    /// With the lines that followed, if at least a few did (the input paused).
    WithWhatFollowed,
    /// With whatever followed (the input is over for good).
    Now,
}

/// What became of the oldest held line.
#[derive(Debug)]
pub(crate) enum Verdict {
    InStep(OwnedObservation),
    Skewed,
}

/// An observation kept while it is held; the source cluster is the clock's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct OwnedObservation {
    ts_micros: i64,
    service: String,
    upstream_cluster: Option<String>,
    destination: OwnedDestination,
    /// The code and flags of a failed response.
    failure: Option<(i32, Option<String>)>,
}

impl OwnedObservation {
    pub(crate) fn of(obs: &Observation<'_>) -> Self {
        let destination = match obs.destination {
            Destination::Local => OwnedDestination::Local,
            Destination::Remote(cluster) => OwnedDestination::Remote(cluster.map(str::to_owned)),
            Destination::Elsewhere => OwnedDestination::Elsewhere,
        };
        OwnedObservation {
            ts_micros: obs.ts_micros,
            service: obs.service.to_owned(),
            upstream_cluster: obs.upstream_cluster.map(str::to_owned),
            destination,
            failure: obs.failure.map(|f| (f.code, f.flags.map(str::to_owned))),
        }
    }

    pub(crate) fn as_observation<'a>(&'a self, source_cluster: &'a str) -> Observation<'a> {
        let destination = match &self.destination {
            OwnedDestination::Local => Destination::Local,
            OwnedDestination::Remote(cluster) => Destination::Remote(cluster.as_deref()),
            OwnedDestination::Elsewhere => Destination::Elsewhere,
        };
        Observation {
            ts_micros: self.ts_micros,
            source_cluster,
            service: &self.service,
            upstream_cluster: self.upstream_cluster.as_deref(),
            destination,
            failure: self
                .failure
                .as_ref()
                .map(|(code, flags)| Failure { code: *code, flags: flags.as_deref() }),
        }
    }
}

/// [`Destination`], owned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum OwnedDestination {
    Local,
    Remote(Option<String>),
    Elsewhere,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Held {
    line: OwnedObservation,
    followers: u32,
    behind: u32,
}

impl Held {
    fn is_skewed(&self) -> bool {
        u64::from(self.behind) * 2 > u64::from(self.followers)
    }
}

/// One source cluster's watermark, finality frontier and held lines.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Clock {
    /// Newest time in step with the stream.
    watermark_micros: Option<i64>,
    /// Windows starting before this are final.
    final_before_micros: Option<i64>,
    held: VecDeque<Held>,
}

impl Clock {
    pub(crate) fn watermark(&self) -> Option<i64> {
        self.watermark_micros
    }

    pub(crate) fn final_before(&self) -> Option<i64> {
        self.final_before_micros
    }

    pub(crate) fn set_final_before(&mut self, frontier: i64) {
        self.final_before_micros = Some(frontier);
    }

    pub(crate) fn held_len(&self) -> usize {
        self.held.len()
    }

    /// Moves the watermark to `ts_micros` if it is newer; says whether it moved.
    pub(crate) fn advance(&mut self, ts_micros: i64) -> bool {
        if self.watermark_micros.is_some_and(|w| ts_micros <= w) {
            return false;
        }
        self.watermark_micros = Some(ts_micros);
        true
    }

    /// Whether a line at `ts_micros` must be held: the stream has no time yet, or it is
    /// too far ahead of it.
    pub(crate) fn is_ahead(&self, ts_micros: i64, max_jump_us: i64) -> bool {
        self.watermark_micros.is_none_or(|w| ts_micros > w.saturating_add(max_jump_us))
    }

    pub(crate) fn hold(&mut self, line: OwnedObservation) {
        self.held.push_back(Held { line, followers: 0, behind: 0 });
    }

    /// Counts a line at `ts_micros` as a follower of every line held before it.
    pub(crate) fn count_follower(&mut self, ts_micros: i64, max_jump_us: i64) {
        for held in &mut self.held {
            held.followers += 1;
            let behind = ts_micros < held.line.ts_micros.saturating_sub(max_jump_us);
            held.behind += u32::from(behind);
        }
    }

    /// Takes the oldest held line if it is decided.
    pub(crate) fn next_decided(&mut self, max_jump_us: i64, decide: Decide) -> Option<Verdict> {
        let front = self.held.front()?;
        let caught_up =
            !self.is_ahead(front.line.ts_micros, max_jump_us) && self.watermark_micros.is_some();
        let enough = match decide {
            Decide::WhenSure => front.followers >= LOOKAHEAD || self.held.len() > MAX_HELD,
            Decide::WithWhatFollowed => front.followers >= MIN_FOLLOWERS_TO_SETTLE,
            Decide::Now => true,
        };
        if !(caught_up || enough) {
            return None;
        }
        let held = self.held.pop_front()?;
        // With no line after it (the input is over for good), nothing says it is off.
        let skewed = !caught_up && held.followers > 0 && held.is_skewed();
        Some(if skewed { Verdict::Skewed } else { Verdict::InStep(held.line) })
    }
}
