//! `s3-put`: standard input → one object, in bounded memory.
//!
//! A reader thread fills part-sized buffers straight from the input file
//! descriptor and hashes them; it may only start a buffer while it holds one
//! of `concurrency` permits, and a permit is returned when its part has been
//! uploaded, so at most `concurrency` parts exist at any time. A stream that
//! fits in one part becomes one `PUT` with its sha256 in the metadata; a
//! longer one becomes a multipart upload whose parts are sent concurrently
//! and which is completed only after the whole input has been read without
//! error and without a signal. Every failure path aborts the multipart upload.

use crate::checksum;
use crate::local::LocalUpload;
use crate::progress::Progress;
use crate::signals::Interrupt;
use crate::store::Store;
use crate::{Error, Result};
use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, MultipartUpload, ObjectStoreExt, PutMode,
    PutMultipartOptions, PutOptions, PutPayload,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// S3's limit on parts per upload.
pub const MAX_PARTS: u64 = 10_000;
/// S3's smallest allowed part (except the last).
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// S3's largest allowed part.
pub const MAX_PART_SIZE: u64 = 5 << 30;

/// What to upload and how.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Bytes per part (and per read buffer).
    pub part_size: u64,
    /// Parts in memory / in flight at once.
    pub concurrency: usize,
    /// Never replace an existing object.
    pub create_only: bool,
    /// `Content-Type` of the object.
    pub content_type: Option<String>,
    /// User metadata (`x-amz-meta-*`).
    pub metadata: Vec<(String, String)>,
    /// Storage class (`STANDARD_IA`, `GLACIER_IR`...).
    pub storage_class: Option<String>,
    /// Store an empty object when the input is empty (default: refuse).
    pub allow_empty: bool,
    /// Write the `KEY.sha256` sidecar.
    pub sidecar: bool,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            part_size: 16 << 20,
            concurrency: 4,
            create_only: false,
            content_type: None,
            metadata: Vec::new(),
            storage_class: None,
            allow_empty: false,
            sidecar: true,
        }
    }
}

impl UploadOptions {
    /// Checks the limits S3 imposes.
    pub fn validate(&self) -> Result<()> {
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&self.part_size) {
            return Err(Error::Config(format!(
                "--part-size must be between 5 MiB and 5 GiB (got {} bytes)",
                self.part_size
            )));
        }
        if self.concurrency == 0 || self.concurrency > 256 {
            return Err(Error::Config(
                "--concurrency must be between 1 and 256".into(),
            ));
        }
        for (k, _) in &self.metadata {
            let ok = !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(Error::Config(format!(
                    "metadata key {k:?}: use letters, digits, '-' and '_'"
                )));
            }
            if k.eq_ignore_ascii_case(checksum::META_SHA256)
                || k.eq_ignore_ascii_case(checksum::META_BYTES)
            {
                return Err(Error::Config(format!(
                    "metadata key {k:?} is reserved for s3-put"
                )));
            }
        }
        Ok(())
    }

    /// Raises the part size, if needed, so that `size` bytes fit in the
    /// 10,000 parts S3 allows (rounded up to whole MiB). Returns whether it changed.
    pub fn fit_size(&mut self, size: u64) -> bool {
        let needed = size.div_ceil(MAX_PARTS).div_ceil(1 << 20) * (1 << 20);
        if needed > self.part_size {
            self.part_size = needed.min(MAX_PART_SIZE);
            true
        } else {
            false
        }
    }

    /// The most memory the part buffers can take.
    pub fn buffer_bound(&self) -> u64 {
        self.part_size * self.concurrency as u64
    }
}

/// The one-line JSON receipt `s3-put` prints.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Receipt {
    /// The object written.
    pub url: String,
    /// Bytes stored.
    pub bytes: u64,
    /// Hex sha256 of the bytes.
    pub sha256: String,
    /// The store's ETag (quotes removed), when it returns one.
    pub etag: Option<String>,
    /// Parts uploaded (1 for a single `PUT`).
    pub parts: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

enum Msg {
    Part {
        data: Bytes,
        permit: OwnedSemaphorePermit,
        last: bool,
    },
    End {
        sha256: [u8; 32],
        bytes: u64,
    },
    Failed {
        bytes: u64,
        error: std::io::Error,
    },
}

