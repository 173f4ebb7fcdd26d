#!/usr/bin/env python3
"""How many of the slow `-P 1` requests overlap a collection (issue #15, lat3).

Inputs: bench/p1-timeline.mjs's --dump file (`<send, mono s> <latency ms> <first>` for every
request of 1 ms or more) and the server's stderr with NODIS_STALL_LOG set (its `gc <kind> mono
<start s> ms <pause>` lines). For latency floors 1, 2, 5, 10 ms: the requests at or over it, and
the share of them whose [send, reply] interval overlaps a collection's pause.
Usage: bench/slow-vs-gc.py <dump> <server log>
"""
import re
import sys

reqs = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
gcs = []
for l in open(sys.argv[2]):
    m = re.match(r'gc (\S+) mono ([\d.]+) ms ([\d.]+)', l)
    if m:
        gcs.append((float(m.group(2)), float(m.group(2)) + float(m.group(3)) / 1000, m.group(1)))
gcs.sort()
lo = reqs[0][0] if reqs else 0
hi = max((s + l / 1000 for s, l, _ in reqs), default=0)
inside = [g for g in gcs if g[1] >= lo and g[0] <= hi]
print(f'{len(inside)} collections during the run, pauses summed {sum((e - s) * 1000 for s, e, _ in inside):.1f} ms')
import bisect
starts = [g[0] for g in gcs]
for floor in (1, 2, 5, 10):
    sel = [r for r in reqs if r[1] >= floor]
    hit = 0
    for s, l, _ in sel:
        e = s + l / 1000
        i = bisect.bisect_right(starts, e)
        if any(gcs[j][1] >= s for j in range(max(0, i - 3), i)):
            hit += 1
    share = f'{100 * hit / len(sel):.0f}%' if sel else '-'
    print(f'≥{floor} ms: {len(sel)} requests, {hit} ({share}) overlap a collection')
