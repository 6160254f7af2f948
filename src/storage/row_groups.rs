//! Encoding a batch into a Parquet file's row groups: each row group's column
//! chunks are encoded on up to `threads` threads ([`super::parallel`]), then
//! appended to the file in schema order. The bytes written do not depend on the
//! number of threads. A dictionary string column (`with_dictionaries` in
//! [`super::parquet_file`], or a batch built so) is encoded from its keys
//! ([`super::dict_chunk`]); every other column by the Arrow writer.

use std::io::Write;

use arrow::array::ArrayRef;
use arrow::datatypes::Field;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::errors::Result;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::types::{ColumnDescPtr, SchemaDescriptor};

use super::dict_chunk::{self, EncodedChunk};
use super::parallel::map_in_parallel;

/// One column chunk of a row group, encoded and waiting to be appended.
enum Chunk {
    Arrow(ArrowColumnChunk),
    Dictionary(EncodedChunk),
}

impl Chunk {
    fn append_to<W: Write + Send>(self, group: &mut SerializedRowGroupWriter<'_, W>) -> Result<()> {
        match self {
            Chunk::Arrow(chunk) => chunk.append_to_row_group(group),
            Chunk::Dictionary(chunk) => group.append_column(&chunk.bytes, chunk.close),
        }
    }
}

/// Writes `batch` to `file` as row groups of at most `group_rows` rows.
pub fn write_row_groups<W: Write + Send>(
    file: &mut SerializedFileWriter<W>,
    columns: &ArrowRowGroupWriterFactory,
    batch: &RecordBatch,
    group_rows: usize,
    threads: usize,
) -> Result<()> {
    let group_rows = group_rows.max(1);
    let mut start = 0;
    while start < batch.num_rows() {
        let group = batch.slice(start, group_rows.min(batch.num_rows() - start));
        let writers = columns.create_column_writers(start / group_rows)?;
        let properties = file.properties().clone();
        let chunks = encode_row_group(&group, file.schema_descr(), &properties, writers, threads)?;
        let mut group_writer = file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to(&mut group_writer)?;
        }
        group_writer.close()?;
        start += group.num_rows();
    }
    Ok(())
}

/// Encodes one row group's column chunks, in schema order.
fn encode_row_group(
    group: &RecordBatch,
    leaves: &SchemaDescriptor,
    properties: &WriterProperties,
    writers: Vec<ArrowColumnWriter>,
    threads: usize,
) -> Result<Vec<Chunk>> {
    let schema = group.schema();
    let mut writers_by_field: Vec<Vec<(usize, ArrowColumnWriter)>> =
        schema.fields().iter().map(|_| Vec::new()).collect();
    for (leaf, writer) in writers.into_iter().enumerate() {
        writers_by_field[leaves.get_column_root_idx(leaf)].push((leaf, writer));
    }
    let columns = schema.fields().iter().zip(group.columns()).zip(writers_by_field);
    let encoded = map_in_parallel(columns.collect(), threads, |((field, column), writers)| {
        if let [(leaf, _)] = writers.as_slice()
            && let Some(chunk) = encode_dictionary(column, leaves.column(*leaf), properties)
        {
            return Ok(vec![Chunk::Dictionary(chunk?)]);
        }
        encode_column(field, column, writers.into_iter().map(|(_, writer)| writer))
    });
    let mut chunks = Vec::with_capacity(leaves.num_columns());
    for field_chunks in encoded {
        chunks.extend(field_chunks?);
    }
    Ok(chunks)
}

/// Encodes a dictionary column from its keys ([`dict_chunk`]), if the file stores it
/// with a dictionary and the chunk can be written that way; `None` leaves it to the
/// Arrow writer.
fn encode_dictionary(
    column: &ArrayRef,
    leaf: ColumnDescPtr,
    properties: &WriterProperties,
) -> Option<Result<EncodedChunk>> {
    let path = leaf.path();
    let wanted = properties.dictionary_enabled(path) && dict_chunk::supports(properties, path);
    let dictionary = dict_chunk::as_encodable(column.as_ref()).filter(|_| wanted)?;
    Some(dict_chunk::encode(dictionary, leaf, properties))
}

