//! The library's error type: each variant carries the object (and part) it is about.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, with the context an operator needs to act.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL could not be understood.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A flag or setting was out of range or inconsistent.
    #[error("{0}")]
    Config(String),
    /// The object store could not be set up (credentials, endpoint, region).
    #[error("cannot configure the object store for {url}")]
    Setup {
        /// The URL being opened.
        url: String,
        /// The backend's error.
        #[source]
        source: object_store::Error,
    },
    /// The object does not exist.
    #[error("{url}: no such object")]
    NotFound {
        /// The object's URL.
        url: String,
    },
    /// `--if-none-match` refused to replace an existing object.
    #[error("{url} already exists; not overwritten (--if-none-match)")]
    AlreadyExists {
        /// The object's URL.
        url: String,
    },
    /// Standard input ended before any byte was read.
    #[error("standard input was empty: nothing uploaded to {url} (use --allow-empty to store an empty object)")]
    EmptyInput {
        /// The object that was not written.
        url: String,
    },
    /// The upload was interrupted by a signal; nothing was stored.
    #[error("interrupted by {signal}: upload to {url} aborted, no object written")]
    Interrupted {
        /// The object that was not written.
        url: String,
        /// SIGINT or SIGTERM.
        signal: &'static str,
    },
    /// Reading the input failed; the upload was aborted.
    #[error("reading standard input failed after {bytes} bytes: upload to {url} aborted, no object written")]
    Input {
        /// The object that was not written.
        url: String,
        /// Bytes read before the failure.
        bytes: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the output failed.
    #[error("writing {what} failed")]
    Output {
        /// stdout or the file name.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The stream needs more than the 10,000 parts S3 allows.
    #[error("{url}: the stream is larger than 10,000 parts × {part_size} bytes; upload aborted, nothing written (rerun with a larger --part-size)")]
    TooManyParts {
        /// The object that was not written.
        url: String,
        /// The part size in use.
        part_size: u64,
    },
    /// An upload part failed after all retries.
    #[error("{url}: uploading part {part} (bytes {offset}..{end}) failed after retries; upload aborted, no object written")]
    Part {
        /// The object being written.
        url: String,
        /// 1-based part number.
        part: u64,
        /// First byte of the part in the stream.
        offset: u64,
        /// One past the last byte.
        end: u64,
        /// The backend's error.
        #[source]
        source: object_store::Error,
    },
    /// A download range failed after all retries.
    #[error("{url}: downloading bytes {offset}..{end} (chunk {chunk}) failed after retries")]
    Chunk {
        /// The object being read.
        url: String,
        /// 1-based chunk number.
        chunk: u64,
        /// First byte of the chunk.
        offset: u64,
        /// One past the last byte.
        end: u64,
        /// The backend's error.
        #[source]
        source: object_store::Error,
    },
    /// The object changed while it was being read.
    #[error(
        "{url} changed while it was being read (ETag {before} became {after}); download incomplete"
    )]
    Changed {
        /// The object being read.
        url: String,
        /// The ETag seen first.
        before: String,
        /// The ETag seen later.
        after: String,
    },
    /// The downloaded bytes do not match the stored sha256.
    #[error(
        "{url}: sha256 mismatch: stored {expected}, downloaded {actual} ({bytes} bytes); {detail}"
    )]
    ChecksumMismatch {
        /// The object read.
        url: String,
        /// The sha256 recorded at upload time.
        expected: String,
        /// The sha256 of what was received.
        actual: String,
        /// Bytes received.
        bytes: u64,
        /// Where the recorded digest came from, and where the suspect data went.
        detail: String,
    },
    /// The downloaded byte count differs from the stored one.
    #[error("{url}: expected {expected} bytes, received {actual}")]
    ShortRead {
        /// The object read.
        url: String,
        /// Bytes announced by the store.
        expected: u64,
        /// Bytes received.
        actual: u64,
    },
    /// Another object-store operation failed.
    #[error("{op} {url} failed")]
    Store {
        /// What was being done.
        op: &'static str,
        /// The object or prefix.
        url: String,
        /// The backend's error.
        #[source]
        source: object_store::Error,
    },
    /// A local file operation failed.
    #[error("{op} {path} failed")]
    Local {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Wraps an object-store error, turning "not found" into [`Error::NotFound`].
    pub fn store(op: &'static str, url: &str, source: object_store::Error) -> Self {
        match source {
            object_store::Error::NotFound { .. } => Error::NotFound {
                url: url.to_string(),
            },
            source => Error::Store {
                op,
                url: url.to_string(),
                source,
            },
        }
    }
}
