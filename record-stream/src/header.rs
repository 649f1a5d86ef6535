//! The stream header: everything needed to rebuild a collection.
//!
//! Our own JSON shape (stable, readable, documented in the README) rather than
//! the protobuf, plus the server's serialized `CollectionSchema` as a safety
//! net for attributes a future Milvus adds that we do not model yet.

use std::collections::BTreeMap;

use base64::Engine as _;
use milvus_model::proto::common::KeyValuePair;
use milvus_model::proto::milvus::{DescribeCollectionResponse, IndexDescription};
use milvus_model::proto::schema::{self, value_field, DataType, FieldSchema, FunctionSchema};
use prost::Message as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Version of the stream format this crate writes. Readers refuse newer ones.
pub const FORMAT_VERSION: u32 = 1;

/// The key of the JSONL header line and of the Parquet key-value metadata.
pub const HEADER_KEY: &str = "$milvus_dump";

/// The name of Milvus's dynamic-field column.
pub const DYNAMIC_FIELD: &str = "$meta";

/// The column that names each row's partition, in streams of collections
/// with explicit partitions ([`Scope::row_partitions`]). Milvus field names
/// cannot start with `$`, so it never collides with a field.
pub const PARTITION_COLUMN: &str = "$partition";

/// The header of a stream or backup-set collection.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Header {
    /// Stream format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The tool that wrote the stream.
    pub tool: String,
    /// Its version.
    pub tool_version: String,
    /// When the dump started (RFC 3339, UTC).
    pub created_at: String,
    /// The server the data came from.
    pub server: ServerInfo,
    /// Database name (`default` when the server's default was used).
    pub database: String,
    /// The collection: schema, partitions, indexes, settings.
    pub collection: CollectionSpec,
    /// The read snapshot.
    pub snapshot: Snapshot,
    /// What part of the collection the stream holds.
    pub scope: Scope,
}

/// Where the data came from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServerInfo {
    /// The URI (never with credentials).
    pub uri: String,
    /// The server's version; `None` when it does not say (Milvus Lite 2.5).
    pub version: Option<String>,
}

/// Whether every page read one MVCC snapshot.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    /// True when the server pinned one timestamp for the whole dump.
    pub pinned: bool,
    /// The pinned MVCC timestamp (a Milvus hybrid timestamp), when pinned.
    pub timestamp: Option<u64>,
}

/// What part of the collection the stream holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Scope {
    /// The `--filter` expression, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub filter: Option<String>,
    /// The partitions read (empty: all).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub partitions: Vec<String>,
    /// The fields exported (empty: all).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub fields: Vec<String>,
    /// Rows carry their partition in a last column, [`PARTITION_COLUMN`]
    /// (collections with explicit partitions and no partition key).
    #[serde(skip_serializing_if = "is_false", default)]
    pub row_partitions: bool,
}

/// A collection's full description.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CollectionSpec {
    /// Collection name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Fields in schema order (the dynamic field included when enabled).
    pub fields: Vec<FieldSpec>,
    /// Functions (e.g. BM25), whose output fields are not exported as data.
    pub functions: Vec<FunctionSpec>,
    /// Whether the dynamic field is enabled.
    pub enable_dynamic_field: bool,
    /// Shard count.
    pub shards_num: i32,
    /// Consistency level name (`Strong`, `Bounded`, `Session`, `Eventually`, ...).
    pub consistency_level: String,
    /// Collection properties (TTL, mmap, ...).
    pub properties: BTreeMap<String, String>,
    /// Partition names in creation order (`_default` included).
    pub partitions: Vec<String>,
    /// Number of partitions when a partition key is used (0 otherwise).
    pub num_partitions: i64,
    /// Indexes.
    pub indexes: Vec<IndexSpec>,
    /// Aliases pointing at the collection.
    pub aliases: Vec<String>,
    /// The server's `CollectionSchema`, protobuf-encoded, base64.
    pub schema_proto_base64: String,
}

/// One field.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FieldSpec {
    /// Field name.
    pub name: String,
    /// Field id on the source server (0 on Milvus Lite 3.x).
    pub field_id: i64,
    /// Milvus data type, written by name (`Int64`, `FloatVector`, `Array`).
    #[serde(with = "type_name")]
    pub data_type: DataType,
    /// Element type of an `Array` field, written by name.
    #[serde(
        with = "type_name::optional",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub element_type: Option<DataType>,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub description: String,
    /// Type parameters (`dim`, `max_length`, `max_capacity`, analyzer settings, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub type_params: BTreeMap<String, String>,
    /// Primary key.
    #[serde(skip_serializing_if = "is_false", default)]
    pub is_primary_key: bool,
    /// Auto-id primary key.
    #[serde(skip_serializing_if = "is_false", default)]
    pub auto_id: bool,
    /// Nullable.
    #[serde(skip_serializing_if = "is_false", default)]
    pub nullable: bool,
    /// The dynamic field (`$meta`).
    #[serde(skip_serializing_if = "is_false", default)]
    pub is_dynamic: bool,
    /// Partition key.
    #[serde(skip_serializing_if = "is_false", default)]
    pub is_partition_key: bool,
    /// Clustering key.
    #[serde(skip_serializing_if = "is_false", default)]
    pub is_clustering_key: bool,
    /// Filled by a function (e.g. BM25 output): not exported as data.
    #[serde(skip_serializing_if = "is_false", default)]
    pub is_function_output: bool,
    /// Default value, as `{"<kind>": value}` (`long_data`, `string_data`, ...).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub default_value: Option<serde_json::Value>,
}

