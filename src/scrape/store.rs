//! Snapshots in, one commit out. [`stats_commit`] parses a round's responses and turns
//! them into `endpoint_stats` / `cluster_stats` rows with one [`StatsProcessor`] per
//! source cluster, threading the counter state from one to the next so that a single
//! state (keyed by source cluster, proxy, cluster and host) is saved. [`SnapshotStore`]
//! owns the data directory while scraping: it commits each round's rows with the
//! counter state and carries the failover detector's state and episodes over unchanged,
//! as `meshlog ingest` does for dump files. Commits list no sources: nothing here
//! resumes by file offset.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use meshlog_parsers::admin::AdminKind;

use super::ScrapeError;
use crate::analytics::failover::FailoverDetector;
use crate::analytics::failover::FailoverSettings;
use crate::enrich::Topology;
use crate::process::failovers::{corroborate_all, detector_snapshot, load_detector};
use crate::stats::counters::CounterState;
use crate::stats::dump::Dump;
use crate::stats::evidence::LocalEndpointsFailed;
use crate::stats::{StatsCounts, StatsProcessor};
use crate::storage::StorageError;
use crate::storage::committer::{CommitStats, Committer, PendingCommit, Recovery, StatsCommit};
use crate::storage::schema::{self, CLUSTER_STATS_DIR, ENDPOINT_STATS_DIR, REJECTS_DIR};

/// One admin response, not yet parsed.
#[derive(Debug)]
pub struct RawSnapshot {
    pub source_cluster: Option<Arc<str>>,
    /// The target's name.
    pub proxy: String,
    pub kind: AdminKind,
    /// Where it came from, for rejects.
    pub url: String,
    /// When it arrived, µs since the epoch.
    pub ts: i64,
    pub text: String,
}

/// The rows of a round, ready to commit.
pub struct RoundRows {
    pub stats: StatsCommit,
    pub rejects: RecordBatch,
    pub counts: StatsCounts,
    /// The counter state after these rows (also in `stats`, encoded).
    pub counters: CounterState,
    /// What the snapshots said of services' local endpoints, for the failover detector.
    pub evidence: Vec<LocalEndpointsFailed>,
}

/// Parses `snapshots` and builds their rows, starting from `counters`.
pub fn stats_commit(
    topology: &Arc<Topology>,
    counters: CounterState,
    snapshots: Vec<RawSnapshot>,
) -> Result<RoundRows, ScrapeError> {
    let mut counters = counters;
    let mut parts = Parts::default();
    for (source_cluster, dumps) in by_source_cluster(snapshots) {
        let mut processor = StatsProcessor::new(topology.clone(), source_cluster, counters);
        dumps.iter().for_each(|dump| processor.add(dump));
        parts.evidence.extend(processor.take_evidence());
        let (stats, rejects, counts) = processor.finish()?;
        counters = decode_counters(&stats.counter_state)?;
        parts.push(stats, rejects, counts);
    }
    parts.finish(counters)
}

/// The rows of each source cluster's processor, to be put together.
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
        add_counts(&mut self.counts, counts);
    }

    fn finish(self, counters: CounterState) -> Result<RoundRows, ScrapeError> {
        let stats = StatsCommit {
            endpoint_stats: concat(
                ENDPOINT_STATS_DIR,
                schema::endpoint_stats(),
                self.endpoint_stats,
            )?,
            cluster_stats: concat(CLUSTER_STATS_DIR, schema::cluster_stats(), self.cluster_stats)?,
            counter_state: self.counter_state,
        };
        let rejects = concat(REJECTS_DIR, schema::rejects(), self.rejects)?;
        Ok(RoundRows { stats, rejects, counts: self.counts, counters, evidence: self.evidence })
    }
}

/// Parsed dumps per source cluster, each list in time order.
fn by_source_cluster(snapshots: Vec<RawSnapshot>) -> BTreeMap<Option<Arc<str>>, Vec<Dump>> {
    let mut groups: BTreeMap<Option<Arc<str>>, Vec<Dump>> = BTreeMap::new();
    for snapshot in snapshots {
        let dump = Dump::parse(
            snapshot.url,
            snapshot.kind,
            Some(snapshot.proxy),
            snapshot.ts,
            &snapshot.text,
        );
        groups.entry(snapshot.source_cluster).or_default().push(dump);
    }
    groups.values_mut().for_each(|dumps| dumps.sort_by_key(|dump| dump.ts));
    groups
}

