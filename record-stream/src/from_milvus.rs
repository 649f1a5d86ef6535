//! Query results (`FieldData`, columnar) → Arrow `RecordBatch`: the one place
//! where Milvus's wire encodings are decoded.
//!
//! Vectors move into Arrow buffers without copying element by element; scalars
//! likewise. Nullable scalars come full length with `valid_data`; nullable
//! vectors come compact (only the valid rows): both are handled.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
    Int8Array, ListArray, RecordBatch, StringArray, UInt8Array,
};
use arrow::buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType as ArrowType, Field, SchemaRef};
use milvus_model::proto::schema::{
    field_data, scalar_field, vector_field, DataType, FieldData, ScalarField,
};

use crate::error::{Error, Result};
use crate::header::{FieldSpec, DYNAMIC_FIELD};
use crate::sparse;

/// Converts one query page into a batch with `schema` (from
/// [`crate::layout::arrow_schema`] of the same `fields`).
pub fn record_batch(
    fields: &[&FieldSpec],
    schema: &SchemaRef,
    mut data: Vec<FieldData>,
) -> Result<RecordBatch> {
    let mut columns = Vec::with_capacity(fields.len());
    let mut num_rows = None;
    for field in fields {
        let position = data.iter().position(|d| {
            if field.is_dynamic {
                d.is_dynamic || d.field_name == DYNAMIC_FIELD
            } else {
                d.field_name == field.name
            }
        });
        let column = match position {
            Some(i) => convert_field(field, data.swap_remove(i), num_rows)?,
            // A page with no rows may come without columns.
            None if num_rows.unwrap_or(0) == 0 && data.is_empty() => {
                arrow::array::new_empty_array(&crate::layout::arrow_type(field)?)
            }
            // Milvus Lite leaves the dynamic column out when no row has a key.
            None if field.is_dynamic => {
                let n = num_rows.ok_or_else(|| {
                    Error::field(&field.name, "dynamic field before any other column")
                })?;
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n("{}", n)))
            }
            None => return Err(Error::field(&field.name, "missing from the query result")),
        };
        if let Some(n) = num_rows {
            if column.len() != n {
                return Err(Error::field(
                    &field.name,
                    format!("{} values, expected {n}", column.len()),
                ));
            }
        }
        num_rows = Some(column.len());
        columns.push(column);
    }
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

fn mismatched(field: &FieldSpec, data_type: DataType) -> Error {
    Error::field(
        &field.name,
        format!(
            "{} field with a mismatched encoding",
            data_type.as_str_name()
        ),
    )
}

/// Validity: the field-level `valid_data`, else the legacy top-level one.
fn validity(field: &FieldSpec, specific: &[bool], legacy: &[bool]) -> Option<Vec<bool>> {
    if !field.nullable {
        return None;
    }
    let v = if !specific.is_empty() {
        specific
    } else {
        legacy
    };
    (!v.is_empty()).then(|| v.to_vec())
}

fn convert_field(
    field: &FieldSpec,
    data: FieldData,
    expected_rows: Option<usize>,
) -> Result<ArrayRef> {
    let data_type = field.data_type;
    let legacy_valid = data.valid_data;
    match data.field {
        Some(field_data::Field::Scalars(scalars)) => {
            let valid = validity(field, &scalars.valid_data, &legacy_valid);
            scalar_array(field, data_type, scalars, valid.as_deref())
        }
        Some(field_data::Field::Vectors(vectors)) => {
            let valid = validity(field, &vectors.valid_data, &legacy_valid);
            let dim = usize::try_from(vectors.dim).unwrap_or(0);
            vector_array(
                field,
                data_type,
                vectors.data,
                dim,
                valid.as_deref(),
                expected_rows,
            )
        }
        _ => Err(Error::field(
            &field.name,
            "unsupported field encoding in query result",
        )),
    }
}

fn nulls(valid: Option<&[bool]>) -> Option<NullBuffer> {
    valid.map(|v| NullBuffer::from(v.to_vec()))
}

/// Expands compact values (one per valid row) to one per row with `fill` at nulls.
fn expand<T: Clone>(values: Vec<T>, valid: Option<&[bool]>, fill: T) -> Vec<T> {
    match valid {
        Some(v) if values.len() != v.len() && values.len() == v.iter().filter(|b| **b).count() => {
            let mut it = values.into_iter();
            v.iter()
                .map(|ok| {
                    if *ok {
                        it.next().unwrap_or(fill.clone())
                    } else {
                        fill.clone()
                    }
                })
                .collect()
        }
        _ => values,
    }
}

