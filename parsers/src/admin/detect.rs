//! Content sniffing: which admin dump the first few KB of a file are, or none of them (an
//! access log, say). This file owns [`AdminKind`], its names, and the rules below. It
//! reads only the head it is given, which may be cut anywhere (mid-line, mid-character).
//!
//! After a UTF-8 BOM, leading blank lines and the banner `istioctl experimental
//! envoy-stats` prints (`The result of pod <name>:`):
//!
//! * `{` is JSON, told apart by its first key: `cluster_statuses`/`clusterStatuses` is
//!   [`AdminKind::ClustersJson`], and so is `name` with a `hostStatuses`/`host_statuses`
//!   key in the head (cluster statuses one by one, as `jq '.[]'` prints istioctl's
//!   list); a service FQDN key (no spaces) with a `"Shards":` key in the head is
//!   [`AdminKind::EndpointShardz`]; anything else (a JSON access log's `start_time`,
//!   `response_code`…) is `None`.
//! * `[` followed by `{` is istioctl's `-o json` list of cluster statuses when the head
//!   holds a `hostStatuses`/`host_statuses`/`addedViaApi` key; an Istio text access log
//!   also starts with `[` (its timestamp) and goes on to the rules below.
//! * YAML (`- ` or `cluster_statuses:`/`clusterStatuses:` first, and a
//!   `hostStatuses:`/`host_statuses:` key in the head) is [`AdminKind::ClustersYaml`]:
//!   istioctl's `-o yaml`.
//! * Otherwise each complete line votes (the last, cut line only when it is the only
//!   one): an istioctl header (`ENDPOINT`/`NAME` … `STATUS` … `CLUSTER`) decides
//!   [`AdminKind::IstioctlEndpoints`] at once, and a header-less istioctl row (endpoint,
//!   EDS status, …, cluster) votes for it; `<cluster>::<x>::<y>` votes
//!   [`AdminKind::ClustersText`]; `name: value` votes [`AdminKind::StatsText`];
//!   `# TYPE`/`# HELP` and `name{labels} number` / `name number` (Prometheus metric
//!   names) vote [`AdminKind::StatsPrometheus`]; other `#` lines, blank lines,
//!   elisions (`...`, `…`, grep's `--`), envoy-stats banners and pasted shell commands
//!   (`$ istioctl …`) abstain; any other line
//!   votes against. The kind with the most votes wins if it has more than the lines
//!   against it; else `None`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use super::{is_elision, is_envoy_stats_banner, istioctl};

/// The admin dumps meshlog reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminKind {
    /// Envoy `/stats` text (`name: value`).
    StatsText,
    /// Envoy `/stats/prometheus`.
    StatsPrometheus,
    /// Envoy `/clusters` text.
    ClustersText,
    /// Envoy `/clusters?format=json`, or istioctl's `proxy-config endpoints -o json`.
    ClustersJson,
    /// istioctl's `proxy-config endpoints -o yaml` (or `envoy-stats --type clusters
    /// -o yaml`): the same cluster statuses in YAML.
    ClustersYaml,
    /// `istioctl proxy-config endpoints` table.
    IstioctlEndpoints,
    /// istiod `/debug/endpointShardz`.
    EndpointShardz,
}

impl AdminKind {
    /// Every kind, in declaration order.
    pub const ALL: [AdminKind; 7] = [
        AdminKind::StatsText,
        AdminKind::StatsPrometheus,
        AdminKind::ClustersText,
        AdminKind::ClustersJson,
        AdminKind::ClustersYaml,
        AdminKind::IstioctlEndpoints,
        AdminKind::EndpointShardz,
    ];

    /// The kind's name, as [`FromStr`] reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminKind::StatsText => "stats",
            AdminKind::StatsPrometheus => "prometheus",
            AdminKind::ClustersText => "clusters",
            AdminKind::ClustersJson => "clusters-json",
            AdminKind::ClustersYaml => "clusters-yaml",
            AdminKind::IstioctlEndpoints => "istioctl-endpoints",
            AdminKind::EndpointShardz => "endpointshardz",
        }
    }
}

