//! Parallel reads: a cheap pk-only scan cuts the key space into page-sized
//! ranges of exactly known keys; N connections read the ranges concurrently
//! (one query each, so the server works on the next pages while this process
//! decodes and writes the last), and pages leave in key order — the output is
//! the same as a single-stream dump's. One page sizer serves all connections.
//!
//! Memory stays bounded: at most `jobs` pages are in flight or waiting.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// The last key handed out in a range (`None`: from the start).
    after: Option<Pk>,
    /// Scanned keys not yet in a range, ascending.
    keys: VecDeque<Pk>,
    /// The scan has seen the last key (a window came back short).
    scanned_all: bool,
    /// The open-ended tail range has been handed out.
    done: bool,
    /// The next window's keys, already being fetched: scanning in the
    /// background keeps the connections busy (a window scanned on demand
    /// held back every range after it).
    next_window: Option<JoinHandle<Result<Vec<Pk>, ReadError>>>,
}

impl Scan {
    /// Starts fetching the window of keys after `after`.
    fn prefetch(&mut self, scanner: &Milvus, read: &ParallelRead, after: Option<Pk>) {
        let (client, plan, snapshot) = (scanner.clone(), read.plan.clone(), read.snapshot.clone());
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

/// The next range to read: the next page's worth of scanned keys, cut at the
/// sizer's size at the time (so it follows the sizer page by page), then an
/// open-ended tail that also takes keys written since the scan.
async fn next_range(
    scanner: &Milvus,
    read: &ParallelRead,
    sizer: &std::sync::Mutex<PageSizer>,
    scan: &mut Scan,
) -> Result<Option<KeyRange>, ReadError> {
    loop {
        if scan.done {
            return Ok(None);
        }
        let page_rows = sizer
            .lock()
            .map(|s| s.rows())
            .unwrap_or(MAX_PAGE_ROWS)
            .clamp(1, MAX_PAGE_ROWS);
        if scan.keys.len() >= page_rows {
            let upto = scan.keys.drain(..page_rows).next_back();
            let range = KeyRange {
                after: std::mem::replace(&mut scan.after, upto.clone()),
                upto,
                rows: Some(page_rows as u64),
            };
            return Ok(Some(range));
        }
        if scan.scanned_all {
            scan.done = true;
            return Ok(Some(KeyRange {
                after: scan.after.take(),
                upto: None,
                rows: None,
            }));
        }
        if scan.next_window.is_none() {
            let from = scan.keys.back().cloned().or_else(|| scan.after.clone());
            scan.prefetch(scanner, read, from);
        }
        let Some(window) = scan.next_window.take() else {
            unreachable!("prefetch sets the next window")
        };
        let window = window
            .await
            .map_err(|e| ReadError::Worker(e.to_string()))??;
        scan.scanned_all = window.len() < MAX_PAGE_ROWS;
        if !scan.scanned_all {
            scan.prefetch(scanner, read, window.last().cloned());
        }
        scan.keys.extend(window);
    }
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
    let sizer = Arc::new(std::sync::Mutex::new(read.sizer.clone().shared_by(jobs)));
    let scan = Scan {
        after: read.start.clone(),
        keys: VecDeque::new(),
        scanned_all: false,
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
                        shared.observe_shared(
                            page_rows,
                            stats.rows as usize,
                            Duration::from_secs_f64(stats.query_seconds),
                            Instant::now(),
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
