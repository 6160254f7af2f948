//! The command line: one subcommand per job, each in its own module under `cli/`.

mod data_dir_args;
mod demo;
mod ingest;
pub mod logging;
mod parse;
mod query;
mod repair;
mod rollup;
mod scrape;
mod serve;
mod simulate;
mod topology;

use clap::{Parser, Subcommand};

use crate::Error;

/// Cross-cluster traffic, failover history and endpoint health from Envoy and Istio
/// access logs.
#[derive(Debug, Parser)]
#[command(name = "meshlog", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read access-log lines and print each as a JSON object: check how meshlog reads
    /// your logs.
    Parse(parse::ParseArgs),
    /// List the built-in access-log format presets and their format strings.
    Formats,
    /// Read access logs (and Envoy admin dumps: /clusters, /stats, istioctl,
    /// endpointShardz) into the data directory: tag each request local or
    /// cross-cluster, store Parquet, detect failovers.
    Ingest(ingest::IngestArgs),
    /// Answer questions in SQL over the stored tables (requests, rejects, failovers,
    /// endpoint_stats, cluster_stats), or run a named query.
    Query(query::QueryArgs),
    /// Simulate a three-cluster mesh, ingest it, and show what meshlog finds: the
    /// quickest way to see it work.
    Demo(demo::DemoArgs),
    /// Write the access logs of a simulated three-cluster mesh, with failovers,
    /// faulty endpoints and locality spill, to try every command on.
    Simulate(simulate::SimulateArgs),
    /// Work with the mesh topology: `learn` infers the `[[clusters]]` config from
    /// proxies' endpoint lists and istiod's endpointShardz.
    Topology(topology::TopologyArgs),
    /// Poll the Envoy admin endpoints of the config's [[scrape]] entries
    /// (/clusters?format=json, /stats/prometheus) into endpoint_stats and cluster_stats.
    Scrape(scrape::ScrapeArgs),
    /// Run as a service: take access logs from log shippers over HTTP, follow files,
    /// poll admin endpoints, and answer queries, with one writer for the data directory.
    Serve(serve::ServeArgs),
    /// Rebuild a damaged commit log (`_meshlog/commits.jsonl`) from the data
    /// directory's files, keeping the damaged one beside it.
    Repair(repair::RepairArgs),
    /// Recompute the per-minute rollups (requests_1m, endpoints_1m) of every day from
    /// its requests: for data stored before rollups existed. Stop `serve` first.
    Rollup(rollup::RollupArgs),
}

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Parse(args) => parse::run(&args),
        Command::Formats => parse::list_formats(),
        Command::Ingest(args) => ingest::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Query(args) => Ok(query::run(&args)?),
        Command::Demo(args) => demo::run(&args),
        Command::Topology(args) => topology::run(&args),
        Command::Scrape(args) => scrape::run(&args),
        Command::Repair(args) => repair::run(&args),
        Command::Rollup(args) => rollup::run(&args),
        Command::Serve(args) => serve::run(&args),
    }
}

impl Cli {
    /// The least severe log events shown: `serve` reports what it does as it runs.
    pub fn log_level(&self) -> tracing::Level {
        match self.command {
            Command::Serve(_) => tracing::Level::INFO,
            _ => tracing::Level::WARN,
        }
    }
}
