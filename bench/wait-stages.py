#!/usr/bin/python3
# Shares of a SET + WAIT 1 process's samples by stage (docs/PERFORMANCE.md, wait7): reads the text
# of `perf script` (bench/wait-perf.sh's recordings of a nodis master or replica) and puts each
# sample in the first stage its stack matches (kernel leaves by system call; user leaves by the
# JS frames below them). With the process's µs of CPU per write (bench/durable.mjs --split) as
# the second argument, each share is also given in µs per write.
#   perf script -i <out>.master.data > m.txt; python3 bench/wait-stages.py m.txt 48.5
import sys, collections
# perf script text: sample header line, then frames "\t addr sym (dso)", blank line
samples=[]; cur=None
for line in open(sys.argv[1], errors='replace'):
    if not line.strip():
        if cur is not None: samples.append(cur); cur=None
        continue
    if not line.startswith(('\t',' ')):
        cur=[]; continue
    parts=line.strip().split(' ',1)
    if len(parts)<2: continue
    rest=parts[1]
    i=rest.rfind(' (')
    sym=rest[:i] if i>0 else rest
    dso=rest[i+2:-1] if i>0 else ''
    cur.append((sym,dso))
if cur: samples.append(cur)
us=float(sys.argv[2]) if len(sys.argv)>2 else 0
N=len(samples)
def cls(s):
    syms=[x[0].split('+0x')[0] for x in s]
    J='\n'.join(syms)
    if s[0][1].startswith('[kernel'):
        if 'ksys_write' in J or 'sock_write_iter' in J: return 'kernel: write(2) (loopback delivery incl.)'
        if 'ksys_read' in J: return 'kernel: read(2)'
        if 'epoll' in J: return 'kernel: epoll_wait'
        return 'kernel: other (preemption, faults, timers)'
    if any(k in J for k in ('Heap::','Scavenger','MarkCompact','Sweeper','ConcurrentMarking','Evacuat')): return 'GC'
    def has(*ks): return any(k in J for k in ks)
    if has('JS:*sendAck','JS:^sendAck'): return 'replica: ACK write (JS+C++)'
    if has('replicaAcked','directReplicaAck','checkWaitingClients'): return 'ACK: replicaAcked (WAIT unblock incl.)'
    if has('Command /','waitCommand') and has('waitCommand'): return 'WAIT command'
    if has('appendCommand','feedReplicas','feedBytes','feedApplied','JS:*append /','JS:^append /'): return 'propagation / backlog'
    if has('JS:*set /','JS:^set /') and has('execute'): return 'SET handler (keyspace)'
    if has('execute','processCommand','admit','applyMasterCommand','countDirectCall','directReplicaAck','directGetAck','replconfCommand','afterCommandHooks','handleReadyKeys'): return 'generic command path'
    if has('wholeCommand','latin1String','commandName','JS:*next /','parser'): return 'parse'
    if has('writeToClient','flushPendingWrites'): return 'flush JS + Node write C++'
    if has('bareRead','processInput','processStream','feedStream','onStreamRead','onSharedRead'): return 'read path JS + Node read C++'
    if has('processImmediate','CheckImmediate'): return 'check phase (Immediates)'
    if has('uv__io_poll','uv_run'): return 'loop / libuv / Node other'
    return 'other'
c=collections.Counter(cls(s) for s in samples)
print(N,'samples')
for k,v in c.most_common(): print(f"| {k} | {100*v/N:.1f}% | {us*v/N:.1f} |")