/// Reads `input` in part-sized buffers on its own thread.
fn spawn_reader(
    mut input: impl Read + Send + 'static,
    part_size: usize,
    permits: Arc<Semaphore>,
    tx: mpsc::UnboundedSender<Msg>,
) -> std::io::Result<()> {
    let handle = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("s3-put-reader".into())
        .spawn(move || {
            let mut hasher = Sha256::new();
            let mut total = 0u64;
            loop {
                let Ok(permit) = handle.block_on(Arc::clone(&permits).acquire_owned()) else {
                    return;
                };
                let (buf, res) = read_part(&mut input, part_size, &mut hasher);
                if let Err(error) = res {
                    let _ = tx.send(Msg::Failed {
                        bytes: total + buf.len() as u64,
                        error,
                    });
                    return;
                }
                total += buf.len() as u64;
                let last = buf.len() < part_size;
                if !buf.is_empty() {
                    let msg = Msg::Part {
                        data: Bytes::from(buf),
                        permit,
                        last,
                    };
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
                if last {
                    let _ = tx.send(Msg::End {
                        sha256: hasher.finalize().into(),
                        bytes: total,
                    });
                    return;
                }
            }
        })
        .map(|_| ())
}

/// Bytes read (and hashed while still in the CPU cache) per `read` call.
const READ_SLICE: usize = 1 << 20;

/// Fills one part buffer from `input` (short only at end of input), hashing
/// as it goes. Returns what was read even when an error ends it.
fn read_part(
    input: &mut impl Read,
    part_size: usize,
    hasher: &mut Sha256,
) -> (Vec<u8>, std::io::Result<()>) {
    // A large zeroed allocation is fresh zero pages from the OS: no memset.
    let mut buf = vec![0u8; part_size];
    let mut filled = 0;
    while filled < part_size {
        let end = (filled + READ_SLICE).min(part_size);
        match input.read(&mut buf[filled..end]) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[filled..filled + n]);
                filled += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                buf.truncate(filled);
                return (buf, Err(e));
            }
        }
    }
    buf.truncate(filled);
    (buf, Ok(()))
}

fn trim_etag(e: Option<String>) -> Option<String> {
    e.map(|e| e.trim_matches('"').to_string())
}

