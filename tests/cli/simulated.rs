//! Ingest and query on simulated logs with known truth (`meshlog simulate
//! --out-dir`): every failover episode found and none invented, exact locality
//! and per-endpoint counts, crash safety under `kill -9`, and Parquet that DuckDB
//! and pyarrow read as meshlog does; the proxies' `/clusters?format=json` snapshots
//! named, dated and shaped as `meshlog ingest` will read them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, UNIX_EPOCH};

use crate::support::*;

/// Simulates into `dir`; returns the truth.
fn simulate(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["simulate", "--out-dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    meshlog_ok(&args);
    serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap()
}

/// The reporting clusters that have a log, with its path.
fn cluster_logs(dir: &Path) -> Vec<(String, PathBuf)> {
    ["cluster1", "cluster2", "cluster3"]
        .iter()
        .map(|name| (name.to_string(), dir.join(format!("{name}.log"))))
        .filter(|(_, path)| std::fs::metadata(path).is_ok_and(|meta| meta.len() > 0))
        .collect()
}

fn ingest_all(sim: &Path, data: &Path, extra: &[&str]) {
    for (cluster, log) in cluster_logs(sim) {
        let config = sim.join("mesh.toml");
        let mut args = vec![
            "ingest",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ];
        args.extend_from_slice(&["--source-cluster", &cluster, log.to_str().unwrap()]);
        args.extend_from_slice(extra);
        meshlog_ok(&args);
    }
}

fn micros(value: &Value) -> i64 {
    let text = value.as_str().expect("a timestamp");
    chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339").timestamp_micros()
}

#[test]
fn every_simulated_failover_is_found_within_one_window_and_none_invented() {
    let sim = scratch("sim-failovers");
    let truth = simulate(&sim.join("logs"), &["--minutes", "10"]);
    let data = sim.join("data");
    ingest_all(&sim.join("logs"), &data, &[]);
    let found = query_json(
        &data,
        "SELECT source_cluster, service, target_cluster, started_at, ended_at FROM failovers ORDER BY started_at",
    );
    let simulated = truth["episodes"].as_array().unwrap();
    assert_eq!(simulated.len(), 2, "the default scenario has two episodes");
    assert_eq!(found.len(), simulated.len(), "found {found:#?}");
    for (episode, truth) in found.iter().zip(simulated) {
        for key in ["source_cluster", "service", "target_cluster"] {
            assert_eq!(episode[key], truth[key], "{key}");
        }
        let window = 10_000_000;
        assert!(
            (micros(&episode["started_at"]) - truth["started_at_us"].as_i64().unwrap()).abs()
                <= window,
            "{episode} vs {truth}"
        );
        assert!(
            (micros(&episode["ended_at"]) - truth["ended_at_us"].as_i64().unwrap()).abs() <= window,
            "{episode} vs {truth}"
        );
    }
}

#[test]
fn locality_and_per_endpoint_counts_are_exact() {
    let sim = scratch("sim-counts");
    let truth = simulate(&sim.join("logs"), &["--minutes", "6", "--seed", "7"]);
    let data = sim.join("data");
    ingest_all(&sim.join("logs"), &data, &[]);
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for flow in truth["flows"].as_array().unwrap() {
        for locality in ["local", "cross_cluster", "external", "unknown"] {
            *expected.entry(locality.to_owned()).or_default() += flow[locality].as_u64().unwrap();
        }
    }
    let rows = query_json(&data, "SELECT locality, count(*) AS n FROM requests GROUP BY locality");
    let stored: BTreeMap<String, u64> = rows
        .iter()
        .map(|row| (row["locality"].as_str().unwrap().to_owned(), row["n"].as_u64().unwrap()))
        .collect();
    expected.retain(|_, count| *count > 0);
    assert_eq!(stored, expected);
    // Per endpoint: count the raw lines of cluster1's log with `meshlog parse`.
    let parsed = meshlog_ok(&[
        "parse",
        "--format",
        "istio",
        sim.join("logs/cluster1.log").to_str().unwrap(),
    ]);
    let mut per_host: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for line in parsed.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        let host = record["upstream_host"].as_str().unwrap_or("(none)").to_owned();
        let entry = per_host.entry(host).or_default();
        entry.0 += 1;
        entry.1 += u64::from(record["response_code"].as_u64().unwrap_or(0) >= 500);
    }
    let sql = "SELECT coalesce(upstream_host, '(none)') AS host, count(*) AS requests, \
               count(*) FILTER (WHERE response_code >= 500) AS errors FROM requests \
               WHERE source_cluster = 'cluster1' GROUP BY 1";
    let stored: BTreeMap<String, (u64, u64)> = query_json(&data, sql)
        .iter()
        .map(|row| {
            (
                row["host"].as_str().unwrap().to_owned(),
                (row["requests"].as_u64().unwrap(), row["errors"].as_u64().unwrap()),
            )
        })
        .collect();
    assert_eq!(stored, per_host);
    assert!(per_host["10.112.3.17:9080"].1 > 0, "the faulty details pod fails");
}

