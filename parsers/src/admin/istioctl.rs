//! `istioctl proxy-config endpoints <pod>` tables read into [`ClustersDump`] rows. This
//! file owns the header recognition, the splitting of rows into cells and the
//! rendering of the STATUS and OUTLIER CHECK columns in Envoy's text form.
//!
//! istioctl writes these tables with Go's `tabwriter` (cells padded with spaces, every
//! column starting where its header starts). Headers seen in istioctl's source:
//!
//! | command | header |
//! |---|---|
//! | `proxy-config endpoints` (Istio ≥ 1.6) | `ENDPOINT  STATUS  OUTLIER CHECK  CLUSTER` |
//! | `proxy-config endpoints` (older) | `ENDPOINT  STATUS  CLUSTER` |
//! | hidden `proxy-config eds` (from `config_dump`) | `ENDPOINT` or `NAME`, `STATUS  LOCALITY  CLUSTER` |
//!
//! istioctl has no wide (`-o wide`) endpoints table: `-o` is `short`, `json` or `yaml`
//! (the JSON list is read by [`clusters_json`](super::clusters_json)).
//!
//! STATUS is Envoy's EDS health status (`HEALTHY`, `UNHEALTHY`, `DRAINING`, `TIMEOUT`,
//! `DEGRADED`, `UNKNOWN`) and OUTLIER CHECK is `OK` or `FAILED`; both are rendered into
//! [`HostStatus::health_flags`] as `/clusters` text would print them (`FAILED` →
//! `/failed_outlier_check`, `UNHEALTHY`/`TIMEOUT` → `/failed_eds_health`, …, nothing →
//! `healthy`). LOCALITY (`region/zone/sub_zone`, possibly empty) fills the locality
//! fields. Addresses are normalized: IPv6 gets its brackets, pipe paths `unix://`, and
//! the `endpoint/` prefix of `proxy-config all` is dropped.
//!
//! A row is split on whitespace when it has as many cells as the header has columns
//! (cluster names and addresses hold no spaces), else at the header's column positions
//! (an empty LOCALITY cell). A header later in the input (several pods' tables
//! concatenated) starts a new table.
//!
//! Operators paste rows without their header (`istioctl proxy-config endpoints POD |
//! grep reviews`): before any header, a row is read by its shape, which tells the three
//! tables apart: an endpoint cell (`ip:port`, `unix://…`, a pipe path, `envoy://…`,
//! maybe after `endpoint/`), an EDS status, then the cluster, with between them `OK` or
//! `FAILED` (OUTLIER CHECK), a locality (`eds`), or nothing (the old table, or `eds`
//! with an empty LOCALITY). Blank lines and elisions (`...`, `…`, grep's `--`) are
//! skipped. Input with neither a header nor such a row is an [`AdminError`]; any other
//! line, and a row that does not read, is an [`AdminIssue`] with its line and reason.

use super::health_flags::{HealthFlag, HealthFlags};
use super::host_address::{from_istioctl, is_pipe_path, parse_port};
use super::{AdminError, AdminIssue, ClustersDump, HostStatus, is_elision};

/// Reads an istioctl endpoints table, with or without its header.
pub fn parse(input: &str) -> Result<ClustersDump, AdminError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut dump = ClustersDump::default();
    let mut table: Option<Table> = None;
    let mut found = false;
    for (index, line) in input.lines().enumerate() {
        if is_elision(line) {
            continue;
        }
        if let Some(header) = Table::from_header(line) {
            (table, found) = (Some(header), true);
            continue;
        }
        let shaped;
        let row_table = match &table {
            Some(table) => table,
            None => match Table::from_row(line) {
                Some(inferred) => {
                    (shaped, found) = (inferred, true);
                    &shaped
                }
                None => {
                    let message = "neither an istioctl endpoints header nor an endpoint row";
                    dump.issues.push(AdminIssue::new(index + 1, "unknown_line", message, line));
                    continue;
                }
            },
        };
        read_row(row_table, index + 1, line, &mut dump);
    }
    if !found {
        return Err(AdminError {
            message: "no istioctl endpoints header (ENDPOINT  STATUS  [OUTLIER CHECK]  CLUSTER) \
                      and no endpoint row (ip:port  STATUS  …  CLUSTER)"
                .to_owned(),
        });
    }
    Ok(dump)
}

/// Whether `line` is an endpoint row of one of istioctl's tables, read by its shape.
pub(super) fn is_row(line: &str) -> bool {
    Table::from_row(line).is_some()
}

