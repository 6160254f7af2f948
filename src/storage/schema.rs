//! The Arrow schemas of meshlog's tables — `requests`, `rejects`, `failovers`,
//! `endpoint_stats` and `cluster_stats` —
//! and where each table lives under the data directory. These names are a contract
//! (PRODUCT.md §4): queries, dashboards and users depend on them, so every writer
//! and reader takes them from here.

use std::sync::{Arc, LazyLock};

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::StorageError;

/// The directory (under the data dir) of the `requests` table, partitioned by
/// `date=YYYY-MM-DD/hour=HH` of the request's `ts`.
pub const REQUESTS_DIR: &str = "requests";
/// The directory of the `rejects` table, partitioned by `date`/`hour` of `ts_ingested`.
pub const REJECTS_DIR: &str = "rejects";
/// The directory of the `failovers` table (one file, rewritten at each commit).
pub const FAILOVERS_DIR: &str = "failovers";
/// The directory of the `endpoint_stats` table (one row per host of an Envoy cluster in
/// a `/clusters` snapshot), partitioned by `date`/`hour` of the snapshot's `ts`.
pub const ENDPOINT_STATS_DIR: &str = "endpoint_stats";
/// The directory of the `cluster_stats` table (one row per statistic of a `/stats`
/// snapshot), partitioned by `date`/`hour` of the snapshot's `ts`.
pub const CLUSTER_STATS_DIR: &str = "cluster_stats";
/// The Hive partition columns of every table but `failovers`, outermost first. They are
/// not stored inside the files; readers take them from the paths.
pub const PARTITION_COLUMNS: [&str; 2] = ["date", "hour"];
/// The directory of the `requests_1m` rollup, partitioned by `date=YYYY-MM-DD` only
/// (a day of it is small: a file per hour would only cost queries file opens).
pub const REQUESTS_1M_DIR: &str = "requests_1m";
/// The directory of the `endpoints_1m` rollup, partitioned like `requests_1m`.
pub const ENDPOINTS_1M_DIR: &str = "endpoints_1m";
/// The partition column of the rollups.
pub const DAY_PARTITION_COLUMNS: [&str; 1] = ["date"];

/// Timestamps are UTC, microseconds.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The columns the enricher adds, last in `requests` and `endpoint_stats` alike.
fn enrichment() -> [Field; 3] {
    [
        Field::new("locality", DataType::Utf8, false),
        text("dst_cluster"),
        Field::new("via_gateway", DataType::Boolean, false),
    ]
}

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn int64(name: &str) -> Field {
    Field::new(name, DataType::Int64, true)
}

/// One row per access-log line.
pub fn requests() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(
            vec![
                Field::new("ts", timestamp_type(), false),
                text("source_cluster"),
                text("proxy"),
                text("method"),
                text("path"),
                text("protocol"),
                Field::new("response_code", DataType::Int32, true),
                text("response_flags"),
                text("response_code_details"),
                int64("bytes_received"),
                int64("bytes_sent"),
                int64("duration_ms"),
                int64("upstream_service_time_ms"),
                text("x_forwarded_for"),
                text("user_agent"),
                text("request_id"),
                text("authority"),
                text("upstream_host"),
                text("upstream_cluster"),
                text("service"),
                Field::new("service_port", DataType::Int32, true),
                text("subset"),
                text("direction"),
                text("upstream_local_address"),
                text("downstream_local_address"),
                text("downstream_remote_address"),
                text("requested_server_name"),
                text("route_name"),
                text("upstream_transport_failure_reason"),
                text("connection_termination_details"),
            ]
            .into_iter()
            .chain(enrichment())
            .collect::<Vec<_>>(),
        ))
    });
    SCHEMA.clone()
}

/// `requests` per minute and key combination (see `analytics::rollup`): `ts` is the
/// minute's start; a minute and key may have several rows, to be summed.
pub fn requests_1m() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        rollup_schema(
            &[
                text("source_cluster"),
                text("service"),
                text("subset"),
                text("direction"),
                text("dst_cluster"),
                Field::new("locality", DataType::Utf8, false),
                Field::new("via_gateway", DataType::Boolean, false),
                Field::new("response_code", DataType::Int32, true),
                text("response_flags"),
            ],
            false,
        )
    });
    SCHEMA.clone()
}

