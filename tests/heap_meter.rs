//! `heap::live_bytes` against allocations of known size made through the metered allocator.

use std::alloc::System;

use hls_swarm::heap::{MeteredAlloc, live_bytes};

#[global_allocator]
static GLOBAL: MeteredAlloc<System> = MeteredAlloc::new(System);

const MIB: u64 = 1 << 20;

/// The harness's own threads allocate a little while this runs: allow that much.
const SLACK: u64 = MIB;

fn live() -> u64 {
    live_bytes().expect("the metered allocator is installed in this test binary")
}

#[test]
fn live_bytes_follow_allocations_frees_and_reallocations_across_threads() {
    let before = live();

    let big = vec![7u8; (64 * MIB) as usize];
    let with_big = live();
    assert!(
        with_big >= before + 64 * MIB && with_big <= before + 64 * MIB + SLACK,
        "64 MiB allocated: {before} -> {with_big}"
    );

    // Grown in place or moved, the count is the new size.
    let mut grown = Vec::<u8>::with_capacity((16 * MIB) as usize);
    grown.resize((48 * MIB) as usize, 1);
    let with_grown = live();
    assert!(
        with_grown >= with_big + 48 * MIB && with_grown <= with_big + 48 * MIB + SLACK,
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
