//! What a LOCATION argument names: `-` (stdin), a local file or directory,
//! or a URL (`s3://`, `gs://`, `az://`, `file://`) naming an object or a
//! prefix. Object-store settings (endpoint, region, credentials, retries)
//! are the `s3-*` tools' own.

use std::path::PathBuf;

use object_store::ObjectStoreExt as _;
use s3_pipes::location::Scheme;
use s3_pipes::{Store, StoreConfig};

use crate::blob::{Blob, RemoteObject};
use crate::dir::Dir;
use crate::error::{Error, Kind, Result};

/// A resolved LOCATION.
pub enum Target {
    /// `-`: standard input.
    Stdin,
    /// One file or object: a stream.
    Stream(Blob),
    /// A directory or prefix: a backup set, or a root of dated sets.
    Dir(Dir),
}

/// Whether `text` is a URL (rather than a local path or `-`).
pub fn is_url(text: &str) -> bool {
    text.contains("://")
}

/// Resolves a LOCATION. An object store is asked whether the URL names an
/// object; anything else there is taken as a prefix. A local path is a
/// directory when one exists there, else a file.
pub async fn resolve(text: &str, config: &StoreConfig) -> Result<Target> {
    if text == "-" {
        return Ok(Target::Stdin);
    }
    let local = |path: PathBuf| {
        if path.is_dir() {
            Target::Dir(Dir::Local(path))
        } else {
            Target::Stream(Blob::Local(path))
        }
    };
    if !is_url(text) {
        return Ok(local(PathBuf::from(text)));
    }
    let location = s3_pipes::Location::parse(text)
        .map_err(|e| Error::new(Kind::Usage, text, e.to_string()))?;
    if location.scheme == Scheme::Local {
        return Ok(local(PathBuf::from(format!("/{}", location.key))));
    }
    let store = open_store(&location, config)?;
    if location.is_object() {
        match store.inner.head(&location.key).await {
            Ok(_) => {
                let key = location.key.clone();
                return Ok(Target::Stream(Blob::Remote(RemoteObject::new(store, key))));
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(Error::unreachable(text, e)),
        }
    }
    Ok(Target::Dir(Dir::Remote(store)))
}

/// The directory or prefix a backup set is written into: a path or
/// `file://` URL (a local directory, created as needed), or an object-store
/// URL (a prefix). Objects are created only where none exists: multipart
/// completions are conditional, so a set is never overwritten.
pub fn set_dir(text: &str, config: &StoreConfig) -> Result<Dir> {
    if !is_url(text) {
        return Ok(Dir::Local(PathBuf::from(text)));
    }
    let mut location = s3_pipes::Location::parse(text)
        .map_err(|e| Error::new(Kind::Usage, text, e.to_string()))?;
    if location.scheme == Scheme::Local {
        return Ok(Dir::Local(PathBuf::from(format!("/{}", location.key))));
    }
    location.trailing_slash = true;
    let config = StoreConfig {
        create_only: true,
        ..config.clone()
    };
    Ok(Dir::Remote(open_store(&location, &config)?))
}

/// Opens the store of `location` (no request is made yet).
pub fn open_store(location: &s3_pipes::Location, config: &StoreConfig) -> Result<Store> {
    Store::open(location, config)
        .map_err(|e| Error::new(Kind::Usage, location.to_string(), e.to_string()))
}
