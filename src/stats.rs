//! Admin snapshots in, `endpoint_stats` and `cluster_stats` rows out. The
//! [`StatsProcessor`] owns this stage as [`crate::process::Processor`] owns it for
//! access logs: it takes each parsed [`Dump`] (in time order), splits Envoy cluster
//! names into service and subset, tags every host `local` / `cross_cluster` /
//! `external` with the same [`Enricher`] as requests, turns counters into deltas
//! ([`counters`]), and keeps every part of a dump its parser could not read as a
//! reject with its line and reason.

pub mod commit;
pub mod counters;
pub mod dump;
pub mod evidence;
pub mod rows;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use meshlog_parsers::admin::{HostStatus, ShardEndpoint, StatKind, StatSample};
use meshlog_parsers::{ClusterName, Direction};

use crate::enrich::{Enricher, Locality, Topology};
use crate::process::rejects::{RejectRow, RejectsBuilder};
use crate::storage::StorageError;
use commit::StatsCommit;
use counters::{CounterState, key};
use dump::{Dump, DumpContent};
use evidence::{LocalEndpointsFailed, SnapshotHosts};
use rows::{DELTA_COUNTERS, EndpointRow, StatRow, endpoint_batch, stat_batch};

/// The reason code of a dump that could not be read at all.
pub const UNREADABLE_DUMP: &str = "unreadable_dump";

/// Counts for the summary.
#[derive(Debug, Default, Clone)]
pub struct StatsCounts {
    /// Snapshots read, by kind (`clusters-json`, `stats`…).
    pub dumps_by_kind: BTreeMap<&'static str, u64>,
    pub endpoint_rows: u64,
    pub stat_rows: u64,
    /// Hosts or statistics whose counters went down since the previous snapshot.
    pub resets: u64,
    pub rejected_by_reason: BTreeMap<&'static str, u64>,
}

impl StatsCounts {
    /// Adds another processor's counts.
    pub fn add(&mut self, part: StatsCounts) {
        for (kind, count) in part.dumps_by_kind {
            *self.dumps_by_kind.entry(kind).or_default() += count;
        }
        for (reason, count) in part.rejected_by_reason {
            *self.rejected_by_reason.entry(reason).or_default() += count;
        }
        self.endpoint_rows += part.endpoint_rows;
        self.stat_rows += part.stat_rows;
        self.resets += part.resets;
    }
}

/// Turns snapshots of one reporting cluster's proxies into rows.
pub struct StatsProcessor {
    topology: Arc<Topology>,
    source_cluster: Option<Arc<str>>,
    counters: CounterState,
    endpoints: Vec<EndpointRow>,
    stats: Vec<StatRow>,
    rejects: RejectsBuilder,
    ts_ingested: i64,
    counts: StatsCounts,
    /// What the snapshots said of services' local endpoints, for the failover detector.
    evidence: Vec<LocalEndpointsFailed>,
}

