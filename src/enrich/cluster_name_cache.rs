//! Recently split upstream cluster names. A proxy names the same few dozen Envoy
//! clusters over and over, and splitting `outbound|9080|v1|reviews.…` into its parts
//! cost 4 % of ingest's reading thread; a cached name costs a hash and a compare.
//! The parts are kept as positions in the name, so the [`ClusterName`] handed out
//! borrows from the caller's text, exactly as [`ClusterName::parse`] does. Like the
//! host cache, it is direct-mapped and never grows.

use std::ops::Range;

use meshlog_parsers::{ClusterName, Direction};

use crate::fast_hash::cache_slot;

/// 256 slots: ample for the clusters one proxy's traffic goes to.
const SLOT_BITS: u32 = 8;
const SLOTS: usize = 1 << SLOT_BITS;

/// Recently split cluster names.
pub struct ClusterNameCache {
    slots: Vec<Slot>,
}

/// One name and its parts; the name's buffer is reused when another name takes the
/// slot, so a proxy calling more clusters than there are slots costs no allocations.
#[derive(Clone, Default)]
struct Slot {
    name: String,
    /// `None` while the slot is empty.
    parts: Option<Parts>,
}

/// A split name, as positions in it.
#[derive(Debug, Clone, PartialEq)]
struct Parts {
    /// The name without its trailing `;` is this long.
    name_len: usize,
    direction: Direction,
    port: Option<u16>,
    subset: Option<Range<usize>>,
    service: Option<Range<usize>>,
}

impl Default for ClusterNameCache {
    fn default() -> Self {
        ClusterNameCache { slots: vec![Slot::default(); SLOTS] }
    }
}

impl ClusterNameCache {
    /// `name` split as [`ClusterName::parse`] splits it.
    #[inline]
    pub fn parse<'a>(&mut self, name: &'a str) -> ClusterName<'a> {
        let slot = &mut self.slots[slot_of(name)];
        if let Some(parts) = &slot.parts
            && slot.name == name
            && let Some(split) = parts.apply(name)
        {
            return split;
        }
        let split = ClusterName::parse(name);
        slot.name.clear();
        slot.name.push_str(name);
        slot.parts = Parts::of(name, &split);
        split
    }
}

impl Parts {
    /// The positions of `split`'s parts in `name`; `None` if one is not inside it.
    fn of(name: &str, split: &ClusterName<'_>) -> Option<Parts> {
        Some(Parts {
            name_len: position(name, split.name).filter(|found| found.start == 0)?.end,
            direction: split.direction,
            port: split.port,
            subset: optional_position(name, split.subset)?,
            service: optional_position(name, split.service)?,
        })
    }

    fn apply<'a>(&self, name: &'a str) -> Option<ClusterName<'a>> {
        let part = |range: &Option<Range<usize>>| match range {
            Some(range) => name.get(range.clone()).map(Some),
            None => Some(None),
        };
        Some(ClusterName {
            name: name.get(..self.name_len)?,
            direction: self.direction,
            port: self.port,
            subset: part(&self.subset)?,
            service: part(&self.service)?,
        })
    }
}

/// Where `part`, a slice of `name`, lies in it; `None` if it is not a slice of it.
fn position(name: &str, part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(name.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (name.get(start..end) == Some(part)).then_some(start..end)
}

/// [`position`] of a part that may be absent: `Some(None)` when it is, `None` when it
/// is present but not a slice of `name`.
fn optional_position(name: &str, part: Option<&str>) -> Option<Option<Range<usize>>> {
    match part {
        None => Some(None),
        Some(part) => position(name, part).map(Some),
    }
}

fn slot_of(name: &str) -> usize {
    cache_slot(name, SLOT_BITS)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NAMES: [&str; 9] = [
        "outbound|9080|v1|reviews.default.svc.cluster.local",
        "outbound|9080||reviews.default.svc.cluster.local;",
        "inbound|8080||",
        "outbound_.15443_._.reviews.default.svc.cluster.local",
        "PassthroughCluster",
        "outbound|80||a|b",
        "",
        "-",
        "my-plain-envoy-cluster",
    ];

    #[test]
    fn a_cached_name_splits_as_the_parser_splits_it() {
        let mut cache = ClusterNameCache::default();
        for _ in 0..3 {
            for name in NAMES {
                // A fresh copy each time: the parts must borrow from the text given.
                let text = name.to_owned();
                let split = cache.parse(&text);
                assert_eq!(split, ClusterName::parse(&text), "{name}");
                if let Some(service) = split.service {
                    assert!(text.as_bytes().as_ptr_range().contains(&service.as_ptr()));
                }
            }
        }
    }

    #[test]
    fn names_in_the_same_slot_replace_each_other() {
        let mut cache = ClusterNameCache::default();
        let names: Vec<String> = (0..4 * SLOTS).map(|n| format!("outbound|{n}||s{n}.ns")).collect();
        for name in names.iter().chain(names.iter().rev()) {
            assert_eq!(cache.parse(name), ClusterName::parse(name));
        }
        assert_eq!(cache.slots.len(), SLOTS);
    }

    proptest! {
        #[test]
        fn any_name_splits_as_the_parser_splits_it(
            names in proptest::collection::vec("(outbound|inbound|[a-z_.;|0-9-]{0,6})[|_.;0-9a-z]{0,20}", 1..20),
        ) {
            let mut cache = ClusterNameCache::default();
            for name in names.iter().chain(&names) {
                prop_assert_eq!(cache.parse(name), ClusterName::parse(name));
            }
        }
    }
}
