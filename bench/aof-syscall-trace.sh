#!/bin/bash
# Raw system-call entry/exit events (ftrace, no ptrace: a few µs of overhead) of a server's main
# thread during `redis-benchmark -c 1 -t incr` with appendonly yes, for bench/syscall-segments.py
# (docs/PERFORMANCE.md, aof3). Needs root (/sys/kernel/tracing).
# Usage: bench/aof-syscall-trace.sh <server-bin> <everysec|always> <requests> <out.txt>
BIN=$1; POL=$2; N=$3; OUT=$4
T=/sys/kernel/tracing
D=$(mktemp -d /tmp/aof-ftrace-XXXX)
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
$BIN --port $PORT --save '' --appendonly yes --appendfsync everysec --dir $D >$D/log 2>&1 &
PID=$!
for i in $(seq 50); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.2; done
redis-benchmark -p $PORT -c 50 -n 50000 -t incr -q >/dev/null
redis-cli -p $PORT config set appendfsync $POL >/dev/null
redis-benchmark -p $PORT -c 1 -n 500 -t incr -q >/dev/null
echo 0 > $T/tracing_on; echo > $T/trace
echo "common_pid == $PID" > $T/events/raw_syscalls/sys_enter/filter
echo "common_pid == $PID" > $T/events/raw_syscalls/sys_exit/filter
echo 1 > $T/events/raw_syscalls/sys_enter/enable; echo 1 > $T/events/raw_syscalls/sys_exit/enable
echo 8192 > $T/buffer_size_kb
echo 1 > $T/tracing_on
redis-benchmark -p $PORT -c 1 -n $N -t incr -q | tr '\r' '\n' | grep -o '[0-9.]* requests per second'
echo 0 > $T/tracing_on
echo 0 > $T/events/raw_syscalls/sys_enter/enable; echo 0 > $T/events/raw_syscalls/sys_exit/enable
echo 0 > $T/events/raw_syscalls/sys_enter/filter; echo 0 > $T/events/raw_syscalls/sys_exit/filter
cat $T/trace > $OUT
echo > $T/trace
kill -9 $PID; wait $PID 2>/dev/null; rm -rf $D
