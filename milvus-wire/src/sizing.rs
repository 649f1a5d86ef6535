//! Request sizing: how many rows to ask for in the next query page, or to
//! send in the next insert batch.
//!
//! Servers differ wildly (ARCHITECTURE.md, "Measured server behaviour"):
//! Milvus Lite 2.5 falls off a cliff near 7 MB per page (2,500 rows of 768
//! floats take 22 s where 1,000 take 0.17 s), while Milvus 2.3.5 serves 16,384
//! rows in under a second. So the pager starts from a byte budget, then
//! hill-climbs on measured throughput: it doubles the page while rows/s
//! improves or holds (a flat curve: fewer requests), returns to the best size
//! when growing clearly costs, halves at once when a page is slow or over the
//! server's output cap, and re-probes now and then in case the server's
//! behaviour changed. Inserts behave alike: Milvus Lite 2.5 takes 8 MiB
//! batches at a fiftieth of the rate of 1 MiB ones ([`Bounds::insert_batches`]).

use std::time::{Duration, Instant};

/// Milvus's `maxQueryResultWindow`: offset + limit may not exceed it.
pub const MAX_PAGE_ROWS: usize = 16_384;
/// The first page aims at this many bytes.
pub const START_PAGE_BYTES: usize = 1 << 20;
/// Pages never exceed this many bytes (by the schema's row estimate): a page
/// is held several times over (receive buffer, decoded, Arrow, queued), and
/// both test servers peak well below it (ARCHITECTURE.md; bench/dump).
pub const MAX_PAGE_BYTES: usize = 4 << 20;
/// The limits a sizer works within.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// The first request aims at this many bytes.
    pub start_bytes: usize,
    /// Requests never exceed this many bytes (by the row estimate).
    pub max_bytes: usize,
    /// Nor this many rows.
    pub max_rows: usize,
}

impl Bounds {
    /// Query pages.
    pub const QUERY_PAGES: Bounds = Bounds {
        start_bytes: START_PAGE_BYTES,
        max_bytes: MAX_PAGE_BYTES,
        max_rows: MAX_PAGE_ROWS,
    };

    /// Insert batches of at most `max_bytes` (under the server's message
    /// limit), starting from 1 MiB.
    pub fn insert_batches(max_bytes: usize) -> Bounds {
        Bounds {
            start_bytes: START_PAGE_BYTES.min(max_bytes),
            max_bytes,
            max_rows: MAX_INSERT_ROWS,
        }
    }
}

/// The most rows in one insert batch, pinned or adapted (tiny rows would
/// otherwise make batches of millions).
pub const MAX_INSERT_ROWS: usize = 100_000;

/// A page slower than this is a cliff: halve at once, never grow back past it.
pub const SLOW_PAGE: Duration = Duration::from_secs(2);
/// Pages measured at a size before judging it (on one connection; see
/// [`RequestSizer::shared_by`]).
const SAMPLES_PER_SIZE: u32 = 3;
/// After settling, probe again every this many pages.
const REPROBE_EVERY: u32 = 200;
/// A larger size must beat the best by this factor to be kept.
const GAIN: f64 = 1.05;
/// The first growth must lose by this factor before smaller sizes are
/// tried: Milvus Lite 2.5 loses a quarter to a half per doubling, while the
/// noise on Milvus 2.3.5's flat curve (±10% per sample) once sent a
/// four-connection dump down to 157-row pages, 20% slower there.
const CLEAR_LOSS: f64 = 1.2;

/// Which way the sizer is exploring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    Up,
    Down,
    Settled { pages: u32 },
}

/// Adaptive page size.
#[derive(Clone, Debug)]
pub struct RequestSizer {
    rows: usize,
    max_rows: usize,
    /// Sizes at or above this are known to be too slow or too large.
    ceiling: usize,
    /// Best size so far and its rows/s.
    best: Option<(usize, f64)>,
    probe: Probe,
    tried_down: bool,
    /// Rows and seconds measured at the current size.
    sample_rows: usize,
    sample_secs: f64,
    samples: u32,
    samples_per_size: u32,
    /// When the last page finished (parallel reads).
    last_finished: Option<Instant>,
    used_min: usize,
    used_max: usize,
    fixed: bool,
}

impl RequestSizer {
    /// Query pages, from a byte budget and an estimate of a row's size.
    pub fn new(row_bytes_estimate: usize) -> Self {
        Self::within(Bounds::QUERY_PAGES, row_bytes_estimate)
    }

