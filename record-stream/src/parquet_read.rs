//! Parquet → Arrow in the stream layout: our own parts (header in the
//! key-value metadata) and Milvus bulk-import files (no header: the schema
//! comes from the server or `--schema`).

use std::fs::File;
use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

use crate::error::{Error, Result};
use crate::header::{FieldSpec, Header, DYNAMIC_FIELD, HEADER_KEY};
use crate::layout::arrow_schema;

/// An open Parquet file: its header (when it has one) and row count, known
/// from the footer before any row is read.
pub struct ParquetInput {
    source: String,
    builder: ParquetRecordBatchReaderBuilder<File>,
    header: Option<Header>,
}

impl ParquetInput {
    /// Opens `file`; `source` names it in errors. Fails on a truncated file
    /// (no footer) or a header this build does not understand.
    pub fn open(file: File, source: &str) -> Result<Self> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| Error::Header(format!("{source}: not a readable Parquet file ({e})")))?;
        let header = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|kvs| kvs.iter().find(|kv| kv.key == HEADER_KEY))
            .and_then(|kv| kv.value.as_deref())
            .map(|text| {
                let value = serde_json::from_str(text)
                    .map_err(|e| Error::Header(format!("{source}: header is not JSON ({e})")))?;
                Header::from_json(value).map_err(|e| Error::Header(format!("{source}: {e}")))
            })
            .transpose()?;
        Ok(Self {
            source: source.to_string(),
            builder,
            header,
        })
    }

    /// The stream header, if the file has one.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// Rows in the file, from its footer.
    pub fn rows(&self) -> u64 {
        u64::try_from(self.builder.metadata().file_metadata().num_rows()).unwrap_or(0)
    }

    /// Average uncompressed bytes per row, from the footer (0 when empty):
    /// what sizes insert batches before a row is read.
    pub fn average_row_bytes(&self) -> u64 {
        let metadata = self.builder.metadata();
        let bytes: i64 = metadata
            .row_groups()
            .iter()
            .map(|rg| rg.total_byte_size())
            .sum();
        u64::try_from(bytes).unwrap_or(0) / self.rows().max(1)
    }

    /// Reads `fields` (by column name; `$meta` for the dynamic field) in
    /// batches of `batch_rows`. A column the file lacks reads as nulls when
    /// the field can take them; otherwise it is an error naming the field.
    pub fn read(self, fields: &[FieldSpec], batch_rows: usize) -> Result<ParquetRows> {
        let refs: Vec<&FieldSpec> = fields.iter().collect();
        let schema = arrow_schema(&refs)?;
        let file_schema = self.builder.schema().clone();
        let mut sources = Vec::with_capacity(fields.len());
        let mut roots = Vec::new();
        for field in fields {
            let name = if field.is_dynamic {
                DYNAMIC_FIELD
            } else {
                &field.name
            };
            match file_schema.index_of(name) {
                Ok(i) => {
                    roots.push(i);
                    sources.push(Some(i));
                }
                Err(_) if field.nullable || field.default_value.is_some() || field.is_dynamic => {
                    sources.push(None)
                }
                Err(_) => {
                    return Err(Error::Header(format!(
                        "{}: no column {name:?} for field {:?}",
                        self.source, field.name
                    )))
                }
            }
        }
        roots.sort_unstable();
        // Positions of the read columns in the projected batches.
        let projected: Vec<Option<usize>> = sources
            .iter()
            .map(|s| s.map(|i| roots.binary_search(&i).unwrap_or(0)))
            .collect();
        let mask = ProjectionMask::roots(self.builder.parquet_schema(), roots);
        let reader = self
            .builder
            .with_projection(mask)
            .with_batch_size(batch_rows.max(1))
            .build()
            .map_err(|e| Error::Header(format!("{}: {e}", self.source)))?;
        Ok(ParquetRows {
            source: self.source,
            reader,
            schema,
            fields: fields.to_vec(),
            projected,
            rows_read: 0,
        })
    }
}

