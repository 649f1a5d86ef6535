//! Reading a backup set: its manifest (written last: without one a set is
//! incomplete), the collection asked for, and each part held to the size
//! and sha256 the manifest records.

use record_stream::header::FORMAT_VERSION;
use record_stream::manifest::{CollectionEntry, Manifest, Part, MANIFEST_FILE};

use crate::blob::Digest;
use crate::dir::Dir;
use crate::error::{Error, Kind, Result};

/// The set's manifest: incomplete without one, corrupt when it does not
/// parse, refused when a newer version of the tools wrote it.
pub async fn read_manifest(dir: &Dir) -> Result<Manifest> {
    let Some(text) = dir.read(MANIFEST_FILE).await? else {
        // A sharded dump in progress can say which shards are missing.
        let why = match crate::progress::ShardedSet::read(dir).await {
            Ok(Some(sharded)) => sharded.why_incomplete(&dir.url("")),
            _ => "no manifest: not a backup set, or one that did not finish (milvus-dump writes the manifest last)".into(),
        };
        return Err(Error::incomplete(dir.url(MANIFEST_FILE), why));
    };
    parse_manifest(&text, &dir.url(MANIFEST_FILE))
}

/// A manifest's bytes (read from `url`) as a manifest: corrupt when they do
/// not parse, refused when a newer version of the tools wrote them.
pub fn parse_manifest(text: &[u8], url: &str) -> Result<Manifest> {
    let manifest: Manifest = serde_json::from_slice(text)
        .map_err(|e| Error::corrupt(url, format!("not a valid manifest: {e}")))?;
    if manifest.format_version > FORMAT_VERSION {
        return Err(Error::corrupt(
            url,
            format!(
                "format version {} is newer than this build understands ({FORMAT_VERSION}): upgrade the tools",
                manifest.format_version
            ),
        ));
    }
    Ok(manifest)
}

/// The collection `name` of the set (or its only one).
pub fn pick<'a>(
    manifest: &'a Manifest,
    name: Option<&str>,
    set: &str,
) -> Result<&'a CollectionEntry> {
    let names: Vec<&str> = manifest
        .collections
        .iter()
        .map(|c| c.header.collection.name.as_str())
        .collect();
    match name {
        Some(name) => manifest
            .collections
            .iter()
            .find(|c| c.header.collection.name == name)
            .ok_or_else(|| {
                Error::new(
                    Kind::Usage,
                    set,
                    format!("no collection {name:?} in the set (it has {names:?})"),
                )
            }),
        None => match manifest.collections.as_slice() {
            [only] => Ok(only),
            _ => Err(Error::new(
                Kind::Usage,
                set,
                format!(
                    "the set holds {} collections {names:?}: choose one with --pick NAME",
                    names.len()
                ),
            )),
        },
    }
}

/// Whether a part read back as the manifest records it.
pub fn check_part(part: &Part, found: &Digest) -> Result<()> {
    if found.bytes == part.bytes && found.sha256.eq_ignore_ascii_case(&part.sha256) {
        return Ok(());
    }
    Err(Error::corrupt(
        &part.path,
        format!(
            "{} bytes with sha256 {}, but the manifest records {} bytes with sha256 {}: the set is corrupt",
            found.bytes, found.sha256, part.bytes, part.sha256
        ),
    ))
}
