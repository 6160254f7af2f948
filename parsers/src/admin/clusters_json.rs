//! Envoy's `/clusters?format=json` admin page, and istioctl's
//! `proxy-config endpoints -o json` (the same `ClusterStatus` messages in a bare list),
//! read into [`ClustersDump`] rows in one streaming pass (no JSON tree is built). This
//! file owns the dump's top level and the cluster-level fields; `host` reads each
//! `host_statuses[]` entry and `stream` holds the lenient serde building blocks.
//!
//! Shapes accepted (`envoy.admin.v3.Clusters` / `ClusterStatus`):
//!
//! * `{"cluster_statuses": [...]}` as Envoy prints it (protobuf JSON with proto field
//!   names), `{"clusterStatuses": [...]}`, `{}` (no clusters: protobuf JSON omits the
//!   empty list), or a bare `[...]` of cluster statuses as istioctl prints them with
//!   camelCase names (`hostStatuses`, `healthStatus`, `socketAddress`, `portValue`…).
//!   Every key is read in either spelling.
//! * Several of these one after the other, and cluster statuses on their own
//!   (`istioctl … -o json | jq '.[]'` prints `{"name": …, "hostStatuses": …}` objects
//!   back to back); before each, the banner `The result of pod <name>:` that
//!   `istioctl experimental envoy-stats --type clusters -o json` prints.
//! * Cluster-level fields become [`ClusterSetting`]s keyed like the text form, in the
//!   order the dump has them: `observability_name`, `eds_service_name`,
//!   `added_via_api` (only when printed: protobuf JSON leaves out `false`),
//!   `circuit_breakers.thresholds[]` → `default_priority::max_connections` (a threshold
//!   without `priority` is `DEFAULT`, protobuf's zero), `high_priority::…`, and
//!   `success_rate_ejection_threshold` / `local_origin_success_rate_ejection_threshold`
//!   → `outlier::…`. Other cluster fields are skipped. A trailing `;` on the name is
//!   dropped.
//!
//! The same reading serves istioctl's `-o yaml` (`clusters_yaml`), through
//! [`read_clusters`]. Input that is not JSON, or JSON of another shape, is an
//! [`AdminError`]. A cluster or
//! host entry, or a value, that does not read is an [`AdminIssue`] (line 0: the
//! streaming reader keeps no positions; the message names the cluster and entry) and the
//! rest is still read.

use serde::Deserializer;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{AdminError, AdminIssue, ClusterSetting, ClustersDump, HostStatus, split_at_banners};

mod host;
mod stream;

use stream::{Found, JsonKey, Key, List, Object, Scalar, Sink};

const CLUSTER_STATUSES: Key = Key::new("cluster_statuses", "clusterStatuses");
const NAME: Key = Key::plain("name");
const HOST_STATUSES: Key = Key::new("host_statuses", "hostStatuses");
const CIRCUIT_BREAKERS: Key = Key::new("circuit_breakers", "circuitBreakers");
const THRESHOLDS: Key = Key::plain("thresholds");
const PRIORITY: Key = Key::plain("priority");
const VALUE: Key = Key::plain("value");

/// Cluster fields copied into settings, with their text-form keys. The `Percent`
/// thresholds are read from `{"value": …}` (or a bare number).
const SETTINGS: [(Key, &str, bool); 5] = [
    (Key::new("observability_name", "observabilityName"), "observability_name", false),
    (Key::new("eds_service_name", "edsServiceName"), "eds_service_name", false),
    (Key::new("added_via_api", "addedViaApi"), "added_via_api", false),
    (
        Key::new("success_rate_ejection_threshold", "successRateEjectionThreshold"),
        "outlier::success_rate_ejection_threshold",
        true,
    ),
    (
        Key::new(
            "local_origin_success_rate_ejection_threshold",
            "localOriginSuccessRateEjectionThreshold",
        ),
        "outlier::local_origin_success_rate_ejection_threshold",
        true,
    ),
];

