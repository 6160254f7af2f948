//! The gRPC listener of `meshlog serve` (`[server] otlp_grpc_listen`, tonic), with
//! two services: OTLP's `LogsService` ([`otlp_logs`]) and Envoy's
//! `AccessLogService` ([`access_logs`]). What they share lives here: bearer tokens
//! in the `authorization` metadata, readiness, how a refusal becomes a gRPC status
//! (`UNAVAILABLE` with a `RetryInfo` when behind or stopping, which exporters
//! retry), and counting answers. gzip and zstd messages are read. Requests in
//! progress at once are bounded so that decoded messages cannot outgrow
//! `max_inflight_bytes`.

mod access_logs;
mod otlp_logs;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::StatusCode;
use envoy_types::pb::envoy::service::accesslog::v3::access_log_service_server::AccessLogServiceServer;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::LogsServiceServer;
use tokio::sync::watch;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::ServeError;
use super::http::{AppState, RETRY_AFTER_SECONDS, bearer_matches};
use super::intake::Failure;
use super::otlp;
use super::sources::{stopped, until_deadline};
use access_logs::AccessLogSink;
use otlp_logs::LogsSink;

/// Where the gRPC services listen, and how long it finishes requests once stopping.
#[derive(Debug, Clone)]
pub struct GrpcConfig {
    pub listen: std::net::SocketAddr,
    pub shutdown_timeout: Duration,
}

/// The bound listener, not yet serving.
pub struct GrpcListener {
    listener: tokio::net::TcpListener,
    config: GrpcConfig,
    state: Arc<AppState>,
}

impl GrpcListener {
    /// Binds the address, so that a taken one fails the start.
    pub async fn bind(
        config: GrpcConfig,
        state: Arc<AppState>,
    ) -> Result<GrpcListener, ServeError> {
        let address = config.listen;
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| ServeError::Listen { address, source })?;
        Ok(GrpcListener { listener, config, state })
    }

    /// Serves until `stop` turns `true`, then finishes the requests under way up to
    /// `shutdown_timeout`.
    pub async fn run(self, stop: watch::Receiver<bool>) -> Result<(), ServeError> {
        let GrpcListener { listener, config, state } = self;
        let address = config.listen;
        let settings = &state.settings;
        // Each request in progress may hold a decoded message of up to
        // max_body_bytes before its memory is reserved: this many fit the budget.
        let at_once = (settings.max_inflight_bytes / settings.max_body_bytes.max(1) / 2).max(1);
        let otlp_logs = LogsServiceServer::new(LogsSink { state: state.clone() })
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(settings.max_body_bytes);
        let access_logs =
            AccessLogServiceServer::new(AccessLogSink { state: state.clone(), stop: stop.clone() })
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .max_decoding_message_size(settings.max_body_bytes);
        tracing::info!(%address, "serving gRPC: OTLP logs and Envoy access logs");
        let server = tonic::transport::Server::builder()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(at_once))
            .add_service(otlp_logs)
            .add_service(access_logs)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                stopped(stop.clone()),
            );
        let served = until_deadline(server, stop, config.shutdown_timeout, "gRPC").await;
        served.map_err(|source| ServeError::Grpc { address, source })
    }
}

/// Why a request was not taken, with the HTTP status it is counted under.
#[derive(Debug)]
pub struct Refusal {
    http_status: StatusCode,
    message: String,
}

impl From<Failure> for Refusal {
    fn from(failure: Failure) -> Refusal {
        Refusal { http_status: failure.status(), message: failure.message() }
    }
}

impl Refusal {
    fn unauthenticated() -> Refusal {
        let message = "a valid `authorization: Bearer <token>` metadata is required".to_owned();
        Refusal { http_status: StatusCode::UNAUTHORIZED, message }
    }

    fn internal(message: &str) -> Refusal {
        Refusal { http_status: StatusCode::INTERNAL_SERVER_ERROR, message: message.to_owned() }
    }

    fn invalid(message: String) -> Refusal {
        Refusal { http_status: StatusCode::BAD_REQUEST, message }
    }

    /// The gRPC status: `UNAVAILABLE` carries a `RetryInfo`.
    pub fn into_status(self) -> Status {
        let code = Code::from_i32(otlp::grpc_code(self.http_status));
        if code != Code::Unavailable {
            return Status::new(code, self.message);
        }
        let retry_delay = Duration::from_secs(u64::from(RETRY_AFTER_SECONDS));
        Status::with_error_details(
            code,
            self.message,
            ErrorDetails::with_retry_info(Some(retry_delay)),
        )
    }
}

/// Refuses a request without one of the tokens (when there are any), and any
/// while the server is not ready.
fn authorized(state: &AppState, metadata: &MetadataMap) -> Result<(), Refusal> {
    let tokens = &state.settings.tokens;
    let authorization = metadata.get("authorization").map(|value| value.as_bytes());
    if !tokens.is_empty() && !bearer_matches(authorization, tokens) {
        return Err(Refusal::unauthenticated());
    }
    if !state.ready.load(Ordering::Acquire) {
        return Err(Failure::NotReady.into());
    }
    Ok(())
}

/// Counts an answer in `meshlog_http_requests_total`, under the HTTP status that
/// matches it.
fn count(state: &AppState, route: &str, refusal: Option<&Refusal>) {
    let code = refusal.map_or(StatusCode::OK, |refusal| refusal.http_status);
    state.metrics.http_requests.with_label_values(&[route, code.as_str()]).inc();
}

fn metadata_text(metadata: &MetadataMap, key: &str) -> Option<String> {
    let value = metadata.get(key)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behind_is_unavailable_with_a_retry_delay_and_a_bad_request_is_invalid_argument() {
        let busy =
            Refusal::from(Failure::Busy("the rows waiting to be written are at their bound"));
        let status = busy.into_status();
        assert_eq!(status.code(), Code::Unavailable);
        let retry = status.get_details_retry_info().expect("a RetryInfo");
        assert_eq!(retry.retry_delay, Some(Duration::from_secs(1)));
        let unknown = Refusal::from(Failure::Cluster("source cluster \"x\" is not".into()));
        let status = unknown.into_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.get_details_retry_info().is_none());
        assert_eq!(Refusal::unauthenticated().into_status().code(), Code::Unauthenticated);
    }
}
