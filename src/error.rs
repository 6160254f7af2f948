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
    #[error("invalid --format {spec:?}")]
    Format {
        spec: String,
        #[source]
        source: FormatError,
    },
}

impl Error {
    /// The process exit code: 2 for bad usage (a format that does not compile),
    /// 1 for failures while running.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Format { .. } => 2,
            Error::Read { .. } | Error::Write(_) => 1,
        }
    }
}
