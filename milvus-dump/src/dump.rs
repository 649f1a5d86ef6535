//! The dump: prepare each collection, read its pages, write them, report.

use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use arrow::datatypes::SchemaRef;
use milvus_wire::pace::{Held, Pacer};
use milvus_wire::{LoadState, Milvus};
use pipes_cli::Exit;
use record_stream::header::{
    estimated_row_bytes, CollectionSpec, FieldSpec, Header, Scope, ServerInfo, Snapshot,
    FORMAT_VERSION,
};
use record_stream::layout;
use record_stream::manifest::MANIFEST_FILE;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::parallel;
use crate::reader::{self, KeyRange, Page, ReadPlan};
use crate::resume;
use crate::shard::{self, Shard};
use crate::sink::{Encoder, Format, PartLimits, PartSeries};
use locations::progress::{InProgress, IN_PROGRESS_FILE};
use locations::write::FileWriter;
use milvus_model::Pk;
use milvus_wire::sizing::RequestSizer;
use pipes_cli::progress::Progress;
use record_stream::manifest::CollectionEntry;

/// Where the dump goes.
#[derive(Clone, Debug)]
pub enum Destination {
    /// One stream on stdout.
    Stdout,
    /// One stream in a file (written under a temporary name, renamed when
    /// complete) or an object (its upload completed when the stream is).
    File(String),
    /// A backup set: a directory or object-store prefix of parts plus
    /// `manifest.json`, written last.
    Set {
        /// The set's directory or prefix.
        dir: locations::Dir,
        /// Part size limits.
        limits: PartLimits,
    },
}

/// What to dump and how.
#[derive(Clone, Debug)]
pub struct DumpOptions {
    /// Collections (at least one).
    pub collections: Vec<String>,
    /// Output format.
    pub format: Format,
    /// zstd level, when compressing.
    pub zstd: Option<i32>,
    /// Destination.
    pub destination: Destination,
    /// Filter expression (empty: all rows).
    pub filter: String,
    /// Partitions (empty: all).
    pub partitions: Vec<String>,
    /// Fields to export (empty: all; the primary key is always kept).
    pub fields: Vec<String>,
    /// Flush before reading.
    pub flush: bool,
    /// Fixed page size instead of the adaptive one.
    pub page_rows: Option<usize>,
    /// Print progress lines on stderr.
    pub progress: bool,
    /// Connections reading key ranges in parallel (1: one sequential reader).
    pub jobs: usize,
    /// How to open the extra connections for `jobs`.
    pub connect: milvus_wire::ConnectOptions,
    /// Continue an interrupted backup set.
    pub resume: bool,
    /// How to reach object storage (for URL destinations).
    pub store: object_storage::StoreConfig,
    /// `--max-rows-per-second` / `--max-bytes-per-second`, shared by every
    /// connection (`None`: no limit).
    pub pacer: Option<Arc<Pacer>>,
    /// `-o FILE` may replace an existing file or object.
    pub overwrite: bool,
    /// `--shard K/N`: dump range K of N into a set other shards write too.
    pub shard: Option<Shard>,
}

/// Summary of one collection's dump.
#[derive(Clone, Debug, Serialize)]
pub struct CollectionSummary {
    /// Collection.
    pub name: String,
    /// Rows written by this run.
    pub rows: u64,
    /// Rows kept from an interrupted run's complete parts (--resume).
    pub resumed_rows: u64,
    /// Query pages read.
    pub pages: u64,
    /// Smallest page size used (rows).
    pub page_rows_min: usize,
    /// Largest page size used (rows).
    pub page_rows_max: usize,
    /// Page size at the end (rows).
    pub page_rows_final: usize,
    /// Wall-clock seconds from the first page query to the last page: the
    /// run's `seconds` less describing, the snapshot's consistency wait and
    /// the counts.
    pub read_seconds: f64,
    /// `pinned` with its timestamp, or `not pinned`.
    pub snapshot: String,
    /// `count(*)` before reading.
    pub count_before: u64,
    /// `count(*)` after reading.
    pub count_after: u64,
    /// Rows changed while the dump ran (counts differ from the rows written).
    pub concurrent_writes: bool,
}

/// Summary of the whole run (the JSON line on stderr).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Always `milvus-dump`.
    pub tool: &'static str,
    /// `ok`, or `concurrent_writes` when counts changed while dumping.
    pub status: &'static str,
    /// Per collection.
    pub collections: Vec<CollectionSummary>,
    /// Rows written.
    pub rows: u64,
    /// Bytes written (after compression; a set: all parts).
    pub bytes: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Rows per second.
    pub rows_per_sec: f64,
    /// Where the output went.
    pub output: String,
    /// The rate limits held (`--max-rows-per-second`, `--max-bytes-per-second`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Held>,
    /// `K/N`: the shard this run dumped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

