//! `meshlog ingest`: reads access logs into the data directory (requests,
//! rejects, failovers) and prints a summary. Files resume where the last run
//! stopped; stdin cannot resume.

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use meshlog_parsers::parser::DEFAULT_MAX_LINE_BYTES;

use crate::Error;
use crate::config::{Overrides, Settings};
use crate::ingest::dumps::{DumpOptions, SnapshotReport};
use crate::ingest::source::inputs_or_stdin;
use crate::ingest::{IngestOptions, IngestReport, ingest};
use meshlog_parsers::admin::AdminKind;

/// Arguments of `meshlog ingest`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Files are resumed: a file ingested before (same device, inode and first \
bytes) is read from where the last committed run stopped, so re-running on a file, or after \
a crash or kill -9, neither duplicates nor loses lines. stdin cannot be resumed: every run \
reads it from wherever it starts.")]
pub struct IngestArgs {
    /// The TOML config: data_dir, [[clusters]] topology, [failover] settings.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The data directory (overrides the config; default ./meshlog-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The cluster whose proxies wrote these logs (overrides the config).
    #[arg(long)]
    source_cluster: Option<String>,
    /// `auto`, a preset name (see `meshlog formats`), an Envoy format string or a
    /// JSON format object.
    #[arg(long, short, default_value = "auto")]
    format: String,
    /// Longest line accepted, in bytes; longer lines are rejected with a reason.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE_BYTES,
          value_parser = clap::value_parser!(u32).range(1..=1 << 30).map(|bytes| bytes as usize))]
    max_line_bytes: usize,
    /// Rows per commit (the first commit takes 1/16 of them, to start the committer
    /// early): each commit writes one Parquet file per hour it covers.
    /// 64 Ki rows keep peak memory near 230 MB with two batches in flight.
    #[arg(long, default_value_t = 64 * 1024, hide = true)]
    batch_rows: usize,
    /// No progress bar even on a terminal.
    #[arg(long, short)]
    quiet: bool,
    /// Read every input as this admin dump: `clusters-json`, `clusters-yaml`, `clusters`, `stats`,
    /// `prometheus`, `istioctl-endpoints` or `endpointshardz`. Without it each input's
    /// content tells whether it is a dump or an access log.
    #[arg(long, value_parser = parse_kind)]
    kind: Option<AdminKind>,
    /// The proxy admin dumps come from (default: each file's name up to its first `.`).
    #[arg(long)]
    proxy: Option<String>,
    /// When admin dumps were taken, RFC 3339 (default: each file's modification time;
    /// for stdin, now).
    #[arg(long, value_parser = parse_at)]
    at: Option<i64>,
    /// Files to read; `-` or none reads stdin. Container envelopes are unwrapped.
    inputs: Vec<PathBuf>,
}

/// Runs `meshlog ingest`.
pub fn run(args: &IngestArgs) -> Result<(), Error> {
    let overrides = Overrides {
        config: args.config.clone(),
        data_dir: args.data_dir.clone(),
        source_cluster: args.source_cluster.clone(),
    };
    let settings = Settings::resolve(&overrides)?;
    settings.require_source_cluster().map_err(Error::Usage)?;
    let options = IngestOptions {
        data_dir: settings.data_dir.clone(),
        topology: settings.topology.clone(),
        source_cluster: settings.source_cluster.clone(),
        format: args.format.clone(),
        max_line_bytes: args.max_line_bytes,
        failover: settings.failover.clone(),
        batch_rows: args.batch_rows.max(1),
        progress: !args.quiet,
        dumps: DumpOptions { kind: args.kind, proxy: args.proxy.clone(), at: args.at },
    };
    let report = ingest(&options, &inputs_or_stdin(&args.inputs))?;
    print_summary(&report, &settings);
    Ok(())
}

fn parse_kind(text: &str) -> Result<AdminKind, String> {
    text.parse::<AdminKind>().map_err(|error| error.to_string())
}

