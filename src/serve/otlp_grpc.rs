//! OTLP logs over gRPC (`opentelemetry.proto.collector.logs.v1.LogsService/Export`
//! on `[server] otlp_grpc_listen`, tonic): what Envoy's OpenTelemetry access logger
//! sends under Istio's `envoyOtelAls` provider, and what OTLP exporters send by
//! default. Records read as on `POST /v1/logs` ([`otlp`]); the lines take the
//! intake path of every pushed line ([`intake`]) and `Export` answers once they are
//! durable, with `partial_success` counting rejects. When behind or stopping it
//! answers `UNAVAILABLE` with a `RetryInfo` (exporters retry those); gzip and zstd
//! requests are read. Requests in progress at once are bounded so that decoded
//! messages cannot outgrow `max_inflight_bytes`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message;
use tokio::sync::watch;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::ServeError;
use super::http::{AppState, RETRY_AFTER_SECONDS, bearer_matches};
use super::intake::{self, BATCH_ID_HEADER, Failure, LinesOf, Reserved, SOURCE_CLUSTER_HEADER};
use super::otlp;

/// The method's path, the `route` its answers are counted under.
const EXPORT_ROUTE: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
/// What the rejects of gRPC requests say they came from.
const SOURCE: &str = "otlp-grpc";

/// Where the gRPC service listens, and how long it finishes requests once stopping.
#[derive(Debug, Clone)]
pub struct OtlpGrpcConfig {
    pub listen: std::net::SocketAddr,
    pub shutdown_timeout: Duration,
}

/// The bound listener, not yet serving.
pub struct OtlpGrpcListener {
    listener: tokio::net::TcpListener,
    config: OtlpGrpcConfig,
    state: Arc<AppState>,
}

impl OtlpGrpcListener {
    /// Binds the address, so that a taken one fails the start.
    pub async fn bind(
        config: OtlpGrpcConfig,
        state: Arc<AppState>,
    ) -> Result<OtlpGrpcListener, ServeError> {
        let address = config.listen;
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| ServeError::Listen { address, source })?;
        Ok(OtlpGrpcListener { listener, config, state })
    }

    /// Serves until `stop` turns `true`, then finishes the requests under way up to
    /// `shutdown_timeout`.
    pub async fn run(self, stop: watch::Receiver<bool>) -> Result<(), ServeError> {
        let OtlpGrpcListener { listener, config, state } = self;
        let address = config.listen;
        let settings = &state.settings;
        // Each request in progress may hold a decoded message of up to
        // max_body_bytes before its memory is reserved: this many fit the budget.
        let at_once = (settings.max_inflight_bytes / settings.max_body_bytes.max(1) / 2).max(1);
        let service = LogsServiceServer::new(LogsSink { state: state.clone() })
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(settings.max_body_bytes);
        tracing::info!(%address, "serving OTLP over gRPC");
        let (mut stopping, mut deadline) = (stop.clone(), stop);
        let server = tonic::transport::Server::builder()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(at_once))
            .add_service(service)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async move {
                    let _ = stopping.wait_for(|stopped| *stopped).await;
                },
            );
        let cut_off = async move {
            let _ = deadline.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(config.shutdown_timeout).await;
        };
        tokio::select! {
            served = server => served.map_err(|source| ServeError::Grpc { address, source }),
            () = cut_off => {
                let deadline = config.shutdown_timeout;
                tracing::warn!(?deadline, "gRPC requests still under way at the deadline were cut off");
                Ok(())
            }
        }
    }
}

/// The `LogsService` implementation.
struct LogsSink {
    state: Arc<AppState>,
}

#[tonic::async_trait]
impl LogsService for LogsSink {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let answer = self.take(request).await;
        let code = match &answer {
            Ok(_) => "200".to_owned(),
            Err(refusal) => refusal.http_status.as_str().to_owned(),
        };
        self.state.metrics.http_requests.with_label_values(&[EXPORT_ROUTE, &code]).inc();
        answer.map(Response::new).map_err(Refusal::into_status)
    }
}

/// Why an export was not taken, with the HTTP status it is counted under.
struct Refusal {
    http_status: axum::http::StatusCode,
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
        Refusal { http_status: axum::http::StatusCode::UNAUTHORIZED, message }
    }

    /// The gRPC status: `UNAVAILABLE` carries a `RetryInfo`.
    fn into_status(self) -> Status {
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

impl LogsSink {
    async fn take(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<ExportLogsServiceResponse, Refusal> {
        let state = &self.state;
        let metadata = request.metadata();
        let tokens = &state.settings.tokens;
        let authorization = metadata.get("authorization").map(|value| value.as_bytes());
        if !tokens.is_empty() && !bearer_matches(authorization, tokens) {
            return Err(Refusal::unauthenticated());
        }
        if !state.ready.load(Ordering::Acquire) {
            return Err(Failure::Busy("not ready: recovering or stopping").into());
        }
        let batch_id = metadata_text(metadata, BATCH_ID_HEADER);
        if let Some(outcome) = batch_id.as_deref().and_then(|id| state.sink.remembered(id)) {
            return Ok(otlp::response(outcome.rejected));
        }
        let explicit_cluster = metadata_text(metadata, SOURCE_CLUSTER_HEADER).map(Arc::<str>::from);
        let export = request.into_inner();
        let reserved = Reserved::take(state, export.encoded_len())
            .ok_or(Failure::Busy("too many request bodies being read"))?;
        let parsed = tokio::task::spawn_blocking({
            let state = state.clone();
            move || {
                intake::check_cluster(&state, explicit_cluster.as_deref(), true)?;
                let attribute = state.settings.otlp_cluster_attribute.as_deref();
                let records = otlp::records(&export, attribute);
                let lines = LinesOf { explicit_cluster, format: None, source: SOURCE };
                intake::parse_lines(&state, lines, records)
            }
        })
        .await
        .map_err(|_| Refusal {
            http_status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            message: "parsing the request failed".to_owned(),
        })??;
        let receipt = intake::store(state, batch_id, parsed, reserved).await?;
        Ok(otlp::response(receipt.outcome.rejected))
    }
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
