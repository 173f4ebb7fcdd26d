#!/bin/bash
# BGSAVE under load: loads 1,000,000 keys (DEBUG POPULATE), starts GETs from redis-benchmark,
# runs BGSAVE meanwhile, and reports the BGSAVE duration and the GET latency summary
# (p50/p99/max) of the run. With `idle` as the third argument no BGSAVE runs: the same GETs
# measure the machine's own noise floor (the GETs take longer than the BGSAVE, so compare
# against this baseline, not against zero).
# Usage: bench/bgsave-latency.sh nodis|redis [port] [bgsave|idle]
set -e
which=$1; port=${2:-7499}; mode=${3:-bgsave}
dir=$(mktemp -d)
if [ "$which" = redis ]; then bin=/usr/bin/redis-server; else bin=$(dirname "$0")/../bin/nodis-server; fi
"$bin" --port $port --dir "$dir" --save "" --enable-debug-command yes > "$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
until redis-cli -p $port ping >/dev/null 2>&1; do sleep 0.1; done
redis-cli -p $port debug populate 1000000 key 10 >/dev/null
redis-benchmark -p $port -t get -r 1000000 -n 400000 -c 20 --precision 2 > "$dir/bench" 2>&1 &
bpid=$!
sleep 0.5
took=-
if [ "$mode" = bgsave ]; then
  start=$(date +%s.%N)
  redis-cli -p $port bgsave >/dev/null
  while redis-cli -p $port info persistence | grep -q 'rdb_bgsave_in_progress:1'; do sleep 0.01; done
  end=$(date +%s.%N)
  took=$(echo "$end - $start" | bc)
  status=$(redis-cli -p $port info persistence | grep rdb_last_bgsave_status | tr -d '\r')
fi
wait $bpid
echo "$which $mode: bgsave ${took} s ${status:-}"
tr '\r' '\n' < "$dir/bench" | grep -A2 'latency summary' | tail -2
