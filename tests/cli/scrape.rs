//! `meshlog scrape` against a fake Envoy admin port: a thread on 127.0.0.1 answers
//! `/clusters?format=json` and `/stats/prometheus` from the recorded templates in
//! `tests/fixtures/scrape/`, one phase of a failover per request. cluster1's ingress
//! gateway first sends `frontend` to its two local pods (priority 0); then outlier
//! detection ejects both and cluster2's east-west gateway (priority 1) takes the
//! traffic. The tests check the stored rows (priorities, health, counter deltas across
//! rounds and runs, locality tags), the join with access logs of the same minutes, and
//! that an unreachable target is reported and backed off without failing the run.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::support::{Value, meshlog, meshlog_ok, query_json, scratch, stderr};

const POD_68: &str = "10.112.0.68:8080";
const POD_74: &str = "10.112.0.74:8080";
const GATEWAY: &str = "34.168.157.2:15443";

/// One host's counters and outlier state in a snapshot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HostState {
    rq_total: u64,
    rq_error: u64,
    ejected: bool,
}

const fn host(rq_total: u64, rq_error: u64, ejected: bool) -> HostState {
    HostState { rq_total, rq_error, ejected }
}

/// What the gateway's admin port says in one phase: pod 68, pod 74, the east-west gateway.
pub(crate) type Phase = [(&'static str, HostState); 3];

/// Healthy twice, then both pods ejected while the gateway takes the traffic (twice).
pub(crate) const FAILOVER: [Phase; 4] = [
    [("POD68", host(100, 0, false)), ("POD74", host(120, 0, false)), ("GW", host(0, 0, false))],
    [("POD68", host(150, 0, false)), ("POD74", host(170, 0, false)), ("GW", host(0, 0, false))],
    [("POD68", host(160, 6, true)), ("POD74", host(175, 4, true)), ("GW", host(80, 0, false))],
    [("POD68", host(160, 6, true)), ("POD74", host(175, 4, true)), ("GW", host(200, 0, false))],
];

fn template(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scrape").join(name);
    std::fs::read_to_string(path).unwrap()
}

fn clusters_json(phase: &Phase) -> String {
    let mut text = template("clusters.json.tmpl");
    for (key, state) in phase {
        let health = if state.ejected {
            r#"{"failed_outlier_check": true, "eds_health_status": "HEALTHY"}"#
        } else {
            r#"{"eds_health_status": "HEALTHY"}"#
        };
        let values = [
            ("RQ_TOTAL", state.rq_total.to_string()),
            ("RQ_ERROR", state.rq_error.to_string()),
            ("RQ_SUCCESS", (state.rq_total - state.rq_error).to_string()),
            ("CX_TOTAL", (state.rq_total / 10).to_string()),
            ("HEALTH", health.to_owned()),
        ];
        for (name, value) in values {
            text = text.replace(&format!("@{key}_{name}@"), &value);
        }
    }
    text
}

fn stats_prometheus(phase: &Phase) -> String {
    let total: u64 = phase.iter().map(|(_, state)| state.rq_total).sum();
    let errors: u64 = phase.iter().map(|(_, state)| state.rq_error).sum();
    let ejected = phase.iter().filter(|(_, state)| state.ejected).count();
    template("stats-prometheus.txt.tmpl")
        .replace("@RQ_TOTAL@", &total.to_string())
        .replace("@RQ_5XX@", &errors.to_string())
        .replace("@RQ_2XX@", &(total - errors).to_string())
        .replace("@HEALTHY@", &(phase.len() - ejected).to_string())
        .replace("@EJECTIONS@", &ejected.to_string())
}

/// Starts a fake admin port; the n-th GET of each endpoint gets phase n (the last
/// one again once they run out). Returns its base URL.
pub(crate) fn admin_server(phases: &'static [Phase]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut served: HashMap<String, usize> = HashMap::new();
        for stream in listener.incoming().flatten() {
            let path = request_path(&stream);
            let count = served.entry(path.clone()).or_default();
            let phase = &phases[(*count).min(phases.len() - 1)];
            *count += 1;
            let body = match path.as_str() {
                "/clusters?format=json" => Some(clusters_json(phase)),
                "/stats/prometheus" => Some(stats_prometheus(phase)),
                _ => None,
            };
            respond(stream, body);
        }
    });
    url
}

fn request_path(stream: &TcpStream) -> String {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut header = String::new();
    while reader.read_line(&mut header).unwrap() > 2 {
        header.clear();
    }
    request_line.split(' ').nth(1).unwrap_or("").to_owned()
}

