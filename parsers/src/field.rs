//! The columns of the `requests` table that an access-log value can land in, and the
//! shape of value each one accepts. The format compiler maps every Envoy command
//! operator to a [`Field`]; the line matcher uses [`ValueClass`] to decide where a
//! value may end, which is what keeps fields from shifting when a value contains the
//! separator (an unescaped `"` inside a user agent, a space inside a custom time).

/// A typed destination for one value of an access-log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    StartTime,
    Proxy,
    Method,
    Path,
    Protocol,
    ResponseCode,
    ResponseFlags,
    ResponseCodeDetails,
    ConnectionTerminationDetails,
    UpstreamTransportFailureReason,
    BytesReceived,
    BytesSent,
    DurationMs,
    UpstreamServiceTimeMs,
    XForwardedFor,
    UserAgent,
    RequestId,
    Authority,
    UpstreamHost,
    UpstreamCluster,
    UpstreamLocalAddress,
    DownstreamLocalAddress,
    DownstreamRemoteAddress,
    RequestedServerName,
    RouteName,
}

/// What characters a value may contain; the matcher rejects a candidate value that
/// breaks its class and tries the next occurrence of the following literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueClass {
    /// Decimal digits, or `-` for absent.
    Integer,
    /// A timestamp in the operator's time format.
    Time,
    /// No space and no `"`: addresses, cluster names, flags, details, tokens.
    Token,
    /// Anything but `"` (spaces allowed): `X-Forwarded-For` lists, failure reasons.
    Unquoted,
    /// Anything at all: user agents and other free headers.
    Text,
}

impl Field {
    /// Every field, in `requests` column order.
    pub const ALL: [Field; 25] = [
        Field::StartTime,
        Field::Proxy,
        Field::Method,
        Field::Path,
        Field::Protocol,
        Field::ResponseCode,
        Field::ResponseFlags,
        Field::ResponseCodeDetails,
        Field::ConnectionTerminationDetails,
        Field::UpstreamTransportFailureReason,
        Field::BytesReceived,
        Field::BytesSent,
        Field::DurationMs,
        Field::UpstreamServiceTimeMs,
        Field::XForwardedFor,
        Field::UserAgent,
        Field::RequestId,
        Field::Authority,
        Field::UpstreamHost,
        Field::UpstreamCluster,
        Field::UpstreamLocalAddress,
        Field::DownstreamLocalAddress,
        Field::DownstreamRemoteAddress,
        Field::RequestedServerName,
        Field::RouteName,
    ];

    /// The `requests` column this field fills.
    pub fn column(self) -> &'static str {
        match self {
            Field::StartTime => "ts",
            Field::Proxy => "proxy",
            Field::Method => "method",
            Field::Path => "path",
            Field::Protocol => "protocol",
            Field::ResponseCode => "response_code",
            Field::ResponseFlags => "response_flags",
            Field::ResponseCodeDetails => "response_code_details",
            Field::ConnectionTerminationDetails => "connection_termination_details",
            Field::UpstreamTransportFailureReason => "upstream_transport_failure_reason",
            Field::BytesReceived => "bytes_received",
            Field::BytesSent => "bytes_sent",
            Field::DurationMs => "duration_ms",
            Field::UpstreamServiceTimeMs => "upstream_service_time_ms",
            Field::XForwardedFor => "x_forwarded_for",
            Field::UserAgent => "user_agent",
            Field::RequestId => "request_id",
            Field::Authority => "authority",
            Field::UpstreamHost => "upstream_host",
            Field::UpstreamCluster => "upstream_cluster",
            Field::UpstreamLocalAddress => "upstream_local_address",
            Field::DownstreamLocalAddress => "downstream_local_address",
            Field::DownstreamRemoteAddress => "downstream_remote_address",
            Field::RequestedServerName => "requested_server_name",
            Field::RouteName => "route_name",
        }
    }

    /// The field whose column is `name`, if any.
    pub fn from_column(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.column() == name)
    }

    /// The shape of value this field accepts.
    pub fn class(self) -> ValueClass {
        match self {
            Field::StartTime => ValueClass::Time,
            Field::ResponseCode
            | Field::BytesReceived
            | Field::BytesSent
            | Field::DurationMs
            | Field::UpstreamServiceTimeMs => ValueClass::Integer,
            Field::Path | Field::UserAgent => ValueClass::Text,
            Field::XForwardedFor | Field::UpstreamTransportFailureReason => ValueClass::Unquoted,
            _ => ValueClass::Token,
        }
    }
}

impl ValueClass {
    /// Whether `byte` may appear anywhere in a value of this class. A value holding a
    /// forbidden byte can never become valid by growing, so the matcher stops there.
    #[inline]
    pub fn allows(self, byte: u8) -> bool {
        match self {
            ValueClass::Integer => byte.is_ascii_digit() || byte == b'-',
            ValueClass::Token => !matches!(byte, b' ' | b'"'),
            ValueClass::Unquoted => byte != b'"',
            ValueClass::Time | ValueClass::Text => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_round_trip() {
        for field in Field::ALL {
            assert_eq!(Field::from_column(field.column()), Some(field));
        }
    }

    #[test]
    fn token_class_rejects_quotes_and_spaces() {
        assert!(!ValueClass::Token.allows(b'"'));
        assert!(!ValueClass::Token.allows(b' '));
        assert!(ValueClass::Token.allows(b'{'));
        assert!(ValueClass::Unquoted.allows(b' '));
        assert!(!ValueClass::Integer.allows(b'x'));
    }
}