/// A collection ready to read.
struct Prepared {
    header: Header,
    plan: ReadPlan,
    /// The stream's columns: the read fields, then `$partition` when rows carry it.
    fields: Vec<FieldSpec>,
    /// Their Arrow schema.
    schema: SchemaRef,
    loaded_by_us: bool,
    /// Rows already in complete parts from an interrupted run (--resume).
    resumed_rows: u64,
}

/// Builds the header of `name` (used by `--schema-only` too).
pub async fn describe(
    client: &Milvus,
    name: &str,
    options: &DumpOptions,
) -> anyhow::Result<(Header, i64)> {
    let described = client.describe_collection(name).await.map_err(|e| {
        if e.is_not_found() {
            Exit::NotFound.because(anyhow::anyhow!(
                "collection {name:?} not found in database {:?}",
                db_label(client)
            ))
        } else {
            anyhow::Error::new(e)
        }
    })?;
    let partitions = client.list_partitions(name).await?;
    let indexes = client.describe_indexes(name).await?;
    let mut collection = CollectionSpec::from_server(&described, partitions, &indexes)?;
    if collection.aliases.is_empty() {
        collection.aliases = client.list_aliases(name).await?;
    }
    // A load's mark is not one of the collection's aliases to restore.
    collection
        .aliases
        .retain(|alias| !milvus_wire::is_load_mark(alias));
    for wanted in &options.fields {
        if collection.field(wanted).is_none() {
            return Err(Exit::Usage.because(anyhow::anyhow!(
                "--fields: collection {name:?} has no field {wanted:?}"
            )));
        }
    }
    for wanted in &options.partitions {
        if !collection.partitions.contains(wanted) {
            return Err(Exit::Usage.because(anyhow::anyhow!(
                "--partition: collection {name:?} has no partition {wanted:?}"
            )));
        }
    }
    // With a partition key Milvus routes rows itself; otherwise the rows
    // must say where they go back to.
    let row_partitions = collection.partitions.iter().any(|p| p != "_default")
        && !collection.fields.iter().any(|f| f.is_partition_key);
    let header = Header {
        format_version: FORMAT_VERSION,
        tool: "milvus-dump".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        server: ServerInfo {
            uri: client.uri().to_string(),
            version: client.server_version().await?,
        },
        database: db_label(client),
        collection,
        snapshot: Snapshot {
            pinned: false,
            timestamp: None,
        },
        scope: Scope {
            filter: Some(options.filter.clone()).filter(|f| !f.is_empty()),
            partitions: options.partitions.clone(),
            fields: options.fields.clone(),
            row_partitions,
        },
    };
    Ok((header, described.collection_id))
}

/// The partitions a dump of `header` reads: those `--partition` named, or
/// every one.
fn partitions_read(header: &Header) -> impl Iterator<Item = &String> {
    let named = &header.scope.partitions;
    header
        .collection
        .partitions
        .iter()
        .filter(move |p| named.is_empty() || named.contains(p))
}

fn db_label(client: &Milvus) -> String {
    if client.db().is_empty() {
        "default".into()
    } else {
        client.db().to_string()
    }
}

