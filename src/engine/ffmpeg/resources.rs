//! What the FFmpeg processes cost the host: CPU and RSS of every process sampled once a
//! second from procfs, PSS of a few per second (see [`PSS_CYCLE_SECS`]), and the
//! swarm's own CPU. A sampler task keeps the figures; readers take the latest.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::processes::Processes;
use super::procfs;

/// Every running FFmpeg's PSS is re-measured about this often. Reading `smaps_rollup`
/// costs 1–2 ms of kernel time per FFmpeg (a page-table walk) — as much as a `-c copy`
/// FFmpeg spends in a couple of seconds — so `processes / PSS_CYCLE_SECS` processes are
/// measured per second on average (one every 0.6 s at 200 processes; at least one every
/// [`PSS_MIN_EVERY_SECS`], and one at once while none has a figure), unmeasured ones
/// first.
///
/// The sum stays true despite the slow rotation because it is built from two parts: each
/// process's *private* memory, which is its own and does not drift as other FFmpegs come
/// and go, and the *shared* pages' share (PSS − private), which all FFmpegs sharing the
/// same libraries have alike and which shrinks as more of them share: that part is taken
/// from the latest measurement for every process. A stale PSS figure measured while 20
/// processes shared the libraries would overstate the sum once 200 share them.
pub const PSS_CYCLE_SECS: u64 = 120;

/// A process's PSS is first measured once it has run this long: an FFmpeg that is still
/// probing the stream has not grown its buffers yet, and would stand for the unmeasured
/// ones at too low a figure.
pub const PSS_SETTLE_SECS: u64 = 10;

/// At least one process's PSS is measured this often (keeps the shared share fresh when
/// there are few processes).
pub const PSS_MIN_EVERY_SECS: u64 = 5;

/// How many of `n` processes to measure PSS for in sample round `round` (1, 2, …):
/// `n / PSS_CYCLE_SECS` per round on average, spread evenly, and at least one when
/// `none_known` (so a figure exists from the first second).
fn pss_quota(n: usize, round: u64, none_known: bool) -> usize {
    let n = n as u64;
    let due = |r: u64| n.saturating_mul(r) / PSS_CYCLE_SECS;
    let k = usize::try_from(due(round) - due(round.saturating_sub(1))).unwrap_or(usize::MAX);
    if n > 0 && (none_known || round.is_multiple_of(PSS_MIN_EVERY_SECS)) {
        k.max(1)
    } else {
        k
    }
}

/// Memory figures kept between samples: private bytes per process and the shared share.
#[derive(Debug, Default)]
struct PssBook {
    /// (pid, private bytes, sample round) of the processes measured so far.
    private: Vec<(u32, u64, u64)>,
    /// PSS − private of the latest measurement round (mean over its processes).
    shared_share: u64,
    /// Sample round in which each running process was first seen.
    first_seen: HashMap<u32, u64>,
}

impl PssBook {
    /// Record `measured` and return (estimated PSS sum over `live`, `live.len()`).
    fn update(
        &mut self,
        live: &[u32],
        measured: &[(u32, procfs::Rollup)],
        round: u64,
    ) -> (u64, u64) {
        for (pid, r) in measured {
            match self.private.iter_mut().find(|(p, _, _)| p == pid) {
                Some(e) => *e = (*pid, r.private, round),
                None => self.private.push((*pid, r.private, round)),
            }
        }
        if !measured.is_empty() {
            let shared: u64 = measured.iter().map(|(_, r)| r.shared_share()).sum();
            self.shared_share = shared / measured.len() as u64;
        }
        self.private.retain(|(p, _, _)| live.contains(p));
        let n_live = live.len() as u64;
        let n = self.private.len() as u64;
        if n == 0 {
            return (0, n_live);
        }
        let private: u64 = self.private.iter().map(|(_, b, _)| b).sum();
        let unmeasured = n_live.saturating_sub(n);
        (
            private + private / n * unmeasured + self.shared_share * n_live,
            n_live,
        )
    }

