//! Test data directories: a temporary data dir with a small, hand-written incident
//! (an ingress gateway in `cluster1` calling `frontend`, which fails over to
//! `cluster2`'s east-west gateway, and `reviews`) written as real Parquet files in
//! the layout the writer uses (`requests/date=/hour=/*.parquet`, `failovers/`,
//! `endpoint_stats/…`): the requests, the episodes, and the proxies' `/clusters`
//! snapshots around them ([`snapshots`]), plus a VirtualService
//! splitting `reviews` across subsets and hosts ([`split`]).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, new_null_array,
};
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;

use crate::storage::schema;

pub(crate) mod snapshots;

/// A data directory under the system temp dir, removed on drop.
pub(crate) struct TempDataDir {
    pub path: PathBuf,
}

impl TempDataDir {
    pub fn new(test: &str) -> TempDataDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("meshlog-query-{test}-{}-{unique}", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDataDir { path }
    }

    /// Every file under the data dir, relative to it, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut found = Vec::new();
        collect_files(&self.path, &self.path, &mut found);
        found.sort();
        found
    }
}

impl Drop for TempDataDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn collect_files(root: &Path, dir: &Path, found: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(root, &path, found);
        } else {
            found.push(path.strip_prefix(root).unwrap().display().to_string());
        }
    }
}

/// One access-log line, with the columns the named queries read.
#[derive(Clone, Copy)]
pub(crate) struct Req {
    pub ts: &'static str,
    pub source_cluster: &'static str,
    pub service: Option<&'static str>,
    pub subset: Option<&'static str>,
    pub direction: &'static str,
    pub upstream_host: Option<&'static str>,
    pub dst_cluster: Option<&'static str>,
    pub locality: &'static str,
    pub via_gateway: bool,
    pub response_code: i32,
    pub response_flags: Option<&'static str>,
    pub duration_ms: i64,
    pub upstream_service_time_ms: Option<i64>,
    pub route_name: Option<&'static str>,
    pub authority: Option<&'static str>,
}

const FRONTEND: Option<&str> = Some("frontend.mycompany.mesh");
const REVIEWS: Option<&str> = Some("reviews.default.svc.cluster.local");
const POD_A: Option<&str> = Some("10.112.0.68:8080");
const POD_B: Option<&str> = Some("10.112.0.69:8080");
const GATEWAY2: Option<&str> = Some("34.168.157.2:15443");

const BASE: Req = Req {
    ts: "",
    source_cluster: "cluster1",
    service: FRONTEND,
    subset: Some("v1"),
    direction: "outbound",
    upstream_host: POD_A,
    dst_cluster: Some("cluster1"),
    locality: "local",
    via_gateway: false,
    response_code: 200,
    response_flags: None,
    duration_ms: 12,
    upstream_service_time_ms: Some(10),
    route_name: Some("frontend-frontend.web-team.mgmt-cluster"),
    authority: Some("34.75.183.246"),
};

fn cross(ts: &'static str, code: i32, flags: Option<&'static str>, duration_ms: i64) -> Req {
    let upstream_service_time_ms = (code < 500).then_some(duration_ms - 5);
    let locality = "cross_cluster";
    let (upstream_host, dst_cluster) = (GATEWAY2, Some("cluster2"));
    Req {
        ts,
        upstream_host,
        dst_cluster,
        locality,
        via_gateway: true,
        response_code: code,
        response_flags: flags,
        duration_ms,
        upstream_service_time_ms,
        ..BASE
    }
}

/// `reviews` as a sidecar calls it: Istio's default route, the short name.
const REVIEWS_CALL: Req =
    Req { service: REVIEWS, route_name: Some("default"), authority: Some("reviews:9080"), ..BASE };