    /// Requests within `bounds`, for rows of about `row_bytes_estimate`.
    pub fn within(bounds: Bounds, row_bytes_estimate: usize) -> Self {
        let row_bytes = row_bytes_estimate.max(1);
        let rows = (bounds.start_bytes / row_bytes).clamp(1, bounds.max_rows);
        let mut sizer = Self::starting_at(rows, bounds.max_rows, false);
        sizer.ceiling = (bounds.max_bytes / row_bytes).clamp(1, bounds.max_rows) + 1;
        sizer
    }

    /// A fixed page size (`--page-rows`): never adapts.
    pub fn fixed(rows: usize) -> Self {
        Self::starting_at(rows.clamp(1, MAX_PAGE_ROWS), MAX_PAGE_ROWS, true)
    }

    /// A fixed size of `rows` rows, whatever the bounds (`--batch-bytes`).
    pub fn pinned(rows: usize) -> Self {
        Self::starting_at(rows.max(1), rows.max(1), true)
    }

    fn starting_at(rows: usize, max_rows: usize, fixed: bool) -> Self {
        Self {
            rows,
            max_rows,
            ceiling: max_rows + 1,
            best: None,
            probe: Probe::Up,
            tried_down: false,
            sample_rows: 0,
            sample_secs: 0.0,
            samples: 0,
            samples_per_size: SAMPLES_PER_SIZE,
            last_finished: None,
            used_min: usize::MAX,
            used_max: 0,
            fixed,
        }
    }

    /// A sizer observed by `connections` concurrent readers: each page's
    /// time then includes waiting behind the others' queries, so it takes
    /// that many times more samples to judge a size.
    pub fn shared_by(mut self, connections: usize) -> Self {
        let connections = u32::try_from(connections.max(1)).unwrap_or(u32::MAX);
        self.samples_per_size = SAMPLES_PER_SIZE.saturating_mul(connections);
        self
    }

    /// Rows to ask for in the next page.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Smallest and largest page size used so far.
    pub fn used(&self) -> (usize, usize) {
        (self.used_min.min(self.used_max), self.used_max)
    }

    /// Records a page of `rows` rows, asked for `asked`, that took `elapsed`.
    pub fn observe(&mut self, asked: usize, rows: usize, elapsed: Duration) {
        self.judge(asked, rows, elapsed, elapsed);
    }

    /// Parallel reads: records a page that took `elapsed` and finished at
    /// `now`. Its share of time is the interval since the previous page
    /// finished on any connection, so sizes are judged by the connections'
    /// combined rows/s: one page's own time mostly measures waiting behind
    /// the other connections' queries, whatever its size.
    pub fn observe_shared(&mut self, asked: usize, rows: usize, elapsed: Duration, now: Instant) {
        let interval = self
            .last_finished
            .map_or(elapsed, |last| now.saturating_duration_since(last));
        self.last_finished = Some(now);
        self.judge(asked, rows, elapsed, interval);
    }

    /// `elapsed` detects cliffs; rows/`share` is the rate judged.
    fn judge(&mut self, asked: usize, rows: usize, elapsed: Duration, share: Duration) {
        self.used_min = self.used_min.min(asked);
        self.used_max = self.used_max.max(asked);
        if self.fixed || rows * 2 < asked || asked != self.rows {
            // A page less than half full is the end of a range: says little
            // about speed. (Arithmetic ranges over dense keys may come back
            // somewhat short of the size, and still measure it.)
            // A page asked at another size (parallel reads: asked before the
            // last change) would be judged against the wrong size.
            return;
        }
        if elapsed >= SLOW_PAGE && self.rows > 1 {
            // A cliff: never come back to this size.
            self.ceiling = self.rows;
            self.best = self.best.filter(|(size, _)| *size < self.ceiling);
            self.settle_at((self.rows / 2).max(1));
            return;
        }
        if let Probe::Settled { pages } = &mut self.probe {
            *pages += 1;
            if *pages >= REPROBE_EVERY {
                // Conditions change (segments sealed, other load): look again.
                self.best = None;
                self.tried_down = false;
                self.probe = Probe::Up;
                self.set_rows(self.rows);
                self.reset_samples();
            }
            return;
        }
        self.sample_rows += rows;
        self.sample_secs += share.as_secs_f64();
        self.samples += 1;
        if self.samples < self.samples_per_size {
            return;
        }
        let rate = self.sample_rows as f64 / self.sample_secs.max(1e-9);
        let first = self.best.is_none();
        let improved = self
            .best
            .is_none_or(|(_, best_rate)| rate > best_rate * GAIN);
        if improved {
            self.best = Some((self.rows, rate));
            if self.probe == Probe::Up && !first {
                // Growth paid: shrinking will not.
                self.tried_down = true;
            }
            self.step();
            return;
        }
        let (best_size, best_rate) = self.best.unwrap_or((self.rows, rate));
        if self.probe == Probe::Up && rate * GAIN >= best_rate {
            // A tie (Milvus 2.3.5's flat curve, within its noise): larger
            // pages cost the server fewer requests, so keep growing, up to
            // the byte cap; shrinking will not pay either.
            self.best = Some((self.rows, best_rate.max(rate)));
            self.tried_down = true;
            self.step();
            return;
        }
        if self.probe == Probe::Up && !self.tried_down {
            self.tried_down = true;
            // Growing cost from the start (Milvus Lite 2.5's super-linear
            // pages): smaller pages may pay. A loss short of CLEAR_LOSS
            // (noise on a flat curve; ties grew above) is no reason to go
            // looking below.
            if rate * CLEAR_LOSS < best_rate && best_size > 1 {
                self.probe = Probe::Down;
                self.set_rows(best_size / 2);
                return;
            }
        }
        self.settle_at(best_size);
    }

