//! Writing vector columns' Parquet column chunks directly.
//!
//! parquet-rs's generic Arrow path computes a repetition and a definition
//! level for every float of a `list<float>` column and pushes each through an
//! RLE encoder, then copies the values twice more on their way to a page. On a
//! 768-dim dump that was about half of milvus-dump's CPU. A vector row's levels are
//! two runs (`0` then `1 × (dim - 1)`; `max_def × dim`), and its values are the
//! little-endian bytes Arrow already holds, so this module writes the data
//! pages itself: a hand-encoded page header (Thrift compact protocol), the two
//! RLE level sections, and the PLAIN values. Float values are not copied into
//! the chunk: it keeps references to the Arrow buffers and copies them once,
//! into the output, when the row group closes (a copy into the chunk first
//! was a seventh of a 768-dim dump's CPU). The chunk is appended to the row
//! group with [`SerializedRowGroupWriter::append_column`], which stores its
//! metadata like any other column's.
//!
//! Layout written (Parquet format spec, "Data Pages", version 1): per page,
//! `PageHeader{type: DATA_PAGE, sizes, DataPageHeader{num_values, PLAIN, RLE,
//! RLE}}`, then `u32` length + RLE repetition levels, `u32` length + RLE
//! definition levels, then the values. Pages start at row boundaries. The
//! column has no statistics (vectors are high-entropy). It is uncompressed
//! unless a zstd level is given (`--zstd`): then each page's body (levels
//! and values) is copied once and compressed, Parquet's own ZSTD codec.

use std::io::{Read, Write};
use std::ops::Range;

use arrow::array::{Array, AsArray, ListArray};
use arrow::buffer::Buffer;
use arrow::datatypes::{DataType as ArrowType, Float32Type, Int8Type, UInt8Type};
use parquet::basic::{Compression, Encoding, Type as PhysicalType, ZstdLevel};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder};
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::writer::SerializedRowGroupWriter;
use parquet::schema::types::ColumnDescPtr;

use crate::error::{Error, Result};

/// Bytes per value on disk: FLOAT, or INT32 for UInt8 and Int8 items.
const VALUE_BYTES: usize = 4;

/// One vector column's chunk of the row group being written.
pub(crate) struct VectorChunk {
    descr: ColumnDescPtr,
    /// Page size to aim at (the writer properties' data page limit).
    page_bytes: usize,
    /// Page headers, level sections and widened integer values.
    bytes: Vec<u8>,
    /// The chunk in order: spans of `bytes` and float values left in their
    /// Arrow buffers.
    parts: Vec<Part>,
    /// Where the span of `bytes` not yet in `parts` starts.
    open_span: usize,
    /// Bytes of the float values in `parts`.
    arrow_bytes: usize,
    /// Level entries written (Parquet's `num_values`: one per value, one per
    /// null or empty list).
    levels: i64,
    rows: u64,
    /// Where each page starts, for the offset index.
    pages: OffsetIndexBuilder,
    repetition: RleRuns,
    definition: RleRuns,
    /// zstd for the pages (`None`: uncompressed, values kept in Arrow buffers).
    compression: Option<PageCompression>,
    /// Bytes of the chunk before compression (headers included).
    uncompressed_bytes: usize,
}

/// Compressing pages: the level, a reused context and body buffer.
struct PageCompression {
    level: i32,
    compressor: zstd::bulk::Compressor<'static>,
    body: Vec<u8>,
}

impl VectorChunk {
    /// Whether `descr` is a column this module can write: a leaf directly
    /// under one (optional or required) list, holding required FLOAT or INT32
    /// values, on a little-endian machine (PLAIN is little-endian; Arrow
    /// buffers are native).
    pub(crate) fn supports(descr: &ColumnDescPtr, item: &ArrowType) -> bool {
        let values_fit = matches!(
            (descr.physical_type(), item),
            (PhysicalType::FLOAT, ArrowType::Float32)
                | (PhysicalType::INT32, ArrowType::UInt8 | ArrowType::Int8)
        );
        cfg!(target_endian = "little")
            && values_fit
            && descr.max_rep_level() == 1
            && matches!(descr.max_def_level(), 1 | 2)
            && !descr.self_type().is_optional()
    }

