//! `milvus-dump` as a library: the binary only parses flags and calls [`dump::run`].
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod dump;
pub mod parallel;
pub mod reader;
pub mod resume;
pub mod shard;
pub mod sink;
