//! Scenarios of the failover detector: real failovers, the look-alikes that are not, and
//! resumption from a saved state.

use super::*;

/// 2023-11-14T22:13:20Z, a multiple of the 10 s window.
const T0_S: i64 = 1_700_000_000;
const SRC: &str = "cluster1";
const SVC: &str = "frontend.mycompany.mesh";
const UPSTREAM: &str = "outbound|80||frontend.mycompany.mesh";
const REMOTE: &str = "cluster2";

/// `secs` seconds of `per_s` requests a second, of which `cross` go cross-cluster and
/// the next `errors` fail locally (503 UH).
#[derive(Clone, Copy)]
struct Phase {
    secs: i64,
    per_s: i64,
    cross: i64,
    errors: i64,
}

fn phase(secs: i64, per_s: i64, cross: i64, errors: i64) -> Phase {
    Phase { secs, per_s, cross, errors }
}

fn local(secs: i64) -> Phase {
    phase(secs, 10, 0, 0)
}

fn remote(secs: i64, cross_of_10: i64) -> Phase {
    phase(secs, 10, cross_of_10, 0)
}

fn micros(s: i64) -> i64 {
    (T0_S + s) * 1_000_000
}

fn obs(service: &'static str, ts_micros: i64, cross: bool, error: bool) -> Observation<'static> {
    Observation {
        ts_micros,
        source_cluster: SRC,
        service,
        upstream_cluster: Some(UPSTREAM),
        cross_cluster: cross,
        dst_cluster: cross.then_some(REMOTE),
        error,
    }
}

/// The requests of `phases`, one after the other from `T0_S`, in time order.
fn stream_of(service: &'static str, phases: &[Phase]) -> Vec<Observation<'static>> {
    let mut out = Vec::new();
    let mut second = 0;
    for p in phases {
        for s in second..second + p.secs {
            for i in 0..p.per_s {
                let ts = micros(s) + i * (1_000_000 / p.per_s);
                let cross = i < p.cross;
                let error = !cross && i < p.cross + p.errors;
                out.push(obs(service, ts, cross, error));
            }
        }
        second += p.secs;
    }
    out
}

fn stream(phases: &[Phase]) -> Vec<Observation<'static>> {
    stream_of(SVC, phases)
}

fn detect(observations: &[Observation<'_>]) -> FailoverDetector {
    let mut detector = FailoverDetector::new(FailoverSettings::default(), DetectorState::default());
    for o in observations {
        detector.observe(o);
    }
    detector.flush_final();
    detector
}

fn episodes(observations: &[Observation<'_>]) -> Vec<Episode> {
    detect(observations).episodes()
}

/// Local traffic with a few errors, a burst of 503 UH, two minutes at 80 %
/// cross-cluster, then local again.
fn clean_failover() -> Vec<Observation<'static>> {
    stream(&[
        local(60),
        phase(10, 10, 0, 1), // 10 errors more than a minute before
        phase(10, 10, 0, 2), // 20 errors in the minute before
        local(40),
        phase(10, 10, 0, 10), // 100 errors of 503 UH
        remote(120, 8),
        local(150),
    ])
}

fn expected_clean_failover() -> Episode {
    Episode {
        source_cluster: SRC.into(),
        service: SVC.into(),
        upstream_cluster: Some(UPSTREAM.into()),
        target_cluster: Some(REMOTE.into()),
        started_at_micros: micros(130),
        ended_at_micros: Some(micros(250)),
        duration_s: 120.0,
        requests: 1200,
        cross_cluster_requests: 960,
        peak_cross_cluster_share: 0.8,
        errors_before: 120,
    }
}

/// Reorders observations inside blocks of 40 s (less than `max_delay_s`), reproducibly.
fn shuffled(mut observations: Vec<Observation<'static>>) -> Vec<Observation<'static>> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for block in observations.chunks_mut(400) {
        for i in (1..block.len()).rev() {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            block.swap(i, (seed >> 33) as usize % (i + 1));
        }
    }
    observations
}

fn resumed(observations: &[Observation<'_>], split: usize) -> FailoverDetector {
    let (before, after) = observations.split_at(split);
    let mut first = FailoverDetector::new(FailoverSettings::default(), DetectorState::default());
    before.iter().for_each(|o| first.observe(o));
    let json = serde_json::to_string(&first.state()).expect("state serializes");
    let state: DetectorState = serde_json::from_str(&json).expect("state deserializes");
    assert_eq!(state, first.state(), "JSON round trip at {split}");
    let mut second = FailoverDetector::new(FailoverSettings::default(), state);
    after.iter().for_each(|o| second.observe(o));
    second.flush_final();
    second
}

#[test]
fn clean_failover_found_at_window_boundaries() {
    assert_eq!(episodes(&clean_failover()), vec![expected_clean_failover()]);
}

#[test]
fn baseline_spill_of_ten_percent_is_not_a_failover() {
    assert_eq!(episodes(&stream(&[remote(600, 1)])), vec![]);
}

#[test]
fn steady_direct_share_of_thirty_percent_is_not_a_failover() {
    assert_eq!(episodes(&stream(&[remote(600, 3)])), vec![]);
}

#[test]
fn faulty_local_endpoint_is_not_a_failover() {
    let observations = stream(&[local(60), phase(300, 10, 0, 4), local(60)]);
    assert_eq!(detect(&observations).episodes(), vec![]);
}

#[test]
fn spike_shorter_than_min_duration_is_not_a_failover() {
    let observations = stream(&[local(60), remote(20, 10), local(60), remote(20, 9)]);
    assert_eq!(episodes(&observations), vec![]);
}

#[test]
fn run_is_dropped_at_a_window_at_or_below_enter_share() {
    let half = remote(10, 5);
    let observations = stream(&[local(60), remote(20, 10), half, remote(20, 10), local(60)]);
    assert_eq!(episodes(&observations), vec![]);
}

#[test]
fn spike_of_exactly_min_duration_is_a_failover() {
    let found = episodes(&stream(&[local(60), remote(30, 10), local(60)]));
    let starts: Vec<_> = found.iter().map(|e| (e.started_at_micros, e.ended_at_micros)).collect();
    assert_eq!(starts, vec![(micros(60), Some(micros(90)))]);
}

#[test]
fn share_between_exit_and_enter_keeps_episode_open() {
    let observations = stream(&[local(60), remote(60, 8), remote(60, 3), remote(30, 8), local(60)]);
    let found = episodes(&observations);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].started_at_micros, micros(60));
    assert_eq!(found[0].ended_at_micros, Some(micros(210)));
    assert_eq!((found[0].requests, found[0].cross_cluster_requests), (1500, 900));
    assert_eq!(found[0].peak_cross_cluster_share, 0.8);
}

#[test]
fn out_of_order_within_max_delay_gives_the_same_episodes() {
    let sorted = clean_failover();
    let shuffled = shuffled(sorted.clone());
    assert_ne!(shuffled, sorted);
    let detector = detect(&shuffled);
    assert_eq!(detector.episodes(), vec![expected_clean_failover()]);
    assert_eq!(detector.late_observations(), 0);
}

#[test]
fn episode_open_at_end_of_input_is_continued_after_resume() {
    let all = stream(&[local(60), remote(160, 8), local(60)]);
    let split = all.partition_point(|o| o.ts_micros < micros(160));
    let mut first = FailoverDetector::new(FailoverSettings::default(), DetectorState::default());
    all[..split].iter().for_each(|o| first.observe(o));
    let open = first.episodes();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].ended_at_micros, None);
    // Windows 60, 70 and 80 are final; 90..160 are within max_delay of the newest request.
    assert_eq!((open[0].duration_s, open[0].requests), (30.0, 300));
    assert_eq!(first.episodes(), open, "episodes() has no side effect");

    let continued = resumed(&all, split).episodes();
    assert_eq!(continued, episodes(&all));
    assert_eq!(continued[0].started_at_micros, micros(60));
    assert_eq!(continued[0].ended_at_micros, Some(micros(220)));
    assert_eq!(continued[0].requests, 1600);
}

