//! Parquet's RLE / bit-packing hybrid encoding, which stores the dictionary keys
//! and the definition levels (null or not) of a data page. A value repeated at
//! least eight times from the start of a group of eight becomes one run-length
//! run; other values are bit-packed eight at a time, at most 63 groups to a run so
//! that every run header is one byte. The last group is padded with zeros; readers
//! stop at the page's value count.
//! See <https://parquet.apache.org/docs/file-format/data-pages/encodings/>.

/// Values a bit-packed run may hold: 63 groups of eight keep its header in one byte.
const MAX_PACKED_GROUPS: usize = 63;

/// The bits needed to store every value up to `max`.
pub fn bit_width(max: u32) -> u8 {
    // At most 32, so the cast is exact.
    (u32::BITS - max.leading_zeros()) as u8
}

/// Appends `values` to `out`, each in `width` bits (at most 32).
pub fn encode(values: &[u32], width: u8, out: &mut Vec<u8>) {
    let mut packed_from = None;
    let mut start = 0;
    while start < values.len() {
        let repeats = repeats_at(values, start);
        if repeats >= 8 {
            if let Some(from) = packed_from.take() {
                pack_runs(&values[from..start], width, out);
            }
            put_repeated_run(values[start], repeats, width, out);
            start += repeats;
        } else {
            packed_from.get_or_insert(start);
            start = (start + 8).min(values.len());
        }
    }
    if let Some(from) = packed_from {
        pack_runs(&values[from..], width, out);
    }
}

/// Appends `value` repeated `count` times, in `width` bits: one run.
pub fn encode_repeated(value: u32, count: usize, width: u8, out: &mut Vec<u8>) {
    if count > 0 {
        put_repeated_run(value, count, width, out);
    }
}

/// How many times the value at `start` repeats from there.
fn repeats_at(values: &[u32], start: usize) -> usize {
    let value = values[start];
    values[start..].iter().take_while(|other| **other == value).count()
}

fn put_varint(mut number: usize, out: &mut Vec<u8>) {
    while number >= 0x80 {
        out.push((number & 0x7f) as u8 | 0x80);
        number >>= 7;
    }
    out.push(number as u8);
}

fn put_repeated_run(value: u32, count: usize, width: u8, out: &mut Vec<u8>) {
    put_varint(count << 1, out);
    let bytes = usize::from(width).div_ceil(8);
    out.extend_from_slice(&value.to_le_bytes()[..bytes]);
}

/// Bit-packs `values` (groups of eight, the last one padded) in runs of at most
/// [`MAX_PACKED_GROUPS`] groups.
fn pack_runs(values: &[u32], width: u8, out: &mut Vec<u8>) {
    for run in values.chunks(MAX_PACKED_GROUPS * 8) {
        let groups = run.len().div_ceil(8);
        put_varint(groups << 1 | 1, out);
        for group in run.chunks(8) {
            pack_group(group, width, out);
        }
    }
}

/// Eight values (fewer are padded with zeros) in `width` bytes, least significant
/// bit first.
fn pack_group(group: &[u32], width: u8, out: &mut Vec<u8>) {
    let mut bits: u64 = 0;
    let mut filled = 0;
    for index in 0..8 {
        let value = group.get(index).copied().unwrap_or(0);
        bits |= u64::from(value) << filled;
        filled += u32::from(width);
        while filled >= 8 {
            out.push(bits as u8);
            bits >>= 8;
            filled -= 8;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A plain decoder of the hybrid encoding, after the spec, for the tests.
    fn decode(mut bytes: &[u8], width: u8, count: usize) -> Vec<u32> {
        let mut values = Vec::new();
        while values.len() < count {
            let mut header = 0usize;
            let mut shift = 0;
            loop {
                let byte = bytes[0];
                bytes = &bytes[1..];
                header |= usize::from(byte & 0x7f) << shift;
                shift += 7;
                if byte < 0x80 {
                    break;
                }
            }
            if header & 1 == 1 {
                let groups = header >> 1;
                let length = groups * usize::from(width);
                let (packed, rest) = bytes.split_at(length);
                bytes = rest;
                for index in 0..groups * 8 {
                    let mut value = 0u32;
                    for bit in 0..usize::from(width) {
                        let at = index * usize::from(width) + bit;
                        value |= u32::from(packed[at / 8] >> (at % 8) & 1) << bit;
                    }
                    values.push(value);
                }
            } else {
                let width_bytes = usize::from(width).div_ceil(8);
                let mut word = [0u8; 4];
                word[..width_bytes].copy_from_slice(&bytes[..width_bytes]);
                bytes = &bytes[width_bytes..];
                values.extend(std::iter::repeat_n(u32::from_le_bytes(word), header >> 1));
            }
        }
        assert!(bytes.is_empty(), "{} bytes left over", bytes.len());
        values.truncate(count);
        values
    }

    proptest! {
        #[test]
        fn values_decode_to_themselves(
            width in 0u8..=32,
            picks in proptest::collection::vec((0u32..4, 1usize..40), 0..60),
            seed in any::<u32>(),
        ) {
            let limit = if width == 32 { u32::MAX } else { (1u32 << width) - 1 };
            // Runs of a few distinct values, so that both kinds of run show up.
            let values: Vec<u32> = picks
                .iter()
                .flat_map(|(pick, length)| {
                    std::iter::repeat_n(seed.wrapping_mul(pick + 1) & limit, *length)
                })
                .collect();
            let mut out = Vec::new();
            encode(&values, width, &mut out);
            prop_assert_eq!(decode(&out, width, values.len()), values);
        }
    }

    #[test]
    fn a_constant_page_is_one_run() {
        let mut out = Vec::new();
        encode(&[5; 20_000], 3, &mut out);
        assert_eq!(out, [0xc0, 0xb8, 0x02, 5]);
    }

    #[test]
    fn long_mixed_input_splits_into_one_byte_headers() {
        let values: Vec<u32> = (0..2000).map(|n| n % 7).collect();
        let mut out = Vec::new();
        encode(&values, 3, &mut out);
        assert_eq!(out[0], (63 << 1) | 1);
        assert_eq!(decode(&out, 3, values.len()), values);
    }

    #[test]
    fn widths_are_the_bits_of_the_largest_value() {
        assert_eq!([0, 1, 2, 3, 4, 255, 256, u32::MAX].map(bit_width), [0, 1, 2, 2, 3, 8, 9, 32]);
    }
}
