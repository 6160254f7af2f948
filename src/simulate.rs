//! The built-in simulator of a three-cluster Istio mesh, behind `meshlog simulate` and
//! `meshlog demo`: pure, synchronous and deterministic (one seed, the same bytes on
//! every platform), it streams access-log lines to any [`std::io::Write`] and returns
//! the [`Truth`] of what it did, so tests can hold meshlog's tagging, counts and
//! failover detector against it.
//!
//! The mesh (`mesh`): `cluster1` (network1, us-west1, 10.112.0.0/16, east-west gateway
//! 34.168.157.2:15443), `cluster2` (network2, us-central1, 10.96.0.0/16,
//! 35.200.10.5:15443) and `cluster3` (network1, flat with cluster1, us-east1,
//! 10.128.0.0/16, 34.23.45.6:15443); [`topology_toml`] describes it to meshlog.
//! Reporting proxies: the ingress gateways of cluster1 and cluster2, and the
//! productpage and reviews sidecars of cluster1 and the checkout sidecar of cluster2.
//!
//! The scenario (`routes`, `timeline`): mostly local traffic; `frontend` from
//! cluster1's gateway spills 10 % to cluster2 through its gateway; `reviews` (subsets
//! v1/v2/v3) goes 25 % straight to cluster3's pods; one `details` pod fails 30 % of
//! its requests (503 `UF,URX` or 500); inbound, TCP, `PassthroughCluster` and 404 `NR`
//! lines. Runs of at least 5 minutes have two failover episodes, each after a 15 s
//! burst of 503 `UH`: `frontend` of cluster1 to cluster2 via its gateway from 25 % to
//! 45 % of the run, `ratings` of cluster1 to cluster3's pods from 60 % to 75 %.
//!
//! ```text
//! Clock (start time of line i) ─ generate::Generator (route, phase, upstream, outcome)
//!   ─▶ line::Line ─ output::Output (render::write_istio | write_json, per-proxy buffers
//!   flushed every 0.2–3 s, optional corruption) ─▶ io::Write;  truth::Tally ─▶ Truth
//!                 └─ snapshots::Recorder (per-host counters, ejections) ─▶ Snapshot
//! ```
//!
//! With [`run_per_cluster_with_snapshots`] (or [`snapshots`] alone) the run also
//! yields each reporting proxy's Envoy admin `/clusters?format=json` every few
//! simulated seconds: the same hosts, counts and ejections as the lines and episodes
//! (see the `snapshots` module), the proxies' own evidence of each failover.

mod generate;
mod line;
mod mesh;
mod output;
mod render;
mod rng;
mod routes;
mod snapshots;
mod story;
mod timeline;
mod truth;

use std::io::{self, Write};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use mesh::topology_toml;
pub use snapshots::{DEFAULT_SNAPSHOT_EVERY_S, OnSnapshot, Snapshot};
pub use story::{Cause, Noise, STORY_NAMES, Story, UnknownName};
pub use timeline::{MIN_MINUTES_AFTER_LEARNING, MIN_MINUTES_FOR_EPISODES};
pub use truth::{Truth, TruthEpisode, TruthFlow, TruthProxy};

use generate::Generator;
use line::Line;
use output::{Merged, Output, PerCluster, Sink};
use rng::Rng;
use snapshots::Recorder;
use timeline::Timeline;
use truth::Tally;

/// 2026-11-01T10:00:00Z, the default start of a run, in µs since the epoch.
pub const DEFAULT_START_US: i64 = 1_793_527_200_000_000;

/// The names of the clusters, in the order [`run_per_cluster`] writes them.
pub const CLUSTER_NAMES: [&str; 3] = ["cluster1", "cluster2", "cluster3"];

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Istio's current default text format (the `istio` preset).
    #[default]
    Istio,
    /// Istio's JSON encoding (the `istio-json` preset).
    Json,
}

impl OutputFormat {
    /// The `meshlog_parsers` preset that reads this output.
    pub fn parser_preset(self) -> &'static str {
        match self {
            OutputFormat::Istio => "istio",
            OutputFormat::Json => "istio-json",
        }
    }
}

