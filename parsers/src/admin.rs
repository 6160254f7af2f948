//! Envoy admin output and Istio endpoint dumps, read into plain rows. This file owns the
//! shared row types; [`detect`] tells the dumps apart by their content, and each input has
//! its own parser module:
//!
//! ```text
//! /stats (text)                 ─ stats_text::parse        ─▶ StatsDump   (StatSample rows)
//! /stats/prometheus             ─ prometheus::parse        ─▶ StatsDump
//! /clusters (text)              ─ clusters_text::parse     ─▶ ClustersDump (HostStatus rows
//! /clusters?format=json         ─ clusters_json::parse     ─▶ ClustersDump  + ClusterSetting)
//! istioctl proxy-config endpoints ─ istioctl::parse        ─▶ ClustersDump
//!   (-o json: clusters_json::parse; -o yaml: clusters_yaml::parse)
//! istiod /debug/endpointShardz  ─ shardz::parse            ─▶ ShardzDump  (ShardEndpoint rows)
//! ```
//!
//! Dumps are small next to access logs (a 5 MB `/clusters` JSON is a large one), so rows
//! own their strings. A dump is read leniently: a line or entry that makes no sense is
//! kept as an [`AdminIssue`] with its line number and reason, and the rest of the dump
//! is still read. Nothing here panics on any input.

use std::fmt;

pub mod clusters_json;
pub mod clusters_text;
pub mod clusters_yaml;
pub mod detect;
mod health_flags;
mod host_address;
pub mod istioctl;
pub mod prometheus;
pub mod shardz;
pub mod stats_text;

pub use detect::{AdminKind, detect};

/// What kind of value a statistic holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatKind {
    /// A monotonically increasing count (reset only by a proxy restart).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// One summary value of a histogram: a percentile, a bucket count, a sum or a count.
    Histogram,
    /// A text readout (`/stats` quotes it); its number is `None`.
    Text,
    /// Prometheus `untyped`, or a `/stats` value whose kind the name does not tell.
    Untyped,
}

impl StatKind {
    /// The lower-case name stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            StatKind::Counter => "counter",
            StatKind::Gauge => "gauge",
            StatKind::Histogram => "histogram",
            StatKind::Text => "text",
            StatKind::Untyped => "untyped",
        }
    }
}

/// One statistic of one proxy.
///
/// `stat` is the name with the cluster taken out, so the same statistic has the same
/// name in `/stats` and `/stats/prometheus`: `/stats` `cluster.<c>.upstream_rq_5xx: 3`
/// and Prometheus `envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",
/// envoy_cluster_name="<c>"} 3` are as close as the two layouts allow; the parser
/// modules document exactly how names and labels map.
#[derive(Debug, Clone, PartialEq)]
pub struct StatSample {
    /// The Envoy cluster the statistic belongs to (`cluster.<name>.…` or a
    /// `cluster_name`/`envoy_cluster_name` label), without Istio 1.23's trailing `;`.
    pub envoy_cluster: Option<String>,
    /// The statistic's name without the cluster part.
    pub stat: String,
    /// The number; `None` for text readouts and for `nan`.
    pub value: Option<f64>,
    /// The text of a text readout.
    pub text: Option<String>,
    pub kind: StatKind,
}

/// Everything read from one `/stats` or `/stats/prometheus` dump.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsDump {
    pub samples: Vec<StatSample>,
    pub issues: Vec<AdminIssue>,
}

/// One upstream host of one Envoy cluster, as `/clusters` (text or JSON) or istioctl
/// shows it. A field the dump does not carry is `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostStatus {
    /// The Envoy cluster name, without a trailing `;`.
    pub envoy_cluster: String,
    /// `ip:port` (IPv6 as `[ip]:port`), or `unix://<path>` for a pipe address.
    pub address: String,
    pub hostname: Option<String>,
    /// Envoy's text form: `healthy`, or flags such as `/failed_outlier_check/failed_eds_health`.
    /// JSON `health_status` and istioctl's STATUS/OUTLIER CHECK columns are rendered in
    /// this same form.
    pub health_flags: Option<String>,
    /// 0 for local endpoints; 1 and up for remote ones (east-west gateways).
    pub priority: Option<u32>,
    pub weight: Option<u32>,
    pub region: Option<String>,
    pub zone: Option<String>,
    pub sub_zone: Option<String>,
    pub canary: Option<bool>,
    pub cx_active: Option<u64>,
    pub cx_connect_fail: Option<u64>,
    pub cx_total: Option<u64>,
    pub rq_active: Option<u64>,
    pub rq_error: Option<u64>,
    pub rq_success: Option<u64>,
    pub rq_timeout: Option<u64>,
    pub rq_total: Option<u64>,
    /// Outlier detection's success rate, in percent; `None` when Envoy reports `-1` or
    /// omits it.
    pub success_rate: Option<f64>,
    pub local_origin_success_rate: Option<f64>,
}

