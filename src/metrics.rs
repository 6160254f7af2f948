//! `meshlog serve`'s Prometheus metrics (`GET /metrics`, the `prometheus` crate's
//! text format). Every name is `meshlog_<stage>_<thing>_<unit|total>`, and every
//! label is bounded as PRODUCT.md §5 asks — source cluster, service, dst_cluster,
//! locality, code class, response flag, Envoy cluster, health, reporting source,
//! reject reason, scrape target, HTTP route — never a request, a path or a pod IP.
//! Three owners feed them: the pipeline's stages (as each batch reaches the failover
//! detector: the open episodes; the endpoints of admin snapshots), the server (the
//! traffic of the request rows and the lines stored and rejected, counted by the
//! WAL's writer once durable; HTTP answers, the queue, the WAL, commits and
//! compactions) and the scraper (failures and reachability per target). The
//! process's own `process_*` metrics (CPU, memory, files) come with them.

pub mod traffic;

use prometheus::core::Collector;
use prometheus::{
    Gauge, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Latency buckets in seconds: from a sidecar hop to a timeout.
const LATENCY_BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Commit and compaction durations in seconds.
const WORK_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Log times this far past the wall clock are a skewed clock, not freshness.
const FUTURE_TOLERANCE_S: f64 = 300.0;

/// Every metric `meshlog serve` exposes.
pub struct Metrics {
    registry: Registry,
    /// `meshlog_mesh_requests_total`.
    pub requests: IntCounterVec,
    /// `meshlog_mesh_response_flags_total`.
    pub response_flags: IntCounterVec,
    /// `meshlog_mesh_request_duration_seconds`.
    pub request_duration: HistogramVec,
    /// `meshlog_failover_episode_open`.
    pub failover_open: IntGaugeVec,
    /// `meshlog_failover_episodes_started_total`.
    pub failovers_started: IntCounterVec,
    /// `meshlog_snapshot_endpoint_hosts`.
    pub endpoint_hosts: IntGaugeVec,
    /// `meshlog_ingest_lines_total`.
    pub lines: IntCounterVec,
    /// `meshlog_ingest_rejected_lines_total`.
    pub rejected_lines: IntCounterVec,
    /// `meshlog_http_requests_total`.
    pub http_requests: IntCounterVec,
    /// `meshlog_pipeline_queue_batches`.
    pub queue_batches: IntGauge,
    /// `meshlog_sink_memory_rows`.
    pub rows_in_memory: IntGauge,
    /// `meshlog_wal_disk_bytes`.
    pub wal_bytes: IntGauge,
    /// `meshlog_commit_duration_seconds`.
    pub commit_duration: Histogram,
    /// `meshlog_compaction_duration_seconds`.
    pub compaction_duration: Histogram,
    /// `meshlog_commit_last_timestamp_seconds`.
    pub last_commit: Gauge,
    /// `meshlog_commit_newest_row_timestamp_seconds`.
    pub newest_committed_row: Gauge,
    /// `meshlog_scrape_failures_total`.
    pub scrape_failures: IntCounterVec,
    /// `meshlog_scrape_target_up`.
    pub scrape_up: IntGaugeVec,
}

impl Metrics {
    /// Every metric at zero, registered.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let r = Registry::new();
        let metrics = Metrics {
            requests: counter_vec(
                &r,
                "meshlog_mesh_requests_total",
                "Requests stored, by where they were served and their code class.",
                &[
                    "source_cluster",
                    "service",
                    "dst_cluster",
                    "locality",
                    "via_gateway",
                    "code_class",
                ],
            )?,
            response_flags: counter_vec(
                &r,
                "meshlog_mesh_response_flags_total",
                "Requests stored with each Envoy response flag (short names; other for the rest).",
                &["source_cluster", "service", "flag"],
            )?,
            request_duration: histogram_vec(
                &r,
                "meshlog_mesh_request_duration_seconds",
                "Request duration (%DURATION%) of the requests stored, by locality.",
                &LATENCY_BUCKETS,
                &["source_cluster", "locality"],
            )?,
            failover_open: gauge_vec(
                &r,
                "meshlog_failover_episode_open",
                "1 while a failover episode of the service is open, by the cluster serving it.",
                &["source_cluster", "service", "target_cluster"],
            )?,
            failovers_started: counter_vec(
                &r,
                "meshlog_failover_episodes_started_total",
                "Failover episodes the detector opened since the server started.",
                &["source_cluster", "service"],
            )?,
            endpoint_hosts: gauge_vec(
                &r,
                "meshlog_snapshot_endpoint_hosts",
                "Endpoints in the last admin snapshots of each source cluster's proxies, by Envoy cluster, health and priority.",
                &["source_cluster", "envoy_cluster", "health", "priority"],
            )?,
            lines: counter_vec(
                &r,
                "meshlog_ingest_lines_total",
                "Access-log lines made durable, by source kind and outcome (stored or rejected).",
                &["source", "outcome"],
            )?,
            rejected_lines: counter_vec(
                &r,
                "meshlog_ingest_rejected_lines_total",
                "Lines kept in the rejects table, by source kind and reason.",
                &["source", "reason"],
            )?,
            http_requests: counter_vec(
                &r,
                "meshlog_http_requests_total",
                "HTTP requests answered, by route and status code.",
                &["route", "code"],
            )?,
            queue_batches: int_gauge(
                &r,
                "meshlog_pipeline_queue_batches",
                "Batches waiting in the pipeline's queue.",
            )?,
            rows_in_memory: int_gauge(
                &r,
                "meshlog_sink_memory_rows",
                "Rows durable in the WAL and not yet in Parquet.",
            )?,
            wal_bytes: int_gauge(
                &r,
                "meshlog_wal_disk_bytes",
                "Bytes in the write-ahead log's segments on disk.",
            )?,
            commit_duration: histogram(
                &r,
                "meshlog_commit_duration_seconds",
                "Time to make a staged commit durable and visible.",
                &WORK_BUCKETS,
            )?,
            compaction_duration: histogram(
                &r,
                "meshlog_compaction_duration_seconds",
                "Time to merge one partition's small files.",
                &WORK_BUCKETS,
            )?,
            last_commit: gauge(
                &r,
                "meshlog_commit_last_timestamp_seconds",
                "When the last commit of access-log rows was made (Unix time; 0 before the first).",
            )?,
            newest_committed_row: gauge(
                &r,
                "meshlog_commit_newest_row_timestamp_seconds",
                "Log time of the newest request row committed since the start (Unix time; 0 before the first); time() minus it is the freshness lag.",
            )?,
            scrape_failures: counter_vec(
                &r,
                "meshlog_scrape_failures_total",
                "Failed scrapes of an Envoy admin target.",
                &["target"],
            )?,
            scrape_up: gauge_vec(
                &r,
                "meshlog_scrape_target_up",
                "1 when the last scrape of the target succeeded, else 0.",
                &["target"],
            )?,
            registry: r,
        };
        // Present at 0 from the start, so that "nothing stored since the start" shows
        // (and alerts) instead of being absent.
        for source in ["http", "file"] {
            for outcome in ["stored", "rejected"] {
                metrics.lines.with_label_values(&[source, outcome]);
            }
        }
        metrics.register_process()?;
        Ok(metrics)
    }

    /// The process's `process_*` metrics, where the platform has them.
    fn register_process(&self) -> Result<(), prometheus::Error> {
        #[cfg(target_os = "linux")]
        {
            let process = prometheus::process_collector::ProcessCollector::for_self();
            self.registry.register(Box::new(process))?;
        }
        Ok(())
    }

    /// A commit that took `took` to publish, whose newest request row (if it held
    /// any) is of log time `newest_row` (µs). Only commits of requests move the
    /// freshness gauges (not those of snapshots or compactions), and a row stamped
    /// in the future (a skewed clock) does not.
    pub fn committed(&self, took: std::time::Duration, newest_row: Option<i64>) {
        self.commit_duration.observe(took.as_secs_f64());
        let Some(micros) = newest_row else { return };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let now = now.map_or(0.0, |now| now.as_secs_f64());
        self.last_commit.set(now);
        let seconds = micros as f64 / 1e6;
        if seconds > self.newest_committed_row.get() && seconds <= now + FUTURE_TOLERANCE_S {
            self.newest_committed_row.set(seconds);
        }
    }

    /// Every metric, in Prometheus' text format.
    pub fn encode(&self) -> Result<String, prometheus::Error> {
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}

fn register<C: Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> Result<C, prometheus::Error> {
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

fn gauge_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntGaugeVec, prometheus::Error> {
    register(registry, IntGaugeVec::new(Opts::new(name, help), labels)?)
}

fn int_gauge(registry: &Registry, name: &str, help: &str) -> Result<IntGauge, prometheus::Error> {
    register(registry, IntGauge::new(name, help)?)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Result<Gauge, prometheus::Error> {
    register(registry, Gauge::new(name, help)?)
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
) -> Result<Histogram, prometheus::Error> {
    let options = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    register(registry, Histogram::with_opts(options)?)
}

fn histogram_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
    labels: &[&str],
) -> Result<HistogramVec, prometheus::Error> {
    let options = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    register(registry, HistogramVec::new(options, labels)?)
}
