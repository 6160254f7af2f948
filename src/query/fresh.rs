//! Rows not yet in Parquet, queried beside the files: what a running `meshlog
//! serve` holds in memory (its [`FreshRows`] snapshot), or, for `meshlog query`
//! beside a running server, the entries of its write-ahead log that no commit holds
//! yet. With them comes the last commit whose files a query may read: files of later
//! commits hold rows that are still among the fresh ones, so each row is seen once.
//! The rows get the table's column types and its `date` and `hour` columns.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, StringBuilder};
use arrow::datatypes::{SchemaRef, TimestampMicrosecondType};
use chrono::{DateTime, Datelike, Timelike};
use datafusion::error::{DataFusionError, Result};

use super::QueryError;
use super::data_dir::read_committed;
use super::time_range::MICROS_PER_HOUR;
use crate::storage::commit_log::{CommitRecord, last_wal_seq};
use crate::storage::schema::{PARTITION_COLUMNS, conform_columns};
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
#[derive(Debug, Clone, Default)]
pub struct Visibility {
    pub through: u64,
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
            .filter_map(|path| Some(path.file_name()?.to_string_lossy().into_owned()))
            .collect();
        Some(Visibility { through, replaced })
    }

    /// Whether the data file `name` is read.
    pub fn shows(&self, name: &str) -> bool {
        let committed = commit_of_file(name).is_none_or(|commit| commit <= self.through);
        committed && !self.replaced.contains(name)
    }
}

/// The commit a data file belongs to, from its name (`<commit>-<run>-<n>.parquet`).
pub(crate) fn commit_of_file(name: &str) -> Option<u64> {
    name.split_once('-')?.0.parse().ok()
}

/// `batches` with the types of `schema` (a table's: file columns, then `date` and
/// `hour` when `time_column` partitions it).
pub(crate) fn as_table_rows(
    batches: &[RecordBatch],
    schema: &SchemaRef,
    time_column: Option<&str>,
) -> Result<Vec<RecordBatch>> {
    batches
        .iter()
        .filter(|batch| batch.num_rows() > 0)
        .map(|batch| as_table_batch(batch, schema, time_column))
        .collect()
}

fn as_table_batch(
    batch: &RecordBatch,
    schema: &SchemaRef,
    time_column: Option<&str>,
) -> Result<RecordBatch> {
    let file_fields = match time_column {
        Some(_) => &schema.fields()[..schema.fields().len() - PARTITION_COLUMNS.len()],
        None => &schema.fields()[..],
    };
    let mut columns = conform_columns(batch, file_fields)?;
    if let Some(time_column) = time_column {
        let (date, hour) = partition_columns(batch, time_column)?;
        columns.push(date);
        columns.push(hour);
    }
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
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