impl fmt::Display for AdminKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`AdminKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAdminKind {
    pub name: String,
}

impl fmt::Display for UnknownAdminKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = AdminKind::ALL.iter().map(|kind| kind.as_str()).collect();
        write!(f, "unknown admin dump kind {:?} (one of: {})", self.name, names.join(", "))
    }
}

impl std::error::Error for UnknownAdminKind {}

impl FromStr for AdminKind {
    type Err = UnknownAdminKind;

    /// Reads a kind's name in any ASCII case.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        AdminKind::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| UnknownAdminKind { name: name.to_owned() })
    }
}

/// How many lines of the head vote at most.
const MAX_LINES: usize = 64;

/// Which admin dump `head` (the first few KB of a file) is, or `None`.
pub fn detect(head: &[u8]) -> Option<AdminKind> {
    let text = String::from_utf8_lossy(head);
    let text = skip_preamble(&text);
    match text.as_bytes().first()? {
        b'{' => json_object_kind(text),
        b'[' if starts_json_list(text) => json_list_kind(text),
        _ if is_clusters_yaml(text) => Some(AdminKind::ClustersYaml),
        _ => text_kind(text),
    }
}

/// Drops a BOM, leading whitespace (blank lines) and envoy-stats banners.
fn skip_preamble(text: &str) -> &str {
    let mut text = text.trim_start_matches('\u{feff}').trim_start();
    while let Some((first, rest)) = text.split_once('\n')
        && is_envoy_stats_banner(first)
    {
        text = rest.trim_start();
    }
    text
}

/// istioctl's `-o yaml`: a list (or `cluster_statuses:`) whose head has a host list key.
fn is_clusters_yaml(text: &str) -> bool {
    let first = text.lines().next().unwrap_or_default();
    let starts_yaml = first.starts_with("- ")
        || first.starts_with("cluster_statuses:")
        || first.starts_with("clusterStatuses:");
    starts_yaml
        && complete_lines(text).any(|line| {
            let key = line.trim_start().trim_start_matches("- ");
            key.starts_with("hostStatuses:") || key.starts_with("host_statuses:")
        })
}

/// `[` then (after whitespace) `{` or `]`.
fn starts_json_list(text: &str) -> bool {
    let rest = text.get(1..).map(str::trim_start).unwrap_or_default();
    rest.starts_with('{') || rest.starts_with(']')
}

fn json_object_kind(text: &str) -> Option<AdminKind> {
    let rest = text.get(1..)?.trim_start();
    let key = json_string_start(rest)?;
    if key == "cluster_statuses" || key == "clusterStatuses" {
        return Some(AdminKind::ClustersJson);
    }
    if key == "name" && (has_json_key(text, "hostStatuses") || has_json_key(text, "host_statuses"))
    {
        return Some(AdminKind::ClustersJson);
    }
    let looks_like_service = !key.is_empty() && !key.contains(char::is_whitespace);
    (looks_like_service && has_json_key(text, "Shards")).then_some(AdminKind::EndpointShardz)
}

fn json_list_kind(text: &str) -> Option<AdminKind> {
    let cluster_keys = ["hostStatuses", "host_statuses", "addedViaApi", "added_via_api"];
    cluster_keys.iter().any(|key| has_json_key(text, key)).then_some(AdminKind::ClustersJson)
}

/// The JSON string `text` starts with (escapes left as written), or `None`.
fn json_string_start(text: &str) -> Option<Cow<'_, str>> {
    let body = text.strip_prefix('"')?;
    let mut escaped = false;
    for (index, character) in body.char_indices() {
        match character {
            '"' if !escaped => return body.get(..index).map(Cow::Borrowed),
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
    }
    None
}

/// Whether `"key"` followed by `:` appears in `text`.
fn has_json_key(text: &str, key: &str) -> bool {
    let quoted = format!("\"{key}\"");
    text.match_indices(&quoted).any(|(index, _)| {
        text.get(index + quoted.len()..).is_some_and(|rest| rest.trim_start().starts_with(':'))
    })
}

/// The line vote described in the module docs.
fn text_kind(text: &str) -> Option<AdminKind> {
    let mut votes: Vec<(AdminKind, usize)> = Vec::new();
    let mut against = 0;
    for line in complete_lines(text).take(MAX_LINES) {
        match classify(line) {
            Vote::Decides(kind) => return Some(kind),
            Vote::For(kind) => match votes.iter_mut().find(|(voted, _)| *voted == kind) {
                Some((_, count)) => *count += 1,
                None => votes.push((kind, 1)),
            },
            Vote::Against => against += 1,
            Vote::Abstain => {}
        }
    }
    let (kind, count) = votes.into_iter().rev().max_by_key(|(_, count)| *count)?;
    (count > against).then_some(kind)
}

/// The lines of the head, without the last one when it is cut and not the only one.
fn complete_lines(text: &str) -> impl Iterator<Item = &str> {
    let complete = match text.rfind('\n') {
        Some(end) if !text.ends_with('\n') => &text[..end],
        _ => text,
    };
    complete.lines()
}

/// What one line says about the dump.
#[derive(Debug, PartialEq, Eq)]
enum Vote {
    Decides(AdminKind),
    For(AdminKind),
    Against,
    Abstain,
}

fn classify(line: &str) -> Vote {
    let line = line.trim_end();
    let is_shell_command = line.starts_with("$ ");
    if is_elision(line) || is_envoy_stats_banner(line) || is_shell_command {
        return Vote::Abstain;
    }
    if let Some(comment) = line.strip_prefix('#') {
        let comment = comment.trim_start();
        let is_metadata = comment.starts_with("TYPE ") || comment.starts_with("HELP ");
        return if is_metadata { Vote::For(AdminKind::StatsPrometheus) } else { Vote::Abstain };
    }
    if is_istioctl_header(line) {
        return Vote::Decides(AdminKind::IstioctlEndpoints);
    }
    if istioctl::is_row(line) {
        return Vote::For(AdminKind::IstioctlEndpoints);
    }
    if is_clusters_line(line) {
        return Vote::For(AdminKind::ClustersText);
    }
    if is_stats_line(line) {
        return Vote::For(AdminKind::StatsText);
    }
    if is_prometheus_sample(line) {
        return Vote::For(AdminKind::StatsPrometheus);
    }
    Vote::Against
}

/// `ENDPOINT`/`NAME` first, then `STATUS` and `CLUSTER` among the words.
fn is_istioctl_header(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let first = words.next();
    let rest: Vec<&str> = words.collect();
    matches!(first, Some("ENDPOINT" | "NAME"))
        && rest.contains(&"STATUS")
        && rest.contains(&"CLUSTER")
}

/// `<cluster>::<x>::<y>` with a cluster name free of whitespace.
fn is_clusters_line(line: &str) -> bool {
    let Some((cluster, rest)) = line.split_once("::") else {
        return false;
    };
    !cluster.is_empty() && !cluster.contains(char::is_whitespace) && rest.contains("::")
}

/// `name: value`, the name free of whitespace and not starting like a log line.
fn is_stats_line(line: &str) -> bool {
    let Some((name, value)) = line.split_once(": ") else {
        return false;
    };
    !name.is_empty()
        && !name.contains(char::is_whitespace)
        && !name.starts_with(['[', '{', '"'])
        && !value.trim().is_empty()
}

/// `name{labels} value [timestamp]` or `name value [timestamp]`, with a Prometheus
/// metric name and a number (or `NaN`, `+Inf`, `-Inf`) as the value.
fn is_prometheus_sample(line: &str) -> bool {
    let name_end = line.find(|character: char| character == '{' || character.is_whitespace());
    let Some(name_end) = name_end else {
        return false;
    };
    let name = &line[..name_end];
    let rest = &line[name_end..];
    let after_labels = if rest.starts_with('{') {
        rest.rfind('}').map(|end| &rest[end + 1..])
    } else {
        Some(rest)
    };
    let value = after_labels.and_then(|after| after.split_whitespace().next());
    is_metric_name(name) && value.is_some_and(is_sample_value)
}

fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let first_ok =
        bytes.next().is_some_and(|byte| byte.is_ascii_alphabetic() || byte == b'_' || byte == b':');
    first_ok && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b':')
}

fn is_sample_value(value: &str) -> bool {
    value.parse::<f64>().is_ok() || matches!(value, "NaN" | "+Inf" | "-Inf")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISTIO_ACCESS_LOG: &str = "[2022-11-09T00:00:50.336Z] \"GET / HTTP/1.1\" 200 - via_upstream - \"-\" 0 11107 81 80 \"10.142.0.66\" \"Mozilla/5.0\" \"36912637-ba06-41e4-97a2-07cddd73f849\" \"34.75.183.246\" \"10.112.0.68:8080\" outbound|80||frontend.mycompany.mesh 10.112.0.50:41008 10.112.0.50:8080 10.142.0.66:16973 - frontend-frontend.web-team.mgmt-cluster\n";
    const JSON_ACCESS_LOG: &str = "{\"start_time\":\"2024-03-12T14:00:17.123Z\",\"method\":\"GET\",\"path\":\"/ratings/0\",\"response_code\":200,\"upstream_cluster\":\"outbound|9080||ratings.default.svc.cluster.local\",\"upstream_host\":\"10.112.3.7:9080\"}\n";
    const STATS: &str = "cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_cx_total: 42\n\
                         cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_rq_time: P0(nan,1) P25(nan,2.05)\n\
                         server.version: \"1.30.2\"\n";
    const PROMETHEUS: &str = "# TYPE envoy_cluster_upstream_rq counter\n\
                              envoy_cluster_upstream_rq{response_code_class=\"5xx\",cluster_name=\"outbound|9080||reviews.default.svc.cluster.local\"} 3\n";
    const CLUSTERS: &str = "outbound|9080||reviews.default.svc.cluster.local::observability_name::outbound|9080||reviews.default.svc.cluster.local\n\
                            outbound|9080||reviews.default.svc.cluster.local::default_priority::max_connections::4294967295\n\
                            outbound|9080||reviews.default.svc.cluster.local::10.112.2.40:9080::cx_active::0\n";

    #[test]
    fn text_dumps() {
        assert_eq!(detect(STATS.as_bytes()), Some(AdminKind::StatsText));
        assert_eq!(detect(PROMETHEUS.as_bytes()), Some(AdminKind::StatsPrometheus));
        assert_eq!(detect(b"envoy_server_uptime 1234\nenvoy_cluster_upstream_cx_active{cluster_name=\"x\"} 0\n"), Some(AdminKind::StatsPrometheus));
        assert_eq!(detect(CLUSTERS.as_bytes()), Some(AdminKind::ClustersText));
    }

    #[test]
    fn istioctl_tables() {
        for header in [
            "ENDPOINT                 STATUS      OUTLIER CHECK     CLUSTER",
            "ENDPOINT     STATUS     CLUSTER",
            "NAME     STATUS     LOCALITY     CLUSTER",
        ] {
            let table = format!(
                "{header}\n10.112.2.31:9080     HEALTHY     OK     outbound|9080||reviews.default.svc.cluster.local\n"
            );
            assert_eq!(detect(table.as_bytes()), Some(AdminKind::IstioctlEndpoints), "{header}");
        }
    }

    /// `istioctl proxy-config endpoints POD | grep reviews`: rows of every table
    /// without their header, and docs' pastes of them with elisions.
    #[test]
    fn header_less_istioctl_rows() {
        for rows in [
            "10.112.2.31:9080     HEALTHY     OK     outbound|9080||reviews.default.svc.cluster.local\n34.168.157.2:15443     HEALTHY     FAILED     outbound|9080||reviews.default.svc.cluster.local\n",
            "172.17.0.24:9080      HEALTHY       outbound|9080||reviews.default.svc.cluster.local\n",
            "10.112.2.31:9080     HEALTHY     us-east1/us-east1-c     outbound|9080||reviews.default.svc.cluster.local\n...\n",
        ] {
            assert_eq!(detect(rows.as_bytes()), Some(AdminKind::IstioctlEndpoints), "{rows}");
        }
    }

    /// `istioctl x envoy-stats POD --type clusters`, whole or through grep, and
    /// `/clusters` lines pasted with elisions.
    #[test]
    fn clusters_text_fragments_with_banners_and_elisions() {
        let whole = format!("\nThe result of pod productpage-v1-7d9f8b6c4-x2k9l:\n\n{CLUSTERS}");
        assert_eq!(detect(whole.as_bytes()), Some(AdminKind::ClustersText));
        let pasted = "outbound|9080||reviews.default.svc.cluster.local::10.36.1.9:9080::health_flags::healthy\n...\n…\n--\ninbound|9080||reviews.default.svc.cluster.local::127.0.0.1:9080::health_flags::healthy\n";
        assert_eq!(detect(pasted.as_bytes()), Some(AdminKind::ClustersText));
    }

    #[test]
    fn istioctl_yaml() {
        let list = "- addedViaApi: true\n  circuitBreakers:\n    thresholds:\n    - maxConnections: 4294967295\n  hostStatuses:\n  - address:\n      socketAddress:\n        address: 10.112.2.31\n";
        assert_eq!(detect(list.as_bytes()), Some(AdminKind::ClustersYaml));
        let stats = "\nThe result of pod a:\n\ncluster_statuses:\n- host_statuses:\n  - address:\n";
        assert_eq!(detect(stats.as_bytes()), Some(AdminKind::ClustersYaml));
        assert_eq!(detect(b"- name: x\n  kind: Deployment\n"), None);
    }

    #[test]
    fn json_dumps() {
        assert_eq!(
            detect(b"{\n \"cluster_statuses\": [\n  {\n   \"name\": \"x\""),
            Some(AdminKind::ClustersJson)
        );
        assert_eq!(detect(b"{\"clusterStatuses\":[]}"), Some(AdminKind::ClustersJson));
        assert_eq!(detect(b"[\n    {\n        \"name\": \"x\",\n        \"addedViaApi\": true,\n        \"hostStatuses\": ["), Some(AdminKind::ClustersJson));
        let shardz = b"{\n \"details.default.svc.cluster.local\": {\n  \"default\": {\n   \"Shards\": {\n    \"Kubernetes/cluster1\": [";
        assert_eq!(detect(shardz), Some(AdminKind::EndpointShardz));
        let jq = b"{\n  \"name\": \"outbound|9080||reviews.default.svc.cluster.local\",\n  \"addedViaApi\": true,\n  \"hostStatuses\": [";
        assert_eq!(detect(jq), Some(AdminKind::ClustersJson));
        let banner = b"\nThe result of pod a:\n\n{\n    \"cluster_statuses\": [";
        assert_eq!(detect(banner), Some(AdminKind::ClustersJson));
        assert_eq!(detect(b"{\"name\": \"x\", \"level\": \"info\"}\n"), None);
    }

    #[test]
    fn access_logs_are_none() {
        assert_eq!(detect(ISTIO_ACCESS_LOG.as_bytes()), None);
        assert_eq!(detect(JSON_ACCESS_LOG.as_bytes()), None);
        assert_eq!(detect(b"ACCESS [2023-08-02T11:04:17.503Z] \"GET /service/1 HTTP/1.1\" 200 - 0 89 4 3 \"-\" \"curl/8.5.0\"\n"), None);
        assert_eq!(detect(b"{\"x-envoy-origin-path\":\"/\",\":authority\":\"example.com\",\"response_code\":\"200\"}\n"), None);
    }

    #[test]
    fn empty_and_unrelated_inputs_are_none() {
        for head in [
            &b""[..],
            b"\n\n  \n",
            b"{}",
            b"[]",
            b"[1, 2]",
            b"hello world\n",
            b"# just a comment\n",
            b"\xff\xfe\xfd",
        ] {
            assert_eq!(detect(head), None, "{:?}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn bom_and_blank_lines_are_skipped() {
        let head = format!("\u{feff}\n\n{CLUSTERS}");
        assert_eq!(detect(head.as_bytes()), Some(AdminKind::ClustersText));
        assert_eq!(
            detect(b"\xef\xbb\xbf\r\n{\"cluster_statuses\": ["),
            Some(AdminKind::ClustersJson)
        );
    }

    #[test]
    fn a_head_cut_mid_line_or_mid_character() {
        let cut = &CLUSTERS.as_bytes()[..CLUSTERS.len() - 20];
        assert_eq!(detect(cut), Some(AdminKind::ClustersText));
        let stats_cut = format!("{STATS}cluster.outbound|9080||rev");
        assert_eq!(detect(stats_cut.as_bytes()), Some(AdminKind::StatsText));
        let emoji = "x::a::b 🙂".as_bytes();
        assert_eq!(detect(&emoji[..emoji.len() - 1]), Some(AdminKind::ClustersText));
        assert_eq!(detect(b"{\"cluster_stat"), None);
    }

    #[test]
    fn mostly_access_log_with_a_stray_stats_like_line_is_none() {
        let head = format!("{ISTIO_ACCESS_LOG}{ISTIO_ACCESS_LOG}warning: disk: full\n");
        assert_eq!(detect(head.as_bytes()), None);
    }

    #[test]
    fn names_round_trip() {
        for kind in AdminKind::ALL {
            assert_eq!(kind.as_str().parse::<AdminKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!("Clusters-JSON".parse::<AdminKind>(), Ok(AdminKind::ClustersJson));
        let error = "clusterz".parse::<AdminKind>().unwrap_err();
        assert!(error.to_string().contains("clusterz"));
    }

    #[test]
    fn json_string_starts() {
        assert_eq!(json_string_start(r#""a\"b": 1"#).as_deref(), Some(r#"a\"b"#));
        assert_eq!(json_string_start(r#""unterminated"#), None);
        assert_eq!(json_string_start("x"), None);
    }
}
