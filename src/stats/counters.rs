//! Counter deltas across snapshots. Envoy's counters only grow until the proxy restarts,
//! so the useful number is the increase since the previous snapshot of the same proxy,
//! Envoy cluster and host (or statistic). [`CounterState`] remembers the last values
//! seen, survives between runs (saved with each commit), and turns a new reading into
//! a [`Delta`]: the increase, or — when a counter went down, which only a restart
//! does — the new value itself, counted from zero, with the reset flagged.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::evidence::ListedHosts;

/// The increase of one set of counters since the previous snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    /// One per counter, in the order given; `None` when there is no earlier snapshot,
    /// when this snapshot is not newer than it, or when either reading lacks the value.
    pub values: Vec<Option<f64>>,
    /// A counter went down since the previous snapshot: the proxy restarted.
    pub reset: bool,
}

/// The last readings of one key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reading {
    ts: i64,
    values: Vec<Option<f64>>,
}

/// The last counters seen, per key (source cluster, proxy, cluster, host or statistic).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CounterState {
    last: HashMap<String, Reading>,
    /// The local hosts of each proxy's Envoy clusters in their last snapshot.
    #[serde(default)]
    listed: ListedHosts,
}

impl CounterState {
    /// Records the counters `values` of `key` read at `ts` (µs) and returns their
    /// increase since the previous reading. A reading not newer than the last one is
    /// out of order: it gets no delta and does not replace the last one.
    pub fn observe(&mut self, key: String, ts: i64, values: &[Option<f64>]) -> Delta {
        let none = || Delta { values: vec![None; values.len()], reset: false };
        let Some(previous) = self.last.get(&key) else {
            self.last.insert(key, Reading { ts, values: values.to_vec() });
            return none();
        };
        if ts <= previous.ts {
            return none();
        }
        let reset = values.iter().zip(&previous.values).any(
            |(now, before)| matches!((now, before), (Some(now), Some(before)) if now < before),
        );
        let deltas = values
            .iter()
            .zip(previous.values.iter().chain(std::iter::repeat(&None)))
            .map(|(now, before)| match (now, before) {
                (Some(now), _) if reset => Some(*now),
                (Some(now), Some(before)) => Some(now - before),
                _ => None,
            })
            .collect();
        self.last.insert(key, Reading { ts, values: values.to_vec() });
        Delta { values: deltas, reset }
    }

    /// The local hosts listed in each proxy's last snapshots, to tell which left.
    pub fn listed_mut(&mut self) -> &mut ListedHosts {
        &mut self.listed
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// Nothing remembered.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

/// A state key from its parts; `\u{1f}` (unit separator) never appears in them.
pub fn key(parts: &[Option<&str>]) -> String {
    let mut key = String::new();
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            key.push('\u{1f}');
        }
        key.push_str(part.unwrap_or(""));
    }
    key
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_first_reading_has_no_delta_and_later_ones_the_increase() {
        let mut state = CounterState::default();
        let first = state.observe("a".into(), 10, &[Some(5.0), Some(1.0)]);
        assert_eq!(first, Delta { values: vec![None, None], reset: false });
        let second = state.observe("a".into(), 20, &[Some(9.0), Some(1.0)]);
        assert_eq!(second, Delta { values: vec![Some(4.0), Some(0.0)], reset: false });
    }

    #[test]
    fn a_counter_that_went_down_is_a_restart_counted_from_zero() {
        let mut state = CounterState::default();
        state.observe("a".into(), 10, &[Some(500.0), Some(20.0)]);
        let after_restart = state.observe("a".into(), 20, &[Some(7.0), Some(30.0)]);
        assert_eq!(after_restart, Delta { values: vec![Some(7.0), Some(30.0)], reset: true });
        let next = state.observe("a".into(), 30, &[Some(10.0), Some(31.0)]);
        assert_eq!(next, Delta { values: vec![Some(3.0), Some(1.0)], reset: false });
    }

    #[test]
    fn an_older_snapshot_gets_no_delta_and_leaves_the_state() {
        let mut state = CounterState::default();
        state.observe("a".into(), 20, &[Some(10.0)]);
        assert_eq!(state.observe("a".into(), 10, &[Some(4.0)]).values, [None]);
        assert_eq!(state.observe("a".into(), 30, &[Some(12.0)]).values, [Some(2.0)]);
    }

    #[test]
    fn a_missing_value_gives_no_delta_for_that_counter_only() {
        let mut state = CounterState::default();
        state.observe("a".into(), 10, &[Some(1.0), None]);
        let delta = state.observe("a".into(), 20, &[Some(3.0), Some(2.0)]);
        assert_eq!(delta.values, [Some(2.0), None]);
    }

    #[test]
    fn keys_are_separate_and_the_state_round_trips_through_json() {
        let mut state = CounterState::default();
        state.observe(key(&[Some("c1"), Some("p"), None]), 10, &[Some(1.0)]);
        state.observe(key(&[Some("c1"), Some("q"), None]), 10, &[Some(8.0)]);
        let json = serde_json::to_vec(&state).unwrap();
        let mut restored: CounterState = serde_json::from_slice(&json).unwrap();
        assert_eq!(restored, state);
        let delta = restored.observe(key(&[Some("c1"), Some("p"), None]), 20, &[Some(4.0)]);
        assert_eq!(delta.values, [Some(3.0)]);
        assert_eq!(restored.len(), 2);
    }
}
