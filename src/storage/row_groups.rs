//! Encoding a batch into a Parquet file's row groups: each row group's column
//! chunks are encoded on up to `threads` threads ([`super::parallel`]), then
//! appended to the file in schema order. The bytes written do not depend on the
//! number of threads.

use std::io::Write;

use arrow::array::ArrayRef;
use arrow::datatypes::Field;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::errors::Result;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::SchemaDescriptor;

use super::parallel::map_in_parallel;

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
        let chunks = encode_row_group(&group, file.schema_descr(), writers, threads)?;
        let mut group_writer = file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group_writer)?;
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
    writers: Vec<ArrowColumnWriter>,
    threads: usize,
) -> Result<Vec<ArrowColumnChunk>> {
    let schema = group.schema();
    let mut writers_by_field: Vec<Vec<ArrowColumnWriter>> =
        schema.fields().iter().map(|_| Vec::new()).collect();
    for (leaf, writer) in writers.into_iter().enumerate() {
        writers_by_field[leaves.get_column_root_idx(leaf)].push(writer);
    }
    let columns = schema.fields().iter().zip(group.columns()).zip(writers_by_field);
    let encoded = map_in_parallel(columns.collect(), threads, |((field, column), writers)| {
        encode_column(field, column, writers)
    });
    let mut chunks = Vec::with_capacity(leaves.num_columns());
    for field_chunks in encoded {
        chunks.extend(field_chunks?);
    }
    Ok(chunks)
}

/// Encodes one column of a row group: a chunk per leaf (one for a flat column).
fn encode_column(
    field: &Field,
    column: &ArrayRef,
    writers: Vec<ArrowColumnWriter>,
) -> Result<Vec<ArrowColumnChunk>> {
    let leaves = compute_leaves(field, column)?;
    let mut chunks = Vec::with_capacity(writers.len());
    for (leaf, mut writer) in leaves.iter().zip(writers) {
        writer.write(leaf)?;
        chunks.push(writer.close()?);
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Schema};
    use bytes::Bytes;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::properties::WriterProperties;

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
        write_row_groups(&mut writer, &columns, batch, 100, threads).unwrap();
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
    fn arrow_writer_bytes(batch: &RecordBatch) -> Vec<u8> {
        let properties = WriterProperties::builder().set_max_row_group_row_count(Some(100)).build();
        let mut writer =
            ArrowWriter::try_new(Vec::new(), batch.schema(), Some(properties)).unwrap();
        writer.write(batch).unwrap();
        writer.into_inner().unwrap()
    }

    #[test]
    fn the_file_is_the_one_arrow_writer_makes() {
        for rows_count in [1, 99, 100, 101, 350] {
            let batch = rows(rows_count);
            assert!(
                file_bytes(&batch, 2) == arrow_writer_bytes(&batch),
                "{rows_count} rows: other bytes than ArrowWriter::write"
            );
        }
    }

    #[test]
    fn no_rows_write_no_row_group() {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(Bytes::from(file_bytes(&rows(0), 2))).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 0);
    }
}
