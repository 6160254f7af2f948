//! The command line: one subcommand per job, each in its own module under `cli/`.

mod parse;

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
}

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Parse(args) => parse::run(&args),
        Command::Formats => parse::list_formats(),
    }
}
