//! Finding the Parquet files of a table in the object store (the local file system
//! today, object storage later): the `date=YYYY-MM-DD/hour=HH` directories of a
//! partitioned table, read one level at a time so that pruned dates and hours are
//! never listed, and the committed data files of a directory. Files still being
//! written (hidden `.name` or `_name`, or not `*.parquet`) are skipped: the writer
//! renames a file into place only when it is complete.

use chrono::NaiveDate;
use datafusion::error::Result;
use datafusion::object_store::path::Path;
use datafusion::object_store::{ObjectMeta, ObjectStore};

use super::time_range::MICROS_PER_HOUR;

/// One day in microseconds.
pub(crate) const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// A `date=YYYY-MM-DD` directory.
#[derive(Debug, Clone)]
pub(crate) struct DateDir {
    pub date: String,
    /// Midnight UTC of the date, µs since the epoch.
    pub start: i64,
    pub path: Path,
}

/// A `date=YYYY-MM-DD/hour=HH` directory.
#[derive(Debug, Clone)]
pub(crate) struct HourDir {
    pub date: String,
    pub hour: String,
    /// The start of the hour (UTC), µs since the epoch.
    pub start: i64,
    pub path: Path,
}

/// The `date=` directories under a table's root; none when the table directory does
/// not exist yet.
pub(crate) async fn date_dirs(store: &dyn ObjectStore, root: &Path) -> Result<Vec<DateDir>> {
    let listed = store.list_with_delimiter(Some(root)).await?;
    Ok(listed.common_prefixes.into_iter().filter_map(date_dir).collect())
}

/// The `hour=` directories of a date.
pub(crate) async fn hour_dirs(store: &dyn ObjectStore, date: &DateDir) -> Result<Vec<HourDir>> {
    let listed = store.list_with_delimiter(Some(&date.path)).await?;
    let hours = listed.common_prefixes.into_iter();
    Ok(hours.filter_map(|path| hour_dir(date, path)).collect())
}

/// The committed Parquet files directly in `dir`.
pub(crate) async fn parquet_files(store: &dyn ObjectStore, dir: &Path) -> Result<Vec<ObjectMeta>> {
    let listed = store.list_with_delimiter(Some(dir)).await?;
    Ok(listed.objects.into_iter().filter(is_data_file).collect())
}

fn date_dir(path: Path) -> Option<DateDir> {
    let date = partition_value(&path, "date")?;
    let day = NaiveDate::parse_from_str(&date, "%Y-%m-%d").ok()?;
    let start = day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros();
    Some(DateDir { date, start, path })
}

fn hour_dir(date: &DateDir, path: Path) -> Option<HourDir> {
    let hour = partition_value(&path, "hour")?;
    let number: i64 = hour.parse().ok().filter(|number| (0..24).contains(number))?;
    let start = date.start + number * MICROS_PER_HOUR;
    Some(HourDir { date: date.date.clone(), hour, start, path })
}

/// `value` when the last segment of `path` is `key=value`.
fn partition_value(path: &Path, key: &str) -> Option<String> {
    let segment = path.filename()?;
    let (found, value) = segment.split_once('=')?;
    (found == key && !value.is_empty()).then(|| value.to_owned())
}

fn is_data_file(meta: &ObjectMeta) -> bool {
    let name = meta.location.filename().unwrap_or_default();
    let hidden = name.starts_with('.') || name.starts_with('_');
    !hidden && name.ends_with(".parquet") && meta.size > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_directories_parse() {
        let date = date_dir(Path::from("data/requests/date=2026-11-01")).unwrap();
        assert_eq!(date.date, "2026-11-01");
        assert_eq!(date.start, 1_793_491_200_000_000);
        let hour = hour_dir(&date, Path::from("data/requests/date=2026-11-01/hour=07")).unwrap();
        assert_eq!((hour.hour.as_str(), hour.start), ("07", date.start + 7 * MICROS_PER_HOUR));
    }

    #[test]
    fn other_directories_are_not_partitions() {
        assert!(date_dir(Path::from("data/requests/_tmp")).is_none());
        assert!(date_dir(Path::from("data/requests/date=yesterday")).is_none());
        let date = date_dir(Path::from("r/date=2026-11-01")).unwrap();
        assert!(hour_dir(&date, Path::from("r/date=2026-11-01/hour=24")).is_none());
        assert!(hour_dir(&date, Path::from("r/date=2026-11-01/minute=07")).is_none());
    }
}
