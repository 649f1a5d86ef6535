//! Writing files into a set's location: streamed (a part), or small and
//! whole (progress records, the manifest). A streamed file appears under its
//! name only when finished — locally by rename, in an object store by
//! completing its multipart upload — and a writer dropped unfinished leaves
//! nothing behind (the temporary file is removed, the upload aborted).
//! Memory stays bounded: an object is uploaded in parts of
//! [`UPLOAD_PART_BYTES`], at most [`UPLOADS_IN_FLIGHT`] at a time.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use object_storage::upload::{upload, UploadOptions};
use object_storage::{progress::Progress, signals::Interrupt, Store};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::error::{Error, Kind, Result};

/// Bytes of one multipart-upload part.
pub const UPLOAD_PART_BYTES: u64 = 8 << 20;
/// Parts uploaded (and held in memory) at once, per file.
pub const UPLOADS_IN_FLIGHT: usize = 4;
/// Bytes written at a time (and buffered per pipe chunk).
const WRITE_BUFFER: usize = 1 << 20;
/// Chunks queued between the writer and the upload.
const PIPE_CHUNKS: usize = 4;

/// Uploads started and not yet ended (completed, failed or aborted).
static UPLOADS_RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Counts one running upload while it lives.
struct RunningUpload;

impl RunningUpload {
    fn start() -> Self {
        UPLOADS_RUNNING.fetch_add(1, Ordering::SeqCst);
        RunningUpload
    }
}

