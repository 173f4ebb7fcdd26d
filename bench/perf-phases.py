#!/usr/bin/python3
# Splits the samples of `perf script` output (a server profiled by bench/perf-profile.sh) by the
# phase of Node's event loop they fall in: the read callbacks (the kernel's read(2), then Node's
# C++ entry into JS, then each JS function of ours innermost-first), the reply writes (Node's
# WriteBuffer, the kernel's write(2)), the check phase's end-of-turn flush (Node's C++, the JS),
# the poll (epoll, libuv's dispatch), timers. Shares are of all samples; multiplied by the
# server's CPU per request they are µs per request. docs/PERFORMANCE.md, "lua7".
#   perf script -i out.data | /usr/bin/python3 bench/perf-phases.py [--js]
import sys, collections
show_js = '--js' in sys.argv
c = collections.Counter(); tot = 0; frames = []
def flush():
    global tot
    if not frames: return
    tot += 1
    syms = [f.split(None, 1)[1].split('+0x')[0] if ' ' in f else f for f in frames]
    s = '\n'.join(syms)
    kernel_leaf = '[kernel' in frames[0]
    if 'OnUvRead' in s or 'uv__read' in s or ('uv__stream_io' in s and ('ksys_read' in s or '__x64_sys_read' in s)):
        if 'ksys_read' in s or '__x64_sys_read' in s: k = 'read: kernel read(2)'
        elif kernel_leaf: k = 'read: kernel, other'
        elif not any(x.startswith('JS:') for x in syms): k = 'read: Node C++/V8 (OnUvRead, MakeCallback, entry into JS)'
        else:
            j = next(x for x in syms if x.startswith('JS:'))
            k = 'read: JS ' + (j.split(' ')[0] if show_js else '(all)')
    elif 'WriteBuffer' in s or 'DoTryWrite' in s:
        k = 'write: kernel write(2)' if kernel_leaf else 'write: Node C++ (WriteBuffer, uv_try_write)'
    elif 'CheckImmediate' in s:
        k = 'check phase: JS (processImmediate, flush, writeToClient)' if any(x.startswith('JS:') for x in syms) else 'check phase: Node C++ (MakeCallback, async context)'
    elif 'epoll_pwait' in s or 'epoll_wait' in s:
        k = 'poll: epoll_pwait (kernel incl. sleep/wake)' if kernel_leaf else 'poll: epoll_pwait (user)'
    elif 'uv__run_timers' in s or 'RunTimers' in s:
        k = 'timers'
    elif 'uv__io_poll' in s:
        k = 'poll: libuv dispatch (user)' if not kernel_leaf else 'poll: kernel, other'
    elif 'uv_run' in s:
        k = 'loop: other phases'
    else:
        k = 'other threads, GC, rest'
    c[k] += 1
for line in sys.stdin:
    line = line.rstrip('\n')
    if line == '': flush(); frames = []
    elif line.startswith('\t') or line.startswith(' '): frames.append(line.strip())
flush()
for k, v in sorted(c.items(), key=lambda kv: (kv[0].split(':')[0], -kv[1])): print(f'{v / tot * 100:6.2f}%  {k}')
print(f'{tot} samples')
