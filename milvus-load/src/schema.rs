//! From a stream header to the requests that recreate the collection, and
//! the up-front check that the target server can honour it.

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use milvus_wire::proto::common::{ConsistencyLevel, KeyValuePair};
use milvus_wire::proto::milvus::CreateCollectionRequest;
use milvus_wire::proto::schema::{
    value_field, CollectionSchema, DataType, FieldSchema, FunctionSchema, FunctionType, ValueField,
};
use prost::Message as _;
use record_stream::header::{CollectionSpec, FieldSpec, IndexSpec};
use record_stream::layout::is_vector;

/// What a server version supports, as far as the header's demands go.
#[derive(Clone, Debug)]
pub struct ServerCaps {
    /// Human name for messages.
    pub name: String,
    /// Data types it lacks.
    pub missing_types: Vec<DataType>,
    /// Nullable fields and default values.
    pub nullable: bool,
    /// More than one vector field.
    pub multi_vector: bool,
    /// Functions (BM25, ...).
    pub functions: bool,
    /// Accepts given ids for an auto-id primary key (the
    /// `allow_insert_auto_id` property; Milvus Lite 2.5 takes them as is).
    pub insert_auto_id: bool,
    /// Index types it lacks (those added in later versions; a type not
    /// known here is left for the server to judge at creation).
    pub missing_index_types: Vec<&'static str>,
}

impl ServerCaps {
    /// From the version the server reports (`None`: it does not say, as
    /// Milvus Lite 2.5: assume it can, and let it refuse at creation).
    pub fn for_version(version: Option<&str>) -> Self {
        let everything = Self {
            name: version.unwrap_or("an unversioned server").to_string(),
            missing_types: Vec::new(),
            nullable: true,
            multi_vector: true,
            functions: true,
            insert_auto_id: true,
            missing_index_types: Vec::new(),
        };
        let Some(version) = version else {
            return everything;
        };
        if let Some(lite) = version.strip_prefix("milvus_lite-") {
            // Milvus Lite 3.x: a newer engine without the byte-vector types.
            let _ = lite;
            return Self {
                missing_types: vec![
                    DataType::BinaryVector,
                    DataType::Float16Vector,
                    DataType::BFloat16Vector,
                    DataType::Int8Vector,
                ],
                ..everything
            };
        }
        let numbers: Vec<u32> = version
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .split(|c: char| !c.is_ascii_digit())
            .take(2)
            .filter_map(|n| n.parse().ok())
            .collect();
        let (major, minor) = match numbers.as_slice() {
            [major, minor, ..] => (*major, *minor),
            _ => return everything,
        };
        let at_least = |a: u32, b: u32| (major, minor) >= (a, b);
        let mut missing = Vec::new();
        if !at_least(2, 4) {
            missing.extend([
                DataType::Float16Vector,
                DataType::BFloat16Vector,
                DataType::SparseFloatVector,
            ]);
        }
        if !at_least(2, 6) {
            missing.extend([
                DataType::Int8Vector,
                DataType::Geometry,
                DataType::Timestamptz,
            ]);
        }
        let mut missing_indexes = Vec::new();
        if !at_least(2, 4) {
            missing_indexes.extend(["INVERTED", "BITMAP", "SPARSE_INVERTED_INDEX", "SPARSE_WAND"]);
        }
        if !at_least(2, 6) {
            missing_indexes.extend([
                "HNSW_SQ",
                "HNSW_PQ",
                "HNSW_PRQ",
                "IVF_RABITQ",
                "NGRAM",
                "RTREE",
                "MINHASH_LSH",
            ]);
        }
        Self {
            missing_types: missing,
            missing_index_types: missing_indexes,
            nullable: at_least(2, 5),
            multi_vector: at_least(2, 4),
            functions: at_least(2, 5),
            insert_auto_id: at_least(2, 6),
            ..everything
        }
    }

    /// Refuses a collection the server cannot hold, naming the field.
    pub fn check(&self, spec: &CollectionSpec) -> Result<()> {
        let mut vectors = Vec::new();
        for field in spec.fields.iter().filter(|f| !f.is_dynamic) {
            let data_type = field.data_type;
            let element = (data_type == DataType::Array)
                .then(|| field.array_element_type())
                .transpose()?;
            for t in std::iter::once(data_type).chain(element) {
                if self.missing_types.contains(&t) {
                    bail!(
                        "field {:?}: type {} is not supported by the target server ({})",
                        field.name,
                        t.as_str_name(),
                        self.name
                    );
                }
            }
            if !self.nullable && (field.nullable || field.default_value.is_some()) {
                bail!(
                    "field {:?}: nullable fields and default values are not supported by the target server ({})",
                    field.name,
                    self.name
                );
            }
            if is_vector(data_type) {
                vectors.push(field.name.as_str());
            }
        }
        if !self.multi_vector && vectors.len() > 1 {
            bail!(
                "fields {vectors:?}: the target server ({}) allows one vector field per collection",
                self.name
            );
        }
        if !self.functions && !spec.functions.is_empty() {
            bail!(
                "function {:?}: functions are not supported by the target server ({})",
                spec.functions[0].name,
                self.name
            );
        }
        Ok(())
    }

