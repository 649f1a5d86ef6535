//! What milvus-pipes knows about Milvus data, below both the wire client
//! (`milvus-wire`) and the record formats (`record-stream`): the generated
//! protocol types, primary keys, filter expressions, and the query-result
//! messages decoded without copying vectors element by element.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod expr;
pub mod pk;
pub mod query_page;

/// Generated Milvus protocol types (`common`, `schema`, `milvus`).
pub use milvus::proto;
pub use pk::Pk;
