//! [`LatencySketch`]: a mergeable histogram of whole milliseconds, the latency
//! column of the rollup tables. Values below 128 ms keep a bucket each (exact);
//! above, each power of two is cut into 64 buckets, so a value read back is within
//! 1/128 of the true one. Merging adds bucket counts, so sketches merged in any
//! order give the same bytes, and a quantile of merged minutes is the quantile of
//! every request in them, within that bound.
//!
//! Encoding (the `duration_ms_sketch` columns; documented for other engines in the
//! README): `u8` version = 1, `u8` sub-bucket bits = 6, then unsigned LEB128
//! varints: the exact minimum, the exact maximum, the number `k` of non-empty
//! buckets, and `k` pairs (bucket index minus the previous one's — the first from
//! 0 —, count ≥ 1). Bucket `i < 128` holds the value `i`; bucket `i ≥ 128` with
//! `k = i - 128`, `e = 7 + k / 64` holds `[(64 + k % 64) << (e - 6), + 2^(e-6))`.

use std::fmt;

const VERSION: u8 = 1;
/// Sub-bucket bits: 2^6 = 64 buckets per power of two.
const SUB_BITS: u32 = 6;
/// Values below this have a bucket of their own.
const EXACT_BELOW: u64 = 1 << (SUB_BITS + 1);
/// One past the largest bucket index (that of `u64::MAX`).
const BUCKETS: usize = bucket_of(u64::MAX) as usize + 1;

/// Why bytes are not a sketch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SketchError(&'static str);

impl fmt::Display for SketchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a meshlog latency sketch: {}", self.0)
    }
}

impl std::error::Error for SketchError {}

/// Buckets are held sparse, as `(index, count)` pairs in index order, up to this
/// many, and as a dense range past it. A rollup group's minute often holds a few
/// requests hundreds of buckets apart: a dense range would allocate and zero
/// kilobytes for each of hundreds of thousands of groups.
const SPARSE_MAX: usize = 32;

/// The non-empty buckets of a sketch.
#[derive(Debug, Clone)]
enum Buckets {
    /// `(index, count ≥ 1)` pairs, in index order.
    Sparse(Vec<(usize, u64)>),
    /// The counts of the buckets `first..first + counts.len()`.
    Dense { first: usize, counts: Vec<u64> },
}

impl Default for Buckets {
    fn default() -> Buckets {
        Buckets::Sparse(Vec::new())
    }
}

/// Counts of values by bucket.
#[derive(Debug, Clone, Default)]
pub struct LatencySketch {
    buckets: Buckets,
    total: u64,
    min: u64,
    max: u64,
}

/// Equal when they hold the same values, however their buckets are held.
impl PartialEq for LatencySketch {
    fn eq(&self, other: &LatencySketch) -> bool {
        (self.total, self.min, self.max) == (other.total, other.min, other.max)
            && self.non_empty().eq(other.non_empty())
    }
}

impl Eq for LatencySketch {}

/// The `(index, count)` of each non-empty bucket, in index order.
enum NonEmpty<'a> {
    Sparse(std::slice::Iter<'a, (usize, u64)>),
    Dense { first: usize, counts: std::iter::Enumerate<std::slice::Iter<'a, u64>> },
}

impl Iterator for NonEmpty<'_> {
    type Item = (usize, u64);

    fn next(&mut self) -> Option<(usize, u64)> {
        match self {
            NonEmpty::Sparse(pairs) => pairs.next().copied(),
            NonEmpty::Dense { first, counts } => counts
                .find(|(_, count)| **count > 0)
                .map(|(offset, count)| (*first + offset, *count)),
        }
    }
}

impl LatencySketch {
    /// Whether no value was added.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// How many values were added.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The bytes it holds beyond its own size.
    pub fn heap_bytes(&self) -> usize {
        match &self.buckets {
            Buckets::Sparse(pairs) => pairs.capacity() * size_of::<(usize, u64)>(),
            Buckets::Dense { counts, .. } => counts.capacity() * size_of::<u64>(),
        }
    }

    /// Adds a value (a negative one counts as 0).
    pub fn add(&mut self, value: i64) {
        let value = value.max(0) as u64;
        self.note_extremes(value, value);
        self.add_to_bucket(bucket_of(value) as usize, 1);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &LatencySketch) {
        if other.is_empty() {
            return;
        }
        self.note_extremes(other.min, other.max);
        for (index, count) in other.non_empty() {
            self.add_to_bucket(index, count);
        }
    }