    /// A chunk for `descr` (which [`Self::supports`]); `bytes` is a buffer to
    /// reuse (its contents are discarded); `zstd_level` compresses its pages.
    pub(crate) fn new(
        descr: ColumnDescPtr,
        page_bytes: usize,
        mut bytes: Vec<u8>,
        zstd_level: Option<i32>,
    ) -> Result<Self> {
        bytes.clear();
        let compression = zstd_level
            .map(|level| -> Result<PageCompression> {
                Ok(PageCompression {
                    level,
                    compressor: zstd::bulk::Compressor::new(level)?,
                    body: Vec::new(),
                })
            })
            .transpose()?;
        Ok(Self {
            descr,
            page_bytes: page_bytes.max(1),
            bytes,
            parts: Vec::new(),
            open_span: 0,
            arrow_bytes: 0,
            levels: 0,
            rows: 0,
            pages: OffsetIndexBuilder::new(),
            repetition: RleRuns::default(),
            definition: RleRuns::default(),
            compression,
            uncompressed_bytes: 0,
        })
    }

    /// The chunk's length: bytes buffered or held in Arrow buffers.
    pub(crate) fn memory_size(&self) -> usize {
        self.bytes.len() + self.arrow_bytes
    }

    /// Appends the rows of `column` (a list array of the chunk's type) as
    /// one or more pages.
    pub(crate) fn write(&mut self, column: &dyn Array) -> Result<()> {
        let list = column.as_list_opt::<i32>().ok_or_else(|| {
            Error::Parquet(ParquetError::General(format!(
                "column {}: expected a list array, got {}",
                self.descr.path(),
                column.data_type()
            )))
        })?;
        let offsets = list.value_offsets();
        let mut start = 0;
        while start < list.len() {
            // Rows up to the page size, at least one.
            let mut end = start + 1;
            let base = offsets[start] as usize;
            while end < list.len()
                && (offsets[end + 1] as usize - base) * VALUE_BYTES <= self.page_bytes
            {
                end += 1;
            }
            self.write_page(list, start, end)?;
            start = end;
        }
        Ok(())
    }

    fn write_page(&mut self, list: &ListArray, start: usize, end: usize) -> Result<()> {
        let offsets = list.value_offsets();
        let max_def = self.descr.max_def_level();
        self.repetition.clear();
        self.definition.clear();
        let mut levels = 0usize;
        let mut values = 0usize;
        for row in start..end {
            let len = (offsets[row + 1] - offsets[row]) as usize;
            self.repetition.push(0, 1);
            if list.is_null(row) {
                // Only an optional list can be null: definition level 0.
                self.definition.push(0, 1);
                levels += 1;
            } else if len == 0 {
                self.definition.push(max_def - 1, 1);
                levels += 1;
            } else {
                self.repetition.push(1, len - 1);
                self.definition.push(max_def, len);
                levels += len;
                values += len;
            }
        }
        let page_start = self.memory_size();
        let bit_width = |max: i16| 16 - (max as u16).leading_zeros() as u8;
        let repetition = self
            .repetition
            .encode(bit_width(self.descr.max_rep_level()));
        let definition = self.definition.encode(bit_width(max_def));
        let body = 4 + repetition.len() + 4 + definition.len() + values * VALUE_BYTES;
        // Runs of valid rows: their values are contiguous.
        let mut runs = Vec::new();
        let mut row = start;
        while row < end {
            let run_start = row;
            while row < end && list.is_valid(row) {
                row += 1;
            }
            if row > run_start {
                runs.push(offsets[run_start] as usize..offsets[row] as usize);
            }
            row += 1;
        }

        if let Some(compression) = self.compression.as_mut() {
            let out = &mut compression.body;
            out.clear();
            for section in [repetition, definition] {
                out.extend_from_slice(&(section.len() as u32).to_le_bytes());
                out.extend_from_slice(section);
            }
            for run in runs {
                copy_values(list, run, out);
            }
            debug_assert_eq!(out.len(), body);
            let compressed = compression.compressor.compress(out)?;
            let header_start = self.bytes.len();
            write_data_page_header(&mut self.bytes, body, compressed.len(), levels);
            self.uncompressed_bytes += self.bytes.len() - header_start + body;
            self.bytes.extend_from_slice(&compressed);
        } else {
            let header_start = self.bytes.len();
            write_data_page_header(&mut self.bytes, body, body, levels);
            self.uncompressed_bytes += self.bytes.len() - header_start + body;
            for section in [repetition, definition] {
                self.bytes
                    .extend_from_slice(&(section.len() as u32).to_le_bytes());
                self.bytes.extend_from_slice(section);
            }
            let values_start = self.memory_size();
            for run in runs {
                self.append_values(list, run);
            }
            debug_assert_eq!(self.memory_size() - values_start, values * VALUE_BYTES);
        }
        let page_end = self.memory_size();
        self.pages
            .append_offset_and_size(page_start as i64, (page_end - page_start) as i32);
        self.pages.append_row_count((end - start) as i64);
        self.levels += levels as i64;
        self.rows += (end - start) as u64;
        Ok(())
    }

