//! Resuming an interrupted backup set, wherever it is (a directory or an
//! object-store prefix).
//!
//! While a set is written, it carries its own progress beside its parts:
//! `.in-progress.json` (start time, format, collections) at the root; per
//! collection `header.json` (the schema it started with), a
//! `part-NNNNN.<ext>.json` beside every completed part (its manifest entry),
//! and `complete.json` once the collection is done. `--resume` trusts only
//! parts whose file matches its record (size and sha256), removes everything
//! after the first that does not, and continues from the last complete
//! part's last primary key. The manifest is written last and the progress
//! files are then removed.

use anyhow::Context as _;
use locations::Dir;
use record_stream::header::{CollectionSpec, Header};
use record_stream::manifest::{CollectionEntry, Part};
use serde::{Deserialize, Serialize};

use milvus_model::Pk;

/// Set-level progress file.
pub const IN_PROGRESS_FILE: &str = ".in-progress.json";
/// The header a collection's dump started with.
pub const HEADER_FILE: &str = "header.json";
/// A finished collection's manifest entry.
pub const COMPLETE_FILE: &str = "complete.json";

/// What `.in-progress.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct InProgress {
    /// When the set was started.
    pub created_at: String,
    /// Part file extension (`parquet`, `jsonl.zst`, ...).
    pub format: String,
    /// Collections, in dump order.
    pub collections: Vec<String>,
}

/// Where a collection's dump stands.
#[derive(Debug, Default)]
pub struct CollectionProgress {
    /// Finished: its manifest entry.
    pub complete: Option<CollectionEntry>,
    /// Complete parts so far (verified).
    pub parts: Vec<Part>,
    /// The header it started with.
    pub header: Option<Header>,
}

impl CollectionProgress {
    /// The key to continue after (the last complete part's last key).
    pub fn resume_after(&self) -> anyhow::Result<Option<Pk>> {
        match self.parts.last() {
            None => Ok(None),
            Some(part) => Pk::from_json(&part.last_pk)
                .map(Some)
                .with_context(|| format!("{}: unreadable last_pk {}", part.path, part.last_pk)),
        }
    }
}

/// The record file of the part at `part_path` (relative to the set).
pub fn part_record_path(part_path: &str) -> String {
    format!("{part_path}.json")
}

/// Reads a small JSON file of the set, if it exists.
async fn read_json<T: serde::de::DeserializeOwned>(
    dir: &Dir,
    rel: &str,
) -> anyhow::Result<Option<T>> {
    let bytes: Option<Vec<u8>> = dir.read(rel).await?;
    match bytes {
        None => Ok(None),
        Some(bytes) => {
            Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!("{} is not valid", dir.url(rel))
            })?))
        }
    }
}

/// Reads `.in-progress.json`, if any.
pub async fn read_in_progress(dir: &Dir) -> anyhow::Result<Option<InProgress>> {
    read_json(dir, IN_PROGRESS_FILE).await
}

/// Writes `.in-progress.json`.
pub async fn write_in_progress(dir: &Dir, state: &InProgress) -> anyhow::Result<()> {
    Ok(dir
        .write(IN_PROGRESS_FILE, serde_json::to_vec_pretty(state)?)
        .await?)
}

/// Finds how far a collection got; removes parts that cannot be trusted.
/// Refuses when the collection's schema changed since the set was started.
pub async fn scan_collection(
    dir: &Dir,
    current: &CollectionSpec,
    extension: &str,
) -> anyhow::Result<CollectionProgress> {
    let name = &current.name;
    let mut progress = CollectionProgress::default();
    let header_rel = format!("{name}/{HEADER_FILE}");
    if let Some(header) = read_json::<Header>(dir, &header_rel).await? {
        if header.collection.fields != current.fields {
            return Err(pipes_cli::Exit::Refused.because(anyhow::anyhow!(
                "collection {name:?} changed its schema since this set was started ({}): start a new set",
                dir.url(&header_rel)
            )));
        }
        progress.header = Some(header);
    }
    if let Some(complete) = read_json(dir, &format!("{name}/{COMPLETE_FILE}")).await? {
        progress.complete = Some(complete);
        return Ok(progress);
    }
    for index in 0.. {
        let relative = format!("{name}/part-{index:05}.{extension}");
        // A record that is missing or unreadable (cut when the run was
        // killed) ends the trusted parts; storage that fails ends the resume.
        let Some(record) = dir.read(&part_record_path(&relative)).await? else {
            break;
        };
        let Ok(part) = serde_json::from_slice::<Part>(&record) else {
            break;
        };
        match dir.blob(&relative).digest().await? {
            Some(found)
                if locations::set::check_part(&part, &found).is_ok() && part.path == relative =>
            {
                progress.parts.push(part)
            }
            _ => break,
        }
    }
    // Anything past the trusted parts (a part without its record, a
    // temporary file) is from the interrupted run: remove it.
    let trusted: Vec<String> = progress
        .parts
        .iter()
        .flat_map(|p| [part_record_path(&p.path), p.path.clone()])
        .collect();
    let collection_dir = dir.child(name);
    for (file, _) in collection_dir.files().await? {
        let is_part_file =
            file.starts_with("part-") || (file.starts_with(".part-") && file.ends_with(".tmp"));
        let rel = format!("{name}/{file}");
        if is_part_file && !trusted.contains(&rel) {
            dir.delete(&rel).await?;
        }
    }
    Ok(progress)
}

/// Records a finished collection.
pub async fn write_complete(dir: &Dir, entry: &CollectionEntry) -> anyhow::Result<()> {
    let rel = format!("{}/{COMPLETE_FILE}", entry.header.collection.name);
    Ok(dir.write(&rel, serde_json::to_vec_pretty(entry)?).await?)
}

/// Records the header a collection's dump starts with.
pub async fn write_header(dir: &Dir, header: &Header) -> anyhow::Result<()> {
    let rel = format!("{}/{HEADER_FILE}", header.collection.name);
    Ok(dir.write(&rel, serde_json::to_vec_pretty(header)?).await?)
}

/// Removes the progress files once the manifest is written.
pub async fn clean_up(dir: &Dir, entries: &[CollectionEntry]) {
    let mut progress_files = vec![IN_PROGRESS_FILE.to_string()];
    for entry in entries {
        let name = &entry.header.collection.name;
        progress_files.push(format!("{name}/{HEADER_FILE}"));
        progress_files.push(format!("{name}/{COMPLETE_FILE}"));
        progress_files.extend(entry.parts.iter().map(|p| part_record_path(&p.path)));
    }
    for rel in progress_files {
        if let Err(e) = dir.delete(&rel).await {
            eprintln!("milvus-dump: warning: {e}");
        }
    }
}
