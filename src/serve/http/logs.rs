//! `POST /api/v1/logs`: the sink log shippers post to. The answer keeps the
//! acknowledgement contract: `200 {"accepted": N, "rejected": M}` only once every
//! line is in the write-ahead log (a row, or a reject with its reason); `400` for a
//! body that cannot be read at all; `413` over the body limit (after
//! decompression); `503` + `Retry-After` when the server is behind or stopping.
//! `POST /v1/logs` (OTLP/HTTP) is read here too and answers in OTLP's terms. A
//! request's memory is reserved before its body is read, from a budget shared by
//! all requests, so memory stays bounded under any load; the lines then take the
//! way every pushed line takes ([`intake`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use serde::Deserialize;

use super::AppState;
use super::answer::Dialect;
use crate::serve::body::{self, BodyError, BodyKind};
use crate::serve::intake::{
    self, BATCH_ID_HEADER, Failure, LinesOf, Reserved, SOURCE_CLUSTER_HEADER,
};
use crate::serve::otlp::{self, OtlpEncoding};
use crate::serve::sink::Parsed;

/// How much a compressed body is guessed to inflate, for its first reservation
/// (access logs gzip about 8 to 12 times); one that inflates more reserves the rest.
const INFLATION_GUESS: usize = 16;

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
    take_logs(state, params, headers, body, Dialect::Meshlog).await
}

/// `POST /v1/logs`: OTLP/HTTP logs, protobuf or JSON ([`otlp`]).
pub async fn post_otlp_logs(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let content_type = header_text(&headers, header::CONTENT_TYPE.as_str());
    let Some(encoding) = OtlpEncoding::of_content_type(content_type.as_deref()) else {
        let unsupported = format!(
            "Content-Type {content_type:?} is not OTLP/HTTP: send application/x-protobuf or \
             application/json"
        );
        let answer = Dialect::Otlp(OtlpEncoding::Json);
        let limit = state.settings.max_body_bytes;
        return refuse(body, limit, answer.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &unsupported))
            .await;
    };
    let params = LogParams { source_cluster: None, format: None };
    take_logs(state, params, headers, body, Dialect::Otlp(encoding)).await
}

/// Reads, parses and stores a sink request's lines, answering in `dialect`.
async fn take_logs(
    state: Arc<AppState>,
    params: LogParams,
    headers: HeaderMap,
    body: Body,
    dialect: Dialect,
) -> Response {
    let limit = state.settings.max_body_bytes;
    if !state.ready.load(Ordering::Acquire) {
        return refuse(body, limit, dialect.failure(&Failure::NotReady)).await;
    }
    let batch_id = header_text(&headers, BATCH_ID_HEADER);
    if let Some(outcome) = batch_id.as_deref().and_then(|id| state.sink.remembered(id)) {
        return refuse(body, limit, dialect.stored(outcome, true)).await;
    }
    let permit = match reserve(&state, &headers) {
        Ok(permit) => permit,
        Err(busy) => return refuse(body, limit, dialect.failure(&busy)).await,
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(failure) if is_over_limit(&failure) => {
            let too_large = BodyError::TooLarge { limit }.to_string();
            return dialect.error(StatusCode::PAYLOAD_TOO_LARGE, &too_large);
        }
        Err(failure) => {
            let message = format!("the body could not be read: {failure}");
            return dialect.error(StatusCode::BAD_REQUEST, &message);
        }
    };
    let request = RequestLines { params, headers, batch_id, dialect };
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
        Ok(Err(failure)) => return dialect.failure(&failure),
        Err(_) => {
            return dialect.error(StatusCode::INTERNAL_SERVER_ERROR, "parsing the body failed");
        }
    };
    submit(&state, request.batch_id, parsed, permit, dialect).await
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
fn reserve(state: &AppState, headers: &HeaderMap) -> Result<Reserved, Failure> {
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

async fn submit(
    state: &AppState,
    batch_id: Option<String>,
    parsed: Parsed,
    reserved: Reserved,
    dialect: Dialect,
) -> Response {
    match intake::store(state, batch_id, parsed, reserved).await {
        Ok(receipt) => dialect.stored(receipt.outcome, receipt.duplicate),
        Err(failure) => dialect.failure(&failure),
    }
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
    dialect: Dialect,
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
        reserved.grow_to(state, decoded.len())?;
        // The header or parameter names the cluster of every line; else a record's
        // field (an OTLP record's attribute) names its own; else the config's default.
        let explicit = self.source_cluster().map(Arc::<str>::from);
        let records = match self.dialect {
            Dialect::Meshlog => {
                intake::check_cluster(
                    state,
                    explicit.as_deref(),
                    state.settings.source_cluster_field.is_some(),
                )?;
                let kind = BodyKind::of_content_type(
                    header_text(&self.headers, header::CONTENT_TYPE.as_str()).as_deref(),
                );
                let field = match explicit {
                    Some(_) => None,
                    None => state.settings.source_cluster_field.as_deref(),
                };
                body::records(kind, &decoded, field).map_err(Failure::Body)?
            }
            Dialect::Otlp(encoding) => {
                intake::check_cluster(state, explicit.as_deref(), true)?;
                let request = otlp::decode_request(encoding, &decoded).map_err(Failure::Body)?;
                otlp::records(&request, state.settings.otlp_cluster_attribute.as_deref())
            }
        };
        let source = match &self.batch_id {
            Some(id) => format!("http batch {id}"),
            None => "http".to_owned(),
        };
        let lines = LinesOf {
            explicit_cluster: explicit,
            format: self.params.format.as_deref(),
            source: &source,
        };
        intake::parse_lines(state, lines, records)
    }

    /// The header, else the query parameter.
    fn source_cluster(&self) -> Option<String> {
        header_text(&self.headers, SOURCE_CLUSTER_HEADER)
            .or_else(|| self.params.source_cluster.clone())
    }
}
