//! A builder for the number and time columns of the `requests` table: a value is
//! pushed onto a vector, and a null costs only its row number. Arrow's
//! `PrimitiveBuilder` spent about 60 instructions a value on the reading thread (a
//! validity bit and capacity checks through calls it does not inline), the thread
//! that bounds ingest; the validity bitmap is made here once, when the column is
//! finished, and only if a row was null.

use std::sync::Arc;

use arrow::array::BooleanBufferBuilder;
use arrow::array::{ArrayRef, PrimitiveArray};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::datatypes::ArrowPrimitiveType;

/// Builds one column of `T`.
pub struct NumberColumn<T: ArrowPrimitiveType> {
    values: Vec<T::Native>,
    /// The rows that are null (their value is the default one).
    null_rows: Vec<u32>,
}

impl<T: ArrowPrimitiveType> Default for NumberColumn<T> {
    fn default() -> Self {
        NumberColumn { values: Vec::new(), null_rows: Vec::new() }
    }
}

impl<T: ArrowPrimitiveType> NumberColumn<T> {
    /// Appends a value.
    #[inline]
    pub fn append_value(&mut self, value: T::Native) {
        self.values.push(value);
    }

    /// Appends a value, or a null for `None`.
    #[inline]
    pub fn append_option(&mut self, value: Option<T::Native>) {
        match value {
            Some(value) => self.values.push(value),
            None => self.append_null(),
        }
    }

    /// Appends a null.
    #[inline]
    pub fn append_null(&mut self) {
        self.null_rows.push(self.values.len() as u32);
        self.values.push(T::Native::default());
    }

    /// The column of the values appended so far; the builder starts again, with room
    /// for as many rows.
    pub fn finish(&mut self) -> PrimitiveArray<T> {
        let rows = self.values.len();
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(rows));
        let null_rows = std::mem::take(&mut self.null_rows);
        let nulls = (!null_rows.is_empty()).then(|| {
            let mut valid = BooleanBufferBuilder::new(rows);
            valid.append_n(rows, true);
            for row in null_rows {
                valid.set_bit(row as usize, false);
            }
            NullBuffer::new(valid.finish())
        });
        PrimitiveArray::new(ScalarBuffer::from(values), nulls)
    }

    /// [`Self::finish`], as an array reference.
    pub fn finish_array(&mut self) -> ArrayRef {
        Arc::new(self.finish())
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Int64Array;
    use arrow::datatypes::Int64Type;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the mix of values and nulls, the column holds them in order, and a
        /// second batch does not see the first.
        #[test]
        fn values_and_nulls_come_out_in_order(
            batches in proptest::collection::vec(
                proptest::collection::vec(proptest::option::of(any::<i64>()), 0..60), 1..4)
        ) {
            let mut column = NumberColumn::<Int64Type>::default();
            for values in batches {
                for value in &values {
                    column.append_option(*value);
                }
                prop_assert_eq!(column.finish(), values.iter().copied().collect::<Int64Array>());
            }
        }
    }
}