    /// PLAIN values `values` of the list's child array, uncompressed: float
    /// values stay in their Arrow buffer.
    fn append_values(&mut self, list: &ListArray, values: Range<usize>) {
        let child = list.values();
        if child.data_type() == &ArrowType::Float32 {
            // An f32 buffer's bytes, on a little-endian machine (see
            // `supports`), are its PLAIN encoding: kept, not copied.
            let buffer = child.as_primitive::<Float32Type>().values().inner();
            let buffer = buffer.slice_with_length(values.start * 4, values.len() * 4);
            self.close_span();
            self.arrow_bytes += buffer.len();
            self.parts.push(Part::Arrow(buffer));
        } else {
            copy_values(list, values, &mut self.bytes);
        }
    }

    /// Ends the span of `bytes` written since the last part.
    fn close_span(&mut self) {
        if self.bytes.len() > self.open_span {
            self.parts.push(Part::Own(self.open_span..self.bytes.len()));
            self.open_span = self.bytes.len();
        }
    }

    /// Appends the chunk to `row_group` as its next column and returns the
    /// buffer for reuse.
    pub(crate) fn append_to<W: Write + Send>(
        mut self,
        row_group: &mut SerializedRowGroupWriter<'_, W>,
    ) -> Result<Vec<u8>> {
        self.close_span();
        let length = self.memory_size() as i64;
        let compression = match &self.compression {
            Some(c) => Compression::ZSTD(ZstdLevel::try_new(c.level)?),
            None => Compression::UNCOMPRESSED,
        };
        let metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(compression)
            .set_encodings(vec![Encoding::PLAIN, Encoding::RLE])
            .set_num_values(self.levels)
            .set_total_compressed_size(length)
            .set_total_uncompressed_size(self.uncompressed_bytes as i64)
            .set_data_page_offset(0)
            .build()?;
        let close = ColumnCloseResult {
            bytes_written: length as u64,
            rows_written: self.rows,
            metadata,
            bloom_filter: None,
            column_index: None,
            offset_index: Some(self.pages.build()),
        };
        let chunk = Chunk {
            bytes: &self.bytes,
            parts: &self.parts,
            len: length as usize,
        };
        row_group.append_column(&chunk, close)?;
        Ok(self.bytes)
    }
}

/// Runs of equal levels, encoded as the RLE runs of Parquet's
/// RLE/bit-packing hybrid.
#[derive(Default)]
struct RleRuns {
    runs: Vec<(i16, usize)>,
    encoded: Vec<u8>,
}

impl RleRuns {
    fn clear(&mut self) {
        self.runs.clear();
    }

    fn push(&mut self, level: i16, count: usize) {
        if count == 0 {
            return;
        }
        match self.runs.last_mut() {
            Some((last, n)) if *last == level => *n += count,
            _ => self.runs.push((level, count)),
        }
    }

    /// Each run: a ULEB128 header `count << 1` (low bit 0: an RLE run), then
    /// the level in `ceil(bit_width / 8)` bytes (one byte: levels here are ≤ 2).
    fn encode(&mut self, bit_width: u8) -> &[u8] {
        debug_assert!((1..=8).contains(&bit_width));
        self.encoded.clear();
        for &(level, count) in &self.runs {
            write_uleb128(&mut self.encoded, (count as u64) << 1);
            self.encoded.push(level as u8);
        }
        &self.encoded
    }
}

