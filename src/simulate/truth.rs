//! The ground truth of a run: what the simulator did, for tests of meshlog's tagging,
//! counts and failover detector. [`Tally`] counts while lines are written (only lines
//! that parse: a malformed line is counted as such and nothing else) and becomes a
//! serialisable [`Truth`] at the end.

use meshlog_parsers::{ClusterName, Timestamp};
use serde::{Deserialize, Serialize};

use super::line::{Line, Locality};
use super::mesh::{C2, CLUSTERS, PROXIES, same_network};
use super::routes::ROUTES;
use super::snapshots::layout::{local_hosts, remote_hosts};
use super::story::{Cause, Story};
use super::timeline::{Episode, Timeline};
use super::{OutputFormat, Scenario};

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    /// What happened in the run.
    #[serde(default)]
    pub story: Story,
    pub seed: u64,
    pub minutes: u32,
    pub requests_per_second: u32,
    pub format: OutputFormat,
    /// The first and last instant of the run (RFC 3339 and µs since the epoch).
    pub start: String,
    pub end: String,
    pub start_us: i64,
    pub end_us: i64,
    /// Every line written, malformed ones included.
    pub lines: u64,
    /// Lines meant to be rejected (truncated lines, garbage).
    pub malformed: u64,
    /// Lines that parse: `lines - malformed`.
    pub requests: u64,
    pub proxies: Vec<TruthProxy>,
    pub episodes: Vec<TruthEpisode>,
    /// Per-route locality counts of the lines that parse.
    pub flows: Vec<TruthFlow>,
    /// Seconds of simulated time between admin snapshots; 0 when none were taken.
    #[serde(default)]
    pub snapshot_every_s: u32,
    /// Each `/clusters?format=json` snapshot taken, as a path relative to the output
    /// directory (`admin/<cluster>/<proxy>.<unix-seconds>.clusters.json`), in time order.
    #[serde(default)]
    pub snapshot_files: Vec<String>,
}

/// A proxy whose lines are in the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthProxy {
    pub name: String,
    pub source_cluster: String,
    pub ip: String,
}

/// A failover episode the simulator played.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthEpisode {
    pub source_cluster: String,
    /// FQDN, as meshlog derives it from `upstream_cluster`.
    pub service: String,
    pub upstream_cluster: String,
    pub target_cluster: String,
    /// Through the target's east-west gateway (else straight to its pods).
    pub via_gateway: bool,
    /// When the 503 `UH` burst began.
    pub errors_started_at: String,
    pub errors_started_at_us: i64,
    /// When traffic moved to `target_cluster`.
    pub started_at: String,
    pub started_at_us: i64,
    /// When traffic came back (exclusive).
    pub ended_at: String,
    pub ended_at_us: i64,
    /// Lines of the service from `source_cluster` in `[started_at, ended_at)`.
    pub requests: u64,
    pub cross_cluster_requests: u64,
    /// 5xx lines of the service in the minute before `started_at`.
    pub errors_before: u64,
    /// The proxy that logged the service's lines (and whose snapshots show it).
    #[serde(default)]
    pub proxy: String,
    /// What failed.
    pub cause: Cause,
    /// The endpoints its snapshots show ejected (`failed_outlier_check`) from
    /// `errors_started_at` to `ended_at`: the local (priority-0) ones, or the failing
    /// east-west gateway.
    #[serde(default)]
    pub ejected_hosts: Vec<String>,
    /// The local endpoints its snapshots stop listing meanwhile (scaled to zero).
    #[serde(default)]
    pub vanished_hosts: Vec<String>,
    /// The endpoints in `target_cluster` that take the traffic meanwhile: its east-west
    /// gateway, or its pods on a flat network.
    #[serde(default)]
    pub failover_hosts: Vec<String>,
}

/// Locality counts of one route (one proxy, one upstream cluster).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthFlow {
    pub proxy: String,
    pub source_cluster: String,
    pub upstream_cluster: Option<String>,
    pub service: Option<String>,
    pub local: u64,
    pub cross_cluster: u64,
    pub external: u64,
    pub unknown: u64,
}

/// Running counts of one episode.
#[derive(Debug, Clone, Copy, Default)]
struct EpisodeCount {
    requests: u64,
    cross_cluster_requests: u64,
    errors_before: u64,
}

/// Counts what is written.
#[derive(Debug, Clone)]
pub struct Tally {
    per_route: Vec<[u64; 4]>,
    episodes: Vec<(Episode, EpisodeCount)>,
    lines: u64,
    malformed: u64,
}

impl Tally {
    pub fn new(timeline: &Timeline) -> Tally {
        let episodes = timeline.episodes.iter().map(|e| (*e, EpisodeCount::default())).collect();
        Tally { per_route: vec![[0; 4]; ROUTES.len()], episodes, lines: 0, malformed: 0 }
    }

