//! The marker `_meshlog/rollups-complete`: present when the rollup tables count
//! every `requests` row of the directory. A directory gets it when it is first
//! opened for writing with no `requests` rows yet (every commit since writes its
//! rollups), or when `meshlog rollup` has rolled up every day. Named queries read
//! the rollups only then; without it they read `requests`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::StorageError;
use super::layout::META_DIR;
use super::parquet_file::sync_dir;

const MARKER: &str = "rollups-complete";

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(META_DIR).join(MARKER)
}

/// Whether the rollups of `data_dir` count every `requests` row.
pub fn rollups_complete(data_dir: &Path) -> bool {
    path(data_dir).is_file()
}

/// Records, durably, that the rollups of `data_dir` count every `requests` row.
pub fn mark_rollups_complete(data_dir: &Path) -> Result<(), StorageError> {
    let marker = path(data_dir);
    if marker.is_file() {
        return Ok(());
    }
    let written = File::create(&marker).and_then(|mut file| {
        file.write_all(b"the rollup tables count every requests row\n")?;
        file.sync_all()
    });
    written.map_err(|source| StorageError::Io { action: "write", path: marker, source })?;
    sync_dir(&data_dir.join(META_DIR))
}