async fn prepare(client: &Milvus, name: &str, options: &DumpOptions) -> anyhow::Result<Prepared> {
    let (header, collection_id) = describe(client, name, options).await?;
    let fields: Vec<FieldSpec> = layout::stream_fields(&header.collection, &header.scope)
        .into_iter()
        .cloned()
        .collect();
    let stream_schema = layout::arrow_schema(&fields.iter().collect::<Vec<_>>())?;
    let read_fields: Vec<FieldSpec> = fields
        .iter()
        .filter(|f| !layout::is_partition_column(f))
        .cloned()
        .collect();
    let schema = layout::arrow_schema(&read_fields.iter().collect::<Vec<_>>())?;
    let partition_lookup: Vec<String> = if header.scope.row_partitions {
        partitions_read(&header)
            .filter(|p| *p != "_default")
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let pk_index = fields
        .iter()
        .position(|f| f.is_primary_key)
        .with_context(|| format!("collection {name:?} has no primary key"))?;
    let loaded_by_us = match client.load_state(name).await? {
        LoadState::Loaded => false,
        LoadState::NotExist => {
            return Err(Exit::NotFound.because(anyhow::anyhow!("collection {name:?} not found")))
        }
        LoadState::Loading | LoadState::NotLoaded => {
            eprintln!(
                "milvus-dump: {name}: not loaded; loading it for the dump (released afterwards)"
            );
            loaded_for_the_dump(name, true);
            client
                .load_collection(name, Duration::from_secs(600))
                .await
                .with_context(|| {
                    format!("collection {name:?} is not loaded and could not be loaded")
                })?;
            true
        }
    };
    if options.flush {
        client.flush(name, Duration::from_secs(600)).await?;
    }
    Ok(Prepared {
        plan: ReadPlan {
            collection: name.to_string(),
            collection_id,
            fields: read_fields,
            schema,
            stream_schema: stream_schema.clone(),
            partition_lookup,
            pk_index,
            filter: options.filter.clone(),
            partitions: options.partitions.clone(),
            not_before: None,
        },
        header,
        fields,
        schema: stream_schema,
        loaded_by_us,
        resumed_rows: 0,
    })
}

/// Opens the read snapshot (recorded in the header), then counts the rows to
/// detect concurrent writes later. Returns the count.
///
/// Only the snapshot query waits for Strong consistency. Every later query,
/// pages and counts, reads with [`ReadPlan::freshness`]: no older than a
/// timestamp taken first, so it waits on no query node that has caught up.
/// One consistency wait instead of three saves 0.4–0.8 s per dump on Milvus
/// 2.3.5.
async fn begin(client: &Milvus, prepared: &mut Prepared) -> anyhow::Result<u64> {
    prepared.plan.not_before = client.alloc_timestamp().await?;
    prepared.header.snapshot = reader::open_snapshot(client, &prepared.plan).await?;
    count_rows(client, prepared).await
}

/// The rows there are to read (at least as fresh as the snapshot).
async fn count_rows(client: &Milvus, prepared: &Prepared) -> anyhow::Result<u64> {
    Ok(client
        .count(
            &prepared.plan.collection,
            &prepared.plan.filter,
            &prepared.plan.partitions,
            prepared.plan.freshness(Some(&prepared.header.snapshot)),
        )
        .await?)
}

/// Anything pages can be written to, on the writer thread.
trait PageSink: Send + 'static {
    fn write(&mut self, page: &Page) -> anyhow::Result<()>;
}

impl<W: Write + Send + 'static> PageSink for Encoder<W> {
    fn write(&mut self, page: &Page) -> anyhow::Result<()> {
        Ok(Encoder::write(self, page)?)
    }
}

impl PageSink for PartSeries {
    fn write(&mut self, page: &Page) -> anyhow::Result<()> {
        PartSeries::write(self, page)
    }
}

/// The connections a collection is read on: `client` (counts, ranges, one
/// job's pages) and the `--jobs` connections of a parallel read, opened by
/// the first read that needs them and shared by the reads after it (a set
/// reads its partitions one after another).
struct Readers<'a> {
    client: &'a Milvus,
    jobs: tokio::sync::OnceCell<Vec<Milvus>>,
}