/// Data types are written by the names Milvus gives them (`Int64`,
/// `FloatVector`); a name this build does not know is an error naming it.
mod type_name {
    use milvus_model::proto::schema::DataType;
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(data_type: &DataType, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(data_type.as_str_name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<DataType, D::Error> {
        from_name(&String::deserialize(input)?)
    }

    fn from_name<E: de::Error>(name: &str) -> Result<DataType, E> {
        DataType::from_str_name(name)
            .ok_or_else(|| E::custom(format!("unknown data type {name:?}")))
    }

    /// The same, for an optional type.
    pub mod optional {
        use milvus_model::proto::schema::DataType;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            data_type: &Option<DataType>,
            out: S,
        ) -> Result<S::Ok, S::Error> {
            match data_type {
                Some(data_type) => super::serialize(data_type, out),
                None => out.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            input: D,
        ) -> Result<Option<DataType>, D::Error> {
            Option::<String>::deserialize(input)?
                .map(|name| super::from_name(&name))
                .transpose()
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One function (BM25, text embedding, ...).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FunctionSpec {
    /// Function name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub description: String,
    /// Function type name, e.g. `BM25`.
    pub function_type: String,
    /// Input fields.
    pub input_field_names: Vec<String>,
    /// Output fields.
    pub output_field_names: Vec<String>,
    /// Parameters.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub params: BTreeMap<String, String>,
}

/// One index.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IndexSpec {
    /// Index name.
    pub index_name: String,
    /// Indexed field.
    pub field_name: String,
    /// Index type (`HNSW`, `AUTOINDEX`, `INVERTED`, ...).
    pub index_type: String,
    /// Metric type for vector indexes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub metric_type: Option<String>,
    /// Build parameters (the server's `params` JSON, decoded into key/values).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub params: BTreeMap<String, String>,
}

/// Roughly how many bytes one row of `fields` takes (at least 1): see
/// [`FieldSpec::estimated_value_bytes`].
pub fn estimated_row_bytes<'a>(fields: impl IntoIterator<Item = &'a FieldSpec>) -> u64 {
    fields
        .into_iter()
        .map(FieldSpec::estimated_value_bytes)
        .sum::<u64>()
        .max(1)
}

impl FieldSpec {
    /// The element type of an `Array` field.
    pub fn array_element_type(&self) -> Result<DataType> {
        self.element_type
            .ok_or_else(|| Error::field(&self.name, "array field without element_type"))
    }

    /// A numeric type parameter (`dim`, `max_length`, `max_capacity`), if
    /// the header has it; one that is not a number is an error naming it.
    pub fn type_param(&self, key: &str) -> Result<Option<usize>> {
        self.type_params
            .get(key)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| Error::field(&self.name, format!("invalid {key} {v:?}")))
            })
            .transpose()
    }

    /// The `dim` type parameter of a vector field.
    pub fn dim(&self) -> Result<usize> {
        self.type_param("dim")?
            .ok_or_else(|| Error::field(&self.name, "vector field without a dim"))
    }

    /// The `max_length` of a VARCHAR field or of an ARRAY's VARCHAR elements.
    pub fn max_length(&self) -> Result<Option<usize>> {
        self.type_param("max_length")
    }

    /// The `max_capacity` of an ARRAY field.
    pub fn max_capacity(&self) -> Result<Option<usize>> {
        self.type_param("max_capacity")
    }

    /// Roughly how many bytes one value of this field takes: exact for
    /// dense vectors, half the maximum for strings and arrays, a guess for
    /// the rest. It sizes the first page of a dump and the insert batches
    /// of inputs that do not say (JSONL), until measured sizes take over.
    pub fn estimated_value_bytes(&self) -> u64 {
        let param = |key| self.type_param(key).ok().flatten().unwrap_or(0) as u64;
        let half_max_length = match param("max_length") {
            0 => 128,
            max => max / 2,
        };
        match self.data_type {
            DataType::FloatVector => 4 * param("dim"),
            DataType::Float16Vector | DataType::BFloat16Vector => 2 * param("dim"),
            DataType::BinaryVector => param("dim") / 8,
            DataType::Int8Vector => param("dim"),
            // 64 (index, value) pairs of 4 + 4 bytes.
            DataType::SparseFloatVector => 512,
            DataType::VarChar | DataType::String => half_max_length,
            DataType::Array => {
                let element = match self.element_type.unwrap_or(DataType::None) {
                    DataType::VarChar => half_max_length,
                    _ => 8,
                };
                (param("max_capacity").max(2) / 2) * element
            }
            DataType::Json | DataType::Geometry => 256,
            _ => 8,
        }
    }

