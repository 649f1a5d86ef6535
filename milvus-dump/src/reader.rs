//! Reading a collection page by page, by primary key, at one snapshot where
//! the server pins one.

use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use milvus_model::expr;
use milvus_wire::proto::common::{ConsistencyLevel, KeyValuePair};
use milvus_wire::proto::milvus::QueryRequest;
use milvus_wire::retry::Backoff;
use milvus_wire::{Freshness, Milvus};
use record_stream::header::{FieldSpec, Snapshot};
use tokio::sync::mpsc;

use milvus_model::pk::{self, Pk};
use milvus_wire::sizing::RequestSizer;

/// What to read.
#[derive(Clone, Debug)]
pub struct ReadPlan {
    /// Collection name.
    pub collection: String,
    /// Collection id (0 where the server reports none).
    pub collection_id: i64,
    /// Fields read from the server, in column order.
    pub fields: Vec<FieldSpec>,
    /// Their Arrow schema.
    pub schema: SchemaRef,
    /// The pages' schema: `schema`, plus the `$partition` column when
    /// `partition_lookup` is not empty.
    pub stream_schema: SchemaRef,
    /// Partitions (besides `_default`) whose rows are labelled in `$partition`.
    pub partition_lookup: Vec<String>,
    /// Index of the primary key among `fields`.
    pub pk_index: usize,
    /// User filter (empty: none).
    pub filter: String,
    /// Partitions (empty: all).
    pub partitions: Vec<String>,
    /// A server timestamp taken as the dump began (where the server offers
    /// one): unpinned reads see at least everything written before it, on
    /// whichever replica answers.
    pub not_before: Option<u64>,
}

impl ReadPlan {
    /// How fresh every read after the snapshot query must be: at the pinned
    /// snapshot; else no older than the dump's start where the server gave a
    /// timestamp for it; else whatever the query node has, which on a
    /// single-node server (Milvus Lite) cannot be older than the snapshot
    /// query, which waited for Strong consistency.
    pub fn freshness(&self, snapshot: Option<&Snapshot>) -> Freshness {
        match (snapshot.and_then(|s| s.timestamp), self.not_before) {
            (Some(ts), _) | (None, Some(ts)) => Freshness::NotBefore(ts),
            (None, None) => Freshness::Eventually,
        }
    }
}

/// One page, converted.
pub struct Page {
    /// The rows, ascending by primary key.
    pub batch: RecordBatch,
    /// First key of the page.
    pub first_pk: Pk,
    /// Last key of the page.
    pub last_pk: Pk,
}

impl Page {
    /// Rows `offset..offset + len` of the page (`pk_index`: the key column).
    pub fn slice(&self, offset: usize, len: usize, pk_index: usize) -> Option<Page> {
        let batch = self.batch.slice(offset, len);
        let keys = batch.column(pk_index);
        Some(Page {
            first_pk: pk::pk_at(keys.as_ref(), 0)?,
            last_pk: pk::pk_at(keys.as_ref(), len.checked_sub(1)?)?,
            batch,
        })
    }
}

/// Errors while reading.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// From the server.
    #[error(transparent)]
    Milvus(#[from] milvus_wire::Error),
    /// Converting its answer.
    #[error("collection {collection:?}")]
    Convert {
        /// Collection.
        collection: String,
        /// Cause.
        #[source]
        source: record_stream::Error,
    },
    /// The writer went away (it failed; its error is the one to report).
    #[error("output closed")]
    OutputClosed,
    /// A parallel reader task failed unexpectedly.
    #[error("reader task failed: {0}")]
    Worker(String),
}

/// Pages and timings of a finished read.
#[derive(Clone, Debug, Default)]
pub struct ReadStats {
    /// Rows read.
    pub rows: u64,
    /// Pages read.
    pub pages: u64,
    /// Smallest and largest page size used.
    pub page_rows: (usize, usize),
    /// Page size at the end.
    pub final_page_rows: usize,
    /// Seconds spent waiting on the server.
    pub query_seconds: f64,
}

