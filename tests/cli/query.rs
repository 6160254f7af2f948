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

#[test]
fn a_directory_without_meshlog_data_is_refused_with_its_path() {
    // It printed empty tables and exited 0.
    let dir = scratch("query-not-data");
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    for data_dir in [dir.to_path_buf(), dir.join("typo")] {
        let output =
            meshlog(&["query", "--data-dir", data_dir.to_str().unwrap(), "--saved", "failovers"]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        let message = stderr(&output);
        let expected = format!("meshlog: {} is not a meshlog data directory", data_dir.display());
        assert!(message.starts_with(&expected), "{message}");
        assert!(output.stdout.is_empty());
    }
    // Run from a folder without ./meshlog-data.
    let output = meshlog_in(&dir, &["query", "SELECT count(*) FROM requests"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("meshlog-data (in "), "{}", stderr(&output));
}

#[test]
fn an_empty_data_directory_made_by_ingest_answers_with_empty_tables() {
    let dir = scratch("query-empty-ingest");
    let data = dir.join("data");
    let empty = dir.join("empty.log");
    std::fs::write(&empty, "").unwrap();
    meshlog_ok(&["ingest", "--data-dir", data.to_str().unwrap(), empty.to_str().unwrap()]);
    let csv = meshlog_ok(&[
        "query",
        "--data-dir",
        data.to_str().unwrap(),
        "-o",
        "csv",
        "--saved",
        "failovers",
    ]);
    assert_eq!(csv.lines().count(), 1, "{csv}");
}

#[test]
fn relative_data_dirs_work_for_query_as_for_ingest() {
    // `--data-dir ../d` and a config's `data_dir = "../d"` could not be queried.
    let dir = scratch("query-relative");
    let work = dir.join("work");
    let conf = dir.join("conf");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&conf).unwrap();
    let log = sample("access-logs/istio-1.23.log");
    let ingested = meshlog_in(&work, &["ingest", "--data-dir", "../d", log.to_str().unwrap()]);
    assert!(ingested.status.success(), "{}", stderr(&ingested));
    let count = "SELECT count(*) AS n FROM requests";
    let absolute = dir.join("d");
    let expected =
        meshlog_ok(&["query", "--data-dir", absolute.to_str().unwrap(), "-o", "csv", count]);
    assert_ne!(expected, "n\n0\n");
    let output = meshlog_in(&work, &["query", "--data-dir", "../d", "-o", "csv", count]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
    std::fs::write(conf.join("mesh.toml"), "data_dir = \"../d\"\n").unwrap();
    let output = meshlog_in(&work, &["query", "--config", "../conf/mesh.toml", "-o", "csv", count]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}

#[test]
fn since_until_and_params_limit_a_named_query_and_bad_ones_exit_2() {
    let data = sample_data();
    let data = data.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["query", "--data-dir", data, "-o", "csv"];
        args.extend_from_slice(extra);
        meshlog(&args)
    };
    let all = run(&["--saved", "locality_split"]);
    let frontend =
        run(&["--saved", "locality_split", "--param", "service=frontend.mycompany.mesh"]);
    let frontend = String::from_utf8(frontend.stdout).unwrap();
    assert!(frontend.lines().skip(1).all(|line| line.contains(",frontend.mycompany.mesh,")));
    assert!(frontend.lines().count() < String::from_utf8(all.stdout).unwrap().lines().count());
    // The samples are from 2022-11-09 00:00 to 00:25 or so.
    let window = run(&[
        "--since",
        "2022-11-09T00:05:00Z",
        "--until",
        "2022-11-09T00:10:00Z",
        "SELECT min(ts) AS first, max(ts) AS last FROM requests",
    ]);
    assert!(window.status.success(), "{}", stderr(&window));
    let window = String::from_utf8(window.stdout).unwrap();
    let (first, last) = window.lines().nth(1).unwrap().split_once(',').unwrap();
    assert!(first >= "2022-11-09T00:05:00" && last < "2022-11-09T00:10:00", "{window}");
    let recent = run(&["--since", "10m", "--saved", "failovers"]);
    assert_eq!(String::from_utf8(recent.stdout).unwrap().lines().count(), 1);
    let refusals: [(&[&str], &str); 5] = [
        (
            &["--saved", "failovers", "--param", "servce=x"],
            "has no parameter \"servce\"; it takes: service",
        ),
        (
            &["--saved", "failover_evidence", "--param", "around=ten"],
            "--param around=\"ten\": expected an interval",
        ),
        (&["--saved", "failovers", "--since", "yesterday"], "--since \"yesterday\" is not a time"),
        (&["--saved", "failovers", "--since", "1h", "--until", "2h"], "the window is empty"),
        (&["--param", "service=x", "SELECT 1"], "--saved"),
    ];
    for (args, expected) in refusals {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{args:?}: {}", stderr(&output));
    }
}

#[test]
fn list_shows_every_query_with_its_parameters() {
    let listed = meshlog_ok(&["query", "--list"]);
    for query in meshlog::query::saved::SAVED_QUERIES {
        assert!(
            listed.contains(&format!("\n{} ", query.name)) || listed.starts_with(query.name),
            "{listed}"
        );
    }
    assert!(listed.contains("--param around=INTERVAL (default 2m)  how long before"), "{listed}");
    assert!(listed.contains("--param service=TEXT (default '')"), "{listed}");
}

#[test]
fn a_query_past_its_time_or_memory_limit_stops_with_an_error_naming_the_limit() {
    let data = sample_data().to_str().unwrap();
    // Every pair of rows, with their paths: the result alone is hundreds of MB.
    let pairs =
        "SELECT a.path, b.path, a.user_agent, b.user_agent FROM requests a, requests b, requests c";
    let output = meshlog(&["query", "--data-dir", data, "--memory-limit", "16MiB", pairs]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("its memory limit (--memory-limit)"), "{}", stderr(&output));
    // 47^6 (about 10^10) rows: minutes of work on any machine (47^4 took 0.8 s).
    let endless = "SELECT count(*) FROM requests a, requests b, requests c, requests d, requests e, requests f";
    let started = std::time::Instant::now();
    let output = meshlog(&["query", "--data-dir", data, "--timeout", "1s", endless]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("stopped after 1s, its time limit (--timeout)"),
        "{}",
        stderr(&output)
    );
    assert!(started.elapsed().as_secs() < 20, "took {:?}", started.elapsed());
    let bad = meshlog(&["query", "--data-dir", data, "--memory-limit", "lots", "SELECT 1"]);
    assert_eq!(bad.status.code(), Some(2));
}