fn narrow<T: TryFrom<i32>>(field: &FieldSpec, values: Vec<i32>) -> Result<Vec<T>> {
    values
        .into_iter()
        .map(|v| {
            T::try_from(v).map_err(|_| Error::field(&field.name, format!("value {v} out of range")))
        })
        .collect()
}

fn strings(values: Vec<String>, valid: Option<&[bool]>) -> ArrayRef {
    let values = expand(values, valid, String::new());
    let mut array = StringArray::from(values);
    if let Some(n) = nulls(valid) {
        array = StringArray::new(array.offsets().clone(), array.values().clone(), Some(n));
    }
    Arc::new(array)
}

fn json_strings(
    field: &FieldSpec,
    values: Vec<Vec<u8>>,
    valid: Option<&[bool]>,
) -> Result<ArrayRef> {
    let values = values
        .into_iter()
        .map(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| Error::field(&field.name, "JSON value is not UTF-8"))
        })
        .collect::<Result<Vec<_>>>()?;
    // Null JSON rows may come as empty bytes: keep them valid JSON for readers.
    let values = values
        .into_iter()
        .map(|s| if s.is_empty() { "null".to_string() } else { s })
        .collect();
    Ok(strings(values, valid))
}

fn scalar_array(
    field: &FieldSpec,
    data_type: DataType,
    scalars: ScalarField,
    valid: Option<&[bool]>,
) -> Result<ArrayRef> {
    use scalar_field::Data;
    let mismatch = || mismatched(field, data_type);
    let data = scalars.data.ok_or_else(mismatch)?;
    let n = nulls(valid);
    Ok(match (data_type, data) {
        (DataType::Bool, Data::BoolData(d)) => Arc::new(BooleanArray::new(
            BooleanBuffer::from(expand(d.data, valid, false)),
            n,
        )),
        (DataType::Int8, Data::IntData(d)) => Arc::new(Int8Array::new(
            ScalarBuffer::from(narrow::<i8>(field, expand(d.data, valid, 0))?),
            n,
        )),
        (DataType::Int16, Data::IntData(d)) => Arc::new(Int16Array::new(
            ScalarBuffer::from(narrow::<i16>(field, expand(d.data, valid, 0))?),
            n,
        )),
        (DataType::Int32, Data::IntData(d)) => Arc::new(Int32Array::new(
            ScalarBuffer::from(expand(d.data, valid, 0)),
            n,
        )),
        (DataType::Int64, Data::LongData(d)) => Arc::new(Int64Array::new(
            ScalarBuffer::from(expand(d.data, valid, 0)),
            n,
        )),
        (DataType::Timestamptz, Data::StringData(d)) => strings(d.data, valid),
        (DataType::Timestamptz, Data::TimestamptzData(d)) => {
            strings(d.data.into_iter().map(timestamptz_text).collect(), valid)
        }
        (DataType::Float, Data::FloatData(d)) => Arc::new(Float32Array::new(
            ScalarBuffer::from(expand(d.data, valid, 0.0)),
            n,
        )),
        (DataType::Double, Data::DoubleData(d)) => Arc::new(Float64Array::new(
            ScalarBuffer::from(expand(d.data, valid, 0.0)),
            n,
        )),
        (DataType::VarChar | DataType::String | DataType::Text, Data::StringData(d)) => {
            strings(d.data, valid)
        }
        (DataType::Json, Data::JsonData(d)) => json_strings(field, d.data, valid)?,
        (DataType::Geometry, Data::GeometryWktData(d)) => strings(d.data, valid),
        (DataType::Geometry, Data::StringData(d)) => strings(d.data, valid),
        (DataType::Array, Data::ArrayData(d)) => array_of_arrays(field, d.data, valid)?,
        (_, other) => {
            return Err(Error::field(
                &field.name,
                format!(
                    "{} field came as {}",
                    data_type.as_str_name(),
                    scalar_kind(&other)
                ),
            ))
        }
    })
}