    /// A line that parses.
    pub fn count(&mut self, line: &Line) {
        self.lines += 1;
        self.per_route[line.route][line.locality as usize] += 1;
        for (episode, count) in &mut self.episodes {
            if episode.route == line.route {
                count_episode(episode, count, line);
            }
        }
    }

    /// A line meant to be rejected.
    pub fn count_malformed(&mut self) {
        self.lines += 1;
        self.malformed += 1;
    }

    pub fn into_truth(self, scenario: &Scenario) -> Truth {
        let end_us = scenario.start_us + i64::from(scenario.minutes) * 60_000_000;
        Truth {
            story: scenario.story,
            seed: scenario.seed,
            minutes: scenario.minutes,
            requests_per_second: scenario.requests_per_second,
            format: scenario.format,
            start: rfc3339(scenario.start_us),
            end: rfc3339(end_us),
            start_us: scenario.start_us,
            end_us,
            lines: self.lines,
            malformed: self.malformed,
            requests: self.lines - self.malformed,
            proxies: PROXIES.iter().map(truth_proxy).collect(),
            episodes: self.episodes.iter().map(|(e, count)| truth_episode(e, count)).collect(),
            flows: self.per_route.iter().enumerate().map(|(i, c)| truth_flow(i, c)).collect(),
            snapshot_every_s: 0,
            snapshot_files: Vec::new(),
        }
    }
}

fn count_episode(episode: &Episode, count: &mut EpisodeCount, line: &Line) {
    let during = (episode.start_ms..episode.end_ms).contains(&line.start_ms);
    let minute_before = (episode.start_ms - 60_000..episode.start_ms).contains(&line.start_ms);
    count.requests += u64::from(during);
    count.cross_cluster_requests += u64::from(during && line.locality == Locality::CrossCluster);
    count.errors_before += u64::from(minute_before && line.response_code >= 500);
}

fn rfc3339(micros: i64) -> String {
    Timestamp::from_micros(micros).to_rfc3339()
}

fn truth_proxy(proxy: &super::mesh::ProxySpec) -> TruthProxy {
    TruthProxy {
        name: proxy.name.to_owned(),
        source_cluster: CLUSTERS[proxy.cluster].name.to_owned(),
        ip: proxy.ip.to_owned(),
    }
}

fn service_of(upstream_cluster: &str) -> Option<String> {
    ClusterName::parse(upstream_cluster).service.map(str::to_owned)
}

fn truth_episode(episode: &Episode, count: &EpisodeCount) -> TruthEpisode {
    let route = &ROUTES[episode.route];
    let source = PROXIES[route.proxy].cluster;
    let upstream_cluster = route.upstream_cluster.unwrap_or_default();
    let micros = |ms: i64| ms * 1000;
    TruthEpisode {
        source_cluster: CLUSTERS[source].name.to_owned(),
        service: service_of(upstream_cluster).unwrap_or_default(),
        upstream_cluster: upstream_cluster.to_owned(),
        target_cluster: CLUSTERS[episode.target].name.to_owned(),
        via_gateway: !same_network(source, episode.target),
        errors_started_at: rfc3339(micros(episode.burst_start_ms)),
        errors_started_at_us: micros(episode.burst_start_ms),
        started_at: rfc3339(micros(episode.start_ms)),
        started_at_us: micros(episode.start_ms),
        ended_at: rfc3339(micros(episode.end_ms)),
        ended_at_us: micros(episode.end_ms),
        requests: count.requests,
        cross_cluster_requests: count.cross_cluster_requests,
        errors_before: count.errors_before,
        proxy: PROXIES[route.proxy].name.to_owned(),
        cause: episode.cause,
        ejected_hosts: match episode.cause {
            Cause::NoHealthyUpstream | Cause::OutlierEjection => owned(local_hosts(route)),
            Cause::GatewayFailure => vec![CLUSTERS[C2].gateway.to_owned()],
            Cause::ScaleToZero => Vec::new(),
        },
        vanished_hosts: match episode.cause {
            Cause::ScaleToZero => owned(local_hosts(route)),
            _ => Vec::new(),
        },
        failover_hosts: remote_hosts(route, episode.target)
            .into_iter()
            .map(|(host, _weight)| host.to_owned())
            .collect(),
    }
}

fn owned(hosts: Vec<&str>) -> Vec<String> {
    hosts.into_iter().map(str::to_owned).collect()
}

fn truth_flow(route_index: usize, counts: &[u64; 4]) -> TruthFlow {
    let route = &ROUTES[route_index];
    let proxy = &PROXIES[route.proxy];
    let [local, cross_cluster, external, unknown] = *counts;
    TruthFlow {
        proxy: proxy.name.to_owned(),
        source_cluster: CLUSTERS[proxy.cluster].name.to_owned(),
        upstream_cluster: route.upstream_cluster.map(str::to_owned),
        service: route.upstream_cluster.and_then(service_of),
        local,
        cross_cluster,
        external,
        unknown,
    }
}