/// A column of an endpoints table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Endpoint,
    Status,
    OutlierCheck,
    Locality,
    Cluster,
}

/// The columns of the current table and the byte offset where each starts.
#[derive(Debug, PartialEq)]
struct Table {
    columns: Vec<(Column, usize)>,
}

impl Table {
    /// The table a header line starts, or `None` when the line is no endpoints header.
    fn from_header(line: &str) -> Option<Table> {
        let mut columns = Vec::new();
        let mut words = words_with_offsets(line).peekable();
        while let Some((word, offset)) = words.next() {
            let column = match word {
                "ENDPOINT" | "NAME" if columns.is_empty() => Column::Endpoint,
                "STATUS" => Column::Status,
                "LOCALITY" => Column::Locality,
                "CLUSTER" => Column::Cluster,
                "OUTLIER" if words.next_if(|(next, _)| *next == "CHECK").is_some() => {
                    Column::OutlierCheck
                }
                _ => return None,
            };
            columns.push((column, offset));
        }
        let has = |wanted| columns.iter().any(|(column, _)| *column == wanted);
        (has(Column::Endpoint) && has(Column::Status) && has(Column::Cluster))
            .then_some(Table { columns })
    }

    /// The table a header-less row belongs to, told by its shape (see the module doc),
    /// or `None` when the line is no endpoint row.
    fn from_row(line: &str) -> Option<Table> {
        let words: Vec<(&str, usize)> = words_with_offsets(line).collect();
        let [(endpoint, _), (status, _), middle @ .., _cluster] = words.as_slice() else {
            return None;
        };
        if !is_endpoint_cell(endpoint) || !HealthFlags::default().set_eds_status(status) {
            return None;
        }
        let middle = match middle {
            [] => None,
            [("OK" | "FAILED", _)] => Some(Column::OutlierCheck),
            [_] => Some(Column::Locality),
            _ => return None,
        };
        let columns = [Some(Column::Endpoint), Some(Column::Status), middle, Some(Column::Cluster)];
        let columns = columns.into_iter().flatten().zip(words.iter().map(|(_, at)| *at));
        Some(Table { columns: columns.collect() })
    }

    /// The row's cells, one per column.
    fn cells<'a>(&self, row: &'a str) -> Option<Vec<&'a str>> {
        let words: Vec<&str> = row.split_whitespace().collect();
        if words.len() == self.columns.len() {
            return Some(words);
        }
        self.cells_by_position(row)
    }

    /// Cells cut at the header's column offsets; `None` when a cut falls inside a word.
    fn cells_by_position<'a>(&self, row: &'a str) -> Option<Vec<&'a str>> {
        let mut cells = Vec::with_capacity(self.columns.len());
        for (index, (_, start)) in self.columns.iter().enumerate() {
            let end =
                self.columns.get(index + 1).map_or(row.len(), |(_, next)| (*next).min(row.len()));
            let start = (*start).min(end);
            if !is_cut_between_words(row, start) {
                return None;
            }
            cells.push(row.get(start..end)?.trim());
        }
        Some(cells)
    }
}

/// An ENDPOINT/NAME cell as istioctl prints it: `ip:port` (IPv6 without brackets, or
/// with them), `unix://…`, a bare pipe path, `envoy://…`, maybe after `endpoint/`;
/// `eds` joins several addresses with `,`.
fn is_endpoint_cell(cell: &str) -> bool {
    let cell = cell.strip_prefix("endpoint/").unwrap_or(cell);
    let last = cell.rsplit(',').next().unwrap_or(cell);
    let has_port = last
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && parse_port(port).is_some());
    has_port || is_pipe_path(cell) || cell.starts_with("unix://") || cell.starts_with("envoy://")
}

/// Whether cutting `row` at `offset` leaves every word whole.
fn is_cut_between_words(row: &str, offset: usize) -> bool {
    let before = row.get(..offset).and_then(|text| text.chars().next_back());
    let after = row.get(offset..).and_then(|text| text.chars().next());
    !matches!((before, after), (Some(before), Some(after)) if !before.is_whitespace() && !after.is_whitespace())
}

/// The whitespace-separated words of `line` with their byte offsets.
fn words_with_offsets(line: &str) -> impl Iterator<Item = (&str, usize)> {
    line.split_whitespace().map(move |word| (word, word.as_ptr() as usize - line.as_ptr() as usize))
}