    /// The `q` quantile (0 ≤ q ≤ 1) as DataFusion's `percentile_cont` interpolates it
    /// between the two nearest ranks; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * (self.total - 1) as f64;
        let (low, high) = (rank.floor() as u64, rank.ceil() as u64);
        let low_value = self.value_at_rank(low);
        let high_value = self.value_at_rank(high);
        let weight = ((rank - low as f64) * 1e6).floor() / 1e6;
        Some(low_value + (high_value - low_value) * weight)
    }

    /// The bytes of the encoding described at the top of this file; empty sketches
    /// are stored as NULL instead, so this is for non-empty ones.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = vec![VERSION, SUB_BITS as u8];
        put_varint(&mut bytes, self.min);
        put_varint(&mut bytes, self.max);
        put_varint(&mut bytes, self.non_empty().count() as u64);
        let mut previous = 0;
        for (index, count) in self.non_empty() {
            put_varint(&mut bytes, (index - previous) as u64);
            put_varint(&mut bytes, count);
            previous = index;
        }
        bytes
    }

    /// Reads [`LatencySketch::encode`]'s bytes; anything else is an error.
    pub fn decode(bytes: &[u8]) -> Result<LatencySketch, SketchError> {
        let mut sketch = LatencySketch::default();
        sketch.merge_encoded(bytes)?;
        Ok(sketch)
    }

    /// Adds every value of the sketch `bytes` encode, without building that sketch
    /// (queries merge hundreds of thousands). On an error the sketch is left part
    /// merged: the caller gives up on it.
    pub fn merge_encoded(&mut self, bytes: &[u8]) -> Result<(), SketchError> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.byte()? != VERSION {
            return Err(SketchError("unknown version"));
        }
        if u32::from(reader.byte()?) != SUB_BITS {
            return Err(SketchError("unknown sub-bucket bits"));
        }
        let (min, max) = (reader.varint()?, reader.varint()?);
        let buckets = reader.varint()?;
        if buckets == 0 || min > max || buckets > BUCKETS as u64 {
            return Err(SketchError("no buckets, or a minimum above the maximum"));
        }
        let (low, high) = (bucket_of(min) as usize, bucket_of(max) as usize);
        self.note_extremes(min, max);
        if let Buckets::Sparse(pairs) = &self.buckets
            && pairs.len() as u64 + buckets > SPARSE_MAX as u64
        {
            self.make_dense();
        }
        if let Buckets::Dense { .. } = self.buckets {
            self.cover(low, high);
        }
        let mut index = 0usize;
        for nth in 0..buckets {
            let delta = usize::try_from(reader.varint()?).unwrap_or(usize::MAX);
            if nth > 0 && delta == 0 {
                return Err(SketchError("buckets out of order"));
            }
            index = index.saturating_add(delta);
            let count = reader.varint()?;
            let first_or_last_missed =
                (nth == 0 && index != low) || (nth + 1 == buckets && index != high);
            if index > high || count == 0 || first_or_last_missed {
                return Err(SketchError("extremes outside the first and last buckets"));
            }
            match &mut self.buckets {
                Buckets::Dense { first, counts } => counts[index - *first] += count,
                Buckets::Sparse(pairs) => add_sparse(pairs, index, count),
            }
            self.total += count;
        }
        if reader.at != bytes.len() {
            return Err(SketchError("bytes after the last bucket"));
        }
        Ok(())
    }

    fn add_to_bucket(&mut self, index: usize, count: u64) {
        self.total += count;
        if let Buckets::Sparse(pairs) = &mut self.buckets {
            add_sparse(pairs, index, count);
            if pairs.len() > SPARSE_MAX {
                self.make_dense();
            }
            return;
        }
        self.cover(index, index);
        if let Buckets::Dense { first, counts } = &mut self.buckets {
            counts[index - *first] += count;
        }
    }

    /// Holds the buckets as a dense range from now on.
    fn make_dense(&mut self) {
        let Buckets::Sparse(pairs) = &self.buckets else {
            return;
        };
        let (first, last) = match (pairs.first(), pairs.last()) {
            (Some((first, _)), Some((last, _))) => (*first, *last),
            _ => (0, 0),
        };
        let mut counts = vec![0; if pairs.is_empty() { 0 } else { last - first + 1 }];
        for (index, count) in pairs {
            counts[index - first] += count;
        }
        self.buckets = Buckets::Dense { first, counts };
    }

    /// Makes the dense range cover the buckets `low..=high`.
    fn cover(&mut self, low: usize, high: usize) {
        let Buckets::Dense { first, counts } = &mut self.buckets else {
            return;
        };
        if counts.is_empty() {
            *first = low;
            counts.resize(high - low + 1, 0);
            return;
        }
        if low < *first {
            counts.splice(0..0, std::iter::repeat_n(0, *first - low));
            *first = low;
        }
        if high >= *first + counts.len() {
            counts.resize(high - *first + 1, 0);
        }
    }

    fn non_empty(&self) -> NonEmpty<'_> {
        match &self.buckets {
            Buckets::Sparse(pairs) => NonEmpty::Sparse(pairs.iter()),
            Buckets::Dense { first, counts } => {
                NonEmpty::Dense { first: *first, counts: counts.iter().enumerate() }
            }
        }
    }

    /// Widens the exact extremes to take in `min` and `max`; call before adding.
    fn note_extremes(&mut self, min: u64, max: u64) {
        let empty = self.is_empty();
        self.min = if empty { min } else { self.min.min(min) };
        self.max = if empty { max } else { self.max.max(max) };
    }

    /// The value of the `rank`-th smallest value (0-based): the exact minimum and
    /// maximum at the ends, else its bucket's middle, kept within them.
    fn value_at_rank(&self, rank: u64) -> f64 {
        if rank == 0 {
            return self.min as f64;
        }
        if rank + 1 >= self.total {
            return self.max as f64;
        }
        let mut seen = 0u64;
        for (index, count) in self.non_empty() {
            seen += count;
            if seen > rank {
                let middle = bucket_middle(index);
                return middle.clamp(self.min as f64, self.max as f64);
            }
        }
        self.max as f64
    }
}

