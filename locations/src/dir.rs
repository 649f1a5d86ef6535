//! A directory of backup files: a local directory or an object-store
//! prefix, listed, read and written the same way.

use std::path::{Path, PathBuf};

use futures::TryStreamExt as _;
use object_storage::Store;
use object_store::path::Path as Key;
use object_store::{ObjectStore as _, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};

use crate::blob::{Blob, RemoteObject};
use crate::error::{Error, Kind, Result};
use crate::write::{temporary_beside, FileWriter};

/// A directory of files: local, or an object-store prefix.
#[derive(Clone, Debug)]
pub enum Dir {
    /// A local directory.
    Local(PathBuf),
    /// A prefix (`store.location.key`) in an object store.
    Remote(Store),
}

impl Dir {
    /// The store's prefix as text (no trailing `/`) and as a listing prefix.
    fn prefix(store: &Store) -> (String, Option<Key>) {
        let base = store
            .location
            .key
            .as_ref()
            .trim_end_matches('/')
            .to_string();
        let prefix = (!base.is_empty()).then(|| Key::from(base.as_str()));
        (base, prefix)
    }

    fn key(store: &Store, rel: &str) -> Key {
        match Self::prefix(store) {
            (_, None) => Key::from(rel),
            (base, Some(_)) => Key::from(format!("{base}/{rel}")),
        }
    }

    /// The URL or path of `rel` (empty: the directory itself, ending in `/`).
    pub fn url(&self, rel: &str) -> String {
        match self {
            Dir::Local(dir) if rel.is_empty() => format!("{}/", dir.display()),
            Dir::Local(dir) => dir.join(rel).display().to_string(),
            Dir::Remote(store) if rel.is_empty() => {
                let base = store
                    .location
                    .with_key(store.location.key.clone())
                    .to_string();
                format!("{}/", base.trim_end_matches('/'))
            }
            Dir::Remote(store) => store.url_of(&Self::key(store, rel)),
        }
    }

    /// The directory `name` inside this one.
    pub fn child(&self, name: &str) -> Dir {
        match self {
            Dir::Local(dir) => Dir::Local(dir.join(name)),
            Dir::Remote(store) => {
                let mut location = store.location.with_key(Self::key(store, name));
                location.trailing_slash = true;
                Dir::Remote(Store {
                    inner: store.inner.clone(),
                    location,
                })
            }
        }
    }

