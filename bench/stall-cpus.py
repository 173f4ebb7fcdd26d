#!/usr/bin/env python3
"""Who had the CPUs during each stall of the server (issue #15, lat3).

Reads `perf sched timehist` output (each line: a task's run ending at <time> on <cpu> after
<run time> ms) and bench/stall-trace.mjs's output (stall lines with the monotonic time the gap
ended and its length), and prints, for every gap of at least --min ms, the CPU time each group
of tasks had inside it: the server's main thread, the server's other threads (V8's workers,
libuv's pool), the benchmark client, the kernel, and everything else (other processes).

Usage: perf sched timehist -i <perf.data> > timehist.txt
       bench/stall-cpus.py timehist.txt stall-trace-output.txt <server pid> [--client <pid>] [--min 10]
(--client: the run's redis-benchmark; any other redis-benchmark counts as another process)
"""
import re
import sys

timehist, trace, pid = sys.argv[1], sys.argv[2], sys.argv[3]
client = sys.argv[sys.argv.index('--client') + 1] if '--client' in sys.argv else None
min_ms = float(sys.argv[sys.argv.index('--min') + 1]) if '--min' in sys.argv else 10.0

runs = []  # (start s, end s, cpu, task)
line_re = re.compile(r'^\s*([\d.]+)\s+\[(\d+)\]\s+(.+?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$')
for line in open(timehist):
    m = line_re.match(line)
    if not m:
        continue
    end, cpu, task, run = float(m.group(1)), int(m.group(2)), m.group(3), float(m.group(6))
    runs.append((end - run / 1000, end, cpu, task))


def group(task):
    m = re.match(r'(.*)\[(\d+)(?:/(\d+))?\]$', task)
    if not m:
        return 'other'
    name, tid, tgid = m.group(1), m.group(2), m.group(3) or m.group(2)
    if tgid == pid:
        return 'server main' if tid == pid else 'server threads'
    if name.startswith('redis-benchmark'):
        return 'redis-benchmark' if client is None or tgid == client else 'other processes'
    if name in ('<idle>', 'swapper') or tid == '0':
        return 'idle'
    if tgid == tid and not name.startswith(('node', 'redis', 'tsc', 'npm', 'memfd', 'perf')) and ('/' in name or name.startswith(('kworker', 'ksoftirqd', 'rcu', 'migration', 'kdamond'))):
        return 'kernel'
    return 'other processes'


stall_re = re.compile(r'stall \S+ mono ([\d.]+) gap ([\d.]+) cpu ([\d.-]+) runq ([\d.-]+) off ([\d.-]+)')
for line in open(trace):
    m = stall_re.search(line)
    if not m or float(m.group(2)) < min_ms:
        continue
    end, gap = float(m.group(1)), float(m.group(2))
    start = end - gap / 1000
    share = {}
    tasks = {}
    for s, e, cpu, task in runs:
        o = min(e, end) - max(s, start)
        if o > 0:
            g = group(task)
            share[g] = share.get(g, 0) + o * 1000
            if g in ('other processes', 'server threads', 'kernel'):
                tasks[task] = tasks.get(task, 0) + o * 1000
    top = ', '.join(f'{t} {ms:.1f}' for t, ms in sorted(tasks.items(), key=lambda x: -x[1])[:4])
    parts = ', '.join(f'{g} {ms:.1f}' for g, ms in sorted(share.items(), key=lambda x: -x[1]))
    print(f'gap {gap:.1f} ms at {end:.3f} (main: cpu {m.group(3)} runq {m.group(4)} off {m.group(5)}): {parts} | {top}')
