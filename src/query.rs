//! Read-only SQL over the data directory. [`QueryEngine`] is a DataFusion session with
//! the tables of PRODUCT.md §4 (`requests`, `rejects`, `failovers`) registered over
//! the Hive-partitioned Parquet files; filters on the time column (`ts`,
//! `ts_ingested`) choose which `date=/hour=` directories are listed and read at all
//! ([`table`], [`time_range`]). Every statement is planned and checked before it
//! runs: DDL, DML, `COPY` and `SET` are refused, so no query writes anything.
//! [`saved`] holds the named queries of `queries/*.sql`, built into the binary, and
//! [`output`] prints results as a table, CSV or a JSON array.
//!
//! ```text
//! SQL ─ QueryEngine::sql (plan, refuse writes) ─▶ DataFrame ─ collect ─▶ RecordBatch
//!   ─ output::write_batches (table | csv | json) ─▶ io::Write
//! ```

mod engine;
mod listing;
pub mod output;
pub mod saved;
pub mod table;
pub mod time_range;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod percentile_tests;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use datafusion::error::DataFusionError;

pub use engine::QueryEngine;
pub use output::OutputFormat;
pub use saved::SavedQuery;

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
    /// write, an unknown saved query, a bad config), 1 when running it failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            QueryError::ReadOnly { .. }
            | QueryError::Plan { .. }
            | QueryError::UnknownSaved { .. }
            | QueryError::Config(_) => 2,
            QueryError::Execute { .. }
            | QueryError::Table { .. }
            | QueryError::Format { .. }
            | QueryError::Write(_)
            | QueryError::Runtime(_) => 1,
        }
    }
}
