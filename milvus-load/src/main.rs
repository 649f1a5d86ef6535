//! `milvus-load`: recreate a collection from a milvus-dump stream, a backup
//! set, or Milvus bulk-import rows, and insert the rows.

use pipes_cli::Exit;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use locations::Spool;
use milvus_load::import::ImportWhen;
use milvus_load::load::{self, IfExists, LoadOptions};
use pipes_cli::milvus::ConnectArgs;
use pipes_cli::units::parse_size;

/// Restore a Milvus collection from a milvus-dump stream (JSONL or Parquet,
/// optionally zstd), a backup-set directory, or headerless rows (JSONL as an
/// ingestion pipeline writes them, Milvus bulk-import Parquet).
#[derive(Debug, Parser)]
#[command(
    version = pipes_cli::VERSION,
    after_help = Exit::help(pipes_cli::exit::MILVUS_LOAD),
    after_long_help = manual()
)]
struct Args {
    #[command(flatten)]
    connect: ConnectArgs,

    #[command(
        flatten,
        next_help_heading = "Object storage (s3://, gs://, az:// locations)"
    )]
    store: pipes_cli::store::ConnectionArgs,

    /// What to load: a stream (a file or an object URL), a backup set (a
    /// directory or an object prefix: s3://bucket/prefix/), or '-' for stdin.
    #[arg(value_name = "INPUT", default_value = "-")]
    input: String,

    /// Target collection (default: the dumped collection's name).
    #[arg(short = 'c', long = "collection", value_name = "NAME")]
    collection: Option<String>,

    /// The collection to restore from a backup set that holds several.
    #[arg(long, value_name = "NAME")]
    pick: Option<String>,

    /// What to do when the target exists (default: refuse).
    #[arg(long, value_enum, default_value_t = IfExists::Fail)]
    if_exists: IfExists,

    /// After loading and verifying the row count, point ALIAS at the collection.
    #[arg(long, value_name = "ALIAS")]
    alias: Option<String>,

    /// Recreate the aliases the dumped collection had.
    #[arg(long)]
    restore_aliases: bool,

    /// Schema for headerless input: a header saved with `milvus-dump --schema-only`.
    #[arg(long = "schema", value_name = "FILE")]
    schema_file: Option<PathBuf>,

    /// Do not load the collection into memory at the end.
    #[arg(long)]
    no_load: bool,

    /// Let Milvus assign new ids to an auto-id primary key (the dumped ids are dropped).
    #[arg(long)]
    new_ids: bool,

    /// Index type to use where the target server refuses the recorded one (e.g. AUTOINDEX).
    #[arg(long, value_name = "TYPE")]
    index_fallback: Option<String>,

    /// Print what would be created and how many rows would be loaded; write nothing.
    #[arg(long)]
    dry_run: bool,

    /// Continue an interrupted load of this backup set into the collection
    /// it created (marked by the load; anything else is refused): parts
    /// already in (counted by key range) are skipped, a part cut midway gets
    /// only its missing rows. Nothing is deleted.
    #[arg(long)]
    resume: bool,

    /// Prove every part of a backup set against its manifest before
    /// creating anything. Without it, each part is proven as it is read
    /// (read once), and a load that meets a corrupt part drops the
    /// collection it created. Loads into an existing collection (append,
    /// upsert, --resume) always prove the whole set first.
    #[arg(long)]
    verify_first: bool,

    /// Restore through Milvus's Import: the server's data nodes read the
    /// set's Parquet parts from its own storage (its bucket, or a
    /// standalone's local storage directory), no row passes through this
    /// process. Refused, before anything is created, where the server has
    /// no Import or the set cannot be imported (JSONL parts, a stream, rows
    /// of several partitions in one part, an auto-id key, upsert); with
    /// `auto`, the rows are inserted instead, and the summary says why.
    /// Each part's row count is checked; checksums are proven only with
    /// --verify-first (or into an existing collection), since the server,
    /// not this process, reads the bytes.
    #[arg(long, value_name = "WHEN", num_args = 0..=1, require_equals = true,
          default_missing_value = "always", value_enum)]
    import: Option<ImportWhen>,

    /// What to strip from the set's location to get the paths the server
    /// reads. Default: the bucket for a URL (s3://BUCKET/, the server's
    /// paths are keys in its bucket), nothing for a local path (made
    /// absolute: a standalone with local storage reads absolute paths).
    #[arg(long, value_name = "PREFIX", requires = "import")]
    import_root: Option<String>,

    #[command(flatten, next_help_heading = "Load on the server")]
    throttle: pipes_cli::milvus::ThrottleArgs,

    /// Insert requests in flight, each on its own connection (with
    /// --import: import tasks in flight).
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,

    /// Pin the size of one insert request (e.g. 1MiB). By default sizes
    /// adapt to the server as the dump's pages do: from 1 MiB, grown while
    /// rows/s improves, up to 8 MiB; shrunk when a batch is slow.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    batch_bytes: Option<u64>,

    /// Attempts per batch on transient errors (rate limits, server unavailable).
    #[arg(long, value_name = "N", default_value_t = 8)]
    attempts: u32,

    /// Seconds to wait for index builds and for loading.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    wait: u64,

    /// Directory for spooled input (stdin with a header or Parquet on stdin,
    /// zstd-wrapped Parquet of older sets); default $TMPDIR.
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,

    /// Only point --alias at the existing collection -c NAME (after a check
    /// of your own, say) and exit; nothing is loaded.
    #[arg(long, requires_all = ["collection", "alias"], conflicts_with_all = ["if_exists", "resume", "dry_run", "drop"])]
    alias_only: bool,

    /// Drop collection -c NAME (a restore drill's scratch copy, say) and exit;
    /// nothing is loaded. Refused while an alias points at it.
    #[arg(long, requires = "collection", conflicts_with_all = ["if_exists", "alias", "resume", "dry_run"])]
    drop: bool,

    /// No progress lines.
    #[arg(short, long)]
    quiet: bool,

    /// Also write the JSON summary to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// The sections `--help` ends with.
