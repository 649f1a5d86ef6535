//! Resuming an interrupted backup set.
//!
//! While a set is written, it carries its own progress: `.in-progress.json`
//! (start time, format, collections) at the root; per collection
//! `header.json` (the schema it started with), a `part-NNNNN.<ext>.json`
//! beside every completed part (its manifest entry), and `complete.json` once
//! the collection is done. `--resume` trusts only parts whose file matches its
//! record (size and sha256), removes everything after the first that does not,
//! and continues from the last complete part's last primary key. The manifest
//! is written last and the progress files are then removed.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use record_stream::hashing::HashingWriter;
use record_stream::header::{CollectionSpec, Header};
use record_stream::manifest::{CollectionEntry, Part};
use serde::{Deserialize, Serialize};

use crate::pk::Pk;
use crate::sink::write_atomically;

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

/// The record file of a part.
pub fn part_record_path(part_path: &Path) -> PathBuf {
    let mut name = part_path.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// Reads `.in-progress.json`, if any.
pub fn read_in_progress(dir: &Path) -> anyhow::Result<Option<InProgress>> {
    let path = dir.join(IN_PROGRESS_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Some(serde_json::from_slice(&text).with_context(|| {
        format!("{} is not valid", path.display())
    })?))
}

/// Writes `.in-progress.json`.
pub fn write_in_progress(dir: &Path, state: &InProgress) -> anyhow::Result<()> {
    Ok(write_atomically(
        &dir.join(IN_PROGRESS_FILE),
        &serde_json::to_vec_pretty(state)?,
    )?)
}

fn sha256_of(path: &Path) -> std::io::Result<(u64, String)> {
    let mut hashing = HashingWriter::new(std::io::sink());
    std::io::copy(&mut fs::File::open(path)?, &mut hashing)?;
    let (_, bytes, sha) = hashing.finish();
    Ok((bytes, sha))
}

/// Finds how far a collection got; removes parts that cannot be trusted.
/// Refuses when the collection's schema changed since the set was started.
pub fn scan_collection(
    dir: &Path,
    current: &CollectionSpec,
    extension: &str,
) -> anyhow::Result<CollectionProgress> {
    let collection_dir = dir.join(&current.name);
    let mut progress = CollectionProgress::default();
    if !collection_dir.exists() {
        return Ok(progress);
    }
    let header_path = collection_dir.join(HEADER_FILE);
    if header_path.exists() {
        let header: Header = serde_json::from_slice(&fs::read(&header_path)?)
            .with_context(|| format!("{} is not valid", header_path.display()))?;
        if header.collection.fields != current.fields {
            bail!(
                "collection {:?} changed its schema since this set was started ({}): start a new set",
                current.name,
                header_path.display()
            );
        }
        progress.header = Some(header);
    }
    let complete_path = collection_dir.join(COMPLETE_FILE);
    if complete_path.exists() {
        progress.complete = Some(
            serde_json::from_slice(&fs::read(&complete_path)?)
                .with_context(|| format!("{} is not valid", complete_path.display()))?,
        );
        return Ok(progress);
    }
    for index in 0.. {
        let relative = format!("{}/part-{index:05}.{extension}", current.name);
        let path = dir.join(&relative);
        let record_path = part_record_path(&path);
        let Ok(record) = fs::read(&record_path) else {
            break;
        };
        let Ok(part) = serde_json::from_slice::<Part>(&record) else {
            break;
        };
        match sha256_of(&path) {
            Ok((bytes, sha))
                if bytes == part.bytes && sha == part.sha256 && part.path == relative =>
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
        .flat_map(|p| {
            let name = p.path.rsplit('/').next().unwrap_or(&p.path).to_string();
            [format!("{name}.json"), name]
        })
        .collect();
    for entry in fs::read_dir(&collection_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_part_file =
            name.starts_with("part-") || (name.starts_with(".part-") && name.ends_with(".tmp"));
        if is_part_file && !trusted.contains(&name) {
            fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    Ok(progress)
}

/// Records a finished collection.
pub fn write_complete(dir: &Path, entry: &CollectionEntry) -> anyhow::Result<()> {
    let path = dir.join(&entry.header.collection.name).join(COMPLETE_FILE);
    Ok(write_atomically(&path, &serde_json::to_vec_pretty(entry)?)?)
}

/// Records the header a collection's dump starts with.
pub fn write_header(dir: &Path, header: &Header) -> anyhow::Result<()> {
    let collection_dir = dir.join(&header.collection.name);
    fs::create_dir_all(&collection_dir)?;
    Ok(write_atomically(
        &collection_dir.join(HEADER_FILE),
        &serde_json::to_vec_pretty(header)?,
    )?)
}

/// Removes the progress files once the manifest is written.
pub fn clean_up(dir: &Path, entries: &[CollectionEntry]) {
    let _ = fs::remove_file(dir.join(IN_PROGRESS_FILE));
    for entry in entries {
        let collection_dir = dir.join(&entry.header.collection.name);
        let _ = fs::remove_file(collection_dir.join(HEADER_FILE));
        let _ = fs::remove_file(collection_dir.join(COMPLETE_FILE));
        for part in &entry.parts {
            let _ = fs::remove_file(part_record_path(&dir.join(&part.path)));
        }
    }
}
