//! Envoy's gRPC access-log service
//! (`envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs`): a stream per
//! proxy, its first message naming the proxy, each message a batch of HTTP or TCP
//! entries, mapped onto rows with no text parsing ([`als`]). Each message is
//! durable before the next is read, so a proxy that sends faster than meshlog
//! stores is held back by HTTP/2 flow control. Envoy keeps its stream open for
//! good: when the server stops, each stream is ended after the message under way,
//! and Envoy opens a new one (to another instance behind the same address). Envoy
//! never reads an answer on this stream and drops what it buffered when the stream
//! fails: ALS is lossy by design, which is why OTLP is the one to prefer.

use std::sync::Arc;

use envoy_types::pb::envoy::service::accesslog::v3::access_log_service_server::AccessLogService;
use envoy_types::pb::envoy::service::accesslog::v3::{
    StreamAccessLogsMessage, StreamAccessLogsResponse,
};
use prost::Message;
use tokio::sync::watch;
use tonic::{Code, Request, Response, Status, Streaming};

use super::{Refusal, authorized, count, metadata_text};
use crate::serve::als::{self, StreamIdentity};
use crate::serve::http::AppState;
use crate::serve::intake::{self, Failure, Reserved, SOURCE_CLUSTER_HEADER};
use crate::serve::parse::rows_of_records;

/// The method's path, the `route` its answers are counted under.
const ROUTE: &str = "/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs";
/// What the rejects of its entries say they came from.
const SOURCE: &str = "envoy-als";

/// The `AccessLogService` implementation.
pub struct AccessLogSink {
    pub state: Arc<AppState>,
    /// Turns `true` when the server stops: streams end.
    pub stop: watch::Receiver<bool>,
}

#[tonic::async_trait]
impl AccessLogService for AccessLogSink {
    async fn stream_access_logs(
        &self,
        request: Request<Streaming<StreamAccessLogsMessage>>,
    ) -> Result<Response<StreamAccessLogsResponse>, Status> {
        let answer = self.take(request).await;
        count(&self.state, ROUTE, answer.as_ref().err());
        answer.map(|()| Response::new(StreamAccessLogsResponse {})).map_err(Refusal::into_status)
    }
}

impl AccessLogSink {
    /// Stores every message of the stream, in turn, until it ends.
    async fn take(
        &self,
        request: Request<Streaming<StreamAccessLogsMessage>>,
    ) -> Result<(), Refusal> {
        authorized(&self.state, request.metadata())?;
        let explicit_cluster = metadata_text(request.metadata(), SOURCE_CLUSTER_HEADER);
        let mut messages = request.into_inner();
        let mut identity: Option<StreamIdentity> = None;
        let mut stop = self.stop.clone();
        loop {
            let next = tokio::select! {
                next = messages.message() => next,
                _ = stop.wait_for(|stopped| *stopped) => return Ok(()),
            };
            let message = match next {
                Ok(Some(message)) => message,
                Ok(None) => return Ok(()),
                // The proxy went away (a restart, a drain): what it sent is stored.
                Err(status) if status.code() == Code::Cancelled => return Ok(()),
                Err(status) => return Err(Refusal::invalid(status.message().to_owned())),
            };
            if let Some(identifier) = &message.identifier {
                identity = Some(StreamIdentity::of(identifier.node.as_ref(), &self.state.topology));
            }
            let Some(identity) = &identity else {
                let why = "the stream's first message carries no identifier (node)";
                return Err(Refusal::invalid(why.to_owned()));
            };
            let cluster = explicit_cluster.clone().or_else(|| identity.cluster.clone());
            self.store(message, identity.clone(), cluster).await?;
        }
    }

    /// Stores one message's entries under `cluster` (else the config's default).
    async fn store(
        &self,
        message: StreamAccessLogsMessage,
        identity: StreamIdentity,
        cluster: Option<String>,
    ) -> Result<(), Refusal> {
        let state = &self.state;
        let encoded_len = message.encoded_len();
        let Some(entries) = message.log_entries else { return Ok(()) };
        let reserved = Reserved::take(state, encoded_len)?;
        intake::check_cluster(state, cluster.as_deref(), false)?;
        let parsed = tokio::task::spawn_blocking({
            let state = state.clone();
            move || {
                let records = als::records(entries, &identity);
                let cluster =
                    cluster.map(Arc::<str>::from).or_else(|| state.default_cluster.clone());
                rows_of_records(&state.topology, SOURCE, cluster, &records).map_err(Failure::Parse)
            }
        })
        .await
        .map_err(|_| Refusal::internal("reading the entries failed"))??;
        intake::store(state, None, parsed, reserved).await?;
        Ok(())
    }
}
