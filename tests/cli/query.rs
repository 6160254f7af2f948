//! `meshlog query`: golden results of every named query over the sample logs and two
//! `/clusters` snapshots (ingested with `samples/mesh.toml` as cluster1), and the
//! read-only guard.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::support::*;

/// The samples ingested once for all tests of this module.
fn sample_data() -> &'static PathBuf {
    static DATA: OnceLock<PathBuf> = OnceLock::new();
    DATA.get_or_init(|| {
        // Shared by every test of the module, so it outlives them all: a fixed
        // directory under Cargo's scratch space, recreated by each run.
        let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("query-samples");
        let _ = std::fs::remove_dir_all(&data);
        let config = sample("mesh.toml");
        let logs = ["istio-1.23.log", "istio-1.9.log", "istio-1.8.log", "hard-cases.log"]
            .map(|name| sample(&format!("access-logs/{name}")));
        let mut args = vec![
            "ingest",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--source-cluster",
            "cluster1",
        ];
        args.extend(logs.iter().map(|path| path.to_str().unwrap()));
        meshlog_ok(&args);
        // Two /clusters snapshots of one sidecar during the frontend failover of
        // istio-1.23.log, with fixed times (a checkout sets the files' mtimes).
        for (dump, at) in [("clusters.txt", "00:21:00"), ("clusters.json", "00:21:30")] {
            let dump = sample(&format!("admin/{dump}"));
            let at = format!("2022-11-09T{at}Z");
            let mut dump_args = args[..7].to_vec();
            dump_args.extend(["--proxy", "productpage-v1", "--at", &at, dump.to_str().unwrap()]);
            meshlog_ok(&dump_args);
        }
        data
    })
}

#[test]
fn every_named_query_over_the_samples_matches_its_golden_result() {
    let data = sample_data();
    // Every built-in query, so that a new one cannot ship without a golden result.
    for name in meshlog::query::saved::SAVED_QUERIES.iter().map(|query| query.name) {
        let csv = meshlog_ok(&[
            "query",
            "--data-dir",
            data.to_str().unwrap(),
            "--output",
            "csv",
            "--saved",
            name,
        ]);
        insta::assert_snapshot!(format!("saved_{name}"), csv);
    }
}

#[test]
fn writes_are_refused_and_nothing_is_written() {
    let data = sample_data();
    let before = std::fs::read_dir(data).unwrap().count();
    for sql in [
        "DROP TABLE requests",
        "COPY (SELECT 1) TO '/tmp/meshlog-copy.csv'",
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/tmp'",
    ] {
        let output = meshlog(&["query", "--data-dir", data.to_str().unwrap(), sql]);
        assert_eq!(output.status.code(), Some(2), "{sql}");
        assert!(stderr(&output).contains("read-only"), "{}", stderr(&output));
    }
    assert_eq!(std::fs::read_dir(data).unwrap().count(), before);
    assert!(!std::path::Path::new("/tmp/meshlog-copy.csv").exists());
}
