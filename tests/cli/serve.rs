//! `meshlog serve` end to end: the real binary on a free port, posted to as log
//! shippers post (each body kind and compression, Vector's and Fluent Bit's exact
//! bodies), the status codes of the acknowledgement contract, retries by batch id,
//! freshness through both query paths, followed files through rotation and restart,
//! SIGTERM, and a crash test with SIGKILL at random moments.

use std::collections::HashSet;

use super::serve_support::{Server, append, gzip, line, wait_until, write_config};
use super::support::{assert_rollups_match_requests, query_json, scratch};

fn ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|index| line(&format!("{prefix}-{index}"))).collect()
}

#[test]
fn the_sink_reads_text_ndjson_and_arrays_plain_gzip_and_zstd() {
    let dir = scratch("serve-bodies");
    let (config, port) = write_config(&dir, "", "");
    let server = Server::start(&config, port);
    let text = format!("{}\n{}\n", line("t1"), line("t2"));
    let ndjson = format!(
        "{}\n{}\n",
        serde_json::json!({ "message": line("n1") }),
        serde_json::json!({ "log": format!("{}\n", line("n2")) })
    );
    let array = serde_json::json!([line("a1"), { "message": line("a2") }]).to_string();
    let cases: [(&str, &str, Vec<u8>); 5] = [
        ("text/plain", "identity", text.clone().into_bytes()),
        ("text/plain", "gzip", gzip(text.as_bytes())),
        ("application/x-ndjson", "gzip", gzip(ndjson.as_bytes())),
        ("application/x-ndjson", "zstd", zstd::encode_all(ndjson.as_bytes(), 3).unwrap()),
        ("application/json", "identity", array.into_bytes()),
    ];
    for (content_type, encoding, body) in &cases {
        let headers = [
            ("Content-Type", *content_type),
            ("Content-Encoding", *encoding),
            ("X-Meshlog-Source-Cluster", "cluster1"),
        ];
        let answer = server.request("POST", "/api/v1/logs", &headers, body);
        assert_eq!(answer.status, 200, "{content_type} {encoding}: {answer:?}");
        assert_eq!(answer.json(), serde_json::json!({ "accepted": 2, "rejected": 0 }));
    }
    // The reporting cluster from the query parameter.
    let body = format!("{}\n", line("p1"));
    let answer =
        server.request("POST", "/api/v1/logs?source_cluster=cluster2", &[], body.as_bytes());
    assert_eq!(answer.status, 200, "{answer:?}");
    let rows = server.query(
        "select source_cluster, count(*) as n from requests group by source_cluster order by 1",
    );
    assert_eq!(rows, serde_json::json!([{ "source_cluster": "cluster1", "n": 10 }, { "source_cluster": "cluster2", "n": 1 }]).as_array().unwrap().clone());
    assert!(server.stop().success());
}

#[test]
fn shipper_bodies_are_read_as_vector_and_fluent_bit_send_them() {
    let dir = scratch("serve-shippers");
    let (config, port) = write_config(&dir, "", "");
    let server = Server::start(&config, port);
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shippers");
    let cases = [
        ("vector-json-array.json", "application/json"),
        ("vector-ndjson.ndjson", "application/x-ndjson"),
        ("fluent-bit-json.json", "application/json"),
        ("fluent-bit-json-lines.ndjson", "application/x-ndjson"),
        ("fluent-bit-json-lines-merge-log.ndjson", "application/x-ndjson"),
        ("fluent-bit-json-lines-parser-cri.ndjson", "application/x-ndjson"),
    ];
    let mut total = 0;
    for (name, content_type) in cases {
        let body = std::fs::read(fixtures.join(name)).unwrap();
        let records = match body.first() {
            Some(b'[') => serde_json::from_slice::<Vec<serde_json::Value>>(&body).unwrap().len(),
            _ => body.split(|&byte| byte == b'\n').filter(|line| !line.is_empty()).count(),
        };
        let headers = [
            ("Content-Type", content_type),
            ("Content-Encoding", "gzip"),
            ("X-Meshlog-Source-Cluster", "cluster1"),
        ];
        let answer = server.request("POST", "/api/v1/logs", &headers, &gzip(&body));
        assert_eq!(answer.status, 200, "{name}: {answer:?}");
        let expected = serde_json::json!({ "accepted": records, "rejected": 0 });
        assert_eq!(answer.json(), expected, "{name}");
        total += records;
    }
    let rows = server.query("select count(*) as n from requests where source_cluster = 'cluster1'");
    assert_eq!(rows[0]["n"], total);
    assert!(server.stop().success());
}

