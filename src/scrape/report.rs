//! What a scrape did, for the summary at the end of a run: rounds, commits, snapshots
//! and failures per target, rows stored.

use super::store::RoundStored;
use crate::config::scrape::ScrapeTarget;
use crate::stats::StatsCounts;
use crate::storage::committer::CommitStats;

/// One target's tally.
#[derive(Debug, Clone, Default)]
pub struct TargetReport {
    pub name: String,
    /// Responses stored (one per endpoint and round).
    pub snapshots: u64,
    /// Rounds in which a GET of this target failed.
    pub failures: u64,
}

/// One round's outcome.
#[derive(Debug, Default)]
pub struct RoundReport {
    /// Targets polled.
    pub targets: usize,
    pub stored: RoundStored,
}

/// A whole run's tally.
#[derive(Debug, Default)]
pub struct ScrapeReport {
    /// Rounds that polled at least one target.
    pub rounds: u64,
    /// Rounds that stored something.
    pub commits: u64,
    /// In config order.
    pub targets: Vec<TargetReport>,
    pub counts: StatsCounts,
    pub stored: CommitStats,
}

impl ScrapeReport {
    /// An empty tally of `targets`.
    pub fn new(targets: &[ScrapeTarget]) -> ScrapeReport {
        let targets = targets
            .iter()
            .map(|target| TargetReport { name: target.name.clone(), ..TargetReport::default() })
            .collect();
        ScrapeReport { targets, ..ScrapeReport::default() }
    }

    /// Counts a round in.
    pub fn add_round(&mut self, round: &RoundReport) {
        if round.targets == 0 {
            return;
        }
        self.rounds += 1;
        let stored = round.stored.stored;
        if stored.files > 0 || round.stored.counts.dumps_by_kind.values().sum::<u64>() > 0 {
            self.commits += 1;
        }
        self.counts.add(round.stored.counts.clone());
        self.stored.add(stored);
    }

    /// Failed polls over all targets.
    pub fn failures(&self) -> u64 {
        self.targets.iter().map(|target| target.failures).sum()
    }
}
