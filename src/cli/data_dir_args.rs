//! `--config` / `--data-dir` of the commands that work on an existing data directory
//! (`repair`, `rollup`), and how they resolve to one.

use std::path::PathBuf;

use crate::config::settings::{Overrides, Settings};
use crate::error::Error;

/// Which data directory a command works on.
#[derive(Debug, clap::Args)]
pub struct DataDirArgs {
    /// meshlog config file (TOML); its `data_dir` (relative to the file) applies unless
    /// `--data-dir` is given.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory [default: `data_dir` of the config, else ./meshlog-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DataDirArgs {
    /// The data directory, which must already hold meshlog data (`_meshlog/`).
    pub fn existing(&self) -> Result<PathBuf, Error> {
        let overrides = Overrides {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            source_cluster: None,
        };
        let data_dir = Settings::resolve(&overrides)?.data_dir;
        if !data_dir.join(crate::storage::layout::META_DIR).is_dir() {
            let message =
                format!("{} is not a meshlog data directory (no _meshlog/)", data_dir.display());
            return Err(Error::Usage(message));
        }
        Ok(data_dir)
    }
}