/// A `--format` value the simulator does not write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown simulator format {0:?}: use istio or json")]
pub struct UnknownFormat(pub String);

impl FromStr for OutputFormat {
    type Err = UnknownFormat;

    fn from_str(name: &str) -> Result<OutputFormat, UnknownFormat> {
        match name {
            "istio" => Ok(OutputFormat::Istio),
            "json" | "istio-json" => Ok(OutputFormat::Json),
            other => Err(UnknownFormat(other.to_owned())),
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    /// Length of the run; episodes need at least [`MIN_MINUTES_FOR_EPISODES`].
    pub minutes: u32,
    pub seed: u64,
    /// Lines per second over the whole mesh; the run writes exactly
    /// `requests_per_second * minutes * 60` lines.
    pub requests_per_second: u32,
    /// Start of the run, µs since the epoch.
    pub start_us: i64,
    pub format: OutputFormat,
    /// Share of lines replaced by a truncated copy or by garbage.
    pub malformed_per_million: u32,
    /// Prefix every line with `[pod/NAME/istio-proxy] `, as `kubectl logs --prefix`.
    pub kubectl_prefix: bool,
    /// What happens: the demo's failovers, or another story.
    #[serde(default)]
    pub story: Story,
}

impl Default for Scenario {
    /// Ten minutes at 100 lines/s (60 000 lines), seed 1, Istio text, no corruption.
    fn default() -> Scenario {
        Scenario {
            minutes: 10,
            seed: 1,
            requests_per_second: 100,
            start_us: DEFAULT_START_US,
            format: OutputFormat::Istio,
            malformed_per_million: 0,
            kubectl_prefix: false,
            story: Story::Demo,
        }
    }
}

impl Scenario {
    /// The `meshlog demo` run: the default with 100 malformed lines per million.
    pub fn demo() -> Scenario {
        Scenario { malformed_per_million: 100, ..Scenario::default() }
    }

    /// How many lines the run writes.
    pub fn total_lines(&self) -> u64 {
        u64::from(self.requests_per_second).saturating_mul(u64::from(self.minutes) * 60)
    }
}

/// Simulates `scenario`, writing every line to `out`.
///
/// ```
/// use meshlog::simulate::{Scenario, run};
/// let scenario = Scenario { minutes: 1, requests_per_second: 10, ..Scenario::default() };
/// let mut out = Vec::new();
/// let truth = run(&scenario, &mut out).unwrap();
/// assert_eq!(truth.lines, 600);
/// assert_eq!(out.iter().filter(|&&byte| byte == b'\n').count(), 600);
/// ```
pub fn run(scenario: &Scenario, out: &mut impl Write) -> io::Result<Truth> {
    run_into(scenario, &mut Merged(out), None)
}

/// Simulates `scenario`, writing each cluster's lines to its own writer, in
/// [`CLUSTER_NAMES`] order (`cluster3` has no reporting proxy: its writer stays empty).
pub fn run_per_cluster<W: Write>(scenario: &Scenario, outs: &mut [W]) -> io::Result<Truth> {
    check_writers(outs)?;
    run_into(scenario, &mut PerCluster(outs), None)
}

/// As [`run_per_cluster`], and every `snapshot_every_s` seconds of simulated time (0:
/// never) hands `on_snapshot` each reporting proxy's `/clusters?format=json`, in time
/// order, then proxy order; the last at the end of the run. The truth lists them
/// (`snapshot_files`). `meshlog simulate --out-dir` writes them to
/// `admin/<cluster>/<proxy>.<unix-seconds>.clusters.json` ([`Snapshot::relative_path`]).
///
/// ```
/// use meshlog::simulate::{Scenario, run_per_cluster_with_snapshots};
/// let scenario = Scenario { minutes: 1, requests_per_second: 10, ..Scenario::default() };
/// let mut outs = vec![Vec::new(); 3];
/// let mut taken = Vec::new();
/// let truth = run_per_cluster_with_snapshots(&scenario, &mut outs, 30, &mut |snapshot| {
///     taken.push(snapshot);
///     Ok(())
/// })
/// .unwrap();
/// assert_eq!(taken.len(), 2 * 5, "two snapshots of each of the five reporting proxies");
/// assert!(taken[0].json.starts_with("{\n \"cluster_statuses\": ["));
/// assert_eq!(truth.snapshot_files.len(), 10);
/// ```
pub fn run_per_cluster_with_snapshots<W: Write>(
    scenario: &Scenario,
    outs: &mut [W],
    snapshot_every_s: u32,
    on_snapshot: OnSnapshot<'_>,
) -> io::Result<Truth> {
    check_writers(outs)?;
    let snapshots =
        Recorder::new(scenario, snapshot_every_s).map(|recorder| (recorder, on_snapshot));
    let mut truth = run_into(scenario, &mut PerCluster(outs), snapshots)?;
    truth.snapshot_every_s = snapshot_every_s;
    Ok(truth)
}

/// The snapshots of [`run_per_cluster_with_snapshots`] alone, without writing any
/// line: the same bytes, for a caller that only wants the proxies' admin state.
pub fn snapshots(scenario: &Scenario, snapshot_every_s: u32) -> io::Result<Vec<Snapshot>> {
    let mut taken = Vec::new();
    let Some(mut recorder) = Recorder::new(scenario, snapshot_every_s) else {
        return Ok(taken);
    };
    let mut keep = |snapshot| {
        taken.push(snapshot);
        Ok(())
    };
    for line in lines(scenario) {
        recorder.observe(&line, &mut keep)?;
    }
    recorder.finish(&mut keep)?;
    Ok(taken)
}

fn check_writers<W>(outs: &[W]) -> io::Result<()> {
    if outs.len() == CLUSTER_NAMES.len() {
        return Ok(());
    }
    let message = format!("{} writers for {} clusters", outs.len(), CLUSTER_NAMES.len());
    Err(io::Error::new(io::ErrorKind::InvalidInput, message))
}

fn run_into(
    scenario: &Scenario,
    sink: &mut dyn Sink,
    mut snapshots: Option<(Recorder, OnSnapshot<'_>)>,
) -> io::Result<Truth> {
    let mut tally = Tally::new(&timeline_of(scenario));
    let mut output = Output::new(scenario, sink);
    for line in lines(scenario) {
        if let Some((recorder, on_snapshot)) = &mut snapshots {
            recorder.observe(&line, &mut **on_snapshot)?;
        }
        output.write(&line, &mut tally)?;
    }
    output.finish()?;
    let mut truth = tally.into_truth(scenario);
    if let Some((mut recorder, on_snapshot)) = snapshots {
        recorder.finish(on_snapshot)?;
        truth.snapshot_files = recorder.into_taken();
    }
    Ok(truth)
}

/// Every line of the run, in start-time order.
fn lines(scenario: &Scenario) -> impl Iterator<Item = Line> {
    let mut generator = Generator::new(scenario.seed, timeline_of(scenario));
    let mut clock = Clock::new(scenario);
    (0..clock.total).map(move |index| generator.line(clock.start_ms(index)))
}

fn timeline_of(scenario: &Scenario) -> Timeline {
    Timeline::of_story(scenario.story, scenario.start_us.div_euclid(1000), scenario.minutes)
}

/// Spreads the run's lines evenly over its span, each at a random instant of its slot.
struct Clock {
    start_us: i64,
    span_us: u128,
    total: u64,
    rng: Rng,
}

impl Clock {
    fn new(scenario: &Scenario) -> Clock {
        Clock {
            start_us: scenario.start_us,
            span_us: u128::from(scenario.minutes) * 60_000_000,
            total: scenario.total_lines(),
            rng: Rng::new(scenario.seed ^ 0xc10c_c10c),
        }
    }

    /// The start time of line `index`, in ms.
    fn start_ms(&mut self, index: u64) -> i64 {
        let offset =
            |index: u64| (u128::from(index) * self.span_us / u128::from(self.total)) as i64;
        let (slot_start, slot_end) = (offset(index), offset(index + 1));
        let jitter = self.rng.below((slot_end - slot_start) as u64) as i64;
        (self.start_us + slot_start + jitter).div_euclid(1000)
    }
}

#[cfg(test)]
mod tests;
