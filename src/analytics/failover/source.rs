//! The detector's state for one source cluster: its clock and the pairs of its
//! services. A line is held or counted against its own source cluster's time only, so
//! one cluster's skewed clock never makes another's lines late.

use serde::{Deserialize, Serialize};

use super::Observation;
use super::clock::{Clock, Decide, OwnedObservation, Verdict};
use super::tracker::{Ended, Thresholds, Tracker};
use super::window::Pending;
use crate::fast_hash::FastMap;

/// One (source_cluster, service): its windows not yet final and its episode status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct KeyState {
    pending: Pending,
    pub(crate) tracker: Tracker,
}

impl KeyState {
    /// Steps the state machine through the windows that start before `frontier`.
    fn finalize_before(
        &mut self,
        frontier: i64,
        t: &Thresholds,
        ended: &mut Vec<(String, Ended)>,
        service: &str,
    ) {
        for window in self.pending.take_before(frontier) {
            if let Some(episode) = self.tracker.step(&window, t) {
                ended.push((service.to_owned(), episode));
            }
        }
    }
}

/// The times the detector works with, in µs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) window_us: i64,
    pub(crate) max_delay_us: i64,
    pub(crate) max_jump_us: i64,
}

impl Timing {
    pub(crate) fn window_start(&self, ts_micros: i64) -> i64 {
        let offset = ts_micros.rem_euclid(self.window_us);
        ts_micros.saturating_sub(offset)
    }
}

/// What became of the lines handed to a [`SourceState`], to add to the detector's counts.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Episodes that ended, by service.
    pub(crate) ended: Vec<(String, Ended)>,
    pub(crate) late: u64,
    pub(crate) skewed: u64,
}

/// One source cluster: its clock and its services.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SourceState {
    pub(crate) clock: Clock,
    /// service → state: looked up by `&str` without allocating.
    pub(crate) services: FastMap<String, KeyState>,
}

impl SourceState {
    /// Counts `obs` (of this source cluster), or holds it while its time is in doubt.
    pub(crate) fn observe(
        &mut self,
        obs: &Observation<'_>,
        t: &Thresholds,
        timing: Timing,
        out: &mut Outcome,
    ) {
        let had_held = self.clock.held_len() > 0;
        if had_held {
            self.clock.count_follower(obs.ts_micros, timing.max_jump_us);
        }
        let ahead = self.clock.is_ahead(obs.ts_micros, timing.max_jump_us);
        if ahead {
            self.clock.hold(OwnedObservation::of(obs));
        } else {
            self.accept(obs, t, timing, out);
        }
        if had_held || ahead {
            self.release_held(obs.source_cluster, Decide::WhenSure, t, timing, out);
        }
    }

    /// Notes that a snapshot at `ts_micros` showed `service`'s local endpoints failing
    /// or gone.
    pub(crate) fn corroborate(&mut self, service: &str, ts_micros: i64) {
        let key = match self.services.get_mut(service) {
            Some(key) => key,
            None => self.services.entry(service.to_owned()).or_default(),
        };
        key.tracker.note_evidence(ts_micros);
    }

    /// Counts the held lines that are decided, oldest first.
    pub(crate) fn release_held(
        &mut self,
        source: &str,
        decide: Decide,
        t: &Thresholds,
        timing: Timing,
        out: &mut Outcome,
    ) {
        while let Some(verdict) = self.clock.next_decided(timing.max_jump_us, decide) {
            match verdict {
                Verdict::InStep(line) => self.accept(&line.as_observation(source), t, timing, out),
                Verdict::Skewed => out.skewed += 1,
            }
        }
    }

    /// Makes every window up to the watermark's final.
    pub(crate) fn finalize_all(&mut self, t: &Thresholds, timing: Timing, out: &mut Outcome) {
        let Some(watermark) = self.clock.watermark() else { return };
        let next = timing.window_start(watermark).saturating_add(timing.window_us);
        self.finalize_before(next, t, out);
    }

    /// Counts a line whose time is in step with the stream.
    fn accept(&mut self, obs: &Observation<'_>, t: &Thresholds, timing: Timing, out: &mut Outcome) {
        if self.clock.advance(obs.ts_micros) {
            let frontier = timing.window_start(obs.ts_micros.saturating_sub(timing.max_delay_us));
            self.finalize_before(frontier, t, out);
        }
        let start = timing.window_start(obs.ts_micros);
        if self.clock.final_before().is_some_and(|f| start < f) {
            out.late += 1;
            return;
        }
        let key = match self.services.get_mut(obs.service) {
            Some(key) => key,
            None => self.services.entry(obs.service.to_owned()).or_default(),
        };
        key.pending.record(start, obs);
    }

    /// Feeds the windows that start before `frontier` to their state machines.
    fn finalize_before(&mut self, frontier: i64, t: &Thresholds, out: &mut Outcome) {
        if self.clock.final_before().is_some_and(|f| frontier <= f) {
            return;
        }
        self.clock.set_final_before(frontier);
        for (service, key) in &mut self.services {
            key.finalize_before(frontier, t, &mut out.ended, service);
        }
    }
}
