//! Arrow `RecordBatch` → Milvus insert columns: the inverse of
//! [`crate::from_milvus`], column by column, with no row-by-row detour.
//!
//! Vectors become little-endian byte blobs ([`PageField`]), copied once from
//! the Arrow buffers. Nullable fields (and fields with a default value) send
//! `valid_data` with the values of the valid rows only, as Milvus expects.

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, GenericListArray, RecordBatch, StringArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{
    ArrowPrimitiveType, DataType as ArrowType, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, UInt8Type,
};
use bytes::Bytes;
use milvus_model::proto::schema::{
    scalar_field::Data, ArrayArray, BoolArray, DataType, DoubleArray, FloatArray, GeometryWktArray,
    IntArray, JsonArray, LongArray, ScalarField, SparseFloatArray, StringArray as MilvusStrings,
};
use milvus_model::query_page::{PageField, PageVectors, RawFloats};

use crate::error::{Error, Result};
use crate::header::FieldSpec;
use crate::layout::is_vector;
use crate::sparse;

/// The insert columns of `batch`, whose columns are `fields` in order (the
/// Arrow layout of [`crate::layout::arrow_schema`]).
pub fn insert_columns(fields: &[&FieldSpec], batch: &RecordBatch) -> Result<Vec<PageField>> {
    if batch.num_columns() != fields.len() {
        return Err(Error::Header(format!(
            "{} columns for {} fields",
            batch.num_columns(),
            fields.len()
        )));
    }
    fields
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| insert_column(field, column))
        .collect()
}

/// Which rows are sent: `None` when every row is (a non-nullable field
/// without nulls). A null in a field that cannot take one is an error.
fn validity(field: &FieldSpec, column: &ArrayRef) -> Result<Option<NullBuffer>> {
    let accepts_null = field.nullable || field.default_value.is_some();
    match column.logical_nulls() {
        Some(nulls) if nulls.null_count() > 0 => {
            if !accepts_null {
                let row = nulls.iter().position(|valid| !valid).unwrap_or(0);
                return Err(Error::field(
                    &field.name,
                    format!(
                        "row {row}: null in a field that is neither nullable nor has a default"
                    ),
                ));
            }
            Ok(Some(nulls))
        }
        _ => Ok(None),
    }
}

