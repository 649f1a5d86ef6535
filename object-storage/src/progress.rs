//! Progress on stderr (bytes and rate), only when stderr is a terminal.

use crate::size::human;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A byte counter that a background task prints once a second on a TTY.
#[derive(Debug, Clone)]
pub struct Progress {
    bytes: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    enabled: bool,
    started: Instant,
}

impl Progress {
    /// Enabled when `want` and stderr is a terminal.
    pub fn new(want: bool) -> Progress {
        Progress {
            bytes: Arc::new(AtomicU64::new(0)),
            done: Arc::new(AtomicBool::new(false)),
            enabled: want && std::io::stderr().is_terminal(),
            started: Instant::now(),
        }
    }

    /// Counts `n` more bytes done.
    pub fn add(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Starts the printer (inside a Tokio runtime); stops at [`Progress::finish`].
    pub fn spawn(&self, label: &'static str) {
        if !self.enabled {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if !me.enabled_now() {
                    break;
                }
                me.print(label);
            }
        });
    }

    fn enabled_now(&self) -> bool {
        !self.done.load(Ordering::Relaxed)
    }

    fn print(&self, label: &str) {
        let n = self.bytes.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = (n as f64 / secs) as u64;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{label} {}  {}/s", human(n), human(rate));
        let _ = err.flush();
    }

    /// Stops printing and clears the line.
    pub fn finish(&self) {
        if self.enabled {
            self.done.store(true, Ordering::Relaxed);
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }
}
