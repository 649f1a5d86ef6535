//! Parquet: one file per stream or part, in Milvus's bulk-import layout
//! ([`crate::layout`]), the header in the file's key-value metadata under
//! [`HEADER_KEY`]. Row groups are bounded in memory.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType as ArrowType, SchemaRef};
use milvus_model::proto::schema::DataType;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnWriter, ArrowRowGroupWriterFactory, ArrowWriterOptions,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::header::{FieldSpec, Header, HEADER_KEY};
use crate::vector_chunk::VectorChunk;

/// Close a row group once this much is buffered (bounded memory: the
/// writer's page buffers grow by doubling, so the peak is about twice this).
pub const ROW_GROUP_BYTES: usize = 16 << 20;

/// Writes a Parquet stream.
///
/// Dense float and half-float vector columns are written by [`VectorChunk`]
/// (their pages assembled directly from the Arrow buffers); every other
/// column by parquet-rs's Arrow column writers. Both land in the same row
/// groups of one [`SerializedFileWriter`].
pub struct ParquetWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    columns: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// Per column: whether [`VectorChunk`] writes it.
    raw_vectors: Vec<bool>,
    row_group: Option<Vec<ColumnChunk>>,
    /// Emptied vector-chunk buffers, reused by the next row group.
    spare_buffers: Vec<Vec<u8>>,
    /// zstd level of every column (`None`: see [`writer_properties`]).
    zstd_level: Option<i32>,
}

// One per column of the row group being written: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
enum ColumnChunk {
    Arrow(ArrowColumnWriter),
    Vectors(VectorChunk),
}

/// Vector types written by [`VectorChunk`], and uncompressed by default:
/// their values are high-entropy floats that compress little.
fn is_raw_vector(data_type: DataType) -> bool {
    matches!(
        data_type,
        DataType::FloatVector | DataType::Float16Vector | DataType::BFloat16Vector
    )
}

/// Without a level, every column but the dense vectors' is compressed with
/// zstd at level 1 (cheap, and text and keys shrink); those vectors are
/// stored raw. With one (`--zstd=LEVEL`), every column is, at that level.
fn writer_properties(fields: &[FieldSpec], zstd_level: Option<i32>) -> Result<WriterProperties> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(
            zstd_level.unwrap_or(1),
        )?))
        // Row groups close at ROW_GROUP_BYTES, a few thousand rows beside
        // vectors: too few for a dictionary of keys or text to pay for its
        // hashing. zstd still catches repeated values.
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(1 << 20));
    for field in fields {
        let data_type = field.data_type;
        if crate::layout::is_vector(data_type) {
            let column_name = field.column_name();
            // List columns are stored as `<name>.list.item`.
            let path = if data_type == DataType::SparseFloatVector {
                ColumnPath::new(vec![column_name.to_string()])
            } else {
                ColumnPath::new(vec![column_name.to_string(), "list".into(), "item".into()])
            };
            // Vectors are high-entropy: statistics cost CPU for nothing.
            props = props.set_column_statistics_enabled(path.clone(), EnabledStatistics::None);
            if is_raw_vector(data_type) && zstd_level.is_none() {
                props = props.set_column_compression(path, Compression::UNCOMPRESSED);
            }
        }
    }
    Ok(props.build())
}

