//! `meshlog rollup`: recomputes the rollups of every day from its `requests` files,
//! for data directories written before rollups existed (or to rebuild them). Each
//! day is one commit that adds the day's new rollup files and removes its old ones,
//! so a crash leaves either the old rollups of that day or the new ones, and running
//! it twice counts each request once. It holds the directory's lock, like `ingest`:
//! stop `meshlog serve` first. At the end the directory is marked as fully rolled
//! up, so named queries read the rollups.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{Rollup, RollupBuilder};
use crate::storage::StorageError;
use crate::storage::commit_log::live_files;
use crate::storage::committer::Committer;
use crate::storage::rollup_marker::mark_rollups_complete;
use crate::storage::schema::{ENDPOINTS_1M_DIR, REQUESTS_1M_DIR, REQUESTS_DIR};
use crate::storage::staging::{AppendedTable, PendingCommit};

/// What a backfill did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BackfillReport {
    pub days: usize,
    pub requests: u64,
    pub rollup_rows: u64,
}

/// Recomputes the rollups of every day that has `requests` files.
pub fn backfill(data_dir: &Path) -> Result<BackfillReport, StorageError> {
    let (mut committer, _recovery) = Committer::open(data_dir)?;
    let live: Vec<PathBuf> =
        live_files(committer.log().records()).into_iter().map(Path::to_path_buf).collect();
    let mut report = BackfillReport::default();
    for (day, files) in by_day(&live) {
        let mut builders: Vec<RollupBuilder> = Rollup::ALL
            .into_iter()
            .map(RollupBuilder::new)
            .collect::<Result<_, _>>()
            .map_err(arrow_error)?;
        for file in &files.requests {
            for batch in read_requests(&data_dir.join(file))? {
                report.requests += batch.num_rows() as u64;
                for builder in &mut builders {
                    builder.add_requests(&batch).map_err(arrow_error)?;
                }
            }
        }
        let mut pending = PendingCommit { removed: files.rollups, ..PendingCommit::default() };
        for (rollup, builder) in Rollup::ALL.into_iter().zip(builders) {
            let rows = builder.finish().map_err(arrow_error)?;
            report.rollup_rows += rows.num_rows() as u64;
            pending.add_rows(AppendedTable::of_rollup(rollup), rows);
        }
        committer.commit(pending)?;
        tracing::info!(day, "rolled up");
        report.days += 1;
    }
    mark_rollups_complete(data_dir)?;
    Ok(report)
}

/// A day's live files: its `requests` files (of any hour) and its rollup files.
#[derive(Default)]
struct DayFiles {
    requests: Vec<PathBuf>,
    rollups: Vec<PathBuf>,
}

/// The live files by day (`date=YYYY-MM-DD`), for the days with `requests` files.
fn by_day(live: &[PathBuf]) -> BTreeMap<String, DayFiles> {
    let mut days: BTreeMap<String, DayFiles> = BTreeMap::new();
    for file in live {
        let mut parts = file.iter().map(|part| part.to_string_lossy());
        let (Some(table), Some(date)) = (parts.next(), parts.next()) else { continue };
        let Some(day) = date.strip_prefix("date=") else { continue };
        let entry = days.entry(day.to_owned()).or_default();
        match table.as_ref() {
            REQUESTS_DIR => entry.requests.push(file.clone()),
            REQUESTS_1M_DIR | ENDPOINTS_1M_DIR => entry.rollups.push(file.clone()),
            _ => {}
        }
    }
    days.retain(|_, files| !files.requests.is_empty());
    days
}

/// The columns of a `requests` file the rollups read.
fn read_requests(path: &Path) -> Result<Vec<RecordBatch>, StorageError> {
    let read = |source: parquet::errors::ParquetError| StorageError::ReadParquet {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(|source| StorageError::Io {
        action: "open",
        path: path.to_owned(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(read)?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), Rollup::requests_columns());
    let reader = builder.with_projection(mask).build().map_err(read)?;
    reader.map(|batch| batch.map_err(|source| read(source.into()))).collect()
}

fn arrow_error(source: arrow::error::ArrowError) -> StorageError {
    StorageError::Arrow { table: REQUESTS_1M_DIR, source }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;

    use super::*;
    use crate::query::QueryEngine;
    use crate::query::fixtures::{self, TempDataDir};

    /// `sum(requests)` of both rollups and `count(*)` of `requests`.
    fn totals(data_dir: &Path) -> Vec<i64> {
        let engine = QueryEngine::open(data_dir).unwrap();
        let sql = "SELECT (SELECT sum(requests) FROM requests_1m), \
                   (SELECT sum(requests) FROM endpoints_1m), (SELECT count(*) FROM requests)";
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (_, batches) = runtime.block_on(engine.collect(sql)).unwrap();
        let row = &batches[0];
        (0..3).map(|column| row.column(column).as_primitive::<Int64Type>().value(0)).collect()
    }

    #[test]
    fn a_day_without_rollups_gets_them_and_a_second_run_counts_each_request_once() {
        let dir = TempDataDir::new("backfill");
        let rows = fixtures::incident();
        let (mut committer, _) = Committer::open(&dir.path).unwrap();
        let mut pending = PendingCommit::default();
        pending.add_rows(AppendedTable::Requests, fixtures::requests_batch(&rows));
        committer.commit(pending).unwrap();
        // As a meshlog from before rollups left it: the requests files alone.
        let rollups: Vec<PathBuf> = live_files(committer.log().records())
            .into_iter()
            .filter(|file| !file.starts_with(REQUESTS_DIR))
            .map(Path::to_path_buf)
            .collect();
        assert!(!rollups.is_empty());
        committer.commit(PendingCommit { removed: rollups, ..PendingCommit::default() }).unwrap();
        drop(committer);
        let marker = dir.path.join(crate::storage::layout::META_DIR).join("rollups-complete");
        std::fs::remove_file(&marker).unwrap();
        let count = rows.len() as i64;
        assert_eq!(totals(&dir.path)[2], count);
        assert_eq!(totals(&dir.path)[..2], [0, 0]);
        let report = backfill(&dir.path).unwrap();
        assert_eq!((report.days, report.requests), (2, rows.len() as u64));
        assert_eq!(totals(&dir.path), [count, count, count]);
        assert!(crate::storage::rollup_marker::rollups_complete(&dir.path));
        backfill(&dir.path).unwrap();
        assert_eq!(totals(&dir.path), [count, count, count]);
    }
}
