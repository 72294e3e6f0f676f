//! `--metrics-linger`: after the run, keep serving `/metrics` with the final values for a
//! while, so that Prometheus scrapes them at least once before the process exits.
//!
//! A shard's last scrape otherwise comes up to one scrape interval before its end, and
//! the recording rules' cross-pod totals would miss that interval's requests for good.

use std::future::Future;
use std::time::Duration;

/// How a linger ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LingerEnd {
    /// The whole duration passed.
    Elapsed,
    /// A stop signal cut it short.
    Interrupted,
}

/// Wait `duration`, or until `interrupt` completes, whichever comes first. A zero
/// duration returns at once without polling `interrupt`.
pub async fn linger(duration: Duration, interrupt: impl Future<Output = ()>) -> LingerEnd {
    if duration.is_zero() {
        return LingerEnd::Elapsed;
    }
    tokio::select! {
        () = tokio::time::sleep(duration) => LingerEnd::Elapsed,
        () = interrupt => LingerEnd::Interrupted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_the_whole_duration_without_a_signal() {
        let start = tokio::time::Instant::now();
        let end = linger(Duration::from_secs(15), std::future::pending()).await;
        assert_eq!(end, LingerEnd::Elapsed);
        assert_eq!(start.elapsed(), Duration::from_secs(15));
    }

    #[tokio::test(start_paused = true)]
    async fn a_signal_ends_it_early() {
        let start = tokio::time::Instant::now();
        let signal = tokio::time::sleep(Duration::from_secs(2));
        let end = linger(Duration::from_secs(15), signal).await;
        assert_eq!(end, LingerEnd::Interrupted);
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_does_not_wait() {
        let start = tokio::time::Instant::now();
        let end = linger(Duration::ZERO, std::future::ready(())).await;
        assert_eq!(end, LingerEnd::Elapsed);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
