//! Bounded caches: a ring of built segments and the current rendered playlist, per track.

use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

/// One ring slot: the sequence number it holds and its (possibly still building) bytes.
type Slot = Option<(u64, Arc<OnceLock<Bytes>>)>;

/// A ring of segments keyed by sequence number; each is built at most once while cached.
#[derive(Debug)]
pub struct SegmentRing {
    slots: Mutex<Vec<Slot>>,
}

impl SegmentRing {
    /// A ring of `capacity` (≥ 1) slots.
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: Mutex::new(vec![None; capacity.max(1)]),
        }
    }

    /// Segment `n`, built by `build` if it is not cached. Concurrent callers for the same
    /// `n` share one build.
    pub fn get_or_build(&self, n: u64, build: impl FnOnce() -> Vec<u8>) -> Bytes {
        let cell = {
            let mut slots = match self.slots.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let len = slots.len() as u64;
            let slot = &mut slots[(n % len) as usize];
            match slot {
                Some((m, cell)) if *m == n => cell.clone(),
                _ => {
                    let cell = Arc::new(OnceLock::new());
                    *slot = Some((n, cell.clone()));
                    cell
                }
            }
        };
        cell.get_or_init(|| Bytes::from(build())).clone()
    }
}

/// The last rendered playlist of a track, keyed by its live edge.
#[derive(Debug, Default)]
pub struct PlaylistCache {
    current: Mutex<Option<(u64, Bytes)>>,
}

impl PlaylistCache {
    /// The playlist for `edge`, rendered by `render` when the edge changed.
    pub fn get_or_render(&self, edge: u64, render: impl FnOnce() -> String) -> Bytes {
        let mut cur = match self.current.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match &*cur {
            Some((e, b)) if *e == edge => b.clone(),
            _ => {
                let b = Bytes::from(render());
                *cur = Some((edge, b.clone()));
                b
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn builds_once_per_segment_and_evicts_by_ring() {
        let ring = SegmentRing::new(4);
        let builds = AtomicUsize::new(0);
        let get = |n: u64| {
            ring.get_or_build(n, || {
                builds.fetch_add(1, Ordering::SeqCst);
                vec![n as u8; 3]
            })
        };
        assert_eq!(&get(1)[..], &[1, 1, 1]);
        let a = get(1);
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        get(2);
        get(5); // evicts 1
        assert_eq!(builds.load(Ordering::SeqCst), 3);
        assert_eq!(&get(1)[..], &a[..]);
        assert_eq!(builds.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn concurrent_builds_share_one() {
        let ring = Arc::new(SegmentRing::new(8));
        let builds = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (ring, builds) = (ring.clone(), builds.clone());
                std::thread::spawn(move || {
                    ring.get_or_build(3, || {
                        builds.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        vec![0; 10]
                    })
                })
            })
            .collect();
        for h in hs {
            assert_eq!(h.join().unwrap().len(), 10);
        }
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn playlist_rerenders_only_on_edge_change() {
        let c = PlaylistCache::default();
        let renders = AtomicUsize::new(0);
        let r = |e: u64| {
            c.get_or_render(e, || {
                renders.fetch_add(1, Ordering::SeqCst);
                format!("edge {e}")
            })
        };
        assert_eq!(&r(10)[..], b"edge 10");
        r(10);
        r(11);
        assert_eq!(renders.load(Ordering::SeqCst), 2);
    }
}