fn respond(mut stream: TcpStream, body: Option<String>) {
    let (status, body) = match body {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", "invalid path\n".to_owned()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes()));
}

/// `samples/mesh.toml`'s topology as cluster1, and `scrape` entries.
fn config(dir: &Path, scrape: &str) -> PathBuf {
    let mesh = std::fs::read_to_string(crate::support::sample("mesh.toml")).unwrap();
    let text = format!("source_cluster = \"cluster1\"\n{mesh}\n{scrape}");
    let path = dir.join("mesh.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) fn scrape_entry(name: &str, url: &str) -> String {
    format!("[[scrape]]\nname = \"{name}\"\nurl = \"{url}\"\ninterval = \"1s\"\ntimeout = \"2s\"\n")
}

fn scrape(config: &Path, data_dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["scrape", "--config", config.to_str().unwrap()];
    args.extend(["--data-dir", data_dir.to_str().unwrap()]);
    args.extend(extra);
    meshlog(&args)
}

/// The frontend rows of `host`, oldest first.
fn host_rows(data_dir: &Path, host: &str) -> Vec<Value> {
    let sql = format!(
        "SELECT CAST(ts AS BIGINT) AS ts_us, proxy, source_cluster, priority, healthy, health_flags, \
         rq_total, rq_total_delta, rq_error_delta, locality, dst_cluster, via_gateway, region \
         FROM endpoint_stats WHERE service = 'frontend.mycompany.mesh' AND host = '{host}' ORDER BY ts"
    );
    query_json(data_dir, &sql)
}

/// The values of `names` in `row`, as a JSON array.
fn pick(row: &Value, names: &[&str]) -> Value {
    Value::Array(names.iter().map(|name| row[*name].clone()).collect())
}

fn column(rows: &[Value], name: &str) -> Vec<Value> {
    rows.iter().map(|row| row[name].clone()).collect()
}

/// Scrapes the whole failover: two `--once` runs (the counters carry over between
/// runs), then a `--duration` run of a few one-second rounds.
fn scrape_failover(dir: &Path) -> (PathBuf, PathBuf, String) {
    let url = admin_server(&FAILOVER);
    let config = config(dir, &scrape_entry("ingress-gw", &url));
    let data_dir = dir.join("data");
    for _ in 0..2 {
        let once = scrape(&config, &data_dir, &["--once"]);
        assert!(once.status.success(), "{}", stderr(&once));
    }
    let timed = scrape(&config, &data_dir, &["--duration", "3s"]);
    assert!(timed.status.success(), "{}", stderr(&timed));
    (config, data_dir, stderr(&timed))
}

#[test]
fn a_scraped_failover_stores_priorities_health_deltas_and_tags() {
    let dir = scratch("scrape-failover");
    let (_, data_dir, summary) = scrape_failover(&dir);
    assert!(summary.contains("meshlog scrape: "), "{summary}");
    assert!(summary.contains(" snapshots, 0 failures"), "{summary}");

    let pod = host_rows(&data_dir, POD_68);
    assert!(pod.len() >= 4, "{pod:?}");
    let deltas = column(&pod, "rq_total_delta");
    assert_eq!(deltas[..4], [Value::Null, 50.into(), 10.into(), 0.into()], "{pod:?}");
    assert_eq!(column(&pod, "rq_error_delta")[2], 6);
    assert_eq!(column(&pod, "healthy")[..4], [true, true, false, false].map(Value::from));
    assert_eq!(pod[2]["health_flags"], "/failed_outlier_check");
    for row in &pod {
        let tags =
            ["priority", "locality", "dst_cluster", "via_gateway", "proxy", "source_cluster"];
        assert_eq!(
            pick(row, &tags),
            json!([0, "local", "cluster1", false, "ingress-gw", "cluster1"])
        );
    }
    let other_pod = column(&host_rows(&data_dir, POD_74), "rq_total_delta");
    assert_eq!(other_pod[..4], [Value::Null, 50.into(), 5.into(), 0.into()]);

    let gateway = host_rows(&data_dir, GATEWAY);
    let deltas = column(&gateway, "rq_total_delta");
    assert_eq!(deltas[..4], [Value::Null, 0.into(), 80.into(), 120.into()], "{gateway:?}");
    assert!(deltas[4..].iter().all(|delta| *delta == 0), "{gateway:?}");
    for row in &gateway {
        let tags = ["priority", "healthy", "locality", "dst_cluster", "via_gateway", "region"];
        assert_eq!(
            pick(row, &tags),
            json!([1, true, "cross_cluster", "cluster2", true, "us-west1"])
        );
    }
    let stat = query_json(
        &data_dir,
        "SELECT delta FROM cluster_stats WHERE stat = 'upstream_rq_total' \
         AND envoy_cluster = 'outbound|80||frontend.mycompany.mesh' ORDER BY ts",
    );
    let deltas = column(&stat, "delta");
    assert_eq!(deltas[..4], [Value::Null, 100.0.into(), 95.0.into(), 120.0.into()], "{stat:?}");
}

/// An Istio 1.23 access-log line of cluster1's ingress gateway at `ts_us`.
fn log_line(ts_us: i64, code: u16, flags: &str, upstream: &str, n: usize) -> String {
    let at = chrono::DateTime::from_timestamp_micros(ts_us).unwrap();
    let details = match flags {
        "UH" => "no_healthy_upstream",
        "UF" => "upstream_reset_before_response_started{connection_failure}",
        _ => "via_upstream",
    };
    let upstream_local =
        if upstream == "-" { "-".to_owned() } else { format!("10.112.0.50:{}", 41000 + n) };
    format!(
        "[{}] \"GET /cart HTTP/1.1\" {code} {flags} {details} - \"-\" 0 4821 38 37 \"10.142.0.66\" \
         \"Mozilla/5.0\" \"req-{n}\" \"34.75.183.246\" \"{upstream}\" outbound|80||frontend.mycompany.mesh \
         {upstream_local} 10.112.0.50:8080 10.142.0.66:{} - frontend-frontend.web-team.mgmt-cluster\n",
        at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        20000 + n
    )
}

/// 40 requests at the times of the first four snapshots: to the pods while they are
/// healthy, then 503 `UF`/`UH` and the gateway once they are ejected.
fn failover_log(snapshot_times: &[i64]) -> (String, HashMap<&'static str, usize>) {
    let mut lines = Vec::new();
    for &ts in &snapshot_times[..2] {
        for n in 0..8 {
            let pod = if n % 2 == 0 { POD_68 } else { POD_74 };
            lines.push((ts, 200, "-", pod));
        }
    }
    for _ in 0..4 {
        lines.push((snapshot_times[2], 503, "UF", POD_68));
        lines.push((snapshot_times[2], 503, "UH", "-"));
    }
    lines.extend((0..6).map(|_| (snapshot_times[2], 200, "-", GATEWAY)));
    lines.extend((0..10).map(|_| (snapshot_times[3], 200, "-", GATEWAY)));
    let mut per_host = HashMap::new();
    let text = lines
        .iter()
        .enumerate()
        .map(|(n, &(ts, code, flags, upstream))| {
            *per_host.entry(upstream).or_default() += 1;
            log_line(ts, code, flags, upstream, n)
        })
        .collect();
    (text, per_host)
}

#[test]
fn endpoint_health_joins_scraped_health_with_the_logged_requests() {
    let dir = scratch("scrape-endpoint-health");
    let (config, data_dir, _) = scrape_failover(&dir);
    let times: Vec<i64> = query_json(
        &data_dir,
        "SELECT DISTINCT CAST(ts AS BIGINT) AS ts_us FROM endpoint_stats ORDER BY ts_us",
    )
    .iter()
    .map(|row| row["ts_us"].as_i64().unwrap())
    .collect();
    let (log, per_host) = failover_log(&times);
    let log_path = dir.join("ingress-gw.log");
    std::fs::write(&log_path, log).unwrap();
    let (config, data_dir_arg) = (config.to_str().unwrap(), data_dir.to_str().unwrap());
    meshlog_ok(&[
        "ingest",
        "-q",
        "--config",
        config,
        "--data-dir",
        data_dir_arg,
        log_path.to_str().unwrap(),
    ]);

    let stdout = meshlog_ok(&[
        "query",
        "--data-dir",
        data_dir_arg,
        "--output",
        "json",
        "--saved",
        "endpoint_health",
    ]);
    let rows: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let of =
        |host: &str| rows.iter().filter(|row| row["host"] == host).cloned().collect::<Vec<_>>();
    let requests =
        |rows: &[Value]| rows.iter().map(|row| row["requests"].as_u64().unwrap()).sum::<u64>();

    let gateway = of(GATEWAY);
    assert_eq!(requests(&gateway), per_host[GATEWAY] as u64, "{gateway:?}");
    let busy_gateway = gateway.iter().find(|row| row["requests"].as_u64() > Some(0)).unwrap();
    let tags = ["priority", "health", "locality", "dst_cluster"];
    assert_eq!(pick(busy_gateway, &tags), json!([1, "healthy", "cross_cluster", "cluster2"]));

    let pod = of(POD_68);
    assert_eq!(requests(&pod), per_host[POD_68] as u64, "{pod:?}");
    assert!(pod.iter().all(|row| row["priority"] == 0), "{pod:?}");
    let ejected = pod.iter().find(|row| row["health"] == "/failed_outlier_check").unwrap();
    assert!(ejected["errors_5xx"].as_u64().unwrap() >= 4, "{pod:?}");
}

#[test]
fn an_unreachable_target_is_logged_and_backed_off_while_the_others_are_stored() {
    let dir = scratch("scrape-unreachable");
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let down_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let entries = format!(
        "{}{}",
        scrape_entry("down", &down_url),
        scrape_entry("up", &admin_server(&FAILOVER))
    );
    let config = config(&dir, &entries);
    let data_dir = dir.join("data");
    let output = scrape(&config, &data_dir, &["--duration", "3s"]);
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    let failure = format!(
        "meshlog: warning: scrape failed target=down reason=\"GET {down_url}/clusters?format=json: cannot connect: "
    );
    assert!(log.contains(&failure), "{log}");
    assert!(log.contains(" next_try_s=2.0 failed_in_a_row=1"), "{log}");
    let down_summary = log
        .lines()
        .find(|line| line.contains(&format!("down ({down_url}): 0 snapshots, ")))
        .unwrap();
    let failures: u64 =
        down_summary.rsplit(", ").next().unwrap().trim_end_matches(" failures").parse().unwrap();
    // Due at 0 s, backed off to 2 s, then to 6 s: two or three tries in 3 s.
    assert!((1..=3).contains(&failures), "{log}");
    assert!(log.contains(" snapshots, 0 failures"), "{log}");
    let stored = query_json(&data_dir, "SELECT DISTINCT proxy FROM endpoint_stats");
    assert_eq!(stored, [json!({"proxy": "up"})]);
}

#[test]
fn a_lone_unreachable_target_with_once_ends_normally_and_stores_nothing() {
    let dir = scratch("scrape-once-down");
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let down_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let config = config(&dir, &scrape_entry("down", &down_url));
    let output = scrape(&config, &dir.join("data"), &["--once"]);
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    assert!(log.contains("meshlog scrape: 1 rounds in "), "{log}");
    assert!(log.contains(", 0 commits under "), "{log}");
    assert!(log.contains(&format!("down ({down_url}): 0 snapshots, 1 failures")), "{log}");
}

#[test]
fn a_config_without_scrape_entries_or_with_a_bad_one_exits_2() {
    let dir = scratch("scrape-bad-config");
    let data_dir = dir.join("data");
    let none = scrape(&config(&dir, ""), &data_dir, &["--once"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("has no [[scrape]] entries"), "{}", stderr(&none));
    let https = scrape_entry("gw", "https://10.112.0.50:15000");
    let bad = scrape(&config(&dir, &https), &data_dir, &["--once"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("`scrape.url`: must be an http:// URL"), "{}", stderr(&bad));
}

#[test]
fn sigterm_finishes_the_round_under_way_and_prints_the_summary() {
    let dir = scratch("scrape-sigterm");
    let config = config(&dir, &scrape_entry("gw", &admin_server(&FAILOVER)));
    let data_dir = dir.join("data");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_meshlog"))
        .args(["scrape", "--config", config.to_str().unwrap()])
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Signal once the first round is committed (the run is under way, its handlers set).
    let commits = data_dir.join("_meshlog/commits.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_to_string(&commits).map_or(true, |log| log.is_empty()) {
        assert!(std::time::Instant::now() < deadline, "no commit within 30 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    assert!(log.contains("meshlog scrape: terminated; finishing the round under way"), "{log}");
    assert!(log.contains("gw ("), "no per-target summary: {log}");
    let rows = query_json(&data_dir, "SELECT count(DISTINCT ts) AS snapshots FROM endpoint_stats");
    assert!(rows[0]["snapshots"].as_i64().unwrap() >= 1, "{log}");
}

/// `meshlog serve` polls the same targets on its own pipeline, beside its HTTP
/// sink: one writer, so nothing is locked out.
#[test]
fn serve_scrapes_on_the_pipeline_it_ingests_with() {
    let dir = scratch("serve-scrape");
    let url = admin_server(&FAILOVER);
    let entry = format!("{}source_cluster = \"cluster1\"\n", scrape_entry("gateway", &url));
    let (config, port) = crate::serve_support::write_config(&dir, "", &entry);
    let server = crate::serve_support::Server::start(&config, port);
    let posted = server.post_lines(&[crate::serve_support::line("scraped-1")], &[]);
    assert_eq!(posted.status, 200, "{posted:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while server.query("select count(*) as n from endpoint_stats")[0]["n"] == 0 {
        assert!(std::time::Instant::now() < deadline, "no snapshot stored: {}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(server.query("select count(*) as n from requests")[0]["n"], 1);
    assert!(server.stop().success());
    let stored =
        crate::support::query_json(&dir.join("data"), "select count(*) as n from endpoint_stats");
    assert!(stored[0]["n"].as_u64().unwrap() > 0);
}