#[test]
fn status_codes_keep_the_acknowledgement_contract() {
    let dir = scratch("serve-status");
    let (config, port) =
        write_config(&dir, "tokens = [\"s3cret\"]\nmax_body_bytes = \"64KiB\"", "");
    let server = Server::start(&config, port);
    let auth = ("Authorization", "Bearer s3cret");
    let lines = ids("status", 2);
    // 401 without a token or with a wrong one; the probes answer without one.
    assert_eq!(server.post_lines(&lines, &[]).status, 401);
    assert_eq!(server.post_lines(&lines, &[("Authorization", "Bearer s3cre")]).status, 401);
    assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
    // 400: a JSON array that does not read; a format that does not exist.
    let json = [auth, ("Content-Type", "application/json")];
    let answer = server.request("POST", "/api/v1/logs", &json, b"[{\"message\": ");
    assert_eq!(answer.status, 400, "{answer:?}");
    let answer = server.request("POST", "/api/v1/logs?format=nonsense%25", &[auth], b"x\n");
    assert_eq!(answer.status, 400, "{answer:?}");
    // 400: a reporting cluster the topology does not have, or none.
    let elsewhere = [auth, ("X-Meshlog-Source-Cluster", "cluster9")];
    let answer = server.request("POST", "/api/v1/logs", &elsewhere, lines[0].as_bytes());
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.body.contains("cluster9"), "{answer:?}");
    let answer = server.request("POST", "/api/v1/logs", &[auth], lines[0].as_bytes());
    assert_eq!(answer.status, 400, "{answer:?}");
    // 413: over the limit as sent, and a small gzip body that inflates past it.
    let big = vec![b'a'; 100 << 10];
    assert_eq!(server.request("POST", "/api/v1/logs", &[auth], &big).status, 413);
    let bomb = gzip(&vec![b'a'; 10 << 20]);
    let answer =
        server.request("POST", "/api/v1/logs", &[auth, ("Content-Encoding", "gzip")], &bomb);
    assert_eq!(answer.status, 413, "{answer:?}");
    // 200, with the lines that do not parse counted as rejects, not an error.
    let mut mixed = lines.clone();
    mixed.push("not an access log".to_owned());
    let answer = server.post_lines(&mixed, &[auth]);
    assert_eq!(answer.json(), serde_json::json!({ "accepted": 2, "rejected": 1 }));
    let sql = br#"{"sql": "select reason from rejects"}"#;
    let rejects = server.request("POST", "/api/v1/query", &[auth], sql).json();
    assert_eq!(rejects.as_array().unwrap().len(), 1, "{rejects:?}");
    assert_eq!(server.request("POST", "/api/v1/query", &[], sql).status, 401);
    // The metrics need the token too; the refused requests are among them.
    assert_eq!(server.request("GET", "/metrics", &[], b"").status, 401);
    let metrics = server.request("GET", "/metrics", &[auth], b"");
    assert_eq!(metrics.status, 200);
    let refused = "meshlog_http_requests_total{code=\"401\",route=\"/api/v1/logs\"} 2";
    assert!(metrics.body.contains(refused), "{}", metrics.body);
    assert!(server.stop().success());
}

