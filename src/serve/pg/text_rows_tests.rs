//! [`text_rows`] writes the bytes arrow-pg writes, for every type it takes on, with
//! NULLs, extreme and fractional timestamps, and any `DateStyle` and float digits;
//! and leaves to arrow-pg what it does not take on.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array,
    Int64Array, RecordBatch, StringArray, StringViewArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion_postgres::pgwire::api::portal::Format;
use datafusion_postgres::pgwire::api::results::FieldInfo;
use datafusion_postgres::pgwire::messages::data::DataRow;
use datafusion_postgres::pgwire::types::format::FormatOptions;
use proptest::prelude::*;

use super::text_rows;

fn batch_of(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, array)| array).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("a batch")
}

fn fields_of(batch: &RecordBatch, format: &Format, options: FormatOptions) -> Arc<Vec<FieldInfo>> {
    let fields = arrow_schema_to_pg_fields(&batch.schema(), format, Some(Arc::new(options)));
    Arc::new(fields.expect("pg fields"))
}

fn arrow_pg_rows(fields: &Arc<Vec<FieldInfo>>, batch: &RecordBatch) -> Vec<DataRow> {
    let rows = encode_recordbatch(fields.clone(), batch.clone());
    rows.map(|row| row.expect("arrow-pg encodes the row")).collect()
}

fn our_rows(fields: &Arc<Vec<FieldInfo>>, batch: &RecordBatch) -> Vec<DataRow> {
    let rows = text_rows(fields, batch).expect("text_rows takes the batch on");
    rows.into_iter().map(|row| row.expect("text_rows encodes the row")).collect()
}

fn options(date_style: &str, extra_float_digits: i8) -> FormatOptions {
    let mut options = FormatOptions::default();
    options.date_style = date_style.to_string();
    options.extra_float_digits = extra_float_digits;
    options
}

/// Microseconds between year -2000 and 12000, where arrow-pg writes every value.
const MICROS: std::ops::Range<i64> = -125_000_000_000_000_000..316_000_000_000_000_000;

fn timestamps() -> impl Strategy<Value = Vec<Option<i64>>> {
    let value = prop_oneof![
        MICROS,
        // 2026, where the data is, in whole minutes
        (29_000_000..29_500_000i64).prop_map(|minute| minute * 60_000_000),
        -2_000_000i64..2_000_000,
    ];
    proptest::collection::vec(proptest::option::of(value), 0..40)
}

fn equal_for_every_unit(micros: &[Option<i64>], zone: Option<&str>, date_style: &str) {
    let zone: Option<Arc<str>> = zone.map(Arc::from);
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "s",
            Arc::new(
                TimestampSecondArray::from(
                    micros.iter().map(|v| v.map(|v| v / 1_000_000)).collect::<Vec<_>>(),
                )
                .with_timezone_opt(zone.clone()),
            ),
        ),
        (
            "ms",
            Arc::new(
                TimestampMillisecondArray::from(
                    micros.iter().map(|v| v.map(|v| v / 1_000)).collect::<Vec<_>>(),
                )
                .with_timezone_opt(zone.clone()),
            ),
        ),
        (
            "us",
            Arc::new(
                TimestampMicrosecondArray::from(micros.to_vec()).with_timezone_opt(zone.clone()),
            ),
        ),
        (
            "ns",
            Arc::new(
                TimestampNanosecondArray::from(
                    micros
                        .iter()
                        .map(|v| v.and_then(|v| v.checked_mul(1_000).map(|ns| ns + 7)))
                        .collect::<Vec<_>>(),
                )
                .with_timezone_opt(zone),
            ),
        ),
    ];
    let batch = batch_of(columns);
    let fields = fields_of(&batch, &Format::UnifiedText, options(date_style, 1));
    assert_eq!(our_rows(&fields, &batch), arrow_pg_rows(&fields, &batch));
}

