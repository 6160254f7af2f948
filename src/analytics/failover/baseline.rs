//! Where a (source_cluster, service) is normally served, learned from its own history,
//! and how far a window departs from that towards remote clusters.
//!
//! [`Baseline`] keeps the windows of normal times (never those of a run or an episode)
//! in a few buckets covering the last `baseline_span` of traffic: served locally, per
//! remote cluster, the errors, and how much the per-window share scatters beyond what
//! chance gives (the *dispersion*: 1 for a binomial share, more when clients stick to
//! endpoints). Once it holds `baseline_min` of windows and `baseline_min_requests`
//! requests it is the [`Reference`] windows are judged against. Before that, only an
//! established, mostly-local recent state is: the last minute of windows, with at
//! least 30 requests whose cross-cluster share is at most `exit_share` even at the top
//! of its confidence interval. A service seen mid-split has no reference until learned.
//!
//! [`Reference::departure`] measures a change towards remote clusters: of the traffic
//! that the reference did not send to the remote clusters whose share rose, the part
//! that now goes there. For a service normally served locally it is the plain
//! cross-cluster share; for one normally split 50/50 with `cluster2`, all traffic going
//! to `cluster2` is a departure of 1, and 60 % a departure of 0.2.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::window::Tally;

/// Windows of the provisional reference (a minute of 10 s windows).
const PROVISIONAL_WINDOWS: usize = 6;
/// Requests the provisional reference needs to say anything.
const PROVISIONAL_MIN_SERVED: u64 = 30;
/// How wide the provisional reference's confidence interval is, in standard deviations.
const PROVISIONAL_Z: f64 = 2.0;
/// Closed buckets of the baseline; each covers a sixth of `baseline_span`.
const BUCKETS: usize = 6;
/// The most the dispersion is trusted to inflate the noise.
const MAX_DISPERSION: f64 = 25.0;
/// Fixed-point scale of the per-window squares kept for the dispersion, so that the
/// state holds integers only and survives a JSON round trip exactly.
const SQUARE_SCALE: f64 = 65_536.0;

/// How the baseline learns: the settings in windows.
#[derive(Clone, Debug)]
pub(crate) struct Learning {
    pub(crate) bucket_windows: u32,
    pub(crate) min_windows: u32,
    pub(crate) min_requests: u64,
    /// The provisional reference's highest cross-cluster share (`exit_share`).
    pub(crate) mostly_local: f64,
}

/// What a window is judged against: a distribution of where requests are served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Reference {
    pub(crate) tally: Tally,
    /// How much more the share scatters between windows than chance alone, in
    /// thousandths (1 000: binomial).
    dispersion_permille: u32,
}

/// How far a set of requests departs from a reference towards remote clusters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Departure {
    /// Of the traffic the reference sent elsewhere, the part now going to the remote
    /// clusters whose share rose: 0 (as usual) to 1 (all of it).
    pub(crate) departure: f64,
    /// The rise of those clusters' share, in absolute terms.
    pub(crate) shift: f64,
    /// The rise in standard deviations of the reference's noise for this many requests.
    pub(crate) z: f64,
}

impl Reference {
    /// Every request served locally and nothing learned: the departure is the plain
    /// cross-cluster share (the absolute thresholds).
    pub(crate) fn local_only() -> Reference {
        Reference::new(Tally::default(), 1.0)
    }

    fn new(tally: Tally, dispersion: f64) -> Reference {
        Reference { tally, dispersion_permille: (dispersion * 1000.0).round() as u32 }
    }

    fn dispersion(&self) -> f64 {
        f64::from(self.dispersion_permille) / 1000.0
    }

    pub(crate) fn cross_share(&self) -> f64 {
        self.tally.cross_share().value()
    }

    /// The reference's share of errors among all requests.
    pub(crate) fn error_rate(&self) -> f64 {
        ratio(self.tally.errors, self.tally.requests)
    }

    /// How far `tally` departs from this reference towards remote clusters. The part
    /// is taken of at least `floor` of the traffic, so that a cluster that normally takes
    /// nearly everything does not make a tiny rise look like a whole departure.
    pub(crate) fn departure(&self, tally: &Tally, floor: f64) -> Departure {
        let served = tally.served();
        if served == 0 {
            return Departure::default();
        }
        let (mut rose_to, mut usual) = (0.0, 0.0);
        for (cluster, count) in tally.remote.iter() {
            let share = count as f64 / served as f64;
            let expected = self.expected_share(cluster);
            if share > expected {
                rose_to += share;
                usual += expected;
            }
        }
        let shift = rose_to - usual;
        if shift <= 0.0 {
            return Departure::default();
        }
        let departure = (shift / (1.0 - usual).max(floor)).min(1.0);
        let variance = self.dispersion() * usual * (1.0 - usual) / served as f64;
        let z = if variance > 0.0 { shift / variance.sqrt() } else { f64::INFINITY };
        Departure { departure, shift, z }
    }

