//! `s3-get`: one object → stdout or a file, by ranged requests in parallel,
//! reassembled in order, in bounded memory, hashed and verified.
//!
//! A chunk may only be requested while one of `concurrency` permits is held,
//! and its permit is returned after the writer thread has written it, so at
//! most `concurrency` chunks are in memory. Every range request carries
//! `If-Match` with the ETag seen first, so an object replaced mid-download
//! fails loudly instead of producing a mix of two versions.

use crate::checksum;
use crate::progress::Progress;
use crate::store::Store;
use crate::{Error, Result};
use bytes::Bytes;
use futures::stream::FuturesOrdered;
use futures::StreamExt;
use object_store::{GetOptions, GetRange, ObjectStore};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// A byte range as on the command line (`START-END` inclusive, `START-`, `-SUFFIX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `START-END`, both inclusive.
    Bounded(u64, u64),
    /// `START-`: from START to the end.
    From(u64),
    /// `-N`: the last N bytes.
    Suffix(u64),
}

impl std::str::FromStr for ByteRange {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let t = s.trim().trim_start_matches("bytes=");
        let bad = || format!("{s:?} is not a range: use START-END (inclusive), START- or -LAST_N");
        let (a, b) = t.split_once('-').ok_or_else(bad)?;
        let num = |x: &str| x.trim().parse::<u64>().map_err(|_| bad());
        match (a.trim().is_empty(), b.trim().is_empty()) {
            (false, false) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a {
                    return Err(bad());
                }
                Ok(ByteRange::Bounded(a, b))
            }
            (false, true) => Ok(ByteRange::From(num(a)?)),
            (true, false) => Ok(ByteRange::Suffix(num(b)?)),
            (true, true) => Err(bad()),
        }
    }
}

impl ByteRange {
    /// The half-open range within an object of `size` bytes.
    pub fn resolve(self, size: u64) -> std::ops::Range<u64> {
        match self {
            ByteRange::Bounded(a, b) => a.min(size)..(b.saturating_add(1)).min(size),
            ByteRange::From(a) => a.min(size)..size,
            ByteRange::Suffix(n) => size.saturating_sub(n)..size,
        }
    }
}

/// Where the bytes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output.
    Stdout,
    /// A file, written as `FILE.partial` and renamed when complete and verified.
    File(PathBuf),
}

/// How to download.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Bytes per ranged request.
    pub chunk_size: u64,
    /// Requests (and chunks in memory) at once.
    pub concurrency: usize,
    /// Only this part of the object (not verified: the digest covers the whole).
    pub range: Option<ByteRange>,
    /// Check the stored sha256.
    pub verify: bool,
    /// `fsync` an output file before renaming it into place (off by default,
    /// like `cp`, boto3 and the aws CLI: it costs seconds per GiB).
    pub fsync: bool,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            chunk_size: 16 << 20,
            concurrency: 4,
            range: None,
            verify: true,
            fsync: false,
        }
    }
}

/// How the download was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// The sha256 matched the object's metadata.
    Metadata,
    /// The sha256 matched the `KEY.sha256` sidecar.
    Sidecar,
    /// No digest was stored.
    NoChecksum,
    /// A range was requested.
    Range,
    /// `--no-verify`.
    Skipped,
}

/// What `s3-get` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The object read.
    pub url: String,
    /// Bytes written.
    pub bytes: u64,
    /// sha256 of the bytes written.
    pub sha256: String,
    /// The object's ETag.
    pub etag: Option<String>,
    /// How the bytes were checked.
    pub verified: Verification,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Bytes hashed then written at a time (fits in L2 cache).
const WRITE_SLICE: usize = 256 << 10;

struct Chunk {
    data: Bytes,
    _permit: OwnedSemaphorePermit,
}

