//! Envoy's `/stats/prometheus` (Prometheus text exposition) read into [`StatSample`]
//! rows. This file owns the line grammar, the kinds and the mapping from a metric and
//! its labels to `envoy_cluster` and `stat`; label syntax is in `labels`.
//!
//! Real dumps break the exposition rules, so reading is lenient about layout and strict
//! about tokens:
//!
//! - Blank lines anywhere are skipped; `#` lines other than `# TYPE` (`# HELP`, `# EOF`,
//!   comments) are ignored. A sample line is `name[{labels}] value [timestamp]`; the
//!   timestamp is checked (an integer) and dropped, and an OpenMetrics exemplar after
//!   ` # ` is ignored. `{}` is no labels. Values take `NaN` (→ `None`), `+Inf`, `-Inf`.
//! - **Kinds** come from `# TYPE <family> <type>` lines, read in a first pass so they
//!   count wherever they are (families interleaved, `TYPE` after its samples). A sample
//!   takes its own name's type, else that of its name without `_bucket`, `_sum`,
//!   `_count`, `_total`, `_created`, `_gsum`, `_gcount` or `_info`. `counter` →
//!   counter, `gauge` → gauge, `histogram`/`gaugehistogram`/`summary` → histogram (so
//!   `_bucket`, `_sum`, `_count` and quantile series are histogram rows), `untyped`,
//!   `unknown`, `info`, `stateset` or no `TYPE` at all → untyped. The first `TYPE` of a
//!   family wins; a different one later is an issue.
//! - **Cluster**: the value of label `cluster_name` (Istio), else `envoy_cluster_name`
//!   (Envoy's default tags), without a trailing `;`; that label is taken out. An empty
//!   value counts as no cluster label.
//! - **Stat**: the metric name without `envoy_`, and without `cluster_` after that when
//!   a cluster label was found; then the other labels sorted by name as
//!   `{k="v",…}` (values escaped again), nothing when none are left:
//!   `envoy_cluster_upstream_rq{response_code_class="5xx",cluster_name="outbound|80||x"} 3`
//!   → cluster `outbound|80||x`, stat `upstream_rq{response_code_class="5xx"}`.
//!   `istio_requests_total{…}` has no cluster label: stat is the full name with its labels.
//!
//! Issues: `bad_name`, `bad_labels`, `missing_value`, `bad_value`, `bad_timestamp`,
//! `trailing_text` for sample lines; `bad_type_line`, `unknown_type`,
//! `conflicting_type` for `TYPE` lines. Issues come out in line order.

mod labels;

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use labels::{Label, parse_labels, render_labels};

use crate::admin::{AdminIssue, StatKind, StatSample, StatsDump};

/// Reads a whole `/stats/prometheus` dump. Never fails and never panics.
pub fn parse(input: &str) -> StatsDump {
    let mut issues = Vec::new();
    let types = TypeTable::read(input, &mut issues);
    let mut samples = Vec::new();
    for (index, raw) in input.lines().enumerate() {
        let text = raw.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        match read_sample(text, &types) {
            Ok(sample) => samples.push(sample),
            Err((reason, message)) => {
                issues.push(AdminIssue::new(index + 1, reason, message, text))
            }
        }
    }
    issues.sort_by_key(|issue| issue.line);
    StatsDump { samples, issues }
}

/// A line that makes no sense: the issue's reason code and message.
type Problem = (&'static str, String);

/// A metric family's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl Family {
    fn from_word(word: &str) -> Option<Family> {
        match word {
            "counter" => Some(Family::Counter),
            "gauge" => Some(Family::Gauge),
            "histogram" | "gaugehistogram" => Some(Family::Histogram),
            "summary" => Some(Family::Summary),
            "untyped" | "unknown" | "info" | "stateset" => Some(Family::Untyped),
            _ => None,
        }
    }

    fn kind(self) -> StatKind {
        match self {
            Family::Counter => StatKind::Counter,
            Family::Gauge => StatKind::Gauge,
            Family::Histogram | Family::Summary => StatKind::Histogram,
            Family::Untyped => StatKind::Untyped,
        }
    }
}

/// Series names a family's samples may add to the family name.
const SERIES_SUFFIXES: [&str; 8] =
    ["_bucket", "_sum", "_count", "_total", "_created", "_gsum", "_gcount", "_info"];

/// Every `# TYPE` of the dump, by family name.
#[derive(Debug, Default)]
struct TypeTable<'a> {
    families: HashMap<&'a str, Family>,
}

