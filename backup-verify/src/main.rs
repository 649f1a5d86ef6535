//! `backup-verify`: prove a milvus-dump backup is complete, intact and
//! restorable. See the README's backup-verify section.

use pipes_cli::Exit;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use backup_verify::problem::{Kind, Problem};
use backup_verify::report::{CollectionSummary, Report};
use backup_verify::verify::{self, Options, Verified, VERIFIED_FILE};
use backup_verify::{live, metrics, sets};
use clap::Parser;
use locations::location::{self, Target};
use locations::{Dir, Spool};
use pipes_cli::milvus::ConnectArgs;

/// The exit statuses, and which wins when a verification finds several problems.
/// How several problems combine into one exit status.
const SEVERITY: &str =
    "Several problems: the most severe wins (10 > 11 > 13 > 12); 14 only when nothing else was found.";

fn exit_help() -> String {
    format!("{}{SEVERITY}", Exit::help(pipes_cli::exit::BACKUP_VERIFY))
}

/// The sections `--help` ends with.
fn manual() -> String {
    pipes_cli::manual::Manual {
        examples: pipes_cli::manual::examples::BACKUP_VERIFY,
        environment: &[
            pipes_cli::manual::MILVUS_ENVIRONMENT,
            pipes_cli::manual::STORAGE_ENVIRONMENT,
        ],
        exit_codes: pipes_cli::exit::BACKUP_VERIFY,
        exit_note: Some(SEVERITY),
        see_also: &["milvus-dump", "milvus-load"],
    }
    .render()
}

/// Prove a milvus-dump backup (a set, a stream, or every set under a root) is
/// complete, intact and restorable.
#[derive(Parser, Debug)]
#[command(
    name = "backup-verify",
    version = pipes_cli::VERSION,
    after_help = exit_help(),
    after_long_help = manual()
)]
struct Args {
    /// A backup-set directory, a stream file, `-` (stdin), or an object-store
    /// URL (s3://bucket/prefix/, file:///dir/); with --list/--max-age, the
    /// root holding dated sets.
    location: String,

    /// Check sizes and sha256 only; do not decode rows.
    #[arg(long, conflicts_with = "against")]
    checksums_only: bool,

    /// Compare with this live collection: row count and --sample rows by primary key.
    #[arg(long, value_name = "NAME")]
    against: Option<String>,

    /// Check only this collection of a set holding several (and compare it with --against).
    #[arg(long, value_name = "NAME")]
    pick: Option<String>,

    /// Rows sampled for --against.
    #[arg(long, value_name = "N", default_value_t = 100)]
    sample: usize,

    #[command(flatten)]
    connect: ConnectArgs,

    /// After a clean pass, write verified.json (this report) into the set.
    #[arg(long)]
    mark_verified: bool,

    /// List the dated sets under LOCATION (newest last): name, time, state,
    /// collections, rows, bytes, URL.
    #[arg(long)]
    list: bool,

    /// Fail (exit 12) if the newest complete set under LOCATION is older than
    /// this (e.g. 26h, 2d).
    #[arg(long, value_name = "DURATION", value_parser = pipes_cli::units::parse_duration)]
    max_age: Option<Duration>,

    /// The time to judge --max-age against (RFC 3339; default: now).
    #[arg(long, value_name = "TIME")]
    now: Option<String>,

    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,

    /// Write Prometheus metrics to FILE (atomically; for node_exporter's textfile collector).
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,

    /// Where Parquet that can be read only once (stdin, zstd-wrapped parts
    /// of older sets) is spooled while checked (default: $TMPDIR). Parts in
    /// object storage are read in place.
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,

    /// Parts hashed ahead of the one being decoded.
    #[arg(long, value_name = "N", default_value_t = 2)]
    read_ahead: usize,

    #[command(
        flatten,
        next_help_heading = "Object storage (s3://, gs://, az:// locations)"
    )]
    store: pipes_cli::store::ConnectionArgs,

    /// No text report on stderr.
    #[arg(short, long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match pipes_cli::runtime::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("backup-verify: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    // SIGINT/SIGTERM: stop at the next await; nothing is half-written
    // (reports and metrics are written whole, at the end).
    let interrupt = match object_storage::signals::Interrupt::install() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("backup-verify: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(interrupt.until_signal(run(args)));
    // Nothing to finish after a signal; a read blocked on stdin must not
    // hold the exit.
    runtime.shutdown_background();
    match outcome {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) => {
            eprintln!("backup-verify: {e:#}");
            pipes_cli::exit::for_error(&e).into()
        }
        Err(signal) => {
            eprintln!("backup-verify: interrupted ({signal}): nothing verified");
            Exit::for_signal(signal).into()
        }
    }
}

