//! One restore, start to finish: resolve the input, decide the target,
//! create, insert, verify, index, load, point aliases.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use milvus_model::expr;
use milvus_model::pk::{pk_at, Pk};
use milvus_wire::insert_batch::InsertBatch;
use milvus_wire::pace::{Held, Pacer};
use milvus_wire::proto::common::KeyValuePair;
use milvus_wire::retry::Backoff;
use milvus_wire::sizing::{Bounds, RequestSizer, MAX_INSERT_ROWS};
use milvus_wire::{ConnectOptions, Freshness, Milvus};
use pipes_cli::progress::Progress;
use pipes_cli::Exit;
use record_stream::hashing::HashingWriter;
use record_stream::header::{
    estimated_row_bytes, CollectionSpec, FieldSpec, Header, Scope, HEADER_KEY,
};
use record_stream::layout;
use record_stream::to_milvus::insert_columns;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::import::{self, ImportWhen, ToImport};
use crate::insert::{send_all, Prepared, SendOptions};
use crate::plan::{
    self, Action, Choices, Plan, RowsVia, Source, TargetServer, ALLOW_INSERT_AUTO_ID,
};
use crate::schema::{create_request, index_params, ServerCaps};
use locations::input::{self, Input, Unit};
use locations::Spool;
use record_stream::manifest::Part;

/// What to do when the target collection exists (`--if-exists`); a
/// target that does not exist is created whatever this says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IfExists {
    /// Refuse (the default: never clobber by surprise).
    #[default]
    Fail,
    /// Insert the rows into it.
    Append,
    /// Upsert the rows (same primary key: replaced).
    Upsert,
    /// Load beside it under a temporary name, verify, then swap it in.
    Replace,
}

/// Everything a restore needs besides the connection.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// `-`, a stream (a file or an object URL), or a backup set (a
    /// directory or an object-store prefix).
    pub location: String,
    /// The collection to take from a set holding several.
    pub pick: Option<String>,
    /// Where stdin / compressed Parquet is spooled.
    pub spool: Spool,
    /// How to reach object storage (for URL locations).
    pub store: object_storage::StoreConfig,
    /// Target collection name (default: the dumped name).
    pub target: Option<String>,
    /// A header file for headerless input (`milvus-dump --schema-only`).
    pub schema_file: Option<PathBuf>,
    /// When the target exists.
    pub if_exists: IfExists,
    /// Point this alias at the loaded collection.
    pub alias: Option<String>,
    /// Recreate the dumped aliases.
    pub restore_aliases: bool,
    /// Skip loading the collection into memory at the end.
    pub no_load: bool,
    /// Let Milvus assign new auto-id primary keys.
    pub new_ids: bool,
    /// Index type to use where the recorded one is refused.
    pub index_fallback: Option<String>,
    /// Print the plan, write nothing.
    pub dry_run: bool,
    /// Continue an interrupted load of a backup set: skip the parts already in.
    pub resume: bool,
    /// Prove a whole set before creating anything (always done when the
    /// target exists).
    pub verify_first: bool,
    /// Insert RPCs in flight (one connection each).
    pub concurrency: usize,
    /// The size of one insert request, pinned (`--batch-bytes`); `None`:
    /// adapted to the server, up to [`MAX_BATCH_BYTES`].
    pub batch_bytes: Option<u64>,
    /// Attempts per batch on transient errors.
    pub attempts: u32,
    /// Progress on stderr.
    pub progress: bool,
    /// Timeout for index builds and loading.
    pub wait: Duration,
    /// `--max-rows-per-second` / `--max-bytes-per-second`, shared by every
    /// connection (`None`: no limit).
    pub pacer: Option<Arc<Pacer>>,
    /// `--import[=auto]`: the server reads the set's parts (Import).
    pub import: Option<ImportWhen>,
    /// `--import-root`: what to strip from the set's location to get the
    /// paths the server reads.
    pub import_root: Option<String>,
}

impl LoadOptions {
    /// The choices a plan depends on.
    pub fn choices(&self) -> Choices {
        Choices {
            if_exists: self.if_exists,
            resume: self.resume,
            new_ids: self.new_ids,
            index_fallback: self.index_fallback.clone(),
            import: self.import,
        }
    }
}

/// What a load has written so far, for the message when a signal stops
/// it midway (the future running it is dropped at its next await).
#[derive(Default)]
pub struct Underway {
    /// Rows the server acknowledged.
    committed: Arc<AtomicU64>,
    /// The collection rows go into and how to continue, once known.
    writing: std::sync::Mutex<Option<(String, String)>>,
}

impl Underway {
    fn writing(&self, collection: &str, next: &str) {
        if let Ok(mut writing) = self.writing.lock() {
            *writing = Some((collection.to_string(), next.to_string()));
        }
    }

    /// What is committed where, and how to continue.
    pub fn describe(&self) -> String {
        match self.writing.lock().ok().and_then(|w| w.clone()) {
            None => "nothing was written".into(),
            Some((collection, next)) => format!(
                "{} rows were committed to {collection}{next}",
                self.committed.load(std::sync::atomic::Ordering::Relaxed)
            ),
        }
    }
}

/// What a run did.
#[derive(Debug)]
pub enum Outcome {
    /// `--dry-run`: what it would do.
    DryRun(Box<DryRun>),
    /// The load, done.
    Loaded(Box<Summary>),
}