/// One table row into a host.
fn read_row(table: &Table, number: usize, line: &str, dump: &mut ClustersDump) {
    let Some(cells) = table.cells(line) else {
        let message = "row does not match the header's columns";
        dump.issues.push(AdminIssue::new(number, "bad_row", message, line));
        return;
    };
    let cells: Vec<&str> = table
        .columns
        .iter()
        .zip(cells)
        .map(|((column, _), cell)| bare_cell(*column, cell))
        .collect();
    let required = [Column::Endpoint, Column::Status, Column::Cluster];
    let missing = table
        .columns
        .iter()
        .zip(&cells)
        .any(|((column, _), cell)| required.contains(column) && cell.is_empty());
    if missing {
        let message = "row without an endpoint, a status or a cluster";
        dump.issues.push(AdminIssue::new(number, "bad_row", message, line));
        return;
    }
    let mut host = HostStatus::default();
    let mut flags = Some(HealthFlags::default());
    for ((column, _), cell) in table.columns.iter().zip(cells) {
        if let Err(message) = fill_cell(&mut host, &mut flags, *column, cell) {
            dump.issues.push(AdminIssue::new(number, "bad_value", message, line));
        }
    }
    host.health_flags = flags.map(HealthFlags::render);
    dump.hosts.push(host);
}

/// A cell without `proxy-config all`'s `endpoint/` prefix or Istio 1.23's trailing `;`.
fn bare_cell(column: Column, cell: &str) -> &str {
    match column {
        Column::Endpoint => cell.strip_prefix("endpoint/").unwrap_or(cell),
        Column::Cluster => cell.strip_suffix(';').unwrap_or(cell),
        _ => cell,
    }
}

/// Puts one cell into the host; an unreadable status makes the flags unknown.
fn fill_cell(
    host: &mut HostStatus,
    flags: &mut Option<HealthFlags>,
    column: Column,
    cell: &str,
) -> Result<(), String> {
    match column {
        Column::Endpoint => host.address = from_istioctl(cell).into_owned(),
        Column::Cluster => host.envoy_cluster = cell.to_owned(),
        Column::Locality => set_locality(host, cell),
        Column::Status => {
            if !flags.as_mut().is_some_and(|flags| flags.set_eds_status(cell)) {
                *flags = None;
                return Err(format!("unknown STATUS {cell:?}"));
            }
        }
        Column::OutlierCheck => match cell {
            "OK" => {}
            "FAILED" => {
                flags.iter_mut().for_each(|flags| flags.set(HealthFlag::FailedOutlierCheck))
            }
            _ => {
                *flags = None;
                return Err(format!("unknown OUTLIER CHECK {cell:?}"));
            }
        },
    }
    Ok(())
}

