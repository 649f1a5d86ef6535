//! Parquet → Arrow in the stream layout: our own parts (header in the
//! key-value metadata) and Milvus bulk-import files (no header: the schema
//! comes from the server or `--schema`).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    new_null_array, ArrayRef, Float32Array, Int8Array, ListArray, RecordBatch, UInt8Array,
};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType as ArrowType, SchemaRef};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{FloatType, Int32Type};
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::error::{Error, Result};
use crate::header::{FieldSpec, Header, HEADER_KEY};
use crate::layout::arrow_schema;
use crate::random_access::SharedBytes;

/// An open Parquet file: its header (when it has one) and row count, known
/// from the footer before any row is read.
pub struct ParquetInput {
    source: String,
    bytes: SharedBytes,
    builder: ParquetRecordBatchReaderBuilder<SharedBytes>,
    header: Option<Header>,
}

impl ParquetInput {
    /// Opens the local file at `path`; `source` names it in errors.
    pub fn open(path: &Path, source: &str) -> Result<Self> {
        Self::from_bytes(SharedBytes::local(path)?, source)
    }

    /// Opens a Parquet file read through `bytes` (the footer first, then
    /// only the column chunks asked for); `source` names it in errors. Fails
    /// on a truncated file (no footer) or a header this build does not
    /// understand.
    pub fn from_bytes(bytes: SharedBytes, source: &str) -> Result<Self> {
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).map_err(|e| Error::Cut {
                input: source.to_string(),
                line: None,
                reason: format!("not a readable Parquet file ({e})"),
            })?;
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
            bytes,
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
        let mut vectors = Vec::new();
        for (field, target) in fields.iter().zip(schema.fields()) {
            let name = field.column_name();
            match file_schema.index_of(name) {
                Ok(i) => {
                    let fast = VectorReader::fits(
                        field,
                        file_schema.field(i).data_type(),
                        target.data_type(),
                    )
                    .then(|| self.leaf_of(i))
                    .flatten();
                    match fast {
                        Some((leaf, max_def)) => {
                            sources.push(Source::Vector(vectors.len()));
                            vectors.push(VectorReader::new(
                                self.bytes.clone(),
                                &self.source,
                                field,
                                leaf,
                                max_def,
                            )?);
                        }
                        None => {
                            roots.push(i);
                            sources.push(Source::Arrow(i));
                        }
                    }
                }
                Err(_) if field.nullable || field.default_value.is_some() || field.is_dynamic => {
                    sources.push(Source::Missing)
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
        let projected: Vec<Source> = sources
            .into_iter()
            .map(|s| match s {
                Source::Arrow(i) => Source::Arrow(roots.binary_search(&i).unwrap_or(0)),
                other => other,
            })
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
            vectors,
            rows_read: 0,
        })
    }

    /// The leaf column of root column `root` when it is a plain list of
    /// primitives (one leaf, repeated once), with its maximum definition level.
    fn leaf_of(&self, root: usize) -> Option<(usize, i16)> {
        let descr = self.builder.parquet_schema();
        let leaves: Vec<usize> = (0..descr.num_columns())
            .filter(|leaf| descr.get_column_root_idx(*leaf) == root)
            .collect();
        match leaves.as_slice() {
            [leaf] if descr.column(*leaf).max_rep_level() == 1 => {
                Some((*leaf, descr.column(*leaf).max_def_level()))
            }
            _ => None,
        }
    }
}

/// Where a stream column comes from.
#[derive(Clone, Copy)]
enum Source {
    /// Not in the file: nulls (or `{}` for the dynamic field).
    Missing,
    /// This column of the Arrow reader's batches.
    Arrow(usize),
    /// This fixed-width vector reader.
    Vector(usize),
}

/// Reads a fixed-width vector column (a list of `dim` primitives per row, no
/// nulls) straight from its column chunks: the Arrow list reader spends most
/// of a load's client CPU on per-value level bookkeeping, which a column
/// whose every list has the same length does not need.
struct VectorReader {
    source: String,
    field: String,
    file: SerializedFileReader<SharedBytes>,
    leaf: usize,
    /// The definition level of a present item in a present list.
    max_def: i16,
    per_row: usize,
    item: ArrowType,
    next_row_group: usize,
    column: Option<Leaf>,
    def: Vec<i16>,
    rep: Vec<i16>,
}

/// The typed reader of the leaf column in the current row group.
enum Leaf {
    Float(ColumnReaderImpl<FloatType>),
    Int(ColumnReaderImpl<Int32Type>),
}

impl VectorReader {
    /// Whether `field` can take the fast path: a non-nullable fixed-width
    /// vector stored exactly in the stream layout.
    fn fits(field: &FieldSpec, file_type: &ArrowType, target: &ArrowType) -> bool {
        use milvus_model::proto::schema::DataType;
        let fixed = matches!(
            field.data_type,
            DataType::FloatVector
                | DataType::BinaryVector
                | DataType::Float16Vector
                | DataType::BFloat16Vector
                | DataType::Int8Vector
        );
        let same_items = match (file_type, target) {
            (ArrowType::List(a), ArrowType::List(b)) => a.data_type() == b.data_type(),
            _ => false,
        };
        fixed && !field.nullable && same_items
    }

