//! [`AccessLogRecord`]: one parsed access-log line, typed, borrowing from the line where
//! it can. `-` and JSON `null` are `None`; text is valid UTF-8 (invalid bytes are
//! replaced and [`AccessLogRecord::lossy_utf8`] is set). Derived views (the response
//! flag set, the split cluster name) are computed on demand from the logged text.

use std::borrow::Cow;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::cluster_name::ClusterName;
use crate::field::Field;
use crate::flags::ResponseFlags;
use crate::time_format::Timestamp;

/// A value of an operator meshlog has no column for, kept under the operator's name
/// (`REQ(X-B3-TRACEID)`, `DYNAMIC_METADATA(istio.mixer:status)`, a JSON key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraField<'a> {
    pub name: Arc<str>,
    pub value: Option<Cow<'a, str>>,
}

/// One access-log line, parsed. Field names are the `requests` column names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessLogRecord<'a> {
    pub ts: Option<Timestamp>,
    pub proxy: Option<Cow<'a, str>>,
    pub method: Option<Cow<'a, str>>,
    pub path: Option<Cow<'a, str>>,
    pub protocol: Option<Cow<'a, str>>,
    pub response_code: Option<u16>,
    pub response_flags: Option<Cow<'a, str>>,
    pub response_code_details: Option<Cow<'a, str>>,
    pub connection_termination_details: Option<Cow<'a, str>>,
    pub upstream_transport_failure_reason: Option<Cow<'a, str>>,
    pub bytes_received: Option<u64>,
    pub bytes_sent: Option<u64>,
    pub duration_ms: Option<u64>,
    pub upstream_service_time_ms: Option<u64>,
    pub x_forwarded_for: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub request_id: Option<Cow<'a, str>>,
    pub authority: Option<Cow<'a, str>>,
    pub upstream_host: Option<Cow<'a, str>>,
    pub upstream_cluster: Option<Cow<'a, str>>,
    pub upstream_local_address: Option<Cow<'a, str>>,
    pub downstream_local_address: Option<Cow<'a, str>>,
    pub downstream_remote_address: Option<Cow<'a, str>>,
    pub requested_server_name: Option<Cow<'a, str>>,
    pub route_name: Option<Cow<'a, str>>,
    /// Values of operators without a column, in format order.
    pub extra: Vec<ExtraField<'a>>,
    /// Some bytes of the line were not UTF-8 and were replaced with U+FFFD.
    pub lossy_utf8: bool,
}

/// A typed value ready to be stored in a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue<'a> {
    Absent,
    Text(Cow<'a, str>),
    Integer(u64),
    Time(Timestamp),
}

