//! `milvus-load` as a library: the binary only parses flags and calls [`load::run`].
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod import;
pub mod insert;
pub mod load;
pub mod plan;
pub mod schema;