#[test]
fn a_retried_batch_is_stored_once_across_a_crash() {
    let dir = scratch("serve-retry");
    let (config, port) = write_config(&dir, "", "");
    let server = Server::start(&config, port);
    let lines = ids("retry", 3);
    let first = server.post_lines(&lines, &[("X-Meshlog-Batch-Id", "batch-1")]);
    assert_eq!(first.json(), serde_json::json!({ "accepted": 3, "rejected": 0 }));
    let again = server.post_lines(&lines, &[("X-Meshlog-Batch-Id", "batch-1")]);
    assert_eq!(again.json()["duplicate"], true);
    server.kill();
    let server = Server::start(&config, port);
    let again = server.post_lines(&lines, &[("X-Meshlog-Batch-Id", "batch-1")]);
    assert_eq!(again.json()["duplicate"], true, "{again:?}");
    assert_eq!(server.query("select count(*) as n from requests")[0]["n"], 3);
    assert!(server.stop().success());
    // After a clean stop every row is in Parquet and the ids are kept with them.
    let server = Server::start(&config, port);
    let again = server.post_lines(&lines, &[("X-Meshlog-Batch-Id", "batch-1")]);
    assert_eq!(again.json()["duplicate"], true, "{again:?}");
    assert!(server.stop().success());
    assert_eq!(query_json(&dir.join("data"), "select count(*) as n from requests")[0]["n"], 3);
}

#[test]
fn acknowledged_rows_are_visible_to_both_query_paths_at_once() {
    let dir = scratch("serve-fresh");
    let (config, port) = write_config(&dir, "", "");
    let server = Server::start(&config, port);
    for round in 0..5 {
        let lines = ids(&format!("fresh{round}"), 10);
        assert_eq!(server.post_lines(&lines, &[]).status, 200);
        let sql =
            format!("select count(*) as n from requests where request_id like 'fresh{round}-%'");
        assert_eq!(server.query(&sql)[0]["n"], 10, "round {round} through the API");
        assert_eq!(
            query_json(&server.data_dir, &sql)[0]["n"],
            10,
            "round {round} through meshlog query"
        );
    }
    let csv = server.request(
        "POST",
        "/api/v1/query",
        &[("Accept", "text/csv")],
        br#"{"sql": "select count(*) as n from requests"}"#,
    );
    assert_eq!(csv.body, "n\n50\n");
    let arrow = server.request(
        "POST",
        "/api/v1/query",
        &[("Accept", "application/vnd.apache.arrow.stream")],
        br#"{"saved": "cross_cluster_share"}"#,
    );
    assert_eq!(arrow.status, 200, "{arrow:?}");
    assert!(arrow.headers.contains("content-type: application/vnd.apache.arrow.stream"));
    let refused =
        server.request("POST", "/api/v1/query", &[], br#"{"sql": "drop table requests"}"#);
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(server.stop().success());
}

/// Distinct request ids and rows of `requests`.
const IDS_AND_ROWS: &str = "select count(distinct request_id) as n, count(*) as rows from requests";

/// `dir/logs`, and a `[[sources]]` entry following the files there that match
/// `pattern`, polled every 50 ms.
fn followed(dir: &std::path::Path, pattern: &str) -> (std::path::PathBuf, String) {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let source = format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"{}/{pattern}\"]\nsource_cluster = \"cluster1\"\npoll_ms = 50\n",
        logs.display()
    );
    (logs, source)
}

/// Waits until `POST /api/v1/query` sees `rows` rows in `requests`.
fn wait_for_rows(server: &Server, rows: u64) {
    let every = std::time::Duration::from_millis(50);
    let count = || server.query(IDS_AND_ROWS)[0].clone();
    wait_until(every, || count()["rows"] == rows, || format!("not {rows} rows: {:?}", count()));
}

#[test]
fn followed_files_survive_rotation_copytruncate_and_a_restart() {
    let dir = scratch("serve-follow");
    let (logs, source) = followed(&dir, "*.log*");
    let (config, port) = write_config(&dir, "flush_interval = \"1s\"", &source);
    let server = Server::start(&config, port);
    let path = logs.join("app.log");
    append(&path, &format!("{}\n{}", line("f1"), &line("f2")[..40]));
    wait_for_rows(&server, 1);
    // The rest of a line written in two pieces.
    append(&path, &format!("{}\n", &line("f2")[40..]));
    wait_for_rows(&server, 2);
    // Rename rotation: a line to the old file after the rename, then the new file.
    std::fs::rename(&path, logs.join("app.log.1")).unwrap();
    append(&logs.join("app.log.1"), &format!("{}\n", line("f3")));
    append(&path, &format!("{}\n", line("f4")));
    wait_for_rows(&server, 4);
    // copytruncate: the content copied aside, the file emptied and written again.
    std::fs::copy(&path, logs.join("app.log.2")).unwrap();
    std::fs::OpenOptions::new().write(true).truncate(true).open(&path).unwrap();
    append(&path, &format!("{}\n", line("f5")));
    wait_for_rows(&server, 5);
    server.kill();
    append(&path, &format!("{}\n", line("f6")));
    let server = Server::start(&config, port);
    wait_for_rows(&server, 6);
    assert_eq!(server.query(IDS_AND_ROWS)[0]["n"], 6);
    assert!(server.stop().success());
    let stored = query_json(&dir.join("data"), "select count(*) as n from requests");
    assert_eq!(stored[0]["n"], 6);
}

