//! `meshlog query`: runs one read-only SQL statement, or a named query
//! (`--saved NAME` with its `--param`s, `--list`), over the Parquet tables of the
//! data directory, optionally cut to a time window (`--since`, `--until`), and prints
//! the result as a table, CSV or JSON on stdout. The work is in [`crate::query`];
//! this file reads the arguments, starts the multi-thread runtime DataFusion runs on,
//! and picks the output.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::config::duration::parse_duration_arg;
use crate::config::{Overrides, Settings};

use crate::query::limits::{QueryLimits, parse_size_arg};
use crate::query::params::parse_assignment;
use crate::query::{OutputFormat, QueryEngine, QueryError, SavedQuery, TimeWindow, saved};

/// Arguments of `meshlog query`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("query").required(true).args(["sql", "saved", "list"])))]
pub struct QueryArgs {
    /// meshlog config file (TOML); its `data_dir` (relative to the file) applies unless
    /// `--data-dir` is given.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory to query [default: `data_dir` of the config, else ./meshlog-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// How to print the result: an aligned table, CSV, or one JSON array of objects.
    #[arg(long, short, value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Run a named query (see `--list`) instead of SQL.
    #[arg(long, value_name = "NAME")]
    pub saved: Option<String>,
    /// A parameter of the named query, e.g. `--param service=reviews.default.svc.cluster.local`
    /// (repeat for several; `--list` shows what each query takes).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_assignment)]
    pub params: Vec<(String, String)>,
    /// Read only data from this time on: RFC 3339 (2026-11-01T10:00:00Z), a date
    /// (2026-11-01, UTC), `now`, or how long ago (30m, 1h, 2d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Read only data before this time (same forms as `--since`).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// List the named queries, what each answers and the parameters it takes.
    #[arg(long)]
    pub list: bool,
    /// Stop a query that runs longer than this (90s, 5m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration_arg)]
    pub timeout: Duration,
    /// Stop a query whose working memory, or whose result, passes this (512MiB, 2GiB).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size_arg)]
    pub memory_limit: usize,
    /// The SQL to run over the tables `requests`, `rejects`, `failovers`,
    /// `endpoint_stats` and `cluster_stats`. Read-only: statements that would write
    /// (DDL, DML, COPY, SET) are refused.
    #[arg(allow_hyphen_values = true)]
    pub sql: Option<String>,
}

/// Runs `meshlog query`.
pub fn run(args: &QueryArgs) -> Result<(), QueryError> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let written = execute(args, &mut out).and_then(|()| out.flush().map_err(QueryError::Write));
    match written {
        // `meshlog query … | head`: the reader has all it wanted.
        Err(QueryError::Write(error)) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn execute(args: &QueryArgs, out: &mut dyn Write) -> Result<(), QueryError> {
    if args.list {
        return out.write_all(saved::list()?.as_bytes()).map_err(QueryError::Write);
    }
    let bound = match &args.saved {
        Some(name) => Some(SavedQuery::find(name)?.bind(&args.params)?),
        None if !args.params.is_empty() => return Err(QueryError::ParamWithoutSaved),
        None => None,
    };
    let window =
        TimeWindow::parse(args.since.as_deref(), args.until.as_deref(), chrono::Utc::now())?;
    let limits = QueryLimits { timeout: args.timeout, memory_bytes: args.memory_limit };
    let engine = QueryEngine::open_with(&data_dir(args)?, window, limits)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(QueryError::Runtime)?;
    runtime.block_on(async {
        match (&bound, &args.sql) {
            (Some(query), _) => engine.run_saved(query, args.output, out).await,
            (None, Some(sql)) => engine.run(sql, args.output, out).await,
            (None, None) => Ok(()),
        }
    })
}

/// `--data-dir`, else the config's `data_dir` (relative to the config file), else
/// `./meshlog-data`: the same rules as `meshlog ingest`.
fn data_dir(args: &QueryArgs) -> Result<PathBuf, QueryError> {
    let overrides = Overrides {
        config: args.config.clone(),
        data_dir: args.data_dir.clone(),
        source_cluster: None,
    };
    Ok(Settings::resolve(&overrides)?.data_dir)
}
