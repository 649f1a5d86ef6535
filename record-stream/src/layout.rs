//! The Arrow schema of a collection: Milvus's bulk-import Parquet layout.
//!
//! | Milvus type | Arrow type |
//! |---|---|
//! | BOOL, INT8..INT64, FLOAT, DOUBLE | the same-width Arrow primitive |
//! | VARCHAR, JSON, GEOMETRY (WKT), SPARSE_FLOAT_VECTOR, `$meta` | `Utf8` (JSON text for JSON, sparse and `$meta`) |
//! | TIMESTAMPTZ | `Utf8` (ISO 8601 / RFC 3339, as the server returns it) |
//! | ARRAY of T | `List<T>` |
//! | FLOAT_VECTOR | `List<Float32>` |
//! | BINARY_VECTOR | `List<UInt8>` (packed bits, dim/8 bytes) |
//! | FLOAT16_VECTOR, BFLOAT16_VECTOR | `List<UInt8>` (raw little-endian, 2·dim bytes) |
//! | INT8_VECTOR | `List<Int8>` |

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef};
use milvus_model::proto::schema::DataType;

use crate::error::{Error, Result};
use crate::header::{CollectionSpec, FieldSpec, Scope, PARTITION_COLUMN};

/// Arrow field metadata key holding the Milvus type name.
pub const MILVUS_TYPE_KEY: &str = "milvus.type";

/// The Arrow type of scalar Milvus values (also array elements).
fn scalar_type(field: &str, data_type: DataType) -> Result<ArrowType> {
    Ok(match data_type {
        DataType::Bool => ArrowType::Boolean,
        DataType::Int8 => ArrowType::Int8,
        DataType::Int16 => ArrowType::Int16,
        DataType::Int32 => ArrowType::Int32,
        DataType::Int64 => ArrowType::Int64,
        DataType::Float => ArrowType::Float32,
        DataType::Double => ArrowType::Float64,
        DataType::VarChar
        | DataType::String
        | DataType::Text
        | DataType::Json
        | DataType::Geometry
        | DataType::Timestamptz => ArrowType::Utf8,
        other => {
            return Err(Error::field(
                field,
                format!("type {} is not supported", other.as_str_name()),
            ))
        }
    })
}

fn list_of(item: ArrowType) -> ArrowType {
    ArrowType::List(Arc::new(Field::new("item", item, false)))
}

/// Whether a Milvus type is a vector type.
pub fn is_vector(data_type: DataType) -> bool {
    matches!(
        data_type,
        DataType::FloatVector
            | DataType::BinaryVector
            | DataType::Float16Vector
            | DataType::BFloat16Vector
            | DataType::Int8Vector
            | DataType::SparseFloatVector
    )
}

/// The Arrow type of one Milvus field.
pub fn arrow_type(field: &FieldSpec) -> Result<ArrowType> {
    let data_type = field.data_type;
    Ok(match data_type {
        DataType::Array => list_of(scalar_type(&field.name, field.array_element_type()?)?),
        DataType::FloatVector => list_of(ArrowType::Float32),
        DataType::BinaryVector | DataType::Float16Vector | DataType::BFloat16Vector => {
            list_of(ArrowType::UInt8)
        }
        DataType::Int8Vector => list_of(ArrowType::Int8),
        DataType::SparseFloatVector => ArrowType::Utf8,
        other => scalar_type(&field.name, other)?,
    })
}

/// The exported fields of a collection, in stream column order: schema order,
/// function outputs left out, restricted to `selected` when not empty (the
/// primary key is always kept).
pub fn exported_fields<'a>(
    collection: &'a CollectionSpec,
    selected: &[String],
) -> Vec<&'a FieldSpec> {
    collection
        .fields
        .iter()
        .filter(|f| f.is_exported())
        .filter(|f| {
            selected.is_empty() || f.is_primary_key || selected.iter().any(|s| s == &f.name)
        })
        .collect()
}

/// The pseudo-field of the [`PARTITION_COLUMN`]: a VARCHAR column.
pub fn partition_field() -> &'static FieldSpec {
    static FIELD: OnceLock<FieldSpec> = OnceLock::new();
    FIELD.get_or_init(|| FieldSpec {
        name: PARTITION_COLUMN.into(),
        field_id: 0,
        data_type: DataType::VarChar,
        element_type: None,
        description: String::new(),
        type_params: BTreeMap::from([("max_length".to_string(), "255".to_string())]),
        is_primary_key: false,
        auto_id: false,
        nullable: false,
        is_dynamic: false,
        is_partition_key: false,
        is_clustering_key: false,
        is_function_output: false,
        default_value: None,
    })
}

/// Whether a stream field is the [`PARTITION_COLUMN`] rather than a collection field.
pub fn is_partition_column(field: &FieldSpec) -> bool {
    field.name == PARTITION_COLUMN
}

/// The columns of a stream of `collection` with `scope`: the exported
/// fields, then the [`PARTITION_COLUMN`] when rows carry their partition.
pub fn stream_fields<'a>(collection: &'a CollectionSpec, scope: &Scope) -> Vec<&'a FieldSpec> {
    let mut fields = exported_fields(collection, &scope.fields);
    if scope.row_partitions {
        fields.push(partition_field());
    }
    fields
}

/// The Arrow schema of a stream of `fields`.
pub fn arrow_schema(fields: &[&FieldSpec]) -> Result<SchemaRef> {
    let arrow_fields = fields
        .iter()
        .map(|f| {
            Ok(
                Field::new(f.column_name(), arrow_type(f)?, f.nullable).with_metadata(
                    HashMap::from([(
                        MILVUS_TYPE_KEY.to_string(),
                        f.data_type.as_str_name().to_string(),
                    )]),
                ),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Schema::new(arrow_fields)))
}
