//! Stable exit codes shared by the four tools (documented in `--help` and the README).

/// Exit statuses scripts can rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// Any other failure (network after retries, permissions, I/O, configuration).
    Failure = 1,
    /// Bad command line (clap's own status).
    Usage = 2,
    /// The object (or, for `s3-rm`, one of them) does not exist.
    NotFound = 3,
    /// `s3-put --if-none-match`: the key already exists; nothing was written.
    AlreadyExists = 4,
    /// `s3-get`: the data does not match its stored sha256 (or size).
    ChecksumMismatch = 5,
    /// `s3-put`: standard input was empty; nothing was written.
    EmptyInput = 6,
    /// Interrupted by SIGINT (128 + 2); an upload was aborted.
    Interrupted = 130,
    /// Terminated by SIGTERM (128 + 15); an upload was aborted.
    Terminated = 143,
}

impl Exit {
    /// The status for a library error.
    pub fn for_error(err: &crate::Error) -> Self {
        use crate::Error as E;
        match err {
            E::NotFound { .. } => Exit::NotFound,
            E::AlreadyExists { .. } => Exit::AlreadyExists,
            E::ChecksumMismatch { .. } | E::ShortRead { .. } => Exit::ChecksumMismatch,
            E::EmptyInput { .. } => Exit::EmptyInput,
            E::Interrupted { signal, .. } => Exit::for_signal(signal),
            E::InvalidUrl { .. } | E::Config(_) => Exit::Usage,
            _ => Exit::Failure,
        }
    }

    /// The status of a tool a signal stopped (as [`crate::signals::Interrupt`]
    /// names it): 143 for SIGTERM, 130 for SIGINT.
    pub fn for_signal(signal: &str) -> Self {
        if signal == "SIGTERM" {
            Exit::Terminated
        } else {
            Exit::Interrupted
        }
    }

    /// The numeric status.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

/// The exit-code table printed at the end of every tool's `--help`.
pub const HELP: &str = "\
Exit status:
  0    success
  1    failure (network after retries, permissions, I/O, configuration)
  2    bad command line or URL
  3    no such object
  4    s3-put --if-none-match: the key exists, nothing written
  5    s3-get: sha256 (or size) mismatch; the data was written, do not trust it
  6    s3-put: empty standard input, nothing written
  130  interrupted (SIGINT), upload aborted
  143  terminated (SIGTERM), upload aborted";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(Exit::Ok.code(), 0);
        assert_eq!(Exit::Failure.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::NotFound.code(), 3);
        assert_eq!(Exit::AlreadyExists.code(), 4);
        assert_eq!(Exit::ChecksumMismatch.code(), 5);
        assert_eq!(Exit::EmptyInput.code(), 6);
        assert_eq!(Exit::Interrupted.code(), 130);
        assert_eq!(Exit::Terminated.code(), 143);
    }

    #[test]
    fn errors_map_to_codes() {
        let e = crate::Error::AlreadyExists {
            url: "s3://b/k".into(),
        };
        assert_eq!(Exit::for_error(&e), Exit::AlreadyExists);
        let e = crate::Error::Interrupted {
            url: "s3://b/k".into(),
            signal: "SIGTERM",
        };
        assert_eq!(Exit::for_error(&e), Exit::Terminated);
    }
}
