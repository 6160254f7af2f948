//! Admin snapshots through `meshlog ingest`: dumps told apart from access logs by their
//! content, `endpoint_stats` and `cluster_stats` rows tagged like requests, counter
//! deltas across runs (restarts included), unchanged files skipped, unreadable dumps
//! kept as rejects, and the failover evidence of a simulated mesh.

use std::path::{Path, PathBuf};

use crate::support::*;

fn ingest(data: &Path, extra: &[&str]) -> std::process::Output {
    let config = sample("mesh.toml");
    let mut args = vec!["ingest", "--config", config.to_str().unwrap()];
    args.extend(["--data-dir", data.to_str().unwrap(), "--source-cluster", "cluster1"]);
    args.extend_from_slice(extra);
    meshlog(&args)
}

fn ingest_ok(data: &Path, extra: &[&str]) -> String {
    let output = ingest(data, extra);
    assert!(output.status.success(), "{}", stderr(&output));
    stderr(&output)
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn every_dump_kind_is_recognised_beside_access_logs_and_tagged_like_requests() {
    let data = scratch("stats-kinds");
    let inputs = [
        "admin/clusters.json",
        "admin/clusters.txt",
        "admin/stats.txt",
        "admin/stats-prometheus.txt",
        "admin/istioctl-endpoints.txt",
        "admin/endpointShardz.json",
        "access-logs/istio-1.23.log",
    ]
    .map(sample);
    let summary = ingest_ok(&data, &inputs.iter().map(|p| path(p)).collect::<Vec<_>>());
    assert!(summary.contains("stored 11 rows"), "{summary}");
    assert!(summary.contains("admin snapshots: 6"), "{summary}");
    let kinds = query_json(&data, "SELECT DISTINCT dump_kind FROM endpoint_stats ORDER BY 1");
    assert_eq!(
        serde_json::json!(kinds),
        serde_json::json!([
            {"dump_kind": "clusters"}, {"dump_kind": "clusters-json"},
            {"dump_kind": "endpointshardz"}, {"dump_kind": "istioctl-endpoints"},
        ])
    );
    let gateway = query_json(
        &data,
        "SELECT DISTINCT priority, locality, dst_cluster, via_gateway, service FROM endpoint_stats \
         WHERE host = '34.168.157.2:15443' AND dump_kind = 'clusters-json' \
         AND service = 'frontend.mycompany.mesh'",
    );
    assert_eq!(
        serde_json::json!(gateway),
        serde_json::json!([{"priority": 1, "locality": "cross_cluster", "dst_cluster": "cluster2",
            "via_gateway": true, "service": "frontend.mycompany.mesh"}])
    );
    let ejected = query_json(
        &data,
        "SELECT DISTINCT health_flags, healthy, locality FROM endpoint_stats \
         WHERE host = '10.112.2.40:9080' AND dump_kind = 'clusters-json'",
    );
    assert_eq!(ejected.len(), 1);
    assert_eq!(ejected[0]["healthy"], false);
    assert_eq!(ejected[0]["locality"], "local");
    assert!(ejected[0]["health_flags"].as_str().unwrap().contains("failed_outlier_check"));
    let stats = query_json(
        &data,
        "SELECT DISTINCT dump_kind FROM cluster_stats WHERE kind = 'counter' ORDER BY 1",
    );
    assert_eq!(
        serde_json::json!(stats),
        serde_json::json!([{"dump_kind": "prometheus"}, {"dump_kind": "stats"}])
    );
    let again = ingest_ok(&data, &inputs.iter().map(|p| path(p)).collect::<Vec<_>>());
    assert!(again.contains("6 snapshot files already stored and unchanged"), "{again}");
    let rows = query_json(&data, "SELECT count(*) AS n FROM endpoint_stats");
    let first = query_json(&data, "SELECT count(DISTINCT ts) AS n FROM endpoint_stats");
    assert!(rows[0]["n"].as_i64().unwrap() > 0 && first[0]["n"].as_i64().unwrap() >= 1);
}

/// What operators paste, each read by its content alone (no `--kind`): istioctl rows
/// without their header (all three tables), `-o yaml`, jq'd `-o json`, and envoy-stats
/// `/clusters` text grep'd or pasted with its banner, a shell command and elisions.
#[test]
fn pasted_captures_are_read_by_content_into_endpoint_stats() {
    let data = scratch("stats-captures");
    let inputs = [
        "admin/istioctl-endpoints-grep.txt",
        "admin/istioctl-endpoints-old-grep.txt",
        "admin/istioctl-eds-grep.txt",
        "admin/istioctl-endpoints.yaml",
        "admin/istioctl-endpoints-jq.json",
        "admin/clusters-grep.txt",
        "admin/clusters-pasted.txt",
    ]
    .map(sample);
    let summary = ingest_ok(&data, &inputs.iter().map(|p| path(p)).collect::<Vec<_>>());
    assert!(summary.contains("admin snapshots: 7"), "{summary}");
    let kinds = query_json(
        &data,
        "SELECT dump_kind, count(*) AS n FROM endpoint_stats GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(
        serde_json::json!(kinds),
        serde_json::json!([
            {"dump_kind": "clusters", "n": 8}, {"dump_kind": "clusters-json", "n": 6},
            {"dump_kind": "clusters-yaml", "n": 11}, {"dump_kind": "istioctl-endpoints", "n": 22},
        ])
    );
    let gateway = query_json(
        &data,
        "SELECT DISTINCT priority, region, locality, dst_cluster, via_gateway FROM endpoint_stats \
         WHERE host = '34.168.157.2:15443' AND dump_kind = 'clusters-yaml'",
    );
    assert_eq!(
        serde_json::json!(gateway),
        serde_json::json!([{"priority": 1, "region": "us-west1", "locality": "cross_cluster",
            "dst_cluster": "cluster2", "via_gateway": true}])
    );
    let rejects = query_json(&data, "SELECT source, line, reason, raw FROM rejects");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert!(rejects[0]["source"].as_str().unwrap().ends_with("clusters-pasted.txt"));
    assert_eq!(
        (rejects[0]["line"].as_i64(), rejects[0]["reason"].as_str()),
        (Some(1), Some("unknown_line"))
    );
    assert!(rejects[0]["raw"].as_str().unwrap().starts_with("$ istioctl experimental envoy-stats"));
}

/// A `/clusters` text dump of one host with the given counters.
fn clusters_text(rq_total: u64, rq_error: u64, healthy: bool) -> String {
    let cluster = "outbound|80||frontend.mycompany.mesh";
    let host = "10.112.0.68:8080";
    let flags = if healthy { "healthy" } else { "/failed_outlier_check" };
    format!(
        "{cluster}::default_priority::max_connections::4294967295\n\
         {cluster}::{host}::rq_total::{rq_total}\n\
         {cluster}::{host}::rq_error::{rq_error}\n\
         {cluster}::{host}::rq_success::{}\n\
         {cluster}::{host}::health_flags::{flags}\n\
         {cluster}::{host}::priority::0\n",
        rq_total - rq_error
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn counters_become_deltas_across_runs_and_a_restart_counts_from_zero() {
    let data = scratch("stats-deltas");
    let snapshots = [
        ("2026-11-01T10:00:00Z", clusters_text(100, 1, true)),
        ("2026-11-01T10:00:30Z", clusters_text(160, 4, false)),
        ("2026-11-01T10:01:00Z", clusters_text(25, 0, true)),
    ];
    for (index, (at, text)) in snapshots.iter().enumerate() {
        let file = write(&data, &format!("gw.{index}.txt"), text);
        ingest_ok(&data, &["--proxy", "gw", "--at", at, path(&file)]);
    }
    let rows = query_json(
        &data,
        "SELECT rq_total, rq_total_delta, rq_error_delta, counter_reset, healthy \
         FROM endpoint_stats ORDER BY ts",
    );
    assert_eq!(
        serde_json::json!(rows),
        serde_json::json!([
            {"rq_total": 100, "rq_total_delta": null, "rq_error_delta": null, "counter_reset": false, "healthy": true},
            {"rq_total": 160, "rq_total_delta": 60, "rq_error_delta": 3, "counter_reset": false, "healthy": false},
            {"rq_total": 25, "rq_total_delta": 25, "rq_error_delta": 0, "counter_reset": true, "healthy": true},
        ])
    );
}

#[test]
fn an_unreadable_dump_is_a_reject_and_stdin_takes_kind_and_time_from_flags() {
    let data = scratch("stats-unreadable");
    let broken = write(&data, "broken.json", "{\"cluster_statuses\": [ {\"name\": ");
    let summary = ingest_ok(&data, &["--kind", "clusters-json", path(&broken)]);
    assert!(summary.contains("unreadable_dump"), "{summary}");
    let rejects = query_json(&data, "SELECT reason, source FROM rejects");
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["reason"], "unreadable_dump");
    let config = sample("mesh.toml");
    let output = meshlog_with_stdin(
        &[
            "ingest",
            "--config",
            path(&config),
            "--data-dir",
            path(&data),
            "--source-cluster",
            "cluster1",
            "--proxy",
            "gw",
            "--at",
            "2026-11-01T10:00:00Z",
            "-",
        ],
        clusters_text(7, 0, true).as_bytes(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let rows =
        query_json(&data, "SELECT proxy, dump_kind, CAST(ts AS VARCHAR) AS ts FROM endpoint_stats");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["proxy"].as_str(), rows[0]["dump_kind"].as_str()),
        (Some("gw"), Some("clusters"))
    );
    assert!(rows[0]["ts"].as_str().unwrap().starts_with("2026-11-01T10:00:00"), "{rows:?}");
    let bad_kind = ingest(&data, &["--kind", "nonsense", path(&broken)]);
    assert_eq!(bad_kind.status.code(), Some(2), "{}", stderr(&bad_kind));
}

/// Simulates ten minutes of the mesh in `dir`, lets `edit` change cluster1's admin
/// snapshots, ingests them with cluster1's log, and returns the data dir and the truth.
fn simulated_with_snapshots(dir: &Path, edit: impl Fn(&Path, &Value)) -> (PathBuf, Value) {
    meshlog_ok(&["simulate", "--minutes", "10", "--out-dir", path(dir)]);
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    let data = dir.join("data");
    let mut inputs = vec![dir.join("cluster1.log")];
    let admin = dir.join("admin/cluster1");
    inputs.extend(std::fs::read_dir(&admin).unwrap().map(|entry| entry.unwrap().path()));
    for snapshot in &inputs[1..] {
        edit(snapshot, &truth);
    }
    let config = dir.join("mesh.toml");
    let mut args = vec!["ingest", "--config", path(&config), "--data-dir", path(&data)];
    args.extend(["--source-cluster", "cluster1"]);
    args.extend(inputs.iter().map(|p| path(p)));
    meshlog_ok(&args);
    (data, truth)
}

fn saved_json(data: &Path, name: &str, params: &[&str]) -> Vec<Value> {
    let mut args = vec!["query", "--data-dir", path(data), "--output", "json", "--saved", name];
    for param in params {
        args.extend(["--param", param]);
    }
    serde_json::from_str::<Vec<Value>>(&meshlog_ok(&args)).unwrap()
}

#[test]
fn the_evidence_of_each_simulated_failover_is_lined_up_with_it() {
    let dir = scratch("stats-simulated");
    let (data, truth) = simulated_with_snapshots(&dir, |_, _| {});
    let saved = |name: &str| saved_json(&data, name, &[]);
    let evidence = saved("failover_evidence");
    let episodes = truth["episodes"].as_array().unwrap();
    assert!(!episodes.is_empty());
    for episode in episodes {
        let service = episode["service"].as_str().unwrap();
        let rows = |what: &str| {
            evidence
                .iter()
                .filter(|row| row["service"] == service && row["evidence"] == what)
                .collect::<Vec<_>>()
        };
        let failing = rows("local host failing checks");
        assert!(!failing.is_empty(), "{service}: no failing local host in {evidence:?}");
        assert!(failing.iter().all(|row| row["priority"] == 0 && row["locality"] == "local"));
        let remote = rows("remote host taking traffic");
        assert!(!remote.is_empty(), "{service}: no remote host taking traffic");
        assert!(remote.iter().all(|row| row["dst_cluster"] == row["target_cluster"]
            && row["priority"].as_i64().unwrap() >= 1
            && row["phase"] == "during"));
        assert!(!rows("local host recovered").is_empty(), "{service}: never recovered");
    }
    let health = saved("endpoint_health");
    let joined = health.iter().filter(|row| {
        row["rq_delta"].as_i64().is_some_and(|delta| delta > 0)
            && row["requests"].as_i64().is_some_and(|requests| requests > 0)
    });
    assert!(joined.count() > 10, "snapshots and requests never meet in endpoint_health");
}

/// Removes the first episode's ejected hosts from cluster1's `/clusters?format=json`
/// snapshots taken from when its errors started to when it ended, as when the local
/// deployment is scaled to zero; keeps each file's modification time (its snapshot time).
fn scale_first_episode_to_zero(snapshot: &Path, truth: &Value) {
    let episode = &truth["episodes"][0];
    let name = snapshot.file_name().unwrap().to_str().unwrap();
    let seconds: i64 = name.split('.').nth(1).unwrap().parse().unwrap();
    let micros = seconds * 1_000_000;
    let from = episode["errors_started_at_us"].as_i64().unwrap();
    if micros < from || micros > episode["ended_at_us"].as_i64().unwrap() {
        return;
    }
    let gone: Vec<&str> = episode["ejected_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|host| host.as_str().unwrap())
        .collect();
    let modified = std::fs::metadata(snapshot).unwrap().modified().unwrap();
    let mut dump: Value =
        serde_json::from_str(&std::fs::read_to_string(snapshot).unwrap()).unwrap();
    for cluster in dump["cluster_statuses"].as_array_mut().unwrap() {
        let Some(hosts) = cluster.get_mut("host_statuses").and_then(Value::as_array_mut) else {
            continue;
        };
        hosts.retain(|host| {
            let socket = &host["address"]["socket_address"];
            let address =
                format!("{}:{}", socket["address"].as_str().unwrap_or("-"), socket["port_value"]);
            !gone.contains(&address.as_str())
        });
    }
    std::fs::write(snapshot, serde_json::to_vec(&dump).unwrap()).unwrap();
    std::fs::File::options().write(true).open(snapshot).unwrap().set_modified(modified).unwrap();
}

#[test]
fn local_endpoints_scaled_to_zero_are_gone_from_eds_in_the_evidence() {
    // failover_evidence said nothing when the local endpoints simply disappeared.
    let dir = scratch("stats-scaled-to-zero");
    let (data, truth) = simulated_with_snapshots(&dir, scale_first_episode_to_zero);
    let episode = &truth["episodes"][0];
    let service = episode["service"].as_str().unwrap();
    let evidence = saved_json(&data, "failover_evidence", &[&format!("service={service}")]);
    let gone: Vec<&Value> =
        evidence.iter().filter(|row| row["evidence"] == "local host gone from EDS").collect();
    let hosts: std::collections::BTreeSet<&str> =
        gone.iter().map(|row| row["host"].as_str().unwrap()).collect();
    let ejected: std::collections::BTreeSet<&str> = episode["ejected_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|host| host.as_str().unwrap())
        .collect();
    assert_eq!(hosts, ejected, "{evidence:#?}");
    // Snapshots every 30 s; the errors (here: the scale-down) started at 10:02:15.
    for row in gone {
        assert_eq!(row["first_missing"], "2026-11-01T10:02:30Z", "{row}");
        assert_eq!(row["last_seen"], "2026-11-01T10:02:00Z", "{row}");
        assert_eq!((row["priority"].as_i64(), row["locality"].as_str()), (Some(0), Some("local")));
    }
    let remote = evidence.iter().filter(|row| row["evidence"] == "remote host taking traffic");
    assert!(remote.count() > 0, "{evidence:#?}");
}