    /// The processes whose PSS to measure in sample round `round` (1, 2, …): settled
    /// ones (running for [`PSS_SETTLE_SECS`]) never measured first, then the longest
    /// unmeasured; `n / PSS_CYCLE_SECS` of them per round on average. While none has a
    /// figure, the oldest process is measured even if not settled yet.
    fn due(&mut self, live: &[u32], round: u64) -> Vec<u32> {
        let alive: HashSet<u32> = live.iter().copied().collect();
        self.first_seen.retain(|p, _| alive.contains(p));
        for p in live {
            self.first_seen.entry(*p).or_insert(round);
        }
        let k = pss_quota(live.len(), round, self.private.is_empty());
        let last_measured: HashMap<u32, u64> =
            self.private.iter().map(|(p, _, r)| (*p, *r + 1)).collect();
        let seen = |p: &u32| self.first_seen.get(p).copied().unwrap_or(round);
        let mut order: Vec<(u64, u32)> = live
            .iter()
            .filter(|p| round - seen(p) >= PSS_SETTLE_SECS)
            .map(|p| (last_measured.get(p).copied().unwrap_or(0), *p))
            .collect();
        if order.is_empty() && self.private.is_empty() {
            order.extend(live.iter().map(|p| (seen(p), *p)));
        }
        order.sort_unstable();
        order.into_iter().take(k).map(|(_, p)| p).collect()
    }
}

/// The latest resource figures (maxima and peaks kept across samples).
#[derive(Debug, Default, Clone, Copy)]
pub struct Usage {
    /// CPU seconds of the processes (never decreasing).
    pub cpu: f64,
    /// RSS now.
    pub rss: u64,
    /// Estimated PSS sum now.
    pub pss: u64,
    /// Highest RSS seen.
    pub rss_peak: u64,
    /// Highest PSS sum seen.
    pub pss_peak: u64,
    /// Processes running at the PSS peak.
    pub n_at_pss_peak: u64,
    /// The swarm's own CPU seconds.
    pub self_cpu: f64,
}

/// The engine's resource figures and their sampler (see the module docs).
#[derive(Debug, Default)]
pub struct Resources {
    pss: Mutex<PssBook>,
    usage: Mutex<Usage>,
    stop: CancellationToken,
}

impl Resources {
    /// Start sampling `processes` once a second until [`stop`](Resources::stop).
    pub fn start(processes: Arc<Processes>) -> Arc<Resources> {
        let r = Arc::new(Resources::default());
        tokio::spawn(sampler(r.clone(), processes));
        r
    }

    /// Process `pid` is gone: its private memory leaves the sum.
    pub fn forget(&self, pid: u32) {
        if let Ok(mut p) = self.pss.lock() {
            p.private.retain(|(q, _, _)| *q != pid);
        }
    }

    /// The latest figures.
    pub fn usage(&self) -> Usage {
        self.usage.lock().map(|u| *u).unwrap_or_default()
    }

    /// Stop the sampler (idempotent).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Stop the sampler and take a last sample (CPU and RSS) of `pids`.
    pub async fn last_sample(&self, pids: Vec<u32>) {
        self.stop();
        let sampled = tokio::task::spawn_blocking(move || {
            procfs::sample(&mut procfs::StatFiles::default(), &pids, &[])
        });
        if let Ok(u) = sampled.await {
            self.store(u, None);
        }
    }

    fn store(&self, u: procfs::Usage, pss: Option<(u64, u64)>) {
        if let Ok(mut c) = self.usage.lock() {
            c.cpu = c.cpu.max(u.cpu_seconds);
            c.rss = u.rss_bytes;
            c.rss_peak = c.rss_peak.max(u.rss_bytes);
            c.pss = pss.map(|(b, _)| b).unwrap_or(0);
            if let Some((p, n)) = pss
                && p > c.pss_peak
            {
                c.pss_peak = p;
                c.n_at_pss_peak = n;
            }
            c.self_cpu = c.self_cpu.max(u.self_cpu_seconds);
        }
    }

