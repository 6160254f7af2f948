//! meshlog turns the access logs of Envoy proxies in a multi-cluster Istio mesh into
//! answers: which requests left the cluster, when a service failed over and back,
//! which endpoints fail.
//!
//! ```text
//! input bytes ─ ingest::lines::LineReader ─▶ raw line
//!   ─ meshlog_parsers::stream::LogStream (envelope → format) ─▶ AccessLogRecord
//!   ─ cli::parse (one JSON object per line)
//! ```
//!
//! Where to start: [`cli`] owns the commands; parsing lives in the pure, synchronous
//! `meshlog-parsers` crate (`parsers/`), which has no I/O of its own.

pub mod analytics;
pub mod cli;
pub mod config;
pub mod enrich;
pub mod error;
pub mod ingest;
pub mod process;
pub mod query;
pub mod simulate;
pub mod storage;

pub use error::Error;
