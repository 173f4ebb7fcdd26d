#!/usr/bin/python3
# Puts each sample of `perf script` output (from bench/perf-profile.sh) in one stage of the
# request path by its stack, and prints each stage's share (and µs, given the whole server's
# CPU per request as the argument). docs/PERFORMANCE.md, "The request path, 2026-12-06 evening".
import sys, re, collections
# markers checked from leaf to root: the first that matches names the stage
def classify(frames):
    # frames: leaf first; each (sym, dso)
    leaf_kernel = frames[0][1].startswith('[kernel')
    syms = [f[0] for f in frames]
    joined = '\n'.join(syms)
    def has(p): return any(p in s for s in syms)
    # GC first
    if any(('Heap::' in s or 'Scavenger' in s or 'ScavengeJob' in s or 'MarkCompact' in s or 'Sweeper' in s or 'Evacuat' in s or 'SemiSpace' in s) for s in syms):
        return 'gc'
    if has('write') and (has('DoTryWrite') or has('__GI___libc_write') or has('uv__try_write')):
        return 'write syscall (kernel)' if leaf_kernel else 'write: node/libuv C++'
    if has('WriteBuffer') or has('Builtins_CallApiCallback') and has('writeToClient'):
        return 'write: node/libuv C++'
    if leaf_kernel:
        if has('epoll_pwait') or has('epoll_wait'): return 'epoll_wait (kernel, incl. sleeping/waking)'
        if has('uv__read') or has('libc.so.6') and has('read'):
            return 'read syscall (kernel)'
        if has('sock_recvmsg') or has('tcp_recvmsg'): return 'read syscall (kernel)'
        if has('sock_write') or has('tcp_sendmsg'): return 'write syscall (kernel)'
        if has('asm_sysvec') or has('irq') : return 'kernel: irq/timer'
        return 'kernel: other'
    # user space
    jsframes = [s for s in syms if s.startswith('JS:')]
    leaf = syms[0]
    if has('processImmediate') or has('CheckImmediate'):
        if leaf.startswith('JS:') or leaf.startswith('Builtins_'):
            return 'flush JS (processImmediate, writeToClient)'
        return 'flush: node C++ (check phase, MakeCallback)'
    if has('onStreamRead'):
        # inside JS read path
        if any(re.search(r'JS:\*(next|bulkStart|latin1String|wholeCommand|readMultibulkCount|parseMultibulkArgs|feed|release)\b', s) for s in syms[:3]) :
            return 'JS: parse'
        if leaf.startswith('JS:*onStreamRead') or leaf.startswith('JS:*onData') or leaf.startswith('JS:*processInput'):
            return 'JS: read callback, onData, processInput'
        if any(re.search(r'JS:\*(execute|processCommand|admit|acl|lookupRead|get|getCommand|resolve)', s) for s in syms[:6]):
            return 'JS: command (resolve, admission, execute, handler, reply)'
        if 'CreateTypedArray' in leaf or 'TypedArray' in leaf: return 'JS: read chunk view'
        return 'JS: read path other (builtins, ICs)'
    if has('CallJSOnreadMethod') or has('OnUvRead') or has('uv__read') or has('OnStreamAlloc') or has('EmitRead'):
        return 'read: node/libuv C++ (alloc, MakeCallback)'
    if has('uv__io_poll'):
        return 'loop: uv__io_poll, epoll (user)'
    if has('uv__run_timers') or has('processTimers'): return 'timers'
    if has('Compile') or has('compiler::') or has('Turbofan') or has('Maglev'): return 'jit'
    return 'user: other'
samples = collections.Counter()
total = 0
frames = []
def flush():
    global frames, total
    if frames:
        samples[classify(frames)] += 1
        total += 1
    frames = []
for line in sys.stdin:
    if not line.strip():
        flush(); continue
    if line[0] not in ' \t':
        flush(); continue
    m = re.match(r'\s*[0-9a-f]+\s+(.*)\s+\((.*)\)\s*$', line)
    if m:
        sym = re.sub(r'\+0x[0-9a-f]+$', '', m.group(1))
        frames.append((sym, m.group(2)))
flush()
us = float(sys.argv[1]) if len(sys.argv) > 1 else 0
for k, v in samples.most_common():
    print(f'{v*100/total:6.2f}%  {v*us/total:6.3f} µs  {k}')
print(total, 'samples')
