//! The simulator's scenarios (`meshlog simulate --scenario`) through the real binary:
//! a steady split is no failover; a scale to zero, a failing gateway and a collapsing
//! split are each the simulated episode, found by `ingest` and explained by
//! `failover_evidence` from the proxies' own `/clusters` snapshots.

use std::path::Path;

use crate::support::*;

/// Simulates `scenario` into `dir/logs` with `extra` flags and ingests every log and
/// snapshot of cluster1 into `dir/data`; returns the truth.
fn simulate_and_ingest(dir: &Path, scenario: &str, extra: &[&str]) -> Value {
    let logs = dir.join("logs");
    let mut args = vec!["simulate", "--scenario", scenario, "--out-dir", logs.to_str().unwrap()];
    args.extend_from_slice(extra);
    meshlog_ok(&args);
    let mut inputs = vec![logs.join("cluster1.log")];
    if let Ok(snapshots) = std::fs::read_dir(logs.join("admin/cluster1")) {
        inputs.extend(snapshots.map(|entry| entry.unwrap().path()));
    }
    let (config, data) = (logs.join("mesh.toml"), dir.join("data"));
    let mut ingest = vec!["ingest", "--config", config.to_str().unwrap()];
    ingest.extend(["--data-dir", data.to_str().unwrap(), "--source-cluster", "cluster1"]);
    ingest.extend(inputs.iter().map(|path| path.to_str().unwrap()));
    meshlog_ok(&ingest);
    serde_json::from_slice(&std::fs::read(logs.join("truth.json")).unwrap()).unwrap()
}

fn micros(value: &Value) -> i64 {
    let text = value.as_str().expect("a timestamp");
    chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339").timestamp_micros()
}

/// The one failover found is the simulated one, start and end within a window.
fn the_one_episode(data: &Path, truth: &Value) -> Value {
    let found = query_json(data, "SELECT * FROM failovers");
    let simulated = truth["episodes"].as_array().unwrap();
    assert_eq!((found.len(), simulated.len()), (1, 1), "found {found:#?}");
    let (episode, simulated) = (&found[0], &simulated[0]);
    assert_eq!(episode["target_cluster"], simulated["target_cluster"]);
    for (found, truth) in [("started_at", "started_at_us"), ("ended_at", "ended_at_us")] {
        let gap = micros(&episode[found]) - simulated[truth].as_i64().unwrap();
        assert!(gap.abs() <= 10_000_000, "{found}: {episode} vs {simulated}");
    }
    episode.clone()
}

#[test]
fn a_steady_split_without_locality_load_balancing_is_no_failover() {
    let dir = scratch("scenario-split");
    // frontend at about 5 requests/s, half of it to cluster2, for half an hour.
    let extra = ["--rate", "22", "--minutes", "30", "--snapshot-every", "0"];
    let truth = simulate_and_ingest(&dir, "split", &extra);
    assert_eq!(truth["episodes"], serde_json::json!([]));
    let share = query_json(
        &dir.join("data"),
        "SELECT avg(CASE WHEN locality = 'cross_cluster' THEN 1.0 ELSE 0.0 END) AS share \
         FROM requests WHERE service LIKE 'frontend.%' AND source_cluster = 'cluster1'",
    );
    let share = share[0]["share"].as_f64().unwrap();
    assert!((0.45..0.55).contains(&share), "a 50/50 split: {share}");
    assert_eq!(query_json(&dir.join("data"), "SELECT * FROM failovers"), Vec::<Value>::new());
}