impl<'a> Readers<'a> {
    fn new(client: &'a Milvus) -> Readers<'a> {
        Readers {
            client,
            jobs: tokio::sync::OnceCell::new(),
        }
    }

    /// The `--jobs` connections (clones share each one's HTTP/2 connection).
    async fn jobs(&self, options: &DumpOptions) -> anyhow::Result<Vec<Milvus>> {
        let connect = || Milvus::connect(&options.connect);
        let jobs = self
            .jobs
            .get_or_try_init(|| futures::future::try_join_all((0..options.jobs).map(|_| connect())))
            .await?;
        Ok(jobs.clone())
    }
}

/// Reads one collection into `sink`: fetching overlaps with encoding and
/// writing through a bounded channel, so memory stays flat.
async fn pump<S: PageSink>(
    readers: &Readers<'_>,
    prepared: &Prepared,
    count_before: u64,
    start: Option<Pk>,
    mut sink: S,
    options: &DumpOptions,
    written: Arc<AtomicU64>,
) -> anyhow::Result<(S, CollectionSummary)> {
    let name = prepared.plan.collection.clone();
    let snapshot = prepared.header.snapshot.clone();
    let sizer = match options.page_rows {
        Some(rows) => RequestSizer::fixed(rows),
        None => RequestSizer::new(estimated_row_bytes(&prepared.fields) as usize),
    };
    let jobs = if options.jobs > 1 {
        readers.jobs(options).await?
    } else {
        Vec::new()
    };
    // Two pages queued: enough to overlap reading with writing.
    let (tx, mut rx) = mpsc::channel::<Page>(2);
    // Every page passes the writer: pacing it holds back every reader
    // (the pages queued ahead are bounded).
    let pacer = options.pacer.clone();
    let writer = tokio::task::spawn_blocking(move || -> anyhow::Result<S> {
        while let Some(page) = rx.blocking_recv() {
            sink.write(&page)?;
            let rows = page.batch.num_rows() as u64;
            written.fetch_add(rows, Ordering::Relaxed);
            if let Some(pacer) = &pacer {
                pacer.pace_blocking(rows, page.batch.get_array_memory_size() as u64);
            }
        }
        Ok(sink)
    });
    let reading = Instant::now();
    let read = if options.jobs > 1 {
        let read = parallel::ParallelRead {
            plan: Arc::new(prepared.plan.clone()),
            snapshot: snapshot.clone(),
            sizer,
            start,
            rows: count_before,
        };
        parallel::read_parallel(readers.client, jobs, read, tx)
            .await
            .map_err(anyhow::Error::from)
    } else {
        let mut sizer = sizer;
        reader::read_pages(
            readers.client,
            &prepared.plan,
            &snapshot,
            &mut sizer,
            KeyRange {
                after: start,
                ..KeyRange::default()
            },
            tx,
        )
        .await
        .map_err(anyhow::Error::from)
    };
    let read_seconds = reading.elapsed().as_secs_f64();
    // Reading is over: count again while the writer finishes. At the pages'
    // freshness, the count sees at least what the last page saw (a query
    // node's serviceable time only moves forward). Writes too recent for it
    // were also invisible to every page.
    let count_after = async {
        match &read {
            Ok(_) => Some(
                readers
                    .client
                    .count(
                        &name,
                        &prepared.plan.filter,
                        &prepared.plan.partitions,
                        prepared.plan.freshness(Some(&snapshot)),
                    )
                    .await,
            ),
            Err(_) => None,
        }
    };
    let (written_result, count_after) = tokio::join!(writer, count_after);
    let written_result = written_result.map_err(|_| anyhow::anyhow!("writer thread panicked"))?;
    // The writer's error explains a closed channel better than the reader's.
    let sink = written_result?;
    let stats = read?;
    let count_after = count_after.context("count after reading")??;
    let total_rows = stats.rows + prepared.resumed_rows;
    let concurrent_writes = count_before != count_after || total_rows != count_before;
    Ok((
        sink,
        CollectionSummary {
            name,
            rows: stats.rows,
            resumed_rows: prepared.resumed_rows,
            pages: stats.pages,
            page_rows_min: stats.page_rows.0,
            page_rows_max: stats.page_rows.1,
            page_rows_final: stats.final_page_rows,
            read_seconds,
            snapshot: match snapshot.timestamp {
                Some(ts) if snapshot.pinned => format!("pinned at {ts}"),
                _ => "not pinned".into(),
            },
            count_before,
            count_after,
            concurrent_writes,
        },
    ))
}

/// Where a stream goes: stdout, or a file or object that appears under its
/// name only when the dump is complete.
enum StreamTarget {
    Stdout(BufWriter<io::Stdout>),
    File(FileWriter),
}

impl Write for StreamTarget {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            StreamTarget::Stdout(out) => out.write(buf),
            StreamTarget::File(file) => file.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            StreamTarget::Stdout(out) => out.flush(),
            StreamTarget::File(file) => file.flush(),
        }
    }
}

/// Counts the bytes that pass through.
struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One collection as one stream, on stdout or into a file or object that
/// appears only when complete. Returns the summary and the bytes written.
async fn dump_stream(
    client: &Milvus,
    name: &str,
    options: &DumpOptions,
    written: Arc<AtomicU64>,
) -> anyhow::Result<(CollectionSummary, u64)> {
    let mut prepared = prepare(client, name, options).await?;
    let target = match &options.destination {
        Destination::File(location) => StreamTarget::File(locations::location::create_file(
            location,
            &options.store,
            options.overwrite,
        )?),
        _ => StreamTarget::Stdout(BufWriter::with_capacity(1 << 20, io::stdout())),
    };
    // A file buffers its writes itself.
    let out = CountingWriter {
        inner: target,
        bytes: 0,
    };
    // The header (written first) records the snapshot: open it before the encoder.
    let count_before = begin(client, &mut prepared).await?;
    let encoder = Encoder::new(
        options.format,
        out,
        &prepared.header,
        &prepared.fields,
        prepared.schema.clone(),
        options.zstd,
    )?;
    let progress = Progress::start(
        "milvus-dump",
        options.progress,
        written.clone(),
        name,
        count_before,
    );
    let result = pump(
        &Readers::new(client),
        &prepared,
        count_before,
        None,
        encoder,
        options,
        written,
    )
    .await;
    drop(progress);
    release_if_loaded(client, &prepared).await;
    let (encoder, summary) = result?;
    let counted = encoder.finish(None)?;
    let bytes = counted.bytes;
    match counted.inner {
        StreamTarget::File(file) => tokio::task::spawn_blocking(move || file.finish())
            .await
            .context("the file writer panicked")??,
        StreamTarget::Stdout(mut out) => out.flush()?,
    }
    Ok((summary, bytes))
}