fn parse_at(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.timestamp_micros())
        .map_err(|error| format!("{error}; expected RFC 3339, e.g. 2026-11-01T10:00:00Z"))
}

/// The end-of-run summary, on stderr.
pub fn print_summary(report: &IngestReport, settings: &Settings) {
    let counts = &report.counts;
    let seconds = report.elapsed.as_secs_f64().max(1e-6);
    say!(
        "meshlog ingest: {} lines ({:.1} MB) in {seconds:.2} s: {:.0} lines/s",
        counts.lines,
        report.bytes as f64 / 1e6,
        counts.lines as f64 / seconds
    );
    say!(
        "  stored {} rows and {} rejects in {} files ({} commits) under {}",
        report.stored.rows,
        report.stored.rejects,
        report.stored.files,
        report.commits,
        settings.data_dir.display()
    );
    for (reason, count) in &counts.rejected_by_reason {
        say!("  rejected {count}: {reason}");
    }
    if counts.joined > 0 {
        say!("  joined {} lines to the first piece of the split line they continue", counts.joined);
    }
    let localities: Vec<String> =
        counts.by_locality.iter().map(|(name, count)| format!("{name} {count}")).collect();
    if !localities.is_empty() {
        say!("  locality: {}", localities.join(", "));
    }
    print_episodes(report);
    print_snapshots(&report.snapshots);
    for resumed in &report.resumed {
        match &resumed.as_file {
            Some(earlier) => say!(
                "  resumed {} at byte {}: its content was read before, as {earlier}",
                resumed.name,
                resumed.offset
            ),
            None => say!("  resumed {} at byte {} (read before)", resumed.name, resumed.offset),
        }
    }
    for (source, bytes) in &report.held_partial {
        say!(
            "  left the last {bytes} bytes of {source} for the next run: a line without its \
             newline yet (it may still be being written)"
        );
    }
    if let Some(summary) = report.recovery.summary() {
        say!("  {summary}");
    }
}

fn print_episodes(report: &IngestReport) {
    let open = report.episodes.iter().filter(|episode| episode.ended_at_micros.is_none()).count();
    say!(
        "  failovers known: {} ({open} ongoing); see `meshlog query --saved failovers`",
        report.episodes.len()
    );
    let detector = &report.detector;
    if detector.late > 0 {
        say!(
            "  {} requests arrived later than failover.max_delay (or are stamped far in the past) \
and were left out of failover windows",
            detector.late
        );
    }
    if detector.skewed > 0 {
        say!(
            "  {} requests were stored but left out of failover detection: their time was out of \
step with the rest of their source cluster's lines (a skewed clock?)",
            detector.skewed
        );
    }
    if detector.held > 0 {
        say!(
            "  {} requests far ahead of their stream are held until later lines show whether \
their time is right",
            detector.held
        );
    }
    if !detector.settings_changed.is_empty() {
        say!(
            "  [failover] settings changed since this data directory's last ingest, applied from \
now on: {}",
            detector.settings_changed.join(", ")
        );
    }
}

fn print_snapshots(snapshots: &SnapshotReport) {
    let counts = &snapshots.counts;
    if !counts.dumps_by_kind.is_empty() {
        let kinds: Vec<String> =
            counts.dumps_by_kind.iter().map(|(kind, count)| format!("{kind} {count}")).collect();
        say!(
            "  admin snapshots: {} ({}): {} endpoint_stats rows, {} cluster_stats rows",
            counts.dumps_by_kind.values().sum::<u64>(),
            kinds.join(", "),
            counts.endpoint_rows,
            counts.stat_rows,
        );
    }
    if counts.resets > 0 {
        say!("  {} counters went down since the previous snapshot (proxy restarts)", counts.resets);
    }
    for (reason, count) in &counts.rejected_by_reason {
        say!("  snapshot parts rejected {count}: {reason}");
    }
    if !snapshots.unchanged.is_empty() {
        say!("  {} snapshot files already stored and unchanged", snapshots.unchanged.len());
    }
}
