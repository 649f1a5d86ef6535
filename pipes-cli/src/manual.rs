//! The sections every tool's `--help` ends with, in the same order and
//! words: examples, environment, exit status, see also. Like a man page's
//! EXAMPLES, ENVIRONMENT, EXIT STATUS and SEE ALSO; the examples are lines
//! of the README (a test holds them there), where the docs test runs them.

use std::fmt::Write as _;

use crate::exit::Exit;

/// One example: a command line and what it does.
pub type Example = (&'static str, &'static str);

/// The environment of the tools that talk to Milvus.
pub const MILVUS_ENVIRONMENT: &[(&str, &str)] = &[
    ("MILVUS_URI", "the server (--uri)"),
    ("MILVUS_DB", "the database (--db)"),
    ("MILVUS_TOKEN", "API token or user:password (--token)"),
    (
        "MILVUS_USER, MILVUS_PASSWORD",
        "user and password (--user, --password)",
    ),
];

/// The environment of the tools that reach object storage.
pub const STORAGE_ENVIRONMENT: &[(&str, &str)] = &[
    (
        "AWS_ENDPOINT_URL",
        "S3 endpoint: MinIO, Ceph, SeaweedFS (--endpoint-url)",
    ),
    ("AWS_REGION", "the bucket's region (--region)"),
    (
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN",
        "credentials (never on the command line)",
    ),
    (
        "AWS_PROFILE",
        "a profile of ~/.aws/config and ~/.aws/credentials",
    ),
    (
        "AWS_UNSIGNED_PAYLOAD",
        "true: skip payload signing (over TLS only)",
    ),
    (
        "S3_PIPES_MAX_RETRIES",
        "retries per request (--max-retries)",
    ),
];

/// Where a spooled input goes when no --spool-dir is given.
pub const TMPDIR: (&str, &str) = ("TMPDIR", "where input is spooled without --spool-dir");

/// Each tool's examples: lines of the README (s3-tools/README.md for the
/// s3 tools), where the docs test runs them.
pub mod examples {
    use super::Example;

    /// `milvus-dump`.
    pub const MILVUS_DUMP: &[Example] = &[
        (
            "milvus-dump --list",
            "the collections and their row counts (TSV)",
        ),
        (
            "milvus-dump -c docs --zstd=6 -o docs.jsonl.zst",
            "one collection as a compressed JSONL stream; the file appears only when complete",
        ),
        (
            "milvus-dump -c docs --format parquet --zstd --out-dir s3://bk/milvus/2026-11-24/",
            "a backup set of Parquet parts, straight into object storage",
        ),
        (
            "milvus-dump -c docs --out-dir /backups/docs --part-rows 1000000 --zstd --resume",
            "a new backup set; after a crash, the same line continues it from its last complete part",
        ),
        (
            "milvus-dump -c docs --format parquet --out-dir s3://bk/sharded/docs/ --shard 0/2 --resume &",
            "shard 0 of 2 of one set (run 1/2 beside it); the last to finish writes the manifest",
        ),
    ];

    /// `milvus-load`.
    pub const MILVUS_LOAD: &[Example] = &[
        (
            "milvus-dump -c docs | milvus-load -c docs_copy",
            "a live copy, through a pipe",
        ),
        (
            "milvus-load docs.jsonl.zst -c docs_check --dry-run",
            "what would be created, and how many rows; nothing is written",
        ),
        (
            "milvus-load docs.parquet --if-exists replace --alias docs_live",
            "restore beside the existing collection, verify, swap, flip the alias",
        ),
        (
            "milvus-load /backups/docs --resume -c docs_resumed",
            "load a set; after an interruption, the same line continues it",
        ),
    ];

    /// `backup-verify`.
    pub const BACKUP_VERIFY: &[Example] = &[
        (
            "backup-verify s3://bk/milvus/2026-11-24T021500Z/ --checksums-only",
            "a set's sizes and sha256 only",
        ),
        (
            "milvus-dump -c docs | backup-verify -",
            "a stream, as it arrives",
        ),
        (
            "backup-verify docs.jsonl.zst --against docs_restored --sample 500",
            "and the live collection agrees on a sample of rows",
        ),
        (
            "backup-verify --list s3://bk/milvus/",
            "the dated sets under a root: time, state, rows, bytes",
        ),
    ];

    /// `s3-put`.
    pub const S3_PUT: &[Example] = &[
        ("seq 1 200000 | gzip | s3-put --if-none-match s3://backups/milvus/2026-11-24/numbers.gz", "upload a stream, refused if the key exists; the receipt on stdout"),
        ("seq 1 1000 | s3-put file:///tmp/backups/numbers.txt", "the same on local disk"),
    ];