/// Uploads `input` to `store.location`, returning the receipt.
///
/// On any error, and when `interrupt` fires, a started multipart upload is
/// aborted and no object appears under the key.
pub async fn upload(
    store: &Store,
    input: impl Read + Send + 'static,
    opts: &UploadOptions,
    progress: &Progress,
    interrupt: &Interrupt,
) -> Result<Receipt> {
    opts.validate()?;
    let started = Instant::now();
    let key = store.location.key.clone();
    let url = store.location.to_string();
    if !store.location.is_object() {
        return Err(Error::InvalidUrl {
            url,
            reason: "names a bucket or prefix; give the object's full key".into(),
        });
    }
    if store.is_local()
        && (!opts.metadata.is_empty()
            || opts.content_type.is_some()
            || opts.storage_class.is_some())
    {
        eprintln!(
            "s3-put: warning: file:// stores no content type, metadata or storage class; ignored"
        );
    }
    // Refuse early rather than after streaming gigabytes; completion is also
    // conditional, which closes the race with a concurrent writer.
    if opts.create_only {
        match store.inner.head(&key).await {
            Ok(_) => return Err(Error::AlreadyExists { url }),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(Error::store("checking", &url, e)),
        }
    }

    let permits = Arc::new(Semaphore::new(opts.concurrency));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let part_size = usize::try_from(opts.part_size)
        .map_err(|_| Error::Config("--part-size too large for this machine".into()))?;
    spawn_reader(input, part_size, Arc::clone(&permits), tx).map_err(|source| Error::Input {
        url: url.clone(),
        bytes: 0,
        source,
    })?;

    let mut attrs = Attributes::new();
    if !store.is_local() {
        if let Some(ct) = &opts.content_type {
            attrs.insert(Attribute::ContentType, AttributeValue::from(ct.clone()));
        }
        if let Some(sc) = &opts.storage_class {
            attrs.insert(Attribute::StorageClass, AttributeValue::from(sc.clone()));
        }
        for (k, v) in &opts.metadata {
            attrs.insert(
                Attribute::Metadata(k.to_ascii_lowercase().into()),
                AttributeValue::from(v.clone()),
            );
        }
    }

    // The first message decides: single PUT or multipart.
    let first = tokio::select! {
        sig = interrupt.wait() => return Err(Error::Interrupted { url, signal: sig }),
        m = rx.recv() => m,
    };
    let (result, bytes, sha, parts) = match first {
        None => {
            return Err(Error::Input {
                url,
                bytes: 0,
                source: std::io::Error::other("input reader stopped"),
            })
        }
        Some(Msg::Failed { bytes, error }) => {
            return Err(Error::Input {
                url,
                bytes,
                source: error,
            })
        }
        Some(Msg::End { sha256, bytes }) => {
            if !opts.allow_empty {
                return Err(Error::EmptyInput { url });
            }
            let r = put_single(
                store,
                &key,
                &url,
                Bytes::new(),
                sha256,
                bytes,
                attrs,
                opts,
                interrupt,
            )
            .await?;
            (r, bytes, sha256, 1)
        }
        Some(Msg::Part {
            data,
            permit,
            last: true,
        }) => {
            let (sha256, bytes) = match rx.recv().await {
                Some(Msg::End { sha256, bytes }) => (sha256, bytes),
                _ => {
                    return Err(Error::Input {
                        url,
                        bytes: data.len() as u64,
                        source: std::io::Error::other("input reader stopped"),
                    })
                }
            };
            let n = data.len() as u64;
            let r = put_single(
                store, &key, &url, data, sha256, bytes, attrs, opts, interrupt,
            )
            .await?;
            drop(permit);
            progress.add(n);
            (r, bytes, sha256, 1)
        }
        Some(Msg::Part {
            data,
            permit,
            last: false,
        }) => {
            let popts = PutMultipartOptions {
                attributes: attrs,
                ..Default::default()
            };
            let upload: Box<dyn MultipartUpload> = if store.is_local() {
                Box::new(
                    LocalUpload::start(&store.local_path(&key), opts.create_only).map_err(
                        |source| Error::Local {
                            op: "creating a temporary file for",
                            path: store.local_path(&key),
                            source,
                        },
                    )?,
                )
            } else {
                store
                    .inner
                    .put_multipart_opts(&key, popts)
                    .await
                    .map_err(|e| Error::store("starting the multipart upload of", &url, e))?
            };
            let mut job = Multipart {
                upload,
                url: url.clone(),
                part_size: opts.part_size,
                parts: 0,
                inflight: FuturesUnordered::new(),
            };
            match job.run(data, permit, &mut rx, progress, interrupt).await {
                Ok((bytes, sha256, r)) => {
                    let parts = job.parts;
                    (r, bytes, sha256, parts)
                }
                Err(e) => {
                    job.abort().await;
                    return Err(e);
                }
            }
        }
    };
    let sha256 = hex::encode(sha);
    let mut etag = trim_etag(result.e_tag);
    if store.is_local() {
        etag = store
            .inner
            .head(&key)
            .await
            .ok()
            .and_then(|m| trim_etag(m.e_tag));
    }
    if opts.sidecar {
        let side = checksum::sidecar_key(&key);
        let body = checksum::sidecar_body(&key, &sha256);
        let put_opts = PutOptions {
            attributes: if store.is_local() {
                Attributes::new()
            } else {
                Attributes::from_iter([
                    (Attribute::ContentType, AttributeValue::from("text/plain")),
                    (
                        Attribute::Metadata(checksum::META_SHA256.into()),
                        AttributeValue::from(hex::encode(Sha256::digest(body.as_bytes()))),
                    ),
                ])
            },
            ..Default::default()
        };
        store
            .inner
            .put_opts(&side, PutPayload::from(body), put_opts)
            .await
            .map_err(|e| Error::store("writing the checksum sidecar", &store.url_of(&side), e))?;
    }
    Ok(Receipt {
        url,
        bytes,
        sha256,
        etag,
        parts,
        seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    })
}

