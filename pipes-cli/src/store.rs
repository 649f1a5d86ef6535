//! Object storage on the command line: the connection flags every tool
//! shares, and what the four s3 tools share besides (transfer flags, their
//! `main`).

use crate::exit::{self, Exit};
use crate::units::parse_size;
use object_storage::StoreConfig;
use std::process::ExitCode;
use std::time::Duration;

/// Environment variables read by the tools (besides the backends' own
/// `AWS_*`, `GOOGLE_*`, `AZURE_*`).
pub mod env {
    /// Custom S3 endpoint.
    pub const ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
    /// Region.
    pub const REGION: &str = "AWS_REGION";
    /// Default `--part-size`.
    pub const PART_SIZE: &str = "S3_PIPES_PART_SIZE";
    /// Default `--concurrency`.
    pub const CONCURRENCY: &str = "S3_PIPES_CONCURRENCY";
    /// Default `--max-retries`.
    pub const MAX_RETRIES: &str = "S3_PIPES_MAX_RETRIES";
}

/// Where the store is and how hard to try.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// S3 endpoint for MinIO, Ceph, SeaweedFS... (path-style addressing;
    /// http:// is allowed). Credentials come from AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE and the shared
    /// files, web identity or instance metadata — never from the command line.
    #[arg(long, env = env::ENDPOINT_URL, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Region of the bucket.
    #[arg(long, env = env::REGION)]
    pub region: Option<String>,

    /// Retries per request (part, chunk, listing...) on 5xx, SlowDown,
    /// timeouts and connection resets, with exponential backoff and jitter.
    #[arg(long, env = env::MAX_RETRIES, default_value_t = 10, value_name = "N")]
    pub max_retries: usize,

    /// Stop retrying one request after this many seconds.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub retry_timeout: u64,

    /// Timeout of one HTTP request (one whole part or chunk), in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub timeout: u64,
}

impl ConnectionArgs {
    /// The store configuration these flags describe.
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            endpoint_url: self.endpoint_url.clone().filter(|s| !s.is_empty()),
            region: self.region.clone().filter(|s| !s.is_empty()),
            max_retries: self.max_retries,
            retry_timeout: Duration::from_secs(self.retry_timeout),
            timeout: Duration::from_secs(self.timeout),
            ..StoreConfig::default()
        }
    }
}

/// Part size and parallelism (memory use is about their product).
#[derive(Debug, Clone, clap::Args)]
pub struct TransferArgs {
    /// Bytes per part / ranged request (5MiB..5GiB). Objects written by
    /// s3-put can be at most 10,000 parts: 16MiB parts allow 156 GiB.
    #[arg(long, env = env::PART_SIZE, default_value = "16MiB", value_name = "SIZE", value_parser = parse_size)]
    pub part_size: u64,

    /// Parts in flight (and in memory) at once.
    #[arg(long, env = env::CONCURRENCY, default_value_t = 4, value_name = "N")]
    pub concurrency: usize,
}

/// `-q` / `-v`.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Verbosity {
    /// No progress and no warnings on stderr (errors are still printed).
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print a one-line JSON summary on stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

/// Runs a tool's `run` on a Tokio runtime and turns its result into an exit
/// status: a broken pipe ends quietly (141, as a shell reports a producer
/// its reader left), other errors print once as `TOOL: error: chain` with a
/// hint where one helps.
pub fn main_with<F>(tool: &str, run: F) -> ExitCode
where
    F: std::future::Future<Output = anyhow::Result<Exit>>,
{
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{tool}: error: cannot start the async runtime: {e}");
            return Exit::Failure.into();
        }
    };
    let res = rt.block_on(run);
    // Do not wait for a reader thread blocked on stdin.
    rt.shutdown_background();
    match res {
        Ok(code) => code.into(),
        Err(err) => report(tool, &err).into(),
    }
}

/// Prints `err` (unless it is a broken pipe) and picks the exit status.
pub fn report(tool: &str, err: &anyhow::Error) -> Exit {
    let status = exit::for_error(err);
    if status == Exit::BrokenPipe {
        return status;
    }
    // object_store's messages repeat their sources: print each text once.
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let m = cause.to_string();
        if !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
    }
    eprintln!("{tool}: error: {}", parts.join(": "));
    let lib = err
        .chain()
        .find_map(|c| c.downcast_ref::<object_storage::Error>());
    if let Some(hint) = lib.and_then(hint) {
        eprintln!("hint: {hint}");
    }
    status
}

fn hint(e: &object_storage::Error) -> Option<&'static str> {
    use object_storage::Error as E;
    let text = format!("{e:?}");
    let url = match e {
        E::Setup { url, .. }
        | E::Store { url, .. }
        | E::Part { url, .. }
        | E::Chunk { url, .. } => url.as_str(),
        _ => "",
    };
    let creds = match url.split("://").next().unwrap_or("") {
        "gs" => "set GOOGLE_SERVICE_ACCOUNT (or GOOGLE_APPLICATION_CREDENTIALS) to a service-account key file",
        "az" | "azure" | "abfs" | "abfss" | "adl" => {
            "set AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_SAS_KEY / AZURE_CLIENT_ID...)"
        }
        _ => "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE, AWS_REGION / --region and AWS_ENDPOINT_URL / --endpoint-url",
    };
    let refused = text.contains("403")
        || text.contains("401")
        || text.contains("AccessDenied")
        || text.contains("SignatureDoesNotMatch")
        || text.contains("InvalidAccessKeyId");
    match e {
        E::Setup { .. } => Some(creds),
        E::Store { .. } | E::Part { .. } | E::Chunk { .. } if refused => Some(match creds {
            c if c.starts_with("check AWS") => {
                "the store refused the credentials: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE and the bucket policy"
            }
            c => c,
        }),
        E::Store { .. } | E::Part { .. } | E::Chunk { .. } if text.contains("NoSuchBucket") => {
            Some("the bucket does not exist (or the endpoint/region is wrong)")
        }
        E::ChecksumMismatch { .. } => Some(
            "retry the download; if it fails again the stored object is damaged: restore from another copy",
        ),
        _ => None,
    }
}
