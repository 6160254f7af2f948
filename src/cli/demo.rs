//! `meshlog demo`: simulates ten minutes of a three-cluster mesh, ingests it into a
//! fresh data directory, and prints what meshlog found next to what was
//! simulated: failover episodes, the worst endpoints, the cross-cluster share per
//! service, and the commands to explore further.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Error;
use crate::analytics::failover::Episode;
use crate::cli::simulate::write_dir;
use crate::config::{ConfigFile, Overrides, Settings};
use crate::ingest::{IngestOptions, IngestReport, ingest};
use crate::query::{BoundQuery, OutputFormat, QueryEngine, SavedQuery, output};
use crate::simulate::{CLUSTER_NAMES, Scenario, Truth, TruthEpisode};

/// Marks a directory as made by `meshlog demo`, so a re-run may replace it.
const MARKER: &str = ".meshlog-demo";

/// Arguments of `meshlog demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where to put the simulated logs (`logs/`) and the data directory (`data/`).
    /// Replaced if an earlier demo made it; refused if it holds anything else.
    #[arg(long, default_value = "meshlog-demo")]
    dir: PathBuf,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Runs `meshlog demo`.
pub fn run(args: &DemoArgs) -> Result<(), Error> {
    prepare_dir(&args.dir)?;
    let logs = args.dir.join("logs");
    let scenario = Scenario { seed: args.seed, ..Scenario::demo() };
    let truth = write_dir(&scenario, &logs)?;
    let settings = demo_settings(&logs.join("mesh.toml"), &args.dir.join("data"))?;
    let reports = ingest_clusters(&settings, &logs)?;
    let mut out = io::stdout().lock();
    print_report(&mut out, &truth, &reports, &settings).map_err(Error::Write)?;
    show_tables(&settings.data_dir, &mut out)?;
    print_next_steps(&mut out, &args.dir)
}

fn prepare_dir(dir: &Path) -> Result<(), Error> {
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            let why =
                format!("{} exists and was not made by `meshlog demo`; pass --dir", dir.display());
            return Err(Error::Usage(why));
        }
        std::fs::remove_dir_all(dir)
            .map_err(|source| Error::Create { path: dir.into(), source })?;
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Create { path: dir.into(), source })?;
    std::fs::write(dir.join(MARKER), b"")
        .map_err(|source| Error::Create { path: dir.join(MARKER), source })
}

fn demo_settings(config: &Path, data_dir: &Path) -> Result<Settings, Error> {
    let file = ConfigFile::load(config)?;
    let overrides = Overrides { data_dir: Some(data_dir.into()), ..Overrides::default() };
    Ok(Settings::from_file(&file, &overrides)?)
}

/// Ingests each reporting cluster's log with its cluster as the source.
fn ingest_clusters(settings: &Settings, logs: &Path) -> Result<Vec<(String, IngestReport)>, Error> {
    let mut reports = Vec::new();
    for cluster in CLUSTER_NAMES {
        let log = logs.join(format!("{cluster}.log"));
        if std::fs::metadata(&log).map(|meta| meta.len()).unwrap_or(0) == 0 {
            continue;
        }
        let options = IngestOptions {
            data_dir: settings.data_dir.clone(),
            topology: settings.topology.clone(),
            source_cluster: Some(Arc::from(cluster)),
            format: "auto".into(),
            max_line_bytes: meshlog_parsers::parser::DEFAULT_MAX_LINE_BYTES,
            failover: settings.failover.clone(),
            batch_rows: 64 * 1024,
            progress: false,
            dumps: Default::default(),
        };
        let mut inputs = vec![log];
        inputs.extend(snapshot_files(&logs.join("admin").join(cluster))?);
        reports.push((cluster.to_owned(), ingest(&options, &inputs)?));
    }
    Ok(reports)
}

/// The simulated `/clusters` snapshots of a cluster's proxies, if any.
fn snapshot_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Read { path: dir.into(), source }),
    };
    let mut files = Vec::new();
    for entry in entries {
        files.push(entry.map_err(|source| Error::Read { path: dir.into(), source })?.path());
    }
    files.sort();
    Ok(files)
}

fn print_report(
    out: &mut impl Write,
    truth: &Truth,
    reports: &[(String, IngestReport)],
    settings: &Settings,
) -> io::Result<()> {
    writeln!(
        out,
        "meshlog demo: {} minutes of a simulated three-cluster mesh, {} lines",
        truth.minutes, truth.lines
    )?;
    for (cluster, report) in reports {
        let seconds = report.elapsed.as_secs_f64().max(1e-6);
        writeln!(
            out,
            "  ingested {cluster}: {} lines, {} rows, {} rejected, {:.0} lines/s",
            report.counts.lines,
            report.stored.rows,
            report.counts.rejected(),
            report.counts.lines as f64 / seconds
        )?;
    }
    let found = reports.last().map(|(_, report)| report.episodes.as_slice()).unwrap_or_default();
    writeln!(
        out,
        "\nFailovers: {} simulated, {} found (window {} s)",
        truth.episodes.len(),
        found.len(),
        settings.failover.window_s
    )?;
    for simulated in &truth.episodes {
        writeln!(out, "  {}", compare(simulated, found, settings.failover.window_s))?;
    }
    for invented in
        found.iter().filter(|episode| !truth.episodes.iter().any(|sim| same_pair(sim, episode)))
    {
        writeln!(
            out,
            "  found but not simulated: {} {} at {}",
            invented.source_cluster,
            invented.service,
            rfc3339(invented.started_at_micros)
        )?;
    }
    Ok(())
}

