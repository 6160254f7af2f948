//! `POST /api/v1/logs`: the sink log shippers post to. The answer keeps the
//! acknowledgement contract: `200 {"accepted": N, "rejected": M}` only once every
//! line is in the write-ahead log (a row, or a reject with its reason); `400` for a
//! body that cannot be read at all; `413` over the body limit (after
//! decompression); `503` + `Retry-After` when the server is behind or stopping.
//! A request's memory is reserved before its body is read, from a budget shared by
//! all requests, so memory stays bounded under any load.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use super::{AppState, error, unavailable};
use crate::serve::batches::BatchOutcome;
use crate::serve::body::{self, BodyError, BodyKind};
use crate::serve::parse::{LineSettings, ParseError, parse_records};
use crate::serve::sink::{Parsed, Refused, Submission};

/// The header naming the reporting cluster of a request's lines.
pub const SOURCE_CLUSTER_HEADER: &str = "x-meshlog-source-cluster";
/// The header that makes a retried request idempotent.
pub const BATCH_ID_HEADER: &str = "x-meshlog-batch-id";
/// How long a parsed request waits for room among the rows in memory before it is
/// told 503.
const PATIENCE: Duration = Duration::from_secs(5);
/// How much a compressed body is guessed to inflate, for its first reservation
/// (access logs gzip about 8 to 12 times); one that inflates more reserves the rest.
const INFLATION_GUESS: usize = 16;
/// Lines longer than this are rejects (as for files).
const MAX_LINE_BYTES: usize = meshlog_parsers::parser::DEFAULT_MAX_LINE_BYTES;

/// The query parameters of the sink.
#[derive(Debug, Deserialize)]
pub struct LogParams {
    source_cluster: Option<String>,
    format: Option<String>,
}

pub async fn post_logs(
    State(state): State<Arc<AppState>>,
    Query(params): Query<LogParams>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limit = state.settings.max_body_bytes;
    if !state.ready.load(Ordering::Acquire) {
        return refuse(body, limit, unavailable("not ready: recovering or stopping")).await;
    }
    let batch_id = header_text(&headers, BATCH_ID_HEADER);
    if let Some(outcome) = batch_id.as_deref().and_then(|id| state.sink.remembered(id)) {
        return refuse(body, limit, stored(outcome, true)).await;
    }
    let Some(permit) = reserve(&state, &headers) else {
        let busy = unavailable("behind: too many request bodies being read");
        return refuse(body, limit, busy).await;
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(failure) if is_over_limit(&failure) => {
            let too_large = BodyError::TooLarge { limit }.to_string();
            return error(StatusCode::PAYLOAD_TOO_LARGE, &too_large);
        }
        Err(failure) => {
            let message = format!("the body could not be read: {failure}");
            return error(StatusCode::BAD_REQUEST, &message);
        }
    };
    let request = RequestLines { params, headers, batch_id };
    let parsed = tokio::task::spawn_blocking({
        let state = state.clone();
        let mut permit = permit;
        move || {
            let parsed = request.parse(&state, &bytes, &mut permit);
            parsed.map(|parsed| ((parsed, permit), request))
        }
    })
    .await;
    let ((parsed, permit), request) = match parsed {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(failure)) => return failure.response(),
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "parsing the body failed"),
    };
    submit(&state, request.batch_id, parsed, permit).await
}

/// Answers without keeping the body, after reading it (up to `limit` bytes, each
/// chunk let go as it comes), so that the client, still sending, gets the answer
/// instead of a broken connection.
async fn refuse(body: Body, limit: usize, answer: Response) -> Response {
    let mut chunks = body.into_data_stream();
    let mut read = 0;
    while let Some(Ok(chunk)) = chunks.next().await {
        read += chunk.len();
        if read > limit {
            break;
        }
    }
    answer
}

/// Whether reading a body failed on the size limit (not on the connection).
fn is_over_limit(failure: &axum::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(failure);
    while let Some(error) = source {
        if error.to_string().contains("length limit") {
            return true;
        }
        source = error.source();
    }
    false
}

/// Reserves the memory a body may take: its length, or the limit when it is
/// compressed or its length is not given.
fn reserve(state: &AppState, headers: &HeaderMap) -> Option<Reserved> {
    let limit = state.settings.max_body_bytes;
    let length =
        header_text(headers, header::CONTENT_LENGTH.as_str()).and_then(|text| text.parse().ok());
    let encoded = headers.contains_key(header::CONTENT_ENCODING);
    let bytes = match (encoded, length) {
        (false, Some(length)) => usize::min(length, limit),
        (true, Some(length)) => usize::min(length.saturating_mul(INFLATION_GUESS), limit),
        (_, None) => limit,
    };
    Reserved::take(state, bytes)
}

/// Memory reserved for a request: twice its body's size (the body, then its rows).
struct Reserved {
    permits: Vec<OwnedSemaphorePermit>,
    bytes: usize,
}

impl Reserved {
    fn take(state: &AppState, bytes: usize) -> Option<Reserved> {
        let permits = u32::try_from(bytes.saturating_mul(2).max(1)).unwrap_or(u32::MAX);
        let permit = state.inflight.clone().try_acquire_many_owned(permits).ok()?;
        Some(Reserved { permits: vec![permit], bytes })
    }

