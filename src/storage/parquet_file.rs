//! Writing Parquet files so that readers never see one half-written: a file is
//! staged (written under `_meshlog/tmp/`), then published: fsynced, renamed into
//! its partition directory, and the directory fsynced. Staging and publishing are
//! apart so that a commit's fsyncs can overlap the encoding of the next one.
//! Strings are dictionary-encoded (nearly unique ones as delta lengths and bytes),
//! pages are zstd, the time column is delta-encoded, and the file records that it
//! is sorted by it. Row groups are encoded by [`super::row_groups`], on as many
//! threads as the file is given.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::{ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::StorageError;
use super::dict_column::dictionary_of;
use super::layout::Layout;
use super::row_groups::write_row_groups;

/// Rows per row group: large enough for good compression, small enough that the
/// writer's buffers stay well under the ingest memory budget.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Columns whose values are nearly all distinct (a request id, an ephemeral
/// `ip:port`): a dictionary only costs time there, so they are written plain.
const HIGH_CARDINALITY: [&str; 4] =
    ["request_id", "upstream_local_address", "downstream_remote_address", "x_forwarded_for"];

/// String columns that keep min/max statistics. A string column's min and max cost a
/// comparison per value and, in rows sorted by time, span nearly every value, so they
/// prune nothing; `source_cluster` is the exception (one reporting cluster per file,
/// usually). Numbers and times always keep theirs (`ts` prunes row groups).
const STRING_STATISTICS: [&str; 1] = ["source_cluster"];

/// The rollups' latency sketches: nearly all distinct, small beside `requests`
/// (zstd would shrink them about threefold), and read by every latency panel.
/// Stored plain and uncompressed, a panel does not pay a decompression per query.
const PLAIN_UNCOMPRESSED: [&str; 1] = ["duration_ms_sketch"];

/// `batch` with each plain string column that files store with a dictionary turned
/// into one (unless its distinct values are too many), on up to `threads` threads.
pub fn with_dictionaries(
    batch: &RecordBatch,
    threads: usize,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let schema = batch.schema();
    let fields_and_columns: Vec<_> = schema.fields().iter().zip(batch.columns()).collect();
    let columns =
        super::parallel::map_in_parallel(fields_and_columns, threads, |(field, column)| {
            as_stored_dictionary(field, column.clone())
        });
    RecordBatch::try_new(super::schema::with_column_types(&schema, &columns), columns)
}

/// `column` (of `field`) as a dictionary when it is plain strings that files store
/// with one, unless its distinct values are too many; else as it is.
pub fn as_stored_dictionary(field: &Field, column: ArrayRef) -> ArrayRef {
    if HIGH_CARDINALITY.contains(&field.name().as_str()) {
        return column;
    }
    let dictionary = column.as_string_opt::<i32>().and_then(dictionary_of);
    dictionary.unwrap_or(column)
}

/// The key, in a table file's footer, of the commit it was written for (JSON: its
/// number and the checkpoints it reaches), from which `meshlog repair` rebuilds a
/// damaged commit log.
pub const COMMIT_KEY: &str = "meshlog.commit";