/// The four circuit-breaker limits, as the text form names them.
const LIMITS: [(Key, &str); 4] = [
    (Key::new("max_connections", "maxConnections"), "max_connections"),
    (Key::new("max_pending_requests", "maxPendingRequests"), "max_pending_requests"),
    (Key::new("max_requests", "maxRequests"), "max_requests"),
    (Key::new("max_retries", "maxRetries"), "max_retries"),
];

/// Reads a `/clusters?format=json` dump or istioctl's `-o json` list.
pub fn parse(input: &str) -> Result<ClustersDump, AdminError> {
    let mut dump = ClustersDump::default();
    for document in split_at_banners(input) {
        read_json_values(document, &mut dump).map_err(|error| {
            let what =
                if error.is_data() { "not a /clusters?format=json dump" } else { "not JSON" };
            AdminError { message: format!("{what}: {error}") }
        })?;
    }
    Ok(dump)
}

/// Reads the JSON values of `document`, one after the other, into `dump`.
fn read_json_values(document: &str, dump: &mut ClustersDump) -> Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(document);
    for index in 0.. {
        read_clusters(&mut deserializer, index, dump)?;
        if deserializer.end().is_ok() {
            break;
        }
    }
    Ok(())
}

/// Reads one top-level value (cluster statuses in any of the shapes above, the
/// `index`th of its document) from any serde deserializer into `dump`.
pub(super) fn read_clusters<'de, D: Deserializer<'de>>(
    deserializer: D,
    index: usize,
    dump: &mut ClustersDump,
) -> Result<(), D::Error> {
    deserializer.deserialize_any(TopLevel { dump, index })
}

/// What was wrong with part of a cluster, until the cluster's name is known.
struct Problem {
    /// The `host_statuses[]` index, for a host's problem.
    host: Option<usize>,
    reason: &'static str,
    message: String,
    excerpt: String,
}

impl Problem {
    fn new(reason: &'static str, message: impl Into<String>, value: &Scalar<'_>) -> Self {
        Problem { host: None, reason, message: message.into(), excerpt: value.excerpt() }
    }

    fn into_issue(self, cluster: &str) -> AdminIssue {
        let message = match self.host {
            Some(index) => format!("cluster {cluster} host_statuses[{index}]: {}", self.message),
            None => format!("cluster {cluster}: {}", self.message),
        };
        AdminIssue::new(0, self.reason, message, &self.excerpt)
    }
}

/// Hosts, settings and problems of one cluster, before its name is known.
#[derive(Default)]
struct Collected {
    hosts: Vec<HostStatus>,
    /// (key, value)
    settings: Vec<(String, String)>,
    problems: Vec<Problem>,
}

/// A top-level value: an object with `cluster_statuses`, istioctl's list, or one
/// cluster status (the `index`th value of its document).
struct TopLevel<'d> {
    dump: &'d mut ClustersDump,
    index: usize,
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object with `cluster_statuses`, or a list of cluster statuses")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut clusters = ClusterList { dump: self.dump };
        let mut index = 0;
        while clusters.item(index, &mut seq)? {
            index += 1;
        }
        Ok(())
    }

    /// `{"cluster_statuses": …}`, or the fields of one cluster status.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut cluster = ClusterStatus::default();
        let (mut has_statuses, mut has_other_keys) = (false, false);
        while let Some(JsonKey(key)) = map.next_key()? {
            if !CLUSTER_STATUSES.matches(&key) {
                cluster.field(&key, &mut map)?;
                has_other_keys = true;
                continue;
            }
            if let Found::Other(_) =
                map.next_value_seed(List(&mut ClusterList { dump: self.dump }))?
            {
                return Err(de::Error::custom("`cluster_statuses` is not a list"));
            }
            has_statuses = true;
        }
        if has_statuses || !has_other_keys {
            return Ok(());
        }
        if !cluster.is_read() {
            return Err(de::Error::custom("no `cluster_statuses` key, and no cluster status"));
        }
        cluster.finish(self.index, self.dump);
        Ok(())
    }
}

/// The `cluster_statuses` list.
struct ClusterList<'d> {
    dump: &'d mut ClustersDump,
}

