//! `meshlog simulate`: writes the access logs of the built-in three-cluster mesh
//! (see [`crate::simulate`]), one reporting cluster to stdout or every cluster to a
//! directory together with the mesh config, the truth of what was simulated and the
//! reporting proxies' `/clusters?format=json` snapshots (`admin/<cluster>/…`, each
//! file's modification time set to the simulated moment it shows).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::Error;
use crate::simulate::{
    CLUSTER_NAMES, DEFAULT_SNAPSHOT_EVERY_S, Noise, OutputFormat, Scenario, Snapshot, Story, Truth,
    run_per_cluster, run_per_cluster_with_snapshots, topology_toml,
};

/// Arguments of `meshlog simulate`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Try: meshlog simulate --out-dir sim && \
meshlog ingest --config sim/mesh.toml --source-cluster cluster1 sim/cluster1.log")]
pub struct SimulateArgs {
    /// What happens: `demo` (two failovers after 503 UH bursts), `split` (no locality
    /// load balancing: a steady split, no failover), `scale-to-zero`, `outlier-ejection`,
    /// `gateway-failure` (a remote-served service whose east-west gateway fails) or
    /// `split-collapse` (a split whose local share collapses).
    #[arg(long, default_value = "demo")]
    scenario: String,
    /// With `split` and `split-collapse`: percent of each spread service's requests
    /// served by another cluster.
    #[arg(long, value_name = "PERCENT", default_value_t = 50)]
    split: u8,
    /// With `split` and `split-collapse`: `random` (each request drawn) or `none`
    /// (spread exactly, round robin).
    #[arg(long, default_value = "random")]
    noise: Noise,
    /// Length of the simulated run; the demo's episodes need at least 5 minutes,
    /// `gateway-failure` and `split-collapse` 10.
    #[arg(long, default_value_t = 10)]
    minutes: u32,
    /// Seed: the same seed writes the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Lines per second over the whole mesh.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// `istio` (the current text default) or `json` (Istio's JSON encoding).
    #[arg(long, default_value = "istio")]
    format: OutputFormat,
    /// Malformed lines per million (truncated lines and garbage), for the rejects table.
    #[arg(long, default_value_t = 0)]
    malformed_per_million: u32,
    /// Start of the run, RFC 3339 (default 2026-11-01T10:00:00Z).
    #[arg(long)]
    start: Option<String>,
    /// Write this reporting cluster's lines to stdout.
    #[arg(long, default_value = "cluster1", conflicts_with = "out_dir")]
    source_cluster: String,
    /// Write every cluster's lines (`<cluster>.log`), `mesh.toml`, `truth.json` and the
    /// proxies' admin snapshots (`admin/<cluster>/<proxy>.<unix-seconds>.clusters.json`) here.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// With --out-dir: snapshot each reporting proxy's `/clusters?format=json` every
    /// this many seconds of simulated time (0: never).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_SNAPSHOT_EVERY_S)]
    snapshot_every: u32,
    /// Also write the truth (episodes, counts) as JSON to this file.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Print the mesh's config TOML and exit.
    #[arg(long)]
    topology: bool,
}

impl SimulateArgs {
    fn scenario(&self) -> Result<Scenario, Error> {
        let story = Story::named(&self.scenario, self.split, self.noise)
            .map_err(|error| Error::Usage(error.to_string()))?;
        let mut scenario = Scenario {
            story,
            minutes: self.minutes.max(1),
            seed: self.seed,
            requests_per_second: self.rate.max(1),
            format: self.format,
            malformed_per_million: self.malformed_per_million,
            ..Scenario::default()
        };
        if let Some(start) = &self.start {
            let time = chrono::DateTime::parse_from_rfc3339(start)
                .map_err(|error| Error::Usage(format!("--start {start:?}: {error}")))?;
            scenario.start_us = time.timestamp_micros();
        }
        Ok(scenario)
    }
}

/// Runs `meshlog simulate`.
pub fn run(args: &SimulateArgs) -> Result<(), Error> {
    if args.topology {
        return io::stdout().write_all(topology_toml().as_bytes()).map_err(Error::Write);
    }
    let scenario = args.scenario()?;
    let truth = match &args.out_dir {
        Some(dir) => Some(write_dir_with_snapshots(&scenario, dir, args.snapshot_every)?),
        None => write_stdout(&scenario, &args.source_cluster)?,
    };
    if let (Some(truth), Some(path)) = (truth, &args.truth) {
        write_truth(&truth, path)?;
    }
    Ok(())
}