fn insert_column(field: &FieldSpec, column: &ArrayRef) -> Result<PageField> {
    let data_type = field.data_type;
    let nulls = validity(field, column)?;
    let valid_data = if field.nullable || field.default_value.is_some() {
        match &nulls {
            Some(n) => n.iter().collect(),
            None => vec![true; column.len()],
        }
    } else {
        Vec::new()
    };
    let keep = |row: usize| nulls.as_ref().is_none_or(|n| n.is_valid(row));
    let mut out = PageField {
        r#type: data_type as i32,
        field_name: field.column_name().to_string(),
        is_dynamic: field.is_dynamic,
        valid_data,
        ..Default::default()
    };
    let wrong = || wrong_arrow_type(field, data_type, column);
    if is_vector(data_type) {
        out.vectors = Some(vectors(field, data_type, column, &keep)?);
        return Ok(out);
    }
    let data = match plain_scalars(data_type, column, &keep) {
        Some(data) => data,
        None => match (data_type, column.data_type()) {
            (DataType::Timestamptz, ArrowType::Utf8) => Data::StringData(MilvusStrings {
                data: strings(column, &keep).map(str::to_string).collect(),
            }),
            (DataType::Geometry, ArrowType::Utf8) => Data::GeometryWktData(GeometryWktArray {
                data: strings(column, &keep).map(str::to_string).collect(),
            }),
            (DataType::Json, ArrowType::Utf8) => Data::JsonData(JsonArray {
                data: strings(column, &keep)
                    .map(|s| s.as_bytes().to_vec())
                    .collect(),
            }),
            (DataType::Array, ArrowType::List(_)) => {
                let element_type = field.array_element_type()?;
                let list = column.as_list::<i32>();
                let all = |_: usize| true;
                let rows = (0..list.len())
                    .filter(|r| keep(*r))
                    .map(|r| {
                        let values = list.value(r);
                        let data = plain_scalars(element_type, &values, &all).ok_or_else(|| {
                            Error::field(
                                &field.name,
                                format!(
                                    "array of {} cannot be read from Arrow items of type {}",
                                    element_type.as_str_name(),
                                    values.data_type()
                                ),
                            )
                        })?;
                        Ok(ScalarField {
                            data: Some(data),
                            valid_data: Vec::new(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Data::ArrayData(ArrayArray {
                    data: rows,
                    element_type: element_type as i32,
                })
            }
            _ => return Err(wrong()),
        },
    };
    out.scalars = Some(ScalarField {
        data: Some(data),
        valid_data: Vec::new(),
    });
    Ok(out)
}

fn primitive<T: ArrowPrimitiveType, O>(
    column: &ArrayRef,
    keep: &impl Fn(usize) -> bool,
    convert: impl Fn(T::Native) -> O,
) -> Vec<O> {
    let a = column.as_primitive::<T>();
    let values = a.values();
    (0..a.len())
        .filter(|r| keep(*r))
        .map(|r| convert(values[r]))
        .collect()
}

fn strings<'a>(
    column: &'a ArrayRef,
    keep: &'a impl Fn(usize) -> bool,
) -> impl Iterator<Item = &'a str> + 'a {
    let a: &StringArray = column.as_string::<i32>();
    (0..a.len()).filter(|r| keep(*r)).map(|r| a.value(r))
}

/// The encodings shared by fields and ARRAY elements (BOOL, INT8..INT64,
/// FLOAT, DOUBLE, VARCHAR) of the rows `keep` selects; `None` for other types.
fn plain_scalars(
    data_type: DataType,
    column: &ArrayRef,
    keep: &impl Fn(usize) -> bool,
) -> Option<Data> {
    Some(match (data_type, column.data_type()) {
        (DataType::Bool, ArrowType::Boolean) => {
            let a: &BooleanArray = column.as_boolean();
            Data::BoolData(BoolArray {
                data: (0..a.len())
                    .filter(|r| keep(*r))
                    .map(|r| a.value(r))
                    .collect(),
            })
        }
        (DataType::Int8, ArrowType::Int8) => Data::IntData(IntArray {
            data: primitive::<Int8Type, _>(column, keep, i32::from),
        }),
        (DataType::Int16, ArrowType::Int16) => Data::IntData(IntArray {
            data: primitive::<Int16Type, _>(column, keep, i32::from),
        }),
        (DataType::Int32, ArrowType::Int32) => Data::IntData(IntArray {
            data: primitive::<Int32Type, _>(column, keep, |v| v),
        }),
        (DataType::Int64, ArrowType::Int64) => Data::LongData(LongArray {
            data: primitive::<Int64Type, _>(column, keep, |v| v),
        }),
        (DataType::Float, ArrowType::Float32) => Data::FloatData(FloatArray {
            data: primitive::<Float32Type, _>(column, keep, |v| v),
        }),
        (DataType::Double, ArrowType::Float64) => Data::DoubleData(DoubleArray {
            data: primitive::<Float64Type, _>(column, keep, |v| v),
        }),
        (DataType::VarChar | DataType::String | DataType::Text, ArrowType::Utf8) => {
            Data::StringData(MilvusStrings {
                data: strings(column, keep).map(str::to_string).collect(),
            })
        }
        _ => return None,
    })
}

/// An Arrow buffer lent to `Bytes` without a copy.
struct ArrowBytes(arrow::buffer::Buffer);

impl AsRef<[u8]> for ArrowBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// The bytes of the valid rows of a fixed-width list column: each valid row
/// must hold exactly `per_row` items; null rows contribute nothing. Arrow
/// buffers are little-endian on every platform we build for, which is
/// Milvus's wire order for vectors: without nulls the values are one
/// contiguous run, shared rather than copied.
fn fixed_list_bytes<T: ArrowPrimitiveType>(
    field: &FieldSpec,
    list: &GenericListArray<i32>,
    per_row: usize,
    keep: &impl Fn(usize) -> bool,
) -> Result<Bytes> {
    let items = list.values().as_primitive::<T>();
    let buffer = items.values().inner();
    let raw = buffer.as_slice();
    let width = std::mem::size_of::<T::Native>();
    let offsets = list.value_offsets();
    for row in (0..list.len()).filter(|r| keep(*r)) {
        let items = (offsets[row + 1] - offsets[row]) as usize;
        if items != per_row {
            return Err(Error::field(
                &field.name,
                format!("row {row}: {items} values, expected {per_row}"),
            ));
        }
    }
    if list.null_count() == 0 {
        let start = offsets[0] as usize * width;
        let end = offsets[list.len()] as usize * width;
        return Ok(Bytes::from_owner(ArrowBytes(
            buffer.slice_with_length(start, end - start),
        )));
    }
    let mut out = Vec::with_capacity(list.len() * per_row * width);
    for row in (0..list.len()).filter(|r| keep(*r)) {
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        out.extend_from_slice(&raw[start * width..end * width]);
    }
    Ok(Bytes::from(out))
}

/// A column whose Arrow type cannot hold the field's Milvus type.
fn wrong_arrow_type(field: &FieldSpec, data_type: DataType, column: &ArrayRef) -> Error {
    Error::field(
        &field.name,
        format!(
            "a {} field cannot be read from Arrow type {}",
            data_type.as_str_name(),
            column.data_type()
        ),
    )
}

fn vectors(
    field: &FieldSpec,
    data_type: DataType,
    column: &ArrayRef,
    keep: &impl Fn(usize) -> bool,
) -> Result<PageVectors> {
    let mut out = PageVectors::default();
    let wrong = || wrong_arrow_type(field, data_type, column);
    if data_type == DataType::SparseFloatVector {
        if column.data_type() != &ArrowType::Utf8 {
            return Err(wrong());
        }
        let mut contents = Vec::new();
        let mut max_index = None;
        for (row, text) in strings(column, keep).enumerate() {
            let (bytes, row_max) = sparse_row(field, row, text)?;
            max_index = max_index.max(row_max);
            contents.push(bytes);
        }
        out.dim = max_index.map_or(0, |m| i64::from(m) + 1);
        out.sparse_float_vector = Some(SparseFloatArray {
            contents,
            dim: out.dim,
        });
        return Ok(out);
    }
    let ArrowType::List(item) = column.data_type() else {
        return Err(wrong());
    };
    let dim = field.dim()?;
    out.dim = i64::try_from(dim).map_err(|_| Error::field(&field.name, "dim too large"))?;
    let list = column.as_list::<i32>();
    match (data_type, item.data_type()) {
        (DataType::FloatVector, ArrowType::Float32) => {
            out.float_vector = Some(RawFloats {
                data: fixed_list_bytes::<Float32Type>(field, list, dim, keep)?,
            })
        }
        (DataType::BinaryVector, ArrowType::UInt8) => {
            out.binary_vector = Some(fixed_list_bytes::<UInt8Type>(field, list, dim / 8, keep)?)
        }
        (DataType::Float16Vector, ArrowType::UInt8) => {
            out.float16_vector = Some(fixed_list_bytes::<UInt8Type>(field, list, 2 * dim, keep)?)
        }
        (DataType::BFloat16Vector, ArrowType::UInt8) => {
            out.bfloat16_vector = Some(fixed_list_bytes::<UInt8Type>(field, list, 2 * dim, keep)?)
        }
        (DataType::Int8Vector, ArrowType::Int8) => {
            out.int8_vector = Some(fixed_list_bytes::<Int8Type>(field, list, dim, keep)?)
        }
        _ => return Err(wrong()),
    }
    Ok(out)
}

/// A sparse row's JSON text (any form [`sparse::parse`] reads) as Milvus's
/// bytes. Returns the largest index too.
pub fn sparse_row(field: &FieldSpec, row: usize, text: &str) -> Result<(Vec<u8>, Option<u32>)> {
    let mut pairs = Vec::new();
    sparse::parse(text, &mut pairs)
        .map_err(|reason| Error::field(&field.name, format!("row {row}: {reason}")))?;
    Ok((sparse::to_bytes(&pairs), pairs.last().map(|(i, _)| *i)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::from_milvus::sparse_json;

    fn spec(name: &str, data_type: &str) -> FieldSpec {
        serde_json::from_value(serde_json::json!({
            "name": name, "field_id": 0, "data_type": data_type,
            "type_params": {"dim": "4"}
        }))
        .unwrap()
    }

    #[test]
    fn sparse_rows_round_trip_through_their_json_text() {
        let field = spec("s", "SparseFloatVector");
        let mut bytes = Vec::new();
        for (i, v) in [(3u32, 0.1f32), (7, -2.5e-30), (4_000_000_000, 1.0 / 3.0)] {
            bytes.extend_from_slice(&i.to_le_bytes());
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let text = sparse_json(&field, &bytes).unwrap();
        let (back, max) = sparse_row(&field, 0, &text).unwrap();
        assert_eq!(back, bytes);
        assert_eq!(max, Some(4_000_000_000));
        let (parallel, _) = sparse_row(
            &field,
            0,
            r#"{"indices":[7,3,4000000000],"values":[-2.5e-30,0.1,0.33333334]}"#,
        )
        .unwrap();
        assert_eq!(parallel, bytes);
        assert_eq!(sparse_row(&field, 0, "{}").unwrap(), (vec![], None));
        let err = sparse_row(&field, 5, r#"{"1":"NaN"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 5") && err.contains("\"s\""), "{err}");
    }
}
