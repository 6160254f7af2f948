//! End-to-end tests of the query module on a real data directory (see
//! [`super::fixtures`]): time-based partition pruning, the read-only guard, the three
//! output formats, and a golden result for every named query. Time windows and
//! parameters are in `window_tests`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;

use super::fixtures::{self, TempDataDir};
use super::limits::QueryLimits;
use super::saved::SAVED_QUERIES;
use super::{OutputFormat, QueryEngine, QueryError, SavedQuery, TimeWindow};
use crate::storage::layout::META_DIR;

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

pub(super) fn incident_dir(test: &str) -> TempDataDir {
    let dir = TempDataDir::new(test);
    fixtures::write_requests(&dir.path, &fixtures::incident());
    fixtures::write_failovers(&dir.path);
    dir
}

/// The incident with the proxies' snapshots around it.
pub(super) fn snapshots_dir(test: &str) -> TempDataDir {
    let dir = incident_dir(test);
    fixtures::snapshots::write_endpoint_stats(&dir.path, &fixtures::snapshots::endpoints());
    dir
}

/// An empty data directory, as `meshlog ingest` leaves it before any commit.
pub(super) fn empty_dir(test: &str) -> TempDataDir {
    let dir = TempDataDir::new(test);
    std::fs::create_dir_all(dir.path.join(META_DIR)).unwrap();
    dir
}

pub(super) fn output(engine: &QueryEngine, sql: &str, format: OutputFormat) -> String {
    let mut out = Vec::new();
    runtime().block_on(engine.run(sql, format, &mut out)).unwrap();
    String::from_utf8(out).unwrap()
}

/// A named query's result as CSV, with `params` as `--param` gives them.
pub(super) fn saved_csv_with(engine: &QueryEngine, name: &str, params: &[(&str, &str)]) -> String {
    let given: Vec<(String, String)> =
        params.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
    let query = SavedQuery::find(name).unwrap().bind(&given).unwrap();
    let mut out = Vec::new();
    runtime().block_on(engine.run_saved(&query, OutputFormat::Csv, &mut out)).unwrap();
    String::from_utf8(out).unwrap()
}

pub(super) fn saved_csv(engine: &QueryEngine, name: &str) -> String {
    saved_csv_with(engine, name, &[])
}

/// The distinct files the physical plan of `sql` reads.
pub(super) fn scanned_files(engine: &QueryEngine, sql: &str) -> BTreeSet<String> {
    let plan = runtime().block_on(async {
        let frame = engine.sql(sql).await.unwrap();
        frame.create_physical_plan().await.unwrap()
    });
    let mut files = BTreeSet::new();
    collect_scanned(&plan, &mut files);
    files
}

fn collect_scanned(plan: &Arc<dyn ExecutionPlan>, files: &mut BTreeSet<String>) {
    let config = plan
        .downcast_ref::<DataSourceExec>()
        .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>());
    for group in config.map(|config| config.file_groups.as_slice()).unwrap_or_default() {
        for file in group.iter() {
            let path = file.object_meta.location.as_ref();
            let tables = ["/requests/", "/endpoint_stats/", "/failovers/"];
            let start = tables.iter().find_map(|table| path.find(table)).map_or(0, |at| at + 1);
            files.insert(path[start..].to_owned());
        }
    }
    plan.children().into_iter().for_each(|child| collect_scanned(child, files));
}

#[test]
fn a_narrow_time_filter_reads_only_its_hours() {
    let dir = incident_dir("pruning");
    let engine = QueryEngine::open(&dir.path).unwrap();
    let all = scanned_files(&engine, "SELECT count(*) FROM requests");
    assert_eq!(all.len(), 5, "{all:?}");
    let one_hour = "SELECT count(*) AS n FROM requests \
        WHERE ts >= '2026-11-01T11:00:00Z' AND ts < '2026-11-01T12:00:00Z'";
    let files = scanned_files(&engine, one_hour);
    assert_eq!(
        files,
        BTreeSet::from(["requests/date=2026-11-01/hour=11/part-0.parquet".to_owned()])
    );
    assert_eq!(output(&engine, one_hour, OutputFormat::Csv), "n\n6\n");
    let between = "SELECT count(*) AS n FROM requests \
        WHERE ts BETWEEN '2026-11-01T10:00:30Z' AND '2026-11-01T11:00:10Z'";
    assert_eq!(scanned_files(&engine, between).len(), 3);
    assert_eq!(output(&engine, between, OutputFormat::Csv), "n\n6\n");
}