#[test]
fn resuming_at_any_split_point_gives_the_same_episodes() {
    let mut all = shuffled(clean_failover());
    all.extend(stream_of("reviews.default.svc.cluster.local", &[local(420)]));
    all.sort_by_key(|o| o.ts_micros / 40_000_000); // interleave, still within max_delay
    all.insert(3000, obs(SVC, micros(0), false, true)); // more than max_delay late
    let whole = detect(&all);
    assert_eq!(whole.episodes(), vec![expected_clean_failover()]);
    assert_eq!(whole.late_observations(), 1);
    let n = all.len();
    for split in [0, 1, n / 7, n / 3, n / 2, 2 * n / 3, 6 * n / 7, n - 1, n] {
        let resumed = resumed(&all, split);
        assert_eq!(resumed.episodes(), whole.episodes(), "split at {split}");
        assert_eq!(resumed.late_observations(), 1, "split at {split}");
        assert_eq!(resumed.state(), whole.state(), "split at {split}");
    }
}

#[test]
fn service_only_ever_served_remotely_is_not_a_failover() {
    assert_eq!(episodes(&stream(&[remote(600, 10)])), vec![]);
}

#[test]
fn remote_only_service_that_gains_local_pods_can_fail_over() {
    let found = episodes(&stream(&[remote(60, 10), local(60), remote(60, 10), local(60)]));
    let starts: Vec<_> = found.iter().map(|e| (e.started_at_micros, e.ended_at_micros)).collect();
    assert_eq!(starts, vec![(micros(120), Some(micros(180)))]);
}

#[test]
fn gap_without_traffic_does_not_end_an_episode() {
    let observations =
        stream(&[local(60), remote(40, 8), phase(120, 0, 0, 0), remote(40, 8), local(60)]);
    let found = episodes(&observations);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].ended_at_micros, Some(micros(260)));
    assert_eq!((found[0].duration_s, found[0].requests), (200.0, 800));
}