#[allow(clippy::too_many_arguments)]
async fn put_single(
    store: &Store,
    key: &Path,
    url: &str,
    data: Bytes,
    sha256: [u8; 32],
    bytes: u64,
    mut attrs: Attributes,
    opts: &UploadOptions,
    interrupt: &Interrupt,
) -> Result<object_store::PutResult> {
    if let Some(signal) = interrupt.fired() {
        return Err(Error::Interrupted {
            url: url.to_string(),
            signal,
        });
    }
    if store.is_local() {
        let mut up =
            LocalUpload::start(&store.local_path(key), opts.create_only).map_err(|source| {
                Error::Local {
                    op: "creating a temporary file for",
                    path: store.local_path(key),
                    source,
                }
            })?;
        let r = async {
            up.put_part(PutPayload::from(data)).await?;
            up.complete().await
        }
        .await;
        return match r {
            Ok(r) => Ok(r),
            Err(e) => {
                let _ = up.abort().await;
                Err(map_put_error(e, url))
            }
        };
    }
    attrs.insert(
        Attribute::Metadata(checksum::META_SHA256.into()),
        AttributeValue::from(hex::encode(sha256)),
    );
    attrs.insert(
        Attribute::Metadata(checksum::META_BYTES.into()),
        AttributeValue::from(bytes.to_string()),
    );
    let put = PutOptions {
        mode: if opts.create_only {
            PutMode::Create
        } else {
            PutMode::Overwrite
        },
        attributes: attrs,
        ..Default::default()
    };
    store
        .inner
        .put_opts(key, PutPayload::from(data), put)
        .await
        .map_err(|e| map_put_error(e, url))
}

fn map_put_error(e: object_store::Error, url: &str) -> Error {
    match e {
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            Error::AlreadyExists {
                url: url.to_string(),
            }
        }
        e => Error::store("uploading", url, e),
    }
}

type PartFuture = futures::future::BoxFuture<'static, (u64, u64, u64, object_store::Result<()>)>;

struct Multipart {
    upload: Box<dyn MultipartUpload>,
    url: String,
    part_size: u64,
    parts: u64,
    inflight: FuturesUnordered<PartFuture>,
}

impl Multipart {
    fn submit(
        &mut self,
        data: Bytes,
        permit: OwnedSemaphorePermit,
        progress: &Progress,
    ) -> Result<()> {
        if self.parts >= MAX_PARTS {
            return Err(Error::TooManyParts {
                url: self.url.clone(),
                part_size: self.part_size,
            });
        }
        let offset = self.parts * self.part_size;
        self.parts += 1;
        let part = self.parts;
        let end = offset + data.len() as u64;
        let fut = self.upload.put_part(PutPayload::from(data));
        let progress = progress.clone();
        self.inflight.push(Box::pin(async move {
            let r = fut.await;
            drop(permit);
            if r.is_ok() {
                progress.add(end - offset);
            }
            (part, offset, end, r)
        }));
        Ok(())
    }

    fn part_error(&self, part: u64, offset: u64, end: u64, source: object_store::Error) -> Error {
        Error::Part {
            url: self.url.clone(),
            part,
            offset,
            end,
            source,
        }
    }