    /// The field's name in a stream and in Milvus's query and insert
    /// columns: the dynamic field is `$meta`, whatever the schema calls it.
    pub fn column_name(&self) -> &str {
        if self.is_dynamic {
            DYNAMIC_FIELD
        } else {
            &self.name
        }
    }

    /// Whether rows carry this field as data (function outputs are regenerated by Milvus).
    pub fn is_exported(&self) -> bool {
        !self.is_function_output
    }

    fn from_proto(field: &FieldSchema) -> Self {
        let data_type = DataType::try_from(field.data_type).unwrap_or(DataType::None);
        let element_type = (data_type == DataType::Array)
            .then(|| DataType::try_from(field.element_type).unwrap_or(DataType::None));
        Self {
            name: field.name.clone(),
            field_id: field.field_id,
            data_type,
            element_type,
            description: field.description.clone(),
            type_params: key_values(&field.type_params),
            is_primary_key: field.is_primary_key,
            auto_id: field.auto_id,
            nullable: field.nullable,
            is_dynamic: field.is_dynamic,
            is_partition_key: field.is_partition_key,
            is_clustering_key: field.is_clustering_key,
            is_function_output: field.is_function_output,
            default_value: field.default_value.as_ref().and_then(default_value_json),
        }
    }
}

fn key_values(kvs: &[KeyValuePair]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect()
}

fn default_value_json(value: &schema::ValueField) -> Option<serde_json::Value> {
    use serde_json::json;
    use value_field::Data;
    let (kind, value) = match value.data.as_ref()? {
        Data::BoolData(v) => ("bool_data", json!(v)),
        Data::IntData(v) => ("int_data", json!(v)),
        Data::LongData(v) => ("long_data", json!(v)),
        Data::FloatData(v) => ("float_data", crate::jsonl::f32_json(*v)),
        Data::DoubleData(v) => ("double_data", crate::jsonl::f64_json(*v)),
        Data::StringData(v) => ("string_data", json!(v)),
        Data::BytesData(v) => (
            "bytes_data",
            json!(base64::engine::general_purpose::STANDARD.encode(v)),
        ),
        Data::TimestamptzData(v) => ("timestamptz_data", json!(v)),
        Data::DateData(v) => ("date_data", json!(v)),
        Data::TimeData(v) => ("time_data", json!(v)),
    };
    Some(json!({ kind: value }))
}

impl FunctionSpec {
    fn from_proto(function: &FunctionSchema) -> Self {
        Self {
            name: function.name.clone(),
            description: function.description.clone(),
            function_type: schema::FunctionType::try_from(function.r#type)
                .unwrap_or(schema::FunctionType::Unknown)
                .as_str_name()
                .to_string(),
            input_field_names: function.input_field_names.clone(),
            output_field_names: function.output_field_names.clone(),
            params: key_values(&function.params),
        }
    }
}

impl IndexSpec {
    /// From a `DescribeIndex` answer: `index_type` and `metric_type` lifted out,
    /// the `params` JSON string decoded into key/values.
    pub fn from_proto(index: &IndexDescription) -> Self {
        let mut params = key_values(&index.params);
        // Milvus Lite 2.5 lists the field's `dim` among index parameters: it is
        // not one, and a server given it keeps it as one.
        params.remove("dim");
        let index_type = params.remove("index_type").unwrap_or_default();
        let metric_type = params.remove("metric_type");
        if let Some(json) = params.remove("params") {
            match serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&json) {
                Ok(inner) => {
                    for (k, v) in inner {
                        let v = match v {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        };
                        params.entry(k).or_insert(v);
                    }
                }
                Err(_) => {
                    params.insert("params".into(), json);
                }
            }
        }
        Self {
            index_name: index.index_name.clone(),
            field_name: index.field_name.clone(),
            index_type,
            metric_type,
            params,
        }
    }
}

