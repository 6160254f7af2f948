//! PostgreSQL `DataRow`s in the text format straight from Arrow columns, for the
//! column types dashboards answer: strings, integers, floats, booleans and
//! timestamps in UTC or without a zone. arrow-pg's row encoder looks up each
//! value's type, reads its field's metadata, parses the column's time zone and
//! builds a strftime format for every value; here each column is resolved once
//! per batch and a timestamp is written digit by digit. The bytes are arrow-pg's
//! (values go through the same `ToSqlText` impls; timestamps are checked against
//! arrow-pg by the tests below). A batch with any other type or a binary-format
//! column is left to arrow-pg: [`text_rows`] answers `None`.

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, Timelike};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float32Array, Float64Array, Int8Array, Int16Array,
    Int32Array, Int64Array, RecordBatch, StringArray, StringViewArray,
};
use datafusion::arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
};
use datafusion_postgres::pgwire::api::Type;
use datafusion_postgres::pgwire::api::results::{FieldFormat, FieldInfo};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::data::DataRow;
use datafusion_postgres::pgwire::types::ToSqlText;
use datafusion_postgres::pgwire::types::format::FormatOptions;
use datafusion_postgres::pgwire::types::format::date_style::DateStyle;

/// The strftime format arrow-pg (through pgwire) writes timestamps with when the
/// session's `DateStyle` is ISO, the only style [`text_rows`] writes itself.
const ISO_TIMESTAMP: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// How one column's values become text.
enum TextColumn {
    Utf8(StringArray),
    Utf8View(StringViewArray),
    Boolean(BooleanArray),
    Int8(Int8Array),
    Int16(Int16Array),
    Int32(Int32Array),
    Int64(Int64Array),
    Float32(Float32Array),
    Float64(Float64Array),
    /// Values in `unit` since the epoch; `utc` writes the `+00` of a `timestamptz`.
    Timestamp {
        values: ArrayRef,
        unit: TimeUnit,
        utc: bool,
    },
}

impl TextColumn {
    /// How `array` is written in `field`, if this module writes it.
    fn of(array: &ArrayRef, field: &FieldInfo) -> Option<TextColumn> {
        if field.format() != FieldFormat::Text {
            return None;
        }
        let column = match array.data_type() {
            DataType::Utf8 => TextColumn::Utf8(array.as_string::<i32>().clone()),
            DataType::Utf8View => TextColumn::Utf8View(array.as_string_view().clone()),
            DataType::Boolean => TextColumn::Boolean(array.as_boolean().clone()),
            DataType::Int8 => TextColumn::Int8(array.as_primitive::<Int8Type>().clone()),
            DataType::Int16 => TextColumn::Int16(array.as_primitive::<Int16Type>().clone()),
            DataType::Int32 => TextColumn::Int32(array.as_primitive::<Int32Type>().clone()),
            DataType::Int64 => TextColumn::Int64(array.as_primitive::<Int64Type>().clone()),
            DataType::Float32 => TextColumn::Float32(array.as_primitive::<Float32Type>().clone()),
            DataType::Float64 => TextColumn::Float64(array.as_primitive::<Float64Type>().clone()),
            DataType::Timestamp(unit, zone) => {
                let utc = match zone.as_deref() {
                    None => false,
                    Some("UTC" | "+00:00") => true,
                    Some(_) => return None,
                };
                let style = DateStyle::new(&field.format_options().date_style);
                if style.full_format_str() != ISO_TIMESTAMP {
                    return None;
                }
                TextColumn::Timestamp { values: array.clone(), unit: *unit, utc }
            }
            _ => return None,
        };
        Some(column)
    }

    /// Writes row `row`'s value, not null, as text.
    fn write(&self, row: usize, field: &FieldInfo, out: &mut BytesMut) -> PgWireResult<()> {
        let (ty, options) = (field.datatype(), field.format_options().as_ref());
        match self {
            TextColumn::Utf8(array) => put(&array.value(row), ty, out, options),
            TextColumn::Utf8View(array) => put(&array.value(row), ty, out, options),
            TextColumn::Boolean(array) => put(&array.value(row), ty, out, options),
            TextColumn::Int8(array) => put(&array.value(row), ty, out, options),
            TextColumn::Int16(array) => put(&array.value(row), ty, out, options),
            TextColumn::Int32(array) => put(&array.value(row), ty, out, options),
            TextColumn::Int64(array) => put(&array.value(row), ty, out, options),
            TextColumn::Float32(array) => put(&array.value(row), ty, out, options),
            TextColumn::Float64(array) => put(&array.value(row), ty, out, options),
            TextColumn::Timestamp { values, unit, utc } => {
                write_timestamp(values, row, *unit, *utc, field, out)
            }
        }
    }
}

/// Writes `value` with pgwire's text encoding, as arrow-pg does.
fn put<T: ToSqlText>(
    value: &T,
    ty: &Type,
    out: &mut BytesMut,
    options: &FormatOptions,
) -> PgWireResult<()> {
    value.to_sql_text(ty, out, options).map(|_| ()).map_err(PgWireError::ApiError)
}