impl StatsProcessor {
    /// A processor resuming from `counters`, the state the last commit saved.
    pub fn new(
        topology: Arc<Topology>,
        source_cluster: Option<Arc<str>>,
        counters: CounterState,
    ) -> Self {
        StatsProcessor {
            topology,
            source_cluster,
            counters,
            endpoints: Vec::new(),
            stats: Vec::new(),
            rejects: RejectsBuilder::default(),
            ts_ingested: chrono::Utc::now().timestamp_micros(),
            counts: StatsCounts::default(),
            evidence: Vec::new(),
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> &StatsCounts {
        &self.counts
    }

    /// Adds the rows of one snapshot; snapshots of a proxy must come in time order
    /// for their deltas (an older one gets none).
    pub fn add(&mut self, dump: &Dump) {
        *self.counts.dumps_by_kind.entry(dump.kind.as_str()).or_default() += 1;
        for issue in dump.issues() {
            let line = u64::try_from(issue.line).unwrap_or(u64::MAX);
            let error = issue.message.clone();
            self.reject(&dump.source, line, issue.reason, &error, issue.excerpt.as_bytes());
        }
        match &dump.content {
            DumpContent::Clusters(clusters) => {
                let mut snapshot = SnapshotHosts::default();
                clusters.hosts.iter().for_each(|host| self.host(dump, host, &mut snapshot));
                self.note_evidence(dump, snapshot);
            }
            DumpContent::Stats(stats) => {
                stats.samples.iter().for_each(|sample| self.sample(dump, sample));
            }
            DumpContent::Shardz(shardz) => {
                shardz.endpoints.iter().for_each(|endpoint| self.shard_endpoint(dump, endpoint));
            }
            DumpContent::Unreadable(error) => {
                let why = format!("cannot read this {} dump: {error}", dump.kind.as_str());
                self.reject(&dump.source, 0, UNREADABLE_DUMP, &why, b"");
            }
        }
    }

    /// What snapshots said so far of services' local endpoints failing or leaving.
    pub fn take_evidence(&mut self) -> Vec<LocalEndpointsFailed> {
        std::mem::take(&mut self.evidence)
    }

    fn note_evidence(&mut self, dump: &Dump, snapshot: SnapshotHosts) {
        let Some(source) = self.source_cluster.clone() else { return };
        let listed = self.counters.listed_mut();
        let found = snapshot.evidence(&source, dump.proxy.as_deref(), dump.ts, listed);
        self.evidence.extend(found);
    }

    fn reject(&mut self, source: &str, line: u64, reason: &'static str, error: &str, raw: &[u8]) {
        *self.counts.rejected_by_reason.entry(reason).or_default() += 1;
        self.rejects.append(&RejectRow {
            ts_ingested: self.ts_ingested,
            source_cluster: self.source_cluster.as_deref(),
            source,
            offset: 0,
            line,
            lines: 1,
            reason,
            error,
            raw,
        });
    }

    /// Tags hosts as seen from the source cluster, exactly as requests are.
    fn enricher(&self) -> Enricher<'_> {
        let source = self.source_cluster.as_deref().and_then(|name| self.topology.id(name));
        Enricher::new(&self.topology, source)
    }

    fn host(&mut self, dump: &Dump, host: &HostStatus, snapshot: &mut SnapshotHosts) {
        let cluster = ClusterName::parse(&host.envoy_cluster);
        let tags = self.enricher().enrich_host(Some(&host.address), Some(cluster));
        if let Some(service) = cluster.service.filter(|_| cluster.direction != Direction::Inbound) {
            let local = tags.locality == Locality::Local && host.priority.unwrap_or(0) == 0;
            let unhealthy = host.is_healthy() == Some(false);
            snapshot.add(cluster.name, service, &host.address, local, unhealthy);
        }
        let counters = [
            host.cx_active,
            host.cx_connect_fail,
            host.cx_total,
            host.rq_active,
            host.rq_total,
            host.rq_error,
            host.rq_success,
            host.rq_timeout,
        ]
        .map(|value| value.map(|count| i64::try_from(count).unwrap_or(i64::MAX)));
        let readings =
            [host.cx_connect_fail, host.rq_total, host.rq_error, host.rq_success, host.rq_timeout]
                .map(|value| value.map(|count| count as f64));
        let state_key = key(&[
            self.source_cluster.as_deref(),
            dump.proxy.as_deref(),
            Some(cluster.name),
            Some(&host.address),
        ]);
        let delta = self.counters.observe(state_key, dump.ts, &readings);
        self.counts.resets += u64::from(delta.reset);
        let mut deltas = [None; DELTA_COUNTERS.len()];
        for (slot, value) in deltas.iter_mut().zip(&delta.values) {
            *slot = value.map(|increase| increase as i64);
        }
        let row = EndpointRow {
            ts: dump.ts,
            source_cluster: self.source_cluster.clone(),
            proxy: dump.proxy.clone(),
            dump_kind: dump.kind.as_str(),
            envoy_cluster: Some(cluster.name.to_owned()),
            service: cluster.service.map(str::to_owned),
            subset: cluster.subset.map(str::to_owned),
            host: host.address.clone(),
            hostname: host.hostname.clone(),
            health_flags: host.health_flags.clone(),
            healthy: host.is_healthy(),
            priority: host.priority.map(|priority| i32::try_from(priority).unwrap_or(i32::MAX)),
            region: host.region.clone(),
            zone: host.zone.clone(),
            sub_zone: host.sub_zone.clone(),
            weight: host.weight.map(|weight| i32::try_from(weight).unwrap_or(i32::MAX)),
            counters,
            deltas,
            counter_reset: delta.reset,
            success_rate: host.success_rate,
            locality: tags.locality.as_str(),
            dst_cluster: tags.dst_cluster.map(|id| self.topology.name(id).clone()),
            via_gateway: tags.via_gateway,
        };
        self.endpoints.push(row);
        self.counts.endpoint_rows += 1;
    }

    /// An endpoint as istiod knows it: where it runs comes from its shard, and the
    /// topology only where the shard does not say.
    fn shard_endpoint(&mut self, dump: &Dump, endpoint: &ShardEndpoint) {
        let host = match endpoint.port {
            Some(port) if endpoint.address.contains(':') => {
                format!("[{}]:{port}", endpoint.address)
            }
            Some(port) => format!("{}:{port}", endpoint.address),
            None => endpoint.address.clone(),
        };
        let tags = self.enricher().enrich_host(Some(&host), None);
        let shard_cluster: Option<Arc<str>> = endpoint.cluster.as_deref().map(Arc::from);
        let dst_cluster =
            shard_cluster.or_else(|| tags.dst_cluster.map(|id| self.topology.name(id).clone()));
        let locality = match (&dst_cluster, &self.source_cluster) {
            (Some(dst), Some(own)) if dst == own => Locality::Local,
            (Some(_), Some(_)) => Locality::CrossCluster,
            _ => tags.locality,
        };
        let row = EndpointRow {
            ts: dump.ts,
            source_cluster: self.source_cluster.clone(),
            proxy: dump.proxy.clone(),
            dump_kind: dump.kind.as_str(),
            service: Some(endpoint.service.clone()),
            host,
            health_flags: endpoint
                .healthy
                .map(|healthy| if healthy { "healthy" } else { "unhealthy" }.to_owned()),
            healthy: endpoint.healthy,
            region: endpoint.region.clone(),
            zone: endpoint.zone.clone(),
            sub_zone: endpoint.sub_zone.clone(),
            locality: locality.as_str(),
            dst_cluster,
            via_gateway: false,
            ..EndpointRow::default()
        };
        self.endpoints.push(row);
        self.counts.endpoint_rows += 1;
    }

    fn sample(&mut self, dump: &Dump, sample: &StatSample) {
        let cluster = sample.envoy_cluster.as_deref().map(ClusterName::parse);
        let (delta, reset) = if sample.kind == StatKind::Counter {
            let state_key = key(&[
                self.source_cluster.as_deref(),
                dump.proxy.as_deref(),
                sample.envoy_cluster.as_deref(),
                Some(&sample.stat),
            ]);
            let delta = self.counters.observe(state_key, dump.ts, &[sample.value]);
            (delta.values.first().copied().flatten(), delta.reset)
        } else {
            (None, false)
        };
        self.counts.resets += u64::from(reset);
        self.stats.push(StatRow {
            ts: dump.ts,
            source_cluster: self.source_cluster.clone(),
            proxy: dump.proxy.clone(),
            dump_kind: dump.kind.as_str(),
            envoy_cluster: cluster.map(|cluster| cluster.name.to_owned()),
            service: cluster.and_then(|cluster| cluster.service).map(str::to_owned),
            stat: sample.stat.clone(),
            kind: sample.kind.as_str(),
            value: sample.value,
            delta,
            counter_reset: reset,
            text: sample.text.clone(),
        });
        self.counts.stat_rows += 1;
    }

    /// The rows built, the rejects, and the counter state to save with them.
    pub fn finish(mut self) -> Result<(StatsCommit, RecordBatch, StatsCounts), StorageError> {
        let counter_state = serde_json::to_vec(&self.counters)
            .map_err(|source| StorageError::State { what: "counter", source })?;
        let commit = StatsCommit {
            endpoint_stats: endpoint_batch(&self.endpoints)?,
            cluster_stats: stat_batch(&self.stats)?,
            counter_state,
        };
        Ok((commit, self.rejects.finish()?, self.counts))
    }
}
