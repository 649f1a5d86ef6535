//! Parallel reads: the key space is cut into page-sized ranges; N
//! connections read the ranges concurrently (one query each, so the server
//! works on the next pages while this process decodes and writes the last),
//! and pages leave in key order — the output is the same as a single-stream
//! dump's. One page sizer serves all connections.
//!
//! Dense INT64 keys (at least one row per two keys, as with ids counted up
//! by the application) are cut by arithmetic from the first and last keys,
//! found with three one-key queries. Other keys (VARCHAR, auto_id's sparse
//! timestamps, filters that thin the keys out) are cut from a cheap pk-only
//! scan, at exactly known keys: arithmetic ranges over sparse keys would be
//! mostly empty or overfull. The scan costs the server 0.2–0.6 s of CPU per
//! 100,000 rows (alone, and among the page queries; README), which dense
//! keys save.
//!
//! Memory stays bounded: at most `jobs` ranges are in flight or waiting, a
//! page each (about two over dense keys at two keys per row); only the
//! open-ended last range holds more, if many rows were written past the last
//! key during the read.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt as _, TryStreamExt as _};
use milvus_wire::proto::schema::DataType;
use milvus_wire::Milvus;
use record_stream::header::Snapshot;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;

use crate::reader::{self, KeyRange, Page, ReadError, ReadPlan, ReadStats};
use milvus_model::Pk;
use milvus_wire::sizing::{RequestSizer, MAX_PAGE_ROWS};

/// What a parallel read covers.
pub struct ParallelRead {
    /// What to read.
    pub plan: Arc<ReadPlan>,
    /// The snapshot every page reads at.
    pub snapshot: Snapshot,
    /// The page sizer (shared by the connections).
    pub sizer: RequestSizer,
    /// Read keys after this one (`None`: from the start).
    pub start: Option<Pk>,
    /// The rows there are to read (the count before reading): with the
    /// first key, tells whether INT64 keys are dense.
    pub rows: u64,
}

/// Dense INT64 keys: ranges are cut by arithmetic.
#[derive(Clone, Copy, Debug)]
struct DenseKeys {
    /// The first key.
    first: i64,
    /// No key lay beyond this one when the read began.
    last: i64,
    /// Keys per row over `first..=last`: 1 to 2.
    keys_per_row: f64,
}

/// Finds whether the INT64 keys to read are dense: the first key, then
/// whether any key lies past a span of one, or of two, keys per row.
/// `None` for VARCHAR or sparse keys, an empty read, or a resumed one (the
/// count then also covers the keys already read).
async fn dense_keys(scanner: &Milvus, read: &ParallelRead) -> Result<Option<DenseKeys>, ReadError> {
    let plan = &read.plan;
    let is_int64 = plan.fields[plan.pk_index].data_type == DataType::Int64;
    if !is_int64 || read.start.is_some() || read.rows == 0 {
        return Ok(None);
    }
    let first_key = reader::scan_keys(scanner, plan, &read.snapshot, None, 1).await?;
    let Some(Pk::Int(first)) = first_key.first().cloned() else {
        return Ok(None);
    };
    let rows = i64::try_from(read.rows).unwrap_or(i64::MAX);
    let dense_last = first.saturating_add(rows - 1);
    let half_dense_last = first.saturating_add(rows.saturating_mul(2) - 1);
    let (dense_last_key, half_dense_last_key) = (Pk::Int(dense_last), Pk::Int(half_dense_last));
    let key_after = |key| reader::scan_keys(scanner, plan, &read.snapshot, Some(key), 1);
    let (past_dense, past_half_dense) =
        futures::try_join!(key_after(&dense_last_key), key_after(&half_dense_last_key))?;
    let last = if past_dense.is_empty() {
        dense_last
    } else if past_half_dense.is_empty() {
        half_dense_last
    } else {
        return Ok(None);
    };
    let span = (i128::from(last) - i128::from(first) + 1) as f64;
    Ok(Some(DenseKeys {
        first,
        last,
        keys_per_row: (span / read.rows as f64).clamp(1.0, 2.0),
    }))
}