#[test]
fn window_with_few_local_requests_does_not_end_an_episode() {
    let quiet = phase(10, 0, 0, 0);
    let mut observations = stream(&[local(60), remote(40, 8), quiet, remote(40, 8), local(60)]);
    observations.extend((0..4).map(|i| obs(SVC, micros(100 + i), false, false)));
    observations.sort_by_key(|o| o.ts_micros);
    let found = episodes(&observations);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].ended_at_micros, Some(micros(150)));
    assert_eq!(found[0].requests, 804);
}

#[test]
fn late_observations_are_counted_and_change_nothing() {
    let mut observations = clean_failover();
    observations.extend((0..50).map(|i| obs(SVC, micros(140 + i / 10), false, false)));
    let detector = detect(&observations);
    assert_eq!(detector.late_observations(), 50);
    assert_eq!(detector.episodes(), vec![expected_clean_failover()]);
}

#[test]
fn pairs_are_tracked_apart_and_listed_by_start_then_name() {
    let mut observations = clean_failover();
    let reviews = "reviews.default.svc.cluster.local";
    observations.extend(stream_of(reviews, &[local(150), remote(60, 9), local(210)]));
    let mut other_source = clean_failover();
    other_source.iter_mut().for_each(|o| o.source_cluster = "cluster3");
    observations.extend(other_source);
    let mut quiet_source = stream(&[local(420)]);
    quiet_source.iter_mut().for_each(|o| o.source_cluster = "cluster0");
    observations.extend(quiet_source);
    observations.sort_by_key(|o| o.ts_micros);

    let found = episodes(&observations);
    let keys: Vec<_> =
        found.iter().map(|e| (e.source_cluster.as_str(), e.service.as_str())).collect();
    assert_eq!(keys, [(SRC, SVC), ("cluster3", SVC), (SRC, reviews)]);
    assert_eq!(found[0], expected_clean_failover());
    assert_eq!(found[1].requests, 1200);
    assert_eq!(found[2].ended_at_micros, Some(micros(210)));
}

#[test]
fn extreme_timestamps_do_not_panic() {
    let mut detector = FailoverDetector::new(FailoverSettings::default(), DetectorState::default());
    for ts in [i64::MIN, -1, 0, i64::MAX, i64::MIN, 5] {
        detector.observe(&obs(SVC, ts, true, true));
    }
    detector.flush_final();
    assert_eq!(detector.late_observations(), 2);
    assert_eq!(detector.episodes(), vec![]);
}

#[test]
fn settings_read_with_defaults_and_product_key_names() {
    let settings: FailoverSettings =
        serde_json::from_str(r#"{"enter_share": 0.6, "min_duration": 45}"#).expect("valid");
    let expected =
        FailoverSettings { enter_share: 0.6, min_duration_s: 45, ..FailoverSettings::default() };
    assert_eq!(settings, expected);
    assert!(serde_json::from_str::<FailoverSettings>(r#"{"enter": 0.6}"#).is_err());
    assert_eq!(FailoverSettings::default().validate(), Ok(()));
}

#[test]
fn settings_with_exit_above_enter_are_rejected() {
    let settings = FailoverSettings { exit_share: 0.7, ..FailoverSettings::default() };
    let err = settings.validate();
    assert_eq!(err, Err(FailoverSettingsError::ExitAboveEnter { exit: 0.7, enter: 0.5 }));
    let zero = FailoverSettings { window_s: 0, ..FailoverSettings::default() };
    assert_eq!(zero.validate(), Err(FailoverSettingsError::ZeroWindow));
}

#[test]
fn target_cluster_is_the_one_that_took_most_cross_cluster_requests() {
    let mut observations = stream(&[local(60), remote(60, 8), local(60)]);
    let sub_second = |o: &Observation<'_>| o.ts_micros % 1_000_000 / 100_000;
    for o in observations.iter_mut().filter(|o| o.cross_cluster) {
        if sub_second(o) >= 3 {
            o.dst_cluster = Some("cluster3");
        }
    }
    let found = episodes(&observations);
    let targets: Vec<_> = found.iter().map(|e| e.target_cluster.as_deref()).collect();
    assert_eq!(targets, vec![Some("cluster3")]);
}

#[test]
fn most_frequent_name_ties_go_to_the_alphabetically_first() {
    let mut counts = window::Counts::default();
    counts.add("cluster2", 1);
    counts.add("cluster3", 2);
    counts.add("cluster4", 1);
    counts.add("cluster2", 1);
    assert_eq!(counts.top(), Some("cluster2"));
}

#[test]
fn quiet_windows_neither_confirm_a_run_nor_set_the_peak() {
    let quiet = phase(10, 0, 0, 0);
    let three_remote = |at: i64| (0..3).map(move |i| obs(SVC, micros(at + i), true, false));
    let mut spike = stream(&[local(60), remote(20, 10), quiet, local(60)]);
    spike.extend(three_remote(80));
    spike.sort_by_key(|o| o.ts_micros);
    assert_eq!(episodes(&spike), vec![]);

    let mut failover = stream(&[local(60), remote(30, 8), quiet, remote(30, 8), local(60)]);
    failover.extend(three_remote(90));
    failover.sort_by_key(|o| o.ts_micros);
    let found = episodes(&failover);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].peak_cross_cluster_share, 0.8);
    assert_eq!(found[0].cross_cluster_requests, 483);
}