/// The text columns, in the order of [`Columns::text`].
pub(crate) const TEXT_FIELDS: [Field; 19] = [
    Field::Proxy,
    Field::Method,
    Field::Path,
    Field::Protocol,
    Field::ResponseFlags,
    Field::ResponseCodeDetails,
    Field::ConnectionTerminationDetails,
    Field::UpstreamTransportFailureReason,
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

/// The integer columns but the response code, in the order of [`Columns::integer`].
pub(crate) const INTEGER_FIELDS: [Field; 4] =
    [Field::BytesReceived, Field::BytesSent, Field::DurationMs, Field::UpstreamServiceTimeMs];

/// Every column of a record borrowed apart, so a reader that knows a value's
/// column by its index (in [`TEXT_FIELDS`], [`INTEGER_FIELDS`]) stores it without
/// matching on the field.
pub(crate) struct Columns<'r, 'a> {
    pub(crate) text: [&'r mut Option<Cow<'a, str>>; 19],
    pub(crate) integer: [&'r mut Option<u64>; 4],
    pub(crate) response_code: &'r mut Option<u16>,
    pub(crate) ts: &'r mut Option<Timestamp>,
    pub(crate) extra: &'r mut Vec<ExtraField<'a>>,
}

/// Why a value could not be stored in its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

impl<'a> AccessLogRecord<'a> {
    /// Stores `value` in `field`, converting integers to the field's width.
    pub fn set(&mut self, field: Field, value: FieldValue<'a>) -> Result<(), WrongType> {
        match value {
            FieldValue::Absent => self.clear(field),
            FieldValue::Text(text) => *self.text_slot(field).ok_or(WrongType)? = Some(text),
            FieldValue::Integer(number) => self.set_integer(field, number)?,
            FieldValue::Time(ts) if field == Field::StartTime => self.ts = Some(ts),
            FieldValue::Time(_) => return Err(WrongType),
        }
        Ok(())
    }

    fn clear(&mut self, field: Field) {
        if let Some(slot) = self.text_slot(field) {
            *slot = None;
            return;
        }
        match field {
            Field::StartTime => self.ts = None,
            Field::ResponseCode => self.response_code = None,
            _ => *self.integer_slot(field).unwrap_or(&mut None) = None,
        }
    }

    fn set_integer(&mut self, field: Field, number: u64) -> Result<(), WrongType> {
        if field == Field::ResponseCode {
            self.response_code = Some(u16::try_from(number).map_err(|_| WrongType)?);
            return Ok(());
        }
        *self.integer_slot(field).ok_or(WrongType)? = Some(number);
        Ok(())
    }

    pub(crate) fn integer_slot(&mut self, field: Field) -> Option<&mut Option<u64>> {
        Some(match field {
            Field::BytesReceived => &mut self.bytes_received,
            Field::BytesSent => &mut self.bytes_sent,
            Field::DurationMs => &mut self.duration_ms,
            Field::UpstreamServiceTimeMs => &mut self.upstream_service_time_ms,
            _ => return None,
        })
    }

    pub(crate) fn text_slot(&mut self, field: Field) -> Option<&mut Option<Cow<'a, str>>> {
        Some(match field {
            Field::Proxy => &mut self.proxy,
            Field::Method => &mut self.method,
            Field::Path => &mut self.path,
            Field::Protocol => &mut self.protocol,
            Field::ResponseFlags => &mut self.response_flags,
            Field::ResponseCodeDetails => &mut self.response_code_details,
            Field::ConnectionTerminationDetails => &mut self.connection_termination_details,
            Field::UpstreamTransportFailureReason => &mut self.upstream_transport_failure_reason,
            Field::XForwardedFor => &mut self.x_forwarded_for,
            Field::UserAgent => &mut self.user_agent,
            Field::RequestId => &mut self.request_id,
            Field::Authority => &mut self.authority,
            Field::UpstreamHost => &mut self.upstream_host,
            Field::UpstreamCluster => &mut self.upstream_cluster,
            Field::UpstreamLocalAddress => &mut self.upstream_local_address,
            Field::DownstreamLocalAddress => &mut self.downstream_local_address,
            Field::DownstreamRemoteAddress => &mut self.downstream_remote_address,
            Field::RequestedServerName => &mut self.requested_server_name,
            Field::RouteName => &mut self.route_name,
            _ => return None,
        })
    }

    /// The columns, borrowed apart (see [`Columns`]).
    pub(crate) fn columns(&mut self) -> Columns<'_, 'a> {
        let AccessLogRecord {
            ts,
            proxy,
            method,
            path,
            protocol,
            response_code,
            response_flags,
            response_code_details,
            connection_termination_details,
            upstream_transport_failure_reason,
            bytes_received,
            bytes_sent,
            duration_ms,
            upstream_service_time_ms,
            x_forwarded_for,
            user_agent,
            request_id,
            authority,
            upstream_host,
            upstream_cluster,
            upstream_local_address,
            downstream_local_address,
            downstream_remote_address,
            requested_server_name,
            route_name,
            extra,
            lossy_utf8: _,
        } = self;
        let text = [
            proxy,
            method,
            path,
            protocol,
            response_flags,
            response_code_details,
            connection_termination_details,
            upstream_transport_failure_reason,
            x_forwarded_for,
            user_agent,
            request_id,
            authority,
            upstream_host,
            upstream_cluster,
            upstream_local_address,
            downstream_local_address,
            downstream_remote_address,
            requested_server_name,
            route_name,
        ];
        let integer = [bytes_received, bytes_sent, duration_ms, upstream_service_time_ms];
        Columns { text, integer, response_code, ts, extra }
    }

    /// The value of `field` as it would be written back into a log (`None` for absent).
    pub fn get(&self, field: Field) -> FieldValue<'_> {
        fn text<'r>(value: &'r Option<Cow<'_, str>>) -> FieldValue<'r> {
            match value {
                Some(text) => FieldValue::Text(Cow::Borrowed(text.as_ref())),
                None => FieldValue::Absent,
            }
        }
        let integer = |value: Option<u64>| value.map_or(FieldValue::Absent, FieldValue::Integer);
        match field {
            Field::StartTime => self.ts.map_or(FieldValue::Absent, FieldValue::Time),
            Field::ResponseCode => integer(self.response_code.map(u64::from)),
            Field::BytesReceived => integer(self.bytes_received),
            Field::BytesSent => integer(self.bytes_sent),
            Field::DurationMs => integer(self.duration_ms),
            Field::UpstreamServiceTimeMs => integer(self.upstream_service_time_ms),
            Field::Proxy => text(&self.proxy),
            Field::Method => text(&self.method),
            Field::Path => text(&self.path),
            Field::Protocol => text(&self.protocol),
            Field::ResponseFlags => text(&self.response_flags),
            Field::ResponseCodeDetails => text(&self.response_code_details),
            Field::ConnectionTerminationDetails => text(&self.connection_termination_details),
            Field::UpstreamTransportFailureReason => text(&self.upstream_transport_failure_reason),
            Field::XForwardedFor => text(&self.x_forwarded_for),
            Field::UserAgent => text(&self.user_agent),
            Field::RequestId => text(&self.request_id),
            Field::Authority => text(&self.authority),
            Field::UpstreamHost => text(&self.upstream_host),
            Field::UpstreamCluster => text(&self.upstream_cluster),
            Field::UpstreamLocalAddress => text(&self.upstream_local_address),
            Field::DownstreamLocalAddress => text(&self.downstream_local_address),
            Field::DownstreamRemoteAddress => text(&self.downstream_remote_address),
            Field::RequestedServerName => text(&self.requested_server_name),
            Field::RouteName => text(&self.route_name),
        }
    }

    /// The known response flags in [`Self::response_flags`] (unknown ones stay in the text).
    pub fn response_flag_set(&self) -> ResponseFlags {
        self.response_flags.as_deref().map(ResponseFlags::parse).unwrap_or_default()
    }

    /// `upstream_cluster` split into direction, port, subset and service.
    pub fn cluster_name(&self) -> Option<ClusterName<'_>> {
        self.upstream_cluster.as_deref().map(ClusterName::parse)
    }

    /// Sets an extra (non-column) value, replacing an earlier one of the same name.
    pub fn set_extra(&mut self, name: &Arc<str>, value: Option<Cow<'a, str>>) {
        set_extra(&mut self.extra, name, value);
    }

    /// Copies every borrowed value so the record outlives the line it came from.
    pub fn into_owned(self) -> AccessLogRecord<'static> {
        let own = |value: Option<Cow<'a, str>>| value.map(|text| Cow::Owned(text.into_owned()));
        AccessLogRecord {
            ts: self.ts,
            proxy: own(self.proxy),
            method: own(self.method),
            path: own(self.path),
            protocol: own(self.protocol),
            response_code: self.response_code,
            response_flags: own(self.response_flags),
            response_code_details: own(self.response_code_details),
            connection_termination_details: own(self.connection_termination_details),
            upstream_transport_failure_reason: own(self.upstream_transport_failure_reason),
            bytes_received: self.bytes_received,
            bytes_sent: self.bytes_sent,
            duration_ms: self.duration_ms,
            upstream_service_time_ms: self.upstream_service_time_ms,
            x_forwarded_for: own(self.x_forwarded_for),
            user_agent: own(self.user_agent),
            request_id: own(self.request_id),
            authority: own(self.authority),
            upstream_host: own(self.upstream_host),
            upstream_cluster: own(self.upstream_cluster),
            upstream_local_address: own(self.upstream_local_address),
            downstream_local_address: own(self.downstream_local_address),
            downstream_remote_address: own(self.downstream_remote_address),
            requested_server_name: own(self.requested_server_name),
            route_name: own(self.route_name),
            extra: self
                .extra
                .into_iter()
                .map(|extra| ExtraField { name: extra.name, value: own(extra.value) })
                .collect(),
            lossy_utf8: self.lossy_utf8,
        }
    }
}

