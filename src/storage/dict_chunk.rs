//! Encoding a dictionary string column ([`super::dict_column`]) into a Parquet
//! column chunk from its keys, without the per-value hashing the Arrow writer does
//! to find them again: that hashing was the largest part of encoding a batch. The
//! chunk is laid out as the Arrow writer lays out the same strings: a `PLAIN`
//! dictionary page, then `RLE_DICTIONARY` data pages (v1) of at most the writer's
//! row limit, compressed alike, an offset index, and chunk statistics and a column
//! index where the writer's settings ask for them. Tests compare the two writers'
//! rows, statistics, encodings, pages and column indexes. What differs: the
//! dictionary holds only the values the chunk's rows use, sorted (so a page's
//! smallest and largest keys are its min and max); statistics keep values whole
//! where the Arrow writer truncates them to 64 bytes; and there are no size
//! statistics (unencoded byte counts, level histograms), which are optional and
//! which meshlog's readers do not use.

mod page_index;
mod pages;

use arrow::array::{Array, AsArray, DictionaryArray};
use arrow::datatypes::{DataType, UInt32Type};
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, PageType};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, ColumnChunkMetaDataBuilder, PageEncodingStats};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::statistics::Statistics;
use parquet::schema::types::{ColumnDescPtr, ColumnPath};

use super::rle_hybrid;
use page_index::PageIndex;
use pages::{Nulls, PageSink, WrittenPages};

/// A column chunk encoded in memory, to append to a row group as it is.
pub struct EncodedChunk {
    pub bytes: Bytes,
    pub close: ColumnCloseResult,
}

/// Whether chunks of the column at `path` can be encoded here with `properties`:
/// v1 data pages, zstd or no compression, no bloom filter. Otherwise the Arrow
/// writer encodes them.
pub fn supports(properties: &WriterProperties, path: &ColumnPath) -> bool {
    properties.writer_version() == WriterVersion::PARQUET_1_0
        && matches!(properties.compression(path), Compression::ZSTD(_) | Compression::UNCOMPRESSED)
        && properties.bloom_filter_properties(path).is_none()
}

/// The column as a dictionary this module can encode: `UInt32` keys into `Utf8`
/// values that are not null, and at least one row that is not null.
pub fn as_encodable(column: &dyn Array) -> Option<&DictionaryArray<UInt32Type>> {
    let dictionary = column.as_dictionary_opt::<UInt32Type>()?;
    let values = dictionary.values();
    let encodable = values.data_type() == &DataType::Utf8
        && values.null_count() == 0
        && dictionary.null_count() < dictionary.len();
    encodable.then_some(dictionary)
}

/// The chunk's dictionary, and its rows' keys into it.
struct Remapped {
    /// The distinct values the rows use, sorted.
    values: Vec<Vec<u8>>,
    /// The key of each row that is not null, in row order.
    keys: Vec<u32>,
}

/// Gives the values the rows use new keys, in the values' sorted order.
fn remap(column: &DictionaryArray<UInt32Type>) -> Remapped {
    let values = column.values().as_string::<i32>();
    let keys = column.keys();
    let present: Vec<u32> = match keys.nulls() {
        Some(nulls) => nulls.valid_indices().map(|row| keys.values()[row]).collect(),
        None => keys.values().to_vec(),
    };
    let mut new_key = vec![u32::MAX; values.len()];
    for key in &present {
        new_key[*key as usize] = 0;
    }
    let mut used: Vec<u32> =
        (0..new_key.len()).filter(|old| new_key[*old] == 0).map(|old| old as u32).collect();
    used.sort_unstable_by_key(|old| values.value(*old as usize));
    for (rank, old) in used.iter().enumerate() {
        new_key[*old as usize] = rank as u32;
    }
    Remapped {
        values: used.iter().map(|old| values.value(*old as usize).as_bytes().to_vec()).collect(),
        keys: present.iter().map(|key| new_key[*key as usize]).collect(),
    }
}

