//! The connection flags every Milvus tool shares, with environment fallbacks.

use std::path::PathBuf;

use crate::client::ConnectOptions;

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
    /// The options to connect with (reads --token-file).
    pub fn options(&self) -> std::io::Result<ConnectOptions> {
        let token = match &self.token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("cannot read token file {}: {e}", path.display()),
                    )
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

/// The Milvus tools' async runtime: two workers, whatever the core count (the
/// tools often share a small machine with the server they talk to). Also
/// sets the allocator up for page-sized buffers ([`keep_large_blocks_on_heap`]).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    keep_large_blocks_on_heap();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Keeps blocks of a few MiB on the heap, and freed ones in the process.
///
/// Every page allocates and frees such blocks (the received message, the
/// decoded vectors, a batch to insert). With its adaptive thresholds glibc
/// hands many back to the kernel (unmapped, or trimmed off a heap), and the
/// next page faults fresh zeroed memory in again. Fixed thresholds, on a
/// 100,000-row dump of 768 floats (`--jobs 4`, Milvus 2.3.5): minor faults
/// 50,000–66,000 down to 15,000, system CPU 0.19–0.25 s down to 0.12–0.17 s,
/// for about 10 MiB more RSS. That CPU is the server's on a small machine
/// shared with it. Other C libraries: nothing to do.
fn keep_large_blocks_on_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// glibc's largest allowed mmap threshold on 64-bit.
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        /// Free memory kept at the heap's top before it is returned.
        const TRIM_THRESHOLD: libc::c_int = 64 << 20;
        // SAFETY: mallopt only sets allocator parameters, under glibc's own
        // lock; a refused value (return 0) leaves the defaults in place.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        }
    }
}

/// A flag value's leading number and the unit after it (trimmed).
fn number_and_unit(text: &str) -> Option<(u64, &str)> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    Some((number.parse().ok()?, unit.trim()))
}

/// A size flag: `256MiB`, `8M`, `1GiB`, `4096` (bytes); KiB to TiB, powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (n, unit) =
        number_and_unit(text).ok_or_else(|| format!("{text:?} is not a size like 256MiB"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("{text:?}: unknown unit (use KiB, MiB, GiB)")),
    };
    n.checked_mul(mult)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("{text:?} is out of range"))
}

/// A duration flag: a number and a unit, `s`, `m`, `h`, `d` or `w` (`26h`,
/// `2d`, `90m`; no unit: seconds).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let (n, unit) = number_and_unit(text)
        .ok_or_else(|| format!("{text:?} is not a duration like 26h or 2d"))?;
    let seconds: u64 = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use s, m, h, d or w)"
            ))
        }
    };
    n.checked_mul(seconds)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is out of range"))
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
    pub fn pacer(&self) -> Option<std::sync::Arc<crate::pace::Pacer>> {
        crate::pace::Pacer::new(self.max_rows_per_second, self.max_bytes_per_second)
            .map(std::sync::Arc::new)
    }
}

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

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("8m"), Ok(8 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
    }

    #[test]
    fn durations_take_the_usual_units() {
        assert_eq!(parse_duration("26h").unwrap().as_secs(), 26 * 3600);
        assert_eq!(parse_duration("2d").unwrap().as_secs(), 172_800);
        assert_eq!(parse_duration("90m").unwrap().as_secs(), 5400);
        assert_eq!(parse_duration("3600").unwrap().as_secs(), 3600);
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3y").is_err());
    }
}
