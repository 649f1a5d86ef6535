//! Parallel reads: the key space is cut into row-balanced ranges (by a cheap
//! pk-only scan, so INT64 and VARCHAR keys, dense or sparse, split alike),
//! ranges are read concurrently on separate connections, and pages leave in
//! key order — the output is the same as a single-stream dump's.
//!
//! Memory stays bounded: at most `jobs` ranges are in flight or waiting, each
//! of at most `range_rows` rows.

use std::sync::Arc;

use futures::{StreamExt as _, TryStreamExt as _};
use milvus_wire::Milvus;
use record_stream::header::Snapshot;
use tokio::sync::{mpsc, Mutex};

use crate::paging::PageSizer;
use crate::pk::Pk;
use crate::reader::{self, KeyRange, Page, ReadError, ReadPlan, ReadStats};

/// A connection with its own page sizer.
struct Worker {
    client: Milvus,
    sizer: PageSizer,
}

/// What a parallel read covers.
pub struct ParallelRead {
    /// What to read.
    pub plan: Arc<ReadPlan>,
    /// The snapshot every page reads at.
    pub snapshot: Snapshot,
    /// The page sizer each connection starts from.
    pub sizer: PageSizer,
    /// Keys per range.
    pub range_rows: usize,
    /// Read keys after this one (`None`: from the start).
    pub start: Option<Pk>,
}

/// Reads on `connections` (one range each at a time), sending pages to
/// `pages` in key order. `scanner` finds the range boundaries.
pub async fn read_parallel(
    scanner: &Milvus,
    connections: Vec<Milvus>,
    read: ParallelRead,
    pages: mpsc::Sender<Page>,
) -> Result<ReadStats, ReadError> {
    let ParallelRead {
        plan,
        snapshot,
        sizer,
        range_rows,
        start,
    } = read;
    let jobs = connections.len().max(1);
    let (pool_tx, pool_rx) = mpsc::channel(jobs);
    for client in connections {
        let worker = Worker {
            client,
            sizer: sizer.clone(),
        };
        pool_tx
            .send(worker)
            .await
            .map_err(|_| ReadError::OutputClosed)?;
    }
    let pool_rx = Arc::new(Mutex::new(pool_rx));

    // Ranges in key order: each ends at the last of the next `range_rows` keys;
    // the last one is open-ended.
    let ranges = futures::stream::try_unfold((start, false), |(after, finished)| {
        let plan = plan.clone();
        let snapshot = snapshot.clone();
        async move {
            if finished {
                return Ok(None);
            }
            let upto = reader::next_boundary(scanner, &plan, &snapshot, after.as_ref(), range_rows)
                .await?;
            let last = upto.is_none();
            let range = KeyRange {
                after,
                upto: upto.clone(),
                // A bounded range holds exactly the keys the scan counted.
                rows: (!last).then_some(range_rows as u64),
            };
            Ok::<_, ReadError>(Some((range, (upto, last))))
        }
    });

    let fetched = ranges
        .map_ok(|range| {
            let (plan, snapshot) = (plan.clone(), snapshot.clone());
            let (pool_tx, pool_rx) = (pool_tx.clone(), pool_rx.clone());
            // Spawned, so reading goes on while earlier ranges are being written.
            tokio::spawn(async move {
                let mut worker = pool_rx
                    .lock()
                    .await
                    .recv()
                    .await
                    .ok_or(ReadError::OutputClosed)?;
                let (tx, mut rx) = mpsc::channel(range_rows.max(1));
                let stats = reader::read_pages(
                    &worker.client,
                    &plan,
                    &snapshot,
                    &mut worker.sizer,
                    range,
                    tx,
                )
                .await;
                let _ = pool_tx.send(worker).await;
                let stats = stats?;
                let mut range_pages = Vec::new();
                while let Some(page) = rx.recv().await {
                    range_pages.push(page);
                }
                Ok::<_, ReadError>((range_pages, stats))
            })
        })
        .map(|spawned| async move {
            match spawned {
                Ok(handle) => handle.await.map_err(|e| ReadError::Worker(e.to_string()))?,
                Err(e) => Err(e),
            }
        })
        .buffered(jobs);

    let mut fetched = std::pin::pin!(fetched);
    let mut total = ReadStats::default();
    while let Some((range_pages, stats)) = fetched.try_next().await? {
        total.merge(&stats);
        for page in range_pages {
            pages
                .send(page)
                .await
                .map_err(|_| ReadError::OutputClosed)?;
        }
    }
    Ok(total)
}
