//! Reading what a live log really is: a last line still being written is left for
//! the next run; a copy renamed into place (rsync), a `copytruncate` rotation, a file
//! truncated below its checkpoint and a rotated log compressed to `.gz` are
//! recognised by content and resumed, never read again from zero; FIFOs and process
//! substitution read like stdin; a closed stderr never turns a commit into a crash.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::*;

/// Lines of a simulated gateway log, and a scratch dir with its mesh config.
struct Live {
    dir: Scratch,
    lines: Vec<String>,
}

impl Live {
    fn new(name: &str) -> Live {
        let dir = scratch(name);
        let sim = dir.join("sim");
        let args =
            ["simulate", "--out-dir", sim.to_str().unwrap(), "--minutes", "3", "--rate", "20"];
        meshlog_ok(&args);
        let text = std::fs::read_to_string(sim.join("cluster1.log")).unwrap();
        let lines: Vec<String> = text.lines().map(|line| format!("{line}\n")).collect();
        assert!(lines.len() >= 2500, "{} lines", lines.len());
        Live { dir, lines }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn write(&self, name: &str, lines: std::ops::Range<usize>) {
        std::fs::write(self.path(name), self.lines[lines].concat()).unwrap();
    }

    fn append(&self, name: &str, bytes: &str) {
        let mut file = OpenOptions::new().append(true).open(self.path(name)).unwrap();
        file.write_all(bytes.as_bytes()).unwrap();
    }

    fn ingest(&self, inputs: &[&Path]) -> String {
        let mut args = vec![
            "ingest".to_owned(),
            "--config".into(),
            self.path("sim/mesh.toml").display().to_string(),
            "--data-dir".into(),
            self.path("data").display().to_string(),
            "--source-cluster".into(),
            "cluster1".into(),
        ];
        args.extend(inputs.iter().map(|path| path.display().to_string()));
        let output = meshlog(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(output.status.success(), "{}", stderr(&output));
        stderr(&output)
    }

    /// Rows stored, distinct request ids, rejects.
    fn stored(&self) -> (u64, u64, u64) {
        let data = self.path("data");
        let rows = query_json(
            &data,
            "SELECT count(*) AS n, count(DISTINCT request_id) AS ids FROM requests",
        );
        let rejects = query_json(&data, "SELECT count(*) AS n FROM rejects");
        let number = |value: &Value| value.as_u64().unwrap();
        (number(&rows[0]["n"]), number(&rows[0]["ids"]), number(&rejects[0]["n"]))
    }
}

#[test]
fn a_line_cut_mid_write_is_left_for_the_next_run_and_stored_once_whole() {
    let live = Live::new("live-partial");
    live.write("access.log", 0..1000);
    let (head, tail) = live.lines[1000].split_at(120);
    live.append("access.log", head);
    let summary = live.ingest(&[&live.path("access.log")]);
    assert!(summary.contains("for the next run: a line without its newline"), "{summary}");
    assert_eq!(live.stored(), (1000, 1000, 0));
    live.append("access.log", &format!("{tail}{}", live.lines[1001]));
    live.ingest(&[&live.path("access.log")]);
    assert_eq!(live.stored(), (1002, 1002, 0), "one request, whole, no reject");
}

#[test]
fn a_copy_renamed_into_place_resumes_where_the_original_was_read() {
    let live = Live::new("live-rsync");
    live.write("access.log", 0..2000);
    live.ingest(&[&live.path("access.log")]);
    // rsync's default: the new content goes to a temporary file, renamed over the old.
    live.write(".access.log.XyZ123", 0..2100);
    std::fs::rename(live.path(".access.log.XyZ123"), live.path("access.log")).unwrap();
    let summary = live.ingest(&[&live.path("access.log")]);
    assert!(summary.contains("resumed"), "{summary}");
    assert_eq!(live.stored(), (2100, 2100, 0));
}

#[test]
fn copytruncate_rotation_and_a_compressed_rotated_log_store_every_line_once() {
    let live = Live::new("live-copytruncate");
    live.write("access.log", 0..1000);
    live.ingest(&[&live.path("access.log")]);
    // 500 more lines, then logrotate's copytruncate, then 200 lines in the new file.
    live.write("access.log", 0..1500);
    std::fs::copy(live.path("access.log"), live.path("access.log.1")).unwrap();
    live.write("access.log", 1500..1700);
    let summary = live.ingest(&[&live.path("access.log"), &live.path("access.log.1")]);
    assert!(summary.contains("its content was read before, as"), "{summary}");
    assert_eq!(live.stored(), (1700, 1700, 0));
    // The next rotation compresses access.log.1: already read, nothing stored again.
    let gzip = Command::new("gzip").arg(live.path("access.log.1")).status().unwrap();
    assert!(gzip.success());
    live.ingest(&[&live.path("access.log.1.gz")]);
    assert_eq!(live.stored(), (1700, 1700, 0));
    // A compressed log never read before is read whole, decompressed.
    live.write("other.log", 1700..2400);
    assert!(Command::new("gzip").arg(live.path("other.log")).status().unwrap().success());
    live.ingest(&[&live.path("other.log.gz")]);
    assert_eq!(live.stored(), (2400, 2400, 0));
}

#[test]
fn a_file_truncated_below_its_checkpoint_is_not_read_again() {
    let live = Live::new("live-truncated");
    live.write("access.log", 0..2000);
    live.ingest(&[&live.path("access.log")]);
    live.write("access.log", 0..1000);
    live.ingest(&[&live.path("access.log")]);
    assert_eq!(live.stored(), (2000, 2000, 0), "no line of the first half stored twice");
    live.append("access.log", &format!("{}garbage\n", live.lines[2000..2010].concat()));
    live.ingest(&[&live.path("access.log")]);
    assert_eq!(live.stored(), (2010, 2010, 1));
    let reject = query_json(&live.path("data"), "SELECT line FROM rejects");
    assert_eq!(reject[0]["line"], 1011, "numbered as it stands in the file now");
}

#[test]
fn a_fifo_reads_like_stdin() {
    let live = Live::new("live-fifo");
    let fifo = live.path("access.fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let text = live.lines[0..1500].concat();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, text).unwrap())
    };
    live.ingest(&[&fifo]);
    writer.join().unwrap();
    assert_eq!(live.stored(), (1500, 1500, 0));
}

#[test]
fn a_closed_stderr_does_not_turn_a_commit_into_a_crash() {
    let live = Live::new("live-stderr");
    live.write("access.log", 0..1000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshlog"))
        .args(["ingest", "--config"])
        .arg(live.path("sim/mesh.toml"))
        .arg("--data-dir")
        .arg(live.path("data"))
        .args(["--source-cluster", "cluster1"])
        .arg(live.path("access.log"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take()); // the reader of stderr is gone: writes fail with EPIPE
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "exit 0, not a panic");
    assert_eq!(live.stored(), (1000, 1000, 0));
}

#[test]
fn a_stream_that_does_not_end_is_committed_by_time() {
    let live = Live::new("live-stream");
    let data = live.path("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshlog"))
        .args(["ingest", "--quiet", "--config"])
        .arg(live.path("sim/mesh.toml"))
        .arg("--data-dir")
        .arg(&data)
        .args(["--source-cluster", "cluster1", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(live.lines[0..300].concat().as_bytes()).unwrap();
    stdin.flush().unwrap();
    // `kubectl logs -f` keeps writing, slowly: the first lines are queryable long
    // before 64 Ki rows or the end of the input.
    let started = std::time::Instant::now();
    let mut next = 300;
    let stored = loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        stdin.write_all(live.lines[next].as_bytes()).unwrap();
        next += 1;
        let rows = meshlog(&[
            "query",
            "--data-dir",
            data.to_str().unwrap(),
            "--output",
            "json",
            "SELECT count(*) AS n FROM requests",
        ]);
        let rows: Option<Vec<Value>> =
            rows.status.success().then(|| serde_json::from_slice(&rows.stdout).unwrap());
        let count = rows.map_or(0, |rows| rows[0]["n"].as_u64().unwrap());
        if count >= 300 || started.elapsed().as_secs() > 20 {
            break count;
        }
    };
    assert!(stored >= 300, "only {stored} rows queryable after {:?}", started.elapsed());
    assert!(started.elapsed().as_secs() < 5, "took {:?}", started.elapsed());
    drop(stdin);
    assert!(child.wait().unwrap().success());
    assert_eq!(live.stored().0, next as u64, "every line, once");
}
