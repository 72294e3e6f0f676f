//! A viewer's last-mile link: the pacing of its body reads to its link rate
//! (`--viewer-bandwidth`), shared by all of the viewer's requests at once.
//!
//! The pacer keeps the time at which the link is busy until (a virtual-clock, GCRA-like
//! scheduler): `n` bytes read at `now` cross the link from `max(busy_until, now)` for
//! `n · 8 / rate` seconds. An idle link earns no credit. The HTTP client reads a body
//! frame, asks the pacer when it has crossed the link, and only sleeps when that is more
//! than one granule ahead (so a download wakes at most about once per granule of
//! transfer, however small the frames), and at the body's end waits until its last byte
//! has crossed. While it sleeps it reads nothing, so hyper reads nothing from the socket
//! and TCP flow control slows the sender: the origin sees the link too. Bytes are counted
//! as they are read, exactly as without a link.
//!
//! The granule is the time [`BURST_BYTES`] take to cross the link, kept within
//! [`MIN_GRANULE`]..=[`MAX_GRANULE`]: every wake-up is a timer, a task poll and a TCP
//! window that reopens, so a reader that wakes once per burst of bytes rather than once
//! per fixed slice of time costs the same per byte on a slow link as on a fast one.
//!
//! Bounds: at any time the bytes read so far are at most one granule of transfer plus one
//! frame ahead of the link, and a body completes no earlier than its last byte crosses.
//! Pure: the caller passes the clock.

use std::time::Duration;

use tokio::time::Instant;

/// The bytes a reader reads in one go before it sleeps, when the link is between
/// [`MIN_GRANULE`] and [`MAX_GRANULE`] of transfer for them: four of hyper's 16 KiB reads.
pub const BURST_BYTES: u64 = 64 * 1024;

/// The shortest granule: on a fast link a reader still wakes at most 20 times per second.
pub const MIN_GRANULE: Duration = Duration::from_millis(50);

/// The longest granule: on a slow link a burst stays a quarter of a second of transfer,
/// far below a segment's download time at any rate a player can play.
pub const MAX_GRANULE: Duration = Duration::from_millis(250);

/// One viewer's link: its rate, its pacing granule and until when it is busy.
#[derive(Debug, Clone)]
pub struct LinkPacer {
    bits_per_second: u64,
    granule: Duration,
    busy_until: Option<Instant>,
}

impl LinkPacer {
    /// A link of `bits_per_second` (at least 1), idle.
    pub fn new(bits_per_second: u64) -> Self {
        let bits_per_second = bits_per_second.max(1);
        LinkPacer {
            bits_per_second,
            granule: transfer_time(bits_per_second, BURST_BYTES).clamp(MIN_GRANULE, MAX_GRANULE),
            busy_until: None,
        }
    }

    /// The link's rate, bits per second.
    pub fn bits_per_second(&self) -> u64 {
        self.bits_per_second
    }

    /// How far a reader may run ahead of this link before it sleeps.
    pub fn granule(&self) -> Duration {
        self.granule
    }

    /// How long `bytes` take to cross the link (rounded up to the nanosecond).
    pub fn transfer_time(&self, bytes: u64) -> Duration {
        transfer_time(self.bits_per_second, bytes)
    }

    /// `bytes` were read at `now`: when they have crossed the link (after the bytes
    /// read before them).
    pub fn arrive(&mut self, now: Instant, bytes: u64) -> Instant {
        let from = self.busy_until.map_or(now, |b| b.max(now));
        let until = from + self.transfer_time(bytes);
        self.busy_until = Some(until);
        until
    }

    /// Whether a reader that read bytes arriving at `arrival` must sleep (until `arrival`)
    /// before it reads on at `now`: only when the link is more than one granule behind.
    pub fn must_wait(&self, now: Instant, arrival: Instant) -> bool {
        arrival > now + self.granule
    }
}