impl CollectionSpec {
    /// Builds the description from the server's answers.
    pub fn from_server(
        described: &DescribeCollectionResponse,
        partitions: Vec<String>,
        indexes: &[IndexDescription],
    ) -> Result<Self> {
        let schema = described.schema.as_ref().ok_or_else(|| {
            Error::Header(format!(
                "{:?}: the server returned no schema",
                described.collection_name
            ))
        })?;
        let mut fields: Vec<FieldSpec> = schema.fields.iter().map(FieldSpec::from_proto).collect();
        // Older servers do not list the dynamic field in the schema: add it so
        // the header says where dynamic keys go.
        if schema.enable_dynamic_field && !fields.iter().any(|f| f.is_dynamic) {
            fields.push(FieldSpec {
                name: DYNAMIC_FIELD.into(),
                field_id: 0,
                data_type: DataType::Json,
                element_type: None,
                description: String::new(),
                type_params: BTreeMap::new(),
                is_primary_key: false,
                auto_id: false,
                nullable: false,
                is_dynamic: true,
                is_partition_key: false,
                is_clustering_key: false,
                is_function_output: false,
                default_value: None,
            });
        }
        let mut properties = key_values(&described.properties);
        properties.extend(key_values(&schema.properties));
        let name = if described.collection_name.is_empty() {
            schema.name.clone()
        } else {
            described.collection_name.clone()
        };
        Ok(Self {
            name,
            description: schema.description.clone(),
            fields,
            functions: schema
                .functions
                .iter()
                .map(FunctionSpec::from_proto)
                .collect(),
            enable_dynamic_field: schema.enable_dynamic_field,
            shards_num: described.shards_num,
            consistency_level: milvus_model::proto::common::ConsistencyLevel::try_from(
                described.consistency_level,
            )
            .map(|c| c.as_str_name().to_string())
            .unwrap_or_else(|_| described.consistency_level.to_string()),
            properties,
            partitions,
            num_partitions: described.num_partitions,
            indexes: indexes.iter().map(IndexSpec::from_proto).collect(),
            aliases: described.aliases.clone(),
            schema_proto_base64: base64::engine::general_purpose::STANDARD
                .encode(schema.encode_to_vec()),
        })
    }

    /// The primary-key field.
    pub fn primary_key(&self) -> Result<&FieldSpec> {
        self.fields
            .iter()
            .find(|f| f.is_primary_key)
            .ok_or_else(|| {
                Error::Header(format!(
                    "collection {:?} has no primary key field",
                    self.name
                ))
            })
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }
}

impl Header {
    /// Parses a header, refusing formats newer than this build understands.
    pub fn from_json(value: serde_json::Value) -> Result<Self> {
        let version = value
            .get("format_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if version == 0 || version > u64::from(FORMAT_VERSION) {
            return Err(Error::Header(format!(
                "format version {version} is not supported (this build reads 1..={FORMAT_VERSION})"
            )));
        }
        Ok(serde_json::from_value(value)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::field;

    #[test]
    fn type_parameters_are_parsed_once_and_named_when_invalid() {
        let vector = field("v", "FloatVector", &[("dim", " 8 ")]);
        assert_eq!(vector.dim().ok(), Some(8));
        assert_eq!(vector.max_length().ok(), Some(None));
        let broken = field("title", "VarChar", &[("max_length", "many")]);
        let error = broken.max_length().err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("title") && e.contains("invalid max_length")));
        assert!(field("v", "FloatVector", &[]).dim().is_err());
    }

    #[test]
    fn row_size_estimates_cover_every_kind_of_field() {
        let mut tags = field(
            "tags",
            "Array",
            &[("max_capacity", "10"), ("max_length", "40")],
        );
        tags.element_type = Some(DataType::VarChar);
        let fields = [
            field("id", "Int64", &[]),
            field("v", "FloatVector", &[("dim", "8")]),
            field("title", "VarChar", &[("max_length", "100")]),
            field("sparse", "SparseFloatVector", &[]),
            tags,
            field("meta", "JSON", &[]),
        ];
        let each: Vec<u64> = fields
            .iter()
            .map(FieldSpec::estimated_value_bytes)
            .collect();
        assert_eq!(each, [8, 32, 50, 512, 5 * 20, 256]);
        assert_eq!(estimated_row_bytes(&fields), each.iter().sum::<u64>());
        assert_eq!(estimated_row_bytes(&[]), 1);
    }

    #[test]
    fn data_types_are_written_by_name_and_unknown_names_refused() {
        let mut tags = field("tags", "Array", &[]);
        tags.element_type = Some(DataType::VarChar);
        let json = serde_json::to_value(&tags).unwrap();
        assert_eq!(json["data_type"], "Array");
        assert_eq!(json["element_type"], "VarChar");
        assert_eq!(serde_json::from_value::<FieldSpec>(json).unwrap(), tags);
        let error = serde_json::from_value::<FieldSpec>(
            serde_json::json!({"name": "v", "field_id": 1, "data_type": "QuantumVector"}),
        )
        .unwrap_err();
        assert!(error
            .to_string()
            .contains("unknown data type \"QuantumVector\""));
    }
}
