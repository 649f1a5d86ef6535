//! Resuming an interrupted backup set, wherever it is (a directory or an
//! object-store prefix).
//!
//! While a set is written, it carries its own progress beside its parts
//! (`locations::progress` has the layout): `.in-progress.json` at the root;
//! per collection `header.json` (the schema it started with), a
//! `part-NNNNN.<ext>.json` beside every completed part (its manifest entry),
//! and `complete.json` once the collection is done (a sharded set: the
//! same per shard, in the shard's directory). `--resume` trusts only
//! parts whose file matches its record (size and sha256), removes everything
//! after the first that does not, and continues from the last complete
//! part's last primary key. The manifest is written last and the progress
//! files are then removed.

use anyhow::Context as _;
use locations::progress::{
    read_json, shard_dir, InProgress, COMPLETE_FILE, HEADER_FILE, IN_PROGRESS_FILE, SHARD_PLAN_FILE,
};
use locations::Dir;
use record_stream::header::{CollectionSpec, Header, FORMAT_VERSION};
use record_stream::manifest::{CollectionEntry, Manifest, Part, MANIFEST_FILE};

use milvus_model::Pk;

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

/// Reads `.in-progress.json`, if any.
pub async fn read_in_progress(dir: &Dir) -> anyhow::Result<Option<InProgress>> {
    Ok(read_json(dir, IN_PROGRESS_FILE).await?)
}

/// Writes `.in-progress.json` where none is; false when one is there.
pub async fn create_in_progress(dir: &Dir, state: &InProgress) -> anyhow::Result<bool> {
    Ok(dir
        .create(IN_PROGRESS_FILE, serde_json::to_vec_pretty(state)?)
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
    let header_rel = format!("{name}/{HEADER_FILE}");
    let header = read_json::<Header>(dir, &header_rel).await?;
    if let Some(header) = &header {
        refuse_changed_schema(dir, &header_rel, header, current)?;
    }
    let mut progress = scan_parts(dir, name, extension).await?;
    progress.header = header;
    Ok(progress)
}

/// Refuses to continue a set whose collection (as recorded in `rel`) has
/// another schema now.
pub fn refuse_changed_schema(
    dir: &Dir,
    rel: &str,
    recorded: &Header,
    current: &CollectionSpec,
) -> anyhow::Result<()> {
    if recorded.collection.fields == current.fields {
        return Ok(());
    }
    Err(pipes_cli::Exit::Refused.because(anyhow::anyhow!(
        "collection {:?} changed its schema since this set was started ({}): start a new set",
        current.name,
        dir.url(rel)
    )))
}

/// How far the parts under `series` (a collection's directory, or a
/// shard's) got: its record when complete, else its trusted parts; removes
/// the rest.
pub async fn scan_parts(
    dir: &Dir,
    series: &str,
    extension: &str,
) -> anyhow::Result<CollectionProgress> {
    let mut progress = CollectionProgress::default();
    if let Some(complete) = read_json(dir, &format!("{series}/{COMPLETE_FILE}")).await? {
        progress.complete = Some(complete);
        return Ok(progress);
    }
    for index in 0.. {
        let relative = format!("{series}/part-{index:05}.{extension}");
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
    for (file, _) in dir.child(series).files().await? {
        let becomes = locations::write::completed_name(&file);
        let is_part_file = becomes.as_deref().unwrap_or(&file).starts_with("part-");
        let rel = format!("{series}/{file}");
        if is_part_file && !trusted.contains(&rel) {
            dir.delete(&rel).await?;
        }
    }
    Ok(progress)
}

/// Records finished parts: a collection's (`series` = its name) or a shard's.
pub async fn write_complete(
    dir: &Dir,
    series: &str,
    entry: &CollectionEntry,
) -> anyhow::Result<()> {
    let rel = format!("{series}/{COMPLETE_FILE}");
    Ok(dir.write(&rel, serde_json::to_vec_pretty(entry)?).await?)
}

/// Records the header a collection's dump starts with.
pub async fn write_header(dir: &Dir, header: &Header) -> anyhow::Result<()> {
    let rel = format!("{}/{HEADER_FILE}", header.collection.name);
    Ok(dir.write(&rel, serde_json::to_vec_pretty(header)?).await?)
}

/// Removes the progress files once the manifest is written (`shards`: the
/// set was written by that many shards).
async fn clean_up(dir: &Dir, entries: &[CollectionEntry], shards: Option<u32>) {
    let mut progress_files = vec![IN_PROGRESS_FILE.to_string()];
    for entry in entries {
        let name = &entry.header.collection.name;
        progress_files.push(format!("{name}/{HEADER_FILE}"));
        progress_files.push(format!("{name}/{COMPLETE_FILE}"));
        if let Some(shards) = shards {
            progress_files.push(format!("{name}/{SHARD_PLAN_FILE}"));
            progress_files
                .extend((0..shards).map(|k| format!("{}/{COMPLETE_FILE}", shard_dir(name, k))));
        }
        progress_files.extend(entry.parts.iter().map(|p| part_record_path(&p.path)));
    }
    for rel in progress_files {
        if let Err(e) = dir.delete(&rel).await {
            eprintln!("milvus-dump: warning: {e}");
        }
    }
}

/// Completes the set: its manifest (only where none is: a set is never
/// overwritten), then the progress files go. False when another run wrote
/// the manifest first.
pub async fn complete_set(
    dir: &Dir,
    state: &InProgress,
    entries: Vec<CollectionEntry>,
) -> anyhow::Result<bool> {
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        tool: "milvus-dump".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created_at: state.created_at.clone(),
        completed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        format: state.format.clone(),
        collections: entries,
    };
    if !dir
        .create(MANIFEST_FILE, serde_json::to_vec_pretty(&manifest)?)
        .await?
    {
        return Ok(false);
    }
    clean_up(dir, &manifest.collections, state.shards).await;
    Ok(true)
}
