//! The insert pipeline: a reader thread decodes the input and encodes insert
//! batches while several insert RPCs are in flight on separate connections.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use futures::StreamExt as _;
use milvus_wire::insert_batch::InsertBatch;
use milvus_wire::pace::Pacer;
use milvus_wire::sizing::RequestSizer;
use milvus_wire::{Milvus, RpcCode};
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
    /// Attempts per batch on transient errors (rate limits, unavailable).
    pub attempts: u32,
    /// The rate limits every connection shares.
    pub pacer: Option<Arc<Pacer>>,
    /// Told each batch's time, when batch sizes adapt.
    pub sizer: Option<Arc<Mutex<RequestSizer>>>,
}

/// Why a load stopped, with what was committed before it.
#[derive(Debug)]
pub struct SendError {
    /// Rows the server acknowledged.
    pub committed: u64,
    /// The cause.
    pub error: anyhow::Error,
}

/// Whether an insert error is worth retrying: rate limiting, quotas,
/// a server that is restarting. Anything else (a bad value, a schema
/// mismatch) fails the same way every time.
fn is_transient(error: &milvus_wire::Error) -> bool {
    match error {
        milvus_wire::Error::Rpc { status, .. } => match status.code() {
            RpcCode::Unavailable | RpcCode::DeadlineExceeded | RpcCode::Aborted => true,
            RpcCode::ResourceExhausted => !status.message().contains("message length"),
            // A connection lost mid-request reaches tonic as "transport error".
            RpcCode::Unknown => ["transport error", "connection", "broken pipe"]
                .iter()
                .any(|s| status.message().to_ascii_lowercase().contains(s)),
            _ => false,
        },
        milvus_wire::Error::Server { reason, .. } => {
            let reason = reason.to_ascii_lowercase();
            [
                "rate limit",
                "quota",
                "deny to write",
                "too many",
                "memory",
                "not ready",
                "unavailable",
            ]
            .iter()
            .any(|s| reason.contains(s))
        }
        _ => false,
    }
}

async fn send_one(client: &Milvus, prepared: Prepared, options: &SendOptions) -> Result<u64> {
    let mut delay = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        match client.insert(prepared.batch.clone(), options.upsert).await {
            Ok(count) if count == prepared.rows => return Ok(count),
            Ok(count) => {
                return Err(anyhow!(
                    "the batch starting at primary key {} had {} rows but the server took {count}",
                    prepared.first_pk,
                    prepared.rows
                ))
            }
            Err(e) if attempt < options.attempts && is_transient(&e) => {
                eprintln!(
                    "milvus-load: batch at primary key {}: {e}; retrying in {:.1}s (attempt {}/{})",
                    prepared.first_pk,
                    delay.as_secs_f64(),
                    attempt + 1,
                    options.attempts
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
                attempt += 1;
            }
            Err(e) => {
                return Err(anyhow!(e).context(format!(
                    "inserting the batch starting at primary key {} ({} rows, attempt {attempt})",
                    prepared.first_pk, prepared.rows
                )))
            }
        }
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