impl<'de> Sink<'de> for ClusterList<'_> {
    fn item<A: SeqAccess<'de>>(&mut self, index: usize, seq: &mut A) -> Result<bool, A::Error> {
        let mut cluster = ClusterStatus::default();
        let Some(found) = seq.next_element_seed(Object(&mut cluster))? else {
            return Ok(false);
        };
        match found {
            Found::Expected => cluster.finish(index, self.dump),
            Found::Null | Found::Other(_) => {
                let message = format!("cluster_statuses[{index}] is not an object");
                let excerpt = match found {
                    Found::Other(value) => value.excerpt(),
                    _ => "null".to_owned(),
                };
                self.dump.issues.push(AdminIssue::new(0, "bad_entry", message, &excerpt));
            }
        }
        Ok(true)
    }
}

/// One `cluster_statuses[]` entry.
#[derive(Default)]
struct ClusterStatus {
    name: Option<String>,
    collected: Collected,
}

impl<'de> Sink<'de> for ClusterStatus {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if NAME.matches(key) {
            let name: Scalar<'de> = map.next_value()?;
            self.name = name.as_str().map(|name| name.strip_suffix(';').unwrap_or(name).to_owned());
        } else if HOST_STATUSES.matches(key) {
            let found = map.next_value_seed(List(&mut host::HostList(&mut self.collected)))?;
            self.expect_container(key, found, "a list");
        } else if CIRCUIT_BREAKERS.matches(key) {
            let found = map.next_value_seed(Object(&mut CircuitBreakers(&mut self.collected)))?;
            self.expect_container(key, found, "an object");
        } else if let Some((_, setting, is_percent)) =
            SETTINGS.iter().find(|(json, ..)| json.matches(key))
        {
            let value = if *is_percent { read_percent(map)? } else { Some(map.next_value()?) };
            self.add_setting(setting, value);
        } else {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

impl ClusterStatus {
    /// Whether any field of a cluster status was read (other objects have none).
    fn is_read(&self) -> bool {
        let collected = &self.collected;
        self.name.is_some() || !collected.hosts.is_empty() || !collected.settings.is_empty()
    }

    fn add_setting(&mut self, key: &str, value: Option<Scalar<'_>>) {
        let Some(value) = value.filter(|value| *value != Scalar::Null) else {
            return;
        };
        match value.text() {
            Some(text) => self.collected.settings.push((key.to_owned(), text)),
            None => {
                let message = format!("`{key}` is not a number, string or boolean");
                self.collected.problems.push(Problem::new("bad_value", message, &value));
            }
        }
    }

    fn expect_container(&mut self, key: &str, found: Found<'_>, expected: &str) {
        if let Found::Other(value) = found {
            let message = format!("`{key}` is not {expected}");
            self.collected.problems.push(Problem::new("bad_entry", message, &value));
        }
    }

    /// Moves the cluster's rows into the dump, now that its name is known.
    fn finish(self, index: usize, dump: &mut ClustersDump) {
        let Some(name) = self.name.filter(|name| !name.is_empty()) else {
            let message = format!("cluster_statuses[{index}] has no name");
            dump.issues.push(AdminIssue::new(0, "bad_entry", message, "{…}"));
            let context = format!("cluster_statuses[{index}]");
            dump.issues.extend(
                self.collected.problems.into_iter().map(|problem| problem.into_issue(&context)),
            );
            return;
        };
        let Collected { hosts, settings, problems } = self.collected;
        dump.hosts.extend(
            hosts.into_iter().map(|host| HostStatus { envoy_cluster: name.clone(), ..host }),
        );
        dump.settings.extend(settings.into_iter().map(|(key, value)| ClusterSetting {
            envoy_cluster: name.clone(),
            key,
            value,
        }));
        let context = format!("{name:?}");
        dump.issues.extend(problems.into_iter().map(|problem| problem.into_issue(&context)));
    }
}

/// A `Percent` (`{"value": 6}`), or the number itself when printed bare.
fn read_percent<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Scalar<'de>>, A::Error> {
    let mut percent = Percent(None);
    Ok(match map.next_value_seed(Object(&mut percent))? {
        Found::Expected => percent.0,
        Found::Null => None,
        Found::Other(bare) => Some(bare),
    })
}

/// The `value` of a `Percent` message.
struct Percent<'de>(Option<Scalar<'de>>);

