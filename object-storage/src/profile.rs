//! AWS shared config files (`~/.aws/credentials`, `~/.aws/config`) for `AWS_PROFILE`.
//!
//! `object_store` reads the `AWS_*` environment variables, web identity,
//! container and instance-metadata credentials, but not the shared files the
//! AWS CLI writes. This module reads the static keys, region and endpoint of
//! one profile from them; `credential_process`, SSO and role chaining are not
//! supported (use environment variables or web identity for those).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Settings of one profile, each optional.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Profile {
    /// `aws_access_key_id`
    pub access_key_id: Option<String>,
    /// `aws_secret_access_key`
    pub secret_access_key: Option<String>,
    /// `aws_session_token`
    pub session_token: Option<String>,
    /// `region`
    pub region: Option<String>,
    /// `endpoint_url`
    pub endpoint_url: Option<String>,
}

impl Profile {
    /// Loads profile `name` from the credentials and config files named by
    /// `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE` (default `~/.aws/...`).
    /// Missing files yield an empty profile.
    pub fn load(name: &str) -> Profile {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let file = |var: &str, default: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
        };
        let creds = file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
            .and_then(|p| read(&p))
            .map(|t| section(&t, name, false))
            .unwrap_or_default();
        let config = file("AWS_CONFIG_FILE", "config")
            .and_then(|p| read(&p))
            .map(|t| section(&t, name, true))
            .unwrap_or_default();
        let get = |k: &str| creds.get(k).or_else(|| config.get(k)).cloned();
        Profile {
            access_key_id: get("aws_access_key_id"),
            secret_access_key: get("aws_secret_access_key"),
            session_token: get("aws_session_token"),
            region: config
                .get("region")
                .or_else(|| creds.get("region"))
                .cloned(),
            endpoint_url: config
                .get("endpoint_url")
                .or_else(|| creds.get("endpoint_url"))
                .cloned(),
        }
    }
}

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

/// The key/value pairs of section `name`. In the config file, non-default
/// profiles are written `[profile NAME]`.
fn section(text: &str, name: &str, config_file: bool) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.trim();
            let header = if config_file {
                header
                    .strip_prefix("profile ")
                    .map(str::trim)
                    .unwrap_or(header)
            } else {
                header
            };
            inside = header == name;
            continue;
        }
        if inside {
            if let Some((k, v)) = line.split_once('=') {
                out.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sections() {
        let creds = "[default]\naws_access_key_id = A\naws_secret_access_key=S\n\n[backup]\naws_access_key_id = B\n";
        let s = section(creds, "backup", false);
        assert_eq!(s.get("aws_access_key_id").map(String::as_str), Some("B"));
        assert!(!s.contains_key("aws_secret_access_key"));
        let config = "[default]\nregion = eu-west-1\n[profile backup]\nregion = us-west-2\nendpoint_url = http://minio:9000\n";
        let c = section(config, "backup", true);
        assert_eq!(c.get("region").map(String::as_str), Some("us-west-2"));
        assert_eq!(
            c.get("endpoint_url").map(String::as_str),
            Some("http://minio:9000")
        );
        assert_eq!(
            section(config, "default", true)
                .get("region")
                .map(String::as_str),
            Some("eu-west-1")
        );
    }
}