/// The writer settings of every table file.
fn properties(schema: &Schema, sorted_by: Option<usize>, commit: Option<&str>) -> WriterProperties {
    let sorting = sorted_by.map(|column| {
        let column_idx = i32::try_from(column).unwrap_or(0);
        vec![SortingColumn { column_idx, descending: false, nulls_first: false }]
    });
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_dictionary_enabled(true)
        .set_sorting_columns(sorting)
        .set_key_value_metadata(
            commit.map(|commit| vec![KeyValue::new(COMMIT_KEY.to_owned(), commit.to_owned())]),
        );
    for column in HIGH_CARDINALITY {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    for column in PLAIN_UNCOMPRESSED {
        builder = builder
            .set_column_dictionary_enabled(ColumnPath::from(column), false)
            .set_column_compression(ColumnPath::from(column), Compression::UNCOMPRESSED);
    }
    // Strings without a dictionary (those above, and a dictionary column once its
    // dictionary is full: paths, user agents) are written as their lengths, delta-
    // encoded, then their bytes: no length prefix per value for zstd to wade through.
    for field in schema.fields().iter().filter(|field| field.data_type() == &DataType::Utf8) {
        let path = ColumnPath::from(field.name().as_str());
        builder = builder.set_column_encoding(path, Encoding::DELTA_LENGTH_BYTE_ARRAY);
    }
    // The sorted time column is nearly all distinct and ascending: deltas, not a dictionary.
    if let Some(time) = sorted_by.and_then(|column| schema.fields().get(column)) {
        let path = ColumnPath::from(time.name().as_str());
        builder = builder
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
    }
    let unpruned_strings = schema.fields().iter().filter(|field| {
        field.data_type() == &DataType::Utf8 && !STRING_STATISTICS.contains(&field.name().as_str())
    });
    for field in unpruned_strings {
        builder = builder.set_column_statistics_enabled(
            ColumnPath::from(field.name().as_str()),
            EnabledStatistics::None,
        );
    }
    builder.build()
}

/// One file to write: its rows and where it goes, relative to the data directory.
pub struct TableFile<'b> {
    pub batch: &'b RecordBatch,
    /// e.g. `requests/date=2026-11-01/hour=10/0000000042-1.parquet`.
    pub relative_path: PathBuf,
    /// The column the rows are sorted by, recorded in the file's metadata.
    pub sorted_by: Option<usize>,
    /// Threads to share the encoding of each row group's columns between.
    pub threads: usize,
    /// The commit it is written for, as [`COMMIT_KEY`] holds it.
    pub commit: Option<&'b str>,
}

/// A file written under `_meshlog/tmp/` and closed (a commit can stage a file per
/// hour it spans), not yet durable nor in its table: see [`publish_files`].
pub struct StagedFile {
    tmp: PathBuf,
    /// Where it goes, relative to the data directory.
    pub relative_path: PathBuf,
}

/// Writes `file` into the data directory atomically.
pub fn write_atomically(layout: &Layout, file: &TableFile<'_>) -> Result<(), StorageError> {
    publish_files(layout, vec![stage(layout, file)?])
}

/// Writes `file` under `_meshlog/tmp/`, without waiting for the disk.
pub fn stage(layout: &Layout, file: &TableFile<'_>) -> Result<StagedFile, StorageError> {
    let tmp = tmp_path(layout, &file.relative_path);
    write_parquet(&tmp, file)?;
    Ok(StagedFile { tmp, relative_path: file.relative_path.clone() })
}

/// Where the file that goes to `relative` is staged: its whole relative path in
/// one name, since files of one commit in different tables can share a name.
fn tmp_path(layout: &Layout, relative: &Path) -> PathBuf {
    let parts: Vec<_> = relative.iter().map(|part| part.to_string_lossy()).collect();
    layout.tmp_dir().join(parts.join("~"))
}

/// Makes staged files durable and visible: fsyncs each, renames each into place,
/// then fsyncs each directory that gained one, once. Once this returns, a crash
/// keeps every one of them.
pub fn publish_files(layout: &Layout, files: Vec<StagedFile>) -> Result<(), StorageError> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for file in files {
        let handle =
            File::open(&file.tmp).map_err(|source| StorageError::io("open", &file.tmp, source))?;
        handle.sync_all().map_err(|source| StorageError::io("fsync", &file.tmp, source))?;
        let target = layout.path(&file.relative_path);
        let dir = target.parent().unwrap_or(layout.root());
        if !dirs.iter().any(|seen| seen == dir) {
            create_dir_synced(dir)?;
            dirs.push(dir.to_path_buf());
        }
        fs::rename(&file.tmp, &target)
            .map_err(|source| StorageError::io("rename into", &target, source))?;
    }
    dirs.iter().try_for_each(|dir| sync_dir(dir))
}