/// Appends PLAIN values `values` of the list's child array to `out`
/// (UInt8 and Int8 items widened to INT32).
fn copy_values(list: &ListArray, values: Range<usize>, out: &mut Vec<u8>) {
    let child = list.values();
    match child.data_type() {
        ArrowType::Float32 => {
            let floats = &child.as_primitive::<Float32Type>().values()[values];
            out.extend(floats.iter().flat_map(|v| v.to_le_bytes()));
        }
        ArrowType::UInt8 => {
            let narrow = &child.as_primitive::<UInt8Type>().values()[values];
            out.extend(narrow.iter().flat_map(|&v| i32::from(v).to_le_bytes()));
        }
        _ => {
            let narrow = &child.as_primitive::<Int8Type>().values()[values];
            out.extend(narrow.iter().flat_map(|&v| i32::from(v).to_le_bytes()));
        }
    }
}

fn write_uleb128(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A Thrift compact-protocol `i32` field whose id follows the previous one.
fn write_i32_field(out: &mut Vec<u8>, value: i32) {
    const NEXT_FIELD_I32: u8 = (1 << 4) | 5;
    out.push(NEXT_FIELD_I32);
    write_uleb128(out, u64::from(((value << 1) ^ (value >> 31)) as u32));
}

/// `PageHeader` of a version-1 data page of `body` bytes (`stored` once
/// compressed) holding `levels` level entries, PLAIN values and RLE levels.
fn write_data_page_header(out: &mut Vec<u8>, body: usize, stored: usize, levels: usize) {
    const DATA_PAGE: i32 = 0;
    const PLAIN: i32 = 0;
    const RLE: i32 = 3;
    // Field 5 (data_page_header, a struct) two ids after field 3.
    const FIELD_5_STRUCT: u8 = (2 << 4) | 12;
    const STOP: u8 = 0;
    write_i32_field(out, DATA_PAGE); // 1: type
    write_i32_field(out, body as i32); // 2: uncompressed_page_size
    write_i32_field(out, stored as i32); // 3: compressed_page_size
    out.push(FIELD_5_STRUCT);
    write_i32_field(out, levels as i32); // 1: num_values
    write_i32_field(out, PLAIN); // 2: encoding
    write_i32_field(out, RLE); // 3: definition_level_encoding
    write_i32_field(out, RLE); // 4: repetition_level_encoding
    out.push(STOP); // end of DataPageHeader
    out.push(STOP); // end of PageHeader
}

/// One piece of a chunk.
enum Part {
    /// A span of [`VectorChunk::bytes`].
    Own(Range<usize>),
    /// Float values, still in their Arrow buffer.
    Arrow(Buffer),
}

/// A finished chunk as the [`ChunkReader`] `append_column` copies from.
#[derive(Clone, Copy)]
struct Chunk<'a> {
    bytes: &'a [u8],
    parts: &'a [Part],
    len: usize,
}

impl Length for Chunk<'_> {
    fn len(&self) -> u64 {
        self.len as u64
    }
}

impl<'a> ChunkReader for Chunk<'a> {
    type T = ChunkRead<'a>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<ChunkRead<'a>> {
        if start > self.len as u64 {
            return Err(ParquetError::EOF(format!("offset {start} past the chunk")));
        }
        let mut read = ChunkRead {
            chunk: *self,
            part: 0,
            offset: 0,
        };
        let mut skip = start as usize;
        while skip > 0 {
            let part = read.part_bytes().len();
            if skip < part {
                read.offset = skip;
                break;
            }
            skip -= part;
            read.part += 1;
        }
        Ok(read)
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        let mut bytes = vec![0; length];
        self.get_read(start)?
            .read_exact(&mut bytes)
            .map_err(|_| ParquetError::EOF(format!("range {start}+{length} past the chunk")))?;
        Ok(bytes.into())
    }
}

/// Reads a chunk's parts in order.
struct ChunkRead<'a> {
    chunk: Chunk<'a>,
    part: usize,
    /// Bytes of the current part already read.
    offset: usize,
}

impl<'a> ChunkRead<'a> {
    /// The current part's bytes (empty past the end).
    fn part_bytes(&self) -> &'a [u8] {
        match self.chunk.parts.get(self.part) {
            Some(Part::Own(span)) => &self.chunk.bytes[span.clone()],
            Some(Part::Arrow(values)) => values.as_slice(),
            None => &[],
        }
    }
}