    /// Record measured figures; returns (PSS summed over `live`, processes counted).
    /// The sum is every process's private memory (the mean of the measured ones for
    /// processes not measured yet) plus, for each process, the shared share of the latest
    /// measurement (see [`PSS_CYCLE_SECS`]).
    fn pss_update(
        &self,
        live: &[u32],
        measured: &[(u32, procfs::Rollup)],
        round: u64,
    ) -> Option<(u64, u64)> {
        let mut book = self.pss.lock().ok()?;
        Some(book.update(live, measured, round)).filter(|_| !book.private.is_empty())
    }

    fn pss_due(&self, live: &[u32], round: u64) -> Vec<u32> {
        self.pss
            .lock()
            .map(|mut b| b.due(live, round))
            .unwrap_or_default()
    }
}

/// Samples procfs once a second (CPU and RSS of every process, PSS of a few).
async fn sampler(res: Arc<Resources>, processes: Arc<Processes>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut i = 0u64;
    let mut files = procfs::StatFiles::default();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = res.stop.cancelled() => return,
        }
        let pids = processes.pids();
        i += 1;
        let due = res.pss_due(&pids, i);
        let live = pids.clone();
        let sampled = tokio::task::spawn_blocking(move || {
            let u = procfs::sample(&mut files, &pids, &due);
            (u, files)
        });
        let Ok((u, kept)) = sampled.await else {
            return;
        };
        files = kept;
        if res.stop.is_cancelled() {
            return;
        }
        let pss = res.pss_update(&live, &u.pss, i);
        res.store(u, pss);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pss_sum_uses_the_latest_shared_share_for_every_process() {
        const MB: u64 = 1 << 20;
        let r = |pss: u64, private: u64| procfs::Rollup {
            pss: pss * MB,
            private: private * MB,
        };
        let mut book = PssBook::default();
        // Early: two processes share the libraries, 10 MB share each.
        assert_eq!(
            book.update(&[1, 2], &[(1, r(14, 4)), (2, r(15, 5))], 1),
            (29 * MB, 2)
        );
        // Later 100 processes share them: one fresh measurement shows a 1 MB share.
        let live: Vec<u32> = (1..=100).collect();
        let (sum, n) = book.update(&live, &[(3, r(7, 6))], 2);
        assert_eq!(n, 100);
        // Private: 4 + 5 + 6 measured, 97 unmeasured at their mean 5; shared 1 × 100.
        assert_eq!(sum, (15 + 97 * 5 + 100) * MB);
        // Gone processes leave the sum.
        assert_eq!(book.update(&[3], &[], 3), (7 * MB, 1));
    }

    #[test]
    fn pss_quota_spreads_a_cycle_evenly() {
        let total = |n: usize| {
            (1..=PSS_CYCLE_SECS)
                .map(|r| pss_quota(n, r, false))
                .sum::<usize>()
        };
        // Every process once per cycle, plus the minimum rate's extra measurements.
        let extra = (PSS_CYCLE_SECS / PSS_MIN_EVERY_SECS) as usize;
        for n in [100, 200, 1500] {
            let t = total(n);
            assert!(
                (n..=n + extra).contains(&t),
                "{n} processes: {t} measurements"
            );
        }
        assert_eq!(
            total(3000),
            3000,
            "above one per round the minimum adds nothing"
        );
        let most = 200usize.div_ceil(PSS_CYCLE_SECS as usize);
        assert!(
            (1..=PSS_CYCLE_SECS).all(|r| pss_quota(200, r, false) <= most),
            "spread evenly"
        );
        assert_eq!(
            pss_quota(3, PSS_MIN_EVERY_SECS, false),
            1,
            "the shared share stays fresh"
        );
        assert_eq!(pss_quota(3, 1, false), 0);
        assert_eq!(pss_quota(3, 1, true), 1, "a first figure at once");
        assert_eq!(pss_quota(0, 1, true), 0);
    }
}
