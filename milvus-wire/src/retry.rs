//! One policy for transient server errors ([`Error::is_transient`]), used by
//! every call the tools repeat: a few attempts, the delay doubling from half
//! a second up to ten, each retry told to the caller (to say so on stderr).

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// How many times, and how far apart, a call is tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
}

/// A retry about to happen, for the caller's message.
#[derive(Clone, Copy, Debug)]
pub struct Retrying {
    /// The attempt about to be made (2 for the first retry).
    pub attempt: u32,
    /// Attempts in all.
    pub attempts: u32,
    /// The wait before it.
    pub delay: Duration,
}

impl std::fmt::Display for Retrying {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "retrying in {:.1}s (attempt {}/{})",
            self.delay.as_secs_f64(),
            self.attempt,
            self.attempts
        )
    }
}

impl Default for Backoff {
    /// 8 attempts over about 36 seconds: long enough for a proxy restart or
    /// a rate-limit window, short enough that a dead server fails the job.
    fn default() -> Self {
        Backoff::attempts(8)
    }
}

impl Backoff {
    /// `attempts` attempts (at least 1), with the default delays.
    pub fn attempts(attempts: u32) -> Self {
        Backoff {
            attempts: attempts.max(1),
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
        }
    }

    /// The wait before attempt `attempt` (2 or more).
    fn delay_before(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(2).min(16);
        (self.first_delay * 2u32.pow(doublings)).min(self.max_delay)
    }

    /// Runs `call` until it succeeds, fails with an error that is not
    /// transient, or has been tried `attempts` times (then its last error is
    /// returned). `on_retry` hears each transient error before its retry.
    pub async fn retry<T, Call, Attempt>(
        &self,
        mut call: Call,
        mut on_retry: impl FnMut(&Error, Retrying),
    ) -> Result<T>
    where
        Call: FnMut() -> Attempt,
        Attempt: Future<Output = Result<T>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Err(e) if attempt < self.attempts && e.is_transient() => {
                    attempt += 1;
                    let delay = self.delay_before(attempt);
                    on_retry(
                        &e,
                        Retrying {
                            attempt,
                            attempts: self.attempts,
                            delay,
                        },
                    );
                    tokio::time::sleep(delay).await;
                }
                outcome => return outcome,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn unavailable() -> Error {
        Error::Rpc {
            op: "Query".into(),
            status: Box::new(tonic::Status::unavailable("restarting")),
        }
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let backoff = Backoff::default();
        let delays: Vec<u64> = (2..=8)
            .map(|attempt| backoff.delay_before(attempt).as_millis() as u64)
            .collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 10000, 10000]);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_until_the_attempts_run_out() {
        let calls = Cell::new(0);
        let mut told = Vec::new();
        let outcome: Result<()> = Backoff::attempts(3)
            .retry(
                || {
                    calls.set(calls.get() + 1);
                    async { Err(unavailable()) }
                },
                |_, retrying| told.push(retrying.to_string()),
            )
            .await;
        assert!(outcome.is_err());
        assert_eq!(calls.get(), 3);
        assert_eq!(
            told,
            [
                "retrying in 0.5s (attempt 2/3)",
                "retrying in 1.0s (attempt 3/3)"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_and_successes_return_at_once() {
        let calls = Cell::new(0);
        let outcome: Result<u32> = Backoff::default()
            .retry(
                || {
                    calls.set(calls.get() + 1);
                    async {
                        Err(Error::Server {
                            op: "Insert".into(),
                            code: 0,
                            reason: "field dim mismatch".into(),
                        })
                    }
                },
                |_, _| panic!("not transient"),
            )
            .await;
        assert!(outcome.is_err());
        assert_eq!(calls.get(), 1);
        let first_try: Result<u32> = Backoff::default()
            .retry(|| async { Ok(7) }, |_, _| {})
            .await;
        assert_eq!(first_try.ok(), Some(7));
    }
}
