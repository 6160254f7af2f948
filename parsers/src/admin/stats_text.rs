//! Envoy's `/stats` text output read into [`StatSample`] rows. This file owns the line
//! grammar and the value forms; where a `cluster.…` name splits is in `cluster_split`,
//! counter-or-gauge in `kind`, histogram naming in `histogram`.
//!
//! Each line is `<name>: <value>` (split at the first `": "`), and the value is one of:
//!
//! | value | rows |
//! |---|---|
//! | integer or other number (`3`, `nan` → `None`) | one; kind from the name (see `kind`), else untyped |
//! | `"text"` (a text readout; quotes inside are kept as printed) | one, kind text, `value: None` |
//! | `P0(nan,1) P25(…) …` | one histogram row per percentile: `<stat>{quantile="0.25"}` |
//! | `B0.5(0,0) B1(…) …` | one histogram row per bucket: `<stat>_bucket{le="0.5"}` |
//! | `No recorded values` | one histogram row `<stat>_count` = 0 |
//!
//! Histogram rows take the cumulative value (see `histogram`). `?histogram_buckets=detailed`
//! prints a histogram over several lines (`<name>:` then indented `totals=`,
//! `intervals=`, `summary=P0(…) …`); its `summary=` line is read as a percentile line
//! and the detailed buckets are skipped.
//!
//! `cluster.<cluster>.<stat>` names give `envoy_cluster` and `stat` as `cluster_split`
//! decides (Istio 1.23's trailing `;` is dropped); every other name (`server.uptime`,
//! `http.inbound_0.0.0.0_8080.downstream_rq_total`, `listener.…`) is kept whole with no
//! cluster. Blank lines are skipped; a line that makes no sense is an [`AdminIssue`]
//! (`no_separator`, `empty_name`, `bad_value`, `unterminated_text`, `bad_histogram`,
//! `histogram_without_summary`) and the rest of the dump is still read.

mod cluster_split;
mod histogram;
mod kind;

use cluster_split::ClusterSplitter;
use histogram::{looks_like_histogram, parse_points};

use crate::admin::{AdminIssue, StatKind, StatSample, StatsDump};

/// Reads a whole `/stats` dump. Never fails and never panics; see the module docs.
pub fn parse(input: &str) -> StatsDump {
    let entries = frame(input);
    let mut splitter = ClusterSplitter::default();
    for entry in &entries {
        if let Entry::Stat(stat) = entry {
            splitter.learn(stat.name);
        }
    }
    let mut dump = StatsDump::default();
    for entry in entries {
        match entry {
            Entry::Stat(stat) => read_stat(&stat, &splitter, &mut dump),
            Entry::Issue(issue) => dump.issues.push(issue),
        }
    }
    dump
}

/// One `name: value` pair, not yet interpreted.
#[derive(Debug)]
struct RawStat<'a> {
    line: usize,
    name: &'a str,
    value: &'a str,
    /// The whole line, for an issue's excerpt.
    text: &'a str,
}

#[derive(Debug)]
enum Entry<'a> {
    Stat(RawStat<'a>),
    Issue(AdminIssue),
}

/// Lines → entries, in line order.
fn frame(input: &str) -> Vec<Entry<'_>> {
    let mut framer = Framer::default();
    for (index, raw) in input.lines().enumerate() {
        framer.push(index + 1, raw);
    }
    framer.close_detail();
    framer.entries
}

/// Turns lines into entries; remembers an open `?histogram_buckets=detailed` block.
#[derive(Debug, Default)]
struct Framer<'a> {
    entries: Vec<Entry<'a>>,
    detail: Option<DetailBlock<'a>>,
}

/// `<name>:` seen; its indented `summary=` line has the values.
#[derive(Debug)]
struct DetailBlock<'a> {
    line: usize,
    name: &'a str,
    text: &'a str,
    summary_seen: bool,
}

impl<'a> Framer<'a> {
    fn push(&mut self, line: usize, raw: &'a str) {
        let text = raw.trim();
        if text.is_empty() {
            return;
        }
        let indented = raw.starts_with([' ', '\t']);
        if indented && self.push_detail(line, text) {
            return;
        }
        self.close_detail();
        self.push_line(line, text);
    }

    /// Takes an indented line of an open detailed block; `false` if it is none.
    fn push_detail(&mut self, line: usize, text: &'a str) -> bool {
        let Some(block) = self.detail.as_mut() else {
            return false;
        };
        if let Some(summary) = text.strip_prefix("summary=") {
            let stat = RawStat { line, name: block.name, value: summary.trim(), text };
            self.entries.push(Entry::Stat(stat));
            block.summary_seen = true;
            return true;
        }
        text.starts_with("totals=") || text.starts_with("intervals=")
    }

