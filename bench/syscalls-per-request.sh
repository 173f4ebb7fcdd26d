#!/bin/bash
# System calls, loop turns and context switches per request of a server under
# `redis-benchmark -c 50 -P 1`, counted by perf's syscall tracepoints (no strace: strace stops the
# server at every call and changes how many requests a turn of its loop finds).
#   bench/syscalls-per-request.sh <server-bin> <label> <seconds> -- <redis-benchmark test args…>
#   bench/syscalls-per-request.sh bin/nodis-server nodis-get 4 -- -t get
#   bench/syscalls-per-request.sh redis-server redis-evalsha 4 -- evalsha <sha> 1 lockkey token
# (the lock-release script of bench/lock-release.lua is loaded first, so its sha can be run).
# Prints per request: all system calls, page faults, read, write, epoll_(p)wait calls, context switches, task-clock µs, and the
# requests a loop turn served (requests / epoll calls). docs/PERFORMANCE.md, "lua7".
set -e
bin=$1; label=$2; secs=$3; shift 3; [ "$1" = "--" ] && shift
here=$(cd "$(dirname "$0")" && pwd)
port=$(( 30000 + RANDOM % 20000 ))
dir=$(mktemp -d /tmp/syscalls-XXXX)
$bin --port $port --save '' --appendonly no --dir $dir >$dir/log 2>&1 &
pid=$!
trap 'kill $bp 2>/dev/null; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf $dir' EXIT
for i in $(seq 300); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p $port -x script load < $here/lock-release.lua >/dev/null
redis-benchmark -p $port -n 100000 -c 50 -P 1 -r 100000 -q "$@" >/dev/null
redis-benchmark -p $port -n 100000000 -c 50 -P 1 -r 100000 -q "$@" >/dev/null &
bp=$!
sleep 1
perf stat -x, -e 'raw_syscalls:sys_enter,page-faults,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_futex,context-switches,task-clock' \
  -p $pid -- sleep $secs 2>$dir/stat >/dev/null
awk -F, -v l="$label" '
  { v[$3] = $1 }
  END {
    n = v["syscalls:sys_enter_write"]; if (n == 0) n = 1
    polls = v["syscalls:sys_enter_epoll_pwait"] + v["syscalls:sys_enter_epoll_wait"]
    printf "%s requests %d (%.0f/s) | per request: syscalls %.3f faults %.4f read %.3f write %.3f epoll %.3f epoll_ctl %.4f futex %.4f cs %.3f cpu %.2f us | requests per turn %.2f\n",
      l, n, n / '"$secs"', v["raw_syscalls:sys_enter"] / n, v["page-faults"] / n, v["syscalls:sys_enter_read"] / n, 1, polls / n, v["syscalls:sys_enter_epoll_ctl"] / n, v["syscalls:sys_enter_futex"] / n,
      v["context-switches"] / n, v["task-clock"] * 1000 / n, n / (polls > 0 ? polls : 1)
  }' $dir/stat