    /// The server refused the page as too large: halve now.
    pub fn too_large(&mut self) -> bool {
        if self.rows <= 1 {
            return false;
        }
        self.ceiling = self.ceiling.min(self.rows);
        self.best = self.best.filter(|(size, _)| *size < self.ceiling);
        self.settle_at(self.rows / 2);
        true
    }

    /// Continues in the current direction, or settles at the edge.
    fn step(&mut self) {
        let next = match self.probe {
            Probe::Up => (self.rows * 2).min(self.max_rows),
            Probe::Down => self.rows / 2,
            Probe::Settled { .. } => return,
        };
        if next >= 1 && next != self.rows && next < self.ceiling {
            self.set_rows(next);
        } else {
            self.settle_at(self.rows);
        }
    }

    fn settle_at(&mut self, rows: usize) {
        self.probe = Probe::Settled { pages: 0 };
        self.set_rows(rows.max(1));
    }

    fn set_rows(&mut self, rows: usize) {
        if rows != self.rows {
            self.rows = rows;
        }
        self.reset_samples();
    }

    fn reset_samples(&mut self) {
        self.sample_rows = 0;
        self.sample_secs = 0.0;
        self.samples = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a sizer against a server model: seconds for a page of n rows.
    fn drive(
        mut sizer: RequestSizer,
        pages: usize,
        cost: impl Fn(usize) -> f64,
    ) -> (RequestSizer, f64) {
        let (mut rows, mut secs) = (0usize, 0.0);
        for _ in 0..pages {
            let n = sizer.rows();
            let t = cost(n);
            sizer.observe(n, n, Duration::from_secs_f64(t));
            rows += n;
            secs += t;
        }
        (sizer, rows as f64 / secs)
    }

    #[test]
    fn starts_from_a_byte_budget() {
        assert_eq!(RequestSizer::new(3_300).rows(), 317);
        assert_eq!(RequestSizer::new(8).rows(), MAX_PAGE_ROWS);
        assert_eq!(RequestSizer::new(100 << 20).rows(), 1);
    }

    #[test]
    fn grows_to_the_window_on_a_server_that_rewards_big_pages() {
        // Fixed 100 ms per request + 40 µs per row.
        let (sizer, _) = drive(RequestSizer::new(100), 200, |n| 0.1 + n as f64 * 40e-6);
        assert_eq!(sizer.rows(), MAX_PAGE_ROWS);
    }

    #[test]
    fn never_grows_past_the_byte_cap() {
        let (sizer, _) = drive(RequestSizer::new(3_300), 200, |n| 0.1 + n as f64 * 40e-6);
        assert!(sizer.rows() * 3_300 <= MAX_PAGE_BYTES, "{}", sizer.rows());
        assert!(
            sizer.rows() * 2 * 3_300 > MAX_PAGE_BYTES,
            "{}",
            sizer.rows()
        );
    }

    #[test]
    fn stays_below_a_cliff() {
        // Milvus Lite 2.5 as measured: 250 rows 0.024 s, 1,000 rows 0.17 s,
        // 2,000 rows 0.74 s, 2,500 rows 22 s.
        let cliff = |n: usize| {
            if n < 2_400 {
                0.003 + 0.021 * (n as f64 / 250.0).powf(1.45)
            } else {
                22.0
            }
        };
        let (sizer, rate) = drive(RequestSizer::new(3_300), 300, cliff);
        assert!(sizer.rows() <= 317, "settled at {}", sizer.rows());
        assert!(rate > 9_000.0, "rate {rate}");
    }

    #[test]
    fn settles_on_the_best_size_when_throughput_peaks() {
        // Super-linear cost beyond 500 rows: best around 500.
        let cost = |n: usize| 0.01 + n as f64 * 50e-6 + (n as f64 / 500.0).powi(3) * 0.01;
        let (sizer, _) = drive(RequestSizer::new(10_000), 60, cost);
        assert!(
            (200..=1_000).contains(&sizer.rows()),
            "settled at {}",
            sizer.rows()
        );
    }

    #[test]
    fn shrinks_when_growing_does_not_pay_from_the_start() {
        // Milvus Lite 2.5's shape, steeper: each page costs more per row the
        // larger it is, so the best page is well below the starting 317 rows.
        let cost = |n: usize| 0.002 + 0.02 * (n as f64 / 250.0).powf(2.0);
        let (sizer, _) = drive(RequestSizer::new(3_300), 100, cost);
        assert!(sizer.rows() < 317, "settled at {}", sizer.rows());
        assert!(sizer.used().0 < 317, "{:?}", sizer.used());
    }

    #[test]
    fn a_small_loss_on_a_flat_curve_does_not_send_it_looking_below() {
        // Flat per-row cost, but the first doubling measures 10% slower
        // (noise): settle at the start rather than probe smaller pages.
        let start = RequestSizer::new(3_300).rows();
        let cost = |n: usize| n as f64 * 30e-6 * if n == 2 * start { 1.1 } else { 1.0 };
        let (sizer, _) = drive(RequestSizer::new(3_300), 100, cost);
        assert_eq!(sizer.used().0, start);
        assert_eq!(sizer.rows(), start);
    }

    #[test]
    fn a_flat_curve_grows_to_the_byte_cap() {
        // The same cost per row at every size: fewer, larger requests.
        let (sizer, _) = drive(RequestSizer::new(3_300), 100, |n| n as f64 * 30e-6);
        let cap = MAX_PAGE_BYTES / 3_300;
        assert!(
            sizer.rows() <= cap && sizer.rows() * 2 > cap,
            "{}",
            sizer.rows()
        );
    }

    #[test]
    fn pages_asked_at_another_size_are_not_judged() {
        let mut sizer = RequestSizer::new(100 << 10).shared_by(2);
        let start = sizer.rows();
        let fast = Duration::from_millis(1);
        // Six samples at the current size (3 × 2 connections) before judging.
        for _ in 0..5 {
            sizer.observe(start, start, fast);
        }
        assert_eq!(sizer.rows(), start);
        sizer.observe(start, start, fast);
        let grown = sizer.rows();
        assert_eq!(grown, start * 2);
        // Pages still in flight from before the change say nothing about it.
        for _ in 0..10 {
            sizer.observe(start, start, Duration::from_secs(1));
        }
        assert_eq!(sizer.rows(), grown);
        assert_eq!(sizer.samples, 0);
    }

    #[test]
    fn shared_sizers_judge_the_combined_rate_not_one_page_s_time() {
        // Under contention a page's own time grows with its size (rows/s per
        // page flat), while pages finish at intervals that reward big pages:
        // 5 ms per query + 10 µs per row on the server.
        let mut sizer = RequestSizer::new(100).shared_by(2);
        let mut now = Instant::now();
        for _ in 0..200 {
            let n = sizer.rows();
            now += Duration::from_secs_f64(0.005 + n as f64 * 10e-6);
            sizer.observe_shared(n, n, Duration::from_secs_f64(n as f64 * 1e-4), now);
        }
        assert_eq!(sizer.rows(), MAX_PAGE_ROWS);
    }

    #[test]
    fn insert_batches_start_at_a_mebibyte_and_stay_under_their_cap() {
        let bounds = Bounds::insert_batches(8 << 20);
        assert_eq!(RequestSizer::within(bounds, 3_300).rows(), 317);
        let (sizer, _) = drive(RequestSizer::within(bounds, 3_300), 200, |n| {
            0.1 + n as f64 * 40e-6
        });
        assert!(sizer.rows() * 3_300 <= 8 << 20, "{}", sizer.rows());
        // Milvus Lite 2.5 as measured: 8 MiB batches 50 times slower per row.
        let lite = |n: usize| n as f64 * if n * 3_300 > 2 << 20 { 2.5e-3 } else { 5e-5 };
        let (sizer, rate) = drive(RequestSizer::within(bounds, 3_300), 200, lite);
        assert!(sizer.rows() * 3_300 <= 2 << 20, "{}", sizer.rows());
        assert!(rate > 10_000.0, "rate {rate}");
    }

    #[test]
    fn halves_when_the_server_says_too_large() {
        let mut sizer = RequestSizer::fixed(1_000);
        assert!(sizer.too_large());
        assert_eq!(sizer.rows(), 500);
        let mut one = RequestSizer::fixed(1);
        assert!(!one.too_large());
    }
}
