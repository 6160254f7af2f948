//! How a log sink answers, in the dialect its clients speak: meshlog's own
//! (`POST /api/v1/logs`: `{"accepted": N, "rejected": M}`, errors as
//! `{"error": …}`) or OTLP/HTTP (`POST /v1/logs`: an `ExportLogsServiceResponse`
//! with `partial_success`, errors as a `google.rpc.Status`, in the request's
//! encoding). Both say `503` with `Retry-After` when the server is behind.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{RETRY_AFTER_SECONDS, error, unavailable};
use crate::serve::batches::BatchOutcome;
use crate::serve::intake::Failure;
use crate::serve::otlp::{self, OtlpEncoding};

/// Whose answers a sink gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Meshlog,
    Otlp(OtlpEncoding),
}

impl Dialect {
    /// Every line is in the write-ahead log, `outcome.rejected` of them as rejects;
    /// `duplicate`: the batch was stored before.
    pub fn stored(self, outcome: BatchOutcome, duplicate: bool) -> Response {
        match self {
            Dialect::Meshlog => {
                let mut body = serde_json::json!({
                    "accepted": outcome.accepted,
                    "rejected": outcome.rejected,
                });
                if duplicate {
                    body["duplicate"] = true.into();
                }
                (StatusCode::OK, axum::Json(body)).into_response()
            }
            Dialect::Otlp(encoding) => {
                let body = otlp::response_body(encoding, outcome.rejected);
                with_type(StatusCode::OK, encoding, body)
            }
        }
    }

    /// An error that retrying the same request will not mend (or a 500).
    pub fn error(self, status: StatusCode, message: &str) -> Response {
        match self {
            Dialect::Meshlog => error(status, message),
            Dialect::Otlp(encoding) => {
                let body = otlp::status_body(encoding, otlp::grpc_code(status), message);
                with_type(status, encoding, body)
            }
        }
    }

    /// Why the lines were not stored: 503 with `Retry-After` for what passes.
    pub fn failure(self, failure: &Failure) -> Response {
        let (status, message) = (failure.status(), failure.message());
        match status {
            StatusCode::SERVICE_UNAVAILABLE => self.unavailable(&message),
            _ => self.error(status, &message),
        }
    }

    /// 503 with `Retry-After`: the server is behind or stopping.
    pub fn unavailable(self, message: &str) -> Response {
        if self == Dialect::Meshlog {
            return unavailable(message);
        }
        let mut response = self.error(StatusCode::SERVICE_UNAVAILABLE, message);
        let retry_after = HeaderValue::from(RETRY_AFTER_SECONDS);
        response.headers_mut().insert(header::RETRY_AFTER, retry_after);
        response
    }
}

fn with_type(status: StatusCode, encoding: OtlpEncoding, body: Vec<u8>) -> Response {
    let content_type = HeaderValue::from_static(encoding.content_type());
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}