    fn new(
        bytes: SharedBytes,
        source: &str,
        field: &FieldSpec,
        leaf: usize,
        max_def: i16,
    ) -> Result<Self> {
        use milvus_model::proto::schema::DataType;
        let data_type = field.data_type;
        let dim = field.dim()?;
        let (per_row, item) = match data_type {
            DataType::FloatVector => (dim, ArrowType::Float32),
            DataType::BinaryVector => (dim / 8, ArrowType::UInt8),
            DataType::Float16Vector | DataType::BFloat16Vector => (2 * dim, ArrowType::UInt8),
            _ => (dim, ArrowType::Int8),
        };
        let file = SerializedFileReader::new(bytes)?;
        Ok(Self {
            source: source.to_string(),
            field: field.name.clone(),
            file,
            leaf,
            max_def,
            per_row,
            item,
            next_row_group: 0,
            column: None,
            def: Vec::new(),
            rep: Vec::new(),
        })
    }

    /// The next `rows` rows as a `List` column.
    fn read(&mut self, rows: usize) -> Result<ArrayRef> {
        let wanted = rows * self.per_row;
        let values: ArrayRef = match self.item {
            ArrowType::Float32 => {
                let mut values: Vec<f32> = Vec::with_capacity(wanted);
                self.read_rows(rows, |leaf, n, def, rep| match leaf {
                    Leaf::Float(r) => {
                        let before = values.len();
                        let (records, _, _) =
                            r.read_records(n, Some(def), Some(rep), &mut values)?;
                        Ok(Some((records, values.len() - before)))
                    }
                    Leaf::Int(_) => Ok(None),
                })?;
                Arc::new(Float32Array::new(ScalarBuffer::from(values), None))
            }
            _ => {
                let mut ints: Vec<i32> = Vec::with_capacity(wanted);
                self.read_rows(rows, |leaf, n, def, rep| match leaf {
                    Leaf::Int(r) => {
                        let before = ints.len();
                        let (records, _, _) = r.read_records(n, Some(def), Some(rep), &mut ints)?;
                        Ok(Some((records, ints.len() - before)))
                    }
                    Leaf::Float(_) => Ok(None),
                })?;
                // Byte vectors are stored as 32-bit integers with an 8-bit logical type.
                if self.item == ArrowType::UInt8 {
                    Arc::new(UInt8Array::from_iter_values(
                        ints.into_iter().map(|v| v as u8),
                    ))
                } else {
                    Arc::new(Int8Array::from_iter_values(
                        ints.into_iter().map(|v| v as i8),
                    ))
                }
            }
        };
        let offsets: Vec<i32> = (0..=rows).map(|r| (r * self.per_row) as i32).collect();
        let item = Arc::new(arrow::datatypes::Field::new(
            "item",
            self.item.clone(),
            false,
        ));
        Ok(Arc::new(ListArray::try_new(
            item,
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            values,
            None,
        )?))
    }

    /// Reads `rows` records through `read_some(leaf, records, def, rep)`,
    /// which reads up to that many records of the current row group and
    /// answers (records read, values read), or `None` for a leaf of another
    /// physical type. Checks every row: present, `per_row` values.
    fn read_rows(
        &mut self,
        rows: usize,
        mut read_some: impl FnMut(
            &mut Leaf,
            usize,
            &mut Vec<i16>,
            &mut Vec<i16>,
        ) -> parquet::errors::Result<Option<(usize, usize)>>,
    ) -> Result<()> {
        let bad = |reason: String| Error::field(&self.field, format!("{}: {reason}", self.source));
        let mut got = 0;
        while got < rows {
            if self.column.is_none() {
                if self.next_row_group >= self.file.num_row_groups() {
                    return Err(bad(format!("the column ends after {got} of {rows} rows")));
                }
                let row_group = self.file.get_row_group(self.next_row_group)?;
                self.next_row_group += 1;
                self.column = Some(match row_group.get_column_reader(self.leaf)? {
                    ColumnReader::FloatColumnReader(r) => Leaf::Float(r),
                    ColumnReader::Int32ColumnReader(r) => Leaf::Int(r),
                    _ => return Err(bad("unexpected physical type".into())),
                });
            }
            self.def.clear();
            self.rep.clear();
            let Some(leaf) = self.column.as_mut() else {
                continue;
            };
            let Some((records, read)) = read_some(leaf, rows - got, &mut self.def, &mut self.rep)?
            else {
                return Err(bad("unexpected physical type".into()));
            };
            if records == 0 {
                self.column = None;
                continue;
            }
            // Every level at its maximum: no null list, no null item.
            if self.def.iter().any(|d| *d != self.max_def) {
                return Err(bad("a vector is null or has null items".into()));
            }
            if read != records * self.per_row {
                return Err(bad(format!(
                    "{records} rows hold {read} values, expected {} per row",
                    self.per_row
                )));
            }
            got += records;
        }
        Ok(())
    }
}

