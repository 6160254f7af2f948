//! A fast, non-cryptographic hash for the maps looked up once per request: the failover
//! detector's per-pair state (SipHash took a quarter of its time per request) and the
//! east-west gateway addresses, and the slots of the host and cluster-name caches.
//! Their keys come from mesh configuration (cluster, service and gateway names and
//! addresses, endpoints), not from clients.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map with [`FxHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The slot of `text` in a direct-mapped cache of `2^slot_bits` slots (the host and
/// cluster-name caches): the high bits of its hash, which are the best mixed.
#[inline]
pub(crate) fn cache_slot(text: &str, slot_bits: u32) -> usize {
    let mut hasher = FxHasher::default();
    hasher.write(text.as_bytes());
    (hasher.finish() >> (u64::BITS - slot_bits)) as usize
}

/// The multiply-rotate hash of rustc (`FxHasher`), eight bytes at a time.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
