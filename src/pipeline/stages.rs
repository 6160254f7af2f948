//! The stages a batch passes on the committer thread before it is staged: access-log
//! rows feed the failover detector, admin snapshots become `endpoint_stats` /
//! `cluster_stats` rows against the counter state and may corroborate a failover.
//! [`Stages`] owns that state (loaded from the last commit that saved each kind) and
//! turns each batch into a [`PendingCommit`] carrying exactly the state it changed.

use std::sync::Arc;

use super::PipelineError;
use super::batch::BatchContent;
use crate::analytics::failover::{Episode, FailoverDetector, FailoverSettings};
use crate::enrich::Topology;
use crate::metrics::Metrics;
use crate::metrics::traffic::{EndpointGauges, FailoverGauges};
use crate::process::failovers::{corroborate_all, failovers_batch, load_detector, save_detector};
use crate::process::observations::observe_requests;
use crate::stats::StatsCounts;
use crate::stats::commit::{decode_counters, snapshot_rows};
use crate::stats::counters::CounterState;
use crate::storage::StorageError;
use crate::storage::commit_log::Checkpoint;
use crate::storage::committer::{AppendedTable, Committer, PendingCommit, StateKind};
use crate::storage::schema::ENDPOINT_STATS_DIR;

/// The state of every stage, as of the last batch prepared.
pub struct Stages {
    topology: Arc<Topology>,
    detector: FailoverDetector,
    counters: CounterState,
    /// Where the episodes and the snapshots' endpoints are shown as metrics.
    metrics: Option<StageMetrics>,
}

/// The metrics the stages keep up to date.
struct StageMetrics {
    metrics: Arc<Metrics>,
    failovers: FailoverGauges,
    endpoints: EndpointGauges,
}

/// What the detector left out or holds.
#[derive(Debug, Default, Clone)]
pub struct DetectorCounts {
    /// Requests that arrived after their window was final.
    pub late: u64,
    /// Requests whose time was out of step with their source cluster's stream.
    pub skewed: u64,
    /// Requests held until later lines show whether their time is right.
    pub held: u64,
    /// Settings that differ from those the saved state was made with.
    pub settings_changed: Vec<String>,
}

impl Stages {
    /// The stages as the last commits of `committer`'s directory left them; the
    /// `failovers` table is rewritten from the detector's state (a crash may have
    /// come between the commit and the table's rewrite).
    pub fn load(
        committer: &mut Committer,
        topology: Arc<Topology>,
        failover: &FailoverSettings,
    ) -> Result<(Stages, Vec<String>), PipelineError> {
        let saved = committer.state(StateKind::Detector)?;
        let loaded = load_detector(saved.as_deref(), failover)?;
        let counters = match committer.state(StateKind::Counters)? {
            Some(bytes) => decode_counters(&bytes)?,
            None => CounterState::default(),
        };
        if saved.is_some() {
            committer.restore_failovers(&failovers_batch(&loaded.detector.episodes())?)?;
        }
        let stages = Stages { topology, detector: loaded.detector, counters, metrics: None };
        Ok((stages, loaded.settings_changed))
    }

    /// Shows the failover episodes (from now on, those that start count as started)
    /// and the endpoints of each admin snapshot in `metrics`.
    pub fn report_to(&mut self, metrics: Arc<Metrics>) {
        let failovers = FailoverGauges::new(&metrics, &self.detector.episodes());
        let endpoints = EndpointGauges::default();
        self.metrics = Some(StageMetrics { metrics, failovers, endpoints });
    }

    /// Runs `content` through its stages into a commit that reaches `checkpoints`;
    /// also returns what its snapshots gave.
    pub fn prepare(
        &mut self,
        content: BatchContent,
        checkpoints: Vec<Checkpoint>,
    ) -> Result<(PendingCommit, StatsCounts), PipelineError> {
        let mut pending = PendingCommit { checkpoints, ..PendingCommit::default() };
        let mut counts = StatsCounts::default();
        match content {
            BatchContent::Requests { requests, rejects } => {
                for part in requests {
                    observe_requests(&mut self.detector, &part)?;
                    pending.add_rows(AppendedTable::Requests, part);
                }
                for part in rejects {
                    pending.add_rows(AppendedTable::Rejects, part);
                }
                if let Some(shown) = &mut self.metrics {
                    shown.failovers.update(&shown.metrics, &self.detector.episodes());
                }
                save_detector(&mut pending, &self.detector)?;
            }
            BatchContent::Compacted { table, rows, replaced } => {
                pending.add_rows(table, rows);
                pending.removed = replaced;
            }
            BatchContent::Snapshots(groups) => {
                let rows = snapshot_rows(&self.topology, self.counters.clone(), groups)?;
                if let Some(shown) = &mut self.metrics {
                    let endpoints = &rows.stats.endpoint_stats;
                    shown.endpoints.update(&shown.metrics, endpoints).map_err(|source| {
                        StorageError::Arrow { table: ENDPOINT_STATS_DIR, source }
                    })?;
                }
                rows.stats.add_to(&mut pending);
                pending.add_rows(AppendedTable::Rejects, rows.rejects);
                if !rows.evidence.is_empty() {
                    corroborate_all(&mut self.detector, &rows.evidence);
                    save_detector(&mut pending, &self.detector)?;
                }
                self.counters = rows.counters;
                counts = rows.counts;
            }
        }
        Ok((pending, counts))
    }

    /// At the end of every source: decides the lines the detector held that enough
    /// lines followed; a commit of its new state if that changed anything.
    pub fn settle(&mut self) -> Result<Option<PendingCommit>, PipelineError> {
        let held = self.detector.held_observations();
        if held == 0 {
            return Ok(None);
        }
        self.detector.settle();
        if self.detector.held_observations() == held {
            return Ok(None);
        }
        let mut pending = PendingCommit::default();
        save_detector(&mut pending, &self.detector)?;
        Ok(Some(pending))
    }

    /// Every failover episode known so far.
    pub fn episodes(&self) -> Vec<Episode> {
        self.detector.episodes()
    }

    /// What the detector left out or holds.
    pub fn detector_counts(&self) -> DetectorCounts {
        DetectorCounts {
            late: self.detector.late_observations(),
            skewed: self.detector.skewed_observations(),
            held: self.detector.held_observations(),
            settings_changed: Vec::new(),
        }
    }
}