/// Adds `count` to the bucket `index` of sorted pairs.
fn add_sparse(pairs: &mut Vec<(usize, u64)>, index: usize, count: u64) {
    match pairs.binary_search_by_key(&index, |(at, _)| *at) {
        Ok(at) => pairs[at].1 += count,
        Err(at) => pairs.insert(at, (index, count)),
    }
}

/// The bucket index of a value.
const fn bucket_of(value: u64) -> u64 {
    if value < EXACT_BELOW {
        return value;
    }
    let exponent = 63 - value.leading_zeros();
    let sub = (value >> (exponent - SUB_BITS)) - (1 << SUB_BITS);
    EXACT_BELOW + (exponent - SUB_BITS - 1) as u64 * (1 << SUB_BITS) + sub
}

/// The middle of a bucket's values.
fn bucket_middle(index: usize) -> f64 {
    let index = index as u64;
    if index < EXACT_BELOW {
        return index as f64;
    }
    let above = index - EXACT_BELOW;
    let exponent = SUB_BITS + 1 + (above >> SUB_BITS) as u32;
    let width = 1u64 << (exponent - SUB_BITS);
    let low = ((1 << SUB_BITS) + (above & ((1 << SUB_BITS) - 1))) << (exponent - SUB_BITS);
    low as f64 + (width - 1) as f64 / 2.0
}

fn put_varint(bytes: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        bytes.push((value as u8) | 0x80);
        value >>= 7;
    }
    bytes.push(value as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, SketchError> {
        let byte = *self.bytes.get(self.at).ok_or(SketchError("cut short"))?;
        self.at += 1;
        Ok(byte)
    }

    /// One LEB128 number; most of a sketch's are one byte.
    #[inline]
    fn varint(&mut self) -> Result<u64, SketchError> {
        match self.bytes.get(self.at) {
            Some(&byte) if byte < 0x80 => {
                self.at += 1;
                Ok(u64::from(byte))
            }
            _ => self.long_varint(),
        }
    }

    fn long_varint(&mut self) -> Result<u64, SketchError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(SketchError("a number longer than 64 bits"))
    }
}

#[cfg(test)]
#[path = "sketch_tests.rs"]
mod tests;