/// Downloads `store.location` to `output`.
///
/// On a checksum mismatch the data has been written (to stdout, or kept as
/// `FILE.partial`) and [`Error::ChecksumMismatch`] is returned.
pub async fn download(
    store: &Store,
    output: &Output,
    opts: &DownloadOptions,
    progress: &Progress,
) -> Result<Summary> {
    let started = Instant::now();
    let url = store.location.to_string();
    let key = store.location.key.clone();
    if !store.location.is_object() {
        return Err(Error::InvalidUrl {
            url,
            reason: "names a bucket or prefix; give the object's full key".into(),
        });
    }
    if opts.chunk_size == 0 || opts.concurrency == 0 {
        return Err(Error::Config(
            "--part-size and --concurrency must be positive".into(),
        ));
    }
    let head = store
        .inner
        .get_opts(
            &key,
            GetOptions {
                head: true,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| Error::store("reading", &url, e))?;
    let size = head.meta.size;
    let etag = head.meta.e_tag.clone();
    let range = opts.range.map(|r| r.resolve(size)).unwrap_or(0..size);

    let expected = if !opts.verify || opts.range.is_some() {
        None
    } else if let Some(h) = checksum::from_attributes(&head.attributes) {
        Some((h, Verification::Metadata))
    } else {
        read_sidecar(store)
            .await?
            .map(|h| (h, Verification::Sidecar))
    };

    // The writer: its own thread, plain blocking writes, in order.
    let (sink, final_path, tmp_path) = open_output(output)?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Chunk>();
    let progress_w = progress.clone();
    let fsync = opts.fsync;
    let out_name = match output {
        Output::Stdout => "standard output".to_string(),
        Output::File(p) => p.display().to_string(),
    };
    let writer = std::thread::Builder::new()
        .name("s3-get-writer".into())
        .spawn(move || -> std::io::Result<(Sha256, u64)> {
            let mut sink = sink;
            let mut hasher = Sha256::new();
            let mut n = 0u64;
            while let Some(chunk) = rx.blocking_recv() {
                // Hash and write slice by slice, so each slice is written
                // while it is still in the CPU cache from hashing.
                for slice in chunk.data.chunks(WRITE_SLICE) {
                    hasher.update(slice);
                    sink.write_all(slice)?;
                }
                n += chunk.data.len() as u64;
                progress_w.add(chunk.data.len() as u64);
            }
            sink.flush()?;
            if fsync {
                if let Some(f) = sink.as_file() {
                    f.sync_all()?;
                }
            }
            Ok((hasher, n))
        })
        .map_err(|source| Error::Output {
            what: out_name.clone(),
            source,
        })?;

    let fetched = fetch_all(store, &url, range.clone(), etag.clone(), opts, tx).await;
    let written = writer.join().map_err(|_| Error::Output {
        what: out_name.clone(),
        source: std::io::Error::other("writer thread panicked"),
    })?;
    let cleanup = || {
        if let Some(t) = &tmp_path {
            let _ = std::fs::remove_file(t);
        }
    };
    if let Err(e) = fetched {
        cleanup();
        return Err(e);
    }
    let (hasher, n) = match written {
        Ok(v) => v,
        Err(source) => {
            cleanup();
            return Err(Error::Output {
                what: out_name,
                source,
            });
        }
    };
    let actual = hex::encode(hasher.finalize());
    let want = range.end - range.start;
    if n != want {
        cleanup();
        return Err(Error::ShortRead {
            url,
            expected: want,
            actual: n,
        });
    }
    let verified = match (&expected, opts.verify, opts.range.is_some()) {
        (Some((h, how)), _, _) => {
            if *h != actual {
                let kept = match &tmp_path {
                    Some(t) => format!("the data is kept in {} for inspection", t.display()),
                    None => "the data was written to standard output: do not use it".into(),
                };
                let from = match how {
                    Verification::Sidecar => format!(
                        "digest from the sidecar {} (if another tool replaced the object since, the sidecar is stale)",
                        store.url_of(&checksum::sidecar_key(&key))
                    ),
                    _ => "digest from the object's metadata".to_string(),
                };
                return Err(Error::ChecksumMismatch {
                    url,
                    expected: h.clone(),
                    actual,
                    bytes: n,
                    detail: format!("{from}; {kept}"),
                });
            }
            *how
        }
        (None, false, _) => Verification::Skipped,
        (None, true, true) => Verification::Range,
        (None, true, false) => Verification::NoChecksum,
    };
    if let (Some(t), Some(f)) = (&tmp_path, &final_path) {
        std::fs::rename(t, f).map_err(|source| Error::Local {
            op: "renaming the download to",
            path: f.clone(),
            source,
        })?;
    }
    Ok(Summary {
        url,
        bytes: n,
        sha256: actual,
        etag: etag.map(|e| e.trim_matches('"').to_string()),
        verified,
        seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    })
}

/// A writer that is either stdout (unbuffered: we write big chunks) or a file.
enum Sink {
    Stdout(std::fs::File),
    File(std::fs::File),
}

impl Sink {
    fn as_file(&self) -> Option<&std::fs::File> {
        match self {
            Sink::File(f) => Some(f),
            Sink::Stdout(_) => None,
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Stdout(f) | Sink::File(f) => f.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Stdout(f) | Sink::File(f) => f.flush(),
        }
    }
}

type Opened = (Sink, Option<PathBuf>, Option<PathBuf>);

fn open_output(output: &Output) -> Result<Opened> {
    match output {
        Output::Stdout => {
            use std::os::fd::AsFd;
            let fd = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|source| Error::Output {
                    what: "standard output".into(),
                    source,
                })?;
            Ok((Sink::Stdout(std::fs::File::from(fd)), None, None))
        }
        Output::File(path) => {
            let mut tmp = path.clone().into_os_string();
            tmp.push(".partial");
            let tmp = PathBuf::from(tmp);
            let f = std::fs::File::create(&tmp).map_err(|source| Error::Local {
                op: "creating",
                path: tmp.clone(),
                source,
            })?;
            Ok((Sink::File(f), Some(path.clone()), Some(tmp)))
        }
    }
}