impl Drop for RunningUpload {
    fn drop(&mut self) {
        UPLOADS_RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits (up to `limit`) until every upload has ended: after a signal, the
/// writers dropped unfinished abort their multipart uploads, which takes a
/// request each; a process that exits first leaves them open. Returns
/// whether they all ended.
pub async fn uploads_ended(limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while UPLOADS_RUNNING.load(Ordering::SeqCst) > 0 {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// A file being written; see the module's documentation.
pub struct FileWriter {
    url: String,
    inner: Option<Inner>,
}

enum Inner {
    Local {
        file: BufWriter<File>,
        temporary: PathBuf,
        path: PathBuf,
        /// Never replace a file that appeared at `path` meanwhile.
        create_new: bool,
    },
    Remote {
        pipe: BufWriter<PipeWriter>,
        upload: JoinHandle<object_storage::Result<object_storage::upload::Receipt>>,
        runtime: Handle,
    },
}

impl FileWriter {
    /// A local file at `path`, written as `.NAME.tmp` beside it until
    /// finished (then renamed over whatever `path` held).
    pub fn local(path: PathBuf) -> Result<Self> {
        Self::local_file(path, false)
    }

    /// A local file at `path`, which must not exist: refused at once if it
    /// does, and given its name at the end only if nothing took it
    /// meanwhile (a hard link, which never replaces).
    pub fn local_new(path: PathBuf) -> Result<Self> {
        if path.exists() {
            return Err(exists_error(&path));
        }
        Self::local_file(path, true)
    }

    fn local_file(path: PathBuf, create_new: bool) -> Result<Self> {
        let url = path.display().to_string();
        let temporary = temporary_beside(&path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write_error(&url, e))?;
        }
        let file = File::create(&temporary).map_err(|e| write_error(&url, e))?;
        Ok(Self {
            url,
            inner: Some(Inner::Local {
                file: BufWriter::with_capacity(WRITE_BUFFER, file),
                temporary,
                path,
                create_new,
            }),
        })
    }

    /// The object `store.location`, uploaded as it is written; with
    /// `create_only` it must not exist (else it is replaced when finished).
    /// Call inside the runtime that will run the upload.
    pub(crate) fn remote(store: Store, create_only: bool) -> Self {
        let url = store.location.to_string();
        let (pipe, input, failure) = pipe();
        let options = UploadOptions {
            part_size: UPLOAD_PART_BYTES,
            concurrency: UPLOADS_IN_FLIGHT,
            create_only,
            allow_empty: true,
            // The set's manifest records every part's sha256.
            sidecar: false,
            ..UploadOptions::default()
        };
        let runtime = Handle::current();
        let running = RunningUpload::start();
        let upload = runtime.spawn(async move {
            let _running = running;
            let result = upload(
                &store,
                input,
                &options,
                &Progress::new(false),
                &Interrupt::none(),
            )
            .await;
            if let Err(e) = &result {
                failure.set(e.to_string());
            }
            result
        });
        Self {
            url,
            inner: Some(Inner::Remote {
                pipe: BufWriter::with_capacity(WRITE_BUFFER, pipe),
                upload,
                runtime,
            }),
        }
    }

    /// Ends the file and gives it its name (blocking; off the runtime).
    pub fn finish(mut self) -> Result<()> {
        let url = self.url.clone();
        match self.inner.take() {
            None => Ok(()),
            Some(Inner::Local {
                file,
                temporary,
                path,
                create_new,
            }) => {
                let file = file
                    .into_inner()
                    .map_err(|e| write_error(&url, e.into_error()))?;
                file.sync_all().map_err(|e| write_error(&url, e))?;
                if !create_new {
                    return std::fs::rename(&temporary, &path).map_err(|e| write_error(&url, e));
                }
                let linked = std::fs::hard_link(&temporary, &path);
                let _ = std::fs::remove_file(&temporary);
                match linked {
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(exists_error(&path)),
                    other => other.map_err(|e| write_error(&url, e)),
                }
            }
            Some(Inner::Remote {
                pipe,
                upload,
                runtime,
            }) => {
                let flushed = pipe
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .and_then(PipeWriter::end);
                let uploaded = runtime.block_on(upload);
                match (flushed, uploaded) {
                    (Ok(()), Ok(Ok(_))) => Ok(()),
                    // The upload's own error explains a closed pipe best.
                    (_, Ok(Err(e))) => Err(Error::new(
                        Kind::Unreachable,
                        url,
                        format!("cannot write: {e}"),
                    )),
                    (_, Err(e)) => Err(write_error(&url, io::Error::other(e))),
                    (Err(e), Ok(Ok(_))) => Err(write_error(&url, e)),
                }
            }
        }
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        match self.inner.take() {
            Some(Inner::Local { temporary, .. }) => {
                let _ = std::fs::remove_file(temporary);
            }
            // The pipe closes without its end marker: the upload aborts.
            Some(Inner::Remote { .. }) | None => {}
        }
    }
}

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.inner.as_mut() {
            Some(Inner::Local { file, .. }) => file.write(buf),
            Some(Inner::Remote { pipe, .. }) => pipe.write(buf),
            None => Err(io::Error::other("the file is finished")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(Inner::Local { file, .. }) => file.flush(),
            // Parts are uploaded as they fill; nothing to force.
            Some(Inner::Remote { .. }) | None => Ok(()),
        }
    }
}

fn exists_error(path: &Path) -> Error {
    Error::new(
        Kind::Usage,
        path.display().to_string(),
        "exists: it is never replaced (remove it, choose another name, or --overwrite)",
    )
}

/// `.NAME.tmp` beside `DIR/NAME`: where a local file is written until it
/// is complete (small files written whole add `.PID`: see `Dir::write`).
pub(crate) fn temporary_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// The name a local file being written under a temporary name (by this
/// process or another, or left by one that died) will have, if `file` (a
/// path as `Dir::files` lists it) is such a temporary: `a/.NAME.tmp` and
/// `a/.NAME.tmp.PID` stand for `a/NAME`.
pub fn completed_name(file: &str) -> Option<String> {
    let (dir, name) = file.rsplit_once('/').map_or(("", file), |(d, n)| (d, n));
    let name = name.strip_prefix('.')?;
    let stem = match name.rsplit_once(".tmp") {
        Some((stem, "")) => stem,
        Some((stem, pid)) if pid.len() > 1 && pid[1..].bytes().all(|b| b.is_ascii_digit()) => {
            pid.starts_with('.').then_some(stem)?
        }
        _ => return None,
    };
    Some(if dir.is_empty() {
        stem.to_string()
    } else {
        format!("{dir}/{stem}")
    })
}

fn write_error(url: &str, e: io::Error) -> Error {
    Error::new(Kind::Unreachable, url, format!("cannot write: {e}"))
}

enum Chunk {
    Data(Vec<u8>),
    End,
}

/// A bounded in-memory pipe whose reader sees the end only when the writer
/// says so: a writer dropped early is an error, never a short file. The
/// third end is where the reading side says why it stopped.
fn pipe() -> (PipeWriter, PipeReader, Arc<Failure>) {
    let (tx, rx) = sync_channel(PIPE_CHUNKS);
    let failure = Arc::new(Failure::default());
    (
        PipeWriter {
            tx,
            failure: failure.clone(),
        },
        PipeReader {
            rx,
            current: Vec::new(),
            taken: 0,
            ended: false,
        },
        failure,
    )
}

/// Why the reading side of a pipe stopped, once it says.
#[derive(Default)]
struct Failure {
    reason: Mutex<Option<String>>,
    said: Condvar,
}

impl Failure {
    fn set(&self, reason: String) {
        if let Ok(mut slot) = self.reason.lock() {
            *slot = Some(reason);
            self.said.notify_all();
        }
    }

    /// The reason, waiting a little for it: the reader closes the pipe
    /// just before the upload returns its error.
    fn wait(&self) -> Option<String> {
        let slot = self.reason.lock().ok()?;
        let (slot, _) = self
            .said
            .wait_timeout_while(slot, Duration::from_secs(10), |reason| reason.is_none())
            .ok()?;
        slot.clone()
    }
}

struct PipeWriter {
    tx: SyncSender<Chunk>,
    failure: Arc<Failure>,
}

impl PipeWriter {
    fn end(self) -> io::Result<()> {
        self.tx.send(Chunk::End).map_err(|_| self.closed())
    }

    fn closed(&self) -> io::Error {
        match self.failure.wait() {
            Some(reason) => io::Error::other(format!("the upload failed: {reason}")),
            None => io::Error::other("the upload stopped"),
        }
    }
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.tx.send(Chunk::Data(buf.to_vec())).is_err() {
            return Err(self.closed());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct PipeReader {
    rx: Receiver<Chunk>,
    current: Vec<u8>,
    taken: usize,
    ended: bool,
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.taken == self.current.len() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Chunk::Data(data)) => {
                    self.current = data;
                    self.taken = 0;
                }
                Ok(Chunk::End) => self.ended = true,
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the writer stopped before the end of the file",
                    ))
                }
            }
        }
        let n = out.len().min(self.current.len() - self.taken);
        out[..n].copy_from_slice(&self.current[self.taken..self.taken + n]);
        self.taken += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_tell_the_file_they_become() {
        let cases = [
            ("..in-progress.json.tmp.4242", Some(".in-progress.json")),
            (
                "docs/.part-00003.parquet.tmp",
                Some("docs/part-00003.parquet"),
            ),
            (
                "docs/shard-001/.complete.json.tmp.7",
                Some("docs/shard-001/complete.json"),
            ),
            ("docs/part-00003.parquet", None),
            ("docs/.part-00003.parquet.tmp.x1", None),
            (".notes.tmpl", None),
        ];
        for (file, becomes) in cases {
            assert_eq!(completed_name(file).as_deref(), becomes, "{file}");
        }
        let beside = temporary_beside(Path::new("docs/part-00003.parquet"));
        assert_eq!(
            completed_name(&beside.to_string_lossy()).as_deref(),
            Some("docs/part-00003.parquet")
        );
    }

    #[test]
    fn a_pipe_ends_only_when_told() {
        let (mut writer, mut reader, _) = pipe();
        let reading = std::thread::spawn(move || {
            let mut all = Vec::new();
            let result = reader.read_to_end(&mut all);
            (result.is_ok(), all)
        });
        writer.write_all(b"abc").unwrap();
        writer.end().unwrap();
        assert_eq!(reading.join().unwrap(), (true, b"abc".to_vec()));

        let (mut writer, mut reader, _) = pipe();
        let reading = std::thread::spawn(move || reader.read_to_end(&mut Vec::new()));
        writer.write_all(b"abc").unwrap();
        drop(writer);
        let error = reading.join().unwrap().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);

        // A writer into a pipe whose reader stopped learns why.
        let (mut writer, reader, failure) = pipe();
        drop(reader);
        failure.set("SlowDown".into());
        let error = writer.write_all(b"abc").unwrap_err();
        assert!(error.to_string().contains("SlowDown"), "{error}");
    }
}
