//! Parquet: one file per stream or part, in Milvus's bulk-import layout
//! ([`crate::layout`]), the header in the file's key-value metadata under
//! [`HEADER_KEY`]. Row groups are bounded in memory.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use milvus_wire::proto::schema::DataType;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::Result;
use crate::header::{FieldSpec, Header, HEADER_KEY};

/// Close a row group once this much is buffered (bounded memory: the
/// writer's page buffers grow by doubling, so the peak is about twice this).
pub const ROW_GROUP_BYTES: usize = 16 << 20;

/// Writes a Parquet stream.
pub struct ParquetWriter<W: Write + Send> {
    writer: ArrowWriter<W>,
}

fn writer_properties(header: &Header, fields: &[FieldSpec]) -> Result<WriterProperties> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            HEADER_KEY.to_string(),
            serde_json::to_string(header)?,
        )]))
        .set_max_row_group_size(1 << 20);
    for field in fields {
        let data_type = field.data_type()?;
        if crate::layout::is_vector(data_type) {
            let column_name = field.column_name();
            // List columns are stored as `<name>.list.item`.
            let path = if data_type == DataType::SparseFloatVector {
                ColumnPath::new(vec![column_name.to_string()])
            } else {
                ColumnPath::new(vec![column_name.to_string(), "list".into(), "item".into()])
            };
            // Vectors are high-entropy: dictionaries and statistics cost CPU for nothing,
            // and random floats do not compress.
            props = props
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_statistics_enabled(path.clone(), EnabledStatistics::None);
            if matches!(
                data_type,
                DataType::FloatVector | DataType::Float16Vector | DataType::BFloat16Vector
            ) {
                props = props.set_column_compression(path, Compression::UNCOMPRESSED);
            }
        }
    }
    Ok(props.build())
}

impl<W: Write + Send> ParquetWriter<W> {
    /// Starts a Parquet stream of `fields` with Arrow `schema`.
    pub fn new(out: W, header: &Header, fields: &[FieldSpec], schema: SchemaRef) -> Result<Self> {
        let writer = ArrowWriter::try_new(out, schema, Some(writer_properties(header, fields)?))?;
        Ok(Self { writer })
    }

    /// Writes a batch, closing the row group when it has grown large.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write(batch)?;
        if self.writer.in_progress_size() >= ROW_GROUP_BYTES {
            self.writer.flush()?;
        }
        Ok(())
    }

    /// Closes the current row group (tests use it to make several).
    #[cfg(test)]
    pub(crate) fn flush_row_group(&mut self) -> Result<()> {
        Ok(self.writer.flush()?)
    }

    /// Bytes written to the output so far (row groups flushed).
    pub fn bytes_written(&self) -> usize {
        self.writer.bytes_written()
    }

    /// Adds key-value metadata (e.g. the part's first/last primary key) to the footer.
    pub fn add_metadata(&mut self, key: &str, value: String) {
        self.writer
            .append_key_value_metadata(KeyValue::new(key.to_string(), value));
    }

    /// Writes the footer and returns the inner writer.
    pub fn finish(self) -> Result<W> {
        Ok(self.writer.into_inner()?)
    }
}