/// `requests` per minute and upstream host, with the 5xx responses counted.
pub fn endpoints_1m() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        rollup_schema(
            &[
                text("source_cluster"),
                text("service"),
                text("dst_cluster"),
                Field::new("locality", DataType::Utf8, false),
                Field::new("via_gateway", DataType::Boolean, false),
                text("direction"),
                text("upstream_host"),
                text("response_flags"),
            ],
            true,
        )
    });
    SCHEMA.clone()
}

/// `ts`, `keys`, `requests`, `errors_5xx` when asked, `duration_ms_sketch`.
fn rollup_schema(keys: &[Field], errors_5xx: bool) -> SchemaRef {
    let mut fields = vec![Field::new("ts", timestamp_type(), false)];
    fields.extend(keys.iter().cloned());
    fields.push(Field::new("requests", DataType::Int64, false));
    if errors_5xx {
        fields.push(Field::new("errors_5xx", DataType::Int64, false));
    }
    fields.push(Field::new("duration_ms_sketch", DataType::Binary, true));
    Arc::new(Schema::new(fields))
}

/// One row per input line that could not be parsed.
pub fn rejects() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("ts_ingested", timestamp_type(), false),
            text("source_cluster"),
            Field::new("source", DataType::Utf8, false),
            Field::new("offset", DataType::Int64, false),
            Field::new("line", DataType::Int64, false),
            // Nullable: files written before the column existed read it as NULL (1).
            Field::new("lines", DataType::Int64, true),
            Field::new("reason", DataType::Utf8, false),
            Field::new("error", DataType::Utf8, false),
            Field::new("raw", DataType::Utf8, false),
        ]))
    });
    SCHEMA.clone()
}

/// One row per failover episode of a (source_cluster, service).
pub fn failovers() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("source_cluster", DataType::Utf8, false),
            Field::new("service", DataType::Utf8, false),
            text("upstream_cluster"),
            text("target_cluster"),
            Field::new("started_at", timestamp_type(), false),
            Field::new("ended_at", timestamp_type(), true),
            Field::new("duration_s", DataType::Float64, false),
            Field::new("requests", DataType::Int64, false),
            Field::new("cross_cluster_requests", DataType::Int64, false),
            Field::new("peak_cross_cluster_share", DataType::Float64, false),
            Field::new("errors_before", DataType::Int64, false),
            text("errors_before_flags"),
            int32("errors_before_code"),
            Field::new("confirmed_at", timestamp_type(), false),
            Field::new("baseline_cross_cluster_share", DataType::Float64, false),
        ]))
    });
    SCHEMA.clone()
}

fn int32(name: &str) -> Field {
    Field::new(name, DataType::Int32, true)
}

fn float64(name: &str) -> Field {
    Field::new(name, DataType::Float64, true)
}

/// One row per upstream host of an Envoy cluster in one snapshot of one proxy
/// (`/clusters`, istioctl endpoints, or istiod's `endpointShardz`). Counters are as the
/// proxy reported them; each `*_delta` is the increase since the previous snapshot of
/// the same proxy, cluster and host (NULL for the first one), counting from zero again
/// after a counter reset (a proxy restart).
pub fn endpoint_stats() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(
            snapshot_columns()
                .into_iter()
                .chain([
                    text("subset"),
                    Field::new("host", DataType::Utf8, false),
                    text("hostname"),
                    text("health_flags"),
                    Field::new("healthy", DataType::Boolean, true),
                    int32("priority"),
                    text("region"),
                    text("zone"),
                    text("sub_zone"),
                    int32("weight"),
                    int64("cx_active"),
                    int64("cx_connect_fail"),
                    int64("cx_total"),
                    int64("rq_active"),
                    int64("rq_total"),
                    int64("rq_error"),
                    int64("rq_success"),
                    int64("rq_timeout"),
                    int64("cx_connect_fail_delta"),
                    int64("rq_total_delta"),
                    int64("rq_error_delta"),
                    int64("rq_success_delta"),
                    int64("rq_timeout_delta"),
                    Field::new("counter_reset", DataType::Boolean, false),
                    float64("success_rate"),
                ])
                .chain(enrichment())
                .collect::<Vec<_>>(),
        ))
    });
    SCHEMA.clone()
}