#[test]
fn followed_lines_are_visible_to_meshlog_query_at_once_and_replayed_once_after_a_crash() {
    let dir = scratch("serve-follow-wal");
    let (logs, source) = followed(&dir, "*.log");
    // Nothing is committed for an hour: the rows are in the WAL and in memory only.
    let (config, port) = write_config(&dir, "flush_interval = \"1h\"", &source);
    let server = Server::start(&config, port);
    let path = logs.join("app.log");
    let data = dir.join("data");
    append(&path, &format!("{}\n{}\n{}\n", line("w1"), line("w2"), line("w3")));
    wait_until(
        std::time::Duration::from_millis(100),
        || query_json(&data, IDS_AND_ROWS)[0]["rows"] == 3,
        || "meshlog query never saw 3 rows".to_owned(),
    );
    assert!(walk(&data.join("requests")).is_empty(), "committed before the flush interval");
    // Killed with the rows in the WAL only: replayed, and the file resumed after them.
    server.kill();
    append(&path, &format!("{}\n", line("w4")));
    let server = Server::start(&config, port);
    wait_for_rows(&server, 4);
    assert!(server.stop().success());
    let stored = query_json(&data, IDS_AND_ROWS);
    assert_eq!((stored[0]["n"].clone(), stored[0]["rows"].clone()), (4.into(), 4.into()));
}

#[test]
fn a_rotated_file_and_its_successor_read_in_one_commit_both_keep_their_position() {
    let dir = scratch("serve-rotate-commit");
    let (logs, source) = followed(&dir, "*.log*");
    // One commit for everything, at the stop.
    let (config, port) = write_config(&dir, "flush_interval = \"1h\"", &source);
    let server = Server::start(&config, port);
    let path = logs.join("app.log");
    append(&path, &format!("{}\n", line("r1")));
    wait_for_rows(&server, 1);
    // Renamed away (the follower still calls it app.log), written to, and a new app.log.
    std::fs::rename(&path, logs.join("app.log.1")).unwrap();
    append(&logs.join("app.log.1"), &format!("{}\n", line("r2")));
    append(&path, &format!("{}\n", line("r3")));
    wait_for_rows(&server, 3);
    assert!(server.stop().success());
    let server = Server::start(&config, port);
    append(&path, &format!("{}\n", line("r4")));
    wait_for_rows(&server, 4);
    let counted = server.query(IDS_AND_ROWS);
    assert_eq!((counted[0]["n"].clone(), counted[0]["rows"].clone()), (4.into(), 4.into()));
    assert!(server.stop().success());
}

