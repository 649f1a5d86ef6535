//! `milvus-dump`: export Milvus collections as a self-describing stream or a backup set.

use pipes_cli::Exit;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use milvus_dump::dump::{self, Destination, DumpOptions};
use milvus_dump::sink::{Format, PartLimits, DEFAULT_PART_BYTES};
use milvus_wire::Milvus;
use pipes_cli::milvus::ConnectArgs;
use pipes_cli::units::parse_size;

/// Export Milvus collections — schema, indexes, partitions, every field type —
/// as a self-describing JSONL or Parquet stream on stdout, or as a backup set.
#[derive(Debug, Parser)]
#[command(
    version = pipes_cli::VERSION,
    after_help = Exit::help(pipes_cli::exit::MILVUS_DUMP),
    after_long_help = manual()
)]
struct Args {
    #[command(flatten)]
    connect: ConnectArgs,

    #[command(
        flatten,
        next_help_heading = "Object storage (s3://, gs://, az:// --out-dir)"
    )]
    store: pipes_cli::store::ConnectionArgs,

    /// Collection to dump (repeat for several; several need --out-dir).
    #[arg(short = 'c', long = "collection", value_name = "NAME")]
    collections: Vec<String>,

    /// Dump every collection of the database (needs --out-dir).
    #[arg(long, conflicts_with = "collections")]
    all: bool,

    /// List the database's collections with their row counts, and exit.
    #[arg(long)]
    list: bool,

    /// Print only the header (schema, indexes, partitions, ...), one JSON line.
    #[arg(long)]
    schema_only: bool,

    /// Stream format.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,

    /// Write the stream to FILE ('-': stdout), a path or an object URL
    /// (s3://bucket/key, ...); FILE appears only when complete, and never
    /// over an existing file or object (see --overwrite).
    #[arg(short = 'o', long, value_name = "FILE", conflicts_with = "out_dir")]
    output: Option<String>,

    /// Let -o FILE replace an existing file or object.
    #[arg(long, requires = "output")]
    overwrite: bool,

    /// Write a backup set: DIR/<collection>/part-NNNNN.<ext> and
    /// DIR/manifest.json (last, never over an existing one). DIR is a local
    /// directory or an object-store prefix (s3://bucket/prefix/, gs://, az://,
    /// file://): parts stream straight into it, nothing is staged on disk.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<String>,

    /// Rows per part in a backup set.
    #[arg(long, value_name = "N", requires = "out_dir")]
    part_rows: Option<u64>,

    /// Bytes per part (before compression); default 32MiB when neither
    /// limit is given. milvus-load reads a part of up to 96 MiB from object
    /// storage once, in memory; a larger part is read twice (checksum, then rows).
    #[arg(long, value_name = "SIZE", requires = "out_dir", value_parser = parse_size)]
    part_bytes: Option<u64>,

    #[command(flatten, next_help_heading = "Load on the server")]
    throttle: pipes_cli::milvus::ThrottleArgs,

    /// Continue an interrupted backup set in --out-dir from its last complete part.
    #[arg(long, requires = "out_dir")]
    resume: bool,

    /// Dump the K-th of N primary-key ranges (K = 0..N-1) into --out-dir, a
    /// set the other N-1 shards write too (one process each, e.g. the pods of
    /// an Indexed Job). Shard 0 cuts the ranges (equal rows) at one
    /// snapshot; the shard that finishes last writes the manifest.
    #[arg(long, value_name = "K/N", requires = "out_dir",
          conflicts_with_all = ["list", "schema_only"])]
    shard: Option<milvus_dump::shard::Shard>,

    /// Write the manifest of a sharded set in --out-dir whose shards have
    /// all finished (exit 11 naming the shards still missing), and exit.
    /// Needs no server; what to dump and how is the set's already.
    #[arg(long, requires = "out_dir", conflicts_with_all = [
        "shard", "resume", "collections", "all", "list", "schema_only",
        "format", "zstd", "filter", "partitions", "fields",
    ])]
    finish: bool,

    /// Compress with zstd (optionally at LEVEL, 1-22; default 3): JSONL as a
    /// zstd frame (`.jsonl.zst`), Parquet with its own zstd codec on every
    /// column chunk (still a `.parquet` file, readable by Milvus's Import).
    #[arg(long, value_name = "LEVEL", num_args = 0..=1, default_missing_value = "3",
          value_parser = clap::value_parser!(i32).range(1..=22))]
    zstd: Option<i32>,

    /// Only rows matching this Milvus filter expression.
    #[arg(long, value_name = "EXPR")]
    filter: Option<String>,

    /// Only these partitions (repeatable).
    #[arg(long = "partition", value_name = "NAME")]
    partitions: Vec<String>,

    /// Only these fields (comma-separated; the primary key is always kept).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    fields: Vec<String>,

    /// Flush the collection first (seal growing segments; before CSI snapshots).
    #[arg(long)]
    flush: bool,

    /// Flush the collections (-c, or --all) and exit without dumping: seals
    /// growing segments before a CSI volume snapshot.
    #[arg(long, conflicts_with_all = ["output", "out_dir", "schema_only", "list"])]
    flush_only: bool,

    /// Exit 7 when rows changed during the dump on a server that cannot pin a snapshot.
    #[arg(long)]
    strict_snapshot: bool,

    /// Read this many pages at once, each on its own connection (2 measured
    /// best on a 2-core host shared with the server); the output stays in key order.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    jobs: u64,

    /// Fixed page size in rows instead of the adaptive one (1-16384).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=16384))]
    page_rows: Option<u64>,

    /// No progress and no summary on stderr (errors still).
    #[arg(short, long)]
    quiet: bool,

    /// Also write the JSON summary to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// The sections `--help` ends with.
