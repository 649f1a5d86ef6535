//! Where the sha256 of an uploaded stream is kept.
//!
//! S3 user metadata is fixed when an upload *starts*, and a stream's digest is
//! only known when it *ends*. So:
//! - a stream that fits in one part is stored with one `PUT` carrying
//!   `x-amz-meta-sha256` and `x-amz-meta-bytes` (or the backend's equivalent);
//! - every upload, single or multipart, also writes a sidecar object
//!   `KEY.sha256` in `sha256sum` format (`<hex>  <name>`), so the digest is
//!   there for multipart uploads and for `file://` (which has no metadata),
//!   and `sha256sum -c` works on downloaded copies.
//!
//! `s3-get` prefers the metadata and falls back to the sidecar.

use object_store::path::Path;
use object_store::{Attribute, Attributes};

/// Metadata key holding the hex sha256.
pub const META_SHA256: &str = "sha256";
/// Metadata key holding the byte count.
pub const META_BYTES: &str = "bytes";
/// Suffix of the sidecar object.
pub const SIDECAR_SUFFIX: &str = ".sha256";

/// The sidecar key for `key`.
pub fn sidecar_key(key: &Path) -> Path {
    Path::from(format!("{key}{SIDECAR_SUFFIX}"))
}

/// Whether `key` is itself a sidecar.
pub fn is_sidecar(key: &Path) -> bool {
    key.as_ref().ends_with(SIDECAR_SUFFIX)
}

/// The sidecar's content: one `sha256sum` line.
pub fn sidecar_body(key: &Path, sha256_hex: &str) -> String {
    let name = key.filename().unwrap_or(key.as_ref());
    format!("{sha256_hex}  {name}\n")
}

/// Reads the digest from a sidecar body (the first 64-hex-digit word).
pub fn parse_sidecar(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let word = text.split_whitespace().next()?;
    let ok = word.len() == 64 && word.chars().all(|c| c.is_ascii_hexdigit());
    ok.then(|| word.to_ascii_lowercase())
}

/// The digest stored in an object's metadata, if any.
pub fn from_attributes(attrs: &Attributes) -> Option<String> {
    attrs
        .get(&Attribute::Metadata(META_SHA256.into()))
        .map(|v| v.as_ref().to_ascii_lowercase())
        .filter(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_round_trip() {
        let key = Path::from("milvus/2026-11-24/a.jsonl.zst");
        assert_eq!(
            sidecar_key(&key).as_ref(),
            "milvus/2026-11-24/a.jsonl.zst.sha256"
        );
        assert!(is_sidecar(&sidecar_key(&key)));
        let hex = "ab".repeat(32);
        let body = sidecar_body(&key, &hex);
        assert_eq!(body, format!("{hex}  a.jsonl.zst\n"));
        assert_eq!(parse_sidecar(body.as_bytes()), Some(hex));
        assert_eq!(parse_sidecar(b"nonsense"), None);
    }
}