    /// The share of `cluster` in the reference, smoothed so that a cluster never seen
    /// is unlikely but not impossible.
    fn expected_share(&self, cluster: &str) -> f64 {
        let served = self.tally.served();
        if served == 0 {
            return 0.0;
        }
        (self.tally.remote.get(cluster) as f64 + 0.5) / (served as f64 + 1.0)
    }
}

/// A sixth of the baseline's span: the windows learned in it, added up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Bucket {
    windows: u32,
    tally: Tally,
    /// Σ c²/n over its windows (c cross-cluster of n served), for the dispersion, in
    /// units of 1 / [`SQUARE_SCALE`].
    square_sum: u64,
}

impl Bucket {
    fn add(&mut self, tally: &Tally) {
        self.windows += 1;
        self.tally.merge(tally);
        let served = tally.served();
        if served > 0 {
            let cross = tally.remote.total() as f64;
            let square = (cross * cross / served as f64 * SQUARE_SCALE).round() as u64;
            self.square_sum = self.square_sum.saturating_add(square);
        }
    }

    fn merge(&mut self, other: &Bucket) {
        self.windows += other.windows;
        self.tally.merge(&other.tally);
        self.square_sum = self.square_sum.saturating_add(other.square_sum);
    }

    /// Pearson's χ² of the windows' shares over its degrees of freedom, between 1 and
    /// [`MAX_DISPERSION`].
    fn dispersion(&self) -> f64 {
        let (n, c) = (self.tally.served() as f64, self.tally.remote.total() as f64);
        let p = if n > 0.0 { c / n } else { 0.0 };
        if self.windows < 2 || p <= 0.0 || p >= 1.0 {
            return 1.0;
        }
        let square_sum = self.square_sum as f64 / SQUARE_SCALE;
        let chi_square = (square_sum - 2.0 * p * c + p * p * n) / (p * (1.0 - p));
        let per_freedom = chi_square / f64::from(self.windows - 1);
        per_freedom.clamp(1.0, MAX_DISPERSION)
    }
}

/// The windows of normal times of one (source_cluster, service).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Baseline {
    /// Oldest first; the last one is still filling.
    buckets: VecDeque<Bucket>,
    /// The last windows learned, for the provisional reference.
    recent: VecDeque<Tally>,
}

impl Baseline {
    /// Learns one informative window of normal times.
    pub(crate) fn learn(&mut self, tally: &Tally, learning: &Learning) {
        let full = self.buckets.back().is_none_or(|b| b.windows >= learning.bucket_windows);
        if full {
            self.buckets.push_back(Bucket::default());
        }
        while self.buckets.len() > BUCKETS + 1 {
            self.buckets.pop_front();
        }
        if let Some(open) = self.buckets.back_mut() {
            open.add(tally);
        }
        self.recent.push_back(tally.clone());
        while self.recent.len() > PROVISIONAL_WINDOWS {
            self.recent.pop_front();
        }
    }

    /// The learned baseline once it is established, else the provisional reference.
    pub(crate) fn reference(&self, learning: &Learning) -> Option<Reference> {
        let mut all = Bucket::default();
        self.buckets.iter().for_each(|bucket| all.merge(bucket));
        let ready =
            all.windows >= learning.min_windows && all.tally.served() >= learning.min_requests;
        if ready {
            let dispersion = all.dispersion();
            return Some(Reference::new(all.tally, dispersion));
        }
        self.provisional(learning)
    }

    /// The last minute, when it was served mostly locally and holds enough requests to
    /// be sure of it.
    fn provisional(&self, learning: &Learning) -> Option<Reference> {
        let mut recent = Tally::default();
        self.recent.iter().for_each(|tally| recent.merge(tally));
        let served = recent.served();
        if served < PROVISIONAL_MIN_SERVED {
            return None;
        }
        let upper = wilson_upper(recent.remote.total(), served, PROVISIONAL_Z);
        (upper <= learning.mostly_local).then(|| Reference::new(recent, 1.0))
    }
}

