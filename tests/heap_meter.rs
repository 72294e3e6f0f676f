//! `heap::live_bytes` against allocations of known size made through the metered allocator.

use std::alloc::System;

use hls_swarm::heap::{MeteredAlloc, live_bytes};

#[global_allocator]
static GLOBAL: MeteredAlloc<System> = MeteredAlloc::new(System);

const MIB: u64 = 1 << 20;

/// The harness's own threads allocate and free a little while this runs: allow that much
/// either way.
const SLACK: u64 = MIB;

/// The tests of this binary run one at a time: each reads the whole process's count.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn live() -> u64 {
    live_bytes().expect("the metered allocator is installed in this test binary")
}

#[test]
fn live_bytes_follow_allocations_frees_and_reallocations_across_threads() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = live();

    let big = vec![7u8; (64 * MIB) as usize];
    let with_big = live();
    assert!(
        with_big + SLACK >= before + 64 * MIB && with_big <= before + 64 * MIB + SLACK,
        "64 MiB allocated: {before} -> {with_big}"
    );

    // Grown in place or moved, the count is the new size.
    let mut grown = Vec::<u8>::with_capacity((16 * MIB) as usize);
    grown.resize((48 * MIB) as usize, 1);
    let with_grown = live();
    assert!(
        with_grown + SLACK >= with_big + 48 * MIB && with_grown <= with_big + 48 * MIB + SLACK,
        "48 MiB more after a realloc: {with_big} -> {with_grown}"
    );

    // Freed on another thread than the one that allocated: the sum over shards still
    // falls back.
    std::thread::spawn(move || {
        drop(big);
        drop(grown);
    })
    .join()
    .unwrap();
    let after = live();
    assert!(
        after + SLACK >= before && after <= before + SLACK,
        "all freed: {before} -> {after}"
    );
}

#[test]
fn many_threads_at_once_leave_the_count_exact() {
    // More threads than slots, allocating and freeing at the same time, each also
    // freeing blocks another thread allocated: owned slots and the shared one together.
    // A lost update would leave the sum off by whole blocks of 16-64 KiB.
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = live();
    let threads: Vec<_> = (0..(2 * hls_swarm::heap::SHARDS))
        .map(|t| {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                for i in 0..2_000usize {
                    let block = vec![t as u8; (16 + (i * 7 + t) % 48) << 10];
                    if i % 50 == 0 {
                        kept.push(block);
                    }
                }
                kept
            })
        })
        .collect();
    let kept: Vec<Vec<Vec<u8>>> = threads.into_iter().map(|h| h.join().unwrap()).collect();
    let held: u64 = kept.iter().flatten().map(|b| b.capacity() as u64).sum();
    let with_kept = live();
    assert!(
        with_kept + SLACK >= before + held && with_kept <= before + held + SLACK,
        "{held} bytes held: {before} -> {with_kept}"
    );
    // Freed on this thread, allocated on the others.
    drop(kept);
    let after = live();
    assert!(
        after + SLACK >= before && after <= before + SLACK,
        "all freed: {before} -> {after}"
    );
}
