//! The exit-code contract of every milvus-pipes tool: one cause, one code,
//! whichever tool meets it. Statuses come from the type of the error (never
//! from its text); the README's table and each tool's `--help` are printed
//! from [`Exit::ALL`] and the tool's list here, so they cannot drift.

use std::fmt::Write as _;

/// An exit status, with the cause it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// A failure no other code names (I/O, a server error).
    Failure = 1,
    /// Bad command line, flag value, URL or configuration.
    Usage = 2,
    /// The collection, database or object does not exist.
    NotFound = 3,
    /// Refused before writing: the run would replace or change data it did
    /// not write, or the target cannot hold the data.
    Refused = 4,
    /// Authentication failed, or a privilege or permission is missing.
    Denied = 5,
    /// Standard input was empty.
    Empty = 6,
    /// The source changed while it was read.
    Changed = 7,
    /// Bytes or rows differ from what was recorded, or cannot be decoded.
    Corrupt = 10,
    /// Something is missing: a stream cut short, a set without its manifest
    /// or a part.
    Incomplete = 11,
    /// The newest complete backup is older than allowed.
    Stale = 12,
    /// The backup and the live collection disagree.
    Mismatch = 13,
    /// The server or the storage could not be reached or read.
    Unreachable = 14,
    /// Interrupted by SIGINT (128 + 2).
    Interrupted = 130,
    /// Standard output was closed by its reader (128 + SIGPIPE's 13).
    BrokenPipe = 141,
    /// Terminated by SIGTERM (128 + 15), as Kubernetes stops a pod.
    Terminated = 143,
}

impl Exit {
    /// Every status, in numeric order.
    pub const ALL: [Exit; 16] = [
        Exit::Ok,
        Exit::Failure,
        Exit::Usage,
        Exit::NotFound,
        Exit::Refused,
        Exit::Denied,
        Exit::Empty,
        Exit::Changed,
        Exit::Corrupt,
        Exit::Incomplete,
        Exit::Stale,
        Exit::Mismatch,
        Exit::Unreachable,
        Exit::Interrupted,
        Exit::BrokenPipe,
        Exit::Terminated,
    ];