/// Establishes the read snapshot as pymilvus's QueryIterator does: an iterator
/// query with `guarantee_timestamp = 0` answers with `session_ts`; later pages
/// pass it back as `guarantee_timestamp` and read at that MVCC timestamp.
/// Servers that answer 0 cannot pin.
pub async fn open_snapshot(client: &Milvus, plan: &ReadPlan) -> Result<Snapshot, ReadError> {
    let pk_name = plan.fields[plan.pk_index].name.clone();
    let mut request = base_request(client, plan, 1, None);
    request.expr = plan.filter.clone();
    request.output_fields = vec![pk_name];
    // Strong, keeping the dump's start timestamp (if any) as the guarantee:
    // servers that pin read an iterator query at exactly that timestamp (the
    // snapshot is then the dump's start); the others wait for Strong.
    request.consistency_level = ConsistencyLevel::Strong as i32;
    let results = client.query(request).await?;
    Ok(if results.session_ts > 0 {
        Snapshot {
            pinned: true,
            timestamp: Some(results.session_ts),
        }
    } else {
        Snapshot {
            pinned: false,
            timestamp: None,
        }
    })
}

fn base_request(
    client: &Milvus,
    plan: &ReadPlan,
    limit: usize,
    snapshot: Option<&Snapshot>,
) -> QueryRequest {
    let kv = |k: &str, v: String| KeyValuePair {
        key: k.into(),
        value: v,
    };
    let mut params = vec![
        kv("limit", limit.to_string()),
        // The proxy merges shards in primary-key order for iterator queries.
        kv("iterator", "True".into()),
        kv("reduce_stop_for_best", "True".into()),
    ];
    if plan.collection_id != 0 {
        params.push(kv("collection_id", plan.collection_id.to_string()));
    }
    let mut request = QueryRequest {
        db_name: client.db().to_string(),
        collection_name: plan.collection.clone(),
        partition_names: plan.partitions.clone(),
        output_fields: output_fields(&plan.fields),
        query_params: params,
        ..Default::default()
    };
    plan.freshness(snapshot).apply(&mut request);
    request
}

fn output_fields(fields: &[FieldSpec]) -> Vec<String> {
    fields.iter().map(|f| f.column_name().to_string()).collect()
}

/// A primary-key range: keys after `after` (exclusive) up to `upto`
/// (inclusive); `None` leaves that side open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyRange {
    /// Exclusive lower bound.
    pub after: Option<Pk>,
    /// Inclusive upper bound.
    pub upto: Option<Pk>,
    /// Keys known to be in the range (from the boundary scan): reading stops
    /// there without asking for an empty page.
    pub rows: Option<u64>,
}

impl KeyRange {
    /// The filter expression of `filter` within this range.
    pub fn expr(&self, filter: &str, pk_name: &str) -> String {
        let lower = self
            .after
            .as_ref()
            .map(|c| c.after_expr(pk_name))
            .unwrap_or_default();
        let upper = self
            .upto
            .as_ref()
            .map(|c| c.upto_expr(pk_name))
            .unwrap_or_default();
        expr::and(filter, &expr::and(&lower, &upper))
    }
}

impl ReadStats {
    /// Adds another reader's figures.
    pub fn merge(&mut self, other: &ReadStats) {
        self.rows += other.rows;
        self.pages += other.pages;
        if other.pages > 0 {
            self.page_rows = if self.pages == other.pages {
                other.page_rows
            } else {
                (
                    self.page_rows.0.min(other.page_rows.0),
                    self.page_rows.1.max(other.page_rows.1),
                )
            };
            self.final_page_rows = other.final_page_rows;
        }
        self.query_seconds += other.query_seconds;
    }
}