#[test]
fn now_minus_interval_and_partition_columns_prune() {
    let dir = incident_dir("pruning-now");
    let engine = QueryEngine::open(&dir.path).unwrap();
    let recent = "SELECT count(*) FROM requests WHERE ts > now() - INTERVAL '1 hour' \
        AND ts < TIMESTAMP '2000-01-01T00:00:00Z'";
    assert!(scanned_files(&engine, recent).is_empty());
    let old = "SELECT count(*) FROM requests WHERE ts < now() - INTERVAL '36500 days'";
    assert!(scanned_files(&engine, old).is_empty());
    let by_date = "SELECT date, hour, count(*) AS n FROM requests WHERE date = '2026-10-31' GROUP BY date, hour";
    assert_eq!(scanned_files(&engine, by_date).len(), 1);
    assert_eq!(output(&engine, by_date, OutputFormat::Csv), "date,hour,n\n2026-10-31,23,1\n");
    let by_hour = "SELECT count(*) AS n FROM requests WHERE hour = '10' OR hour = '12'";
    assert_eq!(scanned_files(&engine, by_hour).len(), 3);
    assert_eq!(output(&engine, by_hour, OutputFormat::Csv), "n\n8\n");
}

#[test]
fn missing_tables_are_empty_and_meshlog_files_are_never_read() {
    let dir = TempDataDir::new("empty");
    std::fs::create_dir_all(dir.path.join("_meshlog")).unwrap();
    std::fs::write(dir.path.join("_meshlog/commit.parquet"), "not parquet").unwrap();
    let hour = dir.path.join("requests/date=2026-11-01/hour=10");
    std::fs::create_dir_all(&hour).unwrap();
    std::fs::write(hour.join(".part-1.parquet"), "half written").unwrap();
    std::fs::write(hour.join("part-1.parquet.tmp"), "half written").unwrap();
    let engine = QueryEngine::open(&dir.path).unwrap();
    for table in ["requests", "rejects", "failovers"] {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        assert_eq!(output(&engine, &sql, OutputFormat::Csv), "n\n0\n", "{table}");
    }
    let columns = "SELECT column_name, data_type FROM information_schema.columns \
        WHERE table_name = 'rejects' ORDER BY ordinal_position";
    insta::assert_snapshot!("empty_rejects_columns", output(&engine, columns, OutputFormat::Csv));
}

/// `rejects` gained `lines` (input lines a reject covers); files written before have
/// no such column and read it as NULL.
#[test]
fn a_rejects_file_from_before_the_lines_column_reads_it_as_null() {
    use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
    let dir = TempDataDir::new("old-rejects");
    let text = |value: &str| -> ArrayRef { Arc::new(StringArray::from(vec![value])) };
    let int = |value: i64| -> ArrayRef { Arc::new(Int64Array::from(vec![value])) };
    let ts = TimestampMicrosecondArray::from(vec![fixtures::micros("2026-11-01T10:00:00Z")])
        .with_timezone("UTC");
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("ts_ingested", Arc::new(ts)),
        ("source_cluster", text("cluster1")),
        ("source", text("a.log")),
        ("offset", int(420)),
        ("line", int(3)),
        ("reason", text("unexpected_text")),
        ("error", text("expected a date")),
        ("raw", text("garbage")),
    ];
    let old = RecordBatch::try_from_iter(columns).unwrap();
    fixtures::write_parquet(&dir.path.join("rejects/date=2026-11-01/hour=10/old.parquet"), old);
    let engine = QueryEngine::open(&dir.path).unwrap();
    let sql = r#"SELECT "offset", line, lines, raw FROM rejects"#;
    assert_eq!(output(&engine, sql, OutputFormat::Csv), "offset,line,lines,raw\n420,3,,garbage\n");
}

