//! `GET /metrics` of a live `meshlog serve`: the traffic it counts equals what its
//! tables hold, its own counters follow what it stored, rejected and answered, the
//! scrape targets' reachability shows, and `promtool check metrics` (Prometheus'
//! own linter, from Debian's `prometheus` package) accepts the exposition.

use std::io::Write;
use std::process::{Command, Stdio};

use super::serve_support::{LINE, Server, line, scrape_up_and_down, write_config};
use super::support::scratch;

/// Every sample of a Prometheus text exposition: series (name and labels) and value.
fn samples(text: &str) -> Vec<(String, f64)> {
    let lines = text.lines().filter(|line| !line.starts_with('#') && !line.is_empty());
    lines
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect()
}

/// The sum of the samples of `name` whose labels include all of `labels`.
fn sum(samples: &[(String, f64)], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| {
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            metric == name
                && labels.iter().all(|(key, value)| rest.contains(&format!("{key}=\"{value}\"")))
        })
        .map(|(_, value)| value)
        .sum()
}

fn promtool_check(exposition: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/test.sh installs it)");
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success() && said.trim().is_empty(), "promtool: {said}");
}

#[test]
fn metrics_count_what_is_stored_and_pass_promtool() {
    let dir = scratch("serve-metrics");
    let (config, port) = write_config(&dir, "", &scrape_up_and_down());
    let server = Server::start(&config, port);
    let mut lines: Vec<String> = (0..3).map(|n| line(&format!("ok-{n}"))).collect();
    let no_upstream = LINE.replace("200 - via_upstream", "503 UH no_healthy_upstream");
    lines.extend((0..2).map(|n| no_upstream.replace("REQUEST-ID", &format!("uh-{n}"))));
    lines.push("not an access log line".into());
    let posted = server.post_lines(&lines, &[]);
    assert_eq!(posted.status, 200, "{posted:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let exposition = loop {
        let answer = server.request("GET", "/metrics", &[], b"");
        assert_eq!(answer.status, 200, "{answer:?}");
        let found = samples(&answer.body);
        let scraped = sum(&found, "meshlog_scrape_target_up", &[("target", "gateway")]) == 1.0;
        let endpoints =
            sum(&found, "meshlog_snapshot_endpoint_hosts", &[("source_cluster", "cluster1")]);
        // Lines are counted just after their requests are answered, the stored ones
        // and the rejects by reason one after the other.
        let stored = sum(&found, "meshlog_ingest_lines_total", &[("outcome", "stored")]);
        let rejected = sum(&found, "meshlog_ingest_rejected_lines_total", &[("source", "http")]);
        if scraped && endpoints > 0.0 && stored == 5.0 && rejected == 1.0 {
            break answer;
        }
        assert!(std::time::Instant::now() < deadline, "no scrape shown: {}", answer.body);
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(
        exposition.headers.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4")
    );
    let found = samples(&exposition.body);
    let http = [("source", "http")];
    assert_eq!(sum(&found, "meshlog_ingest_lines_total", &[http[0], ("outcome", "stored")]), 5.0);
    assert_eq!(sum(&found, "meshlog_ingest_lines_total", &[http[0], ("outcome", "rejected")]), 1.0);
    let reason =
        server.query("select reason from rejects")[0]["reason"].as_str().unwrap().to_owned();
    assert_eq!(
        sum(&found, "meshlog_ingest_rejected_lines_total", &[http[0], ("reason", &reason)]),
        1.0
    );
    // The traffic counted is the traffic stored.
    for row in server.query("select locality, count(*) as n from requests group by locality") {
        let locality = row["locality"].as_str().unwrap();
        let counted = sum(&found, "meshlog_mesh_requests_total", &[("locality", locality)]);
        assert_eq!(counted, row["n"].as_f64().unwrap(), "{locality}");
    }
    assert_eq!(sum(&found, "meshlog_mesh_requests_total", &[("code_class", "5xx")]), 2.0);
    assert_eq!(sum(&found, "meshlog_mesh_response_flags_total", &[("flag", "UH")]), 2.0);
    assert_eq!(sum(&found, "meshlog_mesh_request_duration_seconds_count", &[]), 5.0);
    let sink_ok = [("route", "/api/v1/logs"), ("code", "200")];
    assert_eq!(sum(&found, "meshlog_http_requests_total", &sink_ok), 1.0);
    assert_eq!(sum(&found, "meshlog_scrape_target_up", &[("target", "down")]), 0.0);
    assert!(sum(&found, "meshlog_scrape_failures_total", &[("target", "down")]) >= 1.0);
    assert!(sum(&found, "meshlog_wal_disk_bytes", &[]) > 0.0);
    assert!(sum(&found, "process_resident_memory_bytes", &[]) > 0.0);
    promtool_check(&exposition.body);
    assert!(server.stop().success());
}
