//! The bytes the process holds on its heap right now, as the program asked for them.
//!
//! RSS is what the host pays, but it mixes two things a soak must tell apart: memory the
//! program still holds (a leak grows it) and memory the allocator keeps after the program
//! freed it (fragmentation and caching, which plateau). [`MeteredAlloc`] wraps the global
//! allocator and counts the bytes of every allocation minus every free, so
//! [`live_bytes`] is the first figure alone.
//!
//! Cost: one relaxed add per allocation and per free on a counter that belongs to the
//! calling thread's shard (threads are spread over [`SHARDS`] cache-line-sized slots), so
//! threads do not contend on one line. The sum over the shards is exact whenever no
//! allocation is in progress; a read racing allocations is off by those in flight only.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering::Relaxed};

/// Counter slots; threads beyond this share them (still exact, merely contended).
pub const SHARDS: usize = 32;

/// One counter on its own cache line, so two threads' counters never share one.
#[repr(align(128))]
struct Shard(AtomicI64);

static COUNTS: [Shard; SHARDS] = [const { Shard(AtomicI64::new(0)) }; SHARDS];
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    // `const` and without a destructor: readable from inside the allocator, at any point
    // of a thread's life, without allocating or registering anything.
    static MY_SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's counter (assigned round-robin on first use).
fn my_counter() -> &'static AtomicI64 {
    let index = MY_SHARD
        .try_with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT_SHARD.fetch_add(1, Relaxed) % SHARDS);
            }
            s.get()
        })
        // Thread-local storage already torn down (a free during thread exit): any shard
        // keeps the sum right.
        .unwrap_or(0);
    &COUNTS[index].0
}

/// A global allocator that counts live heap bytes, delegating the work to `A`.
///
/// Install it in a binary with `#[global_allocator]`; [`live_bytes`] then reads the count.
pub struct MeteredAlloc<A> {
    inner: A,
}

impl<A> MeteredAlloc<A> {
    /// Wrap `inner`.
    pub const fn new(inner: A) -> Self {
        MeteredAlloc { inner }
    }
}

/// Record `delta` bytes on this thread's counter.
fn record(delta: i64) {
    my_counter().fetch_add(delta, Relaxed);
}

// SAFETY: every method forwards to `inner` with the caller's arguments unchanged and only
// adds bookkeeping that neither allocates nor touches the returned memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for MeteredAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            record(layout.size() as i64);
            // A plain store after the first time would still be a write to a shared line:
            // check first.
            if !INSTALLED.load(Relaxed) {
                INSTALLED.store(true, Relaxed);
            }
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            record(layout.size() as i64);
            if !INSTALLED.load(Relaxed) {
                INSTALLED.store(true, Relaxed);
            }
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (hence from `inner`) with `layout`.
        unsafe { self.inner.dealloc(ptr, layout) };
        record(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; `new_size` is the caller's, checked by its contract.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            record(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// Bytes allocated and not yet freed, over the whole process; `None` when the process
/// does not allocate through [`MeteredAlloc`] (a library user's own allocator, tests).
pub fn live_bytes() -> Option<u64> {
    if !INSTALLED.load(Relaxed) {
        return None;
    }
    let sum: i64 = COUNTS.iter().map(|c| c.0.load(Relaxed)).sum();
    Some(sum.max(0) as u64)
}
