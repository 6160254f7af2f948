//! When things go wrong: the failover episodes of the run's [`Story`], scaled to the
//! length of the run. In the demo, each episode starts with a burst of 503 `UH` (the
//! local endpoints ejected), then the route's traffic moves to another cluster, then
//! comes back; the other stories have one episode of `frontend`, preceded by what its
//! [`Cause`] brings. Runs too short for a story's episodes are baseline only: an
//! episode must last well past the detector's 30 s, and a split must be learned first.

use super::mesh::{C2, C3};
use super::routes::{FRONTEND_GW1, RATINGS};
use super::story::{Cause, Story};

/// What happens to a route at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Baseline behaviour.
    Normal,
    /// What fails before the traffic moves: the demo's 503 `UH`, 5xx of the local
    /// pods, or the failing gateway's 503 `UF,URX`.
    Burst(Cause),
    /// Traffic goes to `target`.
    Failover { target: usize },
}

/// An episode, as a share of the run: it fails over from `start_permille` to
/// `end_permille` of the run.
#[derive(Debug, Clone, Copy)]
struct EpisodeSpec {
    route: usize,
    target: usize,
    cause: Cause,
    start_permille: i64,
    end_permille: i64,
}

/// Episode 1: `cluster1`'s gateway sends `frontend` to `cluster2` through its
/// east-west gateway; episode 2: `ratings` of `cluster1` goes straight to the pods of
/// `cluster3` (same network).
const EPISODES: [EpisodeSpec; 2] = [
    EpisodeSpec {
        route: FRONTEND_GW1,
        target: C2,
        cause: Cause::NoHealthyUpstream,
        start_permille: 250,
        end_permille: 450,
    },
    EpisodeSpec {
        route: RATINGS,
        target: C3,
        cause: Cause::NoHealthyUpstream,
        start_permille: 600,
        end_permille: 750,
    },
];

/// One episode of `frontend` from cluster1's gateway, from `start` to `end` per mille.
const fn frontend(target: usize, cause: Cause, start: i64, end: i64) -> [EpisodeSpec; 1] {
    [EpisodeSpec { route: FRONTEND_GW1, target, cause, start_permille: start, end_permille: end }]
}

const SCALE_TO_ZERO: [EpisodeSpec; 1] = frontend(C2, Cause::ScaleToZero, 400, 600);
const OUTLIER_EJECTION: [EpisodeSpec; 1] = frontend(C2, Cause::OutlierEjection, 400, 600);
/// After the baseline (served by cluster2) is learned: from 60 % to 80 % of the run.
const GATEWAY_FAILURE: [EpisodeSpec; 1] = frontend(C3, Cause::GatewayFailure, 600, 800);
/// After the split is learned: from 60 % to 80 % of the run.
const SPLIT_COLLAPSE: [EpisodeSpec; 1] = frontend(C2, Cause::OutlierEjection, 600, 800);

/// A story's episodes and the shortest run that has them.
fn episodes_of(story: Story) -> (&'static [EpisodeSpec], u32) {
    match story {
        Story::Demo => (&EPISODES, MIN_MINUTES_FOR_EPISODES),
        Story::Split { .. } => (&[], 0),
        Story::ScaleToZero => (&SCALE_TO_ZERO, MIN_MINUTES_FOR_EPISODES),
        Story::OutlierEjection => (&OUTLIER_EJECTION, MIN_MINUTES_FOR_EPISODES),
        Story::GatewayFailure => (&GATEWAY_FAILURE, MIN_MINUTES_AFTER_LEARNING),
        Story::SplitCollapse { .. } => (&SPLIT_COLLAPSE, MIN_MINUTES_AFTER_LEARNING),
    }
}

/// The cluster `route` fails over to in the scenario, whatever the run's length: the
/// failover region its DestinationRule would name.
pub fn failover_target(route: usize) -> Option<usize> {
    EPISODES.iter().find(|spec| spec.route == route).map(|spec| spec.target)
}

