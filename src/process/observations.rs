//! The failover detector's view of a `requests` batch: every outbound request to a
//! named service becomes an [`Observation`], in the batch's row order (the order the
//! lines were read in). The detector runs on the committer thread from the finished
//! batch, so the reading thread, which bounds an ingest, does not pay for it.
//!
//! A row is observed when its `service` is set and its `direction` is not `inbound`;
//! it failed when its `response_code` is 5xx or its `response_flags` hold `UH`, `UF`
//! or `URX`; its `locality` says where it was served (`local`, `cross_cluster` in its
//! `dst_cluster`, or elsewhere: `unknown`, `external`). The columns
//! hold exactly what the parsed record and its enrichment said, so this is the same
//! evidence the record itself gives. Repeating strings come as dictionaries, and the
//! tests on them are made once per dictionary value, not once per row.

use arrow::array::{Array, AsArray, DictionaryArray, Int32Array, StringArray};
use arrow::datatypes::{Int32Type, TimestampMicrosecondType, UInt32Type};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use meshlog_parsers::{Direction, ResponseFlags};

use crate::analytics::failover::{Destination, FailoverDetector, Failure, Observation};
use crate::enrich::Locality;
use crate::storage::StorageError;

/// Feeds every outbound request of `requests` (a `requests` batch, unsorted) to
/// `detector`, in row order.
pub fn observe_requests(
    detector: &mut FailoverDetector,
    requests: &RecordBatch,
) -> Result<(), StorageError> {
    let columns = Columns::of(requests).map_err(|error| StorageError::Arrow {
        table: crate::storage::schema::REQUESTS_DIR,
        source: ArrowError::SchemaError(format!(
            "the failover detector cannot read the batch: {error}"
        )),
    })?;
    for row in 0..requests.num_rows() {
        if let Some(observation) = columns.observation(row) {
            detector.observe(&observation);
        }
    }
    Ok(())
}

/// The columns an observation is made of.
struct Columns<'a> {
    ts: &'a [i64],
    source_cluster: Strings<'a>,
    service: Strings<'a>,
    upstream_cluster: Strings<'a>,
    dst_cluster: Strings<'a>,
    response_code: &'a Int32Array,
    response_flags: Strings<'a>,
    /// Per row: not `inbound` (a null direction counts as not inbound).
    not_inbound: ValueTest<'a, bool>,
    served: ValueTest<'a, Served>,
    failed_flags: ValueTest<'a, bool>,
}

/// Where a row's `locality` says it was served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Served {
    Local,
    CrossCluster,
    Elsewhere,
}

impl<'a> Columns<'a> {
    fn of(batch: &'a RecordBatch) -> Result<Columns<'a>, ArrowError> {
        let column = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| {
                ArrowError::SchemaError(format!("the requests batch has no column {name}"))
            })
        };
        let strings = |name: &str| Strings::of(name, column(name)?.as_ref());
        let ts = column("ts")?;
        let ts = ts.as_primitive_opt::<TimestampMicrosecondType>().ok_or_else(|| {
            ArrowError::SchemaError(format!("column ts is {}, not a timestamp", ts.data_type()))
        })?;
        let response_code = column("response_code")?;
        let response_code = response_code.as_primitive_opt::<Int32Type>().ok_or_else(|| {
            let found = response_code.data_type();
            ArrowError::SchemaError(format!("column response_code is {found}, not Int32"))
        })?;
        Ok(Columns {
            ts: ts.values(),
            source_cluster: strings("source_cluster")?,
            service: strings("service")?,
            upstream_cluster: strings("upstream_cluster")?,
            dst_cluster: strings("dst_cluster")?,
            response_code,
            response_flags: strings("response_flags")?,
            not_inbound: ValueTest::new(strings("direction")?, not_inbound),
            served: ValueTest::new(strings("locality")?, served),
            failed_flags: ValueTest::new(strings("response_flags")?, failed_flags),
        })
    }

    /// What the detector sees of `row`; `None` for a request to no named service or
    /// an inbound one.
    #[inline]
    fn observation(&self, row: usize) -> Option<Observation<'a>> {
        let service = self.service.value(row)?;
        if !self.not_inbound.holds(row) {
            return None;
        }
        let destination = match self.served.holds(row) {
            Served::Local => Destination::Local,
            Served::CrossCluster => Destination::Remote(self.dst_cluster.value(row)),
            Served::Elsewhere => Destination::Elsewhere,
        };
        Some(Observation {
            ts_micros: *self.ts.get(row)?,
            source_cluster: self.source_cluster.value(row).unwrap_or(""),
            service,
            upstream_cluster: self.upstream_cluster.value(row),
            destination,
            failure: self.failure(row),
        })
    }

    #[inline]
    fn failure(&self, row: usize) -> Option<Failure<'a>> {
        let code = self.response_code.is_valid(row).then(|| self.response_code.value(row));
        let server_error = code.is_some_and(|code| code >= 500);
        if !(server_error || self.failed_flags.holds(row)) {
            return None;
        }
        Some(Failure { code: code.unwrap_or(0), flags: self.response_flags.value(row) })
    }
}

