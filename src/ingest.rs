//! Ingest: sources → lines → the processor → committed Parquet. [`lines`] frames
//! bytes into lines with bounded memory, [`source`] opens and resumes inputs,
//! [`source_reader`] reads one of them, [`run`] drives a run through the [`crate::pipeline`] and interleaves
//! inputs by time, [`progress`] draws the bar.

pub mod dumps;
pub mod lines;
pub mod progress;
pub mod run;
pub mod source;
pub mod source_reader;

pub use run::{IngestOptions, IngestReport, ingest};

use std::path::PathBuf;

use meshlog_parsers::FormatError;

use crate::storage::StorageError;

/// Why an ingest run failed. Per-line problems are never errors: they are rejects.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}")]
    Read {
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
    Storage(#[from] StorageError),
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
    #[error("the committer thread stopped; see the error it reported")]
    CommitterStopped,
    #[error("the committer thread panicked")]
    CommitterPanicked,
}