/// The upper end of the Wilson score interval of `hits` out of `n` at `z` deviations.
fn wilson_upper(hits: u64, n: u64, z: f64) -> f64 {
    let n = n as f64;
    let p = hits as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    (centre + spread) / (1.0 + z2 / n)
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(local: u64, remote: &[(&str, u64)]) -> Tally {
        let mut tally = Tally { requests: local, local, ..Tally::default() };
        for (cluster, n) in remote {
            tally.remote.add(cluster, *n);
            tally.requests += n;
        }
        tally
    }

    fn reference(local: u64, remote: &[(&str, u64)]) -> Reference {
        Reference::new(tally(local, remote), 1.0)
    }

    #[test]
    fn departure_from_local_only_is_the_cross_cluster_share() {
        let d = Reference::local_only().departure(&tally(20, &[("cluster2", 80)]), 0.2);
        assert_eq!((d.departure, d.shift), (0.8, 0.8));
        assert!(d.z.is_infinite());
    }

    #[test]
    fn collapse_of_a_half_split_is_a_full_departure() {
        let half = reference(5000, &[("cluster2", 5000)]);
        let d = half.departure(&tally(0, &[("cluster2", 100)]), 0.2);
        assert!((d.departure - 1.0).abs() < 1e-3, "{d:?}");
        assert!((d.shift - 0.5).abs() < 1e-3, "{d:?}");
        assert!(d.z > 9.0, "{d:?}");
        let noise = half.departure(&tally(45, &[("cluster2", 55)]), 0.2);
        assert!(noise.departure < 0.11 && noise.z < 1.1, "{noise:?}");
        let back_home = half.departure(&tally(100, &[]), 0.2);
        assert_eq!(back_home, Departure::default());
    }

    #[test]
    fn move_between_remote_clusters_departs_towards_the_new_one() {
        let on_cluster2 = reference(0, &[("cluster2", 1000)]);
        let d = on_cluster2.departure(&tally(0, &[("cluster3", 50)]), 0.2);
        assert!(d.departure > 0.99 && d.z > 100.0, "{d:?}");
    }

    #[test]
    fn dispersion_grows_when_windows_scatter_beyond_chance() {
        let mut steady = Bucket::default();
        let mut scattered = Bucket::default();
        for i in 0..20 {
            steady.add(&tally(50, &[("cluster2", 50)]));
            let cross = if i % 2 == 0 { 20 } else { 80 };
            scattered.add(&tally(100 - cross, &[("cluster2", cross)]));
        }
        assert_eq!(steady.dispersion(), 1.0);
        assert!(scattered.dispersion() > 10.0, "{}", scattered.dispersion());
    }

    #[test]
    fn provisional_reference_needs_a_sure_mostly_local_minute() {
        let learning =
            Learning { bucket_windows: 30, min_windows: 30, min_requests: 200, mostly_local: 0.2 };
        let mut sparse = Baseline::default();
        (0..6).for_each(|_| sparse.learn(&tally(4, &[]), &learning));
        assert_eq!(sparse.reference(&learning), None, "24 requests are too few");
        let mut split = Baseline::default();
        (0..6).for_each(|_| split.learn(&tally(10, &[("cluster2", 10)]), &learning));
        assert_eq!(split.reference(&learning), None, "a split is not mostly local");
        let mut local = Baseline::default();
        (0..6).for_each(|_| local.learn(&tally(19, &[("cluster2", 1)]), &learning));
        let found = local.reference(&learning).expect("mostly local");
        assert_eq!(found.tally.served(), 120);
    }

    #[test]
    fn baseline_is_established_after_enough_windows_and_forgets_old_buckets() {
        let learning =
            Learning { bucket_windows: 5, min_windows: 30, min_requests: 200, mostly_local: 0.2 };
        let mut baseline = Baseline::default();
        (0..29).for_each(|_| baseline.learn(&tally(10, &[("cluster2", 10)]), &learning));
        assert_eq!(baseline.reference(&learning), None);
        baseline.learn(&tally(10, &[("cluster2", 10)]), &learning);
        let half = baseline.reference(&learning).expect("established");
        assert_eq!(half.cross_share(), 0.5);
        (0..40).for_each(|_| baseline.learn(&tally(20, &[]), &learning));
        let local = baseline.reference(&learning).expect("established");
        assert_eq!(local.cross_share(), 0.0, "{local:?}");
    }
}
