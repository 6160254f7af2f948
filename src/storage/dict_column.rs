//! A string column builder that gives each distinct value a key as it is appended,
//! for the columns of an access log that repeat a few values (method, protocol,
//! locality, response flags…). The batch then holds a `u32` per row instead of a
//! copy of the string: sorting rows by time moves four bytes a row, and the Parquet
//! writer takes the keys as they are ([`super::dict_chunk`]) instead of hashing
//! every value again. A value equal to the one before it (a constant source
//! cluster, a run of `GET`s) is found without a lookup; a column of a few values by
//! comparing with each; any other through a hash table. Its hash is seeded per
//! process (foldhash), since values such as paths and server names come from
//! clients, who must not be able to pick values that collide.
//!
//! Once a column's distinct values outgrow a Parquet dictionary page it goes on as
//! plain strings, and comes out as such, so the writer falls back as it would for
//! any string column, and a batch of unique values costs no more than plain strings.

use std::hash::BuildHasher;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, DictionaryArray, StringArray, StringBuilder, UInt32Array};
use arrow::buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::UInt32Type;
use hashbrown::HashTable;

/// The most bytes of distinct values a batch's dictionary may hold: Parquet's
/// dictionary page limit, past which a writer stores the strings plain.
pub const DICTIONARY_BYTES_LIMIT: usize = 1024 * 1024;

/// Up to this many distinct values, a value is looked for by comparing it with each
/// one (most differ in length) rather than by its hash: quicker for the handful of
/// methods, protocols, directions or localities a column holds.
const LINEAR_SCAN_VALUES: usize = 8;

/// The key [`DictColumn`] keeps for a null row until it finishes.
const NULL_KEY: u32 = u32::MAX;

/// Where a distinct value is in [`DictColumn::bytes`].
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    length: u32,
}

/// Builds one `Utf8` column as a `Dictionary(UInt32, Utf8)`, or as plain strings
/// once its distinct values pass [`DICTIONARY_BYTES_LIMIT`].
#[derive(Default)]
pub struct DictColumn {
    /// The distinct values, in the order first seen, end to end (never more than
    /// the limit and one value, so their offsets fit an `i32`).
    bytes: Vec<u8>,
    /// Where each distinct value is in `bytes`, by key.
    spans: Vec<Span>,
    /// The keys of the distinct values, by the hash of their bytes.
    table: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    /// A key per row, [`NULL_KEY`] for a null: the validity bitmap is made at
    /// [`DictColumn::finish`], in one pass, rather than a bit per append.
    keys: Vec<u32>,
    /// How many of `keys` are [`NULL_KEY`].
    nulls: usize,
    /// The key of the last value appended, if any, and where it is.
    last: Option<(u32, Span)>,
    /// The rows as plain strings, once the distinct values passed the limit.
    plain: Option<StringBuilder>,
}

