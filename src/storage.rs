//! Storage: the table schemas, the Hive-partitioned Parquet layout under the data
//! directory, the atomic Parquet writer, and the commit log that records which
//! source bytes each committed file holds. [`committer`] ties them together: it
//! turns a batch of rows into committed files.

pub mod commit_log;
pub mod committer;
mod dict_chunk;
pub mod dict_column;
pub mod layout;
pub mod parallel;
pub mod parquet_file;
pub mod repair;
mod rle_hybrid;
pub mod rollup_marker;
pub mod row_groups;
pub mod schema;
pub mod staging;
pub mod time_order;
pub mod wal;

use std::path::{Path, PathBuf};

/// Why data could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write Parquet file {path}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("cannot read Parquet file {path}")]
    ReadParquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("cannot build the rows of table {table}")]
    Arrow {
        table: &'static str,
        #[source]
        source: arrow::error::ArrowError,
    },
    #[error("cannot encode the {what} state")]
    State {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("data directory {path} is in use by another meshlog ingest")]
    Locked { path: PathBuf },
    #[error(
        "{path}:{line}: {problem}; nothing was changed. The commit log says which files \
         hold committed rows: run `meshlog repair --data-dir {data_dir}` to rebuild it from \
         the files' own metadata (the damaged log is kept beside it)"
    )]
    DamagedLog { path: PathBuf, line: usize, problem: String, data_dir: PathBuf },
    #[error(
        "{path} is missing, though commit {seq} saved it; nothing was changed. Restore it \
         from a backup, or move the data directory aside and ingest again"
    )]
    MissingState { path: PathBuf, seq: u64 },
    #[error(
        "the commit log ends at commit {last_seq}, but {found} belongs to a later commit: \
         the log lost its last record(s); nothing was changed. Run `meshlog repair \
         --data-dir {data_dir}` to rebuild it from the files' own metadata"
    )]
    LostRecords { last_seq: u64, found: PathBuf, data_dir: PathBuf },
    #[error(
        "{count} committed file(s) are missing from {data_dir}, such as {first}; the \
         rows they held cannot be read. Restore them, or run `meshlog repair --data-dir \
         {data_dir}` to drop them from the commit log"
    )]
    MissingFiles { data_dir: PathBuf, count: usize, first: PathBuf },
}

impl StorageError {
    /// An I/O error while doing `action` on `path`.
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> StorageError {
        StorageError::Io { action, path: path.into(), source }
    }
}
