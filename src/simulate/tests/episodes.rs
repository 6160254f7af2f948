//! The scenario as meshlog will see it: lines parsed with the real parser and tagged
//! with the topology from [`topology_toml`] (not with the simulator's own tables), so
//! the episodes, the baseline spill and the flat-network traffic are checked the way
//! meshlog's enrichment and detector will find them.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use meshlog_parsers::AccessLogRecord;

use super::{parse_all, scenario};
use crate::simulate::*;

/// One cluster of the topology TOML.
#[derive(serde::Deserialize)]
struct TopologyCluster {
    name: String,
    pod_cidrs: Vec<String>,
    eastwest_gateways: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Topology {
    clusters: Vec<TopologyCluster>,
}

fn topology() -> Topology {
    toml::from_str(&topology_toml()).unwrap()
}

/// The cluster that served a host: its gateway or its pod CIDR; `None` for external hosts.
fn served_by(topology: &Topology, host: &str) -> Option<String> {
    let ip: Ipv4Addr = host.split_once(':').unwrap().0.parse().unwrap();
    let serves = |cluster: &&TopologyCluster| {
        cluster.eastwest_gateways.iter().any(|gateway| gateway == host)
            || cluster.pod_cidrs.iter().any(|cidr| cidr.parse::<Ipv4Net>().unwrap().contains(&ip))
    };
    topology.clusters.iter().find(serves).map(|cluster| cluster.name.clone())
}

fn service(record: &AccessLogRecord<'_>) -> Option<String> {
    record.cluster_name().and_then(|name| name.service.map(str::to_owned))
}

/// Per 10 s window: (cross-cluster lines, lines with an upstream host) of `service`.
fn windows(
    records: &[AccessLogRecord<'_>],
    source: &str,
    service_name: &str,
) -> BTreeMap<i64, (u32, u32)> {
    let topology = topology();
    let mut windows = BTreeMap::new();
    for record in records.iter().filter(|r| service(r).as_deref() == Some(service_name)) {
        let Some(host) = record.upstream_host.as_deref() else { continue };
        let cross = served_by(&topology, host).is_some_and(|cluster| cluster != source);
        let window =
            windows.entry(record.ts.unwrap().micros().div_euclid(10_000_000)).or_insert((0, 0));
        window.0 += u32::from(cross);
        window.1 += 1;
    }
    windows
}

fn per_cluster(scenario: &Scenario) -> (Vec<Vec<u8>>, Truth) {
    let mut outs = vec![Vec::new(); CLUSTER_NAMES.len()];
    let truth = run_per_cluster(scenario, &mut outs).unwrap();
    (outs, truth)
}

fn records_of(outs: &[Vec<u8>], cluster: &str) -> Vec<AccessLogRecord<'static>> {
    let index = CLUSTER_NAMES.iter().position(|name| *name == cluster).unwrap();
    parse_all(&outs[index], "istio").0
}

#[test]
fn the_default_run_has_both_episodes_in_its_truth() {
    let (_, truth) = per_cluster(&Scenario::default());
    let summary: Vec<_> = truth
        .episodes
        .iter()
        .map(|e| {
            (
                e.source_cluster.as_str(),
                e.service.as_str(),
                e.target_cluster.as_str(),
                e.via_gateway,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("cluster1", "frontend.shop.svc.cluster.local", "cluster2", true),
            ("cluster1", "ratings.default.svc.cluster.local", "cluster3", false),
        ]
    );
    assert_eq!(truth.episodes[0].started_at, "2026-11-01T10:02:30.000Z");
    assert_eq!(truth.episodes[0].ended_at, "2026-11-01T10:04:30.000Z");
    assert_eq!(truth.episodes[1].errors_started_at, "2026-11-01T10:05:45.000Z");
}

#[test]
fn episodes_show_in_the_parsed_lines() {
    let (outs, truth) = per_cluster(&Scenario::default());
    for episode in &truth.episodes {
        let records = records_of(&outs, &episode.source_cluster);
        for (window, (cross, known)) in windows(&records, &episode.source_cluster, &episode.service)
        {
            let (start, end) = (window * 10_000_000, (window + 1) * 10_000_000);
            let share = f64::from(cross) / f64::from(known);
            if start >= episode.started_at_us && end <= episode.ended_at_us {
                assert!(share > 0.9, "{} inside at {window}: {share}", episode.service);
            }
            if end <= episode.errors_started_at_us || start >= episode.ended_at_us {
                assert!(share < 0.2, "{} outside at {window}: {share}", episode.service);
            }
        }
    }
}

#[test]
fn episode_counts_match_the_parsed_lines() {
    let (outs, truth) = per_cluster(&Scenario::default());
    for episode in &truth.episodes {
        let records = records_of(&outs, &episode.source_cluster);
        let of_service: Vec<_> =
            records.iter().filter(|r| service(r).as_deref() == Some(&episode.service)).collect();
        let at = |record: &&&AccessLogRecord<'_>| record.ts.unwrap().micros();
        let during = of_service
            .iter()
            .filter(|r| (episode.started_at_us..episode.ended_at_us).contains(&at(r)));
        assert_eq!(during.count() as u64, episode.requests);
        let minute_before = episode.started_at_us - 60_000_000..episode.started_at_us;
        let errors = of_service
            .iter()
            .filter(|r| minute_before.contains(&at(r)) && r.response_code >= Some(500));
        assert_eq!(errors.count() as u64, episode.errors_before);
        assert!(episode.errors_before > 20, "{}", episode.errors_before);
        assert!(episode.cross_cluster_requests * 10 >= episode.requests * 9);
    }
}

#[test]
fn baseline_spill_is_ten_percent_and_reviews_go_a_quarter_to_cluster3() {
    let (outs, truth) = per_cluster(&Scenario { minutes: 4, ..Scenario::default() });
    assert!(truth.episodes.is_empty());
    let records = records_of(&outs, "cluster1");
    let share = |service_name: &str| {
        let totals = windows(&records, "cluster1", service_name).into_values();
        let (cross, known) = totals.fold((0, 0), |(c, k), (cross, known)| (c + cross, k + known));
        f64::from(cross) / f64::from(known)
    };
    let frontend = share("frontend.shop.svc.cluster.local");
    assert!((0.08..0.12).contains(&frontend), "{frontend}");
    let reviews = share("reviews.default.svc.cluster.local");
    assert!((0.22..0.28).contains(&reviews), "{reviews}");
    assert_eq!(share("ratings.default.svc.cluster.local"), 0.0);
}

#[test]
fn cluster3_reports_nothing_and_writers_must_match_the_clusters() {
    let (outs, truth) = per_cluster(&Scenario { minutes: 1, ..Scenario::default() });
    assert!(outs[2].is_empty());
    let lines: usize = outs.iter().map(|out| out.iter().filter(|&&b| b == b'\n').count()).sum();
    assert_eq!(lines as u64, truth.lines);
    assert!(run_per_cluster(&Scenario::default(), &mut [Vec::new()]).is_err());
}

#[test]
fn truth_round_trips_through_json_and_its_flows_add_up() {
    let (_, truth) =
        super::output(&Scenario { malformed_per_million: 1_000, ..scenario(OutputFormat::Json) });
    let json = serde_json::to_string(&truth).unwrap();
    assert_eq!(serde_json::from_str::<Truth>(&json).unwrap(), truth);
    let flows: u64 =
        truth.flows.iter().map(|f| f.local + f.cross_cluster + f.external + f.unknown).sum();
    assert_eq!(flows, truth.requests);
    assert_eq!(truth.requests + truth.malformed, truth.lines);
    assert!(json.contains(r#""format":"json""#));
}