/// Runs the dump. Returns the summary; the caller decides the exit code.
pub async fn run(client: &Milvus, options: &DumpOptions) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let written = Arc::new(AtomicU64::new(0));
    let mut summaries = Vec::new();
    let mut bytes = 0u64;
    match &options.destination {
        Destination::Stdout | Destination::File(_) => {
            let [name] = options.collections.as_slice() else {
                return Err(Exit::Usage.because(anyhow::anyhow!(
                    "one stream holds one collection: use --out-dir DIR for several"
                )));
            };
            let (summary, stream_bytes) =
                dump_stream(client, name, options, written.clone()).await?;
            bytes = stream_bytes;
            summaries.push(summary);
        }
        Destination::Set { dir, limits } => {
            // A name that is wrong fails before anything is written.
            for name in &options.collections {
                if !client.has_collection(name).await? {
                    return Err(Exit::NotFound.because(anyhow::anyhow!(
                        "collection {name:?} does not exist; nothing was written"
                    )));
                }
            }
            let state = open_set(dir, options).await?;
            let mut entries = Vec::new();
            for name in &options.collections {
                let prepared = prepare(client, name, options).await?;
                let into = SetTarget {
                    dir,
                    limits: *limits,
                    extension: &state.format,
                };
                let (entry, summary) = match options.shard {
                    None => dump_collection(client, into, prepared, options, &written).await?,
                    Some(shard) => {
                        dump_shard(client, into, prepared, shard, options, &written).await?
                    }
                };
                bytes += entry.bytes;
                entries.push(entry);
                summaries.extend(summary);
            }
            match options.shard {
                None => {
                    if !resume::complete_set(dir, &state, entries).await? {
                        return Err(Exit::Refused.because(anyhow::anyhow!(
                            "{}: another run completed this set first; this run's parts were not recorded in it",
                            dir.url(MANIFEST_FILE)
                        )));
                    }
                }
                Some(shard) => shard::complete_if_last(dir, shard).await?,
            }
        }
    }
    let rows = summaries.iter().map(|s| s.rows).sum();
    let seconds = started.elapsed().as_secs_f64();
    Ok(Summary {
        tool: "milvus-dump",
        status: if summaries.iter().any(|s| s.concurrent_writes) {
            "concurrent_writes"
        } else {
            "ok"
        },
        collections: summaries,
        rows,
        bytes,
        seconds,
        rows_per_sec: rows as f64 / seconds.max(1e-9),
        output: match &options.destination {
            Destination::Stdout => "-".into(),
            Destination::File(location) => location.clone(),
            Destination::Set { dir, .. } => dir.url(""),
        },
        throttle: options.pacer.as_ref().map(|p| p.report()),
        shard: options.shard.map(|s| s.to_string()),
    })
}

/// Where a collection's parts go in a set.
#[derive(Clone, Copy)]
struct SetTarget<'a> {
    dir: &'a locations::Dir,
    limits: PartLimits,
    /// The parts' file extension.
    extension: &'a str,
}

/// A series of parts to write: where, and what an interrupted run left.
struct Series {
    /// The parts' directory, relative to the set.
    dir: String,
    /// Write an empty part when there are no rows.
    empty_part: bool,
    /// Complete parts of an interrupted run (`--resume`).
    progress: resume::CollectionProgress,
}

/// One collection into a set this process writes alone.
async fn dump_collection(
    client: &Milvus,
    into: SetTarget<'_>,
    mut prepared: Prepared,
    options: &DumpOptions,
    written: &Arc<AtomicU64>,
) -> anyhow::Result<(CollectionEntry, Option<CollectionSummary>)> {
    let name = prepared.plan.collection.clone();
    let progress = if options.resume {
        resume::scan_collection(into.dir, &prepared.header.collection, into.extension).await?
    } else {
        Default::default()
    };
    if let Some(entry) = progress.complete {
        release_if_loaded(client, &prepared).await;
        eprintln!("milvus-dump: {name}: already complete in this set");
        return Ok((entry, None));
    }
    if let Some(header) = progress.header.clone() {
        prepared.header = header;
    }
    let count_before = begin(client, &mut prepared).await?;
    if progress.parts.is_empty() {
        resume::write_header(into.dir, &prepared.header).await?;
    } else {
        // Two runs read at two different times: not one snapshot.
        prepared.header.snapshot = Snapshot {
            pinned: false,
            timestamp: None,
        };
    }
    let series = Series {
        dir: name,
        empty_part: true,
        progress,
    };
    write_series(
        client,
        into,
        prepared,
        series,
        count_before,
        options,
        written,
    )
    .await
}