    async fn run(
        &mut self,
        first: Bytes,
        permit: OwnedSemaphorePermit,
        rx: &mut mpsc::UnboundedReceiver<Msg>,
        progress: &Progress,
        interrupt: &Interrupt,
    ) -> Result<(u64, [u8; 32], object_store::PutResult)> {
        self.submit(first, permit, progress)?;
        let mut end: Option<([u8; 32], u64)> = None;
        loop {
            if end.is_some() && self.inflight.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                signal = interrupt.wait() => {
                    return Err(Error::Interrupted { url: self.url.clone(), signal });
                }
                Some((part, offset, stop, r)) = self.inflight.next(), if !self.inflight.is_empty() => {
                    if let Err(e) = r {
                        return Err(self.part_error(part, offset, stop, e));
                    }
                }
                msg = rx.recv(), if end.is_none() => match msg {
                    Some(Msg::Part { data, permit, .. }) => self.submit(data, permit, progress)?,
                    Some(Msg::End { sha256, bytes }) => end = Some((sha256, bytes)),
                    Some(Msg::Failed { bytes, error }) => {
                        return Err(Error::Input { url: self.url.clone(), bytes, source: error });
                    }
                    None => {
                        return Err(Error::Input {
                            url: self.url.clone(),
                            bytes: 0,
                            source: std::io::Error::other("input reader stopped"),
                        });
                    }
                },
            }
        }
        let Some((sha256, bytes)) = end else {
            return Err(Error::Config(
                "internal: upload ended without end of input".into(),
            ));
        };
        // A Ctrl-C reaches every process of the pipeline at once: if the
        // writer upstream died of it, the EOF we saw is not the real end.
        // Give our own handler a moment, then look again before completing.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Some(signal) = interrupt.fired() {
            return Err(Error::Interrupted {
                url: self.url.clone(),
                signal,
            });
        }
        let result = self.upload.complete().await.map_err(|e| match e {
            object_store::Error::AlreadyExists { .. }
            | object_store::Error::Precondition { .. } => Error::AlreadyExists {
                url: self.url.clone(),
            },
            e => Error::store("completing the multipart upload of", &self.url, e),
        })?;
        Ok((bytes, sha256, result))
    }

    /// Drops in-flight parts and aborts the upload; reports (but does not
    /// fail on) an abort that itself fails.
    async fn abort(&mut self) {
        self.inflight.clear();
        let res = tokio::time::timeout(Duration::from_secs(60), self.upload.abort()).await;
        let problem = match res {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_string(),
        };
        eprintln!(
            "s3-put: warning: aborting the multipart upload of {} failed ({problem}); \
             its parts may linger until the bucket's AbortIncompleteMultipartUpload lifecycle rule removes them",
            self.url
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;

    #[derive(Debug)]
    struct Null;

    #[async_trait]
    impl MultipartUpload for Null {
        fn put_part(&mut self, _data: PutPayload) -> object_store::UploadPart {
            Box::pin(async { Ok(()) })
        }
        async fn complete(&mut self) -> object_store::Result<object_store::PutResult> {
            Ok(object_store::PutResult {
                e_tag: None,
                version: None,
                extensions: Default::default(),
            })
        }
        async fn abort(&mut self) -> object_store::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn part_10001_is_refused_with_a_hint() {
        let mut job = Multipart {
            upload: Box::new(Null),
            url: "s3://b/k".into(),
            part_size: MIN_PART_SIZE,
            parts: MAX_PARTS - 1,
            inflight: FuturesUnordered::new(),
        };
        let sem = Arc::new(Semaphore::new(2));
        let progress = Progress::new(false);
        let p = Arc::clone(&sem).acquire_owned().await.unwrap();
        job.submit(Bytes::from_static(b"x"), p, &progress).unwrap();
        assert_eq!(job.parts, MAX_PARTS);
        let p = Arc::clone(&sem).acquire_owned().await.unwrap();
        let err = job
            .submit(Bytes::from_static(b"x"), p, &progress)
            .unwrap_err();
        assert!(matches!(err, Error::TooManyParts { .. }), "{err}");
        assert!(err.to_string().contains("--part-size"), "{err}");
    }

    #[test]
    fn read_part_fills_hashes_and_stops_at_eof() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut input = &data[..];
        let mut h = Sha256::new();
        let (a, r) = read_part(&mut input, 2_000_000, &mut h);
        assert!(r.is_ok());
        assert_eq!(a, &data[..2_000_000]);
        let (b, r) = read_part(&mut input, 2_000_000, &mut h);
        assert!(r.is_ok());
        assert_eq!(b, &data[2_000_000..]);
        let (c, _) = read_part(&mut input, 2_000_000, &mut h);
        assert!(c.is_empty());
        assert_eq!(h.finalize()[..], Sha256::digest(&data)[..]);
    }

    #[test]
    fn part_size_grows_to_fit_a_known_size() {
        let mut o = UploadOptions::default();
        assert!(!o.fit_size(100 << 30));
        assert_eq!(o.part_size, 16 << 20);
        assert!(o.fit_size(1 << 40));
        assert_eq!(o.part_size, 105 << 20);
        assert!(o.part_size * MAX_PARTS >= 1 << 40);
    }

    #[test]
    fn options_are_checked() {
        let ok = UploadOptions::default();
        assert!(ok.validate().is_ok());
        assert_eq!(ok.buffer_bound(), 64 << 20);
        let small = UploadOptions {
            part_size: 1 << 20,
            ..Default::default()
        };
        assert!(small.validate().is_err());
        let reserved = UploadOptions {
            metadata: vec![("sha256".into(), "x".into())],
            ..Default::default()
        };
        assert!(reserved.validate().is_err());
        let bad_key = UploadOptions {
            metadata: vec![("a b".into(), "x".into())],
            ..Default::default()
        };
        assert!(bad_key.validate().is_err());
    }
}
