//! Restoring through Milvus's Import: the server's data nodes read the
//! set's Parquet parts from its own storage, so no row passes through this
//! process. The collection's indexes are created first (Milvus builds them
//! on each imported segment before its rows become visible); then one part
//! per Import request, a bounded number in flight, each polled until
//! completed and its row count checked against the manifest.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use milvus_wire::import::{ImportProgress, ImportTask};
use milvus_wire::Milvus;
use pipes_cli::progress::Progress;
use pipes_cli::Exit;
use record_stream::header::Scope;
use record_stream::manifest::Part;
use serde::Serialize;

/// When `--import` restores through Import.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportWhen {
    /// Always: refuse (before creating anything) where it cannot.
    Always,
    /// Where it can; insert the rows otherwise (and say why).
    Auto,
}

/// How often running import tasks are asked how they stand.
const POLL: Duration = Duration::from_millis(500);

/// Why the input's files cannot be handed to Import as they are, if they
/// cannot: Import reads files of a set, in Parquet, each into one
/// partition (`scope`: what the rows carry).
pub fn format_blocker(parts: &[Part], scope: &Scope) -> Option<String> {
    if parts.is_empty() {
        return Some(
            "the input is a stream, not a backup set: Import reads a set's parts from the server's storage"
                .into(),
        );
    }
    if let Some(part) = parts.iter().find(|part| !part.path.ends_with(".parquet")) {
        return Some(format!(
            "part {} is not Parquet, the one format of ours Import reads (dump with --format parquet)",
            part.path
        ));
    }
    parts
        .iter()
        .find(|part| scope.row_partitions && part.partition.is_none())
        .map(|part| {
            format!(
                "part {} mixes the rows of several partitions (a $partition column: the set was \
                 written before milvus-dump cut parts by partition), and Import puts a whole \
                 file into one partition",
                part.path
            )
        })
}

/// The path the server reads for each part: the set's `location` joined
/// with the part's path, less `import_root`. By default that is the bucket
/// (`s3://BUCKET/`: the server's files are keys in its bucket) for a URL,
/// and nothing for a local path, which is made absolute (a standalone
/// server with local storage reads absolute paths).
pub fn server_paths(
    location: &str,
    parts: &[Part],
    import_root: Option<&str>,
) -> Result<Vec<String>> {
    let (base, default_root) = match location.split_once("://") {
        None => (absolute(location)?, String::new()),
        Some(("file", path)) => (path.to_string(), String::new()),
        Some((scheme, rest)) => {
            let bucket = rest.split('/').next().unwrap_or(rest);
            (location.to_string(), format!("{scheme}://{bucket}/"))
        }
    };
    let root = import_root.map_or(default_root, str::to_string);
    let base = base.trim_end_matches('/');
    parts
        .iter()
        .map(|part| {
            let full = format!("{base}/{}", part.path);
            full.strip_prefix(&root).map(str::to_string).ok_or_else(|| {
                Exit::Usage.because(anyhow!(
                    "--import-root {root:?} is not where the set is ({base:?}): \
                         give the part of the set's location the server does not see"
                ))
            })
        })
        .collect()
}

fn absolute(path: &str) -> Result<String> {
    let absolute =
        std::path::absolute(path).map_err(|e| Exit::Usage.because(anyhow!("{path}: {e}")))?;
    Ok(absolute.display().to_string())
}

/// Parts to import, each with the path the server reads.
pub struct ToImport {
    pub parts: Vec<(Part, String)>,
    /// Rows in them.
    pub rows: u64,
}

/// A failed import: the error, and how many rows had persisted before it
/// (none: the collection is as empty as before, and rows can still be
/// inserted instead).
pub struct ImportFailure {
    pub error: anyhow::Error,
    pub persisted_rows: u64,
}