/// `meshlog serve` with `config`, expected to stop before it is ready: its stderr.
/// (It must exit within 30 s: a server that hangs instead fails the test.)
fn refused_start(config: &std::path::Path) -> String {
    let stderr_path = config.with_file_name("refused.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_meshlog"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "serve neither started nor exited: {}",
                std::fs::read_to_string(&stderr_path).unwrap()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(!status.success(), "serve started");
    std::fs::read_to_string(&stderr_path).unwrap()
}

#[test]
fn a_source_that_cannot_start_stops_the_server_with_its_reason() {
    let dir = scratch("serve-bad-source");
    // A good file source, then a bad one: the server stops, it does not hang with
    // the first one running.
    let good = format!("[[sources]]\ntype = \"file\"\npaths = [\"{}/*.log\"]\n", dir.display());
    let bad = "[[sources]]\ntype = \"file\"\npaths = [\"/var/log/[istio/*.log\"]\n";
    let (config, _) = write_config(&dir, "", &format!("{good}{bad}"));
    let stderr = refused_start(&config);
    assert!(stderr.contains("/var/log/[istio/*.log"), "{stderr}");
    // The address is taken: the HTTP source cannot start.
    let (config, port) = write_config(&dir, "", "");
    let _taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let stderr = refused_start(&config);
    assert!(stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")), "{stderr}");
}

#[test]
fn sigterm_commits_everything_and_exits_0() {
    let dir = scratch("serve-sigterm");
    let (config, port) = write_config(&dir, "", "");
    let server = Server::start(&config, port);
    assert_eq!(server.post_lines(&ids("term", 100), &[]).status, 200);
    let status = server.stop();
    assert!(status.success(), "{status}");
    let parquet = walk(&dir.join("data/requests"));
    assert!(!parquet.is_empty(), "no Parquet file after a clean stop");
    // Nothing is left to replay: the WAL's entries are committed.
    let wal = std::fs::read_dir(dir.join("data/_meshlog/wal")).unwrap().count();
    assert!(wal <= 1, "{wal} WAL segments left");
    assert_eq!(query_json(&dir.join("data"), "select count(*) as n from requests")[0]["n"], 100);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        match path.is_dir() {
            true => files.extend(walk(&path)),
            false => files.push(path),
        }
    }
    files
}

/// The crash test: clients post batches of unique lines with batch ids as fast as
/// they can; the server is killed at random moments and restarted; each client
/// retries what was not acknowledged. Every acknowledged line is stored exactly once.
#[test]
fn sigkill_at_random_moments_loses_and_repeats_nothing() {
    let dir = scratch("serve-crash");
    let server_config = "flush_rows = 2000\nflush_interval = \"1s\"\ncompact_interval = \"1s\"\ncompact_min_files = 2";
    let (config, port) = write_config(&dir, server_config, "");
    let mut server = Server::start(&config, port);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..3)
        .map(|client| {
            let stop = stop.clone();
            std::thread::spawn(move || post_until_stopped(port, client, &stop))
        })
        .collect();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..5 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(std::time::Duration::from_millis(300 + seed % 900));
        server.kill();
        server = Server::start(&config, port);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Release);
    let acknowledged: Vec<String> =
        clients.into_iter().flat_map(|client| client.join().unwrap()).collect();
    assert!(acknowledged.len() > 100, "only {} lines acknowledged", acknowledged.len());
    assert!(server.stop().success());
    let rows = query_json(&dir.join("data"), "select request_id from requests");
    let stored: Vec<&str> = rows.iter().map(|row| row["request_id"].as_str().unwrap()).collect();
    let distinct: HashSet<&str> = stored.iter().copied().collect();
    assert_eq!(stored.len(), distinct.len(), "duplicates stored");
    let wanted: HashSet<&str> = acknowledged.iter().map(String::as_str).collect();
    assert_eq!(distinct, wanted, "stored ids differ from acknowledged ids");
    assert_rollups_match_requests(&dir.join("data"));
}

