//! `[server] postgres_listen`: the PostgreSQL wire protocol of a live `meshlog
//! serve`, with real clients. psql (the system's) sees the committed rows and the
//! rows in memory, lists and describes the tables, and sends what Grafana's
//! PostgreSQL data source sends (its ping, `SET TIMEZONE` before a panel's query,
//! the settings page's version query, the query builder's table and column lists).
//! psycopg2 (simple protocol) and psycopg 3 (extended, prepared, binary) run every
//! named query and get the rows `meshlog query` prints, and the read-only attacks
//! are refused (`tests/scripts/pg_clients.py`). Every panel of the SQL dashboards,
//! its macros and variables expanded as Grafana expands them, answers with rows and
//! a timestamptz time column (`tests/scripts/grafana_panels.py`). Logins need the password (SCRAM or
//! cleartext), and a stop closes open sessions at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::serve_support::{Server, free_port, write_config, write_config_with};
use super::support::{meshlog_ok, scratch};

/// A server over a simulated mesh: cluster1's log and snapshots committed, 300 of
/// cluster2's lines held in memory.
struct PgMesh {
    server: Server,
    pg_port: u16,
}

impl PgMesh {
    fn start(dir: &Path) -> PgMesh {
        let sim = dir.join("sim");
        meshlog_ok(&[
            "simulate",
            "--out-dir",
            sim.to_str().unwrap(),
            "--minutes",
            "6",
            "--rate",
            "60",
        ]);
        let pg_port = free_port();
        let server_keys =
            format!("flush_interval = \"1h\"\npostgres_listen = \"127.0.0.1:{pg_port}\"");
        let (config, port) = write_config_with(&sim.join("mesh.toml"), dir, &server_keys, "");
        let mut inputs = vec![sim.join("cluster1.log")];
        inputs.extend(files_in(&sim.join("admin").join("cluster1")));
        let mut args = vec!["ingest", "--config", config.to_str().unwrap(), "--quiet"];
        args.extend(["--source-cluster", "cluster1"]);
        args.extend(inputs.iter().map(|path| path.to_str().unwrap()));
        meshlog_ok(&args);
        let server = Server::start(&config, port);
        let cluster2 = std::fs::read_to_string(sim.join("cluster2.log")).unwrap();
        let lines: Vec<&str> = cluster2.lines().take(300).collect();
        let body = format!("{}\n", lines.join("\n"));
        let answer =
            server.request("POST", "/api/v1/logs?source_cluster=cluster2", &[], body.as_bytes());
        assert_eq!(answer.status, 200, "{answer:?}");
        PgMesh { server, pg_port }
    }

    /// Runs `tests/scripts/SCRIPT PG_PORT ARGS…` (cut off after 5 minutes), which must
    /// succeed; then stops the server.
    fn run_script(self, script: &str, args: &[&Path]) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let output = Command::new("timeout")
            .args(["300", "python3"])
            .arg(root.join("tests/scripts").join(script))
            .arg(self.pg_port.to_string())
            .args(args)
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "{script}: {}\n{}\nserver log: {}",
            text(&output.stdout),
            text(&output.stderr),
            self.server.log()
        );
        assert!(self.server.stop().success());
    }

    /// psql's unaligned output of `sql`, which must succeed.
    fn psql(&self, sql: &str) -> String {
        let output = psql(self.pg_port, "meshlog", None, sql);
        assert!(output.status.success(), "psql -c {sql:?}: {}", text(&output.stderr));
        text(&output.stdout)
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.sort();
    files
}

