//! A `meshlog serve` under test: started on a free port in a scratch directory,
//! waited for until ready, stopped with SIGTERM (or killed), and a minimal HTTP/1.1
//! client to talk to it, so that the tests see exactly what an HTTP client sees.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::support::Value;

/// The template line: a sidecar's request in Istio's default format.
pub const LINE: &str = "[2023-06-14T09:12:03.117Z] \"GET /details/0 HTTP/1.1\" 200 - via_upstream - \"-\" 0 178 3 2 \"-\" \"python-requests/2.31.0\" \"REQUEST-ID\" \"details:9080\" \"10.112.2.18:9080\" outbound|9080||details.default.svc.cluster.local 10.112.1.15:55834 10.116.2.9:9080 10.112.1.15:36105 - default";

/// The template line with its own request id.
pub fn line(id: &str) -> String {
    LINE.replace("REQUEST-ID", id)
}

/// A running server.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub config: PathBuf,
    pub data_dir: PathBuf,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {self:?}"))
    }
}

/// Writes `dir/mesh.toml`: the samples' topology, a data dir under `dir`, and
/// `server` (TOML lines for `[server]`, `listen` added) and `extra` after it.
pub fn write_config(dir: &Path, server: &str, extra: &str) -> (PathBuf, u16) {
    write_config_with(&super::support::sample("mesh.toml"), dir, server, extra)
}

/// As [`write_config`], with the topology of the config at `topology`.
pub fn write_config_with(topology: &Path, dir: &Path, server: &str, extra: &str) -> (PathBuf, u16) {
    let port = free_port();
    let topology = std::fs::read_to_string(topology).unwrap();
    let topology: String = topology
        .lines()
        .filter(|line| !line.starts_with("data_dir"))
        .map(|line| format!("{line}\n"))
        .collect();
    let config = format!(
        "data_dir = \"data\"\n{topology}\n[server]\nlisten = \"127.0.0.1:{port}\"\n{server}\n{extra}\n"
    );
    let path = dir.join("mesh.toml");
    std::fs::write(&path, config).unwrap();
    (path, port)
}

/// Two `[[scrape]]` targets of cluster1: `gateway`, answering as a proxy through a
/// failover does, and `down`, a closed port.
pub fn scrape_up_and_down() -> String {
    let down = TcpListener::bind("127.0.0.1:0").unwrap();
    let down_url = format!("http://{}", down.local_addr().unwrap());
    drop(down);
    let up = super::scrape::admin_server(&super::scrape::FAILOVER);
    format!(
        "{}source_cluster = \"cluster1\"\n{}source_cluster = \"cluster1\"\n",
        super::scrape::scrape_entry("gateway", &up),
        super::scrape::scrape_entry("down", &down_url)
    )
}

/// Appends `text` to the file at `path` (created if missing), as a logger does.
pub fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// Waits up to 20 s until `done` holds, checking every `every`; `waiting` says what
/// was not reached.
pub fn wait_until(every: Duration, mut done: impl FnMut() -> bool, waiting: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "{}", waiting());
        std::thread::sleep(every);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    /// Starts `meshlog serve --config config` and waits until `/readyz` says ready.
    pub fn start(config: &Path, port: u16) -> Server {
        let log = config.with_file_name("serve.log");
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_meshlog"))
            .args(["serve", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("meshlog serve starts");
        let data_dir = config.with_file_name("data");
        let mut server = Server { child, port, config: config.to_owned(), data_dir };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("meshlog serve exited with {status}: {}", self.log());
            }
            if try_request(self.port, "GET", "/readyz", &[], b"").is_ok_and(|a| a.status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("meshlog serve was not ready within 60 s: {}", self.log());
    }

    /// What the server logged (all its runs in this directory).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.config.with_file_name("serve.log")).unwrap_or_default()
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        try_request(self.port, method, path, headers, body)
            .unwrap_or_else(|error| panic!("{method} {path}: {error}; server log: {}", self.log()))
    }

    /// Posts text lines with a reporting cluster.
    pub fn post_lines(&self, lines: &[String], headers: &[(&str, &str)]) -> Answer {
        let mut body = lines.join("\n");
        body.push('\n');
        let mut all = vec![("X-Meshlog-Source-Cluster", "cluster1")];
        all.extend_from_slice(headers);
        self.request("POST", "/api/v1/logs", &all, body.as_bytes())
    }

    /// The rows of `sql` through `POST /api/v1/query`.
    pub fn query(&self, sql: &str) -> Vec<Value> {
        let body = serde_json::json!({ "sql": sql }).to_string();
        let answer = self.request("POST", "/api/v1/query", &[], body.as_bytes());
        assert_eq!(answer.status, 200, "{answer:?}");
        serde_json::from_str(&answer.body).unwrap()
    }

    /// SIGTERM, and the exit status.
    pub fn stop(mut self) -> ExitStatus {
        signal(&self.child, "TERM");
        self.wait(Duration::from_secs(60))
    }

    /// SIGKILL.
    pub fn kill(mut self) {
        signal(&self.child, "KILL");
        self.wait(Duration::from_secs(10));
    }

    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "meshlog serve did not stop: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Peak resident memory so far, in MB.
    pub fn peak_rss_mb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|line| line.starts_with("VmHWM:")).unwrap();
        let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kb / 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(child: &Child, name: &str) {
    let status =
        Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// One HTTP/1.1 request on its own connection.
pub fn try_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {text:?}")))?;
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    Ok(Answer { status, headers: head.to_ascii_lowercase(), body: dechunk(head, body) })
}

/// The body of a chunked answer, joined.
fn dechunk(head: &str, body: &str) -> String {
    if !head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return body.to_owned();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}
