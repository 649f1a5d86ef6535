//! The milvus-pipes record stream: the contract between the tools.
//!
//! Every path goes through Arrow record batches:
//! Milvus `FieldData` ⇄ Arrow `RecordBatch` ⇄ JSONL | Parquet.
//!
//! - [`header`]: the self-describing collection description at the head of a stream.
//! - [`layout`]: the Arrow schema for a collection (Milvus bulk-import layout).
//! - [`from_milvus`]: query results (`FieldData`) → Arrow, one place.
//! - [`jsonl`] and [`parquet`]: the two stream formats.
//! - [`manifest`]: the backup-set manifest.
//! - [`conform`]: rows checked against the header's type parameters.
//! - [`hashing`]: a writer that counts and hashes what passes through.
//! - [`random_access`]: files read at any offset (local, or ranged reads).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod conform;
pub mod error;
pub mod from_milvus;
pub mod hashing;
pub mod header;
mod json_text;
pub mod jsonl;
pub mod jsonl_read;
pub mod layout;
pub mod manifest;
pub mod parquet;
pub mod parquet_read;
pub mod random_access;
pub mod sparse;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
pub mod to_milvus;
mod vector_chunk;

pub use error::{Error, Result};

/// The first bytes of a zstd frame: every tool recognises compressed input by them.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// The first (and last) bytes of a Parquet file.
pub const PARQUET_MAGIC: &[u8] = b"PAR1";
pub use header::Header;