impl<W: Write + Send> ParquetWriter<W> {
    /// Starts a Parquet stream of `fields` (one per column of `schema`),
    /// its column chunks compressed by Parquet's own zstd codec at
    /// `zstd_level` (see [`writer_properties`]).
    pub fn new(
        out: W,
        header: &Header,
        fields: &[FieldSpec],
        schema: SchemaRef,
        zstd_level: Option<i32>,
    ) -> Result<Self> {
        if fields.len() != schema.fields().len() {
            return Err(Error::Header(format!(
                "{} fields for {} Parquet columns",
                fields.len(),
                schema.fields().len()
            )));
        }
        // ArrowWriter builds the Parquet schema and embeds the Arrow one
        // (pyarrow restores types from it); we then drive its parts directly.
        let options =
            ArrowWriterOptions::new().with_properties(writer_properties(fields, zstd_level)?);
        let mut writer = ArrowWriter::try_new_with_options(out, schema.clone(), options)?;
        writer.append_key_value_metadata(KeyValue::new(
            HEADER_KEY.to_string(),
            serde_json::to_string(header)?,
        ));
        let (file, columns) = writer.into_serialized_writer()?;
        let descriptors = file.schema_descr();
        // Every column of the stream layout is one Parquet leaf.
        if descriptors.num_columns() != fields.len() {
            return Err(Error::Header(format!(
                "{} Parquet leaves for {} columns",
                descriptors.num_columns(),
                fields.len()
            )));
        }
        let raw_vectors = fields
            .iter()
            .zip(schema.fields())
            .enumerate()
            .map(|(i, (field, arrow_field))| {
                let item = match arrow_field.data_type() {
                    ArrowType::List(item) if !item.is_nullable() => item.data_type().clone(),
                    _ => return Ok(false),
                };
                Ok(is_raw_vector(field.data_type)
                    && VectorChunk::supports(&descriptors.column(i), &item))
            })
            .collect::<Result<Vec<bool>>>()?;
        Ok(Self {
            file,
            columns,
            schema,
            raw_vectors,
            row_group: None,
            spare_buffers: Vec::new(),
            zstd_level,
        })
    }

    /// Writes a batch, closing the row group when it has grown large.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.row_group.is_none() {
            self.row_group = Some(self.start_row_group()?);
        }
        let Some(chunks) = self.row_group.as_mut() else {
            unreachable!("the row group was just started")
        };
        let mut buffered = 0;
        for ((chunk, column), field) in chunks
            .iter_mut()
            .zip(batch.columns())
            .zip(self.schema.fields())
        {
            match chunk {
                ColumnChunk::Arrow(writer) => {
                    for leaf in compute_leaves(field, column)? {
                        writer.write(&leaf)?;
                    }
                    buffered += writer.memory_size();
                }
                ColumnChunk::Vectors(vectors) => {
                    vectors.write(column.as_ref())?;
                    buffered += vectors.memory_size();
                }
            }
        }
        if buffered >= ROW_GROUP_BYTES {
            self.flush_row_group()?;
        }
        Ok(())
    }

    fn start_row_group(&mut self) -> Result<Vec<ColumnChunk>> {
        let writers = self
            .columns
            .create_column_writers(self.file.flushed_row_groups().len())?;
        let page_bytes = self.file.properties().data_page_size_limit();
        let descriptors = self.file.schema_descr();
        writers
            .into_iter()
            .enumerate()
            .map(|(i, writer)| {
                Ok(if self.raw_vectors[i] {
                    let buffer = self.spare_buffers.pop().unwrap_or_default();
                    ColumnChunk::Vectors(VectorChunk::new(
                        descriptors.column(i),
                        page_bytes,
                        buffer,
                        self.zstd_level,
                    )?)
                } else {
                    ColumnChunk::Arrow(writer)
                })
            })
            .collect()
    }

    /// Closes the current row group, if any rows are buffered.
    pub(crate) fn flush_row_group(&mut self) -> Result<()> {
        let Some(chunks) = self.row_group.take() else {
            return Ok(());
        };
        let mut row_group = self.file.next_row_group()?;
        for chunk in chunks {
            match chunk {
                ColumnChunk::Arrow(writer) => {
                    writer.close()?.append_to_row_group(&mut row_group)?
                }
                ColumnChunk::Vectors(vectors) => {
                    self.spare_buffers.push(vectors.append_to(&mut row_group)?)
                }
            }
        }
        row_group.close()?;
        Ok(())
    }

    /// Bytes written to the output so far (row groups flushed).
    pub fn bytes_written(&self) -> usize {
        self.file.bytes_written()
    }

    /// Adds key-value metadata (e.g. the part's first/last primary key) to the footer.
    pub fn add_metadata(&mut self, key: &str, value: String) {
        self.file
            .append_key_value_metadata(KeyValue::new(key.to_string(), value));
    }

    /// Writes the last row group and the footer, and returns the inner writer.
    pub fn finish(mut self) -> Result<W> {
        self.flush_row_group()?;
        Ok(self.file.into_inner()?)
    }
}
