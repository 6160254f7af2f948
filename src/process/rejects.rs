//! Arrow builders for the `rejects` table: every line that could not be stored,
//! with its source, byte offset, line number, the input lines it covers (the pieces of
//! a line a runtime split), reason code, error and raw text.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow::record_batch::RecordBatch;

use crate::storage::StorageError;
use crate::storage::schema;

/// One rejected line.
pub struct RejectRow<'a> {
    pub ts_ingested: i64,
    pub source_cluster: Option<&'a str>,
    pub source: &'a str,
    pub offset: u64,
    pub line: u64,
    /// Input lines the reject covers: 1, or the pieces of a joined line.
    pub lines: u64,
    pub reason: &'a str,
    pub error: &'a str,
    pub raw: &'a [u8],
}

/// Builds `rejects` rows.
pub struct RejectsBuilder {
    ts_ingested: TimestampMicrosecondBuilder,
    source_cluster: StringBuilder,
    source: StringBuilder,
    offset: Int64Builder,
    line: Int64Builder,
    lines: Int64Builder,
    reason: StringBuilder,
    error: StringBuilder,
    raw: StringBuilder,
    rows: usize,
}

impl Default for RejectsBuilder {
    fn default() -> Self {
        RejectsBuilder {
            ts_ingested: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            source_cluster: StringBuilder::new(),
            source: StringBuilder::new(),
            offset: Int64Builder::new(),
            line: Int64Builder::new(),
            lines: Int64Builder::new(),
            reason: StringBuilder::new(),
            error: StringBuilder::new(),
            raw: StringBuilder::new(),
            rows: 0,
        }
    }
}

fn signed(number: u64) -> i64 {
    i64::try_from(number).unwrap_or(i64::MAX)
}

impl RejectsBuilder {
    /// Rows appended since the last finish.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// No rows appended.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends a rejected line; invalid UTF-8 in `raw` is kept as U+FFFD.
    pub fn append(&mut self, row: &RejectRow<'_>) {
        self.ts_ingested.append_value(row.ts_ingested);
        self.source_cluster.append_option(row.source_cluster);
        self.source.append_value(row.source);
        self.offset.append_value(signed(row.offset));
        self.line.append_value(signed(row.line));
        self.lines.append_value(signed(row.lines));
        self.reason.append_value(row.reason);
        self.error.append_value(row.error);
        self.raw.append_value(String::from_utf8_lossy(row.raw));
        self.rows += 1;
    }

    /// Builds the batch of the rows appended so far and starts a new one.
    pub fn finish(&mut self) -> Result<RecordBatch, StorageError> {
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("ts_ingested", Arc::new(self.ts_ingested.finish())),
            ("source_cluster", Arc::new(self.source_cluster.finish())),
            ("source", Arc::new(self.source.finish())),
            ("offset", Arc::new(self.offset.finish())),
            ("line", Arc::new(self.line.finish())),
            ("lines", Arc::new(self.lines.finish())),
            ("reason", Arc::new(self.reason.finish())),
            ("error", Arc::new(self.error.finish())),
            ("raw", Arc::new(self.raw.finish())),
        ];
        self.rows = 0;
        schema::batch_by_name("rejects", &schema::rejects(), columns)
    }
}
