//! `s3-put URL`: standard input → one object (see `s3-put --help`).

use anyhow::Context;
use clap::Parser;
use object_storage::progress::Progress;
use object_storage::signals::Interrupt;
use object_storage::store::Sse;
use object_storage::upload::{upload, UploadOptions};
use object_storage::{Location, Store};
use pipes_cli::store::{main_with, ConnectionArgs, TransferArgs, Verbosity};
use pipes_cli::Exit;
use std::io::Write;
use std::process::ExitCode;

/// Stream standard input into one object, in bounded memory.
///
/// Multipart upload (--part-size × --concurrency in memory), sha256 and byte
/// count computed while streaming and stored with the object (metadata for
/// one-part streams, and a KEY.sha256 sidecar for all), a one-line JSON
/// receipt on stdout. Empty input, a read error, SIGINT or SIGTERM abort the
/// upload: nothing appears under the key.
///
/// Note: a writer killed upstream looks like a normal end of input to every
/// pipe reader; use `set -o pipefail` and a format with a trailer (the record
/// stream has one) to catch truncation.
#[derive(Debug, Parser)]
#[command(
    name = "s3-put",
    version = pipes_cli::VERSION,
    after_help = pipes_cli::Exit::help(pipes_cli::exit::S3_PUT),
    after_long_help = pipes_cli::manual::s3_tool(
        "s3-put",
        pipes_cli::manual::examples::S3_PUT,
        pipes_cli::exit::S3_PUT
    )
)]
struct Args {
    /// Destination: s3://bucket/key, gs://bucket/key, az://container/key,
    /// file:///path or a local path.
    url: String,

    #[command(flatten)]
    transfer: TransferArgs,

    /// Never overwrite: fail (exit 4) if the key exists, checked before
    /// reading and again, atomically, when the upload completes.
    #[arg(long)]
    if_none_match: bool,

    /// Content-Type of the object.
    #[arg(long, value_name = "TYPE")]
    content_type: Option<String>,

    /// User metadata (x-amz-meta-KEY), repeatable.
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_kv)]
    metadata: Vec<(String, String)>,

    /// Storage class (STANDARD, STANDARD_IA, GLACIER_IR, ...).
    #[arg(long, value_name = "CLASS")]
    storage_class: Option<String>,

    /// Server-side encryption (s3:// only).
    #[arg(long, value_enum, value_name = "AES256|aws:kms")]
    sse: Option<Sse>,

    /// KMS key id or ARN for --sse aws:kms (default: the account's S3 key).
    #[arg(long, value_name = "KEY_ID", requires = "sse")]
    sse_kms_key_id: Option<String>,

    /// Store an empty object when standard input is empty (default: exit 6).
    #[arg(long)]
    allow_empty: bool,

    /// Do not write the KEY.sha256 sidecar object.
    #[arg(long)]
    no_sidecar: bool,

    #[command(flatten)]
    connection: ConnectionArgs,

    #[command(flatten)]
    verbosity: Verbosity,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected KEY=VALUE"))?;
    Ok((k.trim().to_string(), v.to_string()))
}

fn main() -> ExitCode {
    let args = Args::parse();
    main_with("s3-put", run(args))
}

async fn run(args: Args) -> anyhow::Result<Exit> {
    let interrupt = Interrupt::install().context("installing signal handlers")?;
    let location = Location::parse(&args.url)?;
    let mut config = args.connection.store_config();
    config.create_only = args.if_none_match;
    config.sse = args.sse;
    config.sse_kms_key_id = args.sse_kms_key_id.clone();
    let store = Store::open(&location, &config)?;
    let mut opts = UploadOptions {
        part_size: args.transfer.part_size,
        concurrency: args.transfer.concurrency,
        create_only: args.if_none_match,
        content_type: args.content_type.clone(),
        metadata: args.metadata.clone(),
        storage_class: args.storage_class.clone(),
        allow_empty: args.allow_empty,
        sidecar: !args.no_sidecar,
    };
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!(
            "s3-put: error: standard input is a terminal; pipe the data in: producer | s3-put {}",
            args.url
        );
        return Ok(Exit::Usage);
    }
    let input = {
        use std::os::fd::AsFd;
        let fd = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .context("opening standard input")?;
        std::fs::File::from(fd)
    };
    // Input redirected from a file: its size is known, so make sure it fits
    // in S3's 10,000 parts instead of failing after 10,000 of them.
    if let Ok(meta) = input.metadata() {
        if meta.is_file() && opts.fit_size(meta.len()) && !args.verbosity.quiet {
            eprintln!(
                "s3-put: note: input is {}: --part-size raised to {} to fit 10,000 parts",
                object_storage::size::human(meta.len()),
                object_storage::size::human(opts.part_size)
            );
        }
    }
    let progress = Progress::new(!args.verbosity.quiet);
    progress.spawn("s3-put");
    let res = upload(&store, input, &opts, &progress, &interrupt).await;
    progress.finish();
    let receipt = res?;
    let line = serde_json::to_string(&receipt)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    if args.verbosity.verbose {
        eprintln!("{line}");
    }
    Ok(Exit::Ok)
}
