//! Parallel reads: a cheap pk-only scan cuts the key space into page-sized
//! ranges of exactly known keys; N connections read the ranges concurrently
//! (one query each, so the server works on the next pages while this process
//! decodes and writes the last), and pages leave in key order — the output is
//! the same as a single-stream dump's. One page sizer serves all connections.
//!
//! Memory stays bounded: at most `jobs` pages are in flight or waiting.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use milvus_wire::Milvus;
use record_stream::header::Snapshot;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;

use crate::paging::{PageSizer, MAX_PAGE_ROWS};
use crate::pk::Pk;
use crate::reader::{self, KeyRange, Page, ReadError, ReadPlan, ReadStats};

/// What a parallel read covers.
pub struct ParallelRead {
    /// What to read.
    pub plan: Arc<ReadPlan>,
    /// The snapshot every page reads at.
    pub snapshot: Snapshot,
    /// The page sizer (shared by the connections).
    pub sizer: PageSizer,
    /// Read keys after this one (`None`: from the start).
    pub start: Option<Pk>,
}

/// Where the key scan stands.
struct Scan {
    after: Option<Pk>,
    ready: VecDeque<KeyRange>,
    done: bool,
    /// The next window's keys, already being fetched: scanning in the
    /// background keeps the connections busy (a window scanned on demand
    /// held back every range after it, a third of the read time at 4 jobs).
    next_window: Option<JoinHandle<Result<Vec<Pk>, ReadError>>>,
}

impl Scan {
    /// Starts fetching the window of keys after `self.after`.
    fn prefetch(&mut self, scanner: &Milvus, read: &ParallelRead) {
        let (client, plan, snapshot, after) = (
            scanner.clone(),
            read.plan.clone(),
            read.snapshot.clone(),
            self.after.clone(),
        );
        self.next_window = Some(tokio::spawn(async move {
            reader::scan_keys(&client, &plan, &snapshot, after.as_ref(), MAX_PAGE_ROWS).await
        }));
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        if let Some(pending) = self.next_window.take() {
            pending.abort();
        }
    }
}

/// The next range to read: scans keys (up to the query window at a time) and
/// cuts them at the sizer's current page size.
async fn next_range(
    scanner: &Milvus,
    read: &ParallelRead,
    sizer: &std::sync::Mutex<PageSizer>,
    scan: &mut Scan,
) -> Result<Option<KeyRange>, ReadError> {
    if let Some(range) = scan.ready.pop_front() {
        return Ok(Some(range));
    }
    if scan.done {
        return Ok(None);
    }
    if scan.next_window.is_none() {
        scan.prefetch(scanner, read);
    }
    let keys = match scan.next_window.take() {
        Some(pending) => pending
            .await
            .map_err(|e| ReadError::Worker(e.to_string()))??,
        None => unreachable!("prefetch set the next window"),
    };
    let page_rows = sizer
        .lock()
        .map(|s| s.rows())
        .unwrap_or(MAX_PAGE_ROWS)
        .max(1);
    let at_end = keys.len() < MAX_PAGE_ROWS;
    let mut chunks = keys.chunks(page_rows).peekable();
    while let Some(chunk) = chunks.next() {
        let is_last = chunks.peek().is_none();
        if is_last && at_end {
            // The tail is open-ended: it also takes keys written since the scan.
            scan.ready.push_back(KeyRange {
                after: scan.after.take(),
                upto: None,
                rows: None,
            });
            scan.done = true;
            break;
        }
        if is_last && chunk.len() < page_rows {
            // A partial page: scanned again with the next window.
            break;
        }
        let upto = chunk.last().cloned();
        scan.ready.push_back(KeyRange {
            after: scan.after.take(),
            upto: upto.clone(),
            rows: Some(chunk.len() as u64),
        });
        scan.after = upto;
    }
    if keys.is_empty() {
        scan.ready.push_back(KeyRange {
            after: scan.after.take(),
            upto: None,
            rows: None,
        });
        scan.done = true;
    }
    if !scan.done {
        scan.prefetch(scanner, read);
    }
    Ok(scan.ready.pop_front())
}

/// Reads on `connections`, sending pages to `pages` in key order. `scanner`
/// finds the range boundaries.
pub async fn read_parallel(
    scanner: &Milvus,
    connections: Vec<Milvus>,
    read: ParallelRead,
    pages: mpsc::Sender<Page>,
) -> Result<ReadStats, ReadError> {
    let jobs = connections.len().max(1);
    let (pool_tx, pool_rx) = mpsc::channel(jobs);
    for client in connections {
        pool_tx
            .send(client)
            .await
            .map_err(|_| ReadError::OutputClosed)?;
    }
    let pool_rx = Arc::new(Mutex::new(pool_rx));
    let sizer = Arc::new(std::sync::Mutex::new(read.sizer.clone()));
    let scan = Scan {
        after: read.start.clone(),
        ready: VecDeque::new(),
        done: false,
        next_window: None,
    };
    let ranges = futures::stream::try_unfold(scan, |mut scan| {
        let (read, sizer) = (&read, sizer.clone());
        async move {
            let range = next_range(scanner, read, &sizer, &mut scan).await?;
            Ok::<_, ReadError>(range.map(|range| (range, scan)))
        }
    });

    let fetched = ranges
        .map_ok(|range| {
            let (plan, snapshot, sizer) = (read.plan.clone(), read.snapshot.clone(), sizer.clone());
            let (pool_tx, pool_rx) = (pool_tx.clone(), pool_rx.clone());
            // Spawned, so reading goes on while earlier pages are being written.
            tokio::spawn(async move {
                let client = pool_rx
                    .lock()
                    .await
                    .recv()
                    .await
                    .ok_or(ReadError::OutputClosed)?;
                let page_rows = range
                    .rows
                    .map(|n| n as usize)
                    .unwrap_or_else(|| sizer.lock().map(|s| s.rows()).unwrap_or(MAX_PAGE_ROWS));
                let mut fixed = PageSizer::fixed(page_rows);
                let (tx, mut rx) = mpsc::channel(MAX_PAGE_ROWS);
                let result =
                    reader::read_pages(&client, &plan, &snapshot, &mut fixed, range, tx).await;
                let _ = pool_tx.send(client).await;
                let stats = result?;
                if stats.pages == 1 {
                    if let Ok(mut shared) = sizer.lock() {
                        shared.observe(
                            stats.rows as usize,
                            Duration::from_secs_f64(stats.query_seconds),
                        );
                    }
                }
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
    if let Ok(shared) = sizer.lock() {
        total.page_rows = shared.used();
        total.final_page_rows = shared.rows();
    }
    Ok(total)
}
