//! `endpoint_errors` reads its percentiles off a histogram of durations; these tests
//! hold it to DataFusion's own `percentile_cont` over the same rows: ties, a single
//! request, requests without a duration, hosts with none at all, a value that rounds
//! differently unless the interpolation is computed in `percentile_cont`'s order, and
//! an endpoint whose cluster and service are unknown (NULL grouping keys).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Int32Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::common::ParamValues;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use proptest::prelude::*;

use super::SavedQuery;

const HOSTS: [&str; 3] = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"];

/// A `requests` table with the columns `endpoint_errors` reads: one row per
/// (host index, duration), every row an outbound 200; the last host has no known
/// cluster or service.
fn requests(rows: &[(usize, Option<i64>)]) -> RecordBatch {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let schema = Schema::new(vec![
        text("upstream_host"),
        text("dst_cluster"),
        text("service"),
        text("locality"),
        Field::new("via_gateway", DataType::Boolean, false),
        Field::new("response_code", DataType::Int32, true),
        text("response_flags"),
        Field::new("duration_ms", DataType::Int64, true),
        text("direction"),
    ]);
    let strings = |value: Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(|_| value).collect::<StringArray>())
    };
    let known = |value: &'static str| -> ArrayRef {
        let last = HOSTS.len() - 1;
        Arc::new(
            rows.iter().map(|(host, _)| (*host != last).then_some(value)).collect::<StringArray>(),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(rows.iter().map(|(host, _)| Some(HOSTS[*host])).collect::<StringArray>()),
        known("cluster1"),
        known("svc"),
        strings(Some("local")),
        Arc::new(rows.iter().map(|_| Some(false)).collect::<BooleanArray>()),
        Arc::new(rows.iter().map(|_| Some(200)).collect::<Int32Array>()),
        strings(None),
        Arc::new(rows.iter().map(|(_, duration)| *duration).collect::<Int64Array>()),
        strings(Some("outbound")),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

/// Every row of `sql`'s result, each value as text; `params` for its placeholders.
async fn rows_of(
    context: &SessionContext,
    sql: &str,
    params: Option<ParamValues>,
) -> Vec<Vec<String>> {
    let mut frame = context.sql(sql).await.unwrap();
    if let Some(values) = params {
        frame = frame.with_param_values(values).unwrap();
    }
    let batches = frame.collect().await.unwrap();
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let values = batch.columns().iter().map(|c| array_value_to_string(c, row).unwrap());
            rows.push(values.collect());
        }
    }
    rows
}

/// (host, p50, p99) by `endpoint_errors` and by `percentile_cont`.
fn both_readings(rows: &[(usize, Option<i64>)]) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        let context = SessionContext::new();
        let table = MemTable::try_new(requests(rows).schema(), vec![vec![requests(rows)]]);
        context.register_table("requests", Arc::new(table.unwrap())).unwrap();
        let saved = SavedQuery::find("endpoint_errors").unwrap().bind(&[]).unwrap();
        let by_histogram = format!(
            "SELECT upstream_host, p50_ms, p99_ms FROM ({}) AS e ORDER BY upstream_host",
            saved.query.sql
        );
        let by_percentile_cont = "SELECT upstream_host,
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms), 1),
              round(percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms), 1)
            FROM requests GROUP BY upstream_host ORDER BY upstream_host";
        let by_histogram = rows_of(&context, &by_histogram, Some(saved.values)).await;
        (by_histogram, rows_of(&context, by_percentile_cont, None).await)
    })
}

#[test]
fn ties_one_request_and_missing_durations() {
    let rows = [
        (0, Some(5)),
        (0, Some(5)),
        (0, Some(7)),
        (0, None),
        (0, Some(100)),
        (1, Some(42)),
        (2, None),
        (2, None),
    ];
    let (by_histogram, by_percentile_cont) = both_readings(&rows);
    assert_eq!(by_histogram, by_percentile_cont);
    assert_eq!(by_histogram[2][1..], ["", ""], "a host without durations has no percentile");
}

/// p99 of six durations: 0 + 3 × 0.95 is 2.8499999999999996 (rounded: 2.8) when the
/// weight 0.95 is computed first, as `percentile_cont` does, and 2.85 (2.9) when
/// 3 × 950000 is divided by a million afterwards.
#[test]
fn the_interpolation_rounds_as_percentile_cont_does() {
    let rows = [0, 0, 0, 0, 0, 3].map(|duration| (0, Some(duration)));
    let (by_histogram, by_percentile_cont) = both_readings(&rows);
    assert_eq!(by_histogram, by_percentile_cont);
    assert_eq!(by_histogram[0][2], "2.8");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn percentiles_match_percentile_cont(
        rows in proptest::collection::vec((0usize..3, proptest::option::weighted(0.9, 0i64..300)), 1..400)
    ) {
        let (by_histogram, by_percentile_cont) = both_readings(&rows);
        prop_assert_eq!(by_histogram, by_percentile_cont);
    }
}