/// Writes every cluster's lines, `mesh.toml`, `truth.json` and the proxies' admin
/// snapshots every [`DEFAULT_SNAPSHOT_EVERY_S`] simulated seconds into `dir`.
pub fn write_dir(scenario: &Scenario, dir: &Path) -> Result<Truth, Error> {
    write_dir_with_snapshots(scenario, dir, DEFAULT_SNAPSHOT_EVERY_S)
}

/// As [`write_dir`], with a snapshot every `snapshot_every_s` simulated seconds (0: none).
pub fn write_dir_with_snapshots(
    scenario: &Scenario,
    dir: &Path,
    snapshot_every_s: u32,
) -> Result<Truth, Error> {
    let create =
        |path: PathBuf| File::create(&path).map_err(|source| Error::Create { path, source });
    std::fs::create_dir_all(dir).map_err(|source| Error::Create { path: dir.into(), source })?;
    let mut outs = Vec::new();
    for name in CLUSTER_NAMES {
        outs.push(BufWriter::with_capacity(1 << 20, create(dir.join(format!("{name}.log")))?));
    }
    let mut snapshots = SnapshotFiles { dir, made: BTreeSet::new() };
    let truth = if snapshot_every_s == 0 {
        run_per_cluster(scenario, &mut outs)
    } else {
        let mut write = |snapshot| snapshots.write(&snapshot);
        run_per_cluster_with_snapshots(scenario, &mut outs, snapshot_every_s, &mut write)
    }
    .map_err(Error::Write)?;
    for mut out in outs {
        out.flush().map_err(Error::Write)?;
    }
    std::fs::write(dir.join("mesh.toml"), topology_toml())
        .map_err(|source| Error::Create { path: dir.join("mesh.toml"), source })?;
    write_truth(&truth, &dir.join("truth.json"))?;
    Ok(truth)
}

/// Writes one cluster's lines to stdout; `None` when the reader closed the pipe.
fn write_stdout(scenario: &Scenario, cluster: &str) -> Result<Option<Truth>, Error> {
    let Some(index) = CLUSTER_NAMES.iter().position(|name| *name == cluster) else {
        return Err(Error::Usage(format!(
            "--source-cluster {cluster:?}: the simulated clusters are {}",
            CLUSTER_NAMES.join(", ")
        )));
    };
    let stdout = io::stdout();
    let mut outs: Vec<Box<dyn Write>> =
        (0..CLUSTER_NAMES.len()).map(|_| Box::new(io::sink()) as Box<dyn Write>).collect();
    outs[index] = Box::new(BufWriter::with_capacity(1 << 20, stdout.lock()));
    let result =
        run_per_cluster(scenario, &mut outs).and_then(|truth| outs[index].flush().map(|()| truth));
    match result {
        Ok(truth) => Ok(Some(truth)),
        // `meshlog simulate | head`: the reader has all it wanted.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(None),
        Err(error) => Err(Error::Write(error)),
    }
}

/// Writes snapshots under `<dir>/admin/<cluster>/`, each file dated at its moment.
struct SnapshotFiles<'d> {
    dir: &'d Path,
    /// The `admin/<cluster>` directories made so far.
    made: BTreeSet<&'static str>,
}

/// A snapshot file that could not be written; its source is the I/O error.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}", path.display())]
struct SnapshotFileError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

impl SnapshotFiles<'_> {
    fn write(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        let path = self.dir.join("admin").join(snapshot.cluster).join(snapshot.file_name());
        self.write_file(snapshot, &path).map_err(|source| {
            io::Error::new(source.kind(), SnapshotFileError { path: path.clone(), source })
        })
    }

    fn write_file(&mut self, snapshot: &Snapshot, path: &Path) -> io::Result<()> {
        if self.made.insert(snapshot.cluster)
            && let Some(parent) = path.parent()
        {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = File::create(path)?;
        file.write_all(snapshot.json.as_bytes())?;
        file.set_modified(system_time(snapshot.at_ms)?)
    }
}

/// `at_ms` (ms since the epoch) as a file time.
fn system_time(at_ms: i64) -> io::Result<SystemTime> {
    let offset = Duration::from_millis(at_ms.unsigned_abs());
    let time = if at_ms >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(offset)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(offset)
    };
    time.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "snapshot time out of range"))
}

fn write_truth(truth: &Truth, path: &Path) -> Result<(), Error> {
    let text = serde_json::to_vec_pretty(truth).map_err(|error| Error::Write(error.into()))?;
    std::fs::write(path, text).map_err(|source| Error::Create { path: path.into(), source })
}
