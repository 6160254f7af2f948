//! A string column builder that gives each distinct value a key as it is appended,
//! for the columns of an access log that repeat a few values (method, service,
//! upstream host, response flags…). The batch then holds a `u32` per row instead of
//! a copy of the string: sorting rows by time moves four bytes a row, and the
//! Parquet writer takes the keys as they are ([`crate::storage`]'s dictionary
//! chunks) instead of hashing every value again. A value equal to the one before
//! it (a constant source cluster, a run of `GET`s) skips the hash table.
//!
//! A column whose distinct values outgrow a Parquet dictionary page comes out as
//! plain strings, so the writer falls back as it would for any string column.

use std::hash::Hasher;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, DictionaryArray, StringArray, UInt32Array};
use arrow::buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::UInt32Type;
use hashbrown::HashTable;

use crate::fast_hash::FxHasher;

/// The most bytes of distinct values a batch's dictionary may hold: Parquet's
/// dictionary page limit, past which a writer stores the strings plain.
pub const DICTIONARY_BYTES_LIMIT: usize = 1024 * 1024;

/// Up to this many distinct values, a value is looked for by comparing it with each
/// one (most differ in length) rather than by its hash: quicker for the handful of
/// methods, protocols, directions or localities a column holds.
const LINEAR_SCAN_VALUES: usize = 8;

/// The key [`DictColumn`] keeps for a null row until it finishes.
const NULL_KEY: u32 = u32::MAX;

/// Builds one `Utf8` column as a `Dictionary(UInt32, Utf8)`.
pub struct DictColumn {
    /// The distinct values, in the order first seen, end to end.
    bytes: Vec<u8>,
    /// Where each distinct value is in `bytes`: its start and length.
    spans: Vec<(u32, u32)>,
    /// The keys of the distinct values, by the hash of their bytes.
    table: HashTable<u32>,
    /// A key per row, [`NULL_KEY`] for a null: the validity bitmap is made at
    /// [`DictColumn::finish`], in one pass, rather than a bit per append.
    keys: Vec<u32>,
    /// The last value appended, if any: its key and where it is in `bytes`.
    last: Option<(u32, (u32, u32))>,
}

impl Default for DictColumn {
    fn default() -> Self {
        DictColumn {
            bytes: Vec::new(),
            spans: Vec::new(),
            table: HashTable::new(),
            keys: Vec::new(),
            last: None,
        }
    }
}

fn hash(bytes: &[u8]) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(bytes);
    hasher.finish()
}

/// The bytes at `span` of `bytes`.
#[inline]
fn at(bytes: &[u8], (start, length): (u32, u32)) -> &[u8] {
    &bytes[start as usize..][..length as usize]
}

/// `a == b`, eight bytes at a time, without a call to `memcmp` for the short
/// strings of a log line.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let length = a.len();
    if length != b.len() {
        return false;
    }
    if length < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word =
        |bytes: &[u8], at: usize| bytes[at..].first_chunk::<8>().map(|w| u64::from_le_bytes(*w));
    let mut at = 0;
    while at + 8 < length {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    // The last eight bytes, overlapping the words before if the length is not a
    // multiple of eight.
    word(a, length - 8) == word(b, length - 8)
}