    /// Index types the server lacks are refused up front, naming the index
    /// and field, unless the operator chose a `fallback` type: then they are
    /// rewritten to it (without the original's build parameters) and a
    /// warning says so.
    pub fn substitute_indexes(
        &self,
        spec: &mut CollectionSpec,
        fallback: Option<&str>,
    ) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        for index in &mut spec.indexes {
            let index_type = index.index_type.to_ascii_uppercase();
            if !self.missing_index_types.contains(&index_type.as_str()) {
                continue;
            }
            let Some(fallback) = fallback else {
                bail!(
                    "index {:?} on field {:?}: type {} is not supported by the target server ({}): \
                     --index-fallback TYPE builds another type instead",
                    index.index_name,
                    index.field_name,
                    index.index_type,
                    self.name
                );
            };
            warnings.push(format!(
                "index {:?} on field {:?}: {} is not supported by the target server ({}); building {fallback} (--index-fallback)",
                index.index_name, index.field_name, index.index_type, self.name
            ));
            index.index_type = fallback.to_string();
            index.params.clear();
        }
        Ok(warnings)
    }
}

/// The longest VARCHAR Milvus allows.
const MAX_VARCHAR_LENGTH: &str = "65535";

/// Fills type parameters a header may lack but servers require: Milvus Lite 3
/// does not report `max_length` of VARCHAR arrays, so its dumps cannot carry
/// it; the maximum is used, with a warning returned for the operator.
pub fn fill_missing_params(spec: &mut CollectionSpec) -> Vec<String> {
    let mut warnings = Vec::new();
    for field in &mut spec.fields {
        let is_varchar =
            field.data_type == DataType::VarChar || field.element_type == Some(DataType::VarChar);
        if is_varchar && !field.type_params.contains_key("max_length") {
            field
                .type_params
                .insert("max_length".into(), MAX_VARCHAR_LENGTH.into());
            warnings.push(format!(
                "field {:?}: the header records no max_length (Milvus Lite 3 does not report it for VARCHAR arrays): using {MAX_VARCHAR_LENGTH}",
                field.name
            ));
        }
    }
    warnings
}

