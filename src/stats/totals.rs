//! The run's cumulative counts as named figures: what every sink shows of "how many so
//! far". Computed from the collector's accumulator once per tick, so no sink reads the
//! accumulator (or its histograms) itself; distributions are in [`super::distribution`].

use std::collections::BTreeMap;

use super::accumulator::Accumulator;
use super::event::ErrorClass;

/// Whole-run counts, as of one tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Requests finished (successful, failed or aborted), all kinds.
    pub requests: u64,
    /// Requests failed, all kinds.
    pub errors: u64,
    /// Requests cut off in flight at the stop, all kinds.
    pub aborted: u64,
    /// Body bytes received, all kinds.
    pub bytes: u64,
    /// Failed requests by class, indexed by `ErrorClass::index`.
    pub by_class: [u64; ErrorClass::ALL.len()],
    /// Failed requests by HTTP status (>= 400).
    pub by_status: BTreeMap<u16, u64>,
    /// Redirects followed.
    pub redirects: u64,
    /// Requests by protocol, indexed by `Protocol::index`.
    pub by_protocol: [u64; 2],
    /// Connections opened by the client, by protocol (indexed by `Protocol::index`).
    pub connections: [u64; 2],
    /// Stalls begun.
    pub stalls_started: u64,
    /// Total length of finished stalls, seconds.
    pub stall_seconds: f64,
    /// Media time played, all viewers, seconds.
    pub played_seconds: f64,
    /// Segments that expired before they could be loaded.
    pub segments_expired: u64,
    /// Segments given up after retries.
    pub segments_skipped: u64,
    /// Media-sequence jumps handled as a stream reset.
    pub stream_resets: u64,
    /// Media playlist loads whose absurd timing was clamped.
    pub timing_clamped: u64,
    /// Tracks that fell back from LL-HLS to classic HLS.
    pub ll_fallbacks: u64,
    /// Viewer runs still without their first media at the startup timeout.
    pub startup_timeouts: u64,
    /// Viewer slots started by the ramp.
    pub viewers_started: u64,
    /// Viewers replaced or respawned.
    pub restarts: u64,
    /// Viewer exits that were failures.
    pub exits_failure: u64,
    /// Viewer exits that were clean (including swarm-initiated stops).
    pub exits_clean: u64,
    /// Reconnections after connection errors.
    pub reconnects: u64,
    /// Adaptive-bitrate figures (`-variant abr`).
    pub abr: super::abr::AbrFigures,
}

impl Totals {
    /// The counts of `acc` (the run's cumulative accumulator).
    pub fn of(acc: &Accumulator) -> Self {
        Totals {
            requests: acc.total_requests(),
            errors: acc.total_errors(),
            aborted: acc.total_aborted(),
            bytes: acc.total_bytes(),
            by_class: acc.by_class,
            by_status: acc.by_status.clone(),
            redirects: acc.redirects,
            by_protocol: acc.by_protocol,
            connections: acc.connections,
            stalls_started: acc.stalls_started,
            stall_seconds: acc.stall_time.as_secs_f64(),
            played_seconds: acc.played.as_secs_f64(),
            segments_expired: acc.segments_expired,
            segments_skipped: acc.segments_skipped,
            stream_resets: acc.stream_resets,
            timing_clamped: acc.timing_clamped,
            ll_fallbacks: acc.ll_fallbacks,
            startup_timeouts: acc.startup_timeouts,
            viewers_started: acc.viewers_started,
            restarts: acc.restarts,
            exits_failure: acc.exits_failure,
            exits_clean: acc.exits_clean,
            reconnects: acc.reconnects,
            abr: super::abr::AbrFigures::of(&acc.abr),
        }
    }

    /// Body bytes received, all kinds.
    pub fn total_bytes(&self) -> u64 {
        self.bytes
    }

    /// Failed requests of one class.
    pub fn errors_of(&self, class: ErrorClass) -> u64 {
        self.by_class[class.index()]
    }
}
