//! Scenarios of the failover detector, built from phases of traffic with known truth:
//! real failovers (`scenarios`), steady splits and noise that are not (`splits`), and
//! clocks that are off (`skew`).

use super::*;

mod scenarios;
mod skew;
mod splits;

/// 2023-11-14T22:13:20Z, a multiple of the 10 s window.
pub(super) const T0_S: i64 = 1_700_000_000;
pub(super) const SRC: &str = "cluster1";
pub(super) const SVC: &str = "frontend.mycompany.mesh";
pub(super) const UPSTREAM: &str = "outbound|80||frontend.mycompany.mesh";
pub(super) const REMOTE: &str = "cluster2";
pub(super) const THIRD: &str = "cluster3";

pub(super) fn micros(s: i64) -> i64 {
    (T0_S + s) * 1_000_000
}

/// How the remote share of a phase varies from request to request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Noise {
    /// Exactly the share, spread evenly (round robin).
    None,
    /// Each request remote with the share's probability.
    Random,
    /// As `Random`, with the share itself wandering by up to ±0.15 every 10 s (clients
    /// sticking to endpoints, connection reuse).
    Drifting,
}

/// Failed requests of a phase: which share, and what they look like.
#[derive(Clone, Copy, Debug)]
pub(super) struct Errors {
    pub(super) share: f64,
    pub(super) code: i32,
    pub(super) flags: Option<&'static str>,
    /// Whether they reached an endpoint, local or remote (`UF`, a 5xx), or none (`UH`).
    pub(super) upstream: bool,
}

pub(super) const NO_HEALTHY: Errors =
    Errors { share: 1.0, code: 503, flags: Some("UH"), upstream: false };
pub(super) const CONNECT_FAILURE: Errors =
    Errors { share: 1.0, code: 503, flags: Some("UF,URX"), upstream: true };

/// `secs` seconds of `per_s` requests a second: `remote` of them served by `target`,
/// `errors` of them failing.
#[derive(Clone, Copy, Debug)]
pub(super) struct Phase {
    pub(super) secs: i64,
    pub(super) per_s: f64,
    pub(super) remote: f64,
    pub(super) target: &'static str,
    pub(super) errors: Option<Errors>,
    pub(super) noise: Noise,
}

pub(super) fn traffic(secs: i64, per_s: f64, remote: f64) -> Phase {
    Phase { secs, per_s, remote, target: REMOTE, errors: None, noise: Noise::None }
}

/// Ten requests a second, all local.
pub(super) fn local(secs: i64) -> Phase {
    traffic(secs, 10.0, 0.0)
}

/// Ten requests a second, `of_10` in ten cross-cluster.
pub(super) fn remote(secs: i64, of_10: i64) -> Phase {
    traffic(secs, 10.0, of_10 as f64 / 10.0)
}

impl Phase {
    pub(super) fn to(self, target: &'static str) -> Phase {
        Phase { target, ..self }
    }

    pub(super) fn noisy(self, noise: Noise) -> Phase {
        Phase { noise, ..self }
    }

    pub(super) fn failing(self, errors: Errors) -> Phase {
        Phase { errors: Some(errors), ..self }
    }

    pub(super) fn failing_share(self, share: f64) -> Phase {
        Phase { errors: Some(Errors { share, ..NO_HEALTHY }), ..self }
    }
}

/// A small deterministic generator (64-bit LCG), so scenarios are the same everywhere.
pub(super) struct Lcg(u64);