/// Reads the keys of `plan` in `range` in pages, sending each to `pages`.
/// Stops at the first empty page, or once the range's known rows or its
/// last key are read.
pub async fn read_pages(
    client: &Milvus,
    plan: &ReadPlan,
    snapshot: &Snapshot,
    sizer: &mut RequestSizer,
    range: KeyRange,
    pages: mpsc::Sender<Page>,
) -> Result<ReadStats, ReadError> {
    let pk_name = plan.fields[plan.pk_index].name.clone();
    let mut cursor = range.after;
    let mut stats = ReadStats::default();
    loop {
        let limit = sizer.rows();
        let mut request = base_request(client, plan, limit, Some(snapshot));
        request.expr = KeyRange {
            after: cursor.clone(),
            upto: range.upto.clone(),
            rows: None,
        }
        .expr(&plan.filter, &pk_name);
        let started = Instant::now();
        let results = match query_with_retries(client, request).await {
            Ok(results) => results,
            Err(e) if e.is_result_too_large() && sizer.too_large() => continue,
            Err(e) => return Err(e.into()),
        };
        let elapsed = started.elapsed();
        stats.query_seconds += elapsed.as_secs_f64();
        let convert = |source| ReadError::Convert {
            collection: plan.collection.clone(),
            source,
        };
        let mut batch = record_stream::from_milvus::record_batch(
            &plan.fields.iter().collect::<Vec<_>>(),
            &plan.schema,
            results.fields_data,
        )
        .map_err(convert)?;
        let rows = batch.num_rows();
        sizer.observe(limit, rows, elapsed);
        if rows == 0 {
            break;
        }
        if !pk::is_strictly_ascending(batch.column(plan.pk_index).as_ref()) {
            batch = pk::sort_by_pk(&batch, plan.pk_index).map_err(|e| convert(e.into()))?;
        }
        let pk_column = batch.column(plan.pk_index).clone();
        let (Some(first_pk), Some(last_pk)) = (
            pk::pk_at(pk_column.as_ref(), 0),
            pk::pk_at(pk_column.as_ref(), rows - 1),
        ) else {
            return Err(convert(record_stream::Error::Header(format!(
                "primary key {pk_name:?} is neither INT64 nor VARCHAR"
            ))));
        };
        if cursor.as_ref().is_some_and(|c| &first_pk <= c) {
            return Err(convert(record_stream::Error::Header(format!(
                "the server returned key {first_pk:?} at or before the cursor {cursor:?}: paging would loop"
            ))));
        }
        if !plan.partition_lookup.is_empty() {
            batch = label_partitions(client, plan, snapshot, batch, &first_pk, &last_pk).await?;
        }
        stats.rows += rows as u64;
        stats.pages += 1;
        let range_read =
            range.rows.is_some_and(|n| stats.rows >= n) || range.upto.as_ref() == Some(&last_pk);
        cursor = Some(last_pk.clone());
        pages
            .send(Page {
                batch,
                first_pk,
                last_pk,
            })
            .await
            .map_err(|_| ReadError::OutputClosed)?;
        if range_read {
            // No need to ask for an empty page.
            break;
        }
    }
    stats.page_rows = sizer.used();
    stats.final_page_rows = sizer.rows();
    Ok(stats)
}

/// Adds the `$partition` column to a page: Milvus cannot return a row's
/// partition, so each labelled partition is asked which of the page's keys
/// it holds (a pk-only query over the page's key range: cheap); the rest are
/// in `_default`.
async fn label_partitions(
    client: &Milvus,
    plan: &ReadPlan,
    snapshot: &Snapshot,
    batch: RecordBatch,
    first_pk: &Pk,
    last_pk: &Pk,
) -> Result<RecordBatch, ReadError> {
    let convert = |source| ReadError::Convert {
        collection: plan.collection.clone(),
        source,
    };
    let rows = batch.num_rows();
    let pk_field = &plan.fields[plan.pk_index];
    let pk_column = batch.column(plan.pk_index).clone();
    let mut labels: Vec<&str> = vec!["_default"; rows];
    for partition in &plan.partition_lookup {
        let mut request = base_request(client, plan, rows, Some(snapshot));
        request.partition_names = vec![partition.clone()];
        request.output_fields = vec![pk_field.name.clone()];
        request.expr = expr::and(
            &plan.filter,
            &expr::and(
                &first_pk.from_expr(&pk_field.name),
                &last_pk.upto_expr(&pk_field.name),
            ),
        );
        let members = query_keys(client, plan, request).await?;
        for (row, label) in labels.iter_mut().enumerate() {
            if let Some(key) = pk::pk_at(pk_column.as_ref(), row) {
                if members.binary_search(&key).is_ok() {
                    *label = partition;
                }
            }
        }
    }
    let mut columns = batch.columns().to_vec();
    columns.push(std::sync::Arc::new(arrow::array::StringArray::from(labels)));
    RecordBatch::try_new(plan.stream_schema.clone(), columns).map_err(|e| convert(e.into()))
}