    /// A small file's content; `None` when it does not exist.
    pub async fn read(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        let failed = |e: &dyn std::fmt::Display| Error::unreachable(self.url(rel), e);
        match self {
            Dir::Local(dir) => match tokio::fs::read(dir.join(rel)).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(failed(&e)),
            },
            Dir::Remote(store) => match store.inner.get(&Self::key(store, rel)).await {
                Ok(result) => Ok(Some(result.bytes().await.map_err(|e| failed(&e))?.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(failed(&e)),
            },
        }
    }

    fn cannot_write(&self, rel: &str, e: &dyn std::fmt::Display) -> Error {
        Error::new(
            Kind::Unreachable,
            self.url(rel),
            format!("cannot write: {e}"),
        )
    }

    /// Writes a small file (replacing it; locally by rename, so a reader
    /// sees the old content or the new, never half of it).
    pub async fn write(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        let failed = |e: &dyn std::fmt::Display| self.cannot_write(rel, e);
        match self {
            Dir::Local(dir) => {
                let (path, tmp) = write_aside(dir, rel, &bytes)
                    .await
                    .map_err(|e| failed(&e))?;
                tokio::fs::rename(&tmp, &path).await.map_err(|e| failed(&e))
            }
            Dir::Remote(store) => {
                store
                    .inner
                    .put(&Self::key(store, rel), PutPayload::from(bytes))
                    .await
                    .map_err(|e| failed(&e))?;
                Ok(())
            }
        }
    }

    /// Writes a small file that must not exist yet (the manifest: a set is
    /// never overwritten). Returns `false`, writing nothing, when it exists.
    /// Locally the content appears whole (written aside, then linked).
    pub async fn create(&self, rel: &str, bytes: Vec<u8>) -> Result<bool> {
        let failed = |e: &dyn std::fmt::Display| self.cannot_write(rel, e);
        match self {
            Dir::Local(dir) => {
                let (path, tmp) = write_aside(dir, rel, &bytes)
                    .await
                    .map_err(|e| failed(&e))?;
                let linked = tokio::fs::hard_link(&tmp, &path).await;
                let _ = tokio::fs::remove_file(&tmp).await;
                match linked {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(failed(&e)),
                }
            }
            Dir::Remote(store) => {
                let options = PutOptions {
                    mode: PutMode::Create,
                    ..PutOptions::default()
                };
                match store
                    .inner
                    .put_opts(&Self::key(store, rel), PutPayload::from(bytes), options)
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::AlreadyExists { .. })
                    | Err(object_store::Error::Precondition { .. }) => Ok(false),
                    Err(e) => Err(failed(&e)),
                }
            }
        }
    }

    /// Starts writing the file `rel` (which must not exist), streamed: see
    /// [`FileWriter`]. Call inside the runtime.
    pub fn create_streamed(&self, rel: &str) -> Result<FileWriter> {
        match self {
            Dir::Local(dir) => FileWriter::local(dir.join(rel)),
            Dir::Remote(store) => {
                let location = store.location.with_key(Self::key(store, rel));
                Ok(FileWriter::remote(
                    Store {
                        inner: store.inner.clone(),
                        location,
                    },
                    true,
                ))
            }
        }
    }

    /// Removes the file `rel` (gone already is fine).
    pub async fn delete(&self, rel: &str) -> Result<()> {
        let failed = |e: &dyn std::fmt::Display| {
            Error::new(
                Kind::Unreachable,
                self.url(rel),
                format!("cannot remove: {e}"),
            )
        };
        match self {
            Dir::Local(dir) => match tokio::fs::remove_file(dir.join(rel)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(failed(&e)),
                _ => Ok(()),
            },
            Dir::Remote(store) => match store.inner.delete(&Self::key(store, rel)).await {
                Err(e) if !matches!(e, object_store::Error::NotFound { .. }) => Err(failed(&e)),
                _ => Ok(()),
            },
        }
    }

    /// Every file below, as paths relative to this directory, with sizes
    /// (none when the directory does not exist, as for an empty prefix).
    pub async fn files(&self) -> Result<Vec<(String, u64)>> {
        let failed = |e: &dyn std::fmt::Display| {
            Error::new(Kind::Unreachable, self.url(""), format!("cannot list: {e}"))
        };
        match self {
            Dir::Local(dir) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || {
                    let mut out = Vec::new();
                    match walk(&dir, "", &mut out) {
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound && out.is_empty() => {}
                        result => result?,
                    }
                    out.sort();
                    Ok(out)
                })
                .await
                .map_err(|e| failed(&e))?
                .map_err(|e: std::io::Error| failed(&e))
            }
            Dir::Remote(store) => {
                let (base, prefix) = Self::prefix(store);
                let metas: Vec<_> = store
                    .inner
                    .list(prefix.as_ref())
                    .try_collect()
                    .await
                    .map_err(|e| failed(&e))?;
                let mut out: Vec<(String, u64)> = metas
                    .into_iter()
                    .map(|m| {
                        let key = m.location.to_string();
                        let rel = key
                            .strip_prefix(&base)
                            .unwrap_or(&key)
                            .trim_start_matches('/')
                            .to_string();
                        (rel, m.size)
                    })
                    .collect();
                out.sort();
                Ok(out)
            }
        }
    }

    /// Names of the directories (prefixes) directly inside.
    pub async fn children(&self) -> Result<Vec<String>> {
        let failed = |e: &dyn std::fmt::Display| {
            Error::new(Kind::Unreachable, self.url(""), format!("cannot list: {e}"))
        };
        match self {
            Dir::Local(dir) => {
                let mut names = Vec::new();
                let entries = std::fs::read_dir(dir).map_err(|e| failed(&e))?;
                for entry in entries {
                    let entry = entry.map_err(|e| failed(&e))?;
                    if entry.file_type().map_err(|e| failed(&e))?.is_dir() {
                        names.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
                names.sort();
                Ok(names)
            }
            Dir::Remote(store) => {
                let (_, prefix) = Self::prefix(store);
                let listing = store
                    .inner
                    .list_with_delimiter(prefix.as_ref())
                    .await
                    .map_err(|e| failed(&e))?;
                let mut names: Vec<String> = listing
                    .common_prefixes
                    .iter()
                    .filter_map(|p| p.filename().map(str::to_string))
                    .collect();
                names.sort();
                Ok(names)
            }
        }
    }

    /// The file `rel` inside (which may not exist).
    pub fn blob(&self, rel: &str) -> Blob {
        match self {
            Dir::Local(dir) => Blob::Local(dir.join(rel)),
            Dir::Remote(store) => {
                Blob::Remote(RemoteObject::new(store.clone(), Self::key(store, rel)))
            }
        }
    }
}

/// Writes `bytes` for `rel` in `dir` under a temporary name beside it
/// (`.NAME.tmp`, its directory created), and waits for the disk: a record
/// or a manifest must survive a crash once it has its name. Returns the
/// final path and the temporary one.
async fn write_aside(dir: &Path, rel: &str, bytes: &[u8]) -> std::io::Result<(PathBuf, PathBuf)> {
    use tokio::io::AsyncWriteExt as _;
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    // Named for this process: shards of one set may write the same small
    // file at once (the first `.in-progress.json`); each writes its own copy.
    let mut tmp = temporary_beside(&path).into_os_string();
    tmp.push(format!(".{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut file = tokio::fs::File::create(&tmp).await?;
    file.write_all(bytes).await?;
    file.sync_all().await?;
    Ok((path, tmp))
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, u64)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if entry.file_type()?.is_dir() {
            walk(&entry.path(), &path, out)?;
        } else {
            out.push((path, entry.metadata()?.len()));
        }
    }
    Ok(())
}
