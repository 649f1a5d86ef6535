//! `s3-get URL [-o FILE]`: one object → stdout or a file (see `s3-get --help`).

use clap::Parser;
use object_storage::download::{download, ByteRange, DownloadOptions, Output, Verification};
use object_storage::progress::Progress;
use object_storage::{Location, Store};
use pipes_cli::store::{main_with, ConnectionArgs, TransferArgs, Verbosity};
use pipes_cli::Exit;
use std::path::PathBuf;
use std::process::ExitCode;

/// Download one object to standard output or a file.
///
/// Ranged requests in parallel (--part-size × --concurrency in memory),
/// reassembled in order. The sha256 stored by s3-put (object metadata or the
/// KEY.sha256 sidecar) is checked: on a mismatch the data has already been
/// written (stdout) or is kept as FILE.partial, and the exit status is 5.
/// With -o FILE the file appears only when complete and verified.
#[derive(Debug, Parser)]
#[command(
    name = "s3-get",
    version = pipes_cli::VERSION,
    after_help = pipes_cli::Exit::help(pipes_cli::exit::S3_GET),
    after_long_help = pipes_cli::manual::s3_tool(
        "s3-get",
        pipes_cli::manual::examples::S3_GET,
        pipes_cli::exit::S3_GET
    )
)]
struct Args {
    /// Source: s3://bucket/key, gs://..., az://..., file:///path or a path.
    url: String,

    /// Write to FILE instead of standard output (`-` is standard output).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Only these bytes: START-END (inclusive), START- or -LAST_N. A range
    /// cannot be checked against the whole object's sha256.
    #[arg(long, value_name = "RANGE")]
    range: Option<ByteRange>,

    /// Do not check the stored sha256.
    #[arg(long)]
    no_verify: bool,

    /// With -o FILE: flush the file to disk (fsync) before it is renamed into
    /// place, so it survives a power loss once s3-get has exited 0.
    #[arg(long, requires = "output")]
    fsync: bool,

    #[command(flatten)]
    transfer: TransferArgs,

    #[command(flatten)]
    connection: ConnectionArgs,

    #[command(flatten)]
    verbosity: Verbosity,
}

fn main() -> ExitCode {
    let args = Args::parse();
    main_with("s3-get", run(args))
}

async fn run(args: Args) -> anyhow::Result<Exit> {
    let location = Location::parse(&args.url)?;
    let store = Store::open(&location, &args.connection.store_config())?;
    let binary = !object_storage::checksum::is_sidecar(&location.key);
    if args.output.is_none() && binary && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        eprintln!(
            "s3-get: error: standard output is a terminal; redirect or pipe it, or use -o FILE (-o - to write here anyway)"
        );
        return Ok(Exit::Usage);
    }
    let output = match &args.output {
        None => Output::Stdout,
        Some(p) if p.as_os_str() == "-" => Output::Stdout,
        Some(p) => Output::File(p.clone()),
    };
    let opts = DownloadOptions {
        chunk_size: args.transfer.part_size,
        concurrency: args.transfer.concurrency,
        range: args.range,
        verify: !args.no_verify,
        fsync: args.fsync,
    };
    let progress = Progress::new(!args.verbosity.quiet);
    progress.spawn("s3-get");
    let res = download(&store, &output, &opts, &progress).await;
    progress.finish();
    let summary = res?;
    // A sidecar on file:// has no digest of its own: nothing to warn about.
    if summary.verified == Verification::NoChecksum && !args.verbosity.quiet && binary {
        eprintln!(
            "s3-get: warning: {} has no stored sha256 (no metadata, no .sha256 sidecar): not verified",
            summary.url
        );
    }
    if args.verbosity.verbose {
        eprintln!("{}", serde_json::to_string(&summary)?);
    }
    Ok(Exit::Ok)
}
