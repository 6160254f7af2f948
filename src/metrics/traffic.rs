//! The mesh's traffic as metrics: request rows tallied by their bounded labels
//! ([`count_requests`], once a batch is durable), the failover episodes open and
//! started ([`FailoverGauges`], after each batch reaches the detector), and the
//! endpoints of each source cluster's last admin snapshot ([`EndpointGauges`]).
//! Rows are tallied per batch first, so a metric is touched once per label set and
//! batch, not once per row (the latency histogram excepted: one observation a row).

use std::collections::{HashMap, HashSet};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type};
use arrow::error::ArrowError;

use super::Metrics;
use meshlog_parsers::ResponseFlags;

use crate::analytics::failover::Episode;
use crate::fast_hash::FastMap;
use crate::process::observations::Strings;

/// A label for a value the row does not have.
const UNKNOWN: &str = "unknown";

/// A column of `batch` by name, or an error naming it.
fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, ArrowError> {
    let found = batch.column_by_name(name).map(|array| array.as_ref());
    found.ok_or_else(|| ArrowError::SchemaError(format!("the batch has no column {name}")))
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<Strings<'a>, ArrowError> {
    Strings::of(name, column(batch, name)?)
}

/// `2xx` for 204; `none` when there was no response code (0 or missing).
fn code_class(code: Option<i32>) -> &'static str {
    match code.unwrap_or(0) / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        _ => "none",
    }
}

/// The labels of `meshlog_mesh_requests_total`, borrowed from the batch.
type RequestLabels<'a> = [&'a str; 6];

/// Adds the rows of a durable `requests` batch to the traffic metrics.
pub fn count_requests(metrics: &Metrics, requests: &RecordBatch) -> Result<(), ArrowError> {
    let source_cluster = strings(requests, "source_cluster")?;
    let service = strings(requests, "service")?;
    let dst_cluster = strings(requests, "dst_cluster")?;
    let locality = strings(requests, "locality")?;
    let flags = strings(requests, "response_flags")?;
    let via_gateway = column(requests, "via_gateway")?.as_boolean_opt();
    let code = column(requests, "response_code")?.as_primitive_opt::<Int32Type>();
    let duration = column(requests, "duration_ms")?.as_primitive_opt::<Int64Type>();
    let mut by_labels: FastMap<RequestLabels<'_>, u64> = FastMap::default();
    let mut by_flags: FastMap<[&str; 3], u64> = FastMap::default();
    let mut histograms = FastMap::default();
    for row in 0..requests.num_rows() {
        let cluster = source_cluster.value(row).unwrap_or(UNKNOWN);
        let service = service.value(row).unwrap_or(UNKNOWN);
        let locality = locality.value(row).unwrap_or(UNKNOWN);
        let gateway = via_gateway.is_some_and(|column| column.is_valid(row) && column.value(row));
        let code = code.and_then(|column| column.is_valid(row).then(|| column.value(row)));
        let labels = [
            cluster,
            service,
            dst_cluster.value(row).unwrap_or(UNKNOWN),
            locality,
            if gateway { "true" } else { "false" },
            code_class(code),
        ];
        *by_labels.entry(labels).or_default() += 1;
        if let Some(flags) = flags.value(row).filter(|flags| *flags != "-" && !flags.is_empty()) {
            *by_flags.entry([cluster, service, flags]).or_default() += 1;
        }
        if let Some(ms) =
            duration.and_then(|column| column.is_valid(row).then(|| column.value(row)))
        {
            let histogram = histograms.entry((cluster, locality)).or_insert_with(|| {
                metrics.request_duration.with_label_values(&[cluster, locality])
            });
            histogram.observe(ms as f64 / 1000.0);
        }
    }
    for (labels, count) in by_labels {
        metrics.requests.with_label_values(&labels).inc_by(count);
    }
    for ([cluster, service, flags], count) in by_flags {
        for flag in flag_labels(flags) {
            metrics.response_flags.with_label_values(&[cluster, service, flag]).inc_by(count);
        }
    }
    Ok(())
}

/// The `flag` labels of a `response_flags` value: each known Envoy flag by its
/// short name (long names too: `NoHealthyUpstream` is `UH`), and `other` once for
/// anything else (a custom field, a format mismatch), so the label stays bounded.
fn flag_labels(flags: &str) -> impl Iterator<Item = &'static str> {
    let known = ResponseFlags::parse(flags).names();
    let other = ResponseFlags::unknown(flags).next().map(|_| "other");
    known.chain(other)
}

