//! The `[[scrape]]` entries: Envoy admin endpoints that `meshlog scrape` (and later
//! `serve`) polls. Each entry names a proxy, its admin base URL (plain `http://`, as
//! Envoy's admin port is), the cluster whose proxy it is, how often to poll, how long
//! to wait, and which endpoints to read. [`scrape_targets`] checks every value, with
//! the key and line of the first bad one, and yields typed [`ScrapeTarget`]s.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use meshlog_parsers::admin::AdminKind;
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, ConfigFile, parse_duration_s};
use crate::enrich::Topology;

/// How often a target is polled when `interval` is not given.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// How long one request may take when `timeout` is not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// One `[[scrape]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// The proxy's name, stored as `proxy`.
    pub name: Spanned<String>,
    /// The admin base URL, e.g. `http://10.112.0.50:15000`.
    pub url: Spanned<String>,
    pub source_cluster: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub endpoints: Option<Spanned<Vec<Spanned<String>>>>,
}

/// An admin endpoint meshlog polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdminEndpoint {
    /// `/clusters?format=json`: hosts, health flags, priorities, counters.
    Clusters,
    /// `/stats/prometheus`: every statistic.
    Stats,
}

impl AdminEndpoint {
    /// Both endpoints, the default.
    pub const ALL: [AdminEndpoint; 2] = [AdminEndpoint::Clusters, AdminEndpoint::Stats];

    /// The name used in the config.
    pub fn name(self) -> &'static str {
        match self {
            AdminEndpoint::Clusters => "clusters",
            AdminEndpoint::Stats => "stats",
        }
    }

    /// The path and query appended to the admin base URL.
    pub fn path(self) -> &'static str {
        match self {
            AdminEndpoint::Clusters => "/clusters?format=json",
            AdminEndpoint::Stats => "/stats/prometheus",
        }
    }

    /// How the response is parsed.
    pub fn kind(self) -> AdminKind {
        match self {
            AdminEndpoint::Clusters => AdminKind::ClustersJson,
            AdminEndpoint::Stats => AdminKind::StatsPrometheus,
        }
    }

    fn from_name(name: &str) -> Option<AdminEndpoint> {
        AdminEndpoint::ALL.into_iter().find(|endpoint| endpoint.name() == name)
    }
}

/// A validated `[[scrape]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeTarget {
    /// The proxy's name.
    pub name: String,
    /// The admin base URL, without a trailing `/`.
    pub base_url: String,
    /// The cluster the proxy runs in; `None` only when no topology is configured.
    pub source_cluster: Option<Arc<str>>,
    pub interval: Duration,
    pub timeout: Duration,
    /// Distinct, in config order.
    pub endpoints: Vec<AdminEndpoint>,
}

impl ScrapeTarget {
    /// The full URL of one of the target's endpoints.
    pub fn url(&self, endpoint: AdminEndpoint) -> String {
        format!("{}{}", self.base_url, endpoint.path())
    }
}