/// This shard's range of one collection into a sharded set (see [`shard`]).
async fn dump_shard(
    client: &Milvus,
    into: SetTarget<'_>,
    mut prepared: Prepared,
    shard: Shard,
    options: &DumpOptions,
    written: &Arc<AtomicU64>,
) -> anyhow::Result<(CollectionEntry, Option<CollectionSummary>)> {
    let name = prepared.plan.collection.clone();
    let series_dir = locations::progress::shard_dir(&name, shard.index);
    let progress = if options.resume {
        resume::scan_parts(into.dir, &series_dir, into.extension).await?
    } else if !into.dir.child(&series_dir).files().await?.is_empty() {
        release_if_loaded(client, &prepared).await;
        return Err(Exit::Refused.because(anyhow::anyhow!(
            "{}: shard {shard} of {name:?} was started before: add --resume to continue it",
            into.dir.url(&series_dir)
        )));
    } else {
        Default::default()
    };
    if let Some(entry) = progress.complete {
        release_if_loaded(client, &prepared).await;
        eprintln!("milvus-dump: {name}: shard {shard} already complete in this set");
        return Ok((entry, None));
    }
    let plan = match shard::read_plan(into.dir, &name, shard).await? {
        Some(plan) => plan,
        None if shard.index == 0 => {
            let rows = begin(client, &mut prepared).await?;
            shard::make_plan(
                client,
                into.dir,
                &prepared.plan,
                &prepared.header,
                rows,
                shard,
            )
            .await?
        }
        None => shard::wait_for_plan(into.dir, &name, shard).await?,
    };
    resume::refuse_changed_schema(
        into.dir,
        &shard::plan_path(&name),
        &plan.header,
        &prepared.header.collection,
    )?;
    if plan.header.scope != prepared.header.scope {
        release_if_loaded(client, &prepared).await;
        return Err(Exit::Refused.because(anyhow::anyhow!(
            "{}: shard 0 cut the ranges of {:?} with other --filter/--partition/--fields ({}): \
             every shard of a set dumps the same rows",
            into.dir.url(&shard::plan_path(&name)),
            name,
            serde_json::to_string(&plan.header.scope)?
        )));
    }
    // Every shard reads at the plan's snapshot.
    prepared.header = plan.header.clone();
    let Some(range) = plan.range(shard.index) else {
        release_if_loaded(client, &prepared).await;
        eprintln!(
            "milvus-dump: {name}: shard {shard} has no rows: {} rows were cut into {} ranges",
            plan.rows,
            plan.cuts.len() + 1
        );
        let entry = CollectionEntry {
            header: plan.header,
            rows: 0,
            bytes: 0,
            parts: Vec::new(),
        };
        resume::write_complete(into.dir, &series_dir, &entry).await?;
        return Ok((entry, None));
    };
    let key = |json: Option<serde_json::Value>| {
        json.map(|json| {
            Pk::from_json(&json)
                .with_context(|| format!("{}: unreadable cut key {json}", shard::plan_path(&name)))
        })
        .transpose()
    };
    let pk_name = prepared.fields[prepared.plan.pk_index].name.clone();
    prepared.plan.filter = KeyRange {
        after: key(range.after)?,
        upto: key(range.upto)?,
        rows: None,
    }
    .expr(&options.filter, &pk_name);
    if prepared.plan.not_before.is_none() {
        prepared.plan.not_before = client.alloc_timestamp().await?;
    }
    let count_before = count_rows(client, &prepared).await?;
    let series = Series {
        dir: series_dir,
        empty_part: shard.index == 0,
        progress,
    };
    write_series(
        client,
        into,
        prepared,
        series,
        count_before,
        options,
        written,
    )
    .await
}