/// Adds a durable `rejects` batch to the reject counters of `source`.
pub fn count_rejects(
    metrics: &Metrics,
    source: &str,
    rejects: &RecordBatch,
) -> Result<(), ArrowError> {
    let reason = strings(rejects, "reason")?;
    let mut by_reason: HashMap<&str, u64> = HashMap::new();
    for row in 0..rejects.num_rows() {
        *by_reason.entry(reason.value(row).unwrap_or(UNKNOWN)).or_default() += 1;
    }
    for (reason, count) in by_reason {
        metrics.rejected_lines.with_label_values(&[source, reason]).inc_by(count);
    }
    Ok(())
}

/// Which episode: (source cluster, service, start in µs).
type EpisodeKey = (String, String, i64);

/// `meshlog_failover_episode_open` and `meshlog_failover_episodes_started_total`, kept in step with
/// the detector's episodes.
#[derive(Default)]
pub struct FailoverGauges {
    known: HashSet<EpisodeKey>,
    open: HashSet<[String; 3]>,
}

impl FailoverGauges {
    /// Knows `episodes` (those found on start), so that only later ones count as
    /// started, and shows the open ones.
    pub fn new(metrics: &Metrics, episodes: &[Episode]) -> FailoverGauges {
        let known = episodes.iter().map(key).collect();
        let mut gauges = FailoverGauges { known, open: HashSet::new() };
        gauges.show_open(metrics, episodes);
        gauges
    }

    /// Counts the episodes not seen before and shows which are open now.
    pub fn update(&mut self, metrics: &Metrics, episodes: &[Episode]) {
        for episode in episodes {
            if self.known.insert(key(episode)) {
                let labels = [episode.source_cluster.as_str(), episode.service.as_str()];
                metrics.failovers_started.with_label_values(&labels).inc();
            }
        }
        self.show_open(metrics, episodes);
    }

    fn show_open(&mut self, metrics: &Metrics, episodes: &[Episode]) {
        let open: HashSet<[String; 3]> = episodes
            .iter()
            .filter(|episode| episode.ended_at_micros.is_none())
            .map(|episode| {
                let target = episode.target_cluster.as_deref().unwrap_or(UNKNOWN);
                [episode.source_cluster.clone(), episode.service.clone(), target.to_owned()]
            })
            .collect();
        for ended in self.open.difference(&open) {
            let _ = metrics.failover_open.remove_label_values(ended);
        }
        for labels in &open {
            metrics.failover_open.with_label_values(labels).set(1);
        }
        self.open = open;
    }
}

fn key(episode: &Episode) -> EpisodeKey {
    (episode.source_cluster.clone(), episode.service.clone(), episode.started_at_micros)
}

/// The hosts of one snapshot (or of a source cluster), by Envoy cluster, health and
/// priority.
type HostsByLabels = HashMap<[String; 3], HashSet<String>>;

/// `meshlog_snapshot_endpoint_hosts`: each proxy's last snapshot, and the series shown per
/// source cluster (the union of its proxies' last snapshots, so that proxies
/// scraped in different rounds, or one failing, do not make the series flap).
#[derive(Default)]
pub struct EndpointGauges {
    by_proxy: HashMap<(String, String), HostsByLabels>,
    shown: HashMap<String, HashSet<[String; 3]>>,
}

impl EndpointGauges {
    /// Takes the snapshots of an `endpoint_stats` batch as each proxy's last, and
    /// shows, for each source cluster they are of, the distinct hosts by Envoy
    /// cluster, health and priority over all its proxies.
    pub fn update(&mut self, metrics: &Metrics, endpoints: &RecordBatch) -> Result<(), ArrowError> {
        let snapshots = snapshots(endpoints)?;
        let clusters: HashSet<String> =
            snapshots.keys().map(|(cluster, _)| cluster.clone()).collect();
        self.by_proxy.extend(snapshots);
        for cluster in clusters {
            self.show(metrics, &cluster);
        }
        Ok(())
    }

    fn show(&mut self, metrics: &Metrics, cluster: &str) {
        let mut hosts: HashMap<&[String; 3], HashSet<&str>> = HashMap::new();
        let proxies = self.by_proxy.iter().filter(|((of, _), _)| of == cluster);
        for (labels, found) in proxies.flat_map(|(_, by_labels)| by_labels) {
            hosts.entry(labels).or_default().extend(found.iter().map(String::as_str));
        }
        let shown = self.shown.entry(cluster.to_owned()).or_default();
        for [envoy_cluster, health, priority] in shown.iter() {
            if !hosts.contains_key(&[envoy_cluster.clone(), health.clone(), priority.clone()]) {
                let labels = [cluster, envoy_cluster, health, priority];
                let _ = metrics.endpoint_hosts.remove_label_values(&labels);
            }
        }
        for ([envoy_cluster, health, priority], found) in &hosts {
            let labels = [cluster, envoy_cluster, health, priority];
            metrics.endpoint_hosts.with_label_values(&labels).set(found.len() as i64);
        }
        *shown = hosts.into_keys().cloned().collect();
    }
}

