//! Typed Arrow builders for the `requests` table: one parsed and enriched record in,
//! one row out, straight from the borrowed record (no JSON, no schema inference).

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder};
use arrow::datatypes::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use meshlog_parsers::{AccessLogRecord, ClusterName};

use super::number_column::NumberColumn;
use super::text_column::TextColumn;
use crate::enrich::Enrichment;
use crate::storage::StorageError;
use crate::storage::dict_column::DictColumn;
use crate::storage::schema;

/// The context every row of a batch shares.
pub struct RowContext<'a> {
    pub source_cluster: Option<&'a str>,
    /// The name of the cluster that served the request, from the enrichment.
    pub dst_cluster: Option<&'a str>,
    /// The record's `upstream_cluster`, split into its parts.
    pub cluster: Option<ClusterName<'a>>,
}

/// Builds `requests` rows.
///
/// The strings that repeat are stored as dictionaries, and their keys are found by
/// one of the two threads ingest keeps busy, whichever it costs less. The reading
/// thread finds them for the values that a few dozen candidates cover (methods,
/// protocols, localities, response flags and details, authorities, the proxy's own
/// address, Envoy clusters and their services: [`DictColumn`]), where a lookup costs
/// it about what a copy would; the committer for the long and varied ones (paths,
/// user agents, upstream hosts), which come to it as plain strings ([`TextColumn`]),
/// like the four that are nearly unique per request (a client address, a request id,
/// ephemeral `ip:port`s).
#[derive(Default)]
pub struct RequestsBuilder {
    ts: NumberColumn<TimestampMicrosecondType>,
    source_cluster: DictColumn,
    proxy: DictColumn,
    method: DictColumn,
    path: TextColumn,
    protocol: DictColumn,
    response_code: NumberColumn<Int32Type>,
    response_flags: DictColumn,
    response_code_details: DictColumn,
    /// bytes_received, bytes_sent, duration_ms, upstream_service_time_ms.
    numbers: [NumberColumn<Int64Type>; 4],
    x_forwarded_for: TextColumn,
    user_agent: TextColumn,
    request_id: TextColumn,
    authority: DictColumn,
    upstream_host: TextColumn,
    upstream_cluster: DictColumn,
    service: DictColumn,
    service_port: NumberColumn<Int32Type>,
    subset: DictColumn,
    direction: DictColumn,
    upstream_local_address: TextColumn,
    downstream_local_address: DictColumn,
    downstream_remote_address: TextColumn,
    /// requested_server_name, route_name, upstream_transport_failure_reason,
    /// connection_termination_details.
    tail: [DictColumn; 4],
    locality: DictColumn,
    dst_cluster: DictColumn,
    via_gateway: BooleanBuilder,
    rows: usize,
}

fn text<'r>(value: &'r Option<std::borrow::Cow<'_, str>>) -> Option<&'r str> {
    value.as_deref()
}

fn signed(value: Option<u64>) -> Option<i64> {
    value.map(|number| i64::try_from(number).unwrap_or(i64::MAX))
}