/// The columns every proxy-snapshot table starts with: when, who reported it, from
/// which dump, and which Envoy cluster (and its service) the row is about.
fn snapshot_columns() -> [Field; 6] {
    [
        Field::new("ts", timestamp_type(), false),
        text("source_cluster"),
        text("proxy"),
        Field::new("dump_kind", DataType::Utf8, false),
        text("envoy_cluster"),
        text("service"),
    ]
}

/// One row per statistic in one `/stats` or `/stats/prometheus` snapshot of one proxy.
/// `delta` is a counter's increase since the previous snapshot of the same proxy and
/// statistic (NULL for gauges and for the first snapshot), from zero after a reset.
pub fn cluster_stats() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(
            snapshot_columns()
                .into_iter()
                .chain([
                    Field::new("stat", DataType::Utf8, false),
                    Field::new("kind", DataType::Utf8, false),
                    float64("value"),
                    float64("delta"),
                    Field::new("counter_reset", DataType::Boolean, false),
                    text("text"),
                ])
                .collect::<Vec<_>>(),
        ))
    });
    SCHEMA.clone()
}

/// A table's batch from columns given by name, put in the table's order and each
/// field typed as its column (a string column may be a dictionary in memory). A
/// builder names what it built, so a column missing, unknown or named twice is an
/// error here, never a table whose columns are shifted by one.
pub fn batch_by_name(
    table: &'static str,
    schema: &SchemaRef,
    mut named: Vec<(&str, ArrayRef)>,
) -> Result<RecordBatch, StorageError> {
    let mismatch =
        |message: String| StorageError::Arrow { table, source: ArrowError::SchemaError(message) };
    if named.len() != schema.fields().len() {
        let names: Vec<&str> = named.iter().map(|(name, _)| *name).collect();
        return Err(mismatch(format!(
            "{} columns built, {} declared: {names:?}",
            names.len(),
            schema.fields().len()
        )));
    }
    let mut columns = Vec::with_capacity(named.len());
    for field in schema.fields() {
        let position = named.iter().position(|(name, _)| name == field.name());
        let Some(position) = position else {
            return Err(mismatch(format!("no column built for {:?}", field.name())));
        };
        columns.push(named.swap_remove(position).1);
    }
    let typed = with_column_types(schema, &columns);
    RecordBatch::try_new(typed, columns).map_err(|source| StorageError::Arrow { table, source })
}

/// `table`'s schema with each field's type taken from `columns`: a batch in memory
/// may hold a string column as a dictionary ([`stored`] gives the type on disk).
pub fn with_column_types(table: &SchemaRef, columns: &[ArrayRef]) -> SchemaRef {
    let fields = table.fields().iter().zip(columns).map(|(field, column)| {
        if field.data_type() == column.data_type() {
            field.as_ref().clone()
        } else {
            field.as_ref().clone().with_data_type(column.data_type().clone())
        }
    });
    Arc::new(Schema::new_with_metadata(fields.collect::<Vec<_>>(), table.metadata().clone()))
}

/// The schema a batch is stored with: a dictionary column as its values' type, the
/// way every table declares it.
pub fn stored(schema: &SchemaRef) -> SchemaRef {
    let is_dictionary = |field: &FieldRef| matches!(field.data_type(), DataType::Dictionary(..));
    if !schema.fields().iter().any(is_dictionary) {
        return schema.clone();
    }
    let fields = schema.fields().iter().map(|field| match field.data_type() {
        DataType::Dictionary(_, values) => field.as_ref().clone().with_data_type(*values.clone()),
        _ => field.as_ref().clone(),
    });
    Arc::new(Schema::new_with_metadata(fields.collect::<Vec<_>>(), schema.metadata().clone()))
}

/// The columns of `fields`, taken from `batch` by name and cast to their types (a
/// column `batch` lacks is all nulls): rows read back from a file, or held in
/// memory, in the shape a table or a scan wants.
pub fn conform_columns(
    batch: &RecordBatch,
    fields: &[FieldRef],
) -> Result<Vec<ArrayRef>, ArrowError> {
    fields
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) => arrow::compute::cast(column, field.data_type()),
            None => Ok(arrow::array::new_null_array(field.data_type(), batch.num_rows())),
        })
        .collect()
}
