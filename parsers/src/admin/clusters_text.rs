//! Envoy's `/clusters` admin page in its text form, read into [`ClustersDump`] rows. This
//! file owns the line grammar and the merging of a host's lines into one
//! [`HostStatus`].
//!
//! Every line starts with the cluster name and `::`; cluster names never hold `::`
//! (a trailing `;`, as in Istio 1.23's stat names, is dropped). What follows is either
//!
//! * a cluster-level setting `<key>::<value>`: `added_via_api::true`,
//!   `observability_name::…`, `eds_service_name::…` (the value is the rest of the line),
//!   `default_priority::max_connections::1024`, `high_priority::…` and
//!   `outlier::success_rate_average::-1` (two key parts), or any other key, whose value
//!   is the last `::` part; the key parts are joined with `::` in
//!   [`ClusterSetting::key`]; or
//! * a host line `<address>::<stat>::<value>`, where the address is `ip:port`,
//!   `[ipv6]:port` (its `::` stay inside the brackets), a pipe path (`./etc/istio/proxy/XDS`,
//!   stored as `unix://./etc/istio/proxy/XDS`) or `envoy://…`. The value is the rest of the
//!   line, so a hostname holding `::` survives.
//!
//! All lines of one (cluster, address) merge into one [`HostStatus`], wherever they are
//! in the dump. A host stat this crate has no column for (Envoy may add some) is kept as
//! a [`ClusterSetting`] keyed `<address>::<stat>`. `success_rate` and
//! `local_origin_success_rate` of `-1` (Envoy's "not computed") or any negative or
//! non-finite value are `None`; empty `hostname`, `region`, `zone` and `sub_zone` are
//! `None`. A line that does not fit, or a value that does not read, becomes an
//! [`AdminIssue`] with its line number and the rest of the dump is still read.
//!
//! Fragments read as well as whole dumps (`istioctl experimental envoy-stats POD --type
//! clusters | grep reviews`, or lines pasted into docs and issues): blank lines,
//! elisions (`...`, `…`, `[...]`, grep's `--`) and envoy-stats' banner `The result of
//! pod <name>:` hold nothing and are skipped.

use std::collections::HashMap;

use super::host_address::{from_envoy_text, is_pipe_path, is_plain_socket, parse_port};
use super::{
    AdminIssue, ClusterSetting, ClustersDump, HostStatus, is_elision, is_envoy_stats_banner,
};

/// Cluster-level keys whose value is the whole rest of the line.
const SINGLE_KEYS: [&str; 3] = ["observability_name", "added_via_api", "eds_service_name"];

/// Cluster-level keys followed by one more key part: `default_priority::max_retries`.
const GROUP_KEYS: [&str; 3] = ["default_priority", "high_priority", "outlier"];

/// Reads a `/clusters` text dump. Never fails: lines that do not read are issues.
pub fn parse(input: &str) -> ClustersDump {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut reader = Reader::default();
    for (index, line) in input.lines().enumerate() {
        reader.read_line(index + 1, line);
    }
    reader.dump
}

/// One line, split into its parts (all borrowed from the line).
#[derive(Debug, PartialEq)]
enum Line<'a> {
    Setting { cluster: &'a str, key: &'a str, value: &'a str },
    Host { cluster: &'a str, address: &'a str, stat: &'a str, value: &'a str },
}

/// Why a line does not fit the grammar.
#[derive(Debug, PartialEq)]
struct LineError {
    reason: &'static str,
    message: &'static str,
}

const NO_SEPARATOR: LineError =
    LineError { reason: "unknown_line", message: "no `::` in the line" };
const EMPTY_CLUSTER: LineError =
    LineError { reason: "bad_line", message: "the line starts with `::` (no cluster name)" };
const HOST_WITHOUT_VALUE: LineError =
    LineError { reason: "bad_line", message: "host line without `::<stat>::<value>`" };
const SETTING_WITHOUT_VALUE: LineError =
    LineError { reason: "bad_line", message: "cluster setting without `::<value>`" };
const NOT_A_KEY: LineError = LineError {
    reason: "unknown_line",
    message: "after the cluster name comes neither a host address nor a setting key",
};

#[derive(Default)]
struct Reader {
    dump: ClustersDump,
    /// Where each (cluster, address) host is in `dump.hosts`.
    host_index: HashMap<(String, String), usize>,
}