/// Where the key scan stands.
struct Scan {
    /// Dense INT64 keys: ranges by arithmetic, no scanning.
    dense: Option<DenseKeys>,
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

/// The next range to read: the next page's worth of keys, cut at the
/// sizer's size at the time (so it follows the sizer page by page), then an
/// open-ended tail that also takes keys written since the read began.
async fn next_range(
    scanner: &Milvus,
    read: &ParallelRead,
    sizer: &std::sync::Mutex<RequestSizer>,
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
        if let Some(dense) = scan.dense {
            return Ok(Some(next_dense_range(&dense, page_rows, scan)));
        }
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

/// The next arithmetic range of dense keys: as many keys as `page_rows`
/// rows take at the average density. A range holds at most twice that many
/// rows (a key per row), read in more pages if need be.
fn next_dense_range(dense: &DenseKeys, page_rows: usize, scan: &mut Scan) -> KeyRange {
    let covered = match &scan.after {
        Some(Pk::Int(key)) => i128::from(*key),
        _ => i128::from(dense.first) - 1,
    };
    let width = (page_rows as f64 * dense.keys_per_row).ceil().max(1.0) as i128;
    let upto = covered + width;
    if upto >= i128::from(dense.last) {
        scan.done = true;
        return KeyRange {
            after: scan.after.take(),
            upto: None,
            rows: None,
        };
    }
    // Below `dense.last`, so within i64.
    let upto = i64::try_from(upto).ok().map(Pk::Int);
    KeyRange {
        after: std::mem::replace(&mut scan.after, upto.clone()),
        upto,
        rows: None,
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
        dense: dense_keys(scanner, &read).await?,
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
                let mut fixed = RequestSizer::fixed(page_rows);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_of(dense: DenseKeys) -> Scan {
        Scan {
            dense: Some(dense),
            after: None,
            keys: VecDeque::new(),
            scanned_all: false,
            done: false,
            next_window: None,
        }
    }

    /// The ranges cut for `dense` at `page_rows`, as (after, upto) keys.
    fn ranges(dense: DenseKeys, page_rows: usize) -> Vec<(Option<Pk>, Option<Pk>)> {
        let mut scan = scan_of(dense);
        let mut cut = Vec::new();
        while !scan.done {
            let range = next_dense_range(&dense, page_rows, &mut scan);
            assert_eq!(range.rows, None);
            cut.push((range.after, range.upto));
        }
        cut
    }

    #[test]
    fn dense_ranges_tile_the_keys_then_leave_the_tail_open() {
        let dense = DenseKeys {
            first: 10,
            last: 59,
            keys_per_row: 1.0,
        };
        let expected: Vec<_> = [(None, Some(29)), (Some(29), Some(49)), (Some(49), None)]
            .into_iter()
            .map(|(a, u)| (a.map(Pk::Int), u.map(Pk::Int)))
            .collect();
        assert_eq!(ranges(dense, 20), expected);
    }

    #[test]
    fn sparser_keys_give_wider_ranges() {
        let dense = DenseKeys {
            first: -100,
            last: 99,
            keys_per_row: 2.0,
        };
        let cut = ranges(dense, 25);
        assert_eq!(cut.len(), 4);
        assert_eq!(cut[0], (None, Some(Pk::Int(-51))));
        assert_eq!(cut[1], (Some(Pk::Int(-51)), Some(Pk::Int(-1))));
        assert_eq!(cut[3], (Some(Pk::Int(49)), None));
    }

    #[test]
    fn keys_at_the_top_of_int64_do_not_overflow() {
        let dense = DenseKeys {
            first: i64::MAX - 9,
            last: i64::MAX,
            keys_per_row: 1.0,
        };
        let cut = ranges(dense, 4);
        assert_eq!(cut[0], (None, Some(Pk::Int(i64::MAX - 6))));
        assert_eq!(cut.last(), Some(&(Some(Pk::Int(i64::MAX - 2)), None)));
        let one_range = ranges(dense, 16_384);
        assert_eq!(one_range, vec![(None, None)]);
    }
}