/// Encodes `column` (a row group's rows of one column, see [`as_encodable`]).
pub fn encode(
    column: &DictionaryArray<UInt32Type>,
    descr: ColumnDescPtr,
    properties: &WriterProperties,
) -> Result<EncodedChunk> {
    let path = descr.path();
    let compression = properties.compression(path);
    let zstd_level = match compression {
        Compression::ZSTD(level) => Some(level.compression_level()),
        Compression::UNCOMPRESSED => None,
        _ => return Err(ParquetError::General(format!("{path}: {compression} is not supported"))),
    };
    let nullable = descr.max_def_level() > 0;
    if !nullable && column.null_count() > 0 {
        return Err(ParquetError::General(format!("{path}: nulls in a required column")));
    }
    let statistics = properties.statistics_enabled(path);
    let remapped = remap(column);
    let mut pages = PageSink::new(zstd_level)?;
    pages.write_dictionary(&remapped.values)?;
    let width = rle_hybrid::bit_width(remapped.values.len().saturating_sub(1) as u32);
    let page_rows = properties.data_page_row_count_limit().max(1);
    let mut column_index = PageIndex::new();
    let mut keys_written = 0;
    for first_row in (0..column.len()).step_by(page_rows) {
        let page = column.slice(first_row, page_rows.min(column.len() - first_row));
        let values = page.len() - page.null_count();
        let keys = &remapped.keys[keys_written..keys_written + values];
        keys_written += values;
        let nulls = if nullable { Nulls::Of(page.nulls()) } else { Nulls::None };
        pages.write_data_page(page.len(), nulls, keys, width)?;
        if statistics == EnabledStatistics::Page {
            column_index.append(&remapped.values, keys, page.len() - values);
        }
    }
    let pages = pages.finish()?;
    let mut metadata = chunk_metadata(descr.clone(), compression, &pages, column.len());
    if statistics != EnabledStatistics::None {
        metadata = metadata.set_statistics(chunk_statistics(&remapped, column.len()));
    }
    let column_index = (statistics == EnabledStatistics::Page).then(|| column_index.build());
    let close = ColumnCloseResult {
        bytes_written: pages.compressed_bytes,
        rows_written: column.len() as u64,
        metadata: metadata.build()?,
        bloom_filter: None,
        column_index: column_index.transpose()?,
        offset_index: (!properties.offset_index_disabled()).then_some(pages.offset_index),
    };
    Ok(EncodedChunk { bytes: pages.bytes, close })
}

/// The chunk's metadata but its statistics: `rows` rows in `pages`.
fn chunk_metadata(
    descr: ColumnDescPtr,
    compression: Compression,
    pages: &WrittenPages,
    rows: usize,
) -> ColumnChunkMetaDataBuilder {
    let page_counts = [
        (PageType::DICTIONARY_PAGE, Encoding::PLAIN, 1),
        (PageType::DATA_PAGE, Encoding::RLE_DICTIONARY, pages.data_pages),
    ];
    let page_counts = page_counts.map(|(page_type, encoding, count)| PageEncodingStats {
        page_type,
        encoding,
        count,
    });
    ColumnChunkMetaData::builder(descr)
        .set_compression(compression)
        .set_encodings(vec![Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY])
        .set_page_encoding_stats(page_counts.to_vec())
        .set_total_compressed_size(pages.compressed_bytes as i64)
        .set_total_uncompressed_size(pages.uncompressed_bytes as i64)
        .set_num_values(rows as i64)
        .set_dictionary_page_offset(Some(0))
        .set_data_page_offset(pages.first_data_page)
}

/// The chunk's min and max (the first and last of its sorted dictionary) and nulls.
fn chunk_statistics(remapped: &Remapped, rows: usize) -> Statistics {
    let min = remapped.values.first().cloned().map(ByteArray::from);
    let max = remapped.values.last().cloned().map(ByteArray::from);
    let nulls = (rows - remapped.keys.len()) as u64;
    Statistics::byte_array(min, max, None, Some(nulls), false)
}