impl Reader {
    fn read_line(&mut self, number: usize, line: &str) {
        if is_elision(line) || is_envoy_stats_banner(line) {
            return;
        }
        match split_line(line) {
            Ok(Line::Setting { cluster, key, value }) => self.dump.settings.push(ClusterSetting {
                envoy_cluster: cluster.to_owned(),
                key: key.to_owned(),
                value: value.to_owned(),
            }),
            Ok(Line::Host { cluster, address, stat, value }) => {
                self.read_host_stat(number, line, (cluster, address), stat, value)
            }
            Err(error) => {
                self.dump.issues.push(AdminIssue::new(number, error.reason, error.message, line))
            }
        }
    }

    fn read_host_stat(
        &mut self,
        number: usize,
        line: &str,
        (cluster, address): (&str, &str),
        stat: &str,
        value: &str,
    ) {
        let address = from_envoy_text(address);
        let index = self.host_for(cluster, &address);
        let Some(host) = self.dump.hosts.get_mut(index) else {
            return;
        };
        match apply_stat(host, stat, value) {
            Ok(true) => {}
            Ok(false) => self.dump.settings.push(ClusterSetting {
                envoy_cluster: cluster.to_owned(),
                key: format!("{address}::{stat}"),
                value: value.to_owned(),
            }),
            Err(message) => {
                self.dump.issues.push(AdminIssue::new(number, "bad_value", message, line))
            }
        }
    }

    /// The index of the host row for (cluster, address), created when new. Envoy prints
    /// a host's lines together, so the last row is checked before the map.
    fn host_for(&mut self, cluster: &str, address: &str) -> usize {
        let hosts = &mut self.dump.hosts;
        if let Some(last) = hosts.last()
            && last.envoy_cluster == cluster
            && last.address == address
        {
            return hosts.len() - 1;
        }
        let key = (cluster.to_owned(), address.to_owned());
        if let Some(&index) = self.host_index.get(&key) {
            return index;
        }
        hosts.push(HostStatus {
            envoy_cluster: key.0.clone(),
            address: key.1.clone(),
            ..HostStatus::default()
        });
        self.host_index.insert(key, hosts.len() - 1);
        hosts.len() - 1
    }
}

/// Splits a line into a setting or a host stat.
fn split_line(line: &str) -> Result<Line<'_>, LineError> {
    let (cluster, rest) = split_separator(line).ok_or(NO_SEPARATOR)?;
    let cluster = cluster.strip_suffix(';').unwrap_or(cluster);
    if cluster.is_empty() {
        return Err(EMPTY_CLUSTER);
    }
    if let Some((address, rest)) = split_host_address(rest) {
        let (stat, value) = split_separator(rest).ok_or(HOST_WITHOUT_VALUE)?;
        if stat.is_empty() {
            return Err(HOST_WITHOUT_VALUE);
        }
        return Ok(Line::Host { cluster, address, stat, value });
    }
    let (key, value) = split_setting(rest)?;
    Ok(Line::Setting { cluster, key, value })
}

/// The host address at the start of `rest` and what follows its `::` (empty when
/// nothing does), or `None` when `rest` does not start with an address.
fn split_host_address(rest: &str) -> Option<(&str, &str)> {
    if rest.starts_with('[') {
        return split_bracketed(rest);
    }
    let (first, remainder) = split_separator(rest).unwrap_or((rest, ""));
    let is_address = is_plain_socket(first)
        || is_pipe_path(first)
        || first.starts_with("envoy://")
        || first.starts_with("unix://");
    is_address.then_some((first, remainder))
}

/// `[ipv6]:port` and what follows its `::`.
fn split_bracketed(rest: &str) -> Option<(&str, &str)> {
    let close = rest.find("]:")?;
    let after_colon = rest.get(close + 2..)?;
    let (port, remainder) = split_separator(after_colon).unwrap_or((after_colon, ""));
    parse_port(port)?;
    let address = rest.get(..close + 2 + port.len())?;
    Some((address, remainder))
}

/// A cluster-level setting's key (parts joined by `::`) and value.
fn split_setting(rest: &str) -> Result<(&str, &str), LineError> {
    let (first, after_first) = split_separator(rest).ok_or(SETTING_WITHOUT_VALUE)?;
    if !is_key(first) {
        return Err(NOT_A_KEY);
    }
    if SINGLE_KEYS.contains(&first) {
        return Ok((first, after_first));
    }
    if GROUP_KEYS.contains(&first) {
        let (second, value) = split_separator(after_first).ok_or(SETTING_WITHOUT_VALUE)?;
        let key = rest.get(..first.len() + 2 + second.len()).ok_or(SETTING_WITHOUT_VALUE)?;
        return Ok((key, value));
    }
    rest.rsplit_once("::").ok_or(SETTING_WITHOUT_VALUE)
}

