//! What can go wrong reading a backup, by kind: the tools turn the kind into
//! their exit codes and metrics without reading the message.

use std::fmt;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a location could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Nothing is at the location given: no such file or directory, and no
    /// object under the URL or its prefix.
    NotFound,
    /// Something is missing: no manifest, a listed part absent, a stream cut
    /// before its trailer or footer.
    Incomplete,
    /// Something is wrong: a size or checksum that differs from the
    /// manifest's, an undecodable part, a header that does not parse.
    Corrupt,
    /// The storage could not be read (I/O, network, permissions).
    Unreachable,
    /// The request cannot be answered as asked (a set of several collections
    /// without `--pick`, a name the set does not hold).
    Usage,
}

/// A failure reading `what` (a path, URL, part name or `stdin`).
#[derive(Debug, thiserror::Error)]
pub struct Error {
    /// The kind of failure.
    pub kind: Kind,
    /// What could not be read.
    pub what: String,
    /// Why, for a person.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.what.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.what, self.message)
        }
    }
}

impl Error {
    /// A failure of `kind`.
    pub fn new(kind: Kind, what: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            what: what.into(),
            message: message.into(),
        }
    }

    /// Storage that could not be read.
    pub fn unreachable(what: impl Into<String>, cause: impl fmt::Display) -> Self {
        Self::new(Kind::Unreachable, what, format!("cannot read: {cause}"))
    }

    /// Content that is wrong.
    pub fn corrupt(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Kind::Corrupt, what, message)
    }

    /// Content that is missing.
    pub fn incomplete(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Kind::Incomplete, what, message)
    }

    /// A record-stream decoding error of `what`: a stream cut short (no
    /// trailer, a last line that ends mid-row, a Parquet file without its
    /// footer) is incomplete; storage that failed is unreachable; anything
    /// else is corrupt.
    pub fn decoding(what: &str, error: record_stream::Error) -> Self {
        // A ranged read that failed reaches us inside the Parquet reader's error.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if StorageFailure::is(io) {
                    return Self::new(Kind::Unreachable, what, error.to_string());
                }
            }
            cause = e.source();
        }
        // The place names the input already.
        match &error {
            record_stream::Error::Cut { line, reason, .. } => Self::new(
                Kind::Incomplete,
                what,
                match line {
                    Some(line) => format!("line {line}: {reason}"),
                    None => reason.clone(),
                },
            ),
            record_stream::Error::Line { line, reason, .. } => {
                Self::new(Kind::Corrupt, what, format!("line {line}: {reason}"))
            }
            record_stream::Error::Io(e) => Self::reading(what, e),
            other => Self::new(Kind::Corrupt, what, other.to_string()),
        }
    }

    /// An error reading `what`'s bytes: the storage's own failure is
    /// unreachable, an input that ends early incomplete, anything else (a
    /// zstd frame that does not decode) corrupt.
    pub fn reading(what: &str, e: &std::io::Error) -> Self {
        let kind = if StorageFailure::is(e) {
            Kind::Unreachable
        } else if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Kind::Incomplete
        } else {
            Kind::Corrupt
        };
        Self::new(kind, what, format!("cannot read: {e}"))
    }
}

/// The object store failed while a file was read through `std::io::Read`:
/// carried inside the `io::Error` so that it is not taken for bad content.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct StorageFailure(pub(crate) String);

impl StorageFailure {
    /// An `io::Error` carrying this failure.
    pub(crate) fn io(message: String) -> std::io::Error {
        std::io::Error::other(StorageFailure(message))
    }

    fn is(e: &std::io::Error) -> bool {
        e.get_ref()
            .is_some_and(|inner| inner.is::<StorageFailure>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Incomplete and corrupt are told apart by the decoder's error type,
    /// never by its message.
    #[test]
    fn a_cut_input_is_incomplete_anything_else_corrupt() {
        let cut = record_stream::Error::Cut {
            input: "p".into(),
            line: Some(5),
            reason: "truncated: no trailer after line 4".into(),
        };
        let decoded = Error::decoding("p", cut);
        assert_eq!(decoded.kind, Kind::Incomplete);
        assert!(
            decoded.to_string().contains("line 5: truncated"),
            "{decoded}"
        );
        let line = record_stream::Error::Line {
            input: "p".into(),
            line: 3,
            reason: "truncated field text".into(),
        };
        assert_eq!(Error::decoding("p", line).kind, Kind::Corrupt);
    }
}
