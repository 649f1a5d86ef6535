//! Errors from talking to Milvus, with the operation and object named.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong talking to Milvus.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URI could not be parsed or the channel could not be built.
    #[error("invalid Milvus URI {uri:?}: {reason}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The server could not be reached. (The cause is spelled out in the
    /// message rather than chained: tonic's own chain repeats itself.)
    #[error("cannot connect to Milvus at {uri}: {}", describe_connect(.cause))]
    Connect {
        /// The URI we dialled.
        uri: String,
        /// The transport error.
        cause: tonic::transport::Error,
    },
    /// A TLS setting (CA certificate) could not be used.
    #[error("TLS setup for {uri}: {reason}")]
    Tls {
        /// The URI.
        uri: String,
        /// Why.
        reason: String,
    },
    /// The gRPC call itself failed (transport, auth, unimplemented, ...).
    #[error("{op} failed: {}", describe_status(.status))]
    Rpc {
        /// The operation, with its object (e.g. `Query on "docs"`).
        op: String,
        /// The gRPC status (boxed: it is large, and errors travel far).
        status: Box<tonic::Status>,
    },
    /// The server answered with an error status.
    #[error("{op} failed: {reason} (code {code})")]
    Server {
        /// The operation, with its object.
        op: String,
        /// Milvus error code (`code`, or the legacy `error_code`).
        code: i32,
        /// The server's message.
        reason: String,
    },
}

fn describe_status(status: &tonic::Status) -> String {
    match status.code() {
        tonic::Code::Unavailable => format!("server unavailable ({})", status.message()),
        tonic::Code::Unauthenticated => format!("authentication failed ({})", status.message()),
        tonic::Code::PermissionDenied => format!("permission denied ({})", status.message()),
        tonic::Code::Unimplemented => "not supported by this server".to_string(),
        code => format!("{code:?}: {}", status.message()),
    }
}

impl Error {
    pub(crate) fn rpc(op: String, status: tonic::Status) -> Self {
        Error::Rpc {
            op,
            status: Box::new(status),
        }
    }

    /// True when the server says the collection (or database) does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Server { code, reason, .. } => {
                // 100: CollectionNotExists (2.3+); legacy error_code 4 / 28.
                *code == 100 || reason.contains("not found") || reason.contains("not exist")
            }
            _ => false,
        }
    }

    /// True when the server does not have the RPC at all (Milvus Lite 2.5
    /// has no aliases, for one).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Error::Rpc { status, .. } if status.code() == tonic::Code::Unimplemented)
    }

    /// True when the server refused a request as larger than it accepts
    /// (gRPC's "received message larger than max", or Milvus's own size
    /// limit): send it in smaller pieces. Rate limits, which share the
    /// status code, are not this.
    pub fn is_request_too_large(&self) -> bool {
        let text = match self {
            Error::Rpc { status, .. }
                if matches!(
                    status.code(),
                    tonic::Code::ResourceExhausted | tonic::Code::OutOfRange
                ) =>
            {
                status.message()
            }
            Error::Server { reason, .. } => reason.as_str(),
            _ => return false,
        }
        .to_ascii_lowercase();
        text.contains("larger than max")
            || text.contains("message length")
            || text.contains("too large")
            || (text.contains("exceed") && text.contains("size") && !text.contains("rate"))
    }

    /// True when the same request may succeed if sent again a little later:
    /// a server restarting or unreachable for a moment, rate limits, quotas,
    /// memory pressure. Not a request or result over a size limit (the
    /// callers send smaller ones instead), nor anything else (a bad value, a
    /// schema mismatch), which fails the same way every time.
    pub fn is_transient(&self) -> bool {
        if self.is_request_too_large() {
            return false;
        }
        let mentions = |text: &str, words: &[&str]| {
            let text = text.to_ascii_lowercase();
            words.iter().any(|word| text.contains(word))
        };
        match self {
            Error::Rpc { status, .. } => match status.code() {
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Aborted => {
                    true
                }
                tonic::Code::ResourceExhausted => {
                    mentions(status.message(), &["rate", "quota", "too many"])
                }
                // A connection lost mid-request reaches tonic as "transport error".
                tonic::Code::Unknown => mentions(
                    status.message(),
                    &["transport error", "connection", "broken pipe"],
                ),
                _ => false,
            },
            Error::Server { reason, .. } => mentions(
                reason,
                &[
                    "rate limit",
                    "quota",
                    "deny to write",
                    "too many",
                    "memory",
                    "not ready",
                    "unavailable",
                ],
            ),
            _ => false,
        }
    }

    /// True when a query result was over the server's size limits: retry smaller.
    pub fn is_result_too_large(&self) -> bool {
        let text = match self {
            Error::Server { reason, .. } => reason.as_str(),
            Error::Rpc { status, .. } => status.message(),
            _ => return false,
        };
        let text = text.to_ascii_lowercase();
        matches!(self, Error::Rpc { status, .. } if status.code() == tonic::Code::ResourceExhausted || status.code() == tonic::Code::OutOfRange)
            || text.contains("exceed")
                && (text.contains("size") || text.contains("limit") || text.contains("bytes"))
    }
}

/// A connection failure's innermost cause, with a hint for the usual ones.
fn describe_connect(error: &tonic::transport::Error) -> String {
    let mut innermost: &dyn std::error::Error = error;
    while let Some(next) = innermost.source() {
        innermost = next;
    }
    let text = innermost.to_string();
    let hint = if text.contains("UnknownIssuer") || text.contains("certificate") {
        " (the server's TLS certificate is not trusted: --ca-cert FILE names the CA that signed it)"
    } else if text.contains("refused") {
        " (nothing listens there: is the server up and the port right?)"
    } else {
        ""
    };
    format!("{text}{hint}")
}