/// Imports `to_import` into `collection`, `in_flight` tasks at a time;
/// returns the rows imported. `committed` counts them as tasks persist.
pub async fn import_parts(
    client: &Milvus,
    collection: &str,
    to_import: ToImport,
    in_flight: usize,
    stall_limit: Duration,
    progress: bool,
    committed: Arc<AtomicU64>,
) -> std::result::Result<u64, ImportFailure> {
    let before = committed.load(Ordering::Relaxed);
    let persisted = || committed.load(Ordering::Relaxed) - before;
    let bar = Progress::start(
        "milvus-load",
        progress,
        committed.clone(),
        collection,
        to_import.rows,
    );
    let failed = |error: anyhow::Error| ImportFailure {
        error,
        persisted_rows: persisted(),
    };
    let mut waiting = to_import.parts.into_iter();
    let mut running: Vec<Running> = Vec::new();
    loop {
        while running.len() < in_flight.max(1) {
            let Some((part, file)) = waiting.next() else {
                break;
            };
            let tasks = client
                .start_import(collection, part.partition.as_deref().unwrap_or(""), &file)
                .await
                .map_err(|e| failed(anyhow!(e).context(format!("importing {}", part.path))))?;
            let now = Instant::now();
            running.extend(tasks.into_iter().map(|id| Running {
                id,
                part: part.clone(),
                file: file.clone(),
                rows: 0,
                changed: now,
            }));
        }
        if running.is_empty() {
            break;
        }
        tokio::time::sleep(POLL).await;
        let mut still = Vec::with_capacity(running.len());
        for mut task in running {
            let state = client
                .import_task(task.id)
                .await
                .map_err(|e| failed(anyhow!(e).context(format!("importing {}", task.part.path))))?;
            match state.progress {
                ImportProgress::Completed => {
                    if state.rows != task.part.rows {
                        return Err(failed(Exit::Corrupt.because(anyhow!(
                            "part {}: Milvus imported {} rows, the manifest records {}",
                            task.part.path,
                            state.rows,
                            task.part.rows
                        ))));
                    }
                    committed.fetch_add(state.rows, Ordering::Relaxed);
                }
                ImportProgress::Failed(reason) => {
                    return Err(failed(refused(&task.part, &task.file, &reason)));
                }
                ImportProgress::Running => {
                    if state.rows != task.rows {
                        task.rows = state.rows;
                        task.changed = Instant::now();
                    } else if task.changed.elapsed() > stall_limit {
                        return Err(failed(anyhow!(
                            "part {}: import task {} made no progress for {}s (--wait)",
                            task.part.path,
                            task.id,
                            stall_limit.as_secs()
                        )));
                    }
                    still.push(task);
                }
            }
        }
        running = still;
    }
    drop(bar);
    Ok(persisted())
}

/// An import task under way.
struct Running {
    id: i64,
    part: Part,
    file: String,
    /// Rows parsed at the last poll, and when that changed.
    rows: u64,
    changed: Instant,
}

/// The server's refusal of a part, as the operator's next step.
fn refused(part: &Part, file: &str, reason: &str) -> anyhow::Error {
    let unseen = [
        "no such file",
        "not exist",
        "NoSuchKey",
        "failed to get file size",
    ]
    .iter()
    .any(|word| reason.contains(word));
    let hint = if unseen {
        "the server cannot read it: the set must be in the server's own storage (its bucket, \
         or its local storage directory), and --import-root says what to strip from the set's \
         location to get the server's paths"
    } else if reason.contains("exceeds the maximum size") {
        "the part is larger than the server imports a file (common.ImportMaxFileSize, 16 GiB \
         by default): dump the set again with a smaller --part-bytes, or load it without --import"
    } else {
        "the server's importer refused its contents"
    };
    Exit::Refused.because(anyhow!(
        "part {} (server path {file:?}): {reason}: {hint}",
        part.path
    ))
}

