//! Dated backup sets under a root (`--list`, `--max-age`): each direct
//! child whose name starts with a UTC date (`2026-11-24`, or a time as well:
//! `2026-11-24T021500Z`), as scripts/backup.sh names them.

use anyhow::Result;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone as _, Utc};
use record_stream::manifest::{Manifest, MANIFEST_FILE};
use serde::Serialize;

use crate::verify::VERIFIED_FILE;
use locations::Dir;

/// One set under the root.
#[derive(Clone, Debug, Serialize)]
pub struct SetEntry {
    /// The child's name.
    pub name: String,
    /// Its URL or path (ending in `/`).
    pub url: String,
    /// The time its name says (RFC 3339, UTC).
    pub time: String,
    /// `verified` (manifest and a verified.json marker), `complete`
    /// (manifest), or `incomplete` (none).
    pub state: &'static str,
    /// Collections in the manifest.
    pub collections: Vec<String>,
    /// Rows in the manifest.
    pub rows: Option<u64>,
    /// Bytes in the manifest.
    pub bytes: Option<u64>,
    #[serde(skip)]
    at: DateTime<Utc>,
}

impl SetEntry {
    /// When the set was taken.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// Whether it has a manifest.
    pub fn is_complete(&self) -> bool {
        self.state != "incomplete"
    }

    /// The `--list` text line.
    pub fn text(&self) -> String {
        let number = |n: Option<u64>| n.map_or("-".to_string(), |n| n.to_string());
        let collections = if self.collections.is_empty() {
            "-".to_string()
        } else {
            self.collections.join(",")
        };
        format!(
            "{}  {}  {:<10}  {}  {}  {}  {}",
            self.name,
            self.time,
            self.state,
            collections,
            number(self.rows),
            number(self.bytes),
            self.url
        )
    }
}

/// The time a set's name starts with: `YYYY-MM-DD`, optionally followed by
/// `THHMMSSZ`, `THH:MM:SSZ` or `THHMMZ` (midnight UTC without one).
pub fn time_from_name(name: &str) -> Option<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(name.get(..10)?, "%Y-%m-%d").ok()?;
    let rest = &name[10..];
    let time = rest
        .strip_prefix('T')
        .and_then(|t| {
            let digits: String = t
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ':')
                .filter(char::is_ascii_digit)
                .collect();
            match digits.len() {
                6 => NaiveTime::parse_from_str(&digits, "%H%M%S").ok(),
                4 => NaiveTime::parse_from_str(&digits, "%H%M").ok(),
                _ => None,
            }
        })
        .unwrap_or(NaiveTime::MIN);
    Some(Utc.from_utc_datetime(&date.and_time(time)))
}

/// The dated sets under `root`, oldest first.
pub async fn list(root: &Dir) -> Result<Vec<SetEntry>> {
    let mut sets = Vec::new();
    for name in root.children().await? {
        let Some(at) = time_from_name(&name) else {
            continue;
        };
        let dir = root.child(&name);
        let manifest: Option<Manifest> = dir
            .read(MANIFEST_FILE)
            .await?
            .and_then(|text| serde_json::from_slice(&text).ok());
        // Some stores (SeaweedFS) keep listing a prefix whose objects are
        // all deleted: nothing there is no set at all.
        if manifest.is_none() && dir.files().await?.is_empty() {
            continue;
        }
        let verified = manifest.is_some() && dir.read(VERIFIED_FILE).await?.is_some();
        let state = match (&manifest, verified) {
            (Some(_), true) => "verified",
            (Some(_), false) => "complete",
            (None, _) => "incomplete",
        };
        sets.push(SetEntry {
            url: dir.url(""),
            time: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            state,
            collections: manifest
                .iter()
                .flat_map(|m| {
                    m.collections
                        .iter()
                        .map(|c| c.header.collection.name.clone())
                })
                .collect(),
            rows: manifest
                .as_ref()
                .map(|m| m.collections.iter().map(|c| c.rows).sum()),
            bytes: manifest
                .as_ref()
                .map(|m| m.collections.iter().map(|c| c.bytes).sum()),
            name,
            at,
        });
    }
    sets.sort_by(|a, b| a.at.cmp(&b.at).then(a.name.cmp(&b.name)));
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_names_carry_their_time() {
        let t = |s: &str| time_from_name(s).map(|t| t.to_rfc3339());
        assert_eq!(
            t("2026-11-24").as_deref(),
            Some("2026-11-24T00:00:00+00:00")
        );
        assert_eq!(
            t("2026-11-24T021500Z").as_deref(),
            Some("2026-11-24T02:15:00+00:00")
        );
        assert_eq!(
            t("2026-11-24T02:15:00Z").as_deref(),
            Some("2026-11-24T02:15:00+00:00")
        );
        assert_eq!(
            t("2026-11-24_nightly").as_deref(),
            Some("2026-11-24T00:00:00+00:00")
        );
        assert_eq!(t("latest"), None);
        assert_eq!(t("2026-13-01"), None);
    }
}