/// Writes a timestamp as `YYYY-MM-DD HH:MM:SS.ffffff`, with `+00` in UTC: the
/// text of pgwire's ISO format, written without parsing a format per value.
fn write_timestamp(
    values: &ArrayRef,
    row: usize,
    unit: TimeUnit,
    utc: bool,
    field: &FieldInfo,
    out: &mut BytesMut,
) -> PgWireResult<()> {
    let value = timestamp_value(values, row, unit);
    let Some(time) = value.and_then(|(seconds, nanos)| DateTime::from_timestamp(seconds, nanos))
    else {
        return Err(PgWireError::ApiError("a timestamp out of range".into()));
    };
    let time = time.naive_utc();
    if !(0..=9999).contains(&time.year()) {
        return write_timestamp_by_format(time, utc, field, out);
    }
    let mut text = *b"0000-00-00 00:00:00.000000";
    let parts = [
        (0, 4, time.year() as u32),
        (5, 2, time.month()),
        (8, 2, time.day()),
        (11, 2, time.hour()),
        (14, 2, time.minute()),
        (17, 2, time.second()),
        (20, 6, time.nanosecond() / 1000),
    ];
    for (at, width, value) in parts {
        let mut rest = value;
        for slot in text[at..at + width].iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
    }
    out.put_slice(&text);
    if utc {
        out.put_slice(b"+00");
    }
    Ok(())
}

/// Years outside 0–9999, through pgwire's formatting (chrono writes their sign).
fn write_timestamp_by_format(
    time: NaiveDateTime,
    utc: bool,
    field: &FieldInfo,
    out: &mut BytesMut,
) -> PgWireResult<()> {
    let (ty, options) = (field.datatype(), field.format_options().as_ref());
    if utc {
        let offset = FixedOffset::east_opt(0).expect("a zero offset");
        put(&time.and_utc().with_timezone(&offset), ty, out, options)
    } else {
        put(&time, ty, out, options)
    }
}

/// Whole seconds and nanoseconds since the epoch of a value in `unit`.
fn timestamp_value(values: &ArrayRef, row: usize, unit: TimeUnit) -> Option<(i64, u32)> {
    use datafusion::arrow::datatypes::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    let (value, per_second) = match unit {
        TimeUnit::Second => (values.as_primitive::<TimestampSecondType>().value(row), 1),
        TimeUnit::Millisecond => {
            (values.as_primitive::<TimestampMillisecondType>().value(row), 1_000)
        }
        TimeUnit::Microsecond => {
            (values.as_primitive::<TimestampMicrosecondType>().value(row), 1_000_000)
        }
        TimeUnit::Nanosecond => {
            (values.as_primitive::<TimestampNanosecondType>().value(row), 1_000_000_000)
        }
    };
    let nanos_per_unit = 1_000_000_000 / per_second;
    let nanos = value.rem_euclid(per_second) * nanos_per_unit;
    Some((value.div_euclid(per_second), u32::try_from(nanos).ok()?))
}

/// Every row of `batch` in the text format, or `None` when a column is of a type
/// or format this module leaves to arrow-pg.
pub fn text_rows(
    fields: &Arc<Vec<FieldInfo>>,
    batch: &RecordBatch,
) -> Option<Vec<PgWireResult<DataRow>>> {
    if fields.len() != batch.num_columns() {
        return None;
    }
    let columns: Vec<TextColumn> = batch
        .columns()
        .iter()
        .zip(fields.iter())
        .map(|(array, field)| TextColumn::of(array, field))
        .collect::<Option<_>>()?;
    let field_count = i16::try_from(columns.len()).ok()?;
    let mut buffer = BytesMut::with_capacity(batch.num_rows() * (8 + 16 * columns.len()));
    let rows = (0..batch.num_rows())
        .map(|row| {
            for ((column, field), array) in columns.iter().zip(fields.iter()).zip(batch.columns()) {
                write_cell(column, array.as_ref(), row, field, &mut buffer)?;
            }
            Ok(DataRow::new(buffer.split(), field_count))
        })
        .collect();
    Some(rows)
}

/// One cell: its length (-1 for NULL), then its text.
fn write_cell(
    column: &TextColumn,
    array: &dyn Array,
    row: usize,
    field: &FieldInfo,
    out: &mut BytesMut,
) -> PgWireResult<()> {
    if array.is_null(row) {
        out.put_i32(-1);
        return Ok(());
    }
    let length_at = out.len();
    out.put_i32(0);
    column.write(row, field, out)?;
    let length = i32::try_from(out.len() - length_at - 4)
        .map_err(|_| PgWireError::ApiError("a value longer than 2 GiB".into()))?;
    out[length_at..length_at + 4].copy_from_slice(&length.to_be_bytes());
    Ok(())
}

#[cfg(test)]
#[path = "text_rows_tests.rs"]
mod tests;
