//! `meshlog ingest`: rows tagged and stored, rejects kept, config errors named,
//! and re-runs that neither duplicate nor lose a line.

use std::path::{Path, PathBuf};

use crate::support::*;

/// `meshlog ingest` with the sample mesh's config.
fn ingest(data_dir: &Path, extra: &[&str]) -> std::process::Output {
    ingest_with(&sample("mesh.toml"), data_dir, extra)
}

fn ingest_with(config: &Path, data_dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "ingest",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data_dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    meshlog(&args)
}

#[test]
fn ingest_tags_every_request_and_keeps_rejects() {
    let data = scratch("ingest-tags");
    let log = sample("access-logs/istio-1.23.log");
    let malformed = sample("access-logs/malformed.log");
    let output = ingest(
        &data,
        &["--source-cluster", "cluster1", log.to_str().unwrap(), malformed.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = stderr(&output);
    assert!(summary.contains("stored 13 rows and 6 rejects"), "{summary}");
    let rows = query_json(
        &data,
        "SELECT locality, dst_cluster, via_gateway, count(*) AS n FROM requests GROUP BY 1, 2, 3 ORDER BY 1, 2",
    );
    assert_eq!(
        serde_json::json!(rows),
        serde_json::json!([
            {"locality": "cross_cluster", "dst_cluster": "cluster2", "via_gateway": true, "n": 4},
            {"locality": "local", "dst_cluster": "cluster1", "via_gateway": false, "n": 7},
            {"locality": "unknown", "dst_cluster": null, "via_gateway": false, "n": 2},
        ])
    );
    let rejects = query_json(&data, "SELECT line, reason FROM rejects ORDER BY line");
    assert_eq!(rejects.len(), 6);
    assert!(
        rejects.iter().all(|row| row["reason"].as_str().is_some_and(|reason| !reason.is_empty()))
    );
}

#[test]
fn reingesting_a_file_changes_nothing_and_an_appended_file_continues() {
    let data = scratch("ingest-rerun");
    let log = data.join("gateway.log");
    let lines = std::fs::read_to_string(sample("access-logs/istio-1.23.log")).unwrap();
    let (first, rest) = lines.split_at(lines.match_indices('\n').nth(4).unwrap().0 + 1);
    std::fs::write(&log, first).unwrap();
    let args = ["--source-cluster", "cluster1", log.to_str().unwrap()];
    assert!(ingest(&data, &args).status.success());
    let again = ingest(&data, &args);
    assert!(stderr(&again).contains("stored 0 rows"), "{}", stderr(&again));
    std::fs::write(&log, lines.as_bytes()).unwrap();
    let appended = ingest(&data, &args);
    assert!(stderr(&appended).contains("stored 6 rows"), "{}", stderr(&appended));
    let count =
        query_json(&data, "SELECT count(*) AS n, count(DISTINCT request_id) AS ids FROM requests");
    assert_eq!(serde_json::json!(count), serde_json::json!([{"n": 11, "ids": 11}]));
    let _ = rest;
}

#[test]
fn a_config_error_names_the_key_and_line_and_exits_2() {
    let dir = scratch("ingest-bad-config");
    let config = dir.join("mesh.toml");
    std::fs::write(&config, "[[clusters]]\nname = \"a\"\npod_cidrs = [\"10.0.0.0/40\"]\n").unwrap();
    let output = meshlog(&["ingest", "--config", config.to_str().unwrap(), "-"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("mesh.toml:3: `clusters.pod_cidrs`"), "{}", stderr(&output));
}

#[test]
fn an_ambiguous_topology_names_both_entries_and_exits_2() {
    // The first cluster silently won.
    let dir = scratch("ingest-ambiguous");
    let config = dir.join("mesh.toml");
    let text = "[[clusters]]\nname = \"cluster1\"\npod_cidrs = [\"10.96.0.0/12\"]\n\
                [[clusters]]\nname = \"cluster2\"\npod_cidrs = [\"10.96.0.0/16\"]\n";
    std::fs::write(&config, text).unwrap();
    let data = dir.join("data");
    let output = meshlog(&[
        "ingest",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "-",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    let expected = format!(
        "mesh.toml:6: `clusters.pod_cidrs`: `10.96.0.0/16` of cluster2 overlaps `10.96.0.0/12` of cluster1 ({}:3)",
        config.display()
    );
    assert!(message.contains(&expected), "{message}");
}

#[test]
fn host_bits_in_a_cidr_are_a_warning_on_stderr() {
    let dir = scratch("ingest-host-bits");
    let config = dir.join("mesh.toml");
    std::fs::write(
        &config,
        "source_cluster = \"a\"\n[[clusters]]\nname = \"a\"\npod_cidrs = [\"10.112.0.5/16\"]\n",
    )
    .unwrap();
    let data = dir.join("data");
    let output = meshlog_with_stdin(
        &[
            "ingest",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "-",
        ],
        b"",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let expected = format!(
        "meshlog: warning: {}:4: `clusters.pod_cidrs`: `10.112.0.5/16` has host bits set: read as 10.112.0.0/16",
        config.display()
    );
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
}

#[test]
fn a_topology_without_source_cluster_is_refused() {
    let data = scratch("ingest-no-source");
    let output = ingest(&data, &[sample("access-logs/istio-1.23.log").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--source-cluster"), "{}", stderr(&output));
}

#[test]
fn ingest_reads_stdin_without_a_config() {
    let data = scratch("ingest-stdin");
    let input = std::fs::read(sample("access-logs/istio-1.9.log")).unwrap();
    let output = meshlog_with_stdin(&["ingest", "--data-dir", data.to_str().unwrap(), "-"], &input);
    assert!(output.status.success(), "{}", stderr(&output));
    let count = query_json(&data, "SELECT count(*) AS n FROM requests");
    let expected = input.iter().filter(|&&byte| byte == b'\n').count();
    assert_eq!(count[0]["n"], expected);
}

#[test]
fn a_relative_data_dir_and_config_resolve_from_the_working_directory() {
    let work = scratch("ingest-relative");
    std::fs::copy(sample("mesh.toml"), work.join("mesh.toml")).unwrap();
    let log = sample("access-logs/istio-1.23.log");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_meshlog"))
        .current_dir(&work)
        .args(["ingest", "--config", "mesh.toml", "--data-dir", "data"])
        .args(["--source-cluster", "cluster1", log.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(work.join("data/_meshlog/commits.jsonl").is_file());
}

/// Ten simulated minutes of the mesh in `dir/logs`: its config and cluster1's log.
fn simulated_cluster1(dir: &Path) -> (PathBuf, PathBuf) {
    let logs = dir.join("logs");
    meshlog_ok(&["simulate", "--out-dir", logs.to_str().unwrap(), "--minutes", "10"]);
    (logs.join("mesh.toml"), logs.join("cluster1.log"))
}

/// Ingests cluster1's `log` into `data` in commits of 1 000 rows.
fn ingest_by_thousands(config: &Path, data: &Path, log: &Path) -> std::process::Output {
    let args = ["--source-cluster", "cluster1", "--batch-rows", "1000", log.to_str().unwrap()];
    ingest_with(config, data, &args)
}

#[test]
fn a_failed_write_is_reported_as_itself_and_exits_1() {
    let dir = scratch("ingest-write-fails");
    let (config, log) = simulated_cluster1(&dir);
    // A file where the hour's partition directory must go makes every write fail,
    // while the reader still has batches to hand over (one per 1 000 rows).
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("requests")).unwrap();
    std::fs::write(data.join("requests/date=2026-11-01"), "in the way").unwrap();
    let output = ingest_by_thousands(&config, &data, &log);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("date=2026-11-01/hour=10"), "the failed write is named: {message}");
    assert!(!message.contains("committer thread stopped"), "{message}");
}

#[test]
fn batches_hold_batch_rows_lines_and_the_first_one_a_sixteenth() {
    let dir = scratch("ingest-batch-sizes");
    let (config, log) = simulated_cluster1(&dir);
    let lines = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!(lines > 3000, "the simulated log is long enough: {lines} lines");
    let output = ingest_by_thousands(&config, &dir.join("data"), &log);
    assert!(output.status.success(), "{}", stderr(&output));
    // 62 lines (1000 / 16), then 1000 at a time, the last batch what is left.
    let commits = 1 + (lines - 62).div_ceil(1000);
    let summary = stderr(&output);
    assert!(summary.contains(&format!("({commits} commits)")), "{lines} lines: {summary}");
}
