//! SIGINT / SIGTERM handling for uploads: instead of dying with a multipart
//! upload left open, the upload notices, aborts it, and exits 130 / 143.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Flags set by the signal handlers (at once, in the handler itself, so a
/// signal that arrives together with end-of-input is never missed).
#[derive(Debug, Clone)]
pub struct Interrupt {
    int: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
}

impl Interrupt {
    /// Installs handlers for SIGINT and SIGTERM.
    pub fn install() -> std::io::Result<Interrupt> {
        let int = Arc::new(AtomicBool::new(false));
        let term = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&int))?;
        signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&term))?;
        Ok(Interrupt { int, term })
    }

    /// A handle whose flags are never set (for library callers and tests).
    pub fn none() -> Interrupt {
        Interrupt {
            int: Arc::new(AtomicBool::new(false)),
            term: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The signal received, if any.
    pub fn fired(&self) -> Option<&'static str> {
        if self.term.load(Ordering::SeqCst) {
            Some("SIGTERM")
        } else if self.int.load(Ordering::SeqCst) {
            Some("SIGINT")
        } else {
            None
        }
    }

    /// Runs `work` to its end, or until a signal arrives: then `work` is
    /// dropped at its next await (its writers and uploads end unfinished)
    /// and the signal's name is returned.
    pub async fn until_signal<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, &'static str> {
        tokio::select! {
            done = work => Ok(done),
            signal = self.wait() => Err(signal),
        }
    }

    /// Resolves when a signal has been received (polls the flags).
    pub async fn wait(&self) -> &'static str {
        loop {
            if let Some(s) = self.fired() {
                return s;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
