//! Progress on stderr: a bar on a terminal, a plain line every few seconds
//! otherwise (logs, cron mail), nothing with `-q`.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Reports progress until dropped.
pub struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: Option<ProgressBar>,
}

const LOG_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    /// Starts reporting, as `tool`, the rows counted by `written` (from its
    /// current value) against `expected` rows.
    pub fn start(
        tool: &'static str,
        enabled: bool,
        written: Arc<AtomicU64>,
        label: &str,
        expected: u64,
    ) -> Self {
        if !enabled {
            return Self {
                task: None,
                bar: None,
            };
        }
        let base = written.load(Ordering::Relaxed);
        let label = label.to_string();
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(expected);
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix} {wide_bar} {human_pos}/{human_len} rows {per_sec} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar.set_prefix(label);
            let shown = bar.clone();
            let task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(200));
                loop {
                    tick.tick().await;
                    shown.set_position(written.load(Ordering::Relaxed) - base);
                }
            });
            return Self {
                task: Some(task),
                bar: Some(bar),
            };
        }
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(LOG_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let rows = written.load(Ordering::Relaxed) - base;
                let secs = started.elapsed().as_secs_f64();
                eprintln!(
                    "{tool}: {label}: {rows}/{expected} rows, {:.0} rows/s",
                    rows as f64 / secs.max(1e-9)
                );
            }
        });
        Self {
            task: Some(task),
            bar: None,
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