#[test]
fn kill_9_mid_ingest_then_a_rerun_stores_every_line_exactly_once() {
    let sim = scratch("sim-kill");
    let truth = simulate(
        &sim.join("logs"),
        &["--minutes", "3", "--rate", "2000", "--malformed-per-million", "2000"],
    );
    let log = sim.join("logs/cluster1.log");
    let data = sim.join("data");
    let config = sim.join("logs/mesh.toml");
    let args = [
        "ingest",
        "--quiet",
        "--batch-rows",
        "20000",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--source-cluster",
        "cluster1",
        log.to_str().unwrap(),
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshlog")).args(args).spawn().unwrap();
    let commits = data.join("_meshlog/commits.jsonl");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&commits).map_or(0, |text| text.lines().count()) < 2 {
        assert!(Instant::now() < deadline, "no commit within a minute");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    meshlog_ok(&args);
    let parsed = meshlog_ok(&["parse", "--format", "istio", log.to_str().unwrap()]);
    let (valid, rejected) = parsed.lines().fold((0u64, 0u64), |(valid, rejected), line| {
        let printed: Value = serde_json::from_str(line).unwrap();
        if printed.get("error").is_some() { (valid, rejected + 1) } else { (valid + 1, rejected) }
    });
    assert!(rejected > 0 && truth["malformed"].as_u64().unwrap() > 0);
    let count = query_json(
        &data,
        "SELECT count(*) AS n, count(DISTINCT request_id) AS ids FROM requests WHERE source_cluster = 'cluster1'",
    );
    assert_eq!(count[0]["n"].as_u64().unwrap(), valid);
    let rejects =
        query_json(&data, "SELECT count(*) AS n, count(DISTINCT line) AS lines FROM rejects");
    assert_eq!(
        (rejects[0]["n"].as_u64().unwrap(), rejects[0]["lines"].as_u64().unwrap()),
        (rejected, rejected)
    );
    assert_rollups_match_requests(&data);
}

#[test]
fn duckdb_and_pyarrow_read_the_same_rows_as_meshlog() {
    let sim = scratch("sim-readers");
    simulate(&sim.join("logs"), &["--minutes", "5", "--start", "2026-11-01T09:58:00Z"]);
    let data = sim.join("data");
    ingest_all(&sim.join("logs"), &data, &[]);
    let ours = query_json(
        &data,
        "SELECT count(*) AS rows, count(DISTINCT request_id) AS request_ids, sum(bytes_sent) AS bytes_sent, \
         count(*) FILTER (WHERE locality = 'cross_cluster') AS cross_cluster, count(DISTINCT hour) AS hours FROM requests",
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/read_parquet.py");
    let output = Command::new("python3").arg(script).arg(&data).output().expect("python3 runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let readers: Vec<Value> =
        stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(ours[0]["hours"], 2, "the run crosses an hour: two partitions");
    for reader in &readers {
        for key in ["rows", "request_ids", "bytes_sent", "cross_cluster"] {
            assert_eq!(reader[key], ours[0][key], "{key} read by {}", reader["reader"]);
        }
    }
    assert_eq!(readers[0]["hours"], 2);
    assert_eq!(readers[1]["ts_type"], "timestamp[us, tz=UTC]");
}

/// Every snapshot file under `dir/admin`, as `admin/<cluster>/<file>`.
fn snapshot_files(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let Ok(clusters) = std::fs::read_dir(dir.join("admin")) else { return files };
    for cluster in clusters {
        let cluster = cluster.unwrap().file_name().into_string().unwrap();
        for file in std::fs::read_dir(dir.join("admin").join(&cluster)).unwrap() {
            let name = file.unwrap().file_name().into_string().unwrap();
            files.push(format!("admin/{cluster}/{name}"));
        }
    }
    files.sort();
    files
}

/// Seconds since the epoch of a file's modification time.
fn mtime_seconds(path: &Path) -> (u64, u32) {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    let since_epoch = modified.duration_since(UNIX_EPOCH).unwrap();
    (since_epoch.as_secs(), since_epoch.subsec_nanos())
}

#[test]
fn simulate_writes_clusters_snapshots_named_and_dated_at_their_simulated_time() {
    let sim = scratch("sim-snapshots");
    let truth = simulate(&sim, &["--minutes", "5"]);
    let mut listed: Vec<String> = truth["snapshot_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file.as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    assert_eq!(truth["snapshot_every_s"], 30);
    assert_eq!(listed.len(), 5 * 10, "five reporting proxies, every 30 s for 5 minutes");
    assert_eq!(snapshot_files(&sim), listed, "truth.json lists exactly the files written");
    let start_s = truth["start_us"].as_i64().unwrap() / 1_000_000;
    let cluster_of: BTreeMap<&str, &str> = truth["proxies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|proxy| (proxy["name"].as_str().unwrap(), proxy["source_cluster"].as_str().unwrap()))
        .collect();
    for file in &listed {
        let [_, cluster, name] = file.split('/').collect::<Vec<_>>()[..] else { panic!("{file}") };
        let mut parts = name.split('.');
        let (proxy, seconds) = (parts.next().unwrap(), parts.next().unwrap());
        assert_eq!(parts.collect::<Vec<_>>(), ["clusters", "json"], "{file}");
        assert_eq!(cluster_of[proxy], cluster, "{file}");
        let at_s: i64 = seconds.parse().unwrap();
        assert!((at_s - start_s) % 30 == 0 && (30..=300).contains(&(at_s - start_s)), "{file}");
        assert_eq!(mtime_seconds(&sim.join(file)), (at_s as u64, 0), "{file}");
        let text = std::fs::read_to_string(sim.join(file)).unwrap();
        let document: Value = serde_json::from_str(&text).unwrap();
        assert!(document["cluster_statuses"].as_array().is_some_and(|c| c.len() >= 4), "{file}");
    }
    assert!(!sim.join("admin/cluster3").exists(), "cluster3 has no reporting proxy");
}

#[test]
fn snapshots_show_the_ejected_local_hosts_of_each_simulated_failover() {
    let sim = scratch("sim-snapshot-episodes");
    let truth = simulate(&sim, &["--minutes", "5", "--snapshot-every", "10"]);
    let start_s = truth["start_us"].as_i64().unwrap() / 1_000_000;
    for episode in truth["episodes"].as_array().unwrap() {
        // The first snapshot (every 10 s from the start) after the failover began.
        let started_s = episode["started_at_us"].as_i64().unwrap() / 1_000_000;
        let at_s = start_s + ((started_s - start_s) / 10 + 1) * 10;
        let proxy = episode["proxy"].as_str().unwrap();
        let file = sim.join(format!(
            "admin/{}/{proxy}.{at_s}.clusters.json",
            episode["source_cluster"].as_str().unwrap()
        ));
        let document: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let clusters = document["cluster_statuses"].as_array().unwrap();
        let cluster = clusters.iter().find(|c| c["name"] == episode["upstream_cluster"]).unwrap();
        for host in cluster["host_statuses"].as_array().unwrap() {
            let socket = &host["address"]["socket_address"];
            let address =
                format!("{}:{}", socket["address"].as_str().unwrap(), socket["port_value"]);
            let local = episode["ejected_hosts"].as_array().unwrap().iter().any(|h| *h == address);
            let ejected = host["health_status"]["failed_outlier_check"] == true;
            assert_eq!(ejected, local, "{address} in {}", file.display());
            assert_eq!(
                host.get("priority").is_none(),
                local,
                "{address}: local hosts have priority 0"
            );
        }
    }
}

#[test]
fn snapshot_every_0_and_stdout_write_no_snapshots() {
    let sim = scratch("sim-no-snapshots");
    let truth = simulate(&sim.join("logs"), &["--minutes", "1", "--snapshot-every", "0"]);
    assert_eq!(truth["snapshot_files"].as_array().map(Vec::len), Some(0));
    assert!(!sim.join("logs/admin").exists());
    let output = Command::new(env!("CARGO_BIN_EXE_meshlog"))
        .args(["simulate", "--minutes", "1"])
        .current_dir(&sim)
        .output()
        .unwrap();
    assert!(output.status.success() && !output.stdout.is_empty());
    let left: Vec<_> =
        std::fs::read_dir(&sim).unwrap().map(|entry| entry.unwrap().file_name()).collect();
    assert_eq!(left, ["logs"], "stdout mode writes nothing else");
}
