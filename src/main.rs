//! The `meshlog` binary: parse the command line, send warnings to stderr, run the
//! command, turn an error into a message on stderr and a non-zero exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = meshlog::cli::Cli::parse();
    meshlog::cli::logging::init(cli.log_level());
    match meshlog::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // A closed or broken stderr loses the message, never the exit code.
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "meshlog: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                let _ = writeln!(stderr, "  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(error.exit_code())
        }
    }
}
