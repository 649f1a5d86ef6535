//! The Milvus flags every tool shares: the connection (with environment
//! fallbacks) and the rate limits.

use std::path::PathBuf;

use milvus_wire::ConnectOptions;

use crate::exit::Exit;
use crate::units::parse_size;

/// Environment variables for the connection settings.
pub mod env {
    /// Server URI.
    pub const MILVUS_URI: &str = "MILVUS_URI";
    /// Database.
    pub const MILVUS_DB: &str = "MILVUS_DB";
    /// API token.
    pub const MILVUS_TOKEN: &str = "MILVUS_TOKEN";
    /// User name.
    pub const MILVUS_USER: &str = "MILVUS_USER";
    /// Password.
    pub const MILVUS_PASSWORD: &str = "MILVUS_PASSWORD";
}

/// `--uri`, `--db`, `--token`/`--token-file`, `--user`/`--password`, `--ca-cert`.
#[derive(Clone, Debug, clap::Args)]
pub struct ConnectArgs {
    /// Milvus server (http:// or https://).
    #[arg(long, env = env::MILVUS_URI, default_value = "http://localhost:19530")]
    pub uri: String,
    /// Database (default: the server's default database).
    #[arg(long, env = env::MILVUS_DB)]
    pub db: Option<String>,
    /// API token, or `user:password` (prefer the environment or --token-file).
    #[arg(long, env = env::MILVUS_TOKEN, hide_env_values = true)]
    pub token: Option<String>,
    /// Read the token from this file (first line), so it never appears in argv.
    #[arg(long, conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// User name (with --password or MILVUS_PASSWORD).
    #[arg(long, env = env::MILVUS_USER)]
    pub user: Option<String>,
    /// Password (prefer MILVUS_PASSWORD).
    #[arg(long, env = env::MILVUS_PASSWORD, hide_env_values = true)]
    pub password: Option<String>,
    /// PEM file of the CA that signed the server's certificate (https).
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
}

impl ConnectArgs {
    /// The options to connect with (reads --token-file: one it cannot read
    /// is a usage error, as every bad flag is).
    pub fn options(&self) -> anyhow::Result<ConnectOptions> {
        let token = match &self.token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Exit::Usage.because(anyhow::anyhow!(
                        "cannot read token file {}: {e}",
                        path.display()
                    ))
                })?;
                Some(text.lines().next().unwrap_or("").trim().to_string())
            }
            // `MILVUS_TOKEN=` (set, empty) is no token: --user/--password apply.
            None => self.token.clone().filter(|t| !t.is_empty()),
        };
        Ok(ConnectOptions {
            uri: self.uri.clone(),
            db: self.db.clone(),
            token,
            user: self.user.clone(),
            password: self.password.clone(),
            ca_cert: self.ca_cert.clone(),
            ..ConnectOptions::default()
        })
    }
}

/// `--max-rows-per-second` and `--max-bytes-per-second`: one limit for
/// every connection of the process, so a dump or a load does not overload
/// a production server.
#[derive(Debug, Clone, clap::Args)]
pub struct ThrottleArgs {
    /// Rows per second at most, all connections together.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows_per_second: Option<u64>,

    /// Bytes per second at most (e.g. 50MiB), all connections together.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_bytes_per_second: Option<u64>,
}

impl ThrottleArgs {
    /// The pacer these limits make (`None` without a limit).
    pub fn pacer(&self) -> Option<std::sync::Arc<milvus_wire::pace::Pacer>> {
        milvus_wire::pace::Pacer::new(self.max_rows_per_second, self.max_bytes_per_second)
            .map(std::sync::Arc::new)
    }
}