impl Lcg {
    pub(super) fn new(seed: u64) -> Lcg {
        Lcg(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    /// Uniform in [0, 1).
    pub(super) fn unit(&mut self) -> f64 {
        self.next_u64() as f64 / (1u64 << 53) as f64
    }
}

/// Turns phases into requests, one phase after the other from `T0_S`, in time order.
pub(super) struct Generator {
    rng: Lcg,
    /// Requests so far and remote ones, for evenly spread shares.
    spread: (u64, u64),
    /// Local requests so far and failed ones, likewise.
    failed: (u64, u64),
    drift: f64,
}

impl Generator {
    pub(super) fn new(seed: u64) -> Generator {
        Generator { rng: Lcg::new(seed), spread: (0, 0), failed: (0, 0), drift: 0.0 }
    }

    pub(super) fn stream_of(
        &mut self,
        service: &'static str,
        phases: &[Phase],
    ) -> Vec<Observation<'static>> {
        let mut out = Vec::new();
        let mut start_us = 0i64;
        for phase in phases {
            (self.spread, self.failed) = ((0, 0), (0, 0));
            let end_us = start_us + phase.secs * 1_000_000;
            let step_us = (1e6 / phase.per_s).max(1.0);
            let mut at = start_us as f64;
            let mut drift_until = start_us;
            while (at as i64) < end_us && phase.per_s > 0.0 {
                let ts = at as i64;
                if phase.noise == Noise::Drifting && ts >= drift_until {
                    self.drift = (self.drift + (self.rng.unit() - 0.5) * 0.06).clamp(-0.15, 0.15);
                    drift_until = ts + 10_000_000;
                }
                out.push(self.request(service, phase, micros(0) + ts));
                at += step_us;
            }
            start_us = end_us;
        }
        out
    }

    fn request(
        &mut self,
        service: &'static str,
        phase: &Phase,
        ts_micros: i64,
    ) -> Observation<'static> {
        let mut obs = Observation {
            ts_micros,
            source_cluster: SRC,
            service,
            upstream_cluster: Some(UPSTREAM),
            destination: Destination::Local,
            failure: None,
        };
        if self.is_remote(phase) {
            obs.destination = Destination::Remote(Some(phase.target));
        }
        let Some(errors) = phase.errors else { return obs };
        if !self.fails(errors.share, phase.noise) {
            return obs;
        }
        obs.failure = Some(Failure { code: errors.code, flags: errors.flags });
        if !errors.upstream {
            obs.destination = Destination::Elsewhere;
        }
        obs
    }

    fn fails(&mut self, share: f64, noise: Noise) -> bool {
        if noise != Noise::None {
            return self.rng.unit() < share;
        }
        evenly(&mut self.failed, share)
    }

    fn is_remote(&mut self, phase: &Phase) -> bool {
        match phase.noise {
            Noise::None => evenly(&mut self.spread, phase.remote),
            Noise::Random => self.rng.unit() < phase.remote,
            Noise::Drifting => self.rng.unit() < (phase.remote + self.drift).clamp(0.0, 1.0),
        }
    }
}

/// Whether the next of `seen.0` events is one of the `share` picked, so that exactly
/// `floor(n * share)` of the first n are.
fn evenly(seen: &mut (u64, u64), share: f64) -> bool {
    let (n, picked) = *seen;
    let pick = ((n + 1) as f64 * share).floor() as u64 > picked;
    *seen = (n + 1, picked + u64::from(pick));
    pick
}

pub(super) fn stream(phases: &[Phase]) -> Vec<Observation<'static>> {
    Generator::new(1).stream_of(SVC, phases)
}

pub(super) fn detect_with(
    settings: FailoverSettings,
    observations: &[Observation<'_>],
) -> FailoverDetector {
    let mut detector = FailoverDetector::new(settings, DetectorState::default());
    for o in observations {
        detector.observe(o);
    }
    detector.flush_final();
    detector
}

pub(super) fn detect(observations: &[Observation<'_>]) -> FailoverDetector {
    detect_with(FailoverSettings::default(), observations)
}

pub(super) fn episodes(observations: &[Observation<'_>]) -> Vec<Episode> {
    detect(observations).episodes()
}

/// (started_at, ended_at) of each episode, in seconds from `T0_S`.
pub(super) fn spans(found: &[Episode]) -> Vec<(i64, Option<i64>)> {
    let seconds = |micros: i64| micros / 1_000_000 - T0_S;
    found.iter().map(|e| (seconds(e.started_at_micros), e.ended_at_micros.map(seconds))).collect()
}

/// Reorders observations inside blocks of 40 s (less than `max_delay_s`), reproducibly.
pub(super) fn shuffled(mut observations: Vec<Observation<'static>>) -> Vec<Observation<'static>> {
    let mut rng = Lcg::new(7);
    for block in observations.chunks_mut(400) {
        for i in (1..block.len()).rev() {
            block.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
    }
    observations
}

/// Feeds `observations[..split]`, saves the state as JSON, and feeds the rest to a
/// detector continued from it.
pub(super) fn resumed(observations: &[Observation<'_>], split: usize) -> FailoverDetector {
    let (before, after) = observations.split_at(split);
    let mut first = FailoverDetector::new(FailoverSettings::default(), DetectorState::default());
    before.iter().for_each(|o| first.observe(o));
    let json = first.state_json().expect("state serializes");
    let state = DetectorState::from_json(&json).expect("state deserializes");
    assert_eq!(state, first.state(), "JSON round trip at {split}");
    let mut second = FailoverDetector::new(FailoverSettings::default(), state);
    after.iter().for_each(|o| second.observe(o));
    second.flush_final();
    second
}
