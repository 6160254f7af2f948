//! Compaction: the hourly partitions of a serving data directory gather a file per
//! commit (one a minute at the default `flush_interval`, one per scrape round), so
//! every `compact_interval` the compactor merges each partition's small committed
//! files into one sorted file of up to [`TARGET_ROWS`] rows. A merge is a commit like
//! any other, through the one pipeline: the new file is written, fsynced and renamed
//! into place, then the commit record lists it and the files it replaces; a crash
//! before that record leaves the old files (the new one is moved aside on start), a
//! crash after it leaves the new one (the old ones are deleted on start). Queries
//! see either the old files or the new one, never both. The daily partitions of the
//! rollups are merged the same way, their rows with equal minute and keys summed.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio::sync::oneshot;

use crate::analytics::rollup::{Rollup, RollupBuilder};
use crate::metrics::Metrics;
use crate::pipeline::{BatchContent, Origin, PipelineInput, SourceBatch};
use crate::storage::commit_log::{COMMIT_LOG, CommitLog, live_files};
use crate::storage::layout::META_DIR;
use crate::storage::schema::{self, conform_columns};
use crate::storage::staging::AppendedTable;

/// Rows a merged file holds at most (bounded: a merge is held in memory).
pub const TARGET_ROWS: usize = 262_144;

/// The tables the compactor merges.
const TABLES: [AppendedTable; 6] = [
    AppendedTable::Requests,
    AppendedTable::Rejects,
    AppendedTable::EndpointStats,
    AppendedTable::ClusterStats,
    AppendedTable::Requests1m,
    AppendedTable::Endpoints1m,
];

/// One merge: files of one partition, oldest first, and their rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub table: AppendedTable,
    pub files: Vec<PathBuf>,
    pub rows: usize,
}

/// Why a merge could not be made (reported; the files stay as they are).
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error("cannot read the commit log")]
    Log(#[source] crate::storage::StorageError),
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("cannot convert the rows of {path}")]
    Convert {
        path: PathBuf,
        #[source]
        source: arrow::error::ArrowError,
    },
}

/// Runs compactions every `interval` until `stop`; each merge waits for its commit.
pub struct Compactor {
    pub data_dir: PathBuf,
    pub input: PipelineInput,
    pub interval: Duration,
    pub min_files: usize,
    pub stop: Arc<AtomicBool>,
    /// Where each merge's duration goes.
    pub metrics: Option<Arc<Metrics>>,
}

impl Compactor {
    pub fn run(self) {
        let mut next = Instant::now() + self.interval;
        while !self.stop.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(100));
            if Instant::now() < next {
                continue;
            }
            if let Err(error) = self.compact_once() {
                tracing::warn!(%error, "compaction skipped");
            }
            next = Instant::now() + self.interval;
        }
    }

    /// Makes every merge there is to make now.
    pub fn compact_once(&self) -> Result<usize, CompactError> {
        let log = CommitLog::read(&self.data_dir.join(META_DIR).join(COMMIT_LOG))
            .map_err(CompactError::Log)?;
        let live: Vec<PathBuf> = live_files(&log).into_iter().map(Path::to_path_buf).collect();
        let merges = plan(&self.data_dir, &live, self.min_files);
        let mut made = 0;
        for merge in merges {
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            let started = Instant::now();
            let rows = read_rows(&self.data_dir, &merge)?;
            if !self.commit(merge, rows) {
                break;
            }
            if let Some(metrics) = &self.metrics {
                metrics.compaction_duration.observe(started.elapsed().as_secs_f64());
            }
            made += 1;
        }
        Ok(made)
    }

    /// Sends a merge to the pipeline and waits until it is committed; `false` when
    /// the pipeline stopped.
    fn commit(&self, merge: Merge, rows: RecordBatch) -> bool {
        let (ack, acknowledged) = oneshot::channel();
        let started = Instant::now();
        let files = merge.files.len();
        let batch = SourceBatch {
            origin: Origin {
                source: "compaction".into(),
                source_cluster: None,
                format: "parquet".into(),
            },
            content: BatchContent::Compacted { table: merge.table, rows, replaced: merge.files },
            checkpoints: Vec::new(),
            states: Vec::new(),
            ack: Some(ack),
        };
        if self.input.send_blocking(batch).is_err() || acknowledged.blocking_recv().is_err() {
            return false;
        }
        tracing::info!(
            table = merge.table.dir(),
            files,
            rows = merge.rows,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compacted"
        );
        true
    }
}