#[test]
fn writes_are_refused_and_write_nothing() {
    let dir = incident_dir("read-only");
    let before = dir.files();
    let engine = QueryEngine::open(&dir.path).unwrap();
    let out = dir.path.join("out");
    let refused = [
        format!("COPY (SELECT * FROM requests) TO '{}/copy.parquet'", out.display()),
        format!("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{}/'", out.display()),
        "CREATE TABLE t AS SELECT * FROM requests".to_owned(),
        "CREATE VIEW v AS SELECT 1".to_owned(),
        "DROP TABLE requests".to_owned(),
        "INSERT INTO requests SELECT * FROM requests".to_owned(),
        "DELETE FROM failovers".to_owned(),
        "SET datafusion.execution.target_partitions = 1".to_owned(),
        format!("EXPLAIN ANALYZE COPY (SELECT 1) TO '{}/x.csv'", out.display()),
    ];
    for sql in &refused {
        let error = runtime().block_on(engine.sql(sql)).err();
        let message = error.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(matches!(error, Some(QueryError::ReadOnly { .. })), "{sql}: {message}");
        assert!(
            message.contains("read-only") && message.contains("nothing was written"),
            "{message}"
        );
    }
    assert_eq!(dir.files(), before);
    assert!(!out.exists());
    let still_there = "SELECT count(*) AS n FROM requests";
    assert_eq!(output(&engine, still_there, OutputFormat::Csv), "n\n15\n");
}

/// A cross join emits one batch per row of its build side before it reads its other
/// input again, so a join with no yield point of its own spins on its worker: the
/// time limit (and a client's cancel) must still stop it.
#[test]
fn a_join_that_never_waits_on_its_input_still_stops_at_its_time_limit() {
    let dir = empty_dir("endless-join");
    let limits = QueryLimits { timeout: Duration::from_secs(1), ..QueryLimits::default() };
    let engine = QueryEngine::open_with(&dir.path, TimeWindow::ALL, limits).unwrap();
    let endless = "SELECT count(*) FROM range(0, 10000000) a, range(0, 1000000000) b";
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = runtime().block_on(engine.collect(endless));
        let _ = sender.send(result.err());
    });
    let error = receiver.recv_timeout(Duration::from_secs(60)).expect("ran on past 60 s");
    assert!(matches!(error, Some(QueryError::Timeout { .. })), "{error:?}");
}

/// Each named query with a variant over the rollups gives, from the rollups alone
/// (the `requests` files deleted), the rows it gives over `requests`; a window that
/// cuts a minute in two reads `requests`.
#[test]
fn named_queries_read_the_rollups_and_answer_what_they_answer_over_requests() {
    let raw = incident_dir("rollups-raw");
    let rolled = incident_dir("rollups-rolled");
    fixtures::write_rollups(&rolled.path, &fixtures::incident());
    std::fs::remove_dir_all(rolled.path.join("requests")).unwrap();
    let (raw_engine, rolled_engine) =
        (QueryEngine::open(&raw.path).unwrap(), QueryEngine::open(&rolled.path).unwrap());
    let with_rollups = SAVED_QUERIES.iter().filter(|query| query.rollup_sql.is_some());
    for query in with_rollups {
        for params in [&[][..], &[("service", "frontend.mycompany.mesh")][..]] {
            let expected = saved_csv_with(&raw_engine, query.name, params);
            assert!(expected.lines().count() > 1, "{}: no rows", query.name);
            assert_eq!(
                saved_csv_with(&rolled_engine, query.name, params),
                expected,
                "{}",
                query.name
            );
        }
    }
    let cut = TimeWindow::parse(Some("2026-11-01T10:00:30Z"), None, chrono::Utc::now()).unwrap();
    let engine = QueryEngine::open_window(&rolled.path, cut).unwrap();
    assert_eq!(saved_csv(&engine, "cross_cluster_share").lines().count(), 1, "only the header");
    let whole = TimeWindow::parse(Some("2026-11-01T10:00:00Z"), None, chrono::Utc::now()).unwrap();
    let engine = QueryEngine::open_window(&rolled.path, whole).unwrap();
    assert!(saved_csv(&engine, "cross_cluster_share").lines().count() > 1);
}

#[test]
fn plan_errors_name_the_query() {
    let dir = empty_dir("plan-error");
    let engine = QueryEngine::open(&dir.path).unwrap();
    let error = runtime().block_on(engine.sql("SELECT nope FROM requests")).err().unwrap();
    assert!(matches!(error, QueryError::Plan { .. }));
    assert_eq!(error.to_string(), "cannot plan query \"SELECT nope FROM requests\"");
}

#[test]
fn output_formats() {
    let dir = incident_dir("output");
    let engine = QueryEngine::open(&dir.path).unwrap();
    let sql = "SELECT ts, upstream_host, response_code, via_gateway FROM requests \
        WHERE ts BETWEEN '2026-11-01T10:01:10Z' AND '2026-11-01T10:01:30Z' ORDER BY ts";
    insta::assert_snapshot!("output_table", output(&engine, sql, OutputFormat::Table));
    insta::assert_snapshot!("output_csv", output(&engine, sql, OutputFormat::Csv));
    insta::assert_snapshot!("output_json", output(&engine, sql, OutputFormat::Json));
    let none = "SELECT service FROM requests WHERE ts < '2000-01-01T00:00:00Z'";
    assert_eq!(output(&engine, none, OutputFormat::Json), "[]\n");
    assert_eq!(output(&engine, none, OutputFormat::Csv), "service\n");
}

