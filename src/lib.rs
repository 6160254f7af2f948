//! meshlog turns the access logs of Envoy proxies in a multi-cluster Istio mesh into
//! answers: which requests left the cluster, when a service failed over and back,
//! which endpoints fail.
//!
//! ```text
//! HTTP POST /api/v1/logs ─ serve::body (decompress, records) ─ serve::parse (Processor)
//!   ─ serve::sink (storage::wal, group fsync, then 200) ─ serve::fresh (rows in memory,
//!   queryable) ─ flusher: SourceBatch when large or old ───────────────┐
//! followed files (serve::follow, tail -F) ─ Processor ─ serve::sink ──┘
//! file / stdin ─ ingest::source (identity, resume offset) ─ ingest::lines::LineReader
//!   ─▶ raw line ─ meshlog_parsers::stream::LogStream (envelope → format) ─▶ AccessLogRecord
//!   ─ process::Processor: enrich::Enricher (topology → locality, dst_cluster)
//!       + Arrow builders ─▶ SourceBatch (rows, checkpoints) ─┐
//! admin dump (file, stdin) / scrape::Scraper over HTTP        │
//!   ─ meshlog_parsers::admin ─▶ SourceBatch (snapshots) ──────┤ bounded queue
//!                                                             ▼
//! pipeline::Pipeline (the data directory's one writer), committer thread:
//!   stages: process::observations → analytics::failover::FailoverDetector;
//!           stats::commit (counter deltas, evidence for the detector)
//!   ─ storage::staging (sorted Parquet per hour, the states that changed, under
//!     _meshlog/tmp) ─ publishing thread: storage::committer::Publisher (fsync, rename,
//!     commit log with checkpoints), then the source's acknowledgement
//!   ─▶ requests/ rejects/ endpoint_stats/ cluster_stats/ failovers/
//! data_dir ─ query::QueryEngine (DataFusion, time-pruned partitions, read-only) ─▶ table/csv/json
//!   (serve: + rows in memory) ─▶ POST /api/v1/query, PostgreSQL protocol (serve::pg)
//! ```
//!
//! Where to start: [`cli`] owns the commands; [`pipeline`] owns a data directory
//! while writing (sources hand it batches; [`ingest::run`] reads files into it on
//! the calling thread; [`serve`] runs it for good, fed by its closed set of sources
//! — HTTP, followed files, scrapes: [`serve::sources`] — and answers queries over the
//! files plus the rows still in memory, over HTTP and the PostgreSQL protocol:
//! [`serve::pg`]); [`storage::schema`] fixes the tables.
//! Parsing lives in the
//! pure, synchronous `meshlog-parsers` crate (`parsers/`), which has no I/O of its
//! own; [`simulate`] generates realistic logs with known truth for the demo and the
//! tests; [`learn`] infers the topology from endpoint dumps.

/// `eprintln!` for messages to the user, but a closed or broken stderr (`2>&-`, a
/// pipe whose reader is gone) is ignored instead of a panic: by the time a summary
/// is printed the data is committed, and the exit code must say so.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub mod analytics;
pub mod cli;
pub mod config;
pub mod enrich;
pub mod error;
mod fast_hash;
pub mod ingest;
pub mod learn;
pub mod metrics;
pub mod pipeline;
pub mod process;
pub mod query;
pub mod scrape;
pub mod serve;
mod shutdown;
pub mod simulate;
pub mod stats;
pub mod storage;

pub use error::Error;