/// What `--dry-run` prints: the plan, and what the load would read and build.
#[derive(Debug, Serialize)]
pub struct DryRun {
    /// Always true (tells this output from a summary).
    pub dry_run: bool,
    /// The plan.
    #[serde(flatten)]
    pub plan: Plan,
    /// Database (empty: default).
    pub database: String,
    /// Rows in the input, when it says.
    pub rows: Option<u64>,
    /// Indexes that would be built.
    pub indexes: Vec<String>,
    /// Rows in the first insert batch.
    pub batch_rows: usize,
    /// Whether the collection would be loaded into memory.
    pub load: bool,
    /// The alias that would be pointed at it.
    pub alias: Option<String>,
}

/// The one-line JSON summary.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Target collection.
    pub collection: String,
    /// Database (empty: default).
    pub database: String,
    /// Rows inserted and acknowledged.
    pub rows: u64,
    /// Seconds, end to end.
    pub seconds: f64,
    /// Where the seconds went, phase by phase.
    pub phases: Phases,
    /// Rows per second of the phase that puts the rows in.
    pub rows_per_s: f64,
    /// How the rows got in: `insert` or `import`.
    pub rows_via: RowsVia,
    /// Insert batches sent.
    pub batches: u64,
    /// Rows per batch.
    pub batch_rows: usize,
    /// Whether the collection was created, appended to, upserted or replaced.
    pub mode: String,
    /// Indexes built.
    pub indexes: Vec<String>,
    /// Whether it was loaded.
    pub loaded: bool,
    /// Aliases pointed at it.
    pub aliases: Vec<String>,
    /// Things the operator should know.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The rate limits held (`--max-rows-per-second`, `--max-bytes-per-second`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Held>,
}

/// Seconds of each phase of a load; the rest of `seconds` is opening the
/// input and creating the collection.
#[derive(Debug, Default, Serialize)]
pub struct Phases {
    /// Putting the rows in: reading, encoding and inserting them, or the
    /// server importing them (which builds the indexes on each imported
    /// segment before it counts as done).
    pub rows: f64,
    /// Sealing and counting them (flush, row count).
    pub persisted: f64,
    /// Building the indexes after the rows (none after an import).
    pub indexed: f64,
    /// Loading the collection for search, and switching over.
    pub loaded: f64,
}

/// Reads a header saved by `milvus-dump --schema-only` (or a bare header object).
fn read_schema_file(path: &PathBuf) -> Result<Header> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --schema {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(text.trim())
        .with_context(|| format!("--schema {}: not JSON", path.display()))?;
    let value = value.get(HEADER_KEY).cloned().unwrap_or(value);
    Header::from_json(value).with_context(|| format!("--schema {}", path.display()))
}

fn pk_text(batch: &RecordBatch, pk_column: Option<usize>) -> String {
    let Some(column) = pk_column.map(|i| batch.column(i)) else {
        return "(auto)".into();
    };
    if column.is_empty() {
        return "(none)".into();
    }
    pk_at(column, 0).map_or_else(|| "?".into(), |key| key.to_string())
}

/// The largest insert request an adapting load sends (under every server's
/// message limit; Milvus 2.3.5 is as fast from 1 MiB up, bench/load).
pub const MAX_BATCH_BYTES: u64 = 8 << 20;

/// Rows per insert batch: `batch_bytes` of rows of `row_bytes` each.
fn rows_per_batch(batch_bytes: u64, row_bytes: u64) -> usize {
    usize::try_from(batch_bytes / row_bytes.max(1))
        .unwrap_or(usize::MAX)
        .clamp(1, MAX_INSERT_ROWS)
}

/// Everything the reader thread needs.
struct ReadPlan {
    units: Vec<Unit>,
    spool: Spool,
    send: Vec<FieldSpec>,
    skip: Vec<String>,
    /// Rows are decoded in batches of this many bytes...
    read_bytes: u64,
    /// ...and cut to the size this sizer says (`None`: pinned, not cut)...
    sizer: Option<Arc<Mutex<RequestSizer>>>,
    /// ...and never above the rows the server last refused as too large.
    row_cap: Arc<AtomicUsize>,
    /// Bytes per row where a unit does not tell (JSONL).
    row_bytes: u64,
    /// Per unit (when resuming): keys already in the collection, not sent again.
    present: Vec<Option<PresentKeys>>,
    collection: String,
}

/// What the reader thread handed over.
#[derive(Default)]
struct Produced {
    batches: u64,
    /// The largest number of rows per batch used.
    batch_rows: usize,
}

