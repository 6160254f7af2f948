//! Rows not yet in Parquet, queried beside the files: what a running `meshlog
//! serve` holds in memory (its [`FreshRows`] snapshot), or, for `meshlog query`
//! beside a running server, the entries of its write-ahead log that no commit holds
//! yet. With them comes the last commit whose files a query may read: files of later
//! commits hold rows that are still among the fresh ones, so each row is seen once.
//! The rows get the table's column types and its partition columns (`date` and
//! `hour`, or `date` alone for the daily rollups).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, RecordBatchOptions, StringBuilder};
use arrow::datatypes::{FieldRef, SchemaRef, TimestampMicrosecondType};
use chrono::{DateTime, Datelike, Timelike};
use datafusion::error::{DataFusionError, Result};

use super::QueryError;
use super::data_dir::read_committed;
use super::time_range::{MICROS_PER_HOUR, TimeRange};
use crate::storage::commit_log::{CommitRecord, last_wal_seq};
use crate::storage::schema::conform_columns;
use crate::storage::wal;

/// Rows besides the committed files, and the newest commit whose files count.
#[derive(Debug, Clone, Default)]
pub struct FreshRows {
    /// Files of later commits are left out; `None`: every file counts.
    pub visible_commit: Option<u64>,
    pub requests: Vec<RecordBatch>,
    pub rejects: Vec<RecordBatch>,
}

impl FreshRows {
    /// The WAL entries of a server writing `data_dir` that no commit holds yet. The
    /// WAL is read before the commit log: an entry committed in between is then
    /// both in a file the log lists and among the entries, and is dropped here;
    /// its segment is removed only a commit later, so none is missed.
    /// Also returns the commit log as read then (its files checked to be there).
    pub fn from_wal(data_dir: &Path) -> Result<(FreshRows, Vec<CommitRecord>), QueryError> {
        let entries = wal::read_after(data_dir, 0).map_err(QueryError::Wal)?;
        let log = read_committed(data_dir)?;
        if entries.is_empty() {
            return Ok((FreshRows::default(), log));
        }
        let committed = last_wal_seq(&log);
        let visible_commit = Some(log.last().map_or(0, |record| record.seq));
        let fresh = entries.into_iter().filter(|entry| entry.seq > committed);
        let (requests, rejects) = fresh.map(|entry| (entry.requests, entry.rejects)).unzip();
        Ok((FreshRows { visible_commit, requests, rejects }, log))
    }
}

/// Which committed files a query reads: those of commits up to `through` that no
/// commit up to `through` replaced (a compaction's merged files replace others).
/// Files are named by their path relative to the data directory: one commit's files
/// of different tables may share a file name.
#[derive(Debug, Clone, Default)]
pub struct Visibility {
    pub through: u64,
    /// Relative paths, `/`-separated.
    pub replaced: HashSet<String>,
}

impl Visibility {
    /// What `records` make visible, up to commit `through` when given (a server's
    /// view; else the last record's). `None` when there is no commit yet.
    pub fn of(records: &[CommitRecord], through: Option<u64>) -> Option<Visibility> {
        let through = through.or_else(|| records.last().map(|record| record.seq))?;
        let replaced = records
            .iter()
            .filter(|record| record.seq <= through)
            .flat_map(|record| record.removed.iter())
            .map(|path| relative_text(path))
            .collect();
        Some(Visibility { through, replaced })
    }

    /// Whether the data file at `relative` (to the data directory, `/`-separated)
    /// is read.
    pub fn shows(&self, relative: &str) -> bool {
        let name = relative.rsplit('/').next().unwrap_or(relative);
        let committed = commit_of_file(name).is_none_or(|commit| commit <= self.through);
        committed && !self.replaced.contains(relative)
    }
}

/// A relative path as `/`-separated text.
fn relative_text(path: &Path) -> String {
    let parts: Vec<_> = path.iter().map(|part| part.to_string_lossy()).collect();
    parts.join("/")
}

/// The commit a data file belongs to, from its name (`<commit>-<run>-<n>.parquet`).
pub(crate) fn commit_of_file(name: &str) -> Option<u64> {
    name.split_once('-')?.0.parse().ok()
}

/// The rows of `batches` a scan reads, with the types of `schema` (a table's: file
/// columns, then its `partitions` — `date`, and `hour` unless the table is daily —
/// computed from `time_column`), only the
/// columns of `projection` (all when `None`). A batch none of whose times is in
/// `range` is left out, as a file of another hour is: converting a column (a
/// dictionary to plain strings) copies it, so only what the scan reads is copied.
pub(crate) fn scanned_rows(
    batches: &[RecordBatch],
    schema: &SchemaRef,
    time_column: Option<&str>,
    partitions: &[&str],
    projection: Option<&[usize]>,
    range: TimeRange,
) -> Result<Vec<RecordBatch>> {
    let all: Vec<usize>;
    let projection = match projection {
        Some(projection) => projection,
        None => {
            all = (0..schema.fields().len()).collect();
            &all
        }
    };
    let projected = Arc::new(schema.project(projection)?);
    let file_columns = schema.fields().len() - partitions.len();
    let scan = Scan { schema, time_column, file_columns, projection, projected: &projected };
    batches
        .iter()
        .filter(|batch| batch.num_rows() > 0)
        .filter(|batch| time_column.is_none_or(|column| holds_times_in(batch, column, range)))
        .map(|batch| scan.rows_of(batch))
        .collect()
}

/// What a scan of rows in memory reads.
struct Scan<'a> {
    schema: &'a SchemaRef,
    time_column: Option<&'a str>,
    /// The table's columns before its partition columns.
    file_columns: usize,
    projection: &'a [usize],
    projected: &'a SchemaRef,
}