/// Checks the `[[scrape]]` entries of `file`; an entry without `source_cluster` is
/// the proxy of `default_source` (the top-level `source_cluster`).
pub fn scrape_targets(
    file: &ConfigFile,
    default_source: Option<&Arc<str>>,
    topology: &Topology,
) -> Result<Vec<ScrapeTarget>, ConfigError> {
    let mut names = HashSet::new();
    let mut targets = Vec::new();
    for entry in &file.config.scrape {
        let target = TargetCheck { file, topology, default_source }.target(entry)?;
        if !names.insert(target.name.clone()) {
            let message = format!("{:?} names another [[scrape]] entry too", target.name);
            return Err(file.value_error("scrape.name", entry.name.span(), message));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// What checking one entry needs.
struct TargetCheck<'a> {
    file: &'a ConfigFile,
    topology: &'a Topology,
    default_source: Option<&'a Arc<str>>,
}

impl TargetCheck<'_> {
    fn target(&self, entry: &ScrapeConfig) -> Result<ScrapeTarget, ConfigError> {
        let name = entry.name.get_ref().trim();
        if name.is_empty() {
            return Err(self.error("scrape.name", &entry.name, "must not be empty"));
        }
        Ok(ScrapeTarget {
            name: name.to_owned(),
            base_url: self.base_url(&entry.url)?,
            source_cluster: self.source_cluster(entry)?,
            interval: self.duration(
                "scrape.interval",
                entry.interval.as_ref(),
                DEFAULT_INTERVAL,
            )?,
            timeout: self.duration("scrape.timeout", entry.timeout.as_ref(), DEFAULT_TIMEOUT)?,
            endpoints: self.endpoints(entry.endpoints.as_ref())?,
        })
    }

    fn error<T>(&self, key: &str, value: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        self.file.value_error(key, value.span(), message)
    }

    /// An `http://host[:port][/prefix]` URL, without query or fragment.
    fn base_url(&self, url: &Spanned<String>) -> Result<String, ConfigError> {
        let text = url.get_ref().trim();
        let parsed = reqwest::Url::parse(text)
            .map_err(|error| self.error("scrape.url", url, format!("is not a URL: {error}")))?;
        if parsed.scheme() != "http" {
            let message = "must be an http:// URL (Envoy's admin port speaks plain HTTP)";
            return Err(self.error("scrape.url", url, message));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(self.error("scrape.url", url, "has no host"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            let message = "must be the admin base URL, without ?query or #fragment";
            return Err(self.error("scrape.url", url, message));
        }
        Ok(parsed.as_str().trim_end_matches('/').to_owned())
    }

    fn source_cluster(&self, entry: &ScrapeConfig) -> Result<Option<Arc<str>>, ConfigError> {
        let Some(given) = &entry.source_cluster else {
            return self.default_source_cluster(entry);
        };
        let name = given.get_ref().as_str();
        if !self.topology.is_empty() && self.topology.id(name).is_none() {
            let message = format!("{name:?} is not one of the [[clusters]] ({})", self.names());
            return Err(self.error("scrape.source_cluster", given, message));
        }
        Ok(Some(Arc::from(name)))
    }

    /// The top-level `source_cluster`, which the topology, when configured, needs.
    fn default_source_cluster(
        &self,
        entry: &ScrapeConfig,
    ) -> Result<Option<Arc<str>>, ConfigError> {
        let source = self.default_source.cloned();
        let known = source.as_deref().is_some_and(|name| self.topology.id(name).is_some());
        if self.topology.is_empty() || known {
            return Ok(source);
        }
        let message = format!(
            "needs `source_cluster` (one of: {}): no valid top-level source_cluster to default to",
            self.names()
        );
        Err(self.error("scrape.name", &entry.name, message))
    }

    fn names(&self) -> String {
        let names: Vec<&str> =
            self.topology.clusters().iter().map(|cluster| &*cluster.name).collect();
        names.join(", ")
    }

    fn duration(
        &self,
        key: &str,
        value: Option<&Spanned<String>>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(value) = value else { return Ok(default) };
        let seconds = parse_duration_s(value.get_ref()).filter(|&seconds| seconds > 0);
        let message = "is not a duration such as \"5s\", \"1m\" or \"1m30s\"";
        seconds
            .map(|seconds| Duration::from_secs(seconds.into()))
            .ok_or_else(|| self.error(key, value, message))
    }

    fn endpoints(
        &self,
        value: Option<&Spanned<Vec<Spanned<String>>>>,
    ) -> Result<Vec<AdminEndpoint>, ConfigError> {
        let Some(list) = value else { return Ok(AdminEndpoint::ALL.to_vec()) };
        if list.get_ref().is_empty() {
            return Err(self.error(
                "scrape.endpoints",
                list,
                "must list \"clusters\", \"stats\" or both",
            ));
        }
        let mut endpoints = Vec::new();
        for item in list.get_ref() {
            let Some(endpoint) = AdminEndpoint::from_name(item.get_ref()) else {
                let message = format!("{:?} is neither \"clusters\" nor \"stats\"", item.get_ref());
                return Err(self.error("scrape.endpoints", item, message));
            };
            if endpoints.contains(&endpoint) {
                return Err(self.error("scrape.endpoints", item, "lists an endpoint twice"));
            }
            endpoints.push(endpoint);
        }
        Ok(endpoints)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use super::*;

    const CLUSTERS: &str = "source_cluster = \"cluster1\"\n[[clusters]]\nname = \"cluster1\"\n[[clusters]]\nname = \"cluster2\"\n";

    fn targets(text: &str) -> Result<Vec<ScrapeTarget>, ConfigError> {
        let file = ConfigFile::parse(Path::new("mesh.toml"), text.into())?;
        let topology = crate::config::topology::from_config(&file)?;
        let default_source = file.config.source_cluster.as_deref().map(Arc::from);
        scrape_targets(&file, default_source.as_ref(), &topology)
    }

    fn error(text: &str) -> String {
        targets(text).unwrap_err().to_string()
    }

    #[test]
    fn a_minimal_entry_gets_the_defaults() {
        let text =
            format!("{CLUSTERS}[[scrape]]\nname = \"gw\"\nurl = \"http://10.112.0.50:15000/\"\n");
        let target = &targets(&text).unwrap()[0];
        assert_eq!(target.name, "gw");
        assert_eq!(target.base_url, "http://10.112.0.50:15000");
        assert_eq!(
            target.url(AdminEndpoint::Clusters),
            "http://10.112.0.50:15000/clusters?format=json"
        );
        assert_eq!(target.source_cluster.as_deref(), Some("cluster1"));
        assert_eq!((target.interval, target.timeout), (DEFAULT_INTERVAL, DEFAULT_TIMEOUT));
        assert_eq!(target.endpoints, AdminEndpoint::ALL);
    }

    #[test]
    fn every_key_is_read() {
        let text = format!(
            "{CLUSTERS}[[scrape]]\nname = \"east\"\nurl = \"http://gw.example:15000/admin\"\nsource_cluster = \"cluster2\"\ninterval = \"1m30s\"\ntimeout = \"2s\"\nendpoints = [\"stats\"]\n"
        );
        let target = &targets(&text).unwrap()[0];
        assert_eq!(
            target.url(AdminEndpoint::Stats),
            "http://gw.example:15000/admin/stats/prometheus"
        );
        assert_eq!(target.source_cluster.as_deref(), Some("cluster2"));
        assert_eq!(target.interval, Duration::from_secs(90));
        assert_eq!(target.timeout, Duration::from_secs(2));
        assert_eq!(target.endpoints, [AdminEndpoint::Stats]);
    }

    #[test]
    fn without_a_topology_the_source_cluster_may_be_absent() {
        let text = "[[scrape]]\nname = \"gw\"\nurl = \"http://127.0.0.1:15000\"\n";
        assert_eq!(targets(text).unwrap()[0].source_cluster, None);
    }

    #[test]
    fn bad_values_are_named_with_their_line() {
        let entry = |extra: &str| {
            format!("{CLUSTERS}[[scrape]]\nname = \"gw\"\nurl = \"http://a:1\"\n{extra}")
        };
        let cases = [
            (entry("interval = \"often\"\n"), "mesh.toml:9: `scrape.interval`"),
            (entry("timeout = \"0s\"\n"), "mesh.toml:9: `scrape.timeout`"),
            (entry("endpoints = [\"clusters\", \"config_dump\"]\n"), "\"config_dump\" is neither"),
            (entry("endpoints = []\n"), "`scrape.endpoints`: must list"),
            (entry("endpoints = [\"stats\", \"stats\"]\n"), "lists an endpoint twice"),
            (
                entry("source_cluster = \"cluster9\"\n"),
                "\"cluster9\" is not one of the [[clusters]] (cluster1, cluster2)",
            ),
        ];
        for (text, expected) in cases {
            let message = error(&text);
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn the_url_must_be_plain_http_to_a_host() {
        let entry = |url: &str| format!("[[scrape]]\nname = \"gw\"\nurl = \"{url}\"\n");
        assert!(
            error(&entry("https://a:15000"))
                .contains("mesh.toml:3: `scrape.url`: must be an http:// URL")
        );
        assert!(error(&entry("10.0.0.1:15000")).contains("`scrape.url`"));
        assert!(error(&entry("http://a:15000/?x=1")).contains("without ?query"));
        assert!(error(&entry("not a url")).contains("is not a URL"));
    }

    #[test]
    fn names_are_required_and_unique() {
        let twice = "[[scrape]]\nname = \"gw\"\nurl = \"http://a:1\"\n[[scrape]]\nname = \"gw\"\nurl = \"http://b:1\"\n";
        assert!(
            error(twice).contains("mesh.toml:5: `scrape.name`: \"gw\" names another"),
            "{}",
            error(twice)
        );
        let missing = error("[[scrape]]\nurl = \"http://a:1\"\n");
        assert!(missing.contains("missing field `name`"), "{missing}");
        let unknown = error("[[scrape]]\nname = \"gw\"\nurl = \"http://a:1\"\nperiod = \"1s\"\n");
        assert!(unknown.contains("period") && unknown.contains("line 4"), "{unknown}");
    }

    #[test]
    fn a_topology_without_a_source_cluster_needs_one_per_entry() {
        let text =
            "[[clusters]]\nname = \"cluster1\"\n[[scrape]]\nname = \"gw\"\nurl = \"http://a:1\"\n";
        let message = error(text);
        assert!(
            message
                .contains("mesh.toml:4: `scrape.name`: needs `source_cluster` (one of: cluster1)"),
            "{message}"
        );
    }
}
