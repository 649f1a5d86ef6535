//! A rate limit shared by every connection of a process: `--max-rows-per-second`
//! and `--max-bytes-per-second`, so that a dump or a load does not overload
//! a production server.
//!
//! One token bucket (kept as the time the work done so far is allowed to
//! finish, "GCRA"): each page or batch is charged its rows and bytes; when
//! more has been done than the limits allow by now, the caller waits. Idle
//! time builds up credit for at most [`BURST`], so a pause is not followed
//! by a burst above the limit.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Credit a pause may build up.
pub const BURST: Duration = Duration::from_secs(1);

/// Rows and bytes per second, at most.
#[derive(Debug)]
pub struct Pacer {
    rows_per_second: Option<f64>,
    bytes_per_second: Option<f64>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// When the work charged so far may be done by.
    allowed_until: Instant,
    /// Time spent waiting, in total.
    waited: Duration,
}

impl Pacer {
    /// A pacer for the limits given; `None` when there are none.
    pub fn new(
        max_rows_per_second: Option<u64>,
        max_bytes_per_second: Option<u64>,
    ) -> Option<Self> {
        if max_rows_per_second.is_none() && max_bytes_per_second.is_none() {
            return None;
        }
        Some(Self {
            rows_per_second: max_rows_per_second.map(|n| n.max(1) as f64),
            bytes_per_second: max_bytes_per_second.map(|n| n.max(1) as f64),
            state: Mutex::new(State {
                allowed_until: Instant::now(),
                waited: Duration::ZERO,
            }),
        })
    }

    /// Charges `rows` and `bytes` done now; returns how long to wait
    /// before doing more.
    fn charge(&self, rows: u64, bytes: u64) -> Duration {
        let cost = Duration::from_secs_f64(
            (rows as f64 / self.rows_per_second.unwrap_or(f64::INFINITY))
                .max(bytes as f64 / self.bytes_per_second.unwrap_or(f64::INFINITY)),
        );
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else {
            return Duration::ZERO;
        };
        let earliest = now.checked_sub(BURST).unwrap_or(now);
        state.allowed_until = state.allowed_until.max(earliest) + cost;
        let wait = state.allowed_until.saturating_duration_since(now);
        state.waited += wait;
        wait
    }

    /// Charges `rows` and `bytes`, waiting (asynchronously) when over the limits.
    pub async fn pace(&self, rows: u64, bytes: u64) {
        let wait = self.charge(rows, bytes);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Charges `rows` and `bytes`, sleeping this thread when over the limits.
    pub fn pace_blocking(&self, rows: u64, bytes: u64) {
        let wait = self.charge(rows, bytes);
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// Time spent waiting so far.
    pub fn waited(&self) -> Duration {
        self.state.lock().map(|s| s.waited).unwrap_or_default()
    }

    /// The limits and the time waited for them, as a summary reports them.
    pub fn report(&self) -> Held {
        Held {
            max_rows_per_second: self.rows_per_second.map(|n| n as u64),
            max_bytes_per_second: self.bytes_per_second.map(|n| n as u64),
            waited_seconds: self.waited().as_secs_f64(),
        }
    }
}

/// The limits a run held to, and how long it waited for them (the rows/s
/// beside it in a summary is the rate held).
#[derive(Clone, Debug, Serialize)]
pub struct Held {
    /// `--max-rows-per-second`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rows_per_second: Option<u64>,
    /// `--max-bytes-per-second`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes_per_second: Option<u64>,
    /// Seconds spent waiting to stay under them.
    pub waited_seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_limits_no_pacer() {
        assert!(Pacer::new(None, None).is_none());
    }

    #[test]
    fn work_over_the_rate_waits_for_it() {
        let pacer = Pacer::new(Some(1000), None).unwrap();
        // The first second's worth is the burst a fresh pacer allows.
        assert!(pacer.charge(1000, 0) <= BURST);
        // 500 more rows at 1,000 rows/s: half a second beyond that.
        let wait = pacer.charge(500, 0);
        assert!(wait >= Duration::from_millis(1400), "{wait:?}");
        assert!(pacer.waited() >= wait);
    }

    #[test]
    fn the_stricter_limit_rules() {
        let pacer = Pacer::new(Some(1_000_000), Some(1000)).unwrap();
        let wait = pacer.charge(1, 3000);
        assert!(wait >= Duration::from_millis(2900), "{wait:?}");
    }
}
