//! One file of a backup, wherever it is: a local file or an object. It can
//! be hashed, read front to back, or read at any offset (Parquet: footer
//! first, then the column chunks), without a local copy.

use std::collections::VecDeque;
use std::io::{self, BufReader, Read, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt as _;
use object_storage::Store;
use object_store::path::Path as Key;
use object_store::ObjectStoreExt as _;
use record_stream::hashing::HashingWriter;
use record_stream::random_access::{RandomAccess, SharedBytes};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::error::{Error, Result, StorageFailure};

/// Bytes read at a time from local files while hashing them.
const LOCAL_BUFFER: usize = 1 << 20;
/// Response chunks of a streaming GET buffered ahead of the reader.
const STREAM_READ_AHEAD: usize = 64;
/// Bytes asked per ranged GET: later reads nearby are served from it.
const RANGE_WINDOW: usize = 8 << 20;
/// Ranged-GET windows kept (Parquet reads several column chunks in turn).
const RANGE_WINDOWS_KEPT: usize = 4;

/// A file of a backup.
#[derive(Clone)]
pub enum Blob {
    /// On local disk.
    Local(PathBuf),
    /// An object.
    Remote(RemoteObject),
}

/// An object in a store, with the runtime its requests run on (readers are
/// blocking: decoding runs on its own thread).
#[derive(Clone)]
pub struct RemoteObject {
    /// The store (bucket).
    pub store: Store,
    /// The object's key.
    pub key: Key,
    runtime: Handle,
}

impl RemoteObject {
    /// `key` in `store`; must be called inside the runtime that will run its requests.
    pub fn new(store: Store, key: Key) -> Self {
        Self {
            store,
            key,
            runtime: Handle::current(),
        }
    }
}

/// A file's size and sha256 (hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest {
    /// Bytes.
    pub bytes: u64,
    /// sha256, lower-case hex.
    pub sha256: String,
}

impl Digest {
    /// What `hashing` counted and hashed.
    fn of(hashing: HashingWriter<io::Sink>) -> Self {
        let (_, bytes, sha256) = hashing.finish();
        Self { bytes, sha256 }
    }
}

impl Blob {
    /// Its path or URL, as errors and reports name it.
    pub fn name(&self) -> String {
        match self {
            Blob::Local(path) => path.display().to_string(),
            Blob::Remote(object) => object.store.url_of(&object.key),
        }
    }

    /// Size and sha256, read front to back; `None` when it does not exist.
    pub async fn digest(&self) -> Result<Option<Digest>> {
        match self {
            Blob::Local(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || match std::fs::File::open(&path) {
                    Ok(file) => {
                        let mut hashing = HashingWriter::new(io::sink());
                        io::copy(
                            &mut BufReader::with_capacity(LOCAL_BUFFER, file),
                            &mut hashing,
                        )?;
                        Ok(Some(Digest::of(hashing)))
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                })
                .await
                .map_err(|e| Error::unreachable(self.name(), e))?
                .map_err(|e| Error::unreachable(self.name(), e))
            }
            Blob::Remote(object) => {
                let result = match object.store.inner.get(&object.key).await {
                    Ok(result) => result,
                    Err(object_store::Error::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(Error::unreachable(self.name(), e)),
                };
                let mut stream = result.into_stream();
                let mut hashing = HashingWriter::new(io::sink());
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| Error::unreachable(self.name(), e))?;
                    hashing
                        .write_all(&chunk)
                        .map_err(|e| Error::unreachable(self.name(), e))?;
                }
                Ok(Some(Digest::of(hashing)))
            }
        }
    }

    /// Its size; `None` when it does not exist.
    pub async fn size(&self) -> Result<Option<u64>> {
        match self {
            Blob::Local(path) => match tokio::fs::metadata(path).await {
                Ok(meta) => Ok(Some(meta.len())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::unreachable(self.name(), e)),
            },
            Blob::Remote(object) => match object.store.inner.head(&object.key).await {
                Ok(meta) => Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(Error::unreachable(self.name(), e)),
            },
        }
    }

    /// Reads it front to back (blocking; call off the async runtime). An
    /// object is streamed by one GET, a bounded number of chunks ahead.
    pub fn reader(&self) -> Result<Box<dyn Read + Send>> {
        match self {
            Blob::Local(path) => Ok(Box::new(
                std::fs::File::open(path).map_err(|e| self.open_error(e))?,
            )),
            Blob::Remote(object) => Ok(Box::new(StreamingGet::start(object.clone()))),
        }
    }

    /// Random access to its bytes (blocking; call off the async runtime): a
    /// local file by positioned reads, an object by ranged GETs.
    pub fn random_access(&self) -> Result<SharedBytes> {
        match self {
            Blob::Local(path) => SharedBytes::local(path).map_err(|e| self.open_error(e)),
            Blob::Remote(object) => {
                let head = object
                    .runtime
                    .block_on(object.store.inner.head(&object.key))
                    .map_err(|e| match e {
                        object_store::Error::NotFound { .. } => {
                            Error::incomplete(self.name(), "no such object")
                        }
                        e => Error::unreachable(self.name(), e),
                    })?;
                Ok(SharedBytes::new(Arc::new(RangedObject {
                    object: object.clone(),
                    size: head.size,
                    windows: Mutex::new(Windows::default()),
                })))
            }
        }
    }

    fn open_error(&self, e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::NotFound {
            Error::incomplete(self.name(), "no such file")
        } else {
            Error::unreachable(self.name(), e)
        }
    }
}

