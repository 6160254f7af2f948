//! The `meshlog` binary: parse the command line, send warnings to stderr, run the
//! command, turn an error into a message on stderr and a non-zero exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = meshlog::cli::Cli::parse();
    meshlog::cli::logging::init();
    match meshlog::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("meshlog: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(error.exit_code())
        }
    }
}