fn manual() -> String {
    pipes_cli::manual::Manual {
        examples: pipes_cli::manual::examples::MILVUS_LOAD,
        environment: &[
            pipes_cli::manual::MILVUS_ENVIRONMENT,
            pipes_cli::manual::STORAGE_ENVIRONMENT,
            &[pipes_cli::manual::TMPDIR],
        ],
        exit_codes: pipes_cli::exit::MILVUS_LOAD,
        exit_note: None,
        see_also: &["milvus-dump", "backup-verify"],
    }
    .render()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let connect = match args.connect.options() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("milvus-load: {e:#}");
            return pipes_cli::exit::for_error(&e).into();
        }
    };
    let options = LoadOptions {
        location: args.input,
        pick: args.pick,
        spool: Spool {
            dir: args.spool_dir,
        },
        store: args.store.store_config(),
        target: args.collection,
        schema_file: args.schema_file,
        if_exists: args.if_exists,
        alias: args.alias,
        restore_aliases: args.restore_aliases,
        no_load: args.no_load,
        new_ids: args.new_ids,
        index_fallback: args.index_fallback,
        dry_run: args.dry_run,
        resume: args.resume,
        verify_first: args.verify_first,
        concurrency: usize::from(args.concurrency),
        batch_bytes: args.batch_bytes,
        attempts: args.attempts.max(1),
        progress: !args.quiet,
        wait: Duration::from_secs(args.wait),
        pacer: args.throttle.pacer(),
        import: args.import,
        import_root: args.import_root,
    };
    if options.import == Some(ImportWhen::Always)
        && (options.pacer.is_some() || options.batch_bytes.is_some())
    {
        eprintln!(
            "milvus-load: --max-rows-per-second, --max-bytes-per-second and --batch-bytes shape \
             inserts; with --import the server reads the rows (--import=auto keeps them for a fallback)"
        );
        return Exit::Usage.into();
    }
    let runtime = match pipes_cli::runtime::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("milvus-load: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.alias_only {
        let (name, alias) = (
            options.target.clone().unwrap_or_default(),
            options.alias.clone().unwrap_or_default(),
        );
        return match runtime.block_on(load::alias_only(&connect, &name, &alias)) {
            Ok(()) => {
                eprintln!("milvus-load: alias {alias:?} points at {name:?}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("milvus-load: {e:#}");
                exit_code(&e)
            }
        };
    }
    if args.drop {
        let name = options.target.clone().unwrap_or_default();
        return match runtime.block_on(load::drop_collection(&connect, &name)) {
            Ok(rows) => {
                eprintln!("milvus-load: dropped collection {name:?} ({rows} rows)");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("milvus-load: {e:#}");
                exit_code(&e)
            }
        };
    }
    // SIGINT/SIGTERM (Kubernetes stops a pod with SIGTERM): the load stops
    // at its next await, says what is committed and how to continue.
    let interrupt = match object_storage::signals::Interrupt::install() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("milvus-load: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let underway = load::Underway::default();
    let result = runtime.block_on(interrupt.until_signal(load::run(&connect, &options, &underway)));
    // Nothing to finish after a signal; a read blocked on stdin must not
    // hold the exit.
    runtime.shutdown_background();
    let result = match result {
        Ok(result) => result,
        Err(signal) => {
            eprintln!(
                "milvus-load: interrupted ({signal}): {}",
                underway.describe()
            );
            return Exit::for_signal(signal).into();
        }
    };
    match result {
        Ok(load::Outcome::DryRun(plan)) => {
            for warning in &plan.plan.warnings {
                eprintln!("milvus-load: warning: {warning}");
            }
            match serde_json::to_string_pretty(&plan) {
                Ok(text) => println!("{text}"),
                Err(e) => {
                    eprintln!("milvus-load: cannot print the plan: {e}");
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Ok(load::Outcome::Loaded(summary)) => {
            let line = serde_json::to_string(&summary).unwrap_or_default();
            for warning in &summary.warnings {
                eprintln!("milvus-load: warning: {warning}");
            }
            eprintln!("{line}");
            if let Some(path) = &args.report {
                if let Err(e) = std::fs::write(path, format!("{line}\n")) {
                    eprintln!("milvus-load: cannot write --report {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("milvus-load: {e:#}");
            exit_code(&e)
        }
    }
}

fn exit_code(e: &anyhow::Error) -> ExitCode {
    pipes_cli::exit::for_error(e).into()
}