impl<'de> Sink<'de> for Percent<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if VALUE.matches(key) {
            self.0 = Some(map.next_value()?);
        } else {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// `circuit_breakers`: its `thresholds` list.
struct CircuitBreakers<'c>(&'c mut Collected);

impl<'de> Sink<'de> for CircuitBreakers<'_> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if THRESHOLDS.matches(key) {
            map.next_value_seed(List(self))?;
        } else {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn item<A: SeqAccess<'de>>(&mut self, _index: usize, seq: &mut A) -> Result<bool, A::Error> {
        let mut threshold = Threshold::default();
        let Some(found) = seq.next_element_seed(Object(&mut threshold))? else {
            return Ok(false);
        };
        if found == Found::Expected {
            let priority = priority_name(threshold.priority.as_ref());
            for (limit, value) in threshold.limits {
                self.0.settings.push((format!("{priority}_priority::{limit}"), value));
            }
        }
        Ok(true)
    }
}

/// One circuit-breaker threshold: its priority and limits.
#[derive(Default)]
struct Threshold<'de> {
    priority: Option<Scalar<'de>>,
    limits: Vec<(&'static str, String)>,
}

impl<'de> Sink<'de> for Threshold<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if PRIORITY.matches(key) {
            self.priority = Some(map.next_value()?);
        } else if let Some((_, limit)) = LIMITS.iter().find(|(json, _)| json.matches(key)) {
            let value: Scalar<'de> = map.next_value()?;
            self.limits.extend(value.text().map(|text| (*limit, text)));
        } else {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// `default` or `high` from a `RoutingPriority` (missing = `DEFAULT`, protobuf's zero;
/// the enum may also be printed as its number).
fn priority_name(priority: Option<&Scalar<'_>>) -> String {
    match priority {
        None | Some(Scalar::Null | Scalar::Unsigned(0)) => "default".to_owned(),
        Some(Scalar::Unsigned(1)) => "high".to_owned(),
        Some(other) => other.text().unwrap_or_default().to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn settings(dump: &ClustersDump) -> Vec<(&str, &str, &str)> {
        dump.settings
            .iter()
            .map(|setting| {
                (setting.envoy_cluster.as_str(), setting.key.as_str(), setting.value.as_str())
            })
            .collect()
    }

    #[test]
    fn envoy_cluster_settings_read_like_the_text_form() {
        let dump = parse(
            r#"{"cluster_statuses": [{
                "name": "outbound|9080||reviews.default.svc.cluster.local",
                "added_via_api": true,
                "success_rate_ejection_threshold": {"value": 6},
                "circuit_breakers": {"thresholds": [
                    {"max_connections": 4294967295, "max_pending_requests": 4294967295,
                     "max_requests": 4294967295, "max_retries": 4294967295},
                    {"priority": "HIGH", "max_connections": 1024, "max_pending_requests": 1024,
                     "max_requests": 1024, "max_retries": 3}
                ]},
                "observability_name": "outbound|9080||reviews.default.svc.cluster.local",
                "eds_service_name": "outbound|9080||reviews.default.svc.cluster.local"
            }]}"#,
        )
        .unwrap();
        assert_eq!(dump.issues, []);
        let reviews = "outbound|9080||reviews.default.svc.cluster.local";
        assert_eq!(
            settings(&dump),
            [
                (reviews, "added_via_api", "true"),
                (reviews, "outlier::success_rate_ejection_threshold", "6"),
                (reviews, "default_priority::max_connections", "4294967295"),
                (reviews, "default_priority::max_pending_requests", "4294967295"),
                (reviews, "default_priority::max_requests", "4294967295"),
                (reviews, "default_priority::max_retries", "4294967295"),
                (reviews, "high_priority::max_connections", "1024"),
                (reviews, "high_priority::max_pending_requests", "1024"),
                (reviews, "high_priority::max_requests", "1024"),
                (reviews, "high_priority::max_retries", "3"),
                (reviews, "observability_name", reviews),
                (reviews, "eds_service_name", reviews),
            ]
        );
    }

    #[test]
    fn istioctl_list_with_camel_case() {
        let dump = parse(
            r#"[{"name": "x", "addedViaApi": true, "observabilityName": "x;",
                 "circuitBreakers": {"thresholds": [{"priority": "HIGH", "maxRetries": 3}]},
                 "localOriginSuccessRateEjectionThreshold": 7.5,
                 "hostStatuses": [{"address": {"socketAddress": {"address": "10.0.0.1", "portValue": 80}}}]}]"#,
        )
        .unwrap();
        assert_eq!(
            settings(&dump),
            [
                ("x", "added_via_api", "true"),
                ("x", "observability_name", "x;"),
                ("x", "high_priority::max_retries", "3"),
                ("x", "outlier::local_origin_success_rate_ejection_threshold", "7.5"),
            ]
        );
        assert_eq!(dump.hosts[0].address, "10.0.0.1:80");
        assert_eq!(dump.hosts[0].envoy_cluster, "x");
    }

    #[test]
    fn the_name_may_come_after_the_hosts() {
        let dump = parse(
            r#"[{"host_statuses": [{"address": {"pipe": {"path": "/s"}}}], "name": "late"}]"#,
        )
        .unwrap();
        assert_eq!(dump.hosts[0].envoy_cluster, "late");
    }

    #[test]
    fn camel_case_top_level_key() {
        let dump = parse(r#"{"clusterStatuses": [{"name": "x"}]}"#).unwrap();
        assert_eq!((dump.hosts.len(), dump.issues.len()), (0, 0));
    }

    #[test]
    fn empty_dumps() {
        assert_eq!(parse("{}").unwrap(), ClustersDump::default());
        assert_eq!(parse("[]").unwrap(), ClustersDump::default());
        assert_eq!(parse(r#"{"cluster_statuses": null}"#).unwrap(), ClustersDump::default());
        assert_eq!(parse("\u{feff} {\n}\n").unwrap(), ClustersDump::default());
    }

    /// `istioctl pc ep POD -o json | jq '.[] | select(.name | contains("reviews"))'`:
    /// cluster statuses back to back, in jq's 2-space layout.
    #[test]
    fn cluster_statuses_one_after_the_other() {
        let dump = parse(
            "{\n  \"name\": \"outbound|9080||reviews.default.svc.cluster.local\",\n  \"addedViaApi\": true,\n  \"hostStatuses\": [\n    {\"address\": {\"socketAddress\": {\"address\": \"10.112.2.31\", \"portValue\": 9080}}}\n  ]\n}\n\
             {\n  \"name\": \"outbound|9080|v1|reviews.default.svc.cluster.local\",\n  \"hostStatuses\": [\n    {\"address\": {\"socketAddress\": {\"address\": \"34.168.157.2\", \"portValue\": 15443}}}\n  ]\n}\n",
        )
        .unwrap();
        assert_eq!(dump.issues, []);
        let hosts: Vec<(&str, &str)> = dump
            .hosts
            .iter()
            .map(|host| (host.envoy_cluster.as_str(), host.address.as_str()))
            .collect();
        assert_eq!(
            hosts,
            [
                ("outbound|9080||reviews.default.svc.cluster.local", "10.112.2.31:9080"),
                ("outbound|9080|v1|reviews.default.svc.cluster.local", "34.168.157.2:15443"),
            ]
        );
    }

    /// `istioctl experimental envoy-stats POD --type clusters -o json`, for two pods.
    #[test]
    fn envoy_stats_banners_before_each_dump() {
        let one = |address: &str| {
            format!(
                "{{\n    \"cluster_statuses\": [\n        {{\"name\": \"x\", \"host_statuses\": [{{\"address\": {{\"socket_address\": {{\"address\": \"{address}\", \"port_value\": 80}}}}}}]}}\n    ]\n}}\n"
            )
        };
        let input = format!(
            "\nThe result of pod a-1:\n\n{}\nThe result of pod a-2:\n\n{}",
            one("10.0.0.1"),
            one("10.0.0.2")
        );
        let dump = parse(&input).unwrap();
        assert_eq!(dump.issues, []);
        assert_eq!(dump.hosts.len(), 2);
        assert_eq!(dump.hosts[1].address, "10.0.0.2:80");
    }

    #[test]
    fn wrong_whole_inputs_are_errors() {
        for input in [
            "",
            "cluster::added_via_api::true",
            r#"{"cluster_statuses": 5}"#,
            r#"{"reviews.default.svc.cluster.local": {}}"#,
            "42",
            r#""text""#,
            r#"{"cluster_statuses": [}"#,
            r#"{"cluster_statuses": []} trailing"#,
            "The result of pod a:\n",
            "{\"name\": \"x\"} 42",
        ] {
            assert!(parse(input).is_err(), "{input}");
        }
        assert!(parse("{").unwrap_err().message.starts_with("not JSON"));
        assert!(parse("42").unwrap_err().message.starts_with("not a /clusters?format=json dump"));
    }

    #[test]
    fn bad_cluster_entries_are_issues() {
        let dump = parse(
            r#"{"cluster_statuses": [5, {"added_via_api": true}, {"name": ""}, null, {"name": "ok"}]}"#,
        )
        .unwrap();
        let messages: Vec<_> = dump.issues.iter().map(|issue| issue.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "cluster_statuses[0] is not an object",
                "cluster_statuses[1] has no name",
                "cluster_statuses[2] has no name",
                "cluster_statuses[3] is not an object",
            ]
        );
        assert!(dump.issues.iter().all(|issue| issue.line == 0 && issue.reason == "bad_entry"));
        assert_eq!(dump.settings, []);
    }

    #[test]
    fn trailing_semicolon_on_the_name_is_dropped() {
        let dump =
            parse(r#"[{"name": "x;", "host_statuses": [{"address": {"pipe": {"path": "/s"}}}]}]"#)
                .unwrap();
        assert_eq!(dump.hosts[0].envoy_cluster, "x");
        assert!(parse(r#"[{"name": ";"}]"#).unwrap().issues[0].message.ends_with("has no name"));
    }

    #[test]
    fn bad_setting_and_container_values_are_issues() {
        let dump = parse(
            r#"[{"name": "x", "observability_name": {"nested": 1}, "host_statuses": {"a": 1},
                 "circuit_breakers": [1]}]"#,
        )
        .unwrap();
        let reasons: Vec<_> =
            dump.issues.iter().map(|issue| (issue.reason, issue.message.as_str())).collect();
        assert_eq!(
            reasons,
            [
                (
                    "bad_value",
                    "cluster \"x\": `observability_name` is not a number, string or boolean"
                ),
                ("bad_entry", "cluster \"x\": `host_statuses` is not a list"),
                ("bad_entry", "cluster \"x\": `circuit_breakers` is not an object"),
            ]
        );
        assert_eq!(dump.settings, []);
    }

    #[test]
    fn escaped_keys_and_names() {
        let dump = parse(r#"{"cluster_\u0073tatuses": [{"n\u0061me": "a\"b"}]}"#).unwrap();
        assert_eq!(dump.issues, []);
        let dump = parse(r#"[{"name": "a\"b", "added_via_api": false}]"#).unwrap();
        assert_eq!(settings(&dump), [("a\"b", "added_via_api", "false")]);
    }

    #[test]
    fn priority_names() {
        assert_eq!(priority_name(None), "default");
        assert_eq!(priority_name(Some(&Scalar::Unsigned(1))), "high");
        assert_eq!(priority_name(Some(&Scalar::Text(Cow::Borrowed("DEFAULT")))), "default");
    }
}
