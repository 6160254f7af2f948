//! Time windows (`--since`, `--until`) and parameters (`--param`) on a real data
//! directory: the window cuts every table (rows by their time, `failovers` by overlap)
//! and prunes partitions, for any SQL and for the named queries unchanged.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::fixtures::TempDataDir;
use super::tests::{incident_dir, output, saved_csv, saved_csv_with, scanned_files, snapshots_dir};
use super::{OutputFormat, QueryEngine, TimeWindow};

fn window(since: Option<&str>, until: Option<&str>) -> TimeWindow {
    let now = DateTime::parse_from_rfc3339("2026-11-01T12:30:00Z").unwrap().with_timezone(&Utc);
    TimeWindow::parse(since, until, now).unwrap()
}

fn engine(dir: &TempDataDir, since: Option<&str>, until: Option<&str>) -> QueryEngine {
    QueryEngine::open_window(&dir.path, window(since, until)).unwrap()
}

fn csv(engine: &QueryEngine, sql: &str) -> String {
    output(engine, sql, OutputFormat::Csv)
}

#[test]
fn a_window_cuts_every_table_and_reads_only_its_hours() {
    let dir = snapshots_dir("window-tables");
    // 11:00 to 12:00, as "1h30m ago" to "30m ago".
    let engine = engine(&dir, Some("1h30m"), Some("30m"));
    let requests = "SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM requests";
    assert_eq!(
        csv(&engine, requests),
        "n,first,last\n6,2026-11-01T11:00:10Z,2026-11-01T11:01:40Z\n"
    );
    assert_eq!(
        scanned_files(&engine, "SELECT count(*) FROM requests"),
        BTreeSet::from(["requests/date=2026-11-01/hour=11/part-0.parquet".to_owned()])
    );
    // The ongoing frontend episode overlaps the window; the two that ended before do not.
    let episodes = "SELECT service, started_at FROM failovers ORDER BY started_at";
    assert_eq!(
        csv(&engine, episodes),
        "service,started_at\nfrontend.mycompany.mesh,2026-11-01T10:01:00Z\n"
    );
    assert_eq!(csv(&engine, "SELECT count(*) AS n FROM endpoint_stats"), "n\n0\n");
    assert!(scanned_files(&engine, "SELECT count(*) FROM endpoint_stats").is_empty());
}

#[test]
fn since_and_until_alone_and_their_edges() {
    let dir = incident_dir("window-edges");
    let count = "SELECT count(*) AS n FROM requests";
    // [since, until): a row at since is in, a row at until is out.
    let edges = engine(&dir, Some("2026-11-01T10:00:05Z"), Some("2026-11-01T10:00:50Z"));
    assert_eq!(csv(&edges, count), "n\n3\n");
    assert_eq!(csv(&engine(&dir, None, Some("2026-11-01")), count), "n\n1\n");
    let since = engine(&dir, Some("2026-11-01T11:01:00Z"), None);
    assert_eq!(csv(&since, count), "n\n4\n");
    // An episode that ended exactly at since still overlaps it.
    let at_end = engine(&dir, Some("2026-11-01T09:02:05Z"), Some("2026-11-01T09:30:00Z"));
    let services = "SELECT service FROM failovers ORDER BY service";
    assert_eq!(csv(&at_end, services), "service\nreviews.default.svc.cluster.local\n");
    let unbounded = engine(&dir, None, None);
    assert_eq!(csv(&unbounded, count), "n\n15\n");
}

#[test]
fn named_queries_take_the_window_without_a_change_to_their_sql() {
    let dir = snapshots_dir("window-saved");
    let all = QueryEngine::open(&dir.path).unwrap();
    let windowed = engine(&dir, Some("2026-11-01T10:00:00Z"), Some("2026-11-01T11:00:00Z"));
    let failovers = saved_csv(&windowed, "failovers");
    assert_eq!(failovers.lines().count(), 2, "{failovers}");
    assert!(failovers.contains("frontend.mycompany.mesh,cluster2,ongoing"), "{failovers}");
    // The window leaves out the 09:59:30 snapshot the whole data has.
    let evidence = saved_csv(&windowed, "failover_evidence");
    let everything = saved_csv(&all, "failover_evidence");
    assert!(everything.contains("2026-11-01T10:00:30Z,2026-11-01T10:00:40Z"), "{everything}");
    let snapshots = |csv: &str| {
        let before = csv.lines().filter(|line| line.contains(",before,10.112.0.69:8080,"));
        before
            .map(|line| line.split(',').nth(10).unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(snapshots(&everything), ["5"]);
    assert_eq!(snapshots(&evidence), ["4"]);
    let cross = saved_csv(&windowed, "cross_cluster_share");
    assert!(!cross.contains("T11:") && cross.contains("T10:01:00Z"), "{cross}");
}

#[test]
fn a_service_parameter_filters_every_named_query() {
    let dir = snapshots_dir("params-service");
    let engine = QueryEngine::open(&dir.path).unwrap();
    let reviews = [("service", "reviews.default.svc.cluster.local")];
    for query in super::saved::SAVED_QUERIES {
        let all = saved_csv(&engine, query.name);
        let filtered = saved_csv_with(&engine, query.name, &reviews);
        assert!(filtered.lines().count() < all.lines().count(), "{}: {filtered}", query.name);
        let services =
            filtered.lines().skip(1).filter(|line| line.contains("frontend.mycompany.mesh"));
        assert_eq!(services.count(), 0, "{}: {filtered}", query.name);
    }
    let quoted = saved_csv_with(&engine, "failovers", &[("service", "x' OR '1' = '1")]);
    assert_eq!(quoted.lines().count(), 1, "a value is a value, not SQL: {quoted}");
}

#[test]
fn the_around_parameter_widens_what_failover_evidence_reads() {
    let dir = snapshots_dir("params-around");
    let engine = QueryEngine::open(&dir.path).unwrap();
    // The snapshots each host had before its episode.
    let before = |csv: &str| {
        let rows = csv.lines().filter(|line| line.contains(",before,"));
        let host_and_count = rows.map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[6].to_owned(), fields[10].to_owned())
        });
        host_and_count.collect::<Vec<_>>()
    };
    let narrow = before(&saved_csv_with(&engine, "failover_evidence", &[("around", "30s")]));
    let wide = before(&saved_csv_with(&engine, "failover_evidence", &[("around", "1h")]));
    let pod_a = |rows: &[(String, String)]| {
        rows.iter().find(|(host, _)| host == "10.112.0.68:8080").map(|(_, n)| n.clone())
    };
    // 30 s before 10:01:00 holds only the 10:00:30 snapshot; an hour, all six.
    assert_eq!(pod_a(&narrow).as_deref(), Some("1"), "{narrow:?}");
    assert_eq!(pod_a(&wide).as_deref(), Some("6"), "{wide:?}");
    let reviews_pod =
        |rows: &[(String, String)]| rows.iter().any(|(host, _)| host == "10.112.0.70:9080");
    assert!(!reviews_pod(&narrow) && reviews_pod(&wide), "{narrow:?}\n{wide:?}");
}
