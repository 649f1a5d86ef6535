//! Test helpers shared by the crate's unit tests.
#![allow(missing_docs)]

use std::collections::BTreeMap;

use crate::header::{
    CollectionSpec, FieldSpec, Header, Scope, ServerInfo, Snapshot, FORMAT_VERSION,
};

pub fn field(name: &str, data_type: &str, params: &[(&str, &str)]) -> FieldSpec {
    FieldSpec {
        name: name.into(),
        field_id: 0,
        data_type: milvus_model::proto::schema::DataType::from_str_name(data_type)
            .unwrap_or_else(|| panic!("test field {name:?}: unknown data type {data_type:?}")),
        element_type: None,
        description: String::new(),
        type_params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        is_primary_key: false,
        auto_id: false,
        nullable: false,
        is_dynamic: false,
        is_partition_key: false,
        is_clustering_key: false,
        is_function_output: false,
        default_value: None,
    }
}

pub fn header(fields: Vec<FieldSpec>) -> Header {
    Header {
        format_version: FORMAT_VERSION,
        tool: "milvus-dump".into(),
        tool_version: "0.1.0".into(),
        created_at: "2025-01-01T00:00:00Z".into(),
        server: ServerInfo {
            uri: "http://localhost:19530".into(),
            version: Some("2.6.0".into()),
        },
        database: "default".into(),
        collection: CollectionSpec {
            name: "docs".into(),
            description: String::new(),
            enable_dynamic_field: fields.iter().any(|f| f.is_dynamic),
            fields,
            functions: vec![],
            shards_num: 1,
            consistency_level: "Bounded".into(),
            properties: BTreeMap::new(),
            partitions: vec!["_default".into()],
            num_partitions: 0,
            indexes: vec![],
            aliases: vec![],
            schema_proto_base64: String::new(),
        },
        snapshot: Snapshot {
            pinned: false,
            timestamp: None,
        },
        scope: Scope::default(),
    }
}
