//! The HTTP side of `meshlog serve` (axum): the sink `POST /api/v1/logs`, the
//! query API `POST /api/v1/query`, `GET /metrics`, and `/healthz` and `/readyz`.
//! Bearer tokens, when configured, are required on the `/api` routes and
//! `/metrics` and compared in constant time; the probes answer without them. Every
//! answer is counted by route and status. Each handler owns one route, in its own
//! file; [`AppState`] is what they share.

mod answer;
mod logs;
mod metrics;
mod query;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::fresh::Fresh;
use super::sink::Sink;
use crate::config::server::ServeSettings;
use crate::enrich::Topology;
use crate::metrics::Metrics;
use crate::pipeline::QueueWatch;
use crate::query::limits::QueryLimits;
use crate::query::visible_files::VisibleFiles;

/// Seconds a client is told to wait when the server is behind.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// What the handlers share.
pub struct AppState {
    pub settings: ServeSettings,
    pub topology: Arc<Topology>,
    pub default_cluster: Option<Arc<str>>,
    pub sink: Sink,
    pub fresh: Arc<Fresh>,
    pub data_dir: std::path::PathBuf,
    pub query_limits: QueryLimits,
    /// The committed files queries read, kept while the commit log is unchanged.
    pub visible_files: VisibleFiles,
    /// Bytes of request bodies being read and parsed, all requests together.
    pub inflight: Arc<Semaphore>,
    /// Recovered and committing; cleared when stopping.
    pub ready: AtomicBool,
    pub metrics: Arc<Metrics>,
    /// The pipeline's queue, for its depth.
    pub queue: QueueWatch,
}

/// The routes, with `state`.
pub fn router(state: Arc<AppState>) -> Router {
    // The sink reads its body itself, to its own limit.
    let api = Router::new()
        .route("/api/v1/logs", post(logs::post_logs).layer(DefaultBodyLimit::disable()))
        .route("/v1/logs", post(logs::post_otlp_logs).layer(DefaultBodyLimit::disable()))
        .route("/api/v1/query", post(query::post_query).layer(DefaultBodyLimit::max(1 << 20)))
        .route("/metrics", get(metrics::get_metrics))
        .layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .merge(api)
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .layer(middleware::from_fn_with_state(state.clone(), count_answers))
        .with_state(state)
}

/// Counts each answer by the route it matched (`other` for none) and its status.
async fn count_answers(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    let response = next.run(request).await;
    let route = route.as_deref().unwrap_or("other");
    let code = response.status();
    state.metrics.http_requests.with_label_values(&[route, code.as_str()]).inc();
    response
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.ready.load(Ordering::Acquire) {
        true => (StatusCode::OK, "ready\n").into_response(),
        false => unavailable("not ready: recovering or stopping"),
    }
}

/// 401 unless the request carries one of the tokens (when there are any).
async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let tokens = &state.settings.tokens;
    if tokens.is_empty() || carries_token(request.headers(), tokens) {
        return next.run(request).await;
    }
    let mut response =
        error(StatusCode::UNAUTHORIZED, "a valid `Authorization: Bearer <token>` is required");
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn carries_token(headers: &HeaderMap, tokens: &[String]) -> bool {
    bearer_matches(headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes), tokens)
}

/// Whether an `Authorization` value is `Bearer <one of tokens>` (a gRPC request's
/// `authorization` metadata too).
pub fn bearer_matches(authorization: Option<&[u8]>, tokens: &[String]) -> bool {
    let Some(given) = authorization.and_then(|value| value.strip_prefix(b"Bearer ")) else {
        return false;
    };
    // Every token is compared, each in constant time, so timing says nothing of which
    // came close.
    tokens.iter().fold(false, |found, token| found | bool::from(token.as_bytes().ct_eq(given)))
}

/// A JSON error body: `{"error": message}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// 503 with `Retry-After`.
pub fn unavailable(message: &str) -> Response {
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, message);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_must_match_whole() {
        let tokens = ["secret".to_owned(), "other".to_owned()];
        let headers = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            headers
        };
        assert!(carries_token(&headers("Bearer secret"), &tokens));
        assert!(carries_token(&headers("Bearer other"), &tokens));
        assert!(!carries_token(&headers("Bearer secre"), &tokens));
        assert!(!carries_token(&headers("Basic secret"), &tokens));
        assert!(!carries_token(&HeaderMap::new(), &tokens));
    }
}