/// One GET streamed into a bounded channel by a task on the runtime, read
/// by a blocking reader.
struct StreamingGet {
    chunks: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl StreamingGet {
    fn start(object: RemoteObject) -> Self {
        let (tx, chunks) = tokio::sync::mpsc::channel(STREAM_READ_AHEAD);
        let url = object.store.url_of(&object.key);
        object.runtime.spawn(async move {
            let result = match object.store.inner.get(&object.key).await {
                Ok(result) => result,
                Err(e) => {
                    let _ = tx.send(Err(object_error(&url, e))).await;
                    return;
                }
            };
            let mut stream = result.into_stream();
            while let Some(chunk) = stream.next().await {
                let failed = chunk.is_err();
                // A closed channel: the reader is gone; stop downloading.
                if tx
                    .send(chunk.map_err(|e| object_error(&url, e)))
                    .await
                    .is_err()
                    || failed
                {
                    return;
                }
            }
        });
        Self {
            chunks,
            current: Bytes::new(),
        }
    }
}

fn object_error(url: &str, e: object_store::Error) -> io::Error {
    StorageFailure::io(format!("{url}: {e}"))
}

impl Read for StreamingGet {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                None => return Ok(0),
                Some(chunk) => self.current = chunk?,
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// An object read by ranged GETs of at least [`RANGE_WINDOW`] bytes;
/// the last few windows are kept, so the many small reads of a Parquet
/// reader (page headers, pages of several columns in turn) cost few
/// requests, and the window after the newest is fetched ahead while the
/// reader decodes (its reads move forward through the row groups).
struct RangedObject {
    object: RemoteObject,
    size: u64,
    windows: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    /// (start, bytes), newest first.
    kept: VecDeque<(u64, Bytes)>,
    /// The window being fetched ahead: (start, end, its GET).
    ahead: Option<(u64, u64, JoinHandle<object_store::Result<Bytes>>)>,
}

impl RangedObject {
    fn url(&self) -> String {
        self.object.store.url_of(&self.object.key)
    }

    fn fetch(&self, range: std::ops::Range<u64>) -> JoinHandle<object_store::Result<Bytes>> {
        let object = self.object.clone();
        self.object
            .runtime
            .spawn(async move { object.store.inner.get_range(&object.key, range).await })
    }

    /// The bytes of `fetch` (of `range`). Some S3 servers (SeaweedFS, now
    /// and then) answer a ranged GET with the whole object, which
    /// object_store refuses and does not retry itself: asked again, they
    /// answer right.
    fn wait(
        &self,
        mut fetch: JoinHandle<object_store::Result<Bytes>>,
        range: std::ops::Range<u64>,
    ) -> io::Result<Bytes> {
        const ATTEMPTS: usize = 3;
        for attempt in 1.. {
            match self.object.runtime.block_on(fetch) {
                Ok(Ok(bytes)) => return Ok(bytes),
                Ok(Err(e))
                    if attempt < ATTEMPTS && e.to_string().contains("non-partial response") =>
                {
                    fetch = self.fetch(range.clone());
                }
                Ok(Err(e)) => return Err(object_error(&self.url(), e)),
                Err(e) => return Err(StorageFailure::io(format!("{}: {e}", self.url()))),
            }
        }
        unreachable!("the loop returns")
    }
}

impl RandomAccess for RangedObject {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_range(&self, start: u64, len: usize) -> io::Result<Bytes> {
        let end = (start + len as u64).min(self.size);
        if start >= end {
            return Ok(Bytes::new());
        }
        let mut windows = self
            .windows
            .lock()
            .map_err(|_| io::Error::other("a reader thread panicked"))?;
        let cached = |kept: &VecDeque<(u64, Bytes)>| {
            kept.iter()
                .position(|(at, bytes)| *at <= start && end <= *at + bytes.len() as u64)
        };
        let index = match cached(&windows.kept) {
            Some(index) => index,
            None => {
                let (from, to, fetch) = match windows.ahead.take() {
                    Some((from, to, fetch)) if from <= start && end <= to => (from, to, fetch),
                    other => {
                        if let Some((_, _, fetch)) = other {
                            fetch.abort();
                        }
                        let to = (start + len.max(RANGE_WINDOW) as u64).min(self.size);
                        (start, to, self.fetch(start..to))
                    }
                };
                let fetched = (from, self.wait(fetch, from..to)?);
                windows.kept.push_front(fetched);
                windows.kept.truncate(RANGE_WINDOWS_KEPT);
                0
            }
        };
        // Fetch the window after the newest one ahead, unless it is here.
        let (newest_at, newest) = &windows.kept[0];
        let next = newest_at + newest.len() as u64;
        if windows.ahead.is_none() && next < self.size {
            let to = (next + RANGE_WINDOW as u64).min(self.size);
            windows.ahead = Some((next, to, self.fetch(next..to)));
        }
        let (at, bytes) = &windows.kept[index];
        let from = (start - at) as usize;
        Ok(bytes.slice(from..from + (end - start) as usize))
    }
}
