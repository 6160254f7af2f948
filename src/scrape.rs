//! Live polling of Envoy admin endpoints (`meshlog scrape`; `serve` reuses it). Each
//! `[[scrape]]` target ([`crate::config::scrape::ScrapeTarget`]) is polled on its
//! interval: `GET <url>/clusters?format=json` and `GET <url>/stats/prometheus`, at once,
//! each within the target's timeout.
//!
//! ```text
//! schedule (due? back-off) ─ fetch::Fetcher (reqwest, timeout) ─▶ body + arrival time
//!   ─ store::into_groups (Dump::parse, grouped by source cluster)
//!   ─ pipeline (one commit per round: rows against the counter state) ─▶ data_dir
//! ```
//!
//! A failed GET (connect error, timeout, non-2xx) is one line on stderr and an
//! exponential back-off for that target ([`schedule`]); it never stops the run. Only a
//! storage failure does.

pub mod fetch;
pub mod report;
pub mod schedule;
pub mod scraper;
pub mod store;

pub use report::ScrapeReport;
pub use scraper::Scraper;

use crate::storage::StorageError;

/// Why scraping stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("cannot set up the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("a scrape task failed")]
    Task(#[source] tokio::task::JoinError),
    #[error("the pipeline stopped; see the error it reported")]
    PipelineStopped,
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
}