async fn run(args: Args) -> Result<u8> {
    let started = Instant::now();
    let config = args.store.store_config();
    let mut report = Report {
        location: args.location.clone(),
        kind: "set",
        ok: false,
        exit_code: 0,
        checked: if args.checksums_only {
            "checksums"
        } else {
            "decoded"
        },
        collections: Vec::new(),
        rows: 0,
        bytes: 0,
        parts: 0,
        against: None,
        newest_set: None,
        newest_set_age_seconds: None,
        problems: Vec::new(),
        seconds: 0.0,
        checked_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let target = match location::resolve(&args.location, &config).await {
        Ok(t) => Some(t),
        Err(e) => {
            report.problems.push(Problem::new(
                Kind::Unreachable,
                &args.location,
                format!("{e:#}"),
            ));
            None
        }
    };
    let mut set_dir = None;
    match target {
        None => {}
        Some(target) if args.list || args.max_age.is_some() => {
            report.kind = "sets";
            report.checked = "listed";
            let Target::Dir(root) = target else {
                return Err(Exit::Usage.because(anyhow::anyhow!(
                    "{}: --list and --max-age take a directory or prefix holding dated sets",
                    args.location
                )));
            };
            check_sets(&root, &args, &mut report).await?;
        }
        Some(target) => {
            let options = Options {
                checksums_only: args.checksums_only,
                pick: args.pick.clone(),
                sample: if args.against.is_some() {
                    args.sample
                } else {
                    0
                },
                spool: Spool {
                    dir: args.spool_dir.clone(),
                },
                read_ahead: args.read_ahead,
            };
            let verified = match &target {
                Target::Stdin => {
                    let options = options.clone();
                    tokio::task::spawn_blocking(move || verify::verify_stdin(&options)).await?
                }
                Target::Stream(blob) => verify::verify_stream(blob, &options).await,
                Target::Dir(dir) => {
                    set_dir = Some(dir.clone());
                    verify::verify_set(dir, &options).await
                }
            };
            if let Some(live_name) = &args.against {
                compare_live(&args, live_name, &verified, &mut report).await?;
            }
            summarize(verified, &mut report);
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.conclude();
    if let Some(path) = &args.metrics {
        metrics::write(path, &report)?;
    }
    if args.mark_verified {
        match (&set_dir, report.ok) {
            (Some(dir), true) => dir
                .write(VERIFIED_FILE, serde_json::to_vec_pretty(&report)?)
                .await
                .context("--mark-verified")?,
            (Some(_), false) => {}
            (None, _) => {
                return Err(Exit::Usage.because(anyhow::anyhow!(
                    "--mark-verified applies to a backup set (a directory or prefix)"
                )))
            }
        }
    }
    if !args.quiet {
        eprint!("{}", report.text());
    }
    if args.json && !args.list {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(report.exit_code)
}

/// `--list` and `--max-age` over the dated sets under `root`.
async fn check_sets(root: &Dir, args: &Args, report: &mut Report) -> Result<()> {
    let entries = match sets::list(root).await {
        Ok(entries) => entries,
        Err(e) => {
            report.problems.push(Problem::new(
                Kind::Unreachable,
                root.url(""),
                format!("{e:#}"),
            ));
            return Ok(());
        }
    };
    if args.list {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&entries)?);
        } else {
            for entry in &entries {
                println!("{}", entry.text());
            }
        }
    }
    let now = match &args.now {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .with_context(|| format!("--now {text:?}: not an RFC 3339 time"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let newest = entries.iter().rev().find(|e| e.is_complete()).cloned();
    if let Some(newest) = &newest {
        let age = (now - newest.at()).num_seconds().max(0) as u64;
        report.newest_set_age_seconds = Some(age);
        report.rows = newest.rows.unwrap_or(0);
        report.bytes = newest.bytes.unwrap_or(0);
    }
    if let Some(max_age) = args.max_age {
        match (&newest, report.newest_set_age_seconds) {
            (Some(set), Some(age)) if age > max_age.as_secs() => {
                report.problems.push(Problem::new(
                    Kind::Stale,
                    set.url.clone(),
                    format!(
                        "the newest complete set is {age} s old, more than --max-age {} s",
                        max_age.as_secs()
                    ),
                ))
            }
            (None, _) => report.problems.push(Problem::new(
                Kind::Stale,
                root.url(""),
                "no complete backup set (none with a manifest)",
            )),
            _ => {}
        }
    }
    report.newest_set = newest;
    Ok(())
}

/// `--against`: the verified collection compared with the live one.
async fn compare_live(
    args: &Args,
    live_name: &str,
    verified: &Verified,
    report: &mut Report,
) -> Result<()> {
    let index = match (&args.pick, verified.collections.len()) {
        (Some(name), _) => verified.collections.iter().position(|c| {
            c.header
                .as_ref()
                .is_some_and(|h| h.collection.name == *name)
        }),
        (None, 1) => Some(0),
        (None, _) => None,
    };
    let Some(collection) = index.map(|i| &verified.collections[i]) else {
        if !verified.collections.is_empty() {
            return Err(Exit::Usage.because(anyhow::anyhow!(
                "--against: the set holds several collections (or not --pick's): choose one with --pick NAME"
            )));
        }
        return Ok(()); // nothing verified to compare
    };
    let Some(header) = &collection.header else {
        return Ok(());
    };
    let client = match milvus_wire::Milvus::connect(&args.connect.options()?).await {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(Problem::new(
                Kind::Unreachable,
                &args.connect.uri,
                e.to_string(),
            ));
            return Ok(());
        }
    };
    let (comparison, problems) = live::compare(
        &client,
        live_name,
        header,
        collection.rows,
        &collection.sample.rows,
    )
    .await;
    report.against = comparison;
    report.problems.extend(problems);
    Ok(())
}

fn summarize(verified: Verified, report: &mut Report) {
    report.kind = verified.kind;
    for c in &verified.collections {
        report.collections.push(CollectionSummary {
            name: c
                .header
                .as_ref()
                .map(|h| h.collection.name.clone())
                .unwrap_or_default(),
            rows: c.rows,
            bytes: c.bytes,
            parts: c.parts,
        });
        report.rows += c.rows;
        report.bytes += c.bytes;
        report.parts += c.parts;
    }
    report.problems.extend(verified.problems);
}
