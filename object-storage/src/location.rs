//! Object URLs: `s3://bucket/key`, `gs://bucket/key`, `az://container/key`,
//! `file:///abs/path` and plain local paths.

use crate::{Error, Result};
use object_store::path::Path;
use std::fmt;

/// Which backend a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// Amazon S3 or an S3-compatible server (`s3://`, `s3a://`).
    S3,
    /// Google Cloud Storage (`gs://`).
    Gcs,
    /// Azure Blob Storage (`az://`, `azure://`, `abfs://`...).
    Azure,
    /// The local file system (`file://` or a plain path).
    Local,
}

/// A parsed object URL: backend, bucket and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The backend.
    pub scheme: Scheme,
    /// Bucket or container (empty for local paths).
    pub bucket: String,
    /// The key inside the bucket (for local paths: the absolute path without
    /// its leading `/`). Empty for a bucket root.
    pub key: Path,
    /// Whether the URL ended in `/` (names a prefix, not an object).
    pub trailing_slash: bool,
    /// The scheme as written (`s3`, `az`, `abfs`...), kept for display and for
    /// handing the URL to the backend's own parser.
    pub raw_scheme: String,
}

impl Location {
    /// Parses a URL or a local path.
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidUrl {
            url: input.to_string(),
            reason: reason.to_string(),
        };
        let trailing_slash = input.ends_with('/');
        let Some((scheme, rest)) = input.split_once("://") else {
            // A plain path: relative paths are taken from the current directory.
            let p = std::path::Path::new(input);
            let abs = if p.is_absolute() {
                p.to_path_buf()
            } else {
                std::env::current_dir()
                    .map_err(|e| bad(&format!("cannot read the current directory: {e}")))?
                    .join(p)
            };
            let key = Path::from_absolute_path(&abs).map_err(|e| bad(&e.to_string()))?;
            return Ok(Location {
                scheme: Scheme::Local,
                bucket: String::new(),
                key,
                trailing_slash,
                raw_scheme: "file".into(),
            });
        };
        let raw_scheme = scheme.to_ascii_lowercase();
        let kind = match raw_scheme.as_str() {
            "s3" | "s3a" => Scheme::S3,
            "gs" => Scheme::Gcs,
            "az" | "azure" | "abfs" | "abfss" | "adl" => Scheme::Azure,
            "file" => Scheme::Local,
            other => {
                return Err(bad(&format!(
                    "unsupported scheme {other:?} (use s3://, gs://, az://, file:// or a path)"
                )))
            }
        };
        if kind == Scheme::Local {
            // file:///abs/path (an empty host) or file://localhost/abs/path.
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(bad("file URLs need an absolute path: file:///dir/file"));
            }
            let key = Path::from_url_path(path).map_err(|e| bad(&e.to_string()))?;
            return Ok(Location {
                scheme: kind,
                bucket: String::new(),
                key,
                trailing_slash,
                raw_scheme,
            });
        }
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("missing bucket name"));
        }
        let key = Path::parse(key.trim_end_matches('/')).map_err(|e| bad(&e.to_string()))?;
        Ok(Location {
            scheme: kind,
            bucket: bucket.to_string(),
            key,
            trailing_slash,
            raw_scheme,
        })
    }

    /// The URL of another key in the same bucket.
    pub fn with_key(&self, key: Path) -> Self {
        Location {
            key,
            trailing_slash: false,
            ..self.clone()
        }
    }

    /// Whether the URL names an object (a non-empty key without a trailing `/`).
    pub fn is_object(&self) -> bool {
        !self.key.as_ref().is_empty() && !self.trailing_slash
    }

    /// The bucket-level URL (`s3://bucket`), handed to the backend builders.
    pub fn bucket_url(&self) -> String {
        format!("{}://{}", self.raw_scheme, self.bucket)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slash = if self.trailing_slash && !self.key.as_ref().is_empty() {
            "/"
        } else {
            ""
        };
        match self.scheme {
            Scheme::Local => write!(f, "file:///{}{slash}", self.key),
            _ => write!(
                f,
                "{}://{}/{}{slash}",
                self.raw_scheme, self.bucket, self.key
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        let l = Location::parse("s3://bk/milvus/2026-11-24/a.jsonl.zst").unwrap();
        assert_eq!(l.scheme, Scheme::S3);
        assert_eq!(l.bucket, "bk");
        assert_eq!(l.key.as_ref(), "milvus/2026-11-24/a.jsonl.zst");
        assert!(l.is_object());
        assert_eq!(l.to_string(), "s3://bk/milvus/2026-11-24/a.jsonl.zst");

        let p = Location::parse("s3://bk/milvus/").unwrap();
        assert!(!p.is_object());
        assert_eq!(p.to_string(), "s3://bk/milvus/");
        let root = Location::parse("s3://bk").unwrap();
        assert!(!root.is_object());
        assert_eq!(root.key.as_ref(), "");
        assert!(Location::parse("s3:///key").is_err());
        assert!(Location::parse("ftp://x/y").is_err());
        assert!(Location::parse("s3://bk/a//b").is_err());
    }

    #[test]
    fn other_schemes() {
        assert_eq!(Location::parse("gs://b/k").unwrap().scheme, Scheme::Gcs);
        assert_eq!(Location::parse("az://c/k").unwrap().scheme, Scheme::Azure);
    }

    #[test]
    fn local_paths() {
        let l = Location::parse("file:///var/backups/x.zst").unwrap();
        assert_eq!(l.scheme, Scheme::Local);
        assert_eq!(l.key.as_ref(), "var/backups/x.zst");
        assert_eq!(l.to_string(), "file:///var/backups/x.zst");
        let p = Location::parse("/var/backups/x.zst").unwrap();
        assert_eq!(p, l);
        assert!(Location::parse("file://relative/x").is_err());
        let enc = Location::parse("file:///tmp/a%20b").unwrap();
        assert_eq!(enc.key.as_ref(), "tmp/a b");
    }
}
