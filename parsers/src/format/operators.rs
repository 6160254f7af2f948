//! Which column each Envoy command operator fills. Operators meshlog has no column
//! for (`%REQ(X-B3-TRACEID)%`, `%DYNAMIC_METADATA(ns:key)%`, `%FILTER_STATE(..)%`…)
//! become named extra fields, so any valid format string compiles.

use std::sync::Arc;

use super::FormatError;
use super::tokens::Operator;
use crate::field::Field;
use crate::time_format::TimeFormat;

/// Where a compiled operator's value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A column of the `requests` table.
    Column(Field),
    /// `ts`, read with this time format.
    Time(TimeFormat),
    /// A value with no column, under the operator's name.
    Extra(Arc<str>),
}

impl Slot {
    /// The slot for `op`; `offset` locates it in the format string for errors.
    pub fn for_operator(op: &Operator, offset: usize) -> Result<Slot, FormatError> {
        let arg = op.arg.as_deref();
        let column = match (op.name.as_str(), arg) {
            ("START_TIME", _) => return time_slot(arg, offset),
            ("REQ", Some(header)) => request_header(header),
            ("RESP", Some(header)) => response_header(header),
            (name, None) => plain_operator(name),
            _ => None,
        };
        Ok(column.map_or_else(|| Slot::Extra(Arc::from(op.label())), Slot::Column))
    }

    /// The field this slot fills, if it fills a column.
    pub fn field(&self) -> Option<Field> {
        match self {
            Slot::Column(field) => Some(*field),
            Slot::Time(_) => Some(Field::StartTime),
            Slot::Extra(_) => None,
        }
    }
}

/// Gives each column to the first operator that fills it. A later operator for the
/// same column (`%RESPONSE_FLAGS%` and `%RESPONSE_FLAGS_LONG%`, `%UPSTREAM_CLUSTER%`
/// and `%UPSTREAM_CLUSTER_RAW%`) becomes an extra under `name`, so no value is
/// overwritten and lost.
#[derive(Debug, Default)]
pub struct ColumnClaims(Vec<Field>);

impl ColumnClaims {
    /// `slot`, or an extra called `name` when its column is already taken.
    pub fn claim(&mut self, slot: Slot, name: &str) -> Slot {
        match slot.field() {
            Some(field) if self.0.contains(&field) => Slot::Extra(Arc::from(name)),
            Some(field) => {
                self.0.push(field);
                slot
            }
            None => slot,
        }
    }
}

fn time_slot(arg: Option<&str>, offset: usize) -> Result<Slot, FormatError> {
    let spec = arg.unwrap_or(TimeFormat::ENVOY_DEFAULT);
    TimeFormat::compile(spec)
        .map(Slot::Time)
        .map_err(|error| FormatError::new(offset, format!("START_TIME format {spec:?}: {error}")))
}

/// Operators that take no argument.
fn plain_operator(name: &str) -> Option<Field> {
    Some(match name {
        "PROTOCOL" => Field::Protocol,
        "RESPONSE_CODE" => Field::ResponseCode,
        "RESPONSE_FLAGS" | "RESPONSE_FLAGS_LONG" => Field::ResponseFlags,
        "RESPONSE_CODE_DETAILS" => Field::ResponseCodeDetails,
        "CONNECTION_TERMINATION_DETAILS" => Field::ConnectionTerminationDetails,
        "UPSTREAM_TRANSPORT_FAILURE_REASON" => Field::UpstreamTransportFailureReason,
        "BYTES_RECEIVED" => Field::BytesReceived,
        "BYTES_SENT" => Field::BytesSent,
        "DURATION" => Field::DurationMs,
        "UPSTREAM_HOST" | "UPSTREAM_REMOTE_ADDRESS" => Field::UpstreamHost,
        "UPSTREAM_CLUSTER" | "UPSTREAM_CLUSTER_RAW" => Field::UpstreamCluster,
        "UPSTREAM_LOCAL_ADDRESS" => Field::UpstreamLocalAddress,
        "DOWNSTREAM_LOCAL_ADDRESS" => Field::DownstreamLocalAddress,
        "DOWNSTREAM_REMOTE_ADDRESS" => Field::DownstreamRemoteAddress,
        "REQUESTED_SERVER_NAME" => Field::RequestedServerName,
        "ROUTE_NAME" => Field::RouteName,
        "HOSTNAME" => Field::Proxy,
        _ => return None,
    })
}

