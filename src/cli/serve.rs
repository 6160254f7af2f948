//! `meshlog serve`: reads the config (`[server]`, `[[sources]]`, `[[scrape]]`, the
//! topology), runs [`crate::serve`] until SIGTERM or Ctrl-C, and prints what it
//! stored. Logs go to stderr through `tracing`, one line per event.

use std::path::PathBuf;
use std::time::Duration;

use crate::Error;
use crate::config::Settings;
use crate::config::duration::parse_duration_arg;
use crate::config::scrape::scrape_targets;
use crate::config::server::ServeSettings;
use crate::query::limits::{QueryLimits, parse_size_arg};
use crate::serve::{ServeOptions, ServeReport};

/// Arguments of `meshlog serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Endpoints (on [server] listen, default 127.0.0.1:7280):
  POST /api/v1/logs    access-log lines: text/plain, NDJSON or a JSON array (the line in
                       `message` or `log`, or an Envoy JSON access-log object);
                       Content-Encoding gzip or zstd. Reporting cluster: header
                       X-Meshlog-Source-Cluster, ?source_cluster=, [server]
                       source_cluster_field, or the config's source_cluster.
                       X-Meshlog-Batch-Id makes a retried request idempotent.
                       200 {\"accepted\":N,\"rejected\":M} once durable (WAL fsync);
                       400 unreadable body; 401 no valid token; 413 over
                       max_body_bytes; 503 + Retry-After when behind or stopping.
  POST /api/v1/query   {\"sql\": \"…\"} or {\"saved\": \"NAME\", \"params\": {…}}, with
                       optional \"since\"/\"until\"; Accept: application/json (default),
                       text/csv or application/vnd.apache.arrow.stream.
  GET  /metrics        Prometheus metrics (meshlog_*, process_*); the token is
                       required when tokens are configured.
  GET  /healthz        200 while the process runs.
  GET  /readyz         200 once recovered and committing; 503 while stopping.
Followed files: [[sources]] type = \"file\", paths = [globs], source_cluster, format.
Admin endpoints: the [[scrape]] entries, as for `meshlog scrape`.
SIGTERM or Ctrl-C: stop accepting, answer requests under way, commit, exit 0.")]
pub struct ServeArgs {
    /// The TOML config ([server], [[sources]], [[scrape]], [[clusters]]).
    #[arg(long, short)]
    config: PathBuf,
    /// The data directory (overrides the config; default ./meshlog-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The HTTP address (overrides [server] listen).
    #[arg(long, value_name = "ADDRESS")]
    listen: Option<String>,
    /// Stop a query that runs longer than this.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration_arg)]
    query_timeout: Duration,
    /// Stop a query whose working memory, or whose result, passes this.
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_size_arg)]
    query_memory_limit: usize,
}

/// Runs `meshlog serve`.
pub fn run(args: &ServeArgs) -> Result<(), Error> {
    let (file, settings) = Settings::load(&args.config, args.data_dir.clone())?;
    let serve = ServeSettings::from_file(&file, args.listen.as_deref())?;
    let scrape = scrape_targets(&file, settings.source_cluster.as_ref(), &settings.topology)?;
    let query_limits =
        QueryLimits { timeout: args.query_timeout, memory_bytes: args.query_memory_limit };
    let report = crate::serve::run(ServeOptions { settings, serve, scrape, query_limits })?;
    summarize(&report);
    Ok(())
}

fn summarize(report: &ServeReport) {
    let stored = &report.pipeline.stored;
    tracing::info!(
        commits = report.pipeline.commits,
        rows = stored.rows,
        rejects = stored.rejects,
        replayed = report.replayed,
        "stopped"
    );
}