/// How long `bytes` take over a link of `bits_per_second` (at least 1), rounded up to the
/// nanosecond and saturating.
fn transfer_time(bits_per_second: u64, bytes: u64) -> Duration {
    let nanos = (bytes as u128 * 8 * 1_000_000_000).div_ceil(bits_per_second.max(1) as u128);
    Duration::from_nanos(nanos.min(u64::MAX as u128) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that reads `frame`-byte frames as fast as the pacer lets it, at the
    /// injected clock: the (time, bytes read) after each frame, and when the body completed.
    fn download(
        pacer: &mut LinkPacer,
        start: Instant,
        total: u64,
        frame: u64,
    ) -> (Vec<(Instant, u64)>, Instant) {
        let mut now = start;
        let mut read = 0;
        let mut trace = Vec::new();
        let mut last = start;
        while read < total {
            let n = frame.min(total - read);
            read += n;
            trace.push((now, read));
            last = pacer.arrive(now, n);
            if pacer.must_wait(now, last) {
                now = last;
            }
        }
        (trace, now.max(last))
    }

    #[test]
    fn reads_keep_within_one_granule_of_the_rate() {
        let rate = 2_000_000u64; // 250,000 bytes/s
        for frame in [1_000u64, 16_384, 65_536] {
            let start = Instant::now();
            let mut p = LinkPacer::new(rate);
            let total = 1_000_000;
            let (trace, done) = download(&mut p, start, total, frame);
            let bytes_per_s = rate as f64 / 8.0;
            let granule_bytes = bytes_per_s * p.granule().as_secs_f64();
            for &(t, read) in &trace {
                let allowed =
                    bytes_per_s * (t - start).as_secs_f64() + granule_bytes + frame as f64;
                assert!(
                    read as f64 <= allowed + 1.0,
                    "frame {frame}: {read} read by {:?}, allowed {allowed}",
                    t - start
                );
            }
            // The body completes exactly when its last byte has crossed: 4 s.
            assert_eq!(done - start, Duration::from_secs(4), "frame {frame}");
        }
    }

    #[test]
    fn the_granule_is_a_burst_of_bytes_within_its_bounds() {
        // 64 KiB over 3 Mbit/s: 174.8 ms.
        let g = LinkPacer::new(3_000_000).granule();
        assert_eq!(g, LinkPacer::new(3_000_000).transfer_time(BURST_BYTES));
        assert!(g > Duration::from_millis(174) && g < Duration::from_millis(175));
        // Fast and slow links are held to the bounds.
        assert_eq!(LinkPacer::new(100_000_000).granule(), MIN_GRANULE);
        assert_eq!(LinkPacer::new(500_000).granule(), MAX_GRANULE);
        assert_eq!(LinkPacer::new(0).granule(), MAX_GRANULE);
    }

    #[test]
    fn a_reader_sleeps_about_once_per_granule() {
        // 2 s of transfer in 1,000-byte frames at each rate: one sleep per granule.
        for rate in [400_000u64, 3_000_000, 8_000_000, 100_000_000] {
            let start = Instant::now();
            let mut p = LinkPacer::new(rate);
            let frames = rate / 4_000; // 2 s of bytes, 1,000 per frame.
            let mut now = start;
            let mut sleeps = 0u64;
            for _ in 0..frames {
                let at = p.arrive(now, 1_000);
                if p.must_wait(now, at) {
                    sleeps += 1;
                    now = at;
                }
            }
            let want = Duration::from_secs(2).as_secs_f64() / p.granule().as_secs_f64();
            assert!(
                (sleeps as f64) <= want && sleeps as f64 >= want - 2.0,
                "{rate} bit/s: {sleeps} sleeps, about {want} expected"
            );
        }
    }

    #[test]
    fn concurrent_reads_share_the_rate_and_idle_earns_no_credit() {
        let start = Instant::now();
        let mut p = LinkPacer::new(8_000); // 1,000 bytes/s
        // Two requests read 500 bytes each at the same instant: the link carries 1,000.
        let a = p.arrive(start, 500);
        let b = p.arrive(start, 500);
        assert_eq!(a - start, Duration::from_millis(500));
        assert_eq!(b - start, Duration::from_secs(1));
        // After 10 s idle, 1,000 bytes still take a whole second.
        let later = start + Duration::from_secs(11);
        assert_eq!(p.arrive(later, 1_000) - later, Duration::from_secs(1));
        let g = p.granule();
        assert!(!p.must_wait(later, later + g));
        assert!(p.must_wait(later, later + g + Duration::from_nanos(1)));
    }

    #[test]
    fn transfer_time_is_exact_and_saturates() {
        let p = LinkPacer::new(3);
        assert_eq!(p.transfer_time(3), Duration::from_secs(8));
        assert_eq!(LinkPacer::new(0).bits_per_second(), 1);
        assert_eq!(
            LinkPacer::new(1).transfer_time(u64::MAX),
            Duration::from_nanos(u64::MAX)
        );
    }
}