impl Read for ChunkRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.part < self.chunk.parts.len() {
            let rest = &self.part_bytes()[self.offset..];
            if !rest.is_empty() {
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                self.offset += n;
                return Ok(n);
            }
            self.part += 1;
            self.offset = 0;
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float32Array, Int64Array, RecordBatch, UInt8Array};
    use arrow::buffer::{NullBuffer, OffsetBuffer};
    use arrow::datatypes::Field;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;
    use crate::header::FieldSpec;
    use crate::layout::arrow_schema;
    use crate::parquet::ParquetWriter;
    use crate::test_support::{field, header};

    fn list(values: ArrayRef, lengths: &[usize], nulls: Option<Vec<bool>>) -> ArrayRef {
        let item = Arc::new(Field::new("item", values.data_type().clone(), false));
        Arc::new(
            ListArray::try_new(
                item,
                OffsetBuffer::from_lengths(lengths.iter().copied()),
                values,
                nulls.map(NullBuffer::from),
            )
            .unwrap(),
        )
    }

    /// Writes `batch` in slices of `slice` rows (zstd at `zstd_level`, if
    /// any) and reads it back with parquet-rs's own Arrow reader (not
    /// milvus-load's vector fast path).
    fn round_trip(
        fields: &[FieldSpec],
        batch: &RecordBatch,
        slice: usize,
        zstd_level: Option<i32>,
    ) -> (RecordBatch, Vec<u8>) {
        let mut writer = ParquetWriter::new(
            Vec::new(),
            &header(fields.to_vec()),
            fields,
            batch.schema(),
            zstd_level,
        )
        .unwrap();
        for start in (0..batch.num_rows()).step_by(slice) {
            writer
                .write_batch(&batch.slice(start, slice.min(batch.num_rows() - start)))
                .unwrap();
        }
        let file = writer.finish().unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file.clone()))
            .unwrap()
            .with_batch_size(batch.num_rows())
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        let read = arrow::compute::concat_batches(&batch.schema(), &batches).unwrap();
        (read, file)
    }

    #[test]
    fn large_float_vectors_span_pages_at_row_boundaries() {
        let mut pk = field("id", "Int64", &[]);
        pk.is_primary_key = true;
        let dim = 768;
        let fields = vec![pk, field("v", "FloatVector", &[("dim", "768")])];
        let refs: Vec<&FieldSpec> = fields.iter().collect();
        let rows = 1500;
        let floats = Float32Array::from_iter_values((0..rows * dim).map(|i| i as f32 * 0.5 - 7.0));
        let batch = RecordBatch::try_new(
            arrow_schema(&refs).unwrap(),
            vec![
                Arc::new(Int64Array::from_iter_values(0..rows as i64)),
                list(Arc::new(floats), &vec![dim; rows], None),
            ],
        )
        .unwrap();
        for zstd_level in [None, Some(3)] {
            let (read, file) = round_trip(&fields, &batch, 700, zstd_level);
            assert_eq!(read.columns(), batch.columns());
            let expected = match zstd_level {
                None => Compression::UNCOMPRESSED,
                Some(level) => Compression::ZSTD(ZstdLevel::try_new(level).unwrap()),
            };
            assert_pages_start_rows(file, rows, dim, expected);
        }
    }

    /// 3 KiB rows in 1 MiB pages: several pages per batch, each starting a row.
    fn assert_pages_start_rows(file: Vec<u8>, rows: usize, dim: usize, compression: Compression) {
        let reader = SerializedFileReader::new(bytes::Bytes::from(file)).unwrap();
        let metadata = reader.metadata();
        let column = metadata.row_group(0).column(1);
        // The file records the codec, not its level.
        assert_eq!(
            std::mem::discriminant(&column.compression()),
            std::mem::discriminant(&compression)
        );
        if compression != Compression::UNCOMPRESSED {
            // The values (i * 0.5 - 7.0) share their high bytes: they shrink.
            assert!(column.compressed_size() < column.uncompressed_size());
        }
        assert_eq!(column.num_values(), (rows * dim) as i64);
        let mut pages = reader
            .get_row_group(0)
            .unwrap()
            .get_column_page_reader(1)
            .unwrap();
        let mut page_rows = Vec::new();
        while let Some(page) = pages.get_next_page().unwrap() {
            page_rows.push(page.num_values() as usize / dim);
        }
        assert!(page_rows.len() > 3, "{page_rows:?}");
        assert_eq!(page_rows.iter().sum::<usize>(), rows);
    }

    #[test]
    fn null_and_empty_vectors_keep_their_levels() {
        let mut pk = field("id", "Int64", &[]);
        pk.is_primary_key = true;
        let mut f = field("f", "FloatVector", &[("dim", "2")]);
        f.nullable = true;
        let mut h = field("h", "Float16Vector", &[("dim", "1")]);
        h.nullable = true;
        let fields = vec![pk, f, h];
        let refs: Vec<&FieldSpec> = fields.iter().collect();
        // Rows: value, null, value, empty (not a Milvus value, but a valid list), value.
        let lengths = [2, 0, 2, 0, 2];
        let valid = vec![true, false, true, true, true];
        let batch = RecordBatch::try_new(
            arrow_schema(&refs).unwrap(),
            vec![
                Arc::new(Int64Array::from_iter_values(0..5)),
                list(
                    Arc::new(Float32Array::from(vec![
                        1.0,
                        f32::NAN,
                        -0.0,
                        3.5,
                        f32::INFINITY,
                        6.0,
                    ])),
                    &lengths,
                    Some(valid.clone()),
                ),
                list(
                    Arc::new(UInt8Array::from_iter_values(0..6)),
                    &lengths,
                    Some(valid),
                ),
            ],
        )
        .unwrap();
        for (slice, zstd_level) in [(1, None), (2, None), (5, None), (1, Some(1)), (5, Some(9))] {
            let (read, _) = round_trip(&fields, &batch, slice, zstd_level);
            for (got, want) in read.columns().iter().zip(batch.columns()) {
                assert_eq!(
                    got.to_data(),
                    want.to_data(),
                    "slices of {slice}, zstd {zstd_level:?}"
                );
            }
        }
    }

    #[test]
    fn levels_and_page_headers_encode_as_the_format_says() {
        let mut runs = RleRuns::default();
        runs.push(0, 1);
        runs.push(1, 767);
        runs.push(1, 0);
        runs.push(0, 1);
        // 1 << 1; 767 << 1 = 1534 = 0b1011_1111110 in ULEB128.
        assert_eq!(runs.encode(1), &[0x02, 0x00, 0xFE, 0x0B, 0x01, 0x02, 0x00]);

        let mut header = Vec::new();
        write_data_page_header(&mut header, 300, 300, 64);
        // type 0, sizes 300 (zigzag 600 = 0xD8 0x04), struct 5: 64 (zigzag 128), PLAIN, RLE, RLE.
        assert_eq!(
            header,
            [
                0x15, 0x00, 0x15, 0xD8, 0x04, 0x15, 0xD8, 0x04, 0x2C, 0x15, 0x80, 0x01, 0x15, 0x00,
                0x15, 0x06, 0x15, 0x06, 0x00, 0x00
            ]
        );
    }

    #[test]
    fn a_chunk_reads_back_whole_from_any_offset() {
        use parquet::schema::parser::parse_message_type;
        use parquet::schema::types::SchemaDescriptor;

        let message = "message m { optional group v (LIST) { repeated group list { required float item; } } }";
        let schema = SchemaDescriptor::new(Arc::new(parse_message_type(message).unwrap()));
        let descr = schema.column(0);
        let values = Arc::new(Float32Array::from_iter_values((0..12).map(|i| i as f32)));
        // Two float parts per page (a null row between them), 2 rows a page.
        let column = list(
            values,
            &[2, 2, 2, 2, 2, 2],
            Some(vec![true, false, true, true, true, true]),
        );
        assert!(VectorChunk::supports(&descr, &ArrowType::Float32));
        let mut chunk = VectorChunk::new(descr, 16, Vec::new(), None).unwrap();
        chunk.write(column.as_ref()).unwrap();
        chunk.close_span();
        assert!(chunk.parts.iter().any(|p| matches!(p, Part::Arrow(_))));
        let reader = Chunk {
            bytes: &chunk.bytes,
            parts: &chunk.parts,
            len: chunk.memory_size(),
        };
        let mut whole = Vec::new();
        reader.get_read(0).unwrap().read_to_end(&mut whole).unwrap();
        assert_eq!(whole.len(), chunk.memory_size());
        for start in 0..=whole.len() {
            let mut rest = Vec::new();
            reader
                .get_read(start as u64)
                .unwrap()
                .read_to_end(&mut rest)
                .unwrap();
            assert_eq!(rest, whole[start..], "from {start}");
            let bytes = reader.get_bytes(start as u64, whole.len() - start).unwrap();
            assert_eq!(bytes, whole[start..]);
        }
        assert!(reader.get_read(whole.len() as u64 + 1).is_err());
        assert!(reader.get_bytes(1, whole.len()).is_err());
    }
}
