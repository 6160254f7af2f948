//! The sketch against the exact answer: DataFusion's `percentile_cont` formula over
//! the sorted values.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;

fn sketch_of(values: &[i64]) -> LatencySketch {
    let mut sketch = LatencySketch::default();
    values.iter().for_each(|value| sketch.add(*value));
    sketch
}

/// `percentile_cont(q)` over `values`, as DataFusion computes it.
fn exact_quantile(values: &[i64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = q * (sorted.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    let weight = ((rank - low as f64) * 1e6).floor() / 1e6;
    sorted[low] as f64 + (sorted[high] - sorted[low]) as f64 * weight
}

fn latencies() -> impl Strategy<Value = Vec<i64>> {
    let value = prop_oneof![0i64..200, 0i64..10_000, 0i64..10_000_000];
    proptest::collection::vec(value, 1..300)
}

proptest! {
    #[test]
    fn a_quantile_is_exact_below_128_ms_and_within_1_in_128_above(
        values in latencies(), q in 0.0f64..=1.0,
    ) {
        let exact = exact_quantile(&values, q);
        let read = sketch_of(&values).quantile(q).unwrap();
        let bound = exact.abs().max(read.abs()) / 128.0;
        if values.iter().all(|value| *value < 128) {
            prop_assert_eq!(read, exact);
        }
        prop_assert!((read - exact).abs() <= bound + 1e-9, "{read} vs {exact}");
    }

    #[test]
    fn merging_in_any_order_gives_the_same_bytes(values in latencies(), cut in 0usize..300) {
        let cut = cut.min(values.len());
        let (left, right) = values.split_at(cut);
        let mut forward = sketch_of(left);
        forward.merge(&sketch_of(right));
        let mut backward = sketch_of(right);
        backward.merge(&sketch_of(left));
        prop_assert_eq!(forward.encode(), sketch_of(&values).encode());
        prop_assert_eq!(backward.encode(), sketch_of(&values).encode());
    }

    #[test]
    fn merging_encoded_pieces_gives_the_sketch_of_all_values(
        values in latencies(), piece in 1usize..40,
    ) {
        // Small pieces into one sketch cross from sparse buckets to a dense range.
        let mut merged = LatencySketch::default();
        for chunk in values.chunks(piece) {
            merged.merge_encoded(&sketch_of(chunk).encode()).unwrap();
        }
        prop_assert_eq!(&merged, &sketch_of(&values));
        prop_assert_eq!(merged.encode(), sketch_of(&values).encode());
        prop_assert_eq!(merged.quantile(0.99), sketch_of(&values).quantile(0.99));
    }

    #[test]
    fn decoding_reads_back_what_was_encoded(values in latencies()) {
        let sketch = sketch_of(&values);
        prop_assert_eq!(LatencySketch::decode(&sketch.encode()).unwrap(), sketch);
    }

    #[test]
    fn any_bytes_decode_to_a_sketch_or_an_error_never_a_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = LatencySketch::decode(&bytes);
        let mut valid = sketch_of(&[5, 900, 70_000]).encode();
        if !bytes.is_empty() {
            let at = bytes[0] as usize % valid.len();
            valid[at] ^= bytes[bytes.len() - 1] | 1;
            let _ = LatencySketch::decode(&valid);
        }
    }
}

#[test]
fn ends_are_the_exact_extremes_and_the_largest_value_fits() {
    let sketch = sketch_of(&[3, 1_000_001, i64::MAX, -4]);
    assert_eq!(sketch.quantile(0.0), Some(0.0));
    assert_eq!(sketch.quantile(1.0), Some(i64::MAX as f64));
    assert_eq!(LatencySketch::decode(&sketch.encode()).unwrap(), sketch);
    assert_eq!(LatencySketch::default().quantile(0.5), None);
}

#[test]
fn corrupt_sketches_are_errors_that_say_why() {
    let valid = sketch_of(&[5, 900]).encode();
    assert!(LatencySketch::decode(&valid).is_ok());
    assert!(LatencySketch::decode(&[]).is_err());
    assert!(LatencySketch::decode(&valid[..valid.len() - 1]).is_err());
    let mut trailing = valid.clone();
    trailing.push(0);
    assert_eq!(
        LatencySketch::decode(&trailing).unwrap_err().to_string(),
        "not a meshlog latency sketch: bytes after the last bucket"
    );
    let mut other_version = valid;
    other_version[0] = 2;
    assert!(LatencySketch::decode(&other_version).is_err());
}
