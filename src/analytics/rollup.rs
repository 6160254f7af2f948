//! Per-minute rollups of `requests`: `requests_1m` and `endpoints_1m`, written in
//! the same commit as the rows they count, so dashboards read thousands of rows
//! for a week instead of tens of millions. A rollup row is one minute (its `ts` is
//! the minute's start) and one combination of keys, with exact counts and a
//! [`LatencySketch`] of `duration_ms`. One minute and key may have several rows
//! (rows arriving late, rows of several commits, rows still in memory): readers
//! always aggregate them (`sum(requests)`, `sketch_quantile(...)`), and compaction
//! merges them.
//!
//! [`RollupBuilder`] does both jobs: it counts `requests` rows into rollup rows
//! (the stager, and `serve`'s rows in memory) and merges rollup rows with equal
//! keys (compaction). Keys are compared as Arrow's row format, so any string
//! encoding (dictionary, plain, view) groups alike.

pub mod backfill;
mod keys;
pub mod sketch;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, Int64Array, RecordBatch, TimestampMicrosecondArray,
};
use arrow::compute::{cast, sort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Int64Type, SchemaRef, TimestampMicrosecondType};
use arrow::error::ArrowError;

use crate::storage::schema;
use keys::{GroupKey, KeyColumn, MAX_KEYS, minutes_column};
use sketch::LatencySketch;

/// One minute in microseconds.
const MICROS_PER_MINUTE: i64 = 60_000_000;

/// A rollup table of `requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollup {
    /// Per minute × source cluster × service × subset × direction × serving cluster
    /// × locality × via gateway × response code × response flags.
    Requests1m,
    /// Per minute × source cluster × service × serving cluster × locality × via
    /// gateway × direction × upstream host × response flags, with the 5xx count.
    Endpoints1m,
}

impl Rollup {
    pub const ALL: [Rollup; 2] = [Rollup::Requests1m, Rollup::Endpoints1m];

    /// Its schema: `ts`, the keys, then the counts and the sketch.
    pub fn schema(self) -> SchemaRef {
        match self {
            Rollup::Requests1m => schema::requests_1m(),
            Rollup::Endpoints1m => schema::endpoints_1m(),
        }
    }

    /// The columns of `requests` it groups by, after the minute (named alike in both).
    fn keys(self) -> &'static [&'static str] {
        match self {
            Rollup::Requests1m => &[
                "source_cluster",
                "service",
                "subset",
                "direction",
                "dst_cluster",
                "locality",
                "via_gateway",
                "response_code",
                "response_flags",
            ],
            Rollup::Endpoints1m => &[
                "source_cluster",
                "service",
                "dst_cluster",
                "locality",
                "via_gateway",
                "direction",
                "upstream_host",
                "response_flags",
            ],
        }
    }

    /// The `requests` columns the rollups read: `ts`, every key, the response code
    /// and the duration.
    pub fn requests_columns() -> Vec<&'static str> {
        let mut columns = vec!["ts", "response_code", "duration_ms"];
        for key in Rollup::ALL.iter().flat_map(|rollup| rollup.keys()) {
            if !columns.contains(key) {
                columns.push(key);
            }
        }
        columns
    }

    fn counts_errors(self) -> bool {
        self == Rollup::Endpoints1m
    }
}

/// The measures of one rollup row while it is being built.
#[derive(Debug, Default)]
struct Measures {
    requests: i64,
    errors_5xx: i64,
    latency: LatencySketch,
}

/// Groups rows by minute and keys, counting `requests` rows or merging rollup rows.
pub struct RollupBuilder {
    rollup: Rollup,
    /// How each key column (after the minute) becomes codes.
    columns: Vec<KeyColumn>,
    groups: HashMap<GroupKey, usize, foldhash::fast::RandomState>,
    /// Each group's key, in group order.
    keys: Vec<GroupKey>,
    measures: Vec<Measures>,
}

impl RollupBuilder {
    pub fn new(rollup: Rollup) -> Result<RollupBuilder, ArrowError> {
        let rollup_schema = rollup.schema();
        let columns = rollup
            .keys()
            .iter()
            .map(|name| KeyColumn::for_type(rollup_schema.field_with_name(name)?.data_type()))
            .collect::<Result<_, _>>()?;
        let groups = HashMap::default();
        Ok(RollupBuilder { rollup, columns, groups, keys: Vec::new(), measures: Vec::new() })
    }

    /// Counts each row of a `requests` batch into its minute's rollup row.
    pub fn add_requests(&mut self, requests: &RecordBatch) -> Result<(), ArrowError> {
        let minutes = minutes_of(column(requests, "ts")?)?;
        let groups = self.group_rows(minutes, requests)?;
        let codes = cast(column(requests, "response_code")?, &DataType::Int64)?;
        let codes = codes.as_primitive::<Int64Type>();
        let durations = cast(column(requests, "duration_ms")?, &DataType::Int64)?;
        let durations = durations.as_primitive::<Int64Type>();
        for (row, group) in groups.into_iter().enumerate() {
            let measures = &mut self.measures[group];
            measures.requests += 1;
            if codes.is_valid(row) && codes.value(row) >= 500 {
                measures.errors_5xx += 1;
            }
            if durations.is_valid(row) {
                measures.latency.add(durations.value(row));
            }
        }
        Ok(())
    }