fn same_pair(simulated: &TruthEpisode, found: &Episode) -> bool {
    simulated.source_cluster == found.source_cluster && simulated.service == found.service
}

/// One simulated episode against what meshlog found.
fn compare(simulated: &TruthEpisode, found: &[Episode], window_s: u32) -> String {
    let what = format!(
        "{} → {} from {}",
        simulated.service, simulated.target_cluster, simulated.source_cluster
    );
    let Some(episode) = found.iter().find(|episode| same_pair(simulated, episode)) else {
        return format!("MISSED {what}");
    };
    let start_delta = (episode.started_at_micros - simulated.started_at_us) as f64 / 1e6;
    let end = episode.ended_at_micros.map_or("still open".to_owned(), |end| {
        format!("end {:+.0} s", (end - simulated.ended_at_us) as f64 / 1e6)
    });
    format!(
        "found {what}: started {} (start {start_delta:+.0} s, {end}; window {window_s} s), {} requests, {} errors in the minute before",
        rfc3339(episode.started_at_micros),
        episode.requests,
        episode.errors_before
    )
}

fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map_or_else(|| micros.to_string(), |time| time.to_rfc3339())
}

/// The worst endpoints and the cross-cluster share per service, from the stored data.
fn show_tables(data_dir: &Path, out: &mut impl Write) -> Result<(), Error> {
    let engine = QueryEngine::open(data_dir)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Write)?;
    runtime.block_on(async {
        writeln!(out, "\nWorst endpoints (5xx ratio, at least 20 requests):")
            .map_err(Error::Write)?;
        engine.run(WORST_ENDPOINTS, OutputFormat::Table, out).await?;
        writeln!(out, "\nCross-cluster share per service:").map_err(Error::Write)?;
        engine.run(CROSS_SHARE, OutputFormat::Table, out).await?;
        writeln!(out, "\nWhy: the proxies' /clusters snapshots around each failover:")
            .map_err(Error::Write)?;
        let evidence = SavedQuery::find("failover_evidence")?.bind(&[])?;
        let (schema, batches) =
            engine.collect_with(&evidence_sql(&evidence), &evidence.values).await?;
        output::write_batches(OutputFormat::Table, &schema, &batches, out)?;
        Ok(())
    })
}

const WORST_ENDPOINTS: &str = "SELECT coalesce(upstream_host, '(none)') AS upstream_host, dst_cluster, service, \
count(*) AS requests, count(*) FILTER (WHERE response_code >= 500) AS errors_5xx, \
round(CAST(count(*) FILTER (WHERE response_code >= 500) AS DOUBLE) / count(*), 3) AS ratio_5xx \
FROM requests WHERE direction IS DISTINCT FROM 'inbound' GROUP BY 1, 2, 3 HAVING count(*) >= 20 \
ORDER BY ratio_5xx DESC, requests DESC LIMIT 5";

const CROSS_SHARE: &str = "SELECT source_cluster, service, count(*) AS requests, \
count(*) FILTER (WHERE locality = 'cross_cluster') AS cross_cluster, \
round(CAST(count(*) FILTER (WHERE locality = 'cross_cluster') AS DOUBLE) / count(*), 3) AS share \
FROM requests WHERE direction = 'outbound' AND service IS NOT NULL GROUP BY 1, 2 ORDER BY share DESC, requests DESC";

/// The rows of the `failover_evidence` named query that say something, compactly.
fn evidence_sql(evidence: &BoundQuery) -> String {
    format!(
        "SELECT service, phase, host, priority, dst_cluster, unhealthy, flags, rq_delta, evidence \
         FROM ({}\n) AS e WHERE evidence <> '' \
         ORDER BY started_at, service, CASE phase WHEN 'before' THEN 0 WHEN 'during' THEN 1 ELSE 2 END, \
         priority, host",
        evidence.query.sql
    )
}

fn print_next_steps(out: &mut impl Write, dir: &Path) -> Result<(), Error> {
    let data = dir.join("data");
    let data = data.display();
    let text = format!(
        "\nExplore further:\n  meshlog query --data-dir {data} --saved failovers\n  \
meshlog query --data-dir {data} --saved endpoint_errors\n  \
meshlog query --data-dir {data} --saved cross_cluster_share\n  \
meshlog query --data-dir {data} --saved failover_evidence\n  \
meshlog query --data-dir {data} --saved endpoint_health\n  \
meshlog query --data-dir {data} --list\n  \
meshlog query --data-dir {data} \"SELECT reason, count(*) FROM rejects GROUP BY reason\"\n  \
duckdb -c \"SELECT count(*) FROM read_parquet('{data}/requests/**/*.parquet', hive_partitioning = true)\"\n"
    );
    out.write_all(text.as_bytes()).map_err(Error::Write)
}