/// Shorter runs have no episodes.
pub const MIN_MINUTES_FOR_EPISODES: u32 = 5;
/// Stories whose episode departs from a learned baseline (not a mostly-local one) need
/// this long: the episode starts after six minutes, past the detector's five of
/// learning.
pub const MIN_MINUTES_AFTER_LEARNING: u32 = 10;

/// One scheduled episode, in milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Episode {
    pub route: usize,
    pub target: usize,
    pub cause: Cause,
    pub burst_start_ms: i64,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Episode {
    /// The route's phase at `t_ms`.
    fn phase(&self, t_ms: i64) -> Phase {
        if t_ms < self.burst_start_ms || t_ms >= self.end_ms {
            Phase::Normal
        } else if t_ms < self.start_ms {
            Phase::Burst(self.cause)
        } else {
            Phase::Failover { target: self.target }
        }
    }
}

/// The story and episodes of one run.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub story: Story,
    pub episodes: Vec<Episode>,
}

impl Timeline {
    /// The demo's episodes for a run of `minutes` from `start_ms`.
    #[cfg(test)]
    pub fn new(start_ms: i64, minutes: u32) -> Timeline {
        Timeline::of_story(Story::Demo, start_ms, minutes)
    }

    /// `story`'s episodes for a run of `minutes` from `start_ms`.
    pub fn of_story(story: Story, start_ms: i64, minutes: u32) -> Timeline {
        let (specs, min_minutes) = episodes_of(story);
        if minutes < min_minutes {
            return Timeline { story, episodes: Vec::new() };
        }
        let run_ms = i64::from(minutes) * 60_000;
        let at = |permille: i64| start_ms + run_ms * permille / 1000 / 1000 * 1000;
        let episodes = specs
            .iter()
            .map(|spec| Episode {
                route: spec.route,
                target: spec.target,
                cause: spec.cause,
                burst_start_ms: at(spec.start_permille) - spec.cause.burst_ms(),
                start_ms: at(spec.start_permille),
                end_ms: at(spec.end_permille),
            })
            .collect();
        Timeline { story, episodes }
    }

    /// The phase of `route` at `t_ms`.
    pub fn phase(&self, route: usize, t_ms: i64) -> Phase {
        match self.episodes.iter().find(|episode| episode.route == route) {
            Some(episode) => episode.phase(t_ms),
            None => Phase::Normal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_minutes_have_two_episodes_at_the_documented_times() {
        let timeline = Timeline::new(0, 10);
        let spans: Vec<_> =
            timeline.episodes.iter().map(|e| (e.burst_start_ms, e.start_ms, e.end_ms)).collect();
        assert_eq!(spans, [(135_000, 150_000, 270_000), (345_000, 360_000, 450_000)]);
    }

    #[test]
    fn phases_follow_the_episode() {
        let timeline = Timeline::new(0, 10);
        assert_eq!(timeline.phase(FRONTEND_GW1, 134_999), Phase::Normal);
        assert_eq!(timeline.phase(FRONTEND_GW1, 135_000), Phase::Burst(Cause::NoHealthyUpstream));
        assert_eq!(timeline.phase(FRONTEND_GW1, 150_000), Phase::Failover { target: C2 });
        assert_eq!(timeline.phase(FRONTEND_GW1, 270_000), Phase::Normal);
        assert_eq!(timeline.phase(RATINGS, 400_000), Phase::Failover { target: C3 });
        assert_eq!(timeline.phase(1, 400_000), Phase::Normal);
    }

    #[test]
    fn failover_targets_are_known_without_a_timeline() {
        assert_eq!(failover_target(FRONTEND_GW1), Some(C2));
        assert_eq!(failover_target(RATINGS), Some(C3));
        assert_eq!(failover_target(1), None);
    }

    #[test]
    fn short_runs_are_baseline_only() {
        assert!(Timeline::new(0, MIN_MINUTES_FOR_EPISODES - 1).episodes.is_empty());
        assert_eq!(Timeline::new(0, MIN_MINUTES_FOR_EPISODES).episodes.len(), 2);
    }
}
