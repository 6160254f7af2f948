//! Clocks that are off cannot break detection: a line minutes or decades ahead or
//! behind, a proxy whose clock is hours off among others, a source cluster whose clock
//! is decades off, a log with a real gap. Episodes stay as they were, skewed lines are
//! counted, and the saved state is never poisoned.

use super::*;

const YEAR_US: i64 = 365 * 24 * 3600 * 1_000_000;

/// The clean failover of `scenarios`, plus a second service, at 10 requests/s each.
fn baseline_run() -> Vec<Observation<'static>> {
    let mut all = stream(&[local(300), local(10).failing(NO_HEALTHY), remote(120, 8), local(300)]);
    let reviews = "reviews.default.svc.cluster.local";
    all.extend(Generator::new(21).stream_of(reviews, &[local(730)]));
    all.sort_by_key(|o| o.ts_micros);
    all
}

fn with_line_at(
    mut all: Vec<Observation<'static>>,
    index: usize,
    ts_micros: i64,
) -> Vec<Observation<'static>> {
    let mut line = all[index];
    line.ts_micros = ts_micros;
    all.insert(index, line);
    all
}

#[test]
fn one_line_six_minutes_ahead_moves_nothing() {
    let clean = detect(&baseline_run());
    let index = baseline_run().len() / 4;
    let ahead = baseline_run()[index].ts_micros + 360_000_000;
    let skewed = detect(&with_line_at(baseline_run(), index, ahead));
    assert_eq!(skewed.episodes(), clean.episodes());
    assert_eq!((skewed.late_observations(), skewed.skewed_observations()), (0, 1));
}

#[test]
fn lines_dated_2099_and_1970_neither_hide_episodes_nor_poison_the_state() {
    let clean = detect(&baseline_run());
    let mut all = baseline_run();
    let n = all.len();
    let y2099 = 4_070_908_800_000_000; // 2099-01-01T00:00:00Z
    all = with_line_at(all, n / 3, y2099);
    all = with_line_at(all, n / 2, y2099 + 1);
    all = with_line_at(all, 2 * n / 3, 0); // 1970
    let skewed = detect(&all);
    assert_eq!(skewed.episodes(), clean.episodes());
    assert_eq!((skewed.late_observations(), skewed.skewed_observations()), (1, 2));
    // Saved right after the 2099 lines, the state still resumes the same episodes.
    for split in [n / 3 + 1, n / 2 + 2] {
        assert_eq!(resumed(&all, split).episodes(), clean.episodes(), "split at {split}");
    }
}

#[test]
fn a_proxy_whose_clock_is_hours_ahead_among_others_is_left_out() {
    let clean = detect(&baseline_run());
    let mut all = baseline_run();
    // A fifth of the lines come from a proxy whose clock is two hours ahead, written
    // in chunks of 40 lines.
    let reviews = "reviews.default.svc.cluster.local";
    let mut proxy = Generator::new(22).stream_of(reviews, &[traffic(730, 5.0, 0.0)]);
    let skewed_lines = proxy.len() as u64;
    proxy.iter_mut().for_each(|o| o.ts_micros += 2 * 3600 * 1_000_000);
    let mut chunks = proxy.chunks(40);
    let every = all.len() / chunks.len();
    let mut merged = Vec::new();
    for (i, line) in all.drain(..).enumerate() {
        merged.push(line);
        if i % every == every - 1 {
            merged.extend_from_slice(chunks.next().unwrap_or_default());
        }
    }
    chunks.for_each(|chunk| merged.extend_from_slice(chunk));
    let detector = detect(&merged);
    assert_eq!(detector.episodes(), clean.episodes());
    assert_eq!(detector.skewed_observations(), skewed_lines);
    assert_eq!(detector.late_observations(), 0);
}

#[test]
fn a_source_cluster_decades_off_keeps_its_own_time() {
    let clean = detect(&baseline_run());
    let mut other = baseline_run();
    other.iter_mut().for_each(|o| {
        o.source_cluster = "cluster2";
        o.ts_micros += 30 * YEAR_US;
    });
    let mut all = baseline_run();
    all.extend(other);
    all.sort_by_key(|o| (o.ts_micros % (30 * YEAR_US)) / 1_000_000);
    let detector = detect(&all);
    let ours: Vec<_> =
        detector.episodes().into_iter().filter(|e| e.source_cluster == SRC).collect();
    assert_eq!(ours, clean.episodes());
    assert_eq!((detector.late_observations(), detector.skewed_observations()), (0, 0));
    let theirs = detector.episodes().into_iter().filter(|e| e.source_cluster == "cluster2");
    let shifted: Vec<_> = theirs.map(|e| e.started_at_micros - 30 * YEAR_US).collect();
    assert_eq!(shifted, vec![clean.episodes()[0].started_at_micros]);
}

#[test]
fn a_real_gap_in_the_log_moves_the_watermark_after_the_lines_agree() {
    let before = stream(&[local(300), remote(60, 8), local(60)]);
    let mut after = Generator::new(23).stream_of(SVC, &[local(300), remote(60, 8), local(60)]);
    after.iter_mut().for_each(|o| o.ts_micros += 6 * 3600 * 1_000_000);
    let all: Vec<_> = before.into_iter().chain(after).collect();
    let detector = detect(&all);
    let starts: Vec<_> = spans(&detector.episodes()).into_iter().map(|(start, _)| start).collect();
    assert_eq!(starts, vec![300, 6 * 3600 + 300]);
    assert_eq!((detector.late_observations(), detector.skewed_observations()), (0, 0));
}

#[test]
fn a_quiet_stream_of_one_line_a_minute_is_counted_in_full() {
    let quiet = Generator::new(24).stream_of(SVC, &[traffic(6 * 3600, 1.0 / 60.0, 0.0)]);
    let mut detector = FailoverDetector::new(FailoverSettings::default(), DetectorState::default());
    quiet.iter().for_each(|o| detector.observe(o));
    detector.settle();
    assert!(detector.held_observations() <= 8, "{}", detector.held_observations());
    detector.flush_final();
    assert_eq!(detector.held_observations(), 0);
    assert_eq!((detector.late_observations(), detector.skewed_observations()), (0, 0));
}