    /// Ends an open detailed block; one without a `summary=` line is an issue.
    fn close_detail(&mut self) {
        if let Some(block) = self.detail.take().filter(|block| !block.summary_seen) {
            let message = format!("histogram {:?} has no summary= line", block.name);
            let issue =
                AdminIssue::new(block.line, "histogram_without_summary", message, block.text);
            self.entries.push(Entry::Issue(issue));
        }
    }

    fn push_line(&mut self, line: usize, text: &'a str) {
        let entry = match split_name_value(text) {
            None => Entry::Issue(AdminIssue::new(
                line,
                "no_separator",
                "no \": \" after the stat name",
                text,
            )),
            Some(("", _)) => {
                Entry::Issue(AdminIssue::new(line, "empty_name", "the stat name is empty", text))
            }
            Some((name, "")) => {
                self.detail = Some(DetailBlock { line, name, text, summary_seen: false });
                return;
            }
            Some((name, value)) => Entry::Stat(RawStat { line, name, value, text }),
        };
        self.entries.push(entry);
    }
}

/// `name: value` at the first `": "`, or `name:` with an empty value.
fn split_name_value(text: &str) -> Option<(&str, &str)> {
    if let Some((name, value)) = text.split_once(": ") {
        return Some((name.trim_end(), value.trim()));
    }
    text.strip_suffix(':').map(|name| (name.trim_end(), ""))
}

/// What a value says, before it becomes rows.
#[derive(Debug)]
enum Value<'a> {
    Number(Option<f64>),
    Text(&'a str),
    Histogram(Vec<histogram::HistogramPoint>),
    NoRecordedValues,
}

/// A value that makes no sense: the issue's reason code and message.
type Problem = (&'static str, String);

fn read_stat(raw: &RawStat<'_>, splitter: &ClusterSplitter<'_>, dump: &mut StatsDump) {
    let (cluster, stat) = match splitter.split(raw.name) {
        Some(split) => (Some(split.cluster), split.stat),
        None => (None, raw.name),
    };
    match read_value(raw.value) {
        Ok(value) => push_samples(dump, cluster, stat, value),
        Err((reason, message)) => {
            dump.issues.push(AdminIssue::new(raw.line, reason, message, raw.text))
        }
    }
}

fn read_value(value: &str) -> Result<Value<'_>, Problem> {
    if let Some(quoted) = value.strip_prefix('"') {
        return quoted
            .strip_suffix('"')
            .map(Value::Text)
            .ok_or(("unterminated_text", "a text readout without its closing quote".to_owned()));
    }
    if value == "No recorded values" {
        return Ok(Value::NoRecordedValues);
    }
    if looks_like_histogram(value) {
        return parse_points(value)
            .map(Value::Histogram)
            .map_err(|message| ("bad_histogram", message));
    }
    match value.parse::<f64>() {
        Ok(number) => Ok(Value::Number(Some(number).filter(|number| !number.is_nan()))),
        Err(error) => Err(("bad_value", format!("value {value:?} is no number ({error})"))),
    }
}

