//! `meshlog repair`: rebuilds a data directory's damaged commit log from its files'
//! own metadata (see [`crate::storage::repair`]), keeping the damaged log beside it.

use super::data_dir_args::DataDirArgs;
use crate::error::Error;
use crate::storage::repair::repair;

/// Arguments of `meshlog repair`: the data directory.
pub type RepairArgs = DataDirArgs;

pub fn run(args: &RepairArgs) -> Result<(), Error> {
    let data_dir = args.existing()?;
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
