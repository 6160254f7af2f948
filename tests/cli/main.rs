//! End-to-end tests of the `meshlog` binary: each runs the real executable on files
//! from `samples/`, on simulated logs or on stdin, and checks what an operator
//! sees: stdout, the summary on stderr, the exit code, and the data directory.
//! One test binary, one module per command.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod alerts;
mod als;
mod dashboards;
mod demo;
mod envelopes;
mod faults;
mod ingest;
mod kafka;
mod kafka_support;
mod live_files;
mod metrics;
mod otlp;
mod parse;
mod postgres;
mod prometheus_support;
mod query;
mod scenarios;
mod scrape;
mod serve;
mod serve_support;
mod simulated;
mod stats;
mod support;
mod topology;

/// Random mixes of every container envelope, shared with the parsers' tests.
#[path = "../../parsers/tests/support/envelope_mix.rs"]
mod envelope_mix;