/// `text` split at its first `::` (memchr on `:`, faster than a substring search on
/// these short lines).
fn split_separator(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    let at = memchr::memchr_iter(b':', bytes).find(|&at| bytes.get(at + 1) == Some(&b':'))?;
    Some((text.get(..at)?, text.get(at + 2..)?))
}

/// A setting key part: letters, digits, `_`, `-`, `.`.
fn is_key(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"_-.".contains(&byte))
}

/// Sets the host field `stat` names. `Ok(false)` for a stat with no field.
fn apply_stat(host: &mut HostStatus, stat: &str, value: &str) -> Result<bool, String> {
    if let Some(slot) = counter_slot(host, stat) {
        *slot = Some(whole_number(stat, value)?);
        return Ok(true);
    }
    match stat {
        "hostname" => host.hostname = non_empty(value),
        "health_flags" => host.health_flags = Some(value.to_owned()),
        "weight" => host.weight = Some(whole_number(stat, value)?),
        "priority" => host.priority = Some(whole_number(stat, value)?),
        "region" => host.region = non_empty(value),
        "zone" => host.zone = non_empty(value),
        "sub_zone" => host.sub_zone = non_empty(value),
        "canary" => host.canary = Some(boolean(stat, value)?),
        "success_rate" => host.success_rate = success_rate(stat, value)?,
        "local_origin_success_rate" => host.local_origin_success_rate = success_rate(stat, value)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// The field of one of the eight per-host counters and gauges Envoy keeps.
pub(super) fn counter_slot<'h>(
    host: &'h mut HostStatus,
    stat: &str,
) -> Option<&'h mut Option<u64>> {
    let slot = match stat {
        "cx_active" => &mut host.cx_active,
        "cx_connect_fail" => &mut host.cx_connect_fail,
        "cx_total" => &mut host.cx_total,
        "rq_active" => &mut host.rq_active,
        "rq_error" => &mut host.rq_error,
        "rq_success" => &mut host.rq_success,
        "rq_timeout" => &mut host.rq_timeout,
        "rq_total" => &mut host.rq_total,
        _ => return None,
    };
    Some(slot)
}

fn whole_number<T: std::str::FromStr>(stat: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("`{stat}` is not a whole number in range: {value:?}"))
}

fn boolean(stat: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("`{stat}` is not true or false: {value:?}")),
    }
}

/// A success rate in percent; Envoy's `-1` (not computed) and other negative or
/// non-finite values are `None`.
pub(super) fn success_rate(stat: &str, value: &str) -> Result<Option<f64>, String> {
    let rate: f64 = value.parse().map_err(|_| format!("`{stat}` is not a number: {value:?}"))?;
    Ok(Some(rate).filter(|rate| rate.is_finite() && *rate >= 0.0))
}