fn write_parquet(path: &Path, file: &TableFile<'_>) -> Result<(), StorageError> {
    let batch = file.batch;
    let handle = File::create(path).map_err(|source| StorageError::io("create", path, source))?;
    let buffered = BufWriter::with_capacity(1 << 20, handle);
    let parquet_error = |source| StorageError::Parquet { path: path.into(), source };
    let schema = super::schema::stored(&batch.schema());
    let properties = properties(&schema, file.sorted_by, file.commit);
    let writer = ArrowWriter::try_new(buffered, schema, Some(properties)).map_err(parquet_error)?;
    let (mut writer, columns) = writer.into_serialized_writer().map_err(parquet_error)?;
    write_row_groups(&mut writer, &columns, batch, ROW_GROUP_ROWS, file.threads)
        .map_err(parquet_error)?;
    let buffered = writer.into_inner().map_err(parquet_error)?;
    buffered.into_inner().map_err(|error| StorageError::io("flush", path, error.into_error()))?;
    Ok(())
}

/// Creates `dir` and its missing parents, fsyncing each parent that gained an entry.
/// A relative `dir` (`data`) has the current directory as its parent.
pub fn create_dir_synced(dir: &Path) -> Result<(), StorageError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_synced(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(source) => return Err(StorageError::io("create directory", dir, source)),
    }
    dir.parent().map_or(Ok(()), sync_dir)
}

/// Fsyncs a directory so that a rename or a new entry in it survives a crash.
/// An empty path (the parent of a bare relative name) is the current directory.
pub fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let handle =
        File::open(dir).map_err(|source| StorageError::io("open directory", dir, source))?;
    handle.sync_all().map_err(|source| StorageError::io("fsync directory", dir, source))
}

/// Writes a small file under `_meshlog/tmp/`, to [`publish_files`] as `relative`.
pub fn stage_bytes(
    layout: &Layout,
    relative: &Path,
    bytes: &[u8],
) -> Result<StagedFile, StorageError> {
    let tmp = tmp_path(layout, relative);
    let mut handle =
        File::create(&tmp).map_err(|source| StorageError::io("create", &tmp, source))?;
    handle.write_all(bytes).map_err(|source| StorageError::io("write", &tmp, source))?;
    Ok(StagedFile { tmp, relative_path: relative.to_path_buf() })
}

/// A Parquet file's path relative to the data directory.
pub fn relative(table: &str, partition: Option<&str>, name: &str) -> PathBuf {
    let mut path = PathBuf::from(table);
    if let Some(partition) = partition {
        path.push(partition);
    }
    path.push(name);
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    #[test]
    fn a_written_file_reads_back_and_leaves_no_temp_file() {
        let root = std::env::temp_dir().join(format!("meshlog-pq-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let layout = Layout::new(&root);
        create_dir_synced(&layout.tmp_dir()).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("request_id", DataType::Utf8, false),
        ]));
        let ids = Arc::new(StringArray::from(vec!["a", "b", "c"]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2, 3])), ids])
                .unwrap();
        let relative_path = relative("t", Some("date=2026-11-01/hour=10"), "a.parquet");
        write_atomically(
            &layout,
            &TableFile {
                commit: None,
                batch: &batch,
                relative_path: relative_path.clone(),
                sorted_by: Some(0),
                threads: 1,
            },
        )
        .unwrap();
        let file = File::open(layout.path(&relative_path)).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let time_chunk = builder.metadata().row_group(0).column(0);
        assert!(
            time_chunk.dictionary_page_offset().is_none(),
            "the sorted column has no dictionary"
        );
        assert!(
            time_chunk
                .encodings()
                .any(|encoding| encoding == parquet::basic::Encoding::DELTA_BINARY_PACKED),
            "the sorted column is delta-encoded"
        );
        let id_chunk = builder.metadata().row_group(0).column(1);
        assert!(
            id_chunk.encodings().any(|encoding| encoding == Encoding::DELTA_LENGTH_BYTE_ARRAY),
            "nearly unique strings are written as lengths and bytes"
        );
        let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
        assert_eq!(batches, [batch]);
        assert_eq!(fs::read_dir(layout.tmp_dir()).unwrap().count(), 0);
        fs::remove_dir_all(&root).unwrap();
    }
}