fn psql(port: u16, user: &str, password: Option<&str>, sql: &str) -> Output {
    let mut command = Command::new("psql");
    command
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
        .args(["-p", &port.to_string(), "-U", user, "-d", "meshlog", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGSSLMODE", "disable")
        .env_remove("PGPASSWORD");
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    command.output().expect("psql runs (Debian's postgresql-client)")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

#[test]
fn psql_and_grafanas_queries_see_the_servers_rows() {
    let dir = scratch("pg-psql");
    let mesh = PgMesh::start(&dir);
    // The committed rows and the rows in memory, as the HTTP API sees them.
    let over_http = mesh.server.query("select count(*) as n from requests")[0]["n"].clone();
    assert_eq!(mesh.psql("select count(*) from requests"), over_http.to_string());
    let in_memory = "select count(*) from requests where source_cluster = 'cluster2'";
    assert_eq!(mesh.psql(in_memory), "300");
    // The rollups count every row, committed or in memory, once: per minute and key
    // as `requests` gives them, with the sketch's quantiles.
    let rolled_up = "select count(*) from (select ts, source_cluster, service, dst_cluster, \
        upstream_host, sum(requests) as n, sum(errors_5xx) as e from endpoints_1m group by 1, 2, 3, 4, 5 \
        except select date_trunc('minute', ts), source_cluster, service, dst_cluster, upstream_host, \
        count(*), count(*) filter (where response_code >= 500) from requests group by 1, 2, 3, 4, 5)";
    assert_eq!(mesh.psql(rolled_up), "0");
    let totals = "select (select sum(requests) from requests_1m) = (select count(*) from requests) \
        and (select sum(requests) from endpoints_1m where source_cluster = 'cluster2') = 300";
    assert_eq!(mesh.psql(totals), "t");
    let p99 = "select sketch_quantile(duration_ms_sketch, 0.99) >= 0 from requests_1m";
    assert_eq!(mesh.psql(p99), "t");
    // psql's catalog queries: \dt lists the tables, \d describes one (two statements,
    // the second by the table's OID), ts is a timestamptz.
    let tables = mesh.psql("\\dt");
    let all = ["cluster_stats", "endpoint_stats", "endpoints_1m", "failovers", "rejects"];
    for table in all.into_iter().chain(["requests", "requests_1m"]) {
        assert!(tables.contains(&format!("public|{table}|table")), "{tables}");
    }
    let described = mesh.psql("\\d requests");
    assert!(described.contains("ts|timestamp with time zone"), "{described}");
    // Grafana: the health check, an empty query, a panel's query after SET TIMEZONE.
    assert_eq!(mesh.psql("-- ping"), "");
    assert_eq!(mesh.psql(";"), "");
    let panel = mesh.psql(
        "SET TIMEZONE TO 'UTC'; SELECT date_trunc('minute', started_at) AS \"time\", service \
         FROM failovers WHERE started_at BETWEEN '2026-11-01T10:00:00Z' AND '2026-11-01T11:00:00Z' \
         ORDER BY 1 LIMIT 1",
    );
    assert!(panel.starts_with("SET\n2026-11-01 10:"), "{panel}");
    assert!(panel.contains("+00|"), "a timestamptz: {panel}");
    assert_eq!(mesh.psql("show timezone"), "UTC");
    // A session's statement timeout cuts a query short (the server's limit stays the
    // longest a session may set).
    let cross_join = "SET statement_timeout = 1; SELECT count(*) FROM requests a, requests b";
    let cut = psql(mesh.pg_port, "grafana", None, cross_join);
    assert!(text(&cut.stderr).contains("time limit"), "{}", text(&cut.stderr));
    // The settings page's version detection, and the query builder's lists.
    let version = "SELECT current_setting('server_version_num')::int/100 as version";
    assert_eq!(mesh.psql(version), "1600");
    let listed = mesh.psql(&grafana_query("tables"));
    assert_eq!(listed.lines().count(), 7, "{listed}");
    assert!(listed.lines().any(|table| table == "failovers"), "{listed}");
    let columns = mesh.psql(&grafana_query("columns"));
    assert!(columns.lines().any(|column| column.starts_with("started_at|")), "{columns}");
    // A stop closes an idle session at once: Grafana keeps its connections open.
    let mut idle = Command::new("psql")
        .args(["-X", "-h", "127.0.0.1", "-p", &mesh.pg_port.to_string(), "-U", "grafana"])
        .args(["-d", "meshlog"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let stopping = Instant::now();
    assert!(mesh.server.stop().success());
    assert!(stopping.elapsed() < Duration::from_secs(10), "{:?}", stopping.elapsed());
    let _ = idle.kill();
    let _ = idle.wait();
}

/// A query Grafana's PostgreSQL data source sends as written in its source
/// (`postgresMetaQuery.ts`): `tables`, the table list, or `columns`, the columns
/// of `failovers`.
fn grafana_query(which: &str) -> String {
    let search_path = r#"quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )"#;
    match which {
        "tables" => format!(
            "select quote_ident(table_name) as \"table\" from information_schema.tables
    where quote_ident(table_schema) not in ('information_schema',
                             'pg_catalog',
                             '_timescaledb_cache',
                             '_timescaledb_catalog',
                             '_timescaledb_internal',
                             '_timescaledb_config',
                             'timescaledb_information',
                             'timescaledb_experimental')
      and table_type = 'BASE TABLE' and {search_path}"
        ),
        _ => format!(
            "SELECT quote_ident(column_name) AS \"column\", data_type AS \"type\"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident('failovers'),1) = 2
        THEN quote_ident(table_schema) = (parse_ident('failovers'))[1]
          AND quote_ident(table_name) = (parse_ident('failovers'))[2]
        ELSE quote_ident(table_name) = (parse_ident('failovers'))[1]
          AND
          {search_path}
      END"
        ),
    }
}

#[test]
fn python_drivers_get_the_rows_of_meshlog_query_and_cannot_write() {
    let dir = scratch("pg-drivers");
    let mesh = PgMesh::start(&dir);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let binary = Path::new(env!("CARGO_BIN_EXE_meshlog"));
    let (data_dir, queries) = (mesh.server.data_dir.clone(), root.join("queries"));
    mesh.run_script("pg_clients.py", &[binary, &data_dir, &queries]);
}

#[test]
fn every_sql_dashboard_panel_answers_as_grafana_asks() {
    let dir = scratch("pg-panels");
    let mesh = PgMesh::start(&dir);
    let dashboards = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    // The simulated run: 10:00 to 10:06 UTC.
    let (from, to) = (Path::new("2026-11-01T09:55:00Z"), Path::new("2026-11-01T10:10:00Z"));
    mesh.run_script("grafana_panels.py", &[&dashboards, from, to]);
}

#[test]
fn tls_serves_with_the_configured_certificate_and_a_bad_one_stops_the_start() {
    let dir = scratch("pg-tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let openssl = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout"])
        .args([&key, Path::new("-out"), &cert])
        .output()
        .expect("openssl runs");
    assert!(openssl.status.success(), "{}", text(&openssl.stderr));
    let pg_port = free_port();
    let keys = format!(
        "postgres_listen = \"127.0.0.1:{pg_port}\"\npostgres_auth = \"cleartext\"\n\
         postgres_users = [{{ name = \"grafana\", password = \"pw\" }}]\n\
         postgres_tls_cert = \"cert.pem\"\npostgres_tls_key = \"key.pem\""
    );
    let (config, port) = write_config(&dir, &keys, "");
    let server = Server::start(&config, port);
    let mut command = Command::new("psql");
    command
        .args(["-X", "-At", "-h", "127.0.0.1", "-p", &pg_port.to_string(), "-U", "grafana"])
        .args(["-d", "meshlog", "-c", "select 1"])
        .env("PGSSLMODE", "require")
        .env("PGPASSWORD", "pw");
    // `require`: psql refuses a server that does not speak TLS.
    let over_tls = command.output().unwrap();
    assert!(over_tls.status.success(), "{}", text(&over_tls.stderr));
    assert!(server.stop().success());
    // A key that does not read stops the server before it is ready.
    std::fs::write(&key, "not a key").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_meshlog"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = text(&output.stderr);
    assert!(said.contains("key.pem") && said.contains("the key does not read"), "{said}");
}

#[test]
fn logins_need_the_users_password() {
    for auth in ["scram", "cleartext"] {
        let dir = scratch(&format!("pg-login-{auth}"));
        let pg_port = free_port();
        let keys = format!(
            "postgres_listen = \"127.0.0.1:{pg_port}\"\npostgres_auth = \"{auth}\"\n\
             postgres_users = [{{ name = \"grafana\", password = \"s3cret pass\" }}]"
        );
        let (config, port) = write_config(&dir, &keys, "");
        let server = Server::start(&config, port);
        let right = psql(pg_port, "grafana", Some("s3cret pass"), "select count(*) from failovers");
        assert!(right.status.success(), "{auth}: {}", text(&right.stderr));
        assert_eq!(text(&right.stdout), "0");
        for (user, password) in
            [("grafana", Some("wrong")), ("grafana", None), ("nobody", Some("x"))]
        {
            let refused = psql(pg_port, user, password, "select 1");
            assert!(!refused.status.success(), "{auth} let {user} in with {password:?}");
            let said = text(&refused.stderr).to_lowercase();
            let expected = ["password authentication failed", "no password supplied"];
            assert!(expected.iter().any(|e| said.contains(e)), "{auth} {user}: {said}");
        }
        assert!(server.stop().success());
    }
}
