#!/bin/bash
# perf profile of a nodis master and one replica under SET + WAIT 1 (docs/PERFORMANCE.md, wait6):
# runs bench/durable.mjs --wait-pairs --only 'nodis SET' (one round, 8 s per depth) with the
# servers under node --perf-basic-prof, and records 3 s of each (perf record -g, 3999 Hz) from
# 4.5 s after they started — inside the -P1 phase once its first seconds of warm-up are past.
#   bench/wait-perf.sh <checkout> <out-prefix>   → <out>.master.data, <out>.replica.data, <out>.durable
# WAIT_PERF_AT=<s> records from that many seconds after they started instead (12: inside -P16).
# Read with: perf script -i <out>.master.data | python3 bench/perf-stages.py
#            perf script -i <out>.master.data | python3 bench/perf-under.py 'JS:*flushPendingWrites'
tree=$(realpath "$1"); out=$2
cd "$tree" || exit 1
DURABLE_NODE_ARGS="--perf-basic-prof" node bench/durable.mjs --wait-pairs --split --only 'nodis SET' --rounds 1 --seconds 8 > "$out.durable" 2>/dev/null &
bp=$!
for i in $(seq 100); do
  pids=$(pgrep -f -- "--perf-basic-prof $tree/bin/nodis-server" | sort -n)
  [ "$(echo "$pids" | grep -c .)" -ge 3 ] && break
  sleep 0.2
done
m=$(echo "$pids" | head -1); r=$(echo "$pids" | sed -n 2p)
sleep "${WAIT_PERF_AT:-4.5}"
perf record -F 3999 -g -p "$m" -o "$out.master.data" -- sleep 3 >/dev/null 2>&1 &
perf record -F 3999 -g -p "$r" -o "$out.replica.data" -- sleep 3 >/dev/null 2>&1
wait %2 2>/dev/null
wait $bp
echo "master $m, replica $r"