async fn read_sidecar(store: &Store) -> Result<Option<String>> {
    let side = checksum::sidecar_key(&store.location.key);
    match store.inner.get_opts(&side, GetOptions::default()).await {
        Ok(r) => {
            let body = r
                .bytes()
                .await
                .map_err(|e| Error::store("reading", &store.url_of(&side), e))?;
            Ok(checksum::parse_sidecar(&body))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(Error::store("reading", &store.url_of(&side), e)),
    }
}

async fn fetch_all(
    store: &Store,
    url: &str,
    range: std::ops::Range<u64>,
    etag: Option<String>,
    opts: &DownloadOptions,
    tx: mpsc::UnboundedSender<Chunk>,
) -> Result<()> {
    let permits = Arc::new(Semaphore::new(opts.concurrency));
    let mut next = range.start;
    let mut index = 0u64;
    let mut ordered = FuturesOrdered::new();
    loop {
        if next >= range.end && ordered.is_empty() {
            return Ok(());
        }
        tokio::select! {
            permit = Arc::clone(&permits).acquire_owned(), if next < range.end => {
                let Ok(permit) = permit else { return Ok(()) };
                let end = (next + opts.chunk_size).min(range.end);
                index += 1;
                ordered.push_back(fetch_chunk(
                    Arc::clone(&store.inner),
                    store.location.key.clone(),
                    url.to_string(),
                    index,
                    next..end,
                    etag.clone(),
                    permit,
                ));
                next = end;
            }
            Some(res) = ordered.next(), if !ordered.is_empty() => {
                let chunk = res?;
                if tx.send(chunk).is_err() {
                    // The writer stopped (e.g. broken pipe): it reports why.
                    return Ok(());
                }
            }
        }
    }
}

async fn fetch_chunk(
    inner: Arc<dyn ObjectStore>,
    key: object_store::path::Path,
    url: String,
    chunk: u64,
    r: std::ops::Range<u64>,
    etag: Option<String>,
    permit: OwnedSemaphorePermit,
) -> Result<Chunk> {
    let err = |source| Error::Chunk {
        url: url.clone(),
        chunk,
        offset: r.start,
        end: r.end,
        source,
    };
    let opts = GetOptions {
        range: Some(GetRange::Bounded(r.clone())),
        if_match: etag.clone(),
        ..Default::default()
    };
    let res = inner.get_opts(&key, opts).await;
    let res = match res {
        Ok(res) => res,
        Err(object_store::Error::Precondition { .. }) => {
            let after = inner
                .get_opts(
                    &key,
                    GetOptions {
                        head: true,
                        ..Default::default()
                    },
                )
                .await
                .ok()
                .and_then(|m| m.meta.e_tag)
                .unwrap_or_else(|| "(gone)".into());
            return Err(Error::Changed {
                url,
                before: etag.unwrap_or_default(),
                after,
            });
        }
        Err(e) => return Err(err(e)),
    };
    let data = res.bytes().await.map_err(err)?;
    if data.len() as u64 != r.end - r.start {
        return Err(Error::ShortRead {
            url,
            expected: r.end - r.start,
            actual: data.len() as u64,
        });
    }
    Ok(Chunk {
        data,
        _permit: permit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!("0-99".parse::<ByteRange>(), Ok(ByteRange::Bounded(0, 99)));
        assert_eq!("bytes=10-".parse::<ByteRange>(), Ok(ByteRange::From(10)));
        assert_eq!("-5".parse::<ByteRange>(), Ok(ByteRange::Suffix(5)));
        assert!("9-1".parse::<ByteRange>().is_err());
        assert!("-".parse::<ByteRange>().is_err());
        assert_eq!(ByteRange::Bounded(0, 99).resolve(50), 0..50);
        assert_eq!(ByteRange::Bounded(10, 19).resolve(50), 10..20);
        assert_eq!(ByteRange::From(40).resolve(50), 40..50);
        assert_eq!(ByteRange::Suffix(5).resolve(50), 45..50);
        assert_eq!(ByteRange::Suffix(500).resolve(50), 0..50);
    }
}
