//! What every milvus-pipes tool shares on its command line: the Milvus
//! connection and rate-limit flags ([`milvus`]), the object-storage flags and
//! the s3 tools' `main` ([`store`]), one parser for sizes and durations
//! ([`units`]), the runtime ([`runtime`]), progress on stderr ([`progress`]),
//! and the exit-code contract ([`exit`]).
//!
//! Libraries below this crate (`milvus-wire`, `object-storage`, `locations`,
//! `record-stream`) parse no command line and choose no exit status: their
//! errors are typed, and [`exit::for_error`] maps the types.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod exit;
pub mod manual;
pub mod milvus;
pub mod progress;
pub mod runtime;
pub mod store;
pub mod units;

pub use exit::Exit;

/// What every tool's `--version` prints: the release and the git revision
/// it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("PIPES_GIT_REVISION"),
    ")"
);

/// This process's command line, quoted for a POSIX shell, with `flag`
/// added unless it is there already: the exact command that continues an
/// interrupted run.
pub fn command_line_with(flag: &str) -> String {
    let mut args: Vec<String> = std::env::args().collect();
    if !flag.is_empty() && !args.iter().any(|a| a == flag) {
        args.push(flag.to_string());
    }
    args.iter()
        .map(|arg| shell_quoted(arg))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quoted(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_for_the_shell() {
        assert_eq!(shell_quoted("s3://bk/set/"), "s3://bk/set/");
        assert_eq!(shell_quoted("a b"), "'a b'");
        assert_eq!(shell_quoted("it's"), "'it'\\''s'");
        assert_eq!(shell_quoted(""), "''");
    }
}