/// The next `limit` keys after `after`, ascending (a pk-only query: cheap).
/// Cuts a collection into row-exact ranges for parallel reads, for INT64 and
/// VARCHAR keys alike, dense or sparse.
pub async fn scan_keys(
    client: &Milvus,
    plan: &ReadPlan,
    snapshot: &Snapshot,
    after: Option<&Pk>,
    limit: usize,
) -> Result<Vec<Pk>, ReadError> {
    let pk_field = &plan.fields[plan.pk_index];
    let mut request = base_request(client, plan, limit, Some(snapshot));
    request.output_fields = vec![pk_field.name.clone()];
    request.expr = KeyRange {
        after: after.cloned(),
        upto: None,
        rows: None,
    }
    .expr(&plan.filter, &pk_field.name);
    query_keys(client, plan, request).await
}

/// Runs a key-only query and returns the keys, ascending.
async fn query_keys(
    client: &Milvus,
    plan: &ReadPlan,
    request: QueryRequest,
) -> Result<Vec<Pk>, ReadError> {
    let pk_field = &plan.fields[plan.pk_index];
    let results = query_with_retries(client, request).await?;
    let convert = |source| ReadError::Convert {
        collection: plan.collection.clone(),
        source,
    };
    let Some(data) = results
        .fields_data
        .into_iter()
        .find(|f| f.field_name == pk_field.name)
    else {
        return Ok(Vec::new());
    };
    let schema = record_stream::layout::arrow_schema(&[pk_field]).map_err(convert)?;
    let keys = record_stream::from_milvus::record_batch(&[pk_field], &schema, vec![data])
        .map_err(convert)?;
    let column = keys.column(0);
    let mut keys: Vec<Pk> = (0..keys.num_rows())
        .filter_map(|row| pk::pk_at(column.as_ref(), row))
        .collect();
    // Iterator queries come back in key order; sort anyway, it is cheap.
    keys.sort_unstable();
    Ok(keys)
}

/// A query, retried while the server is unavailable or rate-limiting.
async fn query_with_retries(
    client: &Milvus,
    request: QueryRequest,
) -> milvus_wire::Result<milvus_wire::proto::milvus::QueryResults> {
    Backoff::default()
        .retry(
            || client.query(request.clone()),
            |e, retrying| eprintln!("milvus-dump: {e}; {retrying}"),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(not_before: Option<u64>) -> ReadPlan {
        let schema = std::sync::Arc::new(arrow::datatypes::Schema::empty());
        ReadPlan {
            collection: "c".into(),
            collection_id: 0,
            fields: Vec::new(),
            schema: schema.clone(),
            stream_schema: schema,
            partition_lookup: Vec::new(),
            pk_index: 0,
            filter: String::new(),
            partitions: Vec::new(),
            not_before,
        }
    }

    #[test]
    fn reads_at_the_pinned_snapshot_else_no_older_than_the_start() {
        let pinned = Snapshot {
            pinned: true,
            timestamp: Some(7),
        };
        let unpinned = Snapshot {
            pinned: false,
            timestamp: None,
        };
        assert_eq!(
            plan(Some(5)).freshness(Some(&pinned)),
            Freshness::NotBefore(7)
        );
        assert_eq!(
            plan(Some(5)).freshness(Some(&unpinned)),
            Freshness::NotBefore(5)
        );
        assert_eq!(plan(None).freshness(Some(&unpinned)), Freshness::Eventually);
        assert_eq!(plan(None).freshness(None), Freshness::Eventually);

        let mut request = QueryRequest::default();
        plan(Some(5)).freshness(None).apply(&mut request);
        assert_eq!(
            (request.consistency_level, request.guarantee_timestamp),
            (ConsistencyLevel::Customized as i32, 5)
        );
        assert!(!request.use_default_consistency);
    }
}
