//! `s3-ls`: objects under a prefix with sizes and dates.
//!
//! Prefixes match whole path segments (`s3://b/backups/2026` lists
//! `backups/2026/...`, not `backups/2026-11-24/...`), which is what retention
//! scripts want. A URL naming one object lists that object.

use crate::store::Store;
use crate::{Error, Result};
use futures::TryStreamExt;
use object_store::{ObjectMeta, ObjectStoreExt};
use serde::Serialize;

/// One line of a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Entry {
    /// An object.
    Object {
        /// Its URL.
        url: String,
        /// Its key.
        key: String,
        /// Bytes.
        size: u64,
        /// RFC 3339, UTC.
        last_modified: String,
        /// ETag without quotes.
        etag: Option<String>,
    },
    /// A "directory" (common prefix), in non-recursive listings.
    Prefix {
        /// The prefix's URL, ending in `/`.
        prefix: String,
    },
}

impl Entry {
    fn object(store: &Store, m: ObjectMeta) -> Entry {
        Entry::Object {
            url: store.url_of(&m.location),
            key: m.location.to_string(),
            size: m.size,
            last_modified: m
                .last_modified
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            etag: m.e_tag.map(|e| e.trim_matches('"').to_string()),
        }
    }

    /// The `s3-ls` text line: `DATE  SIZE  URL` or `PRE  URL/`.
    pub fn text(&self) -> String {
        match self {
            Entry::Object {
                url,
                size,
                last_modified,
                ..
            } => format!("{last_modified}  {size:>14}  {url}"),
            Entry::Prefix { prefix } => format!("{:>20}  {:>14}  {prefix}", "", "PRE"),
        }
    }
}

/// Lists `store.location`: the prefix's direct children, or everything below
/// it when `recursive`; sorted by key.
pub async fn list(store: &Store, recursive: bool) -> Result<Vec<Entry>> {
    let url = store.location.to_string();
    let key = &store.location.key;
    let prefix = (!key.as_ref().is_empty()).then_some(key);
    let mut out = Vec::new();
    if recursive {
        let mut metas: Vec<ObjectMeta> = store
            .inner
            .list(prefix)
            .try_collect()
            .await
            .map_err(|e| Error::store("listing", &url, e))?;
        metas.sort_by(|a, b| a.location.cmp(&b.location));
        out.extend(metas.into_iter().map(|m| Entry::object(store, m)));
    } else {
        let res = match store.inner.list_with_delimiter(prefix).await {
            Ok(r) => r,
            // Local: listing a path that is a file, or does not exist.
            Err(object_store::Error::NotFound { .. }) => object_store::ListResult {
                common_prefixes: Vec::new(),
                objects: Vec::new(),
                extensions: Default::default(),
            },
            Err(e) => return Err(Error::store("listing", &url, e)),
        };
        let mut prefixes = res.common_prefixes;
        prefixes.sort();
        out.extend(prefixes.into_iter().map(|p| Entry::Prefix {
            prefix: format!("{}/", store.url_of(&p)),
        }));
        let mut objects = res.objects;
        objects.sort_by(|a, b| a.location.cmp(&b.location));
        out.extend(objects.into_iter().map(|m| Entry::object(store, m)));
    }
    if out.is_empty() && store.location.is_object() {
        match store.inner.head(key).await {
            Ok(m) => out.push(Entry::object(store, m)),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(Error::store("reading", &url, e)),
        }
    }
    Ok(out)
}
