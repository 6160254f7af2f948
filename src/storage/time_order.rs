//! Putting a table's rows in time order (column 0) before they are written: a
//! stable sort, so rows of the same time (the same millisecond, often) keep the
//! order they arrived in; rows already in order are kept as they are, without a
//! copy. The rows may come in several parts (the batches `meshlog serve` holds in
//! memory): they are joined and sorted one column at a time, so that besides the
//! parts and the result only the columns under way are held, never a joined copy of
//! every column.
//!
//! Copying runs of consecutive rows instead of gathering row by row was measured
//! and dropped: a log of several proxies (`kubectl logs -l … --prefix`, or several
//! files read together) sorts into runs of one or two rows, and on a single proxy's
//! nearly ordered log arrow's `MutableArrayData` saved only 2 % of the committer.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, TimestampMicrosecondArray, UInt32Array};
use arrow::compute::{cast, concat, take};
use arrow::datatypes::{DataType, Field};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::parallel::map_in_parallel;
use super::schema::with_column_types;

/// The rows of `parts` (batches of one table, with the same columns) as one batch
/// in time order (column 0); rows of the same time keep the parts' order. Each
/// column is joined from the parts, passed through `prepare` (the stager turns
/// strings into dictionaries there, so the sort moves keys, not strings) and
/// gathered into order, on up to `threads` threads.
pub fn merge_by_time(
    parts: &[RecordBatch],
    threads: usize,
    prepare: impl Fn(&Field, ArrayRef) -> ArrayRef + Sync,
) -> Result<RecordBatch, ArrowError> {
    let Some(first) = parts.first() else {
        return Err(ArrowError::InvalidArgumentError("no rows to sort".into()));
    };
    let times: Cow<'_, [i64]> = match parts {
        [one] => Cow::Borrowed(time_column(one).values()),
        _ => Cow::Owned(
            parts.iter().flat_map(|part| time_column(part).values().iter()).copied().collect(),
        ),
    };
    let order = match times.is_sorted() {
        true => None,
        false => {
            let row_count = u32::try_from(times.len()).map_err(|_| {
                ArrowError::InvalidArgumentError(format!(
                    "{} rows are too many to sort",
                    times.len()
                ))
            })?;
            Some(UInt32Array::from(time_order(&times, row_count)))
        }
    };
    drop(times);
    let schema = first.schema();
    let fields: Vec<(usize, &Field)> =
        schema.fields().iter().map(AsRef::as_ref).enumerate().collect();
    let columns = map_in_parallel(fields, threads, |(index, field)| {
        let column = prepare(field, joined(parts, index)?);
        match &order {
            Some(order) => take(column.as_ref(), order, None),
            None => Ok(column),
        }
    });
    let columns = columns.into_iter().collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(with_column_types(&schema, &columns), columns)
}

