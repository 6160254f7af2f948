//! Istio without locality load balancing spreads a service across every cluster's
//! endpoints: a steady split, at any level and with any noise, is not a failover; a
//! change away from it is. With locality load balancing, each cause of failover is
//! found, at low and high rates.

use super::*;

const RATES: [f64; 2] = [5.0, 500.0];
const NOISES: [Noise; 3] = [Noise::None, Noise::Random, Noise::Drifting];

/// Minutes of traffic at `per_s` that keep a test quick: an hour at low rates.
fn minutes_at(per_s: f64) -> i64 {
    if per_s <= 10.0 { 60 } else { 12 }
}

#[test]
fn steady_splits_at_any_level_rate_and_noise_are_not_failovers() {
    for per_s in RATES {
        for remote_share in [0.5, 0.3, 0.7] {
            for noise in NOISES {
                let secs = minutes_at(per_s) * 60;
                let phase = traffic(secs, per_s, remote_share).noisy(noise);
                let detector = detect(&Generator::new(11).stream_of(SVC, &[phase]));
                let case = format!("{per_s}/s, {remote_share} remote, {noise:?}");
                assert_eq!(detector.episodes(), vec![], "{case}");
                assert_eq!(detector.late_observations(), 0, "{case}");
                assert_eq!(detector.skewed_observations(), 0, "{case}");
            }
        }
    }
}

#[test]
fn split_at_two_requests_a_second_is_never_judged_on_one_noisy_window() {
    for seed in 0..8 {
        let phase = traffic(3600, 2.0, 0.5).noisy(Noise::Random);
        let found = episodes(&Generator::new(seed).stream_of(SVC, &[phase]));
        assert_eq!(found, vec![], "seed {seed}");
    }
}

#[test]
fn split_across_three_clusters_is_not_a_failover() {
    let mut generator = Generator::new(12);
    let mut observations = Vec::new();
    for (target, share) in [(REMOTE, 0.3), (THIRD, 0.2)] {
        let phase = traffic(1800, 10.0, share).noisy(Noise::Random).to(target);
        observations.extend(generator.stream_of(SVC, &[phase]));
    }
    observations.sort_by_key(|o| o.ts_micros);
    assert_eq!(episodes(&observations), vec![]);
}

#[test]
fn a_half_split_whose_local_share_collapses_is_one_episode() {
    for per_s in RATES {
        for noise in [Noise::None, Noise::Random] {
            let split = |secs| traffic(secs, per_s, 0.5).noisy(noise);
            let phases = [split(600), traffic(180, per_s, 1.0), split(300)];
            let found = episodes(&Generator::new(13).stream_of(SVC, &phases));
            let case = format!("{per_s}/s, {noise:?}");
            assert_eq!(spans(&found), vec![(600, Some(780))], "{case}");
            let baseline = found[0].baseline_cross_cluster_share;
            assert!((baseline - 0.5).abs() < 0.03, "{case}: {baseline}");
            assert_eq!(found[0].target_cluster.as_deref(), Some(REMOTE), "{case}");
        }
    }
}

#[test]
fn a_log_that_starts_mid_failover_learns_it_and_never_calls_the_return_one() {
    let phases = [remote(600, 10), local(600), remote(60, 10), local(60)];
    let found = episodes(&stream(&phases));
    assert_eq!(spans(&found), vec![(1200, Some(1260))]);
}

/// The causes of failover with locality load balancing: traffic normally local (5 %
/// spill to `cluster2`), then all of it to `target` for three minutes, after `before`.
fn failover_after(
    per_s: f64,
    before: Option<Phase>,
    target: &'static str,
) -> Vec<Observation<'static>> {
    let normal = |secs| traffic(secs, per_s, 0.05).noisy(Noise::Random);
    let mut phases = vec![normal(300)];
    phases.extend(before);
    phases.extend([traffic(180, per_s, 1.0).to(target).noisy(Noise::Random), normal(300)]);
    Generator::new(14).stream_of(SVC, &phases)
}

#[test]
fn scale_to_zero_failover_is_found_without_errors() {
    for per_s in RATES {
        let found = episodes(&failover_after(per_s, None, REMOTE));
        assert_eq!(spans(&found), vec![(300, Some(480))], "{per_s}/s");
        assert_eq!(found[0].errors_before, 0, "{per_s}/s");
    }
}

#[test]
fn outlier_ejection_failover_is_found_with_the_errors_before_it() {
    let server_errors = Errors { share: 0.9, code: 500, flags: None, upstream: true };
    for per_s in RATES {
        let ejecting = traffic(10, per_s, 0.05).failing(server_errors);
        let found = episodes(&failover_after(per_s, Some(ejecting), REMOTE));
        assert_eq!(spans(&found), vec![(310, Some(490))], "{per_s}/s");
        assert!(found[0].errors_before > 0, "{per_s}/s");
        assert_eq!(found[0].errors_before_code, Some(500), "{per_s}/s");
        assert_eq!(found[0].errors_before_flags, None, "{per_s}/s");
    }
}

#[test]
fn failing_gateway_moves_a_remote_served_service_to_the_next_cluster() {
    for per_s in RATES {
        // No local deployment: served by cluster2 through its east-west gateway, whose
        // failure (503 UF,URX) sends the traffic on to cluster3.
        let via_cluster2 = |secs| traffic(secs, per_s, 1.0);
        let gateway_fails = traffic(10, per_s, 1.0).failing(CONNECT_FAILURE);
        let phases = [
            via_cluster2(600),
            gateway_fails,
            traffic(180, per_s, 1.0).to(THIRD),
            via_cluster2(300),
        ];
        let found = episodes(&Generator::new(15).stream_of(SVC, &phases));
        assert_eq!(spans(&found), vec![(610, Some(790))], "{per_s}/s");
        assert_eq!(found[0].target_cluster.as_deref(), Some(THIRD), "{per_s}/s");
        assert_eq!(found[0].baseline_cross_cluster_share, 1.0, "{per_s}/s");
        assert!(found[0].errors_before > 0, "{per_s}/s");
        assert_eq!(found[0].errors_before_flags.as_deref(), Some("UF,URX"), "{per_s}/s");
    }
}
