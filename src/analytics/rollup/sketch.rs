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

/// Counts of values by bucket over a dense range of bucket indexes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LatencySketch {
    /// The bucket index of `counts[0]`.
    first: usize,
    counts: Vec<u64>,
    total: u64,
    min: u64,
    max: u64,
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
        self.counts.capacity() * size_of::<u64>()
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
        for (offset, count) in other.counts.iter().enumerate().filter(|(_, count)| **count > 0) {
            self.add_to_bucket(other.first + offset, *count);
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
        let buckets = self.counts.iter().enumerate().filter(|(_, count)| **count > 0);
        put_varint(&mut bytes, self.min);
        put_varint(&mut bytes, self.max);
        put_varint(&mut bytes, buckets.clone().count() as u64);
        let mut previous = 0;
        for (offset, count) in buckets {
            let index = self.first + offset;
            put_varint(&mut bytes, (index - previous) as u64);
            put_varint(&mut bytes, *count);
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
        self.cover(low, high);
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
            self.counts[index - self.first] += count;
            self.total += count;
        }
        if reader.at != bytes.len() {
            return Err(SketchError("bytes after the last bucket"));
        }
        Ok(())
    }

    fn add_to_bucket(&mut self, index: usize, count: u64) {
        self.cover(index, index);
        self.counts[index - self.first] += count;
        self.total += count;
    }

    /// Makes `counts` cover the buckets `low..=high`.
    fn cover(&mut self, low: usize, high: usize) {
        if self.counts.is_empty() {
            self.first = low;
            self.counts.resize(high - low + 1, 0);
            return;
        }
        if low < self.first {
            self.counts.splice(0..0, std::iter::repeat_n(0, self.first - low));
            self.first = low;
        }
        if high >= self.first + self.counts.len() {
            self.counts.resize(high - self.first + 1, 0);
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
        for (offset, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen > rank {
                let middle = bucket_middle(self.first + offset);
                return middle.clamp(self.min as f64, self.max as f64);
            }
        }
        self.max as f64
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
