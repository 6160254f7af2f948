//! Helpers shared by the end-to-end tests: run the real binary, read its output,
//! make scratch directories.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use serde_json::Value;

pub fn sample(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples").join(path)
}

pub fn meshlog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshlog")).args(args).output().expect("meshlog runs")
}

/// Runs meshlog in `dir`, as from a shell there.
pub fn meshlog_in(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meshlog"));
    command.current_dir(dir).args(args).output().expect("meshlog runs")
}

pub fn meshlog_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshlog"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("meshlog starts");
    child.stdin.take().expect("stdin").write_all(input).expect("input written");
    child.wait_with_output().expect("meshlog ends")
}

pub fn json_lines(output: &Output) -> Vec<Value> {
    let stdout = String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8");
    stdout.lines().map(|line| serde_json::from_str(line).expect("each line is JSON")).collect()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fresh, empty scratch directory for one test, removed when the test passes
/// (kept, and named on stderr, when it fails, to look into).
pub fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("meshlog-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    Scratch(dir)
}

/// A scratch directory; derefs to its path.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept the failed test's scratch directory {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs meshlog and asserts it succeeded; returns stdout.
pub fn meshlog_ok(args: &[&str]) -> String {
    let output = meshlog(args);
    assert!(output.status.success(), "meshlog {args:?} failed: {}", stderr(&output));
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

/// Runs a SQL query over a data dir and returns the rows as JSON objects.
pub fn query_json(data_dir: &std::path::Path, sql: &str) -> Vec<Value> {
    let stdout =
        meshlog_ok(&["query", "--data-dir", data_dir.to_str().unwrap(), "--output", "json", sql]);
    serde_json::from_str::<Vec<Value>>(&stdout).expect("query --output json prints an array")
}

/// Asserts that both rollups hold, per minute and key, what a `GROUP BY` of the
/// `requests` rows gives: every row counted once, none missing, none twice.
pub fn assert_rollups_match_requests(data_dir: &std::path::Path) {
    let rollups = [
        (
            "requests_1m",
            "source_cluster, service, subset, direction, dst_cluster, locality, via_gateway, \
             response_code, response_flags",
            "sum(requests)",
            "count(*)",
        ),
        (
            "endpoints_1m",
            "source_cluster, service, dst_cluster, locality, via_gateway, direction, \
             upstream_host, response_flags",
            "sum(requests), sum(errors_5xx)",
            "count(*), count(*) FILTER (WHERE response_code >= 500)",
        ),
    ];
    for (rollup, keys, sums, counts) in rollups {
        let rolled = format!("SELECT ts, {keys}, {sums} FROM {rollup} GROUP BY ALL");
        let raw =
            format!("SELECT date_trunc('minute', ts), {keys}, {counts} FROM requests GROUP BY ALL");
        let sql = format!(
            "SELECT count(*) AS n FROM (({rolled} EXCEPT {raw}) UNION ALL ({raw} EXCEPT {rolled}))"
        );
        let differing = query_json(data_dir, &sql);
        assert_eq!(differing[0]["n"], 0, "{rollup} differs from requests: {sql}");
    }
}
