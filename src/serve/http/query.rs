//! `POST /api/v1/query`: `{"sql": "…"}` or `{"saved": "NAME", "params": {…}}`,
//! optionally `"since"` and `"until"`, run read-only exactly as `meshlog query`
//! runs it (the same checks, time limit and memory limit) over the committed files
//! and the rows the server holds in memory. The result is a JSON array of objects,
//! CSV, or an Arrow IPC stream, as `Accept` asks (JSON by default). A refused or
//! failing query is `400` (its fault) or `500`, with the message.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::StreamWriter;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{AppState, error};
use crate::query::{OutputFormat, QueryEngine, QueryError, SavedQuery, TimeWindow};

/// The media type of an Arrow IPC stream.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// A query request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    sql: Option<String>,
    saved: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    since: Option<String>,
    until: Option<String>,
}

/// How the result is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Json,
    Csv,
    Arrow,
}

pub async fn post_query(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let request: QueryRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(problem) => {
            let message = format!("the body is not {{\"sql\": …}} or {{\"saved\": …}}: {problem}");
            return error(StatusCode::BAD_REQUEST, &message);
        }
    };
    let answer = answer_for(&headers);
    match run(&state, &request).await {
        Ok((schema, batches)) => respond(answer, &schema, &batches),
        Err(failure) => query_error(&failure),
    }
}

async fn run(
    state: &AppState,
    request: &QueryRequest,
) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
    let window =
        TimeWindow::parse(request.since.as_deref(), request.until.as_deref(), chrono::Utc::now())?;
    let fresh = state.fresh.snapshot();
    let visible = &state.visible_files;
    let engine =
        QueryEngine::open_fresh(&state.data_dir, window, state.query_limits, &fresh, visible)?;
    match (&request.saved, &request.sql) {
        (Some(name), None) => {
            let params: Vec<(String, String)> = request.params.clone().into_iter().collect();
            let bound = SavedQuery::find(name)?.bind(&params)?;
            engine.collect_saved(&bound).await
        }
        (None, Some(sql)) if request.params.is_empty() => engine.collect(sql).await,
        (None, Some(_)) => Err(QueryError::ParamWithoutSaved),
        _ => Err(QueryError::Request("give exactly one of \"sql\" and \"saved\"".into())),
    }
}

fn answer_for(headers: &HeaderMap) -> Answer {
    let accept = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok()).unwrap_or("");
    if accept.contains(ARROW_STREAM) {
        Answer::Arrow
    } else if accept.contains("text/csv") {
        Answer::Csv
    } else {
        Answer::Json
    }
}

fn respond(answer: Answer, schema: &SchemaRef, batches: &[RecordBatch]) -> Response {
    let (content_type, written) = match answer {
        Answer::Json => ("application/json", text(OutputFormat::Json, schema, batches)),
        Answer::Csv => ("text/csv; charset=utf-8", text(OutputFormat::Csv, schema, batches)),
        Answer::Arrow => (ARROW_STREAM, arrow_stream(schema, batches)),
    };
    match written {
        Ok(bytes) => {
            let mut response = (StatusCode::OK, bytes).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            response
        }
        Err(problem) => error(StatusCode::INTERNAL_SERVER_ERROR, &problem),
    }
}

fn text(
    format: OutputFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    crate::query::output::write_batches(format, schema, batches, &mut out)
        .map_err(|error| error.to_string())?;
    Ok(out)
}

fn arrow_stream(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, schema).map_err(|error| error.to_string())?;
    for batch in batches {
        writer.write(batch).map_err(|error| error.to_string())?;
    }
    writer.finish().map_err(|error| error.to_string())?;
    drop(writer);
    Ok(out)
}

/// The query's own fault is 400; a limit or a failure while running is 500 (422
/// would say the query is wrong when the data is large).
fn query_error(failure: &QueryError) -> Response {
    let status = match failure.exit_code() {
        2 => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut message = failure.to_string();
    let mut source = std::error::Error::source(failure);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    error(status, &message)
}