/// The incident: `frontend` is served locally by two pods at 10:00, its pod A fails,
/// then no local host is healthy and traffic moves to `cluster2` (10:01, 11:00);
/// `reviews` spreads over subsets and clusters; one call leaves the mesh.
pub(crate) fn incident() -> Vec<Req> {
    vec![
        Req { ts: "2026-10-31T23:59:00Z", ..BASE },
        Req { ts: "2026-11-01T10:00:05Z", ..BASE },
        Req {
            ts: "2026-11-01T10:00:20Z",
            upstream_host: POD_B,
            duration_ms: 20,
            upstream_service_time_ms: Some(18),
            ..BASE
        },
        Req {
            ts: "2026-11-01T10:00:40Z",
            response_code: 503,
            response_flags: Some("UF,URX"),
            duration_ms: 30,
            upstream_service_time_ms: None,
            ..BASE
        },
        Req {
            ts: "2026-11-01T10:00:50Z",
            response_code: 503,
            response_flags: Some("UF"),
            duration_ms: 25,
            upstream_service_time_ms: None,
            ..BASE
        },
        Req {
            ts: "2026-11-01T10:01:10Z",
            upstream_host: None,
            dst_cluster: None,
            locality: "unknown",
            response_code: 503,
            response_flags: Some("UH"),
            duration_ms: 0,
            upstream_service_time_ms: None,
            ..BASE
        },
        cross("2026-11-01T10:01:30Z", 200, None, 45),
        Req { subset: Some("v2"), ..cross("2026-11-01T10:01:50Z", 200, None, 55) },
        cross("2026-11-01T11:00:10Z", 200, None, 50),
        cross("2026-11-01T11:00:30Z", 503, Some("UF"), 60),
        Req {
            ts: "2026-11-01T11:00:50Z",
            subset: Some("v2"),
            upstream_host: Some("10.112.0.70:9080"),
            duration_ms: 5,
            upstream_service_time_ms: Some(4),
            ..REVIEWS_CALL
        },
        Req {
            ts: "2026-11-01T11:01:05Z",
            subset: Some("v3"),
            upstream_host: Some("10.96.0.12:9080"),
            dst_cluster: Some("cluster2"),
            locality: "cross_cluster",
            duration_ms: 9,
            upstream_service_time_ms: Some(7),
            ..REVIEWS_CALL
        },
        Req {
            ts: "2026-11-01T11:01:20Z",
            subset: None,
            direction: "inbound",
            upstream_host: Some("127.0.0.1:9080"),
            duration_ms: 4,
            upstream_service_time_ms: Some(4),
            ..REVIEWS_CALL
        },
        Req {
            ts: "2026-11-01T11:01:40Z",
            service: None,
            subset: None,
            direction: "other",
            upstream_host: Some("93.184.216.34:443"),
            dst_cluster: None,
            locality: "external",
            duration_ms: 80,
            upstream_service_time_ms: None,
            ..BASE
        },
        Req { ts: "2026-11-01T12:10:00Z", ..BASE },
    ]
}

/// A VirtualService route of a `productpage` sidecar splitting `reviews` 75/15/10:
///
/// ```yaml
/// http:
/// - name: reviews-split
///   route:
///   - {destination: {host: reviews, subset: v1}, weight: 75}
///   - {destination: {host: reviews, subset: v2}, weight: 15}
///   - {destination: {host: reviews.default.svc.cluster2.global}, weight: 10}
/// ```
///
/// 20 requests: v1 15 (11 served in cluster1, 3 by cluster2's pods through its
/// gateway, 1 503 UH with no host), v2 3, the cluster2 host 2; and 4 requests on
/// ratings' default route.
pub(crate) fn split() -> Vec<Req> {
    const SIDECAR: Req = Req {
        ts: "2026-11-01T11:30:00Z",
        service: REVIEWS,
        subset: Some("v1"),
        upstream_host: Some("10.112.0.70:9080"),
        route_name: Some("reviews-split"),
        authority: Some("reviews:9080"),
        ..BASE
    };
    let remote = Req {
        upstream_host: GATEWAY2,
        dst_cluster: Some("cluster2"),
        locality: "cross_cluster",
        via_gateway: true,
        ..SIDECAR
    };
    let mut rows = vec![SIDECAR; 11];
    rows.extend([remote; 3]);
    rows.push(Req {
        upstream_host: None,
        dst_cluster: None,
        locality: "unknown",
        response_code: 503,
        response_flags: Some("UH"),
        upstream_service_time_ms: None,
        ..SIDECAR
    });
    rows.extend(
        [Req { subset: Some("v2"), upstream_host: Some("10.112.0.72:9080"), ..SIDECAR }; 3],
    );
    let global =
        Req { service: Some("reviews.default.svc.cluster2.global"), subset: None, ..remote };
    rows.extend([global; 2]);
    let ratings = Req {
        service: Some("ratings.default.svc.cluster.local"),
        subset: None,
        upstream_host: Some("10.112.0.75:9080"),
        route_name: Some("default"),
        authority: Some("ratings:9080"),
        ..SIDECAR
    };
    rows.extend([ratings; 4]);
    rows
}