/// Posts batches of 50 unique lines until `stop`, each retried with its batch id
/// until acknowledged; returns the ids acknowledged.
fn post_until_stopped(
    port: u16,
    client: usize,
    stop: &std::sync::atomic::AtomicBool,
) -> Vec<String> {
    let mut acknowledged = Vec::new();
    for batch in 0.. {
        if stop.load(std::sync::atomic::Ordering::Acquire) {
            break;
        }
        let ids: Vec<String> = (0..50).map(|n| format!("c{client}-b{batch}-{n}")).collect();
        let body: String = ids.iter().map(|id| format!("{}\n", line(id))).collect();
        let batch_id = format!("c{client}-b{batch}");
        let headers =
            [("X-Meshlog-Source-Cluster", "cluster1"), ("X-Meshlog-Batch-Id", batch_id.as_str())];
        loop {
            match super::serve_support::try_request(
                port,
                "POST",
                "/api/v1/logs",
                &headers,
                body.as_bytes(),
            ) {
                Ok(answer) if answer.status == 200 => break,
                _ => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
        acknowledged.extend(ids);
    }
    acknowledged
}

/// More load than the pipeline takes: some requests are told 503 with
/// `Retry-After`, none is lost once acknowledged, and memory stays bounded.
#[test]
fn overload_gets_503_with_retry_after_and_bounded_memory() {
    let dir = scratch("serve-overload");
    let server_config =
        "flush_rows = 1000\nmax_body_bytes = \"1MiB\"\nmax_inflight_bytes = \"4MiB\"";
    let (config, port) = write_config(&dir, server_config, "");
    let server = Server::start(&config, port);
    let clients: Vec<_> = (0..8)
        .map(|client| {
            std::thread::spawn(move || {
                let (mut acknowledged, mut busy) = (Vec::new(), 0);
                for batch in 0..6 {
                    let ids: Vec<String> =
                        (0..2000).map(|n| format!("o{client}-{batch}-{n}")).collect();
                    let body: String = ids.iter().map(|id| format!("{}\n", line(id))).collect();
                    let headers = [("X-Meshlog-Source-Cluster", "cluster1")];
                    let answer = super::serve_support::try_request(
                        port,
                        "POST",
                        "/api/v1/logs",
                        &headers,
                        body.as_bytes(),
                    )
                    .unwrap();
                    match answer.status {
                        200 => acknowledged.extend(ids),
                        503 => {
                            assert!(answer.headers.contains("retry-after: 1"), "{answer:?}");
                            busy += 1;
                        }
                        other => panic!("status {other}: {answer:?}"),
                    }
                }
                (acknowledged, busy)
            })
        })
        .collect();
    let results: Vec<(Vec<String>, usize)> =
        clients.into_iter().map(|client| client.join().unwrap()).collect();
    let busy: usize = results.iter().map(|(_, busy)| busy).sum();
    assert!(busy > 0, "no request was told to wait");
    let peak = server.peak_rss_mb();
    eprintln!("overload: {busy} requests told 503, peak RSS {peak} MB");
    assert!(peak < 300, "peak RSS {peak} MB");
    assert!(server.stop().success());
    let rows = query_json(&dir.join("data"), "select request_id from requests");
    let stored: HashSet<&str> =
        rows.iter().map(|row| row["request_id"].as_str().unwrap()).collect();
    let acknowledged: HashSet<&str> =
        results.iter().flat_map(|(ids, _)| ids.iter().map(String::as_str)).collect();
    assert_eq!(rows.len(), acknowledged.len(), "rows stored ≠ lines acknowledged");
    assert_eq!(stored, acknowledged);
}

/// Small files of a partition are merged into one, and queries never see a row
/// twice or miss one, before, during or after, nor after a crash.
#[test]
fn compaction_merges_small_files_and_keeps_every_row_once() {
    let dir = scratch("serve-compact");
    let server_config = "flush_rows = 10\ncompact_interval = \"1s\"\ncompact_min_files = 3";
    let (config, port) = write_config(&dir, server_config, "");
    let server = Server::start(&config, port);
    for batch in 0..6 {
        let lines = ids(&format!("compact{batch}"), 10);
        assert_eq!(server.post_lines(&lines, &[]).status, 200);
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    let data_files = || walk(&dir.join("data/requests")).len();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let log = || std::fs::read_to_string(dir.join("data/_meshlog/commits.jsonl")).unwrap();
    while !log().contains("\"removed\"") {
        assert!(std::time::Instant::now() < deadline, "no compaction: {}", server.log());
        let rows =
            server.query("select count(*) as n, count(distinct request_id) as ids from requests");
        assert_eq!(rows[0]["n"], 60, "{rows:?}");
        assert_eq!(rows[0]["ids"], 60, "{rows:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let sql = "select count(*) as n, count(distinct request_id) as ids from requests";
    assert_eq!(server.query(sql)[0]["n"], 60);
    assert_eq!(query_json(&dir.join("data"), sql)[0]["n"], 60);
    server.kill();
    let server = Server::start(&config, port);
    assert_eq!(server.query(sql)[0]["n"], 60);
    assert!(server.stop().success());
    assert_eq!(query_json(&dir.join("data"), sql)[0]["ids"], 60);
    assert!(data_files() < 6, "{} files left", data_files());
}