/// Batches of a Parquet file in the stream layout.
pub struct ParquetRows {
    source: String,
    reader: ParquetRecordBatchReader,
    schema: SchemaRef,
    fields: Vec<FieldSpec>,
    projected: Vec<Option<usize>>,
    rows_read: u64,
}

impl ParquetRows {
    /// Rows returned so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    fn convert(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let columns = self
            .fields
            .iter()
            .zip(&self.projected)
            .zip(self.schema.fields())
            .map(|((field, position), target)| -> Result<ArrayRef> {
                let Some(position) = position else {
                    if field.is_dynamic {
                        return Ok(Arc::new(arrow::array::StringArray::from_iter_values(
                            std::iter::repeat_n("{}", rows),
                        )));
                    }
                    return Ok(new_null_array(target.data_type(), rows));
                };
                let column = batch.column(*position);
                if column.data_type() == target.data_type() {
                    return Ok(column.clone());
                }
                if let Some(halves) = half_vectors_from_floats(field, column)? {
                    return Ok(halves);
                }
                // Bulk-import files from other writers: nullable list items,
                // large strings, other integer widths... cast where lossless.
                arrow::compute::cast(column, target.data_type()).map_err(|e| {
                    Error::field(
                        &field.name,
                        format!(
                            "{}: column of type {} cannot be read as {} ({e})",
                            self.source,
                            column.data_type(),
                            target.data_type()
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| {
            Error::Header(format!(
                "{}: rows {}..{}: {e}",
                self.source,
                self.rows_read,
                self.rows_read + rows as u64
            ))
        })
    }
}

/// FLOAT16/BFLOAT16 vectors written as float lists (pymilvus's BulkWriter
/// does, given lists): each value as its 2 little-endian half bytes, the
/// stream layout's `List<UInt8>`. `None` for any other column.
fn half_vectors_from_floats(field: &FieldSpec, column: &ArrayRef) -> Result<Option<ArrayRef>> {
    use arrow::array::{Array, AsArray, ListArray, UInt8Array};
    use arrow::buffer::{OffsetBuffer, ScalarBuffer};
    use arrow::datatypes::{DataType as ArrowType, Float32Type};
    use milvus_wire::proto::schema::DataType;
    let data_type = field.data_type()?;
    let is_half = matches!(
        data_type,
        DataType::Float16Vector | DataType::BFloat16Vector
    );
    let ArrowType::List(item) = column.data_type() else {
        return Ok(None);
    };
    if !is_half || item.data_type() != &ArrowType::Float32 {
        return Ok(None);
    }
    let list = column.as_list::<i32>();
    let floats = list.values().as_primitive::<Float32Type>();
    let bytes: Vec<u8> = floats
        .values()
        .iter()
        .flat_map(|v| {
            if data_type == DataType::Float16Vector {
                half::f16::from_f32(*v).to_le_bytes()
            } else {
                half::bf16::from_f32(*v).to_le_bytes()
            }
        })
        .collect();
    let offsets: Vec<i32> = list.value_offsets().iter().map(|o| o * 2).collect();
    let item = std::sync::Arc::new(arrow::datatypes::Field::new(
        "item",
        ArrowType::UInt8,
        false,
    ));
    Ok(Some(Arc::new(ListArray::try_new(
        item,
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        Arc::new(UInt8Array::from(bytes)),
        list.nulls().cloned(),
    )?)))
}

impl Iterator for ParquetRows {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = match self.reader.next()? {
            Ok(batch) => batch,
            Err(e) => {
                return Some(Err(Error::Header(format!(
                    "{}: after row {}: {e}",
                    self.source, self.rows_read
                ))))
            }
        };
        let converted = self.convert(batch);
        if let Ok(b) = &converted {
            self.rows_read += b.num_rows() as u64;
        }
        Some(converted)
    }
}
