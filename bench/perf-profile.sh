#!/bin/bash
# perf profile of a server under redis-benchmark: bench/perf-profile.sh <server-bin> <test> <pipeline> <out-prefix>
# <server-bin> may be a wrapper running `exec node --perf-basic-prof …/bin/nodis-server "$@"`.
# Writes <out>.data (perf record -g, 8 s after 200,000 warm-up requests) and <out>.threads (CPU ticks per thread).
# Classify with: perf script -i <out>.data | /usr/bin/python3 bench/perf-stages.py [µs per request]
# starts the server, warms up, perf-records 8 s of redis-benchmark, writes <out>.data
set -e
bin=$1; test=$2; P=$3; out=$4
port=$(( 20000 + RANDOM % 20000 ))
dir=$(mktemp -d /tmp/nodis-perf-XXXX)
$bin --port $port --save '' --appendonly no --dir $dir >$dir/log 2>&1 &
pid=$!
for i in $(seq 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
# with a node wrapper the exec keeps the pid
redis-benchmark -p $port -n 200000 -c 50 -P $P -r 100000 -t $test -q >/dev/null
redis-benchmark -p $port -n 2000000 -c 50 -P $P -r 100000 -t $test -q > $out.bench &
bp=$!
sleep 1
perf record -F 1999 -g -p $pid -o $out.data -- sleep 8 2>/dev/null >/dev/null
kill $bp 2>/dev/null || true; wait $bp 2>/dev/null || true
# per-thread CPU
for t in /proc/$pid/task/*; do echo "$(cat $t/comm) $(awk '{print $14, $15}' $t/stat)"; done > $out.threads
kill -9 $pid; wait $pid 2>/dev/null || true
rm -rf $dir