/// Writes `rows` as `requests` Parquet files, one per hour, except the 10:00 hour,
/// which gets two (as after two commits).
pub(crate) fn write_requests(data_dir: &Path, rows: &[Req]) {
    let mut by_hour: BTreeMap<(&str, &str), Vec<Req>> = BTreeMap::new();
    for row in rows {
        by_hour.entry((&row.ts[..10], &row.ts[11..13])).or_default().push(*row);
    }
    for ((date, hour), rows) in by_hour {
        let dir = data_dir.join(format!("requests/date={date}/hour={hour}"));
        let parts: Vec<&[Req]> = if hour == "10" {
            let (a, b) = rows.split_at(2);
            vec![a, b]
        } else {
            vec![&rows]
        };
        for (index, part) in parts.into_iter().enumerate() {
            write_parquet(&dir.join(format!("part-{index}.parquet")), requests_batch(part));
        }
    }
}

/// Writes both rollups of `rows`, one file per day each, and marks the directory's
/// rollups complete.
pub(crate) fn write_rollups(data_dir: &Path, rows: &[Req]) {
    use crate::analytics::rollup::{Rollup, of_batches};
    let mut by_day: BTreeMap<&str, Vec<Req>> = BTreeMap::new();
    for row in rows {
        by_day.entry(&row.ts[..10]).or_default().push(*row);
    }
    for (date, rows) in by_day {
        for (rollup, dir) in
            [(Rollup::Requests1m, "requests_1m"), (Rollup::Endpoints1m, "endpoints_1m")]
        {
            let rolled = of_batches(rollup, &[requests_batch(&rows)]).unwrap();
            write_parquet(&data_dir.join(format!("{dir}/date={date}/part-0.parquet")), rolled);
        }
    }
    fs::create_dir_all(data_dir.join(crate::storage::layout::META_DIR)).unwrap();
    crate::storage::rollup_marker::mark_rollups_complete(data_dir).unwrap();
}

pub(crate) fn requests_batch(rows: &[Req]) -> RecordBatch {
    let text = |get: fn(&Req) -> Option<&'static str>| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(get).collect::<Vec<_>>()))
    };
    let ts = rows.iter().map(|row| micros(row.ts));
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("ts", Arc::new(TimestampMicrosecondArray::from_iter_values(ts).with_timezone("UTC"))),
        ("source_cluster", text(|row| Some(row.source_cluster))),
        ("service", text(|row| row.service)),
        ("subset", text(|row| row.subset)),
        ("direction", text(|row| Some(row.direction))),
        ("upstream_host", text(|row| row.upstream_host)),
        ("dst_cluster", text(|row| row.dst_cluster)),
        ("locality", text(|row| Some(row.locality))),
        (
            "via_gateway",
            Arc::new(rows.iter().map(|row| Some(row.via_gateway)).collect::<BooleanArray>()),
        ),
        (
            "response_code",
            Arc::new(rows.iter().map(|row| Some(row.response_code)).collect::<Int32Array>()),
        ),
        ("response_flags", text(|row| row.response_flags)),
        (
            "duration_ms",
            Arc::new(rows.iter().map(|row| Some(row.duration_ms)).collect::<Int64Array>()),
        ),
        (
            "upstream_service_time_ms",
            Arc::new(rows.iter().map(|row| row.upstream_service_time_ms).collect::<Int64Array>()),
        ),
        ("route_name", text(|row| row.route_name)),
        ("authority", text(|row| row.authority)),
    ];
    batch(schema::requests(), columns, rows.len())
}

