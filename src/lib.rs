//! meshlog turns the access logs of Envoy proxies in a multi-cluster Istio mesh into
//! answers: which requests left the cluster, when a service failed over and back,
//! which endpoints fail.
//!
//! ```text
//! file / stdin ─ ingest::source (identity, resume offset) ─ ingest::lines::LineReader
//!   ─▶ raw line ─ meshlog_parsers::stream::LogStream (envelope → format) ─▶ AccessLogRecord
//!   ─ process::Processor: enrich::Enricher (topology → locality, dst_cluster)
//!       + Arrow builders ─▶ RecordBatch
//!   ─ bounded channel ─▶ process::observations → analytics::failover::FailoverDetector,
//!       then storage::staging (sorted Parquet per hour and detector state,
//!       under _meshlog/tmp) ─ bounded channel ─▶ storage::committer::Publisher (fsync,
//!       rename, commit log with source positions) ─▶ requests/ rejects/ failovers/
//! admin dump (file, stdin, or scrape::Scraper over HTTP) ─ meshlog_parsers::admin
//!   ─ stats::StatsProcessor (enrich, counter deltas) ─▶ committer ─▶ endpoint_stats/ cluster_stats/
//! data_dir ─ query::QueryEngine (DataFusion, time-pruned partitions, read-only) ─▶ table/csv/json
//! ```
//!
//! Where to start: [`cli`] owns the commands; [`ingest::pipeline`] drives an ingest
//! (reading on one thread, encoding on another, publishing on a third);
//! [`storage::schema`] fixes the tables. Parsing lives in the pure, synchronous
//! `meshlog-parsers` crate (`parsers/`), which has no I/O of its own; [`simulate`]
//! generates realistic logs with known truth for the demo and the tests; [`learn`]
//! infers the topology from endpoint dumps.

pub mod analytics;
pub mod cli;
pub mod config;
pub mod enrich;
pub mod error;
mod fast_hash;
pub mod ingest;
pub mod learn;
pub mod process;
pub mod query;
pub mod scrape;
pub mod simulate;
pub mod stats;
pub mod storage;

pub use error::Error;
