//! What can go wrong reading a backup, by kind: the tools turn the kind into
//! their exit codes and metrics without reading the message.

use std::fmt;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a location could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
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
    /// footer) is incomplete; anything else, an I/O error aside, is corrupt.
    pub fn decoding(what: &str, error: record_stream::Error) -> Self {
        let message = match &error {
            // The place names the input already.
            record_stream::Error::Line { line, reason, .. } => format!("line {line}: {reason}"),
            record_stream::Error::Io(e) => return Self::unreachable(what, e),
            other => other.to_string(),
        };
        let cut = [
            "truncated",
            "no header",
            "EOF while parsing",
            "is not closed",
        ]
        .iter()
        .any(|s| message.contains(s));
        let kind = if cut { Kind::Incomplete } else { Kind::Corrupt };
        Self::new(kind, what, message)
    }
}
