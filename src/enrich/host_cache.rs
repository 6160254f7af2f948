//! The tags of recently seen upstream hosts. A proxy sends nearly all its requests
//! to the same few hundred endpoints, and reading `a.b.c.d:port` then matching it
//! against the gateways and pod CIDRs cost 6 % of ingest's reading thread; a cached
//! host costs a hash and a compare. The cache is direct-mapped: each host has one
//! slot, and a host whose slot is taken replaces the one there, so it never grows,
//! whatever hosts the input holds. It belongs to one enricher's topology and source.

use super::Enrichment;
use crate::fast_hash::cache_slot;

/// 1 024 slots: ample for the endpoints one proxy calls; 24 KiB.
const SLOT_BITS: u32 = 10;
const SLOTS: usize = 1 << SLOT_BITS;

/// Recently seen hosts and their tags.
pub struct HostCache {
    slots: Vec<Option<(Box<str>, Enrichment)>>,
}

impl Default for HostCache {
    fn default() -> Self {
        HostCache { slots: vec![None; SLOTS] }
    }
}

impl HostCache {
    /// The tags of `host`: remembered, or from `tag` (then remembered).
    #[inline]
    pub fn tags(&mut self, host: &str, tag: impl FnOnce(&str) -> Enrichment) -> Enrichment {
        let slot = &mut self.slots[slot_of(host)];
        match slot {
            Some((cached, tags)) if **cached == *host => *tags,
            _ => {
                let tags = tag(host);
                *slot = Some((host.into(), tags));
                tags
            }
        }
    }
}

fn slot_of(host: &str) -> usize {
    cache_slot(host, SLOT_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::Locality;

    fn tags(locality: Locality) -> Enrichment {
        Enrichment { locality, dst_cluster: None, via_gateway: false }
    }

    #[test]
    fn a_host_is_tagged_once_and_then_remembered() {
        let mut cache = HostCache::default();
        let mut calls = 0;
        for _ in 0..3 {
            let found = cache.tags("10.1.2.3:80", |_| {
                calls += 1;
                tags(Locality::Local)
            });
            assert_eq!(found, tags(Locality::Local));
        }
        assert_eq!(calls, 1);
    }

    #[test]
    fn every_host_gets_its_own_tags_even_when_slots_collide() {
        let mut cache = HostCache::default();
        let hosts: Vec<String> =
            (0..5000).map(|n| format!("10.{}.{}.7:8080", n / 256, n % 256)).collect();
        let tag = |host: &str| match host.len() % 2 {
            0 => tags(Locality::Local),
            _ => tags(Locality::External),
        };
        for round in 0..2 {
            for host in &hosts {
                assert_eq!(cache.tags(host, tag), tag(host), "{host} in round {round}");
            }
        }
        assert_eq!(cache.slots.len(), SLOTS);
    }
}
