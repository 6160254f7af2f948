//! Where files go under the data directory: Hive partitions
//! `<table>/date=YYYY-MM-DD/hour=HH/`, file names that never collide, and meshlog's
//! own directory `_meshlog/` (commit log, detector state, temporary files), which
//! no table reader lists.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Timelike};

/// meshlog's own files, beside the tables.
pub const META_DIR: &str = "_meshlog";
/// Files being written; renamed into a table only once complete.
pub const TMP_DIR: &str = "_meshlog/tmp";

/// The paths of one data directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path relative to the data directory made absolute.
    pub fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.root.join(relative)
    }

    /// meshlog's own directory.
    pub fn meta_dir(&self) -> PathBuf {
        self.root.join(META_DIR)
    }

    /// The directory of temporary files.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }
}

/// The partition directory (`date=YYYY-MM-DD/hour=HH`) of a time in µs since the epoch.
pub fn partition_of(micros: i64) -> String {
    let time = DateTime::from_timestamp_micros(micros).unwrap_or_default();
    format!("date={}/hour={:02}", time.format("%Y-%m-%d"), time.hour())
}

/// The `date=YYYY-MM-DD` directory (UTC) of a daily-partitioned table's row.
pub fn day_partition_of(micros: i64) -> String {
    let time = DateTime::from_timestamp_micros(micros).unwrap_or_default();
    format!("date={}", time.format("%Y-%m-%d"))
}

/// The first µs of the day (UTC) that holds `micros`.
pub fn day_of(micros: i64) -> i64 {
    const DAY: i64 = 24 * 3_600_000_000;
    micros.div_euclid(DAY) * DAY
}

/// The first µs of the hour that holds `micros`; rows of one partition share it.
pub fn hour_of(micros: i64) -> i64 {
    const HOUR: i64 = 3_600_000_000;
    micros.div_euclid(HOUR) * HOUR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_utc_date_and_hour() {
        // 2026-11-01T10:59:59.999999Z and the next µs.
        let micros = 1_761_994_799_999_999;
        assert_eq!(partition_of(micros), "date=2025-11-01/hour=10");
        assert_eq!(partition_of(micros + 1), "date=2025-11-01/hour=11");
        assert_eq!(hour_of(micros + 1), micros + 1);
        assert_eq!(partition_of(0), "date=1970-01-01/hour=00");
    }
}