/// [`AccessLogRecord::set_extra`] on the extras alone.
pub(crate) fn set_extra<'a>(
    extras: &mut Vec<ExtraField<'a>>,
    name: &Arc<str>,
    value: Option<Cow<'a, str>>,
) {
    match extras.iter_mut().find(|extra| extra.name == *name) {
        Some(extra) => extra.value = value,
        None => extras.push(ExtraField { name: Arc::clone(name), value }),
    }
}

/// Serialises as one flat JSON object keyed by `requests` column names, `ts` in
/// RFC 3339, with the derived columns (`service`, `service_port`, `subset`,
/// `direction`, `response_flag_set`) and an `extra` object when there are extras.
impl Serialize for AccessLogRecord<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for field in Field::ALL {
            match self.get(field) {
                FieldValue::Absent => map.serialize_entry(field.column(), &())?,
                FieldValue::Text(text) => map.serialize_entry(field.column(), &text)?,
                FieldValue::Integer(number) => map.serialize_entry(field.column(), &number)?,
                FieldValue::Time(ts) => map.serialize_entry(field.column(), &ts.to_rfc3339())?,
            }
        }
        let cluster = self.cluster_name();
        map.serialize_entry("direction", &cluster.as_ref().map(|name| name.direction.as_str()))?;
        map.serialize_entry("service", &cluster.as_ref().and_then(|name| name.service))?;
        map.serialize_entry("service_port", &cluster.as_ref().and_then(|name| name.port))?;
        map.serialize_entry("subset", &cluster.as_ref().and_then(|name| name.subset))?;
        let flags: Vec<&str> = self.response_flag_set().names().collect();
        map.serialize_entry("response_flag_set", &flags)?;
        if !self.extra.is_empty() {
            map.serialize_entry("extra", &ExtraMap(&self.extra))?;
        }
        if self.lossy_utf8 {
            map.serialize_entry("lossy_utf8", &true)?;
        }
        map.end()
    }
}

struct ExtraMap<'r, 'a>(&'r [ExtraField<'a>]);

impl Serialize for ExtraMap<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for extra in self.0 {
            map.serialize_entry(extra.name.as_ref(), &extra.value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_borrowed_in_the_order_of_their_field_lists() {
        let mut record = AccessLogRecord::default();
        let columns = record.columns();
        for (index, field) in TEXT_FIELDS.iter().enumerate() {
            *columns.text[index] = Some(Cow::Borrowed(field.column()));
        }
        for (index, number) in (0..INTEGER_FIELDS.len()).zip(1..) {
            *columns.integer[index] = Some(number);
        }
        for field in TEXT_FIELDS {
            assert_eq!(record.get(field), FieldValue::Text(Cow::Borrowed(field.column())));
        }
        for (field, number) in INTEGER_FIELDS.into_iter().zip(1..) {
            assert_eq!(record.get(field), FieldValue::Integer(number));
        }
    }
}