#[test]
fn a_scale_to_zero_is_one_failover_explained_by_the_vanished_local_pods() {
    let dir = scratch("scenario-scale-to-zero");
    let truth = simulate_and_ingest(&dir, "scale-to-zero", &["--minutes", "10"]);
    let episode = the_one_episode(&dir.join("data"), &truth);
    assert_eq!(episode["errors_before"], 0, "{episode}");
    let rows = meshlog_ok(&[
        "query",
        "--data-dir",
        dir.join("data").to_str().unwrap(),
        "--output",
        "json",
        "--saved",
        "failover_evidence",
    ]);
    let rows: Vec<Value> = serde_json::from_str(&rows).unwrap();
    let mut gone: Vec<&str> = rows
        .iter()
        .filter(|row| row["evidence"].as_str().is_some_and(|e| e.contains("gone from EDS")))
        .map(|row| row["host"].as_str().unwrap())
        .collect();
    gone.sort_unstable();
    gone.dedup();
    let vanished: Vec<&str> = truth["episodes"][0]["vanished_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(gone, vanished, "{rows:#?}");
}

#[test]
fn a_failing_gateway_moves_frontend_on_to_cluster3() {
    let dir = scratch("scenario-gateway");
    let truth = simulate_and_ingest(&dir, "gateway-failure", &["--minutes", "12"]);
    let episode = the_one_episode(&dir.join("data"), &truth);
    assert_eq!(episode["target_cluster"], "cluster3");
    assert_eq!(episode["baseline_cross_cluster_share"], 1.0);
    assert_eq!(episode["errors_before_flags"], "UF,URX", "{episode}");
}

#[test]
fn a_split_whose_local_half_collapses_is_one_failover() {
    let dir = scratch("scenario-split-collapse");
    let truth = simulate_and_ingest(&dir, "split-collapse", &["--minutes", "12"]);
    let episode = the_one_episode(&dir.join("data"), &truth);
    let baseline = episode["baseline_cross_cluster_share"].as_f64().unwrap();
    assert!((baseline - 0.5).abs() < 0.05, "{episode}");
    assert!(episode["errors_before"].as_i64().unwrap() > 0, "{episode}");
}

#[test]
fn an_unknown_scenario_is_a_usage_error_naming_the_known_ones() {
    let output = meshlog(&["simulate", "--scenario", "chaos", "--minutes", "1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("split-collapse"), "{}", stderr(&output));
}

/// `line` (an Istio text line) with its start time moved by `shift`, or set to `at`.
fn restamped(line: &str, shift: chrono::Duration, at: Option<&str>) -> String {
    let close = line.find(']').unwrap();
    let stamp = match at {
        Some(at) => at.to_owned(),
        None => {
            let ts = chrono::DateTime::parse_from_rfc3339(&line[1..close]).unwrap() + shift;
            ts.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        }
    };
    format!("[{stamp}{}", &line[close..])
}

fn ingest(config: &Path, data: &Path, cluster: &str, log: &Path) -> String {
    let args = [
        "ingest",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--source-cluster",
        cluster,
        log.to_str().unwrap(),
    ];
    let output = meshlog(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    stderr(&output)
}

#[test]
fn skewed_clocks_neither_move_nor_hide_episodes_and_every_line_is_stored() {
    let dir = scratch("scenario-skew");
    let logs = dir.join("logs");
    meshlog_ok(&["simulate", "--out-dir", logs.to_str().unwrap(), "--snapshot-every", "0"]);
    let config = logs.join("mesh.toml");
    let episodes = "SELECT source_cluster, service, target_cluster, started_at, ended_at, requests, \
                    errors_before FROM failovers ORDER BY started_at";
    ingest(&config, &dir.join("clean"), "cluster1", &logs.join("cluster1.log"));
    let clean = query_json(&dir.join("clean"), episodes);
    assert_eq!(clean.len(), 2, "{clean:#?}");

    // One line six minutes ahead, two dated 2099, one dated 1970.
    let text = std::fs::read_to_string(logs.join("cluster1.log")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let n = lines.len();
    let zero = chrono::Duration::zero();
    let skewed = [
        (n / 4, restamped(&lines[n / 4], chrono::Duration::minutes(6), None)),
        (n / 3, restamped(&lines[n / 3], zero, Some("2099-01-01T00:00:00.000Z"))),
        (n / 2, restamped(&lines[n / 2], zero, Some("2099-01-01T00:00:01.000Z"))),
        (2 * n / 3, restamped(&lines[2 * n / 3], zero, Some("1970-01-01T00:00:00.000Z"))),
    ];
    for (at, line) in skewed.into_iter().rev() {
        lines.insert(at, line);
    }
    let skewed_log = dir.join("cluster1-skewed.log");
    std::fs::write(&skewed_log, lines.join("\n") + "\n").unwrap();
    let data = dir.join("skewed");
    let summary = ingest(&config, &data, "cluster1", &skewed_log);
    assert!(summary.contains("out of step"), "{summary}");
    // A whole source cluster whose clock is 30 years ahead keeps its own time.
    let years = chrono::Duration::days(30 * 365);
    let cluster2 = std::fs::read_to_string(logs.join("cluster2.log")).unwrap();
    let shifted: Vec<String> = cluster2.lines().map(|line| restamped(line, years, None)).collect();
    std::fs::write(dir.join("cluster2-skewed.log"), shifted.join("\n") + "\n").unwrap();
    ingest(&config, &data, "cluster2", &dir.join("cluster2-skewed.log"));

    let ours = query_json(
        &data,
        &episodes.replace("FROM failovers", "FROM failovers WHERE source_cluster = 'cluster1'"),
    );
    assert_eq!(ours, clean, "episodes unchanged");
    let rows = query_json(&data, "SELECT count(*) AS n FROM requests");
    assert_eq!(rows[0]["n"], serde_json::json!(lines.len() + shifted.len()), "every line stored");
    let future = query_json(&data, "SELECT count(*) AS n FROM requests WHERE date = '2099-01-01'");
    assert_eq!(future[0]["n"], 2, "in their own partition");
}
