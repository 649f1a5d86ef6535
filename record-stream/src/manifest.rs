//! The backup-set manifest: written last, so a set without one is incomplete.

use serde::{Deserialize, Serialize};

use crate::header::Header;

/// File name of the manifest inside a backup set.
pub const MANIFEST_FILE: &str = "manifest.json";

/// A complete backup set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Stream format version of the parts.
    pub format_version: u32,
    /// The tool and version that wrote the set.
    pub tool: String,
    /// Its version.
    pub tool_version: String,
    /// When the set was started (RFC 3339, UTC).
    pub created_at: String,
    /// When the manifest was written (RFC 3339, UTC).
    pub completed_at: String,
    /// `jsonl` or `parquet` (with `.zst` when compressed).
    pub format: String,
    /// One entry per collection.
    pub collections: Vec<CollectionEntry>,
}

/// One collection of a backup set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CollectionEntry {
    /// The stream header.
    pub header: Header,
    /// Total rows.
    pub rows: u64,
    /// Total bytes of the parts.
    pub bytes: u64,
    /// Parts in primary-key order (per partition, when the parts name one).
    pub parts: Vec<Part>,
}

/// One part file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Part {
    /// Path relative to the set's root, e.g. `docs/part-00000.parquet`.
    pub path: String,
    /// Rows in the part.
    pub rows: u64,
    /// Bytes of the file.
    pub bytes: u64,
    /// sha256 (hex) of the file.
    pub sha256: String,
    /// First primary key in the part (JSON number or string), `null` when empty.
    pub first_pk: serde_json::Value,
    /// Last primary key in the part.
    pub last_pk: serde_json::Value,
    /// The partition every row of the part belongs to, for collections
    /// whose rows carry their partition ([`crate::header::Scope::row_partitions`]).
    /// Such a part holds one partition's rows and has no `$partition`
    /// column: readers add it from here. `None` in sets written before
    /// (their parts have the column) and where rows carry no partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}