/// `region/zone/sub_zone`, any part possibly missing or empty.
fn set_locality(host: &mut HostStatus, locality: &str) {
    let mut parts = locality
        .splitn(3, '/')
        .map(|part| Some(part).filter(|part| !part.is_empty()).map(str::to_owned));
    host.region = parts.next().flatten();
    host.zone = parts.next().flatten();
    host.sub_zone = parts.next().flatten();
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURRENT: &str = "\
ENDPOINT                                                STATUS        OUTLIER CHECK     CLUSTER
10.112.2.31:9080                                        HEALTHY       OK                outbound|9080||reviews.default.svc.cluster.local
10.112.2.40:9080                                        HEALTHY       FAILED            outbound|9080||reviews.default.svc.cluster.local
34.168.157.2:15443                                      UNHEALTHY     FAILED            outbound|9080||reviews.default.svc.cluster.local
unix://./etc/istio/proxy/XDS                            HEALTHY       OK                xds-grpc
";

    fn summary(dump: &ClustersDump) -> Vec<(&str, &str, &str)> {
        dump.hosts
            .iter()
            .map(|host| {
                (
                    host.address.as_str(),
                    host.health_flags.as_deref().unwrap_or("?"),
                    host.envoy_cluster.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn current_table() {
        let dump = parse(CURRENT).unwrap();
        assert_eq!(dump.issues, []);
        let reviews = "outbound|9080||reviews.default.svc.cluster.local";
        assert_eq!(
            summary(&dump),
            [
                ("10.112.2.31:9080", "healthy", reviews),
                ("10.112.2.40:9080", "/failed_outlier_check", reviews),
                ("34.168.157.2:15443", "/failed_outlier_check/failed_eds_health", reviews),
                ("unix://./etc/istio/proxy/XDS", "healthy", "xds-grpc"),
            ]
        );
        assert!(dump.hosts.iter().all(|host| host.priority.is_none() && host.region.is_none()));
    }

    #[test]
    fn old_three_column_table() {
        let dump = parse(
            "ENDPOINT              STATUS        CLUSTER\n\
             172.17.0.14:15014     UNHEALTHY     outbound|15014||istio-policy.istio-system.svc.cluster.local\n\
             172.17.0.24:9080      HEALTHY       outbound|9080||reviews.default.svc.cluster.local\n",
        )
        .unwrap();
        assert_eq!(dump.issues, []);
        assert_eq!(summary(&dump)[0].1, "/failed_eds_health");
        assert_eq!(summary(&dump)[1].1, "healthy");
    }

    /// Rows laid out as Go's tabwriter does (each column as wide as its widest cell
    /// plus 5 spaces; the last column unpadded).
    fn aligned(rows: &[[&str; 4]]) -> String {
        let widths: Vec<usize> = (0..3)
            .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0) + 5)
            .collect();
        rows.iter()
            .map(|row| {
                format!(
                    "{:<w0$}{:<w1$}{:<w2$}{}\n",
                    row[0],
                    row[1],
                    row[2],
                    row[3],
                    w0 = widths[0],
                    w1 = widths[1],
                    w2 = widths[2]
                )
            })
            .collect()
    }

    #[test]
    fn eds_table_with_empty_locality_cells() {
        let reviews = "outbound|9080||reviews.default.svc.cluster.local";
        let dump = parse(&aligned(&[
            ["NAME", "STATUS", "LOCALITY", "CLUSTER"],
            ["endpoint/10.112.2.31:9080", "HEALTHY", "us-east1/us-east1-b/", reviews],
            ["endpoint/34.168.157.2:15443", "HEALTHY", "us-west1/us-west1-a/rack", reviews],
            ["endpoint/./var/run/secrets/workload-spiffe-uds/socket", "UNKNOWN", "", "sds-grpc"],
            ["127.0.0.1:15020", "DRAINING", "", "agent"],
        ]))
        .unwrap();
        assert_eq!(dump.issues, []);
        let hosts = &dump.hosts;
        assert_eq!(hosts[0].address, "10.112.2.31:9080");
        assert_eq!(
            (hosts[0].region.as_deref(), hosts[0].zone.as_deref(), hosts[0].sub_zone.as_deref()),
            (Some("us-east1"), Some("us-east1-b"), None)
        );
        assert_eq!(hosts[1].sub_zone.as_deref(), Some("rack"));
        assert_eq!(
            (hosts[2].address.as_str(), hosts[2].health_flags.as_deref()),
            ("unix://./var/run/secrets/workload-spiffe-uds/socket", Some("healthy"))
        );
        assert_eq!(
            (
                hosts[3].envoy_cluster.as_str(),
                hosts[3].health_flags.as_deref(),
                hosts[3].region.as_deref()
            ),
            ("agent", Some("/eds_status_draining"), None)
        );
    }

    #[test]
    fn a_cut_inside_a_word_is_a_bad_row() {
        let dump = parse(
            "ENDPOINT  STATUS  LOCALITY  CLUSTER
10.112.2.31:9080  HEALTHY  c
",
        )
        .unwrap();
        assert_eq!(dump.issues[0].reason, "bad_row");
    }

    #[test]
    fn ipv6_rows_get_brackets() {
        let dump =
            parse("ENDPOINT  STATUS  OUTLIER CHECK  CLUSTER\nfd00:10:96::3:9080  HEALTHY  OK  c\n")
                .unwrap();
        assert_eq!(dump.hosts[0].address, "[fd00:10:96::3]:9080");
    }

    #[test]
    fn every_status() {
        for (status, flags) in [
            ("HEALTHY", "healthy"),
            ("UNKNOWN", "healthy"),
            ("UNHEALTHY", "/failed_eds_health"),
            ("TIMEOUT", "/failed_eds_health"),
            ("DEGRADED", "/degraded_eds_health"),
            ("DRAINING", "/eds_status_draining"),
        ] {
            let dump = parse(&format!(
                "ENDPOINT STATUS OUTLIER CHECK CLUSTER\n1.1.1.1:80 {status} OK c\n"
            ))
            .unwrap();
            assert_eq!(dump.hosts[0].health_flags.as_deref(), Some(flags), "{status}");
        }
    }

    #[test]
    fn unknown_status_or_outlier_value_is_an_issue_and_flags_are_unknown() {
        let dump = parse("ENDPOINT STATUS OUTLIER CHECK CLUSTER\n1.1.1.1:80 SICK OK c\n2.2.2.2:80 HEALTHY MAYBE c\n").unwrap();
        assert_eq!(
            dump.issues.iter().map(|issue| (issue.line, issue.reason)).collect::<Vec<_>>(),
            [(2, "bad_value"), (3, "bad_value")]
        );
        assert!(dump.hosts.iter().all(|host| host.health_flags.is_none()));
    }

    #[test]
    fn input_with_neither_header_nor_row_is_an_error() {
        assert!(parse("").is_err());
        assert!(parse("...\n\n").is_err());
        assert!(parse("NAME  DOMAINS  MATCH  VIRTUAL SERVICE\n80  *  /*  x\n").is_err());
        assert!(parse("ENDPOINT  CLUSTER\n").is_err());
        assert!(parse("10.112.2.31:9080  SICK  OK  c\n").is_err());
    }

    #[test]
    fn lines_that_are_no_row_and_bad_rows_are_issues() {
        let dump = parse("warning: something\n\nENDPOINT STATUS OUTLIER CHECK CLUSTER\n1.1.1.1:80 HEALTHY\nx   \n").unwrap();
        let reasons: Vec<_> = dump.issues.iter().map(|issue| (issue.line, issue.reason)).collect();
        assert_eq!(reasons, [(1, "unknown_line"), (4, "bad_row"), (5, "bad_row")]);
    }

    /// `istioctl proxy-config endpoints POD | grep reviews`: the rows of every table,
    /// without a header.
    #[test]
    fn header_less_rows_of_every_table_are_read_by_their_shape() {
        let reviews = "outbound|9080||reviews.default.svc.cluster.local";
        let current = grep(CURRENT, "reviews");
        let old = "172.17.0.24:9080      HEALTHY       outbound|9080||reviews.default.svc.cluster.local\n\
                   34.168.157.2:15443    UNHEALTHY     outbound|9080||reviews.default.svc.cluster.local\n";
        let eds = "10.112.2.31:9080         HEALTHY     us-east1/us-east1-c     outbound|9080||reviews.default.svc.cluster.local\n\
                   34.168.157.2:15443       HEALTHY     us-west1                outbound|9080||reviews.default.svc.cluster.local\n\
                   endpoint/127.0.0.1:15020 HEALTHY                             agent\n";
        let dump = parse(&current).unwrap();
        assert_eq!(dump.issues, []);
        assert_eq!(
            summary(&dump),
            [
                ("10.112.2.31:9080", "healthy", reviews),
                ("10.112.2.40:9080", "/failed_outlier_check", reviews),
                ("34.168.157.2:15443", "/failed_outlier_check/failed_eds_health", reviews),
            ]
        );
        let dump = parse(old).unwrap();
        assert_eq!(
            (dump.issues.len(), dump.hosts[1].health_flags.as_deref()),
            (0, Some("/failed_eds_health"))
        );
        let dump = parse(eds).unwrap();
        assert_eq!(dump.issues, []);
        assert_eq!(dump.hosts[0].zone.as_deref(), Some("us-east1-c"));
        assert_eq!(
            (dump.hosts[1].region.as_deref(), dump.hosts[1].zone.as_deref()),
            (Some("us-west1"), None)
        );
        assert_eq!(
            (dump.hosts[2].address.as_str(), dump.hosts[2].envoy_cluster.as_str()),
            ("127.0.0.1:15020", "agent")
        );
    }

    #[test]
    fn header_less_ipv6_and_pipe_rows() {
        let dump = parse(
            "fd00:10:96::3:9080     HEALTHY     OK     outbound|9080||reviews.default.svc.cluster.local\n\
             unix://./etc/istio/proxy/XDS     HEALTHY     OK     xds-grpc\n\
             ./var/run/secrets/workload-spiffe-uds/socket     HEALTHY     sds-grpc\n",
        )
        .unwrap();
        assert_eq!(dump.issues, []);
        let addresses: Vec<&str> = dump.hosts.iter().map(|host| host.address.as_str()).collect();
        assert_eq!(
            addresses,
            [
                "[fd00:10:96::3]:9080",
                "unix://./etc/istio/proxy/XDS",
                "unix://./var/run/secrets/workload-spiffe-uds/socket"
            ]
        );
    }

    #[test]
    fn elisions_are_skipped_and_other_lines_are_issues_with_their_reason() {
        let input = format!(
            "{}...\n…\n--\n$ istioctl pc ep productpage | grep reviews\n10.1.1.1:80 HEALTHY OK too many cells\n",
            grep(CURRENT, "10.112.2.31")
        );
        let dump = parse(&input).unwrap();
        assert_eq!(dump.hosts.len(), 1);
        let reasons: Vec<_> = dump.issues.iter().map(|issue| (issue.line, issue.reason)).collect();
        assert_eq!(reasons, [(5, "unknown_line"), (6, "unknown_line")]);
    }

    #[test]
    fn row_shapes() {
        assert!(is_row("10.112.2.31:9080  HEALTHY  OK  outbound|9080||r"));
        assert!(is_row("10.112.2.31:9080  DRAINING  r"));
        assert!(is_row("endpoint/10.0.0.1:80,[fd00::1]:80  HEALTHY  us-east1  r"));
        assert!(!is_row("ENDPOINT  STATUS  OUTLIER CHECK  CLUSTER"));
        assert!(!is_row("10.112.2.31:9080  HEALTHY"));
        assert!(!is_row("reviews  HEALTHY  OK  r"));
        assert!(!is_row("10.112.2.31:9080  ok  OK  r"));
        assert!(!is_row("x::10.112.2.31:9080::health_flags::healthy"));
        assert!(!is_row(r#"[2022-11-09T00:00:50.336Z] "GET / HTTP/1.1" 200 - via_upstream"#));
    }

    /// The lines of `table` holding `pattern`, as `grep` prints them.
    fn grep(table: &str, pattern: &str) -> String {
        table
            .lines()
            .filter(|line| line.contains(pattern))
            .map(|line| format!("{line}\n"))
            .collect()
    }

    #[test]
    fn header_only_is_an_empty_dump() {
        assert_eq!(
            parse("ENDPOINT     STATUS     OUTLIER CHECK     CLUSTER\n").unwrap(),
            ClustersDump::default()
        );
    }

    #[test]
    fn several_tables_bom_and_crlf() {
        let input = "\u{feff}ENDPOINT  STATUS  CLUSTER\r\n1.1.1.1:80  HEALTHY  a\r\n\r\n\
                     ENDPOINT  STATUS  OUTLIER CHECK  CLUSTER\r\n2.2.2.2:80  HEALTHY  FAILED  b;\r\n";
        let dump = parse(input).unwrap();
        assert_eq!(dump.issues, []);
        assert_eq!(
            summary(&dump),
            [("1.1.1.1:80", "healthy", "a"), ("2.2.2.2:80", "/failed_outlier_check", "b")]
        );
    }

    #[test]
    fn header_recognition() {
        assert!(Table::from_header("ENDPOINT STATUS OUTLIER CHECK CLUSTER").is_some());
        assert!(Table::from_header("NAME STATUS LOCALITY CLUSTER").is_some());
        assert!(Table::from_header("ENDPOINT STATUS OUTLIER CLUSTER").is_none());
        assert!(Table::from_header("STATUS ENDPOINT CLUSTER").is_none());
        assert!(Table::from_header("ENDPOINT STATUS CLUSTER EXTRA").is_none());
        let table = Table::from_header("ENDPOINT   STATUS   OUTLIER CHECK   CLUSTER").unwrap();
        assert_eq!(
            table.columns.iter().map(|(_, offset)| *offset).collect::<Vec<_>>(),
            [0, 11, 20, 36]
        );
    }

    #[test]
    fn cells_that_are_only_a_prefix_or_a_semicolon_are_bad_rows() {
        let input = "ENDPOINT STATUS OUTLIER CHECK CLUSTER\nendpoint/ HEALTHY OK c\n1.1.1.1:80 HEALTHY OK ;\n";
        let dump = parse(input).unwrap();
        assert_eq!(dump.hosts, []);
        let reasons: Vec<_> = dump.issues.iter().map(|issue| issue.reason).collect();
        assert_eq!(reasons, ["bad_row", "bad_row"]);
    }

    #[test]
    fn odd_rows_do_not_panic() {
        let header = "ENDPOINT   STATUS   LOCALITY   CLUSTER\n";
        for row in ["é", "🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂", "a b", "a\u{3000}b c d e", "          x"]
        {
            let _ = parse(&format!("{header}{row}\n"));
        }
    }
}
