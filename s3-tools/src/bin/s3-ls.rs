//! `s3-ls URL`: list a prefix (see `s3-ls --help`).

use clap::Parser;
use object_storage::listing::list;
use object_storage::{Location, Store};
use pipes_cli::store::{main_with, ConnectionArgs};
use pipes_cli::Exit;
use std::io::Write;
use std::process::ExitCode;

/// List objects under a prefix: `LAST_MODIFIED  SIZE  URL` per line (UTC,
/// bytes), `PRE URL/` for sub-prefixes; sorted by key.
///
/// Prefixes match whole path segments: s3://b/backups/2026 lists
/// backups/2026/..., not backups/2026-11-24/.... A URL naming one object
/// lists that object; nothing found exits 3.
#[derive(Debug, Parser)]
#[command(
    name = "s3-ls",
    version = pipes_cli::VERSION,
    after_help = pipes_cli::Exit::help(pipes_cli::exit::S3_LS),
    after_long_help = pipes_cli::manual::s3_tool(
        "s3-ls",
        pipes_cli::manual::examples::S3_LS,
        pipes_cli::exit::S3_LS
    )
)]
struct Args {
    /// s3://bucket[/prefix], gs://..., az://..., file:///dir or a path.
    url: String,

    /// List everything below the prefix, not just its direct children.
    #[arg(short, long)]
    recursive: bool,

    /// One JSON object per line: {"url","key","size","last_modified","etag"}
    /// or {"prefix"}.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    connection: ConnectionArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    main_with("s3-ls", run(args))
}

async fn run(args: Args) -> anyhow::Result<Exit> {
    let location = Location::parse(&args.url)?;
    let store = Store::open(&location, &args.connection.store_config())?;
    let entries = list(&store, args.recursive).await?;
    if entries.is_empty() {
        eprintln!("s3-ls: nothing under {location}");
        return Ok(Exit::NotFound);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for e in &entries {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(e)?)?;
        } else {
            writeln!(out, "{}", e.text())?;
        }
    }
    out.flush()?;
    Ok(Exit::Ok)
}
