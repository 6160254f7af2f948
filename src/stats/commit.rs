//! Admin snapshots in, one commit's rows out. [`snapshot_rows`] turns groups of parsed
//! dumps (one group per reporting cluster) into `endpoint_stats` / `cluster_stats`
//! rows with one [`StatsProcessor`] per group, threading the counter state from one
//! to the next so that a single state (keyed by source cluster, proxy, cluster and
//! host) is saved. Dump files given to `meshlog ingest` and scrape rounds both come
//! through here, inside the pipeline that owns the counter state.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::counters::CounterState;
use super::dump::Dump;
use super::evidence::LocalEndpointsFailed;
use super::{StatsCounts, StatsProcessor};
use crate::enrich::Topology;
use crate::storage::StorageError;
use crate::storage::committer::{AppendedTable, PendingCommit, StateKind};
use crate::storage::schema::{self, CLUSTER_STATS_DIR, ENDPOINT_STATS_DIR, REJECTS_DIR};

/// Dumps taken in one reporting cluster (`None`: unknown), in time order.
#[derive(Debug)]
pub struct SnapshotGroup {
    pub source_cluster: Option<Arc<str>>,
    pub dumps: Vec<Dump>,
}

/// The rows of admin snapshots for one commit, and the counter state after them.
pub struct StatsCommit {
    /// `endpoint_stats` rows in any order; the stager sorts them.
    pub endpoint_stats: RecordBatch,
    /// `cluster_stats` rows in any order; the stager sorts them.
    pub cluster_stats: RecordBatch,
    /// The last counters seen per proxy, host and statistic (for deltas), to resume from.
    pub counter_state: Vec<u8>,
}

impl StatsCommit {
    /// Puts these rows and the counter state into `pending`.
    pub fn add_to(self, pending: &mut PendingCommit) {
        pending.add_rows(AppendedTable::EndpointStats, self.endpoint_stats);
        pending.add_rows(AppendedTable::ClusterStats, self.cluster_stats);
        pending.save_state(StateKind::Counters, self.counter_state);
    }
}

/// The rows of some snapshots, ready to commit.
pub struct SnapshotRows {
    pub stats: StatsCommit,
    pub rejects: RecordBatch,
    pub counts: StatsCounts,
    /// The counter state after these rows (also in `stats`, encoded).
    pub counters: CounterState,
    /// What the snapshots said of services' local endpoints, for the failover detector.
    pub evidence: Vec<LocalEndpointsFailed>,
}

/// Builds the rows of `groups`, starting from `counters`.
pub fn snapshot_rows(
    topology: &Arc<Topology>,
    counters: CounterState,
    groups: Vec<SnapshotGroup>,
) -> Result<SnapshotRows, StorageError> {
    let mut counters = counters;
    let mut parts = Parts::default();
    for group in groups {
        let mut processor = StatsProcessor::new(topology.clone(), group.source_cluster, counters);
        group.dumps.iter().for_each(|dump| processor.add(dump));
        parts.evidence.extend(processor.take_evidence());
        let (stats, rejects, counts) = processor.finish()?;
        counters = decode_counters(&stats.counter_state)?;
        parts.push(stats, rejects, counts);
    }
    parts.finish(counters)
}

/// Reads a saved counter state.
pub fn decode_counters(bytes: &[u8]) -> Result<CounterState, StorageError> {
    serde_json::from_slice(bytes).map_err(|source| StorageError::State { what: "counter", source })
}

/// The rows of each group's processor, to be put together.
#[derive(Default)]
struct Parts {
    endpoint_stats: Vec<RecordBatch>,
    cluster_stats: Vec<RecordBatch>,
    rejects: Vec<RecordBatch>,
    counts: StatsCounts,
    /// The last processor's, which saw all the counters.
    counter_state: Vec<u8>,
    evidence: Vec<LocalEndpointsFailed>,
}

impl Parts {
    fn push(&mut self, stats: StatsCommit, rejects: RecordBatch, counts: StatsCounts) {
        self.endpoint_stats.push(stats.endpoint_stats);
        self.cluster_stats.push(stats.cluster_stats);
        self.rejects.push(rejects);
        self.counter_state = stats.counter_state;
        self.counts.add(counts);
    }

    fn finish(self, counters: CounterState) -> Result<SnapshotRows, StorageError> {
        let counter_state = match self.counter_state.is_empty() {
            true => serde_json::to_vec(&counters)
                .map_err(|source| StorageError::State { what: "counter", source })?,
            false => self.counter_state,
        };
        let stats = StatsCommit {
            endpoint_stats: concat(
                ENDPOINT_STATS_DIR,
                schema::endpoint_stats(),
                self.endpoint_stats,
            )?,
            cluster_stats: concat(CLUSTER_STATS_DIR, schema::cluster_stats(), self.cluster_stats)?,
            counter_state,
        };
        let rejects = concat(REJECTS_DIR, schema::rejects(), self.rejects)?;
        Ok(SnapshotRows { stats, rejects, counts: self.counts, counters, evidence: self.evidence })
    }
}

/// One batch of `batches`; `schema` when there are none.
fn concat(
    table: &'static str,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<RecordBatch, StorageError> {
    let schema = batches.first().map_or(schema, RecordBatch::schema);
    arrow::compute::concat_batches(&schema, &batches)
        .map_err(|source| StorageError::Arrow { table, source })
}
