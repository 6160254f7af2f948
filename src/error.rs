//! The crate's error type: every failure a command can end with, with the context
//! (path, format) an operator needs to fix it, and the exit code it maps to.

use std::path::PathBuf;

use meshlog_parsers::FormatError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write output")]
    Write(#[source] std::io::Error),
    #[error("cannot create {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid --format {spec:?}")]
    Format {
        spec: String,
        #[source]
        source: FormatError,
    },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    #[error(transparent)]
    Query(#[from] crate::query::QueryError),
    #[error(transparent)]
    Scrape(#[from] crate::scrape::ScrapeError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
}

impl Error {
    /// The process exit code: 2 for bad usage (a format that does not compile, a bad
    /// config),
    /// 1 for failures while running.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Format { .. } | Error::Config(_) | Error::Usage(_) => 2,
            Error::Ingest(crate::ingest::IngestError::Format { .. }) => 2,
            Error::Query(error) => error.exit_code(),
            Error::Serve(crate::serve::ServeError::Follow(_)) => 2,
            Error::Scrape(_) | Error::Storage(_) | Error::Serve(_) => 1,
            Error::Read { .. } | Error::Write(_) | Error::Create { .. } | Error::Ingest(_) => 1,
        }
    }
}
