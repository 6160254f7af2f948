//! Real failovers and the look-alikes that are not, against a service normally served
//! locally; resumption from a saved state; the settings.

use super::*;

/// Local traffic with a few errors, a burst of 503 UH, two minutes at 80 %
/// cross-cluster, then local again.
fn clean_failover() -> Vec<Observation<'static>> {
    stream(&[
        local(60),
        local(10).failing_share(0.1), // 10 errors more than a minute before
        local(10).failing_share(0.2), // 20 errors in the minute before
        local(40),
        local(10).failing(NO_HEALTHY), // 100 errors of 503 UH
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
        // The burst just before corroborates it: its first window confirms it.
        confirmed_at_micros: micros(140),
        ended_at_micros: Some(micros(250)),
        duration_s: 120.0,
        requests: 1200,
        cross_cluster_requests: 960,
        peak_cross_cluster_share: 0.8,
        baseline_cross_cluster_share: 0.0,
        errors_before: 120,
        errors_before_flags: Some("UH".into()),
        errors_before_code: Some(503),
    }
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
    let observations = stream(&[local(60), local(300).failing_share(0.4), local(60)]);
    assert_eq!(detect(&observations).episodes(), vec![]);
}

#[test]
fn spike_shorter_than_min_duration_is_not_a_failover() {
    let observations = stream(&[local(60), remote(20, 10), local(60), remote(20, 9)]);
    assert_eq!(episodes(&observations), vec![]);
}

#[test]
fn short_failover_corroborated_by_an_error_burst_is_one() {
    let burst = local(10).failing(CONNECT_FAILURE);
    let observations = stream(&[local(60), burst, remote(20, 10), local(60)]);
    let found = episodes(&observations);
    assert_eq!(spans(&found), vec![(70, Some(90))]);
    assert_eq!(found[0].confirmed_at_micros, micros(80));
    assert_eq!(found[0].errors_before_flags.as_deref(), Some("UF,URX"));
}

#[test]
fn errors_in_the_first_windows_count_in_errors_before() {
    // The UF,URX burst falls inside the episode's first window, not before it.
    let first = remote(10, 6).failing(Errors { share: 0.4, ..CONNECT_FAILURE });
    let observations = stream(&[local(120), first, remote(50, 9), local(60)]);
    let found = episodes(&observations);
    assert_eq!(spans(&found), vec![(120, Some(180))]);
    assert_eq!(found[0].errors_before, 40);
    assert_eq!(found[0].errors_before_flags.as_deref(), Some("UF,URX"));
    assert_eq!(found[0].errors_before_code, Some(503));
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
    assert_eq!(spans(&found), vec![(60, Some(90))]);
}

#[test]
fn share_between_exit_and_enter_keeps_episode_open() {
    let observations = stream(&[local(60), remote(60, 8), remote(60, 3), remote(30, 8), local(60)]);
    let found = episodes(&observations);
    assert_eq!(spans(&found), vec![(60, Some(210))]);
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
    assert_eq!((detector.late_observations(), detector.skewed_observations()), (0, 0));
}

#[test]
fn episode_open_at_end_of_input_is_continued_after_resume() {
    let all = stream(&[local(60), remote(160, 8), local(60)]);
    let split = all.partition_point(|o| o.ts_micros < micros(160));
    let mut first = FailoverDetector::new(FailoverSettings::default(), DetectorState::default());
    all[..split].iter().for_each(|o| first.observe(o));
    let open = first.episodes();
    assert_eq!(spans(&open), vec![(60, None)]);
    // Windows 60, 70 and 80 are final; 90..160 are within max_delay of the newest request.
    assert_eq!((open[0].duration_s, open[0].requests), (30.0, 300));
    assert_eq!(first.episodes(), open, "episodes() has no side effect");

    let continued = resumed(&all, split).episodes();
    assert_eq!(continued, episodes(&all));
    assert_eq!(spans(&continued), vec![(60, Some(220))]);
    assert_eq!(continued[0].requests, 1600);
}