/// Batches of a Parquet file in the stream layout.
pub struct ParquetRows {
    source: String,
    reader: ParquetRecordBatchReader,
    schema: SchemaRef,
    fields: Vec<FieldSpec>,
    projected: Vec<Source>,
    vectors: Vec<VectorReader>,
    rows_read: u64,
}

impl ParquetRows {
    /// Rows returned so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    fn convert(&mut self, batch: RecordBatch) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let vectors = &mut self.vectors;
        let columns = self
            .fields
            .iter()
            .zip(&self.projected)
            .zip(self.schema.fields())
            .map(|((field, from), target)| -> Result<ArrayRef> {
                let position = match from {
                    Source::Arrow(position) => *position,
                    Source::Vector(i) => return vectors[*i].read(rows),
                    Source::Missing if field.is_dynamic => {
                        return Ok(Arc::new(arrow::array::StringArray::from_iter_values(
                            std::iter::repeat_n("{}", rows),
                        )));
                    }
                    Source::Missing => return Ok(new_null_array(target.data_type(), rows)),
                };
                let column = batch.column(position);
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
    use milvus_model::proto::schema::DataType;
    let data_type = field.data_type;
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

#[cfg(test)]
mod tests {
    use std::fs::File;

    use arrow::array::{Array, AsArray, Int64Array};

    use super::*;
    use crate::layout::arrow_schema;
    use crate::parquet::ParquetWriter;
    use crate::test_support::{field, header};

    fn fixed_list(values: ArrayRef, per_row: usize, rows: usize) -> ArrayRef {
        let item = Arc::new(arrow::datatypes::Field::new(
            "item",
            values.data_type().clone(),
            false,
        ));
        let offsets: Vec<i32> = (0..=rows).map(|r| (r * per_row) as i32).collect();
        Arc::new(
            ListArray::try_new(
                item,
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                values,
                None,
            )
            .unwrap(),
        )
    }

    #[test]
    fn vectors_read_the_same_through_the_fast_path_across_row_groups() {
        let mut pk = field("id", "Int64", &[]);
        pk.is_primary_key = true;
        let fields = vec![
            pk,
            field("f", "FloatVector", &[("dim", "3")]),
            field("b", "BinaryVector", &[("dim", "16")]),
            field("h", "Float16Vector", &[("dim", "2")]),
            field("i", "Int8Vector", &[("dim", "2")]),
        ];
        let refs: Vec<&FieldSpec> = fields.iter().collect();
        let schema = arrow_schema(&refs).unwrap();
        let rows = 1000;
        let floats: Vec<f32> = (0..rows * 3)
            .map(|i| if i == 7 { f32::NAN } else { i as f32 * -0.25 })
            .collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(0..rows as i64)),
                fixed_list(Arc::new(Float32Array::from(floats)), 3, rows),
                fixed_list(
                    Arc::new(UInt8Array::from_iter_values((0..rows * 2).map(|i| i as u8))),
                    2,
                    rows,
                ),
                fixed_list(
                    Arc::new(UInt8Array::from_iter_values(
                        (0..rows * 4).map(|i| (i * 7) as u8),
                    )),
                    4,
                    rows,
                ),
                fixed_list(
                    Arc::new(Int8Array::from_iter_values((0..rows * 2).map(|i| i as i8))),
                    2,
                    rows,
                ),
            ],
        )
        .unwrap();
        // Uncompressed (the default) and Parquet's own zstd (`--zstd`).
        for zstd_level in [None, Some(3)] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("v.parquet");
            let mut writer = ParquetWriter::new(
                File::create(&path).unwrap(),
                &header(fields.clone()),
                &fields,
                schema.clone(),
                zstd_level,
            )
            .unwrap();
            // Several row groups, so batches straddle them.
            for start in (0..rows).step_by(300) {
                writer
                    .write_batch(&batch.slice(start, 300.min(rows - start)))
                    .unwrap();
                writer.flush_row_group().unwrap();
            }
            writer.finish().unwrap();

            let input = ParquetInput::open(&path, "v.parquet").unwrap();
            assert_eq!(input.rows(), rows as u64);
            let reader = input.read(&fields, 128).unwrap();
            assert_eq!(
                reader.vectors.len(),
                4,
                "every vector column takes the fast path"
            );
            let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
            let read = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
            assert_eq!(read.num_rows(), rows);
            for (column, (got, want)) in read.columns().iter().zip(batch.columns()).enumerate() {
                // Compare bits: NaN != NaN as floats.
                assert_eq!(
                    got.to_data(),
                    want.to_data(),
                    "column {column}, zstd {zstd_level:?}"
                );
            }
            let f = read.column(1).as_list::<i32>();
            assert!(f
                .value(2)
                .as_primitive::<arrow::datatypes::Float32Type>()
                .value(1)
                .is_nan());
        }
    }
}