fn non_empty(value: &str) -> Option<String> {
    Some(value).filter(|value| !value.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REVIEWS: &str = "outbound|9080||reviews.default.svc.cluster.local";

    fn host_lines(cluster: &str, address: &str) -> String {
        [
            "cx_active::2",
            "cx_connect_fail::1",
            "cx_total::40",
            "rq_active::0",
            "rq_error::3",
            "rq_success::120",
            "rq_timeout::1",
            "rq_total::124",
            "hostname::",
            "health_flags::/failed_outlier_check",
            "weight::1",
            "region::us-east1",
            "zone::us-east1-b",
            "sub_zone::",
            "canary::false",
            "priority::0",
            "success_rate::87.5",
            "local_origin_success_rate::-1",
        ]
        .iter()
        .map(|stat| format!("{cluster}::{address}::{stat}\n"))
        .collect()
    }

    #[test]
    fn a_hosts_lines_merge_into_one_row() {
        let dump = parse(&host_lines(REVIEWS, "10.112.2.40:9080"));
        assert_eq!(dump.issues, []);
        assert_eq!(
            dump.hosts,
            [HostStatus {
                envoy_cluster: REVIEWS.to_owned(),
                address: "10.112.2.40:9080".to_owned(),
                hostname: None,
                health_flags: Some("/failed_outlier_check".to_owned()),
                priority: Some(0),
                weight: Some(1),
                region: Some("us-east1".to_owned()),
                zone: Some("us-east1-b".to_owned()),
                sub_zone: None,
                canary: Some(false),
                cx_active: Some(2),
                cx_connect_fail: Some(1),
                cx_total: Some(40),
                rq_active: Some(0),
                rq_error: Some(3),
                rq_success: Some(120),
                rq_timeout: Some(1),
                rq_total: Some(124),
                success_rate: Some(87.5),
                local_origin_success_rate: None,
            }]
        );
        assert_eq!(dump.hosts[0].is_healthy(), Some(false));
    }

    #[test]
    fn cluster_settings_join_their_key_parts() {
        let dump = parse(
            "x::observability_name::x\n\
             x::outlier::success_rate_average::-1\n\
             x::default_priority::max_connections::1024\n\
             x::high_priority::max_retries::3\n\
             x::added_via_api::true\n\
             x::eds_service_name::outbound|80||x\n\
             x::future::nested::key::42\n",
        );
        assert_eq!(dump.issues, []);
        let settings: Vec<_> = dump
            .settings
            .iter()
            .map(|setting| {
                (setting.envoy_cluster.as_str(), setting.key.as_str(), setting.value.as_str())
            })
            .collect();
        assert_eq!(
            settings,
            [
                ("x", "observability_name", "x"),
                ("x", "outlier::success_rate_average", "-1"),
                ("x", "default_priority::max_connections", "1024"),
                ("x", "high_priority::max_retries", "3"),
                ("x", "added_via_api", "true"),
                ("x", "eds_service_name", "outbound|80||x"),
                ("x", "future::nested::key", "42"),
            ]
        );
    }

    #[test]
    fn observability_name_keeps_istio_1_23_semicolon() {
        let dump = parse(&format!("{REVIEWS}::observability_name::{REVIEWS};\n"));
        assert_eq!(dump.settings[0].value, format!("{REVIEWS};"));
    }

    #[test]
    fn trailing_semicolon_on_the_cluster_is_dropped() {
        let dump = parse(&format!("{REVIEWS};::10.112.2.31:9080::rq_total::5\n"));
        assert_eq!(dump.hosts[0].envoy_cluster, REVIEWS);
    }

    #[test]
    fn ipv6_host_keeps_its_brackets() {
        let dump =
            parse("x::[fd00:10:96::3]:9080::rq_total::5\nx::[fd00:10:96::3]:9080::zone::z\n");
        assert_eq!(dump.issues, []);
        assert_eq!(dump.hosts.len(), 1);
        assert_eq!(dump.hosts[0].address, "[fd00:10:96::3]:9080");
        assert_eq!((dump.hosts[0].rq_total, dump.hosts[0].zone.as_deref()), (Some(5), Some("z")));
    }

    #[test]
    fn pipe_hosts_get_the_unix_scheme() {
        let dump = parse(
            "xds-grpc::./etc/istio/proxy/XDS::cx_active::1\n\
             sds-grpc::./var/run/secrets/workload-spiffe-uds/socket::health_flags::healthy\n\
             admin::@envoy_admin::rq_total::0\n",
        );
        let addresses: Vec<_> = dump.hosts.iter().map(|host| host.address.as_str()).collect();
        assert_eq!(
            addresses,
            [
                "unix://./etc/istio/proxy/XDS",
                "unix://./var/run/secrets/workload-spiffe-uds/socket",
                "unix://@envoy_admin"
            ]
        );
    }

    #[test]
    fn internal_address_host() {
        let dump = parse("x::envoy://connect_originate/10.96.3.22:9080::rq_total::2\n");
        assert_eq!(dump.hosts[0].address, "envoy://connect_originate/10.96.3.22:9080");
    }

    #[test]
    fn names_with_dots_slashes_and_pipes() {
        let dump = parse(
            "httproute/default/backend/rule/0::10.0.0.1:8080::rq_total::1\n\
             default-reviews-9080_gloo-system::10.0.0.2:9080::rq_total::2\n\
             inbound|9080||::10.112.1.15:9080::rq_total::3\n",
        );
        assert_eq!(dump.issues, []);
        let clusters: Vec<_> = dump.hosts.iter().map(|host| host.envoy_cluster.as_str()).collect();
        assert_eq!(
            clusters,
            [
                "httproute/default/backend/rule/0",
                "default-reviews-9080_gloo-system",
                "inbound|9080||"
            ]
        );
    }

    #[test]
    fn success_rate_minus_one_is_none_in_both_spellings() {
        let dump = parse("x::1.1.1.1:1::success_rate::-1\ny::1.1.1.1:1::success_rate::-1.0\n");
        assert!(dump.hosts.iter().all(|host| host.success_rate.is_none()));
        assert_eq!(dump.issues, []);
    }

    #[test]
    fn host_lines_far_apart_still_merge() {
        let dump = parse(
            "a::1.1.1.1:1::rq_total::1\nb::2.2.2.2:2::rq_total::2\na::1.1.1.1:1::cx_total::3\n",
        );
        assert_eq!(dump.hosts.len(), 2);
        assert_eq!((dump.hosts[0].rq_total, dump.hosts[0].cx_total), (Some(1), Some(3)));
    }

    #[test]
    fn same_address_in_two_clusters_is_two_hosts() {
        let dump = parse("a::1.1.1.1:1::rq_total::1\nb::1.1.1.1:1::rq_total::2\n");
        assert_eq!(dump.hosts.len(), 2);
    }

    #[test]
    fn unknown_host_stat_is_kept_as_a_setting() {
        let dump = parse("x::10.0.0.1:80::rq_retry_budget::7\n");
        assert_eq!(dump.hosts.len(), 1);
        assert_eq!(
            dump.settings,
            [ClusterSetting {
                envoy_cluster: "x".to_owned(),
                key: "10.0.0.1:80::rq_retry_budget".to_owned(),
                value: "7".to_owned()
            }]
        );
    }

    #[test]
    fn hostname_with_colons_is_kept_whole() {
        let dump = parse("x::10.0.0.1:80::hostname::fd00::1\n");
        assert_eq!(dump.hosts[0].hostname.as_deref(), Some("fd00::1"));
    }

    #[test]
    fn bad_values_are_issues_and_reading_goes_on() {
        let dump = parse(
            "x::10.0.0.1:80::rq_total::lots\n\
             x::10.0.0.1:80::cx_total::18446744073709551616\n\
             x::10.0.0.1:80::weight::-1\n\
             x::10.0.0.1:80::canary::maybe\n\
             x::10.0.0.1:80::success_rate::fast\n\
             x::10.0.0.1:80::rq_error::4\n",
        );
        let lines: Vec<_> = dump.issues.iter().map(|issue| (issue.line, issue.reason)).collect();
        assert_eq!(
            lines,
            [
                (1, "bad_value"),
                (2, "bad_value"),
                (3, "bad_value"),
                (4, "bad_value"),
                (5, "bad_value")
            ]
        );
        assert_eq!(dump.hosts[0].rq_error, Some(4));
        assert_eq!(dump.hosts[0].rq_total, None);
    }

    #[test]
    fn lines_that_do_not_fit_are_issues() {
        let dump = parse(
            "no separator here\n\
             ::10.0.0.1:80::rq_total::1\n\
             x::10.0.0.1:80\n\
             x::10.0.0.1:80::rq_total\n\
             x::added_via_api\n\
             x::default_priority::max_connections\n\
             x::not a key::1\n\
             x::[fd00::1]:80\n\
             x::rq_total::1\n",
        );
        let reasons: Vec<_> = dump.issues.iter().map(|issue| (issue.line, issue.reason)).collect();
        assert_eq!(
            reasons,
            [
                (1, "unknown_line"),
                (2, "bad_line"),
                (3, "bad_line"),
                (4, "bad_line"),
                (5, "bad_line"),
                (6, "bad_line"),
                (7, "unknown_line"),
                (8, "bad_line"),
            ]
        );
        assert_eq!(dump.settings.len(), 1, "`x::rq_total::1` is a setting named rq_total");
    }

    #[test]
    fn bom_crlf_and_blank_lines() {
        let dump =
            parse("\u{feff}x::added_via_api::true\r\n\r\n   \nx::1.1.1.1:1::rq_total::1\r\n");
        assert_eq!(dump.issues, []);
        assert_eq!(dump.settings[0].value, "true");
        assert_eq!(dump.hosts[0].rq_total, Some(1));
    }

    /// `istioctl x envoy-stats POD --type clusters | grep reviews` and the same lines
    /// pasted into an issue with elisions.
    #[test]
    fn fragments_with_banners_and_elisions_read_without_issues() {
        let dump = parse(&format!(
            "\nThe result of pod productpage-v1-7d9f8b6c4-x2k9l:\n\n\
             {REVIEWS}::10.112.2.31:9080::health_flags::healthy\n...\n\
             {REVIEWS}::34.168.157.2:15443::health_flags::healthy\n…\n[...]\n--\n   \n\
             {REVIEWS}::34.168.157.2:15443::priority::1\n"
        ));
        assert_eq!(dump.issues, []);
        assert_eq!(dump.hosts.len(), 2);
        assert_eq!(dump.hosts[1].priority, Some(1));
    }

    #[test]
    fn issue_line_numbers_count_blank_lines() {
        let dump = parse("\n\nbroken\n");
        assert_eq!(dump.issues[0].line, 3);
    }

    #[test]
    fn unicode_and_odd_brackets_do_not_panic() {
        for input in [
            "🙂::[🙂]:80::a::b",
            "x::[",
            "x::[]:",
            "x::[::1]:🙂::a::b",
            "x::]:",
            ";::a::b",
            "é::é::é",
        ] {
            let _ = parse(input);
        }
    }
}