fn not_inbound(direction: Option<&str>) -> bool {
    direction != Some(Direction::Inbound.as_str())
}

fn served(locality: Option<&str>) -> Served {
    match locality.and_then(Locality::from_column) {
        Some(Locality::Local) => Served::Local,
        Some(Locality::CrossCluster) => Served::CrossCluster,
        _ => Served::Elsewhere,
    }
}

/// No healthy upstream, an upstream connection failure, or retries exhausted.
fn failed_flags(flags: Option<&str>) -> bool {
    let failed = ResponseFlags::NO_HEALTHY_UPSTREAM
        .union(ResponseFlags::UPSTREAM_CONNECTION_FAILURE)
        .union(ResponseFlags::UPSTREAM_RETRY_LIMIT_EXCEEDED);
    flags.map(ResponseFlags::parse).unwrap_or_default().intersects(failed)
}

/// A string column as the builders make it: a dictionary, or plain strings once a
/// dictionary grew too large.
pub(crate) enum Strings<'a> {
    Plain(&'a StringArray),
    Dictionary(&'a DictionaryArray<UInt32Type>, &'a StringArray),
}

impl<'a> Strings<'a> {
    pub(crate) fn of(name: &str, array: &'a dyn Array) -> Result<Strings<'a>, ArrowError> {
        if let Some(plain) = array.as_string_opt::<i32>() {
            return Ok(Strings::Plain(plain));
        }
        let dictionary = array.as_dictionary_opt::<UInt32Type>();
        match dictionary.and_then(|keys| Some((keys, keys.values().as_string_opt::<i32>()?))) {
            Some((keys, values)) => Ok(Strings::Dictionary(keys, values)),
            None => Err(ArrowError::SchemaError(format!(
                "column {name} is {}, not strings",
                array.data_type()
            ))),
        }
    }

    #[inline]
    pub(crate) fn value(&self, row: usize) -> Option<&'a str> {
        match self {
            Strings::Plain(strings) => strings.is_valid(row).then(|| strings.value(row)),
            Strings::Dictionary(keys, values) => {
                let key = keys.is_valid(row).then(|| keys.keys().value(row))?;
                let key = usize::try_from(key).ok()?;
                values.is_valid(key).then(|| values.value(key))
            }
        }
    }
}

/// A question about the value of a string column, answered per row: worked out once
/// per dictionary value, or per row for plain strings.
struct ValueTest<'a, T> {
    strings: Strings<'a>,
    /// For a dictionary: the answer for each value, then (last) for a null.
    by_key: Vec<T>,
    test: fn(Option<&str>) -> T,
}

impl<'a, T: Copy> ValueTest<'a, T> {
    fn new(strings: Strings<'a>, test: fn(Option<&str>) -> T) -> ValueTest<'a, T> {
        let by_key = match &strings {
            Strings::Plain(_) => Vec::new(),
            Strings::Dictionary(_, values) => {
                let answers = (0..values.len())
                    .map(|key| test(values.is_valid(key).then(|| values.value(key))));
                answers.chain([test(None)]).collect()
            }
        };
        ValueTest { strings, by_key, test }
    }

    #[inline]
    fn holds(&self, row: usize) -> T {
        match &self.strings {
            Strings::Plain(_) => (self.test)(self.strings.value(row)),
            Strings::Dictionary(keys, _) => {
                let null = self.by_key.len().saturating_sub(1);
                let key = keys.is_valid(row).then(|| keys.keys().value(row));
                let index = key.and_then(|key| usize::try_from(key).ok()).unwrap_or(null);
                match self.by_key.get(index) {
                    Some(answer) => *answer,
                    None => (self.test)(None),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
