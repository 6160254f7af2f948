//! `meshlog rollup`: recomputes the per-minute rollups (`requests_1m`,
//! `endpoints_1m`) of every day from its `requests` rows (see
//! [`crate::analytics::rollup::backfill`]): for data stored before rollups existed.

use std::path::PathBuf;

use crate::analytics::rollup::backfill::backfill;
use crate::config::settings::{Overrides, Settings};
use crate::error::Error;

/// Arguments of `meshlog rollup`.
#[derive(Debug, clap::Args)]
pub struct RollupArgs {
    /// meshlog config file (TOML); its `data_dir` (relative to the file) applies unless
    /// `--data-dir` is given.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory [default: `data_dir` of the config, else ./meshlog-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

pub fn run(args: &RollupArgs) -> Result<(), Error> {
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
    let report = backfill(&data_dir)?;
    say!(
        "meshlog rollup: {} days of {}: {} requests into {} rollup rows",
        report.days,
        data_dir.display(),
        report.requests,
        report.rollup_rows
    );
    Ok(())
}
