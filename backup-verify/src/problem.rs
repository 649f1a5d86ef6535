//! What a verification can find wrong, and its exit status (from the
//! tools' one contract, `pipes_cli::exit`).

use pipes_cli::Exit;
use serde::Serialize;

/// The kind of a problem, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Bytes or rows differ from what was recorded: checksum or size
    /// mismatch, an undecodable part, a row breaking the schema, a duplicate
    /// primary key, a row count that differs from the manifest.
    Corrupt,
    /// Something is missing: no manifest, a listed part absent, a stream cut
    /// before its trailer.
    Incomplete,
    /// The backup and the live collection disagree (`--against`).
    Mismatch,
    /// The newest complete set is older than `--max-age`.
    Stale,
    /// The storage or the server could not be reached or read.
    Unreachable,
}

impl Kind {
    /// Every kind, in severity order.
    pub const ALL: [Kind; 5] = [
        Kind::Corrupt,
        Kind::Incomplete,
        Kind::Mismatch,
        Kind::Stale,
        Kind::Unreachable,
    ];

    /// The process exit status for this kind.
    pub fn exit(self) -> Exit {
        match self {
            Kind::Corrupt => Exit::Corrupt,
            Kind::Incomplete => Exit::Incomplete,
            Kind::Stale => Exit::Stale,
            Kind::Mismatch => Exit::Mismatch,
            Kind::Unreachable => Exit::Unreachable,
        }
    }

    /// The process exit code for this kind.
    pub fn exit_code(self) -> u8 {
        self.exit().code()
    }

    /// The name used in reports and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Corrupt => "corrupt",
            Kind::Incomplete => "incomplete",
            Kind::Mismatch => "mismatch",
            Kind::Stale => "stale",
            Kind::Unreachable => "unreachable",
        }
    }
}

/// One thing found wrong.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    /// Its kind.
    pub kind: Kind,
    /// Where: a part path, a file, `manifest.json`, a collection.
    pub place: String,
    /// What, with the line, row or field when known.
    pub message: String,
}

impl Problem {
    /// A problem of `kind` at `place`.
    pub fn new(kind: Kind, place: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            place: place.into(),
            message: message.into(),
        }
    }
}

impl From<locations::Error> for Problem {
    /// A failure to read the backup, by its kind (a set asked for a
    /// collection it lacks counts as incomplete).
    fn from(e: locations::Error) -> Self {
        let kind = match e.kind {
            locations::Kind::Corrupt => Kind::Corrupt,
            // To an alert, a backup that is not there is one that is not complete.
            locations::Kind::Incomplete | locations::Kind::NotFound | locations::Kind::Usage => {
                Kind::Incomplete
            }
            locations::Kind::Unreachable => Kind::Unreachable,
        };
        Problem::new(kind, e.what, e.message)
    }
}

/// The exit code for a verification that found `problems`: 0 when none;
/// otherwise the most severe kind's code (14 only when the storage or server
/// was all that failed).
pub fn exit_code(problems: &[Problem]) -> u8 {
    problems
        .iter()
        .map(|p| p.kind)
        .min()
        .map_or(0, Kind::exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_severe_problem_sets_the_exit_code() {
        let p = |kind| Problem::new(kind, "x", "y");
        assert_eq!(exit_code(&[]), 0);
        assert_eq!(exit_code(&[p(Kind::Unreachable)]), 14);
        assert_eq!(exit_code(&[p(Kind::Stale), p(Kind::Unreachable)]), 12);
        assert_eq!(exit_code(&[p(Kind::Mismatch), p(Kind::Stale)]), 13);
        assert_eq!(
            exit_code(&[p(Kind::Stale), p(Kind::Incomplete), p(Kind::Corrupt)]),
            10
        );
        let codes: std::collections::HashSet<u8> =
            Kind::ALL.iter().map(|k| k.exit_code()).collect();
        assert_eq!(codes.len(), Kind::ALL.len(), "distinct codes");
    }
}