impl<'a> TypeTable<'a> {
    fn read(input: &'a str, issues: &mut Vec<AdminIssue>) -> Self {
        let mut table = TypeTable::default();
        for (index, raw) in input.lines().enumerate() {
            let text = raw.trim();
            let Some(declaration) = type_declaration(text) else {
                continue;
            };
            if let Err((reason, message)) = table.declare(declaration) {
                issues.push(AdminIssue::new(index + 1, reason, message, text));
            }
        }
        table
    }

    /// Records `<family> <type>`.
    fn declare(&mut self, declaration: &'a str) -> Result<(), Problem> {
        let words: Vec<&str> = declaration.split_ascii_whitespace().collect();
        let [name, word] = words[..] else {
            return Err(("bad_type_line", "a TYPE line needs a metric name and a type".to_owned()));
        };
        let family = Family::from_word(word)
            .ok_or_else(|| ("unknown_type", format!("unknown metric type {word:?}")))?;
        match self.families.entry(name) {
            Entry::Vacant(vacant) => {
                vacant.insert(family);
                Ok(())
            }
            Entry::Occupied(first) if *first.get() != family => Err((
                "conflicting_type",
                format!("{name} was declared {:?} before; that type is kept", first.get()),
            )),
            Entry::Occupied(_) => Ok(()),
        }
    }

    fn kind_of(&self, metric: &str) -> StatKind {
        if let Some(family) = self.families.get(metric) {
            return family.kind();
        }
        SERIES_SUFFIXES
            .iter()
            .filter_map(|suffix| metric.strip_suffix(suffix))
            .find_map(|base| self.families.get(base))
            .map_or(StatKind::Untyped, |family| family.kind())
    }
}

/// What follows `# TYPE` (also `#TYPE`), or `None` for any other line.
fn type_declaration(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('#')?.trim_start().strip_prefix("TYPE")?;
    (rest.is_empty() || rest.starts_with([' ', '\t'])).then_some(rest)
}

fn read_sample(text: &str, types: &TypeTable<'_>) -> Result<StatSample, Problem> {
    let (metric, rest) = split_metric_name(text)?;
    let (mut labels, rest) = match rest.trim_start().strip_prefix('{') {
        Some(inside) => parse_labels(inside).map_err(|message| ("bad_labels", message))?,
        None => (Vec::new(), rest),
    };
    let value = read_value(rest)?;
    let cluster = take_cluster_label(&mut labels);
    let stat = format!("{}{}", stat_base(metric, cluster.is_some()), render_labels(&mut labels));
    Ok(StatSample { envoy_cluster: cluster, stat, value, text: None, kind: types.kind_of(metric) })
}

/// The metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) and what follows it.
fn split_metric_name(text: &str) -> Result<(&str, &str), Problem> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    let (metric, rest) = text.split_at(end);
    let starts_well = metric.starts_with(|c: char| !c.is_ascii_digit());
    let ends_well = rest.is_empty() || rest.starts_with([' ', '\t', '{']);
    if starts_well && ends_well {
        Ok((metric, rest))
    } else {
        Err(("bad_name", "no valid metric name at the start of the line".to_owned()))
    }
}

/// `value [timestamp] [# exemplar]`; the number, `None` for NaN.
fn read_value(rest: &str) -> Result<Option<f64>, Problem> {
    let mut tokens = rest.split_ascii_whitespace().take_while(|token| *token != "#");
    let token = tokens.next().ok_or(("missing_value", "no value after the metric".to_owned()))?;
    let value = token
        .parse::<f64>()
        .map_err(|error| ("bad_value", format!("value {token:?} is no number ({error})")))?;
    if let Some(timestamp) = tokens.next()
        && timestamp.parse::<i64>().is_err()
    {
        return Err(("bad_timestamp", format!("timestamp {timestamp:?} is no integer")));
    }
    if let Some(extra) = tokens.next() {
        return Err((
            "trailing_text",
            format!("unexpected {extra:?} after the value and timestamp"),
        ));
    }
    Ok(Some(value).filter(|value| !value.is_nan()))
}

/// Labels that name the Envoy cluster, in order of preference.
const CLUSTER_LABELS: [&str; 2] = ["cluster_name", "envoy_cluster_name"];

/// Removes the cluster label and returns its value without a trailing `;`.
fn take_cluster_label(labels: &mut Vec<Label<'_>>) -> Option<String> {
    let index = CLUSTER_LABELS.iter().find_map(|wanted| {
        labels
            .iter()
            .position(|label| label.name == *wanted && !strip_semicolon(&label.value).is_empty())
    })?;
    let label = labels.remove(index);
    Some(strip_semicolon(&label.value).to_owned())
}

fn strip_semicolon(value: &str) -> &str {
    value.strip_suffix(';').unwrap_or(value)
}