/// Reads a prepared collection into a series of parts, after what an
/// interrupted run completed, and records the series as complete.
///
/// Where rows carry their partition, the series is read one partition
/// after another, each into parts of its own that name it in the manifest
/// (no `$partition` column): Milvus's Import puts a whole file into one
/// partition, and a part of one partition is what it can take.
async fn write_series(
    client: &Milvus,
    into: SetTarget<'_>,
    mut prepared: Prepared,
    series: Series,
    count_before: u64,
    options: &DumpOptions,
    written: &Arc<AtomicU64>,
) -> anyhow::Result<(CollectionEntry, Option<CollectionSummary>)> {
    let name = prepared.plan.collection.clone();
    let runs = partition_runs(&prepared, &series.progress)?;
    let done = series.progress.parts;
    prepared.resumed_rows = done.iter().map(|p| p.rows).sum();
    if !done.is_empty() {
        eprintln!(
            "milvus-dump: {name}: resuming after {} complete parts",
            done.len()
        );
    }
    // Parts of one partition each: the partition is in the manifest, not a column.
    let (fields, schema) = if prepared.header.scope.row_partitions {
        (prepared.plan.fields.clone(), prepared.plan.schema.clone())
    } else {
        (prepared.fields.clone(), prepared.schema.clone())
    };
    let mut parts = PartSeries::new(
        into.dir,
        series.dir.clone(),
        series.empty_part,
        options.format,
        options.zstd,
        into.limits,
        prepared.header.clone(),
        fields,
        schema,
    );
    parts.resume_after(done);
    let progress = Progress::start(
        "milvus-dump",
        options.progress,
        written.clone(),
        &name,
        count_before.saturating_sub(prepared.resumed_rows),
    );
    let result = pump_runs(
        client,
        &mut prepared,
        runs,
        count_before,
        parts,
        options,
        written,
    )
    .await;
    drop(progress);
    release_if_loaded(client, &prepared).await;
    let (parts, summary) = result?;
    let entry = tokio::task::spawn_blocking(move || parts.finish())
        .await
        .context("the part writer panicked")??;
    resume::write_complete(into.dir, &series.dir, &entry).await?;
    Ok((entry, Some(summary)))
}

/// One read of a series: a partition (or, `None`, every row), from a key on.
struct Run {
    partition: Option<String>,
    after: Option<Pk>,
    /// Rows of it in complete parts of an interrupted run.
    resumed_rows: u64,
}

/// The reads a series still needs: every partition read in turn where
/// rows carry their partition, else one; an interrupted run continues in
/// the partition of its last complete part, after that part's last key.
fn partition_runs(
    prepared: &Prepared,
    progress: &resume::CollectionProgress,
) -> anyhow::Result<Vec<Run>> {
    let partitions: Vec<Option<String>> = if prepared.header.scope.row_partitions {
        partitions_read(&prepared.header)
            .map(|p| Some(p.clone()))
            .collect()
    } else {
        vec![None]
    };
    let first = match progress.parts.last() {
        None => 0,
        Some(last) => partitions
            .iter()
            .position(|p| *p == last.partition)
            .with_context(|| {
                format!(
                    "{}: its partition {:?} is not one this dump reads: resume with the same --partition",
                    last.path, last.partition
                )
            })?,
    };
    let after = progress.resume_after()?;
    Ok(partitions
        .into_iter()
        .enumerate()
        .skip(first)
        .map(|(index, partition)| {
            let resumed = index == first;
            Run {
                resumed_rows: progress
                    .parts
                    .iter()
                    .filter(|part| resumed && part.partition == partition)
                    .map(|part| part.rows)
                    .sum(),
                after: after.clone().filter(|_| resumed),
                partition,
            }
        })
        .collect())
}

/// Reads `runs` one after another into `parts`; one summary for them all.
async fn pump_runs(
    client: &Milvus,
    prepared: &mut Prepared,
    runs: Vec<Run>,
    count_before: u64,
    mut parts: PartSeries,
    options: &DumpOptions,
    written: &Arc<AtomicU64>,
) -> anyhow::Result<(PartSeries, CollectionSummary)> {
    let readers = Readers::new(client);
    let mut total: Option<CollectionSummary> = None;
    for run in runs {
        let count = match &run.partition {
            None => count_before,
            Some(partition) => {
                prepared.plan.partitions = vec![partition.clone()];
                prepared.plan.partition_lookup.clear();
                count_rows(client, prepared).await?
            }
        };
        prepared.resumed_rows = run.resumed_rows;
        parts.set_partition(run.partition);
        let (returned, summary) = pump(
            &readers,
            prepared,
            count,
            run.after,
            parts,
            options,
            written.clone(),
        )
        .await?;
        parts = returned;
        total = Some(match total {
            None => summary,
            Some(total) => total.and(summary),
        });
    }
    let summary = total.context("a series with nothing to read")?;
    Ok((parts, summary))
}

