//! Writing a dictionary chunk's pages (see the parent module) into memory: the
//! dictionary page, then data pages, each compressed, behind its header, with the
//! sizes and offsets the chunk's metadata and offset index need.

use arrow::buffer::NullBuffer;
use bytes::Bytes;
use parquet::basic::Encoding;
use parquet::column::page::{CompressedPage, Page, PageWriteSpec, PageWriter};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::OffsetIndexBuilder;
use parquet::file::page_index::offset_index::OffsetIndexMetaData;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};

use super::super::rle_hybrid;

/// A chunk's pages, written one after the other from offset 0.
pub struct PageSink {
    sink: TrackedWrite<Vec<u8>>,
    compressor: Compressor,
    offsets: OffsetIndexBuilder,
    compressed_bytes: u64,
    uncompressed_bytes: u64,
    first_data_page: Option<i64>,
    data_pages: i32,
}

/// Whether a page's rows can be null, and which are.
#[derive(Clone, Copy)]
pub enum Nulls<'a> {
    /// A required column: no definition levels.
    None,
    /// A nullable column: a definition level per row, from these nulls (none if
    /// `None`).
    Of(Option<&'a NullBuffer>),
}

/// A chunk's pages once written.
pub struct WrittenPages {
    /// The pages, headers included, from the dictionary page.
    pub bytes: Bytes,
    pub offset_index: OffsetIndexMetaData,
    /// Sizes of the pages, headers included: compressed, and before compression.
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
    /// Where the first data page starts, and how many there are.
    pub first_data_page: i64,
    pub data_pages: i32,
}

impl PageSink {
    /// Pages compressed with zstd at `zstd_level`, or not compressed for `None`.
    pub fn new(zstd_level: Option<i32>) -> Result<Self> {
        Ok(PageSink {
            sink: TrackedWrite::new(Vec::new()),
            compressor: Compressor::new(zstd_level)?,
            offsets: OffsetIndexBuilder::new(),
            compressed_bytes: 0,
            uncompressed_bytes: 0,
            first_data_page: None,
            data_pages: 0,
        })
    }

    /// Writes the dictionary page: `values`, sorted, as `PLAIN` byte arrays.
    pub fn write_dictionary(&mut self, values: &[Vec<u8>]) -> Result<()> {
        let plain = plain_values(values);
        let page = Page::DictionaryPage {
            buf: self.compressor.compress(&plain)?,
            num_values: values.len() as u32,
            encoding: Encoding::PLAIN,
            is_sorted: true,
        };
        self.write(page, plain.len()).map(|_| ())
    }

    /// Writes a data page of `rows` rows: which are null, and the keys of the
    /// others in `width` bits.
    pub fn write_data_page(
        &mut self,
        rows: usize,
        nulls: Nulls<'_>,
        keys: &[u32],
        width: u8,
    ) -> Result<()> {
        let levels = match nulls {
            Nulls::None => None,
            Nulls::Of(nulls) => Some(definition_levels(nulls, rows)),
        };
        let body = data_page_body(levels.as_deref(), keys, width);
        let page = Page::DataPage {
            buf: self.compressor.compress(&body)?,
            num_values: rows as u32,
            encoding: Encoding::RLE_DICTIONARY,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        let spec = self.write(page, body.len())?;
        self.first_data_page.get_or_insert(spec.offset as i64);
        self.data_pages += 1;
        self.offsets.append_row_count(rows as i64);
        self.offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
        Ok(())
    }

    fn write(&mut self, page: Page, uncompressed_size: usize) -> Result<PageWriteSpec> {
        let page = CompressedPage::new(page, uncompressed_size);
        let spec = SerializedPageWriter::new(&mut self.sink).write_page(page)?;
        self.compressed_bytes += spec.compressed_size as u64;
        self.uncompressed_bytes += spec.uncompressed_size as u64;
        Ok(spec)
    }

    /// The pages, their offset index and sizes.
    pub fn finish(self) -> Result<WrittenPages> {
        Ok(WrittenPages {
            bytes: Bytes::from(self.sink.into_inner()?),
            offset_index: self.offsets.build(),
            compressed_bytes: self.compressed_bytes,
            uncompressed_bytes: self.uncompressed_bytes,
            first_data_page: self.first_data_page.unwrap_or(0),
            data_pages: self.data_pages,
        })
    }
}

/// Values as `PLAIN` byte arrays: each one's length (four bytes, little-endian),
/// then its bytes.
fn plain_values(values: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.iter().map(|value| value.len() + 4).sum());
    for value in values {
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
    }
    out
}

/// The definition levels of a page of `rows` rows, one bit each: 1 for a value, 0
/// for a null, in the hybrid encoding.
fn definition_levels(nulls: Option<&NullBuffer>, rows: usize) -> Vec<u8> {
    let mut out = Vec::new();
    match nulls.filter(|nulls| nulls.null_count() > 0) {
        Some(nulls) => {
            let levels: Vec<u32> = nulls.iter().map(u32::from).collect();
            rle_hybrid::encode(&levels, 1, &mut out);
        }
        None => rle_hybrid::encode_repeated(1, rows, 1, &mut out),
    }
    out
}

/// A v1 data page before compression: the definition levels (their length, four
/// bytes little-endian, then the levels) if the column is nullable, then the keys'
/// bit width in a byte and the keys.
fn data_page_body(levels: Option<&[u8]>, keys: &[u32], width: u8) -> Vec<u8> {
    let capacity = levels.map_or(0, <[u8]>::len) + keys.len() * usize::from(width) / 8 + 64;
    let mut body = Vec::with_capacity(capacity);
    if let Some(levels) = levels {
        body.extend_from_slice(&(levels.len() as u32).to_le_bytes());
        body.extend_from_slice(levels);
    }
    body.push(width);
    rle_hybrid::encode(keys, width, &mut body);
    body
}

/// zstd, reusing one context for a chunk's pages, or no compression.
struct Compressor(Option<zstd::bulk::Compressor<'static>>);

impl Compressor {
    fn new(zstd_level: Option<i32>) -> Result<Self> {
        let Some(level) = zstd_level else { return Ok(Self(None)) };
        zstd::bulk::Compressor::new(level)
            .map(|compressor| Self(Some(compressor)))
            .map_err(|error| ParquetError::External(Box::new(error)))
    }

    fn compress(&mut self, input: &[u8]) -> Result<Bytes> {
        let Some(compressor) = &mut self.0 else { return Ok(Bytes::copy_from_slice(input)) };
        let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(input.len()));
        compressor
            .compress_to_buffer(input, &mut out)
            .map_err(|error| ParquetError::External(Box::new(error)))?;
        Ok(Bytes::from(out))
    }
}