/// The metric name without `envoy_`, and without `cluster_` when it has a cluster.
fn stat_base(metric: &str, has_cluster: bool) -> &str {
    let name = strip_nonempty_prefix(metric, "envoy_");
    if has_cluster { strip_nonempty_prefix(name, "cluster_") } else { name }
}

fn strip_nonempty_prefix<'a>(name: &'a str, prefix: &str) -> &'a str {
    name.strip_prefix(prefix).filter(|rest| !rest.is_empty()).unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (cluster, stat, value, kind) of every sample.
    fn rows(input: &str) -> Vec<(Option<String>, String, Option<f64>, StatKind)> {
        let dump = parse(input);
        assert_eq!(dump.issues, vec![], "{input}");
        dump.samples.into_iter().map(|s| (s.envoy_cluster, s.stat, s.value, s.kind)).collect()
    }

    fn row(
        cluster: Option<&str>,
        stat: &str,
        value: Option<f64>,
        kind: StatKind,
    ) -> (Option<String>, String, Option<f64>, StatKind) {
        (cluster.map(str::to_owned), stat.to_owned(), value, kind)
    }

    fn issue_reasons(input: &str) -> Vec<(usize, &'static str)> {
        parse(input).issues.iter().map(|issue| (issue.line, issue.reason)).collect()
    }

    #[test]
    fn brief_example() {
        let input = "# TYPE envoy_cluster_upstream_rq counter\nenvoy_cluster_upstream_rq{response_code_class=\"5xx\",cluster_name=\"outbound|80||x.ns.svc.cluster.local\"} 3\n";
        assert_eq!(
            rows(input),
            vec![row(
                Some("outbound|80||x.ns.svc.cluster.local"),
                "upstream_rq{response_code_class=\"5xx\"}",
                Some(3.0),
                StatKind::Counter
            )]
        );
    }

    #[test]
    fn envoy_cluster_name_and_semicolon() {
        let input = "envoy_cluster_upstream_cx_active{envoy_cluster_name=\"outbound|80||frontend.ns.svc.cluster.local;\"} 2\n# TYPE envoy_cluster_upstream_cx_active gauge\n";
        assert_eq!(
            rows(input),
            vec![row(
                Some("outbound|80||frontend.ns.svc.cluster.local"),
                "upstream_cx_active",
                Some(2.0),
                StatKind::Gauge
            )]
        );
    }

    #[test]
    fn cluster_name_is_preferred_and_other_labels_sorted() {
        assert_eq!(
            rows("envoy_cluster_x{z=\"1\",envoy_cluster_name=\"b\",cluster_name=\"a\",m=\"2\"} 1"),
            vec![row(
                Some("a"),
                "x{envoy_cluster_name=\"b\",m=\"2\",z=\"1\"}",
                Some(1.0),
                StatKind::Untyped
            )]
        );
    }

    #[test]
    fn no_cluster_label_keeps_cluster_prefix() {
        assert_eq!(
            rows(
                "# TYPE envoy_cluster_manager_active_clusters gauge\nenvoy_cluster_manager_active_clusters{} 28\nenvoy_server_uptime 84213 1700000000000\n"
            ),
            vec![
                row(None, "cluster_manager_active_clusters", Some(28.0), StatKind::Gauge),
                row(None, "server_uptime", Some(84213.0), StatKind::Untyped),
            ]
        );
    }

    #[test]
    fn istio_metrics_keep_their_name() {
        assert_eq!(
            rows(
                "# TYPE istio_requests_total counter\nistio_requests_total{response_code=\"503\",destination_cluster=\"cluster2\",reporter=\"source\"} 4"
            ),
            vec![row(
                None,
                "istio_requests_total{destination_cluster=\"cluster2\",reporter=\"source\",response_code=\"503\"}",
                Some(4.0),
                StatKind::Counter
            )]
        );
    }

    #[test]
    fn histogram_series_and_special_values() {
        let input = "# TYPE envoy_cluster_upstream_rq_time histogram\n\
            envoy_cluster_upstream_rq_time_bucket{cluster_name=\"c\",le=\"0.5\"} 0\n\n\
            envoy_cluster_upstream_rq_time_bucket{cluster_name=\"c\",le=\"+Inf\"} +Inf\n\
            envoy_cluster_upstream_rq_time_sum{cluster_name=\"c\"} NaN\n\
            envoy_cluster_upstream_rq_time_count{cluster_name=\"c\"} -Inf\n";
        assert_eq!(
            rows(input),
            vec![
                row(
                    Some("c"),
                    "upstream_rq_time_bucket{le=\"0.5\"}",
                    Some(0.0),
                    StatKind::Histogram
                ),
                row(
                    Some("c"),
                    "upstream_rq_time_bucket{le=\"+Inf\"}",
                    Some(f64::INFINITY),
                    StatKind::Histogram
                ),
                row(Some("c"), "upstream_rq_time_sum", None, StatKind::Histogram),
                row(
                    Some("c"),
                    "upstream_rq_time_count",
                    Some(f64::NEG_INFINITY),
                    StatKind::Histogram
                ),
            ]
        );
    }

    #[test]
    fn summary_quantiles_are_histogram_rows() {
        let input = "# TYPE envoy_cluster_upstream_rq_time summary\nenvoy_cluster_upstream_rq_time{envoy_cluster_name=\"c\",quantile=\"0.99\"} 12\n";
        assert_eq!(
            rows(input),
            vec![row(
                Some("c"),
                "upstream_rq_time{quantile=\"0.99\"}",
                Some(12.0),
                StatKind::Histogram
            )]
        );
    }

    #[test]
    fn escaped_label_values_are_escaped_again_in_stat() {
        assert_eq!(
            rows(r#"envoy_control_plane_identifier{text_value="say \"hi\"\\ok\nbye"} 0"#),
            vec![row(
                None,
                r#"control_plane_identifier{text_value="say \"hi\"\\ok\nbye"}"#,
                Some(0.0),
                StatKind::Untyped
            )]
        );
    }

    #[test]
    fn interleaved_families_and_missing_types() {
        let input = "# TYPE a counter\n# TYPE b gauge\nb 1\na 2\n\n# HELP c nothing\nc 3\n# TYPE a counter\n";
        assert_eq!(
            rows(input),
            vec![
                row(None, "b", Some(1.0), StatKind::Gauge),
                row(None, "a", Some(2.0), StatKind::Counter),
                row(None, "c", Some(3.0), StatKind::Untyped),
            ]
        );
    }

    #[test]
    fn empty_cluster_label_is_no_cluster() {
        assert_eq!(
            rows("envoy_cluster_x{cluster_name=\";\"} 1"),
            vec![row(None, "cluster_x{cluster_name=\";\"}", Some(1.0), StatKind::Untyped)]
        );
    }

    #[test]
    fn exemplar_is_ignored() {
        assert_eq!(
            rows("a_total 3 # {trace_id=\"x\"} 1"),
            vec![row(None, "a_total", Some(3.0), StatKind::Untyped)]
        );
    }

    #[test]
    fn bad_lines_are_issues_in_line_order() {
        let input = "a 1\n9abc 1\nfoo.bar 1\nfoo{a=\"1\" 2\nfoo\nfoo abc\nfoo 1 soon\nfoo 1 2 3\n# TYPE x\n# TYPE y weird\n# TYPE a gauge\n# TYPE a counter\n";
        assert_eq!(
            issue_reasons(input),
            vec![
                (2, "bad_name"),
                (3, "bad_name"),
                (4, "bad_labels"),
                (5, "missing_value"),
                (6, "bad_value"),
                (7, "bad_timestamp"),
                (8, "trailing_text"),
                (9, "bad_type_line"),
                (10, "unknown_type"),
                (12, "conflicting_type"),
            ]
        );
        assert_eq!(parse(input).samples.len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(input in "\\PC{0,200}") {
            let _ = parse(&input);
        }

        #[test]
        fn every_sample_line_gives_a_sample_or_an_issue(
            lines in proptest::collection::vec(
                "(# ?(TYPE|HELP) )?[a-z_:0-9]{0,8}(\\{([a-z_]{0,4}=\"[a-z\\\\\"|;]{0,4}\"?,?){0,3}\\}?)? ?([0-9.]{0,4}|NaN|\\+Inf|-Inf|counter|gauge)( [0-9a-z]{0,3})?|[ -~]{0,12}",
                0..8,
            )
        ) {
            let input = lines.join("\n");
            let dump = parse(&input);
            let mut issue_lines: Vec<usize> = dump.issues.iter().map(|issue| issue.line).collect();
            issue_lines.dedup();
            let sample_lines: Vec<usize> = lines
                .iter()
                .enumerate()
                .filter(|(_, line)| !line.trim().is_empty() && !line.trim().starts_with('#'))
                .map(|(index, _)| index + 1)
                .collect();
            let sample_issue_lines = issue_lines.iter().filter(|line| sample_lines.contains(line)).count();
            proptest::prop_assert_eq!(dump.samples.len() + sample_issue_lines, sample_lines.len(), "{:?}", lines);
        }
    }
}
