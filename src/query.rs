//! Read-only SQL over the data directory. [`QueryEngine`] is a DataFusion session with
//! the tables of PRODUCT.md §4 (`requests`, `rejects`, `failovers`, `endpoint_stats`,
//! `cluster_stats`) registered over the Hive-partitioned Parquet files of a directory
//! that [`data_dir`] has checked holds meshlog data; filters on the time column (`ts`,
//! `ts_ingested`) choose which `date=/hour=` directories are listed and read at all
//! ([`table`], [`time_range`]). A [`TimeWindow`] (`--since`, `--until`) is applied to
//! the tables themselves, so every query sees only the window. Every statement is
//! planned and checked before it runs: DDL, DML, `COPY` and `SET` are refused, so no
//! query writes anything. [`saved`] holds the named queries of `queries/*.sql`, built
//! into the binary, with the parameters they declare ([`params`]), and [`output`]
//! prints results as a table, CSV or a JSON array.
//!
//! ```text
//! data dir + TimeWindow ─ QueryEngine::open_window ─▶ session (tables cut to the window)
//! SQL | SavedQuery::bind(--param …) ─ QueryEngine (plan, refuse writes, bind values)
//!   ─▶ DataFrame ─ collect ─▶ RecordBatch ─ output::write_batches (table | csv | json)
//! ```

pub mod data_dir;
mod engine;
pub mod fresh;
pub mod limits;
mod listing;
pub mod output;
pub mod params;
pub mod saved;
mod sketch_functions;
mod sketch_sharing;
pub mod table;
pub mod time_range;
pub mod visible_files;
pub mod window;
mod yield_points;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod percentile_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod window_tests;

use std::path::PathBuf;

use datafusion::error::DataFusionError;

pub use engine::QueryEngine;
pub use output::OutputFormat;
pub use params::BoundQuery;
pub use saved::SavedQuery;
pub use window::TimeWindow;

/// Why a query could not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The statement would change something; the query path only reads.
    #[error("refused {sql:?}: the query path is read-only ({kind}); nothing was written")]
    ReadOnly {
        sql: String,
        kind: String,
        #[source]
        source: DataFusionError,
    },
    /// The SQL does not parse or plan (unknown table or column, bad syntax…).
    #[error("cannot plan query {sql:?}")]
    Plan {
        sql: String,
        #[source]
        source: DataFusionError,
    },
    /// The query planned but failed while running (unreadable file…).
    #[error("query {sql:?} failed")]
    Execute {
        sql: String,
        #[source]
        source: DataFusionError,
    },
    /// A table of the data directory could not be registered.
    #[error("cannot open table {table} at {path}")]
    Table {
        table: &'static str,
        path: PathBuf,
        #[source]
        source: DataFusionError,
    },
    /// `--saved NAME` names no built-in query.
    #[error("no saved query {name:?}; known: {}", known.join(", "))]
    UnknownSaved { name: String, known: Vec<&'static str> },
    /// `--param NAME=…` names no parameter of the query.
    #[error(
        "saved query {saved} has no parameter {name:?}; it takes{}",
        if known.is_empty() { " none".to_owned() } else { format!(": {}", known.join(", ")) }
    )]
    UnknownParam { saved: &'static str, name: String, known: Vec<&'static str> },
    /// The same `--param NAME` twice.
    #[error("--param {name} is given twice")]
    ParamTwice { name: String },
    /// A `--param` value of the wrong type.
    #[error("--param {name}={value:?}: expected {expected}")]
    BadParam { name: &'static str, value: String, expected: &'static str },
    /// `--param` with SQL of one's own, which declares no parameters.
    #[error(
        "--param sets a parameter of a named query (--saved NAME); write values into your own SQL"
    )]
    ParamWithoutSaved,
    /// A built-in query's `-- @param` line does not read.
    #[error("saved query {name}: cannot read its declaration {line:?}")]
    SavedHeader { name: &'static str, line: String },
    /// `--since` / `--until` is not a time.
    #[error(
        "{flag} {value:?} is not a time: give RFC 3339 (2026-11-01T10:00:00Z), a date \
         (2026-11-01), now, or how long ago (30m, 1h, 2d)"
    )]
    BadTime { flag: &'static str, value: String },
    /// `--since` is not before `--until`.
    #[error("--since {since} is not before --until {until}: the window is empty")]
    EmptyWindow { since: String, until: String },
    /// The directory to query holds no meshlog data.
    #[error(
        "{path} is not a meshlog data directory: {why} (pass --data-dir, or set data_dir in the config)"
    )]
    NotADataDir {
        path: String,
        why: String,
        #[source]
        source: Option<std::io::Error>,
    },
    /// The query ran past its time limit.
    #[error("query {sql:?} stopped after {}s, its time limit (--timeout)", timeout.as_secs())]
    Timeout { sql: String, timeout: std::time::Duration },
    /// The query's result is larger than its memory limit.
    #[error(
        "query {sql:?} stopped: its result passed {} MiB, its memory limit (--memory-limit); \
         aggregate, filter or add LIMIT",
        limit >> 20
    )]
    ResultTooLarge { sql: String, limit: usize },
    /// The data directory's commit log is damaged, or a file it lists is gone.
    #[error(transparent)]
    Damaged(crate::storage::StorageError),
    /// A query request that does not say what to run (`POST /api/v1/query`).
    #[error("{0}")]
    Request(String),
    #[error("cannot read the rows of the running server's write-ahead log")]
    Wal(#[source] crate::storage::wal::WalError),
    /// The result could not be rendered (CSV, JSON or table encoding).
    #[error("cannot format the result as {format}")]
    Format {
        format: OutputFormat,
        #[source]
        source: arrow::error::ArrowError,
    },
    /// The result could not be written to the output.
    #[error("cannot write the query result")]
    Write(#[source] std::io::Error),
    /// The async runtime for the query could not start.
    #[error("cannot start the query runtime")]
    Runtime(#[source] std::io::Error),
    /// `--config` could not be read or is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

impl QueryError {
    /// The process exit code: 2 when the query itself is wrong (bad SQL, a refused
    /// write, an unknown saved query or parameter, a bad time, a directory without
    /// meshlog data, a bad config), 1 when running it failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            QueryError::ReadOnly { .. }
            | QueryError::Request(_)
            | QueryError::Plan { .. }
            | QueryError::UnknownSaved { .. }
            | QueryError::UnknownParam { .. }
            | QueryError::ParamTwice { .. }
            | QueryError::BadParam { .. }
            | QueryError::ParamWithoutSaved
            | QueryError::BadTime { .. }
            | QueryError::EmptyWindow { .. }
            | QueryError::NotADataDir { .. }
            | QueryError::Config(_) => 2,
            QueryError::Execute { .. }
            | QueryError::Timeout { .. }
            | QueryError::ResultTooLarge { .. }
            | QueryError::Damaged(_)
            | QueryError::Wal(_)
            | QueryError::Table { .. }
            | QueryError::SavedHeader { .. }
            | QueryError::Format { .. }
            | QueryError::Write(_)
            | QueryError::Runtime(_) => 1,
        }
    }
}
