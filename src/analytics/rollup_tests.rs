//! The rollups against the rows they count: the incident and split fixtures of the
//! query tests, whole, in parts, and with dictionary strings as the stager holds them.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use arrow::array::{BooleanArray, StringArray};
use arrow::util::display::array_value_to_string;

use super::*;
use crate::query::fixtures::{self, Req};
use crate::storage::parquet_file::with_dictionaries;

fn rows() -> Vec<Req> {
    let mut rows = fixtures::incident();
    rows.extend(fixtures::split());
    rows
}

/// Each rollup row as text (its sketch as the quantiles it answers), sorted.
fn shown(batch: &RecordBatch) -> Vec<String> {
    let schema = batch.schema();
    let mut lines: Vec<String> = (0..batch.num_rows())
        .map(|row| {
            let cells = batch.columns().iter().zip(schema.fields().iter()).map(
                |(column, field)| match field.name().as_str() {
                    "duration_ms_sketch" if column.is_valid(row) => {
                        let sketch = LatencySketch::decode(column.as_binary::<i32>().value(row));
                        format!("{:?}", sketch.unwrap().quantile(0.5))
                    }
                    _ => array_value_to_string(column, row).unwrap(),
                },
            );
            cells.collect::<Vec<_>>().join("|")
        })
        .collect();
    lines.sort();
    lines
}

fn rolled_up(rollup: Rollup, parts: &[RecordBatch]) -> RecordBatch {
    let mut builder = RollupBuilder::new(rollup).unwrap();
    parts.iter().for_each(|part| builder.add_requests(part).unwrap());
    builder.finish().unwrap()
}

#[test]
fn counts_equal_a_count_of_the_rows_by_minute_and_host() {
    let rows = rows();
    let mut expected: BTreeMap<(String, Option<&str>), (i64, i64)> = BTreeMap::new();
    for row in &rows {
        let minute = fixtures::micros(row.ts) / 60_000_000 * 60_000_000;
        let minute = chrono::DateTime::from_timestamp_micros(minute).unwrap();
        let counts = expected.entry((minute.format("%H:%M").to_string(), row.upstream_host));
        let counts = counts.or_default();
        counts.0 += 1;
        counts.1 += i64::from(row.response_code >= 500);
    }
    let endpoints = rolled_up(Rollup::Endpoints1m, &[fixtures::requests_batch(&rows)]);
    let mut got: BTreeMap<(String, Option<&str>), (i64, i64)> = BTreeMap::new();
    let hosts = endpoints.column_by_name("upstream_host").unwrap().as_string::<i32>();
    let times = endpoints.column(0).as_primitive::<TimestampMicrosecondType>();
    for row in 0..endpoints.num_rows() {
        let minute = chrono::DateTime::from_timestamp_micros(times.value(row)).unwrap();
        let host = hosts.is_valid(row).then(|| hosts.value(row));
        let host = rows.iter().find_map(|req| req.upstream_host.filter(|h| Some(*h) == host));
        let counts = got.entry((minute.format("%H:%M").to_string(), host)).or_default();
        let column = |name| endpoints.column_by_name(name).unwrap().as_primitive::<Int64Type>();
        counts.0 += column("requests").value(row);
        counts.1 += column("errors_5xx").value(row);
    }
    assert_eq!(got, expected);
    let total = |batch: &RecordBatch| -> i64 {
        batch.column_by_name("requests").unwrap().as_primitive::<Int64Type>().values().iter().sum()
    };
    let requests = rolled_up(Rollup::Requests1m, &[fixtures::requests_batch(&rows)]);
    assert_eq!(total(&requests), rows.len() as i64);
    assert!(times.values().is_sorted());
}

#[test]
fn parts_rolled_up_then_merged_equal_the_whole_rolled_up_once() {
    let rows = rows();
    for rollup in Rollup::ALL {
        let whole = rolled_up(rollup, &[fixtures::requests_batch(&rows)]);
        let (left, right) = rows.split_at(rows.len() / 3);
        let mut merged = RollupBuilder::new(rollup).unwrap();
        for part in [right, left] {
            merged.add_rollups(&rolled_up(rollup, &[fixtures::requests_batch(part)])).unwrap();
        }
        assert_eq!(shown(&merged.finish().unwrap()), shown(&whole));
        let mut by_parts = [left, right].map(fixtures::requests_batch).to_vec();
        by_parts.reverse();
        assert_eq!(shown(&rolled_up(rollup, &by_parts)), shown(&whole));
    }
}

#[test]
fn dictionary_and_plain_strings_group_alike() {
    let plain = fixtures::requests_batch(&rows());
    let dictionary = with_dictionaries(&plain, 1).unwrap();
    for rollup in Rollup::ALL {
        let mixed = rolled_up(rollup, &[dictionary.clone(), plain.clone()]);
        let twice = rolled_up(rollup, &[plain.clone(), plain.clone()]);
        assert_eq!(shown(&mixed), shown(&twice));
    }
}

#[test]
fn a_minute_with_no_duration_has_no_sketch_and_keys_keep_their_nulls() {
    let rows: Vec<Req> =
        rows().into_iter().filter(|row| row.dst_cluster.is_none()).take(1).collect();
    let mut batch = fixtures::requests_batch(&rows);
    let nulls = arrow::array::new_null_array(&DataType::Int64, 1);
    let index = batch.schema().index_of("duration_ms").unwrap();
    let mut columns = batch.columns().to_vec();
    columns[index] = nulls;
    batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
    let rolled = rolled_up(Rollup::Requests1m, &[batch]);
    assert!(rolled.column_by_name("duration_ms_sketch").unwrap().is_null(0));
    let cluster = rolled.column_by_name("dst_cluster").unwrap();
    assert!(cluster.as_any().downcast_ref::<StringArray>().unwrap().is_null(0));
    let via = rolled.column_by_name("via_gateway").unwrap().as_any().downcast_ref::<BooleanArray>();
    assert!(via.is_some());
}

/// A column of NULLs held as a dictionary of no values, as the stager holds a column
/// no row of a batch filled.
#[test]
fn a_dictionary_key_column_of_no_values_is_null_in_every_row() {
    let plain = fixtures::requests_batch(&rows());
    let schema = plain.schema();
    let index = schema.index_of("subset").unwrap();
    let keys = arrow::array::UInt32Array::new_null(plain.num_rows());
    let empty =
        arrow::array::DictionaryArray::new(keys, Arc::new(StringArray::from(Vec::<&str>::new())));
    let mut columns = plain.columns().to_vec();
    columns[index] = Arc::new(empty);
    let batch =
        RecordBatch::try_new(crate::storage::schema::with_column_types(&schema, &columns), columns)
            .unwrap();
    let rolled = rolled_up(Rollup::Requests1m, &[batch]);
    assert!(rolled.column_by_name("subset").unwrap().null_count() == rolled.num_rows());
    let total: i64 = rolled
        .column_by_name("requests")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .iter()
        .sum();
    assert_eq!(total, rows().len() as i64);
}