/// `--resume` of a load through Import: waits for the import tasks of the
/// interrupted load to end, then leaves out the parts they persisted. Rows
/// the tasks do not account for (inserted by a load without `--import`)
/// cannot be matched to parts: refused.
pub async fn still_to_import(
    client: &Milvus,
    collection: &str,
    parts: Vec<(Part, String)>,
    stall_limit: Duration,
) -> Result<ToImport> {
    let started = Instant::now();
    let tasks: Vec<ImportTask> = loop {
        let tasks = client.import_tasks(collection).await?;
        if !tasks.iter().any(|t| t.progress == ImportProgress::Running) {
            break tasks;
        }
        if started.elapsed() > stall_limit {
            return Err(anyhow!(
                "--resume: import tasks of {collection:?} are still running after {}s (--wait)",
                stall_limit.as_secs()
            ));
        }
        tokio::time::sleep(POLL).await;
    };
    let persisted: Vec<&ImportTask> = tasks
        .iter()
        .filter(|t| t.progress == ImportProgress::Completed)
        .collect();
    let imported_rows: u64 = persisted.iter().map(|t| t.rows).sum();
    // Rows in segments of any kind (inserted rows are sealed first); no
    // query, which would need the collection loaded.
    client.flush(collection, stall_limit).await?;
    let present = client.statistics_row_count(collection).await?;
    if present != imported_rows {
        return Err(Exit::Refused.because(anyhow!(
            "--resume --import: {collection:?} holds {present} rows, but its import tasks account \
             for {imported_rows}: rows were inserted, not imported; resume without --import"
        )));
    }
    let imported: HashSet<&str> = persisted
        .iter()
        .flat_map(|t| t.files.iter().map(String::as_str))
        .collect();
    let parts: Vec<(Part, String)> = parts
        .into_iter()
        .filter(|(_, file)| !imported.contains(file.as_str()))
        .collect();
    Ok(ToImport {
        rows: parts.iter().map(|(part, _)| part.rows).sum(),
        parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(path: &str) -> Part {
        Part {
            path: path.into(),
            rows: 1,
            bytes: 1,
            sha256: String::new(),
            first_pk: serde_json::Value::Null,
            last_pk: serde_json::Value::Null,
            partition: None,
        }
    }

    #[test]
    fn server_paths_strip_the_bucket_or_the_import_root() {
        let parts = [part("docs/part-00000.parquet")];
        assert_eq!(
            server_paths("s3://milvus/backups/d1", &parts, None).unwrap(),
            ["backups/d1/docs/part-00000.parquet"]
        );
        assert_eq!(
            server_paths(
                "s3://milvus/backups/d1/",
                &parts,
                Some("s3://milvus/backups/")
            )
            .unwrap(),
            ["d1/docs/part-00000.parquet"]
        );
        assert_eq!(
            server_paths("/var/lib/milvus/data/bk", &parts, None).unwrap(),
            ["/var/lib/milvus/data/bk/docs/part-00000.parquet"]
        );
        assert_eq!(
            server_paths("file:///var/lib/milvus/data/bk", &parts, None).unwrap(),
            ["/var/lib/milvus/data/bk/docs/part-00000.parquet"]
        );
        let wrong = server_paths("s3://milvus/bk", &parts, Some("s3://other/"));
        let error = wrong.expect_err("not a prefix");
        assert_eq!(pipes_cli::exit::for_error(&error), Exit::Usage);
    }

    #[test]
    fn a_refused_part_says_what_to_do_next() {
        let part = part("d/part-00000.parquet");
        let why =
            |reason: &str| format!("{:#}", refused(&part, "/data/d/part-00000.parquet", reason));
        assert!(
            why("failed to get file size of 'x': no such file or directory")
                .contains("--import-root")
        );
        assert!(
            why("the file 'x' size exceeds the maximum size: 17179869184 bytes")
                .contains("--part-bytes")
        );
        let contents = why("value '+Inf' is not a number or infinity");
        assert!(contents.contains("refused its contents"), "{contents}");
        assert!(contents.contains("d/part-00000.parquet"), "{contents}");
    }

    #[test]
    fn only_sets_of_parquet_parts_of_one_partition_each_can_be_imported() {
        let plain = Scope::default();
        assert!(format_blocker(&[], &plain).unwrap().contains("stream"));
        let mixed = [part("d/part-00000.parquet"), part("d/part-00001.jsonl.zst")];
        assert!(format_blocker(&mixed, &plain)
            .unwrap()
            .contains("part-00001.jsonl.zst"));
        assert!(format_blocker(&mixed[..1], &plain).is_none());

        let partitioned = Scope {
            row_partitions: true,
            ..Scope::default()
        };
        let unlabelled = [part("d/part-00000.parquet")];
        assert!(format_blocker(&unlabelled, &partitioned)
            .unwrap()
            .contains("$partition"));
        let labelled = [Part {
            partition: Some("eu".into()),
            ..part("d/part-00000.parquet")
        }];
        assert!(format_blocker(&labelled, &partitioned).is_none());
    }
}
