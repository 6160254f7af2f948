//! OTLP's `LogsService/Export`: what Envoy's OpenTelemetry access logger sends under
//! Istio's `envoyOtelAls` provider, and what OTLP exporters send by default.
//! Records read as on `POST /v1/logs` ([`otlp`]); the lines take the intake path of
//! every pushed line ([`intake`]) and `Export` answers once they are durable, with
//! `partial_success` counting rejects.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::LogsService;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message;
use tonic::{Request, Response, Status};

use super::{Refusal, authorized, count, metadata_text};
use crate::serve::http::AppState;
use crate::serve::intake::{self, BATCH_ID_HEADER, LinesOf, Reserved, SOURCE_CLUSTER_HEADER};
use crate::serve::otlp;

/// The method's path, the `route` its answers are counted under.
const EXPORT_ROUTE: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
/// What the rejects of its requests say they came from.
const SOURCE: &str = "otlp-grpc";

/// The `LogsService` implementation.
pub struct LogsSink {
    pub state: Arc<AppState>,
}

#[tonic::async_trait]
impl LogsService for LogsSink {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let answer = self.take(request).await;
        count(&self.state, EXPORT_ROUTE, answer.as_ref().err());
        answer.map(Response::new).map_err(Refusal::into_status)
    }
}

impl LogsSink {
    async fn take(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<ExportLogsServiceResponse, Refusal> {
        let state = &self.state;
        let metadata = request.metadata();
        authorized(state, metadata)?;
        let batch_id = metadata_text(metadata, BATCH_ID_HEADER);
        if let Some(outcome) = batch_id.as_deref().and_then(|id| state.sink.remembered(id)) {
            return Ok(otlp::response(outcome.rejected));
        }
        let explicit_cluster = metadata_text(metadata, SOURCE_CLUSTER_HEADER).map(Arc::<str>::from);
        let export = request.into_inner();
        let reserved = Reserved::take(state, export.encoded_len())?;
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
        .map_err(|_| Refusal::internal("parsing the request failed"))??;
        let receipt = intake::store(state, batch_id, parsed, reserved).await?;
        Ok(otlp::response(receipt.outcome.rejected))
    }
}