/// The hosts each (source cluster, proxy) of an `endpoint_stats` batch reported.
fn snapshots(
    endpoints: &RecordBatch,
) -> Result<HashMap<(String, String), HostsByLabels>, ArrowError> {
    let source_cluster = strings(endpoints, "source_cluster")?;
    let proxy = strings(endpoints, "proxy")?;
    let envoy_cluster = strings(endpoints, "envoy_cluster")?;
    let host = strings(endpoints, "host")?;
    let healthy = column(endpoints, "healthy")?.as_boolean_opt();
    let priority = column(endpoints, "priority")?.as_primitive_opt::<Int32Type>();
    let mut found: HashMap<(String, String), HostsByLabels> = HashMap::new();
    for row in 0..endpoints.num_rows() {
        let health = match healthy.filter(|column| column.is_valid(row)) {
            Some(column) if column.value(row) => "healthy",
            Some(_) => "unhealthy",
            None => UNKNOWN,
        };
        let priority =
            priority.and_then(|column| column.is_valid(row).then(|| column.value(row).to_string()));
        let labels = [
            envoy_cluster.value(row).unwrap_or(UNKNOWN).to_owned(),
            health.to_owned(),
            priority.unwrap_or_else(|| UNKNOWN.to_owned()),
        ];
        let snapshot = (
            source_cluster.value(row).unwrap_or(UNKNOWN).to_owned(),
            proxy.value(row).unwrap_or(UNKNOWN).to_owned(),
        );
        let hosts = found.entry(snapshot).or_default().entry(labels).or_default();
        hosts.insert(host.value(row).unwrap_or(UNKNOWN).to_owned());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, BooleanArray, Int32Array, Int64Array, StringArray};

    use super::*;

    fn text(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    /// The value of the series of `name` whose labels include all of `labels`.
    fn value(metrics: &Metrics, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let text = metrics.encode().unwrap();
        text.lines().filter(|line| line.starts_with(name)).find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            let matches = metric == name
                && labels.iter().all(|(key, val)| rest.contains(&format!("{key}=\"{val}\"")));
            matches.then(|| value.parse().unwrap())
        })
    }

    #[test]
    fn requests_are_counted_by_their_labels_flags_and_latency() {
        let batch = RecordBatch::try_from_iter([
            ("source_cluster", text(&[Some("cluster1"); 3])),
            ("service", text(&[Some("reviews"), Some("reviews"), None])),
            ("dst_cluster", text(&[Some("cluster2"), Some("cluster1"), None])),
            ("locality", text(&[Some("cross_cluster"), Some("local"), Some("unknown")])),
            ("response_flags", text(&[Some("-"), Some("UH,URX"), Some("NoRouteFound,X9")])),
            ("via_gateway", Arc::new(BooleanArray::from(vec![true, false, false])) as ArrayRef),
            ("response_code", Arc::new(Int32Array::from(vec![Some(200), Some(503), None]))),
            ("duration_ms", Arc::new(Int64Array::from(vec![Some(12), Some(3000), None]))),
        ])
        .unwrap();
        let metrics = Metrics::new().unwrap();
        count_requests(&metrics, &batch).unwrap();
        count_requests(&metrics, &batch).unwrap();
        let cross = [("dst_cluster", "cluster2"), ("via_gateway", "true"), ("code_class", "2xx")];
        assert_eq!(value(&metrics, "meshlog_mesh_requests_total", &cross), Some(2.0));
        let failed = [("locality", "local"), ("code_class", "5xx")];
        assert_eq!(value(&metrics, "meshlog_mesh_requests_total", &failed), Some(2.0));
        let unnamed = [("service", "unknown"), ("code_class", "none")];
        assert_eq!(value(&metrics, "meshlog_mesh_requests_total", &unnamed), Some(2.0));
        for flag in ["UH", "URX", "NR", "other"] {
            let labels = [("flag", flag)];
            assert_eq!(value(&metrics, "meshlog_mesh_response_flags_total", &labels), Some(2.0));
        }
        let unknown = [("flag", "X9")];
        assert_eq!(value(&metrics, "meshlog_mesh_response_flags_total", &unknown), None, "bounded");
        assert_eq!(value(&metrics, "meshlog_mesh_response_flags_total", &[("flag", "-")]), None);
        let slow = [("locality", "local"), ("le", "2.5")];
        assert_eq!(
            value(&metrics, "meshlog_mesh_request_duration_seconds_bucket", &slow),
            Some(0.0)
        );
        let slow = [("locality", "local"), ("le", "5")];
        assert_eq!(
            value(&metrics, "meshlog_mesh_request_duration_seconds_bucket", &slow),
            Some(2.0)
        );
        let count = "meshlog_mesh_request_duration_seconds_count";
        assert_eq!(value(&metrics, count, &[("locality", "local")]), Some(2.0));
        let no_duration = [("locality", "unknown")];
        assert_eq!(value(&metrics, count, &no_duration), None, "a row without a duration");
    }

    fn episode(service: &str, started_at_micros: i64, ended: Option<i64>) -> Episode {
        Episode {
            source_cluster: "cluster1".into(),
            service: service.into(),
            upstream_cluster: None,
            target_cluster: Some("cluster2".into()),
            started_at_micros,
            confirmed_at_micros: started_at_micros,
            ended_at_micros: ended,
            duration_s: 0.0,
            requests: 0,
            cross_cluster_requests: 0,
            peak_cross_cluster_share: 0.0,
            baseline_cross_cluster_share: 0.0,
            errors_before: 0,
            errors_before_flags: None,
            errors_before_code: None,
        }
    }

    #[test]
    fn failovers_open_close_and_only_new_ones_count_as_started() {
        let metrics = Metrics::new().unwrap();
        let old = episode("ratings", 1, Some(2));
        let mut gauges = FailoverGauges::new(&metrics, std::slice::from_ref(&old));
        let open = [("service", "reviews"), ("target_cluster", "cluster2")];
        let started = [("service", "reviews")];
        gauges.update(&metrics, &[old.clone(), episode("reviews", 10, None)]);
        assert_eq!(value(&metrics, "meshlog_failover_episode_open", &open), Some(1.0));
        assert_eq!(value(&metrics, "meshlog_failover_episodes_started_total", &started), Some(1.0));
        let known_at_start = [("service", "ratings")];
        assert_eq!(
            value(&metrics, "meshlog_failover_episodes_started_total", &known_at_start),
            None
        );
        gauges.update(&metrics, &[old, episode("reviews", 10, Some(20))]);
        assert_eq!(
            value(&metrics, "meshlog_failover_episode_open", &open),
            None,
            "ended: series gone"
        );
        assert_eq!(value(&metrics, "meshlog_failover_episodes_started_total", &started), Some(1.0));
    }

    fn endpoints(proxy: &str, rows: &[(&str, bool, i32)]) -> RecordBatch {
        let column = |values: Vec<Option<&str>>| text(&values);
        RecordBatch::try_from_iter([
            ("source_cluster", column(rows.iter().map(|_| Some("cluster1")).collect())),
            ("proxy", column(rows.iter().map(|_| Some(proxy)).collect())),
            (
                "envoy_cluster",
                column(rows.iter().map(|_| Some("outbound|9080||reviews")).collect()),
            ),
            ("host", column(rows.iter().map(|row| Some(row.0)).collect())),
            (
                "healthy",
                Arc::new(BooleanArray::from(rows.iter().map(|row| row.1).collect::<Vec<_>>()))
                    as ArrayRef,
            ),
            (
                "priority",
                Arc::new(Int32Array::from(rows.iter().map(|row| row.2).collect::<Vec<_>>())),
            ),
        ])
        .unwrap()
    }

    #[test]
    fn endpoint_hosts_show_each_source_clusters_last_snapshot() {
        let metrics = Metrics::new().unwrap();
        let mut gauges = EndpointGauges::default();
        // Two proxies see the same healthy local host: it counts once.
        let local = ("10.0.0.1:9080", true, 0);
        let remote = ("10.1.0.1:15443", true, 1);
        gauges.update(&metrics, &endpoints("gateway-a", &[local, remote])).unwrap();
        gauges.update(&metrics, &endpoints("gateway-b", &[local])).unwrap();
        let local_healthy = [("health", "healthy"), ("priority", "0")];
        assert_eq!(value(&metrics, "meshlog_snapshot_endpoint_hosts", &local_healthy), Some(1.0));
        let remote_healthy = [("priority", "1")];
        assert_eq!(value(&metrics, "meshlog_snapshot_endpoint_hosts", &remote_healthy), Some(1.0));
        // The local host fails its checks, as each proxy's next snapshot says in
        // turn: the healthy series is gone once no proxy sees it healthy.
        let failed = ("10.0.0.1:9080", false, 0);
        gauges.update(&metrics, &endpoints("gateway-a", &[failed])).unwrap();
        assert_eq!(
            value(&metrics, "meshlog_snapshot_endpoint_hosts", &local_healthy),
            Some(1.0),
            "b's"
        );
        gauges.update(&metrics, &endpoints("gateway-b", &[failed])).unwrap();
        assert_eq!(value(&metrics, "meshlog_snapshot_endpoint_hosts", &local_healthy), None);
        assert_eq!(value(&metrics, "meshlog_snapshot_endpoint_hosts", &remote_healthy), None);
        let failing = [("health", "unhealthy"), ("priority", "0")];
        assert_eq!(value(&metrics, "meshlog_snapshot_endpoint_hosts", &failing), Some(1.0));
    }
}