/// The bytes at `span` of `bytes`.
#[inline]
fn at(bytes: &[u8], span: Span) -> &[u8] {
    &bytes[span.start as usize..][..span.length as usize]
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
        if let Some(plain) = &mut self.plain {
            plain.append_value(value);
            return;
        }
        let bytes = value.as_bytes();
        let key = match self.last {
            Some((key, span)) if same_bytes(at(&self.bytes, span), bytes) => key,
            _ => self.intern(bytes),
        };
        self.keys.push(key);
        if self.bytes.len() > DICTIONARY_BYTES_LIMIT {
            self.go_plain();
        }
    }

    /// Appends a null.
    #[inline]
    pub fn append_null(&mut self) {
        match &mut self.plain {
            Some(plain) => plain.append_null(),
            None => {
                self.keys.push(NULL_KEY);
                self.nulls += 1;
            }
        }
    }

    /// Whether the column went on as plain strings.
    pub fn is_plain(&self) -> bool {
        self.plain.is_some()
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
            let hash = self.hasher.hash_one(value);
            self.table.find(hash, |key| same_bytes(at(bytes, spans[*key as usize]), value)).copied()
        };
        let key = found.unwrap_or_else(|| self.insert(value));
        self.last = Some((key, self.spans[key as usize]));
        key
    }

    /// Gives `value` the next key. The limit keeps keys and offsets far from
    /// `u32::MAX` (a value is appended only while `bytes` is under it).
    fn insert(&mut self, value: &[u8]) -> u32 {
        let key = self.spans.len() as u32;
        let span = Span { start: self.bytes.len() as u32, length: value.len() as u32 };
        self.bytes.extend_from_slice(value);
        self.spans.push(span);
        let (bytes, spans, hasher) = (&self.bytes, &self.spans, &self.hasher);
        let hash = hasher.hash_one(value);
        self.table.insert_unique(hash, key, |key| hasher.hash_one(at(bytes, spans[*key as usize])));
        key
    }

    /// Goes on as plain strings: the rows so far are copied into a string builder,
    /// and the dictionary is dropped.
    fn go_plain(&mut self) {
        let mut plain = StringBuilder::with_capacity(self.keys.capacity(), self.bytes.len());
        for key in &self.keys {
            match self.spans.get(*key as usize) {
                Some(span) => plain.append_value(self.value(*span)),
                None => plain.append_null(),
            }
        }
        self.clear_dictionary();
        self.keys.clear();
        self.nulls = 0;
        self.plain = Some(plain);
    }

    /// The distinct value at `span`, a whole `&str` as appended.
    fn value(&self, span: Span) -> &str {
        std::str::from_utf8(at(&self.bytes, span)).unwrap_or_default()
    }

    fn clear_dictionary(&mut self) {
        self.bytes.clear();
        self.spans.clear();
        self.table.clear();
        self.last = None;
    }

    /// The column of the values appended so far, as a dictionary, or as plain strings
    /// if the distinct values passed [`DICTIONARY_BYTES_LIMIT`]. The builder starts
    /// again, as a dictionary, with room for as many rows.
    pub fn finish(&mut self) -> ArrayRef {
        if let Some(mut plain) = self.plain.take() {
            let strings = plain.finish();
            self.keys = Vec::with_capacity(strings.len());
            return Arc::new(strings);
        }
        let rows = self.keys.len();
        let mut keys = std::mem::replace(&mut self.keys, Vec::with_capacity(rows));
        let nulls = (std::mem::take(&mut self.nulls) > 0).then(|| {
            let valid = BooleanBuffer::collect_bool(rows, |row| keys[row] != NULL_KEY);
            // Any key will do under a null; 0 keeps them all in the dictionary's range.
            keys.iter_mut().for_each(|key| *key = if *key == NULL_KEY { 0 } else { *key });
            NullBuffer::new(valid)
        });
        let keys = UInt32Array::new(ScalarBuffer::from(keys), nulls);
        // Values are appended end to end, so each one ends where the next starts.
        let ends = self.spans.iter().map(|span| (span.start + span.length) as i32);
        let offsets: Vec<i32> = std::iter::once(0).chain(ends).collect();
        let bytes = std::mem::take(&mut self.bytes);
        self.clear_dictionary();
        // Every value was appended as a whole `&str`.
        let values =
            StringArray::new(OffsetBuffer::new(ScalarBuffer::from(offsets)), bytes.into(), None);
        Arc::new(DictionaryArray::<UInt32Type>::new(keys, Arc::new(values)))
    }
}

/// `strings` as a dictionary, or `None` once its distinct values pass
/// [`DICTIONARY_BYTES_LIMIT`] (the lookup stops there).
pub fn dictionary_of(strings: &StringArray) -> Option<ArrayRef> {
    let mut column =
        DictColumn { keys: Vec::with_capacity(strings.len()), ..DictColumn::default() };
    for value in strings {
        column.append_option(value);
        if column.is_plain() {
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
        let values: Vec<Option<String>> = (0..40_000)
            .map(|n| (n % 7 != 3).then(|| format!("/api/orders/{n:024}")))
            .chain([None, Some("GET".to_owned())])
            .collect();
        for value in &values {
            column.append_option(value.as_deref());
        }
        assert!(column.is_plain());
        let built = column.finish();
        assert_eq!(built.data_type(), &DataType::Utf8);
        assert_eq!(strings(&built), values);
        // The next batch is a dictionary again.
        column.append_value("GET");
        assert!(matches!(column.finish().data_type(), DataType::Dictionary(..)));
    }

    #[test]
    fn a_lookup_stops_once_the_dictionary_is_full() {
        let ids: StringArray = (0..100_000).map(|n| Some(format!("/api/item/{n:06}"))).collect();
        assert!(dictionary_of(&ids).is_none());
        let few: StringArray = (0..100_000).map(|n| Some(format!("/api/item/{}", n % 9))).collect();
        let looked_up = dictionary_of(&few).unwrap();
        assert_eq!(looked_up.as_dictionary::<UInt32Type>().values().len(), 9);
        assert_eq!(strings(&looked_up), strings(&(Arc::new(few) as ArrayRef)));
    }
}
