//! Which directories a query reads. A meshlog data directory holds its tables
//! (`requests/`, `rejects/`, `failovers/`, `endpoint_stats/`, `cluster_stats/`) or,
//! created by `ingest` and still empty, its `_meshlog/` directory. Anything else (a
//! typo, the wrong working directory) is refused with the path named, rather than
//! answered with empty tables. The directory is read by its canonical path: the
//! object store under the tables takes only absolute paths without `..`, so
//! `--data-dir ../d` works only once resolved. A file the commit log lists that is
//! not there is an error naming it, never a table silently missing its rows.

use std::io;
use std::path::{Path, PathBuf};

use super::QueryError;
use crate::storage::commit_log::{COMMIT_LOG, CommitLog, CommitRecord, check_files_present};
use crate::storage::layout::META_DIR;
use crate::storage::schema::{
    CLUSTER_STATS_DIR, ENDPOINT_STATS_DIR, FAILOVERS_DIR, REJECTS_DIR, REQUESTS_DIR,
};

/// What a data directory holds: any one of them is enough.
const MARKERS: [&str; 6] =
    [REQUESTS_DIR, REJECTS_DIR, FAILOVERS_DIR, ENDPOINT_STATS_DIR, CLUSTER_STATS_DIR, META_DIR];

/// The canonical path of the data directory `path`, or why it is not one.
pub fn resolve(path: &Path) -> Result<PathBuf, QueryError> {
    let canonical = std::fs::canonicalize(path).map_err(|error| match error.kind() {
        io::ErrorKind::NotFound => not_a_data_dir(path, "it does not exist".to_owned(), None),
        _ => not_a_data_dir(path, "it cannot be read".to_owned(), Some(error)),
    })?;
    if !canonical.is_dir() {
        return Err(not_a_data_dir(path, "it is not a directory".to_owned(), None));
    }
    if !MARKERS.iter().any(|marker| canonical.join(marker).is_dir()) {
        let expected = MARKERS.map(|marker| format!("{marker}/")).join(", ");
        let why = format!("it holds none of {expected}");
        return Err(not_a_data_dir(path, why, None));
    }
    Ok(canonical)
}

/// The commit log of a resolved data directory (none for one with no log yet),
/// once every file it lists is there (a torn last record is ignored: a writer may
/// be appending it).
pub fn read_committed(data_dir: &Path) -> Result<Vec<CommitRecord>, QueryError> {
    let log = data_dir.join(META_DIR).join(COMMIT_LOG);
    let records = CommitLog::read(&log).map_err(QueryError::Damaged)?;
    check_files_present(&records, data_dir).map_err(QueryError::Damaged)?;
    Ok(records)
}

fn not_a_data_dir(path: &Path, why: String, source: Option<io::Error>) -> QueryError {
    let path = match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => format!("{} (in {})", path.display(), cwd.display()),
        _ => path.display().to_string(),
    };
    QueryError::NotADataDir { path, why, source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::fixtures::TempDataDir;

    #[test]
    fn a_directory_without_meshlog_data_is_refused_and_named() {
        let dir = TempDataDir::new("not-data");
        std::fs::create_dir_all(dir.path.join("logs")).unwrap();
        let error = resolve(&dir.path).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with(&format!("{} is not a meshlog data directory: it holds none of requests/, rejects/, failovers/", dir.path.display())), "{message}");
        assert_eq!(error.exit_code(), 2);
        let missing = resolve(&dir.path.join("nope")).unwrap_err().to_string();
        assert!(
            missing.contains("nope is not a meshlog data directory: it does not exist"),
            "{missing}"
        );
        std::fs::write(dir.path.join("file"), "").unwrap();
        let file = resolve(&dir.path.join("file")).unwrap_err().to_string();
        assert!(file.contains("it is not a directory"), "{file}");
    }

    #[test]
    fn an_empty_data_directory_made_by_ingest_and_one_with_tables_are_fine() {
        let dir = TempDataDir::new("meta-only");
        std::fs::create_dir_all(dir.path.join(META_DIR)).unwrap();
        assert_eq!(resolve(&dir.path).unwrap(), std::fs::canonicalize(&dir.path).unwrap());
        let tables = TempDataDir::new("tables-only");
        std::fs::create_dir_all(tables.path.join(FAILOVERS_DIR)).unwrap();
        let dotted = tables.path.join(FAILOVERS_DIR).join("..");
        assert_eq!(resolve(&dotted).unwrap(), std::fs::canonicalize(&tables.path).unwrap());
    }
}