/// `%REQ(MAIN?ALT)%`: Envoy prints ALT when MAIN is absent. The main header picks
/// the column (header names are case-insensitive), unless the fallback is a header
/// of another column: `%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%` and
/// `%REQ(:AUTHORITY?HOST)%` fill one column; `%REQ(:METHOD?USER-AGENT)%` none.
fn request_header(arg: &str) -> Option<Field> {
    let upper = arg.to_ascii_uppercase();
    let (main, alternative) = upper.split_once('?').unwrap_or((&upper, ""));
    let column = header_column(main)?;
    match header_column(alternative) {
        Some(other) if other != column => None,
        _ => Some(column),
    }
}

fn header_column(name: &str) -> Option<Field> {
    Some(match name {
        ":PATH" | "X-ENVOY-ORIGINAL-PATH" => Field::Path,
        ":METHOD" => Field::Method,
        ":AUTHORITY" | "HOST" => Field::Authority,
        "USER-AGENT" => Field::UserAgent,
        "X-FORWARDED-FOR" => Field::XForwardedFor,
        "X-REQUEST-ID" => Field::RequestId,
        _ => return None,
    })
}

fn response_header(arg: &str) -> Option<Field> {
    arg.eq_ignore_ascii_case("X-ENVOY-UPSTREAM-SERVICE-TIME")
        .then_some(Field::UpstreamServiceTimeMs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(name: &str, arg: Option<&str>) -> Slot {
        let op = Operator { name: name.to_owned(), arg: arg.map(str::to_owned), max_len: None };
        Slot::for_operator(&op, 0).unwrap()
    }

    #[test]
    fn maps_request_headers_case_insensitively() {
        assert_eq!(slot("REQ", Some("X-ENVOY-ORIGINAL-PATH?:PATH")), Slot::Column(Field::Path));
        assert_eq!(slot("REQ", Some(":path")), Slot::Column(Field::Path));
        assert_eq!(slot("REQ", Some("user-agent")), Slot::Column(Field::UserAgent));
        assert_eq!(slot("REQ", Some("Host")), Slot::Column(Field::Authority));
    }

    #[test]
    fn fallback_headers_of_the_same_column_share_it() {
        assert_eq!(slot("REQ", Some(":AUTHORITY?HOST")), Slot::Column(Field::Authority));
        assert_eq!(
            slot("REQ", Some("X-FORWARDED-FOR?X-REAL-IP")),
            Slot::Column(Field::XForwardedFor)
        );
        assert_eq!(slot("REQ", Some(":PATH?X-ENVOY-ORIGINAL-PATH")), Slot::Column(Field::Path));
        assert_eq!(
            slot("REQ", Some(":METHOD?USER-AGENT")),
            Slot::Extra(Arc::from("REQ(:METHOD?USER-AGENT)"))
        );
    }

    #[test]
    fn unknown_operators_become_named_extras() {
        assert_eq!(slot("REQ", Some("X-B3-TRACEID")), Slot::Extra(Arc::from("REQ(X-B3-TRACEID)")));
        assert_eq!(
            slot("DYNAMIC_METADATA", Some("istio.mixer:status")),
            Slot::Extra(Arc::from("DYNAMIC_METADATA(istio.mixer:status)"))
        );
        assert_eq!(slot("REQUEST_DURATION", None), Slot::Extra(Arc::from("REQUEST_DURATION")));
    }

    #[test]
    fn raw_cluster_and_long_flags_share_columns() {
        assert_eq!(slot("UPSTREAM_CLUSTER_RAW", None), Slot::Column(Field::UpstreamCluster));
        assert_eq!(slot("RESPONSE_FLAGS_LONG", None), Slot::Column(Field::ResponseFlags));
        assert_eq!(
            slot("RESP", Some("x-envoy-upstream-service-time")),
            Slot::Column(Field::UpstreamServiceTimeMs)
        );
    }
}