    /// `s3-get`.
    pub const S3_GET: &[Example] = &[
        (
            "s3-get s3://backups/milvus/2026-11-24/numbers.gz | gunzip | tail -n 1",
            "download to stdout, verified against the stored sha256",
        ),
        (
            "s3-get s3://backups/milvus/2026-11-24/big.txt -o /tmp/big.txt",
            "to a file that appears only when complete and verified",
        ),
    ];

    /// `s3-ls`.
    pub const S3_LS: &[Example] = &[
        (
            "s3-ls s3://backups/milvus/",
            "one level: prefixes and objects",
        ),
        (
            "s3-ls --recursive --json s3://backups/milvus/2026-11-24/",
            "every object below, one JSON line each",
        ),
    ];

    /// `s3-rm`.
    pub const S3_RM: &[Example] = &[
        (
            "s3-rm --recursive --dry-run s3://backups/milvus/",
            "what a recursive delete would remove",
        ),
        (
            "s3-rm s3://backups/milvus/2026-11-24/numbers.gz",
            "one object, with its .sha256 sidecar",
        ),
    ];
}

/// A tool's manual sections.
pub struct Manual<'a> {
    /// Typical command lines.
    pub examples: &'a [Example],
    /// Environment variables it reads.
    pub environment: &'a [&'a [(&'a str, &'a str)]],
    /// The exit statuses it uses.
    pub exit_codes: &'a [Exit],
    /// A note after the exit statuses (how several problems combine, say).
    pub exit_note: Option<&'a str>,
    /// The other tools it works with.
    pub see_also: &'a [&'a str],
}

impl Manual<'_> {
    /// The sections as `--help` prints them after the options.
    pub fn render(&self) -> String {
        let mut text = String::from("Examples:\n");
        for (command, what) in self.examples {
            let _ = writeln!(text, "  {command}\n      {what}");
        }
        text.push_str("\nEnvironment:\n");
        for (name, what) in self.environment.iter().flat_map(|list| list.iter()) {
            let _ = writeln!(text, "  {name}\n      {what}");
        }
        text.push('\n');
        text.push_str(&Exit::help(self.exit_codes));
        if let Some(note) = self.exit_note {
            let _ = writeln!(text, "{note}");
        }
        let _ = write!(
            text,
            "\nSee also: {}; the README (operator's runbook, record stream format, exit codes).",
            self.see_also.join(", ")
        );
        text
    }
}

/// The s3 tools, each of which names the others.
const S3_TOOLS: [&str; 4] = ["s3-put", "s3-get", "s3-ls", "s3-rm"];

/// The manual of one of the s3 tools (`name`): its examples and exit
/// statuses, the object-storage environment, the other s3 tools.
pub fn s3_tool(name: &str, examples: &[Example], exit_codes: &[Exit]) -> String {
    let see_also: Vec<&str> = S3_TOOLS
        .into_iter()
        .filter(|tool| *tool != name)
        .chain(["milvus-dump"])
        .collect();
    Manual {
        examples,
        environment: &[STORAGE_ENVIRONMENT],
        exit_codes,
        exit_note: None,
        see_also: &see_also,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples are the README's lines, which its docs test runs.
    #[test]
    fn every_example_is_a_line_of_the_readme() {
        let readme = include_str!("../../README.md");
        let s3_readme = include_str!("../../s3-tools/README.md");
        let tools = [
            (examples::MILVUS_DUMP, readme),
            (examples::MILVUS_LOAD, readme),
            (examples::BACKUP_VERIFY, readme),
            (examples::S3_PUT, s3_readme),
            (examples::S3_GET, s3_readme),
            (examples::S3_LS, s3_readme),
            (examples::S3_RM, s3_readme),
        ];
        for (examples, text) in tools {
            for (command, _) in examples {
                let found = text.lines().any(|line| {
                    line.trim_start()
                        .strip_prefix(command)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
                });
                assert!(found, "{command:?} is not a line of the README");
            }
        }
    }

    #[test]
    fn sections_come_in_man_page_order() {
        let manual = Manual {
            examples: &[("tool -x", "does x")],
            environment: &[&[TMPDIR]],
            exit_codes: &[Exit::Ok, Exit::Usage],
            exit_note: Some("A note."),
            see_also: &["other(1)"],
        };
        let text = manual.render();
        let order: Vec<usize> = [
            "Examples:",
            "Environment:",
            "Exit status",
            "A note.",
            "See also:",
        ]
        .iter()
        .map(|section| text.find(section).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains("  tool -x\n      does x\n"));
        assert!(text.contains("  TMPDIR\n"));
    }
}
