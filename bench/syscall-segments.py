#!/usr/bin/env python3
# Splits the traces of bench/aof-syscall-trace.sh into one request's segments: from each read of
# the socket to the next, the time between consecutive system-call entries/exits (the AOF write
# is the write to the descriptor fdatasync is called on). Prints, for the two commonest cycle
# shapes, the median and mean of each segment (docs/PERFORMANCE.md, aof3).
# Usage: python3 bench/syscall-segments.py TRACE.txt ...
import re, sys, statistics as st
def parse(fn):
    ev = []
    for line in open(fn):
        m = re.search(r'\s(\d+\.\d+): sys_(enter|exit): NR (\d+) (.*)', line)
        if not m: continue
        t = float(m.group(1)) * 1e6; kind = m.group(2); nr = int(m.group(3)); rest = m.group(4)
        fd = None
        if kind == 'enter':
            a = re.match(r'\((\w+)', rest); fd = int(a.group(1), 16) if a else None
        ev.append((t, kind, nr, fd))
    return ev
def segs(fn):
    ev = parse(fn)
    aoffd = next((fd for t,k,nr,fd in ev if k=='enter' and nr==75), None)
    cycles = []; cur = None; last = None; pending = None
    names = {0:'read',1:'write',75:'fdatasync',281:'epoll',232:'epoll'}
    for t,k,nr,fd in ev:
        if k == 'enter':
            name = names.get(nr, 'nr%d'%nr)
            if nr == 1: name = 'aofwrite' if fd == aoffd else 'sockwrite'
            if nr == 0 and fd != aoffd:
                if cur is not None: cur.append(('next', t)); cycles.append(cur)
                cur = []
            pending = (name, t)
            if cur is not None: cur.append((name+'>', t))
        else:
            if cur is not None and pending: cur.append(('<'+pending[0], t))
    return cycles
def summarize(fn):
    cycles = segs(fn)
    out = {}
    for c in cycles:
        if len(c) < 4: continue
        t0 = c[0][1]
        # segment durations between consecutive marks
        keys = []
        for (a,ta),(b,tb) in zip(c, c[1:]):
            key = a + ' .. ' + b
            keys.append((key, tb-ta))
        sig = ' | '.join(k for k,_ in keys)
        out.setdefault(sig, []).append([d for _,d in keys] + [c[-1][1]-t0])
    for sig, rows in sorted(out.items(), key=lambda x: -len(x[1]))[:2]:
        print(len(rows), 'cycles with this shape')
        ks = sig.split(' | ') + ['TOTAL cycle']
        for i,k in enumerate(ks):
            print('  %-40s median %8.1f us  mean %8.1f' % (k, st.median(r[i] for r in rows), st.mean(r[i] for r in rows)))
for fn in sys.argv[1:]:
    print('==', fn); summarize(fn)
