//! `meshlog repair`: rebuilds a data directory's damaged commit log from its files'
//! own metadata (see [`crate::storage::repair`]), keeping the damaged log beside it.

use std::path::PathBuf;

use crate::config::settings::{Overrides, Settings};
use crate::error::Error;
use crate::storage::repair::repair;

/// Arguments of `meshlog repair`.
#[derive(Debug, clap::Args)]
pub struct RepairArgs {
    /// meshlog config file (TOML); its `data_dir` (relative to the file) applies unless
    /// `--data-dir` is given.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory to repair [default: `data_dir` of the config, else ./meshlog-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

pub fn run(args: &RepairArgs) -> Result<(), Error> {
    let overrides = Overrides {
        config: args.config.clone(),
        data_dir: args.data_dir.clone(),
        source_cluster: None,
    };
    let data_dir = Settings::resolve(&overrides)?.data_dir;
    if !data_dir.join(crate::storage::layout::META_DIR).is_dir() {
        let message =
            format!("{} is not a meshlog data directory (no _meshlog/)", data_dir.display());
        return Err(Error::Usage(message));
    }
    let report = repair(&data_dir)?;
    say!(
        "meshlog repair: rebuilt the commit log of {}: {} commits, {} files",
        data_dir.display(),
        report.commits,
        report.files
    );
    if let Some(kept) = &report.kept_log {
        say!("  the damaged log is kept as {}", kept.display());
    }
    if !report.set_aside.is_empty() {
        say!(
            "  moved {} files of the last commit, cut short before its state was saved, \
             under _meshlog/quarantine/: their lines are read again",
            report.set_aside.len()
        );
    }
    if report.without_checkpoints > 0 {
        say!(
            "  {} commits were written by a meshlog that kept no checkpoints in its files: \
             their sources will be read again from the start (rows stored twice)",
            report.without_checkpoints
        );
    }
    Ok(())
}
