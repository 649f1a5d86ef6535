//! What a LOCATION argument names: `-` (stdin), a local file or directory,
//! or a URL (`s3://`, `gs://`, `az://`, `file://`) naming an object or a
//! prefix. Object-store settings (endpoint, region, credentials, retries)
//! are the `s3-*` tools' own.

use std::path::PathBuf;

use object_storage::location::Scheme;
use object_storage::{Store, StoreConfig};
use object_store::ObjectStoreExt as _;

use crate::blob::{Blob, RemoteObject};
use crate::dir::Dir;
use crate::error::{Error, Kind, Result};
use crate::write::FileWriter;

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

/// A LOCATION that is not `-`: on local disk, or in an object store.
enum Place {
    Local(PathBuf),
    Remote(object_storage::Location),
}

/// Where `text` (a path or a URL) points; `file://` URLs are local paths.
fn place(text: &str) -> Result<Place> {
    if !is_url(text) {
        return Ok(Place::Local(PathBuf::from(text)));
    }
    let location = object_storage::Location::parse(text)
        .map_err(|e| Error::new(Kind::Usage, text, e.to_string()))?;
    Ok(match location.scheme {
        Scheme::Local => Place::Local(PathBuf::from(format!("/{}", location.key))),
        _ => Place::Remote(location),
    })
}

/// `config` for writing: objects are created only where none exists
/// (multipart completions are conditional), so nothing is overwritten.
fn for_writing(config: &StoreConfig) -> StoreConfig {
    StoreConfig {
        create_only: true,
        ..config.clone()
    }
}

/// Resolves a LOCATION. An object store is asked whether the URL names an
/// object; anything else there is taken as a prefix. A local path is a
/// directory when one exists there, else a file.
pub async fn resolve(text: &str, config: &StoreConfig) -> Result<Target> {
    if text == "-" {
        return Ok(Target::Stdin);
    }
    let location = match place(text)? {
        Place::Local(path) if path.is_dir() => return Ok(Target::Dir(Dir::Local(path))),
        Place::Local(path) if !path.exists() => {
            return Err(Error::new(
                Kind::NotFound,
                text,
                "no such file or directory",
            ))
        }
        Place::Local(path) => return Ok(Target::Stream(Blob::Local(path))),
        Place::Remote(location) => location,
    };
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
/// URL (a prefix) where no object is ever overwritten.
pub fn set_dir(text: &str, config: &StoreConfig) -> Result<Dir> {
    match place(text)? {
        Place::Local(path) => Ok(Dir::Local(path)),
        Place::Remote(mut location) => {
            location.trailing_slash = true;
            Ok(Dir::Remote(open_store(&location, &for_writing(config))?))
        }
    }
}

/// A stream written to a path or `file://` URL, or to an object, which must
/// not exist yet unless `overwrite`: it appears under its name only when
/// finished (see [`FileWriter`]). Call inside the runtime.
pub fn create_file(text: &str, config: &StoreConfig, overwrite: bool) -> Result<FileWriter> {
    match place(text)? {
        Place::Local(path) if overwrite => FileWriter::local(path),
        Place::Local(path) => FileWriter::local_new(path),
        Place::Remote(location) if !location.is_object() => Err(Error::new(
            Kind::Usage,
            text,
            "names a bucket or prefix: give the object's full key",
        )),
        Place::Remote(location) => Ok(FileWriter::remote(
            open_store(&location, &for_writing(config))?,
            !overwrite,
        )),
    }
}

/// Opens the store of `location` (no request is made yet).
pub fn open_store(location: &object_storage::Location, config: &StoreConfig) -> Result<Store> {
    Store::open(location, config)
        .map_err(|e| Error::new(Kind::Usage, location.to_string(), e.to_string()))
}