impl HostStatus {
    /// Whether the flags say the host is healthy (`healthy`, or no flags at all).
    pub fn is_healthy(&self) -> Option<bool> {
        self.health_flags.as_deref().map(|flags| flags == "healthy" || flags.is_empty())
    }
}

/// A cluster-level `/clusters` line such as `default_priority::max_connections::1024`,
/// or the JSON equivalent (`added_via_api`, circuit breakers, outlier detection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSetting {
    pub envoy_cluster: String,
    /// The key, with nested parts joined by `::` as in the text form.
    pub key: String,
    pub value: String,
}

/// Everything read from one `/clusters` dump or istioctl endpoints table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClustersDump {
    pub hosts: Vec<HostStatus>,
    pub settings: Vec<ClusterSetting>,
    pub issues: Vec<AdminIssue>,
}

/// One endpoint of istiod's `/debug/endpointShardz`: what the control plane knows about
/// where it runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardEndpoint {
    /// The service FQDN (`reviews.default.svc.cluster.local`).
    pub service: String,
    pub namespace: Option<String>,
    /// The shard's cluster, from `Kubernetes/<cluster>` or the endpoint's `ClusterID`.
    pub cluster: Option<String>,
    /// The registry part of the shard key (`Kubernetes`, `External`…).
    pub registry: Option<String>,
    pub address: String,
    pub port: Option<u16>,
    pub network: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
    pub sub_zone: Option<String>,
    pub workload: Option<String>,
    /// Healthy unless istiod marks it otherwise.
    pub healthy: Option<bool>,
}

/// Everything read from one `endpointShardz` dump.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardzDump {
    pub endpoints: Vec<ShardEndpoint>,
    pub issues: Vec<AdminIssue>,
}

/// Whether a line of a text dump holds nothing to read: blank, or an elision as docs,
/// issues and `grep -A/-B` print them (`...`, `…`, `[...]`, `--`).
pub(crate) fn is_elision(line: &str) -> bool {
    let line = line.trim();
    let bare = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(line);
    line == "--" || bare.chars().all(|character| matches!(character, '.' | '…' | ' '))
}

/// Whether a line is the banner `istioctl experimental envoy-stats` prints before each
/// pod's output: `The result of pod <name>:`.
pub(crate) fn is_envoy_stats_banner(line: &str) -> bool {
    let line = line.trim();
    line.starts_with("The result of pod ") && line.ends_with(':')
}

/// `input` (without a BOM) cut into the parts between envoy-stats banners, blank
/// parts left out; the whole input when every part is blank, so that its parser
/// reports what is wrong with it.
pub(crate) fn split_at_banners(input: &str) -> Vec<&str> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut parts = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in input.split_inclusive('\n') {
        if is_envoy_stats_banner(line) {
            parts.push(&input[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    parts.push(&input[start..]);
    parts.retain(|part| !part.trim().is_empty());
    if parts.is_empty() {
        parts.push(input);
    }
    parts
}

/// A part of a dump that could not be read. The rest of the dump still is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminIssue {
    /// 1-based line of a text dump; for JSON, the line where the bad entry starts when
    /// known, else 0.
    pub line: usize,
    /// A short stable code, like a reject's `reason` (`bad_value`, `unknown_line`…).
    pub reason: &'static str,
    /// What was wrong, for people.
    pub message: String,
    /// Up to 120 bytes of the offending text.
    pub excerpt: String,
}

impl AdminIssue {
    /// An issue at `line`, quoting up to 120 bytes of `text`.
    pub fn new(line: usize, reason: &'static str, message: impl Into<String>, text: &str) -> Self {
        let mut end = text.len().min(120);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        AdminIssue { line, reason, message: message.into(), excerpt: text[..end].to_owned() }
    }
}

impl fmt::Display for AdminIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {} ({})", self.line, self.message, self.reason)?;
        if !self.excerpt.is_empty() {
            write!(f, " near {:?}", self.excerpt)?;
        }
        Ok(())
    }
}

/// A whole dump that cannot be read at all (not JSON, wrong top-level shape…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    pub message: String,
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AdminError {}
