//! Whether decoded rows obey the header's schema, for inputs whose decoder
//! does not enforce it while reading (Parquet: the JSONL decoder checks
//! lengths, capacities and dims as it goes).

use arrow::array::{Array, AsArray, ListArray, StringArray};
use arrow::record_batch::RecordBatch;
use milvus_model::proto::schema::DataType;

use crate::error::Result;
use crate::header::FieldSpec;

/// Checks every row of `batch` (columns in the order of `fields`) against
/// the fields' type parameters: VARCHAR `max_length` (in bytes, as Milvus
/// counts), ARRAY `max_capacity` and element `max_length`, vector
/// dimensions, and no nulls in a field that is not nullable (one with a
/// default value may be null: Milvus fills the default in). The error names
/// the field and the row (0-based within the batch).
pub fn check_batch(fields: &[&FieldSpec], batch: &RecordBatch) -> Result<(), String> {
    for (field, column) in fields.iter().zip(batch.columns()) {
        check_column(field, column.as_ref())
            .map_err(|reason| format!("field {:?}: {reason}", field.name))?;
    }
    Ok(())
}

fn check_column(field: &FieldSpec, column: &dyn Array) -> Result<(), String> {
    let param = |key: &str| field.type_param(key).map_err(|e| e.to_string());
    if !field.nullable
        && !field.is_dynamic
        && field.default_value.is_none()
        && column.null_count() > 0
    {
        let row = (0..column.len()).find(|i| column.is_null(*i)).unwrap_or(0);
        return Err(format!("row {row}: null in a field that is not nullable"));
    }
    let data_type = field.data_type;
    match data_type {
        DataType::VarChar => {
            if let (Some(max), Some(strings)) = (param("max_length")?, column.as_string_opt()) {
                check_lengths(strings, max)?;
            }
        }
        DataType::Array => {
            let list = as_list(column)?;
            if let Some(max) = param("max_capacity")? {
                if let Some(row) = (0..list.len()).find(|i| list.value_length(*i) as usize > max) {
                    return Err(format!(
                        "row {row}: array of {} elements is longer than max_capacity {max}",
                        list.value_length(row)
                    ));
                }
            }
            let element = field.array_element_type().map_err(|e| e.to_string())?;
            if element == DataType::VarChar {
                if let (Some(max), Some(strings)) =
                    (param("max_length")?, list.values().as_string_opt::<i32>())
                {
                    check_lengths(strings, max).map_err(|e| format!("array element {e}"))?;
                }
            }
        }
        DataType::FloatVector
        | DataType::BinaryVector
        | DataType::Float16Vector
        | DataType::BFloat16Vector
        | DataType::Int8Vector => {
            let dim = field.dim().map_err(|e| e.to_string())?;
            let width = match data_type {
                DataType::BinaryVector => dim.div_ceil(8),
                DataType::Float16Vector | DataType::BFloat16Vector => dim * 2,
                _ => dim,
            };
            let list = as_list(column)?;
            if let Some(row) = (0..list.len())
                .find(|i| !list.is_null(*i) && list.value_length(*i) as usize != width)
            {
                return Err(format!(
                    "row {row}: vector of {} values, but dim {dim} takes {width}",
                    list.value_length(row)
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn as_list(column: &dyn Array) -> Result<&ListArray, String> {
    column
        .as_list_opt::<i32>()
        .ok_or_else(|| format!("a {} column where a list was expected", column.data_type()))
}

/// Milvus counts VARCHAR length in bytes.
fn check_lengths(strings: &StringArray, max: usize) -> Result<(), String> {
    let offsets = strings.value_offsets();
    match offsets
        .windows(2)
        .position(|w| (w[1] - w[0]) as usize > max)
    {
        Some(row) => Err(format!(
            "row {row}: string of {} bytes is longer than max_length {max}",
            strings.value(row).len()
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float32Builder, Int64Array, ListBuilder};

    use super::*;
    use crate::layout::arrow_schema;
    use crate::test_support::field;

    #[test]
    fn rows_beyond_the_type_parameters_are_named() {
        let id = field("id", "Int64", &[]);
        let s = field("s", "VarChar", &[("max_length", "3")]);
        let v = field("v", "FloatVector", &[("dim", "2")]);
        let fields = [&id, &s, &v];
        let schema = arrow_schema(&fields).unwrap();
        let batch = |strings: Vec<&str>, dims: Vec<usize>| {
            let mut vectors = ListBuilder::new(Float32Builder::new()).with_field(Arc::new(
                arrow::datatypes::Field::new("item", arrow::datatypes::DataType::Float32, false),
            ));
            for d in &dims {
                for _ in 0..*d {
                    vectors.values().append_value(1.0);
                }
                vectors.append(true);
            }
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from_iter_values(0..strings.len() as i64)),
                    Arc::new(StringArray::from(strings)),
                    Arc::new(vectors.finish()),
                ],
            )
            .unwrap()
        };
        assert_eq!(
            check_batch(&fields, &batch(vec!["abc", "é"], vec![2, 2])),
            Ok(())
        );
        let long = check_batch(&fields, &batch(vec!["abc", "éé"], vec![2, 2])).unwrap_err();
        assert!(
            long.contains("\"s\"") && long.contains("row 1") && long.contains("4 bytes"),
            "{long}"
        );
        let short = check_batch(&fields, &batch(vec!["a", "b"], vec![2, 1])).unwrap_err();
        assert!(
            short.contains("\"v\"") && short.contains("row 1") && short.contains("dim 2"),
            "{short}"
        );
    }
}
