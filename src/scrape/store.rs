//! A round's responses, on their way to the pipeline: [`into_groups`] parses them and
//! groups them by reporting cluster, the shape the pipeline's snapshot stage takes
//! ([`crate::stats::commit`]); the pipeline turns them into rows against its counter
//! state, as it does for dump files given to `meshlog ingest`. Nothing here resumes by
//! file offset, so a round reaches no checkpoint.

use std::collections::BTreeMap;
use std::sync::Arc;

use meshlog_parsers::admin::AdminKind;

use crate::stats::StatsCounts;
use crate::stats::commit::SnapshotGroup;
use crate::stats::dump::Dump;
use crate::storage::committer::CommitStats;

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

/// Parses a round's snapshots into one group per source cluster, each in time order.
pub fn into_groups(snapshots: Vec<RawSnapshot>) -> Vec<SnapshotGroup> {
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
        .into_iter()
        .map(|(source_cluster, dumps)| SnapshotGroup { source_cluster, dumps })
        .collect()
}

/// What storing a round did.
#[derive(Debug, Default)]
pub struct RoundStored {
    pub counts: StatsCounts,
    pub stored: CommitStats,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use arrow::array::{Array, Int64Array, StringArray};
    use arrow::record_batch::RecordBatch;

    use super::*;
    use crate::enrich::Topology;
    use crate::stats::commit::{decode_counters, snapshot_rows};
    use crate::stats::counters::CounterState;

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
        let round1 = snapshot_rows(&topology, CounterState::default(), into_groups(first)).unwrap();
        assert_eq!(round1.stats.endpoint_stats.num_rows(), 2);
        let second = vec![snapshot("a", 20, 8), snapshot("b", 20, 10)];
        let round2 = snapshot_rows(&topology, round1.counters, into_groups(second)).unwrap();
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
