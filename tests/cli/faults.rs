//! A damaged data directory is never destroyed on a guess: a commit log record
//! damaged or missing stops `ingest` and `query` with the line and the way out and
//! changes nothing; a missing state file or committed Parquet file is an error
//! naming it; files the log cannot vouch for are moved aside, never deleted; and
//! the `failovers` table is rebuilt from the detector's committed state.

use std::path::{Path, PathBuf};

use crate::support::*;

/// A data directory with a simulated 10-minute log of cluster1 ingested in
/// several commits; returns the ingest arguments to run again.
struct Ingested {
    dir: Scratch,
    args: Vec<String>,
}

impl Ingested {
    fn new(name: &str) -> Ingested {
        let dir = scratch(name);
        let logs = dir.join("logs");
        meshlog_ok(&["simulate", "--out-dir", logs.to_str().unwrap(), "--minutes", "10"]);
        let args: Vec<String> = [
            "ingest",
            "--quiet",
            "--batch-rows",
            "4000",
            "--config",
            logs.join("mesh.toml").to_str().unwrap(),
            "--data-dir",
            dir.join("data").to_str().unwrap(),
            "--source-cluster",
            "cluster1",
            logs.join("cluster1.log").to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        let ingested = Ingested { dir, args };
        ingested.ingest_ok();
        ingested
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn commit_log(&self) -> PathBuf {
        self.data().join("_meshlog/commits.jsonl")
    }

    fn ingest(&self) -> std::process::Output {
        meshlog(&self.args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn ingest_ok(&self) -> String {
        let output = self.ingest();
        assert!(output.status.success(), "{}", stderr(&output));
        stderr(&output)
    }

    /// Rows of `requests`, and episodes in `failovers`.
    fn counts(&self) -> (u64, u64) {
        let rows = query_json(&self.data(), "SELECT count(*) AS n FROM requests");
        let episodes = query_json(&self.data(), "SELECT count(*) AS n FROM failovers");
        (rows[0]["n"].as_u64().unwrap(), episodes[0]["n"].as_u64().unwrap())
    }

    fn edit_log(&self, edit: impl FnOnce(&mut Vec<String>)) -> String {
        let original = std::fs::read_to_string(self.commit_log()).unwrap();
        let mut lines: Vec<String> = original.lines().map(String::from).collect();
        assert!(lines.len() >= 4, "several commits: {}", lines.len());
        edit(&mut lines);
        std::fs::write(self.commit_log(), lines.join("\n") + "\n").unwrap();
        original
    }
}

/// Every Parquet file under `dir`, relative to it.
fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "parquet") {
                files.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    files.sort();
    files
}

fn refused(output: &std::process::Output) -> String {
    assert!(!output.status.success(), "accepted: {}", stderr(output));
    stderr(output)
}

#[test]
fn a_damaged_or_missing_log_record_stops_ingest_and_query_and_changes_nothing() {
    let ingested = Ingested::new("fault-damaged-log");
    let before = ingested.counts();
    let files = parquet_files(&ingested.data());
    let original = ingested.edit_log(|lines| {
        let half = lines[1].len() / 2;
        lines[1].truncate(half);
    });
    let message = refused(&ingested.ingest());
    assert!(message.contains("commits.jsonl:2: the commit record does not read"), "{message}");
    assert!(message.contains("meshlog repair --data-dir"), "{message}");
    let data = ingested.data();
    let query = meshlog(&["query", "--data-dir", data.to_str().unwrap(), "SELECT 1"]);
    assert!(refused(&query).contains("commits.jsonl:2"));
    assert_eq!(parquet_files(&data), files, "nothing deleted");

    std::fs::write(ingested.commit_log(), &original).unwrap();
    ingested.edit_log(|lines| {
        lines.remove(2);
    });
    let message = refused(&ingested.ingest());
    assert!(message.contains("commits.jsonl:3: commit 4 follows commit 2"), "{message}");
    assert_eq!(parquet_files(&data), files, "nothing deleted");

    std::fs::write(ingested.commit_log(), &original).unwrap();
    ingested.ingest_ok();
    assert_eq!(ingested.counts(), before, "intact once the log is restored");
}

#[test]
fn files_of_a_lost_last_record_are_moved_aside_and_their_lines_read_again() {
    let ingested = Ingested::new("fault-last-record");
    let before = ingested.counts();
    let files = parquet_files(&ingested.data());
    // The last commit's record gone: as if the run died just before appending it.
    ingested.edit_log(|lines| {
        lines.pop();
    });
    let summary = ingested.ingest_ok();
    assert!(summary.contains("files no commit lists"), "{summary}");
    assert_eq!(ingested.counts(), before, "no line lost, none stored twice");
    let quarantine = ingested.data().join("_meshlog/quarantine");
    let moved: Vec<PathBuf> = std::fs::read_dir(&quarantine)
        .unwrap()
        .flat_map(|entry| parquet_files(&entry.unwrap().path()))
        .collect();
    assert!(!moved.is_empty(), "the uncommitted files are kept");
    assert!(moved.iter().all(|file| files.contains(file)), "{moved:?}");
}

#[test]
fn repair_rebuilds_a_damaged_log_and_sets_a_cut_short_commit_aside() {
    let ingested = Ingested::new("fault-repair");
    let before = ingested.counts();
    let original = ingested.edit_log(|lines| {
        lines[2] = "garbage".into();
    });
    let data = ingested.data();
    let output = meshlog(&["repair", "--data-dir", data.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rebuilt = std::fs::read_to_string(ingested.commit_log()).unwrap();
    let records = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|line| {
                let mut record: Value = serde_json::from_str(line).unwrap();
                // The log lists every state a commit saved; only the newest two are kept.
                record.as_object_mut().unwrap().remove("committed_at");
                record.as_object_mut().unwrap().remove("states");
                let files = record["files"].as_array_mut().unwrap();
                files.sort_by_key(|file| file.as_str().unwrap().to_owned());
                record
            })
            .collect()
    };
    assert_eq!(records(&rebuilt), records(&original));
    let kept: Vec<_> = std::fs::read_dir(data.join("_meshlog"))
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().file_name().to_string_lossy().contains(".damaged-"))
        .collect();
    assert_eq!(kept.len(), 1, "the damaged log is kept");
    ingested.ingest_ok();
    assert_eq!(ingested.counts(), before);

    // A crash while publishing the last commit: its state file never made it, and
    // the log is lost too.
    let meta = data.join("_meshlog");
    let newest_state = std::fs::read_dir(&meta)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains("failover-state-"))
        .max()
        .unwrap();
    std::fs::remove_file(newest_state).unwrap();
    std::fs::remove_file(ingested.commit_log()).unwrap();
    let output = meshlog(&["repair", "--data-dir", data.to_str().unwrap()]);
    assert!(stderr(&output).contains("cut short"), "{}", stderr(&output));
    ingested.ingest_ok();
    assert_eq!(ingested.counts(), before, "the cut-short commit's lines read again");
}

#[test]
fn a_missing_state_or_committed_file_is_an_error_naming_it() {
    let ingested = Ingested::new("fault-missing");
    let meta = ingested.data().join("_meshlog");
    let state = std::fs::read_dir(&meta)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains("failover-state-"))
        .max()
        .unwrap();
    let saved = std::fs::read(&state).unwrap();
    std::fs::remove_file(&state).unwrap();
    let message = refused(&ingested.ingest());
    assert!(message.contains(&format!("{} is missing", state.display())), "{message}");
    std::fs::write(&state, saved).unwrap();

    let data = ingested.data();
    let file = parquet_files(&data.join("requests")).remove(0);
    let path = data.join("requests").join(&file);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let query =
        meshlog(&["query", "--data-dir", data.to_str().unwrap(), "SELECT count(*) FROM requests"]);
    let message = refused(&query);
    assert!(message.contains("committed file(s) are missing"), "{message}");
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(refused(&ingested.ingest()).contains("committed file(s) are missing"));
    std::fs::write(&path, bytes).unwrap();
    ingested.ingest_ok();
}

#[test]
fn a_stale_failovers_table_is_rebuilt_from_the_committed_detector_state() {
    let ingested = Ingested::new("fault-failovers");
    let before = ingested.counts();
    assert_eq!(before.1, 2, "the default scenario's two episodes");
    // A kill between the last commit record and the table's rewrite: the table
    // still says what an earlier commit knew (here: nothing).
    std::fs::remove_file(ingested.data().join("failovers/failovers.parquet")).unwrap();
    ingested.ingest_ok();
    assert_eq!(ingested.counts(), before);
}