impl RequestsBuilder {
    /// Rows appended since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.rows
    }

    /// No rows appended.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one row; `ts` is the record's start time in µs.
    pub fn append(
        &mut self,
        ts: i64,
        record: &AccessLogRecord<'_>,
        tags: &Enrichment,
        context: &RowContext<'_>,
    ) {
        self.ts.append_value(ts);
        self.source_cluster.append_option(context.source_cluster);
        self.proxy.append_option(text(&record.proxy));
        self.method.append_option(text(&record.method));
        self.path.append_option(text(&record.path));
        self.protocol.append_option(text(&record.protocol));
        self.response_code.append_option(record.response_code.map(i32::from));
        self.response_flags.append_option(text(&record.response_flags));
        self.response_code_details.append_option(text(&record.response_code_details));
        let numbers = [
            record.bytes_received,
            record.bytes_sent,
            record.duration_ms,
            record.upstream_service_time_ms,
        ];
        for (builder, value) in self.numbers.iter_mut().zip(numbers) {
            builder.append_option(signed(value));
        }
        self.x_forwarded_for.append_option(text(&record.x_forwarded_for));
        self.user_agent.append_option(text(&record.user_agent));
        self.request_id.append_option(text(&record.request_id));
        self.authority.append_option(text(&record.authority));
        self.upstream_host.append_option(text(&record.upstream_host));
        self.append_cluster(context.cluster);
        self.upstream_local_address.append_option(text(&record.upstream_local_address));
        self.downstream_local_address.append_option(text(&record.downstream_local_address));
        self.downstream_remote_address.append_option(text(&record.downstream_remote_address));
        let tail = [
            &record.requested_server_name,
            &record.route_name,
            &record.upstream_transport_failure_reason,
            &record.connection_termination_details,
        ];
        for (builder, value) in self.tail.iter_mut().zip(tail) {
            builder.append_option(text(value));
        }
        self.locality.append_value(tags.locality.as_str());
        self.dst_cluster.append_option(context.dst_cluster);
        self.via_gateway.append_value(tags.via_gateway);
        self.rows += 1;
    }

    /// `upstream_cluster` and the parts parsed from it.
    fn append_cluster(&mut self, cluster: Option<ClusterName<'_>>) {
        let Some(name) = cluster else {
            self.upstream_cluster.append_option(None);
            self.service.append_option(None);
            self.service_port.append_null();
            self.subset.append_null();
            self.direction.append_null();
            return;
        };
        self.upstream_cluster.append_value(name.name);
        self.service.append_option(name.service);
        self.service_port.append_option(name.port.map(i32::from));
        self.subset.append_option(name.subset);
        self.direction.append_value(name.direction.as_str());
    }

    /// Builds the batch of the rows appended so far and starts a new one, with buffers
    /// sized like this one's so that the next batch does not regrow them from empty.
    pub fn finish(&mut self) -> Result<RecordBatch, StorageError> {
        let rows = self.rows;
        let ts = self.ts.finish().with_timezone("UTC");
        let [bytes_received, bytes_sent, duration_ms, upstream_service_time_ms] =
            self.numbers.each_mut().map(NumberColumn::finish_array);
        let [requested_server_name, route_name, failure_reason, termination_details] =
            self.tail.each_mut().map(DictColumn::finish);
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("ts", Arc::new(ts)),
            ("source_cluster", self.source_cluster.finish()),
            ("proxy", self.proxy.finish()),
            ("method", self.method.finish()),
            ("path", self.path.finish()),
            ("protocol", self.protocol.finish()),
            ("response_code", self.response_code.finish_array()),
            ("response_flags", self.response_flags.finish()),
            ("response_code_details", self.response_code_details.finish()),
            ("bytes_received", bytes_received),
            ("bytes_sent", bytes_sent),
            ("duration_ms", duration_ms),
            ("upstream_service_time_ms", upstream_service_time_ms),
            ("x_forwarded_for", self.x_forwarded_for.finish()),
            ("user_agent", self.user_agent.finish()),
            ("request_id", self.request_id.finish()),
            ("authority", self.authority.finish()),
            ("upstream_host", self.upstream_host.finish()),
            ("upstream_cluster", self.upstream_cluster.finish()),
            ("service", self.service.finish()),
            ("service_port", self.service_port.finish_array()),
            ("subset", self.subset.finish()),
            ("direction", self.direction.finish()),
            ("upstream_local_address", self.upstream_local_address.finish()),
            ("downstream_local_address", self.downstream_local_address.finish()),
            ("downstream_remote_address", self.downstream_remote_address.finish()),
            ("requested_server_name", requested_server_name),
            ("route_name", route_name),
            ("upstream_transport_failure_reason", failure_reason),
            ("connection_termination_details", termination_details),
            ("locality", self.locality.finish()),
            ("dst_cluster", self.dst_cluster.finish()),
            ("via_gateway", Arc::new(self.via_gateway.finish())),
        ];
        self.via_gateway = BooleanBuilder::with_capacity(rows);
        self.rows = 0;
        schema::batch_by_name("requests", &schema::requests(), columns)
    }
}
