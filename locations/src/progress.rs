//! A backup set while milvus-dump writes it: the progress files it keeps
//! beside the parts until the manifest is written (then removes), and for a
//! sharded dump (`--shard K/N`) each collection's shard plan and each
//! shard's record. milvus-dump writes them; the readers (milvus-load,
//! backup-verify) read them only to say what an incomplete set is missing.
//!
//! Layout of a set in progress:
//! - `.in-progress.json`: start time, format, collections, shard count;
//! - per collection, `NAME/header.json` (the header the dump started with);
//!   `complete.json` once the collection is done;
//! - sharded: `NAME/shards.json` (the plan: the header, with the snapshot
//!   every shard reads at, and the keys the ranges are cut at), and per
//!   shard `NAME/shard-KKK/` with its parts and their records, and its
//!   `complete.json` (the shard's record) once the shard is done.

use record_stream::header::Header;
use record_stream::manifest::CollectionEntry;
use serde::{Deserialize, Serialize};

use crate::dir::Dir;
use crate::error::{Error, Result};

/// Set-level progress file.
pub const IN_PROGRESS_FILE: &str = ".in-progress.json";
/// The header a collection's dump started with.
pub const HEADER_FILE: &str = "header.json";
/// A finished collection's (or shard's) manifest entry.
pub const COMPLETE_FILE: &str = "complete.json";
/// A sharded collection's plan.
pub const SHARD_PLAN_FILE: &str = "shards.json";

/// What `.in-progress.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct InProgress {
    /// When the set was started.
    pub created_at: String,
    /// Part file extension (`parquet`, `jsonl.zst`, ...).
    pub format: String,
    /// Collections, in dump order.
    pub collections: Vec<String>,
    /// Shards writing the set (`--shard K/N`: N), none for one process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
}

/// How a sharded collection is cut: written once by shard 0, read by all.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ShardPlan {
    /// Shards (N).
    pub shards: u32,
    /// The collection's header; its snapshot is the one every shard reads at.
    pub header: Header,
    /// Ascending primary keys (JSON) cutting the key space: shard K reads
    /// the keys after `cuts[K-1]` up to `cuts[K]` included. Fewer than N-1
    /// when the collection had fewer keys than shards: the shards past the
    /// last cut then have no range.
    pub cuts: Vec<serde_json::Value>,
    /// Rows counted when the plan was made.
    pub rows: u64,
}

/// A shard's key range: bounds as JSON keys (`None`: unbounded).
#[derive(Clone, Debug, PartialEq)]
pub struct ShardRange {
    /// Exclusive lower bound.
    pub after: Option<serde_json::Value>,
    /// Inclusive upper bound.
    pub upto: Option<serde_json::Value>,
}

impl ShardPlan {
    /// Shard `index`'s range, or `None` when it has none (fewer keys than shards).
    pub fn range(&self, index: u32) -> Option<ShardRange> {
        let index = index as usize;
        if index > self.cuts.len() {
            return None;
        }
        Some(ShardRange {
            after: index.checked_sub(1).map(|i| self.cuts[i].clone()),
            upto: self.cuts.get(index).cloned(),
        })
    }
}

/// The directory of shard `index`'s parts and record, relative to the set.
pub fn shard_dir(collection: &str, index: u32) -> String {
    format!("{collection}/shard-{index:03}")
}

/// Reads a small JSON file of the set, if it exists (corrupt when it does
/// not parse).
pub async fn read_json<T: serde::de::DeserializeOwned>(dir: &Dir, rel: &str) -> Result<Option<T>> {
    match dir.read(rel).await? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::corrupt(dir.url(rel), format!("not valid: {e}"))),
    }
}

/// Where a sharded set stands: per collection, each shard's record.
#[derive(Debug)]
pub struct ShardedSet {
    /// The set's progress file (its `shards` is set).
    pub state: InProgress,
    /// Per collection (in dump order): its plan, if shard 0 has made it,
    /// and each shard's record (`None`: not complete).
    pub collections: Vec<(String, Option<ShardPlan>, Vec<Option<CollectionEntry>>)>,
}

impl ShardedSet {
    /// Reads the progress of the sharded set in `dir`; `None` when `dir`
    /// holds no sharded set in progress.
    pub async fn read(dir: &Dir) -> Result<Option<Self>> {
        let Some(state) = read_json::<InProgress>(dir, IN_PROGRESS_FILE).await? else {
            return Ok(None);
        };
        let Some(shards) = state.shards else {
            return Ok(None);
        };
        let mut collections = Vec::new();
        for name in &state.collections {
            let plan = read_json(dir, &format!("{name}/{SHARD_PLAN_FILE}")).await?;
            let mut records = Vec::new();
            for index in 0..shards {
                let rel = format!("{}/{COMPLETE_FILE}", shard_dir(name, index));
                records.push(read_json(dir, &rel).await?);
            }
            collections.push((name.clone(), plan, records));
        }
        Ok(Some(Self { state, collections }))
    }

    /// Shards (N).
    pub fn shards(&self) -> u32 {
        self.state.shards.unwrap_or(0)
    }

    /// The shards that have not recorded completion, as `K` with the
    /// collections each still owes (empty: every shard is done).
    pub fn unfinished(&self) -> Vec<(u32, Vec<String>)> {
        (0..self.shards())
            .filter_map(|index| {
                let owed: Vec<String> = self
                    .collections
                    .iter()
                    .filter(|(_, _, records)| records[index as usize].is_none())
                    .map(|(name, _, _)| name.clone())
                    .collect();
                (!owed.is_empty()).then_some((index, owed))
            })
            .collect()
    }

    /// Why the set has no manifest yet, naming the missing shards.
    pub fn why_incomplete(&self, at: &str) -> String {
        let n = self.shards();
        let unfinished = self.unfinished();
        if unfinished.is_empty() {
            return format!(
                "no manifest: every one of the {n} shards has finished, but none wrote the manifest: complete the set with `milvus-dump --out-dir {at} --finish`"
            );
        }
        let missing: Vec<String> = unfinished
            .iter()
            .map(|(index, owed)| format!("shard {index}/{n} ({})", owed.join(", ")))
            .collect();
        format!(
            "no manifest: a dump in {n} shards that has not finished: missing {}; run each with `milvus-dump --shard K/{n} --resume` (same flags), and the last to finish writes the manifest",
            missing.join("; ")
        )
    }
}