    /// Merges rollup rows (of this rollup's schema) into the rows with their keys.
    pub fn add_rollups(&mut self, rollups: &RecordBatch) -> Result<(), ArrowError> {
        let groups = self.group_rows(column(rollups, "ts")?.clone(), rollups)?;
        let requests = column(rollups, "requests")?.as_primitive::<Int64Type>().clone();
        let errors = match self.rollup.counts_errors() {
            true => Some(column(rollups, "errors_5xx")?.as_primitive::<Int64Type>().clone()),
            false => None,
        };
        let sketches = cast(column(rollups, "duration_ms_sketch")?, &DataType::Binary)?;
        let sketches = sketches.as_binary::<i32>();
        for (row, group) in groups.into_iter().enumerate() {
            let measures = &mut self.measures[group];
            measures.requests += requests.value(row);
            measures.errors_5xx += errors.as_ref().map_or(0, |errors| errors.value(row));
            if sketches.is_valid(row) {
                let sketch = LatencySketch::decode(sketches.value(row))
                    .map_err(|error| ArrowError::ParseError(error.to_string()))?;
                measures.latency.merge(&sketch);
            }
        }
        Ok(())
    }

    /// The rollup rows, sorted by minute.
    pub fn finish(self) -> Result<RecordBatch, ArrowError> {
        let rollup_schema = self.rollup.schema();
        let mut columns = Vec::with_capacity(rollup_schema.fields().len());
        columns.push(minutes_column(&self.keys));
        for (slot, column) in self.columns.iter().enumerate() {
            columns.push(column.decode(&self.keys, slot + 1));
        }
        let requests = self.measures.iter().map(|measures| measures.requests);
        columns.push(Arc::new(Int64Array::from_iter_values(requests)));
        if self.rollup.counts_errors() {
            let errors = self.measures.iter().map(|measures| measures.errors_5xx);
            columns.push(Arc::new(Int64Array::from_iter_values(errors)));
        }
        let mut sketches = BinaryBuilder::new();
        for measures in &self.measures {
            match measures.latency.is_empty() {
                true => sketches.append_null(),
                false => sketches.append_value(measures.latency.encode()),
            }
        }
        columns.push(Arc::new(sketches.finish()));
        let rows = RecordBatch::try_new(rollup_schema, columns)?;
        let order = sort_to_indices(rows.column(0), None, None)?;
        take_record_batch(&rows, &order)
    }

    /// The group of each row of `batch` (keys `minutes` then this rollup's keys),
    /// making new groups as they come.
    fn group_rows(
        &mut self,
        minutes: ArrayRef,
        batch: &RecordBatch,
    ) -> Result<Vec<usize>, ArrowError> {
        let minutes = minutes.as_primitive_opt::<TimestampMicrosecondType>().ok_or_else(|| {
            ArrowError::SchemaError(format!("ts is {}, not µs timestamps", minutes.data_type()))
        })?;
        let mut keys: Vec<GroupKey> = minutes
            .values()
            .iter()
            .map(|minute| {
                let mut key = [0; MAX_KEYS + 1];
                key[0] = *minute as u64;
                key
            })
            .collect();
        for (slot, (name, column)) in self.rollup.keys().iter().zip(&mut self.columns).enumerate() {
            column.encode(self::column(batch, name)?, &mut keys, slot + 1)?;
        }
        let mut groups = Vec::with_capacity(keys.len());
        for key in keys {
            let next = self.measures.len();
            let group = *self.groups.entry(key).or_insert(next);
            if group == next {
                self.keys.push(key);
                self.measures.push(Measures::default());
            }
            groups.push(group);
        }
        Ok(groups)
    }
}

/// One rollup of `requests` batches, in one batch.
pub fn of_batches(rollup: Rollup, requests: &[RecordBatch]) -> Result<RecordBatch, ArrowError> {
    let mut builder = RollupBuilder::new(rollup)?;
    for batch in requests {
        builder.add_requests(batch)?;
    }
    builder.finish()
}

/// Both rollups of a `requests` batch.
pub fn of_requests(requests: &RecordBatch) -> Result<Vec<(Rollup, RecordBatch)>, ArrowError> {
    Rollup::ALL
        .into_iter()
        .map(|rollup| {
            let mut builder = RollupBuilder::new(rollup)?;
            builder.add_requests(requests)?;
            Ok((rollup, builder.finish()?))
        })
        .collect()
}

fn column<'b>(batch: &'b RecordBatch, name: &str) -> Result<&'b ArrayRef, ArrowError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| ArrowError::SchemaError(format!("no column {name} to roll up")))
}

/// The start of each time's minute, as the rollups' `ts`.
fn minutes_of(times: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let times = times.as_primitive_opt::<TimestampMicrosecondType>().ok_or_else(|| {
        ArrowError::SchemaError(format!("ts is {}, not µs timestamps", times.data_type()))
    })?;
    let minutes: TimestampMicrosecondArray =
        times.unary(|micros| micros - micros.rem_euclid(MICROS_PER_MINUTE));
    Ok(Arc::new(minutes.with_timezone("UTC")))
}

#[cfg(test)]
#[path = "rollup_tests.rs"]
mod tests;
