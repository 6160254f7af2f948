//! The scenarios of `meshlog simulate --scenario`, each held against the failover
//! detector with its truth: steady splits without locality load balancing (50/50 and
//! 70/30, with and without noise) are never episodes; each cause of failover with
//! locality load balancing, and a split whose local share collapses, is exactly the
//! simulated episode, start and end within one window. `frontend` (from cluster1's
//! gateway, the service every story is about) runs at 5 and at 500 requests/s.

use meshlog_parsers::{ClusterName, Direction};

use crate::analytics::failover::{
    Destination, DetectorState, Episode, FailoverDetector, FailoverSettings, Failure, Observation,
};
use crate::simulate::line::{Line, Locality};
use crate::simulate::mesh::{CLUSTERS, PROXIES};
use crate::simulate::truth::Tally;
use crate::simulate::*;

/// `frontend` from cluster1's gateway is 240 of the routes' 1 023 weight: mesh-wide
/// rates that give it about 5 and 500 requests a second.
const LOW_RATE: u32 = 22;
const HIGH_RATE: u32 = 2_140;
/// One 10 s window, in µs.
const WINDOW_US: i64 = 10_000_000;

/// Each line of `scenario` as the detector sees it, taken from the simulator's own
/// account of where it went (the parser and the enrichment are tested elsewhere).
fn observation(line: &Line) -> Option<Observation<'static>> {
    let cluster = ClusterName::parse(line.upstream_cluster?);
    if cluster.direction == Direction::Inbound {
        return None;
    }
    let destination = match line.locality {
        Locality::Local => Destination::Local,
        Locality::CrossCluster => Destination::Remote(line.dst_cluster.map(|c| CLUSTERS[c].name)),
        _ => Destination::Elsewhere,
    };
    let failed = line.response_code >= 500
        || line.response_flags.is_some_and(|f| ["UH", "UF", "URX"].iter().any(|x| f.contains(x)));
    Some(Observation {
        ts_micros: line.start_ms * 1000,
        source_cluster: CLUSTERS[PROXIES[line.proxy].cluster].name,
        service: cluster.service?,
        upstream_cluster: line.upstream_cluster,
        destination,
        failure: failed
            .then(|| Failure { code: i32::from(line.response_code), flags: line.response_flags }),
    })
}

/// The episodes the detector finds in `scenario`, and its truth.
fn detected(scenario: &Scenario) -> (Vec<Episode>, Truth) {
    let mut detector = FailoverDetector::new(FailoverSettings::default(), DetectorState::default());
    let mut tally = Tally::new(&super::super::timeline_of(scenario));
    for line in super::super::lines(scenario) {
        tally.count(&line);
        if let Some(observation) = observation(&line) {
            detector.observe(&observation);
        }
    }
    detector.flush_final();
    (detector.episodes(), tally.into_truth(scenario))
}

fn story(story: Story, requests_per_second: u32, minutes: u32) -> Scenario {
    Scenario { story, requests_per_second, minutes, seed: 7, ..Scenario::default() }
}

fn within_a_window(found: i64, truth: i64) -> bool {
    (found - truth).abs() <= WINDOW_US
}

/// The episodes found are the simulated ones, start and end within a window.
fn assert_found_as_simulated(scenario: &Scenario) -> Vec<Episode> {
    let (found, truth) = detected(scenario);
    let case = format!("{:?} at {}/s", scenario.story, scenario.requests_per_second);
    assert_eq!(found.len(), truth.episodes.len(), "{case}: {found:#?}");
    for (found, simulated) in found.iter().zip(&truth.episodes) {
        assert_eq!(found.service, simulated.service, "{case}");
        assert_eq!(found.target_cluster.as_deref(), Some(&*simulated.target_cluster), "{case}");
        assert!(
            within_a_window(found.started_at_micros, simulated.started_at_us),
            "{case}: {found:?}"
        );
        let ended = found.ended_at_micros.unwrap_or(i64::MIN);
        assert!(within_a_window(ended, simulated.ended_at_us), "{case}: {found:?}");
    }
    found
}

#[test]
fn steady_splits_without_locality_load_balancing_are_never_failovers() {
    for (rate, minutes) in [(LOW_RATE, 30), (HIGH_RATE, 8)] {
        for remote_percent in [50, 30] {
            for noise in [Noise::Random, Noise::None] {
                let scenario = story(Story::Split { remote_percent, noise }, rate, minutes);
                let (found, truth) = detected(&scenario);
                assert_eq!(truth.episodes, vec![]);
                assert_eq!(found, vec![], "{remote_percent} % away, {noise:?}, {rate}/s");
            }
        }
    }
}

#[test]
fn each_cause_of_failover_is_found_as_simulated() {
    for rate in [LOW_RATE, HIGH_RATE] {
        let minutes = if rate == LOW_RATE { 10 } else { 8 };
        let scale = assert_found_as_simulated(&story(Story::ScaleToZero, rate, minutes));
        assert_eq!(scale[0].errors_before, 0, "no errors precede a scale to zero");
        let ejected = assert_found_as_simulated(&story(Story::OutlierEjection, rate, minutes));
        assert!(ejected[0].errors_before > 0);
        assert_eq!(ejected[0].errors_before_code, Some(500));
    }
}

#[test]
fn a_failing_gateway_moves_a_remote_served_service_on_to_the_next_cluster() {
    for (rate, minutes) in [(LOW_RATE, 12), (HIGH_RATE, 10)] {
        let found = assert_found_as_simulated(&story(Story::GatewayFailure, rate, minutes));
        assert_eq!(found[0].target_cluster.as_deref(), Some("cluster3"));
        assert_eq!(found[0].baseline_cross_cluster_share, 1.0);
        assert!(found[0].errors_before > 0);
        assert_eq!(found[0].errors_before_flags.as_deref(), Some("UF,URX"));
    }
}

#[test]
fn a_split_whose_local_share_collapses_is_one_episode() {
    for (rate, minutes) in [(LOW_RATE, 12), (HIGH_RATE, 10)] {
        let split = Story::SplitCollapse { remote_percent: 50, noise: Noise::Random };
        let found = assert_found_as_simulated(&story(split, rate, minutes));
        let baseline = found[0].baseline_cross_cluster_share;
        assert!((baseline - 0.5).abs() < 0.05, "{baseline}");
    }
}

#[test]
fn short_runs_of_stories_that_need_a_learned_baseline_have_no_episode() {
    let truth = run(&story(Story::GatewayFailure, LOW_RATE, 9), &mut Vec::new()).unwrap();
    assert_eq!(truth.episodes, vec![]);
    assert_eq!(truth.story, Story::GatewayFailure);
}
