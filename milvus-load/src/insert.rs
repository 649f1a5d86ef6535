//! The insert pipeline: a reader thread decodes the input and encodes insert
//! batches while several insert RPCs are in flight on separate connections.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{anyhow, Result};
use futures::StreamExt as _;
use milvus_wire::insert_batch::InsertBatch;
use milvus_wire::pace::Pacer;
use milvus_wire::retry::Backoff;
use milvus_wire::sizing::RequestSizer;
use milvus_wire::Milvus;
use tokio::sync::mpsc;

/// One encoded batch, ready to send.
pub struct Prepared {
    /// The request.
    pub batch: InsertBatch,
    /// Rows in it.
    pub rows: u64,
    /// The rows per batch it was cut at (a batch split by partition, or the
    /// end of a part, holds fewer).
    pub asked: usize,
    /// Its size (the Arrow rows it was encoded from), for `--max-bytes-per-second`.
    pub bytes: u64,
    /// Its first primary key (for messages).
    pub first_pk: String,
}

/// How inserts are sent.
#[derive(Clone, Debug)]
pub struct SendOptions {
    /// Upsert instead of insert.
    pub upsert: bool,
    /// Insert RPCs in flight.
    pub concurrency: usize,
    /// How transient errors (rate limits, unavailable) are retried.
    pub backoff: Backoff,
    /// The rate limits every connection shares.
    pub pacer: Option<Arc<Pacer>>,
    /// Told each batch's time, when batch sizes adapt.
    pub sizer: Option<Arc<Mutex<RequestSizer>>>,
    /// The most rows per batch the server has not refused as too large
    /// (`usize::MAX` until it refuses one); the reader cuts batches to it.
    pub row_cap: Arc<AtomicUsize>,
}

/// Why a load stopped, with what was committed before it.
#[derive(Debug)]
pub struct SendError {
    /// Rows the server acknowledged.
    pub committed: u64,
    /// The cause.
    pub error: anyhow::Error,
}

/// Sends one batch; one the server refuses as too large is sent again in
/// halves (and the batches after it are cut smaller).
fn send_one<'a>(
    client: &'a Milvus,
    prepared: Prepared,
    options: &'a SendOptions,
) -> futures::future::BoxFuture<'a, Result<u64>> {
    Box::pin(async move {
        let (first_pk, rows) = (prepared.first_pk.clone(), prepared.rows);
        let (bytes, asked) = (prepared.bytes, prepared.asked);
        match send_whole(client, prepared, options).await {
            Ok(sent) => Ok(sent),
            Err(NotSent::TooLarge(batch, error)) => {
                let Ok((first, second)) = batch.halves() else {
                    return Err(anyhow!(error).context(format!(
                        "the server refused the batch starting at primary key {first_pk} ({rows} rows) as too large, and it cannot be cut smaller"
                    )));
                };
                let half = first.num_rows as usize;
                if options.row_cap.fetch_min(half, Ordering::Relaxed) > half {
                    eprintln!(
                        "milvus-load: the server refused a batch of {rows} rows as too large ({error}); sending {half} rows at most from now on"
                    );
                }
                if let Some(sizer) = &options.sizer {
                    if let Ok(mut sizer) = sizer.lock() {
                        sizer.too_large();
                    }
                }
                let part = |batch: InsertBatch, label: String| Prepared {
                    rows: u64::from(batch.num_rows),
                    bytes: bytes * u64::from(batch.num_rows) / rows.max(1),
                    asked,
                    first_pk: label,
                    batch,
                };
                let first = part(first, first_pk.clone());
                let second = part(second, format!("{first_pk} (its second half)"));
                Ok(send_one(client, first, options).await?
                    + send_one(client, second, options).await?)
            }
            Err(NotSent::Failed(error)) => Err(error),
        }
    })
}

/// Why [`send_whole`] did not send a batch.
enum NotSent {
    /// The server refused it as too large: the batch back, to be cut.
    TooLarge(InsertBatch, milvus_wire::Error),
    /// Anything else, with the batch named.
    Failed(anyhow::Error),
}

/// Sends one batch as it is, retrying transient errors.
async fn send_whole(
    client: &Milvus,
    prepared: Prepared,
    options: &SendOptions,
) -> std::result::Result<u64, NotSent> {
    let sent = options
        .backoff
        .retry(
            || client.insert(prepared.batch.clone(), options.upsert),
            |e, retrying| {
                eprintln!(
                    "milvus-load: batch at primary key {}: {e}; {retrying}",
                    prepared.first_pk
                )
            },
        )
        .await;
    match sent {
        Ok(count) if count == prepared.rows => Ok(count),
        Ok(count) => Err(NotSent::Failed(anyhow!(
            "the batch starting at primary key {} had {} rows but the server took {count}",
            prepared.first_pk,
            prepared.rows
        ))),
        Err(e) if e.is_request_too_large() => Err(NotSent::TooLarge(prepared.batch, e)),
        Err(e) => Err(NotSent::Failed(anyhow!(e).context(format!(
            "inserting the batch starting at primary key {} ({} rows)",
            prepared.first_pk, prepared.rows
        )))),
    }
}

/// Sends every batch from `batches` (an `Err` from the reader stops the
/// load) on `clients`, `options.concurrency` at a time; counts acknowledged
/// rows into `committed`.
pub async fn send_all(
    clients: &[Milvus],
    mut batches: mpsc::Receiver<Result<Prepared>>,
    options: &SendOptions,
    committed: Arc<AtomicU64>,
) -> std::result::Result<u64, SendError> {
    let stream = futures::stream::poll_fn(move |cx| batches.poll_recv(cx));
    let mut sends = stream
        .enumerate()
        .map(|(i, item)| {
            let client = clients[i % clients.len()].clone();
            async move {
                let prepared = item?;
                if let Some(pacer) = &options.pacer {
                    pacer.pace(prepared.rows, prepared.bytes).await;
                }
                let (asked, rows, started) = (prepared.asked, prepared.rows, Instant::now());
                let result = send_one(&client, prepared, options).await;
                if let (Ok(_), Some(sizer)) = (&result, &options.sizer) {
                    if let Ok(mut sizer) = sizer.lock() {
                        sizer.observe_shared(
                            asked,
                            rows as usize,
                            started.elapsed(),
                            Instant::now(),
                        );
                    }
                }
                result
            }
        })
        .buffer_unordered(options.concurrency.max(1));
    while let Some(result) = sends.next().await {
        match result {
            Ok(rows) => {
                committed.fetch_add(rows, Ordering::Relaxed);
            }
            Err(error) => {
                return Err(SendError {
                    committed: committed.load(Ordering::Relaxed),
                    error,
                })
            }
        }
    }
    Ok(committed.load(Ordering::Relaxed))
}