fn scalar_kind(data: &scalar_field::Data) -> &'static str {
    use scalar_field::Data;
    match data {
        Data::BoolData(_) => "bool_data",
        Data::IntData(_) => "int_data",
        Data::LongData(_) => "long_data",
        Data::FloatData(_) => "float_data",
        Data::DoubleData(_) => "double_data",
        Data::StringData(_) => "string_data",
        Data::BytesData(_) => "bytes_data",
        Data::ArrayData(_) => "array_data",
        Data::JsonData(_) => "json_data",
        Data::GeometryData(_) => "geometry_data (WKB)",
        Data::TimestamptzData(_) => "timestamptz_data (microseconds)",
        Data::GeometryWktData(_) => "geometry_wkt_data",
        _ => "an unsupported encoding",
    }
}

/// A TIMESTAMPTZ sent as microseconds since the epoch, as RFC 3339 UTC text.
fn timestamptz_text(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let sub = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{sub:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// ARRAY fields: one `ScalarField` per row, flattened into one `List` column.
fn array_of_arrays(
    field: &FieldSpec,
    rows: Vec<ScalarField>,
    valid: Option<&[bool]>,
) -> Result<ArrayRef> {
    use scalar_field::Data;
    let element_type = field.array_element_type()?;
    let mut offsets = Vec::with_capacity(rows.len() + 1);
    offsets.push(0i32);
    let mut flat: Option<Data> = None;
    for row in rows {
        let data = row.data;
        let len = match &data {
            Some(Data::BoolData(d)) => d.data.len(),
            Some(Data::IntData(d)) => d.data.len(),
            Some(Data::LongData(d)) => d.data.len(),
            Some(Data::FloatData(d)) => d.data.len(),
            Some(Data::DoubleData(d)) => d.data.len(),
            Some(Data::StringData(d)) => d.data.len(),
            None => 0,
            Some(other) => {
                return Err(Error::field(
                    &field.name,
                    format!("array element came as {}", scalar_kind(other)),
                ))
            }
        };
        let last = *offsets.last().unwrap_or(&0);
        offsets.push(
            last + i32::try_from(len).map_err(|_| Error::field(&field.name, "array too long"))?,
        );
        match (&mut flat, data) {
            (_, None) => {}
            (None, Some(d)) => flat = Some(d),
            (Some(Data::BoolData(a)), Some(Data::BoolData(b))) => a.data.extend(b.data),
            (Some(Data::IntData(a)), Some(Data::IntData(b))) => a.data.extend(b.data),
            (Some(Data::LongData(a)), Some(Data::LongData(b))) => a.data.extend(b.data),
            (Some(Data::FloatData(a)), Some(Data::FloatData(b))) => a.data.extend(b.data),
            (Some(Data::DoubleData(a)), Some(Data::DoubleData(b))) => a.data.extend(b.data),
            (Some(Data::StringData(a)), Some(Data::StringData(b))) => a.data.extend(b.data),
            _ => {
                return Err(Error::field(
                    &field.name,
                    "array rows with different element encodings",
                ))
            }
        }
    }
    let item_spec = FieldSpec {
        nullable: false,
        ..field.clone()
    };
    let values = match flat {
        Some(data) => scalar_array(
            &item_spec,
            element_type,
            ScalarField {
                data: Some(data),
                valid_data: vec![],
            },
            None,
        )?,
        None => {
            arrow::array::new_empty_array(&crate::layout::arrow_type(field).map(|t| match t {
                ArrowType::List(item) => item.data_type().clone(),
                other => other,
            })?)
        }
    };
    list_array(
        values,
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        valid,
    )
}

/// A non-nullable-item `List` column.
fn list_array(
    values: ArrayRef,
    offsets: OffsetBuffer<i32>,
    valid: Option<&[bool]>,
) -> Result<ArrayRef> {
    let item = Arc::new(Field::new("item", values.data_type().clone(), false));
    Ok(Arc::new(ListArray::try_new(
        item,
        offsets,
        values,
        nulls(valid),
    )?))
}

/// Offsets of a list column with `per_row` items for every valid row and none for nulls.
fn fixed_offsets(
    field: &FieldSpec,
    per_row: usize,
    valid: Option<&[bool]>,
    rows: usize,
) -> Result<OffsetBuffer<i32>> {
    let per_row = i32::try_from(per_row).map_err(|_| Error::field(&field.name, "dim too large"))?;
    let mut offsets = Vec::with_capacity(rows + 1);
    let mut at = 0i32;
    offsets.push(at);
    for row in 0..rows {
        if valid.is_none_or(|v| v[row]) {
            at = at.checked_add(per_row).ok_or_else(|| {
                Error::field(&field.name, "page too large for 32-bit list offsets")
            })?;
        }
        offsets.push(at);
    }
    Ok(OffsetBuffer::new(ScalarBuffer::from(offsets)))
}

fn vector_array(
    field: &FieldSpec,
    data_type: DataType,
    data: Option<vector_field::Data>,
    dim: usize,
    valid: Option<&[bool]>,
    expected_rows: Option<usize>,
) -> Result<ArrayRef> {
    use vector_field::Data;
    let dim = if dim == 0 {
        field.dim().unwrap_or(0)
    } else {
        dim
    };
    let valid_rows = |items: usize, per_row: usize| -> Result<usize> {
        if per_row == 0 || !items.is_multiple_of(per_row) {
            return Err(Error::field(
                &field.name,
                format!("{items} values do not divide into rows of {per_row}"),
            ));
        }
        Ok(items / per_row)
    };
    let rows_total = |valid_count: usize| valid.map_or(valid_count, |v| v.len());
    let list = |values: ArrayRef, per_row: usize| -> Result<ArrayRef> {
        let count = valid_rows(values.len(), per_row)?;
        let rows = rows_total(count);
        list_array(values, fixed_offsets(field, per_row, valid, rows)?, valid)
    };
    let mismatch = || mismatched(field, data_type);
    match (data_type, data) {
        (DataType::FloatVector, Some(Data::FloatVector(v))) => list(
            Arc::new(Float32Array::new(ScalarBuffer::from(v.data), None)),
            dim,
        ),
        (DataType::BinaryVector, Some(Data::BinaryVector(bytes))) => list(
            Arc::new(UInt8Array::new(ScalarBuffer::from(bytes), None)),
            dim / 8,
        ),
        (DataType::Float16Vector, Some(Data::Float16Vector(bytes)))
        | (DataType::BFloat16Vector, Some(Data::Bfloat16Vector(bytes))) => list(
            Arc::new(UInt8Array::new(ScalarBuffer::from(bytes), None)),
            2 * dim,
        ),
        (DataType::Int8Vector, Some(Data::Int8Vector(bytes))) => {
            let values: Vec<i8> = bytes.into_iter().map(|b| b as i8).collect();
            list(
                Arc::new(Int8Array::new(ScalarBuffer::from(values), None)),
                dim,
            )
        }
        (DataType::SparseFloatVector, Some(Data::SparseFloatVector(sparse))) => {
            let rows = sparse
                .contents
                .iter()
                .map(|row| sparse_json(field, row))
                .collect::<Result<Vec<_>>>()?;
            Ok(strings(rows, valid))
        }
        // A page where every row is null in a nullable vector field.
        (_, None) if valid.is_some() || expected_rows == Some(0) => {
            let rows = valid.map_or(0, |v| v.len());
            let empty = arrow::array::new_empty_array(&match crate::layout::arrow_type(field)? {
                ArrowType::List(item) => item.data_type().clone(),
                _ => return Ok(strings(vec![String::new(); rows], valid)),
            });
            list_array(
                empty,
                OffsetBuffer::new(ScalarBuffer::from(vec![0i32; rows + 1])),
                valid,
            )
        }
        _ => Err(mismatch()),
    }
}

/// A sparse row (little-endian `u32` index, `f32` value pairs) as a JSON object
/// text `{"index": value, ...}`, values in shortest round-trip form.
pub fn sparse_json(field: &FieldSpec, row: &[u8]) -> Result<String> {
    let pairs = sparse::from_bytes(row).ok_or_else(|| {
        Error::field(
            &field.name,
            format!("sparse row of {} bytes is not (u32, f32) pairs", row.len()),
        )
    })?;
    let mut out = String::with_capacity(row.len() * 2 + 2);
    sparse::write_canonical(pairs, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamptz_micros_format_as_rfc3339_utc() {
        assert_eq!(timestamptz_text(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            timestamptz_text(1_735_734_896_123_456),
            "2025-01-01T12:34:56.123456Z"
        );
        assert_eq!(timestamptz_text(-1), "1969-12-31T23:59:59.999999Z");
    }
}
