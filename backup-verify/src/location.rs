//! Where a backup is, and reading its files: a local directory or file,
//! stdin, or an object-store prefix or object (any URL s3-put takes).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use futures::TryStreamExt as _;
use object_store::path::Path as Key;
use object_store::{ObjectStore as _, ObjectStoreExt as _, PutPayload};
use s3_pipes::location::Scheme;
use s3_pipes::{Store, StoreConfig};
use sha2::{Digest as _, Sha256};

/// Bytes read at a time while hashing.
const HASH_BUFFER: usize = 1 << 20;

/// What a LOCATION argument names.
pub enum Target {
    /// `-`.
    Stdin,
    /// A local file or object: one stream.
    Stream(Stream),
    /// A directory or prefix: a backup set, or a root of dated sets.
    Dir(Dir),
}

/// One stream file.
pub enum Stream {
    /// On local disk.
    Local(PathBuf),
    /// An object.
    Remote(Store),
}

/// A directory of files: local, or an object-store prefix.
#[derive(Clone)]
pub enum Dir {
    /// A local directory.
    Local(PathBuf),
    /// A prefix (`store.location.key`) in an object store.
    Remote(Store),
}

/// Resolves a LOCATION argument. Object stores are asked whether the URL
/// names an object; anything else is taken as a prefix.
pub async fn resolve(text: &str, config: &StoreConfig) -> Result<Target> {
    if text == "-" {
        return Ok(Target::Stdin);
    }
    let local = |path: PathBuf| {
        if path.is_dir() {
            Target::Dir(Dir::Local(path))
        } else {
            Target::Stream(Stream::Local(path))
        }
    };
    if !text.contains("://") {
        return Ok(local(PathBuf::from(text)));
    }
    let location = s3_pipes::Location::parse(text)?;
    if location.scheme == Scheme::Local {
        return Ok(local(PathBuf::from(format!("/{}", location.key))));
    }
    let store = Store::open(&location, config)?;
    if location.is_object() {
        match store.inner.head(&location.key).await {
            Ok(_) => return Ok(Target::Stream(Stream::Remote(store))),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e).with_context(|| format!("reading {text}")),
        }
    }
    Ok(Target::Dir(Dir::Remote(store)))
}

/// A file's size and sha256, and a local copy to decode.
pub struct Fetched {
    /// Bytes.
    pub bytes: u64,
    /// sha256, hex.
    pub sha256: String,
    /// Where to read it locally.
    pub copy: LocalCopy,
}

/// A local file: the original, or a downloaded copy removed on drop.
pub enum LocalCopy {
    /// The file itself.
    Original(PathBuf),
    /// A temporary download.
    Spooled(tempfile::TempPath),
}

impl LocalCopy {
    /// The path to read.
    pub fn path(&self) -> &Path {
        match self {
            LocalCopy::Original(p) => p,
            LocalCopy::Spooled(p) => p,
        }
    }
}

/// Hashes a local file (blocking).
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; HASH_BUFFER];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
    Ok((bytes, hex::encode(hasher.finalize())))
}

/// Downloads an object into a temporary file in `spool_dir`, hashing it on the way.
async fn download(store: &Store, key: &Key, spool_dir: &Path) -> Result<Option<Fetched>> {
    let url = store.url_of(key);
    let result = match store.inner.get(key).await {
        Ok(r) => r,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {url}")),
    };
    let spooled = tempfile::Builder::new()
        .prefix(".backup-verify-")
        .tempfile_in(spool_dir)
        .context("cannot create a spool file (set --spool-dir or TMPDIR)")?;
    let (file, path) = spooled.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut stream = result.into_stream();
    while let Some(chunk) = stream
        .try_next()
        .await
        .with_context(|| format!("reading {url}"))?
    {
        hasher.update(&chunk);
        bytes += chunk.len() as u64;
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
            .await
            .with_context(|| format!("spooling {url} to {}", path.display()))?;
    }
    tokio::io::AsyncWriteExt::flush(&mut file).await?;
    Ok(Some(Fetched {
        bytes,
        sha256: hex::encode(hasher.finalize()),
        copy: LocalCopy::Spooled(path),
    }))
}

impl Stream {
    /// The stream's URL or path.
    pub fn display(&self) -> String {
        match self {
            Stream::Local(p) => p.display().to_string(),
            Stream::Remote(store) => store.location.to_string(),
        }
    }

    /// Size, sha256 and a local copy; `None` when it does not exist.
    pub async fn fetch(&self, spool_dir: &Path) -> Result<Option<Fetched>> {
        match self {
            Stream::Local(path) => fetch_local(path.clone()).await,
            Stream::Remote(store) => download(store, &store.location.key, spool_dir).await,
        }
    }
}

async fn fetch_local(path: PathBuf) -> Result<Option<Fetched>> {
    if !path.exists() {
        return Ok(None);
    }
    let hashed = path.clone();
    let (bytes, sha256) = tokio::task::spawn_blocking(move || hash_file(&hashed))
        .await?
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(Fetched {
        bytes,
        sha256,
        copy: LocalCopy::Original(path),
    }))
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
        match self {
            Dir::Local(dir) => match tokio::fs::read(dir.join(rel)).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).with_context(|| format!("reading {}", self.url(rel))),
            },
            Dir::Remote(store) => match store.inner.get(&Self::key(store, rel)).await {
                Ok(result) => Ok(Some(
                    result
                        .bytes()
                        .await
                        .with_context(|| format!("reading {}", self.url(rel)))?
                        .to_vec(),
                )),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e).with_context(|| format!("reading {}", self.url(rel))),
            },
        }
    }

    /// Writes a small file (replacing it).
    pub async fn write(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        match self {
            Dir::Local(dir) => {
                let path = dir.join(rel);
                let tmp = dir.join(format!(".{rel}.tmp"));
                tokio::fs::write(&tmp, bytes).await?;
                tokio::fs::rename(&tmp, &path)
                    .await
                    .with_context(|| format!("writing {}", path.display()))
            }
            Dir::Remote(store) => {
                store
                    .inner
                    .put(&Self::key(store, rel), PutPayload::from(bytes))
                    .await
                    .with_context(|| format!("writing {}", self.url(rel)))?;
                Ok(())
            }
        }
    }

    /// Every file below, as paths relative to this directory, with sizes.
    pub async fn files(&self) -> Result<Vec<(String, u64)>> {
        match self {
            Dir::Local(dir) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || {
                    let mut out = Vec::new();
                    walk(&dir, "", &mut out)?;
                    out.sort();
                    Ok(out)
                })
                .await?
            }
            Dir::Remote(store) => {
                let (base, prefix) = Self::prefix(store);
                let metas: Vec<_> = store
                    .inner
                    .list(prefix.as_ref())
                    .try_collect()
                    .await
                    .with_context(|| format!("listing {}", self.url("")))?;
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
        match self {
            Dir::Local(dir) => {
                let mut names = Vec::new();
                for entry in
                    std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?
                {
                    let entry = entry?;
                    if entry.file_type()?.is_dir() {
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
                    .with_context(|| format!("listing {}", self.url("")))?;
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

    /// Size, sha256 and a local copy of `rel`; `None` when it does not exist.
    pub async fn fetch(&self, rel: &str, spool_dir: &Path) -> Result<Option<Fetched>> {
        match self {
            Dir::Local(dir) => fetch_local(dir.join(rel)).await,
            Dir::Remote(store) => download(store, &Self::key(store, rel), spool_dir).await,
        }
    }
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, u64)>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), &path, out)?;
        } else {
            out.push((path, entry.metadata()?.len()));
        }
    }
    Ok(())
}
