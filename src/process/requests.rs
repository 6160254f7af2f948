//! Typed Arrow builders for the `requests` table: one parsed and enriched record in,
//! one row out, straight from the borrowed record (no JSON, no schema inference).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Int32Builder, Int64Builder, TimestampMicrosecondBuilder,
};
use arrow::record_batch::RecordBatch;
use meshlog_parsers::{AccessLogRecord, ClusterName};

use super::text_column::TextColumn;
use crate::enrich::Enrichment;
use crate::storage::StorageError;
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
pub struct RequestsBuilder {
    ts: TimestampMicrosecondBuilder,
    source_cluster: TextColumn,
    head: [TextColumn; 4],
    response_code: Int32Builder,
    flags_and_details: [TextColumn; 2],
    numbers: [Int64Builder; 4],
    /// x_forwarded_for, user_agent, request_id, authority, upstream_host, upstream_cluster.
    middle: [TextColumn; 6],
    service: TextColumn,
    service_port: Int32Builder,
    subset: TextColumn,
    direction: TextColumn,
    tail: [TextColumn; 7],
    locality: TextColumn,
    dst_cluster: TextColumn,
    via_gateway: BooleanBuilder,
    rows: usize,
}

impl Default for RequestsBuilder {
    fn default() -> Self {
        RequestsBuilder {
            ts: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            source_cluster: TextColumn::default(),
            head: Default::default(),
            response_code: Int32Builder::new(),
            flags_and_details: Default::default(),
            numbers: Default::default(),
            middle: Default::default(),
            service: TextColumn::default(),
            service_port: Int32Builder::new(),
            subset: TextColumn::default(),
            direction: TextColumn::default(),
            tail: Default::default(),
            locality: TextColumn::default(),
            dst_cluster: TextColumn::default(),
            via_gateway: BooleanBuilder::new(),
            rows: 0,
        }
    }
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
        for (builder, value) in self.head.iter_mut().zip([
            &record.proxy,
            &record.method,
            &record.path,
            &record.protocol,
        ]) {
            builder.append_option(text(value));
        }
        self.response_code.append_option(record.response_code.map(i32::from));
        self.flags_and_details[0].append_option(text(&record.response_flags));
        self.flags_and_details[1].append_option(text(&record.response_code_details));
        let numbers = [
            record.bytes_received,
            record.bytes_sent,
            record.duration_ms,
            record.upstream_service_time_ms,
        ];
        for (builder, value) in self.numbers.iter_mut().zip(numbers) {
            builder.append_option(signed(value));
        }
        let middle = [
            &record.x_forwarded_for,
            &record.user_agent,
            &record.request_id,
            &record.authority,
            &record.upstream_host,
        ];
        for (builder, value) in self.middle[..5].iter_mut().zip(middle) {
            builder.append_option(text(value));
        }
        self.append_cluster(context.cluster);
        let tail = [
            &record.upstream_local_address,
            &record.downstream_local_address,
            &record.downstream_remote_address,
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
            for builder in
                [&mut self.middle[5], &mut self.service, &mut self.subset, &mut self.direction]
            {
                builder.append_null();
            }
            self.service_port.append_null();
            return;
        };
        self.middle[5].append_value(name.name);
        self.service.append_option(name.service);
        self.service_port.append_option(name.port.map(i32::from));
        self.subset.append_option(name.subset);
        self.direction.append_value(name.direction.as_str());
    }

    /// Builds the batch of the rows appended so far and starts a new one, with buffers
    /// sized like this one's so that the next batch does not regrow them from empty.
    pub fn finish(&mut self) -> Result<RecordBatch, StorageError> {
        let rows = self.rows;
        let ts = self.ts.finish();
        self.ts = TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC");
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(ts), TextColumn::finish(&mut self.source_cluster)];
        columns.extend(self.head.iter_mut().map(TextColumn::finish));
        columns.push(finish_int32(&mut self.response_code, rows));
        columns.extend(self.flags_and_details.iter_mut().map(TextColumn::finish));
        columns.extend(self.numbers.iter_mut().map(|builder| finish_int64(builder, rows)));
        columns.extend(self.middle.iter_mut().map(TextColumn::finish));
        columns.push(TextColumn::finish(&mut self.service));
        columns.push(finish_int32(&mut self.service_port, rows));
        columns.push(TextColumn::finish(&mut self.subset));
        columns.push(TextColumn::finish(&mut self.direction));
        columns.extend(self.tail.iter_mut().map(TextColumn::finish));
        columns.push(TextColumn::finish(&mut self.locality));
        columns.push(TextColumn::finish(&mut self.dst_cluster));
        columns.push(Arc::new(self.via_gateway.finish()));
        self.via_gateway = BooleanBuilder::with_capacity(rows);
        self.rows = 0;
        RecordBatch::try_new(schema::requests(), columns)
            .map_err(|source| StorageError::Arrow { table: "requests", source })
    }
}

fn finish_int32(builder: &mut Int32Builder, rows: usize) -> ArrayRef {
    let array = builder.finish();
    *builder = Int32Builder::with_capacity(rows);
    Arc::new(array)
}

fn finish_int64(builder: &mut Int64Builder, rows: usize) -> ArrayRef {
    let array = builder.finish();
    *builder = Int64Builder::with_capacity(rows);
    Arc::new(array)
}