    /// The numeric status.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// What the status means, as the README's table and `--help` say it.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "success",
            Exit::Failure => "failure no other code names (I/O, a server error); the message says what, where, and what was committed",
            Exit::Usage => "bad command line, flag value, URL or configuration",
            Exit::NotFound => "not found: the collection, database or object does not exist",
            Exit::Refused => "refused before writing: it would replace or change data this run did not write (an existing collection or object, a --resume of a load that is not this one's), or the target cannot hold it",
            Exit::Denied => "denied: authentication failed, or a privilege or permission is missing",
            Exit::Empty => "empty input: nothing written",
            Exit::Changed => "the source changed while it was read (rows during a dump the server could not pin, an object during a download); the output is complete but not a snapshot",
            Exit::Corrupt => "corrupt: bytes or rows differ from what was recorded (size, sha256, row count, schema, a duplicate key), or cannot be decoded",
            Exit::Incomplete => "incomplete: something is missing (a stream cut before its trailer, a set without its manifest or a part)",
            Exit::Stale => "stale: the newest complete backup is older than --max-age",
            Exit::Mismatch => "mismatch: the backup and the live collection disagree (--against)",
            Exit::Unreachable => "unreachable: the server or the storage could not be reached or read, after retries",
            Exit::Interrupted => "interrupted (SIGINT): unfinished output removed, uploads aborted; what was committed and the command that continues are on stderr",
            Exit::BrokenPipe => "standard output was closed by its reader before the end (piped into head, say)",
            Exit::Terminated => "terminated (SIGTERM): as 130",
        }
    }

    /// The status of a tool a signal stopped (as
    /// [`object_storage::signals::Interrupt`] names it).
    pub fn for_signal(signal: &str) -> Self {
        if signal == "SIGTERM" {
            Exit::Terminated
        } else {
            Exit::Interrupted
        }
    }

    /// `error`, marked to exit with this status: for what a tool decides
    /// (a refusal, input it cannot use) rather than what a library met.
    pub fn because(self, error: impl Into<anyhow::Error>) -> anyhow::Error {
        Because {
            exit: self,
            error: error.into(),
        }
        .into()
    }

    /// The `--help` section for a tool that can exit with `codes`.
    pub fn help(codes: &[Exit]) -> String {
        let mut text = String::from(
            "Exit status (the same code means the same cause in every milvus-pipes tool):\n",
        );
        for exit in codes {
            let _ = writeln!(text, "  {:<4} {}", exit.code(), exit.meaning());
        }
        text
    }

    /// The README's table: every status, its meaning, the tools that use it.
    pub fn markdown_table() -> String {
        let mut table = String::from("| code | meaning | tools |\n|---|---|---|\n");
        for exit in Exit::ALL {
            let tools: Vec<String> = TOOLS
                .iter()
                .filter(|(_, codes)| codes.contains(&exit))
                .map(|(tool, _)| format!("`{tool}`"))
                .collect();
            let _ = writeln!(
                table,
                "| {} | {} | {} |",
                exit.code(),
                exit.meaning(),
                tools.join(", ")
            );
        }
        table
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

/// An error a tool has given its exit status ([`Exit::because`]).
#[derive(Debug, thiserror::Error)]
#[error("{error:#}")]
pub struct Because {
    /// The status.
    pub exit: Exit,
    /// What happened.
    pub error: anyhow::Error,
}

/// The status for `error`: the first cause in its chain whose type says.
pub fn for_error(error: &anyhow::Error) -> Exit {
    error.chain().find_map(for_cause).unwrap_or(Exit::Failure)
}

fn for_cause(cause: &(dyn std::error::Error + 'static)) -> Option<Exit> {
    if let Some(e) = cause.downcast_ref::<Because>() {
        return Some(e.exit);
    }
    if let Some(e) = cause.downcast_ref::<locations::Error>() {
        return Some(match e.kind {
            locations::Kind::NotFound => Exit::NotFound,
            locations::Kind::Corrupt => Exit::Corrupt,
            locations::Kind::Incomplete => Exit::Incomplete,
            locations::Kind::Unreachable => Exit::Unreachable,
            locations::Kind::Usage => Exit::Usage,
        });
    }
    if let Some(e) = cause.downcast_ref::<milvus_wire::Error>() {
        return Some(for_milvus(e));
    }
    if let Some(e) = cause.downcast_ref::<object_storage::Error>() {
        return Some(for_storage(e));
    }
    // record-stream's I/O variant is transparent: its io::Error is not in
    // the chain by itself.
    let io = match cause.downcast_ref::<record_stream::Error>() {
        Some(record_stream::Error::Io(e)) => Some(e),
        _ => cause.downcast_ref::<std::io::Error>(),
    };
    io.filter(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
        .map(|_| Exit::BrokenPipe)
}

fn for_milvus(e: &milvus_wire::Error) -> Exit {
    use milvus_wire::{Error as E, RpcCode};
    match e {
        E::InvalidUri { .. } | E::Tls { .. } => Exit::Usage,
        E::Connect { .. } => Exit::Unreachable,
        E::Rpc { status, .. } => match status.code() {
            RpcCode::Unauthenticated | RpcCode::PermissionDenied => Exit::Denied,
            RpcCode::Unavailable | RpcCode::DeadlineExceeded => Exit::Unreachable,
            _ => Exit::Failure,
        },
        E::Server { .. } if e.is_not_found() => Exit::NotFound,
        E::Server { .. } => Exit::Failure,
    }
}

/// The status for an object-storage error.
pub fn for_storage(e: &object_storage::Error) -> Exit {
    use object_storage::Error as E;
    let backend = |source: &object_store::Error| match source {
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => Exit::Denied,
        object_store::Error::NotFound { .. } => Exit::NotFound,
        _ => Exit::Unreachable,
    };
    match e {
        E::NotFound { .. } => Exit::NotFound,
        E::AlreadyExists { .. } => Exit::Refused,
        E::ChecksumMismatch { .. } => Exit::Corrupt,
        E::ShortRead { .. } => Exit::Incomplete,
        E::EmptyInput { .. } => Exit::Empty,
        E::Changed { .. } => Exit::Changed,
        E::Interrupted { signal, .. } => Exit::for_signal(signal),
        E::InvalidUrl { .. } | E::Config(_) | E::Setup { .. } | E::TooManyParts { .. } => {
            Exit::Usage
        }
        E::Part { source, .. } | E::Chunk { source, .. } | E::Store { source, .. } => {
            backend(source)
        }
        E::Output { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe => {
            Exit::BrokenPipe
        }
        E::Input { .. } | E::Output { .. } | E::Local { .. } => Exit::Failure,
    }
}

/// The statuses each tool can exit with (its `--help` lists these; the
/// README's table names the tools per code).
pub const TOOLS: [(&str, &[Exit]); 7] = [
    ("milvus-dump", MILVUS_DUMP),
    ("milvus-load", MILVUS_LOAD),
    ("backup-verify", BACKUP_VERIFY),
    ("s3-put", S3_PUT),
    ("s3-get", S3_GET),
    ("s3-ls", S3_LS),
    ("s3-rm", S3_RM),
];

/// `milvus-dump`.
pub const MILVUS_DUMP: &[Exit] = &[
    Exit::Ok,
    Exit::Failure,
    Exit::Usage,
    Exit::NotFound,
    Exit::Refused,
    Exit::Denied,
    Exit::Changed,
    Exit::Corrupt,
    Exit::Incomplete,
    Exit::Unreachable,
    Exit::Interrupted,
    Exit::BrokenPipe,
    Exit::Terminated,
];

/// `milvus-load`.
pub const MILVUS_LOAD: &[Exit] = &[
    Exit::Ok,
    Exit::Failure,
    Exit::Usage,
    Exit::NotFound,
    Exit::Refused,
    Exit::Denied,
    Exit::Corrupt,
    Exit::Incomplete,
    Exit::Unreachable,
    Exit::Interrupted,
    Exit::Terminated,
];

/// `backup-verify`.
pub const BACKUP_VERIFY: &[Exit] = &[
    Exit::Ok,
    Exit::Failure,
    Exit::Usage,
    Exit::Denied,
    Exit::Corrupt,
    Exit::Incomplete,
    Exit::Stale,
    Exit::Mismatch,
    Exit::Unreachable,
    Exit::Interrupted,
    Exit::Terminated,
];

/// `s3-put`.
pub const S3_PUT: &[Exit] = &[
    Exit::Ok,
    Exit::Failure,
    Exit::Usage,
    Exit::Refused,
    Exit::Denied,
    Exit::Empty,
    Exit::Unreachable,
    Exit::Interrupted,
    Exit::Terminated,
];

/// `s3-get`.
pub const S3_GET: &[Exit] = &[
    Exit::Ok,
    Exit::Failure,
    Exit::Usage,
    Exit::NotFound,
    Exit::Denied,
    Exit::Changed,
    Exit::Corrupt,
    Exit::Incomplete,
    Exit::Unreachable,
    Exit::BrokenPipe,
];

/// `s3-ls`.
pub const S3_LS: &[Exit] = &[
    Exit::Ok,
    Exit::Failure,
    Exit::Usage,
    Exit::NotFound,
    Exit::Denied,
    Exit::Unreachable,
    Exit::BrokenPipe,
];

/// `s3-rm`.
pub const S3_RM: &[Exit] = &[
    Exit::Ok,
    Exit::Failure,
    Exit::Usage,
    Exit::NotFound,
    Exit::Denied,
    Exit::Unreachable,
    Exit::BrokenPipe,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_distinct() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(
            codes,
            [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 130, 141, 143]
        );
    }

    #[test]
    fn every_code_some_tool_uses_is_in_its_help_and_every_code_has_a_tool() {
        for exit in Exit::ALL {
            assert!(
                TOOLS.iter().any(|(_, codes)| codes.contains(&exit)),
                "{exit:?} belongs to no tool"
            );
        }
        for (tool, codes) in TOOLS {
            let help = Exit::help(codes);
            for exit in codes {
                assert!(help.contains(exit.meaning()), "{tool}: {exit:?}");
            }
        }
    }

    #[test]
    fn the_readme_holds_the_table() {
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(&Exit::markdown_table()),
            "README.md's exit-code table differs from pipes-cli's; paste this:\n{}",
            Exit::markdown_table()
        );
    }

    #[test]
    fn a_tools_decision_wins_over_what_it_wraps() {
        let storage = object_storage::Error::NotFound {
            url: "s3://b/k".into(),
        };
        let error = Exit::Refused.because(anyhow::Error::new(storage).context("opening"));
        assert_eq!(for_error(&error), Exit::Refused);
        let error = anyhow::Error::new(object_storage::Error::NotFound {
            url: "s3://b/k".into(),
        })
        .context("reading");
        assert_eq!(for_error(&error), Exit::NotFound);
        let signal = object_storage::Error::Interrupted {
            url: "s3://b/k".into(),
            signal: "SIGTERM",
        };
        assert_eq!(for_storage(&signal), Exit::Terminated);
        let pipe = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(for_error(&pipe), Exit::BrokenPipe);
        let pipe = anyhow::Error::new(record_stream::Error::Io(std::io::Error::from(
            std::io::ErrorKind::BrokenPipe,
        )))
        .context("writing stdout");
        assert_eq!(for_error(&pipe), Exit::BrokenPipe);
        assert_eq!(for_error(&anyhow::anyhow!("plain")), Exit::Failure);
    }
}
