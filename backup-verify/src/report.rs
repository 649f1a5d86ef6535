//! The outcome: a readable report for stderr, JSON for `--json`.

use serde::Serialize;

use crate::live::LiveComparison;
use crate::problem::{exit_code, Problem};
use crate::sets::SetEntry;

/// One collection's figures.
#[derive(Clone, Debug, Serialize)]
pub struct CollectionSummary {
    /// Its name.
    pub name: String,
    /// Rows.
    pub rows: u64,
    /// Bytes of its files.
    pub bytes: u64,
    /// Files.
    pub parts: usize,
}

/// Everything `backup-verify` found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The LOCATION argument.
    pub location: String,
    /// `set`, `stream` or `sets` (a root of dated sets).
    pub kind: &'static str,
    /// No problem found.
    pub ok: bool,
    /// The exit code.
    pub exit_code: u8,
    /// `decoded` (every row read), `checksums` (sizes and sha256 only), or
    /// `listed` (a root of sets).
    pub checked: &'static str,
    /// Per collection.
    pub collections: Vec<CollectionSummary>,
    /// Total rows.
    pub rows: u64,
    /// Total bytes.
    pub bytes: u64,
    /// Total files.
    pub parts: usize,
    /// The live comparison (`--against`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against: Option<LiveComparison>,
    /// The newest complete set (`--max-age`, `--list`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_set: Option<SetEntry>,
    /// Its age in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_set_age_seconds: Option<u64>,
    /// What is wrong.
    pub problems: Vec<Problem>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// When the check ran (RFC 3339, UTC).
    pub checked_at: String,
}

impl Report {
    /// Sets `ok` and `exit_code` from the problems.
    pub fn conclude(&mut self) {
        self.exit_code = exit_code(&self.problems);
        self.ok = self.problems.is_empty();
    }

    /// The text report.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let what = match self.kind {
            "sets" => match &self.newest_set {
                Some(set) => format!(
                    "newest complete set {} ({}, {} old)",
                    set.name,
                    set.time,
                    human_age(self.newest_set_age_seconds.unwrap_or(0))
                ),
                None => "no complete set".to_string(),
            },
            kind => format!(
                "{kind}, {} collection{}, {} file{}, {} rows, {}, {} in {:.1} s",
                self.collections.len(),
                plural(self.collections.len()),
                self.parts,
                plural(self.parts),
                self.rows,
                object_storage::size::human(self.bytes),
                if self.checked == "checksums" {
                    "checksums checked"
                } else {
                    "every row decoded and checked"
                },
                self.seconds
            ),
        };
        if self.ok {
            out.push_str(&format!("backup-verify: {}: OK — {what}\n", self.location));
        } else {
            let worst = self.problems.iter().map(|p| p.kind).min();
            out.push_str(&format!(
                "backup-verify: {}: {} (exit {}) — {} problem{}; {what}\n",
                self.location,
                worst.map_or("FAILED", |k| k.name()).to_uppercase(),
                self.exit_code,
                self.problems.len(),
                plural(self.problems.len()),
            ));
        }
        if self.collections.len() > 1 {
            for c in &self.collections {
                out.push_str(&format!(
                    "  {}: {} rows, {} file{}, {}\n",
                    c.name,
                    c.rows,
                    c.parts,
                    plural(c.parts),
                    object_storage::size::human(c.bytes)
                ));
            }
        }
        if let Some(live) = &self.against {
            out.push_str(&format!(
                "  against {}: {} live rows (backup {}), {} sampled rows compared, {} differ\n",
                live.collection, live.live_rows, live.backup_rows, live.sampled, live.mismatched
            ));
        }
        for p in &self.problems {
            out.push_str(&format!(
                "  {:<11} {}: {}\n",
                p.kind.name(),
                p.place,
                p.message
            ));
        }
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn human_age(seconds: u64) -> String {
    match seconds {
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{:.1}h", s as f64 / 3600.0),
        s => format!("{:.1}d", s as f64 / 86_400.0),
    }
}