/// A `failovers` file with an ended and an ongoing episode.
pub(crate) fn write_failovers(data_dir: &Path) {
    let started = ["2026-11-01T10:01:00Z", "2026-11-01T08:00:00Z", "2026-11-01T06:00:00Z"];
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("source_cluster", Arc::new(StringArray::from(vec!["cluster1", "cluster1", "cluster2"]))),
        (
            "service",
            Arc::new(StringArray::from(vec![
                FRONTEND.unwrap(),
                REVIEWS.unwrap(),
                FRONTEND.unwrap(),
            ])),
        ),
        (
            "upstream_cluster",
            Arc::new(StringArray::from(vec![
                Some("outbound|80||frontend.mycompany.mesh"),
                None,
                None,
            ])),
        ),
        ("target_cluster", Arc::new(StringArray::from(vec!["cluster2", "cluster2", "cluster1"]))),
        (
            "started_at",
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(started.map(micros))
                    .with_timezone("UTC"),
            ),
        ),
        (
            "ended_at",
            Arc::new(
                TimestampMicrosecondArray::from(vec![
                    None,
                    Some(micros("2026-11-01T09:02:05Z")),
                    Some(micros("2026-11-01T06:00:45Z")),
                ])
                .with_timezone("UTC"),
            ),
        ),
        ("duration_s", Arc::new(Float64Array::from(vec![3725.0, 3725.0, 45.25]))),
        ("requests", Arc::new(Int64Array::from(vec![1200, 300, 40]))),
        ("cross_cluster_requests", Arc::new(Int64Array::from(vec![1150, 210, 40]))),
        ("peak_cross_cluster_share", Arc::new(Float64Array::from(vec![1.0, 0.8333, 1.0]))),
        ("errors_before", Arc::new(Int64Array::from(vec![37, 0, 2]))),
        (
            "errors_before_flags",
            Arc::new(StringArray::from(vec![Some("UH"), None, Some("UF,URX")])),
        ),
        ("errors_before_code", Arc::new(Int32Array::from(vec![Some(503), None, Some(503)]))),
        (
            "confirmed_at",
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    ["2026-11-01T10:01:30Z", "2026-11-01T08:00:30Z", "2026-11-01T06:00:10Z"]
                        .map(micros),
                )
                .with_timezone("UTC"),
            ),
        ),
        ("baseline_cross_cluster_share", Arc::new(Float64Array::from(vec![0.1, 0.0, 0.0]))),
    ];
    let batch = batch(schema::failovers(), columns, 3);
    write_parquet(&data_dir.join("failovers/failovers.parquet"), batch);
}

/// A batch of `schema` from the named columns; the others are null.
fn batch(schema: SchemaRef, mut columns: Vec<(&str, ArrayRef)>, rows: usize) -> RecordBatch {
    let arrays = schema.fields().iter().map(|field| {
        match columns.iter().position(|(name, _)| name == field.name()) {
            Some(index) => columns.swap_remove(index).1,
            None => new_null_array(field.data_type(), rows),
        }
    });
    RecordBatch::try_new(schema.clone(), arrays.collect()).unwrap()
}

pub(crate) fn write_parquet(path: &Path, batch: RecordBatch) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

pub(crate) fn micros(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_micros()
}