impl DictColumn {
    /// Appends a value, or a null for `None`.
    #[inline]
    pub fn append_option(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.append_value(value),
            None => self.append_null(),
        }
    }

    /// Appends a value.
    #[inline]
    pub fn append_value(&mut self, value: &str) {
        let value = value.as_bytes();
        let key = match self.last {
            Some((key, span)) if same_bytes(at(&self.bytes, span), value) => key,
            _ => self.intern(value),
        };
        self.keys.push(key);
    }

    /// Appends a null.
    #[inline]
    pub fn append_null(&mut self) {
        self.keys.push(NULL_KEY);
    }

    /// The key of `value`, given a new one if it was not seen before; it becomes the
    /// last value.
    fn intern(&mut self, value: &[u8]) -> u32 {
        let (bytes, spans) = (&self.bytes, &self.spans);
        let found = if spans.len() <= LINEAR_SCAN_VALUES {
            let mut keys = 0..;
            spans
                .iter()
                .zip(&mut keys)
                .find(|(span, _)| same_bytes(at(bytes, **span), value))
                .map(|(_, key)| key)
        } else {
            let hash_value = hash(value);
            self.table
                .find(hash_value, |key| same_bytes(at(bytes, spans[*key as usize]), value))
                .copied()
        };
        let key = found.unwrap_or_else(|| self.insert(value));
        self.last = Some((key, self.spans[key as usize]));
        key
    }

    fn insert(&mut self, value: &[u8]) -> u32 {
        let hash_value = hash(value);
        let key = u32::try_from(self.spans.len()).unwrap_or(u32::MAX);
        let start = u32::try_from(self.bytes.len()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(value);
        self.spans.push((start, u32::try_from(value.len()).unwrap_or(u32::MAX)));
        let (bytes, spans) = (&self.bytes, &self.spans);
        self.table.insert_unique(hash_value, key, |key| hash(at(bytes, spans[*key as usize])));
        key
    }

    /// The distinct values passed [`DICTIONARY_BYTES_LIMIT`].
    fn is_full(&self) -> bool {
        self.bytes.len() > DICTIONARY_BYTES_LIMIT
    }

    /// The column of the values appended so far, as a dictionary, or as plain strings
    /// if the distinct values passed [`DICTIONARY_BYTES_LIMIT`]. The builder starts
    /// again, empty, with room for as many rows.
    pub fn finish(&mut self) -> ArrayRef {
        let rows = self.keys.len();
        let mut keys = std::mem::replace(&mut self.keys, Vec::with_capacity(rows));
        let valid: BooleanBuffer = keys.iter().map(|key| *key != NULL_KEY).collect();
        let nulls = Some(NullBuffer::new(valid)).filter(|nulls| nulls.null_count() > 0);
        if nulls.is_some() {
            // Any key will do under a null; 0 keeps them all in the dictionary's range.
            keys.iter_mut().filter(|key| **key == NULL_KEY).for_each(|key| *key = 0);
        }
        let keys = UInt32Array::new(ScalarBuffer::from(keys), nulls);
        let too_many = self.is_full();
        let bytes = std::mem::take(&mut self.bytes);
        // Values are appended end to end, so each one ends where the next starts.
        let offsets = std::iter::once(0)
            .chain(self.spans.iter().map(|(start, length)| (start + length) as i32))
            .collect::<Vec<i32>>();
        self.spans.clear();
        self.table.clear();
        self.last = None;
        // Every value was appended as a whole `&str`.
        let values =
            StringArray::new(OffsetBuffer::new(ScalarBuffer::from(offsets)), bytes.into(), None);
        let dictionary = DictionaryArray::<UInt32Type>::new(keys, Arc::new(values));
        if too_many {
            return arrow::compute::cast(&dictionary, &arrow::datatypes::DataType::Utf8)
                .unwrap_or_else(|_| Arc::new(dictionary));
        }
        Arc::new(dictionary)
    }
}

/// `strings` as a dictionary, or `None` once its distinct values pass
/// [`DICTIONARY_BYTES_LIMIT`] (the lookup stops there).
pub fn dictionary_of(strings: &StringArray) -> Option<ArrayRef> {
    let mut column =
        DictColumn { keys: Vec::with_capacity(strings.len()), ..DictColumn::default() };
    for value in strings {
        column.append_option(value);
        if column.is_full() {
            return None;
        }
    }
    Some(column.finish())
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::DataType;
    use proptest::prelude::*;

    use super::*;

    fn strings(column: &ArrayRef) -> Vec<Option<String>> {
        let plain = arrow::compute::cast(column, &DataType::Utf8).unwrap();
        plain.as_string::<i32>().iter().map(|value| value.map(str::to_owned)).collect()
    }

    proptest! {
        /// Whatever the mix of values and nulls, the column holds them in order, each
        /// distinct value once in the dictionary, and a second batch does not see the
        /// first.
        #[test]
        fn values_and_nulls_come_out_in_order(
            batches in proptest::collection::vec(
                proptest::collection::vec(proptest::option::of("[a-c]{0,3}"), 0..60), 1..4)
        ) {
            let mut column = DictColumn::default();
            for values in batches {
                for value in &values {
                    column.append_option(value.as_deref());
                }
                let built = column.finish();
                prop_assert_eq!(strings(&built), values.clone());
                let dictionary = built.as_dictionary::<UInt32Type>();
                let distinct: std::collections::HashSet<_> =
                    values.iter().flatten().collect();
                prop_assert_eq!(dictionary.values().len(), distinct.len());
                prop_assert_eq!(built.null_count(), values.iter().filter(|v| v.is_none()).count());
            }
        }
    }

    #[test]
    fn distinct_values_past_the_limit_come_out_plain() {
        let mut column = DictColumn::default();
        let values: Vec<String> = (0..40_000).map(|n| format!("/api/orders/{n:024}")).collect();
        for value in &values {
            column.append_value(value);
        }
        column.append_null();
        let built = column.finish();
        assert_eq!(built.data_type(), &DataType::Utf8);
        let expected: Vec<Option<String>> =
            values.iter().cloned().map(Some).chain([None]).collect();
        assert_eq!(strings(&built), expected);
        // The next batch is a dictionary again.
        column.append_value("GET");
        assert!(matches!(column.finish().data_type(), DataType::Dictionary(..)));
    }
}