#[test]
fn resuming_at_any_split_point_gives_the_same_episodes() {
    let mut all = shuffled(clean_failover());
    all.extend(Generator::new(2).stream_of("reviews.default.svc.cluster.local", &[local(420)]));
    all.sort_by_key(|o| o.ts_micros / 40_000_000); // interleave, still within max_delay
    let mut late = all[3000];
    late.ts_micros = micros(0); // more than max_delay late
    all.insert(3000, late);
    let whole = detect(&all);
    assert_eq!(whole.episodes(), vec![expected_clean_failover()]);
    assert_eq!(whole.late_observations(), 1);
    let n = all.len();
    for split in [0, 1, 200, n / 7, n / 3, n / 2, 2 * n / 3, 6 * n / 7, n - 1, n] {
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
    assert_eq!(spans(&found), vec![(120, Some(180))]);
}

#[test]
fn gap_without_traffic_does_not_end_an_episode() {
    let quiet = traffic(120, 0.0, 0.0);
    let observations = stream(&[local(60), remote(40, 8), quiet, remote(40, 8), local(60)]);
    let found = episodes(&observations);
    assert_eq!(spans(&found), vec![(60, Some(260))]);
    assert_eq!((found[0].duration_s, found[0].requests), (200.0, 800));
}

#[test]
fn burst_without_upstream_inside_an_episode_does_not_end_it() {
    let burst = local(10).failing(NO_HEALTHY);
    let observations = stream(&[local(60), remote(40, 8), burst, remote(40, 8), local(60)]);
    assert_eq!(spans(&episodes(&observations)), vec![(60, Some(150))]);
}

#[test]
fn window_with_few_local_requests_does_not_end_an_episode() {
    let quiet = traffic(10, 0.0, 0.0);
    let mut observations = stream(&[local(60), remote(40, 8), quiet, remote(40, 8), local(60)]);
    let mut generator = Generator::new(3);
    let few = generator.stream_of(SVC, &[traffic(4, 1.0, 0.0)]);
    observations.extend(few.into_iter().map(|mut o| {
        o.ts_micros += 100_000_000;
        o
    }));
    observations.sort_by_key(|o| o.ts_micros);
    let found = episodes(&observations);
    assert_eq!(spans(&found), vec![(60, Some(150))]);
    assert_eq!(found[0].requests, 804);
}

#[test]
fn late_observations_are_counted_and_change_nothing() {
    let mut observations = clean_failover();
    let mut late = observations[1400];
    late.ts_micros = micros(140);
    observations.extend(std::iter::repeat_n(late, 50));
    let detector = detect(&observations);
    assert_eq!(detector.late_observations(), 50);
    assert_eq!(detector.episodes(), vec![expected_clean_failover()]);
}

#[test]
fn pairs_are_tracked_apart_and_listed_by_start_then_name() {
    let mut observations = clean_failover();
    let reviews = "reviews.default.svc.cluster.local";
    let phases = [local(150), remote(60, 9), local(210)];
    observations.extend(Generator::new(4).stream_of(reviews, &phases));
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
    let mut one = stream(&[remote(1, 10)])[0];
    for ts in [i64::MIN, -1, 0, i64::MAX, i64::MIN, 5] {
        one.ts_micros = ts;
        detector.observe(&one);
    }
    detector.flush_final();
    assert_eq!(detector.episodes(), vec![]);
}

#[test]
fn target_cluster_is_the_one_that_took_most_cross_cluster_requests() {
    let mut observations = stream(&[local(60), remote(60, 8), local(60)]);
    let sub_second = |o: &Observation<'_>| o.ts_micros % 1_000_000 / 100_000;
    for o in observations.iter_mut() {
        if matches!(o.destination, Destination::Remote(_)) && sub_second(o) >= 3 {
            o.destination = Destination::Remote(Some(THIRD));
        }
    }
    let found = episodes(&observations);
    let targets: Vec<_> = found.iter().map(|e| e.target_cluster.as_deref()).collect();
    assert_eq!(targets, vec![Some(THIRD)]);
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
    let three_remote = |at: i64| {
        let mut few = Generator::new(5).stream_of(SVC, &[traffic(3, 1.0, 1.0)]);
        few.iter_mut().for_each(|o| o.ts_micros += at * 1_000_000);
        few
    };
    let quiet = traffic(10, 0.0, 0.0);
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
fn settings_are_stored_with_the_state_and_changes_are_named() {
    let detector = detect(&clean_failover());
    let state = DetectorState::from_json(&detector.state_json().unwrap()).unwrap();
    assert_eq!(state.settings(), &FailoverSettings::default());
    let now = FailoverSettings { enter_share: 0.6, ..FailoverSettings::default() };
    assert_eq!(now.changes_from(state.settings()), vec!["enter_share: 0.5 → 0.6"]);
    let continued = FailoverDetector::new(now.clone(), state);
    assert_eq!(continued.state().settings(), &now);
}

#[test]
fn a_state_of_an_older_layout_is_refused_with_its_version() {
    let old = br#"{"watermark_micros":1,"final_before_micros":null,"keys":{},"closed":[],"late_observations":0}"#;
    let error = DetectorState::from_json(old).unwrap_err();
    assert!(matches!(error, StateError::Version { found: 1 }), "{error}");
}

#[test]
fn absolute_mode_judges_the_plain_share_as_before() {
    let absolute =
        FailoverSettings { mode: DetectionMode::Absolute, ..FailoverSettings::default() };
    let found = detect_with(absolute.clone(), &clean_failover()).episodes();
    assert_eq!(spans(&found), vec![(130, Some(250))]);
    // A steady 50/50 split at 20 requests/s (the user trial's case) reads as failovers
    // in absolute mode, and as none against the learned baseline.
    let split = stream(&[traffic(900, 20.0, 0.5).noisy(Noise::Random)]);
    assert!(!detect_with(absolute, &split).episodes().is_empty());
    assert_eq!(episodes(&split), vec![]);
}

#[test]
fn short_failover_corroborated_by_a_snapshot_of_the_local_endpoints_is_one() {
    let observations = stream(&[local(60), remote(20, 10), local(60)]);
    assert_eq!(episodes(&observations), vec![], "20 s without errors is not enough alone");
    let with_evidence_at = |at: i64| {
        let mut detector =
            FailoverDetector::new(FailoverSettings::default(), DetectorState::default());
        detector.corroborate(SRC, SVC, micros(at));
        observations.iter().for_each(|o| detector.observe(o));
        detector.flush_final();
        spans(&detector.episodes())
    };
    // The local pods gone from a snapshot taken as the traffic moved.
    assert_eq!(with_evidence_at(62), vec![(60, Some(80))]);
    assert_eq!(with_evidence_at(10), vec![(60, Some(80))], "a minute before still counts");
    assert_eq!(with_evidence_at(-30), vec![], "evidence long before says nothing");
}