fn key_values<'a>(map: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<KeyValuePair> {
    map.into_iter()
        .map(|(k, v)| KeyValuePair {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

/// A header default value (`{"long_data": 42}`) as the protocol's `ValueField`.
fn default_value(field: &FieldSpec) -> Result<Option<ValueField>> {
    use value_field::Data;
    let Some(value) = &field.default_value else {
        return Ok(None);
    };
    let bad = || {
        format!(
            "field {:?}: default value {value} is not understood",
            field.name
        )
    };
    let (kind, v) = value
        .as_object()
        .and_then(|o| o.iter().next())
        .with_context(bad)?;
    let float = |v: &serde_json::Value| -> Option<f64> {
        match v {
            serde_json::Value::String(s) => match s.as_str() {
                "NaN" => Some(f64::NAN),
                "Infinity" => Some(f64::INFINITY),
                "-Infinity" => Some(f64::NEG_INFINITY),
                _ => None,
            },
            other => other.as_f64(),
        }
    };
    let data = match kind.as_str() {
        "bool_data" => Data::BoolData(v.as_bool().with_context(bad)?),
        "int_data" => Data::IntData(
            v.as_i64()
                .and_then(|i| i32::try_from(i).ok())
                .with_context(bad)?,
        ),
        "long_data" => Data::LongData(v.as_i64().with_context(bad)?),
        // Written in shortest round-trip form: reading the text as f32 is exact.
        "float_data" => Data::FloatData(
            match v {
                serde_json::Value::Number(n) => n.to_string().parse().ok(),
                other => float(other).map(|f| f as f32),
            }
            .with_context(bad)?,
        ),
        "double_data" => Data::DoubleData(float(v).with_context(bad)?),
        "string_data" => Data::StringData(v.as_str().with_context(bad)?.to_string()),
        "bytes_data" => Data::BytesData(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().with_context(bad)?)
                .ok()
                .with_context(bad)?,
        ),
        "timestamptz_data" => Data::TimestamptzData(v.as_i64().with_context(bad)?),
        _ => bail!(bad()),
    };
    Ok(Some(ValueField { data: Some(data) }))
}

/// The `CollectionSchema` for `spec` under `name`: every field but the
/// dynamic one (the `enable_dynamic_field` flag brings it back).
pub fn collection_schema(spec: &CollectionSpec, name: &str) -> Result<CollectionSchema> {
    let fields = spec
        .fields
        .iter()
        .filter(|f| !f.is_dynamic)
        .map(|f| {
            Ok(FieldSchema {
                name: f.name.clone(),
                description: f.description.clone(),
                data_type: f.data_type as i32,
                element_type: f.element_type.map_or(0, |t| t as i32),
                type_params: key_values(&f.type_params),
                is_primary_key: f.is_primary_key,
                auto_id: f.auto_id,
                nullable: f.nullable,
                is_partition_key: f.is_partition_key,
                is_clustering_key: f.is_clustering_key,
                is_function_output: f.is_function_output,
                default_value: default_value(f)?,
                ..Default::default()
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let functions = spec
        .functions
        .iter()
        .map(|f| FunctionSchema {
            name: f.name.clone(),
            description: f.description.clone(),
            r#type: FunctionType::from_str_name(&f.function_type).unwrap_or(FunctionType::Unknown)
                as i32,
            input_field_names: f.input_field_names.clone(),
            output_field_names: f.output_field_names.clone(),
            params: key_values(&f.params),
            ..Default::default()
        })
        .collect();
    Ok(CollectionSchema {
        name: name.to_string(),
        description: spec.description.clone(),
        fields,
        functions,
        enable_dynamic_field: spec.enable_dynamic_field,
        ..Default::default()
    })
}

/// The `CreateCollection` request for `spec` under `name`.
pub fn create_request(spec: &CollectionSpec, name: &str) -> Result<CreateCollectionRequest> {
    let schema = collection_schema(spec, name)?;
    let has_partition_key = spec.fields.iter().any(|f| f.is_partition_key);
    Ok(CreateCollectionRequest {
        collection_name: name.to_string(),
        schema: schema.encode_to_vec(),
        shards_num: spec.shards_num,
        consistency_level: ConsistencyLevel::from_str_name(&spec.consistency_level)
            .unwrap_or(ConsistencyLevel::Bounded) as i32,
        properties: key_values(&spec.properties),
        num_partitions: if has_partition_key {
            spec.num_partitions
        } else {
            0
        },
        ..Default::default()
    })
}

/// The `CreateIndex` parameters of an index: type, metric, and the build
/// parameters as the JSON object Milvus keeps them in.
pub fn index_params(index: &IndexSpec, fallback: Option<&str>) -> Vec<KeyValuePair> {
    let mut params = vec![KeyValuePair {
        key: "index_type".into(),
        value: fallback.unwrap_or(&index.index_type).to_string(),
    }];
    if let Some(metric) = &index.metric_type {
        params.push(KeyValuePair {
            key: "metric_type".into(),
            value: metric.clone(),
        });
    }
    // A substitute index type does not take the original's build parameters.
    if fallback.is_none() && !index.params.is_empty() {
        let object: serde_json::Map<String, serde_json::Value> = index
            .params
            .iter()
            // Headers from Milvus Lite 2.5 dumps list the field's dim here.
            .filter(|(k, _)| k.as_str() != "dim")
            .map(|(k, v)| {
                // Numbers were numbers in the server's JSON; keep them so.
                let value = serde_json::from_str::<serde_json::Value>(v)
                    .ok()
                    .filter(|v| v.is_number() || v.is_boolean())
                    .unwrap_or_else(|| serde_json::Value::String(v.clone()));
                (k.clone(), value)
            })
            .collect();
        params.push(KeyValuePair {
            key: "params".into(),
            value: serde_json::Value::Object(object).to_string(),
        });
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_map_to_what_the_server_lacks() {
        let old = ServerCaps::for_version(Some("v2.3.5-lite"));
        assert!(!old.nullable && !old.multi_vector && !old.insert_auto_id);
        assert!(old.missing_types.contains(&DataType::SparseFloatVector));
        let lite3 = ServerCaps::for_version(Some("milvus_lite-3.2.2"));
        assert!(lite3.nullable && lite3.missing_types.contains(&DataType::BinaryVector));
        let new = ServerCaps::for_version(Some("v2.6.1"));
        assert!(new.missing_types.is_empty() && new.missing_index_types.is_empty());
        assert!(old.missing_index_types.contains(&"INVERTED"));
        assert!(ServerCaps::for_version(None).missing_types.is_empty());
    }

    #[test]
    fn index_params_keep_numbers_as_numbers() {
        let index = IndexSpec {
            index_name: "v_idx".into(),
            field_name: "v".into(),
            index_type: "HNSW".into(),
            metric_type: Some("L2".into()),
            params: [
                ("M".to_string(), "16".to_string()),
                ("x".into(), "a".into()),
            ]
            .into(),
        };
        let p = index_params(&index, None);
        assert_eq!(p[2].value, r#"{"M":16,"x":"a"}"#);
        let fallback = index_params(&index, Some("AUTOINDEX"));
        assert_eq!(fallback.len(), 2);
        assert_eq!(fallback[0].value, "AUTOINDEX");
    }
}
