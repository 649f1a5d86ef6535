//! Random access to a file's bytes, for readers that need it (Parquet reads
//! its footer first, then the column chunks it wants): a local file read
//! with `pread`, or anything else that can serve byte ranges, such as an
//! object store's ranged GETs (the `locations` crate has one).

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use parquet::file::reader::{ChunkReader, Length};

/// Bytes `get_read` readers fetch at a time (page headers are read through them).
const READ_CHUNK: usize = 64 << 10;

/// A file whose bytes can be read at any offset.
pub trait RandomAccess: Send + Sync {
    /// The file's size in bytes.
    fn size(&self) -> u64;
    /// `len` bytes from `start` (fewer only at the end of the file).
    fn read_range(&self, start: u64, len: usize) -> io::Result<Bytes>;
}

/// A local file, read with positioned reads (no shared cursor).
pub struct LocalFile {
    file: File,
    size: u64,
}

impl LocalFile {
    /// Opens `path`.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        Ok(Self { file, size })
    }
}

impl RandomAccess for LocalFile {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_range(&self, start: u64, len: usize) -> io::Result<Bytes> {
        let len = len.min(self.size.saturating_sub(start) as usize);
        let mut buffer = vec![0u8; len];
        self.file.read_exact_at(&mut buffer, start)?;
        Ok(Bytes::from(buffer))
    }
}

/// Bytes already in memory (an object fetched whole, e.g. to check its
/// checksum before a row of it is used).
impl RandomAccess for Bytes {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_range(&self, start: u64, len: usize) -> io::Result<Bytes> {
        let start = usize::try_from(start).unwrap_or(usize::MAX).min(self.len());
        let end = start.saturating_add(len).min(self.len());
        Ok(self.slice(start..end))
    }
}

/// A shared random-access file, as Parquet's readers take it.
#[derive(Clone)]
pub struct SharedBytes(Arc<dyn RandomAccess>);

impl SharedBytes {
    /// Shares `source`.
    pub fn new(source: Arc<dyn RandomAccess>) -> Self {
        Self(source)
    }

    /// Bytes in memory.
    pub fn in_memory(bytes: Bytes) -> Self {
        Self(Arc::new(bytes))
    }

    /// A local file.
    pub fn local(path: &Path) -> io::Result<Self> {
        Ok(Self(Arc::new(LocalFile::open(path)?)))
    }
}

impl Length for SharedBytes {
    fn len(&self) -> u64 {
        self.0.size()
    }
}

impl ChunkReader for SharedBytes {
    type T = RangeReader;

    fn get_read(&self, start: u64) -> parquet::errors::Result<RangeReader> {
        Ok(RangeReader {
            source: self.0.clone(),
            position: start,
            buffered: Bytes::new(),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let bytes = self.0.read_range(start, length)?;
        if bytes.len() != length {
            return Err(parquet::errors::ParquetError::EOF(format!(
                "{length} bytes at offset {start} asked, the file ends after {}",
                bytes.len()
            )));
        }
        Ok(bytes)
    }
}

/// Reads forward from an offset, a chunk at a time.
pub struct RangeReader {
    source: Arc<dyn RandomAccess>,
    position: u64,
    buffered: Bytes,
}

impl Read for RangeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.buffered.is_empty() {
            self.buffered = self.source.read_range(self.position, READ_CHUNK)?;
            self.position += self.buffered.len() as u64;
        }
        let n = out.len().min(self.buffered.len());
        out[..n].copy_from_slice(&self.buffered.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_ranges_and_forward_reads_match_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let shared = SharedBytes::local(&path).unwrap();
        assert_eq!(shared.len(), 200_000);
        assert_eq!(
            &shared.get_bytes(70_000, 10).unwrap()[..],
            &content[70_000..70_010]
        );
        assert!(shared.get_bytes(199_999, 2).is_err(), "past the end");
        let mut rest = Vec::new();
        shared.get_read(1).unwrap().read_to_end(&mut rest).unwrap();
        assert_eq!(rest, content[1..]);

        let memory = SharedBytes::in_memory(Bytes::from(content.clone()));
        assert_eq!(memory.len(), 200_000);
        assert_eq!(
            memory.get_bytes(70_000, 10).unwrap(),
            shared.get_bytes(70_000, 10).unwrap()
        );
        assert!(memory.get_bytes(199_999, 2).is_err(), "past the end");
    }
}
