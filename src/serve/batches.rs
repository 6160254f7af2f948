//! The batch ids `meshlog serve` remembers (`X-Meshlog-Batch-Id`), with what each
//! batch gave, so that a client retrying a request whose acknowledgement it lost is
//! told the same answer and nothing is stored twice. The newest `capacity` ids are
//! kept; they are saved with each commit (a pipeline state) and the WAL's entries
//! after that commit bring back the rest on start.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

/// What a stored batch gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchOutcome {
    pub accepted: u64,
    pub rejected: u64,
}

/// The newest batch ids, oldest first.
#[derive(Debug, Default)]
pub struct RememberedBatches {
    order: VecDeque<String>,
    outcomes: HashMap<String, BatchOutcome>,
    capacity: usize,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    batches: Vec<(String, BatchOutcome)>,
}

impl RememberedBatches {
    pub fn new(capacity: usize) -> RememberedBatches {
        RememberedBatches { capacity, ..RememberedBatches::default() }
    }

    /// The ids saved by the last commit.
    pub fn decode(bytes: &[u8], capacity: usize) -> Result<RememberedBatches, serde_json::Error> {
        let saved: Saved = serde_json::from_slice(bytes)?;
        let mut remembered = RememberedBatches::new(capacity);
        for (id, outcome) in saved.batches {
            remembered.insert(id, outcome);
        }
        Ok(remembered)
    }

    /// The state to save with a commit.
    pub fn encode(&self) -> Vec<u8> {
        let batches = self
            .order
            .iter()
            .filter_map(|id| Some((id.clone(), *self.outcomes.get(id)?)))
            .collect();
        serde_json::to_vec(&Saved { batches }).unwrap_or_default()
    }

    /// What the batch `id` gave, if it is stored.
    pub fn get(&self, id: &str) -> Option<BatchOutcome> {
        self.outcomes.get(id).copied()
    }

    /// Remembers a stored batch, forgetting the oldest past the capacity.
    pub fn insert(&mut self, id: String, outcome: BatchOutcome) {
        if self.capacity == 0 || self.outcomes.insert(id.clone(), outcome).is_some() {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.outcomes.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: BatchOutcome = BatchOutcome { accepted: 1, rejected: 0 };

    #[test]
    fn forgets_the_oldest_past_its_capacity_and_survives_a_save() {
        let mut remembered = RememberedBatches::new(2);
        for id in ["a", "b", "c"] {
            remembered.insert(id.into(), ONE);
        }
        assert_eq!(remembered.get("a"), None);
        let restored = RememberedBatches::decode(&remembered.encode(), 2).unwrap();
        assert_eq!(restored.get("b"), Some(ONE));
        assert_eq!(restored.get("c"), Some(ONE));
    }
}