fn push_samples(dump: &mut StatsDump, cluster: Option<&str>, stat: &str, value: Value<'_>) {
    let sample =
        |stat: String, value: Option<f64>, text: Option<&str>, kind: StatKind| StatSample {
            envoy_cluster: cluster.map(str::to_owned),
            stat,
            value,
            text: text.map(str::to_owned),
            kind,
        };
    match value {
        Value::Number(number) => {
            dump.samples.push(sample(stat.to_owned(), number, None, kind::kind_of(stat)))
        }
        Value::Text(text) => {
            dump.samples.push(sample(stat.to_owned(), None, Some(text), StatKind::Text))
        }
        Value::NoRecordedValues => {
            dump.samples.push(sample(
                format!("{stat}_count"),
                Some(0.0),
                None,
                StatKind::Histogram,
            ));
        }
        Value::Histogram(points) => dump.samples.extend(points.into_iter().map(|point| {
            sample(format!("{stat}{}", point.suffix), point.value, None, StatKind::Histogram)
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (cluster, stat, value, text, kind) of every sample.
    type Row = (Option<String>, String, Option<f64>, Option<String>, StatKind);

    fn rows(input: &str) -> Vec<Row> {
        let dump = parse(input);
        assert_eq!(dump.issues, vec![], "{input}");
        dump.samples
            .into_iter()
            .map(|s| (s.envoy_cluster, s.stat, s.value, s.text, s.kind))
            .collect()
    }

    fn row(cluster: Option<&str>, stat: &str, value: Option<f64>, kind: StatKind) -> Row {
        (cluster.map(str::to_owned), stat.to_owned(), value, None, kind)
    }

    fn issue_reasons(input: &str) -> Vec<(usize, &'static str)> {
        parse(input).issues.iter().map(|issue| (issue.line, issue.reason)).collect()
    }

    #[test]
    fn counter_with_istio_cluster() {
        assert_eq!(
            rows("cluster.outbound|9080|v1|reviews.default.svc.cluster.local.upstream_rq_5xx: 3\n"),
            vec![row(
                Some("outbound|9080|v1|reviews.default.svc.cluster.local"),
                "upstream_rq_5xx",
                Some(3.0),
                StatKind::Counter
            )]
        );
    }

    #[test]
    fn istio_1_23_cluster_loses_its_semicolon() {
        assert_eq!(
            rows("cluster.outbound|80||frontend.ns.svc.cluster.local;.upstream_rq_total: 7"),
            vec![row(
                Some("outbound|80||frontend.ns.svc.cluster.local"),
                "upstream_rq_total",
                Some(7.0),
                StatKind::Counter
            )]
        );
    }

    #[test]
    fn gloo_cluster_and_gauge() {
        assert_eq!(
            rows("cluster.default-petstore-8080_gloo-system.upstream_cx_active: 2"),
            vec![row(
                Some("default-petstore-8080_gloo-system"),
                "upstream_cx_active",
                Some(2.0),
                StatKind::Gauge
            )]
        );
    }

    #[test]
    fn non_cluster_stats_keep_their_full_name() {
        assert_eq!(
            rows(
                "server.uptime: 84213\nhttp.inbound_0.0.0.0_8080.downstream_rq_total: 12\nlistener.0.0.0.0_15006.downstream_cx_active: 4\ncluster_manager.active_clusters: 28"
            ),
            vec![
                row(None, "server.uptime", Some(84213.0), StatKind::Gauge),
                row(
                    None,
                    "http.inbound_0.0.0.0_8080.downstream_rq_total",
                    Some(12.0),
                    StatKind::Counter
                ),
                row(
                    None,
                    "listener.0.0.0.0_15006.downstream_cx_active",
                    Some(4.0),
                    StatKind::Gauge
                ),
                row(None, "cluster_manager.active_clusters", Some(28.0), StatKind::Gauge),
            ]
        );
    }

    #[test]
    fn text_readout() {
        assert_eq!(
            rows(
                "control_plane.identifier: \"istiod-7d4f8d6c9b-x2k4q\"\nx.version_text: \"a \"quoted\" : value\""
            ),
            vec![
                (
                    None,
                    "control_plane.identifier".to_owned(),
                    None,
                    Some("istiod-7d4f8d6c9b-x2k4q".to_owned()),
                    StatKind::Text
                ),
                (
                    None,
                    "x.version_text".to_owned(),
                    None,
                    Some("a \"quoted\" : value".to_owned()),
                    StatKind::Text
                ),
            ]
        );
        assert_eq!(rows("x: \"\"")[0].3.as_deref(), Some(""));
    }

    #[test]
    fn percentile_histogram() {
        let cluster = Some("outbound|9080||ratings.default.svc.cluster.local");
        assert_eq!(
            rows(
                "cluster.outbound|9080||ratings.default.svc.cluster.local.upstream_rq_time: P0(nan,1) P25(nan,2.05) P99.9(nan,nan) P100(nan,24)"
            ),
            vec![
                row(cluster, "upstream_rq_time{quantile=\"0\"}", Some(1.0), StatKind::Histogram),
                row(
                    cluster,
                    "upstream_rq_time{quantile=\"0.25\"}",
                    Some(2.05),
                    StatKind::Histogram
                ),
                row(cluster, "upstream_rq_time{quantile=\"0.999\"}", None, StatKind::Histogram),
                row(cluster, "upstream_rq_time{quantile=\"1\"}", Some(24.0), StatKind::Histogram),
            ]
        );
    }

    #[test]
    fn bucket_histogram_and_no_recorded_values() {
        assert_eq!(
            rows(
                "server.initialization_time_ms: B0.5(0,0) B1000(0,1)\ncluster.xds-grpc.upstream_cx_length_ms: No recorded values"
            ),
            vec![
                row(
                    None,
                    "server.initialization_time_ms_bucket{le=\"0.5\"}",
                    Some(0.0),
                    StatKind::Histogram
                ),
                row(
                    None,
                    "server.initialization_time_ms_bucket{le=\"1000\"}",
                    Some(1.0),
                    StatKind::Histogram
                ),
                row(
                    Some("xds-grpc"),
                    "upstream_cx_length_ms_count",
                    Some(0.0),
                    StatKind::Histogram
                ),
            ]
        );
    }

    #[test]
    fn nan_and_float_values() {
        assert_eq!(
            rows("foo.bar: nan\nfoo.baz: 1.5\nfoo.big: 18446744073709551615"),
            vec![
                row(None, "foo.bar", None, StatKind::Untyped),
                row(None, "foo.baz", Some(1.5), StatKind::Untyped),
                row(None, "foo.big", Some(18446744073709551615.0), StatKind::Untyped),
            ]
        );
    }

    #[test]
    fn detailed_histogram_reads_its_summary() {
        let input = "http.admin.downstream_rq_time:\n  totals=0,1:2, 5,1:1\n  intervals=5,1:1\n  summary=P0(5,0) P100(5,5.1)\nserver.live: 1\n";
        assert_eq!(
            rows(input),
            vec![
                row(
                    None,
                    "http.admin.downstream_rq_time{quantile=\"0\"}",
                    Some(0.0),
                    StatKind::Histogram
                ),
                row(
                    None,
                    "http.admin.downstream_rq_time{quantile=\"1\"}",
                    Some(5.1),
                    StatKind::Histogram
                ),
                row(None, "server.live", Some(1.0), StatKind::Gauge),
            ]
        );
    }

    #[test]
    fn detailed_histogram_without_summary_is_an_issue() {
        assert_eq!(
            issue_reasons("a.b:\n  totals=0,1:2\nserver.live: 1"),
            vec![(1, "histogram_without_summary")]
        );
        assert_eq!(issue_reasons("a.b:"), vec![(1, "histogram_without_summary")]);
        assert_eq!(issue_reasons("  totals=0,1:2"), vec![(1, "no_separator")]);
    }

    #[test]
    fn bad_lines_are_issues_and_reading_goes_on() {
        let input = "server.uptime: 5\nthis is no stat\n: 4\nfoo: bar\nfoo.t: \"open\nfoo.h: P50(nan 1)\nfoo.h2: B1(0,0) junk\n\nserver.live: 1\n";
        assert_eq!(
            issue_reasons(input),
            vec![
                (2, "no_separator"),
                (3, "empty_name"),
                (4, "bad_value"),
                (5, "unterminated_text"),
                (6, "bad_histogram"),
                (7, "bad_histogram"),
            ]
        );
        assert_eq!(parse(input).samples.len(), 2);
    }

    #[test]
    fn crlf_and_padding_are_tolerated() {
        assert_eq!(
            rows("server.uptime: 5\r\n  server.live: 1  \r\n"),
            vec![
                row(None, "server.uptime", Some(5.0), StatKind::Gauge),
                row(None, "server.live", Some(1.0), StatKind::Gauge),
            ]
        );
    }

    #[test]
    fn dump_evidence_resolves_internal_tld_cluster() {
        let input = "cluster.outbound|80||metadata.google.internal.upstream_rq_200: 4\ncluster.outbound|80||metadata.google.internal.upstream_cx_total: 2\n";
        let clusters: Vec<_> = rows(input).into_iter().map(|row| (row.0, row.1)).collect();
        let cluster = Some("outbound|80||metadata.google.internal".to_owned());
        assert_eq!(
            clusters,
            vec![
                (cluster.clone(), "upstream_rq_200".to_owned()),
                (cluster, "upstream_cx_total".to_owned())
            ]
        );
    }

    #[test]
    fn issue_excerpt_is_bounded_and_utf8_safe() {
        let line = format!("{}: oops", "é".repeat(200));
        let dump = parse(&line);
        assert_eq!(dump.issues.len(), 1);
        assert!(dump.issues[0].excerpt.len() <= 120);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(input in "\\PC{0,200}") {
            let dump = parse(&input);
            let lines = input.lines().count();
            proptest::prop_assert!(dump.issues.iter().all(|issue| issue.line >= 1 && issue.line <= lines));
        }

        #[test]
        fn every_line_gives_samples_or_an_issue(
            line in "(cluster\\.)?[a-z|;._0-9:/-]{0,30}(: ?)?(\"[a-z\" ]{0,5}\"?|[0-9.]{0,6}|nan|No recorded values|((P|B)[0-9.e+]{0,4}\\(([0-9.]{0,3}|nan),([0-9.]{0,3}|nan)\\)? ?){0,3}|[ -~]{0,10})"
        ) {
            let dump = parse(&line);
            if !line.trim().is_empty() {
                proptest::prop_assert!(!dump.samples.is_empty() || !dump.issues.is_empty(), "{line:?}");
            }
        }
    }
}
