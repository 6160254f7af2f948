//! A string column builder that appends runs of nulls at once. Many columns of an
//! access log are mostly `-` (response flags, failure reasons, termination details,
//! a subset): a null appended one at a time costs a validity bit and an offset each,
//! through calls arrow does not inline, and was 2 % of an ingest's CPU.
//! Here a null is only counted, and a run of them is appended with the next value.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringBuilder};

/// Builds one `Utf8` column.
#[derive(Default)]
pub struct TextColumn {
    builder: StringBuilder,
    /// Nulls appended since the last value, not yet in `builder`.
    pending_nulls: usize,
}

impl TextColumn {
    /// Appends a value, or a null for `None`.
    #[inline]
    pub fn append_option(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.append_value(value),
            None => self.pending_nulls += 1,
        }
    }

    /// Appends a value, after the nulls counted before it.
    #[inline]
    pub fn append_value(&mut self, value: &str) {
        if self.pending_nulls > 0 {
            self.builder.append_nulls(self.pending_nulls);
            self.pending_nulls = 0;
        }
        self.builder.append_value(value);
    }

    /// The column of the values appended so far; the builder starts again, with room
    /// for as many rows and bytes.
    pub fn finish(&mut self) -> ArrayRef {
        self.builder.append_nulls(std::mem::take(&mut self.pending_nulls));
        let array = self.builder.finish();
        self.builder = StringBuilder::with_capacity(array.len(), array.value_data().len());
        Arc::new(array)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::StringArray;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the mix of values and nulls, the column holds them in order, and a
        /// second batch does not see the first.
        #[test]
        fn values_and_nulls_come_out_in_order(
            batches in proptest::collection::vec(
                proptest::collection::vec(proptest::option::of("[a-z-]{0,6}"), 0..40), 1..4)
        ) {
            let mut column = TextColumn::default();
            for values in batches {
                for value in &values {
                    column.append_option(value.as_deref());
                }
                let built = column.finish();
                let expected: StringArray = values.iter().map(Option::as_deref).collect();
                prop_assert_eq!(built.as_any().downcast_ref::<StringArray>().unwrap(), &expected);
            }
        }
    }
}
