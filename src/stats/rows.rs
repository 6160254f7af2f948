//! The rows of `endpoint_stats` and `cluster_stats`, and their Arrow batches. Snapshots
//! are small next to access logs (thousands of rows, not millions), so rows are plain
//! structs collected first and turned into columns once, in schema order.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow::record_batch::RecordBatch;

use crate::storage::{StorageError, schema};

/// The per-host counters Envoy reports, in `endpoint_stats` column order.
pub const HOST_COUNTERS: [&str; 8] = [
    "cx_active",
    "cx_connect_fail",
    "cx_total",
    "rq_active",
    "rq_total",
    "rq_error",
    "rq_success",
    "rq_timeout",
];

/// The counters that get a `*_delta` column, in column order (gauges `cx_active`,
/// `rq_active` and the connection total do not).
pub const DELTA_COUNTERS: [&str; 5] =
    ["cx_connect_fail", "rq_total", "rq_error", "rq_success", "rq_timeout"];

/// One host of one Envoy cluster in one snapshot.
#[derive(Debug, Clone, Default)]
pub struct EndpointRow {
    pub ts: i64,
    pub source_cluster: Option<Arc<str>>,
    pub proxy: Option<String>,
    pub dump_kind: &'static str,
    pub envoy_cluster: Option<String>,
    pub service: Option<String>,
    pub subset: Option<String>,
    pub host: String,
    pub hostname: Option<String>,
    pub health_flags: Option<String>,
    pub healthy: Option<bool>,
    pub priority: Option<i32>,
    pub region: Option<String>,
    pub zone: Option<String>,
    pub sub_zone: Option<String>,
    pub weight: Option<i32>,
    /// In [`HOST_COUNTERS`] order.
    pub counters: [Option<i64>; 8],
    /// In [`DELTA_COUNTERS`] order.
    pub deltas: [Option<i64>; 5],
    pub counter_reset: bool,
    pub success_rate: Option<f64>,
    pub locality: &'static str,
    pub dst_cluster: Option<Arc<str>>,
    pub via_gateway: bool,
}

/// One statistic in one snapshot.
#[derive(Debug, Clone, Default)]
pub struct StatRow {
    pub ts: i64,
    pub source_cluster: Option<Arc<str>>,
    pub proxy: Option<String>,
    pub dump_kind: &'static str,
    pub envoy_cluster: Option<String>,
    pub service: Option<String>,
    pub stat: String,
    pub kind: &'static str,
    pub value: Option<f64>,
    pub delta: Option<f64>,
    pub counter_reset: bool,
    pub text: Option<String>,
}

fn strings<'r, T: 'r>(rows: &'r [T], value: impl Fn(&'r T) -> Option<&'r str>) -> ArrayRef {
    Arc::new(rows.iter().map(value).collect::<StringArray>())
}

fn times<T>(rows: &[T], ts: impl Fn(&T) -> i64) -> ArrayRef {
    let values = rows.iter().map(ts).collect::<Vec<_>>();
    Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
}

fn batch(
    table: &'static str,
    schema: arrow::datatypes::SchemaRef,
    columns: Vec<ArrayRef>,
) -> Result<RecordBatch, StorageError> {
    RecordBatch::try_new(schema, columns).map_err(|source| StorageError::Arrow { table, source })
}

/// The `endpoint_stats` batch of `rows`.
pub fn endpoint_batch(rows: &[EndpointRow]) -> Result<RecordBatch, StorageError> {
    let mut columns = vec![
        times(rows, |row| row.ts),
        strings(rows, |row| row.source_cluster.as_deref()),
        strings(rows, |row| row.proxy.as_deref()),
        strings(rows, |row| Some(row.dump_kind)),
        strings(rows, |row| row.envoy_cluster.as_deref()),
        strings(rows, |row| row.service.as_deref()),
        strings(rows, |row| row.subset.as_deref()),
        strings(rows, |row| Some(row.host.as_str())),
        strings(rows, |row| row.hostname.as_deref()),
        strings(rows, |row| row.health_flags.as_deref()),
        Arc::new(rows.iter().map(|row| row.healthy).collect::<BooleanArray>()),
        Arc::new(rows.iter().map(|row| row.priority).collect::<Int32Array>()),
        strings(rows, |row| row.region.as_deref()),
        strings(rows, |row| row.zone.as_deref()),
        strings(rows, |row| row.sub_zone.as_deref()),
        Arc::new(rows.iter().map(|row| row.weight).collect::<Int32Array>()),
    ];
    for index in 0..HOST_COUNTERS.len() {
        columns.push(Arc::new(rows.iter().map(|row| row.counters[index]).collect::<Int64Array>()));
    }
    for index in 0..DELTA_COUNTERS.len() {
        columns.push(Arc::new(rows.iter().map(|row| row.deltas[index]).collect::<Int64Array>()));
    }
    columns.extend([
        Arc::new(rows.iter().map(|row| Some(row.counter_reset)).collect::<BooleanArray>())
            as ArrayRef,
        Arc::new(rows.iter().map(|row| row.success_rate).collect::<Float64Array>()),
        strings(rows, |row| Some(row.locality)),
        strings(rows, |row| row.dst_cluster.as_deref()),
        Arc::new(rows.iter().map(|row| Some(row.via_gateway)).collect::<BooleanArray>()),
    ]);
    batch("endpoint_stats", schema::endpoint_stats(), columns)
}

/// The `cluster_stats` batch of `rows`.
pub fn stat_batch(rows: &[StatRow]) -> Result<RecordBatch, StorageError> {
    let columns = vec![
        times(rows, |row| row.ts),
        strings(rows, |row| row.source_cluster.as_deref()),
        strings(rows, |row| row.proxy.as_deref()),
        strings(rows, |row| Some(row.dump_kind)),
        strings(rows, |row| row.envoy_cluster.as_deref()),
        strings(rows, |row| row.service.as_deref()),
        strings(rows, |row| Some(row.stat.as_str())),
        strings(rows, |row| Some(row.kind)),
        Arc::new(rows.iter().map(|row| row.value).collect::<Float64Array>()),
        Arc::new(rows.iter().map(|row| row.delta).collect::<Float64Array>()),
        Arc::new(rows.iter().map(|row| Some(row.counter_reset)).collect::<BooleanArray>()),
        strings(rows, |row| row.text.as_deref()),
    ];
    batch("cluster_stats", schema::cluster_stats(), columns)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn batches_match_their_schemas_even_when_empty() {
        assert_eq!(endpoint_batch(&[]).unwrap().num_rows(), 0);
        assert_eq!(stat_batch(&[]).unwrap().num_rows(), 0);
        let row =
            EndpointRow { host: "10.0.0.1:80".into(), locality: "local", ..Default::default() };
        let stat =
            StatRow { stat: "upstream_rq_total".into(), kind: "counter", ..Default::default() };
        assert_eq!(endpoint_batch(&[row]).unwrap().num_rows(), 1);
        assert_eq!(stat_batch(&[stat]).unwrap().num_rows(), 1);
    }
}
