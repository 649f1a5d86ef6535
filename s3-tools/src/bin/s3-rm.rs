//! `s3-rm URL...`: delete objects or prefixes (see `s3-rm --help`).

use clap::Parser;
use object_storage::remove::{delete, plan};
use object_storage::{Location, Store};
use pipes_cli::store::{main_with, report, ConnectionArgs};
use pipes_cli::Exit;
use std::io::Write;
use std::process::ExitCode;

/// Delete objects (with their KEY.sha256 sidecars), or with --recursive
/// everything under a prefix. Prints each deleted URL on stdout.
///
/// A missing object is an error (exit 3) unless --recursive; a whole bucket
/// is never deleted. Use --dry-run first: it prints what would go.
#[derive(Debug, Parser)]
#[command(
    name = "s3-rm",
    version = pipes_cli::VERSION,
    after_help = pipes_cli::Exit::help(pipes_cli::exit::S3_RM),
    after_long_help = pipes_cli::manual::s3_tool(
        "s3-rm",
        pipes_cli::manual::examples::S3_RM,
        pipes_cli::exit::S3_RM
    )
)]
struct Args {
    /// Objects (s3://bucket/key...) or, with --recursive, prefixes.
    #[arg(required = true)]
    urls: Vec<String>,

    /// Delete everything under each URL (prefixes match whole segments).
    #[arg(short, long)]
    recursive: bool,

    /// Print what would be deleted; delete nothing.
    #[arg(short = 'n', long)]
    dry_run: bool,

    #[command(flatten)]
    connection: ConnectionArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    main_with("s3-rm", run(args))
}

async fn run(args: Args) -> anyhow::Result<Exit> {
    let config = args.connection.store_config();
    let mut status = Exit::Ok;
    let mut total = 0u64;
    for url in &args.urls {
        let res = async {
            let location = Location::parse(url)?;
            let store = Store::open(&location, &config)?;
            let keys = plan(&store, args.recursive).await?;
            if args.dry_run {
                let mut out = std::io::stdout().lock();
                for k in &keys {
                    writeln!(out, "{}", store.url_of(k))?;
                }
                eprintln!(
                    "s3-rm: dry run: would delete {} object(s) for {location}",
                    keys.len()
                );
                return Ok::<u64, anyhow::Error>(0);
            }
            let mut write_err = None;
            let n = delete(&store, keys, |u| {
                if let Err(e) = writeln!(std::io::stdout().lock(), "{u}") {
                    write_err.get_or_insert(e);
                }
            })
            .await?;
            if let Some(e) = write_err {
                return Err(e.into());
            }
            Ok(n)
        }
        .await;
        match res {
            Ok(n) => total += n,
            Err(e) => {
                let code = report("s3-rm", &e);
                if code == Exit::BrokenPipe {
                    return Ok(code);
                }
                if status == Exit::Ok || code == Exit::Failure {
                    status = code;
                }
            }
        }
    }
    if !args.dry_run && args.urls.len() > 1 {
        eprintln!("s3-rm: deleted {total} object(s)");
    }
    Ok(status)
}
