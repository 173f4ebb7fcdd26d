#!/usr/bin/python3
# `perf script` output on stdin: the samples whose stack holds a frame containing NAME, split by
# the frame(s) right below it (its callees, `depth` deep; "(self)" for NAME's own), as a share of
# all samples. docs/PERFORMANCE.md (wait6).
#   perf script -i x.data | python3 bench/perf-under.py 'JS:*processStream' [depth]
import sys, collections
name = sys.argv[1]
depth = int(sys.argv[2]) if len(sys.argv) > 2 else 1
counts = collections.Counter()
n = 0
stack = []
def done():
    global n
    if not stack:
        return
    n += 1
    for i, s in enumerate(stack):  # leaf first
        if name in s:
            below = stack[max(0, i - depth):i]
            counts[' <- '.join(reversed(below)) if below else '(self)'] += 1
            break
for line in sys.stdin:
    line = line.rstrip('\n')
    if not line.strip():
        done(); stack = []; continue
    if line[0] in ' \t':
        parts = line.strip().split(' ', 1)
        if len(parts) < 2:
            continue
        rest = parts[1]
        i = rest.rfind(' (')
        stack.append((rest[:i] if i >= 0 else rest).split('+0x')[0])
done()
total = sum(counts.values())
print(f"{n} samples; under {name}: {total} ({100 * total / max(1, n):.1f}%)")
for k, v in counts.most_common(25):
    print(f"{100 * v / n:6.2f}% {k[:160]}")