/// The merges to make among the `live` committed files: per partition with at
/// least `min_files` small files (under half of [`TARGET_ROWS`]), runs of them
/// of up to [`TARGET_ROWS`] rows, two files or more each.
pub fn plan(data_dir: &Path, live: &[PathBuf], min_files: usize) -> Vec<Merge> {
    let mut merges = Vec::new();
    for table in TABLES {
        let mut partitions: BTreeMap<&Path, Vec<&PathBuf>> = BTreeMap::new();
        for file in live.iter().filter(|file| file.starts_with(table.dir())) {
            partitions.entry(file.parent().unwrap_or(Path::new(""))).or_default().push(file);
        }
        for files in partitions.into_values() {
            let small: Vec<(PathBuf, usize)> = files
                .into_iter()
                .filter_map(|file| Some((file.clone(), row_count(&data_dir.join(file))?)))
                .filter(|(_, rows)| *rows < TARGET_ROWS / 2)
                .collect();
            if small.len() >= min_files.max(2) {
                merges.extend(runs(table, small));
            }
        }
    }
    merges
}

/// Consecutive runs of `files` of up to [`TARGET_ROWS`] rows, two or more each.
fn runs(table: AppendedTable, files: Vec<(PathBuf, usize)>) -> Vec<Merge> {
    let mut runs = Vec::new();
    let mut current = Merge { table, files: Vec::new(), rows: 0 };
    for (file, rows) in files {
        if current.rows + rows > TARGET_ROWS && !current.files.is_empty() {
            runs.push(std::mem::replace(&mut current, Merge { table, files: Vec::new(), rows: 0 }));
        }
        current.files.push(file);
        current.rows += rows;
    }
    runs.push(current);
    runs.retain(|merge| merge.files.len() >= 2);
    runs
}

fn row_count(path: &Path) -> Option<usize> {
    let file = File::open(path).ok()?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).ok()?;
    usize::try_from(builder.metadata().file_metadata().num_rows()).ok()
}

/// The rows of a merge's files, in file order, with the table's column types.
fn read_rows(data_dir: &Path, merge: &Merge) -> Result<RecordBatch, CompactError> {
    let schema = table_schema(merge.table);
    let mut batches = Vec::new();
    for file in &merge.files {
        let path = data_dir.join(file);
        let read = |source| CompactError::Read { path: path.clone(), source };
        let opened = File::open(&path).map_err(|error| read(error.into()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(opened)
            .and_then(|builder| builder.build())
            .map_err(read)?;
        for batch in reader {
            let batch =
                batch.map_err(|source| CompactError::Convert { path: path.clone(), source })?;
            batches.push(
                as_schema(&batch, &schema)
                    .map_err(|source| CompactError::Convert { path: path.clone(), source })?,
            );
        }
    }
    concat_batches(&schema, &batches)
        .and_then(|rows| merged(merge.table, rows))
        .map_err(|source| CompactError::Convert { path: data_dir.to_owned(), source })
}

fn table_schema(table: AppendedTable) -> SchemaRef {
    match table {
        AppendedTable::Requests => schema::requests(),
        AppendedTable::Rejects => schema::rejects(),
        AppendedTable::EndpointStats => schema::endpoint_stats(),
        AppendedTable::ClusterStats => schema::cluster_stats(),
        AppendedTable::Requests1m => Rollup::Requests1m.schema(),
        AppendedTable::Endpoints1m => Rollup::Endpoints1m.schema(),
    }
}

/// The rollup a rollup table holds.
fn rollup_of(table: AppendedTable) -> Option<Rollup> {
    match table {
        AppendedTable::Requests1m => Some(Rollup::Requests1m),
        AppendedTable::Endpoints1m => Some(Rollup::Endpoints1m),
        _ => None,
    }
}

/// A rollup's rows with equal minute and keys merged into one (the files of
/// several commits each hold a row for the minutes they saw); other rows as read.
fn merged(
    table: AppendedTable,
    rows: RecordBatch,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let Some(rollup) = rollup_of(table) else { return Ok(rows) };
    let mut builder = RollupBuilder::new(rollup)?;
    builder.add_rollups(&rows)?;
    builder.finish()
}

/// `batch` with the columns of `schema` ([`conform_columns`]).
fn as_schema(
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    RecordBatch::try_new(schema.clone(), conform_columns(batch, schema.fields())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_stop_at_the_target_and_keep_two_files_or_more() {
        let file = |n: usize, rows: usize| (PathBuf::from(format!("requests/{n}.parquet")), rows);
        let half = TARGET_ROWS / 2 - 1;
        let merges = runs(
            AppendedTable::Requests,
            vec![file(1, half), file(2, half), file(3, 10), file(4, half)],
        );
        let files = |merge: &Merge| merge.files.len();
        assert_eq!(merges.iter().map(files).collect::<Vec<_>>(), [2, 2]);
        assert_eq!(merges[0].rows, 2 * half);
        assert_eq!(merges[1].rows, half + 10);
        let alone = runs(AppendedTable::Requests, vec![file(1, TARGET_ROWS - 1), file(2, 5)]);
        assert!(alone.is_empty(), "{alone:?}");
    }
}