    /// Reserves more, for a body that inflated past its guess; `false` if there is
    /// not that much left.
    fn grow_to(&mut self, state: &AppState, bytes: usize) -> bool {
        if bytes <= self.bytes {
            return true;
        }
        match Reserved::take(state, bytes - self.bytes) {
            Some(more) => {
                self.permits.extend(more.permits);
                self.bytes = bytes;
                true
            }
            None => false,
        }
    }
}

async fn submit(
    state: &AppState,
    batch_id: Option<String>,
    parsed: Parsed,
    permit: Reserved,
) -> Response {
    let (reply, receipt) = oneshot::channel();
    let submission = Submission { batch_id, parsed, files: Vec::new(), reply };
    match state.sink.submit(submission, PATIENCE).await {
        Ok(()) => {}
        Err(Refused::Busy) => {
            return unavailable("behind: the rows waiting to be written are at their bound");
        }
        Err(Refused::Stopped) => return unavailable("stopping"),
    }
    let receipt = receipt.await;
    drop(permit);
    match receipt {
        Ok(receipt) => stored(receipt.outcome, receipt.duplicate),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the write-ahead log failed, the server is stopping: this request may or may not \
             be stored; retry it (with the same X-Meshlog-Batch-Id it is stored once)",
        ),
    }
}

fn stored(outcome: BatchOutcome, duplicate: bool) -> Response {
    let mut body =
        serde_json::json!({ "accepted": outcome.accepted, "rejected": outcome.rejected });
    if duplicate {
        body["duplicate"] = true.into();
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// What a request says about its lines.
struct RequestLines {
    params: LogParams,
    headers: HeaderMap,
    batch_id: Option<String>,
}

/// Why a body gave no lines.
enum Failure {
    Body(BodyError),
    Parse(ParseError),
    Cluster(String),
    /// The body inflated past what memory is left for it.
    Busy,
}

/// With a topology, the lines' reporting cluster must be one of its clusters, and
/// be named: local and cross-cluster depend on it.
fn check_cluster(state: &AppState, explicit: Option<&str>) -> Result<(), Failure> {
    if state.topology.is_empty() {
        return Ok(());
    }
    match explicit {
        Some(name) if state.topology.id(name).is_none() => Err(Failure::Cluster(format!(
            "source cluster {name:?} is not one of the config's [[clusters]]"
        ))),
        None if state.default_cluster.is_none()
            && state.settings.source_cluster_field.is_none() =>
        {
            Err(Failure::Cluster(format!(
                "no reporting cluster: send the header {SOURCE_CLUSTER_HEADER}, the parameter \
                 source_cluster, or set source_cluster in the config"
            )))
        }
        _ => Ok(()),
    }
}

impl Failure {
    fn response(&self) -> Response {
        match self {
            Failure::Body(too_large @ BodyError::TooLarge { .. }) => {
                error(StatusCode::PAYLOAD_TOO_LARGE, &too_large.to_string())
            }
            Failure::Body(other) => error(StatusCode::BAD_REQUEST, &other.to_string()),
            Failure::Cluster(message) => error(StatusCode::BAD_REQUEST, message),
            Failure::Busy => unavailable("behind: too many request bodies being read"),
            Failure::Parse(format @ ParseError::Format { .. }) => {
                error(StatusCode::BAD_REQUEST, &format.to_string())
            }
            Failure::Parse(other) => {
                tracing::error!(error = %other, "cannot build the rows of a request");
                error(StatusCode::INTERNAL_SERVER_ERROR, &other.to_string())
            }
        }
    }
}

impl RequestLines {
    /// Decodes, splits, parses and tags the body (on a blocking thread).
    fn parse(
        &self,
        state: &AppState,
        bytes: &[u8],
        reserved: &mut Reserved,
    ) -> Result<Parsed, Failure> {
        let encoding = header_text(&self.headers, header::CONTENT_ENCODING.as_str());
        let decoded = body::decode(encoding.as_deref(), bytes, state.settings.max_body_bytes)
            .map_err(Failure::Body)?;
        if !reserved.grow_to(state, decoded.len()) {
            return Err(Failure::Busy);
        }
        let kind = BodyKind::of_content_type(
            header_text(&self.headers, header::CONTENT_TYPE.as_str()).as_deref(),
        );
        // The header or parameter names the cluster of every line; else a record's
        // field names its own; else the config's default.
        let explicit = self.source_cluster().map(Arc::<str>::from);
        check_cluster(state, explicit.as_deref())?;
        let field = match explicit {
            Some(_) => None,
            None => state.settings.source_cluster_field.as_deref(),
        };
        let records = body::records(kind, &decoded, field).map_err(Failure::Body)?;
        let source = match &self.batch_id {
            Some(id) => format!("http batch {id}"),
            None => "http".to_owned(),
        };
        let format = self.params.format.as_deref().unwrap_or(&state.settings.format);
        let settings = LineSettings {
            topology: &state.topology,
            format,
            max_line_bytes: MAX_LINE_BYTES,
            source: &source,
        };
        let cluster = explicit.or_else(|| state.default_cluster.clone());
        parse_records(&settings, &records, cluster.as_ref()).map_err(Failure::Parse)
    }

    /// The header, else the query parameter.
    fn source_cluster(&self) -> Option<String> {
        header_text(&self.headers, SOURCE_CLUSTER_HEADER)
            .or_else(|| self.params.source_cluster.clone())
    }
}