#[test]
fn saved_failovers() {
    let dir = incident_dir("saved-failovers");
    let engine = QueryEngine::open(&dir.path).unwrap();
    insta::assert_snapshot!("saved_failovers", saved_csv(&engine, "failovers"));
}

#[test]
fn saved_endpoint_errors() {
    let dir = incident_dir("saved-endpoint-errors");
    let engine = QueryEngine::open(&dir.path).unwrap();
    insta::assert_snapshot!("saved_endpoint_errors", saved_csv(&engine, "endpoint_errors"));
}

#[test]
fn saved_cross_cluster_share() {
    let dir = incident_dir("saved-cross-cluster-share");
    let engine = QueryEngine::open(&dir.path).unwrap();
    insta::assert_snapshot!("saved_cross_cluster_share", saved_csv(&engine, "cross_cluster_share"));
}

#[test]
fn saved_locality_split() {
    let dir = incident_dir("saved-locality-split");
    let engine = QueryEngine::open(&dir.path).unwrap();
    insta::assert_snapshot!("saved_locality_split", saved_csv(&engine, "locality_split"));
}

#[test]
fn locality_split_shows_a_split_across_hosts_as_separate_services() {
    let dir = TempDataDir::new("saved-locality-split-hosts");
    fixtures::write_requests(&dir.path, &fixtures::split());
    let engine = QueryEngine::open(&dir.path).unwrap();
    insta::assert_snapshot!("saved_locality_split_hosts", saved_csv(&engine, "locality_split"));
}

#[test]
fn saved_route_split_shows_a_virtual_service_split_across_subsets_and_hosts() {
    // locality_split could not show reviews.default.svc.cluster2.global next to reviews'
    // subsets: it divides by service.
    let dir = TempDataDir::new("saved-route-split");
    fixtures::write_requests(&dir.path, &[fixtures::incident(), fixtures::split()].concat());
    let engine = QueryEngine::open(&dir.path).unwrap();
    insta::assert_snapshot!("saved_route_split", saved_csv(&engine, "route_split"));
    let to_global = saved_csv_with(
        &engine,
        "route_split",
        &[("service", "reviews.default.svc.cluster2.global")],
    );
    insta::assert_snapshot!("saved_route_split_reaching_one_service", to_global);
}

#[test]
fn saved_failover_evidence_names_hosts_gone_from_the_snapshots() {
    // Endpoints scaled to zero, the commonest cause of a failover, said nothing.
    let dir = snapshots_dir("saved-failover-evidence");
    let engine = QueryEngine::open(&dir.path).unwrap();
    insta::assert_snapshot!("saved_failover_evidence", saved_csv(&engine, "failover_evidence"));
}

#[test]
fn saved_endpoint_health() {
    let dir = snapshots_dir("saved-endpoint-health");
    let engine = QueryEngine::open(&dir.path).unwrap();
    let csv = saved_csv_with(
        &engine,
        "endpoint_health",
        &[("service", "reviews.default.svc.cluster.local")],
    );
    insta::assert_snapshot!("saved_endpoint_health_reviews", csv);
}

#[test]
fn saved_response_flags() {
    let dir = incident_dir("saved-response-flags");
    let engine = QueryEngine::open(&dir.path).unwrap();
    insta::assert_snapshot!("saved_response_flags", saved_csv(&engine, "response_flags"));
}

#[test]
fn saved_latency_by_locality() {
    let dir = incident_dir("saved-latency");
    let engine = QueryEngine::open(&dir.path).unwrap();
    insta::assert_snapshot!("saved_latency_by_locality", saved_csv(&engine, "latency_by_locality"));
}

#[test]
fn saved_queries_run_on_an_empty_data_dir() {
    let dir = empty_dir("saved-empty");
    let engine = QueryEngine::open(&dir.path).unwrap();
    for query in super::saved::SAVED_QUERIES {
        let csv = saved_csv(&engine, query.name);
        assert_eq!(csv.lines().count(), 1, "{}: {csv}", query.name);
    }
}
