#!/usr/bin/env python3
"""The verdict of a soak run (scripts/soak.sh): reads DIR/samples.csv, DIR/faults.log and
DIR/report.json, prints each check and exits 0 (pass) or 1 (fail).

Usage: soak_check.py DIR WARMUP_SECONDS SWARM_EXIT_STATUS VIEWERS
The checks and their thresholds are described in scripts/soak.sh.
"""
import csv, json, statistics, sys

out, warmup, status, viewers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = list(csv.DictReader(open(f"{out}/samples.csv")))
# Memory in use: RSS less the pages the allocator has freed with MADV_FREE (LazyFree in
# /proc/PID/smaps_rollup), which stay counted in RSS until the kernel needs them back.
for r in rows:
    r["inuse_kb"] = str(int(r["rss_kb"]) - int(r.get("lazyfree_kb") or 0))
failures = []

def check(ok, what):
    print(f"  {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        failures.append(what)

switches = [l.split() for l in open(f"{out}/faults.log") if l.strip()]
start = int(rows[0]["epoch"]) - int(rows[0]["t"]) if rows else 0
# Complete fault cycles (from one errors+resets switch to the next) after the warm-up.
starts = [int(w[0]) for w in switches if w[1] == "errors+resets"]
cycles = []
for a, b in zip(starts, starts[1:]):
    if a >= start + warmup:
        inside = [r for r in rows if a <= int(r["epoch"]) < b]
        if inside:
            cycles.append(inside)
print(f"soak: {len(rows)} samples; {len(cycles)} complete fault cycles after the {warmup} s warm-up")
check(len(cycles) >= 3, f"at least 3 complete fault cycles after the warm-up ({len(cycles)})")
if len(cycles) >= 3:
    third = len(cycles) // 3
    first, last = cycles[:third], cycles[-third:]

    def med(cs, key):
        per_cycle = []
        for c in cs:
            vals = [int(r[key]) for r in c if r.get(key)]
            if vals:
                per_cycle.append(statistics.median(vals))
        return statistics.median(per_cycle) if per_cycle else None

    def span(key):
        vals = [int(r[key]) for r in rows if int(r["t"]) >= warmup and r.get(key)]
        return f"min {min(vals)}, max {max(vals)}" if vals else "none"

    def floor(cs, key):
        vals = [int(r[key]) for c in cs for r in c if r.get(key)]
        return min(vals) if vals else None

    # Memory is judged on floors, like descriptors: the lowest sample of whole fault
    # cycles is the steady core. Medians also move with how much is in flight, which on
    # a shared machine depends on how busy it is (30-minute runs saw RSS medians from
    # -15 % to +8 % while the heap's floor did not move); a leak lifts the floor as well.
    use0, use1 = floor(first, "inuse_kb"), floor(last, "inuse_kb")
    rss0, rss1 = floor(first, "rss_kb"), floor(last, "rss_kb")
    growth = (use1 - use0) / use0 * 100
    check(use1 <= use0 * 1.05,
          f"RSS in use: lowest {use0 / 1024:.1f} MiB -> {use1 / 1024:.1f} MiB ({growth:+.2f} %, limit +5 %; "
          f"medians {med(first, 'inuse_kb') / 1024:.1f} -> {med(last, 'inuse_kb') / 1024:.1f} MiB; "
          f"after warm-up {span('inuse_kb')} kB; RSS with lazily freed pages lowest {rss0 / 1024:.1f} -> "
          f"{rss1 / 1024:.1f} MiB)")
    # The heap the program holds (hls_swarm_heap_live_bytes): RSS less what the allocator
    # keeps after frees. Its floor growing is the program's own leak.
    heap0, heap1 = floor(first, "heap_kb"), floor(last, "heap_kb")
    if heap0 is None or heap1 is None:
        check(False, "heap in use: no samples (hls_swarm_heap_live_bytes missing)")
    else:
        check(heap1 <= heap0 * 1.05,
              f"heap in use: lowest {heap0 / 1024:.1f} MiB -> {heap1 / 1024:.1f} MiB "
              f"({(heap1 - heap0) / heap0 * 100:+.2f} %, limit +5 %; medians "
              f"{med(first, 'heap_kb') / 1024:.1f} -> {med(last, 'heap_kb') / 1024:.1f} MiB; "
              f"kept by the allocator (RSS in use - heap), medians "
              f"{(med(first, 'inuse_kb') - med(first, 'heap_kb')) / 1024:.1f} -> "
              f"{(med(last, 'inuse_kb') - med(last, 'heap_kb')) / 1024:.1f} MiB)")
    for key, label, extra in (
        ("fds", "open descriptors", None),
        ("tasks", "runtime tasks", None),
        ("threads", "threads", 2),
    ):
        early = [int(r[key]) for c in first for r in c if r[key]]
        late = [int(r[key]) for c in last for r in c if r[key]]
        if not early or not late:
            check(False, f"{label}: no samples")
            continue
        floor0, floor1 = min(early), min(late)
        tol = extra if extra is not None else max(16, floor0 * 0.02)
        check(floor1 <= floor0 + tol,
              f"{label}: lowest {floor0} -> {floor1} ({floor1 - floor0:+d}, limit +{tol:g}) "
              f"(medians {med(first, key):g} -> {med(last, key):g}; after warm-up {span(key)})")

check(len(switches) >= 4 and all(s[-1] == "yes" for s in switches),
      f"{len(switches)} fault switches, all acknowledged by the origin")
check(status == 0, f"swarm exit status {status}")
try:
    report = json.load(open(f"{out}/report.json"))
except (OSError, ValueError) as e:
    report = None
    check(False, f"report.json readable ({e})")
if report is not None:
    errors = report["errors"]["total"]
    requests = sum(r["count"] for r in report["requests"].values())
    v = report["viewers"]
    check(requests > 0 and errors > 0,
          f"faults seen by the swarm: {errors} errors in {requests} requests ({report['errors']['by_class']})")
    check(v["peak_active"] >= 0.9 * viewers,
          f"viewers playing: peak {v['peak_active']} of {viewers} (at the end {v['active_at_end']}; "
          f"{report['playback']['played_seconds']:.0f} s played, {report['playback']['stalls']} stalls)")
print("soak: " + ("PASS" if not failures else f"FAIL ({len(failures)} of the checks)"))
sys.exit(1 if failures else 0)