/// Encodes one column of a row group: a chunk per leaf (one for a flat column).
fn encode_column(
    field: &Field,
    column: &ArrayRef,
    writers: impl Iterator<Item = ArrowColumnWriter>,
) -> Result<Vec<Chunk>> {
    let leaves = compute_leaves(field, column)?;
    let mut chunks = Vec::with_capacity(leaves.len());
    for (leaf, mut writer) in leaves.iter().zip(writers) {
        writer.write(leaf)?;
        chunks.push(Chunk::Arrow(writer.close()?));
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use arrow::array::{DictionaryArray, Int64Array, StringArray, UInt32Array};
    use arrow::datatypes::{DataType, Schema};
    use bytes::Bytes;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::metadata::PageIndexPolicy;
    use parquet::file::page_index::column_index::ColumnIndexMetaData;

    use super::*;

    fn rows(count: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("word", DataType::Utf8, true),
            Field::new("id", DataType::Utf8, false),
        ]));
        let words = (0..count).map(|n| (n % 5 != 0).then(|| ["a", "bb", "ccc"][n as usize % 3]));
        let ids = (0..count).map(|n| format!("request-{n:08}"));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(0..count)),
            Arc::new(words.collect::<StringArray>()),
            Arc::new(ids.map(Some).collect::<StringArray>()),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    fn file_bytes(batch: &RecordBatch, threads: usize) -> Vec<u8> {
        let writer = ArrowWriter::try_new(Vec::new(), batch.schema(), None).unwrap();
        let (mut writer, columns) = writer.into_serialized_writer().unwrap();
        let batch = crate::storage::parquet_file::with_dictionaries(batch, threads).unwrap();
        write_row_groups(&mut writer, &columns, &batch, 100, threads).unwrap();
        writer.into_inner().unwrap()
    }

    #[test]
    fn the_file_is_the_same_on_any_number_of_threads() {
        let batch = rows(350);
        let serial = file_bytes(&batch, 1);
        for threads in [2, 3, 8] {
            assert!(file_bytes(&batch, threads) == serial, "{threads} threads wrote other bytes");
        }
        let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(serial)).unwrap();
        let groups: Vec<i64> =
            reader.metadata().row_groups().iter().map(|group| group.num_rows()).collect();
        assert_eq!(groups, [100, 100, 100, 50]);
        let read: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        assert_eq!(arrow::compute::concat_batches(&batch.schema(), &read).unwrap(), batch);
    }

    /// The file `ArrowWriter::write` makes of `batch`, with the same row groups.
    fn arrow_writer_bytes(batch: &RecordBatch, properties: WriterProperties) -> Vec<u8> {
        let schema = crate::storage::schema::stored(&batch.schema());
        let columns = schema.fields().iter().zip(batch.columns());
        let columns =
            columns.map(|(field, column)| arrow::compute::cast(column, field.data_type()));
        let batch =
            RecordBatch::try_new(schema.clone(), columns.collect::<Result<_, _>>().unwrap());
        let batch = batch.unwrap();
        let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.into_inner().unwrap()
    }

    /// The file `write_row_groups` makes of `batch`, its strings looked up in
    /// dictionaries first, as the stager does.
    fn dictionary_bytes(batch: &RecordBatch, properties: WriterProperties) -> Vec<u8> {
        let batch = crate::storage::parquet_file::with_dictionaries(batch, 2).unwrap();
        for column in batch.columns() {
            assert!(matches!(column.data_type(), DataType::Dictionary(..)));
        }
        row_groups_bytes(&batch, properties)
    }

    /// The file `write_row_groups` makes of `batch`.
    fn row_groups_bytes(batch: &RecordBatch, properties: WriterProperties) -> Vec<u8> {
        let schema = crate::storage::schema::stored(&batch.schema());
        let writer = ArrowWriter::try_new(Vec::new(), schema, Some(properties)).unwrap();
        let (mut writer, columns) = writer.into_serialized_writer().unwrap();
        write_row_groups(&mut writer, &columns, batch, 100, 2).unwrap();
        writer.into_inner().unwrap()
    }

    #[test]
    fn without_dictionaries_the_file_is_the_one_arrow_writer_makes() {
        let properties = || {
            WriterProperties::builder()
                .set_max_row_group_row_count(Some(100))
                .set_dictionary_enabled(false)
                .build()
        };
        for rows_count in [1, 99, 100, 101, 350] {
            let batch = rows(rows_count);
            assert!(
                row_groups_bytes(&batch, properties()) == arrow_writer_bytes(&batch, properties()),
                "{rows_count} rows: other bytes than ArrowWriter::write"
            );
        }
    }

    /// String columns of every shape a dictionary chunk meets: nulls here and there,
    /// pages of nulls only, a row group of nulls only, one value, hundreds of values
    /// (keys wider than a byte), bytes beyond ASCII, and a dictionary built in memory
    /// with values no row uses and nulls whose key points anywhere.
    fn strings(count: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("word", DataType::Utf8, true),
            Field::new("rare", DataType::Utf8, true),
            Field::new("late", DataType::Utf8, true),
            Field::new("same", DataType::Utf8, false),
            Field::new("many", DataType::Utf8, false),
            Field::new(
                "built",
                DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8)),
                true,
            ),
        ]));
        let words = ["GET", "POST", "ünïcödé", "日本", "", "DELETE"];
        let word = (0..count).map(|n| (n % 5 != 0).then(|| words[n * 7 % 6]));
        let rare = (0..count).map(|n| (n % 37 == 3).then(|| format!("rare-{}", n % 4)));
        let late = (0..count).map(|n| (n >= 150).then(|| format!("late-{}", n / 40)));
        let many = (0..count).map(|n| Some(format!("/api/item/{}", n * 13 % 300)));
        let keys: UInt32Array =
            (0..count as u32).map(|n| if n % 3 == 0 { None } else { Some(n % 4 + 1) }).collect();
        let values = StringArray::from(vec!["unused", "b", "a", "d", "c", "never"]);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(word.collect::<StringArray>()),
            Arc::new(rare.collect::<StringArray>()),
            Arc::new(late.collect::<StringArray>()),
            Arc::new(StringArray::from(vec!["cluster1"; count])),
            Arc::new(many.collect::<StringArray>()),
            Arc::new(DictionaryArray::new(keys, Arc::new(values))),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    fn dictionary_properties(compression: Compression) -> WriterProperties {
        WriterProperties::builder()
            .set_max_row_group_row_count(Some(100))
            .set_compression(compression)
            .set_data_page_row_count_limit(8)
            .set_write_batch_size(8)
            .build()
    }

    /// A file's rows, and per column chunk what readers rely on: values, nulls, min
    /// and max, encodings, pages (rows, nulls, bounds, order).
    fn contents(bytes: Vec<u8>) -> (Vec<RecordBatch>, Vec<String>) {
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
        let reader =
            ParquetRecordBatchReaderBuilder::try_new_with_options(Bytes::from(bytes), options)
                .unwrap();
        let metadata = reader.metadata().clone();
        let mut chunks = Vec::new();
        for (group_index, group) in metadata.row_groups().iter().enumerate() {
            for (column_index, chunk) in group.columns().iter().enumerate() {
                let stats = chunk.statistics().map(|stats| {
                    (
                        stats.min_bytes_opt().map(<[u8]>::to_vec),
                        stats.max_bytes_opt().map(<[u8]>::to_vec),
                        stats.null_count_opt(),
                    )
                });
                let mut encodings: Vec<_> = chunk.encodings().collect();
                encodings.sort_by_key(|encoding| format!("{encoding:?}"));
                let pages: Vec<i64> = metadata.offset_index().unwrap()[group_index][column_index]
                    .page_locations()
                    .iter()
                    .map(|page| page.first_row_index)
                    .collect();
                let index = &metadata.column_index().unwrap()[group_index][column_index];
                chunks.push(format!(
                    "{} group {group_index}: {} values, {:?}, stats {stats:?}, \
                     dictionary page {}, {encodings:?}, pages at {pages:?}, index {}",
                    chunk.column_path(),
                    chunk.num_values(),
                    chunk.compression(),
                    chunk.dictionary_page_offset().is_some(),
                    page_index_summary(index),
                ));
            }
        }
        let rows = reader.build().unwrap().map(Result::unwrap).collect();
        (rows, chunks)
    }

    fn page_index_summary(index: &ColumnIndexMetaData) -> String {
        let ColumnIndexMetaData::BYTE_ARRAY(pages) = index else { return format!("{index:?}") };
        let text =
            |bytes: Option<&[u8]>| bytes.map(|bytes| String::from_utf8_lossy(bytes).into_owned());
        let bounds: Vec<_> = (0..pages.num_pages() as usize)
            .map(|page| {
                (
                    pages.is_null_page(page),
                    text(pages.min_value(page)),
                    text(pages.max_value(page)),
                    pages.null_count(page),
                )
            })
            .collect();
        format!("{bounds:?} {:?}", index.get_boundary_order())
    }

    #[test]
    fn dictionary_chunks_hold_what_arrow_writer_writes() {
        for compression in [Compression::ZSTD(ZstdLevel::default()), Compression::UNCOMPRESSED] {
            for count in [1, 9, 100, 250] {
                let batch = strings(count);
                let (rows, chunks) =
                    contents(dictionary_bytes(&batch, dictionary_properties(compression)));
                let (expected_rows, expected_chunks) =
                    contents(arrow_writer_bytes(&batch, dictionary_properties(compression)));
                assert_eq!(rows, expected_rows, "{count} rows, {compression}");
                assert_eq!(chunks.len(), expected_chunks.len());
                for (chunk, expected) in chunks.iter().zip(&expected_chunks) {
                    assert_eq!(chunk, expected, "{count} rows, {compression}");
                }
            }
        }
    }

    proptest::proptest! {
        /// Any mix of values and nulls reads back as written, with the metadata the
        /// Arrow writer gives it.
        #[test]
        fn any_strings_hold_what_arrow_writer_writes(
            values in proptest::collection::vec(proptest::option::weighted(0.8, "[a-d]{0,3}|x{40}"), 1..300)
        ) {
            let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
            let column: ArrayRef = Arc::new(values.iter().map(Option::as_deref).collect::<StringArray>());
            let batch = RecordBatch::try_new(schema, vec![column]).unwrap();
            let properties = || dictionary_properties(Compression::ZSTD(ZstdLevel::default()));
            let ours = contents(dictionary_bytes(&batch, properties()));
            proptest::prop_assert_eq!(ours, contents(arrow_writer_bytes(&batch, properties())));
        }
    }

    #[test]
    fn dictionary_chunks_are_smaller_than_a_page_of_plain_keys() {
        let batch = strings(250);
        let ours = dictionary_bytes(&batch, dictionary_properties(Compression::UNCOMPRESSED));
        let arrow = arrow_writer_bytes(&batch, dictionary_properties(Compression::UNCOMPRESSED));
        // Same encodings, so about the same size: a sign the keys are bit-packed.
        assert!(ours.len() <= arrow.len() * 11 / 10, "{} vs {} bytes", ours.len(), arrow.len());
    }

    #[test]
    fn no_rows_write_no_row_group() {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(Bytes::from(file_bytes(&rows(0), 2))).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 0);
    }
}