impl Scan<'_> {
    fn rows_of(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let file_columns = self.file_columns;
        let wanted: Vec<FieldRef> = self
            .projection
            .iter()
            .filter(|index| **index < file_columns)
            .map(|index| self.schema.fields()[*index].clone())
            .collect();
        let mut conformed = conform_columns(batch, &wanted)?.into_iter();
        let mut partitions = None;
        let mut columns = Vec::with_capacity(self.projection.len());
        for index in self.projection {
            let column = match (index.checked_sub(file_columns), self.time_column) {
                (Some(partition), Some(time_column)) => {
                    if partitions.is_none() {
                        partitions = Some(partition_columns(batch, time_column)?);
                    }
                    let (date, hour) = partitions
                        .as_ref()
                        .ok_or_else(|| DataFusionError::Internal("no partition columns".into()))?;
                    [date, hour][partition].clone()
                }
                _ => conformed.next().ok_or_else(|| {
                    DataFusionError::Internal("a projected column is missing".into())
                })?,
            };
            columns.push(column);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(self.projected.clone(), columns, &options)?)
    }
}

/// Whether a time of `batch`'s `time_column` is in `range` (a batch without such
/// a column is kept: its rows are then filtered like any others).
fn holds_times_in(batch: &RecordBatch, time_column: &str, range: TimeRange) -> bool {
    if range == TimeRange::ALL {
        return true;
    }
    let times = batch
        .column_by_name(time_column)
        .and_then(|column| column.as_primitive_opt::<TimestampMicrosecondType>());
    let Some(times) = times else { return true };
    times.values().iter().any(|micros| range.overlaps(*micros, 1))
}

/// The `date` (`YYYY-MM-DD`) and `hour` (`HH`) of each row's time, UTC; each hour
/// formatted once (a batch mostly lies within one or two).
fn partition_columns(batch: &RecordBatch, time_column: &str) -> Result<(ArrayRef, ArrayRef)> {
    let times = batch
        .column_by_name(time_column)
        .and_then(|column| column.as_primitive_opt::<TimestampMicrosecondType>())
        .ok_or_else(|| DataFusionError::Internal(format!("no µs time column {time_column}")))?;
    let mut formatted: Option<(i64, String, String)> = None;
    let mut dates = StringBuilder::with_capacity(times.len(), times.len() * 10);
    let mut hours = StringBuilder::with_capacity(times.len(), times.len() * 2);
    for &micros in times.values() {
        let hour = micros.div_euclid(MICROS_PER_HOUR);
        if formatted.as_ref().is_none_or(|(at, _, _)| *at != hour) {
            let time = DateTime::from_timestamp_micros(micros).unwrap_or_default();
            let date = format!("{:04}-{:02}-{:02}", time.year(), time.month(), time.day());
            formatted = Some((hour, date, format!("{:02}", time.hour())));
        }
        if let Some((_, date, hour)) = &formatted {
            dates.append_value(date);
            hours.append_value(hour);
        }
    }
    Ok((Arc::new(dates.finish()), Arc::new(hours.finish())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use arrow::array::{DictionaryArray, StringArray, TimestampMicrosecondArray, UInt32Array};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    const AT_23H: i64 = 1_700_002_800_000_000; // 2023-11-14T23:00:00Z
    const PARTS: [&str; 2] = ["date", "hour"];

    /// The table: `ts`, `name` (plain strings), `date`, `hour`.
    fn table() -> SchemaRef {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        Arc::new(Schema::new(vec![
            Field::new("ts", ts, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("date", DataType::Utf8, false),
            Field::new("hour", DataType::Utf8, false),
        ]))
    }

    /// Rows in memory as the sink holds them: `name` a dictionary.
    fn held(times: &[i64], name: &str) -> RecordBatch {
        let ts = TimestampMicrosecondArray::from(times.to_vec()).with_timezone("UTC");
        let keys = UInt32Array::from(vec![0; times.len()]);
        let names = DictionaryArray::new(keys, Arc::new(StringArray::from(vec![name])));
        RecordBatch::try_from_iter([
            ("ts", Arc::new(ts) as ArrayRef),
            ("name", Arc::new(names) as ArrayRef),
        ])
        .unwrap()
    }

    fn strings(batch: &RecordBatch, column: usize) -> Vec<&str> {
        batch.column(column).as_string::<i32>().iter().map(Option::unwrap).collect()
    }

    /// A query converted every row in memory, every column, whatever it read.
    #[test]
    fn a_scan_converts_only_the_columns_it_reads_of_the_rows_in_its_time_range() {
        let batches =
            [held(&[AT_23H, AT_23H + 5], "early"), held(&[AT_23H + MICROS_PER_HOUR], "late")];
        let later = TimeRange { start: Some(AT_23H + MICROS_PER_HOUR), end: None };
        let rows =
            scanned_rows(&batches, &table(), Some("ts"), &PARTS, Some(&[3, 1]), later).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].schema().fields().len(), 2);
        assert_eq!(strings(&rows[0], 0), ["00"]);
        assert_eq!(strings(&rows[0], 1), ["late"]);
        let all =
            scanned_rows(&batches, &table(), Some("ts"), &PARTS, None, TimeRange::ALL).unwrap();
        assert_eq!(all.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(strings(&all[0], 2), ["2023-11-14", "2023-11-14"]);
        assert_eq!(all[0].schema(), table());
        let counted =
            scanned_rows(&batches, &table(), Some("ts"), &PARTS, Some(&[]), TimeRange::ALL)
                .unwrap();
        assert_eq!(counted.iter().map(RecordBatch::num_rows).sum::<usize>(), 3);
    }
}