/// Column `index` of every part, end to end. A string column that one part holds
/// as a dictionary and another as plain strings is joined as plain strings.
fn joined(parts: &[RecordBatch], index: usize) -> Result<ArrayRef, ArrowError> {
    let columns: Vec<&ArrayRef> = parts.iter().map(|part| part.column(index)).collect();
    let first_type = columns[0].data_type();
    if let [one] = columns[..] {
        return Ok(one.clone());
    }
    if columns.iter().all(|column| column.data_type() == first_type) {
        return concat(&columns.iter().map(|column| column.as_ref()).collect::<Vec<_>>());
    }
    let plain = columns
        .iter()
        .map(|column| match column.data_type() {
            DataType::Dictionary(_, values) => cast(column, values),
            _ => Ok(Arc::clone(column)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    concat(&plain.iter().map(|column| column.as_ref()).collect::<Vec<_>>())
}

/// Bits of the time key sorted per pass: 2 048 buckets, whose counts stay in L1.
const RADIX_BITS: u32 = 11;

/// The row numbers of `times` in stable time order: a least-significant-digit radix
/// sort of each row's time since the earliest row, [`RADIX_BITS`] at a time (three
/// passes for a batch spanning up to 2.4 hours). Comparison sorting was the larger
/// cost on logs whose neighbouring lines are often out of order (several proxies,
/// a gateway's pods): 282 against 113 instructions per row, measured on 64 Ki-row
/// batches of a realistic gateway log.
fn time_order(times: &[i64], row_count: u32) -> Vec<u32> {
    let earliest = times.iter().copied().min().unwrap_or(0);
    // The unsigned distance from the earliest time: exact whatever the times' span.
    let keys: Vec<u64> = times.iter().map(|&time| time.wrapping_sub(earliest) as u64).collect();
    let span = keys.iter().copied().max().unwrap_or(0);
    let passes = (u64::BITS - span.leading_zeros()).div_ceil(RADIX_BITS);
    let mut order: Vec<u32> = (0..row_count).collect();
    let mut scattered = vec![0u32; order.len()];
    for pass in 0..passes {
        let digit = |row: u32| ((keys[row as usize] >> (pass * RADIX_BITS)) & 0x7ff) as usize;
        let mut starts = [0usize; 1 << RADIX_BITS];
        for &row in &order {
            starts[digit(row)] += 1;
        }
        let mut next = 0;
        for start in &mut starts {
            (*start, next) = (next, next + *start);
        }
        for &row in &order {
            let bucket = &mut starts[digit(row)];
            scattered[*bucket] = row;
            *bucket += 1;
        }
        std::mem::swap(&mut order, &mut scattered);
    }
    order
}

/// The time column; an empty one if column 0 is not a microsecond timestamp.
pub fn time_column(batch: &RecordBatch) -> &TimestampMicrosecondArray {
    static EMPTY: std::sync::LazyLock<TimestampMicrosecondArray> =
        std::sync::LazyLock::new(|| TimestampMicrosecondArray::from(Vec::<i64>::new()));
    batch.column(0).as_any().downcast_ref().unwrap_or(&EMPTY)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use arrow::array::{AsArray, DictionaryArray, Int32Array, StringArray};
    use arrow::datatypes::UInt32Type;
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use proptest::prelude::*;

    use super::*;

    fn sort_by_time(rows: &RecordBatch, threads: usize) -> Result<RecordBatch, ArrowError> {
        merge_by_time(std::slice::from_ref(rows), threads, |_, column| column)
    }

    /// A batch of `times` with each row's number and a string column with nulls.
    fn batch(times: &[i64]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), false),
            Field::new("n", DataType::Int32, false),
            Field::new("s", DataType::Utf8, true),
        ]);
        let order = (0..i32::try_from(times.len()).unwrap()).collect::<Vec<_>>();
        let strings = order.iter().map(|n| (n % 3 != 0).then(|| "x".repeat(*n as usize % 7)));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from(times.to_vec())),
            Arc::new(Int32Array::from(order.clone())),
            Arc::new(strings.collect::<StringArray>()),
        ];
        RecordBatch::try_new(Arc::new(schema), columns).unwrap()
    }

    fn order(batch: &RecordBatch) -> Vec<i32> {
        let column = batch.column(1).as_any().downcast_ref::<Int32Array>().unwrap();
        column.values().to_vec()
    }

    #[test]
    fn rows_out_of_order_are_sorted_by_time_and_ties_keep_their_order() {
        let sorted = sort_by_time(&batch(&[30, 10, 20, 10]), 1).unwrap();
        assert_eq!(time_column(&sorted).values().to_vec(), [10, 10, 20, 30]);
        assert_eq!(order(&sorted), [1, 3, 2, 0]);
    }

    #[test]
    fn the_radix_order_is_the_stable_comparison_order_over_any_span() {
        let times = [5, i64::MIN, 3, i64::MAX, 3, -7, 5, 0, i64::MIN, 1 << 40];
        let mut expected: Vec<u32> = (0..times.len() as u32).collect();
        expected.sort_by_key(|row| times[*row as usize]);
        assert_eq!(time_order(&times, times.len() as u32), expected);
    }

    #[test]
    fn rows_already_in_order_are_kept_without_a_copy() {
        let rows = batch(&[10, 10, 20, 30]);
        let sorted = sort_by_time(&rows, 2).unwrap();
        assert!(Arc::ptr_eq(sorted.column(1), rows.column(1)));
    }

    #[test]
    fn parts_merge_into_the_order_of_their_rows_joined() {
        let rows = batch(&[30, 10, 20, 10, 5, 30, 20]);
        let parts = [rows.slice(0, 3), rows.slice(3, 0), rows.slice(3, 4)];
        let merged = merge_by_time(&parts, 1, |_, column| column).unwrap();
        assert_eq!(merged, sort_by_time(&rows, 1).unwrap());
        assert_eq!(order(&merged), [4, 1, 3, 2, 6, 0, 5]);
    }

    #[test]
    fn each_joined_column_passes_through_prepare_before_the_sort() {
        let rows = batch(&[20, 10]);
        let parts = [rows.slice(0, 1), rows.slice(1, 1)];
        let to_dictionary = |field: &Field, column: ArrayRef| match field.name().as_str() {
            "s" => arrow::compute::cast(
                &column,
                &DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8)),
            )
            .unwrap(),
            _ => column,
        };
        let merged = merge_by_time(&parts, 2, to_dictionary).unwrap();
        let strings = merged.column(2).as_dictionary::<UInt32Type>();
        let values = strings.downcast_dict::<StringArray>().unwrap();
        assert_eq!(values.into_iter().collect::<Vec<_>>(), [Some("x"), None]);
        assert_eq!(merged.schema().field(2).data_type(), merged.column(2).data_type());
    }

    /// A part whose dictionary column outgrew its dictionary holds plain strings.
    #[test]
    fn a_column_held_as_a_dictionary_in_one_part_and_plain_in_another_joins_as_plain() {
        let plain = batch(&[20, 10]);
        let keys = UInt32Array::from(vec![0, 0]);
        let values = Arc::new(StringArray::from(vec!["dict"]));
        let dictionary: ArrayRef = Arc::new(DictionaryArray::new(keys, values));
        let mut columns = plain.columns().to_vec();
        columns[2] = dictionary;
        let typed = with_column_types(&plain.schema(), &columns);
        let dictionary_part = RecordBatch::try_new(typed, columns).unwrap();
        let merged = merge_by_time(&[plain, dictionary_part], 1, |_, column| column).unwrap();
        let strings = merged.column(2).as_string::<i32>();
        assert_eq!(
            strings.into_iter().collect::<Vec<_>>(),
            [Some("x"), Some("dict"), None, Some("dict")]
        );
    }

    /// Nearly ordered times, three rows to a time: a few rows stamped earlier than
    /// the rows before them.
    fn nearly_ordered() -> impl Strategy<Value = Vec<i64>> {
        (1usize..400, proptest::collection::vec((0usize..400, 0i64..50), 0..8)).prop_map(
            |(len, late)| {
                let mut times: Vec<i64> = (0..len as i64).map(|n| n / 3 * 10).collect();
                for (row, by) in late {
                    if let Some(time) = times.get_mut(row) {
                        *time -= by * 10 + 5;
                    }
                }
                times
            },
        )
    }

    proptest! {
        /// Every column holds the rows of a stable sort by time, in its order.
        #[test]
        fn every_column_follows_the_time_order(
            times in prop_oneof![nearly_ordered(), proptest::collection::vec(0i64..100, 0..300)],
            threads in 1usize..4,
        ) {
            let rows = batch(&times);
            let sorted = sort_by_time(&rows, threads).unwrap();
            let mut expected: Vec<usize> = (0..times.len()).collect();
            expected.sort_by_key(|row| times[*row]);
            let expected_times: Vec<i64> = expected.iter().map(|row| times[*row]).collect();
            prop_assert_eq!(time_column(&sorted).values().to_vec(), expected_times);
            for row in 0..sorted.num_rows() {
                let original = order(&sorted)[row] as usize;
                prop_assert_eq!(time_column(&sorted).value(row), times[original]);
                let strings = sorted.column(2).as_any().downcast_ref::<StringArray>().unwrap();
                let source = rows.column(2).as_any().downcast_ref::<StringArray>().unwrap();
                prop_assert_eq!(strings.is_null(row), source.is_null(original));
                prop_assert_eq!(strings.value(row), source.value(original));
            }
            let expected_rows: Vec<i32> = expected.iter().map(|row| *row as i32).collect();
            prop_assert_eq!(order(&sorted), expected_rows);
        }
    }
}