fn manual() -> String {
    pipes_cli::manual::Manual {
        examples: pipes_cli::manual::examples::MILVUS_DUMP,
        environment: &[
            pipes_cli::manual::MILVUS_ENVIRONMENT,
            pipes_cli::manual::STORAGE_ENVIRONMENT,
        ],
        exit_codes: pipes_cli::exit::MILVUS_DUMP,
        exit_note: None,
        see_also: &["milvus-load", "backup-verify", "s3-put"],
    }
    .render()
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code.into(),
        Err(err) => {
            let status = pipes_cli::exit::for_error(&err);
            if status != Exit::BrokenPipe {
                eprintln!("milvus-dump: error: {err:#}");
            }
            status.into()
        }
    }
}

fn run(args: Args) -> anyhow::Result<Exit> {
    let runtime = pipes_cli::runtime::runtime()?;
    let result = runtime.block_on(run_async(args));
    // After a signal, writers still remove their unfinished files: a few
    // seconds for that, never forever (a thread blocked on a stalled pipe).
    runtime.shutdown_timeout(Duration::from_secs(10));
    result
}

async fn run_async(args: Args) -> anyhow::Result<Exit> {
    if let (true, Some(dir)) = (args.finish, &args.out_dir) {
        let dir = locations::location::set_dir(dir, &args.store.store_config())?;
        milvus_dump::shard::finish(&dir).await?;
        return Ok(Exit::Ok);
    }
    let options = args.connect.options()?;
    let client = Milvus::connect(&options).await?;

    if args.list {
        let mut out = std::io::stdout().lock();
        for name in client.list_collections().await? {
            let rows = client.statistics_row_count(&name).await?;
            writeln!(out, "{name}\t{rows}")?;
        }
        return Ok(Exit::Ok);
    }

    let collections = if args.all {
        let mut names = client.list_collections().await?;
        names.sort();
        if names.is_empty() {
            return Err(Exit::NotFound.because(anyhow::anyhow!(
                "database {:?} has no collections",
                args.connect.db.as_deref().unwrap_or("default")
            )));
        }
        names
    } else if args.collections.is_empty() {
        return Err(Exit::Usage.because(anyhow::anyhow!(
            "name a collection with -c NAME (or --all, or --list)"
        )));
    } else {
        args.collections.clone()
    };

    if args.flush_only {
        for name in &collections {
            // Some servers (Milvus Lite 3) flush an unknown name without a word.
            if !client.has_collection(name).await? {
                return Err(
                    Exit::NotFound.because(anyhow::anyhow!("collection {name:?} does not exist"))
                );
            }
            client.flush(name, Duration::from_secs(600)).await?;
            if !args.quiet {
                let rows = client.statistics_row_count(name).await?;
                eprintln!("milvus-dump: flushed {name} ({rows} rows)");
            }
        }
        return Ok(Exit::Ok);
    }

    let destination = match (&args.out_dir, &args.output) {
        (Some(dir), _) => Destination::Set {
            dir: locations::location::set_dir(dir, &args.store.store_config())?,
            limits: PartLimits {
                rows: args.part_rows,
                bytes: args.part_bytes.or(if args.part_rows.is_none() {
                    Some(DEFAULT_PART_BYTES)
                } else {
                    None
                }),
            },
        },
        (None, Some(location)) if location != "-" => Destination::File(location.clone()),
        _ => Destination::Stdout,
    };
    let dump_options = DumpOptions {
        collections,
        format: args.format,
        zstd: args.zstd,
        destination,
        filter: args.filter.clone().unwrap_or_default(),
        partitions: args.partitions.clone(),
        fields: args.fields.clone(),
        flush: args.flush,
        page_rows: args.page_rows.map(|n| n as usize),
        progress: !args.quiet,
        jobs: args.jobs as usize,
        connect: options.clone(),
        resume: args.resume,
        store: args.store.store_config(),
        pacer: args.throttle.pacer(),
        overwrite: args.overwrite,
        shard: args.shard,
    };

    if args.schema_only {
        let mut out = std::io::stdout().lock();
        for name in &dump_options.collections {
            let (header, _) = dump::describe(&client, name, &dump_options).await?;
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({ record_stream::header::HEADER_KEY: header }),
            )?;
            writeln!(out)?;
        }
        return Ok(Exit::Ok);
    }

    // SIGINT/SIGTERM (Kubernetes stops a pod with SIGTERM): the dump stops
    // at its next await; unfinished files are removed, uploads aborted.
    let interrupt = object_storage::signals::Interrupt::install()?;
    let outcome = interrupt
        .until_signal(dump::run(&client, &dump_options))
        .await;
    // The dump's future is dropped here: its writers end, unfinished.
    let summary = match outcome {
        Ok(summary) => summary?,
        Err(signal) => {
            dump::release_after_interrupt(&client).await;
            let ended = locations::write::uploads_ended(Duration::from_secs(30)).await;
            let kept = match &dump_options.destination {
                Destination::Set { dir, .. } => format!(
                    "the set {} is incomplete: its complete parts are kept; continue with: {}",
                    dir.url(""),
                    pipes_cli::command_line_with("--resume")
                ),
                Destination::File(location) => {
                    format!("{location} is not written (its unfinished copy is removed)")
                }
                Destination::Stdout => {
                    "the stream on stdout ends without its trailer: readers refuse it".into()
                }
            };
            let open = if ended {
                ""
            } else {
                "; some multipart uploads may still be open (the bucket's lifecycle rule for incomplete uploads removes them)"
            };
            eprintln!("milvus-dump: interrupted ({signal}): {kept}{open}");
            return Ok(Exit::for_signal(signal));
        }
    };
    let line = serde_json::to_string(&summary)?;
    if let Some(path) = &args.report {
        std::fs::write(path, format!("{line}\n"))
            .with_context(|| format!("cannot write report {}", path.display()))?;
    }
    if !args.quiet {
        eprintln!("{line}");
    }
    let concurrent = summary
        .collections
        .iter()
        .filter(|c| c.concurrent_writes)
        .collect::<Vec<_>>();
    for c in &concurrent {
        eprintln!(
            "milvus-dump: warning: {}: rows changed during the dump (count {} before, {} after, {} written) and the server cannot pin a snapshot",
            c.name, c.count_before, c.count_after, c.rows + c.resumed_rows
        );
    }
    if args.strict_snapshot && !concurrent.is_empty() {
        return Ok(Exit::Changed);
    }
    Ok(Exit::Ok)
}