fn decode_counters(bytes: &[u8]) -> Result<CounterState, ScrapeError> {
    serde_json::from_slice(bytes).map_err(|source| ScrapeError::State { what: "counter", source })
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

/// Adds one processor's counts to a round's.
pub fn add_counts(total: &mut StatsCounts, part: StatsCounts) {
    for (kind, count) in part.dumps_by_kind {
        *total.dumps_by_kind.entry(kind).or_default() += count;
    }
    for (reason, count) in part.rejected_by_reason {
        *total.rejected_by_reason.entry(reason).or_default() += count;
    }
    total.endpoint_rows += part.endpoint_rows;
    total.stat_rows += part.stat_rows;
    total.resets += part.resets;
}

/// What storing a round did.
#[derive(Debug, Default)]
pub struct RoundStored {
    pub counts: StatsCounts,
    pub stored: CommitStats,
}

/// A data directory that scraped snapshots are committed to.
pub struct SnapshotStore {
    committer: Committer,
    topology: Arc<Topology>,
    counters: CounterState,
    /// The failover detector, told what the snapshots say of local endpoints.
    detector: FailoverDetector,
}

impl SnapshotStore {
    /// Opens (and locks) `data_dir`, resuming the counter state of its last commit.
    pub fn open(
        data_dir: &Path,
        topology: Arc<Topology>,
        failover: FailoverSettings,
    ) -> Result<(SnapshotStore, Recovery), ScrapeError> {
        let (committer, recovery) = Committer::open(data_dir)?;
        Ok((SnapshotStore::new(committer, topology, failover)?, recovery))
    }

    /// Scrapes into the directory `committer` holds.
    pub fn new(
        committer: Committer,
        topology: Arc<Topology>,
        failover: FailoverSettings,
    ) -> Result<SnapshotStore, ScrapeError> {
        let counters = match committer.counter_state()? {
            Some(bytes) => decode_counters(&bytes)?,
            None => CounterState::default(),
        };
        let saved = committer.detector_state()?;
        let detector = load_detector(saved.as_deref(), &failover)?.detector;
        Ok(SnapshotStore { committer, topology, counters, detector })
    }

    /// Stores a round's snapshots in one commit; nothing when there are none.
    pub fn store(&mut self, snapshots: Vec<RawSnapshot>) -> Result<RoundStored, ScrapeError> {
        if snapshots.is_empty() {
            return Ok(RoundStored::default());
        }
        let rows = stats_commit(&self.topology, self.counters.clone(), snapshots)?;
        let mut detector = self.detector.clone();
        corroborate_all(&mut detector, &rows.evidence);
        let (detector_state, failovers) = detector_snapshot(&detector)?;
        let pending = PendingCommit::snapshots(
            rows.stats,
            rows.rejects,
            Vec::new(),
            detector_state,
            failovers,
        );
        let stored = self.committer.commit(pending)?;
        self.counters = rows.counters;
        self.detector = detector;
        Ok(RoundStored { counts: rows.counts, stored })
    }

    /// The committer, for a caller that goes on with the directory.
    pub fn into_committer(self) -> Committer {
        self.committer
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use arrow::array::{Array, Int64Array, StringArray};

    use super::*;

    fn snapshot(source_cluster: &str, ts: i64, rq_total: u64) -> RawSnapshot {
        let text = format!(
            r#"{{"cluster_statuses": [{{"name": "outbound|80||x.ns.svc.cluster.local",
              "host_statuses": [{{"address": {{"socket_address": {{"address": "10.0.0.1", "port_value": 80}}}},
              "stats": [{{"name": "rq_total", "value": "{rq_total}"}}]}}]}}]}}"#
        );
        RawSnapshot {
            source_cluster: Some(Arc::from(source_cluster)),
            proxy: "gw".into(),
            kind: AdminKind::ClustersJson,
            url: "http://gw:15000/clusters?format=json".into(),
            ts,
            text,
        }
    }

    fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
        batch.column_by_name(name).unwrap().as_any().downcast_ref::<T>().unwrap()
    }

    #[test]
    fn the_counters_of_every_source_cluster_carry_over_to_the_next_round() {
        let topology = Arc::new(Topology::default());
        let first = vec![snapshot("b", 10, 7), snapshot("a", 10, 5)];
        let round1 = stats_commit(&topology, CounterState::default(), first).unwrap();
        assert_eq!(round1.stats.endpoint_stats.num_rows(), 2);
        let second = vec![snapshot("a", 20, 8), snapshot("b", 20, 10)];
        let round2 = stats_commit(&topology, round1.counters, second).unwrap();
        let rows = &round2.stats.endpoint_stats;
        let clusters = column::<StringArray>(rows, "source_cluster");
        let deltas = column::<Int64Array>(rows, "rq_total_delta");
        assert_eq!((clusters.value(0), deltas.value(0)), ("a", 3));
        assert_eq!((clusters.value(1), deltas.value(1)), ("b", 3));
        assert_eq!(decode_counters(&round2.stats.counter_state).unwrap(), round2.counters);
        assert_eq!(round2.counts.dumps_by_kind["clusters-json"], 2);
        assert_eq!(round2.rejects.num_rows(), 0);
    }
}
