//! Temporary local copies, for inputs that cannot be read in place: Parquet
//! arriving on stdin or inside a zstd frame (the reader needs its footer
//! first), and a stream on stdin proven complete before it is loaded.

use std::io::{self, Read, Write as _};
use std::path::PathBuf;

use crate::error::{Error, Kind, Result};

/// Where temporary copies go.
#[derive(Clone, Debug, Default)]
pub struct Spool {
    /// The directory (default: `$TMPDIR`).
    pub dir: Option<PathBuf>,
}

impl Spool {
    /// Copies `reader` into a new temporary file, removed when the returned
    /// path is dropped; `what` names the input in errors.
    pub fn copy(&self, reader: &mut dyn Read, what: &str) -> Result<tempfile::TempPath> {
        let dir = self.dir.clone().unwrap_or_else(std::env::temp_dir);
        let failed = |e: io::Error| {
            Error::new(
                Kind::Unreachable,
                what,
                format!(
                    "cannot spool to {} (set --spool-dir or TMPDIR): {e}",
                    dir.display()
                ),
            )
        };
        let mut file = tempfile::Builder::new()
            .prefix(".milvus-pipes-spool-")
            .tempfile_in(&dir)
            .map_err(failed)?;
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The input's fault, not the spool's.
                Err(e) => return Err(Error::reading(what, &e)),
            };
            file.as_file_mut().write_all(&buffer[..n]).map_err(failed)?;
        }
        file.as_file_mut().flush().map_err(failed)?;
        Ok(file.into_temp_path())
    }
}
