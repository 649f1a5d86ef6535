//! `s3-rm`: delete objects, or everything under a prefix.

use crate::checksum;
use crate::store::Store;
use crate::{Error, Result};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::ObjectStoreExt;

/// What to delete for one URL: the object and its sidecar, or (recursive) all
/// keys below the prefix. Refuses a whole bucket.
pub async fn plan(store: &Store, recursive: bool) -> Result<Vec<Path>> {
    let url = store.location.to_string();
    let key = store.location.key.clone();
    if key.as_ref().is_empty() {
        return Err(Error::Config(format!(
            "refusing to delete {url}: it is a whole bucket; name a prefix (s3-rm --recursive s3://bucket/prefix/)"
        )));
    }
    if recursive {
        let mut keys: Vec<Path> = store
            .inner
            .list(Some(&key))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| Error::store("listing", &url, e))?;
        // The prefix may itself be an object (s3://b/x and s3://b/x/...).
        if !store.location.trailing_slash {
            match store.inner.head(&key).await {
                Ok(_) => keys.push(key.clone()),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(Error::store("reading", &url, e)),
            }
        }
        keys.sort();
        keys.dedup();
        return Ok(keys);
    }
    if store.location.trailing_slash {
        return Err(Error::Config(format!(
            "{url} names a prefix; add --recursive to delete everything under it"
        )));
    }
    store
        .inner
        .head(&key)
        .await
        .map_err(|e| Error::store("reading", &url, e))?;
    let mut keys = vec![key.clone()];
    if !checksum::is_sidecar(&key) {
        let side = checksum::sidecar_key(&key);
        match store.inner.head(&side).await {
            Ok(_) => keys.push(side),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(Error::store("reading", &store.url_of(&side), e)),
        }
    }
    Ok(keys)
}

/// Deletes `keys` (in batches where the store supports it), calling `done`
/// with each deleted key's URL. Returns the first error after trying all.
pub async fn delete(store: &Store, keys: Vec<Path>, mut done: impl FnMut(&str)) -> Result<u64> {
    let stream = futures::stream::iter(keys.into_iter().map(Ok)).boxed();
    let mut results = store.inner.delete_stream(stream);
    let mut n = 0u64;
    let mut first_err = None;
    while let Some(r) = results.next().await {
        match r {
            Ok(p) => {
                n += 1;
                done(&store.url_of(&p));
            }
            // Already gone is what we wanted.
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                let err = Error::store("deleting from", &store.location.to_string(), e);
                eprintln!("s3-rm: {err}");
                first_err.get_or_insert(err);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(n),
    }
}
