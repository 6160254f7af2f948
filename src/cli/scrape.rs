//! `meshlog scrape`: polls the Envoy admin endpoints of the config's `[[scrape]]`
//! entries into the data directory until Ctrl-C, `--duration` or, with `--once`, a
//! single round, then prints a summary. This file reads the arguments, opens the
//! store, starts the runtime and prints; [`crate::scrape`] does the work.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::Error;
use crate::config::Settings;
use crate::config::duration::parse_duration_arg;
use crate::config::scrape::{ScrapeTarget, scrape_targets};
use crate::pipeline::{Pipeline, PipelineError, PipelineInput, PipelineOptions};
use crate::scrape::{ScrapeError, ScrapeReport, Scraper};
use crate::storage::committer::Recovery;

/// Arguments of `meshlog scrape`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Each [[scrape]] entry (name, url, source_cluster, interval, timeout, \
endpoints) is polled on its interval: GET <url>/clusters?format=json and \
<url>/stats/prometheus. A failed GET is logged and the target backs off (interval × 2^failures, \
at most 5 minutes). Each round is one commit to endpoint_stats and cluster_stats; Ctrl-C \
finishes the round under way before stopping.")]
pub struct ScrapeArgs {
    /// The TOML config with the [[scrape]] entries (and the [[clusters]] topology).
    #[arg(long, short)]
    config: PathBuf,
    /// The data directory (overrides the config; default ./meshlog-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Poll every target once, store, and stop.
    #[arg(long)]
    once: bool,
    /// Stop after this long, e.g. `90s`, `10m`, `1h` (default: until Ctrl-C).
    #[arg(long, value_parser = parse_duration_arg, conflicts_with = "once")]
    duration: Option<Duration>,
}

/// Runs `meshlog scrape`.
pub fn run(args: &ScrapeArgs) -> Result<(), Error> {
    let started = Instant::now();
    let (file, settings) = Settings::load(&args.config, args.data_dir.clone())?;
    let targets = scrape_targets(&file, settings.source_cluster.as_ref(), &settings.topology)?;
    if targets.is_empty() {
        let message = format!(
            "{} has no [[scrape]] entries: add one per proxy, with `name` and its admin `url`",
            args.config.display()
        );
        return Err(Error::Usage(message));
    }
    let options = PipelineOptions {
        data_dir: settings.data_dir.clone(),
        topology: settings.topology.clone(),
        failover: settings.failover.clone(),
        queue_depth: 1,
        observer: None,
        metrics: None,
    };
    let (mut pipeline, input) = Pipeline::open(&options).map_err(ScrapeError::from)?;
    let recovery = pipeline.take_recovery();
    let committing = std::thread::spawn(move || pipeline.run());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ScrapeError::Runtime)?;
    let scraped = runtime.block_on(scrape(args, targets.clone(), input));
    // The pipeline ends once the scraper has let go of its input.
    let committed =
        committing.join().map_err(|_| ScrapeError::Pipeline(PipelineError::Panicked))?;
    // A pipeline that failed stops the scraper too: its error is the one to report.
    committed.map_err(ScrapeError::from)?;
    print_summary(&scraped?, &targets, &recovery, started, &settings.data_dir);
    Ok(())
}

async fn scrape(
    args: &ScrapeArgs,
    targets: Vec<ScrapeTarget>,
    input: PipelineInput,
) -> Result<ScrapeReport, ScrapeError> {
    let mut scraper = Scraper::new(targets, input)?;
    if args.once {
        scraper.run_round().await?;
    } else {
        scraper.run(stop_signal(args.duration)).await?;
    }
    Ok(scraper.finish())
}

/// Completes on Ctrl-C, on SIGTERM (how Kubernetes stops a pod) or after `duration`.
async fn stop_signal(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::select! {
            () = interrupted() => {}
            () = tokio::time::sleep(duration) => {}
        },
        None => interrupted().await,
    }
}

/// Completes on the first Ctrl-C or SIGTERM.
async fn interrupted() {
    let signal = crate::shutdown::stop_signal().await;
    say!("meshlog scrape: {signal}; finishing the round under way");
}

/// The end-of-run summary, on stderr.
fn print_summary(
    report: &ScrapeReport,
    targets: &[ScrapeTarget],
    recovery: &Recovery,
    started: Instant,
    data_dir: &std::path::Path,
) {
    let counts = &report.counts;
    say!(
        "meshlog scrape: {} rounds in {:.1} s, {} commits under {}",
        report.rounds,
        started.elapsed().as_secs_f64(),
        report.commits,
        data_dir.display()
    );
    say!(
        "  stored {} endpoint_stats rows, {} cluster_stats rows and {} rejects in {} files",
        counts.endpoint_rows,
        counts.stat_rows,
        report.stored.rejects,
        report.stored.files
    );
    for (target, tally) in targets.iter().zip(&report.targets) {
        say!(
            "  {} ({}): {} snapshots, {} failures",
            tally.name,
            target.base_url,
            tally.snapshots,
            tally.failures
        );
    }
    if counts.resets > 0 {
        say!("  {} counters went down between snapshots (proxy restarts)", counts.resets);
    }
    for (reason, count) in &counts.rejected_by_reason {
        say!("  snapshot parts rejected {count}: {reason}");
    }
    if let Some(summary) = recovery.summary() {
        say!("  {summary}");
    }
    say!("  see `meshlog query --saved endpoint_health`");
}
