//! Errors of the record stream, naming the field, line or part involved.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong encoding or decoding a record stream.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Milvus returned data we cannot map (wrong encoding, unknown type).
    #[error("field {field:?}: {reason}")]
    Field {
        /// The field name.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The header cannot be understood.
    #[error("header: {0}")]
    Header(String),
    /// A line of a text input (JSONL) is wrong. (`input`, not `source`:
    /// thiserror reserves that name for the underlying error.)
    #[error("{input}: line {line}: {reason}")]
    Line {
        /// The input's name (a path, `stdin`, a part name).
        input: String,
        /// The 1-based line number.
        line: u64,
        /// What is wrong (naming the field when one is involved).
        reason: String,
    },
    /// The input ends early: no header line at all, a stream without its
    /// trailer, a last line cut mid-row, a Parquet file without its footer.
    /// (Its own variant so that readers tell incomplete from corrupt by
    /// type, never by message.)
    #[error("{input}: {}{reason}", .line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Cut {
        /// The input's name.
        input: String,
        /// The 1-based line, for text inputs.
        line: Option<u64>,
        /// What is missing.
        reason: String,
    },
    /// Writing or reading failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Arrow failed (a bug in our conversion, usually).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Parquet failed.
    #[error("parquet: {0}")]
    Parquet(#[from] ::parquet::errors::ParquetError),
    /// JSON failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    pub(crate) fn field(field: &str, reason: impl Into<String>) -> Self {
        Error::Field {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}
