//! `POST /api/v1/logs`: the sink log shippers post to. The answer keeps the
//! acknowledgement contract: `200 {"accepted": N, "rejected": M}` only once every
//! line is in the write-ahead log (a row, or a reject with its reason); `400` for a
//! body that cannot be read at all; `413` over the body limit (after
//! decompression); `503` + `Retry-After` when the server is behind or stopping.
//! A request's memory is reserved before its body is read, from a budget shared by
//! all requests, so memory stays bounded under any load.

use std::sync::Arc;
use std::sync::atomic::Ordering;

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
    if state.sink.is_busy() {
        let busy = unavailable("behind: too many rows waiting to be written");
        return refuse(body, limit, busy).await;
    }
    let Some(permit) = reserve(&state, &headers) else {
        let busy = unavailable("behind: too many request bodies being read");
        return refuse(body, limit, busy).await;
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &BodyError::TooLarge { limit }.to_string(),
            );
        }
    };
    let request = RequestLines { params, headers, batch_id };
    let parsed = tokio::task::spawn_blocking({
        let state = state.clone();
        move || request.parse(&state, &bytes).map(|parsed| (parsed, request))
    })
    .await;
    let (parsed, request) = match parsed {
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

/// Reserves the memory a body may take: its length, or the limit when it is
/// compressed or its length is not given.
fn reserve(state: &AppState, headers: &HeaderMap) -> Option<OwnedSemaphorePermit> {
    let limit = state.settings.max_body_bytes;
    let length =
        header_text(headers, header::CONTENT_LENGTH.as_str()).and_then(|text| text.parse().ok());
    let encoded = headers.contains_key(header::CONTENT_ENCODING);
    let bytes = match (encoded, length) {
        (false, Some(length)) => usize::min(length, limit),
        _ => limit,
    };
    // Twice: the body, then its rows.
    let permits = u32::try_from(bytes.saturating_mul(2).max(1)).unwrap_or(u32::MAX);
    state.inflight.clone().try_acquire_many_owned(permits).ok()
}

async fn submit(
    state: &AppState,
    batch_id: Option<String>,
    parsed: Parsed,
    permit: OwnedSemaphorePermit,
) -> Response {
    let (reply, receipt) = oneshot::channel();
    match state.sink.try_submit(Submission { batch_id, parsed, reply }) {
        Ok(()) => {}
        Err(Refused::Busy) => return unavailable("behind: the write-ahead log is busy"),
        Err(Refused::Stopped) => return unavailable("stopping"),
    }
    let receipt = receipt.await;
    drop(permit);
    match receipt {
        Ok(receipt) => stored(receipt.outcome, receipt.duplicate),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the write-ahead log failed: nothing of this request was stored; retry",
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
}

impl Failure {
    fn response(&self) -> Response {
        match self {
            Failure::Body(too_large @ BodyError::TooLarge { .. }) => {
                error(StatusCode::PAYLOAD_TOO_LARGE, &too_large.to_string())
            }
            Failure::Body(other) => error(StatusCode::BAD_REQUEST, &other.to_string()),
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
    fn parse(&self, state: &AppState, bytes: &[u8]) -> Result<Parsed, Failure> {
        let encoding = header_text(&self.headers, header::CONTENT_ENCODING.as_str());
        let decoded = body::decode(encoding.as_deref(), bytes, state.settings.max_body_bytes)
            .map_err(Failure::Body)?;
        let kind = BodyKind::of_content_type(
            header_text(&self.headers, header::CONTENT_TYPE.as_str()).as_deref(),
        );
        // The header or parameter names the cluster of every line; else a record's
        // field names its own; else the config's default.
        let explicit = self.source_cluster().map(Arc::<str>::from);
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