proptest! {
    #[test]
    fn utc_timestamps_are_written_as_arrow_pg_writes_them(micros in timestamps()) {
        equal_for_every_unit(&micros, Some("UTC"), "ISO, MDY");
    }

    #[test]
    fn timestamps_without_a_zone_are_written_as_arrow_pg_writes_them(micros in timestamps()) {
        equal_for_every_unit(&micros, None, "ISO");
    }

    #[test]
    fn numbers_strings_and_booleans_are_written_as_arrow_pg_writes_them(
        rows in proptest::collection::vec(
            (any::<Option<i64>>(), any::<Option<i32>>(), any::<Option<f64>>(), any::<Option<f32>>(),
             proptest::option::of("[a-z →'\"{},\\\\]{0,12}"), any::<Option<bool>>(),
             any::<Option<i8>>(), any::<Option<i16>>()),
            0..30),
        extra_float_digits in -15i8..=3,
    ) {
        let strings: Vec<Option<String>> = rows.iter().map(|r| r.4.clone()).collect();
        let batch = batch_of(vec![
            ("i64", Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>()))),
            ("i32", Arc::new(Int32Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>()))),
            ("f64", Arc::new(Float64Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>()))),
            ("f32", Arc::new(Float32Array::from(rows.iter().map(|r| r.3).collect::<Vec<_>>()))),
            ("utf8", Arc::new(StringArray::from(strings.clone()))),
            ("view", Arc::new(StringViewArray::from(strings))),
            ("bool", Arc::new(BooleanArray::from(rows.iter().map(|r| r.5).collect::<Vec<_>>()))),
            ("i8", Arc::new(Int8Array::from(rows.iter().map(|r| r.6).collect::<Vec<_>>()))),
            ("i16", Arc::new(Int16Array::from(rows.iter().map(|r| r.7).collect::<Vec<_>>()))),
        ]);
        let fields = fields_of(&batch, &Format::UnifiedText, options("ISO, YMD", extra_float_digits));
        prop_assert_eq!(our_rows(&fields, &batch), arrow_pg_rows(&fields, &batch));
    }
}

#[test]
fn special_floats_are_written_as_arrow_pg_writes_them() {
    let values = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1e300, 5e-324, 0.1 + 0.2];
    let batch = batch_of(vec![("f", Arc::new(Float64Array::from(values.to_vec())))]);
    for digits in [-15, 0, 1, 3] {
        let fields = fields_of(&batch, &Format::UnifiedText, options("ISO", digits));
        assert_eq!(our_rows(&fields, &batch), arrow_pg_rows(&fields, &batch));
    }
}

#[test]
fn what_it_does_not_write_is_left_to_arrow_pg() {
    let utc = batch_of(vec![(
        "ts",
        Arc::new(TimestampMicrosecondArray::from(vec![Some(0)]).with_timezone("UTC")),
    )]);
    let binary = fields_of(&utc, &Format::UnifiedBinary, options("ISO", 1));
    assert!(text_rows(&binary, &utc).is_none(), "binary format");
    let german = fields_of(&utc, &Format::UnifiedText, options("German", 1));
    assert!(text_rows(&german, &utc).is_none(), "a DateStyle other than ISO");
    let paris = batch_of(vec![(
        "ts",
        Arc::new(TimestampMicrosecondArray::from(vec![Some(0)]).with_timezone("Europe/Paris")),
    )]);
    let fields = fields_of(&paris, &Format::UnifiedText, options("ISO", 1));
    assert!(text_rows(&fields, &paris).is_none(), "a zone other than UTC");
    let unsigned = batch_of(vec![(
        "u64",
        Arc::new(datafusion::arrow::array::UInt64Array::from(vec![Some(u64::MAX)])),
    )]);
    let fields = fields_of(&unsigned, &Format::UnifiedText, options("ISO", 1));
    assert!(text_rows(&fields, &unsigned).is_none(), "a type it does not write");
}

#[test]
fn a_panel_answer_of_many_rows_is_written_as_arrow_pg_writes_it() {
    let rows = 10_000i64;
    let batch = batch_of(vec![
        (
            "time",
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    (0..rows).map(|n| 1_793_491_200_000_000 + n * 600_000_000),
                )
                .with_timezone("UTC"),
            ),
        ),
        (
            "metric",
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|n| format!("10.0.{}.{}:8080 (cluster{})", n % 7, n % 250, n % 3)),
            )),
        ),
        ("requests", Arc::new(Int64Array::from_iter_values((0..rows).map(|n| n * 37 % 1000)))),
        ("ratio", Arc::new(Float64Array::from_iter_values((0..rows).map(|n| n as f64 / 7.0)))),
    ]);
    let fields = fields_of(&batch, &Format::UnifiedText, FormatOptions::default());
    assert_eq!(our_rows(&fields, &batch), arrow_pg_rows(&fields, &batch));
}
