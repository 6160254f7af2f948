//! `GET /metrics`: every metric in Prometheus' text format ([`crate::metrics`]),
//! with the gauges that are read rather than kept (rows in memory, WAL bytes, the
//! pipeline's queue) taken at the moment of the scrape.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{AppState, error};
use crate::storage::wal;

/// Prometheus' text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn get_metrics(State(state): State<Arc<AppState>>) -> Response {
    let metrics = &state.metrics;
    metrics.rows_in_memory.set(i64::try_from(state.fresh.rows()).unwrap_or(i64::MAX));
    metrics.queue_batches.set(i64::try_from(state.queue.queued()).unwrap_or(i64::MAX));
    let wal_bytes = wal::disk_bytes(&state.data_dir);
    metrics.wal_bytes.set(i64::try_from(wal_bytes).unwrap_or(i64::MAX));
    match metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(failure) => {
            tracing::error!(error = %failure, "cannot encode the metrics");
            error(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the metrics")
        }
    }
}
