//! Multipart upload to the local file system with the same guarantees as S3:
//! parts go to a hidden temporary file beside the target, which is published
//! by `rename` (or, for `--if-none-match`, by `link`, which never replaces an
//! existing file) only on completion; abort deletes it.

use async_trait::async_trait;
use object_store::{MultipartUpload, PutPayload, PutResult, UploadPart};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An in-progress upload to `dest`.
#[derive(Debug)]
pub struct LocalUpload {
    file: Arc<File>,
    tmp: PathBuf,
    dest: PathBuf,
    offset: u64,
    create_only: bool,
    finished: bool,
}

fn generic(e: impl std::error::Error + Send + Sync + 'static) -> object_store::Error {
    object_store::Error::Generic {
        store: "LocalFileSystem",
        source: Box::new(e),
    }
}

impl LocalUpload {
    /// Starts an upload to `dest`, creating its directory if needed.
    pub fn start(dest: &Path, create_only: bool) -> std::io::Result<LocalUpload> {
        let dir = dest.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(dir)?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(
            ".{name}.s3-put-{}-{:08x}.partial",
            std::process::id(),
            rand::random::<u32>()
        ));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        Ok(LocalUpload {
            file: Arc::new(file),
            tmp,
            dest: dest.to_path_buf(),
            offset: 0,
            create_only,
            finished: false,
        })
    }
}

#[async_trait]
impl MultipartUpload for LocalUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let file = Arc::clone(&self.file);
        let offset = self.offset;
        self.offset += data.content_length() as u64;
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut at = offset;
                for chunk in data.iter() {
                    file.write_all_at(chunk, at)?;
                    at += chunk.len() as u64;
                }
                Ok::<_, std::io::Error>(())
            })
            .await
            .map_err(generic)?
            .map_err(generic)
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let file = Arc::clone(&self.file);
        let (tmp, dest, create_only) = (self.tmp.clone(), self.dest.clone(), self.create_only);
        let res = tokio::task::spawn_blocking(move || -> object_store::Result<()> {
            file.sync_all().map_err(generic)?;
            if create_only {
                match std::fs::hard_link(&tmp, &dest) {
                    Ok(()) => {
                        let _ = std::fs::remove_file(&tmp);
                        Ok(())
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Err(object_store::Error::AlreadyExists {
                            path: dest.display().to_string(),
                            source: Box::new(e),
                        })
                    }
                    Err(e) => Err(generic(e)),
                }
            } else {
                std::fs::rename(&tmp, &dest).map_err(generic)
            }
        })
        .await
        .map_err(generic)?;
        if res.is_ok() {
            self.finished = true;
        }
        res.map(|()| PutResult {
            e_tag: None,
            version: None,
            extensions: Default::default(),
        })
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.finished = true;
        match std::fs::remove_file(&self.tmp) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(generic(e)),
        }
    }
}

impl Drop for LocalUpload {
    fn drop(&mut self) {
        // Dropped without complete/abort (an error path): leave nothing behind.
        if !self.finished {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
