//! The one way pushed lines get into `meshlog serve`, whatever carried them (the
//! HTTP sink, OTLP over HTTP or gRPC): memory for the request is reserved from a
//! budget shared by all requests ([`Reserved`]); the reporting cluster is checked
//! against the topology; the records are parsed and tagged ([`parse_lines`], on a
//! blocking thread); the batch goes to the write-ahead log and the answer waits
//! until it is durable ([`store`]). Each protocol turns a [`Failure`] into its own
//! answer (an HTTP status, a gRPC code).

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use super::body::{BodyError, Record};
use super::http::AppState;
use super::parse::{LineSettings, ParseError, parse_records};
use super::sink::{Parsed, Receipt, Refused, Submission};

/// The header (gRPC: the metadata key) naming the reporting cluster of all a
/// request's lines.
pub const SOURCE_CLUSTER_HEADER: &str = "x-meshlog-source-cluster";
/// The header (gRPC: the metadata key) that makes a retried request idempotent.
pub const BATCH_ID_HEADER: &str = "x-meshlog-batch-id";
/// How long a parsed request waits for room among the rows in memory before it is
/// told to come back later.
const PATIENCE: Duration = Duration::from_secs(5);
/// Lines longer than this are rejects (as for files).
const MAX_LINE_BYTES: usize = meshlog_parsers::parser::DEFAULT_MAX_LINE_BYTES;

/// Why a request's lines were not stored.
#[derive(Debug)]
pub enum Failure {
    /// The body does not read (or is over the limit).
    Body(BodyError),
    Parse(ParseError),
    /// The reporting cluster is missing or unknown.
    Cluster(String),
    /// Behind: memory, the rows in memory or the WAL's queue are at their bound.
    Busy(&'static str),
    /// The server is recovering or stopping, and takes nothing.
    NotReady,
    /// The server is stopping.
    Stopped,
    /// The WAL failed: the lines may or may not be stored.
    WalFailed,
}

impl Failure {
    /// The HTTP status that says it; 503 is the one to retry later.
    pub fn status(&self) -> StatusCode {
        match self {
            Failure::Body(BodyError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::Body(_) | Failure::Cluster(_) => StatusCode::BAD_REQUEST,
            Failure::Parse(ParseError::Format { .. }) => StatusCode::BAD_REQUEST,
            Failure::Busy(_) | Failure::NotReady | Failure::Stopped => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Failure::Parse(_) | Failure::WalFailed => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told.
    pub fn message(&self) -> String {
        match self {
            Failure::Body(error) => error.to_string(),
            Failure::Parse(error) => error.to_string(),
            Failure::Cluster(message) => message.clone(),
            Failure::Busy(why) => format!("behind: {why}"),
            Failure::NotReady => "not ready: recovering or stopping".to_owned(),
            Failure::Stopped => "stopping".to_owned(),
            Failure::WalFailed => "the write-ahead log failed, the server is stopping: this \
                 request may or may not be stored; retry it (with the same X-Meshlog-Batch-Id \
                 it is stored once)"
                .to_owned(),
        }
    }
}

/// Memory reserved for a request from the budget all requests share: twice its
/// body's size (the body, then its rows).
pub struct Reserved {
    permits: Vec<OwnedSemaphorePermit>,
    bytes: usize,
}

/// Why a reservation failed: the budget has not that much left.
const NO_MEMORY: &str = "too many request bodies being read";

impl Reserved {
    /// Busy when the budget has not that much left.
    pub fn take(state: &AppState, bytes: usize) -> Result<Reserved, Failure> {
        let permits = u32::try_from(bytes.saturating_mul(2).max(1)).unwrap_or(u32::MAX);
        let permit = state.inflight.clone().try_acquire_many_owned(permits);
        let permit = permit.map_err(|_| Failure::Busy(NO_MEMORY))?;
        Ok(Reserved { permits: vec![permit], bytes })
    }

    /// Reserves more, for a body that inflated past its guess; busy if there is not
    /// that much left.
    pub fn grow_to(&mut self, state: &AppState, bytes: usize) -> Result<(), Failure> {
        if bytes > self.bytes {
            let more = Reserved::take(state, bytes - self.bytes)?;
            self.permits.extend(more.permits);
            self.bytes = bytes;
        }
        Ok(())
    }
}

/// With a topology, the lines' reporting cluster must be one of its clusters, and
/// be named (by the request, its records, or the config): local and cross-cluster
/// depend on it.
pub fn check_cluster(
    state: &AppState,
    explicit: Option<&str>,
    records_name_theirs: bool,
) -> Result<(), Failure> {
    if state.topology.is_empty() {
        return Ok(());
    }
    match explicit {
        Some(name) if state.topology.id(name).is_none() => Err(Failure::Cluster(format!(
            "source cluster {name:?} is not one of the config's [[clusters]]"
        ))),
        None if state.default_cluster.is_none() && !records_name_theirs => {
            Err(Failure::Cluster(format!(
                "no reporting cluster: send the header {SOURCE_CLUSTER_HEADER}, the parameter \
                 source_cluster, or set source_cluster in the config"
            )))
        }
        _ => Ok(()),
    }
}

/// What the lines of a request are read as.
pub struct LinesOf<'r> {
    /// Named by the request for all its lines: it overrides the records' own.
    pub explicit_cluster: Option<Arc<str>>,
    /// The format, else `[server] format`.
    pub format: Option<&'r str>,
    /// What the rejects' `source` says (`http`, `http batch <id>`, …).
    pub source: &'r str,
}

/// Parses and tags `records` (call it on a blocking thread).
pub fn parse_lines(
    state: &AppState,
    lines: LinesOf<'_>,
    mut records: Vec<Record<'_>>,
) -> Result<Parsed, Failure> {
    if lines.explicit_cluster.is_some() {
        records.iter_mut().for_each(|record| record.source_cluster = None);
    }
    let settings = LineSettings {
        topology: &state.topology,
        format: lines.format.unwrap_or(&state.settings.format),
        max_line_bytes: MAX_LINE_BYTES,
        source: lines.source,
    };
    let cluster = lines.explicit_cluster.or_else(|| state.default_cluster.clone());
    parse_records(&settings, &records, cluster.as_ref()).map_err(|error| {
        if !matches!(error, ParseError::Format { .. }) {
            tracing::error!(%error, "cannot build the rows of a request");
        }
        Failure::Parse(error)
    })
}

/// Sends `parsed` to the write-ahead log and waits until it is durable; the
/// reservation is let go once the rows are in memory.
pub async fn store(
    state: &AppState,
    batch_id: Option<String>,
    parsed: Parsed,
    reserved: Reserved,
) -> Result<Receipt, Failure> {
    let (reply, receipt) = oneshot::channel();
    let submission = Submission { batch_id, parsed, positions: Vec::new(), reply };
    match state.sink.submit(submission, PATIENCE).await {
        Ok(()) => {}
        Err(Refused::Busy) => {
            return Err(Failure::Busy("the rows waiting to be written are at their bound"));
        }
        Err(Refused::Stopped) => return Err(Failure::Stopped),
    }
    let receipt = receipt.await;
    drop(reserved);
    receipt.map_err(|_| Failure::WalFailed)
}