/// Reads every unit (the next one fetched and proven while one is read),
/// encodes insert batches, hands them to the senders.
fn produce(mut plan: ReadPlan, tx: mpsc::Sender<Result<Prepared>>) -> Produced {
    let units = input::read_ahead(std::mem::take(&mut plan.units), plan.spool.clone());
    let plan = plan;
    let mut produced = Produced::default();
    let partition_column = plan.send.iter().position(layout::is_partition_column);
    let refs: Vec<&FieldSpec> = plan
        .send
        .iter()
        .filter(|f| !layout::is_partition_column(f))
        .collect();
    let pk_column = refs.iter().position(|f| f.is_primary_key);
    let send_pk = plan.send.iter().position(|f| f.is_primary_key);
    let mut emit = |source: &str, batch: RecordBatch, asked: usize| -> Result<()> {
        for (partition, batch) in by_partition(batch, partition_column)? {
            if batch.num_rows() == 0 {
                continue;
            }
            let fields_data = insert_columns(&refs, &batch)
                .map_err(|e| Exit::Corrupt.because(anyhow!("{source}: {e}")))?;
            let prepared = Prepared {
                first_pk: pk_text(&batch, pk_column),
                rows: batch.num_rows() as u64,
                asked,
                bytes: batch.get_array_memory_size() as u64,
                batch: InsertBatch {
                    collection_name: plan.collection.clone(),
                    partition_name: partition,
                    fields_data,
                    num_rows: u32::try_from(batch.num_rows()).unwrap_or(u32::MAX),
                    ..Default::default()
                },
            };
            tx.blocking_send(Ok(prepared))
                .map_err(|_| anyhow!("the insert side stopped"))?;
            produced.batches += 1;
        }
        Ok(())
    };
    let ignored: Vec<&str> = plan.skip.iter().map(String::as_str).collect();
    let mut batch_rows_used = 0;
    let result = (|| -> Result<()> {
        for (index, opened) in units.enumerate() {
            let (source, decoder) = opened?;
            let present = plan.present.get(index).and_then(Option::as_ref);
            let row_bytes = decoder.average_row_bytes().unwrap_or(plan.row_bytes);
            let read_rows = rows_per_batch(plan.read_bytes, row_bytes);
            let mut batches = decoder.batches(&plan.send, &ignored, read_rows)?;
            for batch in batches.by_ref() {
                let mut batch = batch?;
                if let (Some(present), Some(pk)) = (present, send_pk) {
                    batch = present.remove_from(batch, pk)?;
                }
                // Cut to the size the senders' measurements favour now.
                let mut offset = 0;
                while offset < batch.num_rows() {
                    let asked = match &plan.sizer {
                        Some(sizer) => sizer.lock().map(|s| s.rows()).unwrap_or(read_rows),
                        None => read_rows,
                    }
                    .min(plan.row_cap.load(Ordering::Relaxed));
                    let len = asked.min(batch.num_rows() - offset);
                    batch_rows_used = batch_rows_used.max(asked);
                    emit(&source, batch.slice(offset, len), asked)?;
                    offset += len;
                }
            }
            batches.finish()?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = tx.blocking_send(Err(e));
    }
    Produced {
        batch_rows: batch_rows_used,
        ..produced
    }
}

/// Splits a batch by its `$partition` column (when it has one) into one
/// batch per partition, without that column. No column: one batch for the
/// default routing (empty partition name).
fn by_partition(
    batch: RecordBatch,
    partition_column: Option<usize>,
) -> Result<Vec<(String, RecordBatch)>> {
    let Some(index) = partition_column else {
        return Ok(vec![(String::new(), batch)]);
    };
    let labels = batch.column(index).as_string::<i32>().clone();
    let mut rest = batch;
    rest.remove_column(index);
    let mut names: Vec<&str> = Vec::new();
    for label in labels.iter().flatten() {
        if !names.contains(&label) {
            names.push(label);
        }
    }
    if names.len() <= 1 {
        return Ok(vec![(names.first().unwrap_or(&"").to_string(), rest)]);
    }
    names
        .into_iter()
        .map(|name| {
            let mask: arrow::array::BooleanArray =
                labels.iter().map(|l| Some(l == Some(name))).collect();
            Ok((
                name.to_string(),
                arrow::compute::filter_record_batch(&rest, &mask)?,
            ))
        })
        .collect()
}

/// Creates the target database when it is missing.
async fn ensure_database(connect: &ConnectOptions) -> Result<()> {
    let Some(db) = connect.db.as_deref() else {
        return Ok(());
    };
    let admin = Milvus::connect(&ConnectOptions {
        db: None,
        ..connect.clone()
    })
    .await?;
    if !admin.list_databases().await?.iter().any(|d| d == db) {
        admin.create_database(db).await?;
        eprintln!("milvus-load: created database {db:?}");
    }
    Ok(())
}

/// Points `alias` at the existing collection `name` (`--alias-only`).
pub async fn alias_only(connect: &ConnectOptions, name: &str, alias: &str) -> Result<()> {
    let client = Milvus::connect(connect).await?;
    if !client.has_collection(name).await? {
        return Err(
            Exit::NotFound.because(anyhow!("--alias-only: collection {name:?} does not exist"))
        );
    }
    client.point_alias(alias, name).await?;
    Ok(())
}

/// Drops `name` (`--drop`): refused when it does not exist or an alias
/// points at it (an alias is how readers find a collection). Returns the
/// rows it held, by the server's statistics.
pub async fn drop_collection(connect: &ConnectOptions, name: &str) -> Result<u64> {
    let client = Milvus::connect(connect).await?;
    if !client.has_collection(name).await? {
        return Err(Exit::NotFound.because(anyhow!("--drop: collection {name:?} does not exist")));
    }
    let (marks, aliases): (Vec<String>, Vec<String>) = client
        .aliases(name)
        .await?
        .into_iter()
        .partition(|alias| milvus_wire::is_load_mark(alias));
    if !aliases.is_empty() {
        return Err(Exit::Refused.because(anyhow!(
            "--drop: aliases {aliases:?} point at {name:?}: move or drop them first"
        )));
    }
    let rows = client.statistics_row_count(name).await.unwrap_or(0);
    // The mark of an unfinished load goes with the collection it marks.
    for mark in &marks {
        client.drop_alias(mark).await?;
    }
    client.drop_collection(name).await?;
    Ok(rows)
}

/// Runs a restore.
pub async fn run(
    connect: &ConnectOptions,
    options: &LoadOptions,
    underway: &Underway,
) -> Result<Outcome> {
    let started = Instant::now();
    let input: Input = input::open(
        &options.location,
        options.pick.as_deref(),
        &options.spool,
        &options.store,
    )
    .await?;
    let header = match (&input.header, &options.schema_file) {
        (_, Some(path)) => Some(read_schema_file(path).map_err(|e| Exit::Corrupt.because(e))?),
        (Some(h), None) => Some(h.clone()),
        (None, None) => None,
    };
    if !options.dry_run {
        ensure_database(connect).await?;
    }
    let client = Milvus::connect(connect).await?;
    let target = match (&options.target, &header) {
        (Some(t), _) => t.clone(),
        (None, Some(h)) => h.collection.name.clone(),
        (None, None) => {
            return Err(Exit::Usage.because(anyhow!(
                "headerless input: name the existing collection to load into with -c NAME"
            )))
        }
    };
    if options.resume && input.parts.is_empty() {
        return Err(Exit::Usage.because(anyhow!(
            "--resume continues the load of a backup set; {} is a stream",
            options.location
        )));
    }
    let exists = client.has_collection(&target).await?;
    // The schema: the header's, or for headerless input the existing collection's.
    let (spec, scope) = match (&header, &input.header) {
        // What the columns are is the input's own header's to say; a header
        // given with --schema describes only the collection: headerless rows
        // and bulk-import files carry no partition column, whatever the dump
        // that header came from did.
        (Some(h), Some(own)) => (h.collection.clone(), own.scope.clone()),
        (Some(h), None) => (
            h.collection.clone(),
            Scope {
                row_partitions: false,
                ..h.scope.clone()
            },
        ),
        (None, _) => {
            if !exists {
                return Err(Exit::NotFound.because(anyhow!(
                    "headerless input needs an existing collection (or --schema FILE): {target:?} does not exist"
                )));
            }
            let described = client.describe_collection(&target).await?;
            let partitions = client.list_partitions(&target).await?;
            let spec = CollectionSpec::from_server(&described, partitions, &[])?;
            (spec, Scope::default())
        }
    };
    let marks = if options.resume && exists {
        let aliases = client.aliases(&target).await?;
        aliases
            .into_iter()
            .filter(|a| milvus_wire::is_load_mark(a))
            .collect()
    } else {
        Vec::new()
    };
    let server = TargetServer {
        exists,
        marks,
        caps: ServerCaps::for_version(client.server_version().await?.as_deref()),
        has_import: options.import.is_some() && client.has_import().await?,
    };
    let import_blocker = options
        .import
        .and_then(|_| import::format_blocker(&input.parts, &scope));
    let source = Source {
        spec,
        scope,
        // A load of a set marks the collection it creates until it
        // completes; --resume continues only into one carrying this mark.
        set_mark: (!input.parts.is_empty()).then(|| load_mark(client.db(), &target, &input.parts)),
        import_blocker,
    };
    let plan = plan::plan(&target, source, &server, &options.choices())?;
    let estimated_row_bytes = estimated_row_bytes(&plan.send);
    let row_bytes = input.average_row_bytes.unwrap_or(estimated_row_bytes);
    // Batch sizes adapt to the server as the dump's pages do, unless pinned.
    let sizer = options.batch_bytes.is_none().then(|| {
        let bounds = Bounds::insert_batches(MAX_BATCH_BYTES as usize);
        let sizer = RequestSizer::within(bounds, row_bytes as usize).shared_by(options.concurrency);
        Arc::new(Mutex::new(sizer))
    });
    let batch_rows = match &sizer {
        Some(sizer) => sizer.lock().map(|s| s.rows()).unwrap_or(1),
        None => rows_per_batch(options.batch_bytes.unwrap_or(MAX_BATCH_BYTES), row_bytes),
    };
    if options.dry_run {
        return Ok(Outcome::DryRun(Box::new(DryRun {
            dry_run: true,
            database: client.db().to_string(),
            rows: input.rows,
            indexes: plan
                .spec
                .indexes
                .iter()
                .map(|i| i.index_name.clone())
                .collect(),
            batch_rows,
            load: !options.no_load,
            alias: options.alias.clone(),
            plan,
        })));
    }
    execute(
        &client,
        connect,
        plan,
        input,
        Batching {
            sizer,
            estimated_row_bytes,
        },
        options,
        underway,
    )
    .await
    .map(|summary| {
        Outcome::Loaded(Box::new(Summary {
            seconds: started.elapsed().as_secs_f64(),
            ..summary
        }))
    })
}

/// How the rows are cut into insert batches.
struct Batching {
    /// Adapts batch sizes to the server (`None`: pinned by `--batch-bytes`).
    sizer: Option<Arc<Mutex<RequestSizer>>>,
    /// Bytes per row by the schema, for inputs that do not say.
    estimated_row_bytes: u64,
}

/// Carries out `plan`: creates, fills, checks, indexes, loads, switches
/// over. On failure the error says what was written and how to continue.
async fn execute(
    client: &Milvus,
    connect: &ConnectOptions,
    mut plan: Plan,
    mut input: Input,
    batching: Batching,
    options: &LoadOptions,
    underway: &Underway,
) -> Result<Summary> {
    // A set's parts are proven as they are read; a load into a collection
    // it did not create proves the whole set before touching it.
    if !plan.action.creates() || options.verify_first {
        input.check_all_parts().await?;
    }
    underway.writing(&plan.place(), &plan.how_to_continue());
    if plan.action.creates() {
        create_target(client, &mut plan, underway).await?;
    }
    let input_rows = input.rows;
    let (inserted, rows_to_insert) = match plan.rows_via {
        RowsVia::Insert => {
            insert_input(client, connect, &plan, input, batching, options, underway).await?
        }
        RowsVia::Import => match import_input(client, &plan, &input.parts, options, underway).await
        {
            Ok(imported) => imported,
            Err(failure)
                if failure.persisted_rows == 0 && options.import == Some(ImportWhen::Auto) =>
            {
                plan.warnings.push(format!(
                    "not imported ({:#}); inserted instead",
                    failure.error
                ));
                plan.rows_via = RowsVia::Insert;
                insert_input(client, connect, &plan, input, batching, options, underway).await?
            }
            Err(failure) => {
                let why = "the server did not import the set";
                return Err(stopped(client, &plan, failure.error, true, why, underway).await);
            }
        },
    };
    let persisting = Instant::now();
    check_rows(
        client,
        &plan,
        inserted.rows,
        rows_to_insert,
        input_rows,
        options,
    )
    .await?;
    let persisted = persisting.elapsed().as_secs_f64();
    let finished = finish(client, &mut plan, inserted.rows, options).await?;
    Ok(Summary {
        collection: plan.target,
        database: client.db().to_string(),
        rows: inserted.rows,
        seconds: 0.0, // set by the caller, who started the clock
        phases: Phases {
            rows: inserted.seconds,
            persisted,
            indexed: finished.indexed_seconds,
            loaded: finished.loaded_seconds,
        },
        rows_per_s: inserted.rows as f64 / inserted.seconds.max(1e-9),
        rows_via: plan.rows_via,
        batches: inserted.produced.batches,
        batch_rows: inserted.produced.batch_rows,
        mode: plan.action.name().into(),
        indexes: finished.indexes,
        loaded: finished.loaded,
        aliases: finished.aliases,
        warnings: plan.warnings,
        throttle: options.pacer.as_ref().map(|p| p.report()),
    })
}

/// Inserts the input's rows (for `--resume`, those not in yet); returns
/// what was inserted and how many rows were to be.
async fn insert_input(
    client: &Milvus,
    connect: &ConnectOptions,
    plan: &Plan,
    input: Input,
    batching: Batching,
    options: &LoadOptions,
    underway: &Underway,
) -> Result<(Inserted, Option<u64>)> {
    let to_insert = if plan.action == Action::Resume {
        parts_to_insert(client, plan, input.units, &input.parts, options).await?
    } else {
        ToInsert {
            units: input.units,
            present: Vec::new(),
            rows: input.rows,
        }
    };
    let rows = to_insert.rows;
    let inserted = insert(
        client, connect, plan, to_insert, batching, options, underway,
    )
    .await?;
    Ok((inserted, rows))
}

/// Has the server import the set's parts (for `--resume`, those no import
/// task of the interrupted load persisted).
async fn import_input(
    client: &Milvus,
    plan: &Plan,
    parts: &[Part],
    options: &LoadOptions,
    underway: &Underway,
) -> std::result::Result<(Inserted, Option<u64>), import::ImportFailure> {
    let fail = |error| import::ImportFailure {
        error,
        persisted_rows: 0,
    };
    let files = import::server_paths(&options.location, parts, options.import_root.as_deref())
        .map_err(fail)?;
    let parts: Vec<(Part, String)> = parts.iter().cloned().zip(files).collect();
    let to_import = if plan.action == Action::Resume {
        import::still_to_import(client, &plan.load_into, parts, options.wait)
            .await
            .map_err(fail)?
    } else {
        ToImport {
            rows: parts.iter().map(|(part, _)| part.rows).sum(),
            parts,
        }
    };
    let rows = to_import.rows;
    let started = Instant::now();
    // Milvus builds the indexes on each imported segment before its rows
    // become visible: they exist before the first import.
    if plan.action.creates() {
        create_indexes(client, &plan.spec, &plan.load_into, options)
            .await
            .map_err(fail)?;
    }
    let imported = import::import_parts(
        client,
        &plan.load_into,
        to_import,
        options.concurrency,
        options.wait,
        options.progress,
        underway.committed.clone(),
    )
    .await?;
    let inserted = Inserted {
        rows: imported,
        seconds: started.elapsed().as_secs_f64(),
        produced: Produced::default(),
    };
    Ok((inserted, Some(rows)))
}

/// The error of a load that stopped midway, saying what is left where. When
/// the input is to blame, what this load created cannot become a restore,
/// and is not left behind as if it were one: it is dropped again.
async fn stopped(
    client: &Milvus,
    plan: &Plan,
    error: anyhow::Error,
    input_to_blame: bool,
    why: &str,
    underway: &Underway,
) -> anyhow::Error {
    let load_into = &plan.load_into;
    if input_to_blame && plan.action.creates() {
        if let Some(mark) = &plan.mark {
            let _ = client.drop_alias(mark).await;
        }
        let outcome = match client.drop_collection(load_into).await {
            Ok(()) => format!("{load_into:?}, created by this load, is dropped again"),
            Err(e) => format!(
                "{load_into:?}, created by this load, could not be dropped ({e:#}): drop it"
            ),
        };
        let committed = underway.committed.load(Ordering::Relaxed);
        return error.context(format!(
            "load stopped after {committed} rows: {outcome}; {why}"
        ));
    }
    error.context(format!("load stopped: {}", underway.describe()))
}

impl Plan {
    /// Where the rows go, for the message when a load stops midway.
    fn place(&self) -> String {
        let (load_into, target) = (&self.load_into, &self.target);
        if self.action == Action::Replace {
            format!("the temporary collection {load_into:?} (the original {target:?} is untouched; drop the temporary one)")
        } else {
            format!("{load_into:?}")
        }
    }

    /// How to continue a load that stopped midway.
    fn how_to_continue(&self) -> String {
        let load_into = &self.load_into;
        if self.action == Action::Replace {
            String::new()
        } else if self.mark.is_some() {
            format!(
                "; continue with: {}",
                pipes_cli::command_line_with("--resume")
            )
        } else if self.action.creates() {
            format!("; drop {load_into:?} (milvus-load --drop) and load again")
        } else {
            "; load again with --if-exists upsert (rows already in are replaced, not doubled)"
                .into()
        }
    }
}

/// Creates the collection the rows go into, its partitions, and the mark of
/// a load under way (dropped from the plan where the server has no aliases).
async fn create_target(client: &Milvus, plan: &mut Plan, underway: &Underway) -> Result<()> {
    let load_into = plan.load_into.clone();
    let mut request = create_request(&plan.spec, &load_into)?;
    if plan.allow_ids_for_the_load {
        request.properties.push(KeyValuePair {
            key: ALLOW_INSERT_AUTO_ID.into(),
            value: "true".into(),
        });
    }
    client.create_collection(request).await.map_err(|e| {
        let e = anyhow!(e).context(format!("creating collection {load_into:?}"));
        // A missing privilege stays "denied"; anything else the server
        // refuses to create is the target unable to hold the data.
        if pipes_cli::exit::for_error(&e) == Exit::Denied {
            e
        } else {
            Exit::Refused.because(e)
        }
    })?;
    for partition in &plan.partitions {
        client.create_partition(&load_into, partition).await?;
    }
    if let Some(name) = &plan.mark {
        match client.point_alias(name, &load_into).await {
            Ok(()) => {}
            // No aliases (Milvus Lite 2.5): no mark, so no --resume.
            Err(e) if e.is_unsupported() => {
                plan.warnings.push(format!(
                    "this server cannot mark {load_into:?} as a load under way (no aliases): \
                     if this load is interrupted it cannot be resumed, only loaded again"
                ));
                plan.mark = None;
                underway.writing(&plan.place(), &plan.how_to_continue());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// What is inserted: the input's units, with the keys already in the
/// collection for each (when resuming), and how many rows that makes.
struct ToInsert {
    units: Vec<Unit>,
    present: Vec<Option<PresentKeys>>,
    rows: Option<u64>,
}

/// `--resume`: the units still to insert, the keys already in for each, and
/// how many rows that leaves.
async fn parts_to_insert(
    client: &Milvus,
    plan: &Plan,
    units: Vec<Unit>,
    parts: &[Part],
    options: &LoadOptions,
) -> Result<ToInsert> {
    let resume = parts_to_resume(client, &plan.spec, &plan.load_into, parts, options).await?;
    let rows = parts
        .iter()
        .zip(&resume)
        .map(|(part, resume)| match resume {
            ResumePart::Loaded => 0,
            ResumePart::All => part.rows,
            ResumePart::Missing(keys) => part.rows.saturating_sub(keys.len() as u64),
        })
        .sum();
    let (units, present) = units
        .into_iter()
        .zip(resume)
        .filter_map(|(unit, resume)| match resume {
            ResumePart::Loaded => None,
            ResumePart::All => Some((unit, None)),
            ResumePart::Missing(keys) => Some((unit, Some(keys))),
        })
        .unzip();
    Ok(ToInsert {
        units,
        present,
        rows: Some(rows),
    })
}

/// What the insert phase did.
struct Inserted {
    /// Rows the server acknowledged.
    rows: u64,
    /// Its duration.
    seconds: f64,
    /// What the reader thread handed over.
    produced: Produced,
}

/// Inserts `units`: a reader thread, `concurrency` connections. A bad input
/// drops the collection this load created; any other stop says what is
/// committed and how to continue.
async fn insert(
    client: &Milvus,
    connect: &ConnectOptions,
    plan: &Plan,
    to_insert: ToInsert,
    batching: Batching,
    options: &LoadOptions,
    underway: &Underway,
) -> Result<Inserted> {
    let load_into = &plan.load_into;
    let mut clients = vec![client.clone()];
    for _ in 1..options.concurrency.max(1) {
        clients.push(Milvus::connect(connect).await?);
    }
    let (tx, rx) = mpsc::channel(options.concurrency.max(1));
    let row_cap = Arc::new(AtomicUsize::new(usize::MAX));
    let reading = ReadPlan {
        units: to_insert.units,
        spool: options.spool.clone(),
        send: plan.send.clone(),
        skip: plan.skip.clone(),
        read_bytes: options.batch_bytes.unwrap_or(MAX_BATCH_BYTES),
        sizer: batching.sizer.clone(),
        row_cap: row_cap.clone(),
        row_bytes: batching.estimated_row_bytes,
        present: to_insert.present,
        collection: load_into.clone(),
    };
    let started = Instant::now();
    let reader = std::thread::spawn(move || produce(reading, tx));
    let committed = underway.committed.clone();
    let progress = Progress::start(
        "milvus-load",
        options.progress,
        committed.clone(),
        load_into,
        to_insert.rows.unwrap_or(0),
    );
    let send_options = SendOptions {
        upsert: plan.action == Action::Upsert,
        concurrency: options.concurrency,
        backoff: Backoff::attempts(options.attempts),
        pacer: options.pacer.clone(),
        sizer: batching.sizer,
        row_cap,
    };
    let sent = send_all(&clients, rx, &send_options, committed).await;
    drop(progress);
    let produced = reader.join().unwrap_or_default();
    match sent {
        Ok(rows) => Ok(Inserted {
            rows,
            seconds: started.elapsed().as_secs_f64(),
            produced,
        }),
        Err(failure) => {
            let bad_input = matches!(
                pipes_cli::exit::for_error(&failure.error),
                Exit::Corrupt | Exit::Incomplete
            );
            let why = "the input is bad";
            Err(stopped(client, plan, failure.error, bad_input, why, underway).await)
        }
    }
}

/// The rows are all there before anything is switched over. Acknowledged
/// inserts are durable in Milvus's log already; a new collection is flushed
/// so its segments are sealed (and indexed) before it is declared restored,
/// and so its row count can be read without loading it. Appends are left for
/// Milvus to seal (frequent flushes of a live collection are what its
/// documentation warns against).
async fn check_rows(
    client: &Milvus,
    plan: &Plan,
    rows: u64,
    rows_to_insert: Option<u64>,
    input_rows: Option<u64>,
    options: &LoadOptions,
) -> Result<()> {
    let load_into = &plan.load_into;
    if plan.action.creates() {
        client.flush(load_into, options.wait).await?;
        let counted = client.statistics_row_count(load_into).await?;
        if counted != rows {
            bail!("collection {load_into:?} counts {counted} rows after loading {rows}: not switching anything over");
        }
    }
    if let Some(expected) = rows_to_insert {
        if expected != rows {
            bail!("the input holds {expected} rows but {rows} were loaded");
        }
    }
    if plan.action == Action::Resume {
        let total = match plan.rows_via {
            // Loaded by the resume, to find the keys already in.
            RowsVia::Insert => client.count(load_into, "", &[], Freshness::Strong).await?,
            // Never loaded: counted by its (flushed) segments.
            RowsVia::Import => {
                client.flush(load_into, options.wait).await?;
                client.statistics_row_count(load_into).await?
            }
        };
        if Some(total) != input_rows {
            bail!(
                "after resuming, {load_into:?} holds {total} rows; the set has {}",
                input_rows.unwrap_or(0)
            );
        }
    }
    Ok(())
}

/// What the last phase did.
struct Finished {
    indexes: Vec<String>,
    loaded: bool,
    aliases: Vec<String>,
    indexed_seconds: f64,
    /// Loading and switching over.
    loaded_seconds: f64,
}

/// Indexes, loads, removes the load's mark, swaps a replacement in, points
/// the aliases.
async fn finish(
    client: &Milvus,
    plan: &mut Plan,
    rows: u64,
    options: &LoadOptions,
) -> Result<Finished> {
    let (load_into, spec) = (&plan.load_into, &plan.spec);
    let creating = plan.action.creates();
    // Built here unless an import built them first (a resume finds them as
    // the interrupted load left them).
    let built_before = if creating || plan.action == Action::Resume {
        !client.describe_indexes(load_into).await?.is_empty()
    } else {
        true
    };
    let mut indexes = Vec::new();
    let mut indexed_seconds = 0.0;
    if creating && built_before {
        indexes = spec.indexes.iter().map(|i| i.index_name.clone()).collect();
    } else if !built_before {
        let indexing = Instant::now();
        indexes = create_indexes(client, spec, load_into, options)
            .await
            .with_context(|| {
                format!("the {rows} rows are in {load_into:?}, but its indexes could not be built")
            })?;
        indexed_seconds = indexing.elapsed().as_secs_f64();
        let has_vectors = spec.fields.iter().any(|f| layout::is_vector(f.data_type));
        if has_vectors && spec.indexes.is_empty() {
            plan.warnings.push(
                "the header records no index: the collection cannot be loaded until one is created"
                    .into(),
            );
        }
    }
    let loading = Instant::now();
    if plan.allow_ids_for_the_load {
        client
            .drop_collection_properties(load_into, &[ALLOW_INSERT_AUTO_ID])
            .await?;
    }
    let can_load = !(creating && spec.indexes.is_empty());
    let loaded = !options.no_load && can_load;
    if loaded {
        client.load_collection(load_into, options.wait).await?;
    }
    // Complete: nothing left to resume.
    if let Some(mark) = &plan.mark {
        client.drop_alias(mark).await?;
    }
    if plan.action == Action::Replace {
        swap_in(client, load_into, &plan.target).await?;
    }
    let mut aliases = Vec::new();
    if options.restore_aliases {
        aliases.extend(spec.aliases.iter().cloned());
    }
    aliases.extend(options.alias.iter().cloned());
    for alias in &aliases {
        client.point_alias(alias, &plan.target).await?;
    }
    Ok(Finished {
        indexes,
        loaded,
        aliases,
        indexed_seconds,
        loaded_seconds: loading.elapsed().as_secs_f64(),
    })
}

/// Builds the header's indexes on `collection` (with `--index-fallback` where
/// the server refuses a type) and waits until they are built.
async fn create_indexes(
    client: &Milvus,
    spec: &CollectionSpec,
    collection: &str,
    options: &LoadOptions,
) -> Result<Vec<String>> {
    let mut built = Vec::new();
    for index in &spec.indexes {
        let create = |fallback: Option<&str>| {
            client.create_index(
                collection,
                &index.field_name,
                &index.index_name,
                index_params(index, fallback),
            )
        };
        let mut result = create(None).await;
        if let (Err(e), Some(fallback)) = (&result, &options.index_fallback) {
            eprintln!(
                "milvus-load: index {:?} ({}) refused ({e}); using --index-fallback {fallback}",
                index.index_name, index.index_type
            );
            result = create(Some(fallback)).await;
        }
        result.with_context(|| {
            format!(
                "index {:?}: rerun with --index-fallback AUTOINDEX, or create it by hand",
                index.index_name
            )
        })?;
        built.push(index.index_name.clone());
    }
    client.wait_for_indexes(collection, options.wait).await?;
    Ok(built)
}

/// The mark (an alias, see [`milvus_wire::LOAD_MARK_PREFIX`]) a load of
/// the set made of `parts` puts on `collection` of `database` while it runs.
fn load_mark(database: &str, collection: &str, parts: &[Part]) -> String {
    let mut identity = HashingWriter::new(std::io::sink());
    let mut add = |text: &str| {
        let _ = identity.write_all(text.as_bytes());
        let _ = identity.write_all(b"\n");
    };
    add(database);
    add(collection);
    for part in parts {
        add(&part.sha256);
    }
    let (_, _, sha256) = identity.finish();
    format!("{}{}", milvus_wire::LOAD_MARK_PREFIX, &sha256[..24])
}

/// What `--resume` does with one part of the set.
enum ResumePart {
    /// All its rows are in: skipped.
    Loaded,
    /// None of its rows are in: loaded whole.
    All,
    /// Some are in: only the others are inserted (nothing is deleted).
    Missing(PresentKeys),
}

/// Primary keys already in the collection.
struct PresentKeys(HashSet<Pk>);

impl PresentKeys {
    fn len(&self) -> usize {
        self.0.len()
    }

    /// `batch` without the rows whose key (column `pk`) is present.
    fn remove_from(&self, batch: RecordBatch, pk: usize) -> Result<RecordBatch> {
        let column = batch.column(pk);
        let keep: BooleanArray = (0..column.len())
            .map(|row| Some(!pk_at(column, row).is_some_and(|key| self.0.contains(&key))))
            .collect();
        Ok(arrow::compute::filter_record_batch(&batch, &keep)?)
    }
}

/// `--resume` of a backup set into the collection an interrupted load of it
/// created (its mark checked): which parts are already in, counted by each
/// part's key range (the collection is indexed and loaded first, which
/// counting needs). Of a part only partly in, the keys present are read so
/// that only the missing rows are inserted: nothing is deleted.
async fn parts_to_resume(
    client: &Milvus,
    spec: &CollectionSpec,
    collection: &str,
    parts: &[Part],
    options: &LoadOptions,
) -> Result<Vec<ResumePart>> {
    if client.describe_indexes(collection).await?.is_empty() {
        create_indexes(client, spec, collection, options).await?;
    }
    client.load_collection(collection, options.wait).await?;
    let pk = &spec.primary_key()?.name;
    let mut plans = Vec::with_capacity(parts.len());
    for part in parts {
        let (Some(first), Some(last)) =
            (Pk::from_json(&part.first_pk), Pk::from_json(&part.last_pk))
        else {
            plans.push(ResumePart::Loaded); // an empty part
            continue;
        };
        let range = expr::and(&first.from_expr(pk), &last.upto_expr(pk));
        // A part of one partition is counted there: the key ranges of
        // different partitions' parts overlap.
        let partitions: Vec<String> = part.partition.iter().cloned().collect();
        let present = client
            .count(collection, &range, &partitions, Freshness::Strong)
            .await?;
        if present == 0 {
            plans.push(ResumePart::All);
        } else if present == part.rows {
            eprintln!(
                "milvus-load: resume: {} already loaded ({} rows)",
                part.path, part.rows
            );
            plans.push(ResumePart::Loaded);
        } else {
            eprintln!(
                "milvus-load: resume: {} partly loaded ({present} of {} rows): loading the rest",
                part.path, part.rows
            );
            plans.push(ResumePart::Missing(
                present_keys(client, collection, pk, &range, partitions).await?,
            ));
        }
    }
    Ok(plans)
}

/// The primary keys of `collection` (in `partitions`; empty: all) matching `range`.
async fn present_keys(
    client: &Milvus,
    collection: &str,
    pk: &str,
    range: &str,
    partitions: Vec<String>,
) -> Result<PresentKeys> {
    use milvus_wire::proto::schema::{field_data::Field, scalar_field::Data};
    let mut request = milvus_wire::proto::milvus::QueryRequest {
        db_name: client.db().to_string(),
        collection_name: collection.to_string(),
        expr: range.to_string(),
        partition_names: partitions,
        output_fields: vec![pk.to_string()],
        ..Default::default()
    };
    Freshness::Strong.apply(&mut request);
    let results = client.query(request).await?;
    let column = results
        .fields_data
        .into_iter()
        .find(|f| f.field_name == pk)
        .and_then(|f| match f.field {
            Some(Field::Scalars(scalars)) => scalars.data,
            _ => None,
        });
    match column {
        Some(Data::LongData(keys)) => Ok(PresentKeys(keys.data.into_iter().map(Pk::Int).collect())),
        Some(Data::StringData(keys)) => {
            Ok(PresentKeys(keys.data.into_iter().map(Pk::Str).collect()))
        }
        _ => bail!("resume: the server returned no {pk:?} keys for {range}"),
    }
}

/// Replaces `target` with the fully loaded and verified `loaded`: its aliases
/// move first (so readers never see a missing collection), then the old one
/// is dropped and the new one takes its name.
async fn swap_in(client: &Milvus, loaded: &str, target: &str) -> Result<()> {
    let described = client.describe_collection(target).await?;
    for alias in &described.aliases {
        client.point_alias(alias, loaded).await?;
    }
    client
        .drop_collection(target)
        .await
        .with_context(|| format!("replacing {target:?}: the new copy is loaded as {loaded:?}"))?;
    client.rename_collection(loaded, target).await.with_context(|| {
        format!("replacing {target:?}: the old collection is dropped and the new one is loaded as {loaded:?}: rename it")
    })?;
    Ok(())
}
