//! `meshlog rollup`: recomputes the per-minute rollups (`requests_1m`,
//! `endpoints_1m`) of every day from its `requests` rows (see
//! [`crate::analytics::rollup::backfill`]): for data stored before rollups existed.

use super::data_dir_args::DataDirArgs;
use crate::analytics::rollup::backfill::backfill;
use crate::error::Error;

/// Arguments of `meshlog rollup`: the data directory.
pub type RollupArgs = DataDirArgs;

pub fn run(args: &RollupArgs) -> Result<(), Error> {
    let data_dir = args.existing()?;
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