impl CollectionSummary {
    /// This summary and `next`'s (of the same collection) as one.
    fn and(self, next: CollectionSummary) -> CollectionSummary {
        CollectionSummary {
            rows: self.rows + next.rows,
            resumed_rows: self.resumed_rows + next.resumed_rows,
            pages: self.pages + next.pages,
            page_rows_min: self.page_rows_min.min(next.page_rows_min),
            page_rows_max: self.page_rows_max.max(next.page_rows_max),
            read_seconds: self.read_seconds + next.read_seconds,
            count_before: self.count_before + next.count_before,
            count_after: self.count_after + next.count_after,
            concurrent_writes: self.concurrent_writes || next.concurrent_writes,
            ..next
        }
    }
}

/// Checks the set's location and records (or, with --resume or --shard,
/// reads back) the set's progress file.
async fn open_set(dir: &locations::Dir, options: &DumpOptions) -> anyhow::Result<InProgress> {
    let at = dir.url("");
    if dir.read(MANIFEST_FILE).await?.is_some() {
        return Err(Exit::Refused.because(anyhow::anyhow!(
            "{at} already holds a complete backup set (manifest.json); choose a new location"
        )));
    }
    let mut looked_twice = false;
    loop {
        if let Some(state) = resume::read_in_progress(dir).await? {
            return check_started(state, &at, options);
        }
        // Another shard's `.in-progress.json` being written (its temporary
        // copy) does not make the location taken.
        let files = dir.files().await?;
        let being_started = |file: &str| {
            locations::write::completed_name(file).as_deref() == Some(IN_PROGRESS_FILE)
        };
        if files.iter().all(|(file, _)| being_started(file)) {
            let state = InProgress {
                created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                format: options.format.extension(options.zstd.is_some()).to_string(),
                collections: options.collections.clone(),
                shards: options.shard.map(|s| s.count),
            };
            if resume::create_in_progress(dir, &state).await? {
                return Ok(state);
            }
            // Another shard started the set meanwhile: read what it wrote.
        } else if looked_twice || options.shard.is_none() {
            return Err(Exit::Refused.because(anyhow::anyhow!(
                "{at} is not empty and holds no backup set to resume"
            )));
        }
        looked_twice = true;
    }
}

/// Whether this run may continue (or, as a shard, join) the set started
/// as `state`.
fn check_started(state: InProgress, at: &str, options: &DumpOptions) -> anyhow::Result<InProgress> {
    let refuse = |why: String| Err(Exit::Refused.because(anyhow::anyhow!("{at} {why}")));
    let extension = options.format.extension(options.zstd.is_some());
    if state.format != extension {
        return refuse(format!(
            "was started as {} parts; resume it with the same --format/--zstd",
            state.format
        ));
    }
    if state.collections != options.collections {
        return refuse(format!(
            "was started for collections {:?}; resume it with the same ones",
            state.collections
        ));
    }
    match (state.shards, options.shard) {
        (Some(n), Some(shard)) if n != shard.count => {
            refuse(format!("is dumped in {n} shards: use --shard K/{n}"))
        }
        (Some(n), None) => refuse(format!(
            "is a dump in {n} shards: continue a shard with --shard K/{n} --resume, or complete the set with --finish"
        )),
        (None, Some(_)) => refuse(
            "holds a dump by one process: continue it with --resume (no --shard), or choose a new location".into(),
        ),
        (Some(_), Some(_)) => Ok(state),
        (None, None) if options.resume => Ok(state),
        (None, None) => refuse(
            "holds an interrupted backup set: add --resume to continue it, or choose a new location".into(),
        ),
    }
}

async fn release_if_loaded(client: &Milvus, prepared: &Prepared) {
    if prepared.loaded_by_us {
        release(client, &prepared.plan.collection).await;
    }
}

async fn release(client: &Milvus, name: &str) {
    if let Err(e) = client.release_collection(name).await {
        eprintln!("milvus-dump: warning: could not release {name:?} after the dump: {e}");
    }
    loaded_for_the_dump(name, false);
}

/// Collections this process loaded to dump them and has not released yet
/// (process-wide, as signals are: a dump stopped by one still releases them).
static LOADED_FOR_THE_DUMP: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn loaded_for_the_dump(name: &str, loaded: bool) {
    if let Ok(mut names) = LOADED_FOR_THE_DUMP.lock() {
        names.retain(|n| n != name);
        if loaded {
            names.push(name.to_string());
        }
    }
}

/// Releases what a dump stopped midway had loaded for itself, so that the
/// server does not keep it in memory.
pub async fn release_after_interrupt(client: &Milvus) {
    let names = LOADED_FOR_THE_DUMP
        .lock()
        .map(|names| names.clone())
        .unwrap_or_default();
    for name in names {
        release(client, &name).await;
    }
}
